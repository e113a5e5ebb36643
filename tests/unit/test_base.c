/* Unit tests for src/base: errors, diagnostics, allocator hooks, rng, addr,
 * bounded buffers, time conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <errno.h>
#include <math.h>

#include "cairn/cairn.h"
#include "base/alloc_test.h"
#include "base/base64.h"
#include "base/utf8.h"

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(cairn_err_name(CAIRN_EINVAL), "EINVAL");
    assert_string_equal(cairn_strerror(CAIRN_ENOMEM), "out of memory");
    assert_string_equal(cairn_err_name(0), "OK");
    assert_string_equal(cairn_err_name(-9999), "UNKNOWN");
    assert_string_equal(cairn_strerror(-9999), "unknown error");
    assert_int_equal(cairn_err_from_errno(ECONNREFUSED), CAIRN_ECONNREFUSED);
    assert_int_equal(cairn_err_from_errno(-ETIMEDOUT), CAIRN_ETIMEDOUT);
    assert_int_equal(cairn_err_from_errno(ENOTTY), CAIRN_EIO);
}

static void test_diag_first_error_sticks(void **state)
{
    (void)state;
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(
        cairn_diag_set(&d, CAIRN_EPROTO, "alive: meta is %d bytes, limit %d", 600, 512),
        CAIRN_EPROTO);
    assert_int_equal(cairn_diag_set(&d, CAIRN_EINVAL, "second"), CAIRN_EINVAL);
    assert_string_equal(d.msg, "alive: meta is 600 bytes, limit 512");
    assert_int_equal(d.err, CAIRN_EPROTO);
    assert_int_equal(cairn_diag_set(NULL, CAIRN_EINVAL, "x"), CAIRN_EINVAL);
}

static void test_alloc_fail_nth(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    void *a = cairn_malloc(10);
    assert_non_null(a);
    assert_int_equal(cairn__test_alloc_live(), 1);
    cairn__test_alloc_fail_after(1);
    void *b = cairn_malloc(10);
    assert_non_null(b);
    void *c = cairn_malloc(10);
    assert_null(c);
    assert_true(cairn__test_alloc_failed());
    void *d = cairn_malloc(10);
    assert_non_null(d);
    cairn_free(a);
    cairn_free(b);
    cairn_free(d);
    assert_int_equal(cairn__test_alloc_live(), 0);
    assert_null(cairn_calloc(SIZE_MAX / 2, 4));
    cairn__test_alloc_uninstall();
}

static void test_rng_deterministic_and_uniform(void **state)
{
    (void)state;
    cairn_rng a, b;
    cairn_rng_init(&a, 42);
    cairn_rng_init(&b, 42);
    for (int i = 0; i < 100; i++)
        assert_true(cairn_rng_u64(&a) == cairn_rng_u64(&b));
    int counts[6] = {0};
    for (int i = 0; i < 60000; i++)
        counts[cairn_rng_below(&a, 6)]++;
    for (int i = 0; i < 6; i++)
        assert_true(counts[i] > 9000 && counts[i] < 11000);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double x = cairn_rng_normal(&a);
        sum += x;
        sq += x * x;
    }
    assert_true(fabs(sum / 100000) < 0.02);
    assert_true(fabs(sq / 100000 - 1.0) < 0.03);
    assert_int_equal(cairn_rng_below(&a, 0), 0);
}

static void test_addr_parse_format(void **state)
{
    (void)state;
    cairn_addr a;
    char s[CAIRN_ADDR_STRLEN];
    assert_int_equal(cairn_addr_parse("127.0.0.1:7946", 0, &a), 0);
    assert_int_equal(a.family, 4);
    assert_int_equal(a.port, 7946);
    assert_string_equal(cairn_addr_format(&a, true, s, sizeof(s)), "127.0.0.1:7946");
    assert_int_equal(cairn_addr_parse("[fd00::2]:7950", 0, &a), 0);
    assert_int_equal(a.family, 6);
    assert_string_equal(cairn_addr_format(&a, true, s, sizeof(s)), "[fd00::2]:7950");
    assert_string_equal(cairn_addr_format(&a, false, s, sizeof(s)), "fd00::2");
    assert_int_equal(cairn_addr_parse("fd00::2", 8302, &a), 0);
    assert_int_equal(a.port, 8302);
    assert_int_equal(cairn_addr_parse("127.0.0.1", 0, &a), CAIRN_EINVAL);
    assert_int_equal(cairn_addr_parse("127.0.0.1:0", 0, &a), CAIRN_EINVAL);
    assert_int_equal(cairn_addr_parse("127.0.0.1:65536", 0, &a), CAIRN_EINVAL);
    assert_int_equal(cairn_addr_parse("127.0.0.1: 80", 0, &a), CAIRN_EINVAL);
    assert_int_equal(cairn_addr_parse("host:80", 0, &a), CAIRN_EINVAL);
    assert_int_equal(cairn_addr_parse("[1.2.3.4]:80", 0, &a), CAIRN_EINVAL);
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    assert_int_equal(cairn_addr_from_ip(mapped, 16, 80, &a), 0);
    assert_int_equal(a.family, 4);
    assert_string_equal(cairn_addr_format(&a, true, s, sizeof(s)), "10.1.2.3:80");
    assert_int_equal(cairn_addr_from_ip(mapped, 5, 80, &a), CAIRN_EINVAL);
    cairn_join_host_port("::1", 8302, s, sizeof(s));
    assert_string_equal(s, "[::1]:8302");
    cairn_join_host_port("10.0.0.1", 8302, s, sizeof(s));
    assert_string_equal(s, "10.0.0.1:8302");
}

static void test_buf_limit(void **state)
{
    (void)state;
    cairn_buf b;
    cairn_buf_init(&b, 100);
    uint8_t x[60] = {1};
    assert_int_equal(cairn_buf_append(&b, x, 60), 0);
    assert_int_equal(cairn_buf_append(&b, x, 60), CAIRN_ELIMIT);
    assert_int_equal(b.len, 60);
    assert_int_equal(cairn_buf_append(&b, x, 40), 0);
    assert_int_equal(b.len, 100);
    cairn_buf_consume(&b, 30);
    assert_int_equal(b.len, 70);
    assert_int_equal(cairn_buf_reserve(&b, SIZE_MAX), CAIRN_ELIMIT);
    cairn_buf_destroy(&b);
}

static void test_time_seconds(void **state)
{
    (void)state;
    assert_true(cairn_time_seconds(10 * CAIRN_MSEC) == 0.010);
    assert_true(cairn_time_seconds(2 * CAIRN_MSEC) == 0.002);
    assert_true(cairn_time_from_seconds(1.5) == 1500 * CAIRN_MSEC);
    assert_true(cairn_time_from_seconds(1e300) == INT64_MAX);
    assert_true(cairn_time_from_seconds(NAN) == 0);
}

static void test_log_levels(void **state)
{
    (void)state;
    int lvl;
    assert_int_equal(cairn_log_level_parse("WARNING", &lvl), 0);
    assert_int_equal(lvl, CAIRN_LOG_WARN);
    assert_int_equal(cairn_log_level_parse("loud", &lvl), CAIRN_EINVAL);
    assert_string_equal(cairn_log_level_name(CAIRN_LOG_DEBUG), "debug");
}

/* UTF-8 repair: one U+FFFD per maximal invalid subpart, NUL too; valid
 * text unchanged; the output never splits a character. */
