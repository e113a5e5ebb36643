/* memberlist's TCP exchanges (Go: net.go handleConn, sendAndReceiveState,
 * sendLocalState, readRemoteState, mergeRemoteState, readUserMsg,
 * sendPingAndWaitForAck).
 *
 * One connection per exchange, closed afterwards, with TCPTimeout over the
 * whole exchange. A push/pull sends (or, as responder, first reads) a
 * header, every node state and the delegate's user state; the responder
 * answers with its own and both merge what they received. A TCP ping gets
 * an ack on the same connection. Inbound user messages are handed to the
 * delegate. Unreadable input gets an err response before the close.
 *
 * TCP has no message boundaries and the peer waits for our answer before
 * closing, so each connection is parsed incrementally with the framing
 * layer's stream reader (cairn_stream_rd): type, then msgpack objects, then
 * raw tails, each retried when more bytes arrive. Node-state objects are
 * copied as they come (the reader's spans are short-lived) and decoded in
 * one go once the whole message is there.
 *
 * Limits (issue 8), beyond Go's 128 push/pull slots: every inbound stream
 * takes one of CAIRN_ML_MAX_INBOUND_STREAMS slots from accept to close
 * (user messages and encrypted frames too), and the bytes every stream
 * holds (unparsed input, decrypted or decompressed message, copied node
 * states) are summed; input that would take the sum past
 * CAIRN_ML_STREAM_MEM_MAX ends its stream, and a compress message may
 * expand only into what is left of it (at most
 * CAIRN_ML_STREAM_DECOMPRESSED_MAX) and into what a token bucket refilled
 * at CAIRN_ML_STREAM_INFLATE_RATE holds, so stream after stream of LZW
 * bombs cannot monopolise the loop. Refusals are counted and warned about
 * through a rate limit. Deadlines come from the loop: the dial's timeout
 * bounds an outbound exchange from dial to last byte, set_timeout an
 * inbound one from accept. Every error line names the peer (from=IP:port,
 * as Serf does), and a peer that closes before answering is reported as
 * such (CAIRN_EOF), not as a malformed message.
 */
#include "memberlist/ml_internal.h"

#include <stdio.h>
#include <string.h>

#include "cairn/addr.h"
#include "cairn/alloc.h"
#include "cairn/error.h"

enum conn_kind { CONN_INBOUND, CONN_PUSHPULL, CONN_PING };

enum conn_stage {
    ST_TYPE,      /* waiting for the message type */
    ST_PING,      /* inbound TCP ping object */
    ST_USER_HDR,  /* inbound user message header */
    ST_USER_BODY, /* inbound user message bytes */
    ST_PP_HDR,    /* push/pull header */
    ST_PP_NODES,  /* push/pull node states */
    ST_PP_USER,   /* push/pull user state */
    ST_ACK,       /* TCP ping reply */
    ST_ERR,       /* err response */
    ST_DONE,
};

struct ml_conn {
    struct ml_conn *next;
    cairn_memberlist *ml;
    cairn_stream *stream;
    cairn_stream_rd *rd;
    enum conn_kind kind;
    enum conn_stage stage;
    /* Push/pull: our Join flag (initiator) or theirs (responder). */
    bool join;
    /* This connection holds one of the inbound push/pull slots. */
    bool counted;
    /* Push/pull header read, node objects copied so far. */
    cairn_wire_pushpull_header hdr;
    size_t nodes_read;
    cairn_buf objs;
    size_t *obj_off;
    size_t obj_cap;
    cairn_buf user;
    /* User message length. */
    uint32_t user_len;
    /* Outbound: what to send once connected. */
    cairn_buf out;
    /* TCP ping: our sequence number, and whom to tell the outcome. */
    uint32_t seq;
    ml_tcp_ping_done ping_done;
    /* Push/pull completion. */
    ml_pushpull_done done;
    void *userdata;
    /* Bytes this stream holds, as counted in stats.stream_mem. */
    size_t mem;
    /* Decompressed bytes of this stream already charged to the bucket. */
    uint64_t inflated;
    /* The remote address, for log lines. */
    char peer[CAIRN_ADDR_STRLEN];
};

/* ---- lifecycle ---- */

