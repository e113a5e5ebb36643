/* The cluster seam over a running Serf agent (through its RPC).
 *
 * Consul's Router calls NumNodes, Members, GetCoordinate and
 * GetCachedCoordinate synchronously on an in-process serf.Serf. Over the RPC
 * every question is a round trip, so this backend keeps a local copy of the
 * agent's view and answers the seam from it:
 *
 *   - members: loaded with `members` after each (re)connection, then kept
 *     current by a `stream` of member events (subscribed on the same
 *     connection before the member list is requested, so no event falls in
 *     between);
 *   - own name and tags: `stats` (agent.name, tags.*);
 *   - coordinates: `get-coordinate` for the agent itself and every member
 *     that has not left, refreshed every coord_refresh and for the members
 *     of each join/update event.
 *
 * Resynchronisation: when the agent comes back (or another agent answers on
 * the same address) its member list replaces ours, and the differences are
 * turned into the events a router needs: reap for members it no longer
 * knows, join/failed/leave when a status changed, update when tags or
 * address changed. So a Router fed by event_cb converges on the new view
 * and nothing vanished lingers. While the agent is away the cache is kept:
 * the servers are most likely fine, only our window on them is closed.
 *
 * The agent coalesces member events (1 s quiescent, up to 3 s), so a
 * status change reaches the stream at least a second late. With
 * member_poll set, the member list is also re-read periodically and
 * reconciled the same way, which bounds that delay by the poll interval;
 * the coalesced stream event then repeats what is already applied
 * (join/failed/leave are idempotent in the router).
 *
 * Members are kept sorted by name (bsearch for lookups; inserts move the
 * tail), which is plenty for Consul-sized WAN pools.
 */
#include "cairn/serfrpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

#define MODULE "serfrpc-cluster"

#define DEFAULT_COORD_REFRESH (5 * CAIRN_SEC)
/* Retry interval for sync requests that could not be sent or applied. */
#define SYNC_RETRY (200 * CAIRN_MSEC)
/* The member events the cluster subscribes to. */
#define MEMBER_EVENTS "member-join,member-leave,member-failed,member-update,member-reap"

/* One cached member: a cairn_member whose strings it owns. */
struct cmember {
    /* The value handed out; name and tags point into `blob`/`tags`. */
    cairn_member m;
    /* Owned tag array (m.tags). */
    cairn_tag *tags;
    /* Owned strings: name, then key/value pairs. */
    char *blob;
    /* The last coordinate the agent reported for it. */
    bool has_coord;
    cairn_coord coord;
};

struct cairn_serfrpc_cluster {
    cairn_loop *loop;
    cairn_serfrpc *rpc;
    cairn_serfrpc_cluster_config cfg;
    cairn_logger logger;
    /* Members sorted by name. */
    struct cmember *members;
    size_t n, cap;
    /* The agent itself: name, tags and coordinate. */
    struct cmember self;
    bool have_self;
    /* Sync progress for the current connection. */
    bool stats_done, members_done, synced;
    /* Sync requests in flight, and whether the event stream is subscribed. */
    bool stats_sent, members_sent, stream_on;
    /* Retries sync requests that could not be sent or applied (ENOMEM). */
    cairn_timer *sync_timer;
    /* Coordinate requests in flight and who waits for them. */
    size_t coord_outstanding;
    void (*coord_done)(cairn_serfrpc_cluster *cl, void *ud);
    void *coord_done_ud;
    cairn_timer *refresh_timer;
    /* Periodic member re-listing (cfg.member_poll > 0). */
    cairn_timer *poll_timer;
    bool poll_inflight;
    /* A refused sync request was reported (once per connection). */
    bool refusal_reported;
    /* Set while being deleted: replies failing with ESHUTDOWN are ignored. */
    bool closing;
};

/* ---- owned member copies ---- */

