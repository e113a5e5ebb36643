/* The serf instance: configuration, lifecycle, the public API and the
 * memberlist delegate (Go: serf.go Create/Join/Leave/Shutdown/SetTags/
 * UserEvent/Stats, config.go DefaultConfig, delegate.go NotifyMsg and
 * NodeMeta, event_delegate.go, merge_delegate.go).
 *
 * A serf creates its memberlist with itself as the one delegate table:
 * node meta = our tags (0xFF + msgpack map, at most 512 bytes), user
 * messages = serf messages dispatched by type byte (intents and user
 * events handled here; queries, responses and relays in query.c),
 * conflicts = name-conflict resolution (internal.c), broadcasts = our
 * three queues, push/pull =
 * serf state (pushpull.c), join/leave/update = the status machine
 * (members.c), ack payload and probe completion = coordinates (coord.c).
 *
 * Go blocks the caller of Join and Leave; cairn runs on a loop, so both
 * complete through a callback. The graceful leave is a small state
 * machine on one timer: wait for the leave intent to be sent (at most
 * BroadcastTimeout), memberlist's leave (the same bound), then
 * LeavePropagateDelay, then left. Where Go abandons the leave when the
 * intent's broadcast times out (returning an error and never sending
 * memberlist's leave, so peers see a failure), cairn counts the timeout and
 * carries on: the peers still get the graceful dead-from-self.
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "wire/msg.h"

/* ---- configuration ---- */

void cairn_serf_config_default(cairn_serf_config *c)
{
    memset(c, 0, sizeof(*c));
    cairn_memberlist_config_lan(&c->memberlist);
    c->protocol_version = CAIRN_SERF_PROTOCOL_DEFAULT;
    c->broadcast_timeout = 5 * CAIRN_SEC;
    c->leave_propagate_delay = CAIRN_SEC;
    c->reap_interval = 15 * CAIRN_SEC;
    c->reconnect_interval = 30 * CAIRN_SEC;
    c->reconnect_timeout = 24 * 3600 * CAIRN_SEC;
    c->tombstone_timeout = 24 * 3600 * CAIRN_SEC;
    c->recent_intent_timeout = 5 * 60 * CAIRN_SEC;
    c->queue_check_interval = 30 * CAIRN_SEC;
    c->queue_depth_warning = 128;
    c->max_queue_depth = 4096;
    c->min_queue_depth = 0;
    c->user_event_size_limit = 512;
    c->flap_timeout = 60 * CAIRN_SEC;
    c->coord = cairn_coord_config_default();
    c->max_members = 65536;
    c->max_recent_intents = 16384;
    c->query_timeout_mult = 16;
    c->query_size_limit = 1024;
    c->query_response_size_limit = 1024;
    c->enable_name_conflict_resolution = true;
    c->max_queries = 1024;
    c->max_pending_responses = 4096;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return cairn_diag_set(diag, CAIRN_EINVAL, __VA_ARGS__);                                \
    } while (0)