/* Charges the decompression bucket with what c's reader decompressed since
 * the last charge (CAIRN_ML_STREAM_INFLATE_RATE). */
static void conn_charge_inflate(struct ml_conn *c)
{
    cairn_memberlist *ml = c->ml;
    uint64_t now = cairn__wire_rd_inflated(c->rd), d = now - c->inflated;
    c->inflated = now;
    ml->stats.stream_inflated += d;
    ml->inflate_tokens -= (double)d;
    if (ml->inflate_tokens < 0)
        ml->inflate_tokens = 0;
}

static void conn_free(struct ml_conn *c)
{
    cairn_memberlist *ml = c->ml;
    for (struct ml_conn **pp = &ml->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->counted)
        ml->inbound_pushpulls--;
    if (c->kind == CONN_INBOUND)
        ml->inbound_streams--;
    ml->stats.stream_mem -= c->mem;
    conn_charge_inflate(c);
    cairn_stream_close(c->stream);
    cairn__stream_rd_delete(c->rd);
    cairn_buf_destroy(&c->objs);
    cairn_buf_destroy(&c->user);
    cairn_buf_destroy(&c->out);
    cairn_free(c->obj_off);
    cairn_free(c);
}

/* Why an outbound exchange failed, for the log (and `cairn agent --join`). */
static void log_outbound_failure(struct ml_conn *c, int status)
{
    cairn_memberlist *ml = c->ml;
    if (c->kind != CONN_PUSHPULL || status == CAIRN_ECANCELED || status == CAIRN_EREMOTE)
        return;
    if (status == CAIRN_EOF)
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG,
                   "push/pull: peer closed the connection without replying from=%s", c->peer);
    else if (status == CAIRN_ETIMEDOUT)
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG,
                   "push/pull: no complete reply within the TCP timeout (%.1f s) from=%s",
                   cairn_time_seconds(ml->cfg.tcp_timeout), c->peer);
    else
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "push/pull failed: %s from=%s",
                   cairn_strerror(status), c->peer);
}

/* Ends an exchange: reports push/pull and ping outcomes, frees c. */
static void conn_end(struct ml_conn *c, int status)
{
    cairn_memberlist *ml = c->ml;
    if (status < 0)
        log_outbound_failure(c, status);
    if (c->kind == CONN_PING)
        c->ping_done(ml, c->seq, status == 0);
    if (c->kind == CONN_PUSHPULL) {
        if (status == 0)
            ml->stats.pushpull_out++;
        else
            ml->stats.pushpull_failed++;
    }
    ml_pushpull_done done = c->done;
    void *ud = c->userdata;
    conn_free(c);
    if (done)
        done(ml, status, ud);
}

static struct ml_conn *conn_new(cairn_memberlist *ml, enum conn_kind kind, const cairn_addr *peer)
{
    struct ml_conn *c = cairn_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ml = ml;
    c->kind = kind;
    if (peer)
        cairn_addr_format(peer, true, c->peer, sizeof(c->peer));
    else
        snprintf(c->peer, sizeof(c->peer), "?");
    cairn_buf_init(&c->objs, CAIRN_STREAM_MAX_BUFFER);
    cairn_buf_init(&c->user, CAIRN_WIRE_USER_STATE_MAX);
    cairn_buf_init(&c->out, ML_MAX_MESSAGE + 1024);
    if (cairn__stream_rd_new(&ml->frame, &c->rd) < 0) {
        cairn_free(c);
        return NULL;
    }
    if (kind == CONN_INBOUND)
        ml->inbound_streams++;
    c->next = ml->conns;
    ml->conns = c;
    return c;
}

void cairn__ml_close_all_conns(cairn_memberlist *ml)
{
    while (ml->conns)
        conn_end(ml->conns, CAIRN_ECANCELED);
}

static int conn_write(struct ml_conn *c, const uint8_t *msg, size_t len)
{
    cairn_buf framed;
    cairn_buf_init(&framed, ML_MAX_MESSAGE + 1024);
    int rc = cairn__stream_encode(&c->ml->frame, msg, len, &framed);
    if (rc == 0)
        rc = cairn_stream_write(c->stream, framed.data, framed.len);
    cairn_buf_destroy(&framed);
    return rc;
}

