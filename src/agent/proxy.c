/* The client-side proxy: programs that cannot be changed reach a healthy
 * server of a datacenter through a local TCP port.
 *
 * Consul's clients pick a server per RPC with Router.FindRoute and, when
 * the RPC fails, call NotifyFailedServer so the manager rotates that
 * server off the front (spec consul-servers §1-§3). The proxy does the
 * same per TCP connection: each accepted connection asks the Router for
 * the datacenter's route now and dials the server's RPC address (the
 * member's IP with its `port` tag, cairn_route.server.addr). A refused,
 * unreachable or timed-out connect (deadline CAIRN_PROXY_CONNECT_TIMEOUT)
 * is a failed RPC: notify_failed, then the next route, up to
 * CAIRN_PROXY_ATTEMPTS attempts in all before the client is closed. The
 * client's bytes wait in its socket meanwhile (we do not read it before a
 * server is connected).
 *
 * Splice: bytes read on one side are written to the other. When the other
 * side's write queue passes CAIRN_PROXY_BUFFER_MAX, reading stops
 * (cairn_stream_read_stop) and resumes from the written callback once the
 * queue is down to half: memory per connection stays bounded by about
 * twice the bound plus one read (64 KiB), whatever the speed of either
 * peer. EOF on one side shuts down writing on the other (half-close); the
 * connection ends when both directions have seen EOF, or at the first
 * error on either side (the other side is then closed too), or after
 * CAIRN_PROXY_IDLE_TIMEOUT without a byte either way.
 *
 * A server that dies mid-connection ends that connection only: the proxy
 * never re-sends bytes (it cannot know what the server processed). New
 * connections go wherever the Router points now; the first one that meets
 * the dead server (refused or timed out) moves the route, and the serf
 * failure detector removes the server from the Router in its own time.
 */
#include "agent/proxy.h"

#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/server.h"

struct proxy_conn;

struct cairn_proxy {
    cairn_loop *loop;
    cairn_listener *lst;
    cairn_router *router;
    cairn_logger log;
    char dc[CAIRN_SERVER_DC_MAX];
    cairn_time connect_timeout, idle_timeout;
    unsigned attempts;
    size_t max_conns, buffer_max;
    /* Open connections (doubly linked). */
    struct proxy_conn *conns;
    cairn_proxy_stats st;
};

/* One direction of a connection: bytes read from `from`, written to `to`. */
struct proxy_dir {
    cairn_stream **from, **to;
    /* EOF read from `from` (and `to` shut down). */
    bool eof;
    /* Reading `from` is paused for back-pressure. */
    bool paused;
};

struct proxy_conn {
    cairn_proxy *p;
    struct proxy_conn *prev, *next;
    cairn_stream *client, *server;
    /* The route being dialled or in use. */
    cairn_route route;
    unsigned attempt;
    /* up: client -> server; down: server -> client. */
    struct proxy_dir up, down;
    /* Idle deadline: fires at last + idle_timeout (re-armed lazily). */
    cairn_timer *idle;
    cairn_time last;
};

/* ---- lifetime ---- */

static void conn_free(struct proxy_conn *c)
{
    cairn_proxy *p = c->p;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->st.active--;
    cairn_stream_close(c->client);
    cairn_stream_close(c->server);
    cairn_timer_delete(c->idle);
    cairn_free(c);
}

static void conn_fail(struct proxy_conn *c, const char *why, int err)
{
    c->p->st.closed_error++;
    char addr[CAIRN_ADDR_STRLEN] = "";
    if (c->route.server.name[0])
        cairn_addr_format(&c->route.server.addr, true, addr, sizeof(addr));
    cairn_logf(&c->p->log, CAIRN_LOG_DEBUG, "proxy", "dc %s: connection closed: %s%s%s: %s",
               c->p->dc, why, addr[0] ? " " : "", addr, cairn_strerror(err));
    conn_free(c);
}

/* ---- splice ---- */

static struct proxy_dir *dir_from(struct proxy_conn *c, cairn_stream *s)
{
    return s == c->client ? &c->up : &c->down;
}

static void on_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud);

static void touch(struct proxy_conn *c)
{
    c->last = cairn_loop_now(c->p->loop);
}

/* Both directions saw EOF: the connection is done (queued bytes are still
 * flushed by the close). */
static bool maybe_done(struct proxy_conn *c)
{
    if (!c->up.eof || !c->down.eof)
        return false;
    conn_free(c);
    return true;
}

