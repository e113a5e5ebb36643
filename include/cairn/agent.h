/* cairn/agent.h: the cairn agent: one Serf 0.9.4 member (cairn_serf) with
 * the serf agent's defaults.
 *
 * The agent owns a cairn_serf on a caller-supplied loop, configured as
 * `serf agent` configures its serf: delegate protocol 5, member and user
 * event coalescing 3 s / 1 s, user events up to 512 bytes, tags in the
 * Meta (0xFF + msgpack map, at most 512 bytes), an optional gossip key and
 * a memberlist timing profile. It joins seed addresses (ignoring old user
 * events unless replay is set), reports every serf event (member join,
 * leave, failed, update, reap; user events; queries) through one callback
 * and leaves the serf way: leave intent, memberlist leave, propagation
 * delay, so Serf agents show it as left.
 *
 * The agent does no I/O of its own: sockets and time come from the loop,
 * text goes to the logger and the event callback. Threading: everything
 * on the loop thread; no function here is thread-safe.
 */
#ifndef CAIRN_AGENT_H
#define CAIRN_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/cluster.h"
#include "cairn/error.h"
#include "cairn/keyring.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/memberlist.h"
#include "cairn/pinger.h"
#include "cairn/router.h"
#include "cairn/serf.h"
#include "cairn/server.h"
#include "cairn/time.h"

/* Opaque: one serf node (cairn_agent_new / cairn_agent_delete); loop thread only. */
typedef struct cairn_agent cairn_agent;

/* Most tags an agent carries (Serf has no count limit; the 512-byte Meta
 * limit allows at most ~125 one-character tags). */
#define CAIRN_AGENT_MAX_TAGS 128
/* Serf's BroadcastTimeout: the longest each step of a graceful leave waits
 * for its broadcast to go out. */
#define CAIRN_AGENT_LEAVE_TIMEOUT (5 * CAIRN_SEC)
/* The serf agent's delegate protocol (`serf agent -protocol`, default 5). */
#define CAIRN_AGENT_PROTOCOL 5
/* The serf agent's coalescing of member events and of user events sent
 * with coalesce: flush 3 s after the first event or after 1 s of quiet. */
#define CAIRN_AGENT_COALESCE_PERIOD  (3 * CAIRN_SEC)
#define CAIRN_AGENT_QUIESCENT_PERIOD (1 * CAIRN_SEC)

/* Consul's flood-join ticker (Server.Flood): how often a server agent
 * joins the LAN's servers missing from the WAN pool, besides the pass
 * that every LAN server join triggers. */
#define CAIRN_AGENT_FLOOD_INTERVAL (60 * CAIRN_SEC)
/* How often the agent compares every datacenter's route with the last one
 * it reported (routes also move without serf events: rebalances, RPC
 * failures reported through cairn_router_notify_failed). */
#define CAIRN_AGENT_ROUTE_CHECK (1 * CAIRN_SEC)
/* Timeout of the built-in TCP pinger of a routing agent (a server that
 * does not accept a connection on its RPC port within this is down). */
#define CAIRN_AGENT_PING_TIMEOUT (1 * CAIRN_SEC)
/* The tags vsn and raft_vsn a server agent announces (Consul's RPC
 * protocol version 2 and Raft protocol 3). */
#define CAIRN_AGENT_SERVER_VSN      "2"
#define CAIRN_AGENT_SERVER_RAFT_VSN "3"
/* The default tag build of a server agent: a version Consul's
 * metadata.Build parses, plus our name as Consul appends a commit. */
#define CAIRN_AGENT_SERVER_BUILD "1.0.0:cairn"
/* Most datacenters whose routes the agent follows. */
#define CAIRN_AGENT_MAX_DCS 256

/* What a routing report is about (cairn_agent_route_cb). */
enum cairn_agent_route_kind {
    /* A server was added to (or updated in) an area's manager. */
    CAIRN_AGENT_SERVER_ADD = 0,
    /* A server failed: rotated away from the front (WAN soft fail). */
    CAIRN_AGENT_SERVER_FAIL = 1,
    /* A server was removed (left, reaped; failed in the LAN). */
    CAIRN_AGENT_SERVER_REMOVE = 2,
    /* The route of a datacenter changed (another server, or none). */
    CAIRN_AGENT_ROUTE_CHANGE = 3,
};

