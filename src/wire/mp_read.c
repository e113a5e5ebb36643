/* A bounds-checked, zero-copy msgpack cursor for untrusted bytes.
 *
 * Why not msgpack-c's unpacker: msgpack_unpack()/msgpack_unpacker build a
 * complete object tree in a msgpack_zone, and the zone reserves each array
 * and map from the count in its header before a single element has been
 * read (template_callback_array: msgpack_zone_malloc(n * sizeof(object))).
 * A 5-byte `dd ff ff ff ff` therefore asks for 4 G x 24 bytes; msgpack-c
 * only bails out when that malloc fails, and with a permissive allocator or
 * a 100k count it really allocates. The tree also costs a copy and an
 * allocation for every packet on the hot path, bypasses cairn's allocation
 * hooks (so the n-th-allocation tests cannot reach it), and its object type
 * merges str and bin the way the new spec does, which loses the "string
 * fields reject bin" rule Go enforces. A decoder for gossip wants none of
 * that: it walks a map once, matches keys, and keeps spans into the packet.
 *
 * So this is the one hand-written piece of msgpack handling (writing uses
 * msgpack-c, see mp_write.c). Design, after MPack's reader:
 *   - every read first parses the value header at `pos` with explicit
 *     length checks (a header or payload that runs past the end is
 *     CAIRN_EAGAIN, so stream readers can tell "need more" from "bad");
 *   - container counts are checked against the bytes left before they are
 *     returned (an element is at least one byte), so a caller may size an
 *     allocation from them;
 *   - integers of any width are read into a 64-bit value and range-checked
 *     against the caller's target, as go-msgpack does (overflow = ERANGE);
 *   - skipping is iterative with an explicit stack of pending counts capped
 *     at CAIRN_MP_MAX_DEPTH, so hostile nesting cannot blow the C stack;
 *   - the first error sticks; later calls return it and do nothing.
 */
#include "wire/mp.h"

#include <string.h>

/* A parsed value header. */
typedef struct mp_hdr {
    cairn_mp_type type;
    /* Header bytes (type byte + length/value bytes). */
    size_t hdr_len;
    /* Payload bytes after the header (str/bin/ext data; 0 otherwise). */
    size_t body_len;
    /* Element count for arrays, pair count for maps. */
    uint64_t count;
    /* Integer value: `u` for CAIRN_MP_T_UINT, `i` for CAIRN_MP_T_INT. */
    uint64_t u;
    int64_t i;
    /* Float value. */
    double d;
    /* Bool value. */
    bool b;
} mp_hdr;

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
        v = (v << 8) | p[k];
    return v;
}

static void set_signed(mp_hdr *h, int64_t v)
{
    if (v >= 0) {
        h->type = CAIRN_MP_T_UINT;
        h->u = (uint64_t)v;
    } else {
        h->type = CAIRN_MP_T_INT;
        h->i = v;
    }
}

/* Sizes of the fixed-size formats c0..df, indexed by byte - 0xc0: bytes of
 * length/value after the type byte. */
static const uint8_t fixed_arg[32] = {
    0, 0, 0, 0, 1, 2, 4, /* c0 nil, c1, c2, c3, c4..c6 bin len */
    1, 2, 4,             /* c7..c9 ext len */
    4, 8,                /* ca, cb float */
    1, 2, 4, 8,          /* cc..cf uint */
    1, 2, 4, 8,          /* d0..d3 int */
    1, 1, 1, 1, 1,       /* d4..d8 fixext: ext type byte */
    1, 2, 4,             /* d9..db str len */
    2, 4, 2, 4,          /* dc, dd array; de, df map */
};

/* parse_hdr reads the header of the value at p[pos..len). Returns 0,
 * CAIRN_EAGAIN (truncated) or CAIRN_EPROTO (the unused byte c1). The body
 * (str/bin/ext) is checked to be present too. */
