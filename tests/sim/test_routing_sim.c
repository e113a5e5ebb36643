/* The routing agent on the simulator (issue 12): three datacenters of
 * cairn agents, servers and clients, each with its LAN pool and the WAN
 * pool (servers as "<node>.<dc>", clients as members without server
 * tags), every server listening on its RPC port (8300) so the managers'
 * TCP pings answer as they would in life.
 *
 *  1. Routes: from every agent, every datacenter routes to a live server
 *     of that datacenter. Only the first server of dc2 and dc3 joins the
 *     WAN by hand; every other server gets there by flood joins, every
 *     client through its servers' wan_join_port.
 *  2. Failover: the server that dc2 is routed to (from dc1's first
 *     client) is killed (agent and RPC listener gone, no leave). dc2's
 *     clients remove it from their LAN manager; servers report it failed
 *     in the WAN (rotated, not removed); every route to dc2 moves to a live
 *     server. Bounds, from the memberlist profiles (WAN: probe 5 s, probe
 *     timeout 3 s, suspicion mult 6, max mult 6; LAN: 1 s, 0.5 s, 4, 6):
 *       detection <= 2 (N - 1) probe intervals until some member probes it
 *                    (a round-robin round over N - 1 peers, reshuffled
 *                    between rounds), + probe timeout, + the Lifeguard
 *                    suspicion maximum
 *                    (max_mult * mult * max(1, log10 N) * probe interval);
 *       then gossip of the dead message (a few gossip intervals, 10 s
 *       allowed) and serf's member-event coalescing (3 s).
 *     WAN (N = 15): 140 + 3 + 6*6*1.18*5 (212) + 10 + 3 = 368 s.
 *     LAN (N = 5): 8 + 0.5 + 6*4*1*1 (24) + 10 + 3 = 45.5 s.
 *  3. Flood join: a new server joins dc3's LAN only; it must be in every
 *     WAN member's "wan" area within flood interval (60 s, the periodic
 *     pass; the join-triggered pass is usually first) + member-event
 *     coalescing (3 s) + join and gossip (10 s) = 73 s.
 * The measured times are printed beside the bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/agent.h"
#include "cairn/sim.h"
#include "sim_seed.h"

#define NDC      3
#define NSERVERS 3
#define NCLIENTS 2
#define PER_DC   (NSERVERS + NCLIENTS + 1) /* + the flood-join newcomer */
#define LAN_PORT 8301
#define WAN_PORT 8302
#define RPC_PORT 8300

#define WAN_BOUND   (368 * CAIRN_SEC)
#define LAN_BOUND   (45 * CAIRN_SEC + 500 * CAIRN_MSEC)
#define FLOOD_BOUND (73 * CAIRN_SEC)

struct node {
    cairn_loop *loop;
    cairn_agent *agent;
    cairn_listener *lst;
    char name[16];
    char dcname[8];
    int dc, idx;
    bool server;
    /* Reports: LAN removes and WAN fails of the watched server. */
    int lan_removed, wan_failed;
};

static struct node nodes[NDC][PER_DC];
/* The server whose removal / failure the reports count. */
static char watched_lan[16], watched_wan[24];
/* The world's seed: the agents' seeds derive from it. */
static uint64_t world_seed;

static cairn_addr addr_of(int dc, int idx, uint16_t port)
{
    char s[32];
    snprintf(s, sizeof(s), "10.0.%d.%d", dc, idx);
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip(s, port, &a), 0);
    return a;
}

static void on_route(cairn_agent *a, const cairn_agent_route_event *ev, void *ud)
{
    struct node *n = ud;
    (void)a;
    if (!ev->server)
        return;
    if (ev->kind == CAIRN_AGENT_SERVER_REMOVE && strcmp(ev->area, CAIRN_AREA_LAN) == 0 &&
        strcmp(ev->server, watched_lan) == 0)
        n->lan_removed++;
    if (ev->kind == CAIRN_AGENT_SERVER_FAIL && strcmp(ev->server, watched_wan) == 0)
        n->wan_failed++;
}

static void on_accept(cairn_listener *l, cairn_stream *s, void *ud)
{
    (void)l;
    (void)ud;
    cairn_stream_close(s);
}

