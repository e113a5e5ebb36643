/* router_internal.h: the Router's structures, shared by router.c (writers
 * and route lookups) and router_dcs.c (datacenter lists, maps, JSON). See
 * the essay at the top of router.c for the scheme. */
#ifndef CAIRN_SERVERS_ROUTER_INTERNAL_H
#define CAIRN_SERVERS_ROUTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/log.h"
#include "cairn/manager.h"
#include "cairn/pinger.h"
#include "cairn/rng.h"
#include "cairn/router.h"
#include "servers/rcu.h"

struct router_area;

/* One manager of one (area, datacenter) (Go: managerInfo). Immutable once
 * published, except through the manager's own API; freed by the writer
 * after a grace period. */
struct router_mgr {
    /* The manager; owned. */
    cairn_manager *mgr;
    /* The area it belongs to. */
    struct router_area *area;
    /* Its datacenter; owned. */
    char *dc;
    /* Creation number: the dc index lists managers in this order. */
    uint64_t seq;
    /* Deferred free after it is unpublished (servers/rcu.h). */
    struct rcu_head rcu;
};

/* One network area (Go: areaInfo). id, is_lan, cluster and pinger never
 * change after creation (readers use them); mgrs is writer-only. */
struct router_area {
    char *id;
    bool is_lan;
    cairn_cluster cluster;
    cairn_pinger pinger;
    /* Writer-only: the area's managers, at most one per datacenter. */
    struct router_mgr **mgrs;
    size_t nmgrs, cap;
    /* Deferred free after it is unpublished (servers/rcu.h). */
    struct rcu_head rcu;
};

/* The hash index's key of a datacenter name (router.c: dc_key). */
struct dc_key {
    /* strlen(name). */
    size_t len;
    /* The last 1..8 bytes of the name packed into a word (0 for ""). */
    uint64_t tail;
    /* A hash of the whole name. */
    uint64_t hash;
};

/* One datacenter of the index: its managers in creation order. */
struct snap_dc {
    const char *name;
    struct dc_key key;
    struct router_mgr *const *mgrs;
    size_t n;
};

/* The immutable snapshot readers see. Built by a writer in one allocation,
 * published with a release store, freed after a grace period. */
struct router_snap {
    /* Areas in creation order. */
    struct router_area *const *areas;
    size_t nareas;
    /* Datacenters sorted by byte order (the dc index). */
    const struct snap_dc *dcs;
    size_t ndcs;
    /* Open-addressing hash index over dcs (linear probing): index[h & mask]
     * holds a position in dcs plus 1, 0 for an empty slot; mask + 1 is a
     * power of two at least twice ndcs. NULL when ndcs is 0. */
    const uint32_t *index;
    size_t mask;
    /* Total bytes of the dc names including NULs. */
    size_t name_bytes;
    /* The local datacenter's manager of area "lan", or NULL. */
    struct router_mgr *lan;
    /* True after shutdown. */
    bool shutdown;
    /* Deferred free after it is replaced (servers/rcu.h). */
    struct rcu_head rcu;
};

/* Bytes between the readers' snapshot pointer and the writers' fields: one
 * cache line, so a writer's mutex traffic never invalidates the line every
 * lookup reads, whatever the allocation's alignment. */
#define ROUTER_READER_PAD 64

struct cairn_router {
    /* The published snapshot (readers' field; written only by publish). */
    _Atomic(struct router_snap *) snap;
    char pad[ROUTER_READER_PAD];
    char *local_dc;
    char *server_name;
    cairn_loop *loop;
    cairn_logger logger;
    /* Writer-only: seeds for new managers. */
    cairn_rng rng;
    /* Serialises writers. */
    pthread_mutex_t mu;
    /* Writer-only: areas in creation order. */
    struct router_area **areas;
    size_t nareas, cap;
    uint64_t next_seq;
    bool shutdown;
    /* Embedded snapshots that are never freed: the initial empty one and
     * the one published by shutdown. */
    struct router_snap empty_snap, shut_snap;
};

/* Read side: enter, get the snapshot, leave. */
static inline const struct router_snap *router_read_lock(cairn_router *r)
{
    cairn_rcu_read_lock();
    return atomic_load_explicit(&r->snap, memory_order_acquire);
}

static inline void router_read_unlock(cairn_router *r)
{
    (void)r;
    cairn_rcu_read_unlock();
}

/* cairn__router_snap_find_dc: the dc entry named dc, or NULL (hash index). */
const struct snap_dc *cairn__router_snap_find_dc(const struct router_snap *s, const char *dc);

/* One datacenter and its RTT, for cairn__router_distance_sort. */
struct router_dist {
    const char *name;
    double rtt;
    /* Position before the sort (set by cairn__router_distance_sort). */
    size_t pos;
};

/* cairn__router_distance_sort sorts d stably by ascending rtt with the comparator
 * a < b (Go: sort.Stable(&datacenterSorter{...})). */
void cairn__router_distance_sort(struct router_dist *d, size_t n);

/* router_log: cairn_logf with module "router". */
#define router_log(r, level, ...) cairn_logf(&(r)->logger, (level), "router", __VA_ARGS__)

#endif