/* ---- local state ---- */

/* Builds 06 + header + every node + user state into out (Go:
 * sendLocalState). */
static int build_local_state(cairn_memberlist *ml, bool join, cairn_buf *out)
{
    cairn_buf user;
    cairn_buf_init(&user, CAIRN_WIRE_USER_STATE_MAX);
    if (ml->del.local_state && ml->del.local_state(ml->del.userdata, join, &user) < 0)
        cairn_buf_reset(&user);
    cairn_wire_pushpull_header h = {
        .join = join, .nodes = (uint32_t)ml->n_nodes, .user_state_len = (uint32_t)user.len};
    int rc = cairn__wire_pushpull_header_encode(&h, out, NULL);
    for (size_t i = 0; rc == 0 && i < ml->n_nodes; i++) {
        const struct ml_node *n = ml->nodes[i];
        /* The nodes are scattered blocks: ask for one a few ahead (a
         * hint; the simulator's members hold N tables of N). */
        if (i + ML_PREFETCH_AHEAD < ml->n_nodes) {
            const struct ml_node *ahead = ml->nodes[i + ML_PREFETCH_AHEAD];
            __builtin_prefetch(ahead);
            __builtin_prefetch(ahead->name);
        }
        cairn_wire_push_node pn = {
            .addr = cairn__ml_ip_span(&n->addr),
            .incarnation = n->incarnation,
            .meta = {n->meta ? n->meta : (const uint8_t *)"", n->meta_len},
            .name = cairn__span_str(n->name),
            .port = n->addr.port,
            .state = n->state,
            .vsn = {n->vsn, sizeof(n->vsn)},
        };
        rc = cairn__wire_push_node_encode(&pn, out, NULL);
    }
    if (rc == 0 && user.len)
        rc = cairn_buf_append(out, user.data, user.len);
    cairn_buf_destroy(&user);
    return rc;
}

/* ---- merging what arrived ---- */

/* Go: mergeRemoteState. 0 or an error that rejects the whole exchange. */
static int merge_remote(struct ml_conn *c)
{
    cairn_memberlist *ml = c->ml;
    cairn_wire_arena arena;
    cairn__wire_arena_init(&arena, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    size_t n = c->hdr.nodes;
    cairn_wire_push_node *nodes = n ? cairn__wire_arena_alloc(&arena, n * sizeof(*nodes)) : NULL;
    int rc = (n && !nodes) ? CAIRN_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t end = i + 1 < n ? c->obj_off[i + 1] : c->objs.len, used;
        cairn_diag diag = {0};
        rc = cairn__wire_push_node_decode(c->objs.data + c->obj_off[i], end - c->obj_off[i], &arena,
                                          &diag, &nodes[i], &used);
        if (rc < 0)
            cairn__ml_ratelog(ml, &ml->rl_stream, CAIRN_LOG_ERROR,
                              "bad push/pull node state: %s from=%s", diag.msg, c->peer);
    }
    if (rc == 0)
        rc = cairn__ml_verify_protocol(ml, nodes, n);
    if (rc == 0 && c->hdr.join && ml->del.notify_merge) {
        cairn_ml_node *views = n ? cairn__wire_arena_alloc(&arena, n * sizeof(*views)) : NULL;
        char **names = n ? cairn__wire_arena_alloc(&arena, n * sizeof(*names)) : NULL;
        if (n && (!views || !names))
            rc = CAIRN_ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            names[i] = cairn__wire_arena_alloc(&arena, nodes[i].name.len + 1);
            if (!names[i]) {
                rc = CAIRN_ENOMEM;
                break;
            }
            if (nodes[i].name.len) /* an empty span may have no bytes (p NULL) */
                memcpy(names[i], nodes[i].name.p, nodes[i].name.len);
            views[i] = (cairn_ml_node){.name = names[i],
                                       .meta = nodes[i].meta.p,
                                       .meta_len = nodes[i].meta.len,
                                       .state = nodes[i].state,
                                       .incarnation = nodes[i].incarnation};
            (void)cairn_addr_from_ip(nodes[i].addr.p, nodes[i].addr.len, nodes[i].port,
                                     &views[i].addr);
            if (nodes[i].vsn.len == 6) {
                const uint8_t *v = nodes[i].vsn.p;
                views[i].pmin = v[0], views[i].pmax = v[1], views[i].pcur = v[2];
                views[i].dmin = v[3], views[i].dmax = v[4], views[i].dcur = v[5];
            }
        }
        if (rc == 0 && ml->del.notify_merge(ml->del.userdata, views, n) != 0)
            rc = CAIRN_EACCES;
    }
    if (rc == 0) {
        cairn__ml_merge_state(ml, nodes, n);
        if (c->user.len && ml->del.merge_remote_state)
            ml->del.merge_remote_state(ml->del.userdata, c->user.data, c->user.len, c->hdr.join);
    }
    cairn__wire_arena_destroy(&arena);
    return rc;
}

