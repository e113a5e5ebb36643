/* base/dl.h (internal): a shared library loaded at run time, with a table
 * of the functions its caller uses.
 *
 * libcairn loads libcrypto (src/wire/keyring.c) and libmicrohttpd
 * (src/agent/http.c) only when a key or the HTTP API is used, so that a
 * process that needs neither does not map them (docs/performance.md,
 * "Whole agents"). Each caller declares a struct of function pointers typed
 * from the library's own header, and a table naming each field:
 *
 *     struct api { void *dl; __typeof__(&f) f; ... };
 *     static const cairn__dl_sym syms[] = { CAIRN__DL_SYM(struct api, f, f), ... };
 *
 * The library is opened RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE (GnuTLS and
 * OpenSSL register exit handlers, so they must never be unmapped).
 *
 * Threading: any thread; the table is the caller's, no global state.
 */
#ifndef CAIRN_DL_H
#define CAIRN_DL_H

#include <stddef.h>

/* One function of the table: its symbol name and the field it fills. */
typedef struct cairn__dl_sym {
    const char *name;
    size_t off;
} cairn__dl_sym;

/* The entry for `field` of struct type `api`, filled from symbol `sym`. */
#define CAIRN__DL_SYM(api, field, sym)                                                             \
    {                                                                                              \
#sym, offsetof(api, field)                                                                 \
    }

/* cairn__dl_load opens soname and fills each field of api (a struct of
 * function pointers) named by syms[0..n). 0 with *ret_dl the handle, or
 * CAIRN_ENOTSUP: then *ret_missing is the library's dlerror() text when it
 * cannot be opened, or the name of the first missing symbol (the library
 * is closed again and api is left partly filled). */
int cairn__dl_load(const char *soname, const cairn__dl_sym *syms, size_t n, void *api,
                   void **ret_dl, const char **ret_missing);

#endif