/* One routing report, borrowed for the callback. */
typedef struct cairn_agent_route_event {
    /* enum cairn_agent_route_kind. */
    int kind;
    /* The area ("lan" or "wan"); NULL for ROUTE_CHANGE. */
    const char *area;
    /* The datacenter concerned. */
    const char *datacenter;
    /* SERVER_*: the server (its serf name in that area). ROUTE_CHANGE: the
     * server the route now goes to, or NULL when there is none. */
    const char *server;
    /* The server's RPC address (family 0 when server is NULL). */
    cairn_addr addr;
    /* ROUTE_CHANGE without a server: CAIRN_ENOROUTE (no manager for the
     * datacenter any more) or CAIRN_EUNAVAIL (no online manager); else 0. */
    int error;
} cairn_agent_route_event;

/* Receives routing reports (server adds, fails, removes per area, and
 * route changes per datacenter). Runs on the loop thread; may call the
 * agent's query functions and the router's readers; must not delete the
 * agent. */
typedef void (*cairn_agent_route_cb)(cairn_agent *agent, const cairn_agent_route_event *ev,
                                     void *userdata);

/* Most tags a peer's Meta can hold: 512 bytes, each tag at least two
 * (two empty fixstr). */
#define CAIRN_AGENT_META_TAGS (CAIRN_ML_META_MAX / 2)

/* Agent configuration; strings are copied by cairn_agent_new. Zero fields
 * take the serf agent's defaults. */
typedef struct cairn_agent_config {
    /* Node name (required, unique in the cluster): valid UTF-8, 1 to
     * CAIRN_NAME_MAX bytes. */
    const char *node;
    /* Gossip bind address (UDP and TCP), port 0 picks one. */
    cairn_addr bind;
    /* Address announced to peers; family 0: the bound one (which must then
     * be a concrete IP). */
    cairn_addr advertise;
    /* memberlist profile: "lan" (default when NULL), "wan" or "local". */
    const char *profile;
    /* Tags announced in the Meta. */
    const cairn_tag *tags;
    size_t n_tags;
    /* Gossip key (16, 24 or 32 bytes) or NULL/0 for no encryption. */
    const uint8_t *key;
    size_t key_len;
    /* Turn off LZW compression of what we send (serf -disable-compression). */
    bool disable_compression;
    /* Seed for the memberlist's random choices (0: from the OS). */
    uint64_t seed;
    /* Serf delegate protocol, 3 to CAIRN_SERF_PROTOCOL_MAX (cairn encodes
     * tags as protocol >= 3 does); 0: CAIRN_AGENT_PROTOCOL. */
    uint8_t protocol;
    /* How long failed members are kept (and reconnected to) before they
     * are reaped; 0: serf's 24 h. */
    cairn_time reconnect_timeout;
    /* How long left members are kept before they are reaped; 0: 24 h. */
    cairn_time tombstone_timeout;
    /* Member- and user-event coalescing (see cairn_serf_config); 0: the
     * agent's CAIRN_AGENT_COALESCE_PERIOD / CAIRN_AGENT_QUIESCENT_PERIOD;
     * negative: no coalescing (every event at once). */
    cairn_time coalesce_period, quiescent_period;
    /* Joins replay the user events peers remember (serf -replay); false:
     * events older than the join are ignored. */
    bool replay;
    /* Serf's snapshot file (serf -snapshot): members, clocks and leaves
     * recorded there and replayed at start, so a restarted agent rejoins
     * without a join address and delivers no old event twice. NULL: none.
     * Copied. */
    const char *snapshot_path;
    /* After a graceful leave, a restart still re-joins the members the
     * snapshot remembers (serf -rejoin / rejoin_after_leave). */
    bool rejoin_after_leave;

    /* ---- routing (docs/ROUTING.md) ---- */
    /* This agent's datacenter (Consul's -datacenter). NULL: no routing at
     * all (a plain serf member, as before). Otherwise the agent runs a
     * Router: a "lan" area over its own serf (servers of datacenter
     * fed by member events, failed servers removed) and a "wan" area over
     * a second serf, the WAN pool. 1 to CAIRN_SERVER_DC_MAX - 1 bytes. */
    const char *datacenter;
    /* A server agent (Consul -server): it announces Consul's server tags
     * (role=consul, dc, port, vsn, raft_vsn, build, id, segment and, in
     * the LAN, wan_join_port) in both pools, its WAN member is named
     * "<node>.<dc>", and flood joins bring every server of its LAN into
     * the WAN pool. false: a client agent, which learns the WAN through
     * the servers (docs/ROUTING.md). Needs datacenter. */
    bool server;
    /* The port clients' RPCs go to (tag "port", Consul's 8300); required
     * with server. */
    uint16_t server_port;
    /* WAN pool bind and advertise addresses (as bind / advertise); family
     * 0: the LAN bind IP, port 0 (a free port: fine for a client agent,
     * whose WAN address is learnt through gossip). */
    cairn_addr wan_bind;
    cairn_addr wan_advertise;
    /* memberlist profile of the WAN pool; NULL: "wan" (Consul's WAN). */
    const char *wan_profile;
    /* Tag "build" of a server; NULL: CAIRN_AGENT_SERVER_BUILD. Must hold
     * a version (\d+.\d+.\d+). Copied. */
    const char *build;
    /* Tag "id" of a server (Consul's node ID); NULL: a random UUID (from
     * seed when it is non-zero). Copied. */
    const char *node_id;
    /* Pinger for the managers' rebalances; NULL: a TCP connect to the
     * server's RPC port (cairn/pinger_tcp.h) with CAIRN_AGENT_PING_TIMEOUT.
     * Copied by value; impl must outlive the agent. */
    const cairn_pinger *pinger;
    /* Flood-join period; 0: CAIRN_AGENT_FLOOD_INTERVAL. */
    cairn_time flood_interval;
    /* Routing reports (may be NULL) and their userdata. */
    cairn_agent_route_cb route_cb;
    void *route_userdata;
    /* A keyring to gossip with instead of key (Serf's keyring file, several
     * keys, the first primary): borrowed, must outlive the agent; key is
     * then ignored. NULL: key decides. */
    cairn_keyring *keyring;
    /* Called (with the agent's userdata) after a key query changed the
     * keyring (install, use or remove; Serf rewrites its keyring file
     * then). NULL: none. */
    void (*keyring_changed)(cairn_agent *agent, void *userdata);
    /* No Vivaldi coordinates (serf disable_coordinates). */
    bool disable_coordinates;
    /* Do not resolve node name conflicts (serf disable_name_resolution). */
    bool disable_name_resolution;
    /* How often failed members are reconnected to; 0: serf's 30 s. */
    cairn_time reconnect_interval;
    /* Serf's BroadcastTimeout (leave, tag updates); 0: 5 s. */
    cairn_time broadcast_timeout;
    /* Serf's size limits; 0: the defaults (1024, 1024, 512 bytes). */
    size_t query_size_limit, query_response_size_limit, user_event_size_limit;
} cairn_agent_config;

