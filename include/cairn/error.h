/* cairn/error.h: error codes, their names and messages, and diagnostics.
 *
 * Every fallible cairn function returns an int: 0 on success or one of the
 * negative CAIRN_E* codes below. The list is an X-macro (as libuv's
 * UV_ERRNO_MAP) so that the enum, cairn_err_name() and cairn_strerror() can
 * never disagree. errno values are mapped with cairn_err_from_errno(), never
 * returned raw.
 *
 * Decoders and config parsers additionally fill an optional cairn_diag with a
 * sentence that names the field at fault ("alive: meta is 600 bytes, limit
 * 512"). The first error sticks: later cairn_diag_set() calls are ignored
 * until cairn_diag_clear().
 */
#ifndef CAIRN_ERROR_H
#define CAIRN_ERROR_H

#include <stddef.h>

/* X(name, value, message) */
#define CAIRN_ERRNO_MAP(X)                                                                         \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ENOENT, -3, "no such entry")                                                                 \
    X(EEXIST, -4, "entry already exists")                                                          \
    X(ERANGE, -5, "value out of range")                                                            \
    X(EPROTO, -6, "malformed message")                                                             \
    X(EMSGSIZE, -7, "message too large")                                                           \
    X(ELIMIT, -8, "limit exceeded")                                                                \
    X(EAGAIN, -9, "try again")                                                                     \
    X(ETIMEDOUT, -10, "timed out")                                                                 \
    X(ECONNREFUSED, -11, "connection refused")                                                     \
    X(ECONNRESET, -12, "connection reset")                                                         \
    X(ECANCELED, -13, "operation canceled")                                                        \
    X(ESHUTDOWN, -14, "shut down")                                                                 \
    X(EIO, -15, "input/output error")                                                              \
    X(ENOTSUP, -16, "not supported")                                                               \
    X(EAUTH, -17, "authentication failed")                                                         \
    X(ECRC, -18, "checksum mismatch")                                                              \
    X(EADDRINUSE, -19, "address already in use")                                                   \
    X(EADDRNOTAVAIL, -20, "address not available")                                                 \
    X(EHOSTUNREACH, -21, "host unreachable")                                                       \
    X(ENOTCONN, -22, "not connected")                                                              \
    X(EOF, -23, "end of stream")                                                                   \
    X(EBUSY, -24, "resource busy")                                                                 \
    X(ENOSERVERS, -25, "no servers available")                                                     \
    X(ENOROUTE, -26, "no path to datacenter")                                                      \
    X(EUNAVAIL, -27, "datacenter has no server currently reachable")                               \
    X(EPARSE, -28, "parse error")                                                                  \
    X(EACCES, -29, "permission denied")                                                            \
    X(ENOSPC, -30, "no space left")                                                                \
    X(EVERSION, -31, "incompatible protocol version")                                              \
    X(EREMOTE, -32, "remote error")                                                                \
    X(ENOHOST, -33, "no such host")

/* The error codes: CAIRN_E<name> = the negative value of the X() list above. */
enum cairn_errno {
#define CAIRN_ERR_ENUM_(name, val, msg) CAIRN_##name = (val),
    CAIRN_ERRNO_MAP(CAIRN_ERR_ENUM_)
#undef CAIRN_ERR_ENUM_
};

/* cairn_strerror returns a static message for err ("unknown error" for codes
 * outside the list, "success" for 0). Thread-safe. */
const char *cairn_strerror(int err);

/* cairn_err_name returns the static name of err without the CAIRN_ prefix
 * ("EINVAL"), "OK" for 0 and "UNKNOWN" otherwise. Thread-safe. */
const char *cairn_err_name(int err);

/* cairn_err_from_errno maps a positive (or negative) errno value to the
 * closest CAIRN_E* code; unknown values map to CAIRN_EIO. */
int cairn_err_from_errno(int errnum);

/* A diagnostic: where and why something was rejected. Callers embed it;
 * `msg` is always NUL-terminated, empty when nothing was recorded. */
#define CAIRN_DIAG_MAX 256
typedef struct cairn_diag {
    /* The first error's sentence, truncated to fit. */
    char msg[CAIRN_DIAG_MAX];
    /* The error code recorded with it (0 when none). */
    int err;
} cairn_diag;

/* cairn_diag_set records err and a printf-style sentence in diag unless diag
 * is NULL or already holds an error. Returns err, so a decoder can write
 * `return cairn_diag_set(d, CAIRN_EPROTO, "ack: SeqNo is not an integer");`. */
int cairn_diag_set(cairn_diag *diag, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cairn_diag_clear empties diag (NULL is accepted). */
void cairn_diag_clear(cairn_diag *diag);

#endif
