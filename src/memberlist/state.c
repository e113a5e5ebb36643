/* memberlist's state machine: the node table and the alive/suspect/dead
 * rules (Go: state.go aliveNode, suspectNode, deadNode, refute, mergeState,
 * verifyProtocol, resetNodes; util.go kRandomNodes, moveDeadNodes).
 *
 * Every node is known by name and carries an incarnation number that only
 * its owner raises. News about a node is accepted only when it is newer:
 * alive needs a strictly greater incarnation, suspect and dead at least the
 * known one. A node accused of being suspect or dead refutes by raising its
 * incarnation past the accusation and gossiping a fresh alive. A suspect
 * node is declared dead when its Lifeguard suspicion timer runs out; every
 * accepted change is re-gossiped through the broadcast queue, keyed by node
 * name so that newer news replaces older news about the same node.
 *
 * Departures from upstream: everything runs on the loop thread, so there
 * are no locks and suspicion timers are stopped (not left to find out they
 * are stale). Names containing NUL bytes or longer than ML_NAME_MAX are
 * dropped as malformed. A node created by an alive that is then ignored
 * (incarnation 0) starts "dead since forever", as Go's zero time does, so
 * the next reap removes it.
 */
#include "memberlist/ml_internal.h"

#include <stddef.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "memberlist/util.h"

/* Go's zero time.Time seen from our loop clock: long ago. */
#define ML_TIME_LONG_AGO (INT64_MIN / 2)

void cairn__ml_node_view(const struct ml_node *n, cairn_ml_node *ret)
{
    *ret = (cairn_ml_node){
        .name = n->name,
        .addr = n->addr,
        .meta = n->meta,
        .meta_len = n->meta_len,
        .state = n->state,
        .incarnation = n->incarnation,
        .pmin = n->vsn[ML_PMIN],
        .pmax = n->vsn[ML_PMAX],
        .pcur = n->vsn[ML_PCUR],
        .dmin = n->vsn[ML_DMIN],
        .dmax = n->vsn[ML_DMAX],
        .dcur = n->vsn[ML_DCUR],
    };
}

/* Copies a wire name into buf as a C string; false if unusable. */
static bool name_cstr(const uint8_t *name, size_t len, char *buf)
{
    if (len == 0 || len > ML_NAME_MAX || memchr(name, 0, len))
        return false;
    memcpy(buf, name, len);
    buf[len] = 0;
    return true;
}

struct ml_node *cairn__ml_find(const cairn_memberlist *ml, const uint8_t *name, size_t len)
{
    char key[ML_NAME_MAX + 1];
    if (!name_cstr(name, len, key))
        return NULL;
    return cairn__ml_strmap_get(&ml->node_map, key);
}

int cairn__ml_estimate_nodes(const cairn_memberlist *ml)
{
    return (int)ml->n_nodes;
}

static bool is_self(const cairn_memberlist *ml, const struct ml_node *n)
{
    return strcmp(n->name, ml->name) == 0;
}

/* A suspect node's Lifeguard timer, in ml->suspects under the node's
 * name (kept out of the node block: see struct ml_node). */
struct ml_suspect {
    cairn_memberlist *ml;
    struct ml_node *node;
    struct ml_suspicion *timer;
};

struct ml_suspicion *cairn__ml_node_suspicion(const cairn_memberlist *ml, const struct ml_node *n)
{
    if (ml->suspects.len == 0)
        return NULL;
    const struct ml_suspect *sp = cairn__ml_strmap_get(&ml->suspects, n->name);
    return sp ? sp->timer : NULL;
}

/* Stops and forgets n's suspicion timer, if any (Go: deleting the
 * nodeTimers entry). */
static void drop_suspicion(cairn_memberlist *ml, const struct ml_node *n)
{
    if (ml->suspects.len == 0)
        return;
    struct ml_suspect *sp = cairn__ml_strmap_del(&ml->suspects, n->name);
    if (!sp)
        return;
    cairn__ml_suspicion_delete(sp->timer);
    cairn_free(sp);
}

static void free_node(cairn_memberlist *ml, struct ml_node *n)
{
    if (!n)
        return;
    drop_suspicion(ml, n);
    cairn_free(n->meta);
    cairn_free(n); /* the name lives in the same block */
}

