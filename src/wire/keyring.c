/* memberlist's AES-GCM keyring (keyring.go + security.go).
 *
 * The keyring is an ordered array of keys; index 0 is the primary. Each key
 * carries two OpenSSL cipher contexts, one keyed for encryption and one for
 * decryption, created when the key is installed, so that a packet costs
 * only an IV reset rather than a key schedule.
 *
 * Nonces are 12 random bytes, as memberlist's (crypto/rand), read from the
 * kernel's CSPRNG a page (340 nonces) at a time through the ring's own
 * fork-safe pool (base/randpool.h: a forked child never reuses a buffered
 * nonce; test_keyring: test_nonce_after_fork). OpenSSL's RAND_bytes, used
 * before, cost 2.4-3.7 us per nonce here, three quarters of sealing a
 * gossip packet; it remains the fallback where the kernel refuses the pool
 * (before Linux 4.14) or getrandom fails.
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
 *
 * libcrypto is loaded (dlopen) when the ring gets its first key, not linked:
 * an agent without encryption never maps it. Mapped, it costs every process
 * ~400 KiB of anonymous memory (relocated data) and ~1.4 MiB of RSS
 * (docs/performance.md, "Whole agents"). Each ring holds its own table of
 * the functions it calls (no global state; dlopen counts references) and
 * drops its reference when deleted. RTLD_NODELETE: libcrypto registers
 * exit handlers, so it must stay mapped once loaded. The library is
 * Debian's libssl3, which the packages still depend on (debian/control).
 */
#include "cairn/keyring.h"

#include <dlfcn.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/dl.h"
#include "base/randpool.h"
#include "cairn/alloc.h"
#include "keyring_internal.h"
#include "wire/keyring_internal.h"

/* Largest plaintext/payload handled in one call; far above the 20 MiB
 * stream limit, and keeps OpenSSL's int lengths safe. */
#define KEYRING_MAX_LEN ((size_t)256 * 1024 * 1024)

/* The libcrypto loaded at run time: the ABI of the headers built against. */
_Static_assert(OPENSSL_VERSION_MAJOR == 3, "CAIRN_KEYRING_LIBCRYPTO names OpenSSL 3's soname");

/* The libcrypto functions the ring calls, with the headers' types. */
struct ssl_api {
    void *dl;
    __typeof__(&EVP_aes_128_gcm) aes_128_gcm;
    __typeof__(&EVP_aes_192_gcm) aes_192_gcm;
    __typeof__(&EVP_aes_256_gcm) aes_256_gcm;
    __typeof__(&EVP_CIPHER_CTX_new) ctx_new;
    __typeof__(&EVP_CIPHER_CTX_free) ctx_free;
    __typeof__(&EVP_CIPHER_CTX_ctrl) ctx_ctrl;
    __typeof__(&EVP_EncryptInit_ex) enc_init;
    __typeof__(&EVP_EncryptUpdate) enc_update;
    __typeof__(&EVP_EncryptFinal_ex) enc_final;
    __typeof__(&EVP_DecryptInit_ex) dec_init;
    __typeof__(&EVP_DecryptUpdate) dec_update;
    __typeof__(&EVP_DecryptFinal_ex) dec_final;
    __typeof__(&OPENSSL_cleanse) cleanse;
    __typeof__(&CRYPTO_memcmp) memcmp_ct;
    __typeof__(&RAND_bytes) rand_bytes;
};

