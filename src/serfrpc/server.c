/* The Serf agent RPC server (cairn/serfrpc_server.h).
 *
 * Serf's agent (cmd/serf/command/agent/ipc.go) runs one goroutine per
 * client that decodes a header, dispatches on the command and decodes the
 * body inside the handler; streams, monitors and queries each get a
 * goroutine fed by a 512-entry channel that drops on overflow. We do the
 * same on one loop thread: each connection buffers what it has read,
 * frames msgpack objects with the client's framing (cairn__ipc_object_len,
 * capped at CAIRN_SERFRPC_SERVER_MAX_REQUEST), and handles one complete
 * request (header plus body when the command has one) at a time, so
 * pipelined requests are answered in order with their own Seq. Records for
 * streams, monitors and queries are written straight to the stream; the
 * bound is the connection's queued output (out_max) instead of a channel,
 * and a record that does not fit is dropped with Serf's warning.
 *
 * The real agent's quirks we keep (spec §5.2, §5.5): a command before the
 * handshake gets "Handshake required" and the connection is closed; with an
 * auth key, a command before auth gets "Authentication required" and its
 * body is NOT read (it is parsed as the next header, so it gets a second
 * "Authentication required" with the same Seq); an unknown command gets
 * "Unsupported command" and a close; a body that does not decode, or a bad
 * members-filtered regexp, closes the connection without a reply.
 *
 * Asynchronous backend calls (join, leave, keys, queries) hold a small
 * `struct op` that points back at the connection; when the connection
 * closes first the op is detached (its completion then only frees it),
 * and running queries are cancelled.
 */
#include "cairn/serfrpc_server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/regex.h"
#include "cairn/alloc.h"
#include "cairn/buf.h"
#include "serfrpc/codec.h"
#include "serfrpc/ipc.h"
#include "wire/msg.h"

#define MODULE "agent.ipc"
/* Read buffer: two maximal objects (a header and its body). */
#define CONN_IN_MAX (2 * CAIRN_SERFRPC_SERVER_MAX_REQUEST + 64)
/* Streams one connection may hold (Serf has no cap; the CLI uses one). */
#define CONN_MAX_STREAMS 64
/* Longest stream filter kept. */
#define FILTER_MAX 1024
/* Queued output beyond which a reply (not a record) closes the
 * connection: the client stopped reading altogether. */
#define CONN_HARD_OUT_MAX (64u * 1024 * 1024)
/* One encoded reply or record. */
#define ENCODE_MAX (16u * 1024 * 1024)
/* Stats entries gathered for one reply. */
#define STATS_MAX 256

struct conn;

/* A backend call or running query that reports to a connection. */
struct op {
    struct conn *c; /* NULL once the connection is gone */
    struct op *prev, *next;
    uint64_t seq;
    int kind;
    void *query; /* backend handle of a running query */
    bool header_sent;
};

enum op_kind { OP_JOIN, OP_LEAVE, OP_KEYS_LIST, OP_KEYS, OP_QUERY };

struct stream_sub {
    uint64_t seq;
    char filter[FILTER_MAX];
};

struct pending_query {
    uint64_t id;
    cairn_query_respond_fn respond;
    void *ctx;
    uint64_t query_id;
    cairn_time deadline;
};

struct conn {
    cairn_serfrpc_server *srv;
    cairn_stream *s;
    struct conn *prev, *next;
    cairn_buf in;
    char peer[CAIRN_ADDR_STRLEN];
    bool handshaken, authed, closed;
    /* A reply could not be queued: closed at the next safe point
     * (settle), never inside a handler. */
    bool broken;
    struct stream_sub *subs[CONN_MAX_STREAMS];
    size_t nsubs;
    bool monitor;
    uint64_t monitor_seq;
    int monitor_level;
    struct pending_query *pq; /* ring of CAIRN_SERFRPC_SERVER_MAX_PENDING_QUERIES */
    size_t pq_next;
    uint64_t next_query_id;
    struct op *ops;
    size_t nqueries;
    /* The last header decoded (see cairn__serfrpc_decode_req_header). */
    serfrpc_req_header last;
    /* Re-entrancy: a handler may close the connection. */
    int busy;
};

struct log_line {
    int level;
    char *text;
};

struct cairn_serfrpc_server {
    cairn_loop *loop;
    cairn_listener *lst;
    cairn_serfrpc_server_config cfg;
    cairn_logger log;
    char *auth_key;
    struct conn *conns;
    cairn_serfrpc_server_stats st;
    struct log_line ring[CAIRN_SERFRPC_SERVER_LOG_RING];
    size_t ring_next, ring_n;
    bool in_log;
};

/* ---- output ---- */

static void conn_close(struct conn *c);

/* send_pair: header (+ body written by fill) as one write. record: a
 * streamed record, dropped (false) when the output queue is full. */
typedef void (*fill_fn)(cairn_mp_writer *w, const void *arg);

