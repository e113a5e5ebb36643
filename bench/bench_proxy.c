/* bench_proxy: what the agent's TCP proxy (src/agent/proxy.c) costs, next
 * to a direct connection to the same echo server, in one run.
 *
 * Setup (tests/support/proxy_lab.h): one echo server process on 127.0.0.1,
 * a Router whose dc2 has that one server, the proxy on its own libuv
 * thread; the client is this thread (plus one writer thread for the bulk
 * transfer). Three figures, each measured direct and through the proxy:
 *
 *   - latency: one connection, ROUNDS round trips of 64 bytes, p50/p99;
 *   - throughput: one connection, BULK bytes written by one thread and
 *     read back (echoed) by another, MiB/s of payload one way;
 *   - connections per second: CONNS times connect, echo 1 byte, close.
 *
 * Prints one JSON object per figure with the proxy's value, the direct
 * baseline and their ratio. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy_lab.h"

#define ROUNDS 20000
#define BULK   (256u * 1024 * 1024)
#define CHUNK  (64u * 1024)
#define CONNS  3000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_proxy: %s failed\n", what);
    exit(1);
}

/* p50 and p99 of ROUNDS 64-byte round trips, in microseconds. */
static void latency(uint16_t port, double *p50, double *p99)
{
    static double rtt[ROUNDS];
    char msg[64];
    memset(msg, 'x', sizeof(msg));
    int fd = proxy_lab_connect(port);
    if (fd < 0)
        die("connect");
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = now_s();
        if (proxy_lab_echo(fd, msg, sizeof(msg)) < 0)
            die("echo");
        rtt[i] = (now_s() - t0) * 1e6;
    }
    close(fd);
    qsort(rtt, ROUNDS, sizeof(rtt[0]), cmp_double);
    *p50 = rtt[ROUNDS / 2];
    *p99 = rtt[ROUNDS * 99 / 100];
}

static void *bulk_writer(void *ud)
{
    int fd = *(int *)ud;
    static char buf[CHUNK];
    memset(buf, 'y', sizeof(buf));
    for (size_t sent = 0; sent < BULK;) {
        ssize_t w = send(fd, buf, CHUNK, MSG_NOSIGNAL);
        if (w <= 0)
            return NULL;
        sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    return NULL;
}

/* MiB/s of BULK bytes echoed through one connection. */
static double throughput(uint16_t port)
{
    int fd = proxy_lab_connect(port);
    if (fd < 0)
        die("connect");
    static char buf[CHUNK];
    pthread_t t;
    double t0 = now_s();
    if (pthread_create(&t, NULL, bulk_writer, &fd) != 0)
        die("pthread_create");
    size_t got = 0;
    while (got < BULK) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0)
            die("bulk recv");
        got += (size_t)r;
    }
    double dt = now_s() - t0;
    pthread_join(t, NULL);
    close(fd);
    return (double)BULK / (1024.0 * 1024.0) / dt;
}

/* Connections per second: connect, echo one byte, close. */
static double conn_rate(uint16_t port)
{
    double t0 = now_s();
    for (int i = 0; i < CONNS; i++) {
        int fd = proxy_lab_connect(port);
        if (fd < 0 || proxy_lab_echo(fd, "z", 1) < 0)
            die("connection");
        close(fd);
    }
    return CONNS / (now_s() - t0);
}

int main(void)
{
    uint16_t eport;
    pid_t pid = proxy_lab_echo_fork(&eport);
    proxy_lab *lab = proxy_lab_new(&eport, 1, NULL);
    uint16_t pport = proxy_lab_port(lab);

    double d50, d99, p50, p99;
    latency(eport, &d50, &d99);
    latency(pport, &p50, &p99);
    printf("{\"name\":\"proxy_latency_64B\",\"rounds\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"direct_p50_us\":%.1f,\"direct_p99_us\":%.1f,\"added_p50_us\":%.1f,"
           "\"added_p99_us\":%.1f,\"ratio_p50\":%.2f,\"ratio_p99\":%.2f}\n",
           ROUNDS, p50, p99, d50, d99, p50 - d50, p99 - d99, p50 / d50, p99 / d99);

    double dt = throughput(eport);
    double pt = throughput(pport);
    printf("{\"name\":\"proxy_throughput\",\"bytes\":%u,\"mib_per_s\":%.0f,"
           "\"direct_mib_per_s\":%.0f,\"ratio\":%.2f}\n",
           BULK, pt, dt, pt / dt);

    double dc = conn_rate(eport);
    double pc = conn_rate(pport);
    printf("{\"name\":\"proxy_conns_per_s\",\"conns\":%d,\"per_s\":%.0f,\"direct_per_s\":%.0f,"
           "\"ratio\":%.2f}\n",
           CONNS, pc, dc, pc / dc);

    cairn_proxy_stats s;
    proxy_lab_stats(lab, &s);
    printf("{\"name\":\"proxy_counters\",\"accepted\":%llu,\"connect_failures\":%llu,"
           "\"closed_error\":%llu,\"paused\":%llu}\n",
           (unsigned long long)s.accepted, (unsigned long long)s.connect_failures,
           (unsigned long long)s.closed_error, (unsigned long long)s.paused);
    fflush(stdout);
    proxy_lab_delete(lab);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}
