/* Unit tests for src/wire/keyring.c: Go's keyring rules, Go-produced v0/v1
 * payloads and stream frame (tests/vectors/wire_frame/crypt_go.txt), a
 * fixed-nonce known answer, wrong key, tampering, short buffers, AAD,
 * allocation failures, and fresh nonces: never repeated in 5,000 packets
 * (across refills of the buffered pool), never shared by a forked child
 * and its parent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn/alloc.h"
#include "cairn/keyring.h"
#include "alloc_sweep.h"
#include "wire/keyring_internal.h"
#include "wire_frame_vec.h"
#include "base/alloc_test.h"

#define BIG ((size_t)1 << 26)

static const uint8_t K1[16] = "0123456789abcdef";
static uint8_t K2[24], K3[32];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 24; i++)
        K2[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 32; i++)
        K3[i] = (uint8_t)i;
    return 0;
}

static void test_rules(void **state)
{
    (void)state;
    cairn_keyring *r;
    uint8_t bad[20] = {0};
    assert_int_equal(cairn_keyring_new(bad, 20, &r), CAIRN_EINVAL);
    assert_int_equal(cairn_keyring_new(NULL, 0, &r), 0);
    assert_int_equal(cairn_keyring_count(r), 0);
    assert_int_equal(cairn_keyring_remove(r, K1, 16), CAIRN_ENOENT);
    assert_int_equal(cairn_keyring_add(r, bad, 20), CAIRN_EINVAL);
    assert_int_equal(cairn_keyring_add(r, K1, 16), 0); /* first key is primary */
    assert_int_equal(cairn_keyring_add(r, K2, 24), 0);
    assert_int_equal(cairn_keyring_add(r, K3, 32), 0);
    assert_int_equal(cairn_keyring_add(r, K2, 24), 0); /* duplicate: no-op */
    assert_int_equal(cairn_keyring_count(r), 3);
    const uint8_t *k;
    size_t kl;
    assert_int_equal(cairn_keyring_key(r, 0, &k, &kl), 0);
    assert_int_equal(kl, 16);
    assert_memory_equal(k, K1, 16);
    assert_int_equal(cairn_keyring_key(r, 3, &k, &kl), CAIRN_ENOENT);
    /* use moves to the front, others keep their order */
    assert_int_equal(cairn_keyring_use(r, K3, 32), 0);
    assert_int_equal(cairn_keyring_key(r, 0, &k, &kl), 0);
    assert_memory_equal(k, K3, 32);
    assert_int_equal(cairn_keyring_key(r, 1, &k, &kl), 0);
    assert_memory_equal(k, K1, 16);
    assert_int_equal(cairn_keyring_key(r, 2, &k, &kl), 0);
    assert_memory_equal(k, K2, 24);
    assert_int_equal(cairn_keyring_use(r, bad, 16), CAIRN_ENOENT);
    /* remove: primary refused, unknown no-op, secondary removed */
    assert_int_equal(cairn_keyring_remove(r, K3, 32), CAIRN_EBUSY);
    assert_int_equal(cairn_keyring_remove(r, bad, 16), 0);
    assert_int_equal(cairn_keyring_remove(r, K1, 16), 0);
    assert_int_equal(cairn_keyring_count(r), 2);
    assert_int_equal(cairn_keyring_key(r, 1, &k, &kl), 0);
    assert_memory_equal(k, K2, 24);
    /* cap */
    uint8_t key[16] = {0};
    int err = 0;
    for (int i = 0; i < CAIRN_KEYRING_MAX_KEYS + 2 && err == 0; i++) {
        key[0] = (uint8_t)i;
        key[1] = 0x5a;
        err = cairn_keyring_add(r, key, 16);
    }
    assert_int_equal(err, CAIRN_ELIMIT);
    assert_int_equal(cairn_keyring_count(r), CAIRN_KEYRING_MAX_KEYS);
    cairn_keyring_delete(r);
    cairn_keyring_delete(NULL);
}

