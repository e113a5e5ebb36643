/* serfrpc/ipc.h: the agent RPC ("IPC") messages over wire's msgpack layer,
 * module-internal.
 *
 * Wire (spec serf-wire §5), a continuous sequence of msgpack objects in the
 * IPC dialect (CAIRN_MP_IPC: strings fixstr/str8/str16/str32, []byte as
 * bin, struct maps with sorted keys, minimal integers):
 *
 *   request  = {Command str, Seq uint}            82 a7"Command" .. a3"Seq" ..
 *              [body]                             only for commands with one
 *   response = {Error str, Seq uint}              82 a5"Error" .. a3"Seq" ..
 *              [body]                             only for commands with one
 *
 *   Member   = {Addr bin(4|16), DelegateCur, DelegateMax, DelegateMin uint,
 *               Name str, Port uint, ProtocolCur, ProtocolMax, ProtocolMin
 *               uint, Status str, Tags {str: str}}
 *   members  = {Members [Member...]}
 *   join     = {Num int}
 *   coord    = {Coord {Adjustment f64, Error f64, Height f64, Vec [f64]|nil},
 *               Ok bool}
 *   stats    = {section str: {key str: value str}}
 *   record   = {Event "member-*", Members [Member...]}
 *            | {Coalesce bool, Event "user", LTime uint, Name str, Payload bin}
 *            | {Event "query", ID uint, LTime uint, Name str, Payload bin}
 *
 * The reader is wire's bounded cursor (cairn_mp_reader) wrapped so that the
 * first failure also fills a cairn_diag naming the message and the field,
 * and so that every count and length is compared with a serfrpc cap before
 * the caller allocates anything.
 */
#ifndef CAIRN_SERFRPC_IPC_H
#define CAIRN_SERFRPC_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"
#include "wire/mp.h"

/* cairn__ipc_object_len: when p[0..n) starts with one complete msgpack object of
 * at most `max` bytes, 0 and *ret_len = its length. CAIRN_EAGAIN when more
 * bytes are needed (and fewer than max have arrived), CAIRN_EMSGSIZE when
 * the object is (or, by the sizes its headers declare, must be) larger than
 * max (see cairn__ipc_min_len), CAIRN_EPROTO / CAIRN_ELIMIT
 * for malformed or too deeply nested input. */
int cairn__ipc_object_len(const uint8_t *p, size_t n, size_t max, size_t *ret_len);

/* cairn__ipc_min_len: a lower bound of the size of the msgpack object that
 * starts at p, from the bytes that have arrived (n may be short of it):
 * the bytes read so far, every declared str/bin/ext body in full, and one
 * byte per declared element not yet seen. For a complete object it is the
 * object's length. cairn__ipc_object_len compares it with `max` to reject an
 * object whose headers already declare more. */
uint64_t cairn__ipc_min_len(const uint8_t *p, size_t n);

/* A read cursor over one object with a diagnostic. */
typedef struct ipc_cur {
    /* wire's cursor. */
    cairn_mp_reader r;
    /* First error (0 while none); every read is a no-op afterwards. */
    int err;
    /* Optional diagnostic filled with the first error. */
    cairn_diag *diag;
    /* Static name of the message being decoded, for diagnostics. */
    const char *what;
} ipc_cur;

void cairn__ipc_cur_init(ipc_cur *c, const uint8_t *p, size_t n, const char *what,
                         cairn_diag *diag);
/* cairn__ipc_fail records err with a sentence (first error wins); returns err. */
int cairn__ipc_fail(ipc_cur *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a map header (nil = empty) of at most max entries. */
bool cairn__ipc_read_map(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n);
/* Reads an array header (nil = empty) of at most max elements. */
bool cairn__ipc_read_array(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n);
/* Reads a Go string (nil = empty) of at most max bytes, pointing into the
 * input (not NUL-terminated). */
bool cairn__ipc_read_str(ipc_cur *c, const char *field, size_t max, const uint8_t **ret_p,
                         size_t *ret_len);
/* Reads a Go []byte (bin, str, or an array of small ints copied into
 * scratch) of at most max bytes. */
bool cairn__ipc_read_bytes(ipc_cur *c, const char *field, size_t max, uint8_t *scratch,
                           const uint8_t **ret_p, size_t *ret_len);
/* Reads a non-negative integer (any width; nil = 0) not above max. */
bool cairn__ipc_read_uint(ipc_cur *c, const char *field, uint64_t max, uint64_t *ret_v);
/* Reads a float64, float32 or integer (nil = 0). */
bool cairn__ipc_read_float(ipc_cur *c, const char *field, double *ret_v);
/* Reads a bool (also 0/1; nil = false). */
bool cairn__ipc_read_bool(ipc_cur *c, const char *field, bool *ret_v);
/* Reads a nil if one is next; true when it did. */
bool cairn__ipc_read_nil(ipc_cur *c);
/* Skips one value of any type. */
bool cairn__ipc_skip(ipc_cur *c);
/* Reads a map key (a short string). */
bool cairn__ipc_read_key(ipc_cur *c, cairn_span *ret_key);

#endif
