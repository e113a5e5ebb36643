/* TCP stream framing of memberlist (rawSendMsgStream, encryptLocalState,
 * readStream, decryptRemoteState).
 *
 * A memberlist stream message has no length prefix unless it is encrypted:
 * the reader takes a type byte, then self-delimiting msgpack, then raw
 * bytes whose count an earlier header gave (push-pull UserStateLen, user
 * UserMsgLen). Go reads it from a blocking bufio.Reader; we cannot block,
 * and the peer keeps the connection open waiting for our reply, so "read to
 * EOF" is not an option either. Hence a pull parser with no I/O (like
 * hiredis' reader): bytes are fed as they arrive; the caller, who knows the
 * message shapes, pulls "the type", "the next msgpack object", "the next N
 * raw bytes"; a pull that lacks bytes says CAIRN_EAGAIN and is retried
 * after the next feed. Object boundaries come from frame_mp.c's resumable
 * measurement, so an object trickling in byte by byte is scanned once.
 *
 * Framing layers are peeled inside rd_type():
 *   0a frame  -> [0a][BE u32 n][payload] with n <= 20 MiB checked before
 *                anything is buffered beyond the cap; the payload is
 *                decrypted with the 5 header bytes as AAD (every key tried);
 *                the message is then the plaintext alone.
 *   09 wrap   -> the compress object is measured (from the stream or from
 *                the plaintext), LZW-decoded with the 40 MiB cap, and the
 *                message is the decompressed buffer; empty is rejected.
 * A framed message is wholly buffered, so running out inside it is a
 * truncation error rather than EAGAIN. As in Go, a 0a frame without keys is
 * an error, and a plain message while keys exist and verify_incoming is
 * set is an error.
 *
 * Memory: unconsumed input is capped at CAIRN_STREAM_MAX_BUFFER, plaintext
 * at the frame size, decompressed data at the configured cap. Errors are
 * sticky; the first diagnostic is kept and repeated.
 */
#include "wire/frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "frame_internal.h"
#include "wire/keyring_internal.h"

enum rd_state { RD_START, RD_COMPRESS, RD_BODY };

struct cairn_stream_rd {
    cairn_frame_cfg cfg;
    cairn_buf in; /* fed bytes; in.data[pos..in.len) unconsumed */
    size_t pos;
    cairn_buf plain; /* the framed message, when framed */
    size_t ppos;     /* read offset in plain */
    enum rd_state state;
    bool framed;
    bool encrypted;
    uint8_t type;
    bool scanning; /* an object measurement is in progress */
    frame_mp_scan scan;
    size_t cfg_max_decompressed; /* the configured cap, to restore */
    uint64_t inflated;           /* LZW output charged: produced, or the cap on error */
    int err;                     /* sticky error */
    cairn_diag err_diag;
};

int cairn__stream_rd_new(const cairn_frame_cfg *cfg, cairn_stream_rd **ret_rd)
{
    if (cfg == NULL || ret_rd == NULL)
        return CAIRN_EINVAL;
    cairn_stream_rd *r = cairn_calloc(1, sizeof *r);
    if (r == NULL)
        return CAIRN_ENOMEM;
    r->cfg = *cfg;
    r->cfg_max_decompressed = cfg->max_decompressed;
    cairn_buf_init(&r->in, CAIRN_STREAM_MAX_BUFFER);
    cairn_buf_init(&r->plain, 0);
    cairn_diag_clear(&r->err_diag);
    *ret_rd = r;
    return 0;
}

void cairn__stream_rd_delete(cairn_stream_rd *rd)
{
    if (rd == NULL)
        return;
    cairn_buf_destroy(&rd->in);
    cairn_buf_destroy(&rd->plain);
    cairn_free(rd);
}

