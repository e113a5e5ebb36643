/* cairn/router.h: the datacenter Router (Go: agent/router.Router).
 *
 * A Router knows every Consul server it can reach, grouped by network area
 * (the WAN, the LAN, user areas) and, inside an area, by datacenter: one
 * Manager per (area, datacenter). It answers "which server should my next
 * RPC to datacenter X go to" (find_route), lists datacenters by name and by
 * estimated round-trip time, and keeps the managers in step with Serf events
 * (add/remove/fail server, usually fed by cairn/serf_adapter.h).
 *
 * Threads. Writers (new/delete, shutdown, add/remove area, add/remove server,
 * with_manager) run on the loop thread that owns the managers' timers; they
 * serialise on an internal mutex, which fail_server and notify_failed also
 * take (from any thread). Readers (find_route, find_lan_route,
 * get_datacenters, datacenters_by_distance,
 * has_datacenter, get_datacenter_maps, get_server_by_addr, check_servers)
 * may run on any thread at the same time as writers and each other: they
 * are lock-free (liburcu-bp read-side sections over an immutable index
 * snapshot), never touch a reference count, and copy their answers into
 * caller storage. The readers that walk area members (datacenters by
 * distance, datacenter maps) call the area's cluster functions on the
 * calling thread, so they are only as thread-safe as that cluster backend;
 * they call them inside a read-side section (which keeps a concurrently
 * removed area's cluster valid), so the backend must not block there on a
 * thread that may be deleting a router or manager (deletes wait for
 * read-side sections to end; other writers never wait: what they replace
 * is freed after a grace period on liburcu's call_rcu thread). Conversely,
 * a backend must not deliver events or member iterations to writers
 * (add_area, the serf adapter) from inside its own RCU read-side section.
 * No reader may be called after (or concurrently with) cairn_router_delete.
 *
 * Errors: 0 or a negative CAIRN_E* code; when a cairn_diag is given it
 * receives Consul's sentence (`area ID "other" does not exist`, `cannot add
 * area, router is shut down`).
 */
#ifndef CAIRN_ROUTER_H
#define CAIRN_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/manager.h"
#include "cairn/pinger.h"
#include "cairn/server.h"

/* Go: types.AreaWAN and types.AreaLAN. */
#define CAIRN_AREA_WAN "wan"
#define CAIRN_AREA_LAN "lan"

/* Longest area ID accepted, bytes including the NUL (Enterprise area IDs
 * are 36-character UUIDs). */
#define CAIRN_ROUTER_AREA_MAX 64

/* Opaque: a Router (cairn_router_new / cairn_router_delete). */
typedef struct cairn_router cairn_router;

/* What cairn_router_new needs. */
typedef struct cairn_router_config {
    /* This agent's datacenter (Go: localDatacenter); required. */
    const char *local_datacenter;
    /* This server's own member name, or NULL/"" on a client (Go: serverName):
     * managers treat the server of this name as healthy without a ping. */
    const char *server_name;
    /* The loop that runs the managers' rebalance timers; required. */
    cairn_loop *loop;
    /* Log sink (module "router"; managers log as "manager"); may be NULL.
     * Copied. */
    const cairn_logger *logger;
    /* Seed for the managers' shuffles and jitter (each manager gets its own
     * stream split from it). */
    uint64_t seed;
} cairn_router_config;

/* What a route lookup returns: the server to use and the manager that chose
 * it. */
typedef struct cairn_route {
    /* The manager that gave the server (Go: the *Manager of FindRoute). It is
     * an identity, not a reference: it may be destroyed by the next writer.
     * Hand the route back to cairn_router_notify_failed instead of calling
     * the manager directly. */
    const cairn_manager *manager;
    /* A copy of the chosen server's request fields. */
    cairn_server_info server;
} cairn_route;

/* cairn_router_new makes a router for cfg (Go: NewRouter). Returns 0 and
 * *ret_router (owned by the caller, cairn_router_delete), CAIRN_EINVAL (NULL
 * cfg, local_datacenter or loop) or CAIRN_ENOMEM. */
