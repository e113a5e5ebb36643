/* soak: a seeded fault campaign on the simulator (docs/soak.md).
 *
 * Each seed draws a serf cluster (3..max members; a Consul server pool in
 * 1-3 datacenters, with Routers at 1-3 observers), a link model (latency,
 * jitter, loss 0-60 %, duplication, reordering) and a schedule of faults
 * (partitions, heals, blocked pairs, crashes, restarts from the snapshot,
 * stalls, graceful leaves, tag changes, user events, queries), runs it on
 * one cairn_sim, then a calm phase (links clean, everything healed, no new
 * faults) bounded by B(N) = reconnect interval + push/pull interval(N) +
 * suspicion maximum(N) + dissemination rounds(N) x gossip interval. The
 * invariants (docs/soak.md; the Router's are invariant 6) are checked while
 * the run goes and at the end of the calm phase; a failing seed prints the
 * one line that replays it bit for bit with the event trace.
 *
 *   soak [--seeds N] [--first S] [--seed S] [--min-members A]
 *        [--max-members B] [--max-loss P] [--trace] [--quiet]
 *
 * Exit 0 when every seed held, 1 when one broke an invariant, 2 on bad
 * flags. Everything a seed does comes from the seed and the size flags.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/cairn.h"

/* Largest cluster, most user events and queries per seed. */
#define SOAK_MAX_NODES  1000
#define SOAK_MAX_EVENTS 48
#define SOAK_MAX_QUERY  16
/* Serf's snapshot writes its buffer at most 500 ms after a line and on the
 * 500 ms clock tick: an event delivered less than this before a kill -9
 * may not be on disk yet and may be delivered again after the restart (as
 * with Serf). */
#define SOAK_SNAP_WINDOW (1100 * CAIRN_MSEC)
/* Loss up to which a run must have no false death at all. */
#define SOAK_STRICT_LOSS 0.20

typedef struct soak soak;

/* Routers that were shut down, deleted when the campaign ends. Each
 * cairn_router_delete waits in rcu_barrier for liburcu's call_rcu thread,
 * which sleeps 10 ms before each batch: 10 ms of wall time per router,
 * several times the CPU a small seed costs. Barriers running at the same
 * time share a batch, so the campaign deletes them from several threads
 * at the end (grave_empty). */
typedef struct soak_graveyard {
    cairn_router **r;
    size_t n, cap;
} soak_graveyard;

typedef struct soak_node {
    soak *k;
    size_t idx;
    cairn_loop *loop;
    cairn_serf *serf;
    cairn_addr addr;
    char name[16];
    char snap_path[32];
    bool up;
    /* Leave running; left gracefully and shut down (still down). */
    bool leaving, left;
    /* The leave finished (delete the serf at the next step). */
    bool leave_done;
    /* The leave window had a partition or stall touching the node. */
    bool leave_disturbed;
    /* Ever cut off (partition, blocked pair), stalled, crashed, restarted
     * or leaving: failure reports about it, or from it, are legitimate. */
    bool touched;
    /* Stalled until (virtual time). */
    cairn_time stalled_until;
    /* Up continuously since. */
    cairn_time up_since;
    /* Tag version set (the tag "v"). */
    unsigned tag_version;
    /* Per user event: deliveries (across restarts) and the first time. */
    uint8_t got[SOAK_MAX_EVENTS];
    cairn_time got_at[SOAK_MAX_EVENTS];
    /* When it last crashed (0: never). */
    cairn_time crashed_at;
    /* Its last join failed: retry (as an agent's retry_join) from
     * join_at on. */
    bool join_pending;
    /* Ever restarted (then Serf's eventMinTime may drop events it never
     * saw: only at-most-once is required of it). */
    bool restarted;
    cairn_time join_at;
    /* Consul server of datacenter dc (index into soak.dcname), or a plain
     * member (dc is then only its router's local datacenter). */
    bool server;
    unsigned dc;
    /* Runs a Router over its own serf (rebuilt at each start), fed by the
     * serf adapter from its event callback. */
    bool observer;
    cairn_router *router;
    cairn_serf_adapter *adapter;
} soak_node;

typedef struct soak_query {
    size_t from;
    unsigned done;
    int status;
    size_t responses;
} soak_query;

/* Checks others add later (e.g. router invariants): run at the end of the
 * calm phase; return false and fill why to fail the seed. */
typedef bool (*soak_check_fn)(soak *k, char *why, size_t whylen);

struct soak {
    uint64_t seed;
    cairn_rng rng; /* the scenario's draws */
    cairn_sim *sim;
    size_t n;
    soak_node *nodes;
    cairn_serf_config cfg;
    cairn_sim_link link;
    bool trace;
    /* Partition in force, and blocked pair in force. */
    bool partitioned;
    bool blocked;
    size_t block_a, block_b;
    /* User events sent. */
    struct {
        size_t from;
        cairn_time at;
    } ev[SOAK_MAX_EVENTS];
    size_t nev;
    soak_query q[SOAK_MAX_QUERY];
    size_t nq;
    /* Findings. */
    uint64_t false_deaths, leave_failed_events, dup_window, dup_bad;
    char fail[256];
    /* Figures. */
    cairn_time converge_time, bound;
    /* Extra end-of-calm checks (none yet; the router's go here). */
    soak_check_fn checks[4];
    /* Union-find over node indexes, and the number of components of up
     * nodes at the last calm check. */
    size_t *comp;
    size_t ncomp;
    /* Graceful leaves seen failed at the end (loss above the strict
     * limit, where the leave may reach nobody). */
    uint64_t leaves_failed_lossy;
    size_t nchecks;
    /* The Consul pool (docs/soak.md, "What a seed draws"): drawn from its
     * own stream so that the scenario's draws stay as they were. */
    cairn_rng crng;
    size_t ndc;
    char dcname[3][8];
    /* Router checks: next periodic one, how many ran, first routes found
     * on a server that is not live at the end of the calm phase (before
     * the rebalance; Consul's WAN soft fail). */
    cairn_time next_route_check;
    uint64_t route_checks, stale_first_routes;
    bool *listed;
    soak_graveyard *grave;
};

