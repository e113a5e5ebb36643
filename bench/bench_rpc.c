/* bench_rpc: many concurrent Serf RPC clients against one agent, cairn's
 * `cairn agent` next to a real `serf agent`, under the same load.
 *
 * Each agent is started alone on 127.0.0.1 (gossip and RPC ports picked
 * free), then `clients` connections (default 500) handshake and run for
 * `seconds` (default 60, env BENCH_RPC_SECONDS or --seconds): 80% ask
 * `members` in a closed loop (a new request as soon as the reply is in),
 * 10% hold a `stream *`, 5% a `monitor` at debug, and 5% run `query`
 * (100 ms timeout) in a closed loop. Requests that came back with an Error,
 * connections that dropped and decode failures count as errors. RSS (VmRSS)
 * is read before the load and after it.
 *
 * Prints one JSON object per figure, cairn and serf side by side, ratio =
 * cairn / serf:
 *   {"name":"rpc_requests_per_s","cairn":...,"serf":...,"ratio":...}
 *   {"name":"rpc_errors", ...}  {"name":"rpc_rss_kib_before"/"_after", ...}
 *
 * usage: bench_rpc [--seconds N] [--clients N] [--cairn PATH]
 * (PATH defaults to the cairn binary next to this program; serf from PATH;
 * without serf only cairn's figures are printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn/buf.h"
#include "serfrpc/decode.h"
#include "serfrpc/ipc.h"
#include "wire/mp.h"

enum kind { K_MEMBERS, K_STREAM, K_MONITOR, K_QUERY };

struct client {
    int fd;
    enum kind kind;
    uint64_t seq;
    bool want_body, acked;
    uint8_t *in;
    size_t len, cap;
};

struct result {
    double rps;
    uint64_t requests, records, errors;
    long rss_before, rss_after;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    for (int i = 0; i < 200; i++) {
        int p = 32000 + rand() % 8000;
        int ok = 1;
        for (int t = 0; t < 2 && ok; t++) {
            int fd = socket(AF_INET, t ? SOCK_DGRAM : SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
            a.sin_addr.s_addr = htonl(0x7f000001);
            ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
            close(fd);
        }
        if (ok)
            return p;
    }
    return -1;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* send_req: header {Command, Seq} and an optional body built by kind. */
static void send_req(struct client *c, const char *cmd, uint64_t seq)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 4096);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    cairn__mp_write_map(&w, 2);
    cairn__mp_write_cstr(&w, "Command");
    cairn__mp_write_cstr(&w, cmd);
    cairn__mp_write_cstr(&w, "Seq");
    cairn__mp_write_uint(&w, seq);
    if (strcmp(cmd, "handshake") == 0) {
        cairn__mp_write_map(&w, 1);
        cairn__mp_write_cstr(&w, "Version");
        cairn__mp_write_uint(&w, 1);
    } else if (strcmp(cmd, "stream") == 0) {
        cairn__mp_write_map(&w, 1);
        cairn__mp_write_cstr(&w, "Type");
        cairn__mp_write_cstr(&w, "*");
    } else if (strcmp(cmd, "monitor") == 0) {
        cairn__mp_write_map(&w, 1);
        cairn__mp_write_cstr(&w, "LogLevel");
        cairn__mp_write_cstr(&w, "DEBUG");
    } else if (strcmp(cmd, "query") == 0) {
        cairn__mp_write_map(&w, 7);
        cairn__mp_write_cstr(&w, "FilterNodes");
        cairn__mp_write_nil(&w);
        cairn__mp_write_cstr(&w, "FilterTags");
        cairn__mp_write_map(&w, 0);
        cairn__mp_write_cstr(&w, "Name");
        cairn__mp_write_cstr(&w, "bench");
        cairn__mp_write_cstr(&w, "Payload");
        cairn__mp_write_nil(&w);
        cairn__mp_write_cstr(&w, "RelayFactor");
        cairn__mp_write_uint(&w, 0);
        cairn__mp_write_cstr(&w, "RequestAck");
        cairn__mp_write_bool(&w, true);
        cairn__mp_write_cstr(&w, "Timeout");
        cairn__mp_write_uint(&w, 100000000);
    }
    cairn__mp_writer_finish(&w);
    size_t off = 0;
    while (off < b.len) {
        ssize_t n = write(c->fd, b.data + off, b.len - off);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {c->fd, POLLOUT, 0};
            poll(&p, 1, 100);
            continue;
        }
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    cairn_buf_destroy(&b);
}

