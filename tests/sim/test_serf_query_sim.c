/* serf queries on the deterministic simulator (Serf's library defaults):
 *
 *   - a query with a node filter and a tag filter (unanchored regexp) gets
 *     one ack and one response from every node passing both, before the
 *     deadline, at 0 % and 10 % loss; filtered-out nodes never see it and
 *     no node sees it twice (prints acks / responses / expected, latency);
 *   - with the direct path from one responder to the origin cut
 *     (cairn_sim_block), relay factor 2 still brings its ack and response;
 *   - the deadline closes the query (DONE), and a late or second answer is
 *     refused (ETIMEDOUT, EEXIST);
 *   - a node started under a name already in the cluster loses the
 *     _serf_conflict vote and shuts down; the original stays;
 *   - keys: install, use, remove and list across 10 encrypted nodes, every
 *     node answering, and the cluster still talking under the new key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "serf_world.h"
#include "sim_seed.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QSIM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define QSIM_SANITIZED 1
#endif
#ifdef QSIM_SANITIZED
#define QSIM_N 8
#else
#define QSIM_N 16
#endif

static serf_world W;

/* Per node: deliveries of the query and what to do with them. */
static struct {
    uint32_t delivered;
    cairn_query_respond_fn respond;
    void *ctx;
    uint64_t id;
    cairn_time deadline;
} Q[SERF_WORLD_MAX];
static bool answer_at_once = true;

static void on_query(const cairn_event *ev, void *ud)
{
    size_t i = (size_t)(uintptr_t)ud;
    if (ev->type != CAIRN_EVENT_QUERY)
        return;
    assert_non_null(ev->respond);
    Q[i].delivered++;
    Q[i].respond = ev->respond;
    Q[i].ctx = ev->respond_ctx;
    Q[i].id = ev->query_id;
    Q[i].deadline = ev->deadline;
    if (answer_at_once) {
        const char *me = W.nodes[i].name;
        assert_int_equal(
            ev->respond(ev->respond_ctx, ev->query_id, (const uint8_t *)me, strlen(me)), 0);
    }
}

static bool cond_converged(serf_world *w, const void *arg)
{
    (void)arg;
    return serf_world_converged(w);
}

static void world(uint64_t seed, size_t n, size_t started)
{
    memset(Q, 0, sizeof(Q));
    answer_at_once = true;
    for (size_t i = 0; i < started; i++) {
        W.nodes[i].forward = on_query;
        W.nodes[i].forward_userdata = (void *)(uintptr_t)i;
    }
    (void)seed;
    (void)n;
    for (size_t i = 0; i < started; i++)
        assert_int_equal(serf_world_start(&W, i), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    cairn_time t = serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 60 * CAIRN_SEC);
    assert_true(t >= 0);
}

static void set_loss(double loss)
{
    cairn_sim_link l = {.latency = CAIRN_MSEC, .loss = loss};
    assert_int_equal(cairn_sim_set_default_link(W.sim, &l), 0);
}

/* What the origin saw. */
struct got {
    size_t acks, responses, done;
    bool from_ack[SERF_WORLD_MAX], from_resp[SERF_WORLD_MAX];
    cairn_time last, start, deadline;
    int status;
    size_t num_nodes;
};

static void on_result(cairn_serf_query_handle *q, const cairn_serf_query_result *r, void *ud)
{
    struct got *g = ud;
    cairn_time now = cairn_sim_now(W.sim);
    int i = r->from ? serf_world_index(r->from) : -1;
    switch (r->kind) {
    case CAIRN_SERF_QUERY_ACK:
        assert_true(i >= 0 && !g->from_ack[i]);
        g->from_ack[i] = true;
        g->acks++;
        break;
    case CAIRN_SERF_QUERY_RESPONSE:
        assert_true(i >= 0 && !g->from_resp[i]);
        assert_int_equal(r->payload_len, strlen(r->from));
        assert_memory_equal(r->payload, r->from, r->payload_len);
        g->from_resp[i] = true;
        g->responses++;
        g->last = now;
        break;
    default:
        g->done++;
        g->status = r->status;
        g->num_nodes = r->num_nodes;
        g->deadline = cairn_serf_query_deadline(q);
        assert_true(now >= g->deadline);
        break;
    }
    assert_true(now <= cairn_serf_query_deadline(q));
}

static bool passes(size_t i)
{
    /* node filter: every node but n1; tag filter: role matches "e" (web,
     * edge; not db). */
    return i != 1 && i % 3 != 2;
}