static void trace(soak *k, const char *fmt, ...)
{
    if (!k->trace)
        return;
    cairn_time t = cairn_sim_now(k->sim) - CAIRN_SIM_START;
    printf("%10.3f ", (double)t / CAIRN_SEC);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void failf(soak *k, const char *fmt, ...)
{
    if (k->fail[0] != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->fail, sizeof(k->fail), fmt, ap);
    va_end(ap);
    trace(k, "INVARIANT BROKEN: %s", k->fail);
}

/* The node named `name`: "n<i>", or a server's "n<i>.dc<d>" (its full
 * name; the short name "n<i>" is what the pinger gets). -1 otherwise. */
static int node_index(const soak *k, const char *name)
{
    if (name == NULL || name[0] != 'n' || name[1] < '0' || name[1] > '9')
        return -1;
    char *end;
    long i = strtol(name + 1, &end, 10);
    if (i < 0 || (size_t)i >= k->n)
        return -1;
    if (*end == 0 || strcmp(k->nodes[i].name, name) == 0)
        return (int)i;
    return -1;
}

static void touch(soak_node *nd)
{
    nd->touched = true;
    if (nd->leaving)
        nd->leave_disturbed = true;
}

/* ---- events ---- */

static void on_event(const cairn_event *ev, void *ud)
{
    soak_node *nd = ud;
    soak *k = nd->k;
    cairn_time now = cairn_sim_now(k->sim);
    if (nd->adapter != NULL)
        cairn_serf_adapter_handle(ev, nd->adapter);
    if (ev->type == CAIRN_EVENT_USER) {
        unsigned id;
        if (sscanf(ev->name, "ev%u", &id) != 1 || id >= k->nev) {
            failf(k, "%s got unknown user event \"%s\"", nd->name, ev->name);
            return;
        }
        trace(k, "%s user ev%u (ltime %" PRIu64 ")", nd->name, id, ev->ltime);
        if (nd->got[id]++ == 0) {
            nd->got_at[id] = now;
            return;
        }
        /* Again: allowed only once, when a kill -9 came within the snapshot
         * window after the first delivery. */
        if (nd->got[id] == 2 && nd->crashed_at >= nd->got_at[id] &&
            nd->crashed_at - nd->got_at[id] < SOAK_SNAP_WINDOW) {
            k->dup_window++;
            return;
        }
        k->dup_bad++;
        failf(k, "%s delivered user event ev%u %u times", nd->name, id, nd->got[id]);
        return;
    }
    if (ev->type == CAIRN_EVENT_QUERY) {
        if (ev->respond != NULL)
            ev->respond(ev->respond_ctx, ev->query_id, (const uint8_t *)nd->name, strlen(nd->name));
        return;
    }
    if (ev->type != CAIRN_EVENT_MEMBER_FAILED && ev->type != CAIRN_EVENT_MEMBER_LEAVE &&
        !(k->trace && ev->type == CAIRN_EVENT_MEMBER_JOIN))
        return;
    for (size_t m = 0; m < ev->nmembers; m++) {
        int j = node_index(k, ev->members[m].name);
        if (j < 0)
            continue;
        soak_node *sub = &k->nodes[j];
        const char *what = ev->type == CAIRN_EVENT_MEMBER_FAILED  ? "failed"
                           : ev->type == CAIRN_EVENT_MEMBER_LEAVE ? "left"
                                                                  : "joined";
        trace(k, "%s sees %s %s", nd->name, sub->name, what);
        if (ev->type != CAIRN_EVENT_MEMBER_FAILED)
            continue;
        if (sub->leaving || sub->left) {
            k->leave_failed_events++;
            continue;
        }
        if (!nd->touched && !sub->touched) {
            k->false_deaths++;
            trace(k, "FALSE DEATH: %s declared %s failed", nd->name, sub->name);
            if (k->link.loss <= SOAK_STRICT_LOSS)
                failf(k, "false death: %s declared %s failed (loss %.0f%%)", nd->name, sub->name,
                      k->link.loss * 100);
        }
    }
}

/* ---- nodes ---- */

/* A node's tags: Consul's server tags (consul-servers.md §metadata) for a
 * server, role=soak for a plain member; both carry v=<tag version>. */
static size_t node_tags(const soak_node *nd, cairn_tag t[6], char v[16])
{
    snprintf(v, 16, "%u", nd->tag_version);
    if (!nd->server) {
        t[0] = (cairn_tag){"role", "soak"};
        t[1] = (cairn_tag){"v", v};
        return 2;
    }
    t[0] = (cairn_tag){"role", "consul"};
    t[1] = (cairn_tag){"dc", nd->k->dcname[nd->dc]};
    t[2] = (cairn_tag){"port", "8300"};
    t[3] = (cairn_tag){"build", "1.9.0"};
    t[4] = (cairn_tag){"vsn", "3"};
    t[5] = (cairn_tag){"v", v};
    return 6;
}

static void set_tags(soak_node *nd)
{
    char v[16];
    cairn_tag t[6];
    size_t nt = node_tags(nd, t, v);
    int r = cairn_serf_set_tags(nd->serf, t, nt, NULL);
    if (r < 0)
        failf(nd->k, "%s set_tags: %s", nd->name, cairn_strerror(r));
}

/* ---- the router at observers ---- */

/* Whether node j runs and answers now: up, not leaving, not stalled. */
static bool node_live(const soak *k, size_t j)
{
    const soak_node *nd = &k->nodes[j];
    return nd->up && !nd->leaving && nd->stalled_until <= cairn_sim_now(k->sim);
}

/* The managers' pinger (an RPC ping, as Consul's): a server answers when
 * it runs, is not stalled and the observer can reach it. Completes inside
 * ping(), as the pinger seam allows. */
static int soak_ping(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                     cairn_ping_done_cb done, void *token)
{
    (void)dc;
    (void)addr;
    soak_node *obs = impl;
    soak *k = obs->k;
    int j = node_index(k, name);
    bool ok = j >= 0 && k->nodes[j].server && node_live(k, (size_t)j) &&
              cairn_sim_reachable(k->sim, &obs->addr, &k->nodes[j].addr);
    done(ok, ok ? 0 : CAIRN_EIO, token);
    return 0;
}

static void soak_ping_cancel(void *impl, void *token)
{
    (void)impl;
    (void)token;
}

static const cairn_pinger_ops soak_pinger_ops = {soak_ping, soak_ping_cancel};

/* A (re)started observer builds its Router over its new serf: the WAN
 * area over cairn_serf_cluster (which adds the servers it already knows),
 * then the serf adapter feeds it every member event (on_event). */
static int router_start(soak *k, soak_node *nd)
{
    cairn_router_config rc = {.local_datacenter = k->dcname[nd->dc],
                              .server_name = nd->server ? nd->name : NULL,
                              .loop = nd->loop,
                              .seed = cairn_rng_u64(&k->crng)};
    int r = cairn_router_new(&rc, &nd->router);
    if (r < 0)
        return r;
    cairn_cluster cl;
    cairn_serf_cluster(nd->serf, &cl);
    cairn_pinger pinger = {&soak_pinger_ops, nd};
    if ((r = cairn_router_add_area(nd->router, CAIRN_AREA_WAN, &cl, &pinger, NULL)) < 0)
        return r;
    cairn_serf_adapter_config ac = {.router = nd->router, .area_id = CAIRN_AREA_WAN};
    return cairn_serf_adapter_new(&ac, &nd->adapter);
}

/* What one observer's router lists for one datacenter. */
typedef struct route_walk {
    soak *k;
    const soak_node *obs;
    unsigned dc;
    size_t count;
    char *why;
    size_t whylen;
} route_walk;

static bool route_list_cb(const cairn_server *s, void *ud)
{
    route_walk *w = ud;
    soak *k = w->k;
    int j = node_index(k, s->name);
    if (j < 0 || !k->nodes[j].server || k->nodes[j].dc != w->dc ||
        strcmp(s->datacenter, k->dcname[w->dc]) != 0) {
        snprintf(w->why, w->whylen, "%s's router lists %s under %s", w->obs->name, s->name,
                 k->dcname[w->dc]);
        return false;
    }
    cairn_addr want = k->nodes[j].addr;
    want.port = 8300;
    if (k->listed[j] || !cairn_addr_equal(&want, &s->addr)) {
        snprintf(w->why, w->whylen, "%s's router lists %s %s", w->obs->name, s->name,
                 k->listed[j] ? "twice" : "at a wrong RPC address");
        return false;
    }
    k->listed[j] = true;
    w->count++;
    return true;
}

/* The rules that hold at every moment (docs/soak.md, invariant 6): for
 * each datacenter d, the observer's router lists exactly the servers of d
 * its serf holds alive, leaving or failed (the adapter applies each member
 * event as it is delivered: a server that left or was reaped is gone, a
 * failed one stays, WAN soft fail), each once, at its RPC address; a route
 * for d, when there is one, is one of them (so never a server of another
 * datacenter, nor one the observer holds left or does not know); "no path"
 * exactly when the list is empty. During faults the route may be a server
 * that is down or unreachable (the observer may not know yet, and Consul
 * keeps failed WAN servers), and a manager whose last rebalance found no
 * server answering is offline (CAIRN_EUNAVAIL). */
static bool route_check(soak *k, soak_node *obs, char *why, size_t whylen)
{
    k->route_checks++;
    for (unsigned d = 0; d < k->ndc; d++) {
        memset(k->listed, 0, k->n * sizeof(*k->listed));
        route_walk w = {k, obs, d, 0, why, whylen};
        why[0] = 0;
        cairn_router_check_servers(obs->router, k->dcname[d], route_list_cb, &w);
        if (why[0] != 0)
            return false;
        for (size_t j = 0; j < k->n; j++) {
            if (!k->nodes[j].server || k->nodes[j].dc != d)
                continue;
            int st = cairn_serf_member_status(obs->serf, k->nodes[j].name);
            bool want =
                st == CAIRN_MEMBER_ALIVE || st == CAIRN_MEMBER_LEAVING || st == CAIRN_MEMBER_FAILED;
            if (want != k->listed[j]) {
                snprintf(why, whylen, "%s's router %s %s of %s, which its serf holds %s", obs->name,
                         want ? "misses" : "lists", k->nodes[j].name, k->dcname[d],
                         st < 0 ? "unknown" : cairn_member_status_name(st));
                return false;
            }
        }
        cairn_route rt;
        int rc = cairn_router_find_route(obs->router, k->dcname[d], &rt);
        int j = rc == 0 ? node_index(k, rt.server.name) : -1;
        if (rc == 0                ? j < 0 || !k->listed[j]
            : rc == CAIRN_ENOROUTE ? w.count != 0
                                   : rc != CAIRN_EUNAVAIL || w.count == 0) {
            snprintf(why, whylen, "%s routes %s to %.64s (%zu servers listed)", obs->name,
                     k->dcname[d], rc == 0 ? rt.server.name : cairn_strerror(rc), w.count);
            return false;
        }
    }
    return true;
}

/* The every-moment rules at each up observer. */
static void route_checks(soak *k)
{
    char why[256];
    for (size_t i = 0; i < k->n && k->fail[0] == 0; i++)
        if (k->nodes[i].router != NULL && !route_check(k, &k->nodes[i], why, sizeof(why)))
            failf(k, "router: %s", why);
}

static int node_start(soak *k, size_t i)
{
    soak_node *nd = &k->nodes[i];
    char v[16];
    cairn_tag t[6];
    size_t nt = node_tags(nd, t, v);
    cairn_serf_config c = k->cfg;
    c.memberlist.name = nd->name;
    c.memberlist.bind = nd->addr;
    c.memberlist.seed = cairn_rng_u64(cairn_sim_rng(k->sim)) | 1;
    c.event_cb = on_event;
    c.event_userdata = nd;
    c.snapshot_path = nd->snap_path;
    c.tags = t;
    c.ntags = nt;
    int r = cairn_sim_node_loop(k->sim, &nd->addr, &nd->loop);
    if (r < 0)
        return r;
    if ((r = cairn_serf_new(nd->loop, &c, NULL, NULL, &nd->serf, NULL)) < 0) {
        cairn_loop_delete(nd->loop);
        nd->loop = NULL;
        return r;
    }
    nd->up = true;
    nd->leaving = nd->left = nd->leave_done = false;
    nd->up_since = cairn_sim_now(k->sim);
    return nd->observer ? router_start(k, nd) : 0;
}

static void node_stop(soak_node *nd)
{
    cairn_serf_adapter_delete(nd->adapter);
    if (nd->router != NULL) {
        /* Stops the managers' timers (the loop goes next); the delete
         * waits for the end of the campaign. */
        cairn_router_shutdown(nd->router);
        soak_graveyard *g = nd->k->grave;
        if (g->n == g->cap) {
            g->cap = g->cap * 2 + 64;
            g->r = realloc(g->r, g->cap * sizeof(*g->r));
            if (g->r == NULL)
                abort();
        }
        g->r[g->n++] = nd->router;
    }
    nd->adapter = NULL;
    nd->router = NULL;
    cairn_serf_delete(nd->serf);
    cairn_loop_delete(nd->loop);
    nd->serf = NULL;
    nd->loop = NULL;
    nd->up = false;
}

/* kill -9: what the serf wrote stays, its buffer is lost (the delete would
 * flush and sync, so the file is put back to its bytes from before). */
static void node_crash(soak *k, soak_node *nd)
{
    const uint8_t *data;
    size_t len;
    uint8_t *copy = NULL;
    bool have = cairn_sim_file_get(k->sim, nd->snap_path, &data, &len) == 0;
    if (have) {
        copy = malloc(len + 1);
        if (copy == NULL)
            abort();
        memcpy(copy, data, len);
    }
    node_stop(nd);
    if (have) {
        if (cairn_sim_file_set(k->sim, nd->snap_path, copy, len) < 0)
            abort();
        free(copy);
    }
    nd->crashed_at = cairn_sim_now(k->sim);
    touch(nd);
}

static size_t count_up(const soak *k)
{
    size_t c = 0;
    for (size_t i = 0; i < k->n; i++)
        c += k->nodes[i].up && !k->nodes[i].leaving;
    return c;
}

/* A random node that is up and not leaving (SIZE_MAX: none). */
static size_t pick_up(soak *k)
{
    size_t c = count_up(k);
    if (c == 0)
        return SIZE_MAX;
    size_t r = cairn_rng_below(&k->rng, c);
    for (size_t i = 0; i < k->n; i++)
        if (k->nodes[i].up && !k->nodes[i].leaving && r-- == 0)
            return i;
    return SIZE_MAX;
}

static size_t pick_down(soak *k)
{
    size_t c = 0;
    for (size_t i = 0; i < k->n; i++)
        c += !k->nodes[i].up;
    if (c == 0)
        return SIZE_MAX;
    size_t r = cairn_rng_below(&k->rng, c);
    for (size_t i = 0; i < k->n; i++)
        if (!k->nodes[i].up && r-- == 0)
            return i;
    return SIZE_MAX;
}

static void on_leave_done(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)count;
    soak_node *nd = ud;
    trace(nd->k, "%s leave done (%s)", nd->name, status == 0 ? "ok" : cairn_strerror(status));
    nd->leave_done = true;
}

