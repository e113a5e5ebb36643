/* The routing half of the agent (src/agent/routing.c) on the simulator,
 * small cases: configuration checks with the field named, the accessors
 * of an agent with and without a datacenter, the tags a server and a
 * client announce in each pool, a server's own LAN route, and a leave
 * that leaves the WAN pool before the LAN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/agent.h"
#include "base/alloc_test.h"
#include "cairn/sim.h"
#include "sim_seed.h"

static cairn_addr addr(int i, uint16_t port)
{
    char s[32];
    snprintf(s, sizeof(s), "10.1.0.%d", i);
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip(s, port, &a), 0);
    return a;
}

static int make(cairn_loop *loop, cairn_agent_config *cfg, cairn_diag *d, cairn_agent **ret)
{
    cairn_diag_clear(d);
    return cairn_agent_new(loop, cfg, NULL, NULL, NULL, d, ret);
}

static void test_config_checked(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_routing_config", 3), &sim), 0);
    cairn_loop *loop;
    cairn_addr ip = addr(1, 0);
    assert_int_equal(cairn_sim_node_loop(sim, &ip, &loop), 0);
    cairn_agent *a = NULL;
    cairn_diag d;
    cairn_agent_config cfg = {.node = "n1", .bind = addr(1, 8301), .seed = 1, .server = true};
    /* A server needs a datacenter. */
    assert_int_equal(make(loop, &cfg, &d, &a), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "datacenter"));
    /* ... and its RPC port. */
    cfg.datacenter = "dc1";
    assert_int_equal(make(loop, &cfg, &d, &a), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "server_port"));
    /* A tag of the server role may not be set by hand. */
    cairn_tag tags[] = {{"role", "web"}};
    cfg.server_port = 8300;
    cfg.tags = tags;
    cfg.n_tags = 1;
    assert_int_equal(make(loop, &cfg, &d, &a), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "role"));
    /* A build without a version. */
    cfg.n_tags = 0;
    cfg.build = "dev";
    assert_int_equal(make(loop, &cfg, &d, &a), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "build"));
    /* An empty datacenter. */
    cfg.build = NULL;
    cfg.datacenter = "";
    assert_int_equal(make(loop, &cfg, &d, &a), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "datacenter"));
    assert_null(a);
    /* No datacenter: no routing at all. */
    cairn_agent_config plain = {.node = "n1", .bind = addr(1, 8301), .seed = 1};
    assert_int_equal(make(loop, &plain, &d, &a), 0);
    assert_null(cairn_agent_router(a));
    assert_null(cairn_agent_wan_serf(a));
    assert_null(cairn_agent_dc(a));
    assert_false(cairn_agent_is_server(a));
    assert_int_equal(cairn_agent_flood(a), CAIRN_EINVAL);
    cairn_agent_check_routes(a); /* no-op */
    cairn_agent_delete(a);
    cairn_loop_delete(loop);
    cairn_sim_delete(sim);
}

struct tags_seen {
    const char *want_name;
    bool found;
    char role[16], port[16], wan_join_port[16], dc[16];
};

static bool find_member(const cairn_member *m, void *ud)
{
    struct tags_seen *t = ud;
    if (strcmp(m->name, t->want_name) != 0)
        return true;
    t->found = true;
    const char *v;
    snprintf(t->role, sizeof(t->role), "%s", (v = cairn_member_tag(m, "role")) ? v : "-");
    snprintf(t->port, sizeof(t->port), "%s", (v = cairn_member_tag(m, "port")) ? v : "-");
    snprintf(t->dc, sizeof(t->dc), "%s", (v = cairn_member_tag(m, "dc")) ? v : "-");
    snprintf(t->wan_join_port, sizeof(t->wan_join_port), "%s",
             (v = cairn_member_tag(m, "wan_join_port")) ? v : "-");
    return false;
}

static int left_status = 1;

static void on_left(cairn_agent *a, int status, int count, void *ud)
{
    (void)a;
    (void)count;
    (void)ud;
    left_status = status;
}

