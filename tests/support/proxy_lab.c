/* proxy_lab.c: see proxy_lab.h. */
#include "proxy_lab.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "cairn/loop_uv.h"
#include "cairn/router.h"
#include "faux_servers.h"
#include "mock_cluster.h"

#define LAB_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "proxy_lab: %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- echo servers ---- */

#define ECHO_FDS 251

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void echo_serve(int lfd)
{
    struct pollfd fds[ECHO_FDS];
    static char buf[65536];
    nfds_t n = 1;
    fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (;;) {
        if (poll(fds, n, -1) < 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0 && n < ECHO_FDS) {
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
            } else if (c >= 0) {
                close(c);
            }
        }
        for (nfds_t i = 1; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fds[i].fd, buf, sizeof(buf));
            if (r <= 0) {
                close(fds[i].fd);
                fds[i] = fds[--n];
                i--;
                continue;
            }
            write_all(fds[i].fd, buf, (size_t)r);
        }
    }
}

pid_t proxy_lab_echo_fork(uint16_t *ret_port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    LAB_CHECK(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    LAB_CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    LAB_CHECK(listen(lfd, 256) == 0);
    socklen_t len = sizeof(sa);
    LAB_CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
    *ret_port = ntohs(sa.sin_port);
    pid_t pid = fork();
    LAB_CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN);
        echo_serve(lfd);
        _exit(0);
    }
    close(lfd);
    return pid;
}

/* ---- the lab ---- */