static void on_query(cairn_serf_query_handle *q, const cairn_serf_query_result *r, void *ud)
{
    (void)q;
    soak_query *sq = ud;
    if (r->kind == CAIRN_SERF_QUERY_RESPONSE)
        sq->responses++;
    if (r->kind == CAIRN_SERF_QUERY_DONE) {
        sq->done++;
        sq->status = r->status;
    }
}

static void on_join_done(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    soak_node *nd = ud;
    trace(nd->k, "%s join: %s, %d contacted", nd->name, status == 0 ? "ok" : cairn_strerror(status),
          count);
    if (status < 0 || count == 0) {
        nd->join_pending = true;
        nd->join_at = cairn_sim_now(nd->k->sim) + 5 * CAIRN_SEC;
    }
}

/* A restarted node joins one random up node it can reach (an agent's
 * -join with retry_join; ignore_old as the agent's default, no -replay). */
static void retry_joins(soak *k)
{
    cairn_time now = cairn_sim_now(k->sim);
    for (size_t i = 0; i < k->n; i++) {
        soak_node *nd = &k->nodes[i];
        if (!nd->up || nd->leaving || !nd->join_pending || nd->join_at > now)
            continue;
        size_t c = 0, peer = SIZE_MAX;
        for (size_t j = 0; j < k->n; j++)
            if (j != i && k->nodes[j].up && !k->nodes[j].leaving &&
                cairn_sim_reachable(k->sim, &nd->addr, &k->nodes[j].addr) &&
                cairn_rng_below(&k->rng, ++c) == 0)
                peer = j;
        nd->join_at = now + 5 * CAIRN_SEC;
        if (peer == SIZE_MAX)
            continue;
        nd->join_pending = false;
        trace(k, "%s joins %s", nd->name, k->nodes[peer].name);
        int r = cairn_serf_join(nd->serf, &k->nodes[peer].addr, 1, true, on_join_done, nd);
        if (r < 0)
            failf(k, "%s join: %s", nd->name, cairn_strerror(r));
    }
}

