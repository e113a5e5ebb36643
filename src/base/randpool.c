/* Kernel randomness a page at a time, fork-safe (base/randpool.h). */
#include "base/randpool.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "cairn/error.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

#define PAGE 4096

struct cairn__randpool {
    uint32_t left; /* bytes not handed out yet; 0 in a forked child */
    uint8_t bytes[PAGE - sizeof(uint32_t)];
};
_Static_assert(sizeof(struct cairn__randpool) == PAGE, "one page");

cairn__randpool *cairn__randpool_new(void)
{
    void *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (madvise(m, PAGE, MADV_WIPEONFORK) != 0) {
        munmap(m, PAGE);
        return NULL;
    }
    return m; /* zeroed: nothing left */
}

void cairn__randpool_free(cairn__randpool *p)
{
    if (p != NULL)
        munmap(p, PAGE);
}

static int refill(cairn__randpool *p)
{
    size_t n = 0;
    while (n < sizeof p->bytes) {
        ssize_t got = getrandom(p->bytes + n, sizeof p->bytes - n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return CAIRN_EIO;
        n += (size_t)got;
    }
    p->left = sizeof p->bytes;
    return 0;
}

int cairn__randpool_take(cairn__randpool *p, uint8_t *dst, size_t n)
{
    if (n > CAIRN__RANDPOOL_TAKE_MAX)
        return CAIRN_EINVAL;
    if (p->left < n) {
        int r = refill(p);
        if (r < 0)
            return r;
    }
    p->left -= (uint32_t)n;
    memcpy(dst, p->bytes + p->left, n);
    memset(p->bytes + p->left, 0, n);
    return 0;
}