static void test_round_trip_all_sizes(void **state)
{
    (void)state;
    const uint8_t *keys[3] = {K1, K2, K3};
    size_t lens[3] = {16, 24, 32};
    uint8_t msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    for (int ki = 0; ki < 3; ki++) {
        cairn_keyring *r;
        assert_int_equal(cairn_keyring_new(keys[ki], lens[ki], &r), 0);
        for (uint8_t vsn = 0; vsn <= 1; vsn++) {
            for (size_t n = 0; n <= sizeof msg; n += 13) {
                cairn_buf ct, pt;
                cairn_buf_init(&ct, BIG);
                cairn_buf_init(&pt, BIG);
                assert_int_equal(cairn__keyring_encrypt(r, vsn, NULL, 0, msg, n, &ct), 0);
                assert_int_equal(ct.len, cairn__keyring_encrypted_len(vsn, n));
                assert_int_equal(ct.data[0], vsn);
                assert_int_equal(cairn__keyring_decrypt(r, NULL, 0, ct.data, ct.len, &pt, NULL), 0);
                assert_int_equal(pt.len, n);
                if (n)
                    assert_memory_equal(pt.data, msg, n);
                cairn_buf_destroy(&ct);
                cairn_buf_destroy(&pt);
            }
        }
        cairn_keyring_delete(r);
    }
    assert_int_equal(cairn__keyring_encrypted_len(1, 100), 129);
    assert_int_equal(cairn__keyring_encrypted_len(0, 16), 1 + 12 + 32 + 16);
}

/* Go-made payloads decrypt; the fixed-nonce known answer matches byte for
 * byte; the stream frame needs its 5-byte header as AAD. */
static void test_go_vectors(void **state)
{
    (void)state;
    FILE *f = fopen(wfv_path(CAIRN_SOURCE_DIR, "crypt_go.txt"), "r");
    assert_non_null(f);
    char line[4096];
    int udp = 0, stream = 0, fixed = 0;
    while (fgets(line, sizeof line, f)) {
        uint8_t *key, *pt, *ct;
        long kl = wfv_field(line, "key", &key);
        long pl = wfv_field(line, "pt", &pt);
        assert_true(kl > 0 && pl > 0);
        cairn_keyring *r;
        assert_int_equal(cairn_keyring_new(key, (size_t)kl, &r), 0);
        cairn_buf out;
        cairn_buf_init(&out, BIG);
        if (strncmp(line, "udp ", 4) == 0) {
            long cl = wfv_field(line, "ct", &ct);
            assert_int_equal(cairn__keyring_decrypt(r, NULL, 0, ct, (size_t)cl, &out, NULL), 0);
            assert_int_equal(out.len, pl);
            assert_memory_equal(out.data, pt, (size_t)pl);
            /* with a wrong key first in the ring it still works (all keys tried) */
            cairn_keyring *r2;
            assert_int_equal(cairn_keyring_new(K2, 24, &r2), 0);
            cairn_buf_reset(&out);
            cairn_diag d;
            cairn_diag_clear(&d);
            assert_int_equal(cairn__keyring_decrypt(r2, NULL, 0, ct, (size_t)cl, &out, &d),
                             CAIRN_EAUTH);
            assert_non_null(strstr(d.msg, "no installed key"));
            assert_int_equal(cairn_keyring_add(r2, key, (size_t)kl), 0);
            assert_int_equal(cairn__keyring_decrypt(r2, NULL, 0, ct, (size_t)cl, &out, NULL), 0);
            assert_int_equal(out.len, pl);
            cairn_keyring_delete(r2);
            free(ct);
            udp++;
        } else if (strncmp(line, "stream ", 7) == 0) {
            long fl = wfv_field(line, "frame", &ct);
            assert_int_equal(ct[0], 0x0a);
            size_t body = (size_t)ct[1] << 24 | (size_t)ct[2] << 16 | (size_t)ct[3] << 8 | ct[4];
            assert_int_equal(body + 5, fl);
            assert_int_equal(cairn__keyring_decrypt(r, ct, 5, ct + 5, body, &out, NULL), 0);
            assert_int_equal(out.len, pl);
            assert_memory_equal(out.data, pt, (size_t)pl);
            /* TCP AAD rule: without the header as AAD it fails */
            cairn_buf_reset(&out);
            assert_int_equal(cairn__keyring_decrypt(r, NULL, 0, ct + 5, body, &out, NULL),
                             CAIRN_EAUTH);
            free(ct);
            stream++;
        } else if (strncmp(line, "fixednonce ", 11) == 0) {
            long cl = wfv_field(line, "ct", &ct);
            assert_int_equal(cairn__keyring_encrypt_nonce(r, 1, (const uint8_t *)"nonce-twelve",
                                                          NULL, 0, pt, (size_t)pl, &out),
                             0);
            assert_int_equal(out.len, cl);
            assert_memory_equal(out.data, ct, (size_t)cl);
            free(ct);
            fixed++;
        }
        cairn_buf_destroy(&out);
        cairn_keyring_delete(r);
        free(key);
        free(pt);
    }
    fclose(f);
    assert_int_equal(udp, 4);
    assert_int_equal(stream, 1);
    assert_int_equal(fixed, 1);
}

