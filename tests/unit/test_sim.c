/* Unit tests for the deterministic simulator (cairn/sim.h): latency and
 * jitter bounds, loss and duplication rates within statistical tolerance,
 * reordering, partitions that block and heal, stalls, streams (in order,
 * refused, timed out, broken by a partition, idle timeout), closes inside
 * callbacks, determinism of the trace from the seed, and a 1,000-node run.
 * Every test prints its seed (tests/support/sim_seed.h); rates use bounds
 * of at least 5 standard deviations so a correct simulator does not fail
 * them for any seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/sim.h"
#include "sim_seed.h"
#include "base/alloc_test.h"

#define PORT 7946

static cairn_addr ip_of(unsigned i)
{
    cairn_addr a = {.family = 4};
    a.ip[0] = 10;
    a.ip[1] = (uint8_t)(i >> 16);
    a.ip[2] = (uint8_t)(i >> 8);
    a.ip[3] = (uint8_t)i;
    return a;
}

static cairn_addr at_port(cairn_addr a, uint16_t port)
{
    a.port = port;
    return a;
}

/* ---- a simple node: a loop and a UDP socket that records arrivals ---- */

#define REC_MAX 20000

struct node {
    cairn_loop *loop;
    cairn_udp *udp;
    cairn_addr addr;
    size_t got;
    /* Per arrival: the payload's first 8 bytes (a sequence number or send
     * time) and the arrival time. */
    uint64_t *seqs;
    cairn_time *at;
    bool close_in_cb;
};

static void node_recv(cairn_udp *u, const cairn_addr *from, const uint8_t *data, size_t len,
                      void *ud)
{
    (void)from;
    struct node *n = ud;
    if (n->seqs != NULL && n->got < REC_MAX && len >= 8) {
        memcpy(&n->seqs[n->got], data, 8);
        n->at[n->got] = cairn_loop_now(n->loop);
    }
    n->got++;
    if (n->close_in_cb) {
        cairn_udp_close(u);
        n->udp = NULL;
    }
}

static void node_init(cairn_sim *sim, struct node *n, unsigned i, bool record)
{
    memset(n, 0, sizeof(*n));
    n->addr = at_port(ip_of(i), PORT);
    assert_int_equal(cairn_sim_node_loop(sim, &n->addr, &n->loop), 0);
    assert_int_equal(cairn_udp_bind(n->loop, &n->addr, node_recv, n, &n->udp), 0);
    if (record) {
        n->seqs = calloc(REC_MAX, sizeof(*n->seqs));
        n->at = calloc(REC_MAX, sizeof(*n->at));
    }
}

static void node_fini(struct node *n)
{
    cairn_udp_close(n->udp);
    cairn_loop_delete(n->loop);
    free(n->seqs);
    free(n->at);
}

static void send_u64(struct node *from, const struct node *to, uint64_t v)
{
    uint8_t buf[32] = {0};
    memcpy(buf, &v, 8);
    assert_int_equal(cairn_udp_send(from->udp, &to->addr, buf, sizeof(buf)), 0);
}

/* Sends n packets from a to b, one per ms, carrying the send time. */
static void send_train(cairn_sim *sim, struct node *a, struct node *b, int n)
{
    for (int i = 0; i < n; i++) {
        send_u64(a, b, (uint64_t)cairn_sim_now(sim));
        cairn_sim_run_for(sim, CAIRN_MSEC);
    }
}

static void test_latency_jitter(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("latency_jitter", 1), &sim), 0);
    cairn_sim_link l = {.latency = 10 * CAIRN_MSEC, .jitter = 5 * CAIRN_MSEC};
    assert_int_equal(cairn_sim_set_default_link(sim, &l), 0);
    struct node a, b;
    node_init(sim, &a, 1, false);
    node_init(sim, &b, 2, true);
    send_train(sim, &a, &b, 2000);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(b.got, 2000);
    cairn_time lo = INT64_MAX, hi = 0, sum = 0;
    for (size_t i = 0; i < b.got; i++) {
        cairn_time d = b.at[i] - (cairn_time)b.seqs[i];
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
    }
    assert_true(lo >= 10 * CAIRN_MSEC);
    assert_true(hi <= 15 * CAIRN_MSEC);
    /* The jitter is used across its range (uniform: mean 12.5 ms). */
    assert_true(lo < 10 * CAIRN_MSEC + 100 * CAIRN_USEC);
    assert_true(hi > 15 * CAIRN_MSEC - 100 * CAIRN_USEC);
    cairn_time mean = sum / (cairn_time)b.got;
    assert_true(mean > 12300 * CAIRN_USEC && mean < 12700 * CAIRN_USEC);
    /* A per-link override wins over the default. */
    cairn_sim_link fast = {.latency = 2 * CAIRN_MSEC};
    assert_int_equal(cairn_sim_set_link(sim, &b.addr, &a.addr, &fast), 0);
    b.got = 0;
    send_u64(&a, &b, (uint64_t)cairn_sim_now(sim));
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(b.got, 1);
    assert_int_equal(b.at[0] - (cairn_time)b.seqs[0], 2 * CAIRN_MSEC);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

