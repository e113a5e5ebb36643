/* Issue 8 (hardening), network side, on the simulator: virtual time, so
 * every deadline is checked to the millisecond without sleeping.
 *
 *   - the deadline audit: each kind of exchange against a peer that
 *     accepts and goes silent (join, periodic push/pull, TCP fallback ping,
 *     an inbound stream that never speaks, the TCP pinger);
 *   - a peer that closes without replying is reported as closing (EOF);
 *   - the caps on inbound streams and on bytes buffered across streams;
 *   - the rate limit of warnings about bad packets.
 *
 * The serfrpc client, the one long-lived outbound connection, disarms the
 * dial deadline and is bounded by its request watchdog (request_timeout;
 * tests/unit/test_serfrpc_client.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/memberlist.h"
#include "cairn/pinger.h"
#include "cairn/pinger_tcp.h"
#include "cairn/sim.h"
#include "wire/msg.h"
#include "alloc_sweep.h"
#include "memberlist/ml_internal.h"

/* ---- the world: one cairn node, one silent peer, one attacker ---- */

struct logcap {
    int lines;
    char text[64][256];
};

static void cap_log(int level, const char *module, const char *msg, void *ud)
{
    struct logcap *lc = ud;
    (void)level;
    (void)module;
    if (lc->lines < 64)
        snprintf(lc->text[lc->lines], sizeof(lc->text[0]), "%s", msg);
    lc->lines++;
}

static bool logged(const struct logcap *lc, const char *a, const char *b)
{
    for (int i = 0; i < lc->lines && i < 64; i++)
        if (strstr(lc->text[i], a) && (!b || strstr(lc->text[i], b)))
            return true;
    return false;
}

/* A peer that accepts streams and reads them, and never writes a byte (or
 * closes each at once); its UDP socket swallows everything. */
struct silent {
    cairn_loop *loop;
    cairn_listener *lst;
    cairn_udp *udp;
    cairn_stream *conns[512];
    size_t n;
    bool close_at_once;
};

static void silent_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct silent *p = ud;
    (void)data;
    (void)len;
    if (status < 0) {
        for (size_t i = 0; i < p->n; i++)
            if (p->conns[i] == s)
                p->conns[i] = NULL;
        cairn_stream_close(s);
    }
}

static void silent_accept(cairn_listener *l, cairn_stream *s, void *ud)
{
    struct silent *p = ud;
    (void)l;
    if (p->close_at_once || p->n == 512) {
        cairn_stream_close(s);
        return;
    }
    p->conns[p->n++] = s;
    assert_int_equal(cairn_stream_start_read(s, silent_read, p), 0);
}

static void silent_udp(cairn_udp *u, const cairn_addr *from, const uint8_t *d, size_t n, void *ud)
{
    (void)u, (void)from, (void)d, (void)n, (void)ud;
}

struct world {
    cairn_sim *sim;
    cairn_loop *loop;
    cairn_memberlist *ml;
    cairn_addr addr, silent_addr, attacker_addr;
    struct logcap log;
    struct silent silent;
    cairn_loop *attacker;
};

static void world_new(struct world *w, void (*tune)(cairn_memberlist_config *))
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(cairn_sim_new(8, &w->sim), 0);
    const uint8_t a[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 9}, x[4] = {10, 0, 0, 66};
    assert_int_equal(cairn_addr_from_ip(a, 4, 7946, &w->addr), 0);
    assert_int_equal(cairn_addr_from_ip(s, 4, 7946, &w->silent_addr), 0);
    assert_int_equal(cairn_addr_from_ip(x, 4, 0, &w->attacker_addr), 0);
    assert_int_equal(cairn_sim_node_loop(w->sim, &w->addr, &w->loop), 0);
    assert_int_equal(cairn_sim_node_loop(w->sim, &w->silent_addr, &w->silent.loop), 0);
    assert_int_equal(cairn_sim_node_loop(w->sim, &w->attacker_addr, &w->attacker), 0);
    assert_int_equal(
        cairn_listen(w->silent.loop, &w->silent_addr, silent_accept, &w->silent, &w->silent.lst),
        0);
    assert_int_equal(
        cairn_udp_bind(w->silent.loop, &w->silent_addr, silent_udp, NULL, &w->silent.udp), 0);
    cairn_memberlist_config c;
    cairn_memberlist_config_lan(&c);
    c.name = "a";
    c.bind = w->addr;
    c.seed = 1;
    if (tune)
        tune(&c);
    cairn_logger lg = {.cb = cap_log, .userdata = &w->log, .level = CAIRN_LOG_DEBUG};
    assert_int_equal(cairn_memberlist_new(w->loop, &c, NULL, &lg, NULL, &w->ml), 0);
}

