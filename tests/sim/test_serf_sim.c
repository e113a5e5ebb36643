/* serf on the deterministic simulator: whole clusters on virtual time,
 * Serf's library defaults (LAN memberlist) unless a test says otherwise.
 *
 *   - graceful leave: leavers are *left* on every other node, never
 *     *failed*, at 0 % and 20 % packet loss (prints the counts);
 *   - user events: each reaches every node exactly once at 0 %, 10 % and
 *     30 % loss, and across a partition once it heals (push/pull replay);
 *   - failure: a killed node is *failed* everywhere, then reaped after
 *     ReconnectTimeout (short timings);
 *   - reconnect: a member cut off until every peer has it failed comes
 *     back alive after the heal only through serf's reconnect (with
 *     reconnects off it stays failed);
 *   - tags: an update reaches every node as a member-update event;
 *   - coordinates: on links with Serf's line topology latencies the
 *     coordinates learned from probe acks estimate the RTTs within Serf's
 *     performance-test error bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "serf_world.h"
#include "faux_servers.h"
#include "sim_seed.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SERF_SIM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SERF_SIM_SANITIZED 1
#endif
#ifdef SERF_SIM_SANITIZED
#define SERF_SIM_N 8
#else
#define SERF_SIM_N 16
#endif

static serf_world W;

static bool cond_converged(serf_world *w, const void *arg)
{
    (void)arg;
    return serf_world_converged(w);
}

static void world(uint64_t seed, size_t n, void (*tune)(cairn_serf_config *c))
{
    assert_int_equal(serf_world_init(&W, seed, n), 0);
    if (tune)
        tune(&W.cfg);
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    cairn_time t = serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 60 * CAIRN_SEC);
    assert_true(t >= 0);
}

static void set_loss(double loss)
{
    cairn_sim_link l = {.latency = CAIRN_MSEC, .loss = loss};
    assert_int_equal(cairn_sim_set_default_link(W.sim, &l), 0);
}

/* ---- graceful leave ---- */

static void on_left(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)count;
    int *st = ud;
    *st = status;
}

struct seen_arg {
    size_t i;
    int status;
    size_t want;
};

static bool cond_seen(serf_world *w, const void *arg)
{
    const struct seen_arg *a = arg;
    return serf_world_seeing(w, a->i, a->status) == a->want;
}

static void leave_run(double loss, size_t leavers)
{
    uint64_t seed = cairn_test_sim_seed("serf_leave", 101 + (uint64_t)(loss * 100));
    world(seed, SERF_SIM_N, NULL);
    set_loss(loss);
    size_t failed_events = 0, left_everywhere = 0;
    for (size_t k = 0; k < leavers; k++) {
        size_t i = W.n - 1 - k;
        int status = 1;
        cairn_time t0 = cairn_sim_now(W.sim);
        assert_int_equal(cairn_serf_leave(W.nodes[i].serf, on_left, &status), 0);
        assert_int_equal(cairn_serf_state(W.nodes[i].serf), CAIRN_SERF_LEAVING);
        while (status == 1 && cairn_sim_now(W.sim) - t0 < 30 * CAIRN_SEC)
            cairn_sim_run_for(W.sim, 100 * CAIRN_MSEC);
        assert_int_equal(status, 0);
        assert_int_equal(cairn_serf_state(W.nodes[i].serf), CAIRN_SERF_LEFT);
        cairn_time took = cairn_sim_now(W.sim) - t0;
        serf_world_kill(&W, i); /* the agent shuts down after a leave */
        struct seen_arg a = {i, CAIRN_MEMBER_LEFT, 0};
        for (size_t j = 0; j < W.n; j++)
            a.want += W.nodes[j].up;
        cairn_time t = serf_world_run_until(&W, cond_seen, &a, 200 * CAIRN_MSEC, 60 * CAIRN_SEC);
        for (size_t j = 0; j < W.n; j++)
            if (W.nodes[j].up)
                failed_events += W.nodes[j].mev[CAIRN_EVENT_MEMBER_FAILED][i];
        left_everywhere += t >= 0;
        printf("# leave at %.0f%% loss: %s left in %.2f s, left on all %zu peers %.1f s later\n",
               loss * 100, W.nodes[i].name, cairn_time_seconds(took), a.want,
               cairn_time_seconds(t));
        assert_true(t >= 0);
    }
    /* And still left (not failed) on everyone a while later. */
    cairn_sim_run_for(W.sim, 30 * CAIRN_SEC);
    for (size_t k = 0; k < leavers; k++) {
        size_t i = W.n - 1 - k, live = 0;
        for (size_t j = 0; j < W.n; j++)
            live += W.nodes[j].up;
        assert_int_equal(serf_world_seeing(&W, i, CAIRN_MEMBER_LEFT), live);
    }
    size_t lwi = 0;
    for (size_t j = 0; j < W.n; j++)
        if (W.nodes[j].up) {
            cairn_serf_stats st;
            cairn_serf_get_stats(W.nodes[j].serf, &st);
            lwi += st.left_without_intent;
        }
    printf("# leave at %.0f%% loss: %zu/%zu leavers left everywhere, %zu failed events, "
           "%zu left via memberlist before the intent\n",
           loss * 100, left_everywhere, leavers, failed_events, lwi);
    assert_int_equal(failed_events, 0);
    serf_world_destroy(&W);
}

