/* Unit tests of the agent's TCP proxy (src/agent/proxy.c) on the
 * simulator: a Router over a mock cluster of three dc2 servers
 * (127.0.0.1-3, port tag 8300), each a simulated node with an echo (or
 * sink) listener; the proxy on 10.0.0.1, clients on 10.0.0.2. Splice,
 * back-pressure with a slow reader, half-close, a refused or timed-out
 * connect moving the route, the retry limit, the idle timeout, the
 * connection cap, and a server dying mid-connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/router.h"
#include "cairn/sim.h"
#include "agent/proxy.h"
#include "faux_servers.h"
#include "mock_cluster.h"

#define NSRV     3
#define MAX_SIDE 8

/* ---- simulated servers ---- */

enum srv_mode { SRV_ECHO, SRV_SINK };

struct srv;
struct side {
    struct srv *srv;
    cairn_stream *s;
    size_t rx;
    bool eof;
};

struct srv {
    cairn_loop *loop;
    cairn_addr addr;
    cairn_listener *lst;
    enum srv_mode mode;
    /* Sink: reading paused (a slow reader). */
    bool hold;
    /* Echo: on EOF, write this and shut down. */
    const char *bye;
    struct side sides[MAX_SIDE];
    size_t nsides;
    uint8_t *sink;
    size_t sink_len;
};

static void srv_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct side *sd = ud;
    struct srv *v = sd->srv;
    if (status < 0) {
        sd->eof = true;
        if (status == CAIRN_EOF && v->mode == SRV_ECHO) {
            if (v->bye)
                cairn_stream_write(s, (const uint8_t *)v->bye, strlen(v->bye));
            cairn_stream_shutdown(s);
        }
        return;
    }
    sd->rx += len;
    if (v->mode == SRV_ECHO) {
        assert_int_equal(cairn_stream_write(s, data, len), 0);
    } else {
        v->sink = realloc(v->sink, v->sink_len + len);
        memcpy(v->sink + v->sink_len, data, len);
        v->sink_len += len;
    }
}

static void srv_accept(cairn_listener *l, cairn_stream *s, void *ud)
{
    struct srv *v = ud;
    (void)l;
    assert_true(v->nsides < MAX_SIDE);
    struct side *sd = &v->sides[v->nsides++];
    sd->srv = v;
    sd->s = s;
    assert_int_equal(cairn_stream_start_read(s, srv_read, sd), 0);
    if (v->hold)
        cairn_stream_read_stop(s);
}

static void srv_listen(struct srv *v)
{
    assert_int_equal(cairn_listen(v->loop, &v->addr, srv_accept, v, &v->lst), 0);
}

static void srv_stop(struct srv *v)
{
    cairn_listener_close(v->lst);
    v->lst = NULL;
}

/* ---- clients ---- */

struct cli {
    cairn_stream *s;
    int status; /* connect status, 1 while pending */
    uint8_t *rx;
    size_t rx_len;
    int end; /* 0, or the end status read */
};

static void cli_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct cli *c = ud;
    (void)s;
    if (status < 0) {
        c->end = status;
        return;
    }
    c->rx = realloc(c->rx, c->rx_len + len);
    memcpy(c->rx + c->rx_len, data, len);
    c->rx_len += len;
}

static void cli_connected(cairn_stream *s, int status, void *ud)
{
    struct cli *c = ud;
    c->status = status;
    if (status == 0) {
        cairn_stream_set_timeout(s, 0); /* long-lived: no exchange deadline */
        assert_int_equal(cairn_stream_start_read(s, cli_read, c), 0);
    } else
        c->s = NULL;
}

/* ---- fixture ---- */

struct fx {
    cairn_sim *sim;
    cairn_loop *ploop, *cloop;
    mock_cluster *mc;
    faux_conn_pool ok;
    cairn_router *router;
    cairn_proxy *proxy;
    cairn_addr paddr;
    struct srv srv[NSRV];
};