/* Shut down nodes whose leave finished (not from inside their callback). */
static void reap_leavers(soak *k)
{
    for (size_t i = 0; i < k->n; i++) {
        soak_node *nd = &k->nodes[i];
        if (nd->up && nd->leave_done) {
            node_stop(nd);
            nd->leaving = false;
            nd->left = true;
        }
    }
}

/* Stalled nodes and partitions: advance in small slices so that leaves are
 * reaped promptly. */
static void run_to(soak *k, cairn_time t)
{
    while (cairn_sim_now(k->sim) < t) {
        cairn_time next = cairn_sim_now(k->sim) + 100 * CAIRN_MSEC;
        cairn_sim_run_until(k->sim, next < t ? next : t);
        reap_leavers(k);
        retry_joins(k);
        for (size_t i = 0; i < k->n; i++)
            if (k->nodes[i].leaving &&
                (k->partitioned || k->blocked || k->nodes[i].stalled_until > cairn_sim_now(k->sim)))
                k->nodes[i].leave_disturbed = true;
        if (cairn_sim_now(k->sim) >= k->next_route_check) {
            route_checks(k);
            k->next_route_check = cairn_sim_now(k->sim) + CAIRN_SEC;
        }
    }
}

/* ---- the schedule ---- */

enum {
    A_PARTITION,
    A_HEAL,
    A_BLOCK,
    A_CRASH,
    A_RESTART,
    A_STALL,
    A_LEAVE,
    A_TAGS,
    A_EVENT,
    A_QUERY,
    A_COUNT
};
static const unsigned action_weight[A_COUNT] = {2, 2, 1, 2, 3, 2, 1, 2, 4, 2};

static void act(soak *k, int a)
{
    size_t i, up = count_up(k);
    switch (a) {
    case A_PARTITION: {
        if (k->partitioned || up < 3)
            return;
        /* A minority of 1..n/2 up nodes goes to group 1 (the draws may
         * repeat a node: fewer move). Both sides are cut off from each
         * other: every up node counts as cut off from now on (after the
         * heal, suspicion timers the minority started during the partition
         * still expire and their dead messages reach the majority, as in
         * memberlist). */
        size_t m = 1 + (size_t)cairn_rng_below(&k->rng, k->n / 2);
        cairn_addr *ips = malloc(m * sizeof(*ips));
        bool *in = calloc(k->n, 1);
        if (ips == NULL || in == NULL)
            abort();
        size_t w = 0;
        for (size_t c = 0; c < m; c++) {
            size_t j = (size_t)cairn_rng_below(&k->rng, k->n);
            if (!k->nodes[j].up || in[j])
                continue;
            in[j] = true;
            ips[w++] = k->nodes[j].addr;
        }
        free(in);
        for (size_t x = 0; x < k->n; x++)
            if (k->nodes[x].up)
                touch(&k->nodes[x]);
        cairn_sim_partition(k->sim, ips, w, 1);
        k->partitioned = w > 0;
        trace(k, "partition: %zu nodes cut off", w);
        free(ips);
        return;
    }
    case A_HEAL:
        if (!k->partitioned && !k->blocked)
            return;
        cairn_sim_heal(k->sim);
        k->partitioned = k->blocked = false;
        trace(k, "heal");
        return;
    case A_BLOCK: {
        if (k->blocked || k->partitioned)
            return;
        size_t a1 = (size_t)cairn_rng_below(&k->rng, k->n);
        size_t b1 = (size_t)cairn_rng_below(&k->rng, k->n);
        if (a1 == b1)
            return;
        cairn_sim_block(k->sim, &k->nodes[a1].addr, &k->nodes[b1].addr);
        touch(&k->nodes[a1]);
        touch(&k->nodes[b1]);
        k->blocked = true;
        trace(k, "block %s <-> %s", k->nodes[a1].name, k->nodes[b1].name);
        return;
    }
    case A_CRASH:
        if (up <= 2 || (i = pick_up(k)) == SIZE_MAX)
            return;
        trace(k, "crash %s", k->nodes[i].name);
        node_crash(k, &k->nodes[i]);
        return;
    case A_RESTART: {
        if ((i = pick_down(k)) == SIZE_MAX)
            return;
        soak_node *nd = &k->nodes[i];
        size_t peer = 0;
        trace(k, "restart %s from its snapshot", nd->name);
        touch(nd);
        nd->restarted = true;
        /* After a graceful leave the snapshot's `leave` resets the clocks
         * (as Serf's): the node comes back as a new member, which may get
         * old events again. Exactly-once spans crash restarts only. */
        if (nd->left)
            memset(nd->got, 0, sizeof(nd->got));
        int r = node_start(k, i);
        if (r < 0) {
            failf(k, "restart %s: %s", nd->name, cairn_strerror(r));
            return;
        }
        (void)peer;
        nd->join_pending = true;
        nd->join_at = cairn_sim_now(k->sim);
        return;
    }
    case A_STALL: {
        if ((i = pick_up(k)) == SIZE_MAX)
            return;
        /* Short (below the suspicion minimum) or long stalls. */
        cairn_time d =
            cairn_rng_below(&k->rng, 2)
                ? 100 * CAIRN_MSEC + (cairn_time)cairn_rng_below(&k->rng, 3000) * CAIRN_MSEC
                : (cairn_time)(5 + cairn_rng_below(&k->rng, 40)) * CAIRN_SEC;
        soak_node *nd = &k->nodes[i];
        touch(nd);
        nd->stalled_until = cairn_sim_now(k->sim) + d;
        cairn_sim_stall(k->sim, &nd->addr, d);
        trace(k, "stall %s for %.1f s", nd->name, (double)d / CAIRN_SEC);
        return;
    }
    case A_LEAVE: {
        if (up <= 2 || (i = pick_up(k)) == SIZE_MAX)
            return;
        soak_node *nd = &k->nodes[i];
        nd->leaving = true;
        nd->leave_disturbed =
            k->partitioned || k->blocked || nd->stalled_until > cairn_sim_now(k->sim);
        /* Connected: besides no cut or stall during the leave, every up
         * node has it alive when it starts (a node the cluster holds
         * failed, e.g. just after a heal, is not yet back). */
        for (size_t j = 0; j < k->n; j++)
            if (j != i && k->nodes[j].up &&
                cairn_serf_member_status(k->nodes[j].serf, nd->name) != CAIRN_MEMBER_ALIVE)
                nd->leave_disturbed = true;
        nd->touched = true;
        trace(k, "leave %s%s", nd->name, nd->leave_disturbed ? " (disturbed)" : "");
        int r = cairn_serf_leave(nd->serf, on_leave_done, nd);
        if (r < 0)
            failf(k, "%s leave: %s", nd->name, cairn_strerror(r));
        return;
    }
    case A_TAGS:
        if ((i = pick_up(k)) == SIZE_MAX)
            return;
        k->nodes[i].tag_version++;
        trace(k, "tags %s v=%u", k->nodes[i].name, k->nodes[i].tag_version);
        set_tags(&k->nodes[i]);
        return;
    case A_EVENT: {
        if (k->nev >= SOAK_MAX_EVENTS || (i = pick_up(k)) == SIZE_MAX)
            return;
        char name[16];
        size_t id = k->nev++;
        snprintf(name, sizeof(name), "ev%zu", id);
        k->ev[id].from = i;
        k->ev[id].at = cairn_sim_now(k->sim);
        trace(k, "user event %s from %s", name, k->nodes[i].name);
        int r = cairn_serf_user_event(k->nodes[i].serf, name, (const uint8_t *)"x", 1, false, NULL);
        if (r < 0)
            failf(k, "%s user_event: %s", k->nodes[i].name, cairn_strerror(r));
        return;
    }
    case A_QUERY: {
        if (k->nq >= SOAK_MAX_QUERY || (i = pick_up(k)) == SIZE_MAX)
            return;
        soak_query *sq = &k->q[k->nq++];
        sq->from = i;
        cairn_serf_query_params p = {.name = "soak", .request_ack = cairn_rng_below(&k->rng, 2)};
        trace(k, "query from %s", k->nodes[i].name);
        int r = cairn_serf_query(k->nodes[i].serf, &p, on_query, sq, NULL);
        if (r < 0)
            failf(k, "%s query: %s", k->nodes[i].name, cairn_strerror(r));
        return;
    }
    default:
        return;
    }
}