static bool send_pair(struct conn *c, const char *error, uint64_t seq, fill_fn fill,
                      const void *arg, bool record)
{
    if (c->closed)
        return false;
    size_t queued = cairn_stream_write_queued(c->s);
    if (record && queued >= c->srv->cfg.out_max)
        return false;
    if (!record && queued >= CONN_HARD_OUT_MAX) {
        c->broken = true;
        return false;
    }
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, ENCODE_MAX);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    cairn__serfrpc_encode_resp_header(&w, error, seq);
    if (fill)
        fill(&w, arg);
    int rc = cairn__mp_writer_finish(&w);
    if (rc == 0)
        rc = cairn_stream_write(c->s, b.data, b.len);
    cairn_buf_destroy(&b);
    if (rc < 0 && !record)
        c->broken = true;
    return rc == 0;
}

/* settle closes a connection marked broken (outside its handlers). */
static void settle(struct conn *c)
{
    if (c && c->broken && !c->closed && c->busy == 0)
        conn_close(c);
}

static void reply(struct conn *c, const char *error, uint64_t seq)
{
    send_pair(c, error, seq, NULL, NULL, false);
}

/* ---- connections ---- */

static void op_detach_all(struct conn *c)
{
    for (struct op *o = c->ops; o; o = o->next) {
        o->c = NULL;
        if (o->kind == OP_QUERY && o->query) {
            c->srv->cfg.ops->query_cancel(c->srv->cfg.impl, o->query);
            o->query = NULL;
        }
    }
    /* Queries cancelled above never report again: free them now; the
     * others are freed by their completion. */
    struct op *o = c->ops;
    while (o) {
        struct op *next = o->next;
        o->prev = o->next = NULL;
        if (o->kind == OP_QUERY)
            cairn_free(o);
        o = next;
    }
    c->ops = NULL;
}

