/* wire/mp.h: the msgpack layer under every cairn message codec.
 *
 * Writing goes through msgpack-c's packer (msgpack_packer with a callback
 * that appends to a cairn_buf); this header only adds the two Go dialects
 * (spec serf-wire §1):
 *
 *   CAIRN_MP_GOSSIP  memberlist/serf gossip, Meta, ack payload: go-msgpack's
 *                    default handle, the *old* spec. Strings and []byte are
 *                    both "raw": fixstr a0+n / str16 da / str32 db. Never
 *                    str8 (d9), never bin.
 *   CAIRN_MP_IPC     agent RPC: strings fixstr/str8/str16/str32, []byte as
 *                    bin8/16/32 (c4/c5/c6), even for 0..31 bytes.
 *
 * Both: minimal integer forms whatever the Go type, floats always cb, nil c0.
 *
 * Reading is a bounds-checked zero-copy cursor (cairn_mp_reader): strings
 * and byte slices come back as spans pointing into the input, so decoded
 * values live exactly as long as the input buffer. The first error sticks in
 * the reader (MPack style); later reads return it again and do nothing.
 * Decoding rules follow go-msgpack's decoder (§1.2): any int width into any
 * integer target if the value fits, nil accepted everywhere as the zero
 * value, bool accepts 0/1, []byte accepts str, bin and arrays of small ints,
 * strings reject bin. Nesting is capped by CAIRN_MP_MAX_DEPTH.
 */
#ifndef CAIRN_WIRE_MP_H
#define CAIRN_WIRE_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack/pack.h>

#include "cairn/buf.h"
#include "cairn/error.h"

/* Deepest container nesting the reader follows when skipping unknown
 * values. Real messages nest at most 5 deep (push-pull state → Events →
 * slot → Events → item); 32 leaves room for extensions and keeps the skip
 * recursion-free state tiny. */
#define CAIRN_MP_MAX_DEPTH 32

/* A view of bytes owned by someone else (zero-copy). Encoders take spans to
 * caller memory. Decoders return spans into the input buffer (or into the
 * decode arena, see wire_msg.h). For []byte fields `p == NULL && len == 0`
 * is Go's nil slice (encoded c0); a non-NULL `p` with len 0 is an empty
 * non-nil slice (encoded a0, or c4 00 in IPC). Strings are not
 * NUL-terminated. */
typedef struct cairn_span {
    /* First byte; NULL only for the nil value. */
    const uint8_t *p;
    /* Number of bytes. */
    size_t len;
} cairn_span;

/* CAIRN_SPAN_LIT("abc"): a span over a string literal (without the NUL). */
#define CAIRN_SPAN_LIT(s) ((cairn_span){(const uint8_t *)(s), sizeof(s) - 1})

/* cairn__span_str: a span over a NUL-terminated string (NULL gives nil). */
cairn_span cairn__span_str(const char *s);

/* cairn__span_eq: true when both spans hold the same bytes (nil == empty). */
bool cairn__span_eq(cairn_span a, cairn_span b);

/* ------------------------------------------------------------------ writer */

typedef enum cairn_mp_dialect {
    /* go-msgpack default handle: old spec, raw strings/bytes. */
    CAIRN_MP_GOSSIP = 0,
    /* go-msgpack IPC handle: str8 strings, bin []byte. */
    CAIRN_MP_IPC = 1,
} cairn_mp_dialect;

/* A msgpack writer appending to a caller's cairn_buf. Embed it; init with
 * cairn__mp_writer_init. The first append failure (CAIRN_ELIMIT when the
 * buffer's limit is reached, CAIRN_ENOMEM) sticks in `err` and every later
 * write is a no-op, so an encoder checks once at the end. */
typedef struct cairn_mp_writer {
    /* msgpack-c's packer; its callback appends to `out`. */
    msgpack_packer pk;
    /* Destination; not owned. */
    cairn_buf *out;
    /* out->len when the writer was initialised (cairn__mp_writer_finish
     * truncates back to it on error). */
    size_t start;
    /* Dialect for strings and byte slices. */
    cairn_mp_dialect dialect;
    /* First error (0 while fine). */
    int err;
} cairn_mp_writer;

