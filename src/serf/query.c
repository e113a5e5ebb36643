/* Queries (Go: serf.go Query / handleQuery / handleQueryResponse /
 * registerQueryResponse, query.go QueryResponse / relayResponse, event.go
 * Query.Respond, the relay branch of delegate.go NotifyMsg).
 *
 * Originating: a query is stamped with the query clock and a random 31-bit
 * ID, carries our address for the answers, is processed locally first (we
 * may answer ourselves) and gossiped on the query queue. Acks (flag 1) and
 * responses (flag 0) arrive as UDP user messages [05]; they are matched by
 * (LTime, ID) against the running queries, at most one ack and one response
 * per node, until the deadline closes the query.
 *
 * Receiving: witness the clock; drop queries before queryMinTime, older
 * than the clock minus the 512-slot ring, or already in the ring (same
 * LTime and ID); re-gossip unless flag 2 (also when filtered out); apply
 * the filters (filter.c); ack to Addr:Port when asked; then hand the query
 * to the internal handlers (name "_serf_...") or deliver it to the
 * application as a QUERY event whose respond function answers once before
 * the deadline. Every ack and response also goes through RelayFactor random
 * alive members speaking memberlist protocol 5, wrapped in a relay [09]
 * header; a relay forwards the inner bytes to the destination.
 *
 * Departures: Go's ring slots and its tables grow without bound; here a
 * ring slot keeps at most SERF_QUERY_IDS_PER_SLOT IDs (a further one is
 * dropped as a duplicate, counted), at most max_queries of our queries run
 * at once, and at most max_pending_responses received queries can be
 * answered at a time (a further query is still delivered, with respond
 * NULL, and counted in pending_overflow). The query_id of a delivered
 * event is Serf's ID in the low 32 bits and the low 32 bits of the query's
 * LTime in the high 32, so two origins picking the same random ID cannot be
 * confused.
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

/* IDs remembered per ring slot (Go: unbounded). */
#define SERF_QUERY_IDS_PER_SLOT 32
/* Longest query timeout honoured from the wire (Go: any int64). */
#define SERF_QUERY_TIMEOUT_MAX (24 * 3600 * CAIRN_SEC)
/* Most filters in a query we send. */
#define SERF_QUERY_FILTERS_MAX 64

/* Copies a span into a NUL-terminated buffer of at least sp.len + 1. */
static void span_cstr(char *dst, cairn_span sp)
{
    if (sp.len)
        memcpy(dst, sp.p, sp.len);
    dst[sp.len] = 0;
}

struct serf_query_slot {
    uint64_t ltime;
    size_t n;
    uint32_t ids[SERF_QUERY_IDS_PER_SLOT];
};

/* A received query that may still be answered (Go: Query's respond
 * state). */
struct serf_pending {
    uint64_t handle;
    uint64_t ltime;
    uint32_t id;
    cairn_addr dest;
    char *source;
    uint8_t relay_factor;
    cairn_time deadline;
    bool responded;
};

struct cairn_serf_query_handle {
    cairn_serf *s;
    struct cairn_serf_query_handle *next;
    uint64_t ltime;
    uint32_t id;
    cairn_time deadline;
    cairn_timer *timer;
    cairn_serf_query_cb cb;
    void *ud;
    size_t num_nodes, acks, responses;
    /* Nodes that acked / responded (keys and values are names in seen). */
    struct ml_strmap ack_from, resp_from;
    char **seen;
    size_t nseen, capseen;
    bool in_cb, cancelled;
};

struct serf_queries {
    struct serf_query_slot ring[CAIRN_SERF_QUERY_BUFFER];
    cairn_serf_query_handle *running;
    size_t nrunning;
    struct serf_pending *pending;
    size_t npending, cappending;
};

int cairn__serf_queries_init(cairn_serf *s)
{
    s->queries = cairn_calloc(1, sizeof(*s->queries));
    return s->queries ? 0 : CAIRN_ENOMEM;
}

static void query_free(cairn_serf_query_handle *q)
{
    cairn_timer_delete(q->timer);
    cairn__ml_strmap_destroy(&q->ack_from);
    cairn__ml_strmap_destroy(&q->resp_from);
    for (size_t i = 0; i < q->nseen; i++)
        cairn_free(q->seen[i]);
    cairn_free(q->seen);
    cairn_free(q);
}