static int parse_hdr(const uint8_t *p, size_t len, size_t pos, mp_hdr *h)
{
    /* No memset: every caller reads only hdr_len, body_len and the fields
     * of the type it got, and those are set below. */
    if (pos >= len)
        return CAIRN_EAGAIN;
    uint8_t c = p[pos];
    size_t avail = len - pos - 1;
    h->hdr_len = 1;
    h->body_len = 0;
    if (c <= 0x7f) {
        h->type = CAIRN_MP_T_UINT;
        h->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        h->type = CAIRN_MP_T_INT;
        h->i = (int8_t)c;
        return 0;
    }
    if (c <= 0x8f || (c >= 0x90 && c <= 0x9f)) {
        h->type = c <= 0x8f ? CAIRN_MP_T_MAP : CAIRN_MP_T_ARRAY;
        h->count = c & 0x0f;
        return 0;
    }
    if (c <= 0xbf) {
        h->type = CAIRN_MP_T_STR;
        h->body_len = c & 0x1f;
        return h->body_len > avail ? CAIRN_EAGAIN : 0;
    }
    if (c == 0xc0) {
        h->type = CAIRN_MP_T_NIL;
        return 0;
    }
    if (c == 0xc1)
        return CAIRN_EPROTO;
    size_t n = fixed_arg[c - 0xc0];
    if (n > avail)
        return CAIRN_EAGAIN;
    const uint8_t *a = p + pos + 1;
    h->hdr_len = 1 + n;
    uint64_t v = be(a, n);
    switch (c) {
    case 0xc2:
    case 0xc3:
        h->type = CAIRN_MP_T_BOOL;
        h->b = c == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        h->type = CAIRN_MP_T_BIN;
        h->body_len = (size_t)v;
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        h->type = CAIRN_MP_T_EXT;
        h->hdr_len += 1; /* ext type byte */
        h->body_len = (size_t)v;
        if (avail < n + 1)
            return CAIRN_EAGAIN;
        avail -= 1;
        break;
    case 0xca: {
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof(f));
        h->type = CAIRN_MP_T_FLOAT;
        h->d = f;
        return 0;
    }
    case 0xcb: {
        double d;
        memcpy(&d, &v, sizeof(d));
        h->type = CAIRN_MP_T_FLOAT;
        h->d = d;
        return 0;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        h->type = CAIRN_MP_T_UINT;
        h->u = v;
        return 0;
    case 0xd0:
        set_signed(h, (int8_t)v);
        return 0;
    case 0xd1:
        set_signed(h, (int16_t)v);
        return 0;
    case 0xd2:
        set_signed(h, (int32_t)v);
        return 0;
    case 0xd3:
        set_signed(h, (int64_t)v);
        return 0;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        h->type = CAIRN_MP_T_EXT;
        h->body_len = (size_t)1 << (c - 0xd4);
        break;
    case 0xd9:
    case 0xda:
    case 0xdb:
        h->type = CAIRN_MP_T_STR;
        h->body_len = (size_t)v;
        break;
    case 0xdc:
    case 0xdd:
        h->type = CAIRN_MP_T_ARRAY;
        h->count = v;
        return 0;
    default: /* de, df */
        h->type = CAIRN_MP_T_MAP;
        h->count = v;
        return 0;
    }
    return h->body_len > avail - n ? CAIRN_EAGAIN : 0;
}

static int fail(cairn_mp_reader *r, int err)
{
    if (!r->err)
        r->err = err;
    return r->err;
}

/* next parses the next header, or records and returns the error. */
static int next(cairn_mp_reader *r, mp_hdr *h)
{
    if (r->err)
        return r->err;
    int e = parse_hdr(r->p, r->len, r->pos, h);
    return e ? fail(r, e) : 0;
}

void cairn__mp_reader_init(cairn_mp_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->err = 0;
}

cairn_mp_type cairn__mp_peek(const cairn_mp_reader *r)
{
    /* Fast path for the one-byte kinds (no body to check for presence). */
    if (!r->err && r->pos < r->len) {
        uint8_t c = r->p[r->pos];
        if (c <= 0x7f)
            return CAIRN_MP_T_UINT;
        if (c <= 0x8f)
            return CAIRN_MP_T_MAP;
        if (c <= 0x9f)
            return CAIRN_MP_T_ARRAY;
        if (c == 0xc0)
            return CAIRN_MP_T_NIL;
    }
    mp_hdr h;
    if (r->err || parse_hdr(r->p, r->len, r->pos, &h))
        return CAIRN_MP_T_NONE;
    return h.type;
}

static int read_count(cairn_mp_reader *r, cairn_mp_type want, uint32_t *ret_n)
{
    /* Fast path: fixmap (80..8f) / fixarray (90..9f). */
    if (!r->err && r->pos < r->len) {
        uint8_t c = r->p[r->pos];
        uint8_t fix = want == CAIRN_MP_T_MAP ? 0x80 : 0x90;
        if ((c & 0xf0) == fix) {
            size_t n = c & 0x0f;
            size_t min_bytes = want == CAIRN_MP_T_MAP ? 2 * n : n;
            if (min_bytes > r->len - r->pos - 1)
                return fail(r, CAIRN_EAGAIN);
            r->pos++;
            *ret_n = (uint32_t)n;
            return 0;
        }
    }
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    if (h.type == CAIRN_MP_T_NIL) {
        r->pos += h.hdr_len;
        *ret_n = 0;
        return 0;
    }
    if (h.type != want)
        return fail(r, CAIRN_EPROTO);
    uint64_t min_bytes = want == CAIRN_MP_T_MAP ? 2 * h.count : h.count;
    if (min_bytes > r->len - r->pos - h.hdr_len)
        return fail(r, CAIRN_EAGAIN);
    r->pos += h.hdr_len;
    *ret_n = (uint32_t)h.count;
    return 0;
}