static const char *first_cmd(enum kind k)
{
    return k == K_MEMBERS   ? "members"
           : k == K_STREAM  ? "stream"
           : k == K_MONITOR ? "monitor"
                            : "query";
}

/* on_object: one framed object; counts and sends the next request. */
static void on_object(struct client *c, const uint8_t *p, size_t n, struct result *r)
{
    if (c->want_body) {
        c->want_body = false;
        if (c->kind == K_MEMBERS) {
            r->requests++;
            send_req(c, "members", ++c->seq);
        } else if (c->kind == K_QUERY && memmem(p, n,
                                                "\xa4"
                                                "done",
                                                5)) {
            r->requests++;
            c->acked = false;
            send_req(c, "query", ++c->seq);
        } else {
            r->records++;
        }
        return;
    }
    cairn_wire_arena a;
    serfrpc_header h;
    cairn__wire_arena_init(&a, 1 << 20);
    if (cairn__serfrpc_decode_header(p, n, &a, &h, NULL) != 0) {
        r->errors++;
        cairn__wire_arena_destroy(&a);
        return;
    }
    if (h.error[0])
        r->errors++;
    cairn__wire_arena_destroy(&a);
    if (h.seq == 1)
        return; /* handshake */
    if (c->kind == K_MEMBERS)
        c->want_body = true;
    else if (!c->acked)
        c->acked = true; /* the command's own reply */
    else
        c->want_body = true; /* a record follows */
}

static void pump(struct client *c, struct result *r)
{
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? 2 * c->cap : 131072;
            c->in = realloc(c->in, c->cap);
        }
        ssize_t n = read(c->fd, c->in + c->len, c->cap - c->len);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            r->errors++;
            close(c->fd);
            c->fd = -1;
            return;
        }
        if (n < 0)
            break;
        c->len += (size_t)n;
    }
    size_t off = 0;
    while (off < c->len) {
        size_t len;
        int rc = cairn__ipc_object_len(c->in + off, c->len - off, 1u << 24, &len);
        if (rc == CAIRN_EAGAIN)
            break;
        if (rc != 0) {
            r->errors++;
            close(c->fd);
            c->fd = -1;
            return;
        }
        on_object(c, c->in + off, len, r);
        off += len;
    }
    memmove(c->in, c->in + off, c->len - off);
    c->len -= off;
}

static int run_load(int port, pid_t pid, int nclients, double secs, struct result *r)
{
    struct client *cs = calloc((size_t)nclients, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nclients, sizeof *pf);
    memset(r, 0, sizeof *r);
    r->rss_before = rss_kib(pid);
    for (int i = 0; i < nclients; i++) {
        struct client *c = &cs[i];
        int m = i % 20;
        c->kind = m < 16 ? K_MEMBERS : m < 18 ? K_STREAM : m < 19 ? K_MONITOR : K_QUERY;
        c->fd = dial(port);
        if (c->fd < 0) {
            r->errors++;
            continue;
        }
        send_req(c, "handshake", 1);
        c->seq = 2;
        send_req(c, first_cmd(c->kind), 2);
    }
    double t0 = now_s(), end = t0 + secs;
    uint64_t start_requests = 0;
    bool warm = false;
    while (now_s() < end) {
        for (int i = 0; i < nclients; i++)
            pf[i] = (struct pollfd){cs[i].fd, POLLIN, 0};
        if (poll(pf, (nfds_t)nclients, 100) < 0)
            break;
        for (int i = 0; i < nclients; i++)
            if (cs[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                pump(&cs[i], r);
        if (!warm && now_s() - t0 > 1) {
            warm = true; /* the first second is connection set-up */
            start_requests = r->requests;
            t0 = now_s();
        }
    }
    double el = now_s() - t0;
    r->rps = (double)(r->requests - start_requests) / (el > 0 ? el : 1);
    r->rss_after = rss_kib(pid);
    for (int i = 0; i < nclients; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].in);
    }
    free(cs);
    free(pf);
    return 0;
}