static void cmember_free(struct cmember *cm)
{
    cairn_free(cm->tags);
    cairn_free(cm->blob);
    memset(cm, 0, sizeof *cm);
}

/* cmember_copy deep-copies src into *dst (dst's old contents untouched on
 * failure). The coordinate fields are preserved by the caller. */
static int cmember_copy(const cairn_member *src, struct cmember *dst)
{
    size_t len = strlen(src->name) + 1;
    for (size_t i = 0; i < src->ntags; i++)
        len += strlen(src->tags[i].key) + strlen(src->tags[i].value) + 2;
    char *blob = cairn_malloc(len);
    cairn_tag *tags = src->ntags > 0 ? cairn_calloc(src->ntags, sizeof *tags) : NULL;
    if (blob == NULL || (src->ntags > 0 && tags == NULL)) {
        cairn_free(blob);
        cairn_free(tags);
        return CAIRN_ENOMEM;
    }
    char *p = blob;
    size_t l = strlen(src->name) + 1;
    memcpy(p, src->name, l);
    const char *name = p;
    p += l;
    for (size_t i = 0; i < src->ntags; i++) {
        l = strlen(src->tags[i].key) + 1;
        memcpy(p, src->tags[i].key, l);
        tags[i].key = p;
        p += l;
        l = strlen(src->tags[i].value) + 1;
        memcpy(p, src->tags[i].value, l);
        tags[i].value = p;
        p += l;
    }
    cairn_free(dst->blob);
    cairn_free(dst->tags);
    dst->blob = blob;
    dst->tags = tags;
    dst->m = *src;
    dst->m.name = name;
    dst->m.tags = tags;
    return 0;
}

/* same_tags: equal as sets (Serf's map order is random). */
static bool same_tags(const cairn_member *a, const cairn_member *b)
{
    if (a->ntags != b->ntags)
        return false;
    for (size_t i = 0; i < a->ntags; i++) {
        const char *v = cairn_member_tag(b, a->tags[i].key);
        if (v == NULL || strcmp(v, a->tags[i].value) != 0)
            return false;
    }
    return true;
}

/* ---- the sorted table ---- */

