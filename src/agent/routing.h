/* agent/routing.h: the routing half of a cairn agent (src/agent/routing.c):
 * the Router over the agent's LAN and WAN pools, the event handlers that
 * feed it, flood joins and route-change reports. Internal to src/agent. */
#ifndef CAIRN_AGENT_ROUTING_H
#define CAIRN_AGENT_ROUTING_H

#include "cairn/agent.h"

/* The routing state of one agent (owned by the agent). */
typedef struct cairn__routing cairn__routing;

/* cairn__routing_new checks the routing fields of cfg, builds the router,
 * the pinger and the WAN serf (its events go to the routing), and the tags
 * the LAN serf must announce: cfg's tags plus, for a server, Consul's
 * server tags. *ret_tags / *ret_ntags stay valid until
 * cairn__routing_delete. wan_template is the LAN serf configuration the
 * WAN one is derived from (name, addresses, profile and tags replaced).
 * 0, or CAIRN_EINVAL / CAIRN_ENOMEM / a bind error with diag set. */
int cairn__routing_new(cairn_agent *agent, cairn_loop *loop, const cairn_agent_config *cfg,
                       const cairn_serf_config *wan_template, const cairn_logger *logger,
                       cairn_keyring *keyring, cairn_diag *diag, cairn__routing **ret_routing,
                       const cairn_tag **ret_tags, size_t *ret_ntags);

/* cairn__routing_attach_lan adds the "lan" area over the agent's LAN serf
 * and starts the timers. 0 or a router error (diag set). */
int cairn__routing_attach_lan(cairn__routing *r, cairn_serf *lan, cairn_diag *diag);

/* cairn__routing_lan_event handles one event of the LAN serf (before the
 * area exists it is ignored: cairn__routing_attach_lan reads the members). */
void cairn__routing_lan_event(cairn__routing *r, const cairn_event *ev);

/* cairn__routing_delete stops everything, deletes the router and the WAN
 * serf. Call before the LAN serf is deleted. Accepts NULL. */
void cairn__routing_delete(cairn__routing *r);

/* Accessors behind the public cairn_agent_* ones. */
cairn_router *cairn__routing_router(cairn__routing *r);
cairn_serf *cairn__routing_wan(cairn__routing *r);
const char *cairn__routing_dc(const cairn__routing *r);
bool cairn__routing_is_server(const cairn__routing *r);
int cairn__routing_flood(cairn__routing *r);
void cairn__routing_check_routes(cairn__routing *r);

#endif
