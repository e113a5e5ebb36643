/* Benchmark of the simulator: simulated events per wall-clock second.
 *
 * Workload: 1,000 nodes, each sending one 64-byte datagram every 200 ms
 * (staggered) to 3 nodes drawn at random, over links of 2 ms latency plus up
 * to 3 ms jitter with 1% loss, for 60 virtual seconds (about 1.2 million
 * events: timers and deliveries). The baseline in the same run pushes the
 * same number of events through a bare binary heap of (time, sequence)
 * keys holding a similar number of pending entries (a "hold" model: pop
 * the earliest, push one later), the floor of any event-driven simulator.
 * The best of three runs is reported, one JSON object per line:
 *   {"name":"sim_1000_nodes","events":...,"events_per_sec":...,
 *    "baseline_events_per_sec":...,"ratio":...}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/sim.h"

#define NODES    1000
#define FANOUT   3
#define INTERVAL (200 * CAIRN_MSEC)
#define DURATION (60 * CAIRN_SEC)
#define RUNS     3

struct bnode {
    cairn_sim *sim;
    struct bnode *all;
    cairn_loop *loop;
    cairn_udp *udp;
    cairn_timer *timer;
    cairn_addr addr;
};

static void on_recv(cairn_udp *u, const cairn_addr *from, const uint8_t *data, size_t len, void *ud)
{
    (void)u;
    (void)from;
    (void)data;
    (void)len;
    (void)ud;
}

static void on_tick(cairn_timer *t, void *ud)
{
    struct bnode *n = ud;
    uint8_t payload[64] = {0};
    cairn_rng *rng = cairn_sim_rng(n->sim);
    for (int k = 0; k < FANOUT; k++) {
        struct bnode *to = &n->all[cairn_rng_below(rng, NODES)];
        memcpy(payload, &k, sizeof(k));
        cairn_udp_send(n->udp, &to->addr, payload, sizeof(payload));
    }
    cairn_timer_start(t, INTERVAL);
}

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_sim: %s: %s\n", what, cairn_strerror(r));
    exit(1);
}

/* Runs the workload; returns events processed and the wall time. */
static uint64_t run_sim(uint64_t seed, double *ret_sec, size_t *ret_pending)
{
    cairn_sim *sim;
    int r = cairn_sim_new(seed, &sim);
    if (r < 0)
        die("sim_new", r);
    cairn_sim_link l = {.latency = 2 * CAIRN_MSEC, .jitter = 3 * CAIRN_MSEC, .loss = 0.01};
    cairn_sim_set_default_link(sim, &l);
    struct bnode *nodes = calloc(NODES, sizeof(*nodes));
    for (unsigned i = 0; i < NODES; i++) {
        struct bnode *n = &nodes[i];
        n->sim = sim;
        n->all = nodes;
        n->addr =
            (cairn_addr){.family = 4, .ip = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}, .port = 7946};
        if ((r = cairn_sim_node_loop(sim, &n->addr, &n->loop)) < 0 ||
            (r = cairn_udp_bind(n->loop, &n->addr, on_recv, n, &n->udp)) < 0 ||
            (r = cairn_timer_new(n->loop, on_tick, n, &n->timer)) < 0)
            die("node setup", r);
        cairn_timer_start(n->timer, (cairn_time)cairn_rng_below(cairn_sim_rng(sim), INTERVAL));
    }
    /* Warm up one interval (fills the pools), then measure. */
    cairn_sim_run_for(sim, INTERVAL);
    cairn_sim_stats before;
    cairn_sim_get_stats(sim, &before);
    cairn_time t0 = cairn_monotonic_now();
    cairn_sim_run_for(sim, DURATION);
    cairn_time t1 = cairn_monotonic_now();
    cairn_sim_stats after;
    cairn_sim_get_stats(sim, &after);
    /* Pending events at the end: timers plus packets in flight. */
    *ret_pending = NODES + (size_t)(NODES * FANOUT * 5 * CAIRN_MSEC / INTERVAL);
    for (unsigned i = 0; i < NODES; i++) {
        cairn_timer_delete(nodes[i].timer);
        cairn_udp_close(nodes[i].udp);
        cairn_loop_delete(nodes[i].loop);
    }
    cairn_sim_delete(sim);
    free(nodes);
    *ret_sec = cairn_time_seconds(t1 - t0);
    return after.events - before.events;
}

/* ---- the baseline: a bare binary heap ---- */

struct key {
    cairn_time at;
    uint64_t seq;
};

static bool key_less(const struct key *a, const struct key *b)
{
    return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static void bh_push(struct key *h, size_t *len, struct key k)
{
    size_t i = (*len)++;
    while (i > 0 && key_less(&k, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = k;
}

static struct key bh_pop(struct key *h, size_t *len)
{
    struct key top = h[0], last = h[--*len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const struct key *best = &last;
        if (l < *len && key_less(&h[l], best)) {
            m = l;
            best = &h[l];
        }
        if (l + 1 < *len && key_less(&h[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    if (*len > 0)
        h[i] = last;
    return top;
}

static double run_baseline(uint64_t events, size_t pending, uint64_t seed)
{
    cairn_rng rng;
    cairn_rng_init(&rng, seed);
    struct key *h = malloc((pending + 1) * sizeof(*h));
    size_t len = 0;
    uint64_t seq = 0;
    for (size_t i = 0; i < pending; i++)
        bh_push(h, &len, (struct key){(cairn_time)cairn_rng_below(&rng, INTERVAL), seq++});
    cairn_time t0 = cairn_monotonic_now();
    for (uint64_t i = 0; i < events; i++) {
        struct key k = bh_pop(h, &len);
        k.at += 1 + (cairn_time)cairn_rng_below(&rng, INTERVAL);
        k.seq = seq++;
        bh_push(h, &len, k);
    }
    cairn_time t1 = cairn_monotonic_now();
    free(h);
    return cairn_time_seconds(t1 - t0);
}

int main(void)
{
    double best = 0, best_base = 0;
    uint64_t events = 0;
    for (int run = 0; run < RUNS; run++) {
        double sec;
        size_t pending;
        events = run_sim(42, &sec, &pending);
        double base = run_baseline(events, pending, 42);
        double eps = (double)events / sec, beps = (double)events / base;
        best = eps > best ? eps : best;
        best_base = beps > best_base ? beps : best_base;
    }
    printf("{\"name\":\"sim_1000_nodes\",\"events\":%llu,\"events_per_sec\":%.0f,"
           "\"baseline_events_per_sec\":%.0f,\"ratio\":%.2f}\n",
           (unsigned long long)events, best, best_base, best_base / best);
    return 0;
}
