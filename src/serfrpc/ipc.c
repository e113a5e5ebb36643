/* The IPC dialect's reading side, over wire's msgpack cursor.
 *
 * The Serf agent RPC stream carries msgpack objects back to back with no
 * length prefix, so the client must find where an object ends before it can
 * decode it: cairn__ipc_object_len asks wire (cairn__mp_object_len) and adds the
 * record-size cap. The ipc_read_* functions are wire's readers plus the
 * serfrpc caps and a sentence for the diagnostic ("members reply:
 * Member.Tags has 300 entries, limit 256"); like wire's reader the first
 * error sticks and later reads do nothing, so decoders check once.
 */
#include "serfrpc/ipc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cairn__ipc_object_len(const uint8_t *p, size_t n, size_t max, size_t *ret_len)
{
    size_t len;
    int rc = cairn__mp_object_len(p, n, &len);
    if (rc == CAIRN_EAGAIN)
        return n >= max ? CAIRN_EMSGSIZE : CAIRN_EAGAIN;
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
