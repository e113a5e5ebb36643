/* cairn/serf.h: Serf 0.9.4's membership layer over cairn_memberlist.
 *
 * A cairn_serf is one Serf member on one cairn_loop. It creates its own
 * cairn_memberlist and sits on it as the delegate: its tags travel as the
 * memberlist Meta, its messages (join and leave intents, user events) ride
 * memberlist's gossip, its state (Lamport clocks, member status times, left
 * members and the 512-slot event ring) rides the push/pull exchange, and its
 * Vivaldi coordinate rides every probe ack. On top of memberlist's
 * alive/suspect/dead it keeps Serf's own member status (alive, leaving,
 * left, failed) decided by Lamport-stamped intents, reaps failed and left
 * members after their timeouts, reconnects to failed members, and delivers
 * member and user events through one cairn_event_cb, optionally coalesced
 * as the serf agent does.
 *
 * Go -> C: serf.Config/DefaultConfig -> cairn_serf_config /
 * cairn_serf_config_default; Create -> cairn_serf_new; Join -> cairn_serf_join;
 * Leave -> cairn_serf_leave; Shutdown -> cairn_serf_delete; RemoveFailedNode
 * (Prune) -> cairn_serf_force_leave; SetTags -> cairn_serf_set_tags;
 * UserEvent -> cairn_serf_user_event; Members -> cairn_serf_for_each_member;
 * NumNodes -> cairn_serf_num_members; Stats -> cairn_serf_get_stats;
 * GetCoordinate / GetCachedCoordinate -> cairn_serf_get_coordinate /
 * cairn_serf_get_cached_coordinate; Query -> cairn_serf_query (QueryParam
 * -> cairn_serf_query_params, QueryResponse -> cairn_serf_query_handle and
 * cairn_serf_query_cb); KeyManager InstallKey / UseKey / RemoveKey /
 * ListKeys -> cairn_serf_install_key / use_key / remove_key / list_keys.
 * Snapshots are not here yet.
 *
 * Threading: everything runs on the loop thread; no function here is
 * thread-safe. Callbacks run on the loop thread and must not delete the
 * serf.
 */
#ifndef CAIRN_SERF_H
#define CAIRN_SERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/memberlist.h"
#include "cairn/time.h"

/* One serf node (opaque): its memberlist, members, clocks and queues. */
typedef struct cairn_serf cairn_serf;

/* Serf protocol versions (the memberlist delegate version): min 2, max 5;
 * the library default is 4, the agent runs 5. */
#define CAIRN_SERF_PROTOCOL_MIN     2
#define CAIRN_SERF_PROTOCOL_MAX     5
#define CAIRN_SERF_PROTOCOL_DEFAULT 4
/* Serf's hard limit on a user event (name + payload, and encoded). */
#define CAIRN_SERF_USER_EVENT_SIZE_MAX 9216
/* Slots of the user-event dedup ring (Serf's EventBuffer). */
#define CAIRN_SERF_EVENT_BUFFER 512

/* The serf instance's own state (Serf's SerfState). */
enum cairn_serf_state {
    CAIRN_SERF_ALIVE = 0,
    CAIRN_SERF_LEAVING = 1,
    CAIRN_SERF_LEFT = 2,
    CAIRN_SERF_SHUTDOWN = 3,
};

/* Configuration. Fill with cairn_serf_config_default, then set at least
 * memberlist.name and memberlist.bind. Durations in ns. */
