/* Members, intents and the status machine (Go: serf.go handleNodeJoin,
 * handleNodeLeave, handleNodeUpdate, handleNodeJoinIntent,
 * handleNodeLeaveIntent, handlePrune, eraseNode, reap, reconnect,
 * recentIntents).
 *
 * memberlist says who is reachable; serf says why a member is gone. Each
 * member carries a status (alive, leaving, left, failed) and statusLTime,
 * the member-clock time of the last intent accepted about it. Join and
 * leave intents only count when newer than statusLTime, and only new ones
 * are re-gossiped (which is what stops them circulating). Intents about a
 * member memberlist has not told us about yet are kept for
 * RecentIntentTimeout and applied when it appears. A leave intent about
 * ourselves while we are alive is refuted with a fresh join intent. When
 * memberlist reports a member dead or left, serf's own state decides:
 * leaving becomes left, alive becomes failed. Failed members are retried
 * (reconnect) and, like left ones, reaped after their timeout.
 *
 * Departures:
 *   - the recent-intent table and the member table have caps (excess is
 *     dropped and counted, and a dropped intent is not re-gossiped);
 *   - a member that memberlist reports *left* (its own dead message, the
 *     graceful path) while serf still has it alive is made left, not
 *     failed: its leave intent was merely lost or late. Go shows it failed
 *     until (and unless) the intent arrives. Nothing on the wire changes
 *     beyond listing it in our push/pull LeftMembers, as Go would once the
 *     intent arrived;
 *   - a prune of a leaving member waits BroadcastTimeout +
 *     LeavePropagateDelay on a timer (Go sleeps holding its member lock);
 *   - failed and left lists are not kept: the reaper and reconnect scan
 *     the table (the same members, one source of truth).
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "wire/msg.h"

/* ---- table ---- */

struct serf_member *cairn__serf_find(const cairn_serf *s, const char *name)
{
    return cairn__ml_strmap_get(&s->member_map, name);
}

static void member_free(struct serf_member *m)
{
    if (m == NULL)
        return;
    cairn_free(m->tags);
    cairn_free(m->tag_strs);
    cairn_free(m->name);
    cairn_free(m);
}

/* Decodes Meta into owned tags; on failure the member keeps no tags. */
static void set_tags(struct serf_member *m, const uint8_t *meta, size_t len)
{
    cairn_free(m->tags);
    cairn_free(m->tag_strs);
    m->tags = NULL;
    m->tag_strs = NULL;
    m->ntags = 0;
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64 * 1024);
    cairn_wire_tag *wt = NULL;
    size_t n = 0;
    if (cairn__wire_tags_decode((cairn_span){meta, len}, &a, NULL, &wt, &n) == 0 && n > 0) {
        size_t sz = 0;
        for (size_t i = 0; i < n; i++)
            sz += wt[i].key.len + wt[i].value.len + 2;
        m->tags = cairn_calloc(n, sizeof(*m->tags));
        m->tag_strs = cairn_malloc(sz);
        if (m->tags && m->tag_strs) {
            char *p = m->tag_strs;
            for (size_t i = 0; i < n; i++) {
                /* An empty key or value may have no bytes at all (p NULL). */
                m->tags[i].key = p;
                if (wt[i].key.len)
                    memcpy(p, wt[i].key.p, wt[i].key.len);
                p += wt[i].key.len;
                *p++ = 0;
                m->tags[i].value = p;
                if (wt[i].value.len)
                    memcpy(p, wt[i].value.p, wt[i].value.len);
                p += wt[i].value.len;
                *p++ = 0;
            }
            m->ntags = n;
        } else {
            cairn_free(m->tags);
            cairn_free(m->tag_strs);
            m->tags = NULL;
            m->tag_strs = NULL;
        }
    }
    cairn__wire_arena_destroy(&a);
}

static void set_node(struct serf_member *m, const cairn_ml_node *n)
{
    m->addr = n->addr;
    set_tags(m, n->meta, n->meta_len);
    m->pmin = n->pmin;
    m->pmax = n->pmax;
    m->pcur = n->pcur;
    m->dmin = n->dmin;
    m->dmax = n->dmax;
    m->dcur = n->dcur;
}

