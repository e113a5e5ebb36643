/* servers/manager_internal.h: the Manager's list type and the internal
 * helpers that Consul's manager_internal_test.go exercises (cycleServer,
 * getServerList, saveServerList, reconcileServerList,
 * refreshServerRebalanceTimer). For tests and for src/servers only. */
#ifndef CAIRN_SERVERS_MANAGER_INTERNAL_H
#define CAIRN_SERVERS_MANAGER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/manager.h"
#include "cairn/server.h"
#include "servers/rcu.h"

/* An immutable server list (Go: serverList). Once published, neither the
 * array nor the records change; the list holds one reference to each
 * record. */
typedef struct cairn_server_list {
    /* Number of servers. */
    size_t n;
    /* Deferred reclamation after the list is unpublished (servers/rcu.h). */
    struct rcu_head rcu;
    /* The servers, position 0 preferred. */
    cairn_server *servers[];
} cairn_server_list;

/* cairn__server_list_new: a list of n slots, all NULL (fill them with
 * references). NULL on allocation failure. */
cairn_server_list *cairn__server_list_new(size_t n);

/* cairn__server_list_free drops the list's references and frees it (NULL
 * slots are skipped). Accepts NULL. Only for lists no reader can see. */
void cairn__server_list_free(cairn_server_list *l);

/* cairn__server_list_copy: a new list with the same servers (new references),
 * with room for `extra` more NULL slots at the end (n counts them). NULL on
 * allocation failure. */
cairn_server_list *cairn__server_list_copy(const cairn_server_list *l, size_t extra);

/* cairn__server_list_cycle (Go: cycleServer): a new list rotated left by
 * one (elements 1..n-1, then 0). Go returns an empty list for n < 2; so do
 * we. NULL on allocation failure. */
cairn_server_list *cairn__server_list_cycle(const cairn_server_list *l);

/* cairn__server_list_retire frees an unpublished list (drops its references)
 * after a grace period, on liburcu's call_rcu thread. Never blocks. Accepts
 * NULL. */
void cairn__server_list_retire(cairn_server_list *l);

/* cairn__manager_front: the record a route would use, for callers that are
 * already inside a read-side section (the Router's find_route): the front
 * server of the published list, or NULL when the manager is offline or
 * empty (the empty case is logged as find_server logs it). Valid until the
 * caller leaves its section; no reference is taken. Any thread; lock-free,
 * writes no shared memory. */
const cairn_server *cairn__manager_front(const cairn_manager *m);

/* cairn__manager_retire (the Router's delete): stops m now (timer, ping in
 * flight) like cairn_manager_delete, but frees its memory after a grace
 * period on liburcu's call_rcu thread instead of waiting for it, so readers
 * that still hold m from an unpublished snapshot stay safe. Never blocks.
 * Loop thread. Accepts NULL. */
void cairn__manager_retire(cairn_manager *m);

/* cairn__manager_get_list (Go: getServerList): a private copy of the
 * published list (new references; free with cairn__server_list_free).
 * 0 or CAIRN_ENOMEM. Any thread. */
int cairn__manager_get_list(cairn_manager *m, cairn_server_list **ret_list);

/* cairn__manager_save_list (Go: saveServerList): publishes a copy of l.
 * 0 or CAIRN_ENOMEM. Takes the manager's mutex. */
int cairn__manager_save_list(cairn_manager *m, const cairn_server_list *l);

/* cairn__manager_reconcile (Go: reconcileServerList): merges l (a rebalanced
 * private list, l[0] verified) with the published list per spec §1.12 and
 * publishes the result. 1 (true: published), 0 (false: nothing changed) or
 * CAIRN_ENOMEM (nothing changed). l is not modified. Takes the mutex. */
int cairn__manager_reconcile(cairn_manager *m, const cairn_server_list *l);

/* cairn__manager_refresh_rebalance_timer (Go: refreshServerRebalanceTimer
 * / the delayer in Run): computes the next interval from the current server
 * count, the cluster's num_nodes and fresh jitter, re-arms the timer with it
 * and returns it. Loop thread. */
cairn_time cairn__manager_refresh_rebalance_timer(cairn_manager *m);

#endif
