/* The Serf agent RPC client: one connection, pipelined requests, streams.
 *
 * Upstream (serf/client/rpc_client.go) runs a goroutine that reads a
 * response header, looks up the handler registered for its Seq and lets
 * that handler decode the body, because only the handler knows whether a
 * body follows. We do the same on the loop thread without blocking: bytes
 * accumulate in `rx`; cairn__ipc_object_len says when a whole header (and, when the
 * request kind has one, a whole body) has arrived; only then is the pair
 * consumed and dispatched. So any number of requests may be outstanding,
 * and a `stream` subscription keeps delivering records between replies.
 *
 * Which replies carry a body (the agent's rules, spec serf-wire §5.1-5.2):
 * members, members-filtered, join, get-coordinate and stats always do, even
 * with an Error, except for "Authentication required" and the two errors
 * after which the agent closes the connection; a stream's first header is
 * the subscription's answer (no body) and every later header with its Seq
 * is followed by one record. A header for a Seq we never sent cannot be
 * framed, so it ends the connection.
 *
 * Departures from the Go client: it never reconnects (the serf CLI opens a
 * connection per command); we reconnect with jittered exponential backoff
 * and tell the owner once per outage, and a request without an answer for
 * request_timeout ends the connection instead of waiting forever.
 */
#include "cairn/serfrpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/buf.h"
#include "cairn/error.h"
#include "cairn/rng.h"
#include "serfrpc/decode.h"
#include "serfrpc/ipc.h"
#include "wire/mp.h"
#include "wire/msg.h"

#define MODULE "serfrpc"

/* Defaults (documented in cairn/serfrpc.h). */
#define DEFAULT_CONNECT_TIMEOUT (5 * CAIRN_SEC)
#define DEFAULT_REQUEST_TIMEOUT (30 * CAIRN_SEC)
#define DEFAULT_BACKOFF_MIN     (100 * CAIRN_MSEC)
#define DEFAULT_BACKOFF_MAX     (5 * CAIRN_SEC)
/* How long a connection must stay READY before it ends an outage (resets
 * the backoff): longer than any sync takes (a few round trips), so that an
 * agent that handshakes and then fails every time is retried with a
 * growing delay instead of every backoff_min. */
#define DEFAULT_STABLE_AFTER (10 * CAIRN_SEC)
/* Receive buffer cap: one header plus one body, each at most a record. */
#define RX_LIMIT (2 * (size_t)CAIRN_SERFRPC_MAX_RECORD + 64)
/* One encoded request (join with many addresses is the largest). */
#define TX_LIMIT ((size_t)1024 * 1024)
/* Arena per reply: decoded strings and arrays cost at most a few times the
 * input (each string one NUL; each member a fixed struct, each counted
 * against input bytes), plus the stats table. */
#define ARENA_FACTOR 8
#define ARENA_EXTRA  ((size_t)256 * 1024)

/* K_GHOST absorbs the agent's duplicate "Authentication required" header
 * (see deliver). */
enum req_kind {
    K_HANDSHAKE,
    K_AUTH,
    K_MEMBERS,
    K_JOIN,
    K_COORD,
    K_STATS,
    K_STREAM,
    K_STOP,
    K_GHOST,
    /* A command answered by a header alone (leave, event, tags ...). */
    K_NOBODY,
    /* install-key, use-key, remove-key, list-keys (keyResponse body). */
    K_KEYS,
    /* Streams of query records and of monitor lines. */
    K_QUERY,
    K_MONITOR,
};

static const char *const kind_names[] = {
    "handshake", "auth",  "members", "join",        "get-coordinate", "stats",  "stream",
    "stop",      "ghost", "request", "key command", "query",          "monitor"};

/* is_stream: the request keeps receiving records after its first answer. */
static bool is_stream(enum req_kind k)
{
    return k == K_STREAM || k == K_QUERY || k == K_MONITOR;
}

enum phase { P_IDLE, P_CONNECTING, P_HANDSHAKE, P_READY, P_BACKOFF, P_GAVE_UP, P_CLOSED };

struct req {
    struct req *next, *prev;
    /* The Seq we sent. */
    uint64_t seq;
    enum req_kind kind;
    cairn_serfrpc_reply_cb cb;
    cairn_serfrpc_event_cb ev_cb;
    cairn_serfrpc_query_cb q_cb;
    cairn_serfrpc_log_cb log_cb;
    void *userdata;
    /* Streams: the subscription has been answered. */
    bool acked;
    /* Streams: stop sent, records are dropped. */
    bool stopping;
    /* Stop requests: the stream being stopped. */
    uint64_t target;
    /* The request carried a body (after it, an unauthenticated agent
     * answers twice). */
    bool sent_body;
    /* When it was sent (for the watchdog). */
    cairn_time sent_at;
};

struct cairn_serfrpc {
    cairn_loop *loop;
    cairn_serfrpc_config cfg;
    char *auth_key;
    char addr_str[CAIRN_ADDR_STRLEN];
    cairn_logger logger;
    cairn_rng rng;
    enum phase phase;
    cairn_stream *stream;
    cairn_timer *retry_timer;
    cairn_timer *watchdog;
    cairn_buf rx, tx;
    /* Pending requests, oldest first (sentinel list). */
    struct req reqs;
    size_t npending;
    uint64_t next_seq;
    /* Consecutive failed connection attempts; a connection that failed
     * before it proved useful counts as one. */
    unsigned attempts;
    /* DOWN was reported for the current outage. */
    bool down_reported;
    /* When the current connection became READY, and whether it has proved
     * useful (cairn_serfrpc_mark_useful). */
    cairn_time ready_at;
    bool useful;
    /* Re-entrancy: callbacks running; deletion is deferred until 0. */
    int busy;
    bool dead;
    cairn_wire_arena arena;
};

