/* cairn/keyring.h: memberlist's AES-GCM keyring.
 *
 * An ordered list of AES keys (16, 24 or 32 bytes: AES-128/192/256 in GCM
 * with the standard 12-byte nonce and 16-byte tag). Element 0 is the
 * primary: it encrypts everything sent. Decryption tries every installed
 * key in order, primary first, and takes the first that authenticates.
 *
 * Encrypted payload layout (memberlist security.go):
 *
 *   v1: [0x01][nonce: 12 random bytes][GCM ciphertext ‖ tag 16]   (+29 bytes)
 *   v0: [0x00][nonce][GCM(plaintext ‖ PKCS#7 padding 1..16)]     (+30..45)
 *
 * UDP packets carry the payload alone with no additional data; TCP streams
 * wrap it as [0x0a][BE u32 payload length][payload] with those 5 bytes as
 * GCM additional authenticated data (see wire_frame.h).
 *
 * Rules (memberlist keyring.go): add appends a key unless already present
 * (the first key added becomes primary); use moves an installed key to the
 * front; remove refuses to remove the primary and is a no-op for unknown
 * keys. A keyring with no key means "encryption disabled".
 *
 * Thread-safety: a keyring is owned by one thread (the loop); encrypt and
 * decrypt may run concurrently with each other on different keyrings only.
 */
#ifndef CAIRN_KEYRING_H
#define CAIRN_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/error.h"

/* Sizes of the encrypted payload (memberlist security.go). */
#define CAIRN_KEYRING_NONCE_SIZE 12
#define CAIRN_KEYRING_TAG_SIZE   16
/* Bytes v1 adds to a message: version + nonce + tag. */
#define CAIRN_KEYRING_OVERHEAD_V1 29
/* Most bytes v0 adds: version + nonce + 16 padding + tag. */
#define CAIRN_KEYRING_OVERHEAD_V0 45
/* Most keys a ring holds; Go has no limit, serf clusters use a handful. */
#define CAIRN_KEYRING_MAX_KEYS 64

/* Opaque: an ordered set of AES keys, the first one primary. */
typedef struct cairn_keyring cairn_keyring;

/* The OpenSSL library a keyring loads (dlopen) when it gets its first key:
 * a program that never installs a key never maps libcrypto. */
#define CAIRN_KEYRING_LIBCRYPTO "libcrypto.so.3"

/* cairn_keyring_new creates a keyring holding primary (may be NULL with
 * len 0 for an empty ring). Returns 0, CAIRN_EINVAL (bad key size),
 * CAIRN_ENOTSUP (CAIRN_KEYRING_LIBCRYPTO cannot be loaded) or
 * CAIRN_ENOMEM. */
int cairn_keyring_new(const uint8_t *primary, size_t len, cairn_keyring **ret_ring);

/* cairn_keyring_delete frees ring and wipes its keys (NULL accepted). */
void cairn_keyring_delete(cairn_keyring *ring);

/* cairn_keyring_valid_key_len says whether len is 16, 24 or 32. */
int cairn_keyring_valid_key_len(size_t len);

/* cairn_keyring_add installs key (copied). 0 (also when already present),
 * CAIRN_EINVAL (size), CAIRN_ELIMIT (ring full), CAIRN_ENOTSUP
 * (CAIRN_KEYRING_LIBCRYPTO cannot be loaded) or CAIRN_ENOMEM. */
int cairn_keyring_add(cairn_keyring *ring, const uint8_t *key, size_t len);

/* cairn_keyring_use makes an installed key primary: 0 or CAIRN_ENOENT. */
int cairn_keyring_use(cairn_keyring *ring, const uint8_t *key, size_t len);

/* cairn_keyring_remove drops key: 0 (also when not installed),
 * CAIRN_EBUSY when key is the primary, CAIRN_ENOENT when the ring is empty. */
int cairn_keyring_remove(cairn_keyring *ring, const uint8_t *key, size_t len);

/* cairn_keyring_count is the number of keys (0 = encryption disabled). */
size_t cairn_keyring_count(const cairn_keyring *ring);

/* cairn_keyring_key gives key i (0 = primary) without copying; the pointer
 * is valid until the ring changes. 0 or CAIRN_ENOENT. */
int cairn_keyring_key(const cairn_keyring *ring, size_t i, const uint8_t **ret_key,
                      size_t *ret_len);

#endif
