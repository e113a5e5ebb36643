/* The datacenter Router (Go: agent/router.Router, spec consul-servers §2).
 *
 * What it does. The router groups the Consul servers it hears about by
 * network area and datacenter, with one Manager per (area, datacenter), and
 * keeps an index from datacenter to the managers that reach it, in manager
 * creation order. find_route(dc) walks that list and returns the front
 * server of the first manager that is online; offline managers are skipped
 * with no fallback, exactly as Go's findDirectRoute. A manager is created
 * (and its rebalance timer started) with its area's first server of that
 * datacenter and destroyed when its last server is removed, so the index
 * never holds empty managers (the LAN area's local manager is the one
 * exception: it exists from AddArea on, offline until a server arrives).
 *
 * How it departs from Go. Go guards areas and the index with one RWMutex.
 * Here the hot path (find_route, the datacenter lists) must be lock-free and
 * write no shared memory, so the router publishes its whole read-side state
 * as one immutable snapshot (struct router_snap: the areas, and the dc index
 * sorted by name with each dc's managers in creation order) through an
 * atomic pointer. Readers enter a liburcu-bp read-side section (no thread
 * registration; it only touches the reader's own thread-local counter),
 * load the pointer with acquire order, and use the snapshot and everything
 * it points to (areas, manager records, managers) until they leave the
 * section (servers/rcu.h, shared with the manager, which also tells
 * ThreadSanitizer about grace periods). Writers serialise on a mutex, change
 * their private state (each area's manager list), build a fresh snapshot
 * from it, store it with release order and retire the old snapshot, and any
 * manager or area the new one no longer lists, with call_rcu: liburcu's
 * call_rcu thread frees them once every reader that could still see them
 * has left. Writers never wait for readers; a removed manager is stopped at
 * once on the writer's (loop) thread and only its memory is deferred
 * (cairn__manager_retire). cairn_router_delete waits for the deferred frees
 * (rcu_barrier), so nothing is left pending when it returns. The index is
 * derived from the areas' manager lists each time, so the two can never
 * disagree (Go panics "managers index out of sync" instead).
 *
 * The dc index is sorted by name (for the name list) and also hashed: an
 * open-addressing table of positions keyed by (length, hash), so a lookup
 * costs one strlen, one word-at-a-time hash and one memcmp however many
 * datacenters there are. find_route reads the manager's list inside its own
 * read-side section (cairn__manager_front) instead of nesting a second
 * section, and copies the front server with cairn_server_info_fill. The
 * snapshot pointer sits alone on its cache line at the front of the router,
 * away from the writer mutex.
 *
 * Snapshots change only when a manager or area appears or disappears; adding
 * or removing a server of an existing manager goes straight to that manager,
 * which has its own RCU-published list (cairn/manager.h). fail_server and
 * notify_failed (which rotate a manager's list) take the writer mutex
 * instead of a read-side section: the mutex keeps the manager from being
 * retired during the call.
 *
 * Routes hand out a copy of the server (cairn_server_info) and the manager
 * only as an identity; cairn_router_notify_failed checks that the manager is
 * still in the router before touching it. find_route also tells the two
 * failure cases apart from one consistent snapshot: CAIRN_ENOROUTE for a
 * datacenter the router has no manager for, CAIRN_EUNAVAIL when all of its
 * managers are offline (Go does that in the caller, PR #6399).
 *
 * Not ported: the gRPC ServerTracker hooks and TLSEnabled (the newest
 * AddArea never sets useTLS). Datacenter lists, maps and their JSON are in
 * router_dcs.c.
 */
#include "cairn/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/manager.h"
#include "servers/manager_internal.h"
#include "servers/router_internal.h"

/* ---- read side ---- */

/* A 64-bit multiplicative mix (the murmur3 finaliser's constant). */
#define HASH_MUL 0xff51afd7ed558ccdULL