/* ---- the incremental reader ---- */

/* Decoders want [type][object]; builds that in ml->rx. */
static int with_type(cairn_memberlist *ml, uint8_t type, const uint8_t *p, size_t len)
{
    cairn_buf_reset(&ml->rx);
    int rc = cairn_buf_append(&ml->rx, &type, 1);
    if (rc == 0)
        rc = cairn_buf_append(&ml->rx, p, len);
    return rc;
}

static void send_err(struct ml_conn *c, const char *text)
{
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    cairn_wire_err e = {.error = cairn__span_str(text)};
    if (cairn__wire_err_encode(&e, &b, NULL) == 0)
        (void)conn_write(c, b.data, b.len);
    cairn_buf_destroy(&b);
}

/* Stage: message type. */
static int step_type(struct ml_conn *c, cairn_diag *diag)
{
    cairn_memberlist *ml = c->ml;
    uint8_t type;
    int rc = cairn__stream_rd_type(c->rd, &type, diag);
    if (rc < 0)
        return rc;
    switch (c->kind) {
    case CONN_INBOUND:
        if (type == CAIRN_WIRE_PING) {
            c->stage = ST_PING;
        } else if (type == CAIRN_WIRE_USER) {
            c->stage = ST_USER_HDR;
        } else if (type == CAIRN_WIRE_PUSHPULL) {
            ml->inbound_pushpulls++;
            c->counted = true;
            if (ml->inbound_pushpulls >= CAIRN_ML_MAX_PUSHPULL_REQUESTS) {
                cairn__ml_ratelog(ml, &ml->rl_refused, CAIRN_LOG_ERROR,
                                  "too many pending push/pull requests from=%s", c->peer);
                return CAIRN_EBUSY;
            }
            c->stage = ST_PP_HDR;
        } else {
            cairn__ml_ratelog(ml, &ml->rl_stream, CAIRN_LOG_ERROR,
                              "received invalid msgType (%u) from=%s", type, c->peer);
            return CAIRN_ENOTSUP;
        }
        return 0;
    case CONN_PUSHPULL:
        c->stage = type == CAIRN_WIRE_PUSHPULL ? ST_PP_HDR
                   : type == CAIRN_WIRE_ERR    ? ST_ERR
                                               : ST_DONE;
        return c->stage == ST_DONE ? CAIRN_EPROTO : 0;
    case CONN_PING:
        c->stage = type == CAIRN_WIRE_ACK ? ST_ACK : type == CAIRN_WIRE_ERR ? ST_ERR : ST_DONE;
        return c->stage == ST_DONE ? CAIRN_EPROTO : 0;
    }
    return CAIRN_EPROTO;
}

/* Reads the next object into (p, n) or returns EAGAIN/error. */
static int next_object(struct ml_conn *c, const uint8_t **p, size_t *n, cairn_diag *diag)
{
    return cairn__stream_rd_object(c->rd, p, n, diag);
}

