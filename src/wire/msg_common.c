/* The decode arena and the table-driven Go-struct codec.
 *
 * go-msgpack encodes a Go struct as a map keyed by field name, sorted, and
 * decodes it by looking each key up exactly. Rather than hand-writing that
 * loop for thirty message types, each message is a table of wire_field
 * (msg_internal.h) and the two functions here walk it. This is where the
 * decoding rules of spec §1.2 live for structs: unknown keys are skipped
 * (with the reader's depth cap), nil is the zero value, integers of any
 * width are range-checked into the member's width, []byte values are length
 * checked against the field's named limit *before* any copy, and a Vsn must
 * be empty or exactly six bytes (memberlist #368). A struct may also arrive
 * as an array, read positionally in Go's declaration order (the `decl` of
 * each row); extra elements are skipped like go-msgpack does.
 *
 * The arena keeps every allocation a decode makes (arrays, and []byte
 * values that arrived in the rare array-of-ints form) on one list under a
 * byte cap, so a caller frees a decoded message with one call and hostile
 * counts are bounded twice: by the bytes left in the input and by the cap.
 */
#include "msg_internal.h"

#include <assert.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"

/* ------------------------------------------------------------ arena */

typedef union arena_hdr {
    union arena_hdr *next;
    max_align_t align;
} arena_hdr;