static void fx_init(struct fx *f, const cairn_proxy_config *over)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(cairn_sim_new(7, &f->sim), 0);
    cairn_addr ip;
    cairn_addr_parse_ip("10.0.0.1", 0, &ip);
    assert_int_equal(cairn_sim_node_loop(f->sim, &ip, &f->ploop), 0);
    cairn_addr_parse_ip("10.0.0.2", 0, &ip);
    assert_int_equal(cairn_sim_node_loop(f->sim, &ip, &f->cloop), 0);
    f->mc = mock_cluster_new("self.dc1");
    static const char *names[NSRV] = {"s1", "s2", "s3"};
    for (int i = 0; i < NSRV; i++) {
        mock_cluster_add_member(f->mc, "dc2", names[i], NULL);
        char text[32];
        snprintf(text, sizeof(text), "127.0.0.%d", i + 1);
        cairn_addr_parse_ip(text, 8300, &f->srv[i].addr);
        cairn_addr nip = f->srv[i].addr;
        nip.port = 0;
        assert_int_equal(cairn_sim_node_loop(f->sim, &nip, &f->srv[i].loop), 0);
        srv_listen(&f->srv[i]);
    }
    faux_conn_pool_init(&f->ok, 0.0, 1);
    cairn_router_config rc = {.local_datacenter = "dc1", .loop = f->ploop, .seed = 3};
    assert_int_equal(cairn_router_new(&rc, &f->router), 0);
    cairn_cluster seam = mock_cluster_seam(f->mc);
    assert_int_equal(cairn_router_add_area(f->router, CAIRN_AREA_WAN, &seam, &f->ok.pinger, NULL),
                     0);
    cairn_proxy_config cfg = over ? *over : (cairn_proxy_config){0};
    cairn_addr_parse_ip("10.0.0.1", 9002, &cfg.listen);
    cfg.dc = "dc2";
    cfg.router = f->router;
    assert_int_equal(cairn__proxy_new(f->ploop, &cfg, NULL, &f->proxy), 0);
    assert_int_equal(cairn__proxy_local(f->proxy, &f->paddr), 0);
}

static void fx_destroy(struct fx *f)
{
    cairn__proxy_delete(f->proxy);
    for (int i = 0; i < NSRV; i++) {
        srv_stop(&f->srv[i]);
        for (size_t k = 0; k < f->srv[i].nsides; k++)
            cairn_stream_close(f->srv[i].sides[k].s);
        free(f->srv[i].sink);
    }
    cairn_sim_run_for(f->sim, CAIRN_SEC);
    cairn_router_delete(f->router);
    mock_cluster_delete(f->mc);
    for (int i = 0; i < NSRV; i++)
        cairn_loop_delete(f->srv[i].loop);
    cairn_loop_delete(f->cloop);
    cairn_loop_delete(f->ploop);
    cairn_sim_delete(f->sim);
}

/* The index of the server the Router routes dc2 to now. */
static int front(struct fx *f)
{
    cairn_route r;
    assert_int_equal(cairn_router_find_route(f->router, "dc2", &r), 0);
    for (int i = 0; i < NSRV; i++)
        if (cairn_addr_equal(&r.server.addr, &f->srv[i].addr))
            return i;
    fail_msg("route to an unknown server");
    return -1;
}

static void cli_open(struct fx *f, struct cli *c)
{
    memset(c, 0, sizeof(*c));
    c->status = 1;
    assert_int_equal(cairn_stream_dial(f->cloop, &f->paddr, 5 * CAIRN_SEC, cli_connected, c, &c->s),
                     0);
}

static void cli_close(struct cli *c)
{
    cairn_stream_close(c->s);
    free(c->rx);
}