static int draw_action(soak *k)
{
    unsigned total = 0;
    for (int a = 0; a < A_COUNT; a++)
        total += action_weight[a];
    unsigned r = (unsigned)cairn_rng_below(&k->rng, total);
    for (int a = 0; a < A_COUNT; a++) {
        if (r < action_weight[a])
            return a;
        r -= action_weight[a];
    }
    return A_EVENT;
}

/* ---- the bound ---- */

static double log10_scale(size_t n)
{
    double s = log10((double)n);
    return s < 1 ? 1 : s;
}

static cairn_time pushpull_interval(const cairn_memberlist_config *m, size_t n)
{
    if (n <= 32)
        return m->push_pull_interval;
    double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
    return (cairn_time)(mult * (double)m->push_pull_interval);
}

static cairn_time calm_susp_max(const cairn_serf_config *c, size_t n)
{
    const cairn_memberlist_config *m = &c->memberlist;
    return (cairn_time)m->suspicion_max_timeout_mult *
           (cairn_time)((double)m->suspicion_mult * log10_scale(n) * (double)m->probe_interval);
}

/* The calm bound (docs/soak.md): (ceil(log2 N) + 2) push/pull(N) +
 * suspicion max(N) + retransmits(N) gossip rounds, the part that heals a
 * view without reconnects (an event sent inside a minority spreads after
 * the heal only by push/pull, which Serf does not re-gossip: a push-pull
 * epidemic of about log2 N rounds), plus 7 (down + 1) reconnect intervals: a member that the
 * others hold failed (or that holds them failed) comes back only through
 * Serf's reconnect, which tries one random failed member per interval; with
 * `down` members really down, each try hits a live one with probability at
 * least 1 / (down + 1), so 7 (down + 1) tries all miss with probability
 * below e^-7 (0.1 %). */
static cairn_time calm_bound(const cairn_serf_config *c, size_t n, size_t down)
{
    const cairn_memberlist_config *m = &c->memberlist;
    int retrans = m->retransmit_mult * (int)ceil(log10((double)n + 1));
    cairn_time rounds = (cairn_time)ceil(log2((double)n)) + 2;
    return rounds * pushpull_interval(m, n) + calm_susp_max(c, n) +
           (cairn_time)retrans * m->gossip_interval +
           (cairn_time)(7 * (down + 1)) * c->reconnect_interval;
}

static size_t count_down(const soak *k)
{
    size_t down = 0;
    for (size_t i = 0; i < k->n; i++)
        down += !k->nodes[i].up || k->nodes[i].leaving;
    return down;
}

/* ---- calm-phase checks ---- */

static bool tag_ok;
static unsigned tag_want;

static bool member_tag_cb(const cairn_member *m, void *ud)
{
    (void)ud;
    tag_ok = false;
    for (size_t t = 0; t < m->ntags; t++)
        if (strcmp(m->tags[t].key, "v") == 0 && (unsigned)atoi(m->tags[t].value) == tag_want)
            tag_ok = true;
    return false;
}

/* Whether the calm-end state holds now; why says what does not. */
static size_t comp_find(size_t *comp, size_t i)
{
    while (comp[i] != i)
        i = comp[i] = comp[comp[i]];
    return i;
}

/* Components of the up nodes under "a knows b as alive, leaving or
 * failed": Serf brings such pairs together (gossip, push/pull, reconnect).
 * A member known to the others only as left or not at all (it left, came
 * back as a new member while they were cut off, and no live node bridges
 * them) is never reconnected by Serf: such splits are counted, not
 * failed. Returns the number of components. */
static size_t components(soak *k)
{
    for (size_t i = 0; i < k->n; i++)
        k->comp[i] = i;
    for (size_t i = 0; i < k->n; i++) {
        if (!k->nodes[i].up)
            continue;
        for (size_t j = 0; j < k->n; j++) {
            if (i == j || !k->nodes[j].up)
                continue;
            int st = cairn_serf_member_status(k->nodes[i].serf, k->nodes[j].name);
            if (st == CAIRN_MEMBER_ALIVE || st == CAIRN_MEMBER_LEAVING || st == CAIRN_MEMBER_FAILED)
                k->comp[comp_find(k->comp, i)] = comp_find(k->comp, j);
        }
    }
    size_t c = 0;
    for (size_t i = 0; i < k->n; i++)
        c += k->nodes[i].up && comp_find(k->comp, i) == i;
    return c;
}

static bool calm_state(soak *k, char *why, size_t whylen)
{
    why[0] = 0;
    k->ncomp = components(k);
    for (size_t i = 0; i < k->n; i++) {
        soak_node *a = &k->nodes[i];
        if (!a->up)
            continue;
        for (size_t j = 0; j < k->n; j++) {
            soak_node *b = &k->nodes[j];
            if (i == j)
                continue;
            int st = cairn_serf_member_status(a->serf, b->name);
            if (b->up && comp_find(k->comp, i) != comp_find(k->comp, j))
                continue;
            if (b->up) {
                if (st != CAIRN_MEMBER_ALIVE) {
                    snprintf(why, whylen, "%s sees live %s as %s", a->name, b->name,
                             cairn_member_status_name(st));
                    return false;
                }
                tag_want = b->tag_version;
                tag_ok = false;
                cairn_serf_get_member(a->serf, b->name, member_tag_cb, NULL);
                if (!tag_ok) {
                    snprintf(why, whylen, "%s has stale tags of %s (want v=%u)", a->name, b->name,
                             b->tag_version);
                    return false;
                }
            } else if (b->left && !b->leave_disturbed && k->link.loss <= SOAK_STRICT_LOSS &&
                       st > 0 && st != CAIRN_MEMBER_LEFT && st != CAIRN_MEMBER_NONE) {
                snprintf(why, whylen, "%s sees %s, which left gracefully, as %s", a->name, b->name,
                         cairn_member_status_name(st));
                return false;
            }
        }
        /* User events: every event that some node up since its delivery
         * still holds reaches every node never restarted and up since
         * before it was sent. */
        for (size_t e = 0; e < k->nev; e++) {
            if (a->restarted || a->up_since > k->ev[e].at || a->got[e] != 0)
                continue;
            bool held = false;
            for (size_t h = 0; h < k->n && !held; h++)
                held = k->nodes[h].up && k->nodes[h].got[e] != 0 &&
                       comp_find(k->comp, h) == comp_find(k->comp, i) &&
                       k->nodes[h].up_since <= k->nodes[h].got_at[e];
            if (held) {
                snprintf(why, whylen, "%s (up since %.1f s) never got ev%zu", a->name,
                         (double)(a->up_since - CAIRN_SIM_START) / CAIRN_SEC, e);
                return false;
            }
        }
    }
    return true;
}

