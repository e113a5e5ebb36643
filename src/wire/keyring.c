/* memberlist's AES-GCM keyring (keyring.go + security.go).
 *
 * The keyring is an ordered array of keys; index 0 is the primary. Each key
 * carries two OpenSSL cipher contexts, one keyed for encryption and one for
 * decryption, created when the key is installed, so that a packet costs
 * only an IV reset rather than a key schedule. Nonces come from RAND_bytes.
 *
 * Encrypt writes [vsn][nonce][ciphertext][tag] straight into the caller's
 * bounded buffer. Version 0 (memberlist protocol 1) pads the plaintext with
 * PKCS#7 to a multiple of 16 before sealing; we support it for both
 * directions so a protocol-1 peer is understood.
 *
 * Decrypt applies Go's checks in Go's order: empty payload, version > 1,
 * shorter than the empty payload of that version (29 or 45 bytes); then
 * each key is tried, primary first. Go strips v0 padding without checking
 * it (and panics when the pad byte exceeds the length); we accept what Go
 * accepts and reject the panic case. Key sizes are 16, 24 or 32 bytes.
 *
 * Key bytes are wiped (OPENSSL_cleanse) when removed or freed. The ring is
 * capped at CAIRN_KEYRING_MAX_KEYS so that hostile key-install queries
 * cannot grow it without bound.
 */
#include "cairn/keyring.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "cairn/alloc.h"
#include "keyring_internal.h"
#include "wire/keyring_internal.h"

/* Largest plaintext/payload handled in one call; far above the 20 MiB
 * stream limit, and keeps OpenSSL's int lengths safe. */
#define KEYRING_MAX_LEN ((size_t)256 * 1024 * 1024)

typedef struct ring_key {
    uint8_t bytes[32];
    size_t len;
    EVP_CIPHER_CTX *enc;
    EVP_CIPHER_CTX *dec;
} ring_key;

struct cairn_keyring {
    ring_key *keys; /* keys[0] is primary */
    size_t count;
    size_t cap;
};

static const EVP_CIPHER *cipher_for(size_t len)
{
    switch (len) {
    case 16:
        return EVP_aes_128_gcm();
    case 24:
        return EVP_aes_192_gcm();
    default:
        return EVP_aes_256_gcm();
    }
}

int cairn_keyring_valid_key_len(size_t len)
{
    return len == 16 || len == 24 || len == 32;
}

static void key_destroy(ring_key *k)
{
    EVP_CIPHER_CTX_free(k->enc);
    EVP_CIPHER_CTX_free(k->dec);
    OPENSSL_cleanse(k->bytes, sizeof k->bytes);
    k->enc = k->dec = NULL;
    k->len = 0;
}

static int key_init(ring_key *k, const uint8_t *key, size_t len)
{
    memset(k, 0, sizeof *k);
    memcpy(k->bytes, key, len);
    k->len = len;
    k->enc = EVP_CIPHER_CTX_new();
    k->dec = EVP_CIPHER_CTX_new();
    if (k->enc == NULL || k->dec == NULL)
        goto fail;
    const EVP_CIPHER *c = cipher_for(len);
    if (EVP_EncryptInit_ex(k->enc, c, NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(k->dec, c, NULL, key, NULL) != 1)
        goto fail;
    return 0;
fail:
    key_destroy(k);
    return CAIRN_ENOMEM;
}

int cairn_keyring_new(const uint8_t *primary, size_t len, cairn_keyring **ret_ring)
{
    if (ret_ring == NULL || (primary == NULL && len > 0))
        return CAIRN_EINVAL;
    if (len > 0 && !cairn_keyring_valid_key_len(len))
        return CAIRN_EINVAL;
    cairn_keyring *ring = cairn_calloc(1, sizeof *ring);
    if (ring == NULL)
        return CAIRN_ENOMEM;
    if (len > 0) {
        int r = cairn_keyring_add(ring, primary, len);
        if (r < 0) {
            cairn_keyring_delete(ring);
            return r;
        }
    }
    *ret_ring = ring;
    return 0;
}

void cairn_keyring_delete(cairn_keyring *ring)
{
    if (ring == NULL)
        return;
    for (size_t i = 0; i < ring->count; i++)
        key_destroy(&ring->keys[i]);
    cairn_free(ring->keys);
    cairn_free(ring);
}

static long find_key(const cairn_keyring *ring, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < ring->count; i++)
        if (ring->keys[i].len == len && CRYPTO_memcmp(ring->keys[i].bytes, key, len) == 0)
            return (long)i;
    return -1;
}

