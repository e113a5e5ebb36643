/* Unit tests of the serf CLI text helpers (src/cli/serf_fmt.c): columnize,
 * Go durations, tag splitting, %q quoting. The file is compiled in
 * here: the helpers belong to the `cairn` program, not to the library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/serf_fmt.c"

static void check_columns(const char *const *lines, size_t n, const char *want)
{
    char *got = cairn__cli_columnize(lines, n);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_columnize(void **state)
{
    (void)state;
    /* serf members: every column but the last padded, two spaces of glue. */
    const char *members[] = {"a|127.0.0.1:7946|alive|role=web,dc=lab",
                             "bb|127.0.0.1:17947|failed|role=db"};
    check_columns(members, 2,
                  "a   127.0.0.1:7946   alive   role=web,dc=lab\n"
                  "bb  127.0.0.1:17947  failed  role=db");
    /* Cells are trimmed; an empty last cell leaves the glue (as Go does). */
    const char *keys[] = {"failed: | a | No keyring", "failed: | bbb | x"};
    check_columns(keys, 2, "failed:  a    No keyring\nfailed:  bbb  x");
    const char *trailing[] = {"a|"};
    check_columns(trailing, 1, "a  ");
    /* Widths count UTF-8 characters, not bytes. */
    const char *utf[] = {"\xc3\xa9t\xc3\xa9|x", "abcd|y"};
    check_columns(utf, 2, "\xc3\xa9t\xc3\xa9   x\nabcd  y");
    check_columns(NULL, 0, "");
    /* Lines of different lengths use the widths of the columns they have. */
    const char *ragged[] = {"a|b|c", "long|x"};
    check_columns(ragged, 2, "a     b  c\nlong  x");
}

static void test_duration(void **state)
{
    (void)state;
    cairn_time t;
    assert_true(cairn__cli_parse_duration("2s", &t));
    assert_int_equal(t, 2 * CAIRN_SEC);
    assert_true(cairn__cli_parse_duration("500ms", &t));
    assert_int_equal(t, 500 * CAIRN_MSEC);
    assert_true(cairn__cli_parse_duration("1m30s", &t));
    assert_int_equal(t, 90 * CAIRN_SEC);
    assert_true(cairn__cli_parse_duration("1h", &t));
    assert_int_equal(t, 3600 * CAIRN_SEC);
    assert_true(cairn__cli_parse_duration("1.5s", &t));
    assert_int_equal(t, 1500 * CAIRN_MSEC);
    assert_true(cairn__cli_parse_duration("10us", &t));
    assert_int_equal(t, 10000);
    assert_true(cairn__cli_parse_duration("0", &t));
    assert_int_equal(t, 0);
    assert_true(cairn__cli_parse_duration("2.5", &t)); /* plain seconds */
    assert_int_equal(t, 2500 * CAIRN_MSEC);
    assert_false(cairn__cli_parse_duration("", &t));
    assert_false(cairn__cli_parse_duration("s", &t));
    assert_false(cairn__cli_parse_duration("2x", &t));
    assert_false(cairn__cli_parse_duration("-1s", &t));
    assert_false(cairn__cli_parse_duration("1e30s", &t));
    assert_false(cairn__cli_parse_duration(".s", &t));
}

static void test_split_tag(void **state)
{
    (void)state;
    size_t k;
    assert_true(cairn__cli_split_tag("role=web", &k));
    assert_int_equal(k, 4);
    assert_true(cairn__cli_split_tag("a=b=c", &k));
    assert_int_equal(k, 1);
    assert_true(cairn__cli_split_tag("empty=", &k));
    assert_int_equal(k, 5);
    assert_false(cairn__cli_split_tag("=web", &k));
    assert_false(cairn__cli_split_tag("noequals", &k));
}

static void test_quote(void **state)
{
    (void)state;
    char out[64];
    cairn__cli_quote("zz", out, sizeof out);
    assert_string_equal(out, "\"zz\"");
    cairn__cli_quote("a\"b\\c\n\x01", out, sizeof out);
    assert_string_equal(out, "\"a\\\"b\\\\c\\n\\x01\"");
    cairn__cli_quote("long name", out, 6);
    assert_int_equal(strlen(out), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columnize),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_split_tag),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
