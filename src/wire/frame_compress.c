/* The memberlist `compress` message: [09] + msgpack {Algo, Buf}.
 *
 * Encoding is go-msgpack 0.5.5 with the default handle, byte-identical to
 * memberlist's compressPayload: a fixmap of two entries in sorted key order,
 * Algo as a positive fixint, Buf as an old-spec raw string (fixstr, str16
 * `da`, str32 `db`; never str8 or bin, which Go's old-spec encoder does not
 * produce).
 *
 * Decoding follows what go-msgpack accepts for a Go struct: a map in any key
 * order with exact, case-sensitive key names and unknown keys skipped (last
 * duplicate wins), or an array in declaration order (Algo, Buf); Algo as any
 * integer form that fits a uint8; Buf as any str or bin form; nil for either
 * field meaning zero. We do not accept Buf as an array of small integers
 * (go-msgpack does); no encoder produces that. Then Algo must be 0
 * (lzwAlgo), LZW decoding is capped (maxDecompressedBytes, memberlist #363)
 * and an empty result is rejected (memberlist #369: Go indexed byte 0 of it
 * and panicked).
 */
#include "wire/frame.h"

#include <string.h>

#include "frame_internal.h"

int cairn__compress_wrap(const uint8_t *msg, size_t len, cairn_buf *out)
{
    if (out == NULL || (msg == NULL && len > 0))
        return CAIRN_EINVAL;
    static const uint8_t head[] = {0x09, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0x00, 0xa3, 'B', 'u', 'f'};
    size_t saved = out->len;
    /* Reserve the worst case: header + str32 header + bound. */
    int r = cairn_buf_reserve(out, sizeof head + 5 + cairn__lzw_compress_bound(len));
    if (r < 0)
        return r;
    memcpy(out->data + out->len, head, sizeof head);
    out->len += sizeof head;
    size_t hdr_at = out->len;
    out->len += 5; /* room for the longest raw header; moved down below */
    r = cairn__lzw_compress(msg, len, out);
    if (r < 0) {
        out->len = saved;
        return r;
    }
    size_t n = out->len - hdr_at - 5;
    uint8_t h[5];
    size_t hl;
    if (n < 32) {
        h[0] = (uint8_t)(0xa0 | n);
        hl = 1;
    } else if (n <= 0xffff) {
        h[0] = 0xda;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[0] = 0xdb;
        frame_put_be32(h + 1, (uint32_t)n);
        hl = 5;
    }
    memmove(out->data + hdr_at + hl, out->data + hdr_at + 5, n);
    memcpy(out->data + hdr_at, h, hl);
    out->len = hdr_at + hl + n;
    return 0;
}

/* A minimal cursor over a complete buffer. */
typedef struct cur {
    const uint8_t *p;
    size_t len, off;
} cur;

static int need(const cur *c, size_t n)
{
    return c->len - c->off >= n;
}

/* read_container: map (kind 2) or array (kind 1) header. */
static int read_container(cur *c, int *ret_kind, uint32_t *ret_n)
{
    if (!need(c, 1))
        return CAIRN_EPROTO;
    uint8_t b = c->p[c->off];
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
        *ret_kind = (b & 0xf0) == 0x80 ? 2 : 1;
        *ret_n = b & 0x0f;
        c->off++;
        return 0;
    }
    size_t lb = (b == 0xdc || b == 0xde) ? 2 : (b == 0xdd || b == 0xdf) ? 4 : 0;
    if (lb == 0 || !need(c, 1 + lb))
        return CAIRN_EPROTO;
    *ret_kind = (b == 0xde || b == 0xdf) ? 2 : 1;
    *ret_n = lb == 2 ? frame_be16(c->p + c->off + 1) : frame_be32(c->p + c->off + 1);
    c->off += 1 + lb;
    return 0;
}

/* read_bytes: str or bin of any width; nil gives an empty span. 1 when the
 * item is not raw bytes (left unread), 0 on success, <0 when truncated. */
static int read_bytes(cur *c, const uint8_t **ret_p, size_t *ret_n)
{
    if (!need(c, 1))
        return CAIRN_EPROTO;
    uint8_t b = c->p[c->off];
    size_t lb, n;
    if (b == 0xc0) {
        c->off++;
        *ret_p = c->p + c->off;
        *ret_n = 0;
        return 0;
    }
    if ((b & 0xe0) == 0xa0) {
        lb = 0;
        n = b & 0x1f;
    } else if (b == 0xd9 || b == 0xc4) {
        lb = 1;
    } else if (b == 0xda || b == 0xc5) {
        lb = 2;
    } else if (b == 0xdb || b == 0xc6) {
        lb = 4;
    } else {
        return 1;
    }
    if (!need(c, 1 + lb))
        return CAIRN_EPROTO;
    if (lb == 1)
        n = c->p[c->off + 1];
    else if (lb == 2)
        n = frame_be16(c->p + c->off + 1);
    else if (lb == 4)
        n = frame_be32(c->p + c->off + 1);
    if (!need(c, 1 + lb + n))
        return CAIRN_EPROTO;
    *ret_p = c->p + c->off + 1 + lb;
    *ret_n = n;
    c->off += 1 + lb + n;
    return 0;
}

