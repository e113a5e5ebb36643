/* serfrpc/ipc.h: the agent RPC ("IPC") msgpack dialect, module-internal.
 *
 * Wire (spec serf-wire §5), a continuous sequence of msgpack objects in the
 * IPC dialect (strings fixstr/str8/str16/str32, []byte as bin, struct maps
 * with sorted keys, minimal integers):
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
 * The reader is a bounded cursor over one complete object: every read checks
 * the remaining length, the first error sticks (and names the field through
 * a cairn_diag), and every count is compared with a named cap and with the
 * bytes left before anything is allocated. ipc_object_len finds where one
 * complete object ends in a stream buffer without decoding it, so the client
 * knows when a header or a body has fully arrived.
 */
#ifndef CAIRN_SERFRPC_IPC_H
#define CAIRN_SERFRPC_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/error.h"

/* Deepest nesting ipc_object_len accepts (a stats map is 2 levels, a
 * members reply 4); deeper input is hostile. */
#define IPC_MAX_DEPTH 32

/* ipc_object_len: when p[0..n) starts with one complete msgpack object of
 * at most `max` bytes, 0 and *ret_len = its length. CAIRN_EAGAIN when more
 * bytes are needed (and fewer than max have arrived), CAIRN_EMSGSIZE when
 * the object is larger than max, CAIRN_EPROTO for bytes msgpack never uses
 * (0xc1) or nesting deeper than IPC_MAX_DEPTH. */
int ipc_object_len(const uint8_t *p, size_t n, size_t max, size_t *ret_len);

/* A read cursor over one object. */
typedef struct ipc_cur {
    /* Next byte to read. */
    const uint8_t *p;
    /* One past the last byte. */
    const uint8_t *end;
    /* First error (0 while none); every read is a no-op afterwards. */
    int err;
    /* Optional diagnostic filled with the first error. */
    cairn_diag *diag;
    /* Static name of the message being decoded, for diagnostics. */
    const char *what;
} ipc_cur;

void ipc_cur_init(ipc_cur *c, const uint8_t *p, size_t n, const char *what, cairn_diag *diag);
/* ipc_fail records err with a sentence (first error wins); returns err. */
int ipc_fail(ipc_cur *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads a map header; nil counts as an empty map. Fails when n exceeds
 * max or the bytes left (each entry needs at least 2). */
bool ipc_read_map(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n);
/* Reads an array header; nil counts as empty. Same caps as ipc_read_map. */
bool ipc_read_array(ipc_cur *c, const char *field, uint32_t max, uint32_t *ret_n);
/* Reads a str or bin (or nil = empty) of at most max bytes; *ret_p points
 * into the input (not NUL-terminated). */
bool ipc_read_raw(ipc_cur *c, const char *field, size_t max, const uint8_t **ret_p,
                  size_t *ret_len);
/* Reads a non-negative integer (any width; nil = 0) not above max. */
bool ipc_read_uint(ipc_cur *c, const char *field, uint64_t max, uint64_t *ret_v);
/* Reads a float64, float32 or integer (nil = 0). */
bool ipc_read_float(ipc_cur *c, const char *field, double *ret_v);
/* Reads a bool (also 0/1; nil = false). */
bool ipc_read_bool(ipc_cur *c, const char *field, bool *ret_v);
/* Reads a nil if one is next; true when it did. */
bool ipc_read_nil(ipc_cur *c);
/* Skips one object of any type. */
bool ipc_skip(ipc_cur *c);
/* ipc_key_is: the raw key (p, n) equals the NUL-terminated name. */
bool ipc_key_is(const uint8_t *p, size_t n, const char *name);

/* Encoding (IPC dialect) into a bounded buffer. Each returns 0, CAIRN_ELIMIT
 * or CAIRN_ENOMEM; a failed call may leave a partial object behind, so
 * callers reset the buffer on error. */
int ipc_put_map(cairn_buf *b, uint32_t n);
int ipc_put_array(cairn_buf *b, uint32_t n);
int ipc_put_str(cairn_buf *b, const char *s, size_t n);
int ipc_put_cstr(cairn_buf *b, const char *s);
int ipc_put_bin(cairn_buf *b, const uint8_t *p, size_t n);
int ipc_put_uint(cairn_buf *b, uint64_t v);
int ipc_put_bool(cairn_buf *b, bool v);
int ipc_put_nil(cairn_buf *b);

#endif