void cairn__wire_arena_init(cairn_wire_arena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

void cairn__wire_arena_destroy(cairn_wire_arena *a)
{
    if (a == NULL)
        return;
    arena_hdr *h = a->head;
    while (h) {
        arena_hdr *nx = h->next;
        cairn_free(h);
        h = nx;
    }
    a->head = NULL;
    a->used = 0;
}

void *cairn__wire_arena_alloc(cairn_wire_arena *a, size_t n)
{
    if (a == NULL || n > a->limit - a->used || n > SIZE_MAX - sizeof(arena_hdr) - 1)
        return NULL;
    arena_hdr *h = cairn_malloc(sizeof(arena_hdr) + (n ? n : 1));
    if (h == NULL)
        return NULL;
    memset(h + 1, 0, n ? n : 1);
    h->next = a->head;
    a->head = h;
    a->used += n;
    return h + 1;
}

/* ------------------------------------------------------------ helpers */

int cairn__wire_fail(wire_ctx *c, const char *what, int err)
{
    cairn_diag_set(c->diag, err, "%s: %s is %s", c->msg, what, cairn__mp_err_text(err));
    return err;
}

void *cairn__wire_alloc(wire_ctx *c, const char *what, size_t n)
{
    cairn_wire_arena *a = c->arena;
    int err = CAIRN_ENOMEM;
    if (a == NULL)
        err = CAIRN_EINVAL;
    else if (n > a->limit - a->used)
        err = CAIRN_ELIMIT;
    else {
        void *p = cairn__wire_arena_alloc(a, n);
        if (p != NULL)
            return p;
    }
    c->r.err = err;
    if (err == CAIRN_EINVAL)
        cairn_diag_set(c->diag, err, "%s: %s needs a decode arena", c->msg, what);
    else if (err == CAIRN_ELIMIT)
        cairn_diag_set(c->diag, err, "%s: %s needs %zu arena bytes, %zu of the limit %zu left",
                       c->msg, what, n, a->limit - a->used, a->limit);
    else
        cairn_diag_set(c->diag, err, "%s: %s: out of memory", c->msg, what);
    return NULL;
}

int cairn__wire_read_bytes(wire_ctx *c, const char *what, uint64_t max, cairn_span *ret)
{
    /* Fast path: str, bin or nil, one header parse, zero copy. */
    cairn_span s;
    size_t start = c->r.pos;
    int e = cairn__mp_read_bytes(&c->r, NULL, 0, &s);
    if (e == CAIRN_ENOTSUP) {
        /* An array of ints: legal, never sent by Go; copy into the arena
         * after checking the count against the limit and the input. */
        size_t n = 0;
        c->r.err = 0;
        c->r.pos = start;
        if (cairn__mp_read_bytes_len(&c->r, &n))
            return cairn__wire_fail(c, what, c->r.err = CAIRN_EPROTO);
        if (max && n > max) {
            c->r.err = CAIRN_ELIMIT;
            return cairn_diag_set(c->diag, CAIRN_ELIMIT, "%s: %s is %zu bytes, limit %llu", c->msg,
                                  what, n, (unsigned long long)max);
        }
        if (c->arena == NULL)
            return cairn__wire_fail(c, what, c->r.err = CAIRN_ENOTSUP);
        if (n > cairn_mp_remaining(&c->r))
            return cairn__wire_fail(c, what, c->r.err = CAIRN_EAGAIN);
        uint8_t *scratch = cairn__wire_alloc(c, what, n);
        if (scratch == NULL)
            return c->r.err;
        e = cairn__mp_read_bytes(&c->r, scratch, n, &s);
    }
    if (e)
        return cairn__wire_fail(c, what, c->r.err);
    if (max && s.len > max) {
        c->r.err = CAIRN_ELIMIT;
        return cairn_diag_set(c->diag, CAIRN_ELIMIT, "%s: %s is %zu bytes, limit %llu", c->msg,
                              what, s.len, (unsigned long long)max);
    }
    *ret = s;
    return 0;
}

int cairn__wire_read_array_alloc(wire_ctx *c, const char *what, size_t elem, uint32_t max,
                                 void **ret_p, size_t *ret_n)
{
    bool nil = cairn__mp_peek(&c->r) == CAIRN_MP_T_NIL;
    uint32_t n;
    if (cairn__mp_read_array(&c->r, &n))
        return cairn__wire_fail(c, what, c->r.err);
    if (nil) {
        *ret_p = NULL;
        *ret_n = 0;
        return 0;
    }
    if (n > max) {
        c->r.err = CAIRN_ELIMIT;
        return cairn_diag_set(c->diag, CAIRN_ELIMIT, "%s: %s has %u elements, limit %u", c->msg,
                              what, n, max);
    }
    if (elem && n > SIZE_MAX / elem)
        return cairn__wire_fail(c, what, c->r.err = CAIRN_ELIMIT);
    void *p = cairn__wire_alloc(c, what, (size_t)n * elem);
    if (p == NULL)
        return c->r.err;
    *ret_p = p;
    *ret_n = n;
    return 0;
}

/* nil_run: how many of the first min(want, avail) bytes at b are c0
 * (msgpack nil), eight at a time while it can. */
static size_t nil_run(const uint8_t *b, size_t want, size_t avail)
{
    static const uint64_t nils = 0xc0c0c0c0c0c0c0c0u;
    size_t max = want < avail ? want : avail, k = 0;
    while (max - k >= 8) {
        uint64_t w;
        memcpy(&w, b + k, 8);
        if (w != nils)
            break;
        k += 8;
    }
    while (k < max && b[k] == 0xc0)
        k++;
    return k;
}

int cairn__wire_read_struct_array(wire_ctx *c, const char *what, const wire_field *fields, size_t n,
                                  size_t elem, uint32_t max, size_t present_off, void **ret_p,
                                  size_t *ret_n)
{
    void *p;
    size_t count;
    if (cairn__wire_read_array_alloc(c, what, elem, max, &p, &count))
        return c->r.err;
    for (size_t k = 0; k < count; k++) {
        if (present_off != WIRE_NO_PRESENT) {
            /* Nil elements (c0) stay zero, not present. serf's 512-slot
             * event ring is mostly nil slots, so a run of them is passed
             * with a byte compare each instead of a header parse. */
            size_t run = nil_run(c->r.p + c->r.pos, count - k, c->r.len - c->r.pos);
            k += run;
            c->r.pos += run;
            if (k == count)
                break;
        }
        char *e = (char *)p + k * elem;
        if (present_off != WIRE_NO_PRESENT)
            *(bool *)(e + present_off) = true;
        int err = cairn__wire_decode_struct(c, fields, n, e);
        if (err)
            return err;
    }
    *ret_p = p;
    *ret_n = count;
    return 0;
}

int cairn__wire_write_struct_array(cairn_mp_writer *w, const char *msg, const wire_field *fields,
                                   size_t n, const void *p, size_t elem, size_t count,
                                   size_t present_off, cairn_diag *diag)
{
    if (p == NULL && count == 0) {
        cairn__mp_write_nil(w);
        return 0;
    }
    cairn__mp_write_array(w, (uint32_t)count);
    for (size_t k = 0; k < count; k++) {
        const char *e = (const char *)p + k * elem;
        if (present_off != WIRE_NO_PRESENT && !*(const bool *)(e + present_off)) {
            cairn__mp_write_nil(w);
            continue;
        }
        int err = cairn__wire_encode_struct(w, msg, fields, n, e, diag);
        if (err)
            return err;
    }
    return 0;
}

void cairn__wire_write_str_array(cairn_mp_writer *w, const cairn_span *p, size_t n)
{
    if (p == NULL && n == 0) {
        cairn__mp_write_nil(w);
        return;
    }
    cairn__mp_write_array(w, (uint32_t)n);
    for (size_t k = 0; k < n; k++)
        cairn__mp_write_str(w, p[k]);
}

int cairn__wire_read_str_array(wire_ctx *c, const char *what, cairn_span **ret_p, size_t *ret_n)
{
    void *p;
    size_t n;
    if (cairn__wire_read_array_alloc(c, what, sizeof(cairn_span), UINT32_MAX, &p, &n))
        return c->r.err;
    cairn_span *s = p;
    for (size_t k = 0; k < n; k++)
        if (cairn__mp_read_str(&c->r, &s[k]))
            return cairn__wire_fail(c, what, c->r.err);
    *ret_p = s;
    *ret_n = n;
    return 0;
}

static int span_cmp(cairn_span a, cairn_span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.p, b.p, n) : 0;
    if (r)
        return r;
    return a.len < b.len ? -1 : a.len > b.len;
}

