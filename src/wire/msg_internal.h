/* src/wire/msg_internal.h: the table-driven struct codec shared by the
 * memberlist and serf message files (not public).
 *
 * A Go struct on the wire is a msgpack map whose keys are the field names in
 * ASCII order. Each message is described once by a table of wire_field in
 * that order; cairn__wire_encode_struct writes it, cairn__wire_decode_struct reads it
 * (exact key match, unknown keys skipped, nil = zero value). go-msgpack also
 * decodes a struct from an array, positionally in the Go *declaration*
 * order, so each field also records its declaration index (`decl`); the
 * indexes of one table are a permutation of 0..n-1. Fields that are not
 * scalars (arrays, nested structs, maps) use FK_CUSTOM callbacks.
 */
#ifndef CAIRN_WIRE_MSG_INTERNAL_H
#define CAIRN_WIRE_MSG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wire/msg.h"

typedef enum wire_field_kind {
    FK_STR,    /* cairn_span, Go string */
    FK_BYTES,  /* cairn_span, Go []byte */
    FK_BOOL,   /* bool */
    FK_UINT,   /* unsigned integer of `size` bytes, value <= umax */
    FK_INT,    /* signed integer of `size` bytes */
    FK_CUSTOM, /* dec/enc callbacks */
} wire_field_kind;

/* Field flags. */
#define WF_OMITEMPTY 1u /* omitted from the encoding when zero/empty */
#define WF_VSN       2u /* []byte that must be empty or CAIRN_WIRE_VSN_LEN */

/* Decode state for one message. */
typedef struct wire_ctx {
    /* Cursor over the message body. */
    cairn_mp_reader r;
    /* Storage for arrays; may be NULL for messages without arrays. */
    cairn_wire_arena *arena;
    /* Where errors are described (may be NULL). */
    cairn_diag *diag;
    /* Message name for diagnostics ("alive"). */
    const char *msg;
    /* Values skipped unread (unknown keys, extra array elements); lets a
     * one-pass decode know that it parsed every item itself. */
    unsigned skipped;
} wire_ctx;

struct wire_field;
typedef int (*wire_dec_fn)(wire_ctx *c, void *field, const struct wire_field *f);
typedef int (*wire_enc_fn)(cairn_mp_writer *w, const void *field, const char *msg,
                           cairn_diag *diag);

typedef struct wire_field {
    /* Go field name = map key. */
    const char *key;
    /* strlen(key), set by the WF_* macros (keys are matched by length
     * first, then memcmp). */
    unsigned key_len;
    wire_field_kind kind;
    /* Index of the field in the Go struct declaration (exported fields
     * only): its position when the struct arrives as an array. */
    unsigned decl;
    /* offsetof the member in the C struct. */
    size_t off;
    /* Integer member size in bytes (FK_UINT/FK_INT). */
    unsigned size;
    /* WF_* flags. */
    unsigned flags;
    /* FK_BYTES/FK_STR: length limit (0 = none). FK_UINT: maximum value
     * (0 = as the member size allows). */
    uint64_t max;
    /* FK_CUSTOM callbacks. */
    wire_dec_fn dec;
    wire_enc_fn enc;
} wire_field;

#define WF_NFIELDS(t) (sizeof(t) / sizeof((t)[0]))
/* Length of a key given as a string literal (anything else fails to
 * compile: "" k "" needs a literal). */
#define WF_KEYLEN(k) ((unsigned)(sizeof("" k "") - 1))

/* Table rows: S the C struct, m its member, k the Go name, d the Go
 * declaration index, fl WF_* flags, mx the length limit (0 = none). */
#define WF_STR(S, m, k, d, fl, mx)                                                                 \
    {                                                                                              \
        .key = k, .key_len = WF_KEYLEN(k), .kind = FK_STR, .decl = d, .off = offsetof(S, m),       \
        .flags = fl, .max = mx                                                                     \
    }
#define WF_BYTES(S, m, k, d, fl, mx)                                                               \
    {                                                                                              \
        .key = k, .key_len = WF_KEYLEN(k), .kind = FK_BYTES, .decl = d, .off = offsetof(S, m),     \
        .flags = fl, .max = mx                                                                     \
    }
#define WF_BOOL(S, m, k, d)                                                                        \
    {                                                                                              \
        .key = k, .key_len = WF_KEYLEN(k), .kind = FK_BOOL, .decl = d, .off = offsetof(S, m)       \
    }