static void conn_free(struct conn *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        cairn_free(c->subs[i]);
    cairn_free(c->pq);
    cairn_buf_destroy(&c->in);
    cairn_free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    cairn_serfrpc_server *srv = c->srv;
    op_detach_all(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->st.clients--;
    cairn_stream_close(c->s);
    c->s = NULL;
    if (c->busy == 0)
        conn_free(c);
}

/* The deadline that applies now: handshake, idle, or none while the
 * connection has something streaming. */
static void arm_deadline(struct conn *c)
{
    if (c->closed)
        return;
    if (!c->handshaken || (c->srv->auth_key && !c->authed))
        cairn_stream_set_timeout(c->s, c->srv->cfg.handshake_timeout);
    else if (c->nsubs || c->monitor || c->nqueries || c->ops)
        cairn_stream_set_timeout(c->s, 0);
    else
        cairn_stream_set_timeout(c->s, c->srv->cfg.idle_timeout);
}

static struct op *op_new(struct conn *c, int kind, uint64_t seq)
{
    struct op *o = cairn_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->c = c;
    o->kind = kind;
    o->seq = seq;
    o->next = c->ops;
    if (c->ops)
        c->ops->prev = o;
    c->ops = o;
    return o;
}

/* op_end unlinks o from its connection (if any) and frees it. */
static void op_end(struct op *o)
{
    struct conn *c = o->c;
    if (c) {
        if (o->prev)
            o->prev->next = o->next;
        else
            c->ops = o->next;
        if (o->next)
            o->next->prev = o->prev;
        if (o->kind == OP_QUERY)
            c->nqueries--;
        arm_deadline(c);
    }
    cairn_free(o);
}

/* ---- handlers ---- */

static void fill_members(cairn_mp_writer *w, const void *arg);

struct member_list {
    cairn_wire_arena a;
    cairn_member *ms;
    size_t n, cap;
    /* Filter (members-filtered), NULL for all. */
    cairn__re *name_re, *status_re;
    cairn__re **tag_re;
    const cairn_tag *tags;
    size_t ntags;
    int err;
};

static char *arena_strdup(cairn_wire_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cairn__wire_arena_alloc(a, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool re_matches(cairn__re *re, const char *s)
{
    return cairn__re_match(re, s, strlen(s)) == 1;
}

static bool member_matches(struct member_list *l, const cairn_member *m)
{
    if (l->name_re && !re_matches(l->name_re, m->name))
        return false;
    if (l->status_re && !re_matches(l->status_re, cairn_member_status_name(m->status)))
        return false;
    for (size_t i = 0; i < l->ntags; i++) {
        const char *v = cairn_member_tag(m, l->tags[i].key);
        if (!re_matches(l->tag_re[i], v ? v : ""))
            return false;
    }
    return true;
}

static bool collect_member(const cairn_member *m, void *ud)
{
    struct member_list *l = ud;
    if (!member_matches(l, m))
        return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cairn_member *ms = cairn__wire_arena_alloc(&l->a, cap * sizeof *ms);
        if (!ms)
            return l->err = CAIRN_ENOMEM, false;
        if (l->n)
            memcpy(ms, l->ms, l->n * sizeof *ms);
        l->ms = ms;
        l->cap = cap;
    }
    cairn_member c = *m;
    cairn_tag *tags = m->ntags ? cairn__wire_arena_alloc(&l->a, m->ntags * sizeof *tags) : NULL;
    c.name = arena_strdup(&l->a, m->name);
    if ((m->ntags && !tags) || !c.name)
        return l->err = CAIRN_ENOMEM, false;
    for (size_t i = 0; i < m->ntags; i++) {
        tags[i].key = arena_strdup(&l->a, m->tags[i].key);
        tags[i].value = arena_strdup(&l->a, m->tags[i].value);
        if (!tags[i].key || !tags[i].value)
            return l->err = CAIRN_ENOMEM, false;
    }
    c.tags = tags;
    l->ms[l->n++] = c;
    return true;
}

static void fill_members(cairn_mp_writer *w, const void *arg)
{
    const struct member_list *l = arg;
    cairn__serfrpc_encode_members(w, l->ms, l->n);
}

/* compile: Serf's "^" + expr + "$" (no grouping, as Serf writes it), with
 * base/regex.h's bounds (a client's expression costs at most
 * CAIRN__RE_MEM_MAX bytes and CAIRN__RE_STEPS steps per member). */
static bool compile(cairn__re **re, const char *expr)
{
    return cairn__re_compile(expr, strlen(expr), CAIRN__RE_WHOLE, re) == 0;
}

/* handle_members: false closes the connection (a bad regexp). */
static bool handle_members(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    struct member_list l;
    size_t ntag_ok = 0;
    bool ok = true;
    memset(&l, 0, sizeof l);
    cairn__wire_arena_init(&l.a, SIZE_MAX / 4);
    if (b && b->name && b->name[0] && !(ok = compile(&l.name_re, b->name)))
        goto out;
    if (b && b->status && b->status[0] && !(ok = compile(&l.status_re, b->status)))
        goto out;
    if (b && b->ntags) {
        l.tag_re = cairn_calloc(b->ntags, sizeof *l.tag_re);
        if (!(ok = l.tag_re != NULL))
            goto out;
        for (; ntag_ok < b->ntags; ntag_ok++)
            if (!(ok = compile(&l.tag_re[ntag_ok], b->tags[ntag_ok].value)))
                goto out;
        l.tags = b->tags;
        l.ntags = b->ntags;
    }
    c->srv->cfg.ops->for_each_member(c->srv->cfg.impl, collect_member, &l);
    send_pair(c, l.err ? cairn_strerror(l.err) : "", seq, fill_members, &l, false);
out:
    cairn__re_free(l.name_re);
    cairn__re_free(l.status_re);
    for (size_t i = 0; i < ntag_ok; i++)
        cairn__re_free(l.tag_re[i]);
    cairn_free(l.tag_re);
    cairn__wire_arena_destroy(&l.a);
    return ok;
}

static void fill_join(cairn_mp_writer *w, const void *arg)
{
    cairn__serfrpc_encode_join(w, *(const int64_t *)arg);
}

static void on_join_done(void *ctx, const char *error, int64_t num)
{
    struct op *o = ctx;
    struct conn *c = o->c;
    if (c)
        send_pair(c, error ? error : "", o->seq, fill_join, &num, false);
    op_end(o);
    settle(c);
}

static const char *diag_text(const cairn_diag *d, int rc)
{
    return d->msg[0] ? d->msg : cairn_strerror(rc);
}

static void handle_join(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    cairn_diag d = {0};
    int64_t zero = 0;
    struct op *o = op_new(c, OP_JOIN, seq);
    if (!o) {
        send_pair(c, cairn_strerror(CAIRN_ENOMEM), seq, fill_join, &zero, false);
        return;
    }
    int rc =
        c->srv->cfg.ops->join(c->srv->cfg.impl, b->list, b->nlist, b->replay, on_join_done, o, &d);
    if (rc < 0) {
        send_pair(c, diag_text(&d, rc), seq, fill_join, &zero, false);
        op_end(o);
    }
}

static void on_leave_done(void *ctx, const char *error, int64_t num)
{
    struct op *o = ctx;
    struct conn *c = o->c;
    (void)num;
    if (c)
        reply(c, error ? error : "", o->seq);
    op_end(o);
    settle(c);
}

static void handle_leave(struct conn *c, uint64_t seq)
{
    cairn_diag d = {0};
    struct op *o = op_new(c, OP_LEAVE, seq);
    if (!o) {
        reply(c, cairn_strerror(CAIRN_ENOMEM), seq);
        return;
    }
    cairn_logf(&c->srv->log, CAIRN_LOG_INFO, MODULE, "Graceful leave triggered");
    int rc = c->srv->cfg.ops->leave(c->srv->cfg.impl, on_leave_done, o, &d);
    if (rc < 0) {
        reply(c, diag_text(&d, rc), seq);
        op_end(o);
    }
}

/* ---- keys ---- */

static void fill_keys(cairn_mp_writer *w, const void *arg)
{
    const struct {
        const cairn_serfrpc_key_result *r;
        bool list;
    } *k = arg;
    cairn__serfrpc_encode_keys(w, k->r, k->list);
}

static void send_keys(struct conn *c, uint64_t seq, const cairn_serfrpc_key_result *r, bool list)
{
    struct {
        const cairn_serfrpc_key_result *r;
        bool list;
    } k = {r, list};
    send_pair(c, r->error ? r->error : "", seq, fill_keys, &k, false);
}

static void on_keys_done(void *ctx, const cairn_serfrpc_key_result *r)
{
    struct op *o = ctx;
    struct conn *c = o->c;
    if (c)
        send_keys(c, o->seq, r, o->kind == OP_KEYS_LIST);
    op_end(o);
    settle(c);
}

static void handle_keys(struct conn *c, uint64_t seq, int op, const serfrpc_req_body *b)
{
    cairn_diag d = {0};
    bool list = op == CAIRN_SERFRPC_KEY_LIST;
    struct op *o = op_new(c, list ? OP_KEYS_LIST : OP_KEYS, seq);
    cairn_serfrpc_key_result r = {.error = cairn_strerror(CAIRN_ENOMEM)};
    if (!o) {
        send_keys(c, seq, &r, false);
        return;
    }
    int rc = c->srv->cfg.ops->key_op(c->srv->cfg.impl, op, b && b->key ? b->key : "", on_keys_done,
                                     o, &d);
    if (rc < 0) {
        r.error = diag_text(&d, rc);
        send_keys(c, seq, &r, false);
        op_end(o);
    }
}

/* ---- queries ---- */

struct qrec {
    const char *type, *from;
    const uint8_t *p;
    size_t len;
};

static void fill_qrec(cairn_mp_writer *w, const void *arg)
{
    const struct qrec *q = arg;
    cairn__serfrpc_encode_query_record(w, q->type, q->from, q->p, q->len);
}

static void on_query_report(void *ctx, int kind, const char *from, const uint8_t *p, size_t len)
{
    struct op *o = ctx;
    static const char *const types[] = {[CAIRN_SERFRPC_QUERY_ACK] = "ack",
                                        [CAIRN_SERFRPC_QUERY_RESPONSE] = "response",
                                        [CAIRN_SERFRPC_QUERY_DONE] = "done"};
    struct conn *c = o->c;
    if (kind < CAIRN_SERFRPC_QUERY_ACK || kind > CAIRN_SERFRPC_QUERY_DONE)
        return;
    if (c && !o->header_sent) {
        /* A report from inside query() (our own ack): the header first. */
        o->header_sent = true;
        reply(c, "", o->seq);
    }
    if (c) {
        struct qrec q = {types[kind], kind == CAIRN_SERFRPC_QUERY_DONE ? "" : from, p,
                         kind == CAIRN_SERFRPC_QUERY_RESPONSE ? len : 0};
        if (!send_pair(c, "", o->seq, fill_qrec, &q, true) && !c->closed) {
            c->srv->st.dropped_events++;
            cairn_logf(&c->srv->log, CAIRN_LOG_WARN, MODULE, "Dropping query %s to %s", q.type,
                       c->peer);
        }
    }
    if (kind == CAIRN_SERFRPC_QUERY_DONE) {
        o->query = NULL;
        op_end(o);
    }
    settle(c);
}

static void handle_query(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    cairn_diag d = {0};
    const char *name = b->name ? b->name : "";
    struct op *o = op_new(c, OP_QUERY, seq);
    if (!o) {
        reply(c, cairn_strerror(CAIRN_ENOMEM), seq);
        return;
    }
    c->nqueries++;
    cairn_serfrpc_query_req q = {
        .name = name,
        .payload = b->payload,
        .payload_len = b->payload_len,
        .filter_nodes = b->list,
        .n_filter_nodes = b->nlist,
        .filter_tags = b->tags,
        .n_filter_tags = b->ntags,
        .request_ack = b->request_ack,
        .relay_factor = (uint8_t)b->relay_factor,
        .timeout = b->timeout,
    };
    /* The header goes first: reports may come before query() returns. */
    if (strncmp(name, "_serf_", 6) == 0 && !(strcmp(name, "_serf_ping") == 0 && !b->payload)) {
        reply(c, "Queries cannot contain the '_serf_' prefix", seq);
        op_end(o);
        return;
    }
    void *handle = NULL;
    int rc = c->srv->cfg.ops->query(c->srv->cfg.impl, &q, on_query_report, o, &handle, &d);
    if (rc < 0) {
        if (!o->header_sent)
            reply(c, diag_text(&d, rc), seq);
        op_end(o);
        return;
    }
    o->query = handle;
    if (!o->header_sent) {
        o->header_sent = true;
        reply(c, "", seq);
    }
    arm_deadline(c);
}

static void handle_respond(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    for (size_t i = 0; c->pq && i < CAIRN_SERFRPC_SERVER_MAX_PENDING_QUERIES; i++) {
        struct pending_query *p = &c->pq[i];
        if (p->id == 0 || p->id != b->id)
            continue;
        int rc = p->respond(p->ctx, p->query_id, b->payload, b->payload_len);
        p->id = 0;
        if (rc == CAIRN_ETIMEDOUT)
            reply(c, "response is past the deadline", seq);
        else if (rc == CAIRN_EEXIST)
            reply(c, "response already sent", seq);
        else if (rc == CAIRN_ELIMIT)
            reply(c, "response exceeds limit of 1024 bytes", seq);
        else
            reply(c, rc < 0 ? cairn_strerror(rc) : "", seq);
        return;
    }
    reply(c, "No pending queries matching ID", seq);
}

/* ---- streams and monitors ---- */

/* filter_check: Serf's ParseEventFilter + Valid. */
static bool filter_valid(const char *f)
{
    if (!*f)
        return true;
    const char *p = f;
    while (1) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char one[FILTER_MAX];
        if (n >= sizeof one)
            return false;
        memcpy(one, p, n);
        one[n] = 0;
        char *colon = strchr(one, ':');
        if (colon && (strncmp(one, "user:", 5) == 0 || strncmp(one, "query:", 6) == 0))
            *colon = 0;
        if (strcmp(one, "*") != 0 && cairn_event_type_parse(one) < 0)
            return false;
        if (!e)
            return true;
        p = e + 1;
    }
}

static bool filter_match(const char *f, const cairn_event *ev)
{
    if (!*f)
        return true;
    const char *type = cairn_event_type_name(ev->type);
    size_t tl = strlen(type);
    const char *p = f;
    while (1) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 1 && p[0] == '*')
            return true;
        if (n == tl && strncmp(p, type, tl) == 0)
            return true;
        /* "user:NAME" / "query:NAME": that name only; "user:" all (Serf). */
        if ((ev->type == CAIRN_EVENT_USER || ev->type == CAIRN_EVENT_QUERY) && n > tl &&
            strncmp(p, type, tl) == 0 && p[tl] == ':' &&
            (n == tl + 1 || (ev->name && strlen(ev->name) == n - tl - 1 &&
                             strncmp(p + tl + 1, ev->name, n - tl - 1) == 0)))
            return true;
        if (!e)
            return false;
        p = e + 1;
    }
}

