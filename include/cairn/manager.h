/* cairn/manager.h: the server Manager (Go: agent/router.Manager).
 *
 * One manager per (network area, datacenter), plus a client's LAN manager. It
 * holds an ordered list of the datacenter's servers; position 0 is "the"
 * server for the next RPC. Order is the whole load-balancing mechanism: a
 * failed front server is rotated to the back (notify_failed_server), and a
 * periodic rebalance shuffles the list and pings from the front until a
 * server answers, so load spreads and the front is known reachable.
 *
 * Threads and the hot path:
 *   - find_server, find_server_ref, num_servers, is_offline and
 *     check_servers may be called from any thread, at any time, also
 *     concurrently with writers. They are lock-free: they read an immutable
 *     snapshot of the list inside an RCU read-side section (liburcu-bp, no
 *     thread registration needed) and, except find_server_ref, write no
 *     shared memory (no locks, no reference counts).
 *   - add_server, remove_server, notify_failed_server and update_tls may be
 *     called from any thread; they serialise on the manager's mutex, build a
 *     new snapshot and publish it atomically. They never wait for readers:
 *     the old snapshot is freed after a grace period on liburcu's call_rcu
 *     thread (deferred reclamation), so a write costs microseconds whatever
 *     the readers do. Do not call them from a check_servers callback.
 *   - new, delete, start, rebalance, reset_rebalance_timer and
 *     next_rebalance run on the loop thread only (they touch the timer and
 *     the pinger). Pinger completions and the timer run on the loop thread.
 *     The loop thread never blocks on a ping.
 *
 * Ownership: the manager keeps its own reference to every record in its
 * list; add_server takes a new reference (the caller keeps its own). The
 * cluster, pinger, loop and hook pointers are borrowed and must outlive the
 * manager. Strings in the config are copied.
 *
 * Offline flag (Go: offline): true after new, false after any add_server,
 * then set by each completed rebalance (true when no server answered, which
 * includes an empty list). remove_server and notify_failed_server do not
 * change it.
 */
#ifndef CAIRN_MANAGER_H
#define CAIRN_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/pinger.h"
#include "cairn/rng.h"
#include "cairn/server.h"
#include "cairn/time.h"

/* Rebalance delay tunables (Go: rebalanceDelayer, newest Consul). */
/* The shortest interval between rebalances, and the first fire after start
 * (no jitter on the first fire). */
#define CAIRN_REBALANCE_MIN_DELAY (2 * CAIRN_MIN)
/* Jitter added to the minimum: uniform in [0, 1 min). */
#define CAIRN_REBALANCE_MAX_JITTER (1 * CAIRN_MIN)
/* 1/64 s per node per server: each server should see at most 64 new
 * connections per second from rebalancing (Go: newRebalanceConnsPerSecPerServer). */
#define CAIRN_REBALANCE_DELAY_PER_NODE ((cairn_time)15625000)

/* Opaque: the server list of one datacenter (cairn_manager_new / cairn_manager_delete). */
typedef struct cairn_manager cairn_manager;

/* Called on every rebalance timer tick, before the rebalance starts (Go:
 * Rebalancer, from the gRPC ServerTracker). Runs on the loop thread; it may
 * call any manager function except cairn_manager_delete on this manager. */
typedef void (*cairn_rebalancer_cb)(void *userdata);

/* Called once per check_servers element with a record that is valid only
 * during the call (do not unref it; take a reference to keep it). Return
 * false to stop. Runs inside an RCU read-side section: it must not block,
 * and must not call add/remove/notify_failed/update_tls/delete of any manager. */
typedef bool (*cairn_server_cb)(const cairn_server *s, void *userdata);

/* Manager configuration; read by cairn_manager_new, not kept. */
typedef struct cairn_manager_config {
    /* The loop the rebalance timer runs on (required, borrowed). */
    cairn_loop *loop;
    /* Cluster for num_nodes (Go: ManagerSerfCluster); required, copied by
     * value (ops and impl are borrowed and must outlive the manager).
     * num_nodes is called on the loop thread. */
    const cairn_cluster *cluster;
    /* Pinger used by rebalance (required, copied by value, impl borrowed). */
    const cairn_pinger *pinger;
    /* This agent's own server name (Go: serverName), or NULL/"". A server
     * of that name counts as healthy without a ping (#8401). Copied. */
    const char *server_name;
    /* Optional hook called on each timer tick before the rebalance. */
    cairn_rebalancer_cb rebalancer;
    /* Passed to rebalancer. */
    void *rebalancer_userdata;
    /* Log sink, copied (NULL: silent). Module name "manager". */
    const cairn_logger *logger;
    /* Seed of the manager's own PRNG (shuffles and jitter). */
    uint64_t seed;
} cairn_manager_config;