static void test_leave_clean(void **state)
{
    (void)state;
    leave_run(0.0, 2);
}

static void test_leave_loss20(void **state)
{
    (void)state;
    leave_run(0.20, 4);
}

/* ---- user events ---- */

static bool cond_all_got(serf_world *w, const void *arg)
{
    const int *count = arg;
    char name[32];
    for (size_t j = 0; j < w->n; j++) {
        if (!w->nodes[j].up)
            continue;
        for (int e = 0; e < *count; e++) {
            snprintf(name, sizeof(name), "ev%d", e);
            if (serf_world_user_count(&w->nodes[j], name) == 0)
                return false;
        }
    }
    return true;
}

static void check_exactly_once(int count, const char *label)
{
    char name[32];
    size_t dup = 0, missing = 0;
    for (size_t j = 0; j < W.n; j++)
        for (int e = 0; e < count; e++) {
            snprintf(name, sizeof(name), "ev%d", e);
            uint32_t c = serf_world_user_count(&W.nodes[j], name);
            dup += c > 1;
            missing += c == 0;
        }
    printf("# events %s: %d events x %zu nodes: %zu missing, %zu duplicated\n", label, count, W.n,
           missing, dup);
    assert_int_equal(missing, 0);
    assert_int_equal(dup, 0);
}

static void events_run(double loss)
{
    uint64_t seed = cairn_test_sim_seed("serf_events", 201 + (uint64_t)(loss * 100));
    world(seed, SERF_SIM_N, NULL);
    set_loss(loss);
    const int count = 20;
    cairn_rng *rng = cairn_sim_rng(W.sim);
    char name[32];
    for (int e = 0; e < count; e++) {
        snprintf(name, sizeof(name), "ev%d", e);
        size_t from = (size_t)cairn_rng_below(rng, W.n);
        assert_int_equal(cairn_serf_user_event(W.nodes[from].serf, name, (const uint8_t *)"p", 1,
                                               e % 2 == 0, NULL),
                         0);
        cairn_sim_run_for(W.sim, 100 * CAIRN_MSEC);
    }
    cairn_time t = serf_world_run_until(&W, cond_all_got, &count, 100 * CAIRN_MSEC, 60 * CAIRN_SEC);
    char label[32];
    snprintf(label, sizeof(label), "at %.0f%% loss", loss * 100);
    printf("# events %s: all delivered %.1f s after the last was sent\n", label,
           cairn_time_seconds(t));
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC); /* room for late duplicates */
    check_exactly_once(count, label);
    serf_world_destroy(&W);
}

static void test_events_loss0(void **state)
{
    (void)state;
    events_run(0.0);
}

static void test_events_loss10(void **state)
{
    (void)state;
    events_run(0.10);
}

