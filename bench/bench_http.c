/* bench_http: route lookups per second through the agent's HTTP API.
 *
 * 64 keep-alive clients (one epoll thread, plain sockets, one request in
 * flight per connection) ask GET /v1/cairn/route/dc1 of the real adapter
 * (src/agent/http.c, MHD's internal epoll thread, the router of Consul's
 * testCluster), for a fixed time. The baseline, measured in the same run
 * with the same clients: a trivial MHD server with the same threading
 * answering a constant body of the same size, i.e. what MHD and the
 * sockets cost before cairn does anything. Also printed: the raw
 * in-process cairn_router_find_route rate on one thread.
 *
 * Output: one JSON object per line (docs/performance.md):
 *   {"bench":"http_route","clients":64,"seconds":2.0,"requests":N,"rps":R}
 *   {"bench":"http_constant_baseline",...}
 *   {"bench":"http_route_vs_baseline","ratio":R}
 *   {"bench":"router_find_route_inproc","ops":N,"ops_per_sec":R}
 * Usage: bench_http [SECONDS] (default 2).
 */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "agent/http.h"
#include "faux_servers.h"
#include "mock_cluster.h"

#define CLIENTS 64
/* Rounds of each side, alternated. */
#define ROUNDS 4

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct client {
    int fd;
    char buf[8192];
    size_t len;
};

/* response_done: a whole answer (headers + Content-Length body) is in buf. */
static bool response_done(struct client *c)
{
    c->buf[c->len < sizeof(c->buf) ? c->len : sizeof(c->buf) - 1] = 0;
    char *end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL)
        return false;
    const char *cl = strcasestr(c->buf, "Content-Length:");
    size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
    return c->len >= (size_t)(end + 4 - c->buf) + body;
}

/* run_clients: CLIENTS keep-alive connections to port, each sending req
 * again as soon as its answer is complete; returns answers per second. */
static double run_clients(uint16_t port, const char *req, double seconds, long *ret_n)
{
    struct client cs[CLIENTS];
    int ep = epoll_create1(0);
    size_t rl = strlen(req);
    for (int i = 0; i < CLIENTS; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        cs[i].len = 0;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(cs[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("connect");
            exit(1);
        }
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        if (write(cs[i].fd, req, rl) != (ssize_t)rl) {
            perror("write");
            exit(1);
        }
    }
    long n = 0;
    double start = now_s(), end = start + seconds;
    struct epoll_event evs[CLIENTS];
    while (now_s() < end) {
        int k = epoll_wait(ep, evs, CLIENTS, 100);
        for (int i = 0; i < k; i++) {
            struct client *c = evs[i].data.ptr;
            ssize_t got = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
            if (got <= 0) {
                fprintf(stderr, "bench_http: connection to %u closed after %ld answers (%s)\n",
                        (unsigned)port, n, got < 0 ? strerror(errno) : "EOF");
                exit(1);
            }
            c->len += (size_t)got;
            if (!response_done(c))
                continue;
            if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "bench_http: unexpected answer: %.80s\n", c->buf);
                exit(1);
            }
            n++;
            c->len = 0;
            if (write(c->fd, req, rl) != (ssize_t)rl) {
                perror("write");
                exit(1);
            }
        }
    }
    double took = now_s() - start;
    for (int i = 0; i < CLIENTS; i++)
        close(cs[i].fd);
    close(ep);
    *ret_n = n;
    return (double)n / took;
}

/* free_port: a TCP port the kernel just handed out (and took back). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        sa.sin_port = htons(27946);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- the baseline: a constant answer from plain MHD ---- */

static char constant_body[512];
static size_t constant_len;