int cairn_serf_config_check(const cairn_serf_config *c, cairn_diag *diag)
{
    CHECK(c != NULL, "serf config: NULL");
    CHECK(c->memberlist.name && c->memberlist.name[0], "serf config: memberlist.name is empty");
    CHECK(strlen(c->memberlist.name) <= CAIRN_NAME_MAX, "serf config: memberlist.name too long");
    CHECK(cairn_memberlist_config_check(&c->memberlist) == 0, "serf config: memberlist is invalid");
    CHECK(c->protocol_version >= 3 && c->protocol_version <= CAIRN_SERF_PROTOCOL_MAX,
          "serf config: protocol_version %u not in 3..%d (cairn encodes tags as protocol 3+)",
          (unsigned)c->protocol_version, CAIRN_SERF_PROTOCOL_MAX);
    CHECK(c->ntags == 0 || c->tags != NULL, "serf config: tags is NULL with ntags > 0");
    CHECK(c->broadcast_timeout > 0, "serf config: broadcast_timeout must be > 0");
    CHECK(c->leave_propagate_delay >= 0, "serf config: leave_propagate_delay is negative");
    CHECK(c->coalesce_period >= 0 && c->quiescent_period >= 0,
          "serf config: coalesce_period/quiescent_period is negative");
    CHECK(c->user_coalesce_period >= 0 && c->user_quiescent_period >= 0,
          "serf config: user_coalesce_period/user_quiescent_period is negative");
    CHECK(c->reap_interval > 0, "serf config: reap_interval must be > 0");
    CHECK(c->reconnect_interval >= 0, "serf config: reconnect_interval is negative");
    CHECK(c->reconnect_timeout >= 0, "serf config: reconnect_timeout is negative");
    CHECK(c->tombstone_timeout >= 0, "serf config: tombstone_timeout is negative");
    CHECK(c->recent_intent_timeout >= 0, "serf config: recent_intent_timeout is negative");
    CHECK(c->queue_check_interval > 0, "serf config: queue_check_interval must be > 0");
    CHECK(c->max_queue_depth >= 1 && c->max_queue_depth <= SERF_QUEUE_HARD_MAX,
          "serf config: max_queue_depth not in 1..%d", SERF_QUEUE_HARD_MAX);
    CHECK(c->min_queue_depth <= SERF_QUEUE_HARD_MAX, "serf config: min_queue_depth above %d",
          SERF_QUEUE_HARD_MAX);
    CHECK(c->user_event_size_limit >= 1 &&
              c->user_event_size_limit <= CAIRN_SERF_USER_EVENT_SIZE_MAX,
          "serf config: user_event_size_limit not in 1..%d", CAIRN_SERF_USER_EVENT_SIZE_MAX);
    CHECK(c->flap_timeout >= 0, "serf config: flap_timeout is negative");
    CHECK(c->max_members >= 1, "serf config: max_members must be >= 1");
    CHECK(c->max_recent_intents >= 1, "serf config: max_recent_intents must be >= 1");
    CHECK(c->query_timeout_mult >= 1, "serf config: query_timeout_mult must be >= 1");
    CHECK(c->query_size_limit >= 64 && c->query_size_limit <= 65536,
          "serf config: query_size_limit not in 64..65536");
    CHECK(c->query_response_size_limit >= 64 && c->query_response_size_limit <= 65536,
          "serf config: query_response_size_limit not in 64..65536");
    CHECK(c->max_queries >= 1, "serf config: max_queries must be >= 1");
    CHECK(c->max_pending_responses >= 1, "serf config: max_pending_responses must be >= 1");
    CHECK(c->disable_coordinates || cairn_coord_config_check(&c->coord) == 0,
          "serf config: coord is invalid");
    CHECK(c->snapshot_path == NULL || strlen(c->snapshot_path) + 8 <= CAIRN_FILE_PATH_MAX,
          "serf config: snapshot_path too long");
    return 0;
}

/* ---- tags ---- */

/* Validates and copies tags into *ret_tags / *ret_strs and encodes Meta. */
static int tags_prepare(const cairn_tag *tags, size_t n, uint8_t *meta, size_t *ret_meta_len,
                        cairn_tag **ret_tags, char **ret_strs, cairn_diag *diag)
{
    cairn_wire_tag *wt = cairn_calloc(n ? n : 1, sizeof(*wt));
    if (wt == NULL)
        return CAIRN_ENOMEM;
    size_t sz = 0, big = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (tags[i].key == NULL || tags[i].key[0] == 0 || tags[i].value == NULL)
            rc = cairn_diag_set(diag, CAIRN_EINVAL, "tags: tag %zu has no key or value", i);
        else {
            wt[i].key = cairn__span_str(tags[i].key);
            wt[i].value = cairn__span_str(tags[i].value);
            sz += wt[i].key.len + wt[i].value.len + 2;
            if (wt[i].key.len + wt[i].value.len > wt[big].key.len + wt[big].value.len)
                big = i;
        }
    }
    cairn_buf b;
    cairn_buf_init(&b, 4 * CAIRN_META_MAX);
    if (rc == 0 && (rc = cairn__wire_tags_encode(wt, n, &b, NULL)) == 0 && b.len > CAIRN_META_MAX)
        rc = CAIRN_ELIMIT;
    if (rc == CAIRN_ELIMIT)
        cairn_diag_set(diag, rc,
                       "tags: encoded tags exceed %d bytes (largest tag \"%s\", %zu bytes)",
                       CAIRN_META_MAX, tags[big].key, wt[big].key.len + wt[big].value.len);
    else if (rc == CAIRN_EINVAL)
        cairn_diag_set(diag, rc, "tags: duplicate key");
    cairn_tag *copy = NULL;
    char *strs = NULL;
    if (rc == 0) {
        copy = cairn_calloc(n ? n : 1, sizeof(*copy));
        strs = cairn_malloc(sz ? sz : 1);
        if (copy == NULL || strs == NULL)
            rc = CAIRN_ENOMEM;
    }
    if (rc == 0) {
        char *p = strs;
        for (size_t i = 0; i < n; i++) {
            copy[i].key = memcpy(p, tags[i].key, wt[i].key.len + 1);
            p += wt[i].key.len + 1;
            copy[i].value = memcpy(p, tags[i].value, wt[i].value.len + 1);
            p += wt[i].value.len + 1;
        }
        memcpy(meta, b.data, b.len);
        *ret_meta_len = b.len;
        *ret_tags = copy;
        *ret_strs = strs;
    } else {
        cairn_free(copy);
        cairn_free(strs);
    }
    cairn_buf_destroy(&b);
    cairn_free(wt);
    return rc;
}

