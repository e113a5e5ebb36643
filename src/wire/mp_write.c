/* msgpack writing in the two go-msgpack dialects, on top of msgpack-c.
 *
 * msgpack-c's packer already produces exactly what go-msgpack 0.5.5 produces
 * for integers (smallest form whatever the C type), doubles (always cb),
 * nil, booleans and container headers. The dialects differ only in how
 * strings and byte slices are framed, and msgpack-c has both: the v4 "raw"
 * functions (fixraw a0 / raw16 da / raw32 db, no str8) for the gossip
 * handle, and str (with str8 d9) plus bin (c4..c6) for the IPC handle. So
 * this file is a thin adapter: a packer callback that appends to a bounded
 * cairn_buf, a sticky error, and the dialect switch.
 *
 * The sticky error lets message encoders write a whole struct and check once;
 * cairn__mp_writer_finish() then rolls the buffer back to where the writer
 * started, so a failed encode never leaves half a message behind.
 */
#include "wire/mp.h"

#include <string.h>

/* append_cb is msgpack-c's write callback, called once per header and per
 * body: the hot path of every encoder. When the bytes fit in the buffer's
 * current capacity (which never exceeds its limit) they are copied in
 * place, a one-byte header without a libc call; only growth goes
 * through cairn_buf_append. */
static int append_cb(void *data, const char *p, size_t n)
{
    cairn_mp_writer *w = data;
    if (w->err)
        return -1;
    cairn_buf *b = w->out;
    if (n <= b->cap - b->len && n > 0) {
        uint8_t *d = b->data + b->len;
        if (n == 1)
            *d = (uint8_t)*p;
        else
            memcpy(d, p, n);
        b->len += n;
        return 0;
    }
    int r = cairn_buf_append(w->out, p, n);
    if (r < 0) {
        w->err = r;
        return -1;
    }
    return 0;
}

cairn_span cairn__span_str(const char *s)
{
    cairn_span sp = {(const uint8_t *)s, s ? strlen(s) : 0};
    return sp;
}

bool cairn__span_eq(cairn_span a, cairn_span b)
{
    if (a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.p, b.p, a.len) == 0;
}

void cairn__mp_writer_init(cairn_mp_writer *w, cairn_buf *out, cairn_mp_dialect dialect)
{
    msgpack_packer_init(&w->pk, w, append_cb);
    w->out = out;
    w->start = out->len;
    w->dialect = dialect;
    w->err = 0;
}

int cairn__mp_writer_finish(cairn_mp_writer *w)
{
    if (w->err && w->out->len > w->start)
        w->out->len = w->start;
    return w->err;
}

void cairn__mp_write_nil(cairn_mp_writer *w)
{
    if (!w->err)
        msgpack_pack_nil(&w->pk);
}

void cairn__mp_write_bool(cairn_mp_writer *w, bool v)
{
    if (w->err)
        return;
    if (v)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

void cairn__mp_write_uint(cairn_mp_writer *w, uint64_t v)
{
    if (!w->err)
        msgpack_pack_uint64(&w->pk, v);
}

void cairn__mp_write_int(cairn_mp_writer *w, int64_t v)
{
    if (!w->err)
        msgpack_pack_int64(&w->pk, v);
}

void cairn__mp_write_double(cairn_mp_writer *w, double v)
{
    if (!w->err)
        msgpack_pack_double(&w->pk, v);
}

void cairn__mp_write_map(cairn_mp_writer *w, uint32_t n)
{
    if (!w->err)
        msgpack_pack_map(&w->pk, n);
}

void cairn__mp_write_array(cairn_mp_writer *w, uint32_t n)
{
    if (!w->err)
        msgpack_pack_array(&w->pk, n);
}

void cairn__mp_write_str(cairn_mp_writer *w, cairn_span s)
{
    if (w->err)
        return;
    if (s.len > UINT32_MAX) {
        w->err = CAIRN_EMSGSIZE;
        return;
    }
    if (w->dialect == CAIRN_MP_IPC) {
        msgpack_pack_str(&w->pk, s.len);
        if (s.len)
            msgpack_pack_str_body(&w->pk, s.p, s.len);
    } else {
        msgpack_pack_v4raw(&w->pk, s.len);
        if (s.len)
            msgpack_pack_v4raw_body(&w->pk, s.p, s.len);
    }
}

void cairn__mp_write_cstr(cairn_mp_writer *w, const char *s)
{
    cairn__mp_write_str(w, cairn__span_str(s));
}

void cairn__mp_write_bytes(cairn_mp_writer *w, cairn_span b)
{
    if (w->err)
        return;
    if (b.p == NULL && b.len == 0) {
        msgpack_pack_nil(&w->pk);
        return;
    }
    if (b.len > UINT32_MAX) {
        w->err = CAIRN_EMSGSIZE;
        return;
    }
    if (w->dialect == CAIRN_MP_IPC) {
        msgpack_pack_bin(&w->pk, b.len);
        if (b.len)
            msgpack_pack_bin_body(&w->pk, b.p, b.len);
    } else {
        msgpack_pack_v4raw(&w->pk, b.len);
        if (b.len)
            msgpack_pack_v4raw_body(&w->pk, b.p, b.len);
    }
}

void cairn__mp_write_raw(cairn_mp_writer *w, const void *p, size_t n)
{
    if (!w->err && n)
        append_cb(w, p, n);
}
