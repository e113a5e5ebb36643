/* Event coalescing (Go: coalesce.go, coalesce_member.go, coalesce_user.go).
 *
 * The serf agent passes member events and coalescible user events through
 * a coalescer: the first event of a batch arms a `period` timer, every
 * event re-arms a `quiet` timer, and whichever fires first flushes.
 *
 * Member events: per member only the latest event is kept; at a flush a
 * member whose last *delivered* event has the same type is skipped (except
 * updates), and the rest go out grouped by type, one event per type (Go
 * sends the groups in map order; cairn in type order join, leave, failed,
 * update, reap). Reaps are coalesced too, as in Go.
 *
 * User events: only those sent with CC; per name only the events with the
 * highest LTime survive a flush (several may share it). Others pass.
 *
 * Departures: every table has a cap (members, names, events per name);
 * what does not fit is delivered at once rather than dropped. Go flushes on
 * shutdown; so does cairn__serf_coalesce_delete.
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

/* A pending member event: the member copied into one block. */
struct co_member {
    int type;
    cairn_member *m;
};

/* The last type delivered for a member. */
struct co_last {
    int type;
    char name[];
};

/* Pending user events of one name (highest LTime only). */
struct co_user {
    char *name;
    uint64_t ltime;
    size_t n;
    struct co_user_ev {
        uint8_t *payload;
        size_t len;
    } ev[SERF_EVENTS_PER_SLOT_MAX];
};

struct serf_coalescer {
    cairn_loop *loop;
    bool member;
    cairn_time period, quiet;
    size_t cap;
    cairn_event_cb cb;
    void *userdata;
    cairn_timer *period_timer, *quiet_timer;
    /* Pending: name -> co_member or co_user, plus insertion order (grown
     * on demand up to cap: a 65,536-member cap must not cost 512 KiB of
     * touched memory in every agent). */
    struct ml_strmap pending;
    void **order;
    size_t n_order, order_cap;
    /* Member coalescer: name -> co_last. */
    struct ml_strmap last;
};

/* One allocation holding a member, its tags and every string. */
static cairn_member *member_dup(const cairn_member *m)
{
    size_t sz = sizeof(*m) + m->ntags * sizeof(cairn_tag) + strlen(m->name) + 1;
    for (size_t i = 0; i < m->ntags; i++)
        sz += strlen(m->tags[i].key) + strlen(m->tags[i].value) + 2;
    cairn_member *d = cairn_malloc(sz);
    if (d == NULL)
        return NULL;
    *d = *m;
    cairn_tag *tags = (cairn_tag *)(d + 1);
    char *p = (char *)(tags + m->ntags);
    for (size_t i = 0; i < m->ntags; i++) {
        size_t k = strlen(m->tags[i].key) + 1, v = strlen(m->tags[i].value) + 1;
        memcpy(p, m->tags[i].key, k);
        tags[i].key = p;
        p += k;
        memcpy(p, m->tags[i].value, v);
        tags[i].value = p;
        p += v;
    }
    memcpy(p, m->name, strlen(m->name) + 1);
    d->name = p;
    d->tags = m->ntags ? tags : NULL;
    return d;
}

static void free_pending(serf_coalescer *c, void *v)
{
    if (c->member) {
        struct co_member *e = v;
        cairn_free(e->m);
        cairn_free(e);
        return;
    }
    struct co_user *u = v;
    for (size_t i = 0; i < u->n; i++)
        cairn_free(u->ev[i].payload);
    cairn_free(u->name);
    cairn_free(u);
}

static void remember_type(serf_coalescer *c, const char *name, int type)
{
    struct co_last *l = cairn__ml_strmap_get(&c->last, name);
    if (l == NULL) {
        size_t n = strlen(name) + 1;
        if ((l = cairn_malloc(sizeof(*l) + n)) == NULL)
            return;
        memcpy(l->name, name, n);
        if (cairn__ml_strmap_put(&c->last, l->name, l) < 0) {
            cairn_free(l);
            return;
        }
    }
    l->type = type;
}