/* ---- the memberlist delegate ---- */

static size_t d_node_meta(void *ud, uint8_t *buf, size_t limit)
{
    cairn_serf *s = ud;
    if (s->meta_len > limit)
        return 0;
    memcpy(buf, s->meta, s->meta_len);
    return s->meta_len;
}

/* A node name from a message (false when it cannot be one). */
static bool msg_name(cairn_span sp, char *buf)
{
    if (sp.len == 0 || sp.len > CAIRN_NAME_MAX || memchr(sp.p, 0, sp.len))
        return false;
    memcpy(buf, sp.p, sp.len);
    buf[sp.len] = 0;
    return true;
}

/* Intents and user events; returns the queue to re-gossip msg on, or
 * NULL. */
static cairn_bcast_queue *handle_msg(cairn_serf *s, const uint8_t *msg, size_t len)
{
    char name[CAIRN_NAME_MAX + 1];
    cairn_wire_arena a;
    cairn_bcast_queue *q = NULL;
    switch (msg[0]) {
    case CAIRN_WIRE_SERF_LEAVE: {
        cairn_wire_serf_leave m;
        if (cairn__wire_serf_leave_decode(msg, len, NULL, &m) < 0 || !msg_name(m.node, name))
            break;
        return cairn__serf_leave_intent(s, name, m.ltime, m.prune) ? s->intents_q : NULL;
    }
    case CAIRN_WIRE_SERF_JOIN: {
        cairn_wire_serf_join m;
        if (cairn__wire_serf_join_decode(msg, len, NULL, &m) < 0 || !msg_name(m.node, name))
            break;
        return cairn__serf_join_intent(s, name, m.ltime) ? s->intents_q : NULL;
    }
    case CAIRN_WIRE_SERF_USER_EVENT: {
        cairn_wire_serf_user_event m;
        cairn__wire_arena_init(&a, 64 * 1024);
        if (cairn__wire_serf_user_event_decode(msg, len, &a, NULL, &m) == 0)
            q = cairn__serf_handle_user_event(s, m.name.p, m.name.len, m.payload.p, m.payload.len,
                                              m.ltime, m.cc)
                    ? s->events_q
                    : NULL;
        else
            s->stats.msgs_malformed++;
        cairn__wire_arena_destroy(&a);
        return q;
    }
    case CAIRN_WIRE_SERF_QUERY:
        return cairn__serf_handle_query(s, msg, len) ? s->queries_q : NULL;
    case CAIRN_WIRE_SERF_QUERY_RESPONSE:
        cairn__serf_handle_query_response(s, msg, len);
        return NULL;
    case CAIRN_WIRE_SERF_RELAY:
        cairn__serf_handle_relay(s, msg, len);
        return NULL;
    default:
        s->stats.msgs_unhandled++;
        return NULL;
    }
    s->stats.msgs_malformed++;
    return NULL;
}

static void d_notify_msg(void *ud, const uint8_t *msg, size_t len)
{
    cairn_serf *s = ud;
    if (len == 0 || s->state == CAIRN_SERF_SHUTDOWN)
        return;
    cairn_bcast_queue *q = handle_msg(s, msg, len);
    if (q)
        (void)cairn__serf_bcast_queue(s, q, msg, len, NULL, NULL);
}

static void d_get_broadcasts(void *ud, int overhead, int limit, cairn_bcast_emit_cb emit,
                             void *emit_ud)
{
    cairn__serf_bcast_get(ud, overhead, limit, emit, emit_ud);
}

static int d_local_state(void *ud, bool join, cairn_buf *out)
{
    (void)join;
    return cairn__serf_local_state(ud, out);
}

static void d_merge_remote_state(void *ud, const uint8_t *buf, size_t len, bool join)
{
    cairn__serf_merge_remote_state(ud, buf, len, join);
}

static void d_notify_join(void *ud, const cairn_ml_node *n)
{
    cairn__serf_node_join(ud, n);
}

static void d_notify_leave(void *ud, const cairn_ml_node *n)
{
    cairn__serf_node_leave(ud, n);
}

static void d_notify_update(void *ud, const cairn_ml_node *n)
{
    cairn__serf_node_update(ud, n);
}