void cairn__ml_free_nodes(cairn_memberlist *ml)
{
    for (size_t i = 0; i < ml->n_nodes; i++)
        free_node(ml, ml->nodes[i]);
    cairn__ml_strmap_destroy(&ml->suspects);
    cairn_free(ml->nodes);
    ml->nodes = NULL;
    ml->n_nodes = ml->cap_nodes = 0;
    cairn__ml_strmap_destroy(&ml->node_map);
}

/* ---- broadcasts ---- */

void cairn__ml_gossip_on_demand(cairn_memberlist *ml)
{
    ml->gossip_on_demand = true;
}

void cairn__ml_gossip_wake(cairn_memberlist *ml)
{
    if (ml == NULL)
        return;
    ml->gossip_pushes++;
    if (!ml->gossip_idle || ml->shutdown || ml->gossip_timer == NULL)
        return;
    ml->gossip_idle = false;
    cairn_time iv = ml->cfg.gossip_interval;
    cairn_time since = cairn_loop_now(ml->loop) - ml->gossip_last;
    cairn_timer_start(ml->gossip_timer, since < 0 ? iv : iv - since % iv);
}

static void queue_encoded(cairn_memberlist *ml, const char *name, cairn_buf *b,
                          struct ml_waiter *notify)
{
    int rc = cairn__bcast_queue_push(ml->broadcasts, name, b->data, b->len,
                                     notify ? cairn__ml_waiter_finished : NULL, notify);
    if (rc == 0)
        cairn__ml_gossip_wake(ml);
    if (rc < 0)
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "failed to queue broadcast about %s: %s",
                   name, cairn_strerror(rc));
    cairn_buf_destroy(b);
}

static void span_name(cairn_span s, char *out)
{
    size_t n = s.len > ML_NAME_MAX ? ML_NAME_MAX : s.len;
    memcpy(out, s.p, n);
    out[n] = 0;
}

void cairn__ml_queue_alive(cairn_memberlist *ml, const struct ml_alive *a, struct ml_waiter *notify)
{
    cairn_buf b;
    cairn_buf_init(&b, ML_MAX_MESSAGE);
    cairn_wire_alive m = {
        .addr = cairn__ml_ip_span(&a->addr),
        .incarnation = a->incarnation,
        .meta = a->meta,
        .node = a->node,
        .port = a->addr.port,
        .vsn = a->vsn,
    };
    char name[ML_NAME_MAX + 1];
    span_name(a->node, name);
    int rc = cairn__wire_alive_encode(&m, &b, NULL);
    if (rc < 0) {
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "failed to encode alive for %s: %s", name,
                   cairn_strerror(rc));
        cairn_buf_destroy(&b);
        return;
    }
    queue_encoded(ml, name, &b, notify);
}

void cairn__ml_queue_suspect(cairn_memberlist *ml, const cairn_wire_suspect *s)
{
    cairn_buf b;
    cairn_buf_init(&b, ML_MAX_MESSAGE);
    char name[ML_NAME_MAX + 1];
    span_name(s->node, name);
    if (cairn__wire_suspect_encode(s, &b, NULL) < 0) {
        cairn_buf_destroy(&b);
        return;
    }
    queue_encoded(ml, name, &b, NULL);
}

void cairn__ml_queue_dead(cairn_memberlist *ml, const cairn_wire_dead *d, struct ml_waiter *notify)
{
    cairn_buf b;
    cairn_buf_init(&b, ML_MAX_MESSAGE);
    char name[ML_NAME_MAX + 1];
    span_name(d->node, name);
    if (cairn__wire_dead_encode(d, &b, NULL) < 0) {
        cairn_buf_destroy(&b);
        return;
    }
    queue_encoded(ml, name, &b, notify);
}

/* ---- refutation ---- */

/* Go: refute. Our incarnation jumps past the accusation; the fresh alive is
 * queued under our address string, as upstream does. */