int cairn_router_new(const cairn_router_config *cfg, cairn_router **ret_router);

/* cairn_router_delete shuts the router down (if not already) and frees it;
 * it waits until everything the router retired has been freed after a
 * grace period (rcu_barrier), so nothing is pending when it returns.
 * Accepts NULL. Loop thread, not inside an RCU read-side section. */
void cairn_router_delete(cairn_router *r);

/* cairn_router_shutdown (Go: Shutdown) removes every area and stops and
 * frees every manager; afterwards find_route fails, add_area returns
 * CAIRN_ESHUTDOWN ("cannot add area, router is shut down") and the other
 * writers report unknown areas. Idempotent. Loop thread. */
void cairn_router_shutdown(cairn_router *r);

/* cairn_router_add_area (Go: AddArea) registers area `area_id` over cluster
 * (its member list, coordinates and size) with pinger (used by the area's
 * managers to probe servers), then adds every Consul server among the
 * cluster's members, whatever their status. The area "lan" also gets a
 * manager for the local datacenter at once (offline until its first
 * server). Non-servers are logged (WARN `Non-server "<name>" in
 * server-only area "<id>"`, not in the LAN area) and skipped. cluster and
 * pinger are copied; what they point to must outlive the area.
 * Returns 0; CAIRN_ESHUTDOWN; CAIRN_EEXIST (`area ID "<id>" already
 * exists`); CAIRN_EINVAL (NULL argument, area ID empty or longer than
 * CAIRN_ROUTER_AREA_MAX-1); CAIRN_ENOMEM (the area is then not added, or,
 * when the failure hits while adding servers, `failed to add server "<name>"
 * to area "<id>": out of memory` and the area stays registered with the
 * servers added so far, as Go does); or the cluster's error from listing
 * members. Loop thread. */
int cairn_router_add_area(cairn_router *r, const char *area_id, const cairn_cluster *cluster,
                          const cairn_pinger *pinger, cairn_diag *diag);

/* cairn_router_remove_area (Go: RemoveArea) removes the area and frees its
 * managers. 0 or CAIRN_ENOENT (`area ID "<id>" does not exist`). Loop
 * thread. */
int cairn_router_remove_area(cairn_router *r, const char *area_id, cairn_diag *diag);

/* cairn_router_add_server (Go: AddServer) adds s to the manager of
 * (area_id, s->datacenter), creating and starting that manager first when
 * needed; a server of the same name is replaced in place. The router takes
 * its own reference to s. 0, CAIRN_ENOENT (unknown area), CAIRN_EINVAL or
 * CAIRN_ENOMEM (nothing changed). Loop thread. */
int cairn_router_add_server(cairn_router *r, const char *area_id, cairn_server *s,
                            cairn_diag *diag);

/* cairn_router_remove_server (Go: RemoveServer) removes the server named
 * s->name from the manager of (area_id, s->datacenter); a manager left empty
 * is removed and freed. No such manager is a quiet success (Serf event
 * order is not deterministic). 0, CAIRN_ENOENT (unknown area), CAIRN_EINVAL
 * or CAIRN_ENOMEM. Loop thread. */
int cairn_router_remove_server(cairn_router *r, const char *area_id, const cairn_server *s,
                               cairn_diag *diag);

/* cairn_router_fail_server (Go: FailServer) tells the manager of (area_id,
 * s->datacenter) that s failed: it rotates s away from the front if s is
 * there (WAN soft fail); the server stays known. No manager is a quiet
 * success. 0, CAIRN_ENOENT (unknown area), CAIRN_EINVAL or CAIRN_ENOMEM.
 * Any thread (takes the writer mutex, as the manager's rotation must run
 * outside read-side sections). */
int cairn_router_fail_server(cairn_router *r, const char *area_id, const cairn_server *s,
                             cairn_diag *diag);

