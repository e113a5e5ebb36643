/* The IPC dialect's reading side, over wire's msgpack cursor.
 *
 * The Serf agent RPC stream carries msgpack objects back to back with no
 * length prefix, so the client must find where an object ends before it can
 * decode it: cairn__ipc_object_len asks wire (cairn__mp_object_len) and adds the
 * record-size cap, which it applies as soon as the headers that have arrived
 * declare more than the cap (a str32 of 4 GiB, an array32 of 2^32
 * elements): a lower bound of the object's size is every declared string
 * body plus one byte per element still to come, so the client rejects an
 * impossible reply at its first bytes instead of waiting for the rest. The
 * ipc_read_* functions are wire's readers plus the
 * serfrpc caps and a sentence for the diagnostic ("members reply:
 * Member.Tags has 300 entries, limit 256"); like wire's reader the first
 * error sticks and later reads do nothing, so decoders check once.
 */
#include "serfrpc/ipc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Header of one msgpack value: bytes of header, of body (str, bin, ext),
 * and elements that follow (arrays: count, maps: 2 * count). */
struct min_hdr {
    size_t hdr;
    uint64_t body, elems;
};

/* min_hdr_parse: false when the header at p[0..n) is not complete yet (or
 * is the unused byte c1, which wire reports once the object is framed). */
static bool min_hdr_parse(const uint8_t *p, size_t n, struct min_hdr *h)
{
    /* Bytes of length (or value) after the type byte, for c0..df. */
    static const uint8_t arg[32] = {0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8,
                                    1, 2, 4, 8, 1, 1, 1, 1, 1, 1, 2, 4, 2, 4, 2, 4};
    /* fixext 1, 2, 4, 8, 16: body bytes after the ext type byte. */
    static const uint8_t fixext[5] = {1, 2, 4, 8, 16};
    uint8_t c = p[0];
    memset(h, 0, sizeof *h);
    h->hdr = 1;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return true;
    if (c <= 0x9f) { /* fixmap 80-8f, fixarray 90-9f */
        h->elems = (uint64_t)(c & 0x0f) * (c <= 0x8f ? 2 : 1);
        return true;
    }
    if (c <= 0xbf) {
        h->body = c & 0x1f;
        return true;
    }
    if (c == 0xc1)
        return false;
    size_t a = arg[c - 0xc0];
    if (n < 1 + a)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < a; i++)
        v = v << 8 | p[1 + i];
    h->hdr = 1 + a;
    if ((c >= 0xc4 && c <= 0xc6) || (c >= 0xd9 && c <= 0xdb))
        h->body = v;
    else if (c >= 0xc7 && c <= 0xc9)
        h->hdr++, h->body = v; /* ext type byte, then the data */
    else if (c >= 0xd4 && c <= 0xd8)
        h->hdr = 2, h->body = fixext[c - 0xd4];
    else if (c == 0xdc || c == 0xdd)
        h->elems = v;
    else if (c == 0xde || c == 0xdf)
        h->elems = 2 * v;
    return true;
}

uint64_t cairn__ipc_min_len(const uint8_t *p, size_t n)
{
    uint64_t left[CAIRN_MP_MAX_DEPTH + 2];
    int depth = 0;
    uint64_t pos = 0;
    left[0] = 1;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        struct min_hdr h;
        if (pos >= n || !min_hdr_parse(p + pos, n - (size_t)pos, &h))
            break; /* the element's header is not here yet: it counts 1 */
        left[depth]--;
        pos += h.hdr + h.body;
        if (pos > n)
            break; /* the body is not here yet: counted as declared */
        if (h.elems > 0) {
            if (depth == CAIRN_MP_MAX_DEPTH + 1)
                break; /* wire rejects the nesting once framed */
            left[++depth] = h.elems;
        }
    }
    for (int d = 0; d <= depth; d++)
        pos += left[d];
    return pos;
}

int cairn__ipc_object_len(const uint8_t *p, size_t n, size_t max, size_t *ret_len)
{
    size_t len;
    int rc = cairn__mp_object_len(p, n, &len);
    if (rc == CAIRN_EAGAIN)
        return n >= max || cairn__ipc_min_len(p, n) > max ? CAIRN_EMSGSIZE : CAIRN_EAGAIN;
    if (rc != 0)
        return rc;
    if (len > max)
        return CAIRN_EMSGSIZE;
    *ret_len = len;
    return 0;
}

void cairn__ipc_cur_init(ipc_cur *c, const uint8_t *p, size_t n, const char *what, cairn_diag *diag)
{
    cairn__mp_reader_init(&c->r, p, n);
    c->err = 0;
    c->diag = diag;
    c->what = what;
}