typedef struct cairn_serf_config {
    /* The memberlist underneath (name, addresses, timing, seed). Its
     * delegate protocol fields are set by serf from protocol_version. */
    cairn_memberlist_config memberlist;
    /* Serf protocol version spoken (CAIRN_SERF_PROTOCOL_MIN..MAX); >= 3
     * encodes tags as 0xFF + msgpack map (cairn requires >= 3). */
    uint8_t protocol_version;
    /* Initial tags (copied at creation); encoded at most CAIRN_META_MAX. */
    const cairn_tag *tags;
    size_t ntags;
    /* Receives every event (may be NULL), with its userdata. */
    cairn_event_cb event_cb;
    void *event_userdata;
    /* Wait for our leave intent (and memberlist's leave) to be sent. */
    cairn_time broadcast_timeout;
    /* Stay up this long after memberlist's leave, answering probes. */
    cairn_time leave_propagate_delay;
    /* Member-event coalescing: flush coalesce_period after the first event
     * of a batch or after quiescent_period of quiet; 0 disables. */
    cairn_time coalesce_period, quiescent_period;
    /* The same for user events sent with coalesce = true. */
    cairn_time user_coalesce_period, user_quiescent_period;
    /* Reaper period, and how long failed / left members are kept. */
    cairn_time reap_interval, reconnect_timeout, tombstone_timeout;
    /* Reconnect attempt period (0 disables reconnects). */
    cairn_time reconnect_interval;
    /* How long intents about not-yet-known members are kept. */
    cairn_time recent_intent_timeout;
    /* Broadcast queue checks: period, warning depth, hard depth; with
     * min_queue_depth > 0 the depth is max(2 * members, min_queue_depth). */
    cairn_time queue_check_interval;
    size_t queue_depth_warning, max_queue_depth, min_queue_depth;
    /* Largest user event (name + payload, and the encoded message); at most
     * CAIRN_SERF_USER_EVENT_SIZE_MAX. */
    size_t user_event_size_limit;
    /* A member that failed less than this ago and rejoins is a flap
     * (counted only). */
    cairn_time flap_timeout;
    /* No coordinates: no ack payload, no Vivaldi client. */
    bool disable_coordinates;
    /* The Vivaldi client's tuning (rng_seed 0: derived from the seed). */
    cairn_coord_config coord;
    /* cairn: caps on the member table and on the table of recent intents
     * about unknown members (excess is dropped and counted). */
    size_t max_members, max_recent_intents;
    /* Query timeout multiplier (Go: QueryTimeoutMult, 16): the default
     * timeout is gossip_interval * this * ceil(log10(N + 1)). */
    int query_timeout_mult;
    /* Largest encoded query and query response (Go: QuerySizeLimit,
     * QueryResponseSizeLimit; 1024 each). */
    size_t query_size_limit, query_response_size_limit;
    /* Run _serf_conflict when another node claims our name, and shut down
     * when the majority sides with it (Go: EnableNameConflictResolution). */
    bool enable_name_conflict_resolution;
    /* cairn: caps on the queries we run and on the received queries that
     * may still be answered (excess is refused / delivered unanswerable and
     * counted). */
    size_t max_queries, max_pending_responses;
    /* Serf's snapshot file (-snapshot): members, clocks and leaves are
     * recorded there and replayed on start (clocks restored, old events
     * not re-delivered, remembered members re-joined). NULL or "": none.
     * Copied at creation. Written through the loop's file
     * seam (cairn_file_*; synchronous, see docs/FILES.md). */
    const char *snapshot_path;
    /* After a graceful leave, a restart still re-joins the members the
     * snapshot remembers (Serf's RejoinAfterLeave); default false: a
     * snapshot ending in `leave` starts the node alone. */
    bool rejoin_after_leave;
    /* Called on the loop thread after a key query (_serf_install-key,
     * _serf_use-key, _serf_remove-key) succeeded on our keyring, where Serf
     * rewrites its KeyringFile; the agent persists the keyring there. NULL:
     * none. It must not delete the serf. */
    void (*keyring_changed_cb)(cairn_serf *s, void *userdata);
    /* Passed to keyring_changed_cb. */
    void *keyring_changed_userdata;
} cairn_serf_config;

/* cairn_serf_config_default fills c with Serf's library defaults over the
 * memberlist LAN profile: protocol 4, BroadcastTimeout 5 s,
 * LeavePropagateDelay 1 s, no coalescing, ReapInterval 15 s,
 * ReconnectInterval 30 s, ReconnectTimeout and TombstoneTimeout 24 h,
 * RecentIntentTimeout 5 min, QueueCheckInterval 30 s, QueueDepthWarning 128,
 * MaxQueueDepth 4096, MinQueueDepth 0, UserEventSizeLimit 512, FlapTimeout
 * 60 s, coordinates on, max_members 65536, max_recent_intents 16384,
 * QueryTimeoutMult 16, QuerySizeLimit and QueryResponseSizeLimit 1024, name
 * conflict resolution on, max_queries 1024, max_pending_responses 4096. */
