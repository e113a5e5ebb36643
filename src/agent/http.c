/* The agent's HTTP server: libmicrohttpd in front of agent/http_api.h.
 *
 * Why suspend/resume rather than a bounded wait on MHD's thread: members
 * and coordinates are loop-thread state, so most answers must be computed
 * on the loop. Waiting for the loop on MHD's single thread would make one
 * slow loop turn (or a blocking query) stall every other client, and a
 * thread per connection would cost a stack per idle keep-alive client.
 * Suspending the connection costs nothing while it waits: MHD keeps
 * serving other sockets, the loop answers in its own time (a blocking
 * query just stays parked) and MHD_resume_connection, which is
 * thread-safe, hands the answer back. Route lookups need no loop at all
 * (the router's readers are RCU) and are answered inline, which is what
 * makes them fast (bench/bench_http.c).
 *
 * Hand-over. The MHD thread copies the request (method, path, query) into
 * a struct hreq, suspends the connection and appends the hreq to the
 * inbox under a mutex; the first hreq of a batch posts one wake-up to the
 * loop. The loop takes the whole inbox, answers each hreq (or parks it:
 * blocking query, join in flight, leave), stores the answer in the hreq
 * and resumes; MHD calls the handler again and queues the answer. An hreq
 * belongs to the loop from the inbox until it is resumed, to MHD
 * otherwise; MHD frees it in the request-completed callback.
 *
 * Slow clients. MHD's own timeout counts inactivity, so a client sending a
 * byte every few seconds would never time out. Each connection therefore
 * carries the time its current request began (the connection's start or
 * the end of its previous answer); the loop's tick shuts down (shutdown(2)
 * on the socket, which MHD then closes on its thread) every connection
 * whose headers are not complete by header_timeout, or whose answer has
 * not gone out 6 x header_timeout after it was ready. The connection
 * record is unlinked under the same mutex in MHD's close notification,
 * which MHD calls before it closes the descriptor, so a descriptor is
 * never shut down after it was reused.
 *
 * Accepting. The listening socket is ours, not MHD's
 * (MHD_USE_NO_LISTEN_SOCKET): when accept() fails for lack of descriptors
 * (EMFILE, ENFILE) MHD retries at once while it has no connection open, a
 * busy loop on its thread. Our acceptor thread polls the socket and hands
 * each connection to MHD with MHD_add_connection (thread-safe: MHD queues it
 * for its thread and wakes it). Out of descriptors, it stops polling the
 * socket for HTTP_ACCEPT_RETRY_MIN, doubling up to HTTP_ACCEPT_RETRY_MAX,
 * or until one of our connections closes (a descriptor came free): the
 * clients wait in the backlog and are served then. It also keeps the
 * connection limit itself, counting a connection from its hand-over to
 * MHD's close notification, and stops polling at the limit until a
 * connection closes, so the connection over the limit waits in the backlog
 * as with MHD's own listener (MHD's own limit is set above ours and never
 * refuses). At most HTTP_ACCEPT_BATCH connections per wakeup.
 *
 * Loading. libmicrohttpd is loaded (dlopen) when a server is started, not
 * linked: Debian's libmicrohttpd12 links GnuTLS and its chain (p11-kit,
 * nettle, hogweed, gmp, tasn1, unistring), ~230 KiB of anonymous memory
 * and ~2.5 MiB of RSS in every process that maps them, which an agent with
 * `--http-addr ""` (or a program using libcairn without the HTTP API) need
 * not pay (docs/performance.md, "Whole agents"). Each server holds its own
 * table of the functions it calls (no global state) and drops its
 * reference when deleted; RTLD_NODELETE because GnuTLS registers exit
 * handlers. The packages still depend on libmicrohttpd12 (debian/control).
 */
#include "agent/http.h"

#include <dlfcn.h>
#include <microhttpd.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/dl.h"
#include "cairn/alloc.h"
#include "cairn/memberlist.h"
#include "cairn/serf.h"

/* Most extra counters the metrics hook may add. */
#define HTTP_EXTRA_MAX 32
/* Request bodies are not used by any endpoint; more than this is 413. */
#define HTTP_BODY_MAX (64 * 1024)
/* Datacenter reported when the agent has none (Consul's default). */
#define HTTP_DEFAULT_DC "dc1"
/* How long a join resolves its address. */
#define HTTP_RESOLVE_TIMEOUT (5 * CAIRN_SEC)
/* First and longest wait before retrying accept() after EMFILE, in ms (as
 * the loop's listeners, src/loop/uv_net.c). */
#define HTTP_ACCEPT_RETRY_MIN 50
#define HTTP_ACCEPT_RETRY_MAX 1000
/* Connections accepted per wakeup of the acceptor. */
#define HTTP_ACCEPT_BATCH 64
/* Listen backlog: where connections wait at the limit or out of
 * descriptors. */
#define HTTP_BACKLOG 128
/* MHD's own connection limit, above ours (it counts a closed connection
 * until its cleanup, a little after its close notification). */