static void world_free(struct world *w)
{
    cairn_memberlist_delete(w->ml);
    for (size_t i = 0; i < w->silent.n; i++)
        cairn_stream_close(w->silent.conns[i]);
    cairn_listener_close(w->silent.lst);
    cairn_udp_close(w->silent.udp);
    cairn_loop_delete(w->loop);
    cairn_loop_delete(w->silent.loop);
    cairn_loop_delete(w->attacker);
    cairn_sim_delete(w->sim);
}

/* The silent peer as an alive member of w's table. */
static void preload_silent(struct world *w)
{
    cairn_ml_node n = {.name = "silent",
                       .addr = w->silent_addr,
                       .state = CAIRN_ML_ALIVE,
                       .incarnation = 1,
                       .pmin = 1,
                       .pmax = 5,
                       .pcur = 2,
                       .dmin = 2,
                       .dmax = 5,
                       .dcur = 4};
    assert_int_equal(cairn_memberlist_preload(w->ml, &n, 1), 0);
}

static size_t open_conns(const struct world *w)
{
    /* struct ml_conn is private to stream.c; its first field is `next`. */
    size_t n = 0;
    for (const struct ml_conn *c = w->ml->conns; c; c = *(struct ml_conn *const *)c)
        n++;
    return n;
}

struct join_res {
    bool done;
    int status;
    cairn_time at;
    cairn_sim *sim;
};

static void on_joined(cairn_memberlist *ml, int status, int count, void *ud)
{
    struct join_res *r = ud;
    (void)ml, (void)count;
    r->done = true;
    r->status = status;
    r->at = cairn_sim_now(r->sim);
}

/* ---- the deadline audit ---- */

/* Defect 1: a join to a peer that accepts and never answers fails with
 * CAIRN_ETIMEDOUT after TCPTimeout (10 s), dial included; it hung before. */
static void test_join_silent_peer_times_out(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, NULL);
    struct join_res r = {.sim = w.sim};
    cairn_time t0 = cairn_sim_now(w.sim);
    assert_int_equal(cairn_memberlist_join(w.ml, &w.silent_addr, 1, on_joined, &r), 0);
    cairn_sim_run_for(w.sim, 60 * CAIRN_SEC);
    assert_true(r.done);
    assert_int_equal(r.status, CAIRN_ETIMEDOUT);
    assert_true(r.at - t0 >= 10 * CAIRN_SEC);
    assert_true(r.at - t0 < 10 * CAIRN_SEC + 10 * CAIRN_MSEC);
    assert_true(logged(&w.log, "no complete reply within the TCP timeout", "from=10.0.0.9:7946"));
    assert_int_equal(open_conns(&w), 0);
    world_free(&w);
}

static void pushpull_only(cairn_memberlist_config *c)
{
    c->probe_interval = 0;
    c->gossip_interval = 0;
    c->push_pull_interval = 1 * CAIRN_SEC;
}

/* Defect 1: periodic push/pull to a silent peer used to leak one stream per
 * interval; now at most TCPTimeout / interval (+1) are ever open. */
static void test_pushpull_silent_peer_no_leak(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, pushpull_only);
    preload_silent(&w);
    size_t most = 0;
    for (int s = 0; s < 60; s++) {
        cairn_sim_run_for(w.sim, CAIRN_SEC);
        size_t n = open_conns(&w);
        most = n > most ? n : most;
    }
    cairn_ml_stats st;
    cairn_memberlist_get_stats(w.ml, &st);
    assert_true(most <= 11);
    assert_true(st.pushpull_failed >= 40);
    world_free(&w);
}

