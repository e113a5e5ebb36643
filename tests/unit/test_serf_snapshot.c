/* serf's snapshot lines (cairn__serf_snap_line): Serf's format exactly,
 * names with spaces (the last space splits), IPv6 [addr]:port, clocks as
 * Go's ParseUint (digits only, no overflow), not-alive, comments and
 * coordinate lines ignored, `leave` resetting unless rejoin_after_leave,
 * torn/overlong/garbage lines refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cairn/cairn.h"
#include "serf/serf_internal.h"

static int line(struct serf_snap_state *st, const char *l)
{
    char why[160];
    int r = cairn__serf_snap_line(st, l, strlen(l), 0, why, sizeof(why));
    if (r < 0)
        assert_true(why[0] != '\0');
    return r;
}

static const struct serf_snap_node *get(struct serf_snap_state *st, const char *name)
{
    return cairn__ml_strmap_get(&st->alive, name);
}

static void test_alive_lines(void **state)
{
    (void)state;
    struct serf_snap_state st;
    cairn__serf_snap_state_init(&st, 16, false);
    assert_int_equal(line(&st, "alive: n1 10.0.0.1:7946"), 0);
    assert_int_equal(line(&st, "alive: my node  name 10.0.0.2:7000"), 0);
    assert_int_equal(line(&st, "alive: v6 [fd00::7]:7946"), 0);
    assert_int_equal(st.alive.len, 3);
    const struct serf_snap_node *n = get(&st, "my node  name");
    assert_non_null(n);
    assert_int_equal(n->addr.port, 7000);
    n = get(&st, "v6");
    assert_non_null(n);
    assert_int_equal(n->addr.family, 6);
    char s[CAIRN_ADDR_STRLEN];
    assert_string_equal(cairn_addr_format(&n->addr, true, s, sizeof(s)), "[fd00::7]:7946");
    /* Re-alive moves it. */
    assert_int_equal(line(&st, "alive: n1 10.0.0.9:1"), 0);
    assert_int_equal(get(&st, "n1")->addr.port, 1);
    assert_int_equal(line(&st, "not-alive: my node  name"), 0);
    assert_null(get(&st, "my node  name"));
    assert_int_equal(line(&st, "not-alive: unknown"), 0);
    /* Refused. */
    assert_int_equal(line(&st, "alive: nospace"), CAIRN_EPARSE);
    assert_int_equal(line(&st, "alive: n 10.0.0.1"), CAIRN_EPARSE);
    assert_int_equal(line(&st, "alive: n fd00::1:80"), CAIRN_EPARSE);
    assert_int_equal(line(&st, "alive:  10.0.0.1:80"), CAIRN_EPARSE);
    assert_int_equal(line(&st, "alive:n 10.0.0.1:80"), CAIRN_EPARSE);
    assert_int_equal(st.alive.len, 2);
    cairn__serf_snap_state_destroy(&st);
}

static void test_clock_lines(void **state)
{
    (void)state;
    struct serf_snap_state st;
    cairn__serf_snap_state_init(&st, 16, false);
    assert_int_equal(line(&st, "clock: 5"), 0);
    assert_int_equal(line(&st, "event-clock: 18446744073709551615"), 0);
    assert_int_equal(line(&st, "query-clock: 0"), 0);
    assert_int_equal(st.clock, 5);
    assert_int_equal(st.event_clock, UINT64_MAX);
    assert_int_equal(st.query_clock, 0);
    assert_int_equal(line(&st, "clock: 18446744073709551616"), CAIRN_EPARSE);
    assert_int_equal(line(&st, "clock: -1"), CAIRN_EPARSE);
    assert_int_equal(line(&st, "clock: 1 "), CAIRN_EPARSE);
    assert_int_equal(line(&st, "clock: "), CAIRN_EPARSE);
    assert_int_equal(line(&st, "clock:5"), CAIRN_EPARSE);
    assert_int_equal(st.clock, 5);
    /* Ignored, accepted. */
    assert_int_equal(line(&st, "# hi"), 0);
    assert_int_equal(line(&st, "coordinate: {\"Vec\":[0]}"), 0);
    assert_int_equal(line(&st, ""), CAIRN_EPARSE);
    assert_int_equal(line(&st, "leaves"), CAIRN_EPARSE);
    char why[160];
    assert_int_equal(cairn__serf_snap_line(&st, "clock: 9", 8, CAIRN_EOF, why, sizeof(why)),
                     CAIRN_EPARSE);
    assert_non_null(strstr(why, "torn"));
    assert_int_equal(cairn__serf_snap_line(&st, "clock: 9", 8, CAIRN_ELIMIT, why, sizeof(why)),
                     CAIRN_EPARSE);
    assert_int_equal(cairn__serf_snap_line(&st, "clock: 9\0x", 10, 0, why, sizeof(why)),
                     CAIRN_EPARSE);
    assert_int_equal(st.clock, 5);
    cairn__serf_snap_state_destroy(&st);
}

static void test_leave(void **state)
{
    (void)state;
    for (int rejoin = 0; rejoin < 2; rejoin++) {
        struct serf_snap_state st;
        cairn__serf_snap_state_init(&st, 16, rejoin);
        assert_int_equal(line(&st, "alive: a 1.2.3.4:5"), 0);
        assert_int_equal(line(&st, "clock: 7"), 0);
        assert_int_equal(line(&st, "event-clock: 8"), 0);
        assert_int_equal(line(&st, "leave"), 0);
        assert_true(st.saw_leave);
        assert_int_equal(st.alive.len, rejoin ? 1 : 0);
        assert_int_equal(st.clock, rejoin ? 7 : 0);
        assert_int_equal(st.event_clock, rejoin ? 8 : 0);
        /* Lines after a leave count again (a later restart). */
        assert_int_equal(line(&st, "alive: b 1.2.3.4:6"), 0);
        assert_int_equal(st.alive.len, rejoin ? 2 : 1);
        cairn__serf_snap_state_destroy(&st);
    }
}

static void test_table_cap(void **state)
{
    (void)state;
    struct serf_snap_state st;
    cairn__serf_snap_state_init(&st, 2, false);
    assert_int_equal(line(&st, "alive: a 1.2.3.4:5"), 0);
    assert_int_equal(line(&st, "alive: b 1.2.3.4:5"), 0);
    assert_int_equal(line(&st, "alive: c 1.2.3.4:5"), CAIRN_ELIMIT);
    assert_int_equal(st.alive.len, 2);
    cairn__serf_snap_state_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alive_lines),
        cmocka_unit_test(test_clock_lines),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_table_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
