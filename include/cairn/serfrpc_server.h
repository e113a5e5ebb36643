/* cairn/serfrpc_server.h: a Serf agent RPC ("IPC") server, so the real
 * `serf` CLI (and any Serf RPC client) drives a cairn node.
 *
 * The server listens on a TCP address through the cairn loop (so it runs on
 * the simulator too), speaks the protocol of spec serf-wire §5 with the
 * real agent's quirks (handshake first, optional auth key, Seq echoed,
 * bodies always sent for commands that have one) and calls the node through
 * a table of backend operations, so an embedding program serves Serf RPC
 * for its own cairn_serf; `cairn agent` uses the backend in src/agent.
 *
 * The owner feeds the server what it streams: every serf event
 * (cairn_serfrpc_server_event, for `stream`) and every log line
 * (cairn_serfrpc_server_log, for `monitor`, which also replays the last
 * CAIRN_SERFRPC_SERVER_LOG_RING lines).
 *
 * Bounds: at most max_clients connections (more are closed at once), a
 * request of at most CAIRN_SERFRPC_SERVER_MAX_REQUEST bytes (a larger or
 * malformed one closes that connection without a reply, as Serf does), a
 * handshake deadline and an idle deadline for connections without a
 * stream, monitor or query, and per connection at most out_max bytes queued
 * for writing: streamed records beyond it are dropped with Serf's warning
 * ("agent.ipc: Dropping event to ADDR"), so a slow reader never stalls the
 * node.
 *
 * Threading: everything on the loop thread.
 */
#ifndef CAIRN_SERFRPC_SERVER_H
#define CAIRN_SERFRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/serfrpc.h"
#include "cairn/time.h"

/* Largest request object (header or body) accepted. */
#define CAIRN_SERFRPC_SERVER_MAX_REQUEST (256u * 1024)
/* Log lines kept for a new monitor (Serf's LogBufferSize). */
#define CAIRN_SERFRPC_SERVER_LOG_RING 512u
/* Default cap on concurrent clients. */
#define CAIRN_SERFRPC_SERVER_MAX_CLIENTS 1024u
/* Default bytes queued per connection before streamed records are
 * dropped (Serf: 512 records per stream; 512 members-sized records). */
#define CAIRN_SERFRPC_SERVER_OUT_MAX (4u * 1024 * 1024)
/* Queries a connection can still answer with `respond` at once. */
#define CAIRN_SERFRPC_SERVER_MAX_PENDING_QUERIES 1024u

/* Opaque: one RPC server on a loop. */
typedef struct cairn_serfrpc_server cairn_serfrpc_server;

/* Completion of join (num = nodes contacted) and leave (num 0): error is
 * NULL or "" on success, else the text sent to the client. ctx is the
 * server's; call it exactly once (also when the backend shuts down). */
typedef void (*cairn_serfrpc_done_fn)(void *ctx, const char *error, int64_t num);

/* One report about a running query (borrowed for the call): kind is one of
 * the client's record types (cairn/serfrpc.h: CAIRN_SERFRPC_QUERY_ACK,
 * _RESPONSE, _DONE). After DONE the handle is dead. */
typedef void (*cairn_serfrpc_query_fn)(void *ctx, int kind, const char *from,
                                       const uint8_t *payload, size_t len);

/* A query request as the client sent it (borrowed for the call). */
typedef struct cairn_serfrpc_query_req {
    /* Query name. */
    const char *name;
    /* Payload (NULL when nil). */
    const uint8_t *payload;
    size_t payload_len;
    /* Nodes that should process it (none: all). */
    const char *const *filter_nodes;
    size_t n_filter_nodes;
    /* Tag filters: key and (unanchored) regexp. */
    const cairn_tag *filter_tags;
    size_t n_filter_tags;
    /* Ask for acks. */
    bool request_ack;
    /* Relay factor. */
    uint8_t relay_factor;
    /* Timeout in ns; 0 = the node's default. */
    int64_t timeout;
} cairn_serfrpc_query_req;

/* Key operations. */
enum cairn_serfrpc_key_op {
    CAIRN_SERFRPC_KEY_INSTALL = 0,
    CAIRN_SERFRPC_KEY_USE = 1,
    CAIRN_SERFRPC_KEY_REMOVE = 2,
    CAIRN_SERFRPC_KEY_LIST = 3,
};

/* The outcome of a key operation (Serf's keyResponse), borrowed. */
typedef struct cairn_serfrpc_key_result {
    /* "" on success, else Serf's error text ("1/2 nodes reported failure"). */
    const char *error;
    /* Nodes asked, answers, failures. */
    int64_t num_nodes, num_resp, num_err;
    /* Node name -> message for the nodes that failed. */
    const cairn_tag *messages;
    size_t n_messages;
    /* list-keys: key (base64) and how many nodes have it. */
    const char *const *keys;
    const int64_t *key_counts;
    size_t n_keys;
} cairn_serfrpc_key_result;

/* Receives a key operation's outcome, once. */
typedef void (*cairn_serfrpc_key_fn)(void *ctx, const cairn_serfrpc_key_result *r);

/* Receives one stats entry. */
typedef void (*cairn_serfrpc_stat_fn)(void *ud, const char *section, const char *key,
                                      const char *value);

