/* Allocation hooks and the fault-injecting test allocator.
 *
 * The hooks are one process-wide table (see cairn/alloc.h for why this is
 * configuration rather than state). The test allocator keeps an atomic count
 * of live blocks and a countdown to the one allocation it should fail, so a
 * test can sweep n = 0, 1, 2 ... over an operation until it succeeds, checking
 * after each failed attempt that the live count returned to where it was.
 */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "base/alloc_test.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static const cairn_allocator libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};
static cairn_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

int cairn_set_allocator(const cairn_allocator *a)
{
    if (a == NULL) {
        current = libc_allocator;
        return 0;
    }
    if (a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL)
        return CAIRN_EINVAL;
    current = *a;
    return 0;
}

void *cairn_malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1, current.userdata);
}

void *cairn_calloc(size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = cairn_malloc(nmemb * size);
    if (p != NULL)
        memset(p, 0, nmemb * size);
    return p;
}

void *cairn_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return cairn_malloc(size);
    return current.realloc_fn(ptr, size ? size : 1, current.userdata);
}

void *cairn_reallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    return cairn_realloc(ptr, nmemb * size);
}

void cairn_free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(ptr, current.userdata);
}

void *cairn_memdup(const void *p, size_t n)
{
    void *q = cairn_malloc(n);
    if (q != NULL && n > 0)
        memcpy(q, p, n);
    return q;
}

char *cairn_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *q = cairn_malloc(len + 1);
    if (q == NULL)
        return NULL;
    memcpy(q, s, len);
    q[len] = '\0';
    return q;
}

char *cairn_strdup(const char *s)
{
    return cairn_strndup(s, strlen(s));
}

/* ---- test allocator ---- */

static atomic_long test_live;
static atomic_long test_countdown = -1;
static atomic_int test_failed;

static int test_should_fail(void)
{
    long left = atomic_load(&test_countdown);
    while (left >= 0) {
        if (atomic_compare_exchange_weak(&test_countdown, &left, left - 1)) {
            if (left == 0) {
                atomic_store(&test_failed, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

static void *test_malloc(size_t size, void *ud)
{
    (void)ud;
    if (test_should_fail())
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        atomic_fetch_add(&test_live, 1);
    return p;
}

static void *test_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    if (test_should_fail())
        return NULL;
    return realloc(ptr, size);
}

static void test_free(void *ptr, void *ud)
{
    (void)ud;
    atomic_fetch_sub(&test_live, 1);
    free(ptr);
}

void cairn__test_alloc_install(void)
{
    static const cairn_allocator test_allocator = {test_malloc, test_realloc, test_free, NULL};
    atomic_store(&test_live, 0);
    atomic_store(&test_countdown, -1);
    atomic_store(&test_failed, 0);
    cairn_set_allocator(&test_allocator);
}

void cairn__test_alloc_uninstall(void)
{
    cairn_set_allocator(NULL);
}

void cairn__test_alloc_fail_after(long n)
{
    atomic_store(&test_failed, 0);
    atomic_store(&test_countdown, n < 0 ? -1 : n);
}

long cairn__test_alloc_live(void)
{
    return atomic_load(&test_live);
}

int cairn__test_alloc_failed(void)
{
    return atomic_load(&test_failed);
}
