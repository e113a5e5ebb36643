/* agent/rpc_backend.h (internal): the Serf agent RPC server over a
 * cairn_agent: the backend ops (cairn/serfrpc_server.h) implemented with
 * the agent's cairn_serf, and the server bound to the agent's RPC address.
 *
 * The owner (cmd_agent) forwards every serf event and log line to the
 * server (cairn__agent_rpc_server) and is told when an RPC `leave` has
 * completed, so it can stop the process as `serf agent` does after
 * `serf leave`.
 *
 * Threading: loop thread only.
 */
#ifndef CAIRN_AGENT_RPC_BACKEND_H
#define CAIRN_AGENT_RPC_BACKEND_H

#include "cairn/addr.h"
#include "cairn/agent.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/serfrpc_server.h"

/* Opaque: the backend and its server. */
typedef struct cairn_agent_rpc cairn_agent_rpc;

/* What cairn__agent_rpc_new needs. */
typedef struct cairn_agent_rpc_config {
    /* RPC listen address. */
    cairn_addr addr;
    /* Auth key, or NULL/"" for none. */
    const char *auth_key;
    /* The server's logger (may be NULL). */
    const cairn_logger *logger;
    /* Called (once) after an RPC leave completed and was answered. */
    void (*on_left)(void *userdata);
    void *userdata;
    /* The --event-handler specs ("[FILTER=]SCRIPT"), listed by `stats` as
     * Serf lists them: "EVENT:NAME" -> script, one per filter item. */
    const char *const *handlers;
    size_t n_handlers;
    /* Whether gossip is encrypted (stats serf.encrypted). */
    bool encrypted;
} cairn_agent_rpc_config;

/* cairn__agent_rpc_new binds the RPC address and serves agent. 0,
 * CAIRN_ENOMEM or the listen error. */
int cairn__agent_rpc_new(cairn_loop *loop, cairn_agent *agent, const cairn_agent_rpc_config *cfg,
                         cairn_agent_rpc **ret);
/* cairn__agent_rpc_delete closes the server. NULL ok. */
void cairn__agent_rpc_delete(cairn_agent_rpc *r);
/* cairn__agent_rpc_server: the server (for events and log lines). */
cairn_serfrpc_server *cairn__agent_rpc_server(cairn_agent_rpc *r);

#endif