#define HTTP_MHD_LIMIT_MARGIN 64

/* The library loaded at run time; soname 12 is the ABI of every 0.9.x. */
#define HTTP_LIBMHD "libmicrohttpd.so.12"
_Static_assert(MHD_VERSION >= 0x00096300 && MHD_VERSION < 0x01000000,
               "HTTP_LIBMHD names libmicrohttpd 0.9's soname");

/* The libmicrohttpd functions the server calls, with the header's types. */
struct mhd_api {
    void *dl;
    __typeof__(&MHD_start_daemon) start_daemon;
    __typeof__(&MHD_stop_daemon) stop_daemon;
    __typeof__(&MHD_get_connection_values) get_connection_values;
    __typeof__(&MHD_get_connection_info) get_connection_info;
    __typeof__(&MHD_suspend_connection) suspend_connection;
    __typeof__(&MHD_resume_connection) resume_connection;
    __typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
    __typeof__(&MHD_create_response_from_buffer_with_free_callback) create_response_with_free;
    __typeof__(&MHD_add_response_header) add_response_header;
    __typeof__(&MHD_queue_response) queue_response;
    __typeof__(&MHD_destroy_response) destroy_response;
    __typeof__(&MHD_add_connection) add_connection;
};

static const cairn__dl_sym mhd_syms[] = {
    CAIRN__DL_SYM(struct mhd_api, start_daemon, MHD_start_daemon),
    CAIRN__DL_SYM(struct mhd_api, stop_daemon, MHD_stop_daemon),
    CAIRN__DL_SYM(struct mhd_api, get_connection_values, MHD_get_connection_values),
    CAIRN__DL_SYM(struct mhd_api, get_connection_info, MHD_get_connection_info),
    CAIRN__DL_SYM(struct mhd_api, suspend_connection, MHD_suspend_connection),
    CAIRN__DL_SYM(struct mhd_api, resume_connection, MHD_resume_connection),
    CAIRN__DL_SYM(struct mhd_api, create_response_from_buffer, MHD_create_response_from_buffer),
    CAIRN__DL_SYM(struct mhd_api, create_response_with_free,
                  MHD_create_response_from_buffer_with_free_callback),
    CAIRN__DL_SYM(struct mhd_api, add_response_header, MHD_add_response_header),
    CAIRN__DL_SYM(struct mhd_api, queue_response, MHD_queue_response),
    CAIRN__DL_SYM(struct mhd_api, destroy_response, MHD_destroy_response),
    CAIRN__DL_SYM(struct mhd_api, add_connection, MHD_add_connection),
};

/* mhd_load fills api: 0, or CAIRN_ENOTSUP (in diag: what is missing). */
static int mhd_load(struct mhd_api *api, cairn_diag *diag)
{
    const char *missing;
    int rc = cairn__dl_load(HTTP_LIBMHD, mhd_syms, sizeof mhd_syms / sizeof mhd_syms[0], api,
                            &api->dl, &missing);
    if (rc < 0)
        return cairn_diag_set(diag, rc, "the HTTP API needs %s (package libmicrohttpd12): %s",
                              HTTP_LIBMHD, missing);
    return 0;
}

/* One TCP connection (MHD's socket context). */
struct hconn {
    struct hconn *prev, *next;
    int fd;
    /* When the current request began, and when its answer was ready (0:
     * not yet); monotonic ns. */
    int64_t since, answered;
    /* Headers complete: the request is in the handler's hands. */
    bool in_request;
    /* Already shut down by the watchdog. */
    bool cut;
};

enum hreq_state { HREQ_NEW, HREQ_QUEUED, HREQ_READY };

/* One request (MHD's per-request context). */
struct hreq {
    struct hreq *next;
    cairn_http *h;
    struct MHD_Connection *conn;
    struct hconn *hc;
    cairn_http_req req;
    /* method, path and parameters, copied. */
    char *text;
    cairn_http_resp resp;
    enum hreq_state state;
    size_t body_bytes;
    /* Parked blocking query: answer by this time (loop time). */
    cairn_time deadline;
    /* The answer is the leave's: call the left hook once it is sent. */
    bool leave;
};