/* cairn_manager_new creates a manager with an empty (non-NULL) list,
 * offline, and its rebalance timer created but not armed (see start).
 * Returns 0 and *ret_manager (owned by the caller: cairn_manager_delete),
 * CAIRN_EINVAL (missing loop, cluster, pinger or their ops; server_name
 * longer than CAIRN_SERVER_NAME_MAX - 1) or CAIRN_ENOMEM. Loop thread. */
int cairn_manager_new(const cairn_manager_config *cfg, cairn_manager **ret_manager);

/* cairn_manager_delete stops the timer, cancels an in-flight ping (the
 * pinger's done is then never called), hands the manager's memory to
 * liburcu's call_rcu thread to be freed after a grace period, and waits
 * until every deferred free scheduled so far has run (rcu_barrier), so
 * everything, including the manager's references to its records, is
 * released when it returns. Accepts NULL. Loop thread; not from inside the
 * manager's own rebalancer hook, nor inside an RCU read-side section.
 * Readers on other threads may still be inside a lookup of this manager if
 * they reached it through a structure (e.g. the Router's snapshot) that the
 * caller unpublished before calling delete: the grace period waits for
 * them. No new call on this manager may start once delete has begun. */
void cairn_manager_delete(cairn_manager *m);

/* cairn_manager_start arms the rebalance timer to fire after exactly
 * CAIRN_REBALANCE_MIN_DELAY (Go: Start/Run). Each fire calls the rebalancer
 * hook, then rebalances; when the rebalance completes, the timer is re-armed
 * with cairn_rebalance_delay(post-rebalance num_servers, cluster num_nodes,
 * fresh jitter). Idempotent (a second call re-arms at 2 min). Loop thread.
 * Stopping is cairn_manager_delete (Go: shutdownCh). */
void cairn_manager_start(cairn_manager *m);

/* cairn_manager_add_server adds s, or replaces in place the record with the
 * same name (same position), and marks the manager online (Go: AddServer).
 * Never pings. Takes a new reference to s; the caller keeps its own.
 * 0, CAIRN_EINVAL (NULL) or CAIRN_ENOMEM (nothing changed). Any thread. */
int cairn_manager_add_server(cairn_manager *m, cairn_server *s);

/* cairn_manager_remove_server removes the server named `name`, keeping the
 * order of the others (Go: RemoveServer). An unknown name is a silent no-op
 * (returns 0). The offline flag is untouched. 0, CAIRN_EINVAL (NULL) or
 * CAIRN_ENOMEM (nothing changed). Any thread. */
int cairn_manager_remove_server(cairn_manager *m, const char *name);

/* cairn_manager_find_server copies the front server into *ret_info
 * (caller-owned) (Go: FindServer). 0, or CAIRN_ENOSERVERS when the list is
 * empty (also logs WARN "No servers available", as Go does on every call),
 * or CAIRN_EINVAL (NULL). No health check: the front is "the" server.
 * Any thread; lock-free; writes no shared memory. */
int cairn_manager_find_server(const cairn_manager *m, cairn_server_info *ret_info);

/* cairn_manager_find_server_ref: like find_server, but returns a new
 * reference to the front record in *ret_server (the caller unrefs it).
 * Lock-free, but increments the record's reference count, so it is not the
 * hot path. 0, CAIRN_ENOSERVERS or CAIRN_EINVAL. Any thread. */
int cairn_manager_find_server_ref(const cairn_manager *m, cairn_server **ret_server);

/* cairn_manager_notify_failed_server rotates the front server to the back
 * when it is named `name` and the list holds more than one server (Go:
 * NotifyFailedServer). Concurrent notifications are dropped, not queued
 * (a compare-and-swap try-lock), so two notifications for the same front
 * server rotate at most once. Otherwise a no-op. 0, CAIRN_EINVAL (NULL) or
 * CAIRN_ENOMEM (not rotated). Any thread. */