static void on_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct proxy_conn *c = ud;
    struct proxy_dir *d = dir_from(c, s);
    cairn_stream *to = *d->to;
    if (status == CAIRN_EOF) {
        d->eof = true;
        if (!maybe_done(c) && cairn_stream_shutdown(to) < 0)
            conn_fail(c, "half-close", CAIRN_ESHUTDOWN);
        return;
    }
    if (status < 0) {
        conn_fail(c, s == c->client ? "client" : "server", status);
        return;
    }
    touch(c);
    if (d == &c->up)
        c->p->st.bytes_up += len;
    else
        c->p->st.bytes_down += len;
    int rc = cairn_stream_write(to, data, len);
    if (rc < 0) {
        conn_fail(c, to == c->client ? "write to client" : "write to server", rc);
        return;
    }
    if (!d->paused && cairn_stream_write_queued(to) > c->p->buffer_max) {
        d->paused = true;
        c->p->st.paused++;
        cairn_stream_read_stop(s);
    }
}

/* Bytes left `s`: resume the direction writing into it once its queue is
 * down to half the bound. */
static void on_written(cairn_stream *s, size_t queued, void *ud)
{
    struct proxy_conn *c = ud;
    struct proxy_dir *d = s == c->client ? &c->down : &c->up;
    touch(c);
    if (!d->paused || queued > c->p->buffer_max / 2)
        return;
    d->paused = false;
    int rc = cairn_stream_start_read(*d->from, on_read, c);
    if (rc < 0)
        conn_fail(c, "resume", rc);
}

static void on_idle(cairn_timer *t, void *ud)
{
    struct proxy_conn *c = ud;
    cairn_time due = c->last + c->p->idle_timeout;
    cairn_time now = cairn_loop_now(c->p->loop);
    if (now < due) {
        cairn_timer_start(t, due - now);
        return;
    }
    c->p->st.idle_closed++;
    cairn_logf(&c->p->log, CAIRN_LOG_DEBUG, "proxy", "dc %s: idle connection closed", c->p->dc);
    conn_free(c);
}

static int start_splice(struct proxy_conn *c)
{
    /* The dial's deadline stays armed after connecting: disarm it, the
     * idle timer bounds the connection from now on. */
    cairn_stream_set_timeout(c->server, 0);
    cairn_stream_set_written_cb(c->client, on_written, c);
    cairn_stream_set_written_cb(c->server, on_written, c);
    touch(c);
    cairn_timer_start(c->idle, c->p->idle_timeout);
    int rc = cairn_stream_start_read(c->client, on_read, c);
    return rc < 0 ? rc : cairn_stream_start_read(c->server, on_read, c);
}

/* ---- connecting ---- */

static void dial(struct proxy_conn *c);

static void on_connect(cairn_stream *s, int status, void *ud)
{
    struct proxy_conn *c = ud;
    cairn_proxy *p = c->p;
    (void)s;
    if (status == 0) {
        if (c->attempt > 1)
            p->st.failovers++;
        int rc = start_splice(c);
        if (rc < 0)
            conn_fail(c, "start", rc);
        return;
    }
    /* The loop closes a failed dial itself. */
    c->server = NULL;
    p->st.connect_failures++;
    char addr[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&c->route.server.addr, true, addr, sizeof(addr));
    cairn_logf(&p->log, CAIRN_LOG_INFO, "proxy", "dc %s: connect to %s (%s) failed: %s", p->dc,
               c->route.server.name, addr, cairn_strerror(status));
    /* Consul's NotifyFailedServer: the manager rotates the server away. */
    if (p->router != NULL)
        cairn_router_notify_failed(p->router, &c->route);
    if (c->attempt >= p->attempts) {
        conn_fail(c, "every attempt failed, last", status);
        return;
    }
    p->st.retries++;
    dial(c);
}

static void dial(struct proxy_conn *c)
{
    cairn_proxy *p = c->p;
    int rc = p->router ? cairn_router_find_route(p->router, p->dc, &c->route) : CAIRN_ENOROUTE;
    if (rc < 0) {
        p->st.no_route++;
        conn_fail(c, "no route", rc);
        return;
    }
    c->attempt++;
    rc = cairn_stream_dial(p->loop, &c->route.server.addr, p->connect_timeout, on_connect, c,
                           &c->server);
    if (rc < 0) {
        /* Could not even start (bad address, no memory): as a failed
         * attempt, but from the loop's point of view nothing is owed. */
        c->server = NULL;
        p->st.connect_failures++;
        if (p->router != NULL)
            cairn_router_notify_failed(p->router, &c->route);
        if (c->attempt >= p->attempts) {
            conn_fail(c, "dial", rc);
            return;
        }
        p->st.retries++;
        dial(c);
    }
}