static void test_events_loss30(void **state)
{
    (void)state;
    events_run(0.30);
}

static void short_reconnect(cairn_serf_config *c)
{
    c->reconnect_interval = 5 * CAIRN_SEC;
}

static void test_events_partition(void **state)
{
    (void)state;
    world(cairn_test_sim_seed("serf_events_partition", 301), SERF_SIM_N, short_reconnect);
    cairn_addr half[SERF_WORLD_MAX];
    size_t h = W.n / 2;
    for (size_t i = 0; i < h; i++)
        half[i] = W.nodes[i].addr;
    assert_int_equal(cairn_sim_partition(W.sim, half, h, 1), 0);
    char name[32];
    const int count = 10;
    for (int e = 0; e < count; e++) {
        snprintf(name, sizeof(name), "ev%d", e);
        size_t from = e % 2 ? (size_t)e % h : h + (size_t)e % (W.n - h);
        assert_int_equal(
            cairn_serf_user_event(W.nodes[from].serf, name, (const uint8_t *)"x", 1, false, NULL),
            0);
        cairn_sim_run_for(W.sim, 500 * CAIRN_MSEC);
    }
    /* Long enough for each side to have the other failed. */
    cairn_sim_run_for(W.sim, 40 * CAIRN_SEC);
    struct seen_arg a = {0, CAIRN_MEMBER_FAILED, W.n - h};
    assert_int_equal(serf_world_seeing(&W, 0, CAIRN_MEMBER_FAILED), a.want);
    cairn_sim_heal(W.sim);
    cairn_time t =
        serf_world_run_until(&W, cond_all_got, &count, 200 * CAIRN_MSEC, 180 * CAIRN_SEC);
    printf("# events across a partition: all delivered %.1f s after the heal\n",
           cairn_time_seconds(t));
    assert_true(t >= 0);
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    check_exactly_once(count, "across a partition");
    serf_world_destroy(&W);
}

/* ---- failure, reap, reconnect ---- */

static void fast_reap(cairn_serf_config *c)
{
    c->reap_interval = CAIRN_SEC;
    c->reconnect_timeout = 30 * CAIRN_SEC;
    c->reconnect_interval = 5 * CAIRN_SEC;
}

static void test_failed_then_reaped(void **state)
{
    (void)state;
    world(cairn_test_sim_seed("serf_reap", 401), SERF_SIM_N, fast_reap);
    size_t victim = 3, live = W.n - 1;
    serf_world_kill(&W, victim);
    struct seen_arg a = {victim, CAIRN_MEMBER_FAILED, live};
    cairn_time t = serf_world_run_until(&W, cond_seen, &a, 200 * CAIRN_MSEC, 30 * CAIRN_SEC);
    printf("# killed %s failed on all %zu peers after %.1f s\n", W.nodes[victim].name, live,
           cairn_time_seconds(t));
    assert_true(t >= 0);
    cairn_time failed_at = cairn_sim_now(W.sim);
    /* Not reaped before ReconnectTimeout (measured from the first
     * failure, a little earlier than failed_at). */
    cairn_sim_run_for(W.sim, 20 * CAIRN_SEC);
    assert_int_equal(serf_world_seeing(&W, victim, CAIRN_MEMBER_FAILED), live);
    a.status = CAIRN_MEMBER_NONE;
    t = serf_world_run_until(&W, cond_seen, &a, 200 * CAIRN_MSEC, 30 * CAIRN_SEC);
    assert_true(t >= 0);
    printf("# %s reaped everywhere %.1f s after it was failed everywhere\n", W.nodes[victim].name,
           cairn_time_seconds(cairn_sim_now(W.sim) - failed_at));
    for (size_t j = 0; j < W.n; j++) {
        if (!W.nodes[j].up)
            continue;
        assert_int_equal(W.nodes[j].mev[CAIRN_EVENT_MEMBER_FAILED][victim], 1);
        assert_int_equal(W.nodes[j].mev[CAIRN_EVENT_MEMBER_REAP][victim], 1);
        assert_int_equal(cairn_serf_num_members(W.nodes[j].serf), live);
    }
    serf_world_destroy(&W);
}