static int step_pushpull(struct ml_conn *c, cairn_diag *diag)
{
    cairn_memberlist *ml = c->ml;
    const uint8_t *p;
    size_t n, used;
    int rc;
    if (c->stage == ST_PP_HDR) {
        if ((rc = next_object(c, &p, &n, diag)) < 0)
            return rc;
        if ((rc = with_type(ml, CAIRN_WIRE_PUSHPULL, p, n)) < 0)
            return rc;
        rc = cairn__wire_pushpull_header_decode(ml->rx.data, ml->rx.len, diag, &c->hdr, &used);
        if (rc < 0)
            return rc == CAIRN_EAGAIN ? CAIRN_EPROTO : rc;
        if (c->kind == CONN_INBOUND)
            c->join = c->hdr.join;
        /* More nodes than our table may hold is refused before anything
         * is sized from the header (memberlist #357). */
        if (c->hdr.nodes > ml->cfg.max_nodes)
            return cairn_diag_set(diag, CAIRN_ELIMIT, "push/pull: %u nodes announced, limit %zu",
                                  (unsigned)c->hdr.nodes, ml->cfg.max_nodes);
        c->stage = ST_PP_NODES;
    }
    while (c->stage == ST_PP_NODES && c->nodes_read < c->hdr.nodes) {
        if ((rc = next_object(c, &p, &n, diag)) < 0)
            return rc;
        /* Offsets grow with the objects actually received. */
        if (c->nodes_read == c->obj_cap) {
            size_t ncap = c->obj_cap ? c->obj_cap * 2 : 16;
            size_t *off = cairn_reallocarray(c->obj_off, ncap, sizeof(*off));
            if (!off)
                return CAIRN_ENOMEM;
            c->obj_off = off;
            c->obj_cap = ncap;
        }
        c->obj_off[c->nodes_read++] = c->objs.len;
        if ((rc = cairn_buf_append(&c->objs, p, n)) < 0)
            return rc;
    }
    c->stage = ST_PP_USER;
    if ((rc = cairn__stream_rd_raw(c->rd, c->hdr.user_state_len, &p, diag)) < 0)
        return rc;
    if ((rc = cairn_buf_append(&c->user, p, c->hdr.user_state_len)) < 0)
        return rc;
    cairn__stream_rd_end(c->rd);
    c->stage = ST_DONE;
    return 0;
}

/* The whole remote push/pull is in: answer (responder) and merge. */
static void pushpull_complete(struct ml_conn *c)
{
    cairn_memberlist *ml = c->ml;
    if (c->kind == CONN_INBOUND) {
        cairn_buf out;
        cairn_buf_init(&out, ML_MAX_MESSAGE);
        int rc = build_local_state(ml, c->join, &out);
        if (rc == 0)
            rc = conn_write(c, out.data, out.len);
        cairn_buf_destroy(&out);
        if (rc < 0) {
            cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "failed to push local state: %s from=%s",
                       cairn_strerror(rc), c->peer);
            conn_end(c, rc);
            return;
        }
        rc = merge_remote(c);
        if (rc == 0)
            ml->stats.pushpull_in++;
        else
            ml->stats.pushpull_failed++;
        conn_end(c, 0);
        return;
    }
    conn_end(c, merge_remote(c));
}

/* Stage results besides 0 (go on), CAIRN_EAGAIN (wait for bytes) and
 * errors: the exchange ended and c is gone. */
#define ML_CONN_ENDED 1

/* Reads the next object and decodes it as `type` with dec into ml->rx. */
static int next_message(struct ml_conn *c, uint8_t type, cairn_diag *diag)
{
    const uint8_t *p;
    size_t n;
    int rc = cairn__stream_rd_object(c->rd, &p, &n, diag);
    if (rc == 0)
        rc = with_type(c->ml, type, p, n);
    return rc;
}

/* Inbound TCP ping: answer an ack with the same SeqNo and no payload. */
static int stage_ping(struct ml_conn *c, cairn_diag *diag)
{
    cairn_memberlist *ml = c->ml;
    cairn_wire_ping ping;
    int rc = next_message(c, CAIRN_WIRE_PING, diag);
    if (rc == 0)
        rc = cairn__wire_ping_decode(ml->rx.data, ml->rx.len, NULL, diag, &ping);
    if (rc < 0)
        return rc;
    if (ping.node.len && !cairn__span_eq(ping.node, cairn__span_str(ml->name))) {
        conn_end(c, CAIRN_EINVAL);
        return ML_CONN_ENDED;
    }
    cairn_buf b;
    cairn_buf_init(&b, 64);
    cairn_wire_ack ack = {.seq_no = ping.seq_no};
    rc = cairn__wire_ack_encode(&ack, &b, NULL);
    if (rc == 0)
        rc = conn_write(c, b.data, b.len);
    cairn_buf_destroy(&b);
    conn_end(c, rc);
    return ML_CONN_ENDED;
}