static void fail_connection(cairn_serfrpc *c, int err, bool fatal, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void on_retry(cairn_timer *t, void *ud);
static void on_watchdog(cairn_timer *t, void *ud);

static void enter(cairn_serfrpc *c)
{
    c->busy++;
}

static void free_client(cairn_serfrpc *c)
{
    cairn_timer_delete(c->retry_timer);
    cairn_timer_delete(c->watchdog);
    cairn_buf_destroy(&c->rx);
    cairn_buf_destroy(&c->tx);
    cairn__wire_arena_destroy(&c->arena);
    cairn_free(c->auth_key);
    cairn_free(c);
}

/* leave: ends a callback section; frees a client deleted inside it. Returns
 * true when the client is gone (or dying) and the caller must stop. */
static bool leave(cairn_serfrpc *c)
{
    c->busy--;
    if (c->dead) {
        if (c->busy == 0)
            free_client(c);
        return true;
    }
    return false;
}

void cairn_serfrpc_config_default(cairn_serfrpc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cairn_addr_parse("127.0.0.1:7373", 0, &cfg->addr);
    cfg->reconnect = true;
}

int cairn_serfrpc_new(cairn_loop *loop, const cairn_serfrpc_config *cfg, cairn_serfrpc **ret_c)
{
    if (loop == NULL || cfg == NULL || ret_c == NULL || cfg->addr.family == 0)
        return CAIRN_EINVAL;
    cairn_serfrpc *c = cairn_calloc(1, sizeof *c);
    if (c == NULL)
        return CAIRN_ENOMEM;
    c->loop = loop;
    c->cfg = *cfg;
    if (c->cfg.connect_timeout <= 0)
        c->cfg.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    if (c->cfg.request_timeout <= 0)
        c->cfg.request_timeout = DEFAULT_REQUEST_TIMEOUT;
    if (c->cfg.backoff_min <= 0)
        c->cfg.backoff_min = DEFAULT_BACKOFF_MIN;
    if (c->cfg.stable_after <= 0)
        c->cfg.stable_after = DEFAULT_STABLE_AFTER;
    if (c->cfg.backoff_max < c->cfg.backoff_min)
        c->cfg.backoff_max =
            c->cfg.backoff_min > DEFAULT_BACKOFF_MAX ? c->cfg.backoff_min : DEFAULT_BACKOFF_MAX;
    if (cfg->logger != NULL)
        c->logger = *cfg->logger;
    c->cfg.logger = NULL;
    c->reqs.next = c->reqs.prev = &c->reqs;
    c->next_seq = 1;
    cairn_buf_init(&c->rx, RX_LIMIT);
    cairn_buf_init(&c->tx, TX_LIMIT);
    cairn__wire_arena_init(&c->arena, 0);
    cairn_addr_format(&cfg->addr, true, c->addr_str, sizeof c->addr_str);
    if (cfg->seed != 0)
        cairn_rng_init(&c->rng, cfg->seed);
    else if (cairn_rng_seed_random(&c->rng) != 0)
        cairn_rng_init(&c->rng, (uint64_t)cairn_loop_now(loop));
    int rc = CAIRN_ENOMEM;
    if (cfg->auth_key != NULL && cfg->auth_key[0] != '\0' &&
        (c->auth_key = cairn_strdup(cfg->auth_key)) == NULL)
        goto fail;
    c->cfg.auth_key = NULL;
    if ((rc = cairn_timer_new(loop, on_retry, c, &c->retry_timer)) != 0 ||
        (rc = cairn_timer_new(loop, on_watchdog, c, &c->watchdog)) != 0)
        goto fail;
    *ret_c = c;
    return 0;
fail:
    free_client(c);
    return rc;
}

const char *cairn_serfrpc_addr_string(const cairn_serfrpc *c)
{
    return c->addr_str;
}

bool cairn_serfrpc_ready(const cairn_serfrpc *c)
{
    return c != NULL && c->phase == P_READY && !c->dead;
}

/* ---- the pending list ---- */

static void req_unlink(cairn_serfrpc *c, struct req *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    c->npending--;
}

static struct req *req_find(cairn_serfrpc *c, uint64_t seq)
{
    for (struct req *r = c->reqs.next; r != &c->reqs; r = r->next)
        if (r->seq == seq)
            return r;
    return NULL;
}

/* complete: unlinks r, tells its owner, frees it. */
static void complete(cairn_serfrpc *c, struct req *r, cairn_serfrpc_reply *reply)
{
    req_unlink(c, r);
    if (is_stream(r->kind)) {
        if (!r->acked && r->cb != NULL)
            r->cb(c, reply, r->userdata);
        if (r->ev_cb != NULL)
            r->ev_cb(c, NULL, reply->status, r->userdata);
        if (r->q_cb != NULL)
            r->q_cb(c, NULL, reply->status, r->userdata);
        if (r->log_cb != NULL)
            r->log_cb(c, NULL, reply->status, r->userdata);
    } else if (r->cb != NULL) {
        r->cb(c, reply, r->userdata);
    }
    cairn_free(r);
}

/* fail_all: completes every pending request with err. */
static void fail_all(cairn_serfrpc *c, int err, const char *msg)
{
    cairn_serfrpc_reply reply = {.status = err, .error = msg};
    while (c->reqs.next != &c->reqs)
        complete(c, c->reqs.next, &reply);
}

/* ---- connection lifecycle ---- */

static void on_connect(cairn_stream *s, int status, void *ud);

static void dial(cairn_serfrpc *c)
{
    c->phase = P_CONNECTING;
    cairn_buf_reset(&c->rx);
    int rc =
        cairn_stream_dial(c->loop, &c->cfg.addr, c->cfg.connect_timeout, on_connect, c, &c->stream);
    if (rc != 0) {
        c->stream = NULL;
        fail_connection(c, rc, false, "cannot reach serf agent at %s: %s", c->addr_str,
                        cairn_strerror(rc));
    }
}

static void on_retry(cairn_timer *t, void *ud)
{
    cairn_serfrpc *c = ud;
    enter(c);
    if (c->phase == P_BACKOFF)
        dial(c);
    leave(c);
}

static cairn_time backoff_delay(cairn_serfrpc *c)
{
    cairn_time d = c->cfg.backoff_min;
    for (unsigned i = 1; i < c->attempts && d < c->cfg.backoff_max; i++)
        d *= 2;
    if (d > c->cfg.backoff_max)
        d = c->cfg.backoff_max;
    return d / 2 + (cairn_time)cairn_rng_below(&c->rng, (uint64_t)(d / 2) + 1);
}

static void notify_state(cairn_serfrpc *c, int state, int err, const char *msg)
{
    if (c->cfg.state_cb != NULL && !c->dead)
        c->cfg.state_cb(c, state, err, msg, c->cfg.userdata);
}

/* fail_connection: the connection (or the attempt) is over. Pending
 * requests fail, DOWN is reported once per outage, and a retry is scheduled
 * unless reconnecting is off, exhausted, or the cause is fatal. */
static void fail_connection(cairn_serfrpc *c, int err, bool fatal, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->phase == P_READY) {
        bool stable = cairn_loop_now(c->loop) - c->ready_at >= c->cfg.stable_after;
        /* A connection that stayed up ends the outage: the next one is
         * reported and retried from backoff_min. A useful but short one
         * only makes the loss worth reporting (the owner said "back"). */
        if (stable)
            c->attempts = 0;
        if (stable || c->useful)
            c->down_reported = false;
    }
    cairn_stream_close(c->stream);
    c->stream = NULL;
    cairn_timer_stop(c->watchdog);
    cairn_buf_reset(&c->rx);
    c->phase = P_BACKOFF;
    c->attempts++;
    fail_all(c, err, msg);
    if (c->dead)
        return;
    if (!c->down_reported) {
        c->down_reported = true;
        cairn_logf(&c->logger, CAIRN_LOG_WARN, MODULE, "%s", msg);
        notify_state(c, CAIRN_SERFRPC_DOWN, err, msg);
        if (c->dead)
            return;
    } else {
        cairn_logf(&c->logger, CAIRN_LOG_DEBUG, MODULE, "%s (attempt %u)", msg, c->attempts);
    }
    if (c->phase != P_BACKOFF)
        return; /* the state callback restarted or stopped us */
    if (fatal || !c->cfg.reconnect ||
        (c->cfg.max_attempts != 0 && c->attempts >= c->cfg.max_attempts)) {
        c->phase = P_GAVE_UP;
        cairn_logf(&c->logger, CAIRN_LOG_ERROR, MODULE, "giving up on serf agent at %s: %s",
                   c->addr_str, msg);
        notify_state(c, CAIRN_SERFRPC_GAVE_UP, err, msg);
        return;
    }
    cairn_timer_start(c->retry_timer, backoff_delay(c));
}