static void no_reconnect(cairn_serf_config *c)
{
    c->reconnect_interval = 0;
}

static cairn_time isolate_and_heal(void (*tune)(cairn_serf_config *c), uint64_t seed)
{
    world(seed, 6, tune);
    size_t victim = 2;
    for (size_t j = 0; j < W.n; j++)
        if (j != victim)
            assert_int_equal(cairn_sim_block(W.sim, &W.nodes[victim].addr, &W.nodes[j].addr), 0);
    struct seen_arg a = {victim, CAIRN_MEMBER_FAILED, W.n - 1};
    assert_true(serf_world_run_until(&W, cond_seen, &a, 200 * CAIRN_MSEC, 30 * CAIRN_SEC) >= 0);
    /* Past memberlist's gossip-to-the-dead time: only serf reconnects. */
    cairn_sim_run_for(W.sim, 40 * CAIRN_SEC);
    cairn_sim_heal(W.sim);
    cairn_time t =
        serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 120 * CAIRN_SEC);
    for (size_t j = 0; j < W.n; j++)
        if (j != victim && t >= 0)
            assert_true(W.nodes[j].mev[CAIRN_EVENT_MEMBER_JOIN][victim] >= 2);
    serf_world_destroy(&W);
    return t;
}

static void test_reconnect(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("serf_reconnect", 501);
    cairn_time with = isolate_and_heal(short_reconnect, seed);
    cairn_time without = isolate_and_heal(no_reconnect, seed);
    printf("# reconnect: back alive everywhere %.1f s after the heal; without reconnect: %s\n",
           cairn_time_seconds(with), without < 0 ? "still failed after 120 s" : "back");
    assert_true(with >= 0);
    assert_true(without < 0);
}

/* ---- tags ---- */

static bool cond_updated(serf_world *w, const void *arg)
{
    const size_t *i = arg;
    for (size_t j = 0; j < w->n; j++)
        if (j != *i && w->nodes[j].up && w->nodes[j].mev[CAIRN_EVENT_MEMBER_UPDATE][*i] == 0)
            return false;
    return true;
}

static bool check_tag(const cairn_member *m, void *ud)
{
    const char *want = ud;
    const char *v = cairn_member_tag(m, "role");
    assert_non_null(v);
    assert_string_equal(v, want);
    return true;
}

static void test_tag_update(void **state)
{
    (void)state;
    world(cairn_test_sim_seed("serf_tags", 601), SERF_SIM_N, NULL);
    size_t i = 1;
    cairn_tag tags[] = {{"role", "db"}, {"dc", "east"}};
    assert_int_equal(cairn_serf_set_tags(W.nodes[i].serf, tags, 2, NULL), 0);
    cairn_time t = serf_world_run_until(&W, cond_updated, &i, 100 * CAIRN_MSEC, 30 * CAIRN_SEC);
    printf("# tag update on all %zu peers after %.2f s\n", W.n - 1, cairn_time_seconds(t));
    assert_true(t >= 0);
    for (size_t j = 0; j < W.n; j++)
        assert_int_equal(cairn_serf_get_member(W.nodes[j].serf, W.nodes[i].name, check_tag, "db"),
                         0);
    serf_world_destroy(&W);
}

/* ---- coordinates ---- */

/* Serf's line topology (performance_test.go TestPerformance_Line): 10
 * nodes 10 ms apart; the link's one-way latency is half the RTT. */
#define LINE_N       10
#define LINE_SPACING (10 * CAIRN_MSEC)

