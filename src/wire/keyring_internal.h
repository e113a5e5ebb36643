/* Internal to src/wire: a deterministic-nonce encryptor for known-answer
 * tests. Never use a fixed nonce on the wire. */
#ifndef CAIRN_WIRE_KEYRING_INTERNAL_H
#define CAIRN_WIRE_KEYRING_INTERNAL_H

#include "cairn/keyring.h"

/* As cairn__keyring_encrypt, but with the given 12-byte nonce. */
int cairn__keyring_encrypt_nonce(cairn_keyring *ring, uint8_t vsn, const uint8_t *nonce,
                                 const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                                 cairn_buf *out);

#endif