static void refute(cairn_memberlist *ml, struct ml_node *me, uint32_t accused)
{
    uint32_t inc = ++ml->incarnation;
    if (accused >= inc) {
        inc = accused + 1;
        ml->incarnation = inc;
    }
    me->incarnation = inc;
    cairn__ml_awareness_apply(&ml->awareness, 1);
    ml->stats.refutes++;
    struct ml_alive a = {
        .node = cairn__span_str(me->name),
        .incarnation = inc,
        .addr = me->addr,
        .meta = {me->meta, me->meta_len},
        .vsn = {me->vsn, sizeof(me->vsn)},
    };
    cairn_buf b;
    cairn_buf_init(&b, ML_MAX_MESSAGE);
    cairn_wire_alive m = {
        .addr = cairn__ml_ip_span(&a.addr),
        .incarnation = inc,
        .meta = a.meta,
        .node = a.node,
        .port = a.addr.port,
        .vsn = a.vsn,
    };
    char key[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&me->addr, false, key, sizeof(key));
    if (cairn__wire_alive_encode(&m, &b, NULL) < 0) {
        cairn_buf_destroy(&b);
        return;
    }
    queue_encoded(ml, key, &b, NULL);
}

/* ---- alive ---- */

/* Inserts a new node at a random position of the probe order (Go appends
 * and swaps with a random offset). */
static struct ml_node *insert_node(cairn_memberlist *ml, const struct ml_alive *a, const char *name)
{
    if (ml->n_nodes >= ml->cfg.max_nodes) {
        cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN, "node table full (%zu), ignoring %s",
                          ml->n_nodes, name);
        return NULL;
    }
    if (ml->n_nodes == ml->cap_nodes) {
        /* Growing by half, up to the cap: the slack is per member, so
         * N-fold in the simulator (doubling left 10,000 members with
         * 16,384 slots each, 0.5 GB more than needed). */
        size_t ncap = ml->cap_nodes ? ml->cap_nodes + ml->cap_nodes / 2 : 16;
        if (ncap > ml->cfg.max_nodes)
            ncap = ml->cfg.max_nodes;
        struct ml_node **nodes = cairn_reallocarray(ml->nodes, ncap, sizeof(*nodes));
        if (!nodes)
            return NULL;
        ml->nodes = nodes;
        ml->cap_nodes = ncap;
    }
    /* The name shares the node's block: a lookup's key compare and the
     * node's fields then sit on neighbouring cache lines. It starts at the
     * member's offset, inside the struct's tail padding. */
    size_t name_len = strlen(name);
    size_t size = offsetof(struct ml_node, name) + name_len + 1;
    struct ml_node *n = cairn_calloc(1, size > sizeof(*n) ? size : sizeof(*n));
    if (!n)
        return NULL;
    memcpy(n->name, name, name_len + 1);
    if (a->meta.len) {
        n->meta = cairn_memdup(a->meta.p, a->meta.len);
        n->meta_len = (uint16_t)a->meta.len;
    }
    if ((a->meta.len && !n->meta) || cairn__ml_strmap_put(&ml->node_map, n->name, n) < 0) {
        free_node(ml, n);
        return NULL;
    }
    n->addr = a->addr;
    n->state = CAIRN_ML_DEAD;
    n->state_change = ML_TIME_LONG_AGO;
    if (a->vsn.len == sizeof(n->vsn))
        memcpy(n->vsn, a->vsn.p, sizeof(n->vsn));
    size_t count = ml->n_nodes;
    size_t offset = (size_t)cairn_rng_below(&ml->rng, count);
    ml->nodes[count] = ml->nodes[offset];
    ml->nodes[offset] = n;
    ml->n_nodes++;
    return n;
}

/* Returns false (and logs) when the alive must be ignored for its versions
 * or by the alive delegate. */
static bool alive_acceptable(cairn_memberlist *ml, const struct ml_alive *a, const char *name)
{
    if (a->vsn.len >= 3) {
        uint8_t pmin = a->vsn.p[0], pmax = a->vsn.p[1];
        if (pmin == 0 || pmax == 0 || pmin > pmax) {
            cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN,
                              "ignoring an alive message for '%s' because protocol version(s) are "
                              "wrong: %u <= %u should be >0",
                              name, pmin, pmax);
            return false;
        }
    }
    if (ml->del.notify_alive) {
        if (a->vsn.len < 6) {
            cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN,
                              "ignoring alive message for '%s' because Vsn is not present", name);
            return false;
        }
        cairn_ml_node v = {.name = name,
                           .addr = a->addr,
                           .meta = a->meta.p,
                           .meta_len = a->meta.len,
                           .state = CAIRN_ML_ALIVE,
                           .incarnation = a->incarnation,
                           .pmin = a->vsn.p[0],
                           .pmax = a->vsn.p[1],
                           .pcur = a->vsn.p[2],
                           .dmin = a->vsn.p[3],
                           .dmax = a->vsn.p[4],
                           .dcur = a->vsn.p[5]};
        if (ml->del.notify_alive(ml->del.userdata, &v) != 0) {
            cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN, "ignoring alive message for '%s'",
                              name);
            return false;
        }
    }
    return true;
}