static void handle_stream(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    const char *f = b->type ? b->type : "";
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i]->seq == seq)
            return reply(c, "Stream with given sequence exists", seq);
    if (strlen(f) >= FILTER_MAX || !filter_valid(f))
        return reply(c, "Invalid event filter", seq);
    if (c->nsubs == CONN_MAX_STREAMS)
        return reply(c, "Too many streams", seq);
    struct stream_sub *s = cairn_calloc(1, sizeof *s);
    if (!s)
        return reply(c, cairn_strerror(CAIRN_ENOMEM), seq);
    s->seq = seq;
    snprintf(s->filter, sizeof s->filter, "%s", strcmp(f, "*") == 0 ? "" : f);
    c->subs[c->nsubs++] = s;
    reply(c, "", seq);
    arm_deadline(c);
}

static bool parse_level(const char *s, int *ret)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0)
            return *ret = i, true;
    return false;
}

static void fill_log(cairn_mp_writer *w, const void *arg)
{
    cairn__serfrpc_encode_log(w, arg);
}

static void monitor_send(struct conn *c, const char *line)
{
    if (!send_pair(c, "", c->monitor_seq, fill_log, line, true) && !c->closed) {
        c->srv->st.dropped_logs++;
        cairn_logf(&c->srv->log, CAIRN_LOG_WARN, MODULE, "Dropping logs to %s", c->peer);
    }
}