static void test_coordinates(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, cairn_test_sim_seed("serf_coord", 701), LINE_N), 0);
    for (size_t i = 0; i < LINE_N; i++)
        for (size_t j = i + 1; j < LINE_N; j++) {
            cairn_sim_link l = {.latency = (cairn_time)(j - i) * LINE_SPACING / 2};
            assert_int_equal(cairn_sim_set_link(W.sim, &W.nodes[i].addr, &W.nodes[j].addr, &l), 0);
        }
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    /* 2,000 probe periods: each node measures ~200 RTTs per peer (Serf's
     * test runs 1,000 cycles of one random peer each; memberlist probes
     * round-robin, and the bounds hold from about 1,500 periods on). */
    cairn_sim_run_for(W.sim, 2000 * CAIRN_SEC);
    assert_true(serf_world_converged(&W));
    double sum = 0, max = 0;
    size_t pairs = 0;
    for (size_t i = 0; i < LINE_N; i++) {
        cairn_coord ci, cached;
        assert_int_equal(cairn_serf_get_coordinate(W.nodes[i].serf, &ci), 0);
        for (size_t j = i + 1; j < LINE_N; j++) {
            cairn_coord cj;
            assert_int_equal(cairn_serf_get_coordinate(W.nodes[j].serf, &cj), 0);
            double actual = cairn_time_seconds((cairn_time)(j - i) * LINE_SPACING);
            double est = cairn_compute_distance(&ci, &cj);
            double err = fabs(est - actual) / actual;
            sum += err;
            max = err > max ? err : max;
            pairs++;
            /* i's cache holds what j sent it recently: close to j's own. */
            assert_true(
                cairn_serf_get_cached_coordinate(W.nodes[i].serf, W.nodes[j].name, &cached));
            assert_true(fabs(cairn_compute_distance(&ci, &cached) - est) < 0.1 * actual + 1e-3);
        }
        assert_true(cairn_serf_get_cached_coordinate(W.nodes[i].serf, W.nodes[i].name, &cached));
    }
    double avg = sum / (double)pairs;
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[0].serf, &st);
    printf("# coordinates (line, %d nodes, %.0f ms apart, 2000 s): avg error %.4f max %.4f "
           "(Serf's line bounds 0.0031 / 0.0130), resets %llu\n",
           LINE_N, cairn_time_seconds(LINE_SPACING) * 1e3, avg, max,
           (unsigned long long)st.coordinate_resets);
    assert_true(avg <= 0.0031);
    assert_true(max <= 0.0130);
    serf_world_destroy(&W);
}

/* ---- the routing core over native serf ---- */

/* Consul server tags for node i: dc1 for the first half, dc2 after. */
static void server_tags(size_t i, cairn_tag tags[5])
{
    tags[0] = (cairn_tag){"role", "consul"};
    tags[1] = (cairn_tag){"dc", i < 3 ? "dc1" : "dc2"};
    tags[2] = (cairn_tag){"port", "8300"};
    tags[3] = (cairn_tag){"build", "1.9.0"};
    tags[4] = (cairn_tag){"vsn", "3"};
}

static void count_servers(cairn_manager *m, void *ud)
{
    *(size_t *)ud = cairn_manager_num_servers(m);
}

static size_t dc_servers(cairn_router *r, const char *dc)
{
    size_t n = 0;
    assert_int_equal(cairn_router_with_manager(r, "wan", dc, count_servers, &n), 0);
    return n;
}

static bool route_is(cairn_router *r, const char *dc, const char *not_name)
{
    cairn_route route;
    if (cairn_router_find_route(r, dc, &route) < 0)
        return false;
    return not_name == NULL || strcmp(route.server.name, not_name) != 0;
}

/* Manager and Router on cairn_serf_cluster: servers come from serf's
 * members and tags, events feed the serf adapter, datacenters are ranked
 * by the coordinates serf learned over the simulated links. */