/* ---- the router at the end of the calm phase ---- */

static void force_rebalance(cairn_manager *m, void *ud)
{
    *(int *)ud = cairn_manager_rebalance(m);
}

/* Whether the route of obs for dc d is a live server of d. */
static bool route_live(soak *k, soak_node *obs, unsigned d, cairn_route *rt, int *rc)
{
    *rc = cairn_router_find_route(obs->router, k->dcname[d], rt);
    int j = *rc == 0 ? node_index(k, rt->server.name) : -1;
    return j >= 0 && k->nodes[j].server && k->nodes[j].dc == d && node_live(k, (size_t)j);
}

/* The strict rules once the calm state holds (invariant 6): the
 * every-moment rules; the router lists every live server of each
 * datacenter in the observer's component (with calm_state, its list is
 * then exactly those plus the down servers the observer holds failed);
 * and every datacenter with such a live server is routable to a live
 * server of that datacenter after one rebalance of its manager (run here
 * rather than waited for: the managers' timer fires every 2 min or more).
 * The first route, before that rebalance, may still be a crashed server
 * (Consul's WAN soft fail only rotates a failed server off the front when
 * it is there) or the manager may be offline from a rebalance during a
 * partition: counted, not failed. */
static bool router_calm_check(soak *k, char *why, size_t whylen)
{
    for (size_t i = 0; i < k->n; i++) {
        soak_node *obs = &k->nodes[i];
        if (obs->router == NULL)
            continue;
        if (!route_check(k, obs, why, whylen))
            return false;
        for (unsigned d = 0; d < k->ndc; d++) {
            bool need = false;
            memset(k->listed, 0, k->n * sizeof(*k->listed));
            route_walk w = {k, obs, d, 0, why, whylen};
            cairn_router_check_servers(obs->router, k->dcname[d], route_list_cb, &w);
            for (size_t j = 0; j < k->n; j++) {
                if (!k->nodes[j].server || k->nodes[j].dc != d || !node_live(k, j) ||
                    comp_find(k->comp, j) != comp_find(k->comp, i))
                    continue;
                need = true;
                if (!k->listed[j]) {
                    snprintf(why, whylen, "%s's router misses live %s of %s", obs->name,
                             k->nodes[j].name, k->dcname[d]);
                    return false;
                }
            }
            if (!need)
                continue;
            cairn_route rt;
            int rc;
            if (!route_live(k, obs, d, &rt, &rc)) {
                k->stale_first_routes++;
                trace(k, "%s routes %s to %.64s before a rebalance (counted)", obs->name,
                      k->dcname[d], rc == 0 ? rt.server.name : cairn_strerror(rc));
            }
            int rb = CAIRN_ENOENT;
            cairn_router_with_manager(obs->router, CAIRN_AREA_WAN, k->dcname[d], force_rebalance,
                                      &rb);
            if (rb < 0 || !route_live(k, obs, d, &rt, &rc)) {
                snprintf(why, whylen, "%s routes %s to %.64s after a rebalance (%s)", obs->name,
                         k->dcname[d], rc == 0 ? rt.server.name : cairn_strerror(rc),
                         rb < 0 ? cairn_strerror(rb) : "rebalanced");
                return false;
            }
            trace(k, "%s routes %s to live %.64s", obs->name, k->dcname[d], rt.server.name);
        }
    }
    return true;
}

static bool print_server_cb(const cairn_server *s, void *ud)
{
    (void)ud;
    printf(" %s", s->name);
    return true;
}

/* At a failure with --trace: each observer's router, per datacenter, its
 * server list in order and its route. */
static void print_routers(soak *k)
{
    for (size_t i = 0; i < k->n; i++) {
        soak_node *obs = &k->nodes[i];
        if (obs->router == NULL)
            continue;
        for (unsigned d = 0; d < k->ndc; d++) {
            cairn_route rt;
            int rc = cairn_router_find_route(obs->router, k->dcname[d], &rt);
            printf("router of %s, %s: route %s, servers", obs->name, k->dcname[d],
                   rc == 0 ? rt.server.name : cairn_strerror(rc));
            cairn_router_check_servers(obs->router, k->dcname[d], print_server_cb, NULL);
            putchar('\n');
        }
    }
}

/* ---- one seed ---- */

typedef struct soak_opts {
    size_t min_members, max_members;
    double max_loss;
    bool trace;
    soak_graveyard *grave;
} soak_opts;

typedef struct soak_result {
    size_t n;
    double loss;
    uint64_t false_deaths, leave_failed_events, dup_window, leaves_failed_lossy;
    bool split;
    cairn_time converge_time, bound, sim_time;
    uint64_t sim_events;
    uint64_t route_checks, stale_first_routes;
    bool ok;
    char fail[sizeof(((soak *)0)->fail)];
} soak_result;

/* The Consul pool (docs/soak.md): 1-3 datacenters; each member a server of
 * a random datacenter with probability 0.1-0.9 (drawn per seed), at least
 * one server per datacenter; observers running a Router: every node up to
 * 6 members, else 1-3 random ones. From its own rng (k->crng), so the
 * scenario's stream (k->rng) draws what it drew before the pool existed. */
static void draw_pool(soak *k)
{
    cairn_rng *r = &k->crng;
    cairn_rng_init(r, k->seed ^ 0x726f757465727321ULL);
    k->ndc = 1 + (size_t)cairn_rng_below(r, 3);
    for (size_t d = 0; d < k->ndc; d++)
        snprintf(k->dcname[d], sizeof(k->dcname[d]), "dc%u", (unsigned)(d + 1) % 10);
    double p = 0.1 + 0.8 * cairn_rng_double(r);
    size_t per_dc[3] = {0};
    for (size_t i = 0; i < k->n; i++) {
        k->nodes[i].dc = (unsigned)cairn_rng_below(r, k->ndc);
        k->nodes[i].server = cairn_rng_double(r) < p;
        per_dc[k->nodes[i].dc] += k->nodes[i].server;
    }
    for (unsigned d = 0; d < k->ndc; d++) {
        while (per_dc[d] == 0) {
            /* A plain member becomes d's server, or a server moves from a
             * datacenter that has two or more (n >= 3 >= ndc: one exists
             * when every member is a server). */
            soak_node *nd = &k->nodes[cairn_rng_below(r, k->n)];
            if (nd->server && per_dc[nd->dc] < 2)
                continue;
            if (nd->server)
                per_dc[nd->dc]--;
            nd->server = true;
            nd->dc = d;
            per_dc[d]++;
        }
    }
    if (k->n <= 6) {
        for (size_t i = 0; i < k->n; i++)
            k->nodes[i].observer = true;
    } else {
        size_t m = 1 + (size_t)cairn_rng_below(r, 3);
        for (size_t c = 0; c < m; c++)
            k->nodes[cairn_rng_below(r, k->n)].observer = true;
    }
    size_t servers = 0, obs = 0;
    for (size_t i = 0; i < k->n; i++) {
        servers += k->nodes[i].server;
        obs += k->nodes[i].observer;
    }
    trace(k, "pool: %zu datacenters, %zu servers, %zu observers", k->ndc, servers, obs);
}

