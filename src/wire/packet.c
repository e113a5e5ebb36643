/* The UDP packet pipeline of memberlist (rawSendMsgPacket, ingestPacket,
 * handleCommand, handleCompound, handleCompressed).
 *
 * Sending: the message (or a compound built with cairn_compound) is wrapped
 * in compress when that makes it strictly shorter, prefixed with the CRC
 * wrapper when the peer understands it (PMax >= 5; the caller decides), and
 * encrypted with the primary key (v1, no AAD) when encryption is on.
 *
 * Receiving peels the same layers back. Decryption is only attempted when
 * the keyring has keys; a packet no key opens is dropped when
 * verify_incoming, else processed as plaintext (GossipVerifyIncoming=false).
 * The CRC wrapper is recognised only at the outermost level, exactly like
 * Go (`len >= 5 && buf[0] == 12`). Then compound and compress layers are
 * followed recursively, to at most CAIRN_PACKET_MAX_DEPTH levels, and every
 * other type byte is a message handed to the callback: 0 1 2 3 4 5 8 11.
 * Types 6, 10, 12, 13 are valid memberlist types that never travel inside a
 * packet (Go logs them as unsupported); other bytes are unknown.
 *
 * Departures from Go, all for hostile input: Go's handleCommand indexes
 * byte 0 of empty parts and empty decompressed buffers and panics (the
 * latter fixed in #369); we count them as `empty`. Go caps each
 * decompression at 40 MiB (#363). We give the whole packet one budget of
 * CAIRN_PACKET_MAX_DECOMPRESSED output bytes, shared by every compress
 * layer at every depth and charged with every byte the decoder produced,
 * whether the part then decoded or failed (invalid code, over the budget):
 * so a compound of 255 bombs, or bombs nested in compress(compound(...)),
 * costs no more LZW work than one legitimate 64 KiB message, and the work
 * one packet can cause is bounded by its 64 KiB of input plus 64 KiB of
 * output (docs/limits.md has the measured worst case). Every drop
 * increments one counter of cairn_packet_stats and the first drop is
 * described in the caller's diag.
 */
#include "wire/frame.h"

#include <string.h>

#include "cairn/alloc.h"
#include "frame_internal.h"
#include "wire/keyring_internal.h"

int cairn__packet_encode(const cairn_frame_cfg *cfg, bool crc, const uint8_t *msg, size_t len,
                         cairn_buf *out)
{
    if (cfg == NULL || out == NULL || (msg == NULL && len > 0))
        return CAIRN_EINVAL;
    cairn_buf comp, mid;
    cairn_buf_init(&comp, 32 + cairn__lzw_compress_bound(len));
    cairn_buf_init(&mid, len + 64 + 5);
    size_t saved = out->len;
    int r = 0;
    const uint8_t *p = msg;
    size_t n = len;
    if (cfg->compress) {
        /* Compression is used only when strictly shorter. */
        r = cairn__compress_wrap(msg, len, &comp);
        if (r == CAIRN_ENOMEM)
            goto done;
        if (r == 0 && comp.len < len) {
            p = comp.data;
            n = comp.len;
        }
        r = 0;
    }
    bool enc = cairn__frame_encrypting(cfg);
    cairn_buf *dst = enc ? &mid : out;
    if (crc) {
        uint8_t h[5] = {CAIRN_FRAME_CRC};
        frame_put_be32(h + 1, cairn__crc32(p, n));
        if ((r = cairn_buf_append(dst, h, 5)) < 0)
            goto done;
    }
    if ((r = cairn_buf_append(dst, p, n)) < 0)
        goto done;
    if (enc)
        r = cairn__keyring_encrypt(cfg->keyring, cfg->enc_version, NULL, 0, mid.data, mid.len, out);
done:
    if (r < 0)
        out->len = saved;
    cairn_buf_destroy(&comp);
    cairn_buf_destroy(&mid);
    return r;
}