static void test_loss_rate(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("loss_rate", 2), &sim), 0);
    cairn_sim_link l = {.latency = CAIRN_MSEC, .loss = 0.2};
    assert_int_equal(cairn_sim_set_default_link(sim, &l), 0);
    struct node a, b;
    node_init(sim, &a, 1, false);
    node_init(sim, &b, 2, false);
    const int n = 10000;
    send_train(sim, &a, &b, n);
    cairn_sim_run_for(sim, CAIRN_SEC);
    /* Binomial sd = sqrt(n p q) = 40 packets; allow 6 sd. */
    assert_true(b.got > 8000 - 240 && b.got < 8000 + 240);
    cairn_sim_stats st;
    cairn_sim_get_stats(sim, &st);
    assert_int_equal(st.packets_sent, n);
    assert_int_equal(st.packets_lost + st.packets_delivered, n);
    assert_int_equal(st.packets_delivered, b.got);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

static void test_duplication(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("duplication", 3), &sim), 0);
    cairn_sim_link l = {.latency = CAIRN_MSEC, .jitter = CAIRN_MSEC, .duplicate = 0.1};
    assert_int_equal(cairn_sim_set_default_link(sim, &l), 0);
    struct node a, b;
    node_init(sim, &a, 1, true);
    node_init(sim, &b, 2, true);
    const int n = 10000;
    for (int i = 0; i < n; i++) {
        send_u64(&a, &b, (uint64_t)i);
        cairn_sim_run_for(sim, CAIRN_MSEC);
    }
    cairn_sim_run_for(sim, CAIRN_SEC);
    cairn_sim_stats st;
    cairn_sim_get_stats(sim, &st);
    /* sd = 30 copies; allow 6 sd. */
    assert_true(st.packets_duplicated > 1000 - 180 && st.packets_duplicated < 1000 + 180);
    assert_int_equal(b.got, n + st.packets_duplicated);
    /* Each sequence number arrives once or twice, never more. */
    uint8_t *seen = calloc((size_t)n, 1);
    for (size_t i = 0; i < b.got; i++)
        assert_true(++seen[b.seqs[i]] <= 2);
    free(seen);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

static size_t inversions(const struct node *b)
{
    size_t inv = 0;
    for (size_t i = 1; i < b->got; i++)
        if (b->seqs[i] < b->seqs[i - 1])
            inv++;
    return inv;
}

static void test_reordering(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("reordering", 4), &sim), 0);
    struct node a, b;
    node_init(sim, &a, 1, true);
    node_init(sim, &b, 2, true);
    /* Fixed latency: FIFO. */
    for (int i = 0; i < 1000; i++) {
        send_u64(&a, &b, (uint64_t)i);
        cairn_sim_run_for(sim, 100 * CAIRN_USEC);
    }
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(b.got, 1000);
    assert_int_equal(inversions(&b), 0);
    /* Held-back packets are overtaken. */
    cairn_sim_link l = {.latency = CAIRN_MSEC, .reorder = 0.1, .reorder_delay = 5 * CAIRN_MSEC};
    assert_int_equal(cairn_sim_set_default_link(sim, &l), 0);
    b.got = 0;
    for (int i = 0; i < 1000; i++) {
        send_u64(&a, &b, (uint64_t)i);
        cairn_sim_run_for(sim, 100 * CAIRN_USEC);
    }
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(b.got, 1000);
    size_t inv = inversions(&b);
    /* About 100 held back packets, each an inversion where it lands. */
    assert_true(inv > 40 && inv < 200);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