int cairn_serfrpc_start(cairn_serfrpc *c)
{
    if (c == NULL || c->dead)
        return CAIRN_EINVAL;
    if (c->phase != P_IDLE && c->phase != P_GAVE_UP)
        return CAIRN_EBUSY;
    c->attempts = 0;
    c->down_reported = false;
    enter(c);
    dial(c);
    leave(c);
    return 0;
}

static void teardown(cairn_serfrpc *c)
{
    c->phase = P_CLOSED;
    cairn_stream_close(c->stream);
    c->stream = NULL;
    cairn_timer_stop(c->retry_timer);
    cairn_timer_stop(c->watchdog);
    fail_all(c, CAIRN_ESHUTDOWN, "serf agent client closed");
}

void cairn_serfrpc_delete(cairn_serfrpc *c)
{
    if (c == NULL || c->dead)
        return;
    c->busy++;
    teardown(c);
    c->dead = true;
    c->busy--;
    if (c->busy == 0)
        free_client(c);
}

/* ---- sending ---- */

/* begin: checks the state and writes the header of a new request into tx
 * through w. The caller writes the body and calls submit. */
static int begin(cairn_serfrpc *c, cairn_mp_writer *w, enum req_kind kind, const char *command,
                 uint64_t *ret_seq)
{
    bool internal = kind == K_HANDSHAKE || kind == K_AUTH;
    if (c->dead)
        return CAIRN_ESHUTDOWN;
    if (internal ? c->phase != P_HANDSHAKE : c->phase != P_READY)
        return CAIRN_ENOTCONN;
    if (c->npending >= CAIRN_SERFRPC_MAX_PENDING)
        return CAIRN_ELIMIT;
    cairn_buf_reset(&c->tx);
    cairn__mp_writer_init(w, &c->tx, CAIRN_MP_IPC);
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "Command");
    cairn__mp_write_cstr(w, command);
    cairn__mp_write_cstr(w, "Seq");
    cairn__mp_write_uint(w, c->next_seq);
    *ret_seq = c->next_seq;
    return w->err;
}

/* submit: finishes w, registers the request and writes tx to the stream. */
static int submit(cairn_serfrpc *c, cairn_mp_writer *w, enum req_kind kind, uint64_t seq,
                  cairn_serfrpc_reply_cb cb, cairn_serfrpc_event_cb ev_cb, void *ud,
                  struct req **ret_r)
{
    int rc = cairn__mp_writer_finish(w);
    if (rc != 0)
        return rc;
    struct req *r = cairn_calloc(1, sizeof *r);
    if (r == NULL)
        return CAIRN_ENOMEM;
    rc = cairn_stream_write(c->stream, c->tx.data, c->tx.len);
    cairn_buf_reset(&c->tx);
    if (rc != 0) {
        cairn_free(r);
        return rc;
    }
    c->next_seq++;
    r->seq = seq;
    r->kind = kind;
    r->cb = cb;
    r->ev_cb = ev_cb;
    r->userdata = ud;
    r->sent_at = cairn_loop_now(c->loop);
    r->prev = c->reqs.prev;
    r->next = &c->reqs;
    c->reqs.prev->next = r;
    c->reqs.prev = r;
    c->npending++;
    if (!cairn_timer_active(c->watchdog))
        cairn_timer_start(c->watchdog, c->cfg.request_timeout);
    if (ret_r != NULL)
        *ret_r = r;
    return 0;
}

/* A body writer: fills the request body (or writes nothing). */
typedef void (*body_fn)(cairn_mp_writer *w, const void *arg);

/* request: header, body from fill (NULL for none), submit. */
static int request(cairn_serfrpc *c, enum req_kind kind, const char *command, body_fn fill,
                   const void *arg, cairn_serfrpc_reply_cb cb, cairn_serfrpc_event_cb ev_cb,
                   void *ud, struct req **ret_r)
{
    cairn_mp_writer w;
    uint64_t seq;
    struct req *r = NULL;
    int rc = begin(c, &w, kind, command, &seq);
    if (rc == 0) {
        if (fill != NULL)
            fill(&w, arg);
        rc = submit(c, &w, kind, seq, cb, ev_cb, ud, &r);
    }
    cairn_buf_reset(&c->tx);
    if (rc != 0)
        return rc;
    r->sent_body = fill != NULL;
    if (ret_r != NULL)
        *ret_r = r;
    return 0;
}

/* one_field: a body {key: string}. */
struct one_field {
    const char *key;
    const char *str;
    uint64_t num;
};