int cairn_keyring_add(cairn_keyring *ring, const uint8_t *key, size_t len)
{
    if (ring == NULL || key == NULL || !cairn_keyring_valid_key_len(len))
        return CAIRN_EINVAL;
    if (find_key(ring, key, len) >= 0)
        return 0;
    if (ring->count == CAIRN_KEYRING_MAX_KEYS)
        return CAIRN_ELIMIT;
    if (ring->count == ring->cap) {
        size_t cap = ring->cap ? ring->cap * 2 : 4;
        ring_key *p = cairn_reallocarray(ring->keys, cap, sizeof *p);
        if (p == NULL)
            return CAIRN_ENOMEM;
        ring->keys = p;
        ring->cap = cap;
    }
    int r = key_init(&ring->keys[ring->count], key, len);
    if (r < 0)
        return r;
    ring->count++;
    return 0;
}

int cairn_keyring_use(cairn_keyring *ring, const uint8_t *key, size_t len)
{
    if (ring == NULL || key == NULL)
        return CAIRN_EINVAL;
    long i = find_key(ring, key, len);
    if (i < 0)
        return CAIRN_ENOENT;
    ring_key k = ring->keys[i];
    memmove(&ring->keys[1], &ring->keys[0], (size_t)i * sizeof k);
    ring->keys[0] = k;
    return 0;
}

int cairn_keyring_remove(cairn_keyring *ring, const uint8_t *key, size_t len)
{
    if (ring == NULL || key == NULL)
        return CAIRN_EINVAL;
    if (ring->count == 0)
        return CAIRN_ENOENT;
    long i = find_key(ring, key, len);
    if (i == 0)
        return CAIRN_EBUSY;
    if (i < 0)
        return 0;
    key_destroy(&ring->keys[i]);
    memmove(&ring->keys[i], &ring->keys[i + 1], (ring->count - (size_t)i - 1) * sizeof *ring->keys);
    ring->count--;
    return 0;
}

size_t cairn_keyring_count(const cairn_keyring *ring)
{
    return ring ? ring->count : 0;
}

int cairn_keyring_key(const cairn_keyring *ring, size_t i, const uint8_t **ret_key, size_t *ret_len)
{
    if (ring == NULL || ret_key == NULL || ret_len == NULL)
        return CAIRN_EINVAL;
    if (i >= ring->count)
        return CAIRN_ENOENT;
    *ret_key = ring->keys[i].bytes;
    *ret_len = ring->keys[i].len;
    return 0;
}

size_t cairn__keyring_encrypted_len(uint8_t vsn, size_t len)
{
    if (vsn >= 1)
        return 1 + CAIRN_KEYRING_NONCE_SIZE + len + CAIRN_KEYRING_TAG_SIZE;
    return 1 + CAIRN_KEYRING_NONCE_SIZE + len + (16 - len % 16) + CAIRN_KEYRING_TAG_SIZE;
}

static int seal(EVP_CIPHER_CTX *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                const uint8_t *pt, size_t len, const uint8_t *pad, size_t pad_len, uint8_t *dst)
{
    int n = 0, total = 0;
    if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1)
        return CAIRN_EIO;
    if (aad_len > 0 && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        return CAIRN_EIO;
    if (len > 0) {
        if (EVP_EncryptUpdate(c, dst, &n, pt, (int)len) != 1)
            return CAIRN_EIO;
        total += n;
    }
    if (pad_len > 0) {
        if (EVP_EncryptUpdate(c, dst + total, &n, pad, (int)pad_len) != 1)
            return CAIRN_EIO;
        total += n;
    }
    if (EVP_EncryptFinal_ex(c, dst + total, &n) != 1)
        return CAIRN_EIO;
    total += n;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CAIRN_KEYRING_TAG_SIZE, dst + total) != 1)
        return CAIRN_EIO;
    return 0;
}

int cairn__keyring_encrypt_nonce(cairn_keyring *ring, uint8_t vsn, const uint8_t *nonce,
                                 const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                                 cairn_buf *out)
{
    if (ring == NULL || out == NULL || vsn > 1 || (pt == NULL && len > 0) ||
        (aad == NULL && aad_len > 0))
        return CAIRN_EINVAL;
    if (ring->count == 0)
        return CAIRN_ENOENT;
    if (len > KEYRING_MAX_LEN || aad_len > KEYRING_MAX_LEN)
        return CAIRN_ELIMIT;
    size_t total = cairn__keyring_encrypted_len(vsn, len);
    int r = cairn_buf_reserve(out, total);
    if (r < 0)
        return r;
    uint8_t *dst = out->data + out->len;
    dst[0] = vsn;
    if (nonce != NULL)
        memcpy(dst + 1, nonce, CAIRN_KEYRING_NONCE_SIZE);
    else if (RAND_bytes(dst + 1, CAIRN_KEYRING_NONCE_SIZE) != 1)
        return CAIRN_EIO;
    uint8_t pad[16];
    size_t pad_len = 0;
    if (vsn == 0) {
        pad_len = 16 - len % 16;
        memset(pad, (int)pad_len, pad_len);
    }
    r = seal(ring->keys[0].enc, dst + 1, aad, aad_len, pt, len, pad, pad_len,
             dst + 1 + CAIRN_KEYRING_NONCE_SIZE);
    if (r < 0)
        return r;
    out->len += total;
    return 0;
}