static void run_seed(uint64_t seed, const soak_opts *o, soak_result *res)
{
    soak K;
    soak *k = &K;
    memset(k, 0, sizeof(*k));
    memset(res, 0, sizeof(*res));
    k->seed = seed;
    k->trace = o->trace;
    k->grave = o->grave;
    cairn_rng_init(&k->rng, seed ^ 0x5eed5eed5eedULL);
    k->n = o->min_members + (size_t)cairn_rng_below(&k->rng, o->max_members - o->min_members + 1);
    if (cairn_sim_new(seed, &k->sim) < 0)
        abort();
    k->nodes = calloc(k->n, sizeof(*k->nodes));
    k->comp = calloc(k->n, sizeof(*k->comp));
    k->listed = calloc(k->n, sizeof(*k->listed));
    if (k->nodes == NULL || k->comp == NULL || k->listed == NULL)
        abort();
    draw_pool(k);
    k->checks[k->nchecks++] = router_calm_check;
    cairn_serf_config_default(&k->cfg);
    k->cfg.memberlist.enable_compression = false;
    k->bound = calm_bound(&k->cfg, k->n, 0);

    /* The link model during the fault phase. */
    cairn_sim_link *l = &k->link;
    l->latency = (cairn_time)(1 + cairn_rng_below(&k->rng, 20)) * CAIRN_MSEC;
    l->jitter = (cairn_time)cairn_rng_below(&k->rng, 11) * CAIRN_MSEC;
    l->loss = cairn_rng_double(&k->rng) * o->max_loss;
    l->duplicate = cairn_rng_below(&k->rng, 2) ? cairn_rng_double(&k->rng) * 0.05 : 0;
    l->reorder = cairn_rng_below(&k->rng, 2) ? cairn_rng_double(&k->rng) * 0.10 : 0;
    l->reorder_delay = (cairn_time)(1 + cairn_rng_below(&k->rng, 30)) * CAIRN_MSEC;
    cairn_sim_link calm = *l;
    calm.loss = 0;
    trace(k,
          "seed %" PRIu64 ": %zu members, latency %.0f ms, jitter %.0f ms, loss %.1f%%, "
          "dup %.1f%%, reorder %.1f%% (+%.0f ms), calm bound %.0f s",
          seed, k->n, (double)l->latency / CAIRN_MSEC, (double)l->jitter / CAIRN_MSEC,
          l->loss * 100, l->duplicate * 100, l->reorder * 100,
          (double)l->reorder_delay / CAIRN_MSEC, (double)k->bound / CAIRN_SEC);

    /* Formation on the calm link: each node joins an earlier one. */
    cairn_sim_set_default_link(k->sim, &calm);
    for (size_t i = 0; i < k->n; i++) {
        soak_node *nd = &k->nodes[i];
        nd->k = k;
        nd->idx = i;
        if (nd->server)
            snprintf(nd->name, sizeof(nd->name), "n%u.%s", (unsigned)(i % 10000),
                     k->dcname[nd->dc]);
        else
            snprintf(nd->name, sizeof(nd->name), "n%u", (unsigned)(i % 10000));
        snprintf(nd->snap_path, sizeof(nd->snap_path), "/snap/n%u", (unsigned)(i % 10000));
        uint8_t ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        cairn_addr_from_ip(ip, 4, 7946, &nd->addr);
        if (node_start(k, i) < 0)
            abort();
        if (i > 0) {
            size_t peer = (size_t)cairn_rng_below(&k->rng, i);
            cairn_serf_join(nd->serf, &k->nodes[peer].addr, 1, false, NULL, NULL);
        }
        cairn_sim_run_for(k->sim, 10 * CAIRN_MSEC);
    }
    char why[256];
    cairn_time t0 = cairn_sim_now(k->sim);
    while (!calm_state(k, why, sizeof(why))) {
        if (cairn_sim_now(k->sim) - t0 > k->bound) {
            failf(k, "formation did not converge in %.0f s: %s", (double)k->bound / CAIRN_SEC, why);
            break;
        }
        run_to(k, cairn_sim_now(k->sim) + (k->n > 200 ? 5 : 1) * CAIRN_SEC);
    }
    trace(k, "formed");

    /* The fault phase: 30..150 s, one action every 0.5..8 s. */
    cairn_sim_set_default_link(k->sim, l);
    cairn_time end =
        cairn_sim_now(k->sim) + (cairn_time)(30 + cairn_rng_below(&k->rng, 121)) * CAIRN_SEC;
    while (k->fail[0] == 0) {
        cairn_time t =
            cairn_sim_now(k->sim) + (cairn_time)(500 + cairn_rng_below(&k->rng, 7500)) * CAIRN_MSEC;
        if (t >= end)
            break;
        run_to(k, t);
        act(k, draw_action(k));
        route_checks(k);
    }
    run_to(k, end);

    /* Calm: heal, clean links, restart nobody; wait for the leaves and
     * stalls in flight, then everything must hold within the bound. */
    cairn_sim_heal(k->sim);
    k->partitioned = k->blocked = false;
    cairn_sim_set_default_link(k->sim, &calm);
    t0 = cairn_sim_now(k->sim);
    k->bound = calm_bound(&k->cfg, k->n, count_down(k));
    trace(k, "calm (bound %.0f s)", (double)k->bound / CAIRN_SEC);
    for (;;) {
        if (k->fail[0] != 0)
            break;
        bool busy = false;
        for (size_t i = 0; i < k->n; i++)
            busy |= k->nodes[i].leaving || k->nodes[i].stalled_until > cairn_sim_now(k->sim);
        if (busy) {
            /* The bound starts when the last leave and stall are over. */
            t0 = cairn_sim_now(k->sim);
            k->bound = calm_bound(&k->cfg, k->n, count_down(k));
        }
        if (!busy && calm_state(k, why, sizeof(why))) {
            /* Suspicion timers started in the fault phase may still fire
             * (up to the suspicion maximum), and queries close: hold for
             * that long; if the state is lost, keep waiting (the bound
             * still counts). */
            if (k->converge_time == 0)
                k->converge_time = cairn_sim_now(k->sim) - t0;
            run_to(k, cairn_sim_now(k->sim) + calm_susp_max(&k->cfg, k->n) + 20 * CAIRN_SEC);
            if (calm_state(k, why, sizeof(why)))
                break;
            trace(k, "calm state lost again: %s", why);
            k->converge_time = 0;
            continue;
        }
        if (cairn_sim_now(k->sim) - t0 > k->bound) {
            failf(k, "not settled %.0f s into the calm phase: %s", (double)k->bound / CAIRN_SEC,
                  why);
            break;
        }
        run_to(k, cairn_sim_now(k->sim) + (k->n > 200 ? 5 : 1) * CAIRN_SEC);
    }
    if (k->fail[0] != 0 && k->trace && k->n <= 64) {
        for (size_t i = 0; i < k->n; i++) {
            if (!k->nodes[i].up)
                continue;
            printf("view of %s:", k->nodes[i].name);
            for (size_t j = 0; j < k->n; j++) {
                int st = cairn_serf_member_status(k->nodes[i].serf, k->nodes[j].name);
                printf(" %s=%s", k->nodes[j].name, st < 0 ? "-" : cairn_member_status_name(st));
            }
            putchar('\n');
        }
    }
    if (k->fail[0] != 0 && k->trace)
        print_routers(k);
    /* Queries: one DONE each, while the asker lived. */
    for (size_t q = 0; q < k->nq && k->fail[0] == 0; q++) {
        soak_query *sq = &k->q[q];
        if (sq->done > 1 || (k->nodes[sq->from].up && k->nodes[sq->from].crashed_at == 0 &&
                             !k->nodes[sq->from].left && sq->done != 1))
            failf(k, "query %zu from %s: %u done reports", q, k->nodes[sq->from].name, sq->done);
        if (sq->responses > k->n)
            failf(k, "query %zu: %zu responses from %zu nodes", q, sq->responses, k->n);
    }
    for (size_t c = 0; c < k->nchecks && k->fail[0] == 0; c++)
        if (!k->checks[c](k, why, sizeof(why)))
            failf(k, "%s", why);

    for (size_t i = 0; i < k->n; i++)
        for (size_t j = 0; j < k->n; j++)
            if (k->nodes[i].up && k->nodes[j].left && !k->nodes[j].leave_disturbed &&
                cairn_serf_member_status(k->nodes[i].serf, k->nodes[j].name) == CAIRN_MEMBER_FAILED)
                k->leaves_failed_lossy++;
    cairn_sim_stats st;
    cairn_sim_get_stats(k->sim, &st);
    res->n = k->n;
    res->loss = l->loss;
    res->false_deaths = k->false_deaths;
    res->leave_failed_events = k->leave_failed_events;
    res->dup_window = k->dup_window;
    res->split = k->ncomp > 1;
    res->leaves_failed_lossy = k->leaves_failed_lossy;
    res->converge_time = k->converge_time;
    res->bound = k->bound;
    res->sim_time = cairn_sim_now(k->sim) - CAIRN_SIM_START;
    res->sim_events = st.events;
    res->route_checks = k->route_checks;
    res->stale_first_routes = k->stale_first_routes;
    res->ok = k->fail[0] == 0;
    memcpy(res->fail, k->fail, sizeof(res->fail));

    for (size_t i = 0; i < k->n; i++)
        if (k->nodes[i].up)
            node_stop(&k->nodes[i]);
    free(k->nodes);
    free(k->comp);
    free(k->listed);
    cairn_sim_delete(k->sim);
}