static void unlink_query(cairn_serf_query_handle *q)
{
    struct serf_queries *qs = q->s->queries;
    for (cairn_serf_query_handle **pp = &qs->running; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            qs->nrunning--;
            return;
        }
}

/* Reports r to q's callback; true when q was freed meanwhile (cancelled
 * inside the callback, or DONE). */
static bool report(cairn_serf_query_handle *q, cairn_serf_query_result *r)
{
    r->acks = q->acks;
    r->responses = q->responses;
    r->num_nodes = q->num_nodes;
    if (q->cb) {
        q->in_cb = true;
        q->cb(q, r, q->ud);
        q->in_cb = false;
    }
    if (q->cancelled || r->kind == CAIRN_SERF_QUERY_DONE) {
        query_free(q);
        return true;
    }
    return false;
}

static void close_query(cairn_serf_query_handle *q, int status)
{
    unlink_query(q);
    cairn_timer_stop(q->timer);
    cairn_serf_query_result r = {.kind = CAIRN_SERF_QUERY_DONE, .status = status};
    (void)report(q, &r);
}

void cairn__serf_queries_destroy(cairn_serf *s)
{
    struct serf_queries *qs = s->queries;
    if (qs == NULL)
        return;
    while (qs->running)
        close_query(qs->running, CAIRN_ECANCELED);
    for (size_t i = 0; i < qs->npending; i++)
        cairn_free(qs->pending[i].source);
    cairn_free(qs->pending);
    cairn_free(qs);
    s->queries = NULL;
}

void cairn_serf_query_cancel(cairn_serf_query_handle *q)
{
    if (q == NULL || q->cancelled)
        return;
    unlink_query(q);
    cairn_timer_stop(q->timer);
    q->cancelled = true;
    if (!q->in_cb)
        query_free(q);
}

cairn_time cairn_serf_query_deadline(const cairn_serf_query_handle *q)
{
    return q ? q->deadline : 0;
}

cairn_time cairn_serf_default_query_timeout(const cairn_serf *s)
{
    size_t n = s && s->ml ? cairn_memberlist_num_members(s->ml) : 1;
    int64_t k = 0;
    for (uint64_t v = 1; v < (uint64_t)n + 1; v *= 10)
        k++;
    return s->cfg.memberlist.gossip_interval * s->cfg.query_timeout_mult * k;
}

/* ---- sending ---- */

static cairn_span addr_ip(const cairn_addr *a)
{
    return (cairn_span){a->ip, a->family == 6 ? 16 : 4};
}

/* Sends msg through up to rf random alive members with memberlist
 * protocol >= 5, not us (Go: relayResponse). */
static void relay_response(cairn_serf *s, uint8_t rf, const cairn_addr *dest, const char *source,
                           const uint8_t *msg, size_t len)
{
    if (rf == 0 || s->n_members < (size_t)rf + 1 || s->ml == NULL)
        return;
    cairn_wire_serf_relay r = {.dest_ip = addr_ip(dest),
                               .dest_port = dest->port,
                               .dest_zone = {(const uint8_t *)"", 0},
                               .dest_name = cairn__span_str(source),
                               .inner = {msg, len}};
    cairn_buf b;
    cairn_buf_init(&b, 2 * s->cfg.query_response_size_limit + 2 * CAIRN_NAME_MAX + 64);
    if (cairn__wire_serf_relay_encode(&r, &b, NULL) == 0 &&
        b.len <= s->cfg.query_response_size_limit) {
        const char *self = s->cfg.memberlist.name;
        struct serf_member *picked[256];
        size_t np = 0, n = s->n_members;
        for (size_t i = 0; i < 3 * n && np < rf; i++) {
            struct serf_member *m = s->members[cairn_rng_below(&s->rng, n)];
            bool dup = false;
            for (size_t j = 0; j < np; j++)
                dup |= picked[j] == m;
            if (dup || m->status != CAIRN_MEMBER_ALIVE || m->pmax < 5 || !strcmp(m->name, self))
                continue;
            picked[np++] = m;
            if (cairn_memberlist_send_to_address(s->ml, &m->addr, b.data, b.len) == 0)
                s->stats.relays_sent++;
        }
    } else
        cairn__serf_log(s, CAIRN_LOG_WARN, "relayed response exceeds limit of %zu bytes",
                        s->cfg.query_response_size_limit);
    cairn_buf_destroy(&b);
}