/* A known name from another address: allowed only over a left node or one
 * dead longer than DeadNodeReclaimTime. Returns false after reporting a
 * conflict. */
static bool address_change_ok(cairn_memberlist *ml, struct ml_node *n, const struct ml_alive *a)
{
    cairn_time now = cairn_loop_now(ml->loop);
    bool can_reclaim = ml->cfg.dead_node_reclaim_time > 0 &&
                       now - n->state_change > ml->cfg.dead_node_reclaim_time;
    if (n->state == CAIRN_ML_LEFT || (n->state == CAIRN_ML_DEAD && can_reclaim))
        return true;
    char mine[CAIRN_ADDR_STRLEN], theirs[CAIRN_ADDR_STRLEN];
    cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_ERROR,
                      "conflicting address for %s. Mine: %s Theirs: %s Old state: %s", n->name,
                      cairn_addr_format(&n->addr, true, mine, sizeof(mine)),
                      cairn_addr_format(&a->addr, true, theirs, sizeof(theirs)),
                      cairn_ml_state_name(n->state));
    if (ml->del.notify_conflict) {
        cairn_ml_node existing, other = {.name = n->name,
                                         .addr = a->addr,
                                         .meta = a->meta.p,
                                         .meta_len = a->meta.len,
                                         .state = CAIRN_ML_ALIVE,
                                         .incarnation = a->incarnation};
        cairn__ml_node_view(n, &existing);
        ml->del.notify_conflict(ml->del.userdata, &existing, &other);
    }
    return false;
}

void cairn__ml_alive_node(cairn_memberlist *ml, const struct ml_alive *a, struct ml_waiter *notify,
                          bool bootstrap)
{
    char name[ML_NAME_MAX + 1];
    if (!name_cstr(a->node.p, a->node.len, name))
        return;
    bool about_self = strcmp(name, ml->name) == 0;
    if (ml->leaving && about_self)
        return;
    if (!alive_acceptable(ml, a, name))
        return;
    struct ml_node *n = cairn__ml_strmap_get(&ml->node_map, name);
    bool updates_node = false;
    if (!n) {
        n = insert_node(ml, a, name);
        if (!n)
            return;
    } else if (!cairn_addr_equal(&n->addr, &a->addr)) {
        if (!address_change_ok(ml, n, a))
            return;
        updates_node = true;
    }
    bool local = is_self(ml, n);
    if (a->incarnation <= n->incarnation && !local && !updates_node)
        return;
    if (a->incarnation < n->incarnation && local)
        return;
    drop_suspicion(ml, n);
    int old_state = n->state;
    if (!bootstrap && local) {
        bool same_meta = a->meta.len == n->meta_len &&
                         (n->meta_len == 0 || memcmp(a->meta.p, n->meta, n->meta_len) == 0);
        bool same_vsn = a->vsn.len == sizeof(n->vsn) && memcmp(a->vsn.p, n->vsn, 6) == 0;
        if (a->incarnation == n->incarnation && same_meta && same_vsn)
            return;
        refute(ml, n, a->incarnation);
        cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN, "refuting an alive message for '%s'",
                          name);
        return; /* our own meta is unchanged: no event */
    }
    uint8_t *meta = NULL;
    if (a->meta.len && !(meta = cairn_memdup(a->meta.p, a->meta.len))) {
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "out of memory for alive of %s", name);
        return;
    }
    if (!ml->preloading)
        cairn__ml_queue_alive(ml, a, notify);
    bool meta_changed =
        a->meta.len != n->meta_len || (n->meta_len && memcmp(n->meta, a->meta.p, n->meta_len) != 0);
    if (a->vsn.len == sizeof(n->vsn))
        memcpy(n->vsn, a->vsn.p, sizeof(n->vsn));
    n->incarnation = a->incarnation;
    cairn_free(n->meta);
    n->meta = meta;
    n->meta_len = (uint16_t)a->meta.len;
    n->addr = a->addr;
    if (n->state != CAIRN_ML_ALIVE) {
        n->state = CAIRN_ML_ALIVE;
        n->state_change = cairn_loop_now(ml->loop);
    }
    cairn_ml_node v;
    cairn__ml_node_view(n, &v);
    if (old_state == CAIRN_ML_DEAD || old_state == CAIRN_ML_LEFT) {
        if (ml->del.notify_join)
            ml->del.notify_join(ml->del.userdata, &v);
    } else if (meta_changed && ml->del.notify_update) {
        ml->del.notify_update(ml->del.userdata, &v);
    }
}