static int stage_user_header(struct ml_conn *c, cairn_diag *diag)
{
    cairn_wire_user_msg_header h;
    size_t used;
    int rc = next_message(c, CAIRN_WIRE_USER, diag);
    if (rc == 0)
        rc = cairn__wire_user_msg_header_decode(c->ml->rx.data, c->ml->rx.len, diag, &h, &used);
    if (rc < 0)
        return rc;
    c->user_len = h.user_msg_len;
    c->stage = ST_USER_BODY;
    return 0;
}

static int stage_user_body(struct ml_conn *c, cairn_diag *diag)
{
    cairn_memberlist *ml = c->ml;
    const uint8_t *p;
    int rc = cairn__stream_rd_raw(c->rd, c->user_len, &p, diag);
    if (rc < 0)
        return rc;
    if (c->user_len && ml->del.notify_msg)
        ml->del.notify_msg(ml->del.userdata, p, c->user_len);
    conn_end(c, 0);
    return ML_CONN_ENDED;
}

/* The answer to our TCP ping must be an ack with our SeqNo. */
static int stage_ack(struct ml_conn *c, cairn_diag *diag)
{
    cairn_wire_ack ack;
    int rc = next_message(c, CAIRN_WIRE_ACK, diag);
    if (rc == 0)
        rc = cairn__wire_ack_decode(c->ml->rx.data, c->ml->rx.len, NULL, diag, &ack);
    if (rc == CAIRN_EAGAIN)
        return rc;
    if (rc == 0 && ack.seq_no != c->seq)
        rc = CAIRN_EPROTO;
    conn_end(c, rc);
    return ML_CONN_ENDED;
}

static int stage_err(struct ml_conn *c, cairn_diag *diag)
{
    cairn_memberlist *ml = c->ml;
    cairn_wire_err e;
    int rc = next_message(c, CAIRN_WIRE_ERR, diag);
    if (rc == CAIRN_EAGAIN)
        return rc;
    if (rc == 0 && cairn__wire_err_decode(ml->rx.data, ml->rx.len, diag, &e) == 0)
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "remote error: %.*s from=%s",
                   (int)e.error.len, (const char *)e.error.p, c->peer);
    conn_end(c, CAIRN_EREMOTE);
    return ML_CONN_ENDED;
}

static int stage_run(struct ml_conn *c, cairn_diag *diag)
{
    int rc;
    switch (c->stage) {
    case ST_TYPE:
        return step_type(c, diag);
    case ST_PING:
        return stage_ping(c, diag);
    case ST_USER_HDR:
        return stage_user_header(c, diag);
    case ST_USER_BODY:
        return stage_user_body(c, diag);
    case ST_PP_HDR:
    case ST_PP_NODES:
    case ST_PP_USER:
        if ((rc = step_pushpull(c, diag)) != 0)
            return rc;
        pushpull_complete(c);
        return ML_CONN_ENDED;
    case ST_ACK:
        return stage_ack(c, diag);
    case ST_ERR:
        return stage_err(c, diag);
    case ST_DONE:
        break;
    }
    conn_end(c, CAIRN_EPROTO);
    return ML_CONN_ENDED;
}

/* Runs the stages as far as the buffered bytes allow. Returns false when
 * the exchange ended (c is gone). */
static bool conn_step(struct ml_conn *c)
{
    cairn_memberlist *ml = c->ml;
    cairn_diag diag = {0};
    int rc;
    while ((rc = stage_run(c, &diag)) == 0)
        ;
    if (rc == ML_CONN_ENDED)
        return false;
    if (rc == CAIRN_EAGAIN)
        return true;
    bool refused = rc == CAIRN_EBUSY || rc == CAIRN_ENOTSUP;
    if (c->stage == ST_TYPE && !refused)
        ml->stats.stream_rejected++;
    cairn__ml_ratelog(ml, &ml->rl_stream, CAIRN_LOG_ERROR, "failed to receive: %s (%s) from=%s",
                      diag.msg[0] ? diag.msg : cairn_strerror(rc), cairn_err_name(rc), c->peer);
    if (c->kind == CONN_INBOUND && !refused)
        send_err(c, diag.msg[0] ? diag.msg : cairn_strerror(rc));
    conn_end(c, rc);
    return false;
}