static void d_notify_conflict(void *ud, const cairn_ml_node *existing, const cairn_ml_node *other)
{
    cairn__serf_name_conflict(ud, existing, other);
}

static void d_ack_payload(void *ud, cairn_buf *out)
{
    cairn__serf_coord_ack_payload(ud, out);
}

static void d_ping_complete(void *ud, const cairn_ml_node *n, cairn_time rtt,
                            const uint8_t *payload, size_t len)
{
    cairn__serf_coord_ping_complete(ud, n->name, rtt, payload, len);
}

/* ---- lifecycle ---- */

static void on_leave_timer(cairn_timer *t, void *ud);
static bool rejoin_next(cairn_serf *s);

static int make_parts(cairn_serf *s)
{
    const cairn_serf_config *c = &s->cfg;
    int rc = cairn__serf_events_init(s);
    if (rc == 0)
        rc = cairn__serf_members_init(s);
    if (rc == 0)
        rc = cairn__serf_queries_init(s);
    if (rc == 0)
        rc = cairn__serf_bcast_init(s);
    if (rc == 0)
        rc = cairn_timer_new(s->loop, on_leave_timer, s, &s->leave_timer);
    if (rc == 0 && !c->disable_coordinates) {
        cairn_coord_config cc = c->coord;
        if (cc.rng_seed == 0)
            cc.rng_seed = cairn_rng_u64(&s->rng) | 1;
        rc = cairn_coord_client_new(&cc, &s->coord);
    }
    if (rc == 0 && c->coalesce_period > 0 && c->quiescent_period > 0)
        rc =
            cairn__serf_coalesce_new(s->loop, true, c->coalesce_period, c->quiescent_period,
                                     c->max_members, c->event_cb, c->event_userdata, &s->member_co);
    if (rc == 0 && c->user_coalesce_period > 0 && c->user_quiescent_period > 0)
        rc = cairn__serf_coalesce_new(s->loop, false, c->user_coalesce_period,
                                      c->user_quiescent_period, 4096, c->event_cb,
                                      c->event_userdata, &s->user_co);
    return rc;
}

static void free_parts(cairn_serf *s)
{
    cairn__serf_queries_destroy(s); /* first: DONE reports see a whole serf */
    cairn__serf_snapshot_close(s);
    cairn__serf_coalesce_delete(s->member_co);
    cairn__serf_coalesce_delete(s->user_co);
    cairn_coord_client_delete(s->coord);
    cairn_timer_delete(s->leave_timer);
    cairn__serf_bcast_destroy(s);
    cairn__serf_members_destroy(s);
    cairn__serf_events_destroy(s);
    cairn_free(s->tags);
    cairn_free(s->tag_strs);
    cairn_free((char *)s->cfg.memberlist.name);
    cairn_free(s);
}