static void fill_str(cairn_mp_writer *w, const void *arg)
{
    const struct one_field *f = arg;
    cairn__mp_write_map(w, 1);
    cairn__mp_write_cstr(w, f->key);
    cairn__mp_write_cstr(w, f->str);
}

static void fill_uint(cairn_mp_writer *w, const void *arg)
{
    const struct one_field *f = arg;
    cairn__mp_write_map(w, 1);
    cairn__mp_write_cstr(w, f->key);
    cairn__mp_write_uint(w, f->num);
}

struct filter_arg {
    const char *name, *status;
    const cairn_tag *tags;
    size_t ntags;
};

/* members-filtered body, keys sorted: Name, Status, Tags. */
static void fill_filter(cairn_mp_writer *w, const void *arg)
{
    const struct filter_arg *f = arg;
    cairn__mp_write_map(w, 3);
    cairn__mp_write_cstr(w, "Name");
    cairn__mp_write_cstr(w, f->name != NULL ? f->name : "");
    cairn__mp_write_cstr(w, "Status");
    cairn__mp_write_cstr(w, f->status != NULL ? f->status : "");
    cairn__mp_write_cstr(w, "Tags");
    cairn__mp_write_map(w, (uint32_t)f->ntags);
    for (size_t i = 0; i < f->ntags; i++) {
        cairn__mp_write_cstr(w, f->tags[i].key);
        cairn__mp_write_cstr(w, f->tags[i].value);
    }
}

struct join_arg {
    const char *const *addrs;
    size_t n;
    bool replay;
};

/* join body, keys sorted: Existing, Replay. */
static void fill_join(cairn_mp_writer *w, const void *arg)
{
    const struct join_arg *j = arg;
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "Existing");
    cairn__mp_write_array(w, (uint32_t)j->n);
    for (size_t i = 0; i < j->n; i++)
        cairn__mp_write_cstr(w, j->addrs[i]);
    cairn__mp_write_cstr(w, "Replay");
    cairn__mp_write_bool(w, j->replay);
}

int cairn_serfrpc_members(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL)
        return CAIRN_EINVAL;
    return request(c, K_MEMBERS, "members", NULL, NULL, cb, NULL, userdata, NULL);
}

int cairn_serfrpc_members_filtered(cairn_serfrpc *c, const char *name, const char *status,
                                   const cairn_tag *tags, size_t ntags, cairn_serfrpc_reply_cb cb,
                                   void *userdata)
{
    if (c == NULL || (ntags > 0 && tags == NULL) || ntags > CAIRN_SERFRPC_MAX_TAGS)
        return CAIRN_EINVAL;
    struct filter_arg f = {name, status, tags, ntags};
    return request(c, K_MEMBERS, "members-filtered", fill_filter, &f, cb, NULL, userdata, NULL);
}

int cairn_serfrpc_join(cairn_serfrpc *c, const char *const *addrs, size_t naddrs, bool replay,
                       cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL || naddrs == 0 || addrs == NULL)
        return CAIRN_EINVAL;
    struct join_arg j = {addrs, naddrs, replay};
    return request(c, K_JOIN, "join", fill_join, &j, cb, NULL, userdata, NULL);
}

int cairn_serfrpc_get_coordinate(cairn_serfrpc *c, const char *node, cairn_serfrpc_reply_cb cb,
                                 void *userdata)
{
    if (c == NULL || node == NULL)
        return CAIRN_EINVAL;
    struct one_field f = {.key = "Node", .str = node};
    return request(c, K_COORD, "get-coordinate", fill_str, &f, cb, NULL, userdata, NULL);
}

int cairn_serfrpc_stats(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL)
        return CAIRN_EINVAL;
    return request(c, K_STATS, "stats", NULL, NULL, cb, NULL, userdata, NULL);
}

int cairn_serfrpc_stream(cairn_serfrpc *c, const char *filter, cairn_serfrpc_reply_cb ack,
                         cairn_serfrpc_event_cb ev_cb, void *userdata, uint64_t *ret_seq)
{
    if (c == NULL || ev_cb == NULL)
        return CAIRN_EINVAL;
    struct one_field f = {.key = "Type", .str = filter != NULL ? filter : "*"};
    struct req *r;
    int rc = request(c, K_STREAM, "stream", fill_str, &f, ack, ev_cb, userdata, &r);
    if (rc == 0 && ret_seq != NULL)
        *ret_seq = r->seq;
    return rc;
}

/* write_payload: bin, or nil for NULL (what the serf CLI sends without a
 * payload argument). */
static void write_payload(cairn_mp_writer *w, const uint8_t *p, size_t n)
{
    if (p == NULL)
        cairn__mp_write_nil(w);
    else
        cairn__mp_write_bytes(w, (cairn_span){.p = p, .len = n});
}

static void write_tag_map(cairn_mp_writer *w, const cairn_tag *tags, size_t n)
{
    cairn__mp_write_map(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        cairn__mp_write_cstr(w, tags[i].key);
        cairn__mp_write_cstr(w, tags[i].value);
    }
}

int cairn_serfrpc_leave(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL)
        return CAIRN_EINVAL;
    return request(c, K_NOBODY, "leave", NULL, NULL, cb, NULL, userdata, NULL);
}

struct force_leave_arg {
    const char *node;
    bool prune;
};

/* force-leave body, keys sorted: Node, Prune. */
static void fill_force_leave(cairn_mp_writer *w, const void *arg)
{
    const struct force_leave_arg *f = arg;
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "Node");
    cairn__mp_write_cstr(w, f->node);
    cairn__mp_write_cstr(w, "Prune");
    cairn__mp_write_bool(w, f->prune);
}

int cairn_serfrpc_force_leave(cairn_serfrpc *c, const char *node, bool prune,
                              cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL || node == NULL)
        return CAIRN_EINVAL;
    struct force_leave_arg f = {node, prune};
    return request(c, K_NOBODY, "force-leave", fill_force_leave, &f, cb, NULL, userdata, NULL);
}

struct event_arg {
    const char *name;
    const uint8_t *payload;
    size_t len;
    bool coalesce;
};

/* event body, keys sorted: Coalesce, Name, Payload. */
static void fill_event(cairn_mp_writer *w, const void *arg)
{
    const struct event_arg *e = arg;
    cairn__mp_write_map(w, 3);
    cairn__mp_write_cstr(w, "Coalesce");
    cairn__mp_write_bool(w, e->coalesce);
    cairn__mp_write_cstr(w, "Name");
    cairn__mp_write_cstr(w, e->name);
    cairn__mp_write_cstr(w, "Payload");
    write_payload(w, e->payload, e->len);
}