static void test_partitions(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("partitions", 5), &sim), 0);
    struct node n[3];
    for (unsigned i = 0; i < 3; i++)
        node_init(sim, &n[i], i + 1, false);
    /* Group partition: {2} apart from {0, 1}. */
    assert_int_equal(cairn_sim_partition(sim, &n[2].addr, 1, 1), 0);
    assert_false(cairn_sim_reachable(sim, &n[0].addr, &n[2].addr));
    send_u64(&n[0], &n[1], 1);
    send_u64(&n[0], &n[2], 1);
    send_u64(&n[2], &n[1], 1);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(n[1].got, 1);
    assert_int_equal(n[2].got, 0);
    cairn_sim_heal(sim);
    send_u64(&n[0], &n[2], 1);
    send_u64(&n[2], &n[1], 1);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(n[1].got, 2);
    assert_int_equal(n[2].got, 1);
    /* A blocked pair, both directions; others unaffected. */
    assert_int_equal(cairn_sim_block(sim, &n[0].addr, &n[1].addr), 0);
    send_u64(&n[0], &n[1], 1);
    send_u64(&n[1], &n[0], 1);
    send_u64(&n[0], &n[2], 1);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(n[0].got, 0);
    assert_int_equal(n[1].got, 2);
    assert_int_equal(n[2].got, 2);
    assert_int_equal(cairn_sim_unblock(sim, &n[1].addr, &n[0].addr), 0);
    send_u64(&n[0], &n[1], 1);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(n[1].got, 3);
    /* A packet in flight when the partition starts is lost. */
    send_u64(&n[0], &n[1], 1);
    assert_int_equal(cairn_sim_block(sim, &n[0].addr, &n[1].addr), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(n[1].got, 3);
    cairn_sim_stats st;
    cairn_sim_get_stats(sim, &st);
    assert_int_equal(st.packets_partitioned, 5);
    cairn_sim_heal(sim);
    assert_true(cairn_sim_reachable(sim, &n[0].addr, &n[1].addr));
    for (unsigned i = 0; i < 3; i++)
        node_fini(&n[i]);
    cairn_sim_delete(sim);
}

struct tick {
    cairn_loop *loop;
    cairn_time fired_at;
    /* Optional: the node whose arrivals are counted when the timer fires
     * (got_then), a shared firing counter (order = its value), and how
     * many times to re-arm with a zero delay from the callback. */
    const struct node *n;
    size_t got_then;
    int *clock;
    int order;
    int rearm;
    int fired;
};

static void on_tick(cairn_timer *t, void *ud)
{
    struct tick *k = ud;
    k->fired_at = cairn_loop_now(k->loop);
    k->fired++;
    if (k->n != NULL)
        k->got_then = k->n->got;
    if (k->clock != NULL)
        k->order = ++*k->clock;
    if (k->rearm > 0) {
        k->rearm--;
        cairn_timer_start(t, 0);
    }
}

