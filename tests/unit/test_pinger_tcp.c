/* Unit tests for the TCP pinger (cairn/pinger_tcp.h) on the libuv loop:
 * a listening server answers, a closed port is refused, a server whose
 * accept queue is full times out, and cancel/delete silence pings in flight.
 * All traffic stays on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "cairn/pinger_tcp.h"
#include "uv_env.h"

struct outcome {
    int calls;
    bool ok;
    int err;
};

static void on_done(bool ok, int err, void *token)
{
    struct outcome *o = token;
    o->calls++;
    o->ok = ok;
    o->err = err;
}

/* A plain socket listening on 127.0.0.1 with the given backlog; never
 * accepts. Returns the fd and the port. */
static int raw_listener(int backlog, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static cairn_addr loopback(uint16_t port)
{
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip("127.0.0.1", port, &a), 0);
    return a;
}

static void test_ok_and_refused(void **state)
{
    struct uv_env *e = *state;
    uint16_t port;
    int fd = raw_listener(16, &port);
    cairn_pinger_tcp *p;
    assert_int_equal(cairn_pinger_tcp_new(e->loop, 500 * CAIRN_MSEC, &p), 0);
    cairn_pinger pg = cairn_pinger_tcp_get(p);
    struct outcome up = {0}, down = {0};
    cairn_addr a = loopback(port);
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s1", &a, on_done, &up), 0);
    uint16_t closed_port;
    int tmp = raw_listener(1, &closed_port);
    close(tmp); /* a port nobody listens on */
    cairn_addr b = loopback(closed_port);
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s2", &b, on_done, &down), 0);
    assert_int_equal(cairn_pinger_tcp_inflight(p), 2);
    uv_env_run_for(e, 200);
    assert_int_equal(up.calls, 1);
    assert_true(up.ok);
    assert_int_equal(up.err, 0);
    assert_int_equal(down.calls, 1);
    assert_false(down.ok);
    assert_int_equal(down.err, CAIRN_ECONNREFUSED);
    assert_int_equal(cairn_pinger_tcp_inflight(p), 0);
    /* Invalid arguments: no done. */
    cairn_addr zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s3", &zero, on_done, &down), CAIRN_EINVAL);
    cairn_pinger_tcp_delete(p);
    close(fd);
}

/* A listener whose accept queue is full drops new SYNs: the dial can only
 * end by the pinger's timeout. */
static void test_timeout(void **state)
{
    struct uv_env *e = *state;
    uint16_t port;
    int fd = raw_listener(0, &port);
    int fillers[4];
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(fillers[i], F_SETFL, O_NONBLOCK);
        (void)connect(fillers[i], (struct sockaddr *)&sa, sizeof sa);
    }
    uv_env_run_for(e, 50);
    cairn_pinger_tcp *p;
    assert_int_equal(cairn_pinger_tcp_new(e->loop, 200 * CAIRN_MSEC, &p), 0);
    cairn_pinger pg = cairn_pinger_tcp_get(p);
    struct outcome o = {0};
    cairn_addr a = loopback(port);
    cairn_time t0 = cairn_monotonic_now();
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s1", &a, on_done, &o), 0);
    while (o.calls == 0 && cairn_monotonic_now() - t0 < 3 * CAIRN_SEC)
        uv_env_run_for(e, 10);
    cairn_time took = cairn_monotonic_now() - t0;
    assert_int_equal(o.calls, 1);
    assert_false(o.ok);
    assert_int_equal(o.err, CAIRN_ETIMEDOUT);
    assert_true(took >= 150 * CAIRN_MSEC && took < 1500 * CAIRN_MSEC);
    cairn_pinger_tcp_delete(p);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(fd);
}

static void test_cancel_and_delete(void **state)
{
    struct uv_env *e = *state;
    uint16_t port;
    int fd = raw_listener(16, &port);
    cairn_pinger_tcp *p;
    assert_int_equal(cairn_pinger_tcp_new(e->loop, 0, &p), 0);
    cairn_pinger pg = cairn_pinger_tcp_get(p);
    struct outcome mine = {0}, other = {0}, later = {0};
    cairn_addr a = loopback(port);
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s1", &a, on_done, &mine), 0);
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s1", &a, on_done, &mine), 0);
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s2", &a, on_done, &other), 0);
    pg.ops->cancel(pg.impl, &mine);
    assert_int_equal(cairn_pinger_tcp_inflight(p), 1);
    uv_env_run_for(e, 100);
    assert_int_equal(mine.calls, 0);
    assert_int_equal(other.calls, 1);
    assert_true(other.ok);
    /* Delete with one in flight: its done never runs. */
    assert_int_equal(pg.ops->ping(pg.impl, "dc1", "s1", &a, on_done, &later), 0);
    cairn_pinger_tcp_delete(p);
    uv_env_run_for(e, 100);
    assert_int_equal(later.calls, 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ok_and_refused, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_delete, uv_env_setup, uv_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