struct cairn_http {
    cairn_loop *loop;
    cairn_agent *agent;
    cairn_router *router;
    cairn_http_config cfg;
    char *dc, *node, *version;
    struct mhd_api mhd;
    struct MHD_Daemon *d;
    uint16_t port;
    cairn_timer *tick;
    /* Shared with the MHD thread, under lock: the inbox, connections. */
    pthread_mutex_t lock;
    struct hreq *inbox, **inbox_tail;
    size_t queued;
    bool wake_pending, closing;
    struct hconn *conns;
    /* Connections handed to MHD and not closed yet; the acceptor waits
     * for one to close (at the limit or out of descriptors); stop it. */
    size_t n_conns;
    bool acc_waiting, acc_stop;
    /* The listening socket, the acceptor's wake-up pipe and thread. */
    int lfd, wake_rd, wake_wr;
    pthread_t acceptor;
    bool acceptor_started;
    /* Loop side: parked blocking queries and requests waiting on an
     * action (join resolving/joining, leave). */
    struct hreq *parked;
    size_t n_parked;
    struct hreq *acting;
    /* The resolve of the join in flight (one at a time). */
    cairn_resolve_hosts *resolving;
    /* X-Consul-Index and the hash of the coordinate/nodes answer it
     * stands for. */
    uint64_t index, nodes_hash;
    /* Counters (the route ones are bumped on the MHD thread). */
    _Atomic uint64_t requests, rejected, route_lookups, route_misses, accept_paused;
    /* Deleted while a wake-up was queued: the wake-up frees it. */
    bool dead;
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- requests: copy, answer ---- */

struct copy_walk {
    struct hreq *r;
    char *p, *end;
};

static const char *copy_str(struct copy_walk *w, const char *s)
{
    size_t len = strlen(s) + 1;
    if ((size_t)(w->end - w->p) < len)
        return NULL;
    memcpy(w->p, s, len);
    const char *out = w->p;
    w->p += len;
    return out;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    struct copy_walk *w = cls;
    (void)kind;
    cairn_http_req *q = &w->r->req;
    if (q->n_params == CAIRN_HTTP_MAX_PARAMS)
        return MHD_NO;
    const char *k = copy_str(w, key);
    const char *v = value ? copy_str(w, value) : NULL;
    if (k == NULL || (value && v == NULL))
        return MHD_NO;
    q->params[q->n_params++] = (cairn_http_param){k, v};
    return MHD_YES;
}

static enum MHD_Result size_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    size_t *n = cls;
    (void)kind;
    *n += strlen(key) + 1 + (value ? strlen(value) + 1 : 0);
    return MHD_YES;
}

/* copy_request: req's strings into one allocation owned by r. */
static int copy_request(struct hreq *r, const char *url, const char *method)
{
    size_t n = strlen(url) + strlen(method) + 2;
    r->h->mhd.get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, size_arg, &n);
    r->text = cairn_malloc(n);
    if (r->text == NULL)
        return CAIRN_ENOMEM;
    struct copy_walk w = {r, r->text, r->text + n};
    r->req.method = copy_str(&w, method);
    r->req.path = copy_str(&w, url);
    r->h->mhd.get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, on_arg, &w);
    return 0;
}

