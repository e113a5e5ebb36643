/* The stalls scenario on the simulated memberlist world (see ml_stalls.h). */
#include "ml_stalls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "cairn/memberlist.h"
#include "cairn/rng.h"
#include "cairn/sim.h"
#include "cairn/time.h"
#include "ml_world.h"

enum { ROLE_HEALTHY, ROLE_SLOW, ROLE_VICTIM };

/* One run's observer: roles, counters, and the kill bookkeeping. */
struct obs {
    ml_world *w;
    size_t n;
    unsigned char *role;
    /* Members that currently see each member dead (notify_leave minus
     * notify_join; nobody leaves in this run). */
    int *seen_dead;
    /* Index of a victim in the kill order, or -1; and when it died. */
    int *victim_k;
    cairn_time kill_at[ML_STALLS_MAX_KILLS];
    bool killed[ML_STALLS_MAX_KILLS];
    ml_stalls_result *r;
    /* Not counting during the initial convergence. */
    bool counting;
    /* Unparseable names in the log (should stay 0). */
    uint64_t bad_names;
};

struct node_ud {
    struct obs *o;
    size_t i;
};

static long node_index(const struct obs *o, const char *name)
{
    if (name[0] != 'n')
        return -1;
    char *end;
    long v = strtol(name + 1, &end, 10);
    return (*end == '\0' || *end == ',' || *end == ' ') && v >= 0 && (size_t)v < o->n ? v : -1;
}

static double since_kill(const struct obs *o, int k)
{
    return cairn_time_seconds(cairn_sim_now(o->w->sim) - o->kill_at[k]);
}

static void on_log(int level, const char *module, const char *msg, void *ud)
{
    struct node_ud *u = ud;
    struct obs *o = u->o;
    ml_stalls_result *r = o->r;
    (void)level;
    (void)module;
    if (!o->counting)
        return;
    char who[32];
    bool by_slow = o->role[u->i] == ROLE_SLOW;
    if (sscanf(msg, "suspect %31s has failed", who) == 1) {
        long t = node_index(o, who);
        if (t < 0) {
            o->bad_names++;
            return;
        }
        int k = o->victim_k[t];
        if (o->role[t] == ROLE_HEALTHY)
            *(by_slow ? &r->suspect_healthy_by_slow : &r->suspect_healthy_by_healthy) += 1;
        else if (k >= 0 && o->killed[k] && r->kill[k].first_suspect < 0)
            r->kill[k].first_suspect = since_kill(o, k);
    } else if (sscanf(msg, "marking %31[^,] as failed", who) == 1) {
        long t = node_index(o, who);
        if (t < 0) {
            o->bad_names++;
            return;
        }
        int k = o->victim_k[t];
        r->dead_total++;
        if (o->role[t] == ROLE_SLOW)
            r->dead_slow++;
        else if (o->role[t] == ROLE_HEALTHY)
            *(by_slow ? &r->dead_healthy_by_slow : &r->dead_healthy_by_healthy) += 1;
        else if (k >= 0 && o->killed[k] && r->kill[k].first_dead < 0)
            r->kill[k].first_dead = since_kill(o, k);
    }
}

static void on_leave(void *ud, const cairn_ml_node *node)
{
    struct node_ud *u = ud;
    struct obs *o = u->o;
    long t = node_index(o, node->name);
    if (t < 0)
        return;
    if (o->seen_dead[t]++ == 0 && o->counting && o->role[t] == ROLE_HEALTHY)
        o->r->episodes_healthy++;
}

static void on_join(void *ud, const cairn_ml_node *node)
{
    struct node_ud *u = ud;
    long t = node_index(u->o, node->name);
    /* Joins during the initial convergence are not returns from death. */
    if (t >= 0 && u->o->seen_dead[t] > 0)
        u->o->seen_dead[t]--;
}

static void instrument(ml_world *w, size_t i, cairn_memberlist_delegate *d, cairn_logger *l)
{
    struct node_ud *uds = w->ctx;
    d->notify_leave = on_leave;
    d->notify_join = on_join;
    d->userdata = &uds[i];
    l->cb = on_log;
    l->userdata = &uds[i];
    l->level = CAIRN_LOG_INFO;
}

/* Live members, starved ones included unless healthy_only, that see
 * `name` dead (or no longer list it). */