/* cairn_router_find_route (Go: FindRoute) picks a server for datacenter dc:
 * the front server of the first online manager of dc in manager creation
 * order (offline managers are skipped with no fallback). Returns 0 and
 * *ret_route; CAIRN_ENOROUTE when the router knows no manager for dc (Go:
 * ErrNoDCPath, "No path to datacenter"); CAIRN_EUNAVAIL when it does but
 * none is online with a server (Go: ErrDCNotAvailable, "Remote DC has no
 * server currently reachable", PR #6399); CAIRN_EINVAL. Any thread,
 * lock-free, allocation-free. */
int cairn_router_find_route(cairn_router *r, const char *dc, cairn_route *ret_route);

/* cairn_router_find_lan_route (Go: FindLANRoute) uses the local
 * datacenter's manager in area "lan", ignoring its offline flag. 0 and
 * *ret_route; CAIRN_ENOROUTE when there is no such manager; CAIRN_ENOSERVERS
 * when it has no server (Go: a NULL server). Any thread, lock-free. */
int cairn_router_find_lan_route(cairn_router *r, cairn_route *ret_route);

/* cairn_router_notify_failed reports that the server of a route returned by
 * find_route/find_lan_route failed an RPC (Go: manager.NotifyFailedServer):
 * if that manager still exists it rotates the server away from the front.
 * A stale route is a quiet no-op. Any thread (takes the writer mutex). */
void cairn_router_notify_failed(cairn_router *r, const cairn_route *route);

/* cairn_router_has_datacenter (Go: HasDatacenter): whether any area has a
 * manager for dc. Any thread, lock-free. */
bool cairn_router_has_datacenter(cairn_router *r, const char *dc);

/* A list of datacenter names copied into caller storage. */
typedef struct cairn_dc_buf {
    /* Caller's array of name pointers (names_cap entries). */
    const char **names;
    /* Optional caller array (names_cap entries) for the RTT of each name in
     * seconds (datacenters_by_distance only); may be NULL. */
    double *rtts;
    size_t names_cap;
    /* Caller's bytes for the names themselves (NUL-terminated, packed). */
    char *bytes;
    size_t bytes_cap;
} cairn_dc_buf;

/* cairn_router_get_datacenters (Go: GetDatacenters): the datacenters that
 * have a manager in some area, sorted by byte order, offline ones included.
 * Fills buf (names point into buf->bytes) and *ret_n. CAIRN_ENOSPC when the
 * names or bytes do not fit (diag says how many were needed), CAIRN_EINVAL.
 * Any thread, lock-free, allocation-free. */
int cairn_router_get_datacenters(cairn_router *r, cairn_dc_buf *buf, size_t *ret_n,
                                 cairn_diag *diag);

/* cairn_router_get_datacenters_by_distance (Go: GetDatacentersByDistance):
 * the datacenters of every Consul server member of every area (not of the
 * managers), ordered by estimated RTT: per area the local datacenter counts
 * 0.0 and others the distance from this node's coordinate to the member's
 * cached one (+Inf when either is unknown; an invalid, NaN distance counts
 * as +Inf); per datacenter the upper median (sorted[len/2]) per area, then
 * the minimum across areas; names sorted by byte order, then stably by RTT.
 * Members with status left are skipped (PR #6420); non-servers are skipped
 * (WARN, not in the LAN area). An area whose cluster fails get_coordinate
 * with anything but CAIRN_ENOENT (read as "no coordinate") fails the whole
 * call with that error. Fills buf (and buf->rtts when non-NULL) and *ret_n;
 * CAIRN_ENOSPC as above; CAIRN_ENOMEM (scratch memory). Any thread,
 * lock-free (see the header comment about cluster backends). */
int cairn_router_get_datacenters_by_distance(cairn_router *r, cairn_dc_buf *buf, size_t *ret_n,
                                             cairn_diag *diag);