/* cairn__mp_writer_init binds w to out (appending after out->len). */
void cairn__mp_writer_init(cairn_mp_writer *w, cairn_buf *out, cairn_mp_dialect dialect);
/* cairn__mp_writer_finish returns w->err; on error it truncates out back to
 * where the writer started, so a failed encode leaves out unchanged. */
int cairn__mp_writer_finish(cairn_mp_writer *w);

/* Writers for each value kind. All are no-ops once w->err is set. */
void cairn__mp_write_nil(cairn_mp_writer *w);
void cairn__mp_write_bool(cairn_mp_writer *w, bool v);
/* Minimal form: fixint, cc, cd, ce, cf. */
void cairn__mp_write_uint(cairn_mp_writer *w, uint64_t v);
/* Minimal form: non-negative as unsigned, else negative fixint, d0..d3. */
void cairn__mp_write_int(cairn_mp_writer *w, int64_t v);
/* Always cb + 8 bytes big endian. */
void cairn__mp_write_double(cairn_mp_writer *w, double v);
void cairn__mp_write_map(cairn_mp_writer *w, uint32_t n);
void cairn__mp_write_array(cairn_mp_writer *w, uint32_t n);
/* A Go string: raw (gossip) or str (IPC). A nil span writes an empty
 * string (Go strings cannot be nil). */
void cairn__mp_write_str(cairn_mp_writer *w, cairn_span s);
/* A NUL-terminated key/string: cairn__mp_write_str(w, cairn__span_str(s)). */
void cairn__mp_write_cstr(cairn_mp_writer *w, const char *s);
/* A Go []byte: nil span → c0; else raw (gossip) or bin (IPC). */
void cairn__mp_write_bytes(cairn_mp_writer *w, cairn_span b);
/* Already-encoded msgpack (or raw tail) bytes, copied as they are. */
void cairn__mp_write_raw(cairn_mp_writer *w, const void *p, size_t n);

/* ------------------------------------------------------------------ reader */

/* Value kinds as the reader sees them (families, not exact formats). */
typedef enum cairn_mp_type {
    CAIRN_MP_T_NONE = 0, /* end of input or error */
    CAIRN_MP_T_NIL,
    CAIRN_MP_T_BOOL,
    CAIRN_MP_T_UINT,  /* positive fixint, cc..cf */
    CAIRN_MP_T_INT,   /* negative fixint, d0..d3 */
    CAIRN_MP_T_FLOAT, /* ca, cb */
    CAIRN_MP_T_STR,   /* fixstr, d9, da, db */
    CAIRN_MP_T_BIN,   /* c4, c5, c6 */
    CAIRN_MP_T_ARRAY,
    CAIRN_MP_T_MAP,
    CAIRN_MP_T_EXT, /* fixext, ext8..32: only ever skipped */
} cairn_mp_type;

/* A cursor over untrusted bytes. Embed it; init with cairn__mp_reader_init. */
typedef struct cairn_mp_reader {
    /* Input; not owned, must outlive every span read from it. */
    const uint8_t *p;
    /* Input length. */
    size_t len;
    /* Offset of the next byte to read. */
    size_t pos;
    /* First error (0 while fine): CAIRN_EPROTO malformed/wrong type,
     * CAIRN_ERANGE overflow, CAIRN_EAGAIN truncated input, CAIRN_ELIMIT
     * nesting too deep. */
    int err;
} cairn_mp_reader;

/* cairn__mp_reader_init points r at len bytes at p (borrowed: they must
 * outlive every span read from r); r->err starts 0. */
void cairn__mp_reader_init(cairn_mp_reader *r, const void *p, size_t len);
/* Bytes left to read. */
static inline size_t cairn_mp_remaining(const cairn_mp_reader *r)
{
    return r->len - r->pos;
}