int cairn_serfrpc_event(cairn_serfrpc *c, const char *name, const uint8_t *payload,
                        size_t payload_len, bool coalesce, cairn_serfrpc_reply_cb cb,
                        void *userdata)
{
    if (c == NULL || name == NULL || payload_len > CAIRN_SERFRPC_MAX_PAYLOAD ||
        (payload == NULL && payload_len > 0))
        return CAIRN_EINVAL;
    struct event_arg e = {name, payload, payload_len, coalesce};
    return request(c, K_NOBODY, "event", fill_event, &e, cb, NULL, userdata, NULL);
}

struct tags_arg {
    const cairn_tag *set;
    size_t nset;
    const char *const *del;
    size_t ndel;
};

/* tags body, keys sorted: DeleteTags, Tags. */
static void fill_tags(cairn_mp_writer *w, const void *arg)
{
    const struct tags_arg *t = arg;
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "DeleteTags");
    cairn__mp_write_array(w, (uint32_t)t->ndel);
    for (size_t i = 0; i < t->ndel; i++)
        cairn__mp_write_cstr(w, t->del[i]);
    cairn__mp_write_cstr(w, "Tags");
    write_tag_map(w, t->set, t->nset);
}

int cairn_serfrpc_tags(cairn_serfrpc *c, const cairn_tag *set, size_t nset,
                       const char *const *delete_keys, size_t ndelete, cairn_serfrpc_reply_cb cb,
                       void *userdata)
{
    if (c == NULL || (nset > 0 && set == NULL) || (ndelete > 0 && delete_keys == NULL) ||
        nset > CAIRN_SERFRPC_MAX_TAGS || ndelete > CAIRN_SERFRPC_MAX_TAGS)
        return CAIRN_EINVAL;
    struct tags_arg t = {set, nset, delete_keys, ndelete};
    return request(c, K_NOBODY, "tags", fill_tags, &t, cb, NULL, userdata, NULL);
}

struct respond_arg {
    uint64_t id;
    const uint8_t *payload;
    size_t len;
};

/* respond body, keys sorted: ID, Payload. */
static void fill_respond(cairn_mp_writer *w, const void *arg)
{
    const struct respond_arg *r = arg;
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "ID");
    cairn__mp_write_uint(w, r->id);
    cairn__mp_write_cstr(w, "Payload");
    write_payload(w, r->payload, r->len);
}

int cairn_serfrpc_respond(cairn_serfrpc *c, uint64_t id, const uint8_t *payload, size_t payload_len,
                          cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL || payload_len > CAIRN_SERFRPC_MAX_PAYLOAD ||
        (payload == NULL && payload_len > 0))
        return CAIRN_EINVAL;
    struct respond_arg r = {id, payload, payload_len};
    return request(c, K_NOBODY, "respond", fill_respond, &r, cb, NULL, userdata, NULL);
}

/* key_request: one of the keyring commands with body {Key}. */
static int key_request(cairn_serfrpc *c, const char *command, const char *key,
                       cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL || key == NULL)
        return CAIRN_EINVAL;
    struct one_field f = {.key = "Key", .str = key};
    return request(c, K_KEYS, command, fill_str, &f, cb, NULL, userdata, NULL);
}

int cairn_serfrpc_install_key(cairn_serfrpc *c, const char *key, cairn_serfrpc_reply_cb cb,
                              void *userdata)
{
    return key_request(c, "install-key", key, cb, userdata);
}

int cairn_serfrpc_use_key(cairn_serfrpc *c, const char *key, cairn_serfrpc_reply_cb cb,
                          void *userdata)
{
    return key_request(c, "use-key", key, cb, userdata);
}

int cairn_serfrpc_remove_key(cairn_serfrpc *c, const char *key, cairn_serfrpc_reply_cb cb,
                             void *userdata)
{
    return key_request(c, "remove-key", key, cb, userdata);
}

int cairn_serfrpc_list_keys(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL)
        return CAIRN_EINVAL;
    return request(c, K_KEYS, "list-keys", NULL, NULL, cb, NULL, userdata, NULL);
}

/* query body, keys sorted: FilterNodes, FilterTags, Name, Payload,
 * RelayFactor, RequestAck, Timeout (int64 nanoseconds). */
static void fill_query(cairn_mp_writer *w, const void *arg)
{
    const cairn_serfrpc_query_params *q = arg;
    cairn__mp_write_map(w, 7);
    cairn__mp_write_cstr(w, "FilterNodes");
    if (q->nfilter_nodes == 0) {
        cairn__mp_write_nil(w);
    } else {
        cairn__mp_write_array(w, (uint32_t)q->nfilter_nodes);
        for (size_t i = 0; i < q->nfilter_nodes; i++)
            cairn__mp_write_cstr(w, q->filter_nodes[i]);
    }
    cairn__mp_write_cstr(w, "FilterTags");
    write_tag_map(w, q->filter_tags, q->nfilter_tags);
    cairn__mp_write_cstr(w, "Name");
    cairn__mp_write_cstr(w, q->name);
    cairn__mp_write_cstr(w, "Payload");
    write_payload(w, q->payload, q->payload_len);
    cairn__mp_write_cstr(w, "RelayFactor");
    cairn__mp_write_uint(w, q->relay_factor);
    cairn__mp_write_cstr(w, "RequestAck");
    cairn__mp_write_bool(w, q->request_ack);
    cairn__mp_write_cstr(w, "Timeout");
    cairn__mp_write_int(w, q->timeout > 0 ? (int64_t)q->timeout : 0);
}

int cairn_serfrpc_query(cairn_serfrpc *c, const cairn_serfrpc_query_params *q,
                        cairn_serfrpc_reply_cb ack, cairn_serfrpc_query_cb rec_cb, void *userdata,
                        uint64_t *ret_seq)
{
    if (c == NULL || q == NULL || q->name == NULL || rec_cb == NULL ||
        q->payload_len > CAIRN_SERFRPC_MAX_PAYLOAD || (q->payload == NULL && q->payload_len > 0) ||
        (q->nfilter_nodes > 0 && q->filter_nodes == NULL) ||
        (q->nfilter_tags > 0 && q->filter_tags == NULL) ||
        q->nfilter_tags > CAIRN_SERFRPC_MAX_TAGS || q->nfilter_nodes > CAIRN_SERFRPC_MAX_MEMBERS)
        return CAIRN_EINVAL;
    struct req *r;
    int rc = request(c, K_QUERY, "query", fill_query, q, ack, NULL, userdata, &r);
    if (rc != 0)
        return rc;
    r->q_cb = rec_cb;
    if (ret_seq != NULL)
        *ret_seq = r->seq;
    return 0;
}