static void tag_nodes(void)
{
    for (size_t i = 0; i < W.n; i++) {
        cairn_tag t = {"role", i % 3 == 0 ? "web" : i % 3 == 1 ? "edge" : "db"};
        assert_int_equal(cairn_serf_set_tags(W.nodes[i].serf, &t, 1, NULL), 0);
    }
}

static void filtered_query_run(double loss, uint8_t relay)
{
    uint64_t seed = cairn_test_sim_seed("serf_query", 301 + (uint64_t)(loss * 100));
    assert_int_equal(serf_world_init(&W, seed, QSIM_N), 0);
    world(seed, QSIM_N, QSIM_N);
    tag_nodes();
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC);
    set_loss(loss);
    const char *names[SERF_WORLD_MAX];
    size_t nn = 0;
    for (size_t i = 0; i < W.n; i++)
        if (i != 1)
            names[nn++] = W.nodes[i].name;
    cairn_tag tf = {"role", "e"};
    cairn_serf_query_params p = {.name = "q",
                                 .payload = (const uint8_t *)"x",
                                 .payload_len = 1,
                                 .filter_nodes = names,
                                 .n_filter_nodes = nn,
                                 .filter_tags = &tf,
                                 .n_filter_tags = 1,
                                 .request_ack = true,
                                 .relay_factor = relay};
    struct got g = {.start = cairn_sim_now(W.sim)};
    cairn_serf_query_handle *q = NULL;
    assert_int_equal(cairn_serf_query(W.nodes[0].serf, &p, on_result, &g, &q), 0);
    assert_non_null(q);
    cairn_time timeout = cairn_serf_query_deadline(q) - g.start;
    assert_int_equal(timeout, cairn_serf_default_query_timeout(W.nodes[0].serf));
    cairn_sim_run_for(W.sim, timeout + CAIRN_SEC);
    size_t expected = 0, wrong = 0, twice = 0;
    for (size_t i = 0; i < W.n; i++) {
        expected += passes(i);
        wrong += !passes(i) && Q[i].delivered;
        twice += Q[i].delivered > 1;
        if (passes(i))
            assert_true(g.from_ack[i] && g.from_resp[i]);
    }
    printf("# query at %.0f%% loss, relay %u: %zu acks, %zu responses / %zu expected of %zu "
           "nodes, last response %.0f ms after start, deadline %.1f s\n",
           loss * 100, relay, g.acks, g.responses, expected, W.n,
           cairn_time_seconds(g.last - g.start) * 1000, cairn_time_seconds(timeout));
    assert_int_equal(wrong, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(g.acks, expected);
    assert_int_equal(g.responses, expected);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.num_nodes, W.n);
    /* Gossip repeats the query: duplicates were dropped by the ring. */
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[3].serf, &st);
    assert_true(st.queries_duplicate > 0);
    assert_true(st.queries_received == 1);
    serf_world_destroy(&W);
}

static void test_query_loss0(void **state)
{
    (void)state;
    filtered_query_run(0.0, 0);
}

static void test_query_loss10(void **state)
{
    (void)state;
    filtered_query_run(0.10, 2);
}

/* ---- relay ---- */

static void test_query_relay(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("serf_query_relay", 401);
    assert_int_equal(serf_world_init(&W, seed, QSIM_N), 0);
    world(seed, QSIM_N, QSIM_N);
    size_t k = 5;
    assert_int_equal(cairn_sim_block(W.sim, &W.nodes[0].addr, &W.nodes[k].addr), 0);
    const char *only[] = {W.nodes[k].name};
    for (int relay = 0; relay <= 2; relay += 2) {
        cairn_serf_query_params p = {.name = "r",
                                     .filter_nodes = only,
                                     .n_filter_nodes = 1,
                                     .request_ack = true,
                                     .relay_factor = (uint8_t)relay,
                                     .timeout = 2 * CAIRN_SEC};
        struct got g = {.start = cairn_sim_now(W.sim)};
        assert_int_equal(cairn_serf_query(W.nodes[0].serf, &p, on_result, &g, NULL), 0);
        cairn_sim_run_for(W.sim, 3 * CAIRN_SEC);
        printf("# relay factor %d, direct path cut: %zu ack, %zu response from %s\n", relay, g.acks,
               g.responses, W.nodes[k].name);
        assert_int_equal(g.done, 1);
        assert_int_equal(g.acks, relay ? 1 : 0);
        assert_int_equal(g.responses, relay ? 1 : 0);
    }
    serf_world_destroy(&W);
}

/* ---- deadline ---- */