/* Encodes and sends an ack or response to dest (and through relays). */
static int send_reply(cairn_serf *s, uint64_t ltime, uint32_t id, uint32_t flags,
                      const uint8_t *payload, size_t len, const cairn_addr *dest,
                      const char *source, uint8_t rf)
{
    cairn_wire_serf_query_response m = {.flags = flags,
                                        .from = cairn__span_str(s->cfg.memberlist.name),
                                        .id = id,
                                        .ltime = ltime,
                                        .payload = {payload, len}};
    cairn_buf b;
    cairn_buf_init(&b, 2 * s->cfg.query_response_size_limit + CAIRN_NAME_MAX + 64);
    int rc = cairn__wire_serf_query_response_encode(&m, &b, NULL);
    if (rc == 0 && b.len > s->cfg.query_response_size_limit)
        rc = CAIRN_ELIMIT;
    if (rc == CAIRN_ELIMIT)
        cairn__serf_log(s, CAIRN_LOG_WARN, "response exceeds limit of %zu bytes",
                        s->cfg.query_response_size_limit);
    if (rc == 0 && s->ml == NULL)
        rc = CAIRN_ESHUTDOWN;
    if (rc == 0)
        rc = cairn_memberlist_send_to_address(s->ml, dest, b.data, b.len);
    if (rc == 0)
        relay_response(s, rf, dest, source, b.data, b.len);
    cairn_buf_destroy(&b);
    return rc;
}

/* ---- answerable queries ---- */

static uint64_t make_handle(uint64_t ltime, uint32_t id)
{
    return (ltime & 0xffffffffu) << 32 | id;
}

static void purge_pending(struct serf_queries *qs, cairn_time now)
{
    size_t k = 0;
    for (size_t i = 0; i < qs->npending; i++) {
        if (qs->pending[i].deadline < now)
            cairn_free(qs->pending[i].source);
        else
            qs->pending[k++] = qs->pending[i];
    }
    qs->npending = k;
}

/* Stores an answerable query; its handle, or 0 when the table is full. */
static uint64_t add_pending(cairn_serf *s, const cairn_wire_serf_query *m, const cairn_addr *dest,
                            cairn_time deadline)
{
    struct serf_queries *qs = s->queries;
    purge_pending(qs, cairn_loop_now(s->loop));
    if (qs->npending == qs->cappending) {
        size_t cap = qs->cappending ? 2 * qs->cappending : 16;
        if (cap > s->cfg.max_pending_responses)
            cap = s->cfg.max_pending_responses;
        struct serf_pending *p =
            cap > qs->cappending ? cairn_realloc(qs->pending, cap * sizeof(*p)) : NULL;
        if (p == NULL) {
            s->stats.pending_overflow++;
            return 0;
        }
        qs->pending = p;
        qs->cappending = cap;
    }
    char *src = cairn_malloc(m->source_node.len + 1);
    if (src == NULL) {
        s->stats.pending_overflow++;
        return 0;
    }
    span_cstr(src, m->source_node);
    struct serf_pending *p = &qs->pending[qs->npending++];
    *p = (struct serf_pending){.handle = make_handle(m->ltime, m->id),
                               .ltime = m->ltime,
                               .id = m->id,
                               .dest = *dest,
                               .source = src,
                               .relay_factor = m->relay_factor,
                               .deadline = deadline};
    return p->handle;
}

int cairn__serf_respond(void *ctx, uint64_t query_id, const uint8_t *payload, size_t len)
{
    cairn_serf *s = ctx;
    if (s == NULL || (payload == NULL && len > 0))
        return CAIRN_EINVAL;
    if (s->queries == NULL || s->state == CAIRN_SERF_SHUTDOWN)
        return CAIRN_ENOENT;
    struct serf_queries *qs = s->queries;
    struct serf_pending *p = NULL;
    for (size_t i = 0; i < qs->npending && p == NULL; i++)
        if (qs->pending[i].handle == query_id)
            p = &qs->pending[i];
    if (p == NULL)
        return CAIRN_ENOENT;
    if (p->responded)
        return CAIRN_EEXIST;
    if (cairn_loop_now(s->loop) > p->deadline)
        return CAIRN_ETIMEDOUT;
    int rc = send_reply(s, p->ltime, p->id, 0, payload, len, &p->dest, p->source, p->relay_factor);
    if (rc == 0)
        p->responded = true;
    return rc;
}