/* read_algo: an integer that fits uint8, or nil (0). */
static int read_algo(cur *c, uint8_t *ret, cairn_diag *diag)
{
    if (!need(c, 1))
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Algo truncated");
    uint8_t b = c->p[c->off];
    uint64_t v;
    size_t w;
    bool is_signed = false;
    if (b <= 0x7f || b == 0xc0) {
        *ret = b == 0xc0 ? 0 : b;
        c->off++;
        return 0;
    }
    switch (b) {
    case 0xcc:
    case 0xd0:
        w = 1;
        break;
    case 0xcd:
    case 0xd1:
        w = 2;
        break;
    case 0xce:
    case 0xd2:
        w = 4;
        break;
    case 0xcf:
    case 0xd3:
        w = 8;
        break;
    default:
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Algo is not an integer (0x%02x)", b);
    }
    is_signed = b >= 0xd0;
    if (!need(c, 1 + w))
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Algo truncated");
    v = 0;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | c->p[c->off + 1 + i];
    if (is_signed && (v >> (8 * w - 1)) & 1)
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Algo is negative");
    if (v > 0xff)
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Algo %llu overflows uint8",
                              (unsigned long long)v);
    *ret = (uint8_t)v;
    c->off += 1 + w;
    return 0;
}

static int skip_item(cur *c, cairn_diag *diag)
{
    frame_mp_scan s;
    cairn__frame_mp_scan_init(&s);
    int r = cairn__frame_mp_scan_run(&s, c->p + c->off, c->len - c->off, c->len - c->off);
    if (r < 0)
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: unknown field truncated");
    c->off += s.off;
    return 0;
}

static int read_field(cur *c, int which, uint8_t *algo, const uint8_t **buf, size_t *buf_len,
                      cairn_diag *diag)
{
    if (which == 0)
        return read_algo(c, algo, diag);
    if (which == 1) {
        int r = read_bytes(c, buf, buf_len);
        if (r == 1)
            return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Buf is not raw bytes (0x%02x)",
                                  c->p[c->off]);
        if (r < 0)
            return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Buf truncated");
        return 0;
    }
    return skip_item(c, diag);
}

int cairn__compress_decode_body(const uint8_t *body, size_t len, uint8_t *ret_algo,
                                const uint8_t **ret_buf, size_t *ret_buf_len, cairn_diag *diag)
{
    if ((body == NULL && len > 0) || ret_algo == NULL || ret_buf == NULL || ret_buf_len == NULL)
        return CAIRN_EINVAL;
    cur c = {body, len, 0};
    int kind;
    uint32_t n;
    if (read_container(&c, &kind, &n) < 0)
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: body is not a map");
    uint8_t algo = 0;
    const uint8_t *buf = body;
    size_t buf_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        int which = 2;
        if (kind == 2) {
            const uint8_t *k;
            size_t kl;
            int r = read_bytes(&c, &k, &kl);
            if (r != 0)
                return cairn_diag_set(diag, CAIRN_EPROTO, "compress: map key %u is not a string",
                                      i);
            if (kl == 4 && memcmp(k, "Algo", 4) == 0)
                which = 0;
            else if (kl == 3 && memcmp(k, "Buf", 3) == 0)
                which = 1;
        } else {
            which = i < 2 ? (int)i : 2;
        }
        int r = read_field(&c, which, &algo, &buf, &buf_len, diag);
        if (r < 0)
            return r;
    }
    *ret_algo = algo;
    *ret_buf = buf;
    *ret_buf_len = buf_len;
    return 0;
}

int cairn__compress_unwrap(const uint8_t *body, size_t len, size_t limit, cairn_buf *out,
                           cairn_diag *diag)
{
    if (out == NULL)
        return CAIRN_EINVAL;
    uint8_t algo;
    const uint8_t *buf;
    size_t buf_len;
    int r = cairn__compress_decode_body(body, len, &algo, &buf, &buf_len, diag);
    if (r < 0)
        return r;
    if (algo != 0)
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: Algo %u unknown", (unsigned)algo);
    size_t before = out->len;
    r = cairn__lzw_decompress(buf, buf_len, limit, out, diag);
    if (r < 0)
        return r;
    if (out->len == before)
        return cairn_diag_set(diag, CAIRN_EPROTO, "compress: decompressed buffer is empty");
    return 0;
}
