/* Unit tests for src/base/regex: Go's regexp semantics on PCRE2 (syntax,
 * unanchored and whole-subject matching, `$` at the very end only, UTF-8),
 * invalid and oversized expressions, and the bounds a hostile expression
 * meets: the expressions that cost glibc's regcomp 2^n memory (the fuzzer
 * found one in a 90-byte query), exponential backtracking, huge counted
 * repetitions. Memory is measured through cairn's allocator hooks: the peak
 * of live bytes over compile + match stays within the budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "base/alloc_test.h"
#include "base/regex.h"

/* 1 match, 0 no match, else the error of compile or match. */
static int re(const char *expr, int flags, const char *subject)
{
    cairn__re *r;
    int rc = cairn__re_compile(expr, strlen(expr), flags, &r);
    if (rc != 0) {
        assert_null(r);
        return rc;
    }
    rc = cairn__re_match(r, subject, strlen(subject));
    cairn__re_free(r);
    return rc;
}

/* Expression, flags, subject, expected re(). */
static const struct {
    const char *expr;
    int flags;
    const char *subject;
    int want;
} CASES[] = {
    {"web", 0, "xwebx", 1}, /* unanchored, like MatchString */
    {"^eb", 0, "web", 0},
    {"\\d+\\.\\d+", 0, "v1.12", 1},
    {"\\w\\s\\w", 0, "a b", 1},
    {"(?i)WEB", 0, "web", 1},
    {"a+?b", 0, "aab", 1},
    {"^[[:alpha:]]+$", 0, "abc", 1},
    {"^[[:alpha:]]+$", 0, "ab1", 0},
    {"^b{2,3}$", 0, "bbb", 1},
    {"^b{2,3}$", 0, "bbbb", 0},
    {"^\\pL$", 0, "\xc3\xa9", 1}, /* é is one letter (UTF-8) */
    {"^.$", 0, "\xc3\xa9", 1},
    {"", 0, "", 1},
    {"^$", 0, "", 1},
    /* Go: `$` is the end of the text, not before a final newline; `.`
     * does not match a newline. */
    {"web$", 0, "web\n", 0},
    {"a.b", 0, "a\nb", 0},
    {"(?s)a.b", 0, "a\nb", 1},
    /* An invalid UTF-8 subject still matches where it can. */
    {"abc", 0, "\377abc", 1},
    {"^abc", 0, "\377abc", 0},
    /* Serf RPC's "^" + expr + "$". */
    {"alph", CAIRN__RE_WHOLE, "alpha", 0},
    {"alph.*", CAIRN__RE_WHOLE, "alpha", 1},
    {"fail.*", CAIRN__RE_WHOLE, "failed", 1},
    {"", CAIRN__RE_WHOLE, "", 1},
    {"", CAIRN__RE_WHOLE, "x", 0},
    /* Serf writes it without a group: `a|b` is `^a|b$`. */
    {"a|b", CAIRN__RE_WHOLE, "ax", 1},
    {"a|b", CAIRN__RE_WHOLE, "xb", 1},
    {"a|b", CAIRN__RE_WHOLE, "xbx", 0},
};

static void test_go_semantics(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        int got = re(CASES[i].expr, CASES[i].flags, CASES[i].subject);
        if (got != CASES[i].want)
            fail_msg("case %zu: /%s/ on \"%s\": %d, want %d", i, CASES[i].expr, CASES[i].subject,
                     got, CASES[i].want);
    }
}

static void test_invalid(void **state)
{
    (void)state;
    assert_int_equal(re("(", 0, ""), CAIRN_EINVAL);
    assert_int_equal(re("[a", 0, ""), CAIRN_EINVAL);
    assert_int_equal(re("a{2,1}", 0, ""), CAIRN_EINVAL);
    assert_int_equal(re("\xff", 0, ""), CAIRN_EINVAL); /* not UTF-8 */
    assert_int_equal(re("\\C", 0, ""), CAIRN_EINVAL);  /* one byte inside UTF-8 */
    char *big = malloc(CAIRN__RE_EXPR_MAX + 2);
    memset(big, 'a', CAIRN__RE_EXPR_MAX + 1);
    big[CAIRN__RE_EXPR_MAX + 1] = 0;
    assert_int_equal(re(big, 0, "a"), CAIRN_EINVAL);
    big[CAIRN__RE_EXPR_MAX] = 0;
    assert_int_equal(re(big, 0, big), 1);
    assert_int_equal(re(big, CAIRN__RE_WHOLE, big), 1);
    /* A NUL inside the expression is a literal NUL, as in Go. */
    cairn__re *r;
    assert_int_equal(cairn__re_compile("a\0b", 3, 0, &r), 0);
    assert_int_equal(cairn__re_match(r, "xa\0b", 4), 1);
    assert_int_equal(cairn__re_match(r, "ab", 2), 0);
    cairn__re_free(r);
    cairn__re_free(NULL);
    free(big);
}