int cairn__ipc_fail(ipc_cur *c, int err, const char *fmt, ...)
{
    if (c->err != 0)
        return c->err;
    c->err = err;
    if (c->diag != NULL && c->diag->err == 0) {
        char line[CAIRN_DIAG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        cairn_diag_set(c->diag, err, "%s: %s", c->what, line);
    }
    return err;
}

/* check: turns a wire reader error into ours, naming the field. */
static bool check(ipc_cur *c, int rc, const char *field)
{
    if (rc == 0)
        return true;
    if (rc == CAIRN_EAGAIN)
        rc = CAIRN_EPROTO; /* a complete object was framed: truncation is malformed */
    cairn__ipc_fail(c, rc, "%s: %s", field, cairn__mp_err_text(rc));
    return false;
}

static bool cap_count(ipc_cur *c, const char *field, uint64_t n, uint64_t max)
{
    if (n <= max)
        return true;
    cairn__ipc_fail(c, CAIRN_ELIMIT, "%s has %llu entries, limit %llu", field,
                    (unsigned long long)n, (unsigned long long)max);
    return false;
}

bool cairn__ipc_read_map(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n)
{
    uint32_t n;
    if (c->err != 0 || !check(c, cairn__mp_read_map(&c->r, &n), field) ||
        !cap_count(c, field, n, max))
        return false;
    *ret_n = n;
    return true;
}

bool cairn__ipc_read_array(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n)
{
    uint32_t n;
    if (c->err != 0 || !check(c, cairn__mp_read_array(&c->r, &n), field) ||
        !cap_count(c, field, n, max))
        return false;
    *ret_n = n;
    return true;
}

static bool cap_len(ipc_cur *c, const char *field, size_t n, size_t max)
{
    if (n <= max)
        return true;
    cairn__ipc_fail(c, CAIRN_ELIMIT, "%s is %zu bytes, limit %zu", field, n, max);
    return false;
}

bool cairn__ipc_read_str(ipc_cur *c, const char *field, size_t max, const uint8_t **ret_p,
                         size_t *ret_len)
{
    cairn_span s;
    if (c->err != 0 || !check(c, cairn__mp_read_str(&c->r, &s), field) ||
        !cap_len(c, field, s.len, max))
        return false;
    *ret_p = s.p != NULL ? s.p : (const uint8_t *)"";
    *ret_len = s.len;
    return true;
}

bool cairn__ipc_read_bytes(ipc_cur *c, const char *field, size_t max, uint8_t *scratch,
                           const uint8_t **ret_p, size_t *ret_len)
{
    size_t n;
    cairn_span b;
    if (c->err != 0 || !check(c, cairn__mp_read_bytes_len(&c->r, &n), field) ||
        !cap_len(c, field, n, max) ||
        !check(c, cairn__mp_read_bytes(&c->r, scratch, scratch != NULL ? max : 0, &b), field))
        return false;
    *ret_p = b.p;
    *ret_len = b.len;
    return true;
}

bool cairn__ipc_read_uint(ipc_cur *c, const char *field, uint64_t max, uint64_t *ret_v)
{
    uint64_t v;
    if (c->err != 0 || !check(c, cairn__mp_read_uint(&c->r, max, &v), field))
        return false;
    *ret_v = v;
    return true;
}

bool cairn__ipc_read_float(ipc_cur *c, const char *field, double *ret_v)
{
    double v;
    if (c->err != 0 || !check(c, cairn__mp_read_double(&c->r, &v), field))
        return false;
    *ret_v = v;
    return true;
}

bool cairn__ipc_read_bool(ipc_cur *c, const char *field, bool *ret_v)
{
    bool v;
    if (c->err != 0 || !check(c, cairn__mp_read_bool(&c->r, &v), field))
        return false;
    *ret_v = v;
    return true;
}

bool cairn__ipc_read_nil(ipc_cur *c)
{
    if (c->err != 0 || cairn__mp_peek(&c->r) != CAIRN_MP_T_NIL)
        return false;
    return check(c, cairn__mp_skip(&c->r), "nil");
}

bool cairn__ipc_skip(ipc_cur *c)
{
    return c->err == 0 && check(c, cairn__mp_skip(&c->r), "unknown field");
}

bool cairn__ipc_read_key(ipc_cur *c, cairn_span *ret_key)
{
    const uint8_t *p;
    size_t n;
    if (!cairn__ipc_read_str(c, "map key", 64, &p, &n))
        return false;
    ret_key->p = p;
    ret_key->len = n;
    return true;
}