int cairn_serf_new(cairn_loop *loop, const cairn_serf_config *cfg, const cairn_logger *logger,
                   cairn_keyring *keyring, cairn_serf **ret_serf, cairn_diag *diag)
{
    if (loop == NULL || ret_serf == NULL)
        return CAIRN_EINVAL;
    int rc = cairn_serf_config_check(cfg, diag);
    if (rc < 0)
        return rc;
    cairn_serf *s = cairn_calloc(1, sizeof(*s));
    if (s == NULL)
        return CAIRN_ENOMEM;
    s->loop = loop;
    s->keyring = keyring;
    s->internal_query = cairn__serf_internal_query;
    s->cfg = *cfg;
    s->cfg.tags = NULL;
    s->cfg.ntags = 0;
    if (logger)
        s->log = *logger;
    size_t nlen = strlen(cfg->memberlist.name) + 1;
    char *name = cairn_malloc(nlen);
    s->cfg.memberlist.name = name;
    if (name == NULL) {
        free_parts(s);
        return CAIRN_ENOMEM;
    }
    memcpy(name, cfg->memberlist.name, nlen);
    if (cfg->memberlist.seed)
        cairn_rng_init(&s->rng, cfg->memberlist.seed ^ 0x5e4f5e4f5e4f5e4full);
    else
        (void)cairn_rng_seed_random(&s->rng);
    /* Go's Create increments each clock once: they start at 1. */
    s->clock.counter = s->event_clock.counter = s->query_clock.counter = 1;
    rc = tags_prepare(cfg->tags, cfg->ntags, s->meta, &s->meta_len, &s->tags, &s->tag_strs, diag);
    if (rc == 0)
        s->ntags = cfg->ntags;
    if (rc == 0)
        rc = make_parts(s);
    if (rc == 0)
        rc = cairn__serf_snapshot_open(s, diag);
    s->cfg.snapshot_path = NULL; /* the snapshot keeps its own copy */
    if (rc == 0) {
        cairn_memberlist_config mc = s->cfg.memberlist;
        mc.delegate_protocol_min = CAIRN_SERF_PROTOCOL_MIN;
        mc.delegate_protocol_max = CAIRN_SERF_PROTOCOL_MAX;
        mc.delegate_protocol_version = s->cfg.protocol_version;
        if (mc.max_nodes < s->cfg.max_members)
            mc.max_nodes = s->cfg.max_members;
        cairn_memberlist_delegate d = {
            .node_meta = d_node_meta,
            .notify_msg = d_notify_msg,
            .get_broadcasts = d_get_broadcasts,
            .local_state = d_local_state,
            .merge_remote_state = d_merge_remote_state,
            .notify_join = d_notify_join,
            .notify_leave = d_notify_leave,
            .notify_update = d_notify_update,
            .notify_conflict = d_notify_conflict,
            .ack_payload = s->cfg.disable_coordinates ? NULL : d_ack_payload,
            .notify_ping_complete = s->cfg.disable_coordinates ? NULL : d_ping_complete,
            .userdata = s,
        };
        rc = cairn_memberlist_new(loop, &mc, &d, logger, keyring, &s->ml);
        /* Serf wakes memberlist's gossip for its own broadcasts
         * (cairn__serf_bcast_queue): no empty 200 ms ticks. */
        if (rc == 0)
            cairn__ml_gossip_on_demand(s->ml);
        /* Our own member entry comes from memberlist's join of ourselves;
         * without it (no memory) the instance would be unusable. */
        if (rc == 0 && cairn__serf_find(s, s->cfg.memberlist.name) == NULL)
            rc = CAIRN_ENOMEM;
    }
    if (rc < 0) {
        s->state = CAIRN_SERF_SHUTDOWN;
        cairn_memberlist_delete(s->ml);
        free_parts(s);
        return rc;
    }
    (void)rejoin_next(s);
    *ret_serf = s;
    return 0;
}

static void finish_leave(cairn_serf *s, int status)
{
    cairn_serf_done_cb done = s->leave_done;
    void *ud = s->leave_ud;
    s->leave_done = NULL;
    s->leave_phase = 0;
    if (done)
        done(s, status, 0, ud);
}

void cairn_serf_delete(cairn_serf *s)
{
    if (s == NULL)
        return;
    s->state = CAIRN_SERF_SHUTDOWN;
    cairn_memberlist_delete(s->ml);
    s->ml = NULL;
    if (s->leave_phase)
        finish_leave(s, CAIRN_ECANCELED);
    free_parts(s);
}

/* ---- join ---- */

struct join_ctx {
    cairn_serf *s;
    cairn_serf_done_cb done;
    void *ud;
    bool ignore_old;
};

static void on_ml_joined(cairn_memberlist *ml, int status, int count, void *ud)
{
    (void)ml;
    struct join_ctx *j = ud;
    cairn_serf *s = j->s;
    if (j->ignore_old)
        s->ignore_old_joins--;
    if (count > 0 && s->state == CAIRN_SERF_ALIVE) {
        int rc = cairn__serf_broadcast_join(s, cairn__serf_clock_time(&s->clock));
        if (rc < 0 && status == 0)
            status = rc;
    }
    cairn_serf_done_cb done = j->done;
    void *dud = j->ud;
    cairn_free(j);
    if (done)
        done(s, status, count, dud);
}

int cairn_serf_join(cairn_serf *s, const cairn_addr *addrs, size_t n, bool ignore_old,
                    cairn_serf_done_cb done, void *userdata)
{
    if (s == NULL || addrs == NULL || n == 0)
        return CAIRN_EINVAL;
    if (s->state != CAIRN_SERF_ALIVE)
        return CAIRN_ESHUTDOWN;
    struct join_ctx *j = cairn_calloc(1, sizeof(*j));
    if (j == NULL)
        return CAIRN_ENOMEM;
    *j = (struct join_ctx){s, done, userdata, ignore_old};
    int rc = cairn_memberlist_join(s->ml, addrs, n, on_ml_joined, j);
    if (rc < 0) {
        cairn_free(j);
        return rc;
    }
    if (ignore_old)
        s->ignore_old_joins++;
    return 0;
}

/* ---- rejoin from the snapshot (Go: handleRejoin) ---- */

