/* Error codes and diagnostics.
 *
 * The table lives in include/cairn/error.h as an X-macro; this file only
 * expands it into the name and message lookups and maps errno values onto
 * it, so that no libc errno ever leaks through the public API.
 */
#include "cairn/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cairn_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define CAIRN_ERR_MSG_(name, val, msg)                                                             \
    case val:                                                                                      \
        return msg;
        CAIRN_ERRNO_MAP(CAIRN_ERR_MSG_)
#undef CAIRN_ERR_MSG_
    default:
        return "unknown error";
    }
}

const char *cairn_err_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define CAIRN_ERR_NAME_(name, val, msg)                                                            \
    case val:                                                                                      \
        return #name;
        CAIRN_ERRNO_MAP(CAIRN_ERR_NAME_)
#undef CAIRN_ERR_NAME_
    default:
        return "UNKNOWN";
    }
}

int cairn_err_from_errno(int errnum)
{
    if (errnum < 0)
        errnum = -errnum;
    switch (errnum) {
    case 0:
        return 0;
    case EINVAL:
        return CAIRN_EINVAL;
    case ENOMEM:
    case ENOBUFS:
        return CAIRN_ENOMEM;
    case ENOENT:
        return CAIRN_ENOENT;
    case EEXIST:
        return CAIRN_EEXIST;
    case ERANGE:
    case EOVERFLOW:
        return CAIRN_ERANGE;
    case EPROTO:
    case EBADMSG:
        return CAIRN_EPROTO;
    case EMSGSIZE:
    case E2BIG:
        return CAIRN_EMSGSIZE;
    case EAGAIN:
        return CAIRN_EAGAIN;
    case ETIMEDOUT:
        return CAIRN_ETIMEDOUT;
    case ECONNREFUSED:
        return CAIRN_ECONNREFUSED;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return CAIRN_ECONNRESET;
    case ECANCELED:
        return CAIRN_ECANCELED;
    case ESHUTDOWN:
        return CAIRN_ESHUTDOWN;
    case ENOTSUP:
        return CAIRN_ENOTSUP;
    case EADDRINUSE:
        return CAIRN_EADDRINUSE;
    case EADDRNOTAVAIL:
        return CAIRN_EADDRNOTAVAIL;
    case EHOSTUNREACH:
    case ENETUNREACH:
        return CAIRN_EHOSTUNREACH;
    case ENOTCONN:
        return CAIRN_ENOTCONN;
    case EBUSY:
        return CAIRN_EBUSY;
    case EACCES:
    case EPERM:
        return CAIRN_EACCES;
    case ENOSPC:
        return CAIRN_ENOSPC;
    default:
        return CAIRN_EIO;
    }
}

int cairn_diag_set(cairn_diag *diag, int err, const char *fmt, ...)
{
    if (diag == NULL || diag->err != 0)
        return err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
    va_end(ap);
    diag->err = err;
    return err;
}

void cairn_diag_clear(cairn_diag *diag)
{
    if (diag == NULL)
        return;
    diag->msg[0] = '\0';
    diag->err = 0;
}
