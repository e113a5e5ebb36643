/* base/randpool.h (internal): secret random bytes from the kernel
 * (getrandom, the source Go's crypto/rand reads), drawn a page at a time,
 * for callers that need many small values and cannot pay a system call or
 * OpenSSL's RAND_bytes (2.7 us here) for each: AES-GCM nonces
 * (src/wire/keyring.c).
 *
 * The page is MADV_WIPEONFORK: a forked child finds it zeroed, with nothing
 * left, and reads its own bytes, so parent and child never hand out the
 * same buffered value (for GCM nonces under one key that would be fatal).
 * Bytes handed out are wiped from the page. Where the kernel refuses
 * WIPEONFORK (before Linux 4.14) cairn__randpool_new returns NULL and the
 * caller draws elsewhere.
 *
 * Threading: a pool is used by one thread at a time.
 */
#ifndef CAIRN_RANDPOOL_H
#define CAIRN_RANDPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Most bytes one cairn__randpool_take gives. */
#define CAIRN__RANDPOOL_TAKE_MAX 64

typedef struct cairn__randpool cairn__randpool;

/* cairn__randpool_new maps a pool (empty until the first take); NULL when
 * the kernel refuses MADV_WIPEONFORK or the mapping fails. */
cairn__randpool *cairn__randpool_new(void);

/* cairn__randpool_take writes n (<= CAIRN__RANDPOOL_TAKE_MAX) fresh random
 * bytes to dst, refilling the page from getrandom when it runs short: 0,
 * CAIRN_EINVAL for a larger n, CAIRN_EIO when getrandom fails. */
int cairn__randpool_take(cairn__randpool *p, uint8_t *dst, size_t n);

/* cairn__randpool_free unmaps p (NULL is fine). */
void cairn__randpool_free(cairn__randpool *p);

#endif