int cairn__mp_read_map(cairn_mp_reader *r, uint32_t *ret_n)
{
    return read_count(r, CAIRN_MP_T_MAP, ret_n);
}

int cairn__mp_read_array(cairn_mp_reader *r, uint32_t *ret_n)
{
    return read_count(r, CAIRN_MP_T_ARRAY, ret_n);
}

int cairn__mp_read_uint(cairn_mp_reader *r, uint64_t max, uint64_t *ret_v)
{
    /* Fast path: positive fixint. */
    if (!r->err && r->pos < r->len && r->p[r->pos] <= 0x7f) {
        uint64_t v = r->p[r->pos];
        if (v > max)
            return fail(r, CAIRN_ERANGE);
        r->pos++;
        *ret_v = v;
        return 0;
    }
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    uint64_t v;
    if (h.type == CAIRN_MP_T_NIL)
        v = 0;
    else if (h.type == CAIRN_MP_T_UINT)
        v = h.u;
    else if (h.type == CAIRN_MP_T_INT)
        return fail(r, CAIRN_ERANGE);
    else
        return fail(r, CAIRN_EPROTO);
    if (v > max)
        return fail(r, CAIRN_ERANGE);
    r->pos += h.hdr_len;
    *ret_v = v;
    return 0;
}

int cairn__mp_read_int(cairn_mp_reader *r, int64_t min, int64_t max, int64_t *ret_v)
{
    /* Fast path: positive fixint. */
    if (!r->err && r->pos < r->len && r->p[r->pos] <= 0x7f) {
        int64_t v = r->p[r->pos];
        if (v < min || v > max)
            return fail(r, CAIRN_ERANGE);
        r->pos++;
        *ret_v = v;
        return 0;
    }
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    int64_t v;
    if (h.type == CAIRN_MP_T_NIL)
        v = 0;
    else if (h.type == CAIRN_MP_T_UINT) {
        if (h.u > (uint64_t)INT64_MAX)
            return fail(r, CAIRN_ERANGE);
        v = (int64_t)h.u;
    } else if (h.type == CAIRN_MP_T_INT)
        v = h.i;
    else
        return fail(r, CAIRN_EPROTO);
    if (v < min || v > max)
        return fail(r, CAIRN_ERANGE);
    r->pos += h.hdr_len;
    *ret_v = v;
    return 0;
}

int cairn__mp_read_bool(cairn_mp_reader *r, bool *ret_v)
{
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    bool v;
    if (h.type == CAIRN_MP_T_NIL)
        v = false;
    else if (h.type == CAIRN_MP_T_BOOL)
        v = h.b;
    else if (h.type == CAIRN_MP_T_UINT && h.hdr_len == 1 && h.u <= 1)
        v = h.u == 1; /* go-msgpack takes the bytes 00/01, not cc 01 */
    else
        return fail(r, CAIRN_EPROTO);
    r->pos += h.hdr_len;
    *ret_v = v;
    return 0;
}

int cairn__mp_read_double(cairn_mp_reader *r, double *ret_v)
{
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    double v;
    if (h.type == CAIRN_MP_T_NIL)
        v = 0.0;
    else if (h.type == CAIRN_MP_T_FLOAT)
        v = h.d;
    else if (h.type == CAIRN_MP_T_UINT)
        v = (double)h.u;
    else if (h.type == CAIRN_MP_T_INT)
        v = (double)h.i;
    else
        return fail(r, CAIRN_EPROTO);
    r->pos += h.hdr_len;
    *ret_v = v;
    return 0;
}

/* read_fixstr reads a fixstr (a0..bf: one header byte) without the type
 * table: true when the next item is one (*rc is then 0 or the error),
 * false to take the general path. */
static inline bool read_fixstr(cairn_mp_reader *r, cairn_span *ret, int *rc)
{
    if (r->err || r->pos >= r->len || (r->p[r->pos] & 0xe0) != 0xa0)
        return false;
    size_t n = r->p[r->pos] & 0x1f;
    if (n > r->len - r->pos - 1) {
        *rc = fail(r, CAIRN_EAGAIN);
        return true;
    }
    *ret = (cairn_span){r->p + r->pos + 1, n};
    r->pos += 1 + n;
    *rc = 0;
    return true;
}