static void on_accept(cairn_listener *lst, cairn_stream *s, void *ud)
{
    cairn_proxy *p = ud;
    (void)lst;
    p->st.accepted++;
    if (p->st.active >= p->max_conns) {
        p->st.refused_cap++;
        cairn_stream_close(s);
        return;
    }
    struct proxy_conn *c = cairn_calloc(1, sizeof(*c));
    if (c == NULL || cairn_timer_new(p->loop, on_idle, c, &c->idle) < 0) {
        cairn_free(c);
        p->st.closed_error++;
        cairn_stream_close(s);
        return;
    }
    c->p = p;
    c->client = s;
    c->up = (struct proxy_dir){.from = &c->client, .to = &c->server};
    c->down = (struct proxy_dir){.from = &c->server, .to = &c->client};
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->st.active++;
    dial(c);
}

/* ---- the proxy ---- */

int cairn__proxy_new(cairn_loop *loop, const cairn_proxy_config *cfg, const cairn_logger *logger,
                     cairn_proxy **ret_proxy)
{
    if (loop == NULL || cfg == NULL || cfg->dc == NULL || !cfg->dc[0] ||
        strlen(cfg->dc) >= CAIRN_SERVER_DC_MAX || ret_proxy == NULL)
        return CAIRN_EINVAL;
    cairn_proxy *p = cairn_calloc(1, sizeof(*p));
    if (p == NULL)
        return CAIRN_ENOMEM;
    p->loop = loop;
    p->router = cfg->router;
    if (logger)
        p->log = *logger;
    snprintf(p->dc, sizeof(p->dc), "%s", cfg->dc);
    p->connect_timeout =
        cfg->connect_timeout > 0 ? cfg->connect_timeout : CAIRN_PROXY_CONNECT_TIMEOUT;
    p->idle_timeout = cfg->idle_timeout > 0 ? cfg->idle_timeout : CAIRN_PROXY_IDLE_TIMEOUT;
    p->attempts = cfg->attempts ? cfg->attempts : CAIRN_PROXY_ATTEMPTS;
    p->max_conns = cfg->max_conns ? cfg->max_conns : CAIRN_PROXY_MAX_CONNS;
    p->buffer_max = cfg->buffer_max ? cfg->buffer_max : CAIRN_PROXY_BUFFER_MAX;
    int rc = cairn_listen(loop, &cfg->listen, on_accept, p, &p->lst);
    if (rc < 0) {
        cairn_free(p);
        return rc;
    }
    *ret_proxy = p;
    return 0;
}

void cairn__proxy_delete(cairn_proxy *p)
{
    if (p == NULL)
        return;
    cairn_listener_close(p->lst);
    while (p->conns)
        conn_free(p->conns);
    cairn_free(p);
}

void cairn__proxy_set_router(cairn_proxy *p, cairn_router *router)
{
    p->router = router;
}

void cairn__proxy_stats(const cairn_proxy *p, cairn_proxy_stats *ret_stats)
{
    *ret_stats = p->st;
}

int cairn__proxy_local(cairn_proxy *p, cairn_addr *ret_addr)
{
    return cairn_listener_local(p->lst, ret_addr);
}

const char *cairn__proxy_dc(const cairn_proxy *p)
{
    return p->dc;
}

int cairn__proxy_parse_spec(const char *spec, cairn_addr *ret_addr, char *dc, size_t dc_cap,
                            char *why, size_t why_cap)
{
    const char *eq = strrchr(spec, '=');
    if (eq == NULL) {
        snprintf(why, why_cap, "is not LISTEN=DC (no '=')");
        return CAIRN_EINVAL;
    }
    size_t dlen = strlen(eq + 1);
    if (dlen == 0 || dlen >= dc_cap || dlen >= CAIRN_SERVER_DC_MAX) {
        snprintf(why, why_cap, "is not LISTEN=DC (the datacenter is %s)",
                 dlen ? "too long" : "empty");
        return CAIRN_EINVAL;
    }
    char listen[CAIRN_ADDR_STRLEN];
    size_t llen = (size_t)(eq - spec);
    if (llen == 0 || llen >= sizeof(listen)) {
        snprintf(why, why_cap, "is not LISTEN=DC (no listen address)");
        return CAIRN_EINVAL;
    }
    memcpy(listen, spec, llen);
    listen[llen] = 0;
    cairn_addr a;
    if (cairn_addr_parse(listen, 0, &a) < 0) {
        snprintf(why, why_cap, "is not LISTEN=DC (LISTEN must be IP:PORT or [IPv6]:PORT)");
        return CAIRN_EINVAL;
    }
    memcpy(dc, eq + 1, dlen + 1);
    *ret_addr = a;
    return 0;
}