int cairn__wire_write_tag_map(cairn_mp_writer *w, const cairn_wire_tag *tags, size_t n,
                              const char *msg, cairn_diag *diag)
{
    if (tags == NULL && n == 0) {
        cairn__mp_write_nil(w);
        return 0;
    }
    if (n > UINT16_MAX)
        return w->err = cairn_diag_set(diag, CAIRN_EINVAL, "%s: %zu tags", msg, n);
    cairn__mp_write_map(w, (uint32_t)n);
    /* Selection by "smallest key greater than the previous": O(n^2) but
     * allocation-free, and tag maps are small (Meta caps them at 512 bytes). */
    const cairn_wire_tag *prev = NULL;
    for (size_t k = 0; k < n; k++) {
        const cairn_wire_tag *best = NULL;
        for (size_t j = 0; j < n; j++) {
            int c = prev ? span_cmp(tags[j].key, prev->key) : 1;
            if (c == 0 && &tags[j] != prev)
                return w->err = cairn_diag_set(diag, CAIRN_EINVAL, "%s: duplicate tag %.*s", msg,
                                               (int)tags[j].key.len, (const char *)tags[j].key.p);
            if (c > 0 && (best == NULL || span_cmp(tags[j].key, best->key) < 0))
                best = &tags[j];
        }
        cairn__mp_write_str(w, best->key);
        cairn__mp_write_str(w, best->value);
        prev = best;
    }
    return 0;
}

int cairn__wire_read_tag_map(wire_ctx *c, const char *what, cairn_wire_tag **ret_p, size_t *ret_n)
{
    bool nil = cairn__mp_peek(&c->r) == CAIRN_MP_T_NIL;
    uint32_t n;
    if (cairn__mp_read_map(&c->r, &n))
        return cairn__wire_fail(c, what, c->r.err);
    if (nil) {
        *ret_p = NULL;
        *ret_n = 0;
        return 0;
    }
    cairn_wire_tag *t = cairn__wire_alloc(c, what, (size_t)n * sizeof(*t));
    if (t == NULL)
        return c->r.err;
    for (uint32_t k = 0; k < n; k++)
        if (cairn__mp_read_str(&c->r, &t[k].key) || cairn__mp_read_str(&c->r, &t[k].value))
            return cairn__wire_fail(c, what, c->r.err);
    *ret_p = t;
    *ret_n = n;
    return 0;
}

/* ------------------------------------------------------------ structs */

static uint64_t uint_max(const wire_field *f)
{
    if (f->max)
        return f->max;
    return f->size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * f->size)) - 1;
}