void cairn_serf_config_default(cairn_serf_config *c);

/* cairn_serf_config_check validates c (and its memberlist and coordinate
 * configs): 0, or CAIRN_EINVAL with diag naming the field. */
int cairn_serf_config_check(const cairn_serf_config *c, cairn_diag *diag);

/* cairn_serf_new creates the memberlist (binding its sockets on loop) and
 * starts serf's timers. logger and keyring may be NULL and must outlive the
 * serf. The event callback sees our own member-join during this call. 0,
 * CAIRN_EINVAL (config, diag says which field), CAIRN_ELIMIT (tags too
 * large, diag names the tag), CAIRN_ENOMEM or a bind error. */
int cairn_serf_new(cairn_loop *loop, const cairn_serf_config *cfg, const cairn_logger *logger,
                   cairn_keyring *keyring, cairn_serf **ret_serf, cairn_diag *diag);

/* cairn_serf_delete shuts down without leaving (peers see a failure, as
 * Serf's Shutdown) and frees everything. Pending completions run first with
 * CAIRN_ECANCELED. Accepts NULL. Not from inside a serf callback. */
void cairn_serf_delete(cairn_serf *s);

/* Completion of join / leave: status 0 or a CAIRN_E*; count = peers
 * contacted (join). Runs on the loop thread; must not delete the serf. */
typedef void (*cairn_serf_done_cb)(cairn_serf *s, int status, int count, void *userdata);

/* cairn_serf_join push/pulls with each address (memberlist join); when at
 * least one answered it broadcasts our join intent. ignore_old: user events
 * older than the peer's event clock are not delivered (no replay). done
 * (may be NULL) runs once. 0, CAIRN_EINVAL, CAIRN_ESHUTDOWN (leaving, left)
 * or CAIRN_ENOMEM. */
int cairn_serf_join(cairn_serf *s, const cairn_addr *addrs, size_t n, bool ignore_old,
                    cairn_serf_done_cb done, void *userdata);

/* cairn_serf_leave leaves gracefully: state leaving, leave intent broadcast
 * (waiting until sent, at most broadcast_timeout), memberlist leave (the
 * same), leave_propagate_delay, state left; then done (status 0). When the
 * intent's broadcast times out cairn still does the memberlist leave (Serf
 * gives up; see stats.leave_timeouts). 0, CAIRN_EBUSY (a leave is running),
 * CAIRN_ESHUTDOWN. Calling it when left completes at once (status 0). */
int cairn_serf_leave(cairn_serf *s, cairn_serf_done_cb done, void *userdata);

/* cairn_serf_force_leave broadcasts a leave intent for member `name`
 * (failed → left; prune also erases it, with a reap event). Returns once
 * queued: 0, CAIRN_EINVAL, CAIRN_ENOMEM. */
int cairn_serf_force_leave(cairn_serf *s, const char *name, bool prune);

/* cairn_serf_set_tags replaces our tags (copied) and gossips them
 * (memberlist update: peers see member-update). 0, CAIRN_EINVAL (empty or
 * duplicate key), CAIRN_ELIMIT (encoded over CAIRN_META_MAX; diag names the
 * largest tag), CAIRN_ENOMEM, CAIRN_ESHUTDOWN. */
int cairn_serf_set_tags(cairn_serf *s, const cairn_tag *tags, size_t n, cairn_diag *diag);

/* cairn_serf_user_event broadcasts a user event (delivered locally too).
 * 0, CAIRN_EINVAL, CAIRN_ELIMIT (name + payload or the encoded message over
 * user_event_size_limit or CAIRN_SERF_USER_EVENT_SIZE_MAX; diag says which),
 * CAIRN_ENOMEM, CAIRN_ESHUTDOWN. */
int cairn_serf_user_event(cairn_serf *s, const char *name, const uint8_t *payload, size_t len,
                          bool coalesce, cairn_diag *diag);

/* cairn_serf_for_each_member calls cb for every member (all statuses, not
 * yet reaped), ours included; stops when cb returns false. The member is
 * borrowed for the call. Returns 0. */