static struct serf_member *member_add(cairn_serf *s, const char *name)
{
    if (s->n_members == s->cap_members) {
        size_t cap = s->cap_members ? 2 * s->cap_members : 16;
        struct serf_member **a = cairn_realloc(s->members, cap * sizeof(*a));
        if (a == NULL)
            return NULL;
        s->members = a;
        s->cap_members = cap;
    }
    struct serf_member *m = cairn_calloc(1, sizeof(*m));
    size_t len = strlen(name) + 1;
    if (m == NULL || (m->name = cairn_malloc(len)) == NULL) {
        cairn_free(m);
        return NULL;
    }
    memcpy(m->name, name, len);
    if (cairn__ml_strmap_put(&s->member_map, m->name, m) < 0) {
        member_free(m);
        return NULL;
    }
    s->members[s->n_members++] = m;
    return m;
}

/* Go eraseNode: out of the table, coordinate forgotten, reap event. */
static void erase(cairn_serf *s, struct serf_member *m)
{
    cairn__ml_strmap_del(&s->member_map, m->name);
    for (size_t i = 0; i < s->n_members; i++)
        if (s->members[i] == m) {
            s->members[i] = s->members[--s->n_members];
            break;
        }
    cairn__serf_coord_forget(s, m);
    cairn__serf_emit_member(s, CAIRN_EVENT_MEMBER_REAP, m);
    member_free(m);
}

bool cairn__serf_has_alive_peers(const cairn_serf *s)
{
    for (size_t i = 0; i < s->n_members; i++)
        if (s->members[i]->status == CAIRN_MEMBER_ALIVE &&
            strcmp(s->members[i]->name, s->cfg.memberlist.name) != 0)
            return true;
    return false;
}

/* ---- recent intents ---- */

static void intent_free(struct serf_intent *in)
{
    if (in) {
        cairn_free(in->name);
        cairn_free(in);
    }
}

/* Go upsertIntent: true when stored (new or newer). */
static bool upsert_intent(cairn_serf *s, const char *node, int type, uint64_t ltime)
{
    struct serf_intent *in = cairn__ml_strmap_get(&s->intent_map, node);
    if (in && ltime <= in->ltime)
        return false;
    if (in == NULL) {
        size_t len = strlen(node) + 1;
        in = cairn_calloc(1, sizeof(*in));
        if (in == NULL || (in->name = cairn_malloc(len)) == NULL ||
            cairn__ml_strmap_put(&s->intent_map, (memcpy(in->name, node, len), in->name), in) < 0) {
            intent_free(in);
            s->stats.intents_dropped++;
            return false;
        }
    }
    in->type = type;
    in->ltime = ltime;
    in->wall = cairn_loop_now(s->loop);
    return true;
}

static bool recent_intent(cairn_serf *s, const char *node, int type, uint64_t *ret_ltime)
{
    struct serf_intent *in = cairn__ml_strmap_get(&s->intent_map, node);
    if (in == NULL || in->type != type)
        return false;
    *ret_ltime = in->ltime;
    return true;
}

/* ---- memberlist notifications ---- */

void cairn__serf_node_join(cairn_serf *s, const cairn_ml_node *n)
{
    struct serf_member *m = cairn__serf_find(s, n->name);
    if (m == NULL) {
        if (s->n_members >= s->cfg.max_members || (m = member_add(s, n->name)) == NULL) {
            s->stats.members_dropped++;
            return;
        }
        m->status = CAIRN_MEMBER_ALIVE;
        uint64_t lt;
        if (recent_intent(s, n->name, CAIRN_WIRE_SERF_JOIN, &lt))
            m->status_ltime = lt;
        if (recent_intent(s, n->name, CAIRN_WIRE_SERF_LEAVE, &lt)) {
            m->status = CAIRN_MEMBER_LEAVING;
            m->leaving_since = cairn_loop_now(s->loop);
            m->status_ltime = lt;
        }
    } else {
        cairn_time now = cairn_loop_now(s->loop);
        if (m->status == CAIRN_MEMBER_FAILED && now - m->leave_time < s->cfg.flap_timeout)
            s->stats.flaps++;
        m->status = CAIRN_MEMBER_ALIVE;
        m->leave_time = 0;
    }
    set_node(m, n);
    cairn__serf_emit_member(s, CAIRN_EVENT_MEMBER_JOIN, m);
}

