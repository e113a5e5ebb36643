/* libFuzzer target for src/wire/lzw.c: arbitrary bytes through the one-shot
 * and the streaming decoder (chunk sizes from the input) must agree and stay
 * within the limit; arbitrary bytes through the encoder must round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/lzw.h"

/* Small cap keeps each run fast; the 40 MiB cap is unit-tested. */
#define FUZZ_LIMIT ((size_t)4 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_buf a, b, c;
    cairn_buf_init(&a, FUZZ_LIMIT);
    cairn_buf_init(&b, FUZZ_LIMIT);
    cairn_buf_init(&c, (size_t)1 << 26);
    int r1 = cairn__lzw_decompress(data, size, FUZZ_LIMIT, &a, NULL);
    if (r1 == 0 && a.len > FUZZ_LIMIT)
        abort();
    if (r1 != 0 && a.len != 0)
        abort();
    /* streaming with chunk sizes 1..16 taken from the data itself */
    cairn_lzw_dec *d;
    if (cairn__lzw_dec_new(&d) == 0) {
        size_t off = 0;
        int r2 = 0;
        while (off < size && r2 == 0) {
            size_t k = 1 + (data[off] & 15);
            if (k > size - off)
                k = size - off;
            r2 = cairn__lzw_dec_feed(d, data + off, k, &b, NULL);
            off += k;
        }
        if (r2 == 0 && !cairn__lzw_dec_finished(d))
            r2 = -6;
        if ((r1 == 0) != (r2 == 0))
            abort();
        if (r1 == 0 && (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)))
            abort();
        cairn__lzw_dec_delete(d);
    }
    /* encoder round trip */
    if (cairn__lzw_compress(data, size, &c) == 0) {
        cairn_buf_reset(&a);
        if (cairn__lzw_decompress(c.data, c.len, FUZZ_LIMIT, &a, NULL) != 0 || a.len != size ||
            (size && memcmp(a.data, data, size) != 0))
            abort();
    }
    cairn_buf_destroy(&a);
    cairn_buf_destroy(&b);
    cairn_buf_destroy(&c);
    return 0;
}