static uint64_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* dc_key: the index key of the len bytes at name (any bytes): the length,
 * the last 1..8 bytes packed into a word, and a hash of everything. The
 * tail word is read in two (possibly overlapping) 4-byte loads, or as three
 * single bytes below 4 (wyhash's trick); either way it covers every byte
 * of the tail, so for len <= 8 equal (len, tail) means equal strings and no
 * memcmp is needed. */
static inline struct dc_key dc_key(const char *name, size_t len)
{
    struct dc_key k = {.len = len};
    uint64_t h = (uint64_t)len * 0x9e3779b97f4a7c15ULL;
    for (; len > 8; name += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, name, 8);
        h = (h ^ w) * HASH_MUL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    if (len >= 4)
        w = load32(name) | load32(name + len - 4) << 32;
    else if (len > 0)
        w = (uint64_t)(unsigned char)name[0] << 16 | (uint64_t)(unsigned char)name[len / 2] << 8 |
            (unsigned char)name[len - 1];
    h = (h ^ w) * HASH_MUL;
    k.tail = w;
    k.hash = h ^ (h >> 29);
    return k;
}

/* find_dc: cairn__router_snap_find_dc, inlined into find_route. */
__attribute__((always_inline)) static inline const struct snap_dc *
find_dc(const struct router_snap *s, const char *dc)
{
    if (s->ndcs == 0)
        return NULL;
    struct dc_key k = dc_key(dc, strlen(dc));
    uint32_t slot;
    for (size_t i = (size_t)k.hash & s->mask; (slot = s->index[i]) != 0; i = (i + 1) & s->mask) {
        const struct snap_dc *d = &s->dcs[slot - 1];
        if (d->key.hash == k.hash && d->key.tail == k.tail && d->key.len == k.len &&
            (k.len <= 8 || memcmp(d->name, dc, k.len) == 0))
            return d;
    }
    return NULL;
}

const struct snap_dc *cairn__router_snap_find_dc(const struct router_snap *s, const char *dc)
{
    return find_dc(s, dc);
}

/* ---- snapshots (writer side, mutex held) ---- */

static int mgr_order(const void *a, const void *b)
{
    const struct router_mgr *x = *(struct router_mgr *const *)a;
    const struct router_mgr *y = *(struct router_mgr *const *)b;
    int c = strcmp(x->dc, y->dc);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* snap_build makes a snapshot of the writer state, leaving out skip_area
 * and skip_mgr (either may be NULL), in one allocation. */
static int snap_build(cairn_router *r, const struct router_area *skip_area,
                      const struct router_mgr *skip_mgr, struct router_snap **ret_snap)
{
    size_t nareas = 0, nmgrs = 0;
    for (size_t i = 0; i < r->nareas; i++) {
        if (r->areas[i] == skip_area)
            continue;
        nareas++;
        nmgrs += r->areas[i]->nmgrs;
    }
    size_t buckets = 0; /* a power of two >= 2 * ndcs (ndcs <= nmgrs) */
    if (nmgrs > 0)
        for (buckets = 4; buckets < 2 * nmgrs; buckets *= 2)
            ;
    size_t size = sizeof(struct router_snap) + nareas * sizeof(struct router_area *) +
                  nmgrs * (sizeof(struct router_mgr *) + sizeof(struct snap_dc)) +
                  buckets * sizeof(uint32_t);
    struct router_snap *s = cairn_malloc(size);
    if (s == NULL)
        return CAIRN_ENOMEM;
    memset(s, 0, sizeof(*s));
    struct router_area **areas = (struct router_area **)(s + 1);
    struct router_mgr **mgrs = (struct router_mgr **)(areas + nareas);
    struct snap_dc *dcs = (struct snap_dc *)(mgrs + nmgrs);
    uint32_t *index = (uint32_t *)(dcs + nmgrs);
    size_t na = 0, nm = 0;
    for (size_t i = 0; i < r->nareas; i++) {
        struct router_area *a = r->areas[i];
        if (a == skip_area)
            continue;
        areas[na++] = a;
        for (size_t j = 0; j < a->nmgrs; j++) {
            struct router_mgr *m = a->mgrs[j];
            if (m == skip_mgr)
                continue;
            mgrs[nm++] = m;
            if (a->is_lan && strcmp(m->dc, r->local_dc) == 0)
                s->lan = m;
        }
    }
    if (nm > 1)
        qsort(mgrs, nm, sizeof(*mgrs), mgr_order);
    size_t nd = 0;
    for (size_t i = 0; i < nm; i++) {
        if (nd > 0 && strcmp(dcs[nd - 1].name, mgrs[i]->dc) == 0) {
            dcs[nd - 1].n++;
            continue;
        }
        dcs[nd].name = mgrs[i]->dc;
        dcs[nd].key = dc_key(mgrs[i]->dc, strlen(mgrs[i]->dc));
        dcs[nd].mgrs = &mgrs[i];
        dcs[nd].n = 1;
        s->name_bytes += dcs[nd].key.len + 1;
        nd++;
    }
    if (buckets > 0) {
        memset(index, 0, buckets * sizeof(*index));
        for (size_t i = 0; i < nd; i++) {
            size_t j = (size_t)dcs[i].key.hash & (buckets - 1);
            while (index[j] != 0)
                j = (j + 1) & (buckets - 1);
            index[j] = (uint32_t)(i + 1);
        }
        s->index = index;
        s->mask = buckets - 1;
    }
    s->areas = areas;
    s->nareas = na;
    s->dcs = dcs;
    s->ndcs = nd;
    *ret_snap = s;
    return 0;
}

static void snap_free_cb(struct rcu_head *head)
{
    cairn_rcu_callback_begin(head);
    cairn_free(caa_container_of(head, struct router_snap, rcu));
    cairn_rcu_callback_end();
}

/* publish installs s and retires the old snapshot (freed after a grace
 * period). Whatever only the old snapshot referenced must be retired the
 * same way (mgr_free, area_free), never freed at once. Never blocks. */
static void publish(cairn_router *r, struct router_snap *s)
{
    struct router_snap *old = atomic_load_explicit(&r->snap, memory_order_relaxed);
    atomic_store_explicit(&r->snap, s, memory_order_release);
    if (old != &r->empty_snap && old != &r->shut_snap)
        cairn_rcu_call(&old->rcu, snap_free_cb);
}

/* ---- managers and areas (writer side) ---- */

static void mgr_free_cb(struct rcu_head *head)
{
    cairn_rcu_callback_begin(head);
    struct router_mgr *m = caa_container_of(head, struct router_mgr, rcu);
    cairn_free(m->dc);
    cairn_free(m);
    cairn_rcu_callback_end();
}

/* mgr_free stops m's manager now and frees m and the manager after a grace
 * period: readers of an older snapshot may still hold either. */
static void mgr_free(struct router_mgr *m)
{
    if (m == NULL)
        return;
    cairn__manager_retire(m->mgr);
    cairn_rcu_call(&m->rcu, mgr_free_cb);
}

static void area_free_cb(struct rcu_head *head)
{
    cairn_rcu_callback_begin(head);
    struct router_area *a = caa_container_of(head, struct router_area, rcu);
    cairn_free(a->id);
    cairn_free(a);
    cairn_rcu_callback_end();
}

/* area_free retires a and its managers (see mgr_free); the manager array
 * is writer-only and goes at once. */
static void area_free(struct router_area *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nmgrs; i++)
        mgr_free(a->mgrs[i]);
    cairn_free(a->mgrs);
    a->mgrs = NULL;
    a->nmgrs = 0;
    cairn_rcu_call(&a->rcu, area_free_cb);
}

static struct router_area *area_find(cairn_router *r, const char *id)
{
    for (size_t i = 0; i < r->nareas; i++)
        if (strcmp(r->areas[i]->id, id) == 0)
            return r->areas[i];
    return NULL;
}

static struct router_mgr *area_find_mgr(struct router_area *a, const char *dc)
{
    for (size_t i = 0; i < a->nmgrs; i++)
        if (strcmp(a->mgrs[i]->dc, dc) == 0)
            return a->mgrs[i];
    return NULL;
}

static void area_detach_mgr(struct router_area *a, struct router_mgr *m)
{
    for (size_t i = 0; i < a->nmgrs; i++) {
        if (a->mgrs[i] != m)
            continue;
        memmove(&a->mgrs[i], &a->mgrs[i + 1], (a->nmgrs - i - 1) * sizeof(*a->mgrs));
        a->nmgrs--;
        return;
    }
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 4;
    while (ncap < need)
        ncap *= 2;
    void *p = cairn_reallocarray(*arr, ncap, elem);
    if (p == NULL)
        return CAIRN_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* area_new_mgr creates, publishes and starts the manager of (a, dc), with
 * `first` (may be NULL) already in it (Go: maybeInitializeManager plus the
 * first AddServer). On failure nothing changes. */
static int area_new_mgr(cairn_router *r, struct router_area *a, const char *dc, cairn_server *first,
                        struct router_mgr **ret_mgr)
{
    int rc = grow((void **)&a->mgrs, &a->cap, a->nmgrs + 1, sizeof(*a->mgrs));
    if (rc != 0)
        return rc;
    struct router_mgr *m = cairn_calloc(1, sizeof(*m));
    if (m == NULL)
        return CAIRN_ENOMEM;
    m->area = a;
    m->dc = cairn_strdup(dc);
    if (m->dc == NULL) {
        rc = CAIRN_ENOMEM;
        goto fail;
    }
    cairn_manager_config cfg = {
        .loop = r->loop,
        .cluster = &a->cluster,
        .pinger = &a->pinger,
        .server_name = r->server_name,
        .logger = &r->logger,
        .seed = cairn_rng_u64(&r->rng),
    };
    rc = cairn_manager_new(&cfg, &m->mgr);
    if (rc != 0)
        goto fail;
    if (first != NULL && (rc = cairn_manager_add_server(m->mgr, first)) != 0)
        goto fail;
    m->seq = r->next_seq++;
    a->mgrs[a->nmgrs++] = m;
    struct router_snap *s;
    rc = snap_build(r, NULL, NULL, &s);
    if (rc != 0) {
        a->nmgrs--;
        goto fail;
    }
    publish(r, s);
    cairn_manager_start(m->mgr);
    *ret_mgr = m;
    return 0;
fail:
    mgr_free(m);
    return rc;
}

/* add_server_locked: Go's addServer. */
static int add_server_locked(cairn_router *r, struct router_area *a, cairn_server *s)
{
    struct router_mgr *m = area_find_mgr(a, s->datacenter);
    if (m != NULL)
        return cairn_manager_add_server(m->mgr, s);
    return area_new_mgr(r, a, s->datacenter, s, &m);
}

/* ---- lifecycle ---- */

int cairn_router_new(const cairn_router_config *cfg, cairn_router **ret_router)
{
    if (cfg == NULL || cfg->local_datacenter == NULL || cfg->loop == NULL || ret_router == NULL)
        return CAIRN_EINVAL;
    cairn_router *r = cairn_calloc(1, sizeof(*r));
    if (r == NULL)
        return CAIRN_ENOMEM;
    r->local_dc = cairn_strdup(cfg->local_datacenter);
    r->server_name = cairn_strdup(cfg->server_name ? cfg->server_name : "");
    if (r->local_dc == NULL || r->server_name == NULL) {
        cairn_free(r->local_dc);
        cairn_free(r->server_name);
        cairn_free(r);
        return CAIRN_ENOMEM;
    }
    r->loop = cfg->loop;
    if (cfg->logger != NULL)
        r->logger = *cfg->logger;
    else
        r->logger.level = CAIRN_LOG_OFF;
    cairn_rng_init(&r->rng, cfg->seed);
    pthread_mutex_init(&r->mu, NULL);
    r->shut_snap.shutdown = true;
    atomic_init(&r->snap, &r->empty_snap);
    *ret_router = r;
    return 0;
}

void cairn_router_shutdown(cairn_router *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    if (!r->shutdown) {
        publish(r, &r->shut_snap);
        for (size_t i = 0; i < r->nareas; i++)
            area_free(r->areas[i]);
        r->nareas = 0;
        r->shutdown = true;
    }
    pthread_mutex_unlock(&r->mu);
}

void cairn_router_delete(cairn_router *r)
{
    if (r == NULL)
        return;
    cairn_router_shutdown(r);
    /* Everything shutdown retired is freed before we return. */
    cairn_rcu_barrier();
    cairn_free(r->areas);
    pthread_mutex_destroy(&r->mu);
    cairn_free(r->local_dc);
    cairn_free(r->server_name);
    cairn_free(r);
}

/* ---- areas ---- */

/* Members are parsed during the cluster's iteration but added afterwards:
 * adding publishes and may log or start timers, which we keep out of a
 * backend's iteration (it may itself be an RCU read-side section). */
struct populate {
    cairn_router *r;
    struct router_area *area;
    cairn_server **servers;
    size_t n, cap;
    int rc;
    char name[CAIRN_SERVER_NAME_MAX];
};

static bool populate_member(const cairn_member *member, void *userdata)
{
    struct populate *p = userdata;
    cairn_server *s;
    int rc = cairn_server_from_member(member, &s, NULL);
    if (rc != 0 && rc != CAIRN_ENOMEM) {
        if (!p->area->is_lan)
            router_log(p->r, CAIRN_LOG_WARN, "Non-server \"%s\" in server-only area \"%s\"",
                       member->name, p->area->id);
        return true;
    }
    if (rc == 0 && (rc = grow((void **)&p->servers, &p->cap, p->n + 1, sizeof(s))) != 0)
        cairn_server_unref(s);
    if (rc != 0) {
        p->rc = rc;
        snprintf(p->name, sizeof(p->name), "%s", member->name);
        return false;
    }
    p->servers[p->n++] = s;
    return true;
}

/* populate adds every Consul server of the area's cluster (Go: the loop of
 * AddArea). */
static int populate(cairn_router *r, struct router_area *a, cairn_diag *diag)
{
    struct populate p = {.r = r, .area = a};
    int rc = a->cluster.ops->for_each_member(a->cluster.impl, populate_member, &p);
    if (rc != 0 && p.rc == 0)
        cairn_diag_set(diag, rc, "cannot list members of area \"%s\": %s", a->id,
                       cairn_strerror(rc));
    if (rc == 0)
        rc = p.rc;
    for (size_t i = 0; i < p.n; i++) {
        if (rc == 0 && (rc = add_server_locked(r, a, p.servers[i])) != 0)
            snprintf(p.name, sizeof(p.name), "%s", p.servers[i]->name);
        cairn_server_unref(p.servers[i]);
    }
    cairn_free(p.servers);
    if (rc != 0)
        cairn_diag_set(diag, rc, "failed to add server \"%s\" to area \"%s\": %s", p.name, a->id,
                       cairn_strerror(rc));
    return rc;
}

static int area_create(cairn_router *r, const char *id, const cairn_cluster *cluster,
                       const cairn_pinger *pinger, struct router_area **ret_area)
{
    int rc = grow((void **)&r->areas, &r->cap, r->nareas + 1, sizeof(*r->areas));
    if (rc != 0)
        return rc;
    struct router_area *a = cairn_calloc(1, sizeof(*a));
    if (a == NULL)
        return CAIRN_ENOMEM;
    a->id = cairn_strdup(id);
    if (a->id == NULL) {
        cairn_free(a);
        return CAIRN_ENOMEM;
    }
    a->is_lan = strcmp(id, CAIRN_AREA_LAN) == 0;
    a->cluster = *cluster;
    a->pinger = *pinger;
    r->areas[r->nareas++] = a;
    struct router_snap *s;
    rc = snap_build(r, NULL, NULL, &s);
    if (rc != 0) {
        r->nareas--;
        area_free(a);
        return rc;
    }
    publish(r, s);
    *ret_area = a;
    return 0;
}

int cairn_router_add_area(cairn_router *r, const char *area_id, const cairn_cluster *cluster,
                          const cairn_pinger *pinger, cairn_diag *diag)
{
    if (r == NULL || area_id == NULL || cluster == NULL || cluster->ops == NULL || pinger == NULL ||
        pinger->ops == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "add area: missing argument");
    size_t idlen = strlen(area_id);
    if (idlen == 0 || idlen >= CAIRN_ROUTER_AREA_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL, "area ID is %zu bytes, limit %d", idlen,
                              CAIRN_ROUTER_AREA_MAX - 1);
    pthread_mutex_lock(&r->mu);
    int rc;
    struct router_area *a;
    if (r->shutdown) {
        rc = cairn_diag_set(diag, CAIRN_ESHUTDOWN, "cannot add area, router is shut down");
        goto out;
    }
    if (area_find(r, area_id) != NULL) {
        rc = cairn_diag_set(diag, CAIRN_EEXIST, "area ID \"%s\" already exists", area_id);
        goto out;
    }
    rc = area_create(r, area_id, cluster, pinger, &a);
    if (rc != 0) {
        cairn_diag_set(diag, rc, "cannot add area \"%s\": %s", area_id, cairn_strerror(rc));
        goto out;
    }
    if (a->is_lan) {
        struct router_mgr *m;
        router_log(r, CAIRN_LOG_INFO, "Initializing LAN area manager");
        rc = area_new_mgr(r, a, r->local_dc, NULL, &m);
        if (rc != 0) {
            cairn_diag_set(diag, rc, "cannot initialize LAN area manager: %s", cairn_strerror(rc));
            goto out;
        }
    }
    rc = populate(r, a, diag);
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int cairn_router_remove_area(cairn_router *r, const char *area_id, cairn_diag *diag)
{
    if (r == NULL || area_id == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "remove area: missing argument");
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    struct router_area *a = area_find(r, area_id);
    if (a == NULL) {
        rc = cairn_diag_set(diag, CAIRN_ENOENT, "area ID \"%s\" does not exist", area_id);
        goto out;
    }
    struct router_snap *s;
    rc = snap_build(r, a, NULL, &s);
    if (rc != 0) {
        cairn_diag_set(diag, rc, "cannot remove area \"%s\": %s", area_id, cairn_strerror(rc));
        goto out;
    }
    publish(r, s);
    for (size_t i = 0; i < r->nareas; i++) {
        if (r->areas[i] != a)
            continue;
        memmove(&r->areas[i], &r->areas[i + 1], (r->nareas - i - 1) * sizeof(*r->areas));
        r->nareas--;
        break;
    }
    area_free(a);
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- servers ---- */

static int check_server_arg(const cairn_router *r, const char *area_id, const cairn_server *s,
                            cairn_diag *diag)
{
    if (r == NULL || area_id == NULL || s == NULL || s->name == NULL || s->datacenter == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "missing argument");
    return 0;
}

int cairn_router_add_server(cairn_router *r, const char *area_id, cairn_server *s, cairn_diag *diag)
{
    int rc = check_server_arg(r, area_id, s, diag);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&r->mu);
    struct router_area *a = area_find(r, area_id);
    if (a == NULL)
        rc = cairn_diag_set(diag, CAIRN_ENOENT, "area ID \"%s\" does not exist", area_id);
    else if ((rc = add_server_locked(r, a, s)) != 0)
        cairn_diag_set(diag, rc, "failed to add server \"%s\" to area \"%s\": %s", s->name, area_id,
                       cairn_strerror(rc));
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static bool other_name(const cairn_server *s, void *userdata)
{
    return strcmp(s->name, (const char *)userdata) == 0; /* stop at another name */
}

/* remove_server_locked: Go's RemoveServer body. When s is the manager's last
 * server, the manager is unpublished first and then deleted with s still in
 * it, so that readers never see a listed manager with no server (Go does
 * both under its write lock). Only the router changes its managers' lists,
 * and only under the writer mutex, so the check cannot go stale. */
static int remove_server_locked(cairn_router *r, struct router_area *a, const cairn_server *s)
{
    struct router_mgr *m = area_find_mgr(a, s->datacenter);
    if (m == NULL)
        return 0;
    bool last = cairn_manager_num_servers(m->mgr) <= 1 &&
                cairn_manager_check_servers(m->mgr, other_name, (void *)s->name);
    if (!last)
        return cairn_manager_remove_server(m->mgr, s->name);
    struct router_snap *pre;
    int rc = snap_build(r, NULL, m, &pre);
    if (rc != 0)
        return rc;
    area_detach_mgr(a, m);
    publish(r, pre);
    mgr_free(m);
    return 0;
}

int cairn_router_remove_server(cairn_router *r, const char *area_id, const cairn_server *s,
                               cairn_diag *diag)
{
    int rc = check_server_arg(r, area_id, s, diag);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&r->mu);
    struct router_area *a = area_find(r, area_id);
    if (a == NULL)
        rc = cairn_diag_set(diag, CAIRN_ENOENT, "area ID \"%s\" does not exist", area_id);
    else if ((rc = remove_server_locked(r, a, s)) != 0)
        cairn_diag_set(diag, rc, "failed to remove server \"%s\" from area \"%s\": %s", s->name,
                       area_id, cairn_strerror(rc));
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int cairn_router_fail_server(cairn_router *r, const char *area_id, const cairn_server *s,
                             cairn_diag *diag)
{
    int rc = check_server_arg(r, area_id, s, diag);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&r->mu);
    struct router_area *a = area_find(r, area_id);
    if (a == NULL) {
        rc = cairn_diag_set(diag, CAIRN_ENOENT, "area ID \"%s\" does not exist", area_id);
    } else {
        struct router_mgr *m = area_find_mgr(a, s->datacenter);
        if (m != NULL && (rc = cairn_manager_notify_failed_server(m->mgr, s->name)) != 0)
            cairn_diag_set(diag, rc, "failed to fail server \"%s\" in area \"%s\": %s", s->name,
                           area_id, cairn_strerror(rc));
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- routes ---- */

int cairn_router_find_route(cairn_router *r, const char *dc, cairn_route *ret_route)
{
    if (r == NULL || dc == NULL || ret_route == NULL)
        return CAIRN_EINVAL;
    const struct router_snap *s = router_read_lock(r);
    const struct snap_dc *d = find_dc(s, dc);
    int rc = d == NULL ? CAIRN_ENOROUTE : CAIRN_EUNAVAIL;
    for (size_t i = 0; d != NULL && i < d->n; i++) {
        const cairn_manager *m = d->mgrs[i]->mgr;
        const cairn_server *front = cairn__manager_front(m); /* NULL: offline or empty */
        if (front != NULL) {
            cairn_server_info_fill(front, &ret_route->server);
            ret_route->manager = m;
            rc = 0;
            break;
        }
    }
    router_read_unlock(r);
    return rc;
}

int cairn_router_find_lan_route(cairn_router *r, cairn_route *ret_route)
{
    if (r == NULL || ret_route == NULL)
        return CAIRN_EINVAL;
    const struct router_snap *s = router_read_lock(r);
    int rc = CAIRN_ENOROUTE;
    if (s->lan != NULL) {
        rc = cairn_manager_find_server(s->lan->mgr, &ret_route->server);
        if (rc == 0)
            ret_route->manager = s->lan->mgr;
    }
    router_read_unlock(r);
    return rc;
}

void cairn_router_notify_failed(cairn_router *r, const cairn_route *route)
{
    if (r == NULL || route == NULL || route->manager == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nareas; i++) {
        struct router_area *a = r->areas[i];
        for (size_t j = 0; j < a->nmgrs; j++)
            if (a->mgrs[j]->mgr == route->manager)
                cairn_manager_notify_failed_server(a->mgrs[j]->mgr, route->server.name);
    }
    pthread_mutex_unlock(&r->mu);
}

bool cairn_router_has_datacenter(cairn_router *r, const char *dc)
{
    if (r == NULL || dc == NULL)
        return false;
    const struct router_snap *s = router_read_lock(r);
    bool found = cairn__router_snap_find_dc(s, dc) != NULL;
    router_read_unlock(r);
    return found;
}

bool cairn_router_area_has_manager(cairn_router *r, const char *area_id, const char *dc)
{
    if (r == NULL || area_id == NULL || dc == NULL)
        return false;
    const struct router_snap *s = router_read_lock(r);
    const struct snap_dc *d = cairn__router_snap_find_dc(s, dc);
    bool found = false;
    for (size_t i = 0; d != NULL && i < d->n && !found; i++)
        found = strcmp(d->mgrs[i]->area->id, area_id) == 0;
    router_read_unlock(r);
    return found;
}

int cairn_router_with_manager(cairn_router *r, const char *area_id, const char *dc,
                              cairn_router_manager_cb fn, void *userdata)
{
    if (r == NULL || area_id == NULL || dc == NULL || fn == NULL)
        return CAIRN_EINVAL;
    pthread_mutex_lock(&r->mu);
    int rc = CAIRN_ENOENT;
    struct router_area *a = area_find(r, area_id);
    struct router_mgr *m = a != NULL ? area_find_mgr(a, dc) : NULL;
    if (m != NULL) {
        fn(m->mgr, userdata);
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- per-dc server queries ---- */

struct by_addr {
    const char *addr;
    cairn_server_info *info;
    bool found;
};

static bool by_addr_visit(const cairn_server *s, void *userdata)
{
    struct by_addr *q = userdata;
    char buf[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&s->addr, true, buf, sizeof(buf));
    if (strcmp(buf, q->addr) != 0)
        return true;
    cairn_server_info_fill(s, q->info);
    q->found = true;
    return false;
}

int cairn_router_get_server_by_addr(cairn_router *r, const char *dc, const char *addr,
                                    cairn_server_info *ret_info)
{
    if (r == NULL || dc == NULL || addr == NULL || ret_info == NULL)
        return CAIRN_EINVAL;
    struct by_addr q = {.addr = addr, .info = ret_info, .found = false};
    const struct router_snap *s = router_read_lock(r);
    const struct snap_dc *d = cairn__router_snap_find_dc(s, dc);
    for (size_t i = 0; d != NULL && i < d->n && !q.found; i++)
        cairn_manager_check_servers(d->mgrs[i]->mgr, by_addr_visit, &q);
    router_read_unlock(r);
    return q.found ? 0 : CAIRN_ENOENT;
}

void cairn_router_check_servers(cairn_router *r, const char *dc, cairn_server_cb fn, void *userdata)
{
    if (r == NULL || dc == NULL || fn == NULL)
        return;
    const struct router_snap *s = router_read_lock(r);
    const struct snap_dc *d = cairn__router_snap_find_dc(s, dc);
    for (size_t i = 0; d != NULL && i < d->n; i++)
        if (!cairn_manager_check_servers(d->mgrs[i]->mgr, fn, userdata))
            break;
    router_read_unlock(r);
}