typedef struct pkt_ctx {
    const cairn_frame_cfg *cfg;
    cairn_packet_msg_cb *cb;
    void *userdata;
    cairn_packet_stats *st;
    cairn_diag *diag;
    size_t budget;      /* decompressed bytes still allowed, whole packet */
    cairn_lzw_dec *lzw; /* one decoder per packet, made on first use */
    int first_err;
} pkt_ctx;

static void drop(pkt_ctx *x, uint64_t *counter, int err)
{
    (*counter)++;
    if (x->first_err == 0)
        x->first_err = err;
}

static void handle(pkt_ctx *x, const uint8_t *buf, size_t len, int depth);

static void handle_compound(pkt_ctx *x, const uint8_t *buf, size_t len, int depth)
{
    if (len < 1) {
        drop(x, &x->st->compound,
             cairn_diag_set(x->diag, CAIRN_EPROTO, "compound: missing length byte"));
        return;
    }
    size_t parts = buf[0];
    if (len - 1 < 2 * parts) {
        drop(x, &x->st->compound,
             cairn_diag_set(x->diag, CAIRN_EPROTO, "compound: %zu parts but %zu length bytes",
                            parts, len - 1));
        return;
    }
    const uint8_t *lens = buf + 1;
    size_t off = 1 + 2 * parts;
    for (size_t i = 0; i < parts; i++) {
        size_t pl = frame_be16(lens + 2 * i);
        if (len - off < pl) {
            x->st->truncated += parts - i;
            if (x->first_err == 0)
                x->first_err =
                    cairn_diag_set(x->diag, CAIRN_EPROTO,
                                   "compound: part %zu of %zu truncated (%zu bytes, %zu left)", i,
                                   parts, pl, len - off);
            return;
        }
        handle(x, buf + off, pl, depth + 1);
        off += pl;
    }
}

static void handle_compress(pkt_ctx *x, const uint8_t *body, size_t len, int depth)
{
    uint8_t algo;
    const uint8_t *lzw;
    size_t lzw_len;
    int r = cairn__compress_decode_body(body, len, &algo, &lzw, &lzw_len, x->diag);
    if (r == 0 && algo != 0)
        r = cairn_diag_set(x->diag, CAIRN_EPROTO, "compress: Algo %u unknown", (unsigned)algo);
    if (r < 0) {
        drop(x, &x->st->compress, r);
        return;
    }
    if (x->budget == 0) {
        drop(x, &x->st->decompress_limit,
             cairn_diag_set(x->diag, CAIRN_ELIMIT, "compress: decompression budget exhausted"));
        return;
    }
    if (x->lzw == NULL && cairn__lzw_dec_new(&x->lzw) < 0) {
        drop(x, &x->st->nomem, cairn_diag_set(x->diag, CAIRN_ENOMEM, "compress: out of memory"));
        return;
    }
    cairn__lzw_dec_reset(x->lzw);
    cairn_buf out;
    cairn_buf_init(&out, x->budget);
    r = cairn__lzw_dec_feed(x->lzw, lzw, lzw_len, &out, x->diag);
    if (r == 0 && !cairn__lzw_dec_finished(x->lzw))
        r = cairn_diag_set(x->diag, CAIRN_EPROTO, "lzw: unexpected EOF (no end code)");
    /* Every byte produced is charged, the part's fate notwithstanding:
     * failed work costs the same CPU as successful work. Over the budget
     * (ELIMIT) the rest of the packet's allowance is gone. */
    x->budget = r == CAIRN_ELIMIT ? 0 : x->budget - out.len;
    if (r == CAIRN_ELIMIT)
        drop(x, &x->st->decompress_limit, r);
    else if (r == CAIRN_ENOMEM)
        drop(x, &x->st->nomem, r);
    else if (r < 0)
        drop(x, &x->st->compress, r);
    else if (out.len == 0)
        drop(x, &x->st->empty,
             cairn_diag_set(x->diag, CAIRN_EPROTO, "compress: decompressed buffer is empty"));
    else
        handle(x, out.data, out.len, depth + 1);
    cairn_buf_destroy(&out);
}