void cairn__serf_node_leave(cairn_serf *s, const cairn_ml_node *n)
{
    struct serf_member *m = cairn__serf_find(s, n->name);
    if (m == NULL)
        return;
    if (m->status == CAIRN_MEMBER_ALIVE && n->state == CAIRN_ML_LEFT) {
        /* It announced its own leave to memberlist: our copy of its leave
         * intent is lost or late (see the top of this file). */
        s->stats.left_without_intent++;
        m->status = CAIRN_MEMBER_LEAVING;
    }
    int type;
    if (m->status == CAIRN_MEMBER_LEAVING) {
        m->status = CAIRN_MEMBER_LEFT;
        type = CAIRN_EVENT_MEMBER_LEAVE;
    } else if (m->status == CAIRN_MEMBER_ALIVE) {
        m->status = CAIRN_MEMBER_FAILED;
        type = CAIRN_EVENT_MEMBER_FAILED;
    } else {
        cairn__serf_log(s, CAIRN_LOG_WARN, "bad state when leave: %s %s", n->name,
                        cairn_member_status_name(m->status));
        return;
    }
    m->leave_time = cairn_loop_now(s->loop);
    cairn__serf_emit_member(s, type, m);
}

void cairn__serf_node_update(cairn_serf *s, const cairn_ml_node *n)
{
    struct serf_member *m = cairn__serf_find(s, n->name);
    if (m == NULL)
        return;
    set_node(m, n);
    cairn__serf_emit_member(s, CAIRN_EVENT_MEMBER_UPDATE, m);
}

/* ---- intents ---- */

bool cairn__serf_join_intent(cairn_serf *s, const char *node, uint64_t ltime)
{
    cairn__serf_clock_witness(&s->clock, ltime);
    struct serf_member *m = cairn__serf_find(s, node);
    if (m == NULL)
        return upsert_intent(s, node, CAIRN_WIRE_SERF_JOIN, ltime);
    if (ltime <= m->status_ltime) {
        return false;
    }
    m->status_ltime = ltime;
    if (m->status == CAIRN_MEMBER_LEAVING)
        m->status = CAIRN_MEMBER_ALIVE;
    return true;
}

static void arm_prune(cairn_serf *s, cairn_time at)
{
    cairn_time dl = cairn_timer_deadline(s->prune_timer);
    cairn_time now = cairn_loop_now(s->loop);
    if (dl < 0 || at < dl)
        cairn_timer_start(s->prune_timer, at - now);
}

/* Go handlePrune: erase now, or once a leaving member had time to go. */
static void prune(cairn_serf *s, struct serf_member *m)
{
    if (m->status == CAIRN_MEMBER_LEAVING) {
        m->prune_at =
            cairn_loop_now(s->loop) + s->cfg.broadcast_timeout + s->cfg.leave_propagate_delay;
        arm_prune(s, m->prune_at);
        return;
    }
    erase(s, m);
}

bool cairn__serf_leave_intent(cairn_serf *s, const char *node, uint64_t ltime, bool do_prune)
{
    cairn__serf_clock_witness(&s->clock, ltime);
    struct serf_member *m = cairn__serf_find(s, node);
    if (m == NULL)
        return upsert_intent(s, node, CAIRN_WIRE_SERF_LEAVE, ltime);
    /* cairn: a leave intent about ourselves at our own status time is
     * refuted too (Go ignores it). That time can name a join here and a
     * leave elsewhere: push/pull lists a leaving member's time as a join
     * and a left member's time + 1 as a leave, so peers that saw the
     * leave at that time keep us "leaving" while memberlist keeps us
     * alive, for good (soak seed 788). */
    bool self = strcmp(node, s->cfg.memberlist.name) == 0 && s->state == CAIRN_SERF_ALIVE;
    if (ltime < m->status_ltime || (ltime == m->status_ltime && !self))
        return false;
    if (self) {
        cairn__serf_log(s, CAIRN_LOG_DEBUG, "refuting an older leave intent");
        (void)cairn__serf_broadcast_join(s, cairn__serf_clock_time(&s->clock));
        return false;
    }
    /* Always record the time, even without a status change (Go's fix for
     * consul#8179: otherwise two nodes re-gossip each other's leave). */
    m->status_ltime = ltime;
    switch (m->status) {
    case CAIRN_MEMBER_ALIVE:
        m->status = CAIRN_MEMBER_LEAVING;
        m->leaving_since = cairn_loop_now(s->loop);
        break;
    case CAIRN_MEMBER_FAILED:
        m->status = CAIRN_MEMBER_LEFT;
        cairn__serf_emit_member(s, CAIRN_EVENT_MEMBER_LEAVE, m);
        break;
    case CAIRN_MEMBER_LEAVING:
    case CAIRN_MEMBER_LEFT:
        break;
    default:
        return false;
    }
    if (do_prune)
        prune(s, m);
    return true;
}

