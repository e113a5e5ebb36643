/* Name resolution through the loop (cairn_resolve_*): the simulator's host
 * table (names, several addresses, unknown names, the deadline against a
 * slow resolver, stalls, cancel), IP literals on every backend (delivered
 * from the loop, never from inside the call), the manual loop refusing
 * names, and libuv's getaddrinfo on its thread pool (localhost, a cancel
 * while the lookup runs, then deleting the loop). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "base/alloc_test.h"
#include "uv_env.h"

struct outcome {
    bool done;
    int status;
    size_t n;
    cairn_addr addrs[CAIRN_RESOLVE_MAX_ADDRS];
    cairn_time at;
    cairn_loop *loop;
    /* Time of the request (set by the test). */
    cairn_time t0;
};

static void on_resolved(cairn_resolve *req, int status, const cairn_addr *addrs, size_t n,
                        void *userdata)
{
    struct outcome *o = userdata;
    (void)req;
    assert_false(o->done);
    o->done = true;
    o->status = status;
    o->n = n;
    if (n > 0)
        memcpy(o->addrs, addrs, n * sizeof(*addrs));
    o->at = cairn_loop_now(o->loop) - o->t0;
}

static cairn_addr ip(const char *s)
{
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip(s, 0, &a), 0);
    return a;
}

struct simworld {
    cairn_sim *sim;
    cairn_loop *loop;
};

static void sim_setup(struct simworld *w)
{
    assert_int_equal(cairn_sim_new(5, &w->sim), 0);
    cairn_addr me = ip("10.0.0.1");
    assert_int_equal(cairn_sim_node_loop(w->sim, &me, &w->loop), 0);
}

static void sim_teardown(struct simworld *w)
{
    cairn_loop_delete(w->loop);
    cairn_sim_delete(w->sim);
}