static void test_router_over_serf(void **state)
{
    (void)state;
    const size_t n = 6;
    assert_int_equal(serf_world_init(&W, cairn_test_sim_seed("serf_router", 801), n), 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            bool cross = (i < 3) != (j < 3);
            cairn_sim_link l = {.latency = cross ? 10 * CAIRN_MSEC : CAIRN_MSEC / 2};
            assert_int_equal(cairn_sim_set_link(W.sim, &W.nodes[i].addr, &W.nodes[j].addr, &l), 0);
        }
    cairn_tag tags[5];
    for (size_t i = 0; i < n; i++) {
        server_tags(i, tags);
        W.cfg.tags = tags;
        W.cfg.ntags = 5;
        assert_int_equal(serf_world_start(&W, i), 0);
    }
    W.cfg.tags = NULL;
    W.cfg.ntags = 0;
    assert_int_equal(serf_world_join_all(&W), 0);
    cairn_sim_run_for(W.sim, 120 * CAIRN_SEC); /* converge, learn coordinates */
    assert_true(serf_world_converged(&W));

    faux_conn_pool pool;
    faux_conn_pool_init(&pool, 0, 1);
    cairn_router_config rc = {.local_datacenter = "dc1", .loop = W.nodes[0].loop, .seed = 1};
    cairn_router *r;
    assert_int_equal(cairn_router_new(&rc, &r), 0);
    cairn_cluster cl;
    cairn_serf_cluster(W.nodes[0].serf, &cl);
    assert_int_equal(cl.ops->num_nodes(cl.impl), n);
    assert_int_equal(cairn_router_add_area(r, "wan", &cl, &pool.pinger, NULL), 0);
    cairn_serf_adapter_config ac = {.router = r, .area_id = "wan"};
    cairn_serf_adapter *ad;
    assert_int_equal(cairn_serf_adapter_new(&ac, &ad), 0);
    W.nodes[0].forward = cairn_serf_adapter_handle;
    W.nodes[0].forward_userdata = ad;
    assert_true(route_is(r, "dc1", NULL));
    assert_true(route_is(r, "dc2", NULL));
    assert_int_equal(dc_servers(r, "dc1"), 3);
    assert_int_equal(dc_servers(r, "dc2"), 3);

    /* By distance from n0: dc1 (the local datacenter counts 0, as Go's)
     * before dc2, whose servers' cached coordinates put them ~20 ms away. */
    const char *names[4];
    double rtts[4];
    char bytes[64];
    cairn_dc_buf buf = {names, rtts, 4, bytes, sizeof(bytes)};
    size_t nd = 0;
    assert_int_equal(cairn_router_get_datacenters_by_distance(r, &buf, &nd, NULL), 0);
    assert_int_equal(nd, 2);
    assert_string_equal(names[0], "dc1");
    assert_string_equal(names[1], "dc2");
    printf("# router over serf: dc1 %.3f ms (local), dc2 %.3f ms (simulated RTT 20 ms)\n",
           rtts[0] * 1e3, rtts[1] * 1e3);
    assert_true(rtts[0] == 0.0);
    assert_true(fabs(rtts[1] - 0.020) < 0.002);

    /* n5 leaves gracefully: removed from dc2's manager; n4 crashes: failed
     * (rotated, still listed); dc2 keeps routing to n3 or n4 only. */
    int status = 1;
    assert_int_equal(cairn_serf_leave(W.nodes[5].serf, on_left, &status), 0);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    assert_int_equal(status, 0);
    serf_world_kill(&W, 5);
    serf_world_kill(&W, 4);
    cairn_sim_run_for(W.sim, 20 * CAIRN_SEC);
    assert_int_equal(W.nodes[0].mev[CAIRN_EVENT_MEMBER_LEAVE][5], 1);
    assert_int_equal(W.nodes[0].mev[CAIRN_EVENT_MEMBER_FAILED][4], 1);
    assert_int_equal(dc_servers(r, "dc2"), 2); /* n5 removed, n4 failed but kept */
    assert_true(route_is(r, "dc2", "n5"));
    W.nodes[0].forward = NULL;
    cairn_serf_adapter_delete(ad);
    cairn_router_delete(r);
    serf_world_destroy(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leave_clean),        cmocka_unit_test(test_leave_loss20),
        cmocka_unit_test(test_events_loss0),       cmocka_unit_test(test_events_loss10),
        cmocka_unit_test(test_events_loss30),      cmocka_unit_test(test_events_partition),
        cmocka_unit_test(test_failed_then_reaped), cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_tag_update),         cmocka_unit_test(test_coordinates),
        cmocka_unit_test(test_router_over_serf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