int cairn_serfrpc_monitor(cairn_serfrpc *c, const char *level, cairn_serfrpc_reply_cb ack,
                          cairn_serfrpc_log_cb log_cb, void *userdata, uint64_t *ret_seq)
{
    if (c == NULL || log_cb == NULL)
        return CAIRN_EINVAL;
    struct one_field f = {.key = "LogLevel",
                          .str = level != NULL && level[0] != '\0' ? level : "INFO"};
    struct req *r;
    int rc = request(c, K_MONITOR, "monitor", fill_str, &f, ack, NULL, userdata, &r);
    if (rc != 0)
        return rc;
    r->log_cb = log_cb;
    if (ret_seq != NULL)
        *ret_seq = r->seq;
    return 0;
}

int cairn_serfrpc_stop(cairn_serfrpc *c, uint64_t seq, cairn_serfrpc_reply_cb cb, void *userdata)
{
    if (c == NULL)
        return CAIRN_EINVAL;
    struct req *s = req_find(c, seq);
    if (s == NULL || !is_stream(s->kind) || s->stopping)
        return CAIRN_ENOENT;
    struct one_field f = {.key = "Stop", .num = seq};
    struct req *r;
    int rc = request(c, K_STOP, "stop", fill_uint, &f, cb, NULL, userdata, &r);
    if (rc == 0) {
        r->target = seq;
        s->stopping = true;
    }
    return rc;
}

/* ---- receiving ---- */

/* become_ready: the handshake (and auth) succeeded. That alone does not end
 * an outage: an agent that handshakes and then sends a bad reply would be
 * redialled every backoff_min and reported each time. The backoff resets
 * once the connection has stayed up for stable_after, and the outage is
 * over for reporting once the owner marks the connection useful. */
static void become_ready(cairn_serfrpc *c)
{
    c->phase = P_READY;
    c->ready_at = cairn_loop_now(c->loop);
    c->useful = false;
    cairn_logf(&c->logger, c->down_reported ? CAIRN_LOG_DEBUG : CAIRN_LOG_INFO, MODULE,
               "connected to serf agent at %s", c->addr_str);
    notify_state(c, CAIRN_SERFRPC_READY, 0, "connected");
}

void cairn_serfrpc_mark_useful(cairn_serfrpc *c)
{
    if (c != NULL && c->phase == P_READY)
        c->useful = true;
}

static void on_handshake(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    if (r->status != 0 && r->status != CAIRN_EREMOTE)
        return; /* the connection failed; fail_connection reports it */
    if (r->status == CAIRN_EREMOTE) {
        fail_connection(c, CAIRN_EVERSION, true, "serf agent at %s refused the handshake: %s",
                        c->addr_str, r->error);
        return;
    }
    if (c->auth_key == NULL) {
        become_ready(c);
        return;
    }
    struct one_field f = {.key = "AuthKey", .str = c->auth_key};
    int rc = request(c, K_AUTH, "auth", fill_str, &f, NULL, NULL, NULL, NULL);
    if (rc != 0)
        fail_connection(c, rc, false, "cannot send auth to serf agent at %s: %s", c->addr_str,
                        cairn_strerror(rc));
}

static void on_auth(cairn_serfrpc *c, const cairn_serfrpc_reply *r)
{
    if (r->status == CAIRN_EREMOTE || r->status == CAIRN_EAUTH) {
        fail_connection(c, CAIRN_EAUTH, true, "serf agent at %s refused the RPC auth key: %s",
                        c->addr_str, r->error);
        return;
    }
    if (r->status == 0)
        become_ready(c);
}

/* Errors after which the agent sends no body (spec serf-wire §5.1). */
static bool error_without_body(const char *e)
{
    return strcmp(e, "Authentication required") == 0 || strcmp(e, "Handshake required") == 0 ||
           strcmp(e, "Unsupported command") == 0;
}

static bool has_body(const struct req *r, const serfrpc_header *h)
{
    switch (r->kind) {
    case K_MEMBERS:
    case K_JOIN:
    case K_COORD:
    case K_STATS:
    case K_KEYS:
        return !error_without_body(h->error);
    case K_STREAM:
    case K_QUERY:
    case K_MONITOR:
        return r->acked;
    default:
        return false;
    }
}

static int reply_status(const char *error)
{
    if (error[0] == '\0')
        return 0;
    if (strcmp(error, "Authentication required") == 0 ||
        strcmp(error, "Invalid authentication token") == 0)
        return CAIRN_EAUTH;
    return CAIRN_EREMOTE;
}

/* decode_body fills reply from body bytes per the request kind. */
static int decode_body(cairn_serfrpc *c, struct req *r, const uint8_t *p, size_t n,
                       cairn_serfrpc_reply *reply, cairn_diag *diag)
{
    cairn_member *ms;
    cairn_serfrpc_stat *st;
    switch (r->kind) {
    case K_MEMBERS: {
        int rc = cairn__serfrpc_decode_members(p, n, &c->arena, &ms, &reply->nmembers, diag);
        reply->members = ms;
        return rc;
    }
    case K_JOIN:
        return cairn__serfrpc_decode_join(p, n, &reply->num_joined, diag);
    case K_COORD:
        return cairn__serfrpc_decode_coord(p, n, &reply->coord_ok, &reply->coord, diag);
    case K_STATS: {
        const char **sections = NULL;
        int rc = cairn__serfrpc_decode_stats(p, n, &c->arena, &st, &reply->nstats, diag);
        reply->stats = st;
        if (rc == 0)
            rc = cairn__serfrpc_decode_stat_sections(p, n, &c->arena, &sections,
                                                     &reply->nstat_sections, diag);
        reply->stat_sections = sections;
        return rc;
    }
    case K_KEYS:
        return cairn__serfrpc_decode_keys(p, n, &c->arena, &reply->keys, diag);
    default:
        return 0;
    }
}