static void on_rejoined(cairn_serf *s, int status, int count, void *ud)
{
    const char *name = ud;
    if (s->state != CAIRN_SERF_ALIVE)
        return;
    if (status == 0 && count > 0) {
        cairn__serf_log(s, CAIRN_LOG_INFO, "re-joined to previously known node: %s", name);
        return;
    }
    if (!rejoin_next(s))
        cairn__serf_log(s, CAIRN_LOG_WARN, "failed to re-join any previously known node");
}

/* Starts a join to the next remembered member; false when none is left. */
static bool rejoin_next(cairn_serf *s)
{
    const char *name;
    cairn_addr addr;
    while (cairn__serf_snapshot_next_rejoin(s, &name, &addr)) {
        char a[CAIRN_ADDR_STRLEN];
        cairn__serf_log(s, CAIRN_LOG_INFO, "attempting re-join to previously known node: %s: %s",
                        name, cairn_addr_format(&addr, true, a, sizeof(a)));
        if (cairn_serf_join(s, &addr, 1, false, on_rejoined, (void *)name) == 0)
            return true;
    }
    return false;
}

/* ---- leave ---- */

enum { LEAVE_INTENT = 1, LEAVE_MEMBERLIST = 2, LEAVE_PROPAGATE = 3, LEAVE_DONE = 4 };

static void on_intent_sent(void *ud)
{
    cairn_serf *s = ud;
    if (s->leave_phase == LEAVE_INTENT) {
        s->leave_phase = LEAVE_MEMBERLIST; /* deferred: we are inside the queue */
        cairn_timer_start(s->leave_timer, 0);
    }
}

static void on_ml_left(cairn_memberlist *ml, int status, int count, void *ud)
{
    (void)ml;
    (void)count;
    cairn_serf *s = ud;
    if (s->state == CAIRN_SERF_SHUTDOWN)
        return; /* cairn_serf_delete finishes the leave */
    if (status < 0)
        cairn__serf_log(s, CAIRN_LOG_WARN, "memberlist leave: %s", cairn_strerror(status));
    s->leave_phase = LEAVE_PROPAGATE;
    cairn_timer_start(s->leave_timer, s->cfg.leave_propagate_delay);
}

static void on_leave_timer(cairn_timer *t, void *ud)
{
    (void)t;
    cairn_serf *s = ud;
    switch (s->leave_phase) {
    case LEAVE_INTENT: /* the broadcast timed out: Go gives up here */
        s->stats.leave_timeouts++;
        cairn__serf_log(s, CAIRN_LOG_WARN, "timeout while waiting for graceful leave");
        /* fall through */
    case LEAVE_MEMBERLIST:
        s->leave_phase = LEAVE_MEMBERLIST;
        if (cairn_memberlist_leave(s->ml, s->cfg.broadcast_timeout, on_ml_left, s) < 0)
            on_ml_left(s->ml, CAIRN_EIO, 0, s);
        break;
    case LEAVE_PROPAGATE:
        s->state = CAIRN_SERF_LEFT;
        /* fall through */
    case LEAVE_DONE:
        finish_leave(s, 0);
        break;
    default:
        break;
    }
}

int cairn_serf_leave(cairn_serf *s, cairn_serf_done_cb done, void *userdata)
{
    if (s == NULL)
        return CAIRN_EINVAL;
    if (s->state == CAIRN_SERF_SHUTDOWN)
        return CAIRN_ESHUTDOWN;
    if (s->leave_phase)
        return CAIRN_EBUSY;
    s->leave_done = done;
    s->leave_ud = userdata;
    if (s->state == CAIRN_SERF_LEFT) {
        s->leave_phase = LEAVE_DONE;
        cairn_timer_start(s->leave_timer, 0);
        return 0;
    }
    cairn__serf_snapshot_leave(s);
    s->state = CAIRN_SERF_LEAVING;
    const char *self = s->cfg.memberlist.name;
    cairn_wire_serf_leave msg = {.ltime = cairn__serf_clock_time(&s->clock),
                                 .node = cairn__span_str(self)};
    cairn__serf_clock_increment(&s->clock);
    (void)cairn__serf_leave_intent(s, self, msg.ltime, false);
    s->leave_phase = LEAVE_MEMBERLIST;
    if (cairn__serf_has_alive_peers(s)) {
        cairn_buf b;
        cairn_buf_init(&b, CAIRN_NAME_MAX + 64);
        int rc = cairn__wire_serf_leave_encode(&msg, &b, NULL);
        if (rc == 0) {
            s->leave_phase = LEAVE_INTENT;
            rc = cairn__serf_bcast_queue(s, s->intents_q, b.data, b.len, on_intent_sent, s);
        }
        cairn_buf_destroy(&b);
        if (rc < 0)
            s->leave_phase = LEAVE_MEMBERLIST;
    }
    if (s->leave_phase == LEAVE_INTENT)
        cairn_timer_start(s->leave_timer, s->cfg.broadcast_timeout);
    else
        cairn_timer_start(s->leave_timer, 0);
    return 0;
}