/* A serf event (cairn/cluster.h): member events (ev->members, several when
 * coalesced, with Serf statuses), user events and queries, as cairn_serf
 * delivers them, borrowed for the call. Names and tags are the peer's
 * bytes: not necessarily valid UTF-8. Runs on the loop thread; may call
 * cairn_agent_* query functions and keep ev->respond_ctx / ev->query_id
 * to answer later, but must not delete the agent. */
typedef void (*cairn_agent_event_cb)(cairn_agent *agent, const cairn_event *ev, void *userdata);

/* Completion of a join (count = peers contacted) or a leave (count 0):
 * status 0 or a CAIRN_E* code. Must not delete the agent. */
typedef void (*cairn_agent_done_cb)(cairn_agent *agent, int status, int count, void *userdata);

/* Counters: memberlist's and serf's. */
typedef struct cairn_agent_stats {
    /* The memberlist's own counters. */
    cairn_ml_stats ml;
    /* serf's counters and gauges (clocks, members by status, queues,
     * dropped and malformed messages). */
    cairn_serf_stats serf;
    /* Members now alive, leaving, failed and left (Serf statuses), self
     * included. */
    size_t alive, leaving, failed, left;
} cairn_agent_stats;

/* cairn_agent_new validates cfg, creates the serf (binding cfg->bind) and
 * reports our own member-join. logger and events may be NULL. 0 or:
 * CAIRN_EINVAL (bad config; diag names the field:
 * "node: the node name is not valid UTF-8"),
 * CAIRN_ELIMIT (tags over 512 bytes, diag says how many), CAIRN_ENOMEM, or
 * a bind error (CAIRN_EADDRINUSE, CAIRN_EADDRNOTAVAIL ...). */
int cairn_agent_new(cairn_loop *loop, const cairn_agent_config *cfg, const cairn_logger *logger,
                    cairn_agent_event_cb events, void *userdata, cairn_diag *diag,
                    cairn_agent **ret_agent);

/* cairn_agent_delete stops at once without a leave (peers see a failure).
 * Pending join/leave completions are dropped (not called). Accepts NULL. */
void cairn_agent_delete(cairn_agent *agent);

/* cairn_agent_join joins through each address (serf join, with replay as
 * configured); done runs once with status 0 if at least one answered.
 * 0, CAIRN_EBUSY (a join is running) or a cairn_serf_join error. */
int cairn_agent_join(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                     cairn_agent_done_cb done, void *userdata);