static void test_stall(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("stall", 6), &sim), 0);
    struct node a, b;
    node_init(sim, &a, 1, true);
    node_init(sim, &b, 2, true);
    cairn_time t0 = cairn_sim_now(sim);
    int clock = 0;
    struct tick ka = {.loop = a.loop, .fired_at = -1}, kb = {.loop = b.loop, .fired_at = -1};
    /* kc: armed first but due later (80 ms), and re-arms itself once with
     * a zero delay; kd: armed 5 ms into the stall, expires after it. */
    struct tick kc = {.loop = b.loop, .fired_at = -1, .rearm = 1};
    struct tick kd = {.loop = b.loop, .fired_at = -1};
    kb.n = kc.n = kd.n = &b;
    kb.clock = kc.clock = kd.clock = &clock;
    cairn_timer *ta, *tb, *tc, *td;
    assert_int_equal(cairn_timer_new(a.loop, on_tick, &ka, &ta), 0);
    assert_int_equal(cairn_timer_new(b.loop, on_tick, &kc, &tc), 0);
    assert_int_equal(cairn_timer_new(b.loop, on_tick, &kb, &tb), 0);
    assert_int_equal(cairn_timer_new(b.loop, on_tick, &kd, &td), 0);
    cairn_timer_start(ta, 50 * CAIRN_MSEC);
    cairn_timer_start(tc, 80 * CAIRN_MSEC);
    cairn_timer_start(tb, 50 * CAIRN_MSEC);
    cairn_timer_start(td, 150 * CAIRN_MSEC);
    assert_int_equal(cairn_sim_stall(sim, &b.addr, 100 * CAIRN_MSEC), 0);
    send_u64(&a, &b, 1);
    send_u64(&a, &b, 2);
    send_u64(&b, &a, 3); /* sending is not delayed by the stall */
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(ka.fired_at, t0 + 50 * CAIRN_MSEC);
    assert_int_equal(kb.fired_at, t0 + 100 * CAIRN_MSEC);
    assert_int_equal(a.got, 1);
    assert_int_equal(a.at[0], t0 + CAIRN_MSEC);
    assert_int_equal(b.got, 2);
    assert_int_equal(b.at[0], t0 + 100 * CAIRN_MSEC);
    assert_int_equal(b.seqs[0], 1); /* still in order */
    assert_int_equal(b.seqs[1], 2);
    /* Waking up, the node runs its expired timers first, in deadline
     * order (tb before tc, though tc was armed first), including tc's
     * zero-delay re-arm, and only then reads the packets that arrived
     * during the stall (as libuv's timer phase precedes its poll phase). */
    assert_int_equal(kb.order, 1);
    assert_int_equal(kc.fired, 2);
    assert_int_equal(kc.order, 3);
    assert_int_equal(kc.fired_at, t0 + 100 * CAIRN_MSEC);
    assert_int_equal(kb.got_then, 0);
    assert_int_equal(kc.got_then, 0);
    /* A timer due after the stall is not pulled forward. */
    assert_int_equal(kd.fired_at, t0 + 150 * CAIRN_MSEC);
    assert_int_equal(kd.got_then, 2);
    cairn_addr nobody = ip_of(99);
    assert_int_equal(cairn_sim_stall(sim, &nobody, CAIRN_SEC), CAIRN_ENOENT);
    cairn_timer_delete(ta);
    cairn_timer_delete(tb);
    cairn_timer_delete(tc);
    cairn_timer_delete(td);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

static void test_udp_close_in_callback_and_ports(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("udp_close", 7), &sim), 0);
    struct node a, b;
    node_init(sim, &a, 1, false);
    node_init(sim, &b, 2, false);
    b.close_in_cb = true;
    send_u64(&a, &b, 1);
    send_u64(&a, &b, 2);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(b.got, 1);
    assert_null(b.udp);
    cairn_sim_stats st;
    cairn_sim_get_stats(sim, &st);
    assert_int_equal(st.packets_unreachable, 1);
    /* Binding rules: own IP or unspecified; port 0 picks; in-use fails. */
    cairn_addr any = {.family = 4}, other = ip_of(1), got;
    cairn_udp *u1, *u2;
    assert_int_equal(cairn_udp_bind(b.loop, &any, node_recv, &b, &u1), 0);
    assert_int_equal(cairn_udp_local(u1, &got), 0);
    assert_true(got.port != 0);
    assert_memory_equal(got.ip, b.addr.ip, 4);
    assert_int_equal(cairn_udp_bind(b.loop, &got, node_recv, &b, &u2), CAIRN_EADDRINUSE);
    assert_int_equal(cairn_udp_bind(b.loop, &other, node_recv, &b, &u2), CAIRN_EADDRNOTAVAIL);
    cairn_loop *dup;
    assert_int_equal(cairn_sim_node_loop(sim, &a.addr, &dup), CAIRN_EEXIST);
    cairn_udp_close(u1);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

/* ---- streams ---- */

struct sconn {
    cairn_loop *loop;
    cairn_stream *s;
    int connect_status;
    cairn_time connected_at;
    uint8_t *rx;
    size_t rx_len;
    int reads;
    int end;
    cairn_time end_at;
    bool close_on_end;
};

static void sc_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct sconn *c = ud;
    if (status == 0) {
        if (c->rx != NULL)
            memcpy(c->rx + c->rx_len, data, len);
        c->rx_len += len;
        c->reads++;
        return;
    }
    c->end = status;
    c->end_at = cairn_loop_now(c->loop);
    if (c->close_on_end) {
        cairn_stream_close(s);
        c->s = NULL;
    }
}