static void test_query_deadline(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("serf_query_deadline", 501);
    assert_int_equal(serf_world_init(&W, seed, 4), 0);
    world(seed, 4, 4);
    answer_at_once = false;
    cairn_serf_query_params p = {.name = "slow", .timeout = CAIRN_SEC};
    struct got g = {.start = cairn_sim_now(W.sim)};
    assert_int_equal(cairn_serf_query(W.nodes[0].serf, &p, on_result, &g, NULL), 0);
    cairn_sim_run_for(W.sim, 500 * CAIRN_MSEC);
    assert_int_equal(Q[2].delivered, 1);
    assert_int_equal(Q[2].respond(Q[2].ctx, Q[2].id, (const uint8_t *)"n2", 2), 0);
    assert_int_equal(Q[2].respond(Q[2].ctx, Q[2].id, (const uint8_t *)"n2", 2), CAIRN_EEXIST);
    uint8_t big[2048] = {0};
    assert_int_equal(Q[1].respond(Q[1].ctx, Q[1].id, big, sizeof(big)), CAIRN_ELIMIT);
    cairn_sim_run_for(W.sim, CAIRN_SEC);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.responses, 1);
    assert_int_equal(g.deadline - g.start, CAIRN_SEC);
    assert_int_equal(Q[3].respond(Q[3].ctx, Q[3].id, (const uint8_t *)"n3", 2), CAIRN_ETIMEDOUT);
    /* A cancelled query reports nothing more. */
    struct got g2 = {0};
    cairn_serf_query_handle *q;
    answer_at_once = true;
    assert_int_equal(cairn_serf_query(W.nodes[0].serf, &p, on_result, &g2, &q), 0);
    cairn_serf_query_cancel(q);
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC);
    assert_int_equal(g2.done + g2.responses, 0);
    /* Too large a query. */
    static uint8_t huge[1100];
    cairn_serf_query_params pb = {.name = "big", .payload = huge, .payload_len = sizeof(huge)};
    assert_int_equal(cairn_serf_query(W.nodes[0].serf, &pb, NULL, NULL, NULL), CAIRN_ELIMIT);
    serf_world_destroy(&W);
}

/* ---- name conflicts ---- */

static void test_name_conflict(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("serf_conflict", 601);
    size_t n = QSIM_N;
    assert_int_equal(serf_world_init(&W, seed, n), 0);
    size_t dup = n - 1;
    snprintf(W.nodes[dup].name, sizeof(W.nodes[dup].name), "n2");
    world(seed, n, n - 1);
    assert_int_equal(serf_world_start(&W, dup), 0);
    assert_int_equal(cairn_serf_join(W.nodes[dup].serf, &W.nodes[0].addr, 1, false, NULL, NULL), 0);
    cairn_sim_run_for(W.sim, 20 * CAIRN_SEC);
    cairn_serf_stats a, b;
    cairn_serf_get_stats(W.nodes[dup].serf, &b);
    cairn_serf_get_stats(W.nodes[2].serf, &a);
    printf("# name conflict over n2: newcomer %s (%llu conflicts seen, lost %llu), original %s "
           "(%llu seen, lost %llu)\n",
           cairn_serf_state(W.nodes[dup].serf) == CAIRN_SERF_SHUTDOWN ? "shut down" : "alive",
           (unsigned long long)b.name_conflicts, (unsigned long long)b.conflicts_lost,
           cairn_serf_state(W.nodes[2].serf) == CAIRN_SERF_ALIVE ? "alive" : "not alive",
           (unsigned long long)a.name_conflicts, (unsigned long long)a.conflicts_lost);
    assert_int_equal(cairn_serf_state(W.nodes[dup].serf), CAIRN_SERF_SHUTDOWN);
    assert_int_equal(b.conflicts_lost, 1);
    assert_int_equal(cairn_serf_state(W.nodes[2].serf), CAIRN_SERF_ALIVE);
    assert_int_equal(a.conflicts_lost, 0);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(cairn_serf_member_status(W.nodes[i].serf, "n2"), CAIRN_MEMBER_ALIVE);
    serf_world_destroy(&W);
}

/* ---- keys ---- */

static const uint8_t K1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const char K1_B64[] = "AQIDBAUGBwgJCgsMDQ4PEA==";
static const char K2_B64[] = "ERERERERERERERERERERERERERERERERERERERERERE=";

struct key_got {
    int calls, status;
    size_t num_nodes, num_resp, num_err, n_keys, key_count;
    char primary[64];
};

