/* The IPC msgpack dialect: a bounded reader and a minimal writer.
 *
 * The Serf agent RPC stream carries msgpack objects back to back with no
 * length prefix, so a client must find where an object ends before it can
 * decode it. ipc_object_len walks the type bytes with an explicit stack (no
 * recursion, depth capped) and never reads past the bytes it was given.
 *
 * The cursor functions decode the handful of shapes the agent sends: maps
 * keyed by Go field names, strings and bins, non-negative integers in any
 * width, floats, bools and nils (which Go accepts as the zero value of any
 * type, so we do too). They follow MPack's sticky-error model: the first
 * failure is kept, later reads do nothing, and the caller checks once.
 *
 * Encoding follows go-msgpack's IPC handle (spec serf-wire §1): strings use
 * str8 for 32..255 bytes, byte slices are always bin, integers take their
 * smallest form. Callers write map keys in sorted order themselves.
 */
#include "serfrpc/ipc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* head describes the object whose type byte is p[0]: how many header bytes
 * (type byte plus length field) it has, how many payload bytes follow the
 * header, and how many child objects it contains. *hdr = 0 when more bytes
 * are needed to know. Returns false for the unused byte 0xc1. */
static bool head(const uint8_t *p, size_t n, size_t *hdr, uint64_t *payload, uint64_t *children)
{
    uint8_t t = p[0];
    size_t lenb = 0; /* bytes of the big-endian length/size field */
    *payload = 0;
    *children = 0;
    *hdr = 1;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return true;
    if ((t & 0xe0) == 0xa0) {
        *payload = t & 0x1f;
        return true;
    }
    if ((t & 0xf0) == 0x90) {
        *children = t & 0x0f;
        return true;
    }
    if ((t & 0xf0) == 0x80) {
        *children = 2u * (t & 0x0f);
        return true;
    }
    switch (t) {
    case 0xcc: case 0xd0: *payload = 1; return true;
    case 0xcd: case 0xd1: *payload = 2; return true;
    case 0xca: case 0xce: case 0xd2: *payload = 4; return true;
    case 0xcb: case 0xcf: case 0xd3: *payload = 8; return true;
    case 0xd4: *payload = 2; return true; /* fixext 1: type + 1 */
    case 0xd5: *payload = 3; return true;
    case 0xd6: *payload = 5; return true;
    case 0xd7: *payload = 9; return true;
    case 0xd8: *payload = 17; return true;
    case 0xc4: case 0xd9: lenb = 1; break;
    case 0xc5: case 0xda: case 0xdc: case 0xde: lenb = 2; break;
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: lenb = 4; break;
    case 0xc7: lenb = 1; break;
    case 0xc8: lenb = 2; break;
    case 0xc9: lenb = 4; break;
    default: return false; /* 0xc1 */
    }
    if (n < 1 + lenb) {
        *hdr = 0;
        return true;
    }
    uint64_t len = be(p + 1, lenb);
    *hdr = 1 + lenb;
    if (t == 0xdc || t == 0xdd)
        *children = len;
    else if (t == 0xde || t == 0xdf)
        *children = 2 * len;
    else if (t >= 0xc7 && t <= 0xc9)
        *payload = len + 1; /* ext: type byte + data */
    else
        *payload = len;
    return true;
}

int ipc_object_len(const uint8_t *p, size_t n, size_t max, size_t *ret_len)
{
    uint64_t stack[IPC_MAX_DEPTH + 1]; /* objects still to read per level */
    int depth = 0;
    size_t off = 0;
    stack[0] = 1;
    while (depth >= 0) {
        if (stack[depth] == 0) {
            depth--;
            continue;
        }
        if (off >= n)
            return n >= max ? CAIRN_EMSGSIZE : CAIRN_EAGAIN;
        size_t hdr;
        uint64_t payload, children;
        if (!head(p + off, n - off, &hdr, &payload, &children))
            return CAIRN_EPROTO;
        if (hdr == 0)
            return n >= max ? CAIRN_EMSGSIZE : CAIRN_EAGAIN;
        if (payload > max || off + hdr + payload > max)
            return CAIRN_EMSGSIZE;
        /* Each child needs at least one byte: a count beyond max is hostile. */
        if (children > max)
            return CAIRN_EMSGSIZE;
        off += hdr + (size_t)payload;
        stack[depth]--;
        if (children > 0) {
            if (depth == IPC_MAX_DEPTH)
                return CAIRN_EPROTO;
            stack[++depth] = children;
        }
        if (off > n)
            return n >= max ? CAIRN_EMSGSIZE : CAIRN_EAGAIN;
    }
    *ret_len = off;
    return 0;
}

void ipc_cur_init(ipc_cur *c, const uint8_t *p, size_t n, const char *what, cairn_diag *diag)
{
    c->p = p;
    c->end = p + n;
    c->err = 0;
    c->diag = diag;
    c->what = what;
}

int ipc_fail(ipc_cur *c, int err, const char *fmt, ...)
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

