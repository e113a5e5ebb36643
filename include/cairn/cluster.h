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

/* Defined in cairn/coord.h (the coord layer); the seam only passes it by
 * pointer, so base does not depend on coord. */
typedef struct cairn_coord cairn_coord;

/* Longest node name, in bytes, that cairn accepts from a peer or for
 * itself (memberlist has no limit; a longer name is refused by the
 * decoders rather than held in unbounded tables). */
#define CAIRN_MEMBER_NAME_MAX 1024

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
 * "member-update", "member-reap", "user", "query"; "unknown" otherwise. */
const char *cairn_event_type_name(int type);

/* A (possibly coalesced) serf event. For member events, members[0..n-1]
 * are the members concerned; for user events and queries, name/payload. */
typedef struct cairn_event {
    /* enum cairn_event_type (other values are possible: "unknown"). */
    int type;
    /* Member events: the members, borrowed. */
    const cairn_member *members;
    size_t nmembers;
    /* User events and queries: the name and payload, borrowed. */
    const char *name;
    const uint8_t *payload;
    size_t payload_len;
    /* User events and queries: the Lamport time. */
    uint64_t ltime;
} cairn_event;

/* Delivers one event. Runs on the cluster's thread; the event and everything
 * it points to are valid only during the call. */
typedef void (*cairn_event_cb)(const cairn_event *ev, void *userdata);

#endif