static const cairn__dl_sym ssl_syms[] = {
    CAIRN__DL_SYM(struct ssl_api, aes_128_gcm, EVP_aes_128_gcm),
    CAIRN__DL_SYM(struct ssl_api, aes_192_gcm, EVP_aes_192_gcm),
    CAIRN__DL_SYM(struct ssl_api, aes_256_gcm, EVP_aes_256_gcm),
    CAIRN__DL_SYM(struct ssl_api, ctx_new, EVP_CIPHER_CTX_new),
    CAIRN__DL_SYM(struct ssl_api, ctx_free, EVP_CIPHER_CTX_free),
    CAIRN__DL_SYM(struct ssl_api, ctx_ctrl, EVP_CIPHER_CTX_ctrl),
    CAIRN__DL_SYM(struct ssl_api, enc_init, EVP_EncryptInit_ex),
    CAIRN__DL_SYM(struct ssl_api, enc_update, EVP_EncryptUpdate),
    CAIRN__DL_SYM(struct ssl_api, enc_final, EVP_EncryptFinal_ex),
    CAIRN__DL_SYM(struct ssl_api, dec_init, EVP_DecryptInit_ex),
    CAIRN__DL_SYM(struct ssl_api, dec_update, EVP_DecryptUpdate),
    CAIRN__DL_SYM(struct ssl_api, dec_final, EVP_DecryptFinal_ex),
    CAIRN__DL_SYM(struct ssl_api, cleanse, OPENSSL_cleanse),
    CAIRN__DL_SYM(struct ssl_api, memcmp_ct, CRYPTO_memcmp),
    CAIRN__DL_SYM(struct ssl_api, rand_bytes, RAND_bytes),
};

/* ssl_load fills api once: 0, or CAIRN_ENOTSUP when libcrypto.so.3 (Debian
 * package libssl3) is missing or lacks a function. */
static int ssl_load(struct ssl_api *api)
{
    if (api->dl != NULL)
        return 0;
    const char *missing;
    return cairn__dl_load(CAIRN_KEYRING_LIBCRYPTO, ssl_syms, sizeof ssl_syms / sizeof ssl_syms[0],
                          api, &api->dl, &missing);
}

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
    /* Buffered nonces, mapped at the first encryption with a random one. */
    cairn__randpool *nonces;
    bool no_pool; /* no WIPEONFORK: RAND_bytes each time */
    /* Loaded with the first key (count > 0 implies loaded). */
    struct ssl_api ssl;
};

static const EVP_CIPHER *cipher_for(const struct ssl_api *ssl, size_t len)
{
    switch (len) {
    case 16:
        return ssl->aes_128_gcm();
    case 24:
        return ssl->aes_192_gcm();
    default:
        return ssl->aes_256_gcm();
    }
}

int cairn_keyring_valid_key_len(size_t len)
{
    return len == 16 || len == 24 || len == 32;
}

static void key_destroy(const struct ssl_api *ssl, ring_key *k)
{
    ssl->ctx_free(k->enc);
    ssl->ctx_free(k->dec);
    ssl->cleanse(k->bytes, sizeof k->bytes);
    k->enc = k->dec = NULL;
    k->len = 0;
}

static int key_init(const struct ssl_api *ssl, ring_key *k, const uint8_t *key, size_t len)
{
    memset(k, 0, sizeof *k);
    memcpy(k->bytes, key, len);
    k->len = len;
    k->enc = ssl->ctx_new();
    k->dec = ssl->ctx_new();
    if (k->enc == NULL || k->dec == NULL)
        goto fail;
    const EVP_CIPHER *c = cipher_for(ssl, len);
    if (ssl->enc_init(k->enc, c, NULL, key, NULL) != 1 ||
        ssl->dec_init(k->dec, c, NULL, key, NULL) != 1)
        goto fail;
    return 0;
fail:
    key_destroy(ssl, k);
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
        key_destroy(&ring->ssl, &ring->keys[i]);
    if (ring->ssl.dl != NULL)
        dlclose(ring->ssl.dl);
    cairn__randpool_free(ring->nonces);
    cairn_free(ring->keys);
    cairn_free(ring);
}