static void handle_monitor(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    int level;
    char up[64];
    snprintf(up, sizeof up, "%s", b->log_level ? b->log_level : "");
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    if (!parse_level(up, &level)) {
        char e[96];
        snprintf(e, sizeof e, "Unknown log level: %s", up);
        return reply(c, e, seq);
    }
    if (c->monitor)
        return reply(c, "Monitor already exists", seq);
    reply(c, "", seq);
    c->monitor = true;
    c->monitor_seq = seq;
    c->monitor_level = level;
    cairn_serfrpc_server *srv = c->srv;
    size_t start = (srv->ring_next + CAIRN_SERFRPC_SERVER_LOG_RING - srv->ring_n) %
                   CAIRN_SERFRPC_SERVER_LOG_RING;
    for (size_t i = 0; i < srv->ring_n && !c->closed; i++) {
        const struct log_line *l = &srv->ring[(start + i) % CAIRN_SERFRPC_SERVER_LOG_RING];
        if (l->level >= level)
            monitor_send(c, l->text);
    }
    arm_deadline(c);
}

static void handle_stop(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    for (size_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i]->seq == b->stop) {
            cairn_free(c->subs[i]);
            c->subs[i] = c->subs[--c->nsubs];
            break;
        }
    }
    if (c->monitor && c->monitor_seq == b->stop)
        c->monitor = false;
    reply(c, "", seq);
    arm_deadline(c);
}

/* ---- simple commands ---- */

static void handle_tags(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    cairn_diag d = {0};
    int rc =
        c->srv->cfg.ops->update_tags(c->srv->cfg.impl, b->tags, b->ntags, b->list, b->nlist, &d);
    reply(c, rc < 0 ? diag_text(&d, rc) : "", seq);
}

struct stats_acc {
    cairn_wire_arena a;
    cairn_serfrpc_stat st[STATS_MAX];
    size_t n;
};

static void on_stat(void *ud, const char *section, const char *key, const char *value)
{
    struct stats_acc *s = ud;
    if (s->n == STATS_MAX)
        return;
    cairn_serfrpc_stat *e = &s->st[s->n];
    e->section = arena_strdup(&s->a, section);
    e->key = arena_strdup(&s->a, key);
    e->value = arena_strdup(&s->a, value);
    if (e->section && e->key && e->value)
        s->n++;
}

static void fill_stats(cairn_mp_writer *w, const void *arg)
{
    const struct stats_acc *s = arg;
    cairn__serfrpc_encode_stats(w, s->st, s->n);
}