/* cairn__mp_peek returns the kind of the next value without consuming it
 * (CAIRN_MP_T_NONE at end of input, on an unused byte c1, or after an
 * error). */
cairn_mp_type cairn__mp_peek(const cairn_mp_reader *r);

/* Each read returns 0 or the sticky error; out-values are written only on
 * success. Nil (c0) reads as the zero value everywhere: 0, false, 0.0, an
 * empty map/array (n = 0), a nil span. */

/* cairn__mp_read_map / _array: the element count of the next container.
 * The count is checked against the bytes left (each element takes at least
 * one byte, maps two per pair) before it is returned, so callers may size
 * allocations from it. */
int cairn__mp_read_map(cairn_mp_reader *r, uint32_t *ret_n);
int cairn__mp_read_array(cairn_mp_reader *r, uint32_t *ret_n);
/* cairn__mp_read_uint: any integer form whose value is in [0, max]
 * (CAIRN_ERANGE otherwise, including negative values). */
int cairn__mp_read_uint(cairn_mp_reader *r, uint64_t max, uint64_t *ret_v);
/* cairn__mp_read_int: any integer form whose value is in [min, max]. */
int cairn__mp_read_int(cairn_mp_reader *r, int64_t min, int64_t max, int64_t *ret_v);
/* cairn__mp_read_bool: c2/c3, nil (false), or the single bytes 00/01 (go-msgpack
 * rejects wider integer forms such as cc 01: CAIRN_EPROTO). */
int cairn__mp_read_bool(cairn_mp_reader *r, bool *ret_v);
/* cairn__mp_read_double: float32, float64 or any integer. */
int cairn__mp_read_double(cairn_mp_reader *r, double *ret_v);
/* cairn__mp_read_str: a Go string (fixstr/str8/16/32); bin is rejected as Go
 * does. The span points into the input; nil gives a nil span. */
int cairn__mp_read_str(cairn_mp_reader *r, cairn_span *ret_s);
/* cairn__mp_read_bytes: a Go []byte. str and bin give a span into the
 * input; nil gives a nil span. An array of small ints (0..255) is copied
 * into scratch (capacity scratch_cap; CAIRN_ELIMIT if longer) and the span
 * points there; with scratch NULL arrays are rejected (CAIRN_ENOTSUP). */
int cairn__mp_read_bytes(cairn_mp_reader *r, uint8_t *scratch, size_t scratch_cap,
                         cairn_span *ret_b);
/* cairn__mp_read_bytes_len: the length the next []byte value will have
 * (str/bin length or array count; 0 for nil) without consuming it. Lets a
 * decoder size scratch storage before cairn__mp_read_bytes. */
int cairn__mp_read_bytes_len(const cairn_mp_reader *r, size_t *ret_len);
/* cairn__mp_skip: consumes one complete value of any kind, containers
 * included, iteratively, at most CAIRN_MP_MAX_DEPTH deep. */
int cairn__mp_skip(cairn_mp_reader *r);
/* cairn__mp_key_is: true when key equals the NUL-terminated name exactly
 * (case-sensitive). */
bool cairn__mp_key_is(cairn_span key, const char *name);
/* cairn__mp_key_n_is: the same for a name of known length name_len (no NUL
 * needed): lengths first, then memcmp. */
static inline bool cairn__mp_key_n_is(cairn_span key, const char *name, size_t name_len)
{
    return key.len == name_len && (name_len == 0 || memcmp(key.p, name, name_len) == 0);
}

/* cairn__mp_object_len: the length in bytes of the complete msgpack value at
 * the start of p[0..len): 0 and *ret_len on success, CAIRN_EAGAIN when the
 * value is not complete yet (stream readers read more and retry),
 * CAIRN_EPROTO when malformed, CAIRN_ELIMIT when nested too deep. */
int cairn__mp_object_len(const void *p, size_t len, size_t *ret_len);

/* cairn__mp_err_text: "truncated input" / "wrong type" / ... for the codes a
 * reader produces; used to build diagnostics. */
const char *cairn__mp_err_text(int err);

#endif
