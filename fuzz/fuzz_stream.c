/* libFuzzer target for the stream reader (src/wire/stream.c). Byte 0 picks
 * the configuration (bit 0: wrap the rest in an encrypted 0a frame with the
 * fixed test key; bit 1: keys configured; bit 2: verify_incoming off);
 * bytes 1..2 seed the chunk sizes in which the stream is fed (1..64 bytes)
 * and the caller's pull pattern (object or raw of a size taken from the
 * stream). The reader must never crash, never read outside its buffers and
 * keep its errors sticky. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_frame_cfg.h"
#include "wire/keyring_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t mode = data[0];
    uint32_t x = 0x9e3779b9u ^ (uint32_t)data[1] << 8 ^ data[2];
    data += 3;
    size -= 3;
    cairn_keyring *ring;
    cairn_frame_cfg cfg;
    if (fuzz_frame_setup(mode, &ring, &cfg) != 0)
        return 0;
    cairn_buf wire;
    cairn_buf_init(&wire, (size_t)1 << 22);
    const uint8_t *p = data;
    size_t n = size;
    if (mode & 1) {
        uint8_t h[5] = {10};
        size_t el = cairn__keyring_encrypted_len(1, size);
        h[1] = (uint8_t)(el >> 24);
        h[2] = (uint8_t)(el >> 16);
        h[3] = (uint8_t)(el >> 8);
        h[4] = (uint8_t)el;
        if (cairn_buf_append(&wire, h, 5) != 0 ||
            cairn__keyring_encrypt(ring, 1, h, 5, data, size, &wire) != 0)
            abort();
        p = wire.data;
        n = wire.len;
    }
    cairn_stream_rd *rd;
    if (cairn__stream_rd_new(&cfg, &rd) != 0)
        abort();
    size_t fed = 0;
    int step = 0;
    bool chosen = false, want_raw = false;
    size_t raw_len = 0;
    uint64_t sum = 0;
    for (int guard = 0; guard < 100000; guard++) {
        int r;
        const uint8_t *span = NULL;
        size_t len = 0;
        uint8_t t;
        if (step > 0 && !chosen) {
            want_raw = next(&x) % 4 == 0;
            raw_len = next(&x) % 300;
            chosen = true;
        }
        if (step == 0) {
            r = cairn__stream_rd_type(rd, &t, NULL);
            /* Framing and encryption are known once a type was read. */
            sum += cairn__stream_rd_framed(rd) + cairn__stream_rd_encrypted(rd);
        } else if (want_raw) {
            len = raw_len;
            r = cairn__stream_rd_raw(rd, len, &span, NULL);
        } else {
            r = cairn__stream_rd_object(rd, &span, &len, NULL);
        }
        if (r == 0) {
            if (len > 0)
                sum += span[0] + span[len - 1]; /* touch both ends */
            chosen = false;
            step++;
            if (step > 50) {
                cairn__stream_rd_end(rd);
                step = 0;
            }
            continue;
        }
        if (r == CAIRN_EAGAIN) {
            if (fed == n)
                break;
            size_t k = 1 + next(&x) % 64;
            if (k > n - fed)
                k = n - fed;
            int f = cairn__stream_rd_feed(rd, p + fed, k);
            if (f != 0 && f != CAIRN_ENOMEM)
                break;
            fed += k;
            continue;
        }
        if (r == CAIRN_EINVAL)
            abort(); /* the driver never misuses the reader */
        /* a real error is sticky */
        uint8_t t2;
        if (cairn__stream_rd_type(rd, &t2, NULL) != r)
            abort();
        break;
    }
    (void)sum;
    cairn__stream_rd_delete(rd);
    cairn_buf_destroy(&wire);
    cairn_keyring_delete(ring);
    return 0;
}
