/* Internal to the library: the AES-GCM payload codec behind the keyring
 * (memberlist's security.go), used by packet and stream framing, and a
 * deterministic-nonce encryptor for known-answer tests. */
#ifndef CAIRN_WIRE_KEYRING_INTERNAL_H
#define CAIRN_WIRE_KEYRING_INTERNAL_H

#include "cairn/buf.h"
#include "cairn/error.h"
#include "cairn/keyring.h"

/* cairn__keyring_encrypted_len is the payload size for a plaintext of len
 * bytes in version vsn (0 or 1). */
size_t cairn__keyring_encrypted_len(uint8_t vsn, size_t len);

/* cairn__keyring_encrypt appends the version-vsn payload of pt[0..len) under
 * the primary key, with a fresh random nonce (OpenSSL RAND_bytes) and
 * aad[0..aad_len) as additional data (NULL/0 for UDP), to out. Returns 0,
 * CAIRN_ENOENT (empty ring), CAIRN_EINVAL (vsn > 1), CAIRN_ELIMIT (out's
 * limit), CAIRN_ENOMEM or CAIRN_EIO (OpenSSL failure). */
int cairn__keyring_encrypt(cairn_keyring *ring, uint8_t vsn, const uint8_t *aad, size_t aad_len,
                           const uint8_t *pt, size_t len, cairn_buf *out);

/* cairn__keyring_decrypt authenticates and decrypts payload in[0..len)
 * (either version) with each key in turn and appends the plaintext (padding
 * removed) to out. Returns 0, CAIRN_EPROTO (empty, unknown version, too
 * short, bad padding), CAIRN_EAUTH (no key authenticates), CAIRN_ENOENT
 * (empty ring), CAIRN_ELIMIT, CAIRN_ENOMEM or CAIRN_EIO; diag names the
 * fault ("decrypt: payload is 20 bytes, need at least 29"). */
int cairn__keyring_decrypt(cairn_keyring *ring, const uint8_t *aad, size_t aad_len,
                           const uint8_t *in, size_t len, cairn_buf *out, cairn_diag *diag);

/* As cairn__keyring_encrypt, for known-answer tests only (never use a fixed
 * nonce on the wire): but with the given 12-byte nonce. */
int cairn__keyring_encrypt_nonce(cairn_keyring *ring, uint8_t vsn, const uint8_t *nonce,
                                 const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                                 cairn_buf *out);

#endif
