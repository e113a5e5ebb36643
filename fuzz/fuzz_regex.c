/* libFuzzer target: regular expressions from peers and RPC clients
 * (src/base/regex.h: PCRE2 under a memory budget and a step limit).
 *
 *   input = [flags][n lo][n hi][n bytes of expression][subject...]
 *   flags & 1: CAIRN__RE_WHOLE (Serf RPC's "^" + expr + "$")
 *
 * Invariants: compiling gives 0 or CAIRN_EINVAL (never ENOMEM: the real
 * allocator does not fail here), matching gives 0, 1 or CAIRN_ELIMIT, and
 * the live bytes cairn allocates while compiling and matching never pass
 * the budget plus the handle's bookkeeping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/regex.h"
#include "cairn/alloc.h"
#include "cairn/error.h"

#define SLACK 4096 /* the handle and the block headers outside the budget */

static size_t live, peak;

static void *count_malloc(size_t n, void *ud)
{
    (void)ud;
    size_t *p = malloc(n + 16);
    if (p == NULL)
        return NULL;
    *p = n;
    live += n;
    if (live > peak)
        peak = live;
    return (char *)p + 16;
}

static void count_free(void *ptr, void *ud)
{
    (void)ud;
    if (ptr == NULL)
        return;
    size_t *p = (size_t *)((char *)ptr - 16);
    live -= *p;
    free(p);
}

static void *count_realloc(void *ptr, size_t n, void *ud)
{
    void *q = count_malloc(n, ud);
    if (q && ptr) {
        size_t old = *(size_t *)((char *)ptr - 16);
        memcpy(q, ptr, old < n ? old : n);
        count_free(ptr, ud);
    }
    return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int flags = data[0] & 1 ? CAIRN__RE_WHOLE : 0;
    size_t n = (size_t)data[1] | (size_t)data[2] << 8;
    if (n > size - 3)
        n = size - 3;
    const char *expr = (const char *)data + 3;
    const char *subject = expr + n;
    size_t slen = size - 3 - n;

    static const cairn_allocator counting = {count_malloc, count_realloc, count_free, NULL};
    live = peak = 0;
    cairn_set_allocator(&counting);
    cairn__re *re;
    int rc = cairn__re_compile(expr, n, flags, &re);
    if (rc != 0 && (rc != CAIRN_EINVAL || re != NULL))
        abort();
    if (rc == 0) {
        int m = cairn__re_match(re, subject, slen);
        if (m != 0 && m != 1 && m != CAIRN_ELIMIT)
            abort();
        /* Matching again gives the same answer (no state kept between
         * matches but the frames vector). */
        if (cairn__re_match(re, subject, slen) != m)
            abort();
        cairn__re_free(re);
    }
    cairn_set_allocator(NULL);
    if (live != 0 || peak > CAIRN__RE_MEM_MAX + SLACK)
        abort();
    return 0;
}
