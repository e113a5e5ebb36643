/* cairn/serf_adapter.h: Serf member events to Router calls (Go:
 * agent/router.HandleSerfEvents, spec consul-servers §3).
 *
 * An adapter binds one router area to the event stream of that area's
 * cluster. cairn_serf_adapter_handle is a cairn_event_cb: install it (with
 * the adapter as userdata) as the cluster's event callback, or call it for
 * each event. Mapping (newest Consul, after PR #5317):
 *
 *   member-join, member-update -> cairn_router_add_server (update = re-add,
 *                                 which replaces the record in place)
 *   member-leave, member-reap  -> cairn_router_remove_server
 *   member-failed              -> cairn_router_fail_server (rotate only: WAN
 *                                 soft fail, PR #2801)
 *   user, query                -> ignored
 *   anything else              -> WARN "Unhandled Serf Event: <type>"
 *
 * For each member of a member event: a non-server is logged (WARN
 * `Non-server "<name>" in server-only area "<id>"`, in every area) and
 * skipped; a router error is logged (ERROR "Failed to process <type> event
 * for server <name> in area <id>: <err>"); success is logged (INFO "Handled
 * <type> event for server <name> in area <id>"). After every member event
 * the optional membership-change hook runs once (Go:
 * notifyMembershipPossibleChange, a non-blocking send on a 1-buffered
 * channel: the hook should only set a flag or post work).
 *
 * The Go loop's shutdown channel has no equivalent: stop delivering events
 * and delete the adapter. (A client's LAN handling, which removes failed
 * servers and checks the datacenter, is not this adapter.)
 */
#ifndef CAIRN_SERF_ADAPTER_H
#define CAIRN_SERF_ADAPTER_H

#include "cairn/cluster.h"
#include "cairn/log.h"
#include "cairn/router.h"

/* Opaque: binds one router area to its event stream. */
typedef struct cairn_serf_adapter cairn_serf_adapter;

/* Called after each member event (Go: membershipNotifyCh). */
typedef void (*cairn_membership_notify_cb)(void *userdata);

/* What cairn_serf_adapter_new needs. */
typedef struct cairn_serf_adapter_config {
    /* The router fed by the events (required, borrowed). */
    cairn_router *router;
    /* The area the events belong to (required, copied). */
    const char *area_id;
    /* Log sink (module "router"), copied; NULL is silent. */
    const cairn_logger *logger;
    /* Optional membership-change hook and its userdata. */
    cairn_membership_notify_cb notify;
    void *notify_userdata;
} cairn_serf_adapter_config;

/* cairn_serf_adapter_new: 0 and *ret_adapter (owned by the caller),
 * CAIRN_EINVAL (missing router or area ID) or CAIRN_ENOMEM. */
int cairn_serf_adapter_new(const cairn_serf_adapter_config *cfg, cairn_serf_adapter **ret_adapter);

/* cairn_serf_adapter_delete frees the adapter (NULL ok). */
void cairn_serf_adapter_delete(cairn_serf_adapter *a);

/* cairn_serf_adapter_handle dispatches one event as described above;
 * userdata is the adapter. Runs router writers, so call it on the router's
 * loop thread (where cluster events are delivered). */
void cairn_serf_adapter_handle(const cairn_event *ev, void *userdata);

#endif