static cairn_proxy_stats stats(struct fx *f)
{
    cairn_proxy_stats s;
    cairn__proxy_stats(f->proxy, &s);
    return s;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* ---- tests ---- */

static void test_splice(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    int fr = front(&f);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(c.status, 0);
    size_t n = 1024 * 1024;
    uint8_t *data = malloc(n);
    fill(data, n, 1);
    for (size_t off = 0; off < n; off += 10000)
        assert_int_equal(cairn_stream_write(c.s, data + off, n - off < 10000 ? n - off : 10000), 0);
    cairn_sim_run_for(f.sim, 5 * CAIRN_SEC);
    assert_int_equal(c.rx_len, n);
    assert_memory_equal(c.rx, data, n);
    assert_int_equal(f.srv[fr].sides[0].rx, n);
    cairn_proxy_stats s = stats(&f);
    assert_int_equal(s.accepted, 1);
    assert_int_equal(s.active, 1);
    assert_int_equal(s.bytes_up, n);
    assert_int_equal(s.bytes_down, n);
    assert_int_equal(s.connect_failures, 0);
    /* Closing the client ends the connection both ways. */
    cairn_stream_close(c.s);
    c.s = NULL;
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_true(f.srv[fr].sides[0].eof);
    assert_int_equal(stats(&f).active, 0);
    assert_int_equal(stats(&f).closed_error, 0);
    free(data);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_backpressure(void **state)
{
    (void)state;
    cairn_proxy_config cfg = {.buffer_max = 64 * 1024};
    struct fx f;
    fx_init(&f, &cfg);
    int fr = front(&f);
    for (int i = 0; i < NSRV; i++) {
        f.srv[i].mode = SRV_SINK;
        f.srv[i].hold = true;
    }
    cairn_sim_set_stream_chunk(f.sim, 16 * 1024);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(c.status, 0);
    size_t n = 4 * 1024 * 1024;
    uint8_t *data = malloc(n);
    fill(data, n, 2);
    assert_int_equal(cairn_stream_write(c.s, data, n), 0);
    cairn_sim_run_for(f.sim, 10 * CAIRN_SEC);
    /* The server reads nothing: the proxy holds at most its bound plus
     * one read, the rest stays queued at the client. */
    cairn_proxy_stats s = stats(&f);
    assert_true(s.paused >= 1);
    assert_true(s.bytes_up <= cfg.buffer_max + 16 * 1024);
    assert_true(cairn_stream_write_queued(c.s) >= n - cfg.buffer_max - 16 * 1024);
    /* The reader catches up: everything arrives, in order. */
    struct srv *v = &f.srv[fr];
    v->hold = false;
    assert_int_equal(cairn_stream_start_read(v->sides[0].s, srv_read, &v->sides[0]), 0);
    cairn_sim_run_for(f.sim, 30 * CAIRN_SEC);
    assert_int_equal(v->sink_len, n);
    assert_memory_equal(v->sink, data, n);
    assert_int_equal(cairn_stream_write_queued(c.s), 0);
    assert_true(stats(&f).paused >= 2);
    free(data);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_half_close(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    for (int i = 0; i < NSRV; i++)
        f.srv[i].bye = "bye";
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(cairn_stream_write(c.s, (const uint8_t *)"hello", 5), 0);
    assert_int_equal(cairn_stream_shutdown(c.s), 0);
    cairn_sim_run_for(f.sim, 2 * CAIRN_SEC);
    /* The server saw EOF after "hello", answered and shut down; the
     * client reads both, then EOF, and the proxy is done with it. */
    assert_int_equal(c.rx_len, 8);
    assert_memory_equal(c.rx, "hellobye", 8);
    assert_int_equal(c.end, CAIRN_EOF);
    assert_int_equal(stats(&f).active, 0);
    assert_int_equal(stats(&f).closed_error, 0);
    cli_close(&c);
    fx_destroy(&f);
}

/* Half-close the other way: the server shuts down first; the client reads
 * EOF, and the bytes it sends afterwards still reach the server. */
static void test_half_close_server_first(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    int fr = front(&f);
    for (int i = 0; i < NSRV; i++)
        f.srv[i].mode = SRV_SINK;
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(cairn_stream_write(c.s, (const uint8_t *)"a", 1), 0);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    struct srv *v = &f.srv[fr];
    assert_int_equal(v->nsides, 1);
    assert_int_equal(cairn_stream_shutdown(v->sides[0].s), 0);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(c.end, CAIRN_EOF);
    assert_int_equal(stats(&f).active, 1);
    assert_int_equal(cairn_stream_write(c.s, (const uint8_t *)"bc", 2), 0);
    cairn_stream_close(c.s);
    c.s = NULL;
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(v->sink_len, 3);
    assert_memory_equal(v->sink, "abc", 3);
    assert_true(v->sides[0].eof);
    assert_int_equal(stats(&f).active, 0);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_refused_moves_route(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    int dead = front(&f);
    srv_stop(&f.srv[dead]);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(c.status, 0);
    assert_int_equal(cairn_stream_write(c.s, (const uint8_t *)"ping", 4), 0);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(c.rx_len, 4);
    cairn_proxy_stats s = stats(&f);
    assert_int_equal(s.connect_failures, 1);
    assert_int_equal(s.retries, 1);
    assert_int_equal(s.failovers, 1);
    /* notify_failed rotated the dead server off the front. */
    int now = front(&f);
    assert_int_not_equal(now, dead);
    assert_int_equal(f.srv[now].nsides, 1);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_timeout_moves_route(void **state)
{
    (void)state;
    cairn_proxy_config cfg = {.connect_timeout = CAIRN_SEC};
    struct fx f;
    fx_init(&f, &cfg);
    int dead = front(&f);
    cairn_addr pip = f.paddr, sip = f.srv[dead].addr;
    pip.port = sip.port = 0;
    assert_int_equal(cairn_sim_block(f.sim, &pip, &sip), 0);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC / 2);
    assert_int_equal(stats(&f).connect_failures, 0);
    cairn_sim_run_for(f.sim, 2 * CAIRN_SEC);
    assert_int_equal(c.status, 0);
    cairn_proxy_stats s = stats(&f);
    assert_int_equal(s.connect_failures, 1);
    assert_int_equal(s.failovers, 1);
    assert_int_not_equal(front(&f), dead);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_retry_limit(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    for (int i = 0; i < NSRV; i++)
        srv_stop(&f.srv[i]);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, 2 * CAIRN_SEC);
    /* Three attempts, three failures, then the client is closed. */
    assert_int_equal(c.status, 0);
    assert_int_equal(c.end, CAIRN_EOF);
    cairn_proxy_stats s = stats(&f);
    assert_int_equal(s.connect_failures, CAIRN_PROXY_ATTEMPTS);
    assert_int_equal(s.retries, CAIRN_PROXY_ATTEMPTS - 1);
    assert_int_equal(s.failovers, 0);
    assert_int_equal(s.closed_error, 1);
    assert_int_equal(s.active, 0);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_no_router(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    cairn__proxy_set_router(f.proxy, NULL);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(c.end, CAIRN_EOF);
    assert_int_equal(stats(&f).no_route, 1);
    assert_int_equal(stats(&f).closed_error, 1);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    cairn_proxy_config cfg = {.idle_timeout = 10 * CAIRN_SEC};
    struct fx f;
    fx_init(&f, &cfg);
    struct cli c;
    cli_open(&f, &c);
    cairn_sim_run_for(f.sim, 6 * CAIRN_SEC);
    assert_int_equal(cairn_stream_write(c.s, (const uint8_t *)"x", 1), 0);
    cairn_sim_run_for(f.sim, 6 * CAIRN_SEC);
    /* Activity at 6 s moved the deadline. */
    assert_int_equal(c.end, 0);
    assert_int_equal(c.rx_len, 1);
    cairn_sim_run_for(f.sim, 6 * CAIRN_SEC);
    assert_int_equal(c.end, CAIRN_EOF);
    assert_int_equal(stats(&f).idle_closed, 1);
    assert_int_equal(stats(&f).active, 0);
    cli_close(&c);
    fx_destroy(&f);
}

static void test_conn_cap(void **state)
{
    (void)state;
    cairn_proxy_config cfg = {.max_conns = 2};
    struct fx f;
    fx_init(&f, &cfg);
    struct cli c[3];
    for (int i = 0; i < 3; i++)
        cli_open(&f, &c[i]);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    cairn_proxy_stats s = stats(&f);
    assert_int_equal(s.accepted, 3);
    assert_int_equal(s.active, 2);
    assert_int_equal(s.refused_cap, 1);
    int refused = 0;
    for (int i = 0; i < 3; i++)
        refused += c[i].end == CAIRN_EOF;
    assert_int_equal(refused, 1);
    /* A slot frees when a connection ends. */
    for (int i = 0; i < 3; i++)
        if (c[i].end == 0) {
            cairn_stream_close(c[i].s);
            c[i].s = NULL;
            break;
        }
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    struct cli d;
    cli_open(&f, &d);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(d.end, 0);
    assert_int_equal(stats(&f).active, 2);
    for (int i = 0; i < 3; i++)
        cli_close(&c[i]);
    cli_close(&d);
    fx_destroy(&f);
}

static void test_server_dies_mid_connection(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL);
    int fr = front(&f);
    struct cli a, b;
    cli_open(&f, &a);
    cli_open(&f, &b);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    struct srv *v = &f.srv[fr];
    assert_int_equal(v->nsides, 2);
    /* The server drops one connection with a reset (a partition from the
     * proxy breaks exactly the streams between them; here only one). */
    cairn_stream_close(v->sides[0].s);
    v->sides[0].s = NULL;
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    int ended = (a.end != 0) + (b.end != 0);
    assert_int_equal(ended, 1);
    struct cli *alive = a.end ? &b : &a, *gone = a.end ? &a : &b;
    assert_int_equal(gone->end, CAIRN_EOF);
    /* Its client closes on EOF; the other connection is untouched. */
    cairn_stream_close(gone->s);
    gone->s = NULL;
    assert_int_equal(cairn_stream_write(alive->s, (const uint8_t *)"still", 5), 0);
    cairn_sim_run_for(f.sim, CAIRN_SEC);
    assert_int_equal(alive->rx_len, 5);
    assert_int_equal(alive->end, 0);
    assert_int_equal(stats(&f).active, 1);
    cli_close(&a);
    cli_close(&b);
    fx_destroy(&f);
}

static void test_parse_spec(void **state)
{
    (void)state;
    cairn_addr a;
    char dc[CAIRN_SERVER_DC_MAX], why[128];
    assert_int_equal(
        cairn__proxy_parse_spec("127.0.0.1:9002=dc2", &a, dc, sizeof(dc), why, sizeof(why)), 0);
    assert_int_equal(a.port, 9002);
    assert_string_equal(dc, "dc2");
    assert_int_equal(cairn__proxy_parse_spec("[::1]:9=east", &a, dc, sizeof(dc), why, sizeof(why)),
                     0);
    assert_int_equal(a.family, 6);
    const char *bad[] = {"127.0.0.1:9002",    "127.0.0.1:9002=", "=dc2",
                         "127.0.0.1=dc2",     "host:1=dc",       "127.0.0.1:0=dc",
                         "127.0.0.1:70000=dc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cairn__proxy_parse_spec(bad[i], &a, dc, sizeof(dc), why, sizeof(why)),
                         CAIRN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splice),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_half_close_server_first),
        cmocka_unit_test(test_refused_moves_route),
        cmocka_unit_test(test_timeout_moves_route),
        cmocka_unit_test(test_retry_limit),
        cmocka_unit_test(test_no_router),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_conn_cap),
        cmocka_unit_test(test_server_dies_mid_connection),
        cmocka_unit_test(test_parse_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