static void flush_members(serf_coalescer *c)
{
    static const int types[] = {CAIRN_EVENT_MEMBER_JOIN, CAIRN_EVENT_MEMBER_LEAVE,
                                CAIRN_EVENT_MEMBER_FAILED, CAIRN_EVENT_MEMBER_UPDATE,
                                CAIRN_EVENT_MEMBER_REAP};
    cairn_member *batch = cairn_calloc(c->n_order ? c->n_order : 1, sizeof(*batch));
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_order; i++) {
            struct co_member *e = c->order[i];
            if (e->type != types[t])
                continue;
            struct co_last *l = cairn__ml_strmap_get(&c->last, e->m->name);
            if (l && l->type == e->type && e->type != CAIRN_EVENT_MEMBER_UPDATE)
                continue;
            remember_type(c, e->m->name, e->type);
            if (batch == NULL) { /* no memory for a batch: one by one */
                cairn_event ev = {.type = e->type, .members = e->m, .nmembers = 1};
                c->cb(&ev, c->userdata);
                continue;
            }
            batch[n++] = *e->m;
        }
        if (n > 0 && c->cb) {
            cairn_event ev = {.type = types[t], .members = batch, .nmembers = n};
            c->cb(&ev, c->userdata);
        }
    }
    cairn_free(batch);
}

static void flush_users(serf_coalescer *c)
{
    for (size_t i = 0; i < c->n_order; i++) {
        struct co_user *u = c->order[i];
        for (size_t k = 0; k < u->n && c->cb; k++) {
            cairn_event ev = {.type = CAIRN_EVENT_USER,
                              .name = u->name,
                              .payload = u->ev[k].len ? u->ev[k].payload : NULL,
                              .payload_len = u->ev[k].len,
                              .ltime = u->ltime,
                              .coalesce = true};
            c->cb(&ev, c->userdata);
        }
    }
}

void cairn__serf_coalesce_flush(serf_coalescer *c)
{
    cairn_timer_stop(c->period_timer);
    cairn_timer_stop(c->quiet_timer);
    if (c->member)
        flush_members(c);
    else
        flush_users(c);
    for (size_t i = 0; i < c->n_order; i++)
        free_pending(c, c->order[i]);
    c->n_order = 0;
    cairn__ml_strmap_destroy(&c->pending);
    cairn__ml_strmap_init(&c->pending, c->cap);
}

static void on_timer(cairn_timer *t, void *ud)
{
    (void)t;
    cairn__serf_coalesce_flush(ud);
}

int cairn__serf_coalesce_new(cairn_loop *loop, bool member, cairn_time period, cairn_time quiet,
                             size_t cap, cairn_event_cb cb, void *userdata, serf_coalescer **ret_c)
{
    serf_coalescer *c = cairn_calloc(1, sizeof(*c));
    if (c == NULL)
        return CAIRN_ENOMEM;
    c->loop = loop;
    c->member = member;
    c->period = period;
    c->quiet = quiet;
    c->cap = cap ? cap : 1;
    c->cb = cb;
    c->userdata = userdata;
    cairn__ml_strmap_init(&c->pending, c->cap);
    cairn__ml_strmap_init(&c->last, c->cap);
    int rc = cairn_timer_new(loop, on_timer, c, &c->period_timer);
    if (rc == 0)
        rc = cairn_timer_new(loop, on_timer, c, &c->quiet_timer);
    if (rc < 0) {
        cairn__serf_coalesce_delete(c);
        return rc;
    }
    *ret_c = c;
    return 0;
}

void cairn__serf_coalesce_delete(serf_coalescer *c)
{
    if (c == NULL)
        return;
    if (c->order && c->n_order)
        cairn__serf_coalesce_flush(c);
    cairn_timer_delete(c->period_timer);
    cairn_timer_delete(c->quiet_timer);
    cairn__ml_strmap_destroy(&c->pending);
    for (size_t i = 0; i < c->last.nslots; i++)
        if (c->last.slots[i].key)
            cairn_free(c->last.slots[i].value);
    cairn__ml_strmap_destroy(&c->last);
    cairn_free(c->order);
    cairn_free(c);
}