static void start(cairn_sim *sim, int dc, int idx, bool server)
{
    struct node *n = &nodes[dc - 1][idx - 1];
    memset(n, 0, sizeof(*n));
    n->dc = dc;
    n->idx = idx;
    n->server = server;
    snprintf(n->name, sizeof(n->name), "%s%d", server ? "s" : "c", idx);
    snprintf(n->dcname, sizeof(n->dcname), "dc%d", dc);
    cairn_addr ip = addr_of(dc, idx, 0);
    assert_int_equal(cairn_sim_node_loop(sim, &ip, &n->loop), 0);
    if (server) {
        cairn_addr rpc = addr_of(dc, idx, RPC_PORT);
        assert_int_equal(cairn_listen(n->loop, &rpc, on_accept, NULL, &n->lst), 0);
    }
    cairn_agent_config cfg = {.node = n->name,
                              .bind = addr_of(dc, idx, LAN_PORT),
                              .wan_bind = addr_of(dc, idx, WAN_PORT),
                              .seed = world_seed * 1000 + (uint64_t)(dc * 100 + idx),
                              .datacenter = n->dcname,
                              .server = server,
                              .server_port = RPC_PORT,
                              .route_cb = on_route,
                              .route_userdata = n};
    cairn_diag d = {0};
    int rc = cairn_agent_new(n->loop, &cfg, NULL, NULL, NULL, &d, &n->agent);
    if (rc)
        fprintf(stderr, "agent %s.%s: %s\n", n->name, n->dcname, d.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(cairn_agent_dc(n->agent), n->dcname);
    assert_non_null(cairn_agent_router(n->agent));
    assert_non_null(cairn_agent_wan_serf(n->agent));
    if (!(dc == 1 && idx == 1 && server)) {
        cairn_addr seed = addr_of(dc, 1, LAN_PORT);
        assert_int_equal(cairn_agent_join(n->agent, &seed, 1, NULL, NULL), 0);
    }
}

static void kill_node(struct node *n)
{
    cairn_agent_delete(n->agent);
    n->agent = NULL;
    cairn_listener_close(n->lst);
    n->lst = NULL;
    cairn_loop_delete(n->loop);
    n->loop = NULL;
}

/* live_server: whether addr (IP, RPC port) is a running server of dc. */
static bool live_server(int dc, const cairn_addr *addr)
{
    for (int i = 0; i < PER_DC; i++) {
        struct node *n = &nodes[dc - 1][i];
        if (!n->agent || !n->server)
            continue;
        cairn_addr rpc = addr_of(dc, n->idx, RPC_PORT);
        if (cairn_addr_equal(&rpc, addr))
            return true;
    }
    return false;
}

/* routes_live: every running agent routes every datacenter (or only dc
 * when dc > 0) to a live server of it. */
static bool routes_live(int only_dc, bool verbose)
{
    for (int d = 0; d < NDC; d++)
        for (int i = 0; i < PER_DC; i++) {
            struct node *n = &nodes[d][i];
            if (!n->agent)
                continue;
            for (int t = 1; t <= NDC; t++) {
                if (only_dc && t != only_dc)
                    continue;
                char dc[8];
                snprintf(dc, sizeof(dc), "dc%d", t);
                cairn_route r;
                int rc = cairn_router_find_route(cairn_agent_router(n->agent), dc, &r);
                if (rc != 0 || !live_server(t, &r.server.addr)) {
                    if (verbose)
                        printf("# %s.%s -> %s: %s %s\n", n->name, n->dcname, dc,
                               rc ? cairn_strerror(rc) : "dead server", rc ? "" : r.server.name);
                    return false;
                }
            }
        }
    return true;
}

/* run_until: runs the world in 100 ms steps until pred holds or bound
 * passes; returns the time it took (or bound + 1 when it never held). */
static cairn_time run_until(cairn_sim *sim, bool (*pred)(void *), void *arg, cairn_time bound)
{
    cairn_time t0 = cairn_sim_now(sim);
    while (!pred(arg)) {
        if (cairn_sim_now(sim) - t0 > bound)
            return bound + 1;
        cairn_sim_run_for(sim, 100 * CAIRN_MSEC);
    }
    return cairn_sim_now(sim) - t0;
}

static bool all_routes(void *arg)
{
    return routes_live((int)(intptr_t)arg, false);
}

struct in_wan {
    const char *name;
    bool found;
};

static bool find_server(const cairn_server *s, void *ud)
{
    struct in_wan *w = ud;
    if (strcmp(s->name, w->name) == 0)
        w->found = true;
    return !w->found;
}

/* newcomer_everywhere: every running agent's router knows "s<k>.dc3". */
static bool newcomer_everywhere(void *arg)
{
    const char *name = arg;
    for (int d = 0; d < NDC; d++)
        for (int i = 0; i < PER_DC; i++) {
            struct node *n = &nodes[d][i];
            if (!n->agent)
                continue;
            struct in_wan w = {name, false};
            cairn_router_check_servers(cairn_agent_router(n->agent), "dc3", find_server, &w);
            if (!w.found)
                return false;
        }
    return true;
}

static bool watched_gone(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_DC; i++) {
        struct node *n = &nodes[1][i];
        if (n->agent && !n->server && n->lan_removed == 0)
            return false;
    }
    return true;
}