static enum MHD_Result queue_answer(struct hreq *r)
{
    cairn_http_resp *a = &r->resp;
    const struct mhd_api *mhd = &r->h->mhd;
    /* Answers made on MHD's thread (route lookups, errors) start their
     * write deadline here; the loop's when they were ready (answer()). */
    pthread_mutex_lock(&r->h->lock);
    if (r->hc && r->hc->answered == 0)
        r->hc->answered = mono_now();
    pthread_mutex_unlock(&r->h->lock);
    struct MHD_Response *mr;
    if (a->body != NULL) {
        mr = mhd->create_response_with_free(a->body_len, a->body, cairn_free);
        if (mr != NULL)
            a->body = NULL;
    } else {
        mr = mhd->create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (mr == NULL)
        return MHD_NO;
    char index[24];
    snprintf(index, sizeof(index), "%llu", (unsigned long long)(a->index ? a->index : 1));
    mhd->add_response_header(mr, "Content-Type", a->content_type);
    mhd->add_response_header(mr, "X-Consul-Index", index);
    mhd->add_response_header(mr, "X-Consul-Knownleader", a->known_leader ? "true" : "false");
    mhd->add_response_header(mr, "X-Consul-Lastcontact", "0");
    if (a->allow != NULL)
        mhd->add_response_header(mr, "Allow", a->allow);
    enum MHD_Result ok = mhd->queue_response(r->conn, (unsigned)a->status, mr);
    mhd->destroy_response(mr);
    atomic_fetch_add(&r->h->requests, 1);
    return ok;
}

/* answer: the loop hands r back to MHD with its answer in r->resp. */
static void answer(struct hreq *r)
{
    r->state = HREQ_READY;
    pthread_mutex_lock(&r->h->lock);
    if (r->hc)
        r->hc->answered = mono_now();
    pthread_mutex_unlock(&r->h->lock);
    r->h->mhd.resume_connection(r->conn);
}

static void answer_error(struct hreq *r, int status, const char *text)
{
    cairn__http_resp_set(&r->resp, status, text, false);
    answer(r);
}

/* ---- the loop side ---- */

static void fill_stats(cairn_http *h, cairn_http_stats *st, cairn_http_counter *extra)
{
    memset(st, 0, sizeof(*st));
    cairn_agent_stats as;
    cairn_agent_get_stats(h->agent, &as);
    st->ml_lan = as.ml;
    st->serf_lan = as.serf;
    cairn_serf *wan = cairn_agent_wan_serf(h->agent);
    if (wan != NULL) {
        st->has_wan = true;
        cairn_serf_get_stats(wan, &st->serf_wan);
        cairn_memberlist_get_stats(cairn_serf_memberlist(wan), &st->ml_wan);
    }
    st->http_requests = atomic_load(&h->requests);
    st->http_rejected = atomic_load(&h->rejected);
    st->http_blocking = h->n_parked;
    st->route_lookups = atomic_load(&h->route_lookups);
    st->route_misses = atomic_load(&h->route_misses);
    if (h->cfg.extra != NULL) {
        st->extra = extra;
        st->n_extra = h->cfg.extra(extra, HTTP_EXTRA_MAX, h->cfg.extra_ud);
        if (st->n_extra > HTTP_EXTRA_MAX)
            st->n_extra = HTTP_EXTRA_MAX;
    }
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t x = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        x = (x ^ (uint8_t)p[i]) * 1099511628211ULL;
    return x;
}

/* handle_on_loop: answers req into resp with the full view; keeps the
 * X-Consul-Index in step with the coordinate/nodes answer. */
static void handle_on_loop(cairn_http *h, const cairn_http_req *req, cairn_http_resp *resp)
{
    cairn_cluster lan, wan;
    cairn_serf_cluster(cairn_agent_serf(h->agent), &lan);
    cairn_serf *ws = cairn_agent_wan_serf(h->agent);
    if (ws != NULL)
        cairn_serf_cluster(ws, &wan);
    cairn_http_stats st;
    cairn_http_counter extra[HTTP_EXTRA_MAX];
    fill_stats(h, &st, extra);
    char stamp[64];
    time_t now = time(NULL);
    now -= now % 10;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    cairn_http_view view = {.dc = h->dc,
                            .timestamp = stamp,
                            .node = h->node,
                            .version = h->version,
                            .server = cairn_agent_is_server(h->agent),
                            .router = h->router,
                            .lan = &lan,
                            .wan = ws ? &wan : NULL,
                            .stats = &st,
                            .index = h->index};
    cairn__http_api_handle(req, &view, resp);
    if (strcmp(req->path, "/v1/coordinate/nodes") == 0 && resp->status == 200) {
        uint64_t x = fnv1a(resp->body ? resp->body : "", resp->body_len);
        if (x != h->nodes_hash) {
            h->nodes_hash = x;
            h->index++;
        }
        resp->index = h->index;
    }
}

static void unlink_req(struct hreq **list, struct hreq *r)
{
    for (struct hreq **p = list; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            r->next = NULL;
            return;
        }
    }
}

static void on_join_done(cairn_agent *agent, int status, int count, void *ud);

static void on_serf_join_done(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    on_join_done(NULL, status, count, ud);
}

static void on_join_done(cairn_agent *agent, int status, int count, void *ud)
{
    struct hreq *r = ud;
    (void)agent;
    (void)count;
    unlink_req(&r->h->acting, r);
    if (status < 0)
        answer_error(r, 500, cairn_strerror(status));
    else
        answer_error(r, 200, NULL);
}

static void on_join_resolved(cairn_resolve_hosts *req, int status, const cairn_addr *addrs,
                             size_t n, size_t failed, const char *first_failed, int first_err,
                             void *ud)
{
    struct hreq *r = ud;
    cairn_http *h = r->h;
    (void)req;
    (void)failed;
    (void)first_failed;
    (void)first_err;
    h->resolving = NULL;
    int rc = status;
    if (rc == 0 && r->resp.wan) {
        cairn_serf *wan = cairn_agent_wan_serf(h->agent);
        rc = wan ? cairn_serf_join(wan, addrs, n, true, on_serf_join_done, r) : CAIRN_ENOTSUP;
    } else if (rc == 0) {
        rc = cairn_agent_join(h->agent, addrs, n, on_join_done, r);
    }
    if (rc < 0) {
        unlink_req(&h->acting, r);
        answer_error(r, 500, cairn_strerror(rc));
    }
}

static void on_left(cairn_agent *agent, int status, int count, void *ud)
{
    struct hreq *r = ud;
    (void)agent;
    (void)count;
    unlink_req(&r->h->acting, r);
    r->leave = status == 0;
    if (status < 0)
        answer_error(r, 500, cairn_strerror(status));
    else
        answer_error(r, 200, NULL);
}

/* start_action: join, force-leave or leave for r (answered now or when
 * the action completes). */