/* cairn_agent_leave is serf's graceful leave (cairn_serf_leave): leave
 * intent, memberlist leave, propagation delay; done runs with status 0
 * when we are left (peers see member-leave, Serf shows "left"). With a
 * WAN pool it leaves the WAN first, then the LAN (as a Consul server). 0,
 * CAIRN_EBUSY (a leave is running) or CAIRN_ESHUTDOWN. */
int cairn_agent_leave(cairn_agent *agent, cairn_agent_done_cb done, void *userdata);

/* cairn_agent_serf: the agent's serf (borrowed; for members, user events,
 * coordinates). Must not be deleted by the caller. */
cairn_serf *cairn_agent_serf(cairn_agent *agent);

/* cairn_agent_router: the agent's Router (borrowed; readers such as
 * cairn_router_find_route may run on any thread), or NULL when the agent
 * routes nothing (no datacenter configured). */
cairn_router *cairn_agent_router(cairn_agent *agent);

/* cairn_agent_wan_serf: the serf of the agent's WAN pool (borrowed), or
 * NULL for an agent without one (no datacenter configured). A client
 * agent's WAN member carries no server tags (docs/ROUTING.md). */
cairn_serf *cairn_agent_wan_serf(cairn_agent *agent);

/* cairn_agent_dc: the agent's datacenter, or NULL when none is
 * configured. The string belongs to the agent. */
const char *cairn_agent_dc(const cairn_agent *agent);

/* cairn_agent_is_server: whether the agent runs as a server (config
 * server). */
bool cairn_agent_is_server(const cairn_agent *agent);

/* cairn_agent_join_wan joins the WAN pool through each address (as
 * cairn_agent_join, with its own pending completion). 0, CAIRN_EINVAL
 * (no WAN pool, or no address), CAIRN_EBUSY (a WAN join is running) or a
 * cairn_serf_join error. */
int cairn_agent_join_wan(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                         cairn_agent_done_cb done, void *userdata);

/* cairn_agent_flood runs one flood-join pass now (a server agent's LAN
 * servers missing from the WAN pool are joined; a client agent with no
 * alive WAN peer joins the WAN through its datacenter's servers). 0,
 * CAIRN_EINVAL (no WAN pool) or a cairn_flood_joins error. */
int cairn_agent_flood(cairn_agent *agent);

/* cairn_agent_check_routes compares every datacenter's route with the
 * last one reported and reports the changes (also run every
 * CAIRN_AGENT_ROUTE_CHECK and after every member event). No-op without a
 * router. */
void cairn_agent_check_routes(cairn_agent *agent);

/* cairn_agent_memberlist: the memberlist under the agent's serf. */
cairn_memberlist *cairn_agent_memberlist(cairn_agent *agent);

/* cairn_agent_get_stats copies the counters. */
void cairn_agent_get_stats(const cairn_agent *agent, cairn_agent_stats *ret_stats);

/* Storage for the member cairn_agent_node_member builds (its tags point
 * here). */
typedef struct cairn_agent_member_buf {
    /* The tags. */
    cairn_tag tags[CAIRN_AGENT_META_TAGS];
    /* Their strings, NUL-terminated (a NUL byte inside one, which C strings
     * cannot carry, is stored as U+FFFD: at most 3 bytes for each byte of
     * Meta, plus the terminators). */
    char text[4 * CAIRN_ML_META_MAX];
} cairn_agent_member_buf;

/* cairn_agent_node_member describes a memberlist node as a serf member:
 * name and address, tags decoded from the Meta as Serf does (0xFF +
 * msgpack map; other Meta is one tag "role"; undecodable Meta no tags,
 * *ret_bad_meta set when non-NULL), status alive (alive or suspect),
 * failed (dead) or left, and the protocol versions. Strings point into
 * node and buf. Tags stay structured: never flattened to text. */
void cairn_agent_node_member(const cairn_ml_node *node, cairn_agent_member_buf *buf,
                             cairn_member *ret_member, bool *ret_bad_meta);

/* cairn_agent_parse_tag splits "key=value" (the first '=' splits; key
 * non-empty, value may be empty) into pointers into buf, which must hold a
 * writable copy of the text. 0 or CAIRN_EINVAL. */
int cairn_agent_parse_tag(char *buf, cairn_tag *ret_tag);

/* cairn_agent_decode_key decodes a base64 (standard, padded) gossip key
 * into out (at least 32 bytes). 0 and *ret_len in {16, 24, 32}, or
 * CAIRN_EINVAL (not base64, or another length). */
int cairn_agent_decode_key(const char *b64, uint8_t *out, size_t *ret_len);

#endif