/* ---- receiving ---- */

/* Go's dedup over the ring; true when (ltime, id) is new (and now
 * recorded). */
static bool ring_record(cairn_serf *s, uint64_t ltime, uint32_t id)
{
    struct serf_query_slot *sl = &s->queries->ring[ltime % CAIRN_SERF_QUERY_BUFFER];
    if (sl->ltime != ltime || sl->n == 0) {
        sl->ltime = ltime;
        sl->n = 0;
    }
    for (size_t i = 0; i < sl->n; i++)
        if (sl->ids[i] == id)
            return false;
    if (sl->n == SERF_QUERY_IDS_PER_SLOT)
        return false;
    sl->ids[sl->n++] = id;
    return true;
}

static void deliver_query(cairn_serf *s, const cairn_wire_serf_query *m, const char *name,
                          const cairn_addr *dest, bool dest_ok)
{
    cairn_time timeout = m->timeout < 0 ? 0 : m->timeout;
    if (timeout > SERF_QUERY_TIMEOUT_MAX)
        timeout = SERF_QUERY_TIMEOUT_MAX;
    cairn_time deadline = cairn_loop_now(s->loop) + timeout;
    bool internal = strncmp(name, CAIRN_SERF_INTERNAL_QUERY_PREFIX,
                            sizeof(CAIRN_SERF_INTERNAL_QUERY_PREFIX) - 1) == 0;
    if (!internal && s->cfg.event_cb == NULL)
        return;
    uint64_t handle = dest_ok ? add_pending(s, m, dest, deadline) : 0;
    if (internal) {
        struct serf_rx_query rq = {name, m->payload.p, m->payload.len, handle};
        if (s->internal_query)
            s->internal_query(s, &rq);
        return;
    }
    char source[CAIRN_NAME_MAX + 1];
    span_cstr(source, m->source_node); /* checked <= CAIRN_NAME_MAX */
    cairn_event ev = {.type = CAIRN_EVENT_QUERY,
                      .name = name,
                      .payload = m->payload.len ? m->payload.p : NULL,
                      .payload_len = m->payload.len,
                      .ltime = m->ltime,
                      .query_id = handle ? handle : make_handle(m->ltime, m->id),
                      .query_flags = m->flags,
                      .source = source,
                      .deadline = deadline,
                      .respond = handle ? cairn__serf_respond : NULL,
                      .respond_ctx = handle ? s : NULL};
    s->cfg.event_cb(&ev, s->cfg.event_userdata);
}

bool cairn__serf_handle_query(cairn_serf *s, const uint8_t *msg, size_t len)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 256 * 1024);
    cairn_wire_serf_query m;
    bool rebroadcast = false;
    char name[CAIRN_NAME_MAX + 1];
    if (cairn__wire_serf_query_decode(msg, len, &a, NULL, &m) < 0 || m.name.len > CAIRN_NAME_MAX ||
        (m.name.len && memchr(m.name.p, 0, m.name.len)) || m.source_node.len > CAIRN_NAME_MAX) {
        s->stats.msgs_malformed++;
        goto out;
    }
    span_cstr(name, m.name);
    cairn__serf_clock_witness(&s->query_clock, m.ltime);
    uint64_t cur = cairn__serf_clock_time(&s->query_clock);
    if (m.ltime < s->query_min_time ||
        (cur > CAIRN_SERF_QUERY_BUFFER && m.ltime < cur - CAIRN_SERF_QUERY_BUFFER)) {
        s->stats.queries_too_old++;
        goto out;
    }
    if (!ring_record(s, m.ltime, m.id)) {
        s->stats.queries_duplicate++;
        goto out;
    }
    s->stats.queries_received++;
    cairn__serf_snapshot_query(s, m.ltime);
    rebroadcast = !(m.flags & CAIRN_WIRE_SERF_QUERY_NO_BROADCAST);
    if (!cairn__serf_filters_match(s->cfg.memberlist.name, s->tags, s->ntags, m.filters,
                                   m.n_filters)) {
        s->stats.queries_filtered++;
        goto out;
    }
    cairn_addr dest;
    bool dest_ok = cairn_addr_from_ip(m.addr.p, m.addr.len, m.port, &dest) == 0;
    char source[CAIRN_NAME_MAX + 1];
    span_cstr(source, m.source_node);
    if (dest_ok && (m.flags & CAIRN_WIRE_SERF_QUERY_ACK))
        (void)send_reply(s, m.ltime, m.id, CAIRN_WIRE_SERF_QUERY_ACK, NULL, 0, &dest, source,
                         m.relay_factor);
    deliver_query(s, &m, name, &dest, dest_ok);