#define WF_UINT(S, m, k, d, fl)                                                                    \
    {                                                                                              \
        .key = k, .key_len = WF_KEYLEN(k), .kind = FK_UINT, .decl = d, .off = offsetof(S, m),      \
        .size = sizeof(((S *)0)->m), .flags = fl                                                   \
    }
#define WF_INT(S, m, k, d)                                                                         \
    {                                                                                              \
        .key = k, .key_len = WF_KEYLEN(k), .kind = FK_INT, .decl = d, .off = offsetof(S, m),       \
        .size = sizeof(((S *)0)->m)                                                                \
    }
#define WF_CUSTOM(S, m, k, d, de, en)                                                              \
    {                                                                                              \
        .key = k, .key_len = WF_KEYLEN(k), .kind = FK_CUSTOM, .decl = d, .off = offsetof(S, m),    \
        .dec = de, .enc = en                                                                       \
    }

/* The struct that holds member m of S, from a pointer to that member (for
 * FK_CUSTOM callbacks, which are handed the member). */
#define WF_CONTAINER(p, S, m)  ((S *)(void *)((char *)(p)-offsetof(S, m)))
#define WF_CCONTAINER(p, S, m) ((const S *)(const void *)((const char *)(p)-offsetof(S, m)))

/* A message that is a type byte plus one struct: its name for diagnostics
 * and its field table. A file keeps one array of these indexed by type
 * byte; rows left zero (label NULL) are types with their own code. */
typedef struct wire_msg_desc {
    const char *label;
    const wire_field *fields;
    size_t n;
} wire_msg_desc;

#define WIRE_MSG_DESC(lb, tbl)                                                                     \
    {                                                                                              \
        .label = lb, .fields = tbl, .n = WF_NFIELDS(tbl)                                           \
    }

/* Generates the public encoder `fn` of the message descs[type]. */
#define WIRE_ENCODER(fn, T, descs, type)                                                           \
    int fn(const T *m, cairn_buf *out, cairn_diag *diag)                                           \
    {                                                                                              \
        if (m == NULL || out == NULL)                                                              \
            return CAIRN_EINVAL;                                                                   \
        return cairn__wire_encode_msg(out, type, descs[type].label, descs[type].fields,            \
                                      descs[type].n, m, diag);                                     \
    }
/* Generates the matching decoder, with (WIRE_DECODER) or without
 * (WIRE_DECODER_NOARENA) an arena parameter; *ret is written on success. */
#define WIRE_DECODER(fn, T, descs, type)                                                           \
    int fn(const uint8_t *msg, size_t len, cairn_wire_arena *arena, cairn_diag *diag, T *ret)      \
    {                                                                                              \
        T tmp;                                                                                     \
        return cairn__wire_decode_msg_ret(msg, len, type, &descs[type], arena, diag, &tmp,         \
                                          sizeof(tmp), ret);                                       \
    }
#define WIRE_DECODER_NOARENA(fn, T, descs, type)                                                   \
    int fn(const uint8_t *msg, size_t len, cairn_diag *diag, T *ret)                               \
    {                                                                                              \
        T tmp;                                                                                     \
        return cairn__wire_decode_msg_ret(msg, len, type, &descs[type], NULL, diag, &tmp,          \
                                          sizeof(tmp), ret);                                       \
    }

/* cairn__wire_decode_struct reads one struct into base per the table: a map (by
 * key) or an array (by declaration index; elements past the last field are
 * skipped, missing ones stay zero, as go-msgpack does). */
int cairn__wire_decode_struct(wire_ctx *c, const wire_field *fields, size_t n, void *base);
/* cairn__wire_encode_struct writes base as a map per the table; validation errors
 * (limits, Vsn length) return CAIRN_EINVAL with diag and set w->err. */
int cairn__wire_encode_struct(cairn_mp_writer *w, const char *msg, const wire_field *fields,
                              size_t n, const void *base, cairn_diag *diag);

/* cairn__wire_encode_msg appends `type` + struct map to out; out unchanged on
 * error. */
int cairn__wire_encode_msg(cairn_buf *out, uint8_t type, const char *msg, const wire_field *fields,
                           size_t n, const void *base, cairn_diag *diag);
/* cairn__wire_decode_msg checks msg[0] == type and decodes the map after it into
 * base (caller's zeroed temporary). Truncation is CAIRN_EPROTO here. */