static pid_t spawn(char *const argv[])
{
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return p;
}

static bool wait_rpc(int port)
{
    for (int i = 0; i < 100; i++) {
        int fd = dial(port);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        usleep(100000);
    }
    return false;
}

static bool bench_one(bool cairn, const char *bin, int nclients, double secs, struct result *r)
{
    int gp = free_port(), rp = free_port();
    char bind[64], rpc[64];
    snprintf(bind, sizeof bind, "127.0.0.1:%d", gp);
    snprintf(rpc, sizeof rpc, "127.0.0.1:%d", rp);
    char b1[80], b2[80];
    snprintf(b1, sizeof b1, "-bind=%s", bind);
    snprintf(b2, sizeof b2, "-rpc-addr=%s", rpc);
    char *cargv[] = {(char *)bin, "agent",      "--node", "bench", "--bind",
                     bind,        "--rpc-addr", rpc,      NULL};
    char *sargv[] = {"serf", "agent", "-node=bench", b1, b2, NULL};
    pid_t pid = spawn(cairn ? cargv : sargv);
    bool ok = pid > 0 && wait_rpc(rp);
    if (ok)
        run_load(rp, pid, nclients, secs, r);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return ok;
}

static void figure(const char *name, double c, double s, bool have_serf)
{
    if (have_serf)
        printf("{\"name\":\"%s\",\"cairn\":%.1f,\"serf\":%.1f,\"ratio\":%.3f}\n", name, c, s,
               s > 0 ? c / s : 0.0);
    else
        printf("{\"name\":\"%s\",\"cairn\":%.1f}\n", name, c);
}

int main(int argc, char **argv)
{
    double secs = getenv("BENCH_RPC_SECONDS") ? atof(getenv("BENCH_RPC_SECONDS")) : 60;
    int nclients = 500;
    char cairn[4096];
    snprintf(cairn, sizeof cairn, "%s", argv[0]);
    char *slash = strrchr(cairn, '/');
    if (slash)
        strcpy(slash + 1, "cairn");
    else
        strcpy(cairn, "./cairn");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--clients") == 0)
            nclients = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cairn") == 0)
            snprintf(cairn, sizeof cairn, "%s", argv[i + 1]);
    }
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid());
    struct result rc, rs;
    memset(&rs, 0, sizeof rs);
    if (!bench_one(true, cairn, nclients, secs, &rc)) {
        fprintf(stderr, "bench_rpc: cairn agent %s did not start\n", cairn);
        return 1;
    }
    bool have_serf = system("command -v serf >/dev/null 2>&1") == 0 &&
                     bench_one(false, "serf", nclients, secs, &rs);
    figure("rpc_requests_per_s", rc.rps, rs.rps, have_serf);
    figure("rpc_errors", (double)rc.errors, (double)rs.errors, have_serf);
    figure("rpc_stream_records", (double)rc.records, (double)rs.records, have_serf);
    figure("rpc_rss_kib_before", (double)rc.rss_before, (double)rs.rss_before, have_serf);
    figure("rpc_rss_kib_after", (double)rc.rss_after, (double)rs.rss_after, have_serf);
    printf("{\"name\":\"rpc_clients\",\"clients\":%d,\"seconds\":%.1f}\n", nclients, secs);
    return rc.errors == 0 ? 0 : 1;
}
