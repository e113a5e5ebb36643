/* libFuzzer target for cairn__keyring_decrypt: arbitrary payloads against a
 * ring of three keys (16, 24, 32 bytes), with and without AAD (byte 0);
 * must never crash or write past its buffer; and arbitrary plaintexts must
 * round-trip through encrypt/decrypt in both versions. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