out:
    cairn__wire_arena_destroy(&a);
    return rebroadcast;
}

/* Records from in q's set; false when it was there already. */
static bool seen_add(cairn_serf_query_handle *q, struct ml_strmap *set, const char *from)
{
    if (cairn__ml_strmap_get(set, from))
        return false;
    if (q->nseen == q->capseen) {
        size_t cap = q->capseen ? 2 * q->capseen : 8;
        char **n = cairn_realloc(q->seen, cap * sizeof(*n));
        if (n == NULL)
            return false;
        q->seen = n;
        q->capseen = cap;
    }
    size_t l = strlen(from) + 1;
    char *copy = cairn_malloc(l);
    if (copy == NULL)
        return false;
    memcpy(copy, from, l);
    if (cairn__ml_strmap_put(set, copy, copy) < 0) {
        cairn_free(copy);
        return false;
    }
    q->seen[q->nseen++] = copy;
    return true;
}

void cairn__serf_handle_query_response(cairn_serf *s, const uint8_t *msg, size_t len)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64 * 1024);
    cairn_wire_serf_query_response m;
    char from[CAIRN_NAME_MAX + 1];
    if (cairn__wire_serf_query_response_decode(msg, len, &a, NULL, &m) < 0 || m.from.len == 0 ||
        m.from.len > CAIRN_NAME_MAX || memchr(m.from.p, 0, m.from.len)) {
        s->stats.msgs_malformed++;
        cairn__wire_arena_destroy(&a);
        return;
    }
    span_cstr(from, m.from);
    cairn_serf_query_handle *q = s->queries->running;
    while (q && q->ltime != m.ltime)
        q = q->next;
    if (q == NULL || q->id != m.id) {
        s->stats.query_replies_unknown++;
    } else if (m.flags & CAIRN_WIRE_SERF_QUERY_ACK) {
        if (!seen_add(q, &q->ack_from, from))
            s->stats.query_duplicate_acks++;
        else {
            s->stats.query_acks++;
            q->acks++;
            cairn_serf_query_result r = {.kind = CAIRN_SERF_QUERY_ACK, .from = from};
            (void)report(q, &r);
        }
    } else {
        if (!seen_add(q, &q->resp_from, from))
            s->stats.query_duplicate_responses++;
        else {
            s->stats.query_responses++;
            q->responses++;
            cairn_serf_query_result r = {.kind = CAIRN_SERF_QUERY_RESPONSE,
                                         .from = from,
                                         .payload = m.payload.len ? m.payload.p : NULL,
                                         .payload_len = m.payload.len};
            (void)report(q, &r);
        }
    }
    cairn__wire_arena_destroy(&a);
}

void cairn__serf_handle_relay(cairn_serf *s, const uint8_t *msg, size_t len)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64 * 1024);
    cairn_wire_serf_relay r;
    cairn_addr dest;
    if (cairn__wire_serf_relay_decode(msg, len, &a, NULL, &r) < 0 ||
        cairn_addr_from_ip(r.dest_ip.p, r.dest_ip.len, r.dest_port, &dest) < 0)
        s->stats.msgs_malformed++;
    else if (s->ml && cairn_memberlist_send_to_address(s->ml, &dest, r.inner.p, r.inner.len) == 0)
        s->stats.relays_forwarded++;
    cairn__wire_arena_destroy(&a);
}

/* ---- originating ---- */

static void on_deadline(cairn_timer *t, void *ud)
{
    (void)t;
    close_query(ud, 0);
}

static int query_new(cairn_serf *s, uint64_t ltime, uint32_t id, cairn_time timeout,
                     cairn_serf_query_cb cb, void *ud, cairn_serf_query_handle **ret)
{
    cairn_serf_query_handle *q = cairn_calloc(1, sizeof(*q));
    if (q == NULL)
        return CAIRN_ENOMEM;
    q->s = s;
    q->ltime = ltime;
    q->id = id;
    q->cb = cb;
    q->ud = ud;
    q->deadline = cairn_loop_now(s->loop) + timeout;
    q->num_nodes = cairn_memberlist_num_members(s->ml);
    cairn__ml_strmap_init(&q->ack_from, s->cfg.max_members);
    cairn__ml_strmap_init(&q->resp_from, s->cfg.max_members);
    int rc = cairn_timer_new(s->loop, on_deadline, q, &q->timer);
    if (rc < 0) {
        query_free(q);
        return rc;
    }
    *ret = q;
    return 0;
}