static void handle_stats(struct conn *c, uint64_t seq)
{
    struct stats_acc *s = cairn_calloc(1, sizeof *s);
    if (!s)
        return reply(c, cairn_strerror(CAIRN_ENOMEM), seq);
    cairn__wire_arena_init(&s->a, SIZE_MAX / 4);
    c->srv->cfg.ops->stats(c->srv->cfg.impl, on_stat, s);
    send_pair(c, "", seq, fill_stats, s, false);
    cairn__wire_arena_destroy(&s->a);
    cairn_free(s);
}

struct coord_reply {
    bool ok;
    cairn_coord co;
};

static void fill_coord(cairn_mp_writer *w, const void *arg)
{
    const struct coord_reply *r = arg;
    cairn__serfrpc_encode_coord(w, r->ok, &r->co);
}

static void handle_coord(struct conn *c, uint64_t seq, const serfrpc_req_body *b)
{
    struct coord_reply r;
    memset(&r, 0, sizeof r);
    r.ok = c->srv->cfg.ops->get_coordinate(c->srv->cfg.impl, b->node ? b->node : "", &r.co);
    send_pair(c, "", seq, fill_coord, &r, false);
}

/* ---- dispatch ---- */

enum cmd {
    C_HANDSHAKE,
    C_AUTH,
    C_MEMBERS,
    C_MEMBERS_FILTERED,
    C_JOIN,
    C_LEAVE,
    C_FORCE_LEAVE,
    C_EVENT,
    C_TAGS,
    C_STREAM,
    C_MONITOR,
    C_STOP,
    C_QUERY,
    C_RESPOND,
    C_INSTALL_KEY,
    C_USE_KEY,
    C_REMOVE_KEY,
    C_LIST_KEYS,
    C_STATS,
    C_GET_COORD,
    C_UNKNOWN
};

static const struct {
    const char *name;
    bool body;
} commands[] = {
    [C_HANDSHAKE] = {"handshake", true},
    [C_AUTH] = {"auth", true},
    [C_MEMBERS] = {"members", false},
    [C_MEMBERS_FILTERED] = {"members-filtered", true},
    [C_JOIN] = {"join", true},
    [C_LEAVE] = {"leave", false},
    [C_FORCE_LEAVE] = {"force-leave", true},
    [C_EVENT] = {"event", true},
    [C_TAGS] = {"tags", true},
    [C_STREAM] = {"stream", true},
    [C_MONITOR] = {"monitor", true},
    [C_STOP] = {"stop", true},
    [C_QUERY] = {"query", true},
    [C_RESPOND] = {"respond", true},
    [C_INSTALL_KEY] = {"install-key", true},
    [C_USE_KEY] = {"use-key", true},
    [C_REMOVE_KEY] = {"remove-key", true},
    [C_LIST_KEYS] = {"list-keys", false},
    [C_STATS] = {"stats", false},
    [C_GET_COORD] = {"get-coordinate", true},
};

static int lookup(const char *name)
{
    for (int i = 0; i < C_UNKNOWN; i++)
        if (strcmp(commands[i].name, name) == 0)
            return i;
    return C_UNKNOWN;
}

/* dispatch: one request with its decoded body (NULL when it has none).
 * false: close the connection (no reply beyond what was sent). */
static bool dispatch(struct conn *c, int cmd, uint64_t seq, const serfrpc_req_body *b)
{
    cairn_serfrpc_server *srv = c->srv;
    cairn_diag d = {0};
    int rc;
    switch (cmd) {
    case C_HANDSHAKE:
        if (b->version > 1)
            reply(c, "Unsupported IPC version", seq);
        else if (c->handshaken)
            reply(c, "Handshake already performed", seq);
        else {
            c->handshaken = true;
            reply(c, "", seq);
        }
        break;
    case C_AUTH:
        if (srv->auth_key && b->auth_key && strcmp(srv->auth_key, b->auth_key) == 0) {
            c->authed = true;
            reply(c, "", seq);
        } else if (!srv->auth_key) {
            reply(c, "", seq);
        } else {
            reply(c, "Invalid authentication token", seq);
        }
        break;
    case C_MEMBERS:
        return handle_members(c, seq, NULL);
    case C_MEMBERS_FILTERED:
        return handle_members(c, seq, b);
    case C_JOIN:
        handle_join(c, seq, b);
        break;
    case C_LEAVE:
        handle_leave(c, seq);
        break;
    case C_FORCE_LEAVE:
        rc = srv->cfg.ops->force_leave(srv->cfg.impl, b->node ? b->node : "", b->prune, &d);
        reply(c, rc < 0 ? diag_text(&d, rc) : "", seq);
        break;
    case C_EVENT:
        rc = srv->cfg.ops->user_event(srv->cfg.impl, b->name ? b->name : "", b->payload,
                                      b->payload_len, b->coalesce, &d);
        reply(c, rc < 0 ? diag_text(&d, rc) : "", seq);
        break;
    case C_TAGS:
        handle_tags(c, seq, b);
        break;
    case C_STREAM:
        handle_stream(c, seq, b);
        break;
    case C_MONITOR:
        handle_monitor(c, seq, b);
        break;
    case C_STOP:
        handle_stop(c, seq, b);
        break;
    case C_QUERY:
        handle_query(c, seq, b);
        break;
    case C_RESPOND:
        handle_respond(c, seq, b);
        break;
    case C_INSTALL_KEY:
        handle_keys(c, seq, CAIRN_SERFRPC_KEY_INSTALL, b);
        break;
    case C_USE_KEY:
        handle_keys(c, seq, CAIRN_SERFRPC_KEY_USE, b);
        break;
    case C_REMOVE_KEY:
        handle_keys(c, seq, CAIRN_SERFRPC_KEY_REMOVE, b);
        break;
    case C_LIST_KEYS:
        handle_keys(c, seq, CAIRN_SERFRPC_KEY_LIST, b);
        break;
    case C_STATS:
        handle_stats(c, seq);
        break;
    case C_GET_COORD:
        handle_coord(c, seq, b);
        break;
    default:
        break;
    }
    return true;
}

