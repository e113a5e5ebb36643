/* cairn/cluster.h: the cluster seam and member events.
 *
 * The routing core (src/servers) sees membership only through this seam, so
 * the same Manager and Router run over cairn's native serf, over a real Serf
 * agent's RPC (src/serfrpc), and over the test fakes. It mirrors Consul's
 * ManagerSerfCluster (NumNodes) and RouterSerfCluster (NumNodes, Members,
 * GetCoordinate, GetCachedCoordinate).
 *
 * Members are plain values with borrowed strings: they are valid only for the
 * duration of the call that hands them out (a for_each callback or an event
 * callback). Copy what you keep.
 */
#ifndef CAIRN_CLUSTER_H
#define CAIRN_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/limits.h"
#include "cairn/time.h"

/* Defined in cairn/coord.h (the coord layer); the seam only passes it by
 * pointer, so base does not depend on coord. */
typedef struct cairn_coord cairn_coord;

/* Serf member status; the numbers are Serf's (MemberStatus). */
enum cairn_member_status {
    CAIRN_MEMBER_NONE = 0,
    CAIRN_MEMBER_ALIVE = 1,
    CAIRN_MEMBER_LEAVING = 2,
    CAIRN_MEMBER_LEFT = 3,
    CAIRN_MEMBER_FAILED = 4,
};

/* cairn_member_status_name: "none", "alive", "leaving", "left", "failed"
 * (Serf's strings), "unknown" otherwise. */
const char *cairn_member_status_name(int status);
/* cairn_member_status_parse: the status named so (the strings above), or
 * CAIRN_MEMBER_NONE for any other string (as Serf's RPC client does). */
int cairn_member_status_parse(const char *name);

/* One tag of a member (Serf tags are a string-to-string map). */
typedef struct cairn_tag {
    /* Tag name, NUL-terminated, borrowed. */
    const char *key;
    /* Tag value, NUL-terminated, borrowed. */
    const char *value;
} cairn_tag;

/* A serf member as the cluster reports it. */
typedef struct cairn_member {
    /* Member (node) name, borrowed. */
    const char *name;
    /* Gossip address: IP and serf port. */
    cairn_addr addr;
    /* Tags, borrowed; ntags entries, in no particular order. */
    const cairn_tag *tags;
    size_t ntags;
    /* enum cairn_member_status. */
    int status;
    /* memberlist protocol range and current version. */
    uint8_t protocol_min, protocol_max, protocol_cur;
    /* serf (delegate) protocol range and current version. */
    uint8_t delegate_min, delegate_max, delegate_cur;
} cairn_member;

/* cairn_member_tag: the value of tag key, or NULL when absent. */
const char *cairn_member_tag(const cairn_member *m, const char *key);

/* Visits one member; return false to stop the iteration. */
typedef bool (*cairn_member_cb)(const cairn_member *m, void *userdata);

/* The seam: a table of functions over an implementation pointer. All are
 * called on the thread that owns the cluster (the loop thread) unless the
 * implementation documents otherwise. */
typedef struct cairn_cluster_ops {
    /* Number of members (Go: NumNodes), including failed and left ones that
     * are not yet reaped, as Serf counts them. */
    size_t (*num_nodes)(void *impl);
    /* Calls fn for each member; returns 0 or a CAIRN_E* code. */
    int (*for_each_member)(void *impl, cairn_member_cb fn, void *userdata);
    /* This node's coordinate: 0 and *ret_coord, or CAIRN_ENOTSUP when
     * coordinates are disabled, or another CAIRN_E* code. */
    int (*get_coordinate)(void *impl, cairn_coord *ret_coord);
    /* The last coordinate received from member `name`: true and *ret_coord
     * when known, false otherwise. */
    bool (*get_cached_coordinate)(void *impl, const char *name, cairn_coord *ret_coord);
} cairn_cluster_ops;

/* The cluster seam as a value: an ops table and its implementation. Copied by value; what it points
 * to must outlive its users. */
typedef struct cairn_cluster {
    /* The functions; must not be NULL. */
    const cairn_cluster_ops *ops;
    /* The implementation passed to each function. */
    void *impl;
} cairn_cluster;