static void test_hostile(void **state)
{
    (void)state;
    cairn_keyring *r;
    assert_int_equal(cairn_keyring_new(K3, 32, &r), 0);
    const char *msg = "hello";
    cairn_buf ct, pt;
    cairn_buf_init(&ct, BIG);
    cairn_buf_init(&pt, BIG);
    assert_int_equal(cairn__keyring_encrypt(r, 1, NULL, 0, (const uint8_t *)msg, 5, &ct), 0);
    cairn_diag d;
    /* every single-bit flip is rejected (tag, nonce, ciphertext, version) */
    for (size_t i = 0; i < ct.len; i++) {
        for (int b = 0; b < 8; b++) {
            ct.data[i] ^= (uint8_t)(1 << b);
            cairn_buf_reset(&pt);
            int e = cairn__keyring_decrypt(r, NULL, 0, ct.data, ct.len, &pt, NULL);
            assert_true(e == CAIRN_EAUTH || e == CAIRN_EPROTO);
            assert_int_equal(pt.len, 0);
            ct.data[i] ^= (uint8_t)(1 << b);
        }
    }
    /* every truncation is rejected; too-short ones with a clear diag */
    for (size_t n = 0; n < ct.len; n++) {
        cairn_diag_clear(&d);
        int e = cairn__keyring_decrypt(r, NULL, 0, ct.data, n, &pt, &d);
        assert_true(e == CAIRN_EPROTO || e == CAIRN_EAUTH);
        if (n > 0 && n < 29)
            assert_non_null(strstr(d.msg, "need at least 29"));
    }
    cairn_diag_clear(&d);
    uint8_t v2[40] = {2};
    assert_int_equal(cairn__keyring_decrypt(r, NULL, 0, v2, sizeof v2, &pt, &d), CAIRN_EPROTO);
    assert_string_equal(d.msg, "decrypt: unsupported encryption version 2");
    /* v0 needs 45 bytes */
    uint8_t v0[44] = {0};
    cairn_diag_clear(&d);
    assert_int_equal(cairn__keyring_decrypt(r, NULL, 0, v0, sizeof v0, &pt, &d), CAIRN_EPROTO);
    assert_non_null(strstr(d.msg, "need at least 45"));
    /* AAD mismatch */
    cairn_buf_reset(&ct);
    uint8_t hdr[5] = {0x0a, 0, 0, 0, 34};
    assert_int_equal(cairn__keyring_encrypt(r, 1, hdr, 5, (const uint8_t *)msg, 5, &ct), 0);
    hdr[4] = 35;
    assert_int_equal(cairn__keyring_decrypt(r, hdr, 5, ct.data, ct.len, &pt, NULL), CAIRN_EAUTH);
    hdr[4] = 34;
    cairn_buf_reset(&pt);
    assert_int_equal(cairn__keyring_decrypt(r, hdr, 5, ct.data, ct.len, &pt, NULL), 0);
    assert_int_equal(pt.len, 5);
    /* output limit */
    cairn_buf small;
    cairn_buf_init(&small, 10);
    assert_int_equal(cairn__keyring_encrypt(r, 1, NULL, 0, (const uint8_t *)msg, 5, &small),
                     CAIRN_ELIMIT);
    cairn_buf_destroy(&small);
    /* empty ring */
    cairn_keyring *e;
    assert_int_equal(cairn_keyring_new(NULL, 0, &e), 0);
    assert_int_equal(cairn__keyring_encrypt(e, 1, NULL, 0, (const uint8_t *)msg, 5, &pt),
                     CAIRN_ENOENT);
    assert_int_equal(cairn__keyring_decrypt(e, hdr, 5, ct.data, ct.len, &pt, NULL), CAIRN_ENOENT);
    cairn_keyring_delete(e);
    cairn_buf_destroy(&ct);
    cairn_buf_destroy(&pt);
    cairn_keyring_delete(r);
}