int cairn_serf_force_leave(cairn_serf *s, const char *name, bool prune)
{
    if (s == NULL || name == NULL || name[0] == 0 || strlen(name) > CAIRN_NAME_MAX)
        return CAIRN_EINVAL;
    if (s->state == CAIRN_SERF_SHUTDOWN)
        return CAIRN_ESHUTDOWN;
    cairn_wire_serf_leave msg = {
        .ltime = cairn__serf_clock_time(&s->clock), .node = cairn__span_str(name), .prune = prune};
    cairn__serf_clock_increment(&s->clock);
    (void)cairn__serf_leave_intent(s, name, msg.ltime, prune);
    if (!cairn__serf_has_alive_peers(s))
        return 0;
    cairn_buf b;
    cairn_buf_init(&b, CAIRN_NAME_MAX + 64);
    int rc = cairn__wire_serf_leave_encode(&msg, &b, NULL);
    if (rc == 0)
        rc = cairn__serf_bcast_queue(s, s->intents_q, b.data, b.len, NULL, NULL);
    cairn_buf_destroy(&b);
    return rc;
}

/* ---- tags and user events ---- */

int cairn_serf_set_tags(cairn_serf *s, const cairn_tag *tags, size_t n, cairn_diag *diag)
{
    if (s == NULL || (n > 0 && tags == NULL))
        return CAIRN_EINVAL;
    if (s->state != CAIRN_SERF_ALIVE)
        return CAIRN_ESHUTDOWN;
    uint8_t meta[CAIRN_META_MAX];
    size_t meta_len;
    cairn_tag *copy;
    char *strs;
    int rc = tags_prepare(tags, n, meta, &meta_len, &copy, &strs, diag);
    if (rc < 0)
        return rc;
    cairn_free(s->tags);
    cairn_free(s->tag_strs);
    s->tags = copy;
    s->tag_strs = strs;
    s->ntags = n;
    memcpy(s->meta, meta, meta_len);
    s->meta_len = meta_len;
    return cairn_memberlist_update_node(s->ml, s->cfg.broadcast_timeout, NULL, NULL);
}

int cairn_serf_user_event(cairn_serf *s, const char *name, const uint8_t *payload, size_t len,
                          bool coalesce, cairn_diag *diag)
{
    if (s == NULL || name == NULL || (len > 0 && payload == NULL))
        return cairn_diag_set(diag, CAIRN_EINVAL, "user event: NULL argument");
    if (s->state == CAIRN_SERF_SHUTDOWN || s->state == CAIRN_SERF_LEFT)
        return CAIRN_ESHUTDOWN;
    size_t raw = strlen(name) + len, limit = s->cfg.user_event_size_limit;
    if (raw > limit)
        return cairn_diag_set(diag, CAIRN_ELIMIT,
                              "user event: name + payload is %zu bytes, limit %zu", raw, limit);
    cairn_wire_serf_user_event msg = {.cc = coalesce,
                                      .ltime = cairn__serf_clock_time(&s->event_clock),
                                      .name = cairn__span_str(name),
                                      .payload = {payload, len}};
    cairn_buf b;
    cairn_buf_init(&b, 2 * CAIRN_SERF_USER_EVENT_SIZE_MAX);
    int rc = cairn__wire_serf_user_event_encode(&msg, &b, diag);
    if (rc == 0 && b.len > limit)
        rc = cairn_diag_set(diag, CAIRN_ELIMIT, "user event: encoded size is %zu bytes, limit %zu",
                            b.len, limit);
    if (rc == 0) {
        cairn__serf_clock_increment(&s->event_clock);
        uint64_t dropped = s->stats.events_dropped;
        (void)cairn__serf_handle_user_event(s, msg.name.p, msg.name.len, payload, len, msg.ltime,
                                            coalesce);
        if (s->stats.events_dropped != dropped)
            rc = CAIRN_ENOMEM; /* not even stored here: not sent either */
        else
            rc = cairn__serf_bcast_queue(s, s->events_q, b.data, b.len, NULL, NULL);
    }
    cairn_buf_destroy(&b);
    return rc;
}

/* ---- queries of state ---- */

