/* cairn/alloc.h: replaceable allocation hooks.
 *
 * Every allocation cairn makes goes through cairn_malloc/cairn_calloc/
 * cairn_realloc/cairn_free, which call the installed allocator. The library
 * never aborts on allocation failure: each caller returns CAIRN_ENOMEM.
 *
 * The allocator is process-wide (like libuv's uv_replace_allocator): it is
 * configuration set once before any cairn object exists, not protocol state.
 */
#ifndef CAIRN_ALLOC_H
#define CAIRN_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* An allocator for cairn_set_allocator: the three hooks are required. */
typedef struct cairn_allocator {
    /* Like malloc(3); must return NULL on failure. */
    void *(*malloc_fn)(size_t size, void *userdata);
    /* Like realloc(3). */
    void *(*realloc_fn)(void *ptr, size_t size, void *userdata);
    /* Like free(3); accepts NULL. */
    void (*free_fn)(void *ptr, void *userdata);
    /* Passed to each hook. */
    void *userdata;
} cairn_allocator;

/* cairn_set_allocator installs a (NULL restores libc's). Call it before any
 * cairn object is created and never while one is alive: memory must be freed
 * by the allocator that made it. Returns 0, or CAIRN_EINVAL when a hook is
 * missing. Not thread-safe with respect to concurrent allocation. */
int cairn_set_allocator(const cairn_allocator *a);

/* Allocation entry points used by all of cairn. cairn_calloc checks
 * nmemb * size for overflow; cairn_reallocarray likewise. */
void *cairn_malloc(size_t size);
void *cairn_calloc(size_t nmemb, size_t size);
void *cairn_realloc(void *ptr, size_t size);
void *cairn_reallocarray(void *ptr, size_t nmemb, size_t size);
void cairn_free(void *ptr);
/* cairn_strdup/cairn_strndup: NULL on allocation failure. */
char *cairn_strdup(const char *s);
char *cairn_strndup(const char *s, size_t n);
void *cairn_memdup(const void *p, size_t n);

#endif