static void start_action(cairn_http *h, struct hreq *r)
{
    int rc = 0;
    switch (r->resp.action) {
    case CAIRN_HTTP_ACT_JOIN: {
        if (r->resp.wan && cairn_agent_wan_serf(h->agent) == NULL) {
            answer_error(r, 500, "WAN join needs a server agent");
            return;
        }
        if (h->resolving != NULL) {
            answer_error(r, 500, cairn_strerror(CAIRN_EBUSY));
            return;
        }
        const char *hosts[1] = {r->resp.target};
        cairn_diag diag = {0};
        r->next = h->acting;
        h->acting = r;
        rc = cairn_resolve_hosts_start(h->loop, hosts, 1, r->resp.wan ? 8302 : 8301,
                                       HTTP_RESOLVE_TIMEOUT, on_join_resolved, r, &h->resolving,
                                       &diag);
        if (rc < 0) {
            unlink_req(&h->acting, r);
            answer_error(r, rc == CAIRN_EINVAL ? 400 : 500,
                         diag.msg[0] ? diag.msg : cairn_strerror(rc));
        }
        return;
    }
    case CAIRN_HTTP_ACT_FORCE_LEAVE: {
        cairn_serf *s = r->resp.wan ? cairn_agent_wan_serf(h->agent) : cairn_agent_serf(h->agent);
        rc = s ? cairn_serf_force_leave(s, r->resp.target, r->resp.prune) : CAIRN_ENOTSUP;
        if (rc < 0)
            answer_error(r, 500, cairn_strerror(rc));
        else
            answer_error(r, 200, NULL);
        return;
    }
    case CAIRN_HTTP_ACT_LEAVE:
        r->next = h->acting;
        h->acting = r;
        rc = cairn_agent_leave(h->agent, on_left, r);
        if (rc < 0) {
            unlink_req(&h->acting, r);
            answer_error(r, 500, cairn_strerror(rc));
        }
        return;
    default:
        answer(r);
    }
}

static cairn_time jitter(cairn_time wait)
{
    cairn_time j = wait / CAIRN_HTTP_WAIT_JITTER;
    return j > 0 ? (cairn_time)((uint64_t)mono_now() % (uint64_t)j) : 0;
}

static void process(cairn_http *h, struct hreq *r)
{
    handle_on_loop(h, &r->req, &r->resp);
    if (r->resp.action != CAIRN_HTTP_ACT_NONE) {
        start_action(h, r);
        return;
    }
    if (r->resp.blocking && h->index <= r->resp.block_index && h->n_parked < h->cfg.max_blocking) {
        r->deadline = cairn_loop_now(h->loop) + r->resp.block_wait + jitter(r->resp.block_wait);
        r->next = h->parked;
        h->parked = r;
        h->n_parked++;
        return;
    }
    answer(r);
}

static void http_free(cairn_http *h);

static void on_wake(void *ud)
{
    cairn_http *h = ud;
    pthread_mutex_lock(&h->lock);
    struct hreq *batch = h->inbox;
    h->inbox = NULL;
    h->inbox_tail = &h->inbox;
    h->queued = 0;
    h->wake_pending = false;
    bool dead = h->dead;
    pthread_mutex_unlock(&h->lock);
    if (dead) {
        http_free(h);
        return;
    }
    while (batch != NULL) {
        struct hreq *r = batch;
        batch = r->next;
        r->next = NULL;
        process(h, r);
    }
}

/* Parked blocking queries: answered once the index moved past theirs or
 * their wait is over. */
static void check_parked(cairn_http *h)
{
    if (h->parked == NULL)
        return;
    cairn_http_req probe = {.method = "GET", .path = "/v1/coordinate/nodes"};
    cairn_http_resp resp;
    handle_on_loop(h, &probe, &resp);
    cairn__http_resp_clear(&resp);
    cairn_time now = cairn_loop_now(h->loop);
    for (struct hreq **p = &h->parked; *p;) {
        struct hreq *r = *p;
        if (h->index > r->resp.block_index || now >= r->deadline) {
            *p = r->next;
            r->next = NULL;
            h->n_parked--;
            cairn__http_resp_clear(&r->resp);
            handle_on_loop(h, &r->req, &r->resp);
            answer(r);
        } else {
            p = &r->next;
        }
    }
}

