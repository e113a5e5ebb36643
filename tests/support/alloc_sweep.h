/* The n-th-allocation failure sweep shared by the unit tests. */
#ifndef CAIRN_TEST_ALLOC_SWEEP_H
#define CAIRN_TEST_ALLOC_SWEEP_H

#include <stddef.h>
#include <stdint.h>

/* One attempt of the operation under test. It must release everything it
 * allocated before returning (releasing never allocates), and return 0 or
 * the operation's error code. It may check its results when it returns 0. */
typedef int (*alloc_attempt_fn)(void *ctx);

/* alloc_sweep runs attempt(ctx) with the n-th allocation failing for n = 0,
 * 1, ... (the test allocator must be installed) until a run in which the
 * injected failure no longer happens. Every run must return CAIRN_ENOMEM if
 * the failure happened and 0 otherwise, and leave exactly `base` blocks
 * live. Returns the number of runs that saw the failure, or -1 (after a
 * line on stderr) when a run broke a rule or max_runs runs all failed. */
long alloc_sweep(alloc_attempt_fn attempt, void *ctx, long base, long max_runs);

/* lzw_bomb, for the LZW and framing tests, writes a clear-free LZW bomb (LSB,
 * literal width 8) to out: it fills the table with ever longer strings of
 * 'a', repeats the longest code `repeats` times and ends with EOF. Returns
 * the bytes written (at most cap). */
size_t lzw_bomb(uint8_t *out, size_t cap, size_t repeats);

#endif