/* One base64 for the library and the program (RFC 4648 test vectors;
 * strict decoding like Go's StdEncoding). */
static void test_base64(void **state)
{
    (void)state;
    static const char *vec[][2] = {{"", ""},
                                   {"f", "Zg=="},
                                   {"fo", "Zm8="},
                                   {"foo", "Zm9v"},
                                   {"foob", "Zm9vYg=="},
                                   {"fooba", "Zm9vYmE="},
                                   {"foobar", "Zm9vYmFy"}};
    char out[16];
    uint8_t raw[16];
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        size_t n = strlen(vec[i][0]);
        assert_int_equal(cairn__base64_encode((const uint8_t *)vec[i][0], n, out),
                         strlen(vec[i][1]));
        assert_int_equal(strlen(vec[i][1]), CAIRN__BASE64_LEN(n));
        assert_string_equal(out, vec[i][1]);
        assert_int_equal(cairn__base64_decode(vec[i][1], raw, sizeof raw), (int)n);
        assert_memory_equal(raw, vec[i][0], n);
    }
    uint8_t all[256];
    char b64[CAIRN__BASE64_LEN(256) + 1];
    uint8_t back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)(255 - i);
    cairn__base64_encode(all, sizeof all, b64);
    assert_int_equal(cairn__base64_decode(b64, back, sizeof back), 256);
    assert_memory_equal(all, back, 256);
    assert_int_equal(cairn__base64_decode(b64, back, 255), -1);
    static const char *bad[] = {"Zg=", "Zg", "Z===", "Zg=a", "Zm9v\n", "Zm 9", "Zg==Zg==", "-_=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cairn__base64_decode(bad[i], raw, sizeof raw), -1);
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "plain"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"bad\xffname", 8, "bad\xef\xbf\xbdname"},
        {"\xe2\x82"
         "A",
         3,
         "\xef\xbf\xbd"
         "A"},                                                       /* truncated sequence: one */
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong: C0 never leads */
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\0b", 3,
         "a\xef\xbf\xbd"
         "b"},
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = cairn__utf8_sanitize(cases[i].in, cases[i].len, out, sizeof out);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
        assert_true(cairn__utf8_valid(out, n));
        assert_int_equal(cairn__utf8_valid(cases[i].in, cases[i].len),
                         strcmp(cases[i].in, cases[i].out) == 0 &&
                             strlen(cases[i].in) == cases[i].len);
    }
    /* Cut output: whole characters only, the full length returned. */
    char small[6];
    assert_int_equal(cairn__utf8_sanitize("ab\xff"
                                          "cd",
                                          5, small, sizeof small),
                     7);
    assert_string_equal(small, "ab\xef\xbf\xbd");
    assert_int_equal(cairn__utf8_sanitize("ab\xff"
                                          "cd",
                                          5, small, 4),
                     7);
    assert_string_equal(small, "ab");
    assert_int_equal(cairn__utf8_sanitize("x", 1, NULL, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_diag_first_error_sticks),
        cmocka_unit_test(test_alloc_fail_nth),
        cmocka_unit_test(test_rng_deterministic_and_uniform),
        cmocka_unit_test(test_addr_parse_format),
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_time_seconds),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