static void handle(pkt_ctx *x, const uint8_t *buf, size_t len, int depth)
{
    if (len == 0) {
        drop(x, &x->st->empty, cairn_diag_set(x->diag, CAIRN_EPROTO, "packet: empty message"));
        return;
    }
    if (depth > CAIRN_PACKET_MAX_DEPTH) {
        drop(x, &x->st->depth,
             cairn_diag_set(x->diag, CAIRN_ELIMIT, "packet: nesting deeper than %d",
                            CAIRN_PACKET_MAX_DEPTH));
        return;
    }
    uint8_t t = buf[0];
    switch (t) {
    case CAIRN_FRAME_COMPOUND:
        handle_compound(x, buf + 1, len - 1, depth);
        return;
    case CAIRN_FRAME_COMPRESS:
        handle_compress(x, buf + 1, len - 1, depth);
        return;
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 8:
    case 11:
        x->st->delivered++;
        x->cb(t, buf + 1, len - 1, x->userdata);
        return;
    case 6:
    case CAIRN_FRAME_ENCRYPT:
    case CAIRN_FRAME_CRC:
    case 13:
        drop(x, &x->st->unsupported,
             cairn_diag_set(x->diag, CAIRN_EPROTO, "packet: type %u not supported in packets", t));
        return;
    default:
        drop(x, &x->st->unknown,
             cairn_diag_set(x->diag, CAIRN_EPROTO, "packet: unknown message type %u", t));
        return;
    }
}

int cairn__packet_decode(const cairn_frame_cfg *cfg, const uint8_t *pkt, size_t len,
                         cairn_packet_msg_cb *cb, void *userdata, cairn_packet_stats *stats,
                         cairn_diag *diag)
{
    if (cfg == NULL || cb == NULL || stats == NULL || (pkt == NULL && len > 0))
        return CAIRN_EINVAL;
    size_t budget = CAIRN_PACKET_MAX_DECOMPRESSED;
    if (cfg->max_decompressed != 0 && cfg->max_decompressed < budget)
        budget = cfg->max_decompressed;
    pkt_ctx x = {cfg, cb, userdata, stats, diag, budget, NULL, 0};
    stats->packets++;
    if (len > CAIRN_PACKET_MAX_RECV) {
        drop(&x, &stats->too_big,
             cairn_diag_set(diag, CAIRN_EMSGSIZE, "packet: %zu bytes, limit %d", len,
                            CAIRN_PACKET_MAX_RECV));
        return x.first_err;
    }
    cairn_buf plain;
    cairn_buf_init(&plain, CAIRN_PACKET_MAX_RECV);
    const uint8_t *p = pkt;
    size_t n = len;
    if (cfg->keyring != NULL && cairn_keyring_count(cfg->keyring) > 0) {
        cairn_diag d;
        cairn_diag_clear(&d);
        int r = cairn__keyring_decrypt(cfg->keyring, NULL, 0, pkt, len, &plain, &d);
        if (r == 0) {
            p = plain.data;
            n = plain.len;
        } else if (r == CAIRN_ENOMEM) {
            drop(&x, &stats->nomem, cairn_diag_set(diag, r, "%s", d.msg));
            goto out;
        } else if (cfg->verify_incoming) {
            drop(&x, &stats->decrypt, cairn_diag_set(diag, r, "%s", d.msg));
            goto out;
        } else {
            stats->plaintext++;
        }
    }
    if (n >= 5 && p[0] == CAIRN_FRAME_CRC) {
        uint32_t want = frame_be32(p + 1);
        uint32_t got = cairn__crc32(p + 5, n - 5);
        if (got != want) {
            drop(&x, &stats->crc,
                 cairn_diag_set(diag, CAIRN_ECRC, "crc: mismatch (got 0x%08x, want 0x%08x)", got,
                                want));
            goto out;
        }
        p += 5;
        n -= 5;
    }
    handle(&x, p, n, 0);
out:
    cairn__lzw_dec_delete(x.lzw);
    cairn_buf_destroy(&plain);
    return x.first_err;
}