/* Room for `need` entries in order (need <= cap): doubling from 16. */
static bool order_reserve(serf_coalescer *c, size_t need)
{
    if (need <= c->order_cap)
        return true;
    size_t n = c->order_cap ? c->order_cap : 16;
    while (n < need)
        n *= 2;
    if (n > c->cap)
        n = c->cap;
    void **o = cairn_reallocarray(c->order, n, sizeof(*o));
    if (o == NULL)
        return false;
    c->order = o;
    c->order_cap = n;
    return true;
}

/* Member events: keep the latest per member. */
static bool add_member(serf_coalescer *c, const cairn_event *ev)
{
    for (size_t i = 0; i < ev->nmembers; i++)
        if (cairn__ml_strmap_get(&c->pending, ev->members[i].name) == NULL &&
            c->n_order + (ev->nmembers - i) > c->cap)
            return false; /* would not fit: the caller delivers it now */
    if (!order_reserve(c, c->n_order + ev->nmembers < c->cap ? c->n_order + ev->nmembers : c->cap))
        return false;
    for (size_t i = 0; i < ev->nmembers; i++) {
        cairn_member *m = member_dup(&ev->members[i]);
        if (m == NULL)
            return false;
        struct co_member *e = cairn__ml_strmap_get(&c->pending, m->name);
        cairn_member *old = NULL;
        if (e) {
            old = e->m; /* its name is the map key until the put below */
        } else {
            if ((e = cairn_calloc(1, sizeof(*e))) == NULL) {
                cairn_free(m);
                return false;
            }
            c->order[c->n_order++] = e;
        }
        e->m = m;
        e->type = ev->type;
        (void)cairn__ml_strmap_put(&c->pending, m->name, e); /* a replace: cannot fail */
        cairn_free(old);
    }
    return true;
}

static bool user_push(struct co_user *u, const cairn_event *ev)
{
    if (u->n == SERF_EVENTS_PER_SLOT_MAX)
        return false;
    uint8_t *p = cairn_malloc(ev->payload_len ? ev->payload_len : 1);
    if (p == NULL)
        return false;
    if (ev->payload_len)
        memcpy(p, ev->payload, ev->payload_len);
    u->ev[u->n].payload = p;
    u->ev[u->n].len = ev->payload_len;
    u->n++;
    return true;
}

/* User events with CC: keep the highest LTime per name. */
static bool add_user(serf_coalescer *c, const cairn_event *ev)
{
    if (!ev->coalesce)
        return false;
    struct co_user *u = cairn__ml_strmap_get(&c->pending, ev->name);
    if (u == NULL) {
        if (c->n_order == c->cap || !order_reserve(c, c->n_order + 1) ||
            (u = cairn_calloc(1, sizeof(*u))) == NULL)
            return false;
        size_t n = strlen(ev->name) + 1;
        if ((u->name = cairn_malloc(n)) == NULL ||
            cairn__ml_strmap_put(&c->pending, (memcpy(u->name, ev->name, n), u->name), u) < 0) {
            cairn_free(u->name);
            cairn_free(u);
            return false;
        }
        u->ltime = ev->ltime;
        c->order[c->n_order++] = u;
    }
    if (ev->ltime < u->ltime)
        return true; /* superseded: dropped, as Go does */
    if (ev->ltime > u->ltime) {
        for (size_t i = 0; i < u->n; i++)
            cairn_free(u->ev[i].payload);
        u->n = 0;
        u->ltime = ev->ltime;
    }
    return user_push(u, ev);
}

bool cairn__serf_coalesce_add(serf_coalescer *c, const cairn_event *ev)
{
    bool taken = c->member ? add_member(c, ev) : add_user(c, ev);
    if (!taken)
        return false;
    if (!cairn_timer_active(c->period_timer))
        cairn_timer_start(c->period_timer, c->period);
    cairn_timer_start(c->quiet_timer, c->quiet);
    return true;
}