/* ---- suspect ---- */

/* The suspicion ran out: declare the node dead, from us. */
static void on_suspicion_timeout(struct ml_suspicion *s, int confirmations, void *ud)
{
    const struct ml_suspect *sp = ud;
    struct ml_node *n = sp->node;
    cairn_memberlist *ml = sp->ml;
    (void)s;
    if (n->state != CAIRN_ML_SUSPECT)
        return;
    cairn_logf(&ml->log, CAIRN_LOG_INFO, ML_LOG,
               "marking %s as failed, suspect timeout reached (%d peer confirmations)", n->name,
               confirmations);
    ml->stats.declared_dead++;
    cairn_wire_dead d = {
        .from = cairn__span_str(ml->name),
        .incarnation = n->incarnation,
        .node = cairn__span_str(n->name),
    };
    cairn__ml_dead_node(ml, &d, NULL);
}

void cairn__ml_suspect_node(cairn_memberlist *ml, const cairn_wire_suspect *s)
{
    struct ml_node *n = cairn__ml_find(ml, s->node.p, s->node.len);
    if (!n || s->incarnation < n->incarnation)
        return;
    struct ml_suspicion *running = cairn__ml_node_suspicion(ml, n);
    if (running) {
        char from[ML_NAME_MAX + 1];
        if (name_cstr(s->from.p, s->from.len, from) && cairn__ml_suspicion_confirm(running, from))
            cairn__ml_queue_suspect(ml, s);
        return;
    }
    if (n->state != CAIRN_ML_ALIVE)
        return;
    if (is_self(ml, n)) {
        refute(ml, n, s->incarnation);
        cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN,
                          "refuting a suspect message (from: %.*s)", (int)s->from.len,
                          (const char *)s->from.p);
        return;
    }
    char from[ML_NAME_MAX + 1];
    if (!name_cstr(s->from.p, s->from.len, from))
        return;
    /* Lifeguard: k independent confirmations expected, none when the
     * cluster is too small to provide them. */
    int k = ml->cfg.suspicion_mult - 2;
    int count = cairn__ml_estimate_nodes(ml);
    if (count - 2 < k)
        k = 0;
    cairn_time min =
        cairn__ml_suspicion_timeout(ml->cfg.suspicion_mult, count, ml->cfg.probe_interval);
    cairn_time max = (cairn_time)ml->cfg.suspicion_max_timeout_mult * min;
    struct ml_suspect *sp = cairn_calloc(1, sizeof(*sp));
    if (!sp || cairn__ml_suspicion_new(ml->loop, from, k < 0 ? 0 : k, min, max,
                                       on_suspicion_timeout, sp, &sp->timer) < 0) {
        cairn_free(sp);
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "out of memory suspecting %s", n->name);
        return;
    }
    sp->ml = ml;
    sp->node = n;
    if (cairn__ml_strmap_put(&ml->suspects, n->name, sp) < 0) {
        cairn__ml_suspicion_delete(sp->timer);
        cairn_free(sp);
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "out of memory suspecting %s", n->name);
        return;
    }
    cairn__ml_queue_suspect(ml, s);
    n->incarnation = s->incarnation;
    n->state = CAIRN_ML_SUSPECT;
    n->state_change = cairn_loop_now(ml->loop);
}

/* ---- dead ---- */