static size_t left(const ipc_cur *c)
{
    return (size_t)(c->end - c->p);
}

/* need: at least n bytes remain, else a truncation error naming field. */
static bool need(ipc_cur *c, size_t n, const char *field)
{
    if (c->err != 0)
        return false;
    if (left(c) < n) {
        ipc_fail(c, CAIRN_EPROTO, "%s is truncated", field);
        return false;
    }
    return true;
}

bool ipc_read_nil(ipc_cur *c)
{
    if (c->err != 0 || left(c) == 0 || c->p[0] != 0xc0)
        return false;
    c->p++;
    return true;
}

static bool read_container(ipc_cur *c, const char *field, uint32_t max, bool map, uint32_t *ret_n)
{
    if (!need(c, 1, field))
        return false;
    uint8_t t = c->p[0];
    uint64_t n;
    size_t hdr = 1;
    if (t == 0xc0) {
        n = 0;
    } else if (map && (t & 0xf0) == 0x80) {
        n = t & 0x0f;
    } else if (!map && (t & 0xf0) == 0x90) {
        n = t & 0x0f;
    } else if (t == (map ? 0xde : 0xdc) || t == (map ? 0xdf : 0xdd)) {
        hdr = (t == 0xde || t == 0xdc) ? 3 : 5;
        if (!need(c, hdr, field))
            return false;
        n = be(c->p + 1, hdr - 1);
    } else {
        ipc_fail(c, CAIRN_EPROTO, "%s is not %s (type 0x%02x)", field, map ? "a map" : "an array",
                 t);
        return false;
    }
    if (n > max) {
        ipc_fail(c, CAIRN_ELIMIT, "%s has %llu entries, limit %u", field, (unsigned long long)n,
                 max);
        return false;
    }
    if (n * (map ? 2u : 1u) > left(c) - hdr) {
        ipc_fail(c, CAIRN_EPROTO, "%s claims %llu entries in %zu bytes", field,
                 (unsigned long long)n, left(c) - hdr);
        return false;
    }
    c->p += hdr;
    *ret_n = (uint32_t)n;
    return true;
}

bool ipc_read_map(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n)
{
    return read_container(c, field, max, true, ret_n);
}

bool ipc_read_array(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n)
{
    return read_container(c, field, max, false, ret_n);
}

bool ipc_read_raw(ipc_cur *c, const char *field, size_t max, const uint8_t **ret_p,
                  size_t *ret_len)
{
    if (!need(c, 1, field))
        return false;
    uint8_t t = c->p[0];
    size_t hdr;
    uint64_t n;
    if (t == 0xc0) {
        c->p++;
        *ret_p = c->p;
        *ret_len = 0;
        return true;
    }
    if ((t & 0xe0) == 0xa0) {
        hdr = 1;
        n = t & 0x1f;
    } else if (t == 0xd9 || t == 0xc4) {
        hdr = 2;
    } else if (t == 0xda || t == 0xc5) {
        hdr = 3;
    } else if (t == 0xdb || t == 0xc6) {
        hdr = 5;
    } else {
        ipc_fail(c, CAIRN_EPROTO, "%s is not a string (type 0x%02x)", field, t);
        return false;
    }
    if (!need(c, hdr, field))
        return false;
    if (hdr > 1)
        n = be(c->p + 1, hdr - 1);
    if (n > max) {
        ipc_fail(c, CAIRN_ELIMIT, "%s is %llu bytes, limit %zu", field, (unsigned long long)n,
                 max);
        return false;
    }
    if (!need(c, hdr + (size_t)n, field))
        return false;
    *ret_p = c->p + hdr;
    *ret_len = (size_t)n;
    c->p += hdr + (size_t)n;
    return true;
}

bool ipc_read_uint(ipc_cur *c, const char *field, uint64_t max, uint64_t *ret_v)
{
    if (!need(c, 1, field))
        return false;
    uint8_t t = c->p[0];
    uint64_t v;
    size_t len = 0;
    bool is_signed = false;
    if (t <= 0x7f) {
        v = t;
    } else if (t == 0xc0) {
        v = 0;
    } else if (t >= 0xcc && t <= 0xcf) {
        len = (size_t)1 << (t - 0xcc);
    } else if (t >= 0xd0 && t <= 0xd3) {
        len = (size_t)1 << (t - 0xd0);
        is_signed = true;
    } else {
        ipc_fail(c, CAIRN_EPROTO, "%s is not an integer (type 0x%02x)", field, t);
        return false;
    }
    if (len > 0) {
        if (!need(c, 1 + len, field))
            return false;
        v = be(c->p + 1, len);
        if (is_signed && (c->p[1] & 0x80)) {
            ipc_fail(c, CAIRN_ERANGE, "%s is negative", field);
            return false;
        }
    }
    if (v > max) {
        ipc_fail(c, CAIRN_ERANGE, "%s is %llu, limit %llu", field, (unsigned long long)v,
                 (unsigned long long)max);
        return false;
    }
    c->p += 1 + len;
    *ret_v = v;
    return true;
}