/* Serf event types; the numbers are Serf's (EventType). */
enum cairn_event_type {
    CAIRN_EVENT_MEMBER_JOIN = 0,
    CAIRN_EVENT_MEMBER_LEAVE = 1,
    CAIRN_EVENT_MEMBER_FAILED = 2,
    CAIRN_EVENT_MEMBER_UPDATE = 3,
    CAIRN_EVENT_MEMBER_REAP = 4,
    CAIRN_EVENT_USER = 5,
    CAIRN_EVENT_QUERY = 6,
};

/* cairn_event_type_name: "member-join", "member-leave", "member-failed",
 * "member-update", "member-reap", "user", "query"; "unknown" otherwise.
 * These are the only copies of the names: the log, the RPC stream codec and
 * the CLI all use them. */
const char *cairn_event_type_name(int type);
/* cairn_event_type_parse: the enum cairn_event_type named so, or -1. */
int cairn_event_type_parse(const char *name);

/* Serf's query flags (messageQuery.Flags). */
enum cairn_query_flag {
    /* The origin wants an ack from every node that received the query. */
    CAIRN_QUERY_FLAG_ACK = 1 << 0,
    /* The query is not re-gossiped (sent to the filtered nodes only). */
    CAIRN_QUERY_FLAG_NO_BROADCAST = 1 << 1,
};

/* Answers the query `query_id` with payload (copied). ctx and query_id come
 * from the event and may be kept after the event callback returns: a query
 * may be answered until its deadline, once. Returns 0, CAIRN_ETIMEDOUT (past
 * the deadline), CAIRN_EEXIST (answered already), CAIRN_ELIMIT (payload
 * over the query's response size limit; Serf's QueryResponseSizeLimit is
 * 1,024 bytes by default), CAIRN_ENOENT (the query is unknown: its source
 * is gone) or a transport error. Runs on the cluster's thread. */
typedef int (*cairn_query_respond_fn)(void *ctx, uint64_t query_id, const uint8_t *payload,
                                      size_t len);

/* A (possibly coalesced) serf event: the one event type of the serf layer,
 * the RPC `stream` codec, the agent's log and the routing adapter. Which
 * fields mean something depends on the type; the others are zero.
 *
 *   member-*  members/nmembers
 *   user      name, payload, ltime, coalesce
 *   query     name, payload, ltime, query_id, query_flags, source, deadline,
 *             respond/respond_ctx
 *
 * Everything it points to is borrowed for the duration of the callback;
 * only respond_ctx and query_id may be kept (see cairn_query_respond_fn). */
typedef struct cairn_event {
    /* enum cairn_event_type (other values are possible: "unknown"). */
    int type;
    /* Member events: the members concerned (Serf coalesces several into
     * one event), borrowed. */
    const cairn_member *members;
    size_t nmembers;
    /* User events and queries: the name (NUL-terminated) and the payload
     * (payload_len bytes, NULL when empty), borrowed. */
    const char *name;
    const uint8_t *payload;
    size_t payload_len;
    /* User events: the event clock's Lamport time (UserEventMessage.LTime).
     * Queries: the query clock's (messageQuery.LTime). */
    uint64_t ltime;
    /* User events: the sender allowed coalescing (only the last event of a
     * name per coalesce period may be delivered). */
    bool coalesce;
    /* Queries: the identifier to answer with, opaque to the caller. From
     * native serf: Serf's query ID (messageQuery.ID) in the low 32 bits and
     * the low 32 bits of the query's LTime in the high 32, so two origins
     * that drew the same random ID are told apart; from an agent's RPC
     * stream, the agent's own handle for the `respond` command
     * (streamQuery.ID). */
    uint64_t query_id;
    /* Queries: enum cairn_query_flag bits (0 when the source does not tell:
     * the RPC stream does not carry them). */
    uint32_t query_flags;
    /* Queries: the origin node's name (NULL when the source does not tell:
     * the RPC stream does not carry it), borrowed. */
    const char *source;
    /* Queries: when answers stop being accepted, on the cluster loop's
     * clock (cairn_loop_now); 0 when the source does not tell. */
    cairn_time deadline;
    /* Queries: how to answer (see cairn_query_respond_fn), with its
     * context; NULL when this event cannot be answered from here. */
    cairn_query_respond_fn respond;
    void *respond_ctx;
} cairn_event;

/* Delivers one event. Runs on the cluster's thread; the event and everything
 * it points to are valid only during the call. */
typedef void (*cairn_event_cb)(const cairn_event *ev, void *userdata);

#endif