int cairn_serf_for_each_member(cairn_serf *s, cairn_member_cb cb, void *userdata);

/* cairn_serf_get_member calls cb once with member `name`: 0 or
 * CAIRN_ENOENT. */
int cairn_serf_get_member(cairn_serf *s, const char *name, cairn_member_cb cb, void *userdata);

/* cairn_serf_member_status: the status of member `name`
 * (enum cairn_member_status), or CAIRN_ENOENT. */
int cairn_serf_member_status(const cairn_serf *s, const char *name);

/* cairn_serf_num_members: members of every status not yet reaped (Go's
 * NumNodes). */
size_t cairn_serf_num_members(const cairn_serf *s);

/* cairn_serf_state: enum cairn_serf_state. CAIRN_SERF_SHUTDOWN also after
 * this node lost a name-conflict vote (_serf_conflict): its memberlist is
 * stopped and logged so; the application should delete the serf. */
int cairn_serf_state(const cairn_serf *s);

/* cairn_serf_get_coordinate copies our coordinate: 0, or CAIRN_ENOTSUP
 * when coordinates are disabled. */
int cairn_serf_get_coordinate(const cairn_serf *s, cairn_coord *ret_coord);

/* cairn_serf_get_cached_coordinate: the last coordinate member `name` sent
 * us (our own under our name once it has been updated); false when none. */
bool cairn_serf_get_cached_coordinate(const cairn_serf *s, const char *name,
                                      cairn_coord *ret_coord);

/* cairn_serf_memberlist: the memberlist underneath (borrowed). */
cairn_memberlist *cairn_serf_memberlist(cairn_serf *s);

/* cairn_serf_cluster fills *ret_cluster with the cluster seam over s (valid
 * while s lives), so the routing core runs on native serf. */
void cairn_serf_cluster(cairn_serf *s, cairn_cluster *ret_cluster);

/* Counters and gauges (Serf's Stats plus cairn's counters). */
typedef struct cairn_serf_stats {
    /* The three Lamport clocks (member_time, event_time, query_time). */
    uint64_t member_time, event_time, query_time;
    /* Members by status, and all of them. */
    size_t members, alive, leaving, left, failed;
    /* Broadcast queue depths (intent, event, query). */
    size_t intent_queue, event_queue, query_queue;
    /* Intents held for members not yet known. */
    size_t recent_intents;
    /* User events delivered (after dedup, before coalescing). */
    uint64_t events_delivered;
    /* User events dropped: older than the ring, before eventMinTime,
     * beyond the per-slot cap or over the size limit. */
    uint64_t events_too_old, events_before_min, events_dropped;
    /* Queued messages dropped by the queue-depth check, or because a queue
     * reached its hard cap (65,536) between two checks. */
    uint64_t queue_pruned;
    /* Intents / members not stored because their table was full. */
    uint64_t intents_dropped, members_dropped;
    /* Serf messages dropped: malformed, or of a type a gossip message
     * cannot have. */
    uint64_t msgs_malformed, msgs_unhandled;
    /* Flaps (failed member back within flap_timeout). */
    uint64_t flaps;
    /* Leaves whose intent broadcast timed out; members that left
     * memberlist gracefully before their leave intent arrived (cairn marks
     * them left rather than failed). */
    uint64_t leave_timeouts, left_without_intent;
    /* Coordinate resets and rejected updates. */
    uint64_t coordinate_resets, coordinate_rejected;
    /* memberlist's Lifeguard health score. */
    int health_score;
    /* Queries received and processed (new, after dedup), dropped as
     * duplicates, as too old or before queryMinTime, and filtered out. */
    uint64_t queries_received, queries_duplicate, queries_too_old, queries_filtered;
    /* Acks and responses to our queries accepted, and duplicates dropped;
     * replies for no running query. */
    uint64_t query_acks, query_responses, query_duplicate_acks, query_duplicate_responses;
    uint64_t query_replies_unknown;
    /* Relays forwarded for others, and relay copies we sent. */
    uint64_t relays_forwarded, relays_sent;
    /* Received queries delivered without a way to answer because the
     * pending table was full. */
    uint64_t pending_overflow;
    /* Name conflicts about our name seen; resolutions lost (we shut down). */
    uint64_t name_conflicts, conflicts_lost;
    /* Snapshot: lines recorded, compactions, write/sync/compaction errors,
     * lines skipped on replay (torn, overlong, unparsable), and re-join
     * attempts to remembered members. */
    uint64_t snapshot_lines, snapshot_compactions, snapshot_errors;
    uint64_t snapshot_replay_skipped, snapshot_rejoin_attempts;
} cairn_serf_stats;

