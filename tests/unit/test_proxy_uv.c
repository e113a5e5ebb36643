/* The proxy on real sockets (libuv loop thread, echo server processes,
 * tests/support/proxy_lab.h), under kill -9 of the routed server:
 *
 *   - connections spliced to the killed server end; the others go on;
 *   - every connection opened after the kill succeeds: before the failure
 *     detector's verdict the first one meets a refused connect, which
 *     notify_failed turns into a route move and a retry on a live server;
 *     after the verdict (the server leaves the Router) none even retries;
 *   - every refused connect moved the route (failures == retries ==
 *     failovers, and the route never points at the dead server again).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy_lab.h"

#define NSRV 3
#define NNEW 20

static void test_kill9(void **state)
{
    (void)state;
    uint16_t ports[NSRV];
    pid_t pids[NSRV];
    for (int i = 0; i < NSRV; i++)
        pids[i] = proxy_lab_echo_fork(&ports[i]);
    proxy_lab *lab = proxy_lab_new(ports, NSRV, NULL);
    uint16_t pport = proxy_lab_port(lab);

    /* A on the first front server, B on the next one. */
    int fa = proxy_lab_front(lab);
    int a = proxy_lab_connect(pport);
    assert_true(a >= 0);
    assert_int_equal(proxy_lab_echo(a, "a1", 2), 0);
    proxy_lab_fail_front(lab);
    int victim = proxy_lab_front(lab);
    assert_int_not_equal(victim, fa);
    int b = proxy_lab_connect(pport);
    assert_true(b >= 0);
    assert_int_equal(proxy_lab_echo(b, "b1", 2), 0);

    /* kill -9 the routed server: B ends, A goes on. */
    kill(pids[victim], SIGKILL);
    waitpid(pids[victim], NULL, 0);
    pids[victim] = 0;
    char c;
    assert_true(recv(b, &c, 1, 0) <= 0);
    close(b);
    assert_int_equal(proxy_lab_echo(a, "a2", 2), 0);

    /* Before the failure detector's verdict: every new connection works,
     * the first refused connect moved the route. */
    char msg[64];
    for (int i = 0; i < NNEW; i++) {
        int fd = proxy_lab_connect(pport);
        assert_true(fd >= 0);
        snprintf(msg, sizeof(msg), "before-%d", i);
        assert_int_equal(proxy_lab_echo(fd, msg, strlen(msg)), 0);
        close(fd);
        assert_int_not_equal(proxy_lab_front(lab), victim);
    }
    cairn_proxy_stats s;
    proxy_lab_stats(lab, &s);
    assert_int_equal(s.connect_failures, 1);
    assert_int_equal(s.retries, s.connect_failures);
    assert_int_equal(s.failovers, s.connect_failures);

    /* The verdict: the server leaves the Router; no connect fails. */
    proxy_lab_remove(lab, victim);
    for (int i = 0; i < NNEW; i++) {
        int fd = proxy_lab_connect(pport);
        assert_true(fd >= 0);
        snprintf(msg, sizeof(msg), "after-%d", i);
        assert_int_equal(proxy_lab_echo(fd, msg, strlen(msg)), 0);
        close(fd);
    }
    assert_int_equal(proxy_lab_echo(a, "a3", 2), 0);
    close(a);
    proxy_lab_stats(lab, &s);
    assert_int_equal(s.connect_failures, 1);
    assert_int_equal(s.accepted, 2 + 2 * NNEW);
    proxy_lab_delete(lab);
    for (int i = 0; i < NSRV; i++)
        if (pids[i]) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
}

/* Every route refused: the client is closed after the retry limit, and
 * each refused connect was reported (the route went round). */
static void test_all_dead(void **state)
{
    (void)state;
    uint16_t ports[NSRV];
    pid_t pids[NSRV];
    for (int i = 0; i < NSRV; i++)
        pids[i] = proxy_lab_echo_fork(&ports[i]);
    proxy_lab *lab = proxy_lab_new(ports, NSRV, NULL);
    for (int i = 0; i < NSRV; i++) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
    }
    int first = proxy_lab_front(lab);
    int fd = proxy_lab_connect(proxy_lab_port(lab));
    assert_true(fd >= 0);
    char c;
    assert_true(recv(fd, &c, 1, 0) <= 0);
    close(fd);
    cairn_proxy_stats s;
    proxy_lab_stats(lab, &s);
    assert_int_equal(s.connect_failures, CAIRN_PROXY_ATTEMPTS);
    assert_int_equal(s.retries, CAIRN_PROXY_ATTEMPTS - 1);
    assert_int_equal(s.closed_error, 1);
    /* Three rotations of three servers: back to the first. */
    assert_int_equal(proxy_lab_front(lab), first);
    proxy_lab_delete(lab);
}

/* Bulk both ways on real sockets: 8 MiB written then half-closed by one
 * thread while this one reads the echo; the proxy pauses and resumes
 * reading (its 256 KiB bound) and passes the EOF on after the last byte. */
#define BULK (8u * 1024 * 1024)

struct bulk {
    int fd;
    uint8_t *data;
};

static void *bulk_write(void *ud)
{
    struct bulk *b = ud;
    for (size_t off = 0; off < BULK;) {
        ssize_t w = send(b->fd, b->data + off, BULK - off, MSG_NOSIGNAL);
        if (w <= 0)
            return NULL;
        off += (size_t)w;
    }
    shutdown(b->fd, SHUT_WR);
    return NULL;
}

static void test_bulk_half_close(void **state)
{
    (void)state;
    uint16_t port;
    pid_t pid = proxy_lab_echo_fork(&port);
    proxy_lab *lab = proxy_lab_new(&port, 1, NULL);
    struct bulk b = {.fd = proxy_lab_connect(proxy_lab_port(lab)), .data = malloc(BULK)};
    assert_true(b.fd >= 0);
    for (size_t i = 0; i < BULK; i++)
        b.data[i] = (uint8_t)(i * 2654435761u >> 13);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bulk_write, &b), 0);
    uint8_t *got = malloc(BULK + 1);
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(b.fd, got + n, BULK - n + (n == BULK), 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        assert_true(n <= BULK);
    }
    pthread_join(t, NULL);
    close(b.fd);
    assert_int_equal(n, BULK);
    assert_memory_equal(got, b.data, BULK);
    cairn_proxy_stats s;
    proxy_lab_stats(lab, &s);
    assert_int_equal(s.bytes_up, BULK);
    assert_int_equal(s.bytes_down, BULK);
    assert_int_equal(s.closed_error, 0);
    free(got);
    free(b.data);
    proxy_lab_delete(lab);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_all_dead),
        cmocka_unit_test(test_bulk_half_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