/* ---- the memory cap across streams ---- */

/* Bytes c holds now. */
static size_t conn_mem(const struct ml_conn *c)
{
    return cairn__wire_rd_mem(c->rd) + c->objs.cap + c->user.cap + c->obj_cap * sizeof(*c->obj_off);
}

/* Brings stats.stream_mem up to date with c. */
static void conn_account(struct ml_conn *c)
{
    cairn_ml_stats *st = &c->ml->stats;
    size_t now = conn_mem(c);
    st->stream_mem = st->stream_mem - c->mem + now;
    c->mem = now;
    if (st->stream_mem > st->stream_mem_peak)
        st->stream_mem_peak = st->stream_mem;
}

/* Refills the decompression bucket and returns what it holds. */
static size_t inflate_available(cairn_memberlist *ml)
{
    cairn_time now = cairn_loop_now(ml->loop);
    double cap = (double)CAIRN_ML_STREAM_DECOMPRESSED_MAX;
    if (ml->inflate_at == 0)
        ml->inflate_tokens = cap;
    else
        ml->inflate_tokens += (double)(now - ml->inflate_at) / (double)CAIRN_SEC *
                              (double)CAIRN_ML_STREAM_INFLATE_RATE;
    if (ml->inflate_tokens > cap)
        ml->inflate_tokens = cap;
    ml->inflate_at = now;
    return ml->inflate_tokens < 1 ? 0 : (size_t)ml->inflate_tokens;
}

/* Ends c because the streams together hold too much. */
static void conn_refuse_mem(struct ml_conn *c, size_t more)
{
    cairn_memberlist *ml = c->ml;
    ml->stats.stream_mem_refused++;
    cairn__ml_ratelog(ml, &ml->rl_refused, CAIRN_LOG_WARN,
                      "stream buffers full (%llu bytes held, %zu more, limit %zu): dropping "
                      "stream from=%s",
                      (unsigned long long)ml->stats.stream_mem, more,
                      (size_t)CAIRN_ML_STREAM_MEM_MAX, c->peer);
    conn_end(c, CAIRN_ELIMIT);
}

static void on_read(cairn_stream *stream, const uint8_t *data, size_t len, int status, void *ud)
{
    struct ml_conn *c = ud;
    cairn_memberlist *ml = c->ml;
    (void)stream;
    if (status < 0) {
        /* The peer closed (CAIRN_EOF: reported as such, not as a malformed
         * message), reset, or the deadline passed, before a complete
         * message. Outbound failures are logged by conn_end. */
        if (c->kind == CONN_INBOUND)
            cairn__ml_ratelog(ml, &ml->rl_stream, CAIRN_LOG_WARN, "failed to receive: %s from=%s",
                              status == CAIRN_EOF ? "peer closed the connection mid-message"
                                                  : cairn_strerror(status),
                              c->peer);
        conn_end(c, status);
        return;
    }
    if (ml->stats.stream_mem + len > CAIRN_ML_STREAM_MEM_MAX) {
        conn_refuse_mem(c, len);
        return;
    }
    int rc = cairn__stream_rd_feed(c->rd, data, len);
    if (rc < 0) {
        conn_end(c, rc);
        return;
    }
    conn_account(c);
    /* Buffers grow in steps: the feed itself may have passed the cap. */
    if (ml->stats.stream_mem >= CAIRN_ML_STREAM_MEM_MAX) {
        conn_refuse_mem(c, len);
        return;
    }
    /* A compress message may expand only into what is left of the cap. */
    size_t left = CAIRN_ML_STREAM_MEM_MAX - ml->stats.stream_mem;
    size_t tokens = inflate_available(ml);
    if (tokens < left)
        left = tokens;
    if (left > CAIRN_ML_STREAM_DECOMPRESSED_MAX)
        left = CAIRN_ML_STREAM_DECOMPRESSED_MAX;
    /* 1, not 0 (which means "the configured cap"), when nothing is left. */
    cairn__wire_rd_set_max_decompressed(c->rd, left ? left : 1);
    if (!conn_step(c))
        return; /* conn_free charged the bucket */
    conn_charge_inflate(c);
    conn_account(c);
    if (ml->stats.stream_mem > CAIRN_ML_STREAM_MEM_MAX)
        conn_refuse_mem(c, 0);
}