/* fail records a sticky error with its diagnostic and copies it out. */
static int fail(cairn_stream_rd *rd, cairn_diag *diag, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(cairn_stream_rd *rd, cairn_diag *diag, int err, const char *fmt, ...)
{
    if (rd->err == 0) {
        rd->err = err;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rd->err_diag.msg, sizeof rd->err_diag.msg, fmt, ap);
        va_end(ap);
        rd->err_diag.err = err;
    }
    if (diag != NULL && diag->err == 0)
        *diag = rd->err_diag;
    return rd->err;
}

static int sticky(cairn_stream_rd *rd, cairn_diag *diag)
{
    if (diag != NULL && diag->err == 0)
        *diag = rd->err_diag;
    return rd->err;
}

int cairn__stream_rd_feed(cairn_stream_rd *rd, const uint8_t *data, size_t len)
{
    if (rd == NULL || (data == NULL && len > 0))
        return CAIRN_EINVAL;
    if (rd->err)
        return rd->err;
    if (rd->pos > 0) {
        cairn_buf_consume(&rd->in, rd->pos);
        rd->pos = 0;
    }
    int r = cairn_buf_append(&rd->in, data, len);
    if (r == CAIRN_ELIMIT)
        return fail(rd, NULL, r, "stream: more than %zu unconsumed bytes",
                    (size_t)CAIRN_STREAM_MAX_BUFFER);
    return r; /* ENOMEM is not sticky: the bytes were not taken */
}

/* src gives the unread bytes of the current message source. */
static void src(const cairn_stream_rd *rd, const uint8_t **p, size_t *n)
{
    if (rd->framed) {
        *p = rd->plain.data + rd->ppos;
        *n = rd->plain.len - rd->ppos;
    } else {
        *p = rd->in.data + rd->pos;
        *n = rd->in.len - rd->pos;
    }
}

static void advance(cairn_stream_rd *rd, size_t k)
{
    if (rd->framed)
        rd->ppos += k;
    else
        rd->pos += k;
}

static bool keys_on(const cairn_stream_rd *rd)
{
    return rd->cfg.keyring != NULL && cairn_keyring_count(rd->cfg.keyring) > 0;
}

/* open_frame handles a 0a frame at in[pos]: 0, EAGAIN or an error. */
static int open_frame(cairn_stream_rd *rd, cairn_diag *diag)
{
    size_t avail = rd->in.len - rd->pos;
    const uint8_t *h = rd->in.data + rd->pos;
    if (!keys_on(rd))
        return fail(rd, diag, CAIRN_EPROTO,
                    "stream: remote state is encrypted and encryption is not configured");
    if (avail < 5)
        return CAIRN_EAGAIN;
    uint32_t n = frame_be32(h + 1);
    if (n > CAIRN_STREAM_MAX_ENCRYPTED)
        return fail(rd, diag, CAIRN_ELIMIT, "stream: encrypted frame of %u bytes, limit %zu", n,
                    (size_t)CAIRN_STREAM_MAX_ENCRYPTED);
    if (avail - 5 < n)
        return CAIRN_EAGAIN;
    cairn_buf_destroy(&rd->plain);
    cairn_buf_init(&rd->plain, n);
    cairn_diag d;
    cairn_diag_clear(&d);
    int r = cairn__keyring_decrypt(rd->cfg.keyring, h, 5, h + 5, n, &rd->plain, &d);
    if (r < 0)
        return fail(rd, diag, r, "stream: %s", d.msg);
    if (rd->plain.len == 0)
        return fail(rd, diag, CAIRN_EPROTO, "stream: decrypted payload is empty");
    rd->pos += 5 + (size_t)n;
    rd->framed = true;
    rd->encrypted = true;
    rd->ppos = 0;
    return 0;
}

/* take_type reads the next type byte of the current source. */
static int take_type(cairn_stream_rd *rd, cairn_diag *diag)
{
    const uint8_t *p;
    size_t n;
    src(rd, &p, &n);
    if (n == 0)
        return rd->framed ? fail(rd, diag, CAIRN_EPROTO, "stream: message truncated before type")
                          : CAIRN_EAGAIN;
    advance(rd, 1);
    if (p[0] == CAIRN_FRAME_COMPRESS) {
        rd->state = RD_COMPRESS;
        rd->scanning = false;
    } else {
        rd->type = p[0];
        rd->state = RD_BODY;
    }
    return 0;
}