static enum MHD_Result on_constant(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    static int marker;
    if (*con_cls == NULL) { /* headers: answer on the next call, as the adapter does */
        *con_cls = &marker;
        return MHD_YES;
    }
    *upload_size = 0;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(constant_len, constant_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void print_rate(const char *name, double seconds, long n, double rps)
{
    printf("{\"bench\":\"%s\",\"clients\":%d,\"seconds\":%.1f,\"requests\":%ld,\"rps\":%.0f}\n",
           name, CLIENTS, seconds, n, rps);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (!(seconds > 0))
        seconds = 2.0;
    uv_loop_t uv;
    cairn_loop *loop;
    if (uv_loop_init(&uv) < 0 || cairn_loop_new_uv(&uv, &loop) < 0)
        return fprintf(stderr, "bench_http: no loop\n"), 1;
    faux_conn_pool ok;
    faux_conn_pool_init(&ok, 0.0, 1);
    cairn_router *router;
    cairn_router_config rc = {.local_datacenter = "dc0", .loop = loop, .seed = 1};
    mock_cluster *wan = mock_cluster_consul_test("node0.dc0");
    cairn_cluster seam = mock_cluster_seam(wan);
    if (cairn_router_new(&rc, &router) < 0 ||
        cairn_router_add_area(router, CAIRN_AREA_WAN, &seam, &ok.pinger, NULL) < 0)
        return fprintf(stderr, "bench_http: no router\n"), 1;
    cairn_agent_config ac = {.node = "bench"};
    cairn_addr_parse("127.0.0.1", free_port(), &ac.bind);
    cairn_agent *agent;
    cairn_diag diag = {0};
    int arc = cairn_agent_new(loop, &ac, NULL, NULL, NULL, &diag, &agent);
    if (arc < 0)
        return fprintf(stderr, "bench_http: agent: %s %s\n", cairn_strerror(arc), diag.msg), 1;
    char haddr[32];
    snprintf(haddr, sizeof(haddr), "127.0.0.1:%u", (unsigned)free_port());
    cairn_http_config hc = {.addr = haddr, .router = router, .dc = "dc0"};
    cairn_http *http;
    if (cairn__http_new(loop, agent, &hc, &diag, &http) < 0) {
        fprintf(stderr, "bench_http: %s\n", diag.msg);
        return 1;
    }
    const char *req = "GET /v1/cairn/route/dc1 HTTP/1.1\r\nHost: bench\r\n\r\n";

    /* The constant has the size of a route answer. */
    cairn_http_req q = {.method = "GET", .path = "/v1/cairn/route/dc1"};
    cairn_http_view view = {.dc = "dc0", .node = "bench", .router = router};
    cairn_http_resp resp;
    cairn__http_api_handle(&q, &view, &resp);
    constant_len = resp.body_len < sizeof(constant_body) ? resp.body_len : sizeof(constant_body);
    memcpy(constant_body, resp.body, constant_len);
    cairn__http_resp_clear(&resp);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_constant, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_END);
    if (d == NULL)
        return fprintf(stderr, "bench_http: MHD did not start\n"), 1;
    uint16_t base_port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;

    /* Alternate short rounds so that load from elsewhere on the machine
     * falls on both sides alike. */
    long nb = 0, nr = 0;
    double tb = 0, tr = 0;
    for (int round = 0; round < ROUNDS; round++) {
        long k;
        double t = now_s();
        run_clients(cairn__http_port(http), req, seconds / ROUNDS, &k);
        tr += now_s() - t;
        nr += k;
        t = now_s();
        run_clients(base_port, req, seconds / ROUNDS, &k);
        tb += now_s() - t;
        nb += k;
    }
    double rps = (double)nr / tr, base = (double)nb / tb;
    print_rate("http_route", seconds, nr, rps);
    print_rate("http_constant_baseline", seconds, nb, base);
    printf("{\"bench\":\"http_route_vs_baseline\",\"ratio\":%.3f}\n", rps / base);

    long ops = 0;
    double start = now_s();
    cairn_route route;
    while (now_s() - start < seconds / 2) {
        for (int i = 0; i < 10000; i++)
            ops += cairn_router_find_route(router, "dc1", &route) == 0;
    }
    printf("{\"bench\":\"router_find_route_inproc\",\"ops\":%ld,\"ops_per_sec\":%.0f}\n", ops,
           (double)ops / (now_s() - start));

    MHD_stop_daemon(d);
    cairn__http_delete(http);
    cairn_agent_delete(agent);
    cairn_router_delete(router);
    mock_cluster_delete(wan);
    cairn_loop_delete(loop);
    uv_run(&uv, UV_RUN_NOWAIT);
    uv_loop_close(&uv);
    return 0;
}