/* ---- main ---- */

typedef struct grave_share {
    soak_graveyard *g;
    size_t from, step;
} grave_share;

static void *grave_worker(void *arg)
{
    grave_share *sh = arg;
    for (size_t i = sh->from; i < sh->g->n; i += sh->step)
        cairn_router_delete(sh->g->r[i]);
    return NULL;
}

/* Deletes the shut-down routers, up to 32 threads at a time (they are
 * shut down: no loop, timer or reader touches them any more). */
static void grave_empty(soak_graveyard *g)
{
    enum { WORKERS = 32 };
    pthread_t th[WORKERS];
    grave_share sh[WORKERS];
    size_t w = g->n < WORKERS ? g->n : WORKERS, started = 0;
    for (size_t i = 0; i < w; i++) {
        sh[i] = (grave_share){g, i, w};
        if (pthread_create(&th[i], NULL, grave_worker, &sh[i]) != 0)
            break;
        started++;
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (started < w) /* no threads: one by one */
        for (size_t i = 0; i < g->n; i++)
            if (i % w >= started)
                cairn_router_delete(g->r[i]);
    free(g->r);
    *g = (soak_graveyard){0};
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (s == NULL || *s == 0)
        return false;
    *v = strtoull(s, &end, 10);
    return *end == 0;
}

static int usage(const char *flag)
{
    fprintf(stderr,
            "soak: bad flag %s\n"
            "usage: soak [--seeds N] [--first S] [--seed S] [--min-members A] "
            "[--max-members B] [--max-loss PERCENT] [--trace] [--quiet]\n",
            flag);
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 20, first = 1, min_m = 3, max_m = 16, loss_pct = 60;
    bool quiet = false, single = false;
    soak_opts o = {0};
    soak_graveyard grave = {0};
    o.grave = &grave;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *dst = NULL;
        if (strcmp(a, "--trace") == 0) {
            o.trace = true;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        if (strcmp(a, "--seeds") == 0)
            dst = &seeds;
        else if (strcmp(a, "--first") == 0)
            dst = &first;
        else if (strcmp(a, "--seed") == 0) {
            dst = &first;
            single = true;
        } else if (strcmp(a, "--min-members") == 0)
            dst = &min_m;
        else if (strcmp(a, "--max-members") == 0)
            dst = &max_m;
        else if (strcmp(a, "--max-loss") == 0)
            dst = &loss_pct;
        else
            return usage(a);
        if (i + 1 >= argc || !parse_u64(argv[++i], dst))
            return usage(a);
    }
    if (single)
        seeds = 1;
    if (min_m < 3 || max_m < min_m || max_m > SOAK_MAX_NODES)
        return usage("--min-members/--max-members (3 <= A <= B <= 1000)");
    if (loss_pct > 100)
        return usage("--max-loss");
    o.min_members = (size_t)min_m;
    o.max_members = (size_t)max_m;
    o.max_loss = (double)loss_pct / 100.0;

    uint64_t splits = 0, lossy_leaves = 0, route_checks = 0, stale_routes = 0;
    uint64_t bad = 0, fd_total = 0, fd_runs = 0, lf_total = 0, dupw = 0;
    double worst_ratio = 0;
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    for (uint64_t s = first; s < first + seeds; s++) {
        soak_result r;
        struct timespec a0, a1;
        clock_gettime(CLOCK_MONOTONIC, &a0);
        run_seed(s, &o, &r);
        clock_gettime(CLOCK_MONOTONIC, &a1);
        double wall = (double)(a1.tv_sec - a0.tv_sec) + (double)(a1.tv_nsec - a0.tv_nsec) / 1e9;
        fd_total += r.false_deaths;
        fd_runs += r.false_deaths > 0;
        lf_total += r.leave_failed_events;
        dupw += r.dup_window;
        splits += r.split;
        lossy_leaves += r.leaves_failed_lossy;
        route_checks += r.route_checks;
        stale_routes += r.stale_first_routes;
        if (r.ok && r.bound > 0 && (double)r.converge_time / (double)r.bound > worst_ratio)
            worst_ratio = (double)r.converge_time / (double)r.bound;
        if (!quiet || !r.ok)
            printf(
                "seed %" PRIu64 ": %s n=%zu loss=%.1f%% settled %.0f/%.0f s false-deaths %" PRIu64
                " leave-as-failed-events %" PRIu64 "%s sim %.0f s %" PRIu64 " events %.2f s wall\n",
                s, r.ok ? "ok" : "FAIL", r.n, r.loss * 100, (double)r.converge_time / CAIRN_SEC,
                (double)r.bound / CAIRN_SEC, r.false_deaths, r.leave_failed_events,
                r.split ? " split" : "", (double)r.sim_time / CAIRN_SEC, r.sim_events, wall);
        if (!r.ok) {
            bad++;
            printf("FAIL seed %" PRIu64 ": %s\n  replay: %s --seed %" PRIu64
                   " --min-members %zu --max-members %zu --max-loss %" PRIu64 " --trace\n",
                   s, r.fail, argv[0], s, o.min_members, o.max_members, loss_pct);
        }
        fflush(stdout);
    }
    grave_empty(&grave);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    double wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
    printf("soak: %" PRIu64 " seeds, %" PRIu64 " failed; false deaths %" PRIu64 " (in %" PRIu64
           " runs, all above %.0f%% loss); leave-as-failed events %" PRIu64
           "; leaves ending failed above that loss %" PRIu64 " (observer, leaver) pairs; runs "
           "split by a leave %" PRIu64 "; duplicates inside the snapshot window %" PRIu64
           "; slowest settle %.0f%% of the bound; router checks %" PRIu64
           ", first routes not live at calm end (before the rebalance) %" PRIu64
           "; %.1f s wall, %.0f seeds/hour\n",
           seeds, bad, fd_total, fd_runs, SOAK_STRICT_LOSS * 100, lf_total, lossy_leaves, splits,
           dupw, worst_ratio * 100, route_checks, stale_routes, wall,
           wall > 0 ? (double)seeds * 3600.0 / wall : 0.0);
    return bad == 0 ? 0 : 1;
}