/* cairn_serf_get_stats fills *ret_stats. */
void cairn_serf_get_stats(const cairn_serf *s, cairn_serf_stats *ret_stats);

/* ---- queries (Go: Query, QueryParam, QueryResponse) ----
 *
 * Received queries reach cfg.event_cb as CAIRN_EVENT_QUERY (never those
 * named "_serf_...", which serf answers itself). The event's query_id
 * holds Serf's ID in its low 32 bits and the low 32 bits of the query's
 * LTime in the high 32 bits; respond(respond_ctx, query_id, ...) answers
 * once until the deadline (respond is NULL when more than
 * max_pending_responses queries are answerable at once). */

/* The prefix of Serf's internal queries; user queries may not use it. */
#define CAIRN_SERF_INTERNAL_QUERY_PREFIX "_serf_"
/* Slots of the query dedup ring (Go: QueryBuffer). */
#define CAIRN_SERF_QUERY_BUFFER 512

/* A query to run. Everything is borrowed for the call only. */
typedef struct cairn_serf_query_params {
    /* Query name (not starting with "_serf_" unless internal use). */
    const char *name;
    /* Payload, payload_len bytes (may be NULL when 0). */
    const uint8_t *payload;
    size_t payload_len;
    /* Node filter: only these nodes process the query (none: all). */
    const char *const *filter_nodes;
    size_t n_filter_nodes;
    /* Tag filters: key = tag name, value = a regular expression the tag's
     * value must match somewhere (unanchored, like Go's
     * regexp.MatchString), in RE2's syntax (\d, \w, (?i), non-greedy
     * ops; PCRE2 underneath, so back-references and look-arounds work too,
     * which Go refuses). A broken expression fails the filter, as in Serf;
     * a hostile one costs at most 512 KiB and 100,000 backtracking steps
     * on every node it reaches, then fails. */
    const cairn_tag *filter_tags;
    size_t n_filter_tags;
    /* Ask every processing node for an ack (Go: RequestAck). */
    bool request_ack;
    /* Also send each ack and response through this many random members
     * (Go: RelayFactor; needs memberlist protocol 5 on them). */
    uint8_t relay_factor;
    /* 0: cairn_serf_default_query_timeout. */
    cairn_time timeout;
} cairn_serf_query_params;

/* A running query (opaque); valid until its done report returns or it is
 * cancelled. */
typedef struct cairn_serf_query_handle cairn_serf_query_handle;

/* What a query callback reports. */
enum cairn_serf_query_report {
    /* An ack from node `from`. */
    CAIRN_SERF_QUERY_ACK = 0,
    /* A response from node `from` with payload. */
    CAIRN_SERF_QUERY_RESPONSE = 1,
    /* The deadline passed (status 0) or the serf is being deleted
     * (CAIRN_ECANCELED); the handle is freed after this call. */
    CAIRN_SERF_QUERY_DONE = 2,
};

/* One report about a running query. Borrowed for the call. */
typedef struct cairn_serf_query_result {
    /* enum cairn_serf_query_report. */
    int kind;
    /* ACK, RESPONSE: the node's name. */
    const char *from;
    /* RESPONSE: the payload (NULL when empty). */
    const uint8_t *payload;
    size_t payload_len;
    /* Acks and responses accepted so far (one of each per node). */
    size_t acks, responses;
    /* Members alive in memberlist when the query started (Go: NumNodes). */
    size_t num_nodes;
    /* DONE: 0 or CAIRN_ECANCELED. */
    int status;
} cairn_serf_query_result;

/* Receives reports about a query q: one per accepted ack and response,
 * then DONE. It may call cairn_serf_query_cancel(q) (no DONE follows) and
 * start new queries; it must not delete the serf. */
