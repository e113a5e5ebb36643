/* Test helpers shared by the wire unit tests (test_lzw, test_keyring,
 * test_wire_frame, test_wire_msg): the allocation-failure sweep that each of
 * them used to spell out as its own loop, and the LZW bomb generator that
 * test_lzw and test_wire_frame both need. They report through return values
 * and stderr, not cmocka, so that any test or bench may link them. */
#include "alloc_sweep.h"

#include <stdio.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "base/alloc_test.h"

long alloc_sweep(alloc_attempt_fn attempt, void *ctx, long base, long max_runs)
{
    long failures = 0;
    for (long n = 0; n < max_runs; n++) {
        cairn__test_alloc_fail_after(n);
        int r = attempt(ctx);
        int failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        long live = cairn__test_alloc_live();
        if (live != base) {
            fprintf(stderr, "alloc_sweep: run %ld left %ld blocks live, want %ld\n", n, live, base);
            return -1;
        }
        if (r != (failed ? CAIRN_ENOMEM : 0)) {
            fprintf(stderr, "alloc_sweep: run %ld returned %s (allocation %s)\n", n,
                    cairn_err_name(r), failed ? "failed" : "did not fail");
            return -1;
        }
        if (!failed)
            return failures;
        failures++;
    }
    fprintf(stderr, "alloc_sweep: an allocation still failed after %ld runs\n", max_runs);
    return -1;
}

/* Appends `width` bits of code to the LSB-first bit stream. */
typedef struct bitw {
    uint8_t *out;
    size_t cap, o;
    uint32_t bits;
    unsigned nbits;
} bitw;

static void put_code(bitw *w, unsigned code, unsigned width)
{
    w->bits |= (uint32_t)code << w->nbits;
    w->nbits += width;
    while (w->nbits >= 8 && w->o < w->cap) {
        w->out[w->o++] = (uint8_t)w->bits;
        w->bits >>= 8;
        w->nbits -= 8;
    }
}

size_t lzw_bomb(uint8_t *out, size_t cap, size_t repeats)
{
    bitw w = {out, cap, 0, 0, 0};
    unsigned width = 9;
    put_code(&w, 256, width); /* clear */
    put_code(&w, 'a', width);
    /* Each code equal to the next free code extends "a..a" by one. */
    for (unsigned hi = 258; hi < 4096;) {
        put_code(&w, hi, width);
        hi++;
        if (hi < 4096 && hi == (1u << width))
            width++;
    }
    for (size_t i = 0; i < repeats; i++)
        put_code(&w, 4095, width);
    put_code(&w, 257, width); /* EOF */
    if (w.nbits > 0 && w.o < cap)
        out[w.o++] = (uint8_t)w.bits;
    return w.o;
}