/* Build a three-key ring and round-trip a message through it. */
static int keyring_attempt(void *ctx)
{
    (void)ctx;
    cairn_keyring *r = NULL;
    cairn_buf ct, pt;
    cairn_buf_init(&ct, BIG);
    cairn_buf_init(&pt, BIG);
    int e = cairn_keyring_new(K1, 16, &r);
    if (e == 0)
        e = cairn_keyring_add(r, K2, 24);
    if (e == 0)
        e = cairn_keyring_add(r, K3, 32);
    if (e == 0)
        e = cairn__keyring_encrypt(r, 1, NULL, 0, K3, 32, &ct);
    if (e == 0)
        e = cairn__keyring_decrypt(r, NULL, 0, ct.data, ct.len, &pt, NULL);
    cairn_keyring_delete(r);
    cairn_buf_destroy(&ct);
    cairn_buf_destroy(&pt);
    return e;
}

/* The nonce of one v1 packet (bytes 1..12). */
static void seal_nonce(cairn_keyring *r, uint8_t nonce[CAIRN_KEYRING_NONCE_SIZE])
{
    cairn_buf ct;
    cairn_buf_init(&ct, BIG);
    assert_int_equal(cairn__keyring_encrypt(r, 1, NULL, 0, (const uint8_t *)"x", 1, &ct), 0);
    memcpy(nonce, ct.data + 1, CAIRN_KEYRING_NONCE_SIZE);
    cairn_buf_destroy(&ct);
}

static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, CAIRN_KEYRING_NONCE_SIZE);
}

static void test_nonces_fresh(void **state)
{
    (void)state;
    enum { N = 5000 }; /* about 15 refills of the 340-nonce page */
    static uint8_t seen[N][CAIRN_KEYRING_NONCE_SIZE];
    cairn_keyring *r;
    assert_int_equal(cairn_keyring_new(K1, 16, &r), 0);
    for (int i = 0; i < N; i++)
        seal_nonce(r, seen[i]);
    qsort(seen, N, CAIRN_KEYRING_NONCE_SIZE, cmp_nonce);
    for (int i = 1; i < N; i++)
        assert_true(cmp_nonce(seen[i - 1], seen[i]) != 0);
    static const uint8_t zero[CAIRN_KEYRING_NONCE_SIZE];
    assert_true(cmp_nonce(seen[0], zero) != 0 && cmp_nonce(seen[N - 1], zero) != 0);
    cairn_keyring_delete(r);
}

/* A forked child must not take the parent's next buffered nonce: the two
 * would seal different packets under one key and nonce (GCM's forbidden
 * case). The child reports its next nonces through a pipe. */
static void test_nonce_after_fork(void **state)
{
    (void)state;
    enum { K = 4 };
    cairn_keyring *r;
    assert_int_equal(cairn_keyring_new(K1, 16, &r), 0);
    uint8_t first[CAIRN_KEYRING_NONCE_SIZE];
    seal_nonce(r, first); /* the pool is filled now */
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t n[K][CAIRN_KEYRING_NONCE_SIZE];
        for (int i = 0; i < K; i++)
            seal_nonce(r, n[i]);
        _exit(write(fd[1], n, sizeof n) == (ssize_t)sizeof n ? 0 : 1);
    }
    close(fd[1]);
    uint8_t child[K][CAIRN_KEYRING_NONCE_SIZE], parent[K][CAIRN_KEYRING_NONCE_SIZE];
    size_t got = 0;
    while (got < sizeof child) {
        ssize_t n = read(fd[0], (uint8_t *)child + got, sizeof child - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < K; i++)
        seal_nonce(r, parent[i]);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            assert_true(cmp_nonce(child[i], parent[j]) != 0);
    cairn_keyring_delete(r);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    assert_true(alloc_sweep(keyring_attempt, NULL, 0, 1000) >= 1);
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_round_trip_all_sizes),
        cmocka_unit_test(test_go_vectors),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_nonces_fresh),
        cmocka_unit_test(test_nonce_after_fork),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
