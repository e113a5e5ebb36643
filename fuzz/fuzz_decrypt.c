/* libFuzzer target for cairn__keyring_decrypt: arbitrary payloads against a
 * ring of three keys (16, 24, 32 bytes), with and without AAD (byte 0 bit
 * 0); must never crash or write past its buffer; and arbitrary plaintexts
 * must round-trip through encrypt/decrypt in both versions. Byte 0's other
 * bits change the ring first (as key install/use/remove queries do):
 * bit 1 removes and re-adds the 24-byte key, bit 2 makes the 32-byte key
 * primary, bit 3 tries what must fail (removing the primary, unknown and
 * malformed keys) and, when bits 4..7 are 0, fills the ring to
 * CAIRN_KEYRING_MAX_KEYS; bit 4 decrypts with an empty ring and into a
 * buffer too small. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/error.h"
#include "cairn/keyring.h"
#include "wire/keyring_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t k16[16] = "0123456789abcdef";
    static const uint8_t k24[24] = "0123456789abcdef01234567";
    static const uint8_t k32[32] = "cairn-fuzz-key-0123456789abcdef";
    if (size < 1)
        return 0;
    cairn_keyring *ring;
    if (cairn_keyring_new(k16, 16, &ring) != 0)
        return 0;
    cairn_keyring_add(ring, k24, 24);
    cairn_keyring_add(ring, k32, 32);
    uint8_t flags = data[0];
    if (flags & 2) {
        if (cairn_keyring_remove(ring, k24, 24) != 0 || cairn_keyring_remove(ring, k24, 24) != 0 ||
            cairn_keyring_add(ring, k24, 24) != 0 || cairn_keyring_count(ring) != 3)
            abort();
    }
    if (flags & 4) {
        const uint8_t *p;
        size_t n;
        if (cairn_keyring_use(ring, k32, 32) != 0 || cairn_keyring_key(ring, 0, &p, &n) != 0 ||
            n != 32)
            abort();
    }
    if (flags & 8) {
        static const uint8_t other[16] = "fedcba9876543210";
        const uint8_t *p;
        size_t n;
        const uint8_t *primary = NULL;
        size_t plen = 0;
        (void)cairn_keyring_key(ring, 0, &primary, &plen);
        uint8_t copy[32];
        memcpy(copy, primary, plen);
        if (cairn_keyring_remove(ring, copy, plen) != CAIRN_EBUSY ||
            cairn_keyring_use(ring, other, 16) != CAIRN_ENOENT ||
            cairn_keyring_add(ring, other, 5) != CAIRN_EINVAL ||
            cairn_keyring_key(ring, 99, &p, &n) == 0 ||
            cairn_keyring_new(k16, 7, &(cairn_keyring *){NULL}) == 0)
            abort();
        /* Filling costs 61 cipher contexts: only when bits 4..7 are 0. */
        int r = (flags & 0xf0) ? CAIRN_ELIMIT : 0;
        for (uint8_t i = 0; r == 0 && i < CAIRN_KEYRING_MAX_KEYS; i++) {
            uint8_t k[16] = {i, 0xa5};
            r = cairn_keyring_add(ring, k, 16);
        }
        if (r != CAIRN_ELIMIT ||
            ((flags & 0xf0) == 0 && cairn_keyring_count(ring) != CAIRN_KEYRING_MAX_KEYS))
            abort();
    }
    if (flags & 16) {
        cairn_keyring *empty;
        cairn_buf o;
        if (cairn_keyring_new(NULL, 0, &empty) != 0)
            abort();
        cairn_buf_init(&o, 1024);
        if (cairn__keyring_decrypt(empty, NULL, 0, data + 1, size - 1, &o, NULL) == 0 ||
            cairn__keyring_encrypt(empty, 1, NULL, 0, data + 1, size - 1, &o) == 0 ||
            cairn_keyring_remove(empty, k16, 16) != CAIRN_ENOENT)
            abort();
        cairn_buf_destroy(&o);
        cairn_keyring_delete(empty);
        /* A fixed nonce (the tests' seam), then a decrypt into a buffer
         * too small for any plaintext. */
        static const uint8_t nonce[CAIRN_KEYRING_NONCE_SIZE] = {1, 2, 3};
        cairn_buf ct, small;
        cairn_buf_init(&ct, (size_t)1 << 20);
        cairn_buf_init(&small, 8);
        if (cairn__keyring_encrypt_nonce(ring, 1, nonce, NULL, 0, data, size, &ct) != 0 ||
            cairn__keyring_decrypt(ring, NULL, 0, ct.data, ct.len, &small, NULL) != CAIRN_ELIMIT)
            abort();
        cairn_buf_destroy(&ct);
        cairn_buf_destroy(&small);
    }
    uint8_t aad[5] = {10, 0, 0, 0, 0};
    bool use_aad = data[0] & 1;
    data++;
    size--;
    cairn_buf out;
    cairn_buf_init(&out, (size_t)1 << 20);
    int r =
        cairn__keyring_decrypt(ring, use_aad ? aad : NULL, use_aad ? 5 : 0, data, size, &out, NULL);
    if (r == 0 && out.len > size)
        abort();
    for (uint8_t vsn = 0; vsn <= 1; vsn++) {
        cairn_buf ct;
        cairn_buf_init(&ct, (size_t)1 << 20);
        cairn_buf_reset(&out);
        if (cairn__keyring_encrypt(ring, vsn, use_aad ? aad : NULL, use_aad ? 5 : 0, data, size,
                                   &ct) != 0 ||
            cairn__keyring_decrypt(ring, use_aad ? aad : NULL, use_aad ? 5 : 0, ct.data, ct.len,
                                   &out, NULL) != 0 ||
            out.len != size || (size && memcmp(out.data, data, size) != 0))
            abort();
        cairn_buf_destroy(&ct);
    }
    cairn_buf_destroy(&out);
    cairn_keyring_delete(ring);
    return 0;
}