static void on_keys(cairn_serf *s, const cairn_serf_key_response *r, void *ud)
{
    (void)s;
    struct key_got *k = ud;
    k->calls++;
    k->status = r->status;
    k->num_nodes = r->num_nodes;
    k->num_resp = r->num_resp;
    k->num_err = r->num_err;
    k->n_keys = r->n_keys;
    k->key_count = r->n_keys ? r->keys[0].count : 0;
    k->primary[0] = 0;
    if (r->n_primary_keys == 1)
        snprintf(k->primary, sizeof(k->primary), "%s", r->primary_keys[0].key);
    for (size_t i = 0; i < r->n_nodes; i++)
        if (!r->nodes[i].result) {
            printf("# key op: %zu failures, e.g. %s: %s\n", r->num_err, r->nodes[i].from,
                   r->nodes[i].message);
            break;
        }
}

static void key_op(int op, const char *key, struct key_got *k)
{
    memset(k, 0, sizeof(*k));
    cairn_serf *s = W.nodes[1].serf;
    int rc = op == 0   ? cairn_serf_install_key(s, key, on_keys, k)
             : op == 1 ? cairn_serf_use_key(s, key, on_keys, k)
             : op == 2 ? cairn_serf_remove_key(s, key, on_keys, k)
                       : cairn_serf_list_keys(s, on_keys, k);
    assert_int_equal(rc, 0);
    cairn_time t0 = cairn_sim_now(W.sim);
    while (k->calls == 0 && cairn_sim_now(W.sim) - t0 < 10 * CAIRN_SEC)
        cairn_sim_run_for(W.sim, 50 * CAIRN_MSEC);
    static const char *const what[] = {"install", "use", "remove", "list"};
    printf("# keys %s: %zu/%zu answered, %zu errors, %.2f s\n", what[op], k->num_resp, k->num_nodes,
           k->num_err, cairn_time_seconds(cairn_sim_now(W.sim) - t0));
    assert_int_equal(k->calls, 1);
    assert_int_equal(k->status, 0);
    assert_int_equal(k->num_resp, W.n);
    assert_int_equal(k->num_nodes, W.n);
}

/* keyring_changed_cb: counts every node's accepted key changes. */
static void count_keyring_change(cairn_serf *s, void *ud)
{
    (void)s;
    (*(size_t *)ud)++;
}

static void test_keys(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("serf_keys", 701);
    size_t n = 10, changes = 0;
    cairn_keyring *rings[10];
    assert_int_equal(serf_world_init(&W, seed, n), 0);
    W.cfg.keyring_changed_cb = count_keyring_change;
    W.cfg.keyring_changed_userdata = &changes;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cairn_keyring_new(K1, sizeof(K1), &rings[i]), 0);
        W.nodes[i].keyring = rings[i];
    }
    world(seed, n, n);
    struct key_got k;
    /* Errors are per node: removing the primary fails everywhere. */
    memset(&k, 0, sizeof(k));
    assert_int_equal(cairn_serf_remove_key(W.nodes[1].serf, K1_B64, on_keys, &k), 0);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.status, CAIRN_EREMOTE);
    assert_int_equal(k.num_err, n);
    assert_int_equal(cairn_serf_install_key(W.nodes[1].serf, "not base64!", on_keys, &k),
                     CAIRN_EINVAL);
    /* The agent's keyring file hook: once per node for each accepted
     * change, never for a refused one or a listing. */
    assert_int_equal(changes, 0);
    key_op(0, K2_B64, &k);
    assert_int_equal(changes, n);
    key_op(1, K2_B64, &k);
    assert_int_equal(changes, 2 * n);
    key_op(2, K1_B64, &k);
    assert_int_equal(changes, 3 * n);
    key_op(3, NULL, &k);
    assert_int_equal(changes, 3 * n);
    assert_int_equal(k.n_keys, 1);
    assert_int_equal(k.key_count, n);
    assert_string_equal(k.primary, K2_B64);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cairn_keyring_count(rings[i]), 1);
    /* Still one cluster under the new key. */
    assert_int_equal(cairn_serf_user_event(W.nodes[4].serf, "after", NULL, 0, false, NULL), 0);
    cairn_sim_run_for(W.sim, 20 * CAIRN_SEC);
    assert_true(serf_world_converged(&W));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(serf_world_user_count(&W.nodes[i], "after"), 1);
    serf_world_destroy(&W);
    for (size_t i = 0; i < n; i++)
        cairn_keyring_delete(rings[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_loss0),   cmocka_unit_test(test_query_loss10),
        cmocka_unit_test(test_query_relay),   cmocka_unit_test(test_query_deadline),
        cmocka_unit_test(test_name_conflict), cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