int cairn__serf_broadcast_join(cairn_serf *s, uint64_t ltime)
{
    const char *self = s->cfg.memberlist.name;
    cairn__serf_clock_witness(&s->clock, ltime);
    (void)cairn__serf_join_intent(s, self, ltime);
    cairn_wire_serf_join msg = {.ltime = ltime, .node = cairn__span_str(self)};
    cairn_buf b;
    cairn_buf_init(&b, CAIRN_NAME_MAX + 64);
    int rc = cairn__wire_serf_join_encode(&msg, &b, NULL);
    if (rc == 0)
        rc = cairn__serf_bcast_queue(s, s->intents_q, b.data, b.len, NULL, NULL);
    cairn_buf_destroy(&b);
    if (rc < 0)
        cairn__serf_log(s, CAIRN_LOG_WARN, "failed to broadcast join intent: %s",
                        cairn_strerror(rc));
    return rc;
}

/* ---- periodic work ---- */

void cairn__serf_gossip_leave(cairn_serf *s, const char *name, uint64_t ltime)
{
    cairn_wire_serf_leave msg = {.ltime = ltime, .node = cairn__span_str(name)};
    cairn_buf b;
    cairn_buf_init(&b, CAIRN_NAME_MAX + 64);
    if (cairn__wire_serf_leave_encode(&msg, &b, NULL) == 0) {
        (void)cairn__serf_bcast_queue(s, s->intents_q, b.data, b.len, NULL, NULL);
        /* Gossip reaches a given member only with some probability, and
         * the others do not pass on what they already have: tell the
         * member itself too. */
        (void)cairn_memberlist_send_best_effort(s->ml, name, b.data, b.len);
    }
    cairn_buf_destroy(&b);
}

/* cairn: how long a member may stay leaving while memberlist still has it
 * alive. A real leaver is gone from memberlist within BroadcastTimeout +
 * LeavePropagateDelay, or is found dead by probes within the suspicion
 * maximum (bounded here with one decade per digit of the member count). */
static cairn_time stale_leaving(const cairn_serf *s)
{
    const cairn_memberlist_config *mc = &s->cfg.memberlist;
    cairn_time digits = 1;
    for (size_t n = s->n_members; n >= 10; n /= 10)
        digits++;
    return s->cfg.broadcast_timeout + s->cfg.leave_propagate_delay + mc->probe_interval +
           (cairn_time)mc->suspicion_max_timeout_mult * mc->suspicion_mult * digits *
               mc->probe_interval;
}

static void reap(cairn_serf *s)
{
    cairn_time now = cairn_loop_now(s->loop);
    cairn_time stale = stale_leaving(s);
    for (size_t i = 0; i < s->n_members;) {
        struct serf_member *m = s->members[i];
        /* cairn: a member leaving for longer than a leave takes is alive
         * (it came back and its join intent did not beat the leave time,
         * which push/pull inflates): gossip the leave intent again, so
         * that it hears it and refutes (soak seed 788, docs/soak.md). Go
         * keeps it leaving for good. */
        if (m->status == CAIRN_MEMBER_LEAVING && now - m->leaving_since > stale &&
            strcmp(m->name, s->cfg.memberlist.name) != 0) {
            m->leaving_since = now;
            cairn__serf_gossip_leave(s, m->name, m->status_ltime);
        }
        cairn_time timeout = m->status == CAIRN_MEMBER_FAILED ? s->cfg.reconnect_timeout
                             : m->status == CAIRN_MEMBER_LEFT ? s->cfg.tombstone_timeout
                                                              : -1;
        if (timeout >= 0 && now - m->leave_time > timeout)
            erase(s, m); /* the last member moved to i: look at i again */
        else
            i++;
    }
    struct ml_strmap *im = &s->intent_map;
    for (size_t i = 0; i < im->nslots;) {
        struct serf_intent *in = im->slots[i].key ? im->slots[i].value : NULL;
        if (in && now - in->wall > s->cfg.recent_intent_timeout) {
            cairn__ml_strmap_del(im, in->name); /* shifts entries back into i */
            intent_free(in);
        } else {
            i++;
        }
    }
}

