/* memberlist over real sockets: five members on 127.0.0.1 (libuv loop,
 * ephemeral ports, fast timers as memberlist's integ_test.go uses) join
 * through one seed, converge to full membership, detect a member that
 * stops without leaving, and see a graceful leave as "left". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "slowdown.h"
#include "cairn/memberlist.h"

#define N 5

struct node {
    cairn_memberlist *ml;
    int joins, leaves;
};

static void on_join(void *ud, const cairn_ml_node *n)
{
    (void)n;
    ((struct node *)ud)->joins++;
}
static void on_leave(void *ud, const cairn_ml_node *n)
{
    (void)n;
    ((struct node *)ud)->leaves++;
}

/* Real time: every interval and wait is stretched by the slowdown
 * (valgrind), or the slowed nodes suspect each other and rejoin. */
static void run_ms(uv_loop_t *uv, int ms)
{
    uint64_t end = uv_now(uv) + (uint64_t)ms * (uint64_t)cairn_test_slowdown();
    while (uv_now(uv) < end) {
        uv_run(uv, UV_RUN_ONCE);
        uv_update_time(uv);
    }
}

static int count_state(cairn_memberlist *ml, const char *name, int state)
{
    cairn_ml_node n;
    return cairn_memberlist_get_node(ml, name, &n) == 0 && n.state == state;
}

static int join_done_status = 1;
static void on_joined(cairn_memberlist *ml, int status, int count, void *ud)
{
    (void)ml;
    (void)ud;
    (void)count;
    join_done_status = status;
}

static int left_status = 1;
static void on_left(cairn_memberlist *ml, int status, int count, void *ud)
{
    (void)ml;
    (void)ud;
    (void)count;
    left_status = status;
}

static void test_uv_cluster(void **state)
{
    (void)state;
    uv_loop_t uv;
    assert_int_equal(uv_loop_init(&uv), 0);
    /* A handle to close at the end (checks the loop winds down cleanly). */
    uv_timer_t tick;
    uv_timer_init(&uv, &tick);
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_uv(&uv, &loop), 0);
    struct node nodes[N] = {0};
    char names[N][16];
    cairn_addr seed = {0};
    for (int i = 0; i < N; i++) {
        cairn_memberlist_config c;
        cairn_memberlist_config_local(&c);
        snprintf(names[i], sizeof(names[i]), "uv%d", i);
        c.name = names[i];
        assert_int_equal(cairn_addr_parse_ip("127.0.0.1", 0, &c.bind), 0);
        const cairn_time slow = cairn_test_slowdown();
        c.probe_interval = 50 * CAIRN_MSEC * slow;
        c.probe_timeout = 20 * CAIRN_MSEC * slow;
        c.gossip_interval = 20 * CAIRN_MSEC * slow;
        c.push_pull_interval = 200 * CAIRN_MSEC * slow;
        c.tcp_timeout *= slow;
        c.gossip_to_the_dead_time *= slow; /* dead members are forgotten after it */
        c.suspicion_mult = 1;
        c.seed = 100 + (uint64_t)i;
        cairn_memberlist_delegate d = {
            .notify_join = on_join, .notify_leave = on_leave, .userdata = &nodes[i]};
        int rc = cairn_memberlist_new(loop, &c, &d, NULL, NULL, &nodes[i].ml);
        if (rc)
            printf("new: %s\n", cairn_err_name(rc));
        assert_int_equal(rc, 0);
        cairn_ml_node me;
        cairn_memberlist_local_node(nodes[i].ml, &me);
        assert_int_not_equal(me.addr.port, 0);
        if (i == 0)
            seed = me.addr;
        else
            assert_int_equal(
                cairn_memberlist_join(nodes[i].ml, &seed, 1, i == 1 ? on_joined : NULL, NULL), 0);
    }
    run_ms(&uv, 1500);
    assert_int_equal(join_done_status, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(cairn_memberlist_num_members(nodes[i].ml), N);
        assert_int_equal(nodes[i].joins, N); /* everybody, self included */
    }
    /* uv4 stops without a word: the others must declare it dead. */
    cairn_memberlist_delete(nodes[4].ml);
    nodes[4].ml = NULL;
    run_ms(&uv, 3000);
    for (int i = 0; i < 4; i++)
        assert_true(count_state(nodes[i].ml, "uv4", CAIRN_ML_DEAD));
    /* uv3 leaves gracefully: seen as left. */
    assert_int_equal(
        cairn_memberlist_leave(nodes[3].ml, CAIRN_SEC * cairn_test_slowdown(), on_left, NULL), 0);
    run_ms(&uv, 1200);
    assert_int_equal(left_status, 0);
    for (int i = 0; i < 3; i++)
        assert_true(count_state(nodes[i].ml, "uv3", CAIRN_ML_LEFT));
    for (int i = 0; i < N; i++)
        cairn_memberlist_delete(nodes[i].ml);
    uv_close((uv_handle_t *)&tick, NULL);
    cairn_loop_delete(loop);
    uv_run(&uv, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&uv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uv_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