int cairn__wire_decode_msg(const uint8_t *msg, size_t len, uint8_t type, const char *name,
                           const wire_field *fields, size_t n, cairn_wire_arena *arena,
                           cairn_diag *diag, void *base);

/* cairn__wire_decode_msg_ret zeroes tmp (size bytes), runs cairn__wire_decode_msg for the
 * message d into it and copies it to ret (if not NULL) on success only. */
int cairn__wire_decode_msg_ret(const uint8_t *msg, size_t len, uint8_t type, const wire_msg_desc *d,
                               cairn_wire_arena *arena, cairn_diag *diag, void *tmp, size_t size,
                               void *ret);
/* cairn__wire_decode_by_type decodes msg (len >= 1) into base (zeroed by the
 * caller) when descs[msg[0]] is a table row (n_descs rows); returns 1 when
 * it is not, so that the caller handles the type itself. */
int cairn__wire_decode_by_type(const uint8_t *msg, size_t len, const wire_msg_desc *descs,
                               size_t n_descs, cairn_wire_arena *arena, cairn_diag *diag,
                               void *base);

/* cairn__wire_fail records a reader error for `what` in the diag and returns the
 * code: "<msg>: <what> is <reason>". */
int cairn__wire_fail(wire_ctx *c, const char *what, int err);

/* cairn__wire_alloc returns n zeroed bytes from c's arena, or NULL with c->r.err
 * and the diag set: CAIRN_EINVAL without an arena, CAIRN_ELIMIT when the
 * arena's cap would be passed, CAIRN_ENOMEM when the allocator fails. */
void *cairn__wire_alloc(wire_ctx *c, const char *what, size_t n);

/* cairn__wire_read_bytes reads a []byte with an optional length limit,
 * copying the array-of-ints form into the arena. */
int cairn__wire_read_bytes(wire_ctx *c, const char *what, uint64_t max, cairn_span *ret);

/* cairn__wire_read_array_alloc reads an array count and allocates `elem` bytes per
 * element in the arena (a non-NULL pointer even for 0 elements; NULL and 0
 * for nil). `max` caps the count before allocating. */
int cairn__wire_read_array_alloc(wire_ctx *c, const char *what, size_t elem, uint32_t max,
                                 void **ret_p, size_t *ret_n);

/* For the two functions below: the elements have no `present` flag. */
#define WIRE_NO_PRESENT SIZE_MAX
/* cairn__wire_read_struct_array reads an array (or nil: NULL, 0) of at most `max`
 * structs described by fields into `elem`-byte arena elements. With
 * present_off != WIRE_NO_PRESENT (Go []*T), a nil element stays zero and
 * every other one gets the bool at present_off set; otherwise a nil element
 * is the zero struct too (go-msgpack's nil rule). ret_* written on success
 * only; on error c->r.err is set and returned. */
int cairn__wire_read_struct_array(wire_ctx *c, const char *what, const wire_field *fields, size_t n,
                                  size_t elem, uint32_t max, size_t present_off, void **ret_p,
                                  size_t *ret_n);
/* cairn__wire_write_struct_array writes count structs at p (elem bytes apart) as
 * an array, nil when p == NULL && count == 0; with present_off, elements
 * whose bool at present_off is false are written as nil. */
int cairn__wire_write_struct_array(cairn_mp_writer *w, const char *msg, const wire_field *fields,
                                   size_t n, const void *p, size_t elem, size_t count,
                                   size_t present_off, cairn_diag *diag);
/* Writes an array of spans as strings (or nil when p == NULL && n == 0). */
void cairn__wire_write_str_array(cairn_mp_writer *w, const cairn_span *p, size_t n);
/* Reads an array of strings into the arena. */
int cairn__wire_read_str_array(wire_ctx *c, const char *what, cairn_span **ret_p, size_t *ret_n);
/* Writes a string map of tags sorted by key; CAIRN_EINVAL on duplicates or
 * more than 65535 pairs. */
int cairn__wire_write_tag_map(cairn_mp_writer *w, const cairn_wire_tag *tags, size_t n,
                              const char *msg, cairn_diag *diag);
/* Reads a {str: str} map into the arena. */
int cairn__wire_read_tag_map(wire_ctx *c, const char *what, cairn_wire_tag **ret_p, size_t *ret_n);

#endif