int cairn__keyring_encrypt(cairn_keyring *ring, uint8_t vsn, const uint8_t *aad, size_t aad_len,
                           const uint8_t *pt, size_t len, cairn_buf *out)
{
    return cairn__keyring_encrypt_nonce(ring, vsn, NULL, aad, aad_len, pt, len, out);
}

/* open_with tries one key; returns 1 when it authenticates, 0 when not,
 * negative on an OpenSSL failure. */
static int open_with(EVP_CIPHER_CTX *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                     const uint8_t *ct, size_t ct_len, const uint8_t *tag, uint8_t *dst)
{
    int n = 0;
    if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1)
        return CAIRN_EIO;
    if (aad_len > 0 && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        return CAIRN_EIO;
    int total = 0;
    if (ct_len > 0) {
        if (EVP_DecryptUpdate(c, dst, &n, ct, (int)ct_len) != 1)
            return CAIRN_EIO;
        total = n;
    }
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CAIRN_KEYRING_TAG_SIZE, (void *)tag) != 1)
        return CAIRN_EIO;
    return EVP_DecryptFinal_ex(c, dst + total, &n) == 1 ? 1 : 0;
}

int cairn__keyring_decrypt(cairn_keyring *ring, const uint8_t *aad, size_t aad_len,
                           const uint8_t *in, size_t len, cairn_buf *out, cairn_diag *diag)
{
    if (ring == NULL || out == NULL || (in == NULL && len > 0) || (aad == NULL && aad_len > 0))
        return CAIRN_EINVAL;
    if (len == 0)
        return cairn_diag_set(diag, CAIRN_EPROTO, "decrypt: empty payload");
    uint8_t vsn = in[0];
    if (vsn > 1)
        return cairn_diag_set(diag, CAIRN_EPROTO, "decrypt: unsupported encryption version %u",
                              (unsigned)vsn);
    size_t min = cairn__keyring_encrypted_len(vsn, 0);
    if (len < min)
        return cairn_diag_set(diag, CAIRN_EPROTO,
                              "decrypt: payload is %zu bytes, need at least %zu", len, min);
    if (len > KEYRING_MAX_LEN || aad_len > KEYRING_MAX_LEN)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "decrypt: payload is %zu bytes, limit %zu", len,
                              KEYRING_MAX_LEN);
    if (ring->count == 0)
        return cairn_diag_set(diag, CAIRN_ENOENT, "decrypt: keyring is empty");
    const uint8_t *nonce = in + 1;
    const uint8_t *ct = in + 1 + CAIRN_KEYRING_NONCE_SIZE;
    size_t ct_len = len - 1 - CAIRN_KEYRING_NONCE_SIZE - CAIRN_KEYRING_TAG_SIZE;
    const uint8_t *tag = ct + ct_len;
    /* Reserve 16 spare bytes: OpenSSL may write a final block. */
    int r = cairn_buf_reserve(out, ct_len + 16);
    if (r == CAIRN_ELIMIT)
        return cairn_diag_set(diag, r, "decrypt: plaintext of %zu bytes exceeds buffer limit",
                              ct_len);
    if (r < 0)
        return cairn_diag_set(diag, r, "decrypt: out of memory");
    uint8_t *dst = out->data + out->len;
    for (size_t i = 0; i < ring->count; i++) {
        r = open_with(ring->keys[i].dec, nonce, aad, aad_len, ct, ct_len, tag, dst);
        if (r < 0)
            return cairn_diag_set(diag, r, "decrypt: cipher failure");
        if (r == 0)
            continue;
        size_t n = ct_len;
        if (vsn == 0) {
            uint8_t pad = dst[n - 1];
            if (pad > n)
                return cairn_diag_set(diag, CAIRN_EPROTO,
                                      "decrypt: v0 padding %u exceeds %zu bytes", (unsigned)pad, n);
            n -= pad;
        }
        out->len += n;
        return 0;
    }
    return cairn_diag_set(diag, CAIRN_EAUTH, "decrypt: no installed key could decrypt the message");
}