static void on_reap(cairn_timer *t, void *ud)
{
    cairn_serf *s = ud;
    reap(s);
    cairn_timer_start(t, s->cfg.reap_interval);
}

/* Go reconnect: with probability failed / alive, join one random failed
 * member through memberlist. */
static void on_reconnect(cairn_timer *t, void *ud)
{
    cairn_serf *s = ud;
    cairn_timer_start(t, s->cfg.reconnect_interval);
    size_t failed = 0, left = 0;
    for (size_t i = 0; i < s->n_members; i++) {
        failed += s->members[i]->status == CAIRN_MEMBER_FAILED;
        left += s->members[i]->status == CAIRN_MEMBER_LEFT;
    }
    if (failed == 0 || s->ml == NULL)
        return;
    size_t alive = s->n_members - failed - left;
    double prob = (double)failed / (double)(alive ? alive : 1);
    if (cairn_rng_double(&s->rng) > prob)
        return;
    size_t k = (size_t)cairn_rng_below(&s->rng, failed);
    for (size_t i = 0; i < s->n_members; i++) {
        struct serf_member *m = s->members[i];
        if (m->status != CAIRN_MEMBER_FAILED || k-- > 0)
            continue;
        cairn__serf_log(s, CAIRN_LOG_INFO, "attempting reconnect to %s", m->name);
        (void)cairn_memberlist_join(s->ml, &m->addr, 1, NULL, NULL);
        return;
    }
}

static void on_prune(cairn_timer *t, void *ud)
{
    (void)t;
    cairn_serf *s = ud;
    cairn_time now = cairn_loop_now(s->loop), next = -1;
    for (size_t i = 0; i < s->n_members;) {
        struct serf_member *m = s->members[i];
        if (m->prune_at && m->prune_at <= now) {
            erase(s, m);
            continue;
        }
        if (m->prune_at && (next < 0 || m->prune_at < next))
            next = m->prune_at;
        i++;
    }
    if (next >= 0)
        arm_prune(s, next);
}

int cairn__serf_members_init(cairn_serf *s)
{
    cairn__ml_strmap_init(&s->member_map, s->cfg.max_members);
    cairn__ml_strmap_init(&s->intent_map, s->cfg.max_recent_intents);
    int rc = cairn_timer_new(s->loop, on_reap, s, &s->reap_timer);
    if (rc == 0)
        rc = cairn_timer_new(s->loop, on_reconnect, s, &s->reconnect_timer);
    if (rc == 0)
        rc = cairn_timer_new(s->loop, on_prune, s, &s->prune_timer);
    if (rc < 0)
        return rc;
    cairn_timer_start(s->reap_timer, s->cfg.reap_interval);
    if (s->cfg.reconnect_interval > 0)
        cairn_timer_start(s->reconnect_timer, s->cfg.reconnect_interval);
    return 0;
}

void cairn__serf_members_destroy(cairn_serf *s)
{
    cairn_timer_delete(s->reap_timer);
    cairn_timer_delete(s->reconnect_timer);
    cairn_timer_delete(s->prune_timer);
    s->reap_timer = s->reconnect_timer = s->prune_timer = NULL;
    for (size_t i = 0; i < s->n_members; i++)
        member_free(s->members[i]);
    cairn_free(s->members);
    s->members = NULL;
    s->n_members = s->cap_members = 0;
    cairn__ml_strmap_destroy(&s->member_map);
    for (size_t i = 0; i < s->intent_map.nslots; i++)
        if (s->intent_map.slots[i].key)
            intent_free(s->intent_map.slots[i].value);
    cairn__ml_strmap_destroy(&s->intent_map);
}