static void probe_only(cairn_memberlist_config *c)
{
    c->push_pull_interval = 0;
    c->gossip_interval = 0;
}

/* Defect 1: the TCP fallback ping to a stopped peer ends with the probe. */
static void test_tcp_ping_silent_peer_ends(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, probe_only);
    preload_silent(&w);
    cairn_sim_run_for(w.sim, 3 * CAIRN_SEC);
    assert_true(w.silent.n >= 1); /* a TCP ping reached it */
    cairn_sim_run_for(w.sim, 30 * CAIRN_SEC);
    assert_int_equal(open_conns(&w), 0);
    world_free(&w);
}

struct client {
    cairn_stream *s;
    int end;
    cairn_time at;
    cairn_sim *sim;
    bool connected;
};

static void client_read(cairn_stream *s, const uint8_t *d, size_t n, int status, void *ud)
{
    struct client *c = ud;
    (void)d, (void)n;
    if (status < 0) {
        c->end = status;
        c->at = cairn_sim_now(c->sim);
        cairn_stream_close(s);
        c->s = NULL;
    }
}

static void client_connected(cairn_stream *s, int status, void *ud)
{
    struct client *c = ud;
    if (status < 0) {
        c->s = NULL;
        c->end = status;
        return;
    }
    c->connected = true;
    cairn_stream_set_timeout(s, 0); /* we want to see the node close it */
    assert_int_equal(cairn_stream_start_read(s, client_read, c), 0);
}

/* The inbound deadline: a client that connects and says nothing is closed
 * by the node after TCPTimeout. */
static void test_inbound_silent_client_closed(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, probe_only);
    struct client c = {.sim = w.sim};
    cairn_time t0 = cairn_sim_now(w.sim);
    assert_int_equal(
        cairn_stream_dial(w.attacker, &w.addr, 60 * CAIRN_SEC, client_connected, &c, &c.s), 0);
    cairn_sim_run_for(w.sim, 30 * CAIRN_SEC);
    assert_true(c.connected);
    assert_int_equal(c.end, CAIRN_EOF);
    assert_true(c.at - t0 >= 10 * CAIRN_SEC && c.at - t0 < 11 * CAIRN_SEC);
    world_free(&w);
}

struct ping_res {
    bool done, ok;
    int err;
    cairn_time at;
    cairn_sim *sim;
};

static void on_ping(bool ok, int err, void *token)
{
    struct ping_res *r = token;
    r->done = true;
    r->ok = ok;
    r->err = err;
    r->at = cairn_sim_now(r->sim);
}

/* The TCP pinger only needs a connect: bounded by its timeout when the
 * SYN goes nowhere, and done at connect against a silent peer. */
static void test_pinger_deadlines(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, probe_only);
    cairn_pinger_tcp *p;
    assert_int_equal(cairn_pinger_tcp_new(w.attacker, 2 * CAIRN_SEC, &p), 0);
    cairn_pinger seam = cairn_pinger_tcp_get(p);
    struct ping_res a = {.sim = w.sim}, b = {.sim = w.sim};
    assert_int_equal(seam.ops->ping(seam.impl, "dc", "s", &w.silent_addr, on_ping, &a), 0);
    assert_int_equal(cairn_sim_block(w.sim, &w.attacker_addr, &w.addr), 0);
    cairn_time t0 = cairn_sim_now(w.sim);
    assert_int_equal(seam.ops->ping(seam.impl, "dc", "s", &w.addr, on_ping, &b), 0);
    cairn_sim_run_for(w.sim, 10 * CAIRN_SEC);
    assert_true(a.done && a.ok);
    assert_true(b.done && !b.ok);
    assert_int_equal(b.err, CAIRN_ETIMEDOUT);
    assert_true(b.at - t0 <= 2 * CAIRN_SEC + 10 * CAIRN_MSEC);
    cairn_pinger_tcp_delete(p);
    world_free(&w);
}

/* ---- defect 7: a clean close is not a malformed message ---- */