/* A reply located in rx: its header decoded, its body (if any) framed. */
struct framed {
    serfrpc_header h;
    struct req *r;
    const uint8_t *body;
    size_t hlen, blen;
};

/* too_large: the object at p (n bytes so far) is or declares more than a
 * record may hold; the connection is dropped at once, naming the size. */
static void too_large(cairn_serfrpc *c, const char *what, const uint8_t *p, size_t n)
{
    uint64_t need = cairn__ipc_min_len(p, n);
    if (need < n)
        need = n;
    fail_connection(c, CAIRN_EMSGSIZE, false,
                    "serf agent at %s sent a %s of at least %llu bytes (as its msgpack "
                    "headers declare), over the limit of %u bytes",
                    c->addr_str, what, (unsigned long long)need, CAIRN_SERFRPC_MAX_RECORD);
}

/* frame_reply: 1 when rx starts with a complete reply (header, plus body
 * when the request kind expects one), 0 when more bytes are needed, -1 when
 * the bytes are unusable and the connection was dropped. */
static int frame_reply(cairn_serfrpc *c, struct framed *fr, cairn_diag *diag)
{
    int rc = cairn__ipc_object_len(c->rx.data, c->rx.len, CAIRN_SERFRPC_MAX_RECORD, &fr->hlen);
    if (rc == CAIRN_EAGAIN)
        return 0;
    if (rc == CAIRN_EMSGSIZE) {
        too_large(c, "reply header", c->rx.data, c->rx.len);
        return -1;
    }
    cairn__wire_arena_destroy(&c->arena);
    c->arena.limit = ARENA_EXTRA;
    if (rc == 0)
        rc = cairn__serfrpc_decode_header(c->rx.data, fr->hlen, &c->arena, &fr->h, diag);
    if (rc != 0) {
        fail_connection(c, CAIRN_EPROTO, false, "bad reply header from serf agent at %s: %s",
                        c->addr_str, diag->msg[0] ? diag->msg : cairn_strerror(rc));
        return -1;
    }
    fr->r = req_find(c, fr->h.seq);
    if (fr->r == NULL) {
        fail_connection(c, CAIRN_EPROTO, false,
                        "serf agent at %s answered Seq %llu, which is not pending", c->addr_str,
                        (unsigned long long)fr->h.seq);
        return -1;
    }
    fr->body = NULL;
    fr->blen = 0;
    if (!has_body(fr->r, &fr->h))
        return 1;
    rc = cairn__ipc_object_len(c->rx.data + fr->hlen, c->rx.len - fr->hlen,
                               CAIRN_SERFRPC_MAX_RECORD, &fr->blen);
    if (rc == CAIRN_EAGAIN)
        return 0;
    if (rc == CAIRN_EMSGSIZE) {
        char what[64];
        snprintf(what, sizeof what, "%s %s", kind_names[fr->r->kind],
                 is_stream(fr->r->kind) ? "record" : "reply");
        too_large(c, what, c->rx.data + fr->hlen, c->rx.len - fr->hlen);
        return -1;
    }
    if (rc != 0) {
        fail_connection(c, CAIRN_EPROTO, false, "bad %s reply from serf agent at %s: %s",
                        kind_names[fr->r->kind], c->addr_str, cairn_strerror(rc));
        return -1;
    }
    fr->body = c->rx.data + fr->hlen;
    return 1;
}

/* expect_ghost: serf's agent refuses an unauthenticated request with a
 * header but leaves the request body unread, then decodes that body as the
 * next request header; the stale header struct still holds the command and
 * Seq, so a second "Authentication required" with the same Seq follows. A
 * ghost entry swallows it (and is never waited for by the watchdog). On
 * ENOMEM the duplicate will end the connection as an unknown Seq, which
 * the reconnect logic survives. */
static void expect_ghost(cairn_serfrpc *c, uint64_t seq)
{
    struct req *g = cairn_calloc(1, sizeof *g);
    if (g == NULL)
        return;
    g->seq = seq;
    g->kind = K_GHOST;
    g->acked = true;
    g->prev = c->reqs.prev;
    g->next = &c->reqs;
    c->reqs.prev->next = g;
    c->reqs.prev = g;
    c->npending++;
}

/* deliver: hands a decoded reply (or stream record ev) to its owner. */
static void deliver(cairn_serfrpc *c, struct req *r, cairn_serfrpc_reply *reply,
                    const cairn_event *ev, const cairn_serfrpc_query_record *qrec, const char *line,
                    bool had_body)
{
    if (r->kind == K_GHOST) {
        req_unlink(c, r);
        cairn_free(r);
        return;
    }
    if (r->sent_body && strcmp(reply->error, "Authentication required") == 0)
        expect_ghost(c, r->seq);
    switch (r->kind) {
    case K_HANDSHAKE:
    case K_AUTH: {
        enum req_kind kind = r->kind;
        req_unlink(c, r);
        cairn_free(r);
        if (kind == K_HANDSHAKE)
            on_handshake(c, reply, NULL);
        else
            on_auth(c, reply);
        break;
    }
    case K_STREAM:
    case K_QUERY:
    case K_MONITOR:
        if (had_body) {
            if (ev != NULL)
                r->ev_cb(c, ev, 0, r->userdata);
            else if (qrec != NULL) {
                r->q_cb(c, qrec, 0, r->userdata);
                if (qrec->type == CAIRN_SERFRPC_QUERY_DONE && !c->dead &&
                    req_find(c, r->seq) == r) {
                    /* done ends the query: the agent sends nothing more. */
                    cairn_serfrpc_reply end = {.status = 0, .error = ""};
                    complete(c, r, &end);
                }
            } else if (line != NULL)
                r->log_cb(c, line, 0, r->userdata);
        } else if (reply->status != 0) {
            complete(c, r, reply); /* the subscription was refused */
        } else {
            r->acked = true;
            if (r->cb != NULL)
                r->cb(c, reply, r->userdata);
        }
        break;
    case K_STOP: {
        uint64_t target = r->target;
        complete(c, r, reply);
        struct req *s = c->dead ? NULL : req_find(c, target);
        if (s != NULL && is_stream(s->kind)) {
            cairn_serfrpc_reply end = {.status = 0, .error = ""};
            s->acked = true;
            complete(c, s, &end);
        }
        break;
    }
    default:
        complete(c, r, reply);
        break;
    }
}