bool ipc_read_float(ipc_cur *c, const char *field, double *ret_v)
{
    if (!need(c, 1, field))
        return false;
    uint8_t t = c->p[0];
    if (t == 0xcb || t == 0xca) {
        size_t len = t == 0xcb ? 8 : 4;
        if (!need(c, 1 + len, field))
            return false;
        uint64_t bits = be(c->p + 1, len);
        if (len == 8) {
            double d;
            memcpy(&d, &bits, sizeof d);
            *ret_v = d;
        } else {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, sizeof f);
            *ret_v = f;
        }
        c->p += 1 + len;
        return true;
    }
    if (t >= 0xe0 || (t >= 0xd0 && t <= 0xd3)) {
        ipc_fail(c, CAIRN_EPROTO, "%s is a negative integer where a float was expected", field);
        return false;
    }
    uint64_t v;
    if (!ipc_read_uint(c, field, UINT64_MAX, &v))
        return false;
    *ret_v = (double)v;
    return true;
}

bool ipc_read_bool(ipc_cur *c, const char *field, bool *ret_v)
{
    if (!need(c, 1, field))
        return false;
    uint8_t t = c->p[0];
    if (t == 0xc2 || t == 0xc3) {
        *ret_v = t == 0xc3;
        c->p++;
        return true;
    }
    uint64_t v;
    if (!ipc_read_uint(c, field, 1, &v))
        return false;
    *ret_v = v == 1;
    return true;
}

bool ipc_skip(ipc_cur *c)
{
    if (c->err != 0)
        return false;
    size_t len;
    int rc = ipc_object_len(c->p, left(c), left(c), &len);
    if (rc != 0) {
        ipc_fail(c, CAIRN_EPROTO, "unknown field value is malformed or truncated");
        return false;
    }
    c->p += len;
    return true;
}

bool ipc_key_is(const uint8_t *p, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(p, name, n) == 0;
}

/* ---- encoding ---- */

static int put_be(cairn_buf *b, uint8_t type, uint64_t v, size_t len)
{
    uint8_t tmp[9];
    tmp[0] = type;
    for (size_t i = 0; i < len; i++)
        tmp[1 + i] = (uint8_t)(v >> (8 * (len - 1 - i)));
    return cairn_buf_append(b, tmp, 1 + len);
}

int ipc_put_map(cairn_buf *b, uint32_t n)
{
    if (n < 16)
        return put_be(b, (uint8_t)(0x80 | n), 0, 0);
    if (n <= 0xffff)
        return put_be(b, 0xde, n, 2);
    return put_be(b, 0xdf, n, 4);
}

int ipc_put_array(cairn_buf *b, uint32_t n)
{
    if (n < 16)
        return put_be(b, (uint8_t)(0x90 | n), 0, 0);
    if (n <= 0xffff)
        return put_be(b, 0xdc, n, 2);
    return put_be(b, 0xdd, n, 4);
}

int ipc_put_str(cairn_buf *b, const char *s, size_t n)
{
    int rc;
    if (n < 32)
        rc = put_be(b, (uint8_t)(0xa0 | n), 0, 0);
    else if (n <= 0xff)
        rc = put_be(b, 0xd9, n, 1);
    else if (n <= 0xffff)
        rc = put_be(b, 0xda, n, 2);
    else if (n <= 0xffffffffu)
        rc = put_be(b, 0xdb, n, 4);
    else
        return CAIRN_ELIMIT;
    return rc != 0 ? rc : cairn_buf_append(b, s, n);
}

int ipc_put_cstr(cairn_buf *b, const char *s)
{
    return ipc_put_str(b, s, strlen(s));
}

int ipc_put_bin(cairn_buf *b, const uint8_t *p, size_t n)
{
    int rc;
    if (n <= 0xff)
        rc = put_be(b, 0xc4, n, 1);
    else if (n <= 0xffff)
        rc = put_be(b, 0xc5, n, 2);
    else if (n <= 0xffffffffu)
        rc = put_be(b, 0xc6, n, 4);
    else
        return CAIRN_ELIMIT;
    return rc != 0 ? rc : cairn_buf_append(b, p, n);
}

int ipc_put_uint(cairn_buf *b, uint64_t v)
{
    if (v <= 0x7f)
        return put_be(b, (uint8_t)v, 0, 0);
    if (v <= 0xff)
        return put_be(b, 0xcc, v, 1);
    if (v <= 0xffff)
        return put_be(b, 0xcd, v, 2);
    if (v <= 0xffffffffu)
        return put_be(b, 0xce, v, 4);
    return put_be(b, 0xcf, v, 8);
}

int ipc_put_bool(cairn_buf *b, bool v)
{
    return put_be(b, v ? 0xc3 : 0xc2, 0, 0);
}

int ipc_put_nil(cairn_buf *b)
{
    return put_be(b, 0xc0, 0, 0);
}