static void test_join_peer_closes_reported_as_close(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, NULL);
    w.silent.close_at_once = true;
    struct join_res r = {.sim = w.sim};
    assert_int_equal(cairn_memberlist_join(w.ml, &w.silent_addr, 1, on_joined, &r), 0);
    cairn_sim_run_for(w.sim, 2 * CAIRN_SEC);
    assert_true(r.done);
    assert_int_equal(r.status, CAIRN_EOF);
    assert_true(
        logged(&w.log, "peer closed the connection without replying", "from=10.0.0.9:7946"));
    assert_false(logged(&w.log, "malformed", NULL));
    world_free(&w);
}

/* ---- defect 3: caps on inbound streams and buffered bytes ---- */

#define FLOOD_CONNS 60

static void flood_dial(struct world *w, struct client *c)
{
    c->sim = w->sim;
    assert_int_equal(
        cairn_stream_dial(w->attacker, &w->addr, 60 * CAIRN_SEC, client_connected, c, &c->s), 0);
}

static void test_stream_caps(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, probe_only);
    /* 200 silent connections: 128 are held, the rest closed at accept. */
    static struct client cs[200];
    memset(cs, 0, sizeof(cs));
    for (int i = 0; i < 200; i++)
        flood_dial(&w, &cs[i]);
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    cairn_ml_stats st;
    cairn_memberlist_get_stats(w.ml, &st);
    assert_int_equal(w.ml->inbound_streams, CAIRN_ML_MAX_INBOUND_STREAMS);
    assert_int_equal(st.streams_refused, 200 - CAIRN_ML_MAX_INBOUND_STREAMS);
    int closed = 0;
    for (int i = 0; i < 200; i++)
        closed += cs[i].end == CAIRN_EOF;
    assert_int_equal(closed, 200 - CAIRN_ML_MAX_INBOUND_STREAMS);
    /* Refusals are warned about once per second, not once each. */
    assert_true(st.log_suppressed >= 200 - CAIRN_ML_MAX_INBOUND_STREAMS - 2);
    for (int i = 0; i < 200; i++)
        cairn_stream_close(cs[i].s);
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    assert_int_equal(w.ml->inbound_streams, 0);

    /* 60 streams each announce a 20 MB user message and send 2 MB of it:
     * 120 MB offered, at most CAIRN_ML_STREAM_MEM_MAX held. */
    cairn_buf hdr;
    cairn_buf_init(&hdr, 64);
    cairn_wire_user_msg_header h = {.user_msg_len = 20 * 1000 * 1000};
    assert_int_equal(cairn__wire_user_msg_header_encode(&h, &hdr, NULL), 0);
    size_t chunk = 64 * 1024;
    uint8_t *junk = calloc(1, chunk);
    memset(cs, 0, sizeof(cs));
    for (int i = 0; i < FLOOD_CONNS; i++)
        flood_dial(&w, &cs[i]);
    cairn_sim_run_for(w.sim, 100 * CAIRN_MSEC);
    for (int i = 0; i < FLOOD_CONNS; i++)
        if (cs[i].s)
            assert_int_equal(cairn_stream_write(cs[i].s, hdr.data, hdr.len), 0);
    for (int k = 0; k < 32; k++) {
        for (int i = 0; i < FLOOD_CONNS; i++)
            if (cs[i].s && cs[i].end == 0)
                (void)cairn_stream_write(cs[i].s, junk, chunk);
        cairn_sim_run_for(w.sim, 20 * CAIRN_MSEC);
    }
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    cairn_memberlist_get_stats(w.ml, &st);
    assert_true(st.stream_mem_peak <= CAIRN_ML_STREAM_MEM_MAX);
    assert_true(st.stream_mem_peak >= CAIRN_ML_STREAM_MEM_MAX / 2);
    assert_true(st.stream_mem_refused >= 1);
    assert_true(logged(&w.log, "stream buffers full", "from=10.0.0.66:"));
    /* At the deadline everything is released. */
    cairn_sim_run_for(w.sim, 15 * CAIRN_SEC);
    cairn_memberlist_get_stats(w.ml, &st);
    assert_int_equal(st.stream_mem, 0);
    assert_int_equal(w.ml->inbound_streams, 0);
    for (int i = 0; i < FLOOD_CONNS; i++)
        cairn_stream_close(cs[i].s);
    free(junk);
    cairn_buf_destroy(&hdr);
    world_free(&w);
}