/* measure finds the next complete msgpack object of the source. */
static int measure(cairn_stream_rd *rd, const uint8_t **ret_p, size_t *ret_n, cairn_diag *diag,
                   const char *what)
{
    const uint8_t *p;
    size_t n;
    src(rd, &p, &n);
    if (!rd->scanning) {
        cairn__frame_mp_scan_init(&rd->scan);
        rd->scanning = true;
    }
    size_t cap = rd->framed ? n : CAIRN_STREAM_MAX_BUFFER;
    int r = cairn__frame_mp_scan_run(&rd->scan, p, n, cap);
    if (r == CAIRN_EAGAIN && !rd->framed)
        return r;
    if (r == CAIRN_EAGAIN || (r == CAIRN_ELIMIT && rd->framed))
        return fail(rd, diag, CAIRN_EPROTO, "stream: %s truncated", what);
    if (r == CAIRN_ELIMIT)
        return fail(rd, diag, r, "stream: %s larger than %zu bytes", what,
                    (size_t)CAIRN_STREAM_MAX_BUFFER);
    if (r < 0)
        return fail(rd, diag, r, "stream: %s is not msgpack", what);
    rd->scanning = false;
    *ret_p = p;
    *ret_n = rd->scan.off;
    advance(rd, rd->scan.off);
    return 0;
}

static int decompress(cairn_stream_rd *rd, cairn_diag *diag)
{
    const uint8_t *obj;
    size_t len;
    int r = measure(rd, &obj, &len, diag, "compress message");
    if (r < 0)
        return r;
    size_t limit = rd->cfg.max_decompressed ? rd->cfg.max_decompressed : CAIRN_LZW_MAX_DECOMPRESSED;
    cairn_buf out;
    cairn_buf_init(&out, limit);
    cairn_diag d;
    cairn_diag_clear(&d);
    r = cairn__compress_unwrap(obj, len, limit, &out, &d);
    /* A failed decode may have produced up to the cap before failing. */
    rd->inflated += r < 0 ? limit : out.len;
    if (r < 0) {
        cairn_buf_destroy(&out);
        return fail(rd, diag, r, "stream: %s", d.msg);
    }
    cairn_buf_destroy(&rd->plain);
    rd->plain = out;
    rd->ppos = 0;
    rd->framed = true;
    return take_type(rd, diag);
}

int cairn__stream_rd_type(cairn_stream_rd *rd, uint8_t *ret_type, cairn_diag *diag)
{
    if (rd == NULL || ret_type == NULL)
        return CAIRN_EINVAL;
    if (rd->err)
        return sticky(rd, diag);
    int r;
    if (rd->state == RD_START) {
        if (rd->in.len - rd->pos == 0)
            return CAIRN_EAGAIN;
        if (rd->in.data[rd->pos] == CAIRN_FRAME_ENCRYPT) {
            if ((r = open_frame(rd, diag)) < 0)
                return r;
        } else if (keys_on(rd) && rd->cfg.verify_incoming) {
            return fail(rd, diag, CAIRN_EPROTO,
                        "stream: encryption is configured but remote state is not encrypted");
        }
        if ((r = take_type(rd, diag)) < 0)
            return r;
    }
    if (rd->state == RD_COMPRESS) {
        if ((r = decompress(rd, diag)) < 0)
            return r;
        if (rd->state == RD_COMPRESS)
            /* A compress inside a compress: Go dispatches type 9 as unknown;
             * so do we. */
            rd->state = RD_BODY, rd->type = CAIRN_FRAME_COMPRESS;
    }
    *ret_type = rd->type;
    return 0;
}