/* The watchdog: shut down connections whose request is too slow. */
static void cut_slow(cairn_http *h)
{
    int64_t now = mono_now(), limit = h->cfg.header_timeout;
    pthread_mutex_lock(&h->lock);
    for (struct hconn *c = h->conns; c; c = c->next) {
        bool slow =
            !c->in_request ? now - c->since > limit : c->answered && now - c->answered > 6 * limit;
        if (slow && !c->cut) {
            c->cut = true;
            shutdown(c->fd, SHUT_RDWR);
            atomic_fetch_add(&h->rejected, 1);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

static void on_tick(cairn_timer *t, void *ud)
{
    cairn_http *h = ud;
    check_parked(h);
    cut_slow(h);
    cairn_timer_start(t, CAIRN_HTTP_TICK);
}

/* ---- the MHD side ---- */

static void fast_answer(cairn_http *h, struct hreq *r)
{
    cairn_http_view view = {.dc = h->dc, .node = h->node, .router = h->router, .index = 1};
    cairn__http_api_handle(&r->req, &view, &r->resp);
    if (strncmp(r->req.path, "/v1/cairn/route/", 16) == 0) {
        atomic_fetch_add(&h->route_lookups, 1);
        if (r->resp.status != 200)
            atomic_fetch_add(&h->route_misses, 1);
    }
}

/* enqueue hands r to the loop (connection suspended); false when the
 * queue is full or the server closing (then r holds a 503). */
static bool enqueue(cairn_http *h, struct hreq *r)
{
    bool wake = false, ok = false;
    pthread_mutex_lock(&h->lock);
    if (!h->closing && h->queued < h->cfg.max_queued) {
        r->state = HREQ_QUEUED;
        *h->inbox_tail = r;
        h->inbox_tail = &r->next;
        h->queued++;
        wake = !h->wake_pending;
        h->wake_pending = true;
        h->mhd.suspend_connection(r->conn);
        ok = true;
    }
    pthread_mutex_unlock(&h->lock);
    if (wake && cairn_loop_post(h->loop, on_wake, h) < 0) {
        /* Only when the loop is going away; the requests stay suspended
         * until cairn__http_delete answers them. */
        pthread_mutex_lock(&h->lock);
        h->wake_pending = false;
        pthread_mutex_unlock(&h->lock);
    }
    if (!ok) {
        atomic_fetch_add(&h->rejected, 1);
        cairn__http_resp_set(&r->resp, 503, "Too many requests waiting", false);
        r->resp.index = 1;
    }
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    cairn_http *h = cls;
    struct hreq *r = *con_cls;
    (void)version;
    (void)upload_data;
    if (r == NULL) {
        r = cairn_calloc(1, sizeof(*r));
        if (r == NULL)
            return MHD_NO;
        r->h = h;
        r->conn = conn;
        const union MHD_ConnectionInfo *ci =
            h->mhd.get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->hc = ci ? ci->socket_context : NULL;
        pthread_mutex_lock(&h->lock);
        if (r->hc) {
            r->hc->in_request = true;
            r->hc->answered = 0;
        }
        pthread_mutex_unlock(&h->lock);
        *con_cls = r;
        if (copy_request(r, url, method) < 0) {
            cairn__http_resp_set(&r->resp, 500, "out of memory", false);
            r->state = HREQ_READY;
        }
        return MHD_YES;
    }
    if (*upload_size != 0) {
        r->body_bytes += *upload_size;
        *upload_size = 0;
        if (r->body_bytes > HTTP_BODY_MAX && r->state == HREQ_NEW) {
            cairn__http_resp_set(&r->resp, 413, "Request body too large", false);
            r->resp.index = 1;
            r->state = HREQ_READY;
        }
        return MHD_YES;
    }
    if (r->state == HREQ_READY)
        return queue_answer(r);
    if (r->state == HREQ_QUEUED)
        return MHD_YES;
    if (cairn__http_api_is_fast(&r->req)) {
        fast_answer(h, r);
        r->state = HREQ_READY;
        return queue_answer(r);
    }
    if (!enqueue(h, r)) {
        r->state = HREQ_READY;
        return queue_answer(r);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cairn_http *h = cls;
    struct hreq *r = *con_cls;
    (void)conn;
    (void)toe;
    if (r == NULL)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&h->lock);
    if (r->hc) {
        r->hc->in_request = false;
        r->hc->answered = 0;
        r->hc->since = mono_now();
    }
    pthread_mutex_unlock(&h->lock);
    if (r->leave && h->cfg.left != NULL)
        cairn_loop_post(h->loop, h->cfg.left, h->cfg.left_ud);
    cairn__http_resp_clear(&r->resp);
    cairn_free(r->text);
    cairn_free(r);
}

/* wake_acceptor: one byte into the acceptor's pipe (full: it is awake
 * anyway). */
static void wake_acceptor(cairn_http *h)
{
    ssize_t n = write(h->wake_wr, "x", 1);
    (void)n;
}

/* A connection we counted closed: the acceptor may take another. */
static void conn_gone(cairn_http *h)
{
    pthread_mutex_lock(&h->lock);
    if (h->n_conns > 0)
        h->n_conns--;
    bool wake = h->acc_waiting;
    h->acc_waiting = false;
    pthread_mutex_unlock(&h->lock);
    if (wake)
        wake_acceptor(h);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    cairn_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        conn_gone(h);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct hconn *c = cairn_calloc(1, sizeof(*c));
        *socket_context = c;
        if (c == NULL)
            return;
        const union MHD_ConnectionInfo *ci =
            h->mhd.get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        c->since = mono_now();
        c->cut = c->fd < 0;
        pthread_mutex_lock(&h->lock);
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
        pthread_mutex_unlock(&h->lock);
        return;
    }
    struct hconn *c = *socket_context;
    if (c == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&h->lock);
    cairn_free(c);
    *socket_context = NULL;
}

/* ---- lifecycle ---- */

static void http_free(cairn_http *h)
{
    if (h->mhd.dl != NULL)
        dlclose(h->mhd.dl);
    pthread_mutex_destroy(&h->lock);
    cairn_free(h->dc);
    cairn_free(h->node);
    cairn_free(h->version);
    cairn_free(h);
}

/* ---- accepting ---- */

/* acceptor_pause: out of descriptors; *wait_ms is how long to stop. */
static void acceptor_pause(cairn_http *h, int *backoff, int *wait_ms)
{
    atomic_fetch_add(&h->accept_paused, 1);
    *wait_ms = *backoff;
    *backoff = *backoff * 2 > HTTP_ACCEPT_RETRY_MAX ? HTTP_ACCEPT_RETRY_MAX : *backoff * 2;
}

/* accept_batch: up to HTTP_ACCEPT_BATCH connections to MHD. Returns the
 * pause in ms (0: none). */
static int accept_batch(cairn_http *h, int *backoff)
{
    int wait_ms = 0;
    for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
        pthread_mutex_lock(&h->lock);
        bool room = h->n_conns < h->cfg.max_conns;
        if (room)
            h->n_conns++;
        pthread_mutex_unlock(&h->lock);
        if (!room)
            return 0;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(h->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            pthread_mutex_lock(&h->lock);
            h->n_conns--;
            pthread_mutex_unlock(&h->lock);
            if (err == EAGAIN || err == EWOULDBLOCK)
                return 0;
            if (err == EINTR || err == ECONNABORTED)
                continue;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM, and anything unexpected:
             * look again later, never at once. */
            acceptor_pause(h, backoff, &wait_ms);
            return wait_ms;
        }
        *backoff = HTTP_ACCEPT_RETRY_MIN;
        if (h->mhd.add_connection(h->d, fd, (struct sockaddr *)&ss, len) != MHD_YES) {
            /* MHD closed it (no memory); no notification follows. */
            atomic_fetch_add(&h->rejected, 1);
            conn_gone(h);
        }
    }
    return 0;
}

static void *acceptor_main(void *ud)
{
    cairn_http *h = ud;
    int backoff = HTTP_ACCEPT_RETRY_MIN, wait_ms = 0;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        bool stop = h->acc_stop, full = h->n_conns >= h->cfg.max_conns;
        h->acc_waiting = full || wait_ms > 0;
        pthread_mutex_unlock(&h->lock);
        if (stop)
            break;
        struct pollfd p[2] = {{.fd = h->wake_rd, .events = POLLIN},
                              {.fd = h->lfd, .events = POLLIN}};
        int rc = poll(p, full || wait_ms > 0 ? 1 : 2, wait_ms > 0 ? wait_ms : -1);
        if (rc < 0) {
            if (errno != EINTR)
                poll(NULL, 0, HTTP_ACCEPT_RETRY_MIN); /* ENOMEM: never spin */
            continue;
        }
        if (p[0].revents) {
            char buf[64];
            while (read(h->wake_rd, buf, sizeof(buf)) > 0) {
            }
        }
        if (wait_ms > 0) {
            /* Paused: the wait is over, or a connection closed and freed
             * a descriptor; either way, try again. */
            wait_ms = 0;
            continue;
        }
        if (!full && (p[1].revents & (POLLIN | POLLERR | POLLHUP)))
            wait_ms = accept_batch(h, &backoff);
    }
    return NULL;
}

