/* serf tags in memberlist Meta, and the coordinate in ping-ack payloads.
 *
 * Tags: serf protocol >= 3 stores `0xFF` followed by a msgpack
 * map[string]string as the node's Meta; older peers stored the raw value of
 * the `role` tag, which decoding still honours (any Meta not starting with
 * 0xFF reads as {"role": Meta}). Go writes the map in random order; we
 * write it sorted so that one tag set always yields the same Meta bytes
 * (memberlist compares Meta byte-wise to spot updates, so a node that
 * re-encodes the same tags must not look updated). The 512-byte
 * MetaMaxSize is checked on the finished encoding and before decoding.
 *
 * Coordinate payload: `0x01` + {Adjustment, Error, Height, Vec}, all float64
 * (cb), Vec of serf's 8 dimensions. The decoder accepts any numeric form per
 * go-msgpack, at most CAIRN_COORD_MAX_DIM components, and rejects NaN or
 * infinities with a diagnostic (serf's client would reject such a
 * coordinate later; refusing at the wire keeps it out of every cache).
 * Like every struct decoder here it also takes the array form go-msgpack
 * accepts: the fields by position in Go's declaration order.
 */
#include "wire/msg.h"

#include <math.h>
#include <string.h>

#include "msg_internal.h"

int cairn__wire_tags_encode(const cairn_wire_tag *tags, size_t n, cairn_buf *out, cairn_diag *diag)
{
    if (out == NULL || (n && tags == NULL))
        return CAIRN_EINVAL;
    cairn_mp_writer w;
    cairn__mp_writer_init(&w, out, CAIRN_MP_GOSSIP);
    uint8_t magic = 0xff;
    cairn__mp_write_raw(&w, &magic, 1);
    /* An empty tag set is the empty map ff 80, as Go encodes make(map). */
    static const cairn_wire_tag none[1];
    cairn__wire_write_tag_map(&w, n ? tags : none, n, "tags", diag);
    size_t len = out->len - w.start;
    if (w.err == 0 && len > CAIRN_WIRE_META_MAX) {
        w.err = cairn_diag_set(diag, CAIRN_ELIMIT, "tags: Meta is %zu bytes, limit %d", len,
                               CAIRN_WIRE_META_MAX);
    }
    return cairn__mp_writer_finish(&w);
}

int cairn__wire_tags_decode(cairn_span meta, cairn_wire_arena *arena, cairn_diag *diag,
                            cairn_wire_tag **ret_tags, size_t *ret_n)
{
    if (arena == NULL || ret_tags == NULL || ret_n == NULL || (meta.len && meta.p == NULL))
        return CAIRN_EINVAL;
    if (meta.len > CAIRN_WIRE_META_MAX)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "tags: Meta is %zu bytes, limit %d", meta.len,
                              CAIRN_WIRE_META_MAX);
    if (meta.len == 0) {
        *ret_tags = NULL;
        *ret_n = 0;
        return 0;
    }
    if (meta.p[0] != 0xff) {
        cairn_wire_tag *t = cairn__wire_arena_alloc(arena, sizeof(*t));
        if (t == NULL)
            return cairn_diag_set(diag, CAIRN_ENOMEM, "tags: out of memory");
        t->key = CAIRN_SPAN_LIT("role");
        t->value = meta;
        *ret_tags = t;
        *ret_n = 1;
        return 0;
    }
    wire_ctx c = {.arena = arena, .diag = diag, .msg = "tags"};
    cairn__mp_reader_init(&c.r, meta.p + 1, meta.len - 1);
    cairn_wire_tag *t = NULL;
    size_t n = 0;
    int e = cairn__wire_read_tag_map(&c, "Meta", &t, &n);
    if (e)
        return e == CAIRN_EAGAIN ? CAIRN_EPROTO : e;
    *ret_tags = t;
    *ret_n = n;
    return 0;
}

/* ------------------------------------------------------------ coordinate */

static int check_finite(const cairn_coord *c, cairn_diag *diag, int err, const char *what)
{
    const char *bad = NULL;
    if (!isfinite(c->adjustment))
        bad = "Adjustment";
    else if (!isfinite(c->error))
        bad = "Error";
    else if (!isfinite(c->height))
        bad = "Height";
    for (unsigned k = 0; bad == NULL && k < c->dim; k++)
        if (!isfinite(c->vec[k]))
            bad = "Vec";
    if (bad)
        return cairn_diag_set(diag, err, "coordinate: %s is not finite (%s)", bad, what);
    return 0;
}