int cairn__stream_rd_object(cairn_stream_rd *rd, const uint8_t **ret_p, size_t *ret_len,
                            cairn_diag *diag)
{
    if (rd == NULL || ret_p == NULL || ret_len == NULL)
        return CAIRN_EINVAL;
    if (rd->err)
        return sticky(rd, diag);
    if (rd->state != RD_BODY)
        return CAIRN_EINVAL;
    return measure(rd, ret_p, ret_len, diag, "msgpack object");
}

int cairn__stream_rd_raw(cairn_stream_rd *rd, size_t len, const uint8_t **ret_p, cairn_diag *diag)
{
    if (rd == NULL || ret_p == NULL)
        return CAIRN_EINVAL;
    if (rd->err)
        return sticky(rd, diag);
    if (rd->state != RD_BODY || rd->scanning)
        return CAIRN_EINVAL;
    if (len > CAIRN_STREAM_MAX_RAW)
        return fail(rd, diag, CAIRN_ELIMIT, "stream: raw tail of %zu bytes, limit %zu", len,
                    (size_t)CAIRN_STREAM_MAX_RAW);
    const uint8_t *p;
    size_t n;
    src(rd, &p, &n);
    if (n < len) {
        if (rd->framed)
            return fail(rd, diag, CAIRN_EPROTO, "stream: raw tail truncated (%zu of %zu bytes)", n,
                        len);
        return CAIRN_EAGAIN;
    }
    advance(rd, len);
    *ret_p = p;
    return 0;
}

void cairn__stream_rd_end(cairn_stream_rd *rd)
{
    if (rd == NULL)
        return;
    rd->state = RD_START;
    rd->framed = false;
    rd->encrypted = false;
    rd->scanning = false;
    rd->ppos = 0;
    cairn_buf_destroy(&rd->plain);
}

size_t cairn__wire_rd_mem(const cairn_stream_rd *rd)
{
    return rd == NULL ? 0 : rd->in.cap + rd->plain.cap;
}

uint64_t cairn__wire_rd_inflated(const cairn_stream_rd *rd)
{
    return rd == NULL ? 0 : rd->inflated;
}

void cairn__wire_rd_set_max_decompressed(cairn_stream_rd *rd, size_t limit)
{
    size_t cfg = rd->cfg_max_decompressed ? rd->cfg_max_decompressed : CAIRN_LZW_MAX_DECOMPRESSED;
    rd->cfg.max_decompressed = limit == 0 || limit > cfg ? cfg : limit;
}

bool cairn__stream_rd_framed(const cairn_stream_rd *rd)
{
    return rd->framed;
}

bool cairn__stream_rd_encrypted(const cairn_stream_rd *rd)
{
    return rd->encrypted;
}

int cairn__stream_encode(const cairn_frame_cfg *cfg, const uint8_t *msg, size_t len, cairn_buf *out)
{
    if (cfg == NULL || out == NULL || (msg == NULL && len > 0))
        return CAIRN_EINVAL;
    size_t saved = out->len;
    cairn_buf comp;
    cairn_buf_init(&comp, 32 + cairn__lzw_compress_bound(len));
    const uint8_t *p = msg;
    size_t n = len;
    int r = 0;
    if (cfg->compress) {
        if ((r = cairn__compress_wrap(msg, len, &comp)) < 0)
            goto done;
        p = comp.data;
        n = comp.len;
    }
    if (!cairn__frame_encrypting(cfg)) {
        r = cairn_buf_append(out, p, n);
        goto done;
    }
    size_t elen = cairn__keyring_encrypted_len(cfg->enc_version, n);
    if (elen > CAIRN_STREAM_MAX_ENCRYPTED) {
        r = CAIRN_EMSGSIZE;
        goto done;
    }
    uint8_t h[5] = {CAIRN_FRAME_ENCRYPT};
    frame_put_be32(h + 1, (uint32_t)elen);
    if ((r = cairn_buf_append(out, h, 5)) < 0)
        goto done;
    r = cairn__keyring_encrypt(cfg->keyring, cfg->enc_version, h, 5, p, n, out);
done:
    if (r < 0)
        out->len = saved;
    cairn_buf_destroy(&comp);
    return r;
}