static long find_key(const cairn_keyring *ring, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < ring->count; i++)
        if (ring->keys[i].len == len && ring->ssl.memcmp_ct(ring->keys[i].bytes, key, len) == 0)
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
    int r = ssl_load(&ring->ssl);
    if (r < 0)
        return r;
    if (ring->count == ring->cap) {
        size_t cap = ring->cap ? ring->cap * 2 : 4;
        ring_key *p = cairn_reallocarray(ring->keys, cap, sizeof *p);
        if (p == NULL)
            return CAIRN_ENOMEM;
        ring->keys = p;
        ring->cap = cap;
    }
    r = key_init(&ring->ssl, &ring->keys[ring->count], key, len);
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
    key_destroy(&ring->ssl, &ring->keys[i]);
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

static int seal(const struct ssl_api *ssl, EVP_CIPHER_CTX *c, const uint8_t *nonce,
                const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                const uint8_t *pad, size_t pad_len, uint8_t *dst)
{
    int n = 0, total = 0;
    if (ssl->enc_init(c, NULL, NULL, NULL, nonce) != 1)
        return CAIRN_EIO;
    if (aad_len > 0 && ssl->enc_update(c, NULL, &n, aad, (int)aad_len) != 1)
        return CAIRN_EIO;
    if (len > 0) {
        if (ssl->enc_update(c, dst, &n, pt, (int)len) != 1)
            return CAIRN_EIO;
        total += n;
    }
    if (pad_len > 0) {
        if (ssl->enc_update(c, dst + total, &n, pad, (int)pad_len) != 1)
            return CAIRN_EIO;
        total += n;
    }
    if (ssl->enc_final(c, dst + total, &n) != 1)
        return CAIRN_EIO;
    total += n;
    if (ssl->ctx_ctrl(c, EVP_CTRL_GCM_GET_TAG, CAIRN_KEYRING_TAG_SIZE, dst + total) != 1)
        return CAIRN_EIO;
    return 0;
}

/* next_nonce writes a fresh random nonce to dst. */
static int next_nonce(cairn_keyring *ring, uint8_t *dst)
{
    if (ring->nonces == NULL && !ring->no_pool)
        ring->no_pool = (ring->nonces = cairn__randpool_new()) == NULL;
    if (ring->nonces != NULL &&
        cairn__randpool_take(ring->nonces, dst, CAIRN_KEYRING_NONCE_SIZE) == 0)
        return 0;
    return ring->ssl.rand_bytes(dst, CAIRN_KEYRING_NONCE_SIZE) == 1 ? 0 : CAIRN_EIO;
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
    else if ((r = next_nonce(ring, dst + 1)) < 0)
        return r;
    uint8_t pad[16];
    size_t pad_len = 0;
    if (vsn == 0) {
        pad_len = 16 - len % 16;
        memset(pad, (int)pad_len, pad_len);
    }
    r = seal(&ring->ssl, ring->keys[0].enc, dst + 1, aad, aad_len, pt, len, pad, pad_len,
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
static int open_with(const struct ssl_api *ssl, EVP_CIPHER_CTX *c, const uint8_t *nonce,
                     const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                     const uint8_t *tag, uint8_t *dst)
{
    int n = 0;
    if (ssl->dec_init(c, NULL, NULL, NULL, nonce) != 1)
        return CAIRN_EIO;
    if (aad_len > 0 && ssl->dec_update(c, NULL, &n, aad, (int)aad_len) != 1)
        return CAIRN_EIO;
    int total = 0;
    if (ct_len > 0) {
        if (ssl->dec_update(c, dst, &n, ct, (int)ct_len) != 1)
            return CAIRN_EIO;
        total = n;
    }
    if (ssl->ctx_ctrl(c, EVP_CTRL_GCM_SET_TAG, CAIRN_KEYRING_TAG_SIZE, (void *)tag) != 1)
        return CAIRN_EIO;
    return ssl->dec_final(c, dst + total, &n) == 1 ? 1 : 0;
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
        r = open_with(&ring->ssl, ring->keys[i].dec, nonce, aad, aad_len, ct, ct_len, tag, dst);
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