/* An allocator that records the peak of live bytes. */
static size_t live_bytes, peak_bytes;

static void *peak_malloc(size_t n, void *ud)
{
    (void)ud;
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    *p = n;
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return (char *)p + 16;
}

static void peak_free(void *ptr, void *ud)
{
    (void)ud;
    if (!ptr)
        return;
    size_t *p = (size_t *)((char *)ptr - 16);
    live_bytes -= *p;
    free(p);
}

static void *peak_realloc(void *ptr, size_t n, void *ud)
{
    void *q = peak_malloc(n, ud);
    if (q && ptr) {
        size_t old = *(size_t *)((char *)ptr - 16);
        memcpy(q, ptr, old < n ? old : n);
        peak_free(ptr, ud);
    }
    return q;
}

/* The peak of live bytes over compile + match of expr on subject; *rc as
 * re() returns it. */
static size_t peak_of(const char *expr, const char *subject, int *rc)
{
    cairn_allocator a = {peak_malloc, peak_realloc, peak_free, NULL};
    live_bytes = peak_bytes = 0;
    assert_int_equal(cairn_set_allocator(&a), 0);
    *rc = re(expr, 0, subject);
    assert_int_equal(cairn_set_allocator(NULL), 0);
    assert_int_equal(live_bytes, 0);
    return peak_bytes;
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t len = strlen(head) + n * strlen(unit) + strlen(tail) + 1;
    char *s = malloc(len);
    strcpy(s, head);
    for (size_t i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, tail);
    return s;
}

static void test_hostile_bounded(void **state)
{
    (void)state;
    /* Budget plus the bookkeeping outside it (the handle, headers). */
    const size_t bound = CAIRN__RE_MEM_MAX + 4096;
    int rc;
    /* The fuzzer's query: `TRACE` and 36 `+`. glibc: 2^36 tree nodes. */
    char *plus = repeat("TRACE", "+", 36, "Prune");
    assert_true(peak_of(plus, "TRACEPrune", &rc) < bound);
    assert_true(rc == 1 || rc == CAIRN_EINVAL);
    /* Nested groups, each repeated: ((((a+)+)+)…)+, 60 deep. */
    char *nest = repeat("", "(", 60, "a");
    char *tail = repeat("", ")+", 60, "");
    char *nested = malloc(strlen(nest) + strlen(tail) + 1);
    strcpy(nested, nest);
    strcat(nested, tail);
    assert_true(peak_of(nested, "aaaa", &rc) < bound);
    assert_true(rc == 1 || rc == CAIRN_EINVAL);
    /* Exponential backtracking on a subject that almost matches (the `c`
     * is there, so PCRE2's required-character check does not end it
     * early): the step limit does. */
    char *as = repeat("", "a", 400, "");
    char *asc = repeat(as, "", 0, "cx");
    assert_true(peak_of("^(a|aa)*c$", asc, &rc) < bound);
    assert_int_equal(rc, CAIRN_ELIMIT);
    assert_true(peak_of("^((a+)+)+c", as, &rc) < bound);
    assert_true(rc == 0 || rc == CAIRN_ELIMIT);
    /* Counted repetitions that multiply: too large for the budget. */
    assert_true(peak_of("((((a{1000}){1000}){1000}){1000})", "a", &rc) < bound);
    assert_int_equal(rc, CAIRN_EINVAL);
    /* Back-references (PCRE2 accepts them; Go does not). */
    assert_true(peak_of("^(a*)*\\1c", as, &rc) < bound);
    assert_true(rc == 0 || rc == CAIRN_ELIMIT);
    /* Deep recursion in the matcher. */
    char *deep = repeat("", "(?:a", 200, "");
    char *close = repeat(deep, ")*", 200, "b");
    assert_true(peak_of(close, as, &rc) < bound);
    assert_true(rc == 0 || rc == CAIRN_ELIMIT || rc == CAIRN_EINVAL);
    free(plus);
    free(nest);
    free(tail);
    free(nested);
    free(as);
    free(asc);
    free(deep);
    free(close);
}

/* Every allocation of compile + match may fail: the result is ENOMEM (or
 * the match), and nothing leaks. */
static void test_alloc_failures(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    for (long n = 0;; n++) {
        cairn__test_alloc_fail_after(n);
        int rc = re("^(web|db)-\\d+$", 0, "web-12");
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        assert_int_equal(cairn__test_alloc_live(), 0);
        if (!failed) {
            assert_int_equal(rc, 1);
            break;
        }
        assert_true(rc == CAIRN_ENOMEM || rc == CAIRN_ELIMIT);
    }
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_semantics),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_hostile_bounded),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