static bool all_see_dead(const struct obs *o, const char *name, bool healthy_only)
{
    const ml_world *w = o->w;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->nodes[i].up || (healthy_only && o->role[i] != ROLE_HEALTHY))
            continue;
        cairn_ml_node nd;
        if (cairn_memberlist_get_node(w->nodes[i].ml, name, &nd) == 0 &&
            nd.state != CAIRN_ML_DEAD && nd.state != CAIRN_ML_LEFT)
            return false;
    }
    return true;
}

/* Node i joins a random earlier node, 2 ms apart (a rolling start), then
 * the run waits for full membership (checked every 0.5 s, 300 s at most). */
static int converge(ml_world *w, double *ret_s)
{
    cairn_time t0 = cairn_sim_now(w->sim);
    cairn_rng *rng = cairn_sim_rng(w->sim);
    for (size_t i = 1; i < w->n; i++) {
        size_t j = (size_t)cairn_rng_below(rng, i);
        int r = cairn_memberlist_join(w->nodes[i].ml, &w->nodes[j].addr, 1, NULL, NULL);
        if (r < 0)
            return r;
        cairn_sim_run_for(w->sim, 2 * CAIRN_MSEC);
    }
    cairn_time start = cairn_sim_now(w->sim);
    while (!ml_world_converged(w)) {
        if (cairn_sim_now(w->sim) - start > 300 * CAIRN_SEC)
            return CAIRN_ETIMEDOUT;
        cairn_sim_run_for(w->sim, 500 * CAIRN_MSEC);
    }
    *ret_s = cairn_time_seconds(cairn_sim_now(w->sim) - t0);
    return 0;
}

static uint64_t declared_dead(const ml_world *w, size_t i)
{
    cairn_ml_stats st;
    cairn_memberlist_get_stats(w->nodes[i].ml, &st);
    return st.declared_dead;
}

/* The phase after convergence: stalls, kills, detection polls. */
static int starve(const ml_stalls_params *p, struct obs *o, cairn_rng *sched,
                  const size_t *slow_idx, const size_t *victim_idx)
{
    ml_world *w = o->w;
    ml_stalls_result *r = o->r;
    const cairn_time poll = 100 * CAIRN_MSEC;
    cairn_time start = cairn_sim_now(w->sim), next[ML_STALLS_MAX_N];
    cairn_time end = start + (cairn_time)p->seconds * CAIRN_SEC;
    for (size_t k = 0; k < p->slow; k++)
        next[k] = start + (cairn_time)cairn_rng_below(sched, 3 * CAIRN_SEC);
    size_t kills_done = 0;
    while (cairn_sim_now(w->sim) < end) {
        cairn_time now = cairn_sim_now(w->sim);
        for (size_t k = 0; k < p->slow; k++) {
            if (now < next[k])
                continue;
            cairn_time d = CAIRN_SEC + (cairn_time)cairn_rng_below(sched, 2 * CAIRN_SEC);
            cairn_time gap =
                CAIRN_MSEC / 2 + (cairn_time)cairn_rng_below(sched, 7 * CAIRN_MSEC / 2);
            int e = cairn_sim_stall(w->sim, &w->nodes[slow_idx[k]].addr, d);
            if (e < 0)
                return e;
            r->stall_events++;
            next[k] = now + d + gap;
        }
        /* Kill k at start + (k + 1) * seconds / (kills + 1). */
        if (kills_done < p->kills) {
            size_t k = kills_done;
            cairn_time at =
                start + (cairn_time)(k + 1) * (end - start) / (cairn_time)(p->kills + 1);
            if (now >= at) {
                r->declared_dead += declared_dead(w, victim_idx[k]);
                ml_world_kill(w, victim_idx[k]);
                o->kill_at[k] = now;
                o->killed[k] = true;
                kills_done++;
            }
        }
        bool pending = false;
        for (size_t k = 0; k < kills_done; k++) {
            const char *name = w->nodes[victim_idx[k]].name;
            if (r->kill[k].all_healthy_dead < 0 && all_see_dead(o, name, true))
                r->kill[k].all_healthy_dead = cairn_time_seconds(now - o->kill_at[k]);
            if (r->kill[k].all_dead < 0 && all_see_dead(o, name, false))
                r->kill[k].all_dead = cairn_time_seconds(now - o->kill_at[k]);
            pending |= r->kill[k].all_dead < 0;
        }
        cairn_time soonest = end;
        for (size_t k = 0; k < p->slow; k++)
            if (next[k] < soonest)
                soonest = next[k];
        if (kills_done < p->kills) {
            cairn_time at =
                start + (cairn_time)(kills_done + 1) * (end - start) / (cairn_time)(p->kills + 1);
            if (at < soonest)
                soonest = at;
        }
        if (pending && now + poll < soonest)
            soonest = now + poll;
        cairn_sim_run_until(w->sim, soonest);
    }
    return 0;
}