struct proxy_lab {
    uv_loop_t uv;
    cairn_loop *loop;
    mock_cluster *mc;
    faux_conn_pool ok;
    cairn_router *router;
    cairn_proxy *proxy;
    uint16_t port;
    uint16_t ports[PROXY_LAB_MAX];
    char names[PROXY_LAB_MAX][32];
    size_t n;
    pthread_t thread;
    /* Calls run on the loop thread (call_on_loop). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

struct lab_call {
    proxy_lab *lab;
    void (*fn)(proxy_lab *lab, void *arg);
    void *arg;
    bool done;
};

static void run_call(void *ud)
{
    struct lab_call *c = ud;
    c->fn(c->lab, c->arg);
    pthread_mutex_lock(&c->lab->mu);
    c->done = true;
    pthread_cond_broadcast(&c->lab->cv);
    pthread_mutex_unlock(&c->lab->mu);
}

static void call_on_loop(proxy_lab *lab, void (*fn)(proxy_lab *, void *), void *arg)
{
    struct lab_call c = {.lab = lab, .fn = fn, .arg = arg};
    LAB_CHECK(cairn_loop_post(lab->loop, run_call, &c) == 0);
    pthread_mutex_lock(&lab->mu);
    while (!c.done)
        pthread_cond_wait(&lab->cv, &lab->mu);
    pthread_mutex_unlock(&lab->mu);
}

static void *lab_thread(void *ud)
{
    proxy_lab *lab = ud;
    while (!lab->stop)
        uv_run(&lab->uv, UV_RUN_DEFAULT);
    return NULL;
}

proxy_lab *proxy_lab_new(const uint16_t *ports, size_t n, const cairn_proxy_config *cfg)
{
    LAB_CHECK(n <= PROXY_LAB_MAX);
    signal(SIGPIPE, SIG_IGN);
    proxy_lab *lab = calloc(1, sizeof(*lab));
    LAB_CHECK(lab != NULL);
    pthread_mutex_init(&lab->mu, NULL);
    pthread_cond_init(&lab->cv, NULL);
    LAB_CHECK(uv_loop_init(&lab->uv) == 0);
    LAB_CHECK(cairn_loop_new_uv(&lab->uv, &lab->loop) == 0);
    lab->mc = mock_cluster_new("self.dc1");
    lab->n = n;
    for (size_t i = 0; i < n; i++) {
        char node[16], full[32], port[8];
        snprintf(node, sizeof(node), "s%zu", i + 1);
        snprintf(full, sizeof(full), "s%zu.dc2", i + 1);
        snprintf(port, sizeof(port), "%u", ports[i]);
        snprintf(lab->names[i], sizeof(lab->names[i]), "%s", full);
        lab->ports[i] = ports[i];
        mock_cluster_add_member(lab->mc, "dc2", node, NULL);
        mock_cluster_set_addr(lab->mc, full, "127.0.0.1");
        mock_cluster_set_tag(lab->mc, full, "port", port);
    }
    faux_conn_pool_init(&lab->ok, 0.0, 1);
    cairn_router_config rc = {.local_datacenter = "dc1", .loop = lab->loop, .seed = 11};
    LAB_CHECK(cairn_router_new(&rc, &lab->router) == 0);
    cairn_cluster seam = mock_cluster_seam(lab->mc);
    LAB_CHECK(cairn_router_add_area(lab->router, CAIRN_AREA_WAN, &seam, &lab->ok.pinger, NULL) ==
              0);
    cairn_proxy_config pc = cfg ? *cfg : (cairn_proxy_config){0};
    cairn_addr_parse_ip("127.0.0.1", 0, &pc.listen);
    pc.dc = "dc2";
    pc.router = lab->router;
    LAB_CHECK(cairn__proxy_new(lab->loop, &pc, NULL, &lab->proxy) == 0);
    cairn_addr at;
    LAB_CHECK(cairn__proxy_local(lab->proxy, &at) == 0);
    lab->port = at.port;
    LAB_CHECK(pthread_create(&lab->thread, NULL, lab_thread, lab) == 0);
    return lab;
}

uint16_t proxy_lab_port(proxy_lab *lab)
{
    return lab->port;
}

int proxy_lab_front(proxy_lab *lab)
{
    cairn_route r;
    if (cairn_router_find_route(lab->router, "dc2", &r) < 0)
        return -1;
    for (size_t i = 0; i < lab->n; i++)
        if (r.server.addr.port == lab->ports[i])
            return (int)i;
    return -1;
}

void proxy_lab_fail_front(proxy_lab *lab)
{
    cairn_route r;
    LAB_CHECK(cairn_router_find_route(lab->router, "dc2", &r) == 0);
    cairn_router_notify_failed(lab->router, &r);
}

static void do_remove(proxy_lab *lab, void *arg)
{
    int i = *(int *)arg;
    cairn_server *s = faux_server(lab->names[i], "dc2");
    LAB_CHECK(cairn_router_remove_server(lab->router, CAIRN_AREA_WAN, s, NULL) == 0);
    cairn_server_unref(s);
}

void proxy_lab_remove(proxy_lab *lab, int i)
{
    call_on_loop(lab, do_remove, &i);
}

static void do_stats(proxy_lab *lab, void *arg)
{
    cairn__proxy_stats(lab->proxy, arg);
}

void proxy_lab_stats(proxy_lab *lab, cairn_proxy_stats *ret)
{
    call_on_loop(lab, do_stats, ret);
}

static void do_stop(proxy_lab *lab, void *arg)
{
    (void)arg;
    cairn__proxy_delete(lab->proxy);
    lab->proxy = NULL;
    cairn_router_shutdown(lab->router);
    lab->stop = true;
    uv_stop(&lab->uv);
}

static void close_walk(uv_handle_t *h, void *ud)
{
    (void)ud;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void proxy_lab_delete(proxy_lab *lab)
{
    if (lab == NULL)
        return;
    call_on_loop(lab, do_stop, NULL);
    pthread_join(lab->thread, NULL);
    cairn_router_delete(lab->router);
    cairn_loop_delete(lab->loop);
    uv_walk(&lab->uv, close_walk, NULL);
    uv_run(&lab->uv, UV_RUN_DEFAULT);
    uv_loop_close(&lab->uv);
    mock_cluster_delete(lab->mc);
    pthread_mutex_destroy(&lab->mu);
    pthread_cond_destroy(&lab->cv);
    free(lab);
}

/* ---- clients ---- */

int proxy_lab_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int proxy_lab_echo(int fd, const void *msg, size_t len)
{
    if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
        return -1;
    char buf[4096];
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < sizeof(buf) ? len - got : sizeof(buf);
        ssize_t r = recv(fd, buf, want, 0);
        if (r <= 0)
            return -1;
        if (memcmp(buf, (const char *)msg + got, (size_t)r) != 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}