/* One coordinate of a datacenter map (Go: structs.Coordinate). */
typedef struct cairn_dc_coord {
    /* Full member name ("node1.dc1"). */
    char *node;
    /* The member's cached coordinate. */
    cairn_coord coord;
} cairn_dc_coord;

/* One datacenter of one area (Go: structs.DatacenterMap). */
typedef struct cairn_dc_map {
    /* The datacenter name (owned by the map). */
    char *datacenter;
    /* The area it was seen in, e.g. "wan" (owned by the map). */
    char *area_id;
    /* Coordinates in member order; n >= 1. */
    cairn_dc_coord *coords;
    /* Number of maps. */
    size_t n;
} cairn_dc_map;

/* A list of datacenter maps (Go: []structs.DatacenterMap). */
typedef struct cairn_dc_maps {
    /* n maps, owned by the list (cairn_dc_maps_free). */
    cairn_dc_map *maps;
    size_t n;
} cairn_dc_maps;

/* cairn_router_get_datacenter_maps (Go: GetDatacenterMaps): per area, per
 * datacenter, the cached coordinates of its Consul servers that have one
 * (left members and non-servers skipped; datacenters with no coordinate
 * omitted). Areas in creation order, datacenters in first-seen member order.
 * 0 and *ret_maps (free with cairn_dc_maps_free), CAIRN_ENOMEM,
 * CAIRN_EINVAL, or the cluster's error. Any thread (as by distance). */
int cairn_router_get_datacenter_maps(cairn_router *r, cairn_dc_maps **ret_maps, cairn_diag *diag);

/* cairn_dc_maps_free frees maps (NULL ok). */
void cairn_dc_maps_free(cairn_dc_maps *maps);

/* cairn_dc_maps_to_json renders maps as Consul's GET
 * /v1/coordinate/datacenters body: entries of area "lan" dropped, the
 * ".<Datacenter>" suffix stripped from node names, each coordinate as
 * {"Node","Segment":"","Coord":{"Vec","Error","Adjustment","Height"}}, and
 * "[]" when empty. 0 and *ret_json (NUL-terminated, free with cairn_free),
 * CAIRN_ENOMEM or CAIRN_EINVAL. Thread-safe. */
int cairn_dc_maps_to_json(const cairn_dc_maps *maps, char **ret_json);

/* cairn_router_get_server_by_addr (Go: GetServerMetadataByAddr): the first
 * server of dc (managers in order, servers in list order) whose RPC address
 * formats as addr ("10.0.0.1:8300", "[fd00::1]:8300"). 0 and *ret_info, or
 * CAIRN_ENOENT. Any thread, lock-free. */
int cairn_router_get_server_by_addr(cairn_router *r, const char *dc, const char *addr,
                                    cairn_server_info *ret_info);

/* cairn_router_check_servers (Go: CheckServers): calls fn for each server of
 * each manager of dc in order, stopping everything at the first false. A
 * missing dc is a no-op. Any thread; fn runs inside an RCU read-side
 * section, so it must not call router or manager writers (see
 * cairn_server_cb in cairn/manager.h). */
void cairn_router_check_servers(cairn_router *r, const char *dc, cairn_server_cb fn,
                                void *userdata);

/* Runs with the writer mutex held and the manager of (area, dc); the
 * manager is valid only during the call. */
typedef void (*cairn_router_manager_cb)(cairn_manager *m, void *userdata);

/* cairn_router_with_manager calls fn with the manager of (area_id, dc) under
 * the writer mutex (the tests' "under the write lock" access, e.g. to force
 * a rebalance). 0, or CAIRN_ENOENT when there is no such area or manager.
 * Loop thread. */
int cairn_router_with_manager(cairn_router *r, const char *area_id, const char *dc,
                              cairn_router_manager_cb fn, void *userdata);

/* cairn_router_area_has_manager: whether area_id has a manager for dc
 * (introspection for tests and status output). Any thread, lock-free. */
bool cairn_router_area_has_manager(cairn_router *r, const char *area_id, const char *dc);

#endif