int cairn__mp_read_str(cairn_mp_reader *r, cairn_span *ret_s)
{
    /* Fast path: fixstr, the form of every struct key. */
    int rc;
    if (read_fixstr(r, ret_s, &rc))
        return rc;
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    cairn_span s = {NULL, 0};
    if (h.type == CAIRN_MP_T_STR)
        s = (cairn_span){r->p + r->pos + h.hdr_len, h.body_len};
    else if (h.type != CAIRN_MP_T_NIL)
        return fail(r, CAIRN_EPROTO); /* bin included, as Go */
    r->pos += h.hdr_len + h.body_len;
    *ret_s = s;
    return 0;
}

int cairn__mp_read_bytes_len(const cairn_mp_reader *r, size_t *ret_len)
{
    mp_hdr h;
    if (r->err)
        return r->err;
    int e = parse_hdr(r->p, r->len, r->pos, &h);
    if (e)
        return e;
    if (h.type == CAIRN_MP_T_STR || h.type == CAIRN_MP_T_BIN)
        *ret_len = h.body_len;
    else if (h.type == CAIRN_MP_T_ARRAY)
        *ret_len = (size_t)h.count;
    else if (h.type == CAIRN_MP_T_NIL)
        *ret_len = 0;
    else
        return CAIRN_EPROTO;
    return 0;
}

int cairn__mp_read_bytes(cairn_mp_reader *r, uint8_t *scratch, size_t scratch_cap,
                         cairn_span *ret_b)
{
    /* Fast path: fixstr, gossip's form of a short []byte. */
    int rc;
    if (read_fixstr(r, ret_b, &rc))
        return rc;
    mp_hdr h;
    if (next(r, &h))
        return r->err;
    if (h.type == CAIRN_MP_T_STR || h.type == CAIRN_MP_T_BIN || h.type == CAIRN_MP_T_NIL) {
        cairn_span s = {NULL, 0};
        if (h.type != CAIRN_MP_T_NIL)
            s = (cairn_span){r->p + r->pos + h.hdr_len, h.body_len};
        r->pos += h.hdr_len + h.body_len;
        *ret_b = s;
        return 0;
    }
    if (h.type != CAIRN_MP_T_ARRAY)
        return fail(r, CAIRN_EPROTO);
    if (scratch == NULL)
        return fail(r, CAIRN_ENOTSUP);
    if (h.count > scratch_cap)
        return fail(r, CAIRN_ELIMIT);
    cairn_mp_reader save = *r;
    r->pos += h.hdr_len;
    for (uint64_t k = 0; k < h.count; k++) {
        uint64_t v;
        if (cairn__mp_read_uint(r, 255, &v)) {
            int e = r->err;
            *r = save;
            return fail(r, e);
        }
        scratch[k] = (uint8_t)v;
    }
    *ret_b = (cairn_span){scratch, (size_t)h.count};
    return 0;
}

int cairn__mp_skip(cairn_mp_reader *r)
{
    uint64_t left[CAIRN_MP_MAX_DEPTH + 1];
    int depth = 0;
    left[0] = 1;
    size_t pos = r->pos;
    if (r->err)
        return r->err;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        left[depth]--;
        mp_hdr h;
        int e = parse_hdr(r->p, r->len, pos, &h);
        if (e)
            return fail(r, e);
        pos += h.hdr_len + h.body_len;
        if ((h.type == CAIRN_MP_T_ARRAY || h.type == CAIRN_MP_T_MAP) && h.count > 0) {
            if (depth == CAIRN_MP_MAX_DEPTH)
                return fail(r, CAIRN_ELIMIT);
            depth++;
            left[depth] = h.type == CAIRN_MP_T_MAP ? 2 * h.count : h.count;
        }
    }
    r->pos = pos;
    return 0;
}

bool cairn__mp_key_is(cairn_span key, const char *name)
{
    /* Compare without strlen: key bytes then the terminator. */
    for (size_t k = 0; k < key.len; k++)
        if (name[k] != (char)key.p[k] || name[k] == 0)
            return false;
    return name[key.len] == 0;
}

int cairn__mp_object_len(const void *p, size_t len, size_t *ret_len)
{
    cairn_mp_reader r;
    cairn__mp_reader_init(&r, p, len);
    if (cairn__mp_skip(&r))
        return r.err;
    *ret_len = r.pos;
    return 0;
}

const char *cairn__mp_err_text(int err)
{
    switch (err) {
    case CAIRN_EAGAIN:
        return "truncated";
    case CAIRN_EPROTO:
        return "of the wrong msgpack type";
    case CAIRN_ERANGE:
        return "out of range";
    case CAIRN_ELIMIT:
        return "too large or too deeply nested";
    case CAIRN_ENOTSUP:
        return "an array of ints (needs a decode arena)";
    case CAIRN_ENOMEM:
        return "out of memory";
    default:
        return cairn_strerror(err);
    }
}