void cairn__ml_dead_node(cairn_memberlist *ml, const cairn_wire_dead *d, struct ml_waiter *notify)
{
    struct ml_node *n = cairn__ml_find(ml, d->node.p, d->node.len);
    if (!n || d->incarnation < n->incarnation)
        return;
    drop_suspicion(ml, n);
    if (n->state == CAIRN_ML_DEAD || n->state == CAIRN_ML_LEFT)
        return;
    if (is_self(ml, n)) {
        if (!ml->leaving) {
            refute(ml, n, d->incarnation);
            cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN,
                              "refuting a dead message (from: %.*s)", (int)d->from.len,
                              (const char *)d->from.p);
            return;
        }
        cairn__ml_queue_dead(ml, d, notify);
    } else {
        cairn__ml_queue_dead(ml, d, NULL);
    }
    n->incarnation = d->incarnation;
    n->state = cairn__span_eq(d->node, d->from) ? CAIRN_ML_LEFT : CAIRN_ML_DEAD;
    n->state_change = cairn_loop_now(ml->loop);
    if (ml->del.notify_leave) {
        cairn_ml_node v;
        cairn__ml_node_view(n, &v);
        ml->del.notify_leave(ml->del.userdata, &v);
    }
}

/* ---- push/pull merge ---- */

int cairn__ml_verify_protocol(cairn_memberlist *ml, const cairn_wire_push_node *nodes, size_t n)
{
    uint8_t maxpmin = 0, minpmax = 255, maxdmin = 0, mindmax = 255;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *v = nodes[i].vsn.p;
        if (nodes[i].state != CAIRN_ML_ALIVE || nodes[i].vsn.len < 6)
            continue;
        maxpmin = v[0] > maxpmin ? v[0] : maxpmin;
        minpmax = v[1] < minpmax ? v[1] : minpmax;
        maxdmin = v[3] > maxdmin ? v[3] : maxdmin;
        mindmax = v[4] < mindmax ? v[4] : mindmax;
    }
    for (size_t i = 0; i < ml->n_nodes; i++) {
        const struct ml_node *x = ml->nodes[i];
        if (i + ML_PREFETCH_AHEAD < ml->n_nodes)
            __builtin_prefetch(&ml->nodes[i + ML_PREFETCH_AHEAD]->vsn); /* a hint */
        if (x->state != CAIRN_ML_ALIVE)
            continue;
        maxpmin = x->vsn[ML_PMIN] > maxpmin ? x->vsn[ML_PMIN] : maxpmin;
        minpmax = x->vsn[ML_PMAX] < minpmax ? x->vsn[ML_PMAX] : minpmax;
        maxdmin = x->vsn[ML_DMIN] > maxdmin ? x->vsn[ML_DMIN] : maxdmin;
        mindmax = x->vsn[ML_DMAX] < mindmax ? x->vsn[ML_DMAX] : mindmax;
    }
    for (size_t i = 0; i < n + ml->n_nodes; i++) {
        uint8_t pcur, dcur;
        const char *what;
        int wlen;
        if (i < n) {
            pcur = nodes[i].vsn.len >= 6 ? nodes[i].vsn.p[2] : 0;
            dcur = nodes[i].vsn.len >= 6 ? nodes[i].vsn.p[5] : 0;
            what = (const char *)nodes[i].name.p;
            wlen = (int)nodes[i].name.len;
        } else {
            const struct ml_node *x = ml->nodes[i - n];
            pcur = x->vsn[ML_PCUR];
            dcur = x->vsn[ML_DCUR];
            what = x->name;
            wlen = (int)strlen(x->name);
        }
        if (pcur < maxpmin || pcur > minpmax) {
            cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG,
                       "node '%.*s' protocol version (%u) is incompatible: [%u, %u]", wlen, what,
                       pcur, maxpmin, minpmax);
            return CAIRN_EVERSION;
        }
        if (dcur < maxdmin || dcur > mindmax) {
            cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG,
                       "node '%.*s' delegate protocol version (%u) is incompatible: [%u, %u]", wlen,
                       what, dcur, maxdmin, mindmax);
            return CAIRN_EVERSION;
        }
    }
    return 0;
}

/* Asks for the node-map slot of nodes[i] (then, half the distance later,
 * for its node): a merge looks every name up, each lookup two cache
 * misses in a big table. Hints only. */