int cairn_manager_notify_failed_server(cairn_manager *m, const char *name);

/* cairn_manager_num_servers: the number of servers in the list, healthy or
 * not (Go: NumServers); 0 for NULL. Any thread; lock-free; writes nothing. */
size_t cairn_manager_num_servers(const cairn_manager *m);

/* cairn_manager_is_offline: the offline flag (Go: IsOffline); true for NULL.
 * Any thread; lock-free; writes nothing. */
bool cairn_manager_is_offline(const cairn_manager *m);

/* cairn_manager_check_servers calls fn on each server of the current
 * snapshot in order, stopping at the first false (Go: checkServers).
 * Returns false if fn returned false, else true (true for NULL m). See
 * cairn_server_cb for what fn may do. Any thread; lock-free. */
bool cairn_manager_check_servers(const cairn_manager *m, cairn_server_cb fn, void *userdata);

/* cairn_manager_rebalance starts a rebalance (Go: RebalanceServers): copy
 * the list, shuffle the copy, then ping from the front through the pinger,
 * rotating the copy on each failure (#3463), until one server answers or
 * all were tried. A server named like config.server_name counts as healthy
 * without a ping (#8401). None healthy (or an empty list): offline, nothing
 * published. Otherwise online, and the copy is reconciled with adds and
 * removes that happened meanwhile (spec §1.12) and published, unless the
 * verified server was removed meanwhile.
 *
 * Asynchronous: it returns after starting the first ping. With a pinger
 * that completes inside ping() (the test fakes) the whole rebalance is done
 * when it returns. Returns 0 (started; or completed, when synchronous),
 * CAIRN_EBUSY (a rebalance is already in flight: nothing started),
 * CAIRN_ENOMEM (nothing started; or, when the rebalance completed
 * synchronously, the reconcile could not allocate and the list stays as it
 * was, "frozen in place"), CAIRN_EINVAL (NULL). An allocation failure at an
 * asynchronous completion is logged and leaves the list as it was. A ping
 * that cannot be started counts as a failed ping. Loop thread. */
int cairn_manager_rebalance(cairn_manager *m);

/* cairn_manager_rebalancing: true while a rebalance waits for a ping.
 * Loop thread. */
bool cairn_manager_rebalancing(const cairn_manager *m);

/* cairn_manager_reset_rebalance_timer re-arms the timer at exactly
 * CAIRN_REBALANCE_MIN_DELAY from now (Go: ResetRebalanceTimer, "exists for
 * testing"). Loop thread. */
void cairn_manager_reset_rebalance_timer(cairn_manager *m);

/* cairn_manager_next_rebalance: the loop time at which the timer fires
 * next, or -1 when it is not armed (for tests and status). Loop thread. */
cairn_time cairn_manager_next_rebalance(const cairn_manager *m);

/* cairn_manager_update_tls sets use_tls on every server (Go: UpdateTLS).
 * Records are immutable, so each is replaced by a copy with the new flag,
 * and the new list is published. 0, CAIRN_EINVAL or CAIRN_ENOMEM (nothing
 * changed). Any thread. */
int cairn_manager_update_tls(cairn_manager *m, bool use_tls);

/* cairn_rebalance_delay: the interval until the next rebalance (Go:
 * rebalanceDelayer.Delay): min = CAIRN_REBALANCE_MIN_DELAY + jitter; with
 * servers == 0 the result is min; otherwise
 * d = (int64)((double)nodes * 15625000.0 / (double)servers) ns and the
 * result is max(d, min). jitter should be uniform in [0,
 * CAIRN_REBALANCE_MAX_JITTER) (the manager draws it from its PRNG).
 * Pure; thread-safe. */
cairn_time cairn_rebalance_delay(size_t servers, size_t nodes, cairn_time jitter);

/* cairn_rate_scaled_interval (Go: lib.RateScaledInterval): min when
 * rate <= 1/86400; else (int64)(1e9 * n / rate) ns, at least min. Pure. */
cairn_time cairn_rate_scaled_interval(double rate, cairn_time min, size_t n);

/* cairn_random_stagger (Go: lib.RandomStagger): uniform in [0, d) drawn from
 * rng; 0 when d <= 0. Thread-safe for distinct rngs. */
cairn_time cairn_random_stagger(cairn_rng *rng, cairn_time d);

#endif