int cairn__wire_coord_encode(const cairn_coord *c, cairn_buf *out, cairn_diag *diag)
{
    if (c == NULL || out == NULL)
        return CAIRN_EINVAL;
    if (c->dim > CAIRN_COORD_MAX_DIM)
        return cairn_diag_set(diag, CAIRN_EINVAL, "coordinate: Vec has %u dimensions, limit %d",
                              c->dim, CAIRN_COORD_MAX_DIM);
    int e = check_finite(c, diag, CAIRN_EINVAL, "refusing to encode");
    if (e)
        return e;
    cairn_mp_writer w;
    cairn__mp_writer_init(&w, out, CAIRN_MP_GOSSIP);
    uint8_t v = CAIRN_WIRE_COORD_PAYLOAD_VERSION;
    cairn__mp_write_raw(&w, &v, 1);
    cairn__mp_write_map(&w, 4);
    cairn__mp_write_cstr(&w, "Adjustment");
    cairn__mp_write_double(&w, c->adjustment);
    cairn__mp_write_cstr(&w, "Error");
    cairn__mp_write_double(&w, c->error);
    cairn__mp_write_cstr(&w, "Height");
    cairn__mp_write_double(&w, c->height);
    cairn__mp_write_cstr(&w, "Vec");
    if (c->dim == 0) {
        cairn__mp_write_nil(&w);
    } else {
        cairn__mp_write_array(&w, c->dim);
        for (unsigned k = 0; k < c->dim; k++)
            cairn__mp_write_double(&w, c->vec[k]);
    }
    return cairn__mp_writer_finish(&w);
}

static int read_vec(cairn_mp_reader *r, cairn_coord *co, cairn_diag *diag)
{
    uint32_t n;
    if (cairn__mp_read_array(r, &n))
        return r->err;
    if (n > CAIRN_COORD_MAX_DIM) {
        r->err = CAIRN_ELIMIT;
        return cairn_diag_set(diag, CAIRN_ELIMIT, "coordinate: Vec has %u dimensions, limit %d", n,
                              CAIRN_COORD_MAX_DIM);
    }
    for (uint32_t k = 0; k < n; k++)
        if (cairn__mp_read_double(r, &co->vec[k]))
            return r->err;
    co->dim = n;
    return 0;
}

/* The Coordinate fields in Go declaration order, which is their position
 * when the struct arrives as an array (the map form uses the names). */
static const char *const coord_fields[] = {"Vec", "Error", "Adjustment", "Height"};
#define COORD_NFIELDS ((int)(sizeof(coord_fields) / sizeof(coord_fields[0])))

static int coord_field_index(cairn_span key)
{
    for (int k = 0; k < COORD_NFIELDS; k++)
        if (cairn__mp_key_is(key, coord_fields[k]))
            return k;
    return -1;
}

/* read_coord_field reads the value of field `idx` (a coord_fields index, or
 * -1 for a value to skip); errors are left in r->err. */
static void read_coord_field(cairn_mp_reader *r, int idx, cairn_coord *co, cairn_diag *diag)
{
    switch (idx) {
    case 0:
        read_vec(r, co, diag);
        break;
    case 1:
        cairn__mp_read_double(r, &co->error);
        break;
    case 2:
        cairn__mp_read_double(r, &co->adjustment);
        break;
    case 3:
        cairn__mp_read_double(r, &co->height);
        break;
    default:
        cairn__mp_skip(r);
        break;
    }
}

int cairn__wire_coord_decode(const uint8_t *p, size_t len, cairn_diag *diag, cairn_coord *ret)
{
    if (p == NULL || len < 1)
        return cairn_diag_set(diag, CAIRN_EPROTO, "coordinate: empty payload");
    if (p[0] != CAIRN_WIRE_COORD_PAYLOAD_VERSION)
        return cairn_diag_set(diag, CAIRN_ENOTSUP, "coordinate: payload version %u, want %d", p[0],
                              CAIRN_WIRE_COORD_PAYLOAD_VERSION);
    cairn_coord co;
    memset(&co, 0, sizeof(co));
    cairn_mp_reader r;
    cairn__mp_reader_init(&r, p + 1, len - 1);
    /* A map by field name, or (go-msgpack accepts it too) an array in
     * declaration order whose extra elements are skipped. */
    bool positional = cairn__mp_peek(&r) == CAIRN_MP_T_ARRAY;
    uint32_t count;
    const char *what = "body";
    if ((positional ? cairn__mp_read_array(&r, &count) : cairn__mp_read_map(&r, &count)) == 0) {
        for (uint32_t k = 0; k < count && !r.err; k++) {
            int idx = k < (uint32_t)COORD_NFIELDS ? (int)k : -1;
            if (!positional) {
                cairn_span key;
                what = "a map key";
                if (cairn__mp_read_str(&r, &key))
                    break;
                idx = coord_field_index(key);
            }
            if (idx >= 0)
                what = coord_fields[idx];
            else
                what = positional ? "an extra array element" : "an unknown field";
            read_coord_field(&r, idx, &co, diag);
        }
    }
    if (r.err) {
        int e = r.err == CAIRN_EAGAIN ? CAIRN_EPROTO : r.err;
        return cairn_diag_set(diag, e, "coordinate: %s is %s", what, cairn__mp_err_text(r.err));
    }
    int e = check_finite(&co, diag, CAIRN_ERANGE, "rejected");
    if (e)
        return e;
    if (ret)
        *ret = co;
    return 0;
}