static void sc_connected(cairn_stream *s, int status, void *ud)
{
    struct sconn *c = ud;
    c->connect_status = status;
    c->connected_at = cairn_loop_now(c->loop);
    if (status < 0) {
        c->s = NULL;
        return;
    }
    assert_int_equal(cairn_stream_start_read(s, sc_read, c), 0);
}

static void sc_accept(cairn_listener *l, cairn_stream *s, void *ud)
{
    (void)l;
    struct sconn *c = ud;
    c->s = s;
    assert_int_equal(cairn_stream_start_read(s, sc_read, c), 0);
}

static void test_stream_echo_in_order(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("stream_order", 8), &sim), 0);
    cairn_sim_link l = {.latency = 5 * CAIRN_MSEC, .jitter = 4 * CAIRN_MSEC};
    assert_int_equal(cairn_sim_set_default_link(sim, &l), 0);
    cairn_sim_set_stream_chunk(sim, 1000);
    struct node a, b;
    node_init(sim, &a, 1, false);
    node_init(sim, &b, 2, false);
    struct sconn srv = {.loop = b.loop, .close_on_end = true};
    struct sconn cli = {.loop = a.loop};
    enum { N = 100000 };
    srv.rx = malloc(N);
    cairn_listener *lst;
    assert_int_equal(cairn_listen(b.loop, &b.addr, sc_accept, &srv, &lst), 0);
    cairn_time t0 = cairn_sim_now(sim);
    assert_int_equal(cairn_stream_dial(a.loop, &b.addr, CAIRN_SEC, sc_connected, &cli, &cli.s), 0);
    cairn_sim_run_for(sim, 100 * CAIRN_MSEC);
    assert_int_equal(cli.connect_status, 0);
    assert_true(cli.connected_at - t0 >= 10 * CAIRN_MSEC);
    assert_true(cli.connected_at - t0 <= 18 * CAIRN_MSEC);
    assert_non_null(srv.s);
    cairn_addr peer;
    assert_int_equal(cairn_stream_peer(cli.s, &peer), 0);
    assert_true(cairn_addr_equal(&peer, &b.addr));
    assert_int_equal(cairn_stream_peer(srv.s, &peer), 0);
    assert_memory_equal(peer.ip, a.addr.ip, 4);
    uint8_t *tx = malloc(N);
    for (size_t i = 0; i < N; i++)
        tx[i] = (uint8_t)(i * 13 + (i >> 9));
    for (size_t off = 0; off < N; off += 7000)
        assert_int_equal(cairn_stream_write(cli.s, tx + off, N - off < 7000 ? N - off : 7000), 0);
    cairn_stream_close(cli.s);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(srv.rx_len, N);
    assert_memory_equal(srv.rx, tx, N);
    assert_true(srv.reads >= N / 1000);
    assert_int_equal(srv.end, CAIRN_EOF);
    assert_null(srv.s);
    cairn_sim_stats st;
    cairn_sim_get_stats(sim, &st);
    assert_int_equal(st.stream_bytes, N);
    assert_int_equal(st.streams_accepted, 1);
    cairn_listener_close(lst);
    free(tx);
    free(srv.rx);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