/* ---- inbound ---- */

void cairn__ml_on_accept(cairn_listener *lst, cairn_stream *stream, void *userdata)
{
    cairn_memberlist *ml = userdata;
    (void)lst;
    cairn_addr peer;
    bool known = cairn_stream_peer(stream, &peer) == 0;
    if (!ml->shutdown && ml->inbound_streams >= CAIRN_ML_MAX_INBOUND_STREAMS) {
        char pa[CAIRN_ADDR_STRLEN] = "?";
        if (known)
            cairn_addr_format(&peer, true, pa, sizeof(pa));
        ml->stats.streams_refused++;
        cairn__ml_ratelog(ml, &ml->rl_refused, CAIRN_LOG_WARN,
                          "too many inbound streams (%d open): refusing from=%s",
                          CAIRN_ML_MAX_INBOUND_STREAMS, pa);
        cairn_stream_close(stream);
        return;
    }
    struct ml_conn *c = ml->shutdown ? NULL : conn_new(ml, CONN_INBOUND, known ? &peer : NULL);
    if (!c) {
        cairn_stream_close(stream);
        return;
    }
    c->stream = stream;
    cairn_stream_set_timeout(stream, ml->cfg.tcp_timeout);
    if (cairn_stream_start_read(stream, on_read, c) < 0)
        conn_end(c, CAIRN_EIO);
}

/* ---- outbound ---- */

static void on_connect(cairn_stream *stream, int status, void *ud)
{
    struct ml_conn *c = ud;
    if (status < 0) {
        c->stream = NULL; /* closed by the loop already */
        conn_end(c, status);
        return;
    }
    int rc = conn_write(c, c->out.data, c->out.len);
    cairn_buf_destroy(&c->out);
    if (rc == 0)
        rc = cairn_stream_start_read(stream, on_read, c);
    if (rc < 0)
        conn_end(c, rc);
}

static int dial(struct ml_conn *c, const cairn_addr *addr, cairn_time timeout)
{
    cairn_memberlist *ml = c->ml;
    int rc = cairn_stream_dial(ml->loop, addr, timeout, on_connect, c, &c->stream);
    if (rc < 0) {
        c->stream = NULL;
        c->done = NULL;
        conn_end(c, rc);
        return rc;
    }
    /* The dial's timeout is the exchange's deadline, dial to last byte. */
    return 0;
}

int cairn__ml_pushpull_start(cairn_memberlist *ml, const cairn_addr *addr, bool join,
                             ml_pushpull_done done, void *userdata)
{
    struct ml_conn *c = conn_new(ml, CONN_PUSHPULL, addr);
    if (!c)
        return CAIRN_ENOMEM;
    c->join = join;
    int rc = build_local_state(ml, join, &c->out);
    if (rc < 0) {
        conn_free(c);
        return rc;
    }
    c->done = done;
    c->userdata = userdata;
    return dial(c, addr, ml->cfg.tcp_timeout);
}

int cairn__ml_tcp_ping_start(cairn_memberlist *ml, const cairn_addr *addr, const cairn_wire_ping *p,
                             cairn_time deadline, ml_tcp_ping_done done)
{
    cairn_time left = deadline - cairn_loop_now(ml->loop);
    if (left <= 0)
        return CAIRN_ETIMEDOUT;
    struct ml_conn *c = conn_new(ml, CONN_PING, addr);
    if (!c)
        return CAIRN_ENOMEM;
    c->seq = p->seq_no;
    c->ping_done = done;
    int rc = cairn__wire_ping_encode(p, &c->out, NULL);
    if (rc < 0) {
        conn_free(c);
        return rc;
    }
    return dial(c, addr, left);
}