static void test_server_and_client(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_routing_roles", 5), &sim), 0);
    cairn_loop *l1, *l2;
    cairn_addr ip1 = addr(1, 0), ip2 = addr(2, 0);
    assert_int_equal(cairn_sim_node_loop(sim, &ip1, &l1), 0);
    assert_int_equal(cairn_sim_node_loop(sim, &ip2, &l2), 0);
    cairn_agent *s, *c;
    cairn_diag d;
    cairn_agent_config sc = {.node = "s1",
                             .bind = addr(1, 8301),
                             .wan_bind = addr(1, 8302),
                             .seed = 11,
                             .datacenter = "dc1",
                             .server = true,
                             .server_port = 8300};
    assert_int_equal(make(l1, &sc, &d, &s), 0);
    cairn_agent_config cc = {.node = "c1",
                             .bind = addr(2, 8301),
                             .wan_bind = addr(2, 8302),
                             .seed = 12,
                             .datacenter = "dc1"};
    assert_int_equal(make(l2, &cc, &d, &c), 0);
    assert_true(cairn_agent_is_server(s));
    assert_false(cairn_agent_is_server(c));
    assert_string_equal(cairn_agent_dc(c), "dc1");
    /* The server's own LAN route, at once (it counts itself healthy). */
    cairn_route r;
    assert_int_equal(cairn_router_find_lan_route(cairn_agent_router(s), &r), 0);
    assert_string_equal(r.server.name, "s1");
    /* Tags: the server's LAN member carries wan_join_port, its WAN member
     * is s1.dc1 without it. */
    struct tags_seen t = {.want_name = "s1"};
    cairn_serf_for_each_member(cairn_agent_serf(s), find_member, &t);
    assert_true(t.found);
    assert_string_equal(t.role, "consul");
    assert_string_equal(t.port, "8300");
    assert_string_equal(t.wan_join_port, "8302");
    t = (struct tags_seen){.want_name = "s1.dc1"};
    cairn_serf_for_each_member(cairn_agent_wan_serf(s), find_member, &t);
    assert_true(t.found);
    assert_string_equal(t.dc, "dc1");
    assert_string_equal(t.wan_join_port, "-");
    /* The client joins the LAN only; it finds the WAN through s1. */
    cairn_addr seed = addr(1, 8301);
    assert_int_equal(cairn_agent_join(c, &seed, 1, NULL, NULL), 0);
    cairn_sim_run_for(sim, 10 * CAIRN_SEC);
    t = (struct tags_seen){.want_name = "c1.dc1"};
    cairn_serf_for_each_member(cairn_agent_wan_serf(s), find_member, &t);
    assert_true(t.found);
    assert_string_equal(t.role, "node");
    assert_int_equal(cairn_router_find_route(cairn_agent_router(c), "dc1", &r), 0);
    assert_string_equal(r.server.name, "s1");
    /* A leave leaves the WAN, then the LAN. */
    assert_int_equal(cairn_agent_leave(s, on_left, NULL), 0);
    cairn_sim_run_for(sim, 20 * CAIRN_SEC);
    assert_int_equal(left_status, 0);
    assert_int_equal(cairn_serf_member_status(cairn_agent_wan_serf(c), "s1.dc1"),
                     CAIRN_MEMBER_LEFT);
    assert_int_equal(cairn_serf_member_status(cairn_agent_serf(c), "s1"), CAIRN_MEMBER_LEFT);
    /* The client removed it: no route to dc1 any more. */
    assert_int_not_equal(cairn_router_find_route(cairn_agent_router(c), "dc1", &r), 0);
    cairn_agent_delete(s);
    cairn_agent_delete(c);
    cairn_loop_delete(l1);
    cairn_loop_delete(l2);
    cairn_sim_delete(sim);
}

/* Allocation failures while a server agent starts, runs a second and
 * stops: CAIRN_ENOMEM or success (a failure inside a callback may be
 * absorbed, as serf's are), never a leak or a crash. */
static int server_attempt(void)
{
    cairn_sim *sim = NULL;
    cairn_loop *loop = NULL;
    cairn_agent *a = NULL;
    cairn_addr ip = addr(1, 0);
    int rc = cairn_sim_new(5, &sim);
    if (rc == 0)
        rc = cairn_sim_node_loop(sim, &ip, &loop);
    cairn_agent_config cfg = {.node = "s1",
                              .bind = addr(1, 8301),
                              .wan_bind = addr(1, 8302),
                              .seed = 11,
                              .datacenter = "dc1",
                              .server = true,
                              .server_port = 8300};
    cairn_diag d;
    if (rc == 0)
        rc = make(loop, &cfg, &d, &a);
    if (rc == 0)
        cairn_sim_run_for(sim, CAIRN_SEC);
    cairn_agent_delete(a);
    cairn_loop_delete(loop);
    cairn_sim_delete(sim);
    return rc;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    long n = 0, enomem = 0;
    for (;; n++) {
        cairn__test_alloc_fail_after(n);
        int rc = server_attempt();
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        assert_int_equal(cairn__test_alloc_live(), 0);
        if (!failed) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_true(rc == 0 || rc == CAIRN_ENOMEM);
        enomem += rc == CAIRN_ENOMEM;
        assert_true(n < 20000);
    }
    cairn__test_alloc_uninstall();
    printf("# alloc failures: %ld points, %ld reported CAIRN_ENOMEM\n", n, enomem);
    assert_true(enomem > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checked),
        cmocka_unit_test(test_server_and_client),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