static void merge_prefetch(const cairn_memberlist *ml, const cairn_wire_push_node *nodes, size_t n,
                           size_t i, uint64_t *hashes)
{
    size_t ahead = i + ML_PREFETCH_AHEAD;
    if (ahead < n) {
        hashes[ahead % ML_PREFETCH_AHEAD] =
            cairn__ml_strmap_hash(nodes[ahead].name.p, nodes[ahead].name.len);
        cairn__ml_strmap_prefetch_slot(&ml->node_map, hashes[ahead % ML_PREFETCH_AHEAD]);
    }
    size_t half = i + ML_PREFETCH_AHEAD / 2;
    if (half < n && i >= ML_PREFETCH_AHEAD / 2)
        cairn__ml_strmap_prefetch_value(&ml->node_map, hashes[half % ML_PREFETCH_AHEAD]);
}

void cairn__ml_merge_state(cairn_memberlist *ml, const cairn_wire_push_node *nodes, size_t n)
{
    uint64_t hashes[ML_PREFETCH_AHEAD];
    for (size_t i = 0; i < ML_PREFETCH_AHEAD && i < n; i++) {
        hashes[i] = cairn__ml_strmap_hash(nodes[i].name.p, nodes[i].name.len);
        cairn__ml_strmap_prefetch_slot(&ml->node_map, hashes[i]);
    }
    for (size_t i = 0; i < n; i++) {
        merge_prefetch(ml, nodes, n, i, hashes);
        const cairn_wire_push_node *r = &nodes[i];
        switch (r->state) {
        case CAIRN_ML_ALIVE: {
            struct ml_alive a = {
                .node = r->name, .incarnation = r->incarnation, .meta = r->meta, .vsn = r->vsn};
            if (cairn_addr_from_ip(r->addr.p, r->addr.len, r->port, &a.addr) < 0)
                break;
            if (a.addr.port == 0)
                a.addr.port = ml->cfg.bind.port;
            cairn__ml_alive_node(ml, &a, NULL, false);
            break;
        }
        case CAIRN_ML_LEFT: {
            cairn_wire_dead d = {.from = r->name, .incarnation = r->incarnation, .node = r->name};
            cairn__ml_dead_node(ml, &d, NULL);
            break;
        }
        case CAIRN_ML_DEAD:
        case CAIRN_ML_SUSPECT: {
            /* A remote "dead" never kills directly: we suspect it ourselves. */
            cairn_wire_suspect s = {
                .from = cairn__span_str(ml->name), .incarnation = r->incarnation, .node = r->name};
            cairn__ml_suspect_node(ml, &s);
            break;
        }
        default:
            break;
        }
    }
}

/* ---- probe order, reaping, random choice ---- */

void cairn__ml_reset_nodes(cairn_memberlist *ml)
{
    cairn_time now = cairn_loop_now(ml->loop);
    size_t kept = 0;
    for (size_t i = 0; i < ml->n_nodes; i++) {
        struct ml_node *n = ml->nodes[i];
        if (n->state == CAIRN_ML_DEAD && now - n->state_change > ml->cfg.gossip_to_the_dead_time &&
            !is_self(ml, n)) {
            cairn__ml_strmap_del(&ml->node_map, n->name);
            free_node(ml, n);
            continue;
        }
        ml->nodes[kept++] = n;
    }
    ml->n_nodes = kept;
    /* Fisher-Yates with our own generator (Go: rand.Shuffle). */
    for (size_t i = kept; i > 1; i--) {
        size_t j = (size_t)cairn_rng_below(&ml->rng, i);
        struct ml_node *t = ml->nodes[i - 1];
        ml->nodes[i - 1] = ml->nodes[j];
        ml->nodes[j] = t;
    }
}

size_t cairn__ml_k_random_nodes(cairn_memberlist *ml, size_t k, ml_node_filter filter,
                                const void *ctx, struct ml_node **out)
{
    size_t n = ml->n_nodes, got = 0;
    for (size_t i = 0; i < 3 * n && got < k; i++) {
        struct ml_node *node = ml->nodes[cairn_rng_below(&ml->rng, n)];
        if (filter && filter(ml, node, ctx))
            continue;
        bool dup = false;
        for (size_t j = 0; j < got && !dup; j++)
            dup = out[j] == node;
        if (!dup)
            out[got++] = node;
    }
    return got;
}