/* open_listener: bind and listen on a (the HTTP address). */
static int open_listener(cairn_http *h, const cairn_addr *a, cairn_diag *diag)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (a->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
        len = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->ip, 16);
        len = sizeof(*s6);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cairn_diag_set(diag, cairn_err_from_errno(errno), "cannot listen on %s: %s",
                              h->cfg.addr, strerror(errno));
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (a->family != 4)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, HTTP_BACKLOG) < 0) {
        int err = errno;
        close(fd);
        return cairn_diag_set(diag,
                              err == EADDRINUSE ? CAIRN_EADDRINUSE : cairn_err_from_errno(err),
                              "cannot listen on %s: %s", h->cfg.addr, strerror(err));
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    h->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    h->lfd = fd;
    return 0;
}

static int start_daemon(cairn_http *h, const cairn_addr *a, cairn_diag *diag)
{
    int rc = open_listener(h, a, diag);
    if (rc < 0)
        return rc;
    int pfd[2];
    if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0)
        return cairn_diag_set(diag, cairn_err_from_errno(errno), "http: pipe: %s", strerror(errno));
    h->wake_rd = pfd[0];
    h->wake_wr = pfd[1];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    h->d = h->mhd.start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(h->cfg.max_conns + HTTP_MHD_LIMIT_MARGIN), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        h->cfg.conn_memory, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
    if (h->d == NULL)
        return cairn_diag_set(diag, CAIRN_EIO, "http: cannot start the HTTP server on %s",
                              h->cfg.addr);
    if (pthread_create(&h->acceptor, NULL, acceptor_main, h) != 0)
        return cairn_diag_set(diag, CAIRN_ENOMEM, "http: cannot start the acceptor thread");
    h->acceptor_started = true;
    return 0;
}

/* stop_serving: the acceptor, then MHD (its connections), then the
 * sockets. Safe on a half-started server. */