/* find: index of name, or the insertion point (and *found false). */
static size_t find(const cairn_serfrpc_cluster *cl, const char *name, bool *found)
{
    size_t lo = 0, hi = cl->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(cl->members[mid].m.name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static struct cmember *lookup(const cairn_serfrpc_cluster *cl, const char *name)
{
    bool found;
    size_t i = find(cl, name, &found);
    return found ? &cl->members[i] : NULL;
}

/* upsert: inserts or replaces m (keeping a known coordinate). */
static int upsert(cairn_serfrpc_cluster *cl, const cairn_member *m)
{
    bool found;
    size_t i = find(cl, m->name, &found);
    if (found)
        return cmember_copy(m, &cl->members[i]);
    if (cl->n == cl->cap) {
        size_t ncap = cl->cap ? 2 * cl->cap : 16;
        if (ncap > CAIRN_SERFRPC_MAX_MEMBERS)
            ncap = CAIRN_SERFRPC_MAX_MEMBERS;
        if (cl->n >= ncap)
            return CAIRN_ELIMIT;
        struct cmember *nm = cairn_reallocarray(cl->members, ncap, sizeof *nm);
        if (nm == NULL)
            return CAIRN_ENOMEM;
        cl->members = nm;
        cl->cap = ncap;
    }
    struct cmember fresh;
    memset(&fresh, 0, sizeof fresh);
    int rc = cmember_copy(m, &fresh);
    if (rc != 0)
        return rc;
    memmove(&cl->members[i + 1], &cl->members[i], (cl->n - i) * sizeof *cl->members);
    cl->members[i] = fresh;
    cl->n++;
    return 0;
}

static void remove_at(cairn_serfrpc_cluster *cl, size_t i)
{
    cmember_free(&cl->members[i]);
    memmove(&cl->members[i], &cl->members[i + 1], (cl->n - i - 1) * sizeof *cl->members);
    cl->n--;
}

/* ---- events ---- */

static void emit(cairn_serfrpc_cluster *cl, int type, const cairn_member *ms, size_t n)
{
    if (cl->cfg.event_cb == NULL || n == 0)
        return;
    cairn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.members = ms;
    ev.nmembers = n;
    cl->cfg.event_cb(&ev, cl->cfg.userdata);
}

static void fetch_coord(cairn_serfrpc_cluster *cl, const char *name);

/* apply_one: folds one member of a streamed member event into the cache;
 * true when that changed anything (a repeat of what a resync or a member
 * poll already applied changes nothing and is not forwarded). */
static bool apply_one(cairn_serfrpc_cluster *cl, int type, const cairn_member *m)
{
    bool found;
    size_t at = find(cl, m->name, &found);
    if (type == CAIRN_EVENT_MEMBER_REAP) {
        if (found)
            remove_at(cl, at);
        return found;
    }
    bool changed = !found || cl->members[at].m.status != m->status ||
                   !same_tags(&cl->members[at].m, m) ||
                   !cairn_addr_equal(&cl->members[at].m.addr, &m->addr);
    if (!changed)
        return false;
    int rc = upsert(cl, m);
    if (rc != 0) {
        cairn_logf(&cl->logger, CAIRN_LOG_ERROR, MODULE, "cannot cache member %s: %s", m->name,
                   cairn_strerror(rc));
        return false;
    }
    if (type == CAIRN_EVENT_MEMBER_JOIN || type == CAIRN_EVENT_MEMBER_UPDATE)
        fetch_coord(cl, m->name);
    return true;
}

/* apply_event: applies a streamed member event and forwards the members it
 * changed (all of them if the list cannot be allocated). */
static void apply_event(cairn_serfrpc_cluster *cl, const cairn_event *ev)
{
    cairn_member *kept = cairn_calloc(ev->nmembers ? ev->nmembers : 1, sizeof *kept);
    size_t n = 0;
    for (size_t i = 0; i < ev->nmembers; i++)
        if (apply_one(cl, ev->type, &ev->members[i]) && kept != NULL)
            kept[n++] = ev->members[i];
    if (kept != NULL)
        emit(cl, ev->type, kept, n);
    else
        emit(cl, ev->type, ev->members, ev->nmembers);
    cairn_free(kept);
}

static void on_stream(cairn_serfrpc *c, const cairn_event *ev, int status, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (cl->closing)
        return;
    if (ev == NULL) {
        cl->stream_on = false;
        if (status == CAIRN_EREMOTE)
            cairn_logf(&cl->logger, CAIRN_LOG_ERROR, MODULE,
                       "serf agent at %s refused the event stream", cairn_serfrpc_addr_string(c));
        return;
    }
    if (ev->type >= CAIRN_EVENT_MEMBER_JOIN && ev->type <= CAIRN_EVENT_MEMBER_REAP)
        apply_event(cl, ev);
    else if (cl->cfg.event_cb != NULL)
        cl->cfg.event_cb(ev, cl->cfg.userdata);
}

/* ---- coordinates ---- */

struct coord_req {
    cairn_serfrpc_cluster *cl;
    /* Whose coordinate; NUL-terminated copy. */
    char name[];
};

static void coord_finished(cairn_serfrpc_cluster *cl)
{
    if (--cl->coord_outstanding > 0)
        return;
    if (cl->members_done && cl->stats_done && !cl->synced && cairn_serfrpc_ready(cl->rpc)) {
        cl->synced = true;
        cairn_serfrpc_mark_useful(cl->rpc);
        cairn_logf(&cl->logger, CAIRN_LOG_INFO, MODULE,
                   "synchronised with serf agent at %s (%zu members)",
                   cairn_serfrpc_addr_string(cl->rpc), cl->n);
        if (cl->cfg.sync_cb != NULL)
            cl->cfg.sync_cb(cl, CAIRN_SERFRPC_SYNCED, 0, "synchronised", cl->cfg.userdata);
    }
    if (cl->coord_outstanding == 0 && cl->coord_done != NULL) {
        void (*done)(cairn_serfrpc_cluster *, void *) = cl->coord_done;
        cl->coord_done = NULL;
        done(cl, cl->coord_done_ud);
    }
}

static void on_coord(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct coord_req *q = ud;
    cairn_serfrpc_cluster *cl = q->cl;
    if (!cl->closing && r->status == 0) {
        struct cmember *cm = NULL;
        if (cl->have_self && strcmp(q->name, cl->self.m.name) == 0)
            cm = &cl->self;
        struct cmember *mm = lookup(cl, q->name);
        for (int k = 0; k < 2; k++) {
            struct cmember *t = k == 0 ? cm : mm;
            if (t == NULL)
                continue;
            t->has_coord = r->coord_ok && r->coord.dim > 0;
            t->coord = r->coord;
        }
    }
    cairn_free(q);
    if (!cl->closing)
        coord_finished(cl);
}

static void fetch_coord(cairn_serfrpc_cluster *cl, const char *name)
{
    size_t len = strlen(name);
    struct coord_req *q = cairn_malloc(sizeof *q + len + 1);
    if (q == NULL)
        return;
    q->cl = cl;
    memcpy(q->name, name, len + 1);
    if (cairn_serfrpc_get_coordinate(cl->rpc, name, on_coord, q) != 0) {
        cairn_free(q);
        return;
    }
    cl->coord_outstanding++;
}

/* refresh_all: re-reads every coordinate; the sentinel increment makes
 * coord_finished run once even when nothing needed fetching. */
static void refresh_all(cairn_serfrpc_cluster *cl)
{
    cl->coord_outstanding++;
    if (cl->have_self)
        fetch_coord(cl, cl->self.m.name);
    for (size_t i = 0; i < cl->n; i++)
        if (cl->members[i].m.status != CAIRN_MEMBER_LEFT)
            fetch_coord(cl, cl->members[i].m.name);
    coord_finished(cl);
}

int cairn_serfrpc_cluster_refresh_coordinates(cairn_serfrpc_cluster *cl,
                                              void (*done)(cairn_serfrpc_cluster *cl, void *ud),
                                              void *userdata)
{
    if (cl == NULL)
        return CAIRN_EINVAL;
    if (!cairn_serfrpc_ready(cl->rpc))
        return CAIRN_ENOTCONN;
    cl->coord_done = done;
    cl->coord_done_ud = userdata;
    refresh_all(cl);
    return 0;
}

static void on_refresh_timer(cairn_timer *t, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (cairn_serfrpc_ready(cl->rpc) && cl->synced && cl->coord_outstanding == 0)
        refresh_all(cl);
    cairn_timer_start(t, cl->cfg.coord_refresh);
}

/* ---- synchronisation ---- */

static void maybe_start_coords(cairn_serfrpc_cluster *cl)
{
    if (cl->stats_done && cl->members_done)
        refresh_all(cl);
}

/* sync_refused: the agent answered a sync request with an error (a lost
 * connection is reported by the client instead). Synchronisation cannot
 * finish on this connection, so the owner hears FAILED once. */
static void sync_refused(cairn_serfrpc_cluster *cl, const cairn_serfrpc_reply *r, const char *what)
{
    char msg[512];
    if (cl->closing || (r->status != CAIRN_EAUTH && r->status != CAIRN_EREMOTE) ||
        cl->refusal_reported)
        return;
    cl->refusal_reported = true;
    if (r->status == CAIRN_EAUTH)
        snprintf(msg, sizeof msg, "serf agent at %s requires an RPC auth key (%s)",
                 cairn_serfrpc_addr_string(cl->rpc), r->error);
    else
        snprintf(msg, sizeof msg, "serf agent at %s refused %s: %s",
                 cairn_serfrpc_addr_string(cl->rpc), what, r->error);
    cairn_logf(&cl->logger, CAIRN_LOG_ERROR, MODULE, "%s", msg);
    if (cl->cfg.sync_cb != NULL)
        cl->cfg.sync_cb(cl, CAIRN_SERFRPC_FAILED, r->status, msg, cl->cfg.userdata);
}

static void sync_step(cairn_serfrpc_cluster *cl);

static void on_stats(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (!cl->closing)
        cl->stats_sent = false;
    if (cl->closing || r->status != 0) {
        sync_refused(cl, r, "stats");
        return;
    }
    const char *name = NULL;
    size_t ntags = 0;
    for (size_t i = 0; i < r->nstats; i++) {
        if (strcmp(r->stats[i].section, "agent") == 0 && strcmp(r->stats[i].key, "name") == 0)
            name = r->stats[i].value;
        if (strcmp(r->stats[i].section, "tags") == 0)
            ntags++;
    }
    if (name == NULL) {
        cairn_logf(&cl->logger, CAIRN_LOG_ERROR, MODULE,
                   "serf agent at %s did not report agent.name", cairn_serfrpc_addr_string(c));
        return;
    }
    cairn_tag *tags = ntags > 0 ? cairn_calloc(ntags, sizeof *tags) : NULL;
    if (ntags > 0 && tags == NULL) {
        sync_step(cl); /* retried later */
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->nstats; i++)
        if (strcmp(r->stats[i].section, "tags") == 0) {
            tags[k].key = r->stats[i].key;
            tags[k].value = r->stats[i].value;
            k++;
        }
    cairn_member m;
    memset(&m, 0, sizeof m);
    m.name = name;
    m.tags = tags;
    m.ntags = ntags;
    m.status = CAIRN_MEMBER_ALIVE;
    int rc = cmember_copy(&m, &cl->self);
    cairn_free(tags);
    if (rc != 0) {
        sync_step(cl); /* retried later */
        return;
    }
    cl->have_self = true;
    cl->stats_done = true;
    maybe_start_coords(cl);
}

/* One event a reconcile will emit. */
struct transition {
    int type;
    const cairn_member *m;
};

/* add_transitions records the events that take a router from `old` (NULL:
 * unknown member) to m; returns how many were recorded (0..2). */
static size_t add_transitions(struct transition *out, const struct cmember *old,
                              const cairn_member *m)
{
    int old_status = old != NULL ? old->m.status : CAIRN_MEMBER_NONE;
    size_t k = 0;
    if (m->status == old_status) {
        if (old != NULL && (!same_tags(&old->m, m) || !cairn_addr_equal(&old->m.addr, &m->addr)))
            out[k++] = (struct transition){CAIRN_EVENT_MEMBER_UPDATE, m};
        return k;
    }
    switch (m->status) {
    case CAIRN_MEMBER_ALIVE:
        out[k++] = (struct transition){CAIRN_EVENT_MEMBER_JOIN, m};
        break;
    case CAIRN_MEMBER_FAILED:
        if (old == NULL || old_status == CAIRN_MEMBER_LEFT)
            out[k++] = (struct transition){CAIRN_EVENT_MEMBER_JOIN, m};
        out[k++] = (struct transition){CAIRN_EVENT_MEMBER_FAILED, m};
        break;
    case CAIRN_MEMBER_LEAVING:
    case CAIRN_MEMBER_LEFT:
        if (old != NULL)
            out[k++] = (struct transition){CAIRN_EVENT_MEMBER_LEAVE, m};
        break;
    default:
        break;
    }
    return k;
}

static int cmp_cmember(const void *a, const void *b)
{
    return strcmp(((const struct cmember *)a)->m.name, ((const struct cmember *)b)->m.name);
}

static void free_table(struct cmember *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cmember_free(&t[i]);
    cairn_free(t);
}

/* fresh_table: a sorted, de-duplicated deep copy of ms, or NULL (ENOMEM). */
static struct cmember *fresh_table(const cairn_member *ms, size_t n, size_t *ret_n)
{
    struct cmember *t = cairn_calloc(n > 0 ? n : 1, sizeof *t);
    if (t == NULL)
        return NULL;
    for (size_t j = 0; j < n; j++)
        if (cmember_copy(&ms[j], &t[j]) != 0) {
            free_table(t, j);
            return NULL;
        }
    if (n > 1)
        qsort(t, n, sizeof *t, cmp_cmember);
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        if (k > 0 && strcmp(t[k - 1].m.name, t[j].m.name) == 0) {
            cmember_free(&t[j]);
            continue;
        }
        t[k++] = t[j];
    }
    *ret_n = k;
    return t;
}

/* reconcile replaces the cache with the agent's list (sorted merge, n log
 * n) and then emits the events that take a router from the old view to
 * the new one: reap for members the agent no longer knows, join / failed /
 * leave for status changes, update for tag or address changes. Known
 * coordinates are kept. On ENOMEM nothing changes and false is returned
 * (the caller retries). */
static bool reconcile(cairn_serfrpc_cluster *cl, const cairn_member *ms, size_t n)
{
    size_t nf;
    struct cmember *fresh = fresh_table(ms, n, &nf);
    struct transition *tr = cairn_calloc(cl->n + 2 * n + 1, sizeof *tr);
    if (fresh == NULL || tr == NULL) {
        if (fresh != NULL)
            free_table(fresh, nf);
        cairn_free(tr);
        return false;
    }
    size_t i = 0, j = 0, nt = 0;
    while (i < cl->n || j < nf) {
        int c = i == cl->n ? 1 : j == nf ? -1 : strcmp(cl->members[i].m.name, fresh[j].m.name);
        if (c < 0) {
            cl->members[i].m.status = CAIRN_MEMBER_LEFT;
            tr[nt++] = (struct transition){CAIRN_EVENT_MEMBER_REAP, &cl->members[i++].m};
        } else if (c > 0) {
            nt += add_transitions(&tr[nt], NULL, &fresh[j++].m);
        } else {
            fresh[j].has_coord = cl->members[i].has_coord;
            fresh[j].coord = cl->members[i].coord;
            nt += add_transitions(&tr[nt], &cl->members[i++], &fresh[j++].m);
        }
    }
    struct cmember *old = cl->members;
    size_t old_n = cl->n;
    cl->members = fresh;
    cl->n = cl->cap = nf;
    for (size_t k = 0; k < nt; k++) {
        emit(cl, tr[k].type, tr[k].m, 1);
        if (tr[k].type == CAIRN_EVENT_MEMBER_JOIN && cl->synced)
            fetch_coord(cl, tr[k].m->name);
    }
    free_table(old, old_n);
    cairn_free(tr);
    return true;
}

static void on_members(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (!cl->closing)
        cl->members_sent = false;
    if (cl->closing || r->status != 0) {
        sync_refused(cl, r, "members");
        return;
    }
    if (!reconcile(cl, r->members, r->nmembers)) {
        sync_step(cl); /* some member could not be cached: list again later */
        return;
    }
    cl->members_done = true;
    maybe_start_coords(cl);
}

static void on_poll_members(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (cl->closing)
        return;
    cl->poll_inflight = false;
    if (r->status == 0 && cl->synced)
        reconcile(cl, r->members, r->nmembers);
}

static void on_poll_timer(cairn_timer *t, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (cl->synced && !cl->poll_inflight && cairn_serfrpc_ready(cl->rpc) &&
        cairn_serfrpc_members(cl->rpc, on_poll_members, cl) == 0)
        cl->poll_inflight = true;
    cairn_timer_start(t, cl->cfg.member_poll);
}

/* sync_step sends whichever synchronisation request is neither answered nor
 * in flight: the event stream first (so no event falls between the member
 * list and the stream), then stats and members. What cannot be sent now
 * (ENOMEM, too many pending) is retried after SYNC_RETRY. */
static void sync_step(cairn_serfrpc_cluster *cl)
{
    cairn_serfrpc *c = cl->rpc;
    if (cl->closing || !cairn_serfrpc_ready(c) || cl->refusal_reported)
        return;
    if (!cl->stream_on && cairn_serfrpc_stream(c, MEMBER_EVENTS, NULL, on_stream, cl, NULL) == 0)
        cl->stream_on = true;
    if (cl->stream_on && !cl->stats_done && !cl->stats_sent &&
        cairn_serfrpc_stats(c, on_stats, cl) == 0)
        cl->stats_sent = true;
    if (cl->stream_on && !cl->members_done && !cl->members_sent &&
        cairn_serfrpc_members(c, on_members, cl) == 0)
        cl->members_sent = true;
    bool pending = !cl->stream_on || (!cl->stats_done && !cl->stats_sent) ||
                   (!cl->members_done && !cl->members_sent);
    if (pending && !cairn_timer_active(cl->sync_timer)) {
        cairn_logf(&cl->logger, CAIRN_LOG_DEBUG, MODULE,
                   "synchronisation with serf agent at %s incomplete; retrying",
                   cairn_serfrpc_addr_string(c));
        cairn_timer_start(cl->sync_timer, SYNC_RETRY);
    }
}

static void on_sync_timer(cairn_timer *t, void *ud)
{
    sync_step(ud);
}

static void on_rpc_state(cairn_serfrpc *c, int state, int err, const char *msg, void *ud)
{
    cairn_serfrpc_cluster *cl = ud;
    if (cl->closing)
        return;
    if (state == CAIRN_SERFRPC_READY) {
        cl->stats_done = cl->members_done = cl->synced = false;
        cl->coord_outstanding = 0;
        cl->poll_inflight = false;
        cl->refusal_reported = false;
        cl->stats_sent = cl->members_sent = cl->stream_on = false;
        sync_step(cl);
        return;
    }
    cairn_timer_stop(cl->sync_timer);
    cl->synced = false;
    cl->coord_outstanding = 0;
    if (cl->cfg.sync_cb == NULL)
        return;
    if (state == CAIRN_SERFRPC_DOWN)
        cl->cfg.sync_cb(cl, CAIRN_SERFRPC_STALE, err, msg, cl->cfg.userdata);
    else if (state == CAIRN_SERFRPC_GAVE_UP)
        cl->cfg.sync_cb(cl, CAIRN_SERFRPC_FAILED, err, msg, cl->cfg.userdata);
}

/* ---- the seam ---- */

static size_t op_num_nodes(void *impl)
{
    cairn_serfrpc_cluster *cl = impl;
    return cl->n;
}

static int op_for_each_member(void *impl, cairn_member_cb fn, void *userdata)
{
    cairn_serfrpc_cluster *cl = impl;
    for (size_t i = 0; i < cl->n; i++)
        if (!fn(&cl->members[i].m, userdata))
            break;
    return 0;
}

static int op_get_coordinate(void *impl, cairn_coord *ret_coord)
{
    cairn_serfrpc_cluster *cl = impl;
    if (!cl->have_self || !cl->self.has_coord)
        return CAIRN_ENOENT; /* the router reads this as "no coordinate" */
    *ret_coord = cl->self.coord;
    return 0;
}

static bool op_get_cached_coordinate(void *impl, const char *name, cairn_coord *ret_coord)
{
    cairn_serfrpc_cluster *cl = impl;
    const struct cmember *cm = lookup(cl, name);
    if (cm == NULL && cl->have_self && strcmp(name, cl->self.m.name) == 0)
        cm = &cl->self;
    if (cm == NULL || !cm->has_coord)
        return false;
    *ret_coord = cm->coord;
    return true;
}

static const cairn_cluster_ops serfrpc_cluster_ops = {
    .num_nodes = op_num_nodes,
    .for_each_member = op_for_each_member,
    .get_coordinate = op_get_coordinate,
    .get_cached_coordinate = op_get_cached_coordinate,
};

cairn_cluster cairn_serfrpc_cluster_get(cairn_serfrpc_cluster *cl)
{
    cairn_cluster c = {.ops = &serfrpc_cluster_ops, .impl = cl};
    return c;
}

/* ---- lifecycle ---- */

int cairn_serfrpc_cluster_new(cairn_loop *loop, const cairn_serfrpc_cluster_config *cfg,
                              cairn_serfrpc_cluster **ret_cl)
{
    if (loop == NULL || cfg == NULL || ret_cl == NULL)
        return CAIRN_EINVAL;
    cairn_serfrpc_cluster *cl = cairn_calloc(1, sizeof *cl);
    if (cl == NULL)
        return CAIRN_ENOMEM;
    cl->loop = loop;
    cl->cfg = *cfg;
    if (cl->cfg.coord_refresh <= 0)
        cl->cfg.coord_refresh = DEFAULT_COORD_REFRESH;
    if (cfg->rpc.logger != NULL)
        cl->logger = *cfg->rpc.logger;
    cairn_serfrpc_config rc_cfg = cfg->rpc;
    rc_cfg.state_cb = on_rpc_state;
    rc_cfg.userdata = cl;
    int rc = cairn_serfrpc_new(loop, &rc_cfg, &cl->rpc);
    if (rc == 0)
        rc = cairn_timer_new(loop, on_refresh_timer, cl, &cl->refresh_timer);
    if (rc == 0)
        rc = cairn_timer_new(loop, on_poll_timer, cl, &cl->poll_timer);
    if (rc == 0)
        rc = cairn_timer_new(loop, on_sync_timer, cl, &cl->sync_timer);
    if (rc != 0) {
        cairn_serfrpc_cluster_delete(cl);
        return rc;
    }
    *ret_cl = cl;
    return 0;
}

int cairn_serfrpc_cluster_start(cairn_serfrpc_cluster *cl)
{
    if (cl == NULL)
        return CAIRN_EINVAL;
    int rc = cairn_serfrpc_start(cl->rpc);
    if (rc == 0)
        cairn_timer_start(cl->refresh_timer, cl->cfg.coord_refresh);
    if (rc == 0 && cl->cfg.member_poll > 0)
        cairn_timer_start(cl->poll_timer, cl->cfg.member_poll);
    return rc;
}

void cairn_serfrpc_cluster_delete(cairn_serfrpc_cluster *cl)
{
    if (cl == NULL)
        return;
    cl->closing = true;
    cairn_serfrpc_delete(cl->rpc);
    cairn_timer_delete(cl->refresh_timer);
    cairn_timer_delete(cl->poll_timer);
    cairn_timer_delete(cl->sync_timer);
    for (size_t i = 0; i < cl->n; i++)
        cmember_free(&cl->members[i]);
    cairn_free(cl->members);
    cmember_free(&cl->self);
    cairn_free(cl);
}

cairn_serfrpc *cairn_serfrpc_cluster_client(cairn_serfrpc_cluster *cl)
{
    return cl->rpc;
}

const char *cairn_serfrpc_cluster_self(const cairn_serfrpc_cluster *cl)
{
    return cl->have_self ? cl->self.m.name : NULL;
}

const char *cairn_serfrpc_cluster_self_tag(const cairn_serfrpc_cluster *cl, const char *key)
{
    return cl->have_self ? cairn_member_tag(&cl->self.m, key) : NULL;
}

bool cairn_serfrpc_cluster_synced(const cairn_serfrpc_cluster *cl)
{
    return cl->synced;
}