static void test_routing_three_dcs(void **state)
{
    (void)state;
    cairn_sim *sim;
    world_seed = cairn_test_sim_seed("routing_three_dcs", 12);
    assert_int_equal(cairn_sim_new(world_seed, &sim), 0);
    for (int d = 1; d <= NDC; d++) {
        for (int i = 1; i <= NSERVERS; i++)
            start(sim, d, i, true);
        for (int i = NSERVERS + 1; i <= NSERVERS + NCLIENTS; i++)
            start(sim, d, i, false);
    }
    /* Only dc2's and dc3's first servers join the WAN by hand. */
    cairn_addr wan_seed = addr_of(1, 1, WAN_PORT);
    assert_int_equal(cairn_agent_join_wan(nodes[1][0].agent, &wan_seed, 1, NULL, NULL), 0);
    assert_int_equal(cairn_agent_join_wan(nodes[2][0].agent, &wan_seed, 1, NULL, NULL), 0);
    /* A client has no server tags: never flooded as a server. */
    assert_false(cairn_agent_is_server(nodes[0][NSERVERS].agent));

    /* 1. Every agent routes every datacenter to a live server. */
    cairn_time t = run_until(sim, all_routes, (void *)0, 120 * CAIRN_SEC);
    routes_live(0, true);
    printf("# all routes live after %.1f s\n", (double)t / CAIRN_SEC);
    assert_true(t <= 120 * CAIRN_SEC);
    cairn_sim_run_for(sim, 10 * CAIRN_SEC);
    assert_true(routes_live(0, true));

    /* 2. Kill the server dc1's first client routes dc2 to. */
    cairn_route r;
    struct node *c1 = &nodes[0][NSERVERS];
    assert_int_equal(cairn_router_find_route(cairn_agent_router(c1->agent), "dc2", &r), 0);
    struct node *victim = NULL;
    for (int i = 0; i < NSERVERS; i++) {
        cairn_addr rpc = addr_of(2, i + 1, RPC_PORT);
        if (cairn_addr_equal(&rpc, &r.server.addr))
            victim = &nodes[1][i];
    }
    assert_non_null(victim);
    snprintf(watched_lan, sizeof(watched_lan), "%s", victim->name);
    snprintf(watched_wan, sizeof(watched_wan), "%s.dc2", victim->name);
    printf("# killing %s (route of dc2 from c%d.dc1)\n", watched_wan, c1->idx);
    kill_node(victim);
    t = run_until(sim, watched_gone, NULL, LAN_BOUND);
    printf("# dc2 clients removed it from their LAN manager after %.1f s (bound %.1f s)\n",
           (double)t / CAIRN_SEC, (double)LAN_BOUND / CAIRN_SEC);
    assert_true(t <= LAN_BOUND);
    t = run_until(sim, all_routes, (void *)2, WAN_BOUND);
    routes_live(2, true);
    printf("# every route to dc2 on a live server after %.1f s (bound %.1f s)\n",
           (double)t / CAIRN_SEC, (double)WAN_BOUND / CAIRN_SEC);
    assert_true(t <= WAN_BOUND);
    /* Servers of other datacenters saw it fail in the WAN (rotated, kept). */
    cairn_sim_run_for(sim, WAN_BOUND);
    assert_true(routes_live(0, true));
    for (int d = 0; d < NDC; d++)
        for (int i = 0; i < NSERVERS; i++)
            if (nodes[d][i].agent && d != 1)
                assert_true(nodes[d][i].wan_failed > 0);
    struct in_wan kept = {watched_wan, false};
    cairn_router_check_servers(cairn_agent_router(nodes[0][0].agent), "dc2", find_server, &kept);
    assert_true(kept.found);

    /* 3. A new dc3 server, LAN join only: flood joins bring it to the WAN. */
    start(sim, 3, PER_DC, true);
    char name[24];
    snprintf(name, sizeof(name), "s%d.dc3", PER_DC);
    t = run_until(sim, newcomer_everywhere, name, FLOOD_BOUND);
    printf("# %s in every agent's WAN view after %.1f s (bound %.1f s)\n", name,
           (double)t / CAIRN_SEC, (double)FLOOD_BOUND / CAIRN_SEC);
    assert_true(t <= FLOOD_BOUND);
    assert_true(routes_live(0, true));

    for (int d = 0; d < NDC; d++)
        for (int i = 0; i < PER_DC; i++)
            if (nodes[d][i].agent)
                kill_node(&nodes[d][i]);
    cairn_sim_delete(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_three_dcs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