int cairn_serf_for_each_member(cairn_serf *s, cairn_member_cb cb, void *userdata)
{
    if (s == NULL || cb == NULL)
        return CAIRN_EINVAL;
    for (size_t i = 0; i < s->n_members; i++) {
        cairn_member m;
        cairn__serf_member_view(s->members[i], &m);
        if (!cb(&m, userdata))
            break;
    }
    return 0;
}

int cairn_serf_get_member(cairn_serf *s, const char *name, cairn_member_cb cb, void *userdata)
{
    if (s == NULL || name == NULL || cb == NULL)
        return CAIRN_EINVAL;
    struct serf_member *sm = cairn__serf_find(s, name);
    if (sm == NULL)
        return CAIRN_ENOENT;
    cairn_member m;
    cairn__serf_member_view(sm, &m);
    (void)cb(&m, userdata);
    return 0;
}

int cairn_serf_member_status(const cairn_serf *s, const char *name)
{
    struct serf_member *m = s && name ? cairn__serf_find(s, name) : NULL;
    return m ? m->status : CAIRN_ENOENT;
}

size_t cairn_serf_num_members(const cairn_serf *s)
{
    return s ? s->n_members : 0;
}

int cairn_serf_state(const cairn_serf *s)
{
    return s ? s->state : CAIRN_SERF_SHUTDOWN;
}

int cairn_serf_get_coordinate(const cairn_serf *s, cairn_coord *ret_coord)
{
    if (s == NULL || ret_coord == NULL)
        return CAIRN_EINVAL;
    if (s->coord == NULL)
        return CAIRN_ENOTSUP;
    return cairn_coord_client_get(s->coord, ret_coord);
}

bool cairn_serf_get_cached_coordinate(const cairn_serf *s, const char *name, cairn_coord *ret_coord)
{
    struct serf_member *m = s && name && s->coord ? cairn__serf_find(s, name) : NULL;
    if (m == NULL || !m->has_coord || ret_coord == NULL)
        return false;
    *ret_coord = m->coord;
    return true;
}

cairn_memberlist *cairn_serf_memberlist(cairn_serf *s)
{
    return s ? s->ml : NULL;
}

void cairn_serf_get_stats(const cairn_serf *s, cairn_serf_stats *ret_stats)
{
    cairn_serf_stats st = s->stats;
    st.member_time = cairn__serf_clock_time(&s->clock);
    st.event_time = cairn__serf_clock_time(&s->event_clock);
    st.query_time = cairn__serf_clock_time(&s->query_clock);
    st.members = s->n_members;
    st.alive = st.leaving = st.left = st.failed = 0;
    for (size_t i = 0; i < s->n_members; i++) {
        int k = s->members[i]->status;
        st.alive += k == CAIRN_MEMBER_ALIVE;
        st.leaving += k == CAIRN_MEMBER_LEAVING;
        st.left += k == CAIRN_MEMBER_LEFT;
        st.failed += k == CAIRN_MEMBER_FAILED;
    }
    st.intent_queue = cairn__bcast_queue_len(s->intents_q);
    st.event_queue = cairn__bcast_queue_len(s->events_q);
    st.query_queue = cairn__bcast_queue_len(s->queries_q);
    st.recent_intents = s->intent_map.len;
    if (s->coord) {
        cairn_coord_stats cs;
        if (cairn_coord_client_stats(s->coord, &cs) == 0) {
            st.coordinate_resets = cs.resets;
            st.coordinate_rejected += cs.rejected;
        }
    }
    st.health_score = s->ml ? cairn_memberlist_health_score(s->ml) : 0;
    *ret_stats = st;
}

/* ---- the cluster seam ---- */

static size_t cl_num_nodes(void *impl)
{
    return cairn_serf_num_members(impl);
}

static int cl_for_each(void *impl, cairn_member_cb fn, void *ud)
{
    return cairn_serf_for_each_member(impl, fn, ud);
}

static int cl_get_coordinate(void *impl, cairn_coord *ret)
{
    return cairn_serf_get_coordinate(impl, ret);
}

static bool cl_get_cached(void *impl, const char *name, cairn_coord *ret)
{
    return cairn_serf_get_cached_coordinate(impl, name, ret);
}

static const cairn_cluster_ops serf_cluster_ops = {
    .num_nodes = cl_num_nodes,
    .for_each_member = cl_for_each,
    .get_coordinate = cl_get_coordinate,
    .get_cached_coordinate = cl_get_cached,
};

void cairn_serf_cluster(cairn_serf *s, cairn_cluster *ret_cluster)
{
    ret_cluster->ops = &serf_cluster_ops;
    ret_cluster->impl = s;
}