/* process_one: handles the first complete request in c->in. 1 when one
 * was handled, 0 when more bytes are needed, -1 to close. */
static int process_one(struct conn *c)
{
    size_t hlen, blen = 0;
    int rc = cairn__ipc_object_len(c->in.data, c->in.len, CAIRN_SERFRPC_SERVER_MAX_REQUEST, &hlen);
    if (rc == CAIRN_EAGAIN)
        return 0;
    if (rc < 0)
        return -1;
    serfrpc_req_header h = c->last;
    if (cairn__serfrpc_decode_req_header(c->in.data, hlen, &h, NULL) < 0)
        return -1;
    c->last = h;
    int cmd = lookup(h.command);
    c->srv->st.requests++;
    if (!c->handshaken && cmd != C_HANDSHAKE) {
        reply(c, "Handshake required", h.seq);
        return -1;
    }
    if (c->srv->auth_key && !c->authed && cmd != C_AUTH && cmd != C_HANDSHAKE) {
        /* Serf does not read the body: the next object is a header. */
        reply(c, "Authentication required", h.seq);
        cairn_buf_consume(&c->in, hlen);
        return 1;
    }
    if (cmd == C_UNKNOWN) {
        reply(c, "Unsupported command", h.seq);
        return -1;
    }
    serfrpc_req_body body;
    memset(&body, 0, sizeof body);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 8 * CAIRN_SERFRPC_SERVER_MAX_REQUEST);
    if (commands[cmd].body) {
        rc = cairn__ipc_object_len(c->in.data + hlen, c->in.len - hlen,
                                   CAIRN_SERFRPC_SERVER_MAX_REQUEST, &blen);
        if (rc == CAIRN_EAGAIN)
            return cairn__wire_arena_destroy(&a), 0;
        if (rc < 0 ||
            cairn__serfrpc_decode_req_body(c->in.data + hlen, blen, &a, &body, NULL) < 0) {
            cairn__wire_arena_destroy(&a);
            return -1;
        }
    }
    bool keep = dispatch(c, cmd, h.seq, &body);
    cairn__wire_arena_destroy(&a);
    if (!keep)
        return -1;
    if (!c->closed)
        cairn_buf_consume(&c->in, hlen + blen);
    return 1;
}

static void on_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct conn *c = ud;
    (void)s;
    if (c->closed)
        return;
    if (status < 0) {
        if (status == CAIRN_ETIMEDOUT)
            c->srv->st.timeouts++;
        conn_close(c);
        return;
    }
    if (cairn_buf_append(&c->in, data, len) < 0) {
        c->srv->st.bad_requests++;
        conn_close(c);
        return;
    }
    c->busy++;
    int rc = 0;
    while (!c->closed && !c->broken && (rc = process_one(c)) > 0)
        ;
    if (!c->closed && !c->broken && rc < 0) {
        c->srv->st.bad_requests++;
        conn_close(c);
    }
    c->busy--;
    /* Broken (its replies past the hard cap): closed here, and freed by
     * conn_close unless an outer handler still holds it. Not through
     * settle: c must not be read after conn_close has freed it. */
    if (!c->closed && c->broken) {
        conn_close(c);
        return;
    }
    if (c->closed) {
        if (c->busy == 0)
            conn_free(c);
        return;
    }
    arm_deadline(c);
}

static void on_accept(cairn_listener *lst, cairn_stream *s, void *ud)
{
    cairn_serfrpc_server *srv = ud;
    (void)lst;
    if (srv->st.clients >= srv->cfg.max_clients) {
        srv->st.refused++;
        cairn_stream_close(s);
        return;
    }
    struct conn *c = cairn_calloc(1, sizeof *c);
    if (!c || cairn_stream_start_read(s, on_read, c) < 0) {
        cairn_free(c);
        cairn_stream_close(s);
        return;
    }
    c->srv = srv;
    c->s = s;
    cairn_buf_init(&c->in, CONN_IN_MAX);
    cairn_addr peer;
    if (cairn_stream_peer(s, &peer) == 0)
        cairn_addr_format(&peer, true, c->peer, sizeof c->peer);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->st.clients++;
    srv->st.accepted++;
    c->next_query_id = 1;
    cairn_logf(&srv->log, CAIRN_LOG_DEBUG, MODULE, "Accepted client: %s", c->peer);
    arm_deadline(c);
}

/* ---- public ---- */