static void stop_serving(cairn_http *h)
{
    if (h->acceptor_started) {
        pthread_mutex_lock(&h->lock);
        h->acc_stop = true;
        pthread_mutex_unlock(&h->lock);
        wake_acceptor(h);
        pthread_join(h->acceptor, NULL);
        h->acceptor_started = false;
    }
    if (h->d != NULL)
        h->mhd.stop_daemon(h->d);
    h->d = NULL;
    if (h->lfd >= 0)
        close(h->lfd);
    if (h->wake_rd >= 0)
        close(h->wake_rd);
    if (h->wake_wr >= 0)
        close(h->wake_wr);
    h->lfd = h->wake_rd = h->wake_wr = -1;
}

int cairn__http_new(cairn_loop *loop, cairn_agent *agent, const cairn_http_config *cfg,
                    cairn_diag *diag, cairn_http **ret_http)
{
    if (loop == NULL || agent == NULL || cfg == NULL || cfg->addr == NULL || ret_http == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "http: missing argument");
    cairn_addr a;
    if (cairn_addr_parse(cfg->addr, 0, &a) < 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "\"%s\" is not IP:PORT", cfg->addr);
    cairn_http *h = cairn_calloc(1, sizeof(*h));
    if (h == NULL)
        return CAIRN_ENOMEM;
    pthread_mutex_init(&h->lock, NULL);
    h->lfd = h->wake_rd = h->wake_wr = -1;
    h->loop = loop;
    h->agent = agent;
    h->router = cfg->router ? cfg->router : cairn_agent_router(agent);
    h->cfg = *cfg;
    h->cfg.max_conns = cfg->max_conns ? cfg->max_conns : CAIRN_HTTP_MAX_CONNS;
    h->cfg.conn_memory = cfg->conn_memory ? cfg->conn_memory : CAIRN_HTTP_CONN_MEMORY;
    h->cfg.max_blocking = cfg->max_blocking ? cfg->max_blocking : CAIRN_HTTP_MAX_BLOCKING;
    h->cfg.max_queued = cfg->max_queued ? cfg->max_queued : CAIRN_HTTP_MAX_QUEUED;
    h->cfg.header_timeout = cfg->header_timeout ? cfg->header_timeout : CAIRN_HTTP_HEADER_TIMEOUT;
    h->inbox_tail = &h->inbox;
    h->index = 1;
    const char *dc = cfg->dc ? cfg->dc : cairn_agent_dc(agent);
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_agent_memberlist(agent), &me);
    h->dc = cairn_strdup(dc && dc[0] ? dc : HTTP_DEFAULT_DC);
    h->node = cairn_strdup(me.name);
    h->version = cairn_strdup(cfg->version ? cfg->version : "");
    int rc = h->dc && h->node && h->version ? 0 : CAIRN_ENOMEM;
    if (rc == 0)
        rc = mhd_load(&h->mhd, diag);
    if (rc == 0)
        rc = cairn_timer_new(loop, on_tick, h, &h->tick);
    if (rc == 0)
        rc = start_daemon(h, &a, diag);
    if (rc < 0) {
        stop_serving(h);
        cairn_timer_delete(h->tick);
        http_free(h);
        return rc;
    }
    h->cfg.addr = NULL;
    h->cfg.version = NULL;
    h->cfg.dc = NULL;
    cairn_timer_start(h->tick, CAIRN_HTTP_TICK);
    *ret_http = h;
    return 0;
}

uint16_t cairn__http_port(const cairn_http *h)
{
    return h ? h->port : 0;
}

void cairn__http_get_stats(const cairn_http *h, cairn_http_server_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (h == NULL)
        return;
    ret->requests = atomic_load(&h->requests);
    ret->rejected = atomic_load(&h->rejected);
    ret->blocking = h->n_parked;
    ret->route_lookups = atomic_load(&h->route_lookups);
    ret->route_misses = atomic_load(&h->route_misses);
    ret->accept_paused = atomic_load(&h->accept_paused);
}

static void answer_all(struct hreq *list)
{
    while (list != NULL) {
        struct hreq *r = list;
        list = r->next;
        r->next = NULL;
        answer_error(r, 503, "Agent is shutting down");
    }
}

void cairn__http_delete(cairn_http *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->closing = true;
    struct hreq *inbox = h->inbox;
    h->inbox = NULL;
    h->inbox_tail = &h->inbox;
    pthread_mutex_unlock(&h->lock);
    cairn_resolve_hosts_cancel(h->resolving);
    h->resolving = NULL;
    answer_all(inbox);
    answer_all(h->parked);
    answer_all(h->acting);
    h->parked = h->acting = NULL;
    stop_serving(h);
    cairn_timer_delete(h->tick);
    pthread_mutex_lock(&h->lock);
    bool pending = h->wake_pending;
    h->dead = true;
    pthread_mutex_unlock(&h->lock);
    if (!pending)
        http_free(h);
}