/* What the server calls. Synchronous ones fill diag with the error text
 * for the client when they fail; asynchronous ones either return < 0
 * (diag filled, the callback never runs) or 0 and call their callback once.
 * Every member is required. */
typedef struct cairn_serfrpc_backend_ops {
    /* Every member (all statuses). */
    int (*for_each_member)(void *impl, cairn_member_cb fn, void *ud);
    /* join: addresses "host[:port]"; replay old user events. */
    int (*join)(void *impl, const char *const *addrs, size_t n, bool replay,
                cairn_serfrpc_done_fn done, void *ctx, cairn_diag *diag);
    /* Graceful leave; the node stops serving after done (the owner decides). */
    int (*leave)(void *impl, cairn_serfrpc_done_fn done, void *ctx, cairn_diag *diag);
    /* force-leave node (prune: also erase it). */
    int (*force_leave)(void *impl, const char *node, bool prune, cairn_diag *diag);
    /* A user event. */
    int (*user_event)(void *impl, const char *name, const uint8_t *payload, size_t len,
                      bool coalesce, cairn_diag *diag);
    /* Merge `set` into our tags, then delete `del`, then gossip them. */
    int (*update_tags)(void *impl, const cairn_tag *set, size_t nset, const char *const *del,
                       size_t ndel, cairn_diag *diag);
    /* Start a query; *ret_handle is passed to query_cancel. */
    int (*query)(void *impl, const cairn_serfrpc_query_req *q, cairn_serfrpc_query_fn cb, void *ctx,
                 void **ret_handle, cairn_diag *diag);
    /* Stop a running query: no more reports. */
    void (*query_cancel)(void *impl, void *handle);
    /* A key operation (key unused for LIST). */
    int (*key_op)(void *impl, int op, const char *key, cairn_serfrpc_key_fn cb, void *ctx,
                  cairn_diag *diag);
    /* The stats map, section by section (entries of a section together). */
    void (*stats)(void *impl, cairn_serfrpc_stat_fn fn, void *ud);
    /* The cached coordinate of node (ours under our name): true if known. */
    bool (*get_coordinate)(void *impl, const char *node, cairn_coord *ret);
} cairn_serfrpc_backend_ops;

/* What cairn_serfrpc_server_new needs. */
typedef struct cairn_serfrpc_server_config {
    /* Listen address (Serf's default 127.0.0.1:7373). */
    cairn_addr addr;
    /* Required auth key, or NULL/"" for none. Copied. */
    const char *auth_key;
    /* Concurrent clients; 0: CAIRN_SERFRPC_SERVER_MAX_CLIENTS. */
    size_t max_clients;
    /* Bytes queued per connection before records drop; 0: default. */
    size_t out_max;
    /* Time to complete the handshake (and auth); 0: 10 s. */
    cairn_time handshake_timeout;
    /* A connection without a stream, monitor or query that sends nothing
     * for this long is closed; 0: 10 min. */
    cairn_time idle_timeout;
    /* The backend. */
    const cairn_serfrpc_backend_ops *ops;
    void *impl;
    /* Where the server logs (module "agent.ipc"); copied; may be NULL. */
    const cairn_logger *logger;
} cairn_serfrpc_server_config;

/* cairn_serfrpc_server_new binds cfg->addr and starts serving. 0,
 * CAIRN_EINVAL, CAIRN_ENOMEM or the bind error (CAIRN_EADDRINUSE ...). */
int cairn_serfrpc_server_new(cairn_loop *loop, const cairn_serfrpc_server_config *cfg,
                             cairn_serfrpc_server **ret_srv);

/* cairn_serfrpc_server_delete closes every connection and the listener;
 * running queries are cancelled. Pending join/leave/key completions may
 * still be called later: they then do nothing. Accepts NULL. */
void cairn_serfrpc_server_delete(cairn_serfrpc_server *srv);

/* cairn_serfrpc_server_event hands one serf event to every matching
 * stream (queries get a per-connection ID that `respond` answers). */
void cairn_serfrpc_server_event(cairn_serfrpc_server *srv, const cairn_event *ev);

/* cairn_serfrpc_server_log hands one formatted log line (no newline) of
 * level (enum cairn_log_level) to the monitors and the replay ring. */
void cairn_serfrpc_server_log(cairn_serfrpc_server *srv, int level, const char *line);

/* cairn_serfrpc_server_local: the bound address. */
int cairn_serfrpc_server_local(cairn_serfrpc_server *srv, cairn_addr *ret_addr);

/* Counters. */
typedef struct cairn_serfrpc_server_stats {
    /* Connections open now, accepted in all, refused over the cap. */
    size_t clients;
    uint64_t accepted, refused;
    /* Requests handled; connections closed for a bad or oversized request,
     * or a deadline. */
    uint64_t requests, bad_requests, timeouts;
    /* Stream records and log lines dropped for slow readers. */
    uint64_t dropped_events, dropped_logs;
} cairn_serfrpc_server_stats;

/* cairn_serfrpc_server_get_stats fills *ret. */
void cairn_serfrpc_server_get_stats(const cairn_serfrpc_server *srv,
                                    cairn_serfrpc_server_stats *ret);

#endif