int cairn_serfrpc_server_new(cairn_loop *loop, const cairn_serfrpc_server_config *cfg,
                             cairn_serfrpc_server **ret_srv)
{
    if (!loop || !cfg || !cfg->ops || !ret_srv)
        return CAIRN_EINVAL;
    cairn_serfrpc_server *srv = cairn_calloc(1, sizeof *srv);
    if (!srv)
        return CAIRN_ENOMEM;
    srv->loop = loop;
    srv->cfg = *cfg;
    if (!srv->cfg.max_clients)
        srv->cfg.max_clients = CAIRN_SERFRPC_SERVER_MAX_CLIENTS;
    if (!srv->cfg.out_max)
        srv->cfg.out_max = CAIRN_SERFRPC_SERVER_OUT_MAX;
    if (!srv->cfg.handshake_timeout)
        srv->cfg.handshake_timeout = 10 * CAIRN_SEC;
    if (!srv->cfg.idle_timeout)
        srv->cfg.idle_timeout = 10 * CAIRN_MIN;
    if (cfg->logger)
        srv->log = *cfg->logger;
    srv->cfg.logger = NULL;
    srv->cfg.auth_key = NULL;
    int rc = 0;
    if (cfg->auth_key && cfg->auth_key[0]) {
        size_t n = strlen(cfg->auth_key) + 1;
        srv->auth_key = cairn_malloc(n);
        if (!srv->auth_key) {
            rc = CAIRN_ENOMEM;
            goto fail;
        }
        memcpy(srv->auth_key, cfg->auth_key, n);
    }
    if ((rc = cairn_listen(loop, &cfg->addr, on_accept, srv, &srv->lst)) < 0)
        goto fail;
    *ret_srv = srv;
    return 0;
fail:
    cairn_serfrpc_server_delete(srv);
    return rc;
}

void cairn_serfrpc_server_delete(cairn_serfrpc_server *srv)
{
    if (!srv)
        return;
    cairn_listener_close(srv->lst);
    while (srv->conns)
        conn_close(srv->conns);
    for (size_t i = 0; i < CAIRN_SERFRPC_SERVER_LOG_RING; i++)
        cairn_free(srv->ring[i].text);
    cairn_free(srv->auth_key);
    cairn_free(srv);
}

static void remember_query(struct conn *c, const cairn_event *ev, uint64_t id)
{
    if (!ev->respond)
        return;
    /* Allocated on the first answerable query: most clients never see one. */
    if (!c->pq)
        c->pq = cairn_calloc(CAIRN_SERFRPC_SERVER_MAX_PENDING_QUERIES, sizeof *c->pq);
    if (!c->pq)
        return;
    struct pending_query *p = &c->pq[c->pq_next];
    c->pq_next = (c->pq_next + 1) % CAIRN_SERFRPC_SERVER_MAX_PENDING_QUERIES;
    p->id = id;
    p->respond = ev->respond;
    p->ctx = ev->respond_ctx;
    p->query_id = ev->query_id;
    p->deadline = ev->deadline;
}

struct ev_arg {
    const cairn_event *ev;
    uint64_t id;
};

static void fill_event(cairn_mp_writer *w, const void *arg)
{
    const struct ev_arg *e = arg;
    cairn__serfrpc_encode_event(w, e->ev, e->id);
}

void cairn_serfrpc_server_event(cairn_serfrpc_server *srv, const cairn_event *ev)
{
    if (!srv || !ev)
        return;
    struct conn *next;
    for (struct conn *c = srv->conns; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->nsubs && !c->closed; i++) {
            if (!filter_match(c->subs[i]->filter, ev))
                continue;
            struct ev_arg a = {ev, 0};
            if (ev->type == CAIRN_EVENT_QUERY)
                a.id = c->next_query_id++;
            if (send_pair(c, "", c->subs[i]->seq, fill_event, &a, true)) {
                if (ev->type == CAIRN_EVENT_QUERY)
                    remember_query(c, ev, a.id);
            } else if (!c->closed) {
                srv->st.dropped_events++;
                cairn_logf(&srv->log, CAIRN_LOG_WARN, MODULE, "Dropping event to %s", c->peer);
            }
        }
        settle(c);
    }
}

void cairn_serfrpc_server_log(cairn_serfrpc_server *srv, int level, const char *line)
{
    if (!srv || !line || srv->in_log)
        return;
    srv->in_log = true;
    struct log_line *l = &srv->ring[srv->ring_next];
    size_t n = strlen(line) + 1;
    char *copy = cairn_malloc(n);
    if (copy) {
        memcpy(copy, line, n);
        cairn_free(l->text);
        l->text = copy;
        l->level = level;
        srv->ring_next = (srv->ring_next + 1) % CAIRN_SERFRPC_SERVER_LOG_RING;
        if (srv->ring_n < CAIRN_SERFRPC_SERVER_LOG_RING)
            srv->ring_n++;
    }
    struct conn *next;
    for (struct conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->monitor && level >= c->monitor_level)
            monitor_send(c, line);
        settle(c);
    }
    srv->in_log = false;
}

int cairn_serfrpc_server_local(cairn_serfrpc_server *srv, cairn_addr *ret_addr)
{
    if (!srv || !ret_addr)
        return CAIRN_EINVAL;
    return cairn_listener_local(srv->lst, ret_addr);
}

void cairn_serfrpc_server_get_stats(const cairn_serfrpc_server *srv,
                                    cairn_serfrpc_server_stats *ret)
{
    *ret = srv->st;
}