static void store_uint(void *p, unsigned size, uint64_t v)
{
    switch (size) {
    case 1:
        *(uint8_t *)p = (uint8_t)v;
        break;
    case 2:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case 4:
        *(uint32_t *)p = (uint32_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

static uint64_t load_uint(const void *p, unsigned size)
{
    switch (size) {
    case 1:
        return *(const uint8_t *)p;
    case 2:
        return *(const uint16_t *)p;
    case 4:
        return *(const uint32_t *)p;
    default:
        return *(const uint64_t *)p;
    }
}

static int decode_field(wire_ctx *c, const wire_field *f, void *p)
{
    switch (f->kind) {
    case FK_STR: {
        cairn_span s;
        if (cairn__mp_read_str(&c->r, &s))
            return cairn__wire_fail(c, f->key, c->r.err);
        if (f->max && s.len > f->max) {
            c->r.err = CAIRN_ELIMIT;
            return cairn_diag_set(c->diag, CAIRN_ELIMIT, "%s: %s is %zu bytes, limit %llu", c->msg,
                                  f->key, s.len, (unsigned long long)f->max);
        }
        *(cairn_span *)p = s;
        return 0;
    }
    case FK_BYTES: {
        cairn_span s;
        if (cairn__wire_read_bytes(c, f->key, f->max, &s))
            return c->r.err;
        if ((f->flags & WF_VSN) && s.len != 0 && s.len != CAIRN_WIRE_VSN_LEN) {
            c->r.err = CAIRN_EPROTO;
            return cairn_diag_set(c->diag, CAIRN_EPROTO, "%s: Vsn is %zu bytes, want 0 or %d",
                                  c->msg, s.len, CAIRN_WIRE_VSN_LEN);
        }
        *(cairn_span *)p = s;
        return 0;
    }
    case FK_BOOL:
        if (cairn__mp_read_bool(&c->r, (bool *)p))
            return cairn__wire_fail(c, f->key, c->r.err);
        return 0;
    case FK_UINT: {
        uint64_t v;
        if (cairn__mp_read_uint(&c->r, uint_max(f), &v))
            return cairn__wire_fail(c, f->key, c->r.err);
        store_uint(p, f->size, v);
        return 0;
    }
    case FK_INT: {
        int64_t v;
        int64_t lim = f->size >= 8 ? INT64_MAX : (INT64_C(1) << (8 * f->size - 1)) - 1;
        if (cairn__mp_read_int(&c->r, -lim - 1, lim, &v))
            return cairn__wire_fail(c, f->key, c->r.err);
        if (f->size == 4)
            *(int32_t *)p = (int32_t)v;
        else
            *(int64_t *)p = v;
        return 0;
    }
    default:
        return f->dec(c, p, f);
    }
}

/* decode_positional reads the elements of a struct that arrived as an array
 * of `count` values: element j fills the field declared j-th in Go; values
 * beyond the declared fields are skipped (go-msgpack decodes them into an
 * interface{} and drops them), missing trailing fields keep their zero. */
static int decode_positional(wire_ctx *c, const wire_field *fields, size_t n, uint32_t count,
                             void *base)
{
    for (uint32_t j = 0; j < count; j++) {
        const wire_field *f = NULL;
        for (size_t i = 0; i < n && f == NULL; i++)
            if (fields[i].decl == j)
                f = &fields[i];
        if (f == NULL) {
            assert(j >= n); /* the decl indexes of a table are 0..n-1 */
            c->skipped++;
            if (cairn__mp_skip(&c->r))
                return cairn__wire_fail(c, "an extra array element", c->r.err);
            continue;
        }
        int e = decode_field(c, f, (char *)base + f->off);
        if (e)
            return e;
    }
    return 0;
}

int cairn__wire_decode_struct(wire_ctx *c, const wire_field *fields, size_t n, void *base)
{
    uint32_t pairs;
    size_t next = 0;
    if (cairn__mp_peek(&c->r) == CAIRN_MP_T_ARRAY) {
        if (cairn__mp_read_array(&c->r, &pairs))
            return cairn__wire_fail(c, "body", c->r.err);
        return decode_positional(c, fields, n, pairs, base);
    }
    if (cairn__mp_read_map(&c->r, &pairs))
        return cairn__wire_fail(c, "body", c->r.err);
    for (uint32_t k = 0; k < pairs; k++) {
        cairn_span key;
        if (cairn__mp_read_str(&c->r, &key))
            return cairn__wire_fail(c, "a map key", c->r.err);
        /* Go sends the keys in table order, so try the field after the
         * last match first; fall back to a full scan. */
        const wire_field *f = NULL;
        for (size_t j = 0; j < n && f == NULL; j++) {
            size_t i = (next + j) % n;
            if (cairn__mp_key_n_is(key, fields[i].key, fields[i].key_len)) {
                f = &fields[i];
                next = i + 1;
            }
        }
        if (f == NULL) {
            c->skipped++;
            if (cairn__mp_skip(&c->r))
                return cairn__wire_fail(c, "an unknown field's value", c->r.err);
            continue;
        }
        int e = decode_field(c, f, (char *)base + f->off);
        if (e)
            return e;
    }
    return 0;
}

static bool field_empty(const wire_field *f, const void *p)
{
    switch (f->kind) {
    case FK_STR:
    case FK_BYTES:
        return ((const cairn_span *)p)->len == 0;
    case FK_BOOL:
        return !*(const bool *)p;
    case FK_UINT:
        return load_uint(p, f->size) == 0;
    default:
        return false;
    }
}

static int check_field(const char *msg, const wire_field *f, const void *p, cairn_diag *diag)
{
    if (f->kind != FK_STR && f->kind != FK_BYTES)
        return 0;
    const cairn_span *s = p;
    if (f->max && s->len > f->max)
        return cairn_diag_set(diag, CAIRN_EINVAL, "%s: %s is %zu bytes, limit %llu", msg, f->key,
                              s->len, (unsigned long long)f->max);
    if ((f->flags & WF_VSN) && s->len != 0 && s->len != CAIRN_WIRE_VSN_LEN)
        return cairn_diag_set(diag, CAIRN_EINVAL, "%s: Vsn is %zu bytes, want 0 or %d", msg, s->len,
                              CAIRN_WIRE_VSN_LEN);
    return 0;
}

int cairn__wire_encode_struct(cairn_mp_writer *w, const char *msg, const wire_field *fields,
                              size_t n, const void *base, cairn_diag *diag)
{
    uint32_t count = 0;
    for (size_t k = 0; k < n; k++) {
        const void *p = (const char *)base + fields[k].off;
        int e = check_field(msg, &fields[k], p, diag);
        if (e)
            return w->err = e;
        if (!((fields[k].flags & WF_OMITEMPTY) && field_empty(&fields[k], p)))
            count++;
    }
    cairn__mp_write_map(w, count);
    for (size_t k = 0; k < n; k++) {
        const wire_field *f = &fields[k];
        const void *p = (const char *)base + f->off;
        if ((f->flags & WF_OMITEMPTY) && field_empty(f, p))
            continue;
        cairn__mp_write_cstr(w, f->key);
        switch (f->kind) {
        case FK_STR:
            cairn__mp_write_str(w, *(const cairn_span *)p);
            break;
        case FK_BYTES:
            cairn__mp_write_bytes(w, *(const cairn_span *)p);
            break;
        case FK_BOOL:
            cairn__mp_write_bool(w, *(const bool *)p);
            break;
        case FK_UINT:
            cairn__mp_write_uint(w, load_uint(p, f->size));
            break;
        case FK_INT:
            cairn__mp_write_int(w, f->size == 4 ? *(const int32_t *)p : *(const int64_t *)p);
            break;
        default: {
            int e = f->enc(w, p, msg, diag);
            if (e)
                return w->err = e;
        }
        }
    }
    return w->err;
}

int cairn__wire_encode_msg(cairn_buf *out, uint8_t type, const char *msg, const wire_field *fields,
                           size_t n, const void *base, cairn_diag *diag)
{
    cairn_mp_writer w;
    cairn__mp_writer_init(&w, out, CAIRN_MP_GOSSIP);
    cairn__mp_write_raw(&w, &type, 1);
    cairn__wire_encode_struct(&w, msg, fields, n, base, diag);
    int e = cairn__mp_writer_finish(&w);
    if (e && diag && !diag->err)
        cairn_diag_set(diag, e, "%s: encoding failed: %s", msg, cairn_strerror(e));
    return e;
}

int cairn__wire_decode_msg(const uint8_t *msg, size_t len, uint8_t type, const char *name,
                           const wire_field *fields, size_t n, cairn_wire_arena *arena,
                           cairn_diag *diag, void *base)
{
    if (msg == NULL || len < 1)
        return cairn_diag_set(diag, CAIRN_EPROTO, "%s: empty message", name);
    if (msg[0] != type)
        return cairn_diag_set(diag, CAIRN_EPROTO, "%s: type byte is %u, want %u", name, msg[0],
                              type);
    wire_ctx c = {.arena = arena, .diag = diag, .msg = name};
    cairn__mp_reader_init(&c.r, msg + 1, len - 1);
    int e = cairn__wire_decode_struct(&c, fields, n, base);
    return e == CAIRN_EAGAIN ? CAIRN_EPROTO : e;
}

int cairn__wire_decode_msg_ret(const uint8_t *msg, size_t len, uint8_t type, const wire_msg_desc *d,
                               cairn_wire_arena *arena, cairn_diag *diag, void *tmp, size_t size,
                               void *ret)
{
    memset(tmp, 0, size);
    int e = cairn__wire_decode_msg(msg, len, type, d->label, d->fields, d->n, arena, diag, tmp);
    if (e == 0 && ret)
        memcpy(ret, tmp, size);
    return e;
}

int cairn__wire_decode_by_type(const uint8_t *msg, size_t len, const wire_msg_desc *descs,
                               size_t n_descs, cairn_wire_arena *arena, cairn_diag *diag,
                               void *base)
{
    if (msg[0] >= n_descs || descs[msg[0]].label == NULL)
        return 1;
    const wire_msg_desc *d = &descs[msg[0]];
    return cairn__wire_decode_msg(msg, len, msg[0], d->label, d->fields, d->n, arena, diag, base);
}