typedef void (*cairn_serf_query_cb)(cairn_serf_query_handle *q, const cairn_serf_query_result *r,
                                    void *userdata);

/* cairn_serf_default_query_timeout: gossip_interval * query_timeout_mult *
 * ceil(log10(N + 1)), N = alive members in memberlist (Go:
 * DefaultQueryTimeout). */
cairn_time cairn_serf_default_query_timeout(const cairn_serf *s);

/* cairn_serf_query stamps the query with the query clock, processes it
 * locally (we may answer our own query) and gossips it; acks and responses
 * matched by (LTime, ID) reach cb until the deadline, then DONE. cb may be
 * NULL (fire and forget: the query still closes at its deadline).
 * *ret_query (may be NULL) is the handle. 0, CAIRN_EINVAL (arguments, a
 * node name or tag empty), CAIRN_ELIMIT (encoded query over
 * query_size_limit, or max_queries running), CAIRN_ESHUTDOWN, CAIRN_ENOMEM. */
int cairn_serf_query(cairn_serf *s, const cairn_serf_query_params *params, cairn_serf_query_cb cb,
                     void *userdata, cairn_serf_query_handle **ret_query);

/* cairn_serf_query_cancel closes q now: no further reports (no DONE), late
 * replies are dropped. Accepts NULL. */
void cairn_serf_query_cancel(cairn_serf_query_handle *q);

/* cairn_serf_query_deadline: when q closes (loop time). */
cairn_time cairn_serf_query_deadline(const cairn_serf_query_handle *q);

/* ---- key management (Go: KeyManager over _serf_*-key queries) ---- */

/* One node's answer to a key query. */
typedef struct cairn_serf_key_node {
    /* Node name. */
    const char *from;
    /* The operation succeeded there. */
    bool result;
    /* Its message (error text, or a warning such as a truncated list). */
    const char *message;
} cairn_serf_key_node;

/* A key (base64) and how many nodes reported it. */
typedef struct cairn_serf_key_count {
    /* Standard padded base64 of the key. */
    const char *key;
    /* Number of nodes. */
    size_t count;
} cairn_serf_key_count;

/* The outcome of a key operation across the cluster (Go: KeyResponse).
 * Borrowed for the callback. */
typedef struct cairn_serf_key_response {
    /* 0 when every node answered with success; CAIRN_EREMOTE when some
     * reported failure (num_err), CAIRN_ETIMEDOUT when fewer than
     * num_nodes answered, CAIRN_ECANCELED when the serf was deleted. */
    int status;
    /* Members alive when the query started, responses, failures. */
    size_t num_nodes, num_resp, num_err;
    /* Every responding node. */
    const cairn_serf_key_node *nodes;
    size_t n_nodes;
    /* list-keys: installed keys with their node counts. */
    const cairn_serf_key_count *keys;
    size_t n_keys;
    /* Primary keys with their node counts (every answer names one). */
    const cairn_serf_key_count *primary_keys;
    size_t n_primary_keys;
} cairn_serf_key_response;

/* Receives the outcome of a key operation, once. Must not delete the serf. */
typedef void (*cairn_serf_key_cb)(cairn_serf *s, const cairn_serf_key_response *r, void *userdata);

/* cairn_serf_install_key / use_key / remove_key ask every member (this one
 * included) to install the key, make it primary, or remove it; key is
 * standard base64 of 16, 24 or 32 bytes. cairn_serf_list_keys asks every
 * member for its keys (key unused). cb runs once, when every member
 * answered or at the query's deadline. 0, CAIRN_EINVAL (key not base64 of
 * a valid size), or cairn_serf_query's errors. */
int cairn_serf_install_key(cairn_serf *s, const char *key, cairn_serf_key_cb cb, void *userdata);
/* See cairn_serf_install_key. */
int cairn_serf_use_key(cairn_serf *s, const char *key, cairn_serf_key_cb cb, void *userdata);
/* See cairn_serf_install_key. */
int cairn_serf_remove_key(cairn_serf *s, const char *key, cairn_serf_key_cb cb, void *userdata);
/* See cairn_serf_install_key. */
int cairn_serf_list_keys(cairn_serf *s, cairn_serf_key_cb cb, void *userdata);

#endif