/* Stream after stream of LZW bombs: the decompression bucket meters them
 * (without it each of the ten cost 20 MiB of output, ~0.35 s of CPU). */
static void test_stream_bombs_metered(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, probe_only);
    static uint8_t lzw[80000];
    size_t n = lzw_bomb(lzw, sizeof lzw, 40000); /* expands to ~150 MB */
    cairn_buf msg;
    cairn_buf_init(&msg, 1 << 20);
    const uint8_t head[] = {9, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0, 0xa3, 'B', 'u', 'f', 0xc6};
    const uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    assert_int_equal(cairn_buf_append(&msg, head, sizeof head), 0);
    assert_int_equal(cairn_buf_append(&msg, len, 4), 0);
    assert_int_equal(cairn_buf_append(&msg, lzw, n), 0);
    static struct client cs[10];
    memset(cs, 0, sizeof(cs));
    for (int i = 0; i < 10; i++)
        flood_dial(&w, &cs[i]);
    cairn_sim_run_for(w.sim, 10 * CAIRN_MSEC);
    cairn_time t0 = cairn_sim_now(w.sim);
    for (int i = 0; i < 10; i++)
        assert_int_equal(cairn_stream_write(cs[i].s, msg.data, msg.len), 0);
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    double secs = (double)(cairn_sim_now(w.sim) - t0) / (double)CAIRN_SEC;
    cairn_ml_stats st;
    cairn_memberlist_get_stats(w.ml, &st);
    /* Every bomb was refused (the node closed every stream)... */
    for (int i = 0; i < 10; i++)
        assert_int_equal(cs[i].end, CAIRN_EOF);
    /* ...and together they cost one bucket plus its refill. */
    print_message("10 bombs in %.3f s: %llu bytes decompressed\n", secs,
                  (unsigned long long)st.stream_inflated);
    assert_true(st.stream_inflated >= CAIRN_ML_STREAM_DECOMPRESSED_MAX);
    assert_true((double)st.stream_inflated <=
                (double)CAIRN_ML_STREAM_DECOMPRESSED_MAX + secs * CAIRN_ML_STREAM_INFLATE_RATE);
    cairn_buf_destroy(&msg);
    world_free(&w);
}

/* ---- minor: bad packets are counted, and warned about at 1/s ---- */

static void test_bad_packet_warnings_rate_limited(void **state)
{
    (void)state;
    struct world w;
    world_new(&w, probe_only);
    cairn_udp *u;
    assert_int_equal(cairn_udp_bind(w.attacker, &w.attacker_addr, silent_udp, NULL, &u), 0);
    const uint8_t junk[] = {0xee, 1, 2, 3};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cairn_udp_send(u, &w.addr, junk, sizeof junk), 0);
    cairn_sim_run_for(w.sim, 500 * CAIRN_MSEC);
    cairn_ml_stats st;
    cairn_memberlist_get_stats(w.ml, &st);
    assert_int_equal(st.rx_dropped, 1000);
    assert_int_equal(st.log_suppressed, 999);
    assert_true(logged(&w.log, "unknown message type 238", "from=10.0.0.66:"));
    /* A second later the next line says how many were left out. */
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    assert_int_equal(cairn_udp_send(u, &w.addr, junk, sizeof junk), 0);
    cairn_sim_run_for(w.sim, 100 * CAIRN_MSEC);
    assert_true(logged(&w.log, "(999 similar suppressed)", NULL));
    cairn_udp_close(u);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_silent_peer_times_out),
        cmocka_unit_test(test_pushpull_silent_peer_no_leak),
        cmocka_unit_test(test_tcp_ping_silent_peer_ends),
        cmocka_unit_test(test_inbound_silent_client_closed),
        cmocka_unit_test(test_pinger_deadlines),
        cmocka_unit_test(test_join_peer_closes_reported_as_close),
        cmocka_unit_test(test_stream_caps),
        cmocka_unit_test(test_stream_bombs_metered),
        cmocka_unit_test(test_bad_packet_warnings_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