/* process_one: handles the first complete reply in rx. Returns 1 when one
 * was handled, 0 when more bytes are needed, -1 when the connection ended.
 * Bodies and records are decoded into the arena before their bytes are
 * dropped from rx, so callbacks see stable values. */
static int process_one(cairn_serfrpc *c)
{
    struct framed fr;
    cairn_diag diag;
    cairn_diag_clear(&diag);
    int rc = frame_reply(c, &fr, &diag);
    if (rc <= 0)
        return rc;
    struct req *r = fr.r;
    c->arena.limit = ARENA_EXTRA + ARENA_FACTOR * (fr.hlen + fr.blen);
    cairn_serfrpc_reply reply;
    memset(&reply, 0, sizeof reply);
    reply.error = fr.h.error;
    reply.status = reply_status(fr.h.error);
    cairn_event ev;
    const cairn_event *evp = NULL;
    cairn_serfrpc_query_record qrec;
    const cairn_serfrpc_query_record *qp = NULL;
    const char *line = NULL;
    if (fr.body != NULL && !is_stream(r->kind) &&
        decode_body(c, r, fr.body, fr.blen, &reply, &diag) != 0) {
        fail_connection(c, CAIRN_EPROTO, false, "bad %s reply from serf agent at %s: %s",
                        kind_names[r->kind], c->addr_str, diag.msg);
        return -1;
    }
    if (fr.body != NULL && r->kind == K_STREAM && !r->stopping) {
        if (cairn__serfrpc_decode_record(fr.body, fr.blen, &c->arena, &ev, &diag) == 0)
            evp = &ev;
        else
            cairn_logf(&c->logger, CAIRN_LOG_WARN, MODULE,
                       "dropping a stream record from serf agent at %s: %s", c->addr_str, diag.msg);
    }
    if (fr.body != NULL && (r->kind == K_QUERY || r->kind == K_MONITOR) && !r->stopping) {
        int drc =
            r->kind == K_QUERY
                ? cairn__serfrpc_decode_query_record(fr.body, fr.blen, &c->arena, &qrec, &diag)
                : cairn__serfrpc_decode_log(fr.body, fr.blen, &c->arena, &line, &diag);
        if (drc == 0 && r->kind == K_QUERY)
            qp = &qrec;
        else if (drc != 0)
            cairn_logf(&c->logger, CAIRN_LOG_WARN, MODULE,
                       "dropping a %s record from serf agent at %s: %s", kind_names[r->kind],
                       c->addr_str, diag.msg);
    }
    cairn_buf_consume(&c->rx, fr.hlen + fr.blen);
    deliver(c, r, &reply, evp, qp, line, fr.body != NULL);
    cairn__wire_arena_destroy(&c->arena);
    return 1;
}

static void process(cairn_serfrpc *c)
{
    cairn_stream *s = c->stream;
    while (!c->dead && c->stream == s && s != NULL && c->rx.len > 0) {
        if (process_one(c) <= 0)
            break;
    }
    /* Disarm the watchdog when nothing but acked streams remains. */
    bool waiting = false;
    for (struct req *r = c->reqs.next; r != &c->reqs; r = r->next)
        if ((!is_stream(r->kind) && r->kind != K_GHOST) || !r->acked)
            waiting = true;
    if (!waiting && !c->dead)
        cairn_timer_stop(c->watchdog);
}

static void on_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    cairn_serfrpc *c = ud;
    enter(c);
    if (status != 0) {
        if (status == CAIRN_EOF && c->phase == P_HANDSHAKE)
            /* What a memberlist (gossip) port does with an RPC handshake:
             * it reads 0x82 as an unknown message type and hangs up. */
            fail_connection(c, CAIRN_ECONNRESET, false,
                            "%s closed the connection without answering the RPC handshake: is "
                            "it the Serf agent's RPC address (-rpc-addr, default port 7373) "
                            "and not its gossip port (-bind, default 7946)?",
                            c->addr_str);
        else if (status == CAIRN_EOF)
            fail_connection(c, CAIRN_ECONNRESET, false, "serf agent at %s closed the connection",
                            c->addr_str);
        else
            fail_connection(c, status, false, "lost connection to serf agent at %s: %s",
                            c->addr_str, cairn_strerror(status));
    } else if (cairn_buf_append(&c->rx, data, len) != 0) {
        fail_connection(c, CAIRN_EMSGSIZE, false,
                        "serf agent at %s sent a reply larger than %u bytes", c->addr_str,
                        CAIRN_SERFRPC_MAX_RECORD);
    } else {
        process(c);
    }
    leave(c);
}

static void on_connect(cairn_stream *s, int status, void *ud)
{
    cairn_serfrpc *c = ud;
    enter(c);
    if (status != 0) {
        c->stream = NULL; /* already closed by the loop */
        fail_connection(c, status, false, "cannot reach serf agent at %s: %s", c->addr_str,
                        cairn_strerror(status));
    } else {
        /* A long-lived connection: the dial's deadline would end it; every
         * request is bounded by the watchdog (request_timeout) instead. */
        cairn_stream_set_timeout(s, 0);
        int rc = cairn_stream_start_read(s, on_read, c);
        c->phase = P_HANDSHAKE;
        if (rc == 0)
            rc = request(c, K_HANDSHAKE, "handshake", fill_uint,
                         &(struct one_field){.key = "Version", .num = 1}, NULL, NULL, NULL, NULL);
        if (rc != 0)
            fail_connection(c, rc, false, "cannot talk to serf agent at %s: %s", c->addr_str,
                            cairn_strerror(rc));
    }
    leave(c);
}

static void on_watchdog(cairn_timer *t, void *ud)
{
    cairn_serfrpc *c = ud;
    cairn_time now = cairn_loop_now(c->loop);
    struct req *oldest = NULL;
    for (struct req *r = c->reqs.next; r != &c->reqs; r = r->next)
        if ((!is_stream(r->kind) && r->kind != K_GHOST) || !r->acked) {
            oldest = r;
            break;
        }
    if (oldest == NULL)
        return;
    cairn_time age = now - oldest->sent_at;
    if (age < c->cfg.request_timeout) {
        cairn_timer_start(t, c->cfg.request_timeout - age);
        return;
    }
    enter(c);
    fail_connection(c, CAIRN_ETIMEDOUT, false, "serf agent at %s did not answer %s within %.1f s",
                    c->addr_str, kind_names[oldest->kind],
                    cairn_time_seconds(c->cfg.request_timeout));
    leave(c);
}