int ml_stalls_run(uint64_t seed, const ml_stalls_params *p, ml_stalls_result *r)
{
    memset(r, 0, sizeof(*r));
    if (p->n < 2 || p->n > ML_STALLS_MAX_N || p->kills > ML_STALLS_MAX_KILLS ||
        p->slow + p->kills >= p->n || p->seconds < 0)
        return CAIRN_EINVAL;
    r->kills = p->kills;
    for (size_t k = 0; k < p->kills; k++)
        r->kill[k] = (ml_stalls_kill){-1, -1, -1, -1};
    struct obs o = {.n = p->n, .r = r};
    struct node_ud *uds = cairn_calloc(p->n, sizeof(*uds));
    o.role = cairn_calloc(p->n, sizeof(*o.role));
    o.seen_dead = cairn_calloc(p->n, sizeof(*o.seen_dead));
    o.victim_k = cairn_calloc(p->n, sizeof(*o.victim_k));
    int e = CAIRN_ENOMEM;
    ml_world w;
    bool have_world = false;
    if (uds == NULL || o.role == NULL || o.seen_dead == NULL || o.victim_k == NULL)
        goto out;
    for (size_t i = 0; i < p->n; i++) {
        uds[i] = (struct node_ud){&o, i};
        o.victim_k[i] = -1;
    }
    /* The starved members come first from the schedule's generator (the
     * order the test's margins were measured with); victims from their own. */
    cairn_rng sched, vict;
    cairn_rng_init(&sched, seed ^ 0x5ca1ab1eULL);
    cairn_rng_init(&vict, seed ^ 0xdeadbeefULL);
    size_t slow_idx[ML_STALLS_MAX_N], victim_idx[ML_STALLS_MAX_KILLS];
    for (size_t k = 0; k < p->slow;) {
        size_t v = (size_t)cairn_rng_below(&sched, p->n);
        if (o.role[v] == ROLE_HEALTHY) {
            o.role[v] = ROLE_SLOW;
            slow_idx[k++] = v;
        }
    }
    for (size_t k = 0; k < p->kills;) {
        size_t v = (size_t)cairn_rng_below(&vict, p->n);
        if (o.role[v] == ROLE_HEALTHY) {
            o.role[v] = ROLE_VICTIM;
            o.victim_k[v] = (int)k;
            victim_idx[k++] = v;
        }
    }
    if ((e = ml_world_init(&w, seed, p->n)) < 0)
        goto out;
    have_world = true;
    o.w = &w;
    w.instrument = instrument;
    w.ctx = uds;
    if (!p->lifeguard) {
        /* SWIM timing: the health score pinned at 0 (no interval scaling,
         * nacks moot) and every suspicion at the fixed minimum timeout. */
        w.cfg.awareness_max_multiplier = 1;
        w.cfg.suspicion_max_timeout_mult = 1;
    }
    if ((e = ml_world_start_all(&w)) < 0 || (e = converge(&w, &r->converge_s)) < 0)
        goto out;
    /* Counting starts now. */
    memset(o.seen_dead, 0, p->n * sizeof(*o.seen_dead));
    o.counting = true;
    uint64_t before = 0;
    for (size_t i = 0; i < w.n; i++)
        before += declared_dead(&w, i);
    if ((e = starve(p, &o, &sched, slow_idx, victim_idx)) < 0)
        goto out;
    for (size_t i = 0; i < w.n; i++)
        if (w.nodes[i].up)
            r->declared_dead += declared_dead(&w, i);
    r->declared_dead -= before;
    e = o.bad_names ? CAIRN_EPROTO : 0;
out:
    if (have_world)
        ml_world_destroy(&w);
    cairn_free(uds);
    cairn_free(o.role);
    cairn_free(o.seen_dead);
    cairn_free(o.victim_k);
    return e;
}

uint64_t ml_stalls_false_dead(const ml_stalls_result *r)
{
    return r->dead_healthy_by_slow + r->dead_healthy_by_healthy;
}

uint64_t ml_stalls_false_suspect(const ml_stalls_result *r)
{
    return r->suspect_healthy_by_slow + r->suspect_healthy_by_healthy;
}