static void test_stream_refused_timeout_break(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("stream_fail", 9), &sim), 0);
    struct node a, b;
    node_init(sim, &a, 1, false);
    node_init(sim, &b, 2, false);
    /* Refused: nothing listens; the answer comes after one round trip. */
    struct sconn cli = {.loop = a.loop};
    cairn_time t0 = cairn_sim_now(sim);
    assert_int_equal(cairn_stream_dial(a.loop, &b.addr, CAIRN_SEC, sc_connected, &cli, &cli.s), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(cli.connect_status, CAIRN_ECONNREFUSED);
    assert_int_equal(cli.connected_at - t0, 2 * CAIRN_MSEC);
    /* Timeout: no node at the address. */
    cairn_addr nobody = at_port(ip_of(77), PORT);
    cli = (struct sconn){.loop = a.loop};
    t0 = cairn_sim_now(sim);
    assert_int_equal(
        cairn_stream_dial(a.loop, &nobody, 300 * CAIRN_MSEC, sc_connected, &cli, &cli.s), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(cli.connect_status, CAIRN_ETIMEDOUT);
    assert_int_equal(cli.connected_at - t0, 300 * CAIRN_MSEC);
    /* Timeout: the listener is across a partition. */
    struct sconn srv = {.loop = b.loop};
    cairn_listener *lst;
    assert_int_equal(cairn_listen(b.loop, &b.addr, sc_accept, &srv, &lst), 0);
    assert_int_equal(cairn_sim_block(sim, &a.addr, &b.addr), 0);
    cli = (struct sconn){.loop = a.loop};
    assert_int_equal(
        cairn_stream_dial(a.loop, &b.addr, 200 * CAIRN_MSEC, sc_connected, &cli, &cli.s), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(cli.connect_status, CAIRN_ETIMEDOUT);
    assert_null(srv.s);
    /* Break: connected, then partitioned, then data: both ends reset. */
    cairn_sim_heal(sim);
    cli = (struct sconn){.loop = a.loop, .close_on_end = true};
    srv.close_on_end = true;
    assert_int_equal(cairn_stream_dial(a.loop, &b.addr, CAIRN_SEC, sc_connected, &cli, &cli.s), 0);
    cairn_sim_run_for(sim, 100 * CAIRN_MSEC);
    assert_int_equal(cli.connect_status, 0);
    assert_non_null(srv.s);
    assert_int_equal(cairn_stream_write(cli.s, (const uint8_t *)"hello", 5), 0);
    cairn_sim_run_for(sim, 100 * CAIRN_MSEC);
    assert_int_equal(srv.rx_len, 5);
    assert_int_equal(cairn_sim_partition(sim, &b.addr, 1, 2), 0);
    assert_int_equal(cairn_stream_write(srv.s, (const uint8_t *)"world", 5), 0);
    cairn_sim_run_for(sim, 100 * CAIRN_MSEC);
    assert_int_equal(cli.end, CAIRN_ECONNRESET);
    assert_int_equal(srv.end, CAIRN_ECONNRESET);
    assert_null(cli.s);
    assert_null(srv.s);
    assert_int_equal(cli.rx_len, 0);
    cairn_sim_stats st;
    cairn_sim_get_stats(sim, &st);
    assert_int_equal(st.streams_broken, 1);
    assert_int_equal(st.streams_refused, 1);
    cairn_sim_heal(sim);
    /* Idle timeout on an established stream. */
    cli = (struct sconn){.loop = a.loop, .close_on_end = true};
    srv = (struct sconn){.loop = b.loop, .close_on_end = true};
    cairn_listener_close(lst);
    assert_int_equal(cairn_listen(b.loop, &b.addr, sc_accept, &srv, &lst), 0);
    assert_int_equal(cairn_stream_dial(a.loop, &b.addr, CAIRN_SEC, sc_connected, &cli, &cli.s), 0);
    cairn_sim_run_for(sim, 10 * CAIRN_MSEC);
    t0 = cairn_sim_now(sim);
    cairn_stream_set_timeout(cli.s, 250 * CAIRN_MSEC);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(cli.end, CAIRN_ETIMEDOUT);
    assert_int_equal(cli.end_at - t0, 250 * CAIRN_MSEC);
    /* The client's close reached the server as EOF. */
    assert_int_equal(srv.end, CAIRN_EOF);
    cairn_listener_close(lst);
    node_fini(&a);
    node_fini(&b);
    cairn_sim_delete(sim);
}

/* ---- determinism and scale ---- */

struct world {
    cairn_sim *sim;
    struct node *nodes;
    cairn_timer **timers;
    unsigned n;
    unsigned fanout;
    cairn_time interval;
    uint64_t hash;
};

struct sender {
    struct world *w;
    unsigned i;
};

static void fnv(uint64_t *h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3u;
    }
}

static void trace_hash(int kind, cairn_time at, const cairn_addr *from, const cairn_addr *to,
                       const uint8_t *data, size_t len, void *ud)
{
    uint64_t *h = ud;
    fnv(h, &kind, sizeof(kind));
    fnv(h, &at, sizeof(at));
    fnv(h, from->ip, 4);
    fnv(h, &from->port, 2);
    fnv(h, to->ip, 4);
    fnv(h, data, len);
}

static void on_send_tick(cairn_timer *t, void *ud)
{
    struct sender *s = ud;
    struct world *w = s->w;
    cairn_rng *rng = cairn_sim_rng(w->sim);
    for (unsigned k = 0; k < w->fanout; k++) {
        unsigned to = (unsigned)cairn_rng_below(rng, w->n);
        send_u64(&w->nodes[s->i], &w->nodes[to], cairn_rng_u64(rng));
    }
    cairn_timer_start(t, w->interval);
}

/* n nodes, each sending to `fanout` random nodes every interval, for
 * `duration`; returns the trace hash. */
static uint64_t run_world(uint64_t seed, unsigned n, unsigned fanout, cairn_time duration,
                          const cairn_sim_link *link, cairn_sim_stats *ret_stats)
{
    struct world w = {
        .n = n, .fanout = fanout, .interval = 200 * CAIRN_MSEC, .hash = 0xcbf29ce484222325u};
    assert_int_equal(cairn_sim_new(seed, &w.sim), 0);
    if (link != NULL)
        assert_int_equal(cairn_sim_set_default_link(w.sim, link), 0);
    cairn_sim_set_trace(w.sim, trace_hash, &w.hash);
    w.nodes = calloc(n, sizeof(*w.nodes));
    w.timers = calloc(n, sizeof(*w.timers));
    struct sender *senders = calloc(n, sizeof(*senders));
    for (unsigned i = 0; i < n; i++) {
        node_init(w.sim, &w.nodes[i], i + 1, false);
        senders[i] = (struct sender){&w, i};
        assert_int_equal(cairn_timer_new(w.nodes[i].loop, on_send_tick, &senders[i], &w.timers[i]),
                         0);
        /* Staggered start, drawn from the world. */
        cairn_timer_start(w.timers[i],
                          (cairn_time)cairn_rng_below(cairn_sim_rng(w.sim), (uint64_t)w.interval));
    }
    cairn_sim_run_for(w.sim, duration);
    cairn_sim_get_stats(w.sim, ret_stats);
    for (unsigned i = 0; i < n; i++) {
        cairn_timer_delete(w.timers[i]);
        node_fini(&w.nodes[i]);
    }
    cairn_sim_delete(w.sim);
    free(senders);
    free(w.timers);
    free(w.nodes);
    return w.hash;
}

static void test_determinism(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("determinism", 10);
    cairn_sim_link l = {.latency = 3 * CAIRN_MSEC,
                        .jitter = 7 * CAIRN_MSEC,
                        .loss = 0.05,
                        .duplicate = 0.02,
                        .reorder = 0.05,
                        .reorder_delay = 20 * CAIRN_MSEC};
    cairn_sim_stats s1, s2, s3;
    uint64_t h1 = run_world(seed, 50, 3, 5 * CAIRN_SEC, &l, &s1);
    uint64_t h2 = run_world(seed, 50, 3, 5 * CAIRN_SEC, &l, &s2);
    uint64_t h3 = run_world(seed + 1, 50, 3, 5 * CAIRN_SEC, &l, &s3);
    print_message("# trace hashes %016llx %016llx %016llx\n", (unsigned long long)h1,
                  (unsigned long long)h2, (unsigned long long)h3);
    assert_true(s1.packets_delivered > 3000);
    assert_true(h1 == h2);
    assert_memory_equal(&s1, &s2, sizeof(s1));
    assert_true(h1 != h3);
}

static void test_thousand_nodes(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("thousand_nodes", 11);
    cairn_sim_link l = {.latency = 2 * CAIRN_MSEC, .jitter = 3 * CAIRN_MSEC};
    cairn_sim_stats st;
    cairn_time t0 = cairn_monotonic_now();
    run_world(seed, 1000, 3, 10 * CAIRN_SEC, &l, &st);
    double wall = cairn_time_seconds(cairn_monotonic_now() - t0);
    print_message("# 1000 nodes, 10 s virtual: %llu events in %.3f s wall\n",
                  (unsigned long long)st.events, wall);
    /* 1000 nodes x 50 ticks x 3 packets, all delivered. */
    assert_true(st.packets_sent >= 1000 * 49 * 3);
    assert_true(st.packets_delivered <= st.packets_sent);
    assert_true(st.packets_delivered + 3000 >= st.packets_sent); /* the rest in flight */
    assert_int_equal(st.packets_lost + st.packets_partitioned + st.packets_unreachable, 0);
    assert_true(wall < 20.0);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    /* Every allocation of a small scenario can fail without leaking. */
    for (long n = 0;; n++) {
        cairn__test_alloc_install();
        cairn__test_alloc_fail_after(n);
        cairn_sim *sim = NULL;
        cairn_loop *la = NULL, *lb = NULL;
        cairn_udp *ua = NULL, *ub = NULL;
        cairn_listener *lst = NULL;
        cairn_stream *cs = NULL;
        struct sconn cli = {0}, srv = {0};
        struct node rx = {0};
        cairn_addr a = at_port(ip_of(1), PORT), b = at_port(ip_of(2), PORT);
        if (cairn_sim_new(12, &sim) < 0)
            goto done;
        if (cairn_sim_node_loop(sim, &a, &la) < 0 || cairn_sim_node_loop(sim, &b, &lb) < 0)
            goto done;
        rx.loop = lb;
        cli.loop = la;
        srv.loop = lb;
        if (cairn_udp_bind(la, &a, node_recv, &rx, &ua) < 0 ||
            cairn_udp_bind(lb, &b, node_recv, &rx, &ub) < 0)
            goto done;
        cairn_udp_send(ua, &b, (const uint8_t *)"x", 1);
        if (cairn_listen(lb, &b, sc_accept, &srv, &lst) < 0)
            goto done;
        if (cairn_stream_dial(la, &b, CAIRN_SEC, sc_connected, &cli, &cs) == 0) {
            cli.s = cs;
            cairn_sim_run_for(sim, 10 * CAIRN_MSEC);
            if (cli.s != NULL && cli.connect_status == 0)
                cairn_stream_write(cli.s, (const uint8_t *)"abc", 3);
        }
        cairn_sim_run_for(sim, 10 * CAIRN_MSEC);
    done:
        cairn_stream_close(cli.s);
        cairn_stream_close(srv.s);
        cairn_listener_close(lst);
        cairn_udp_close(ua);
        cairn_udp_close(ub);
        cairn_loop_delete(la);
        cairn_loop_delete(lb);
        cairn_sim_delete(sim);
        bool failed = cairn__test_alloc_failed();
        assert_int_equal(cairn__test_alloc_live(), 0);
        cairn__test_alloc_uninstall();
        if (!failed)
            break;
    }
}

static void on_post(void *ud)
{
    struct tick *k = ud;
    k->fired_at = cairn_loop_now(k->loop);
}

static void test_post(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("post", 13), &sim), 0);
    struct node a;
    node_init(sim, &a, 1, false);
    struct tick k = {.loop = a.loop, .fired_at = -1};
    cairn_time t0 = cairn_sim_now(sim);
    assert_int_equal(cairn_loop_post(a.loop, on_post, &k), 0);
    assert_int_equal(k.fired_at, -1); /* never inline */
    assert_int_equal(cairn_sim_run_for(sim, 0), 1);
    assert_int_equal(k.fired_at, t0);
    /* A stalled node runs posted work when the stall ends. */
    k.fired_at = -1;
    assert_int_equal(cairn_sim_stall(sim, &a.addr, 50 * CAIRN_MSEC), 0);
    assert_int_equal(cairn_loop_post(a.loop, on_post, &k), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(k.fired_at, t0 + 50 * CAIRN_MSEC);
    node_fini(&a);
    cairn_sim_delete(sim);
}

struct poster {
    cairn_loop *loop;
    struct tick *k;
    int r;
};

static void *post_thread(void *ud)
{
    struct poster *p = ud;
    p->r = cairn_loop_post(p->loop, on_post, p->k);
    return NULL;
}

/* cairn_loop_post from another thread runs at the next step. */
static void test_post_from_thread(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("post_thread", 14), &sim), 0);
    struct node a;
    node_init(sim, &a, 1, false);
    struct tick k = {.loop = a.loop, .fired_at = -1};
    struct poster p = {a.loop, &k, 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, post_thread, &p), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(p.r, 0);
    assert_int_equal(k.fired_at, -1);
    cairn_sim_run_for(sim, CAIRN_MSEC);
    assert_int_equal(k.fired_at, CAIRN_SIM_START);
    node_fini(&a);
    cairn_sim_delete(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_jitter),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_duplication),
        cmocka_unit_test(test_reordering),
        cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_udp_close_in_callback_and_ports),
        cmocka_unit_test(test_stream_echo_in_order),
        cmocka_unit_test(test_stream_refused_timeout_break),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_thousand_nodes),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_post_from_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