static int check_params(const cairn_serf *s, const cairn_serf_query_params *p)
{
    if (s == NULL || p == NULL || p->name == NULL || strlen(p->name) > CAIRN_NAME_MAX ||
        (p->payload == NULL && p->payload_len > 0) ||
        (p->n_filter_nodes > 0 && p->filter_nodes == NULL) ||
        (p->n_filter_tags > 0 && p->filter_tags == NULL) || p->timeout < 0 ||
        p->timeout > SERF_QUERY_TIMEOUT_MAX)
        return CAIRN_EINVAL;
    if (s->state == CAIRN_SERF_SHUTDOWN || s->state == CAIRN_SERF_LEFT || s->ml == NULL)
        return CAIRN_ESHUTDOWN;
    if (s->queries->nrunning >= s->cfg.max_queries)
        return CAIRN_ELIMIT;
    if (p->n_filter_tags + (p->n_filter_nodes > 0) > SERF_QUERY_FILTERS_MAX)
        return CAIRN_ELIMIT;
    return 0;
}

int cairn_serf_query(cairn_serf *s, const cairn_serf_query_params *p, cairn_serf_query_cb cb,
                     void *userdata, cairn_serf_query_handle **ret_query)
{
    int rc = check_params(s, p);
    if (rc < 0)
        return rc;
    cairn_time timeout = p->timeout ? p->timeout : cairn_serf_default_query_timeout(s);
    cairn_buf fb, b;
    size_t lens[SERF_QUERY_FILTERS_MAX];
    cairn_span spans[SERF_QUERY_FILTERS_MAX];
    cairn_buf_init(&fb, 64 * 1024);
    cairn_buf_init(&b, 4 * s->cfg.query_size_limit + 64 * 1024);
    rc = cairn__serf_filters_encode(p, &fb, lens, SERF_QUERY_FILTERS_MAX);
    size_t nf = p->n_filter_tags + (p->n_filter_nodes > 0), off = 0;
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        spans[i] = (cairn_span){fb.data + off, lens[i]};
        off += lens[i];
    }
    cairn_ml_node self;
    cairn_memberlist_local_node(s->ml, &self);
    cairn_wire_serf_query m = {
        .addr = addr_ip(&self.addr),
        .filters = nf ? spans : NULL,
        .n_filters = nf,
        .flags = p->request_ack ? CAIRN_WIRE_SERF_QUERY_ACK : 0,
        .id = (uint32_t)(cairn_rng_u64(&s->rng) & 0x7fffffffu),
        .ltime = cairn__serf_clock_time(&s->query_clock),
        .name = cairn__span_str(p->name),
        .payload = {p->payload, p->payload_len},
        .port = self.addr.port,
        .relay_factor = p->relay_factor,
        .source_node = cairn__span_str(s->cfg.memberlist.name),
        .timeout = timeout,
    };
    if (rc == 0)
        rc = cairn__wire_serf_query_encode(&m, &b, NULL);
    if (rc == 0 && b.len > s->cfg.query_size_limit) {
        cairn__serf_log(s, CAIRN_LOG_WARN, "query exceeds limit of %zu bytes",
                        s->cfg.query_size_limit);
        rc = CAIRN_ELIMIT;
    }
    cairn_serf_query_handle *q = NULL;
    if (rc == 0)
        rc = query_new(s, m.ltime, m.id, timeout, cb, userdata, &q);
    if (rc == 0) {
        struct serf_queries *qs = s->queries;
        q->next = qs->running;
        qs->running = q;
        qs->nrunning++;
        cairn_timer_start(q->timer, timeout);
        (void)cairn__serf_handle_query(s, b.data, b.len);
        rc = cairn__serf_bcast_queue(s, s->queries_q, b.data, b.len, NULL, NULL);
        if (rc < 0)
            cairn_serf_query_cancel(q);
    }
    cairn_buf_destroy(&fb);
    cairn_buf_destroy(&b);
    if (rc == 0 && ret_query)
        *ret_query = q;
    return rc;
}