static void test_sim_names(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct simworld w;
    sim_setup(&w);
    cairn_addr a = ip("10.0.0.7"), b = ip("fd00::7");
    assert_int_equal(cairn_sim_add_host(w.sim, "seed.dc1", &a), 0);
    assert_int_equal(cairn_sim_add_host(w.sim, "seed.dc1", &b), 0);
    assert_int_equal(cairn_sim_add_host(w.sim, "", &a), CAIRN_EINVAL);

    cairn_time t0 = cairn_loop_now(w.loop);
    struct outcome known = {.loop = w.loop, .t0 = t0}, unknown = {.loop = w.loop, .t0 = t0};
    assert_int_equal(
        cairn_resolve_start(w.loop, "seed.dc1", 7946, CAIRN_SEC, on_resolved, &known, NULL), 0);
    assert_int_equal(
        cairn_resolve_start(w.loop, "nowhere.dc1", 7946, CAIRN_SEC, on_resolved, &unknown, NULL),
        0);
    assert_false(known.done); /* never from inside the call */
    cairn_sim_run_for(w.sim, 10 * CAIRN_MSEC);
    assert_true(known.done);
    assert_int_equal(known.status, 0);
    assert_int_equal(known.n, 2);
    assert_int_equal(known.at, CAIRN_MSEC); /* the default resolve delay */
    cairn_addr want_a = a, want_b = b;
    want_a.port = want_b.port = 7946;
    assert_true(cairn_addr_equal(&known.addrs[0], &want_a));
    assert_true(cairn_addr_equal(&known.addrs[1], &want_b));
    assert_true(unknown.done);
    assert_int_equal(unknown.status, CAIRN_ENOHOST);
    assert_int_equal(unknown.n, 0);
    sim_teardown(&w);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* A resolver slower than the request's deadline: the request ends with
 * CAIRN_ETIMEDOUT at the deadline, and the late answer is dropped. */
static void test_sim_deadline(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct simworld w;
    sim_setup(&w);
    cairn_addr a = ip("10.0.0.7");
    assert_int_equal(cairn_sim_add_host(w.sim, "slow", &a), 0);
    cairn_sim_set_resolve_delay(w.sim, 30 * CAIRN_SEC);
    struct outcome o = {.loop = w.loop, .t0 = cairn_loop_now(w.loop)};
    assert_int_equal(cairn_resolve_start(w.loop, "slow", 1, 2 * CAIRN_SEC, on_resolved, &o, NULL),
                     0);
    cairn_sim_run_for(w.sim, 60 * CAIRN_SEC);
    assert_true(o.done);
    assert_int_equal(o.status, CAIRN_ETIMEDOUT);
    assert_int_equal(o.at, 2 * CAIRN_SEC);
    sim_teardown(&w);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* A stalled node resolves when it wakes; a cancelled request never calls
 * back and frees everything. */
static void test_sim_stall_and_cancel(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct simworld w;
    sim_setup(&w);
    cairn_addr a = ip("10.0.0.7"), me = ip("10.0.0.1");
    assert_int_equal(cairn_sim_add_host(w.sim, "h", &a), 0);
    cairn_time t0 = cairn_loop_now(w.loop);
    struct outcome o = {.loop = w.loop, .t0 = t0}, cancelled = {.loop = w.loop, .t0 = t0};
    cairn_resolve *req;
    assert_int_equal(
        cairn_resolve_start(w.loop, "h", 1, 10 * CAIRN_SEC, on_resolved, &cancelled, &req), 0);
    cairn_resolve_cancel(req);
    assert_int_equal(cairn_sim_stall(w.sim, &me, 3 * CAIRN_SEC), 0);
    assert_int_equal(cairn_resolve_start(w.loop, "h", 1, 10 * CAIRN_SEC, on_resolved, &o, NULL), 0);
    cairn_sim_run_for(w.sim, 20 * CAIRN_SEC);
    assert_false(cancelled.done);
    assert_true(o.done);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.at, 3 * CAIRN_SEC);
    sim_teardown(&w);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* IP literals on the manual loop (which resolves no names): answered from
 * the loop at once, v4 and v6; names refused; bad arguments refused. */
static void test_manual_literals(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    struct outcome v4 = {.loop = loop}, v6 = {.loop = loop};
    assert_int_equal(cairn_resolve_start(loop, "127.0.0.1", 80, CAIRN_SEC, on_resolved, &v4, NULL),
                     0);
    assert_int_equal(cairn_resolve_start(loop, "::1", 81, CAIRN_SEC, on_resolved, &v6, NULL), 0);
    assert_false(v4.done);
    cairn_loop_manual_run_pending(loop);
    assert_true(v4.done && v6.done);
    assert_int_equal(v4.status, 0);
    assert_int_equal(v4.n, 1);
    assert_int_equal(v4.addrs[0].port, 80);
    assert_int_equal(v6.addrs[0].family, 6);
    assert_int_equal(v6.addrs[0].port, 81);
    struct outcome no = {.loop = loop};
    assert_int_equal(cairn_resolve_start(loop, "localhost", 80, CAIRN_SEC, on_resolved, &no, NULL),
                     CAIRN_ENOTSUP);
    assert_int_equal(cairn_resolve_start(loop, "", 80, CAIRN_SEC, on_resolved, &no, NULL),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_resolve_start(loop, "h", 80, 0, on_resolved, &no, NULL), CAIRN_EINVAL);
    char longname[CAIRN_RESOLVE_HOST_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(cairn_resolve_start(loop, longname, 80, CAIRN_SEC, on_resolved, &no, NULL),
                     CAIRN_EINVAL);
    assert_false(no.done);
    cairn_loop_delete(loop);
}

/* libuv: "localhost" through getaddrinfo on the thread pool. */
static void test_uv_localhost(void **state)
{
    struct uv_env *e = *state;
    struct outcome o = {.loop = e->loop};
    assert_int_equal(
        cairn_resolve_start(e->loop, "localhost", 7946, 5 * CAIRN_SEC, on_resolved, &o, NULL), 0);
    uv_env_run_until(e, &o.done);
    assert_int_equal(o.status, 0);
    assert_true(o.n >= 1);
    for (size_t i = 0; i < o.n; i++) {
        char buf[64];
        assert_int_equal(o.addrs[i].port, 7946);
        cairn_addr_format(&o.addrs[i], false, buf, sizeof(buf));
        assert_true(strcmp(buf, "127.0.0.1") == 0 || strcmp(buf, "::1") == 0);
    }
}

/* libuv: a request cancelled while getaddrinfo may be running never calls
 * back; the lookup frees itself when the pool thread returns, and the loop
 * closes cleanly (uv_env_teardown asserts it). */
static void test_uv_cancel_in_flight(void **state)
{
    struct uv_env *e = *state;
    struct outcome cancelled = {.loop = e->loop}, literal = {.loop = e->loop};
    cairn_resolve *req;
    assert_int_equal(
        cairn_resolve_start(e->loop, "localhost", 1, 5 * CAIRN_SEC, on_resolved, &cancelled, &req),
        0);
    cairn_resolve_cancel(req);
    assert_int_equal(
        cairn_resolve_start(e->loop, "127.0.0.1", 1, 5 * CAIRN_SEC, on_resolved, &literal, NULL),
        0);
    uv_env_run_until(e, &literal.done);
    uv_env_run_for(e, 100);
    assert_false(cancelled.done);
}

struct hosts_outcome {
    bool done;
    int status;
    size_t n, failed;
    cairn_addr addrs[8];
    char first_failed[64];
    int first_err;
};

static void on_hosts(cairn_resolve_hosts *req, int status, const cairn_addr *addrs, size_t n,
                     size_t failed, const char *first_failed, int first_err, void *userdata)
{
    struct hosts_outcome *o = userdata;
    (void)req;
    assert_false(o->done);
    o->done = true;
    o->status = status;
    o->n = n;
    o->failed = failed;
    o->first_err = first_err;
    assert_true(n <= 8);
    if (n > 0)
        memcpy(o->addrs, addrs, n * sizeof(*addrs));
    snprintf(o->first_failed, sizeof(o->first_failed), "%s", first_failed ? first_failed : "");
}

/* "host[:port]" splitting: the forms Serf's -join accepts, and the reason
 * for each bad one. */
static void test_split_host(void **state)
{
    (void)state;
    char host[32];
    uint16_t port;
    cairn_diag d = {0};
    assert_int_equal(cairn_addr_split_host("seed.dc1:8000", 7946, host, sizeof(host), &port, &d),
                     0);
    assert_string_equal(host, "seed.dc1");
    assert_int_equal(port, 8000);
    assert_int_equal(cairn_addr_split_host("seed", 7946, host, sizeof(host), &port, &d), 0);
    assert_int_equal(port, 7946);
    assert_int_equal(cairn_addr_split_host("[::1]:5", 7946, host, sizeof(host), &port, &d), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 5);
    assert_int_equal(cairn_addr_split_host("fd00::1", 7946, host, sizeof(host), &port, &d), 0);
    assert_string_equal(host, "fd00::1");
    struct {
        const char *in;
        int err;
        const char *why;
    } bad[] = {
        {"h:0", CAIRN_ERANGE, "port 0 is not 1 to 65535"},
        {"h:70000", CAIRN_ERANGE, "port 70000 is not 1 to 65535"},
        {"h:x", CAIRN_EINVAL, "the port is not a number"},
        {"h:", CAIRN_EINVAL, "the port is not a number"},
        {":80", CAIRN_EINVAL, "no host"},
        {"[::1", CAIRN_EINVAL, "\"[\" without \"]\""},
        {"a-host-name-longer-than-thirty-one-bytes:1", CAIRN_ELIMIT, "host is 40 bytes, limit 31"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cairn_diag why = {0};
        assert_int_equal(cairn_addr_split_host(bad[i].in, 7946, host, sizeof(host), &port, &why),
                         bad[i].err);
        assert_string_equal(why.msg, bad[i].why);
    }
    assert_int_equal(cairn_addr_split_host("h", 0, host, sizeof(host), &port, NULL), CAIRN_EINVAL);
}

/* Several hosts at once: every address of every host that resolved, in
 * host order, with ports; the failures counted and the first one named. */
static void test_sim_hosts(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct simworld w;
    sim_setup(&w);
    cairn_addr a = ip("10.0.0.7"), b = ip("10.0.0.8");
    assert_int_equal(cairn_sim_add_host(w.sim, "seed.dc1", &a), 0);
    assert_int_equal(cairn_sim_add_host(w.sim, "seed.dc1", &b), 0);
    const char *hosts[] = {"seed.dc1:8000", "nowhere", "10.0.0.9", "[fd00::1]:5"};
    struct hosts_outcome o = {0};
    assert_int_equal(
        cairn_resolve_hosts_start(w.loop, hosts, 4, 7946, CAIRN_SEC, on_hosts, &o, NULL, NULL), 0);
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    assert_true(o.done);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.n, 4);
    const char *want[] = {"10.0.0.7:8000", "10.0.0.8:8000", "10.0.0.9:7946", "[fd00::1]:5"};
    for (size_t i = 0; i < 4; i++) {
        char buf[64];
        cairn_addr_format(&o.addrs[i], true, buf, sizeof(buf));
        assert_string_equal(buf, want[i]);
    }
    assert_int_equal(o.failed, 1);
    assert_string_equal(o.first_failed, "nowhere");
    assert_int_equal(o.first_err, CAIRN_ENOHOST);

    /* None resolves: the first error; a bad string: nothing started. */
    const char *none[] = {"nowhere", "nothere"};
    struct hosts_outcome z = {0};
    assert_int_equal(
        cairn_resolve_hosts_start(w.loop, none, 2, 7946, CAIRN_SEC, on_hosts, &z, NULL, NULL), 0);
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    assert_true(z.done);
    assert_int_equal(z.status, CAIRN_ENOHOST);
    assert_int_equal(z.n, 0);
    assert_int_equal(z.failed, 2);
    const char *badport[] = {"seed.dc1", "seed.dc1:0"};
    cairn_diag d = {0};
    struct hosts_outcome never = {0};
    assert_int_equal(
        cairn_resolve_hosts_start(w.loop, badport, 2, 7946, CAIRN_SEC, on_hosts, &never, NULL, &d),
        CAIRN_ERANGE);
    assert_string_equal(d.msg, "\"seed.dc1:0\": port 0 is not 1 to 65535");
    /* Cancelled: no callback, nothing leaks. */
    cairn_resolve_hosts *req;
    assert_int_equal(
        cairn_resolve_hosts_start(w.loop, hosts, 4, 7946, CAIRN_SEC, on_hosts, &never, &req, NULL),
        0);
    cairn_resolve_hosts_cancel(req);
    cairn_sim_run_for(w.sim, CAIRN_SEC);
    assert_false(never.done);
    sim_teardown(&w);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_names),
        cmocka_unit_test(test_sim_deadline),
        cmocka_unit_test(test_sim_stall_and_cancel),
        cmocka_unit_test(test_manual_literals),
        cmocka_unit_test(test_split_host),
        cmocka_unit_test(test_sim_hosts),
        cmocka_unit_test_setup_teardown(test_uv_localhost, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_uv_cancel_in_flight, uv_env_setup, uv_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
