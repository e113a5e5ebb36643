/* cairn/serfrpc.h: a client of the Serf agent RPC (port 7373), and a
 * cluster backend built on it.
 *
 * The client speaks the agent's IPC protocol (spec serf-wire §5) over one
 * TCP stream from the cairn loop: handshake, optional auth, then requests
 * pipelined by Seq. Replies arrive through one callback type; a `stream`
 * subscription delivers member and user events as cairn_event values while
 * other requests keep running on the same connection.
 *
 * When the agent goes away the client reports it once (a log line and the
 * state callback), then reconnects with bounded, jittered exponential
 * backoff; every (re)connection is announced by the state callback so the
 * owner can resubscribe and resynchronise. A connection that handshakes and
 * then fails does not end the outage: the backoff keeps growing and nothing
 * more is reported until a connection has stayed up (stable_after) or the
 * owner has marked it useful. Failures name the agent address
 * and the cause: "cannot reach serf agent at 127.0.0.1:7373: connection
 * refused".
 *
 * The cluster backend (cairn_serfrpc_cluster) keeps a local cache of the
 * agent's members and of their coordinates, refreshed on events and
 * periodically, and implements the cairn_cluster seam synchronously from that
 * cache so the Router can use it. After each (re)connection it replaces its
 * member list with the agent's and emits the events that turn the old view
 * into the new one (join/failed/leave/update, and reap for members the agent
 * no longer knows), so nothing stale lingers in a router fed by it.
 *
 * Threading: everything here runs on the loop thread.
 */
#ifndef CAIRN_SERFRPC_H
#define CAIRN_SERFRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/limits.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/time.h"

/* Decoding caps for agent replies (untrusted bytes). */
/* One header, body or stream record; a members reply of CAIRN_SERFRPC_MAX_MEMBERS
 * members with full tags stays well below it. */
#define CAIRN_SERFRPC_MAX_RECORD (16u * 1024 * 1024)
/* Members in one reply or event (a WAN pool of 64k servers is far beyond
 * any real Consul federation). */
#define CAIRN_SERFRPC_MAX_MEMBERS 65536u
/* Tags per member: Serf meta is at most 512 bytes, each tag takes >= 2. */
#define CAIRN_SERFRPC_MAX_TAGS 256u
/* A tag key or value, a stats entry, an event name (the Meta limit; node
 * names are capped by CAIRN_NAME_MAX). */
#define CAIRN_SERFRPC_MAX_STRING ((unsigned)CAIRN_META_MAX)
/* An Error string (join errors list every failed address). */
#define CAIRN_SERFRPC_MAX_ERROR 8192u
/* A user event payload (Serf's own cap is 9 KiB). */
#define CAIRN_SERFRPC_MAX_PAYLOAD 65536u
/* Entries of a stats reply (sections times keys; the agent sends ~30). */
#define CAIRN_SERFRPC_MAX_STATS 1024u
/* Requests waiting for a reply at once; more is a caller bug. */
#define CAIRN_SERFRPC_MAX_PENDING 16384u
/* Entries of a key command's Keys or Messages map (one per key, one per
 * failing node). */
#define CAIRN_SERFRPC_MAX_KEY_ENTRIES 65536u
/* One monitor log line. */
#define CAIRN_SERFRPC_MAX_LOG_LINE 65536u

/* Opaque: a Serf agent RPC client on one loop. */
typedef struct cairn_serfrpc cairn_serfrpc;

/* Connection states reported to the state callback. */
enum cairn_serfrpc_state {
    /* Handshake (and auth) done: requests may be sent. */
    CAIRN_SERFRPC_READY = 1,
    /* The agent is unreachable or went away (reported once per outage);
     * pending requests have failed; the client retries unless it gave up. */
    CAIRN_SERFRPC_DOWN = 2,
    /* Reconnection stopped (no reconnect configured, max attempts reached,
     * or auth was refused); the client stays idle. */
    CAIRN_SERFRPC_GAVE_UP = 3,
};

/* State change. err is 0 for READY, else the cause; msg is a sentence
 * naming the agent address and the cause, valid during the call. The
 * callback may send requests (on READY) or delete the client. */
typedef void (*cairn_serfrpc_state_cb)(cairn_serfrpc *c, int state, int err, const char *msg,
                                       void *userdata);

/* One stats value: section ("agent", "serf", "tags" ...), key and value. */
typedef struct cairn_serfrpc_stat {
    /* Section, e.g. "agent". */
    const char *section;
    /* Key within the section, e.g. "name". */
    const char *key;
    /* Value, as the agent sent it. */
    const char *value;
} cairn_serfrpc_stat;

/* One key of a list-keys answer and how many nodes have it installed. */
typedef struct cairn_serfrpc_key_count {
    /* The key, base64 as the agent sent it. */
    const char *key;
    /* Nodes that reported it. */
    int32_t count;
} cairn_serfrpc_key_count;

/* One node's message in a key command answer (why it failed). */
typedef struct cairn_serfrpc_node_message {
    /* The node name. */
    const char *node;
    /* Its message, e.g. "No keyring to modify (encryption not enabled)". */
    const char *message;
} cairn_serfrpc_node_message;

/* The body of install-key / use-key / remove-key / list-keys replies
 * (Serf's keyResponse). */
typedef struct cairn_serfrpc_keys {
    /* list-keys: every key and its node count (in the agent's map order). */
    const cairn_serfrpc_key_count *keys;
    /* Entries of keys. */
    size_t nkeys;
    /* Per-node failure messages. */
    const cairn_serfrpc_node_message *messages;
    /* Entries of messages. */
    size_t nmessages;
    /* Nodes that failed, nodes in the cluster, nodes that answered. */
    int32_t num_err, num_nodes, num_resp;
} cairn_serfrpc_keys;

/* A reply. Everything it points to is valid only during the callback. */
typedef struct cairn_serfrpc_reply {
    /* 0; CAIRN_EREMOTE when the agent answered with an Error (in `error`);
     * CAIRN_EAUTH for auth errors; or the transport failure (CAIRN_ECONNRESET,
     * CAIRN_ETIMEDOUT, CAIRN_ESHUTDOWN when the client was deleted ...). */
    int status;
    /* The agent's Error string, or a sentence describing the failure; ""
     * on success. */
    const char *error;
    /* members / members-filtered. */
    const cairn_member *members;
    size_t nmembers;
    /* join: nodes contacted. */
    int32_t num_joined;
    /* get-coordinate: whether the agent knew the node, and the coordinate. */
    bool coord_ok;
    cairn_coord coord;
    /* stats, flattened. */
    const cairn_serfrpc_stat *stats;
    size_t nstats;
    /* stats: every section name, also those without entries (the agent's
     * "event_handlers" is often empty), in the agent's order. */
    const char *const *stat_sections;
    /* Entries of stat_sections. */
    size_t nstat_sections;
    /* install-key, use-key, remove-key, list-keys: the keyResponse body
     * (also filled when status is CAIRN_EREMOTE: the agent sends the per
     * node messages with its "n/m nodes reported failure" error). */
    cairn_serfrpc_keys keys;
} cairn_serfrpc_reply;

/* A request completed (or failed). Runs on the loop thread, exactly once
 * per accepted request (also with CAIRN_ESHUTDOWN when the client is
 * deleted). May send requests or delete the client. */
typedef void (*cairn_serfrpc_reply_cb)(cairn_serfrpc *c, const cairn_serfrpc_reply *r,
                                       void *userdata);

/* A stream record arrived (ev != NULL, status 0), or the stream ended
 * (ev == NULL; status says why: CAIRN_ECONNRESET when the connection was
 * lost, CAIRN_EREMOTE when the agent refused it, 0 after cairn_serfrpc_stop).
 * Exactly one end call per accepted stream. */
typedef void (*cairn_serfrpc_event_cb)(cairn_serfrpc *c, const cairn_event *ev, int status,
                                       void *userdata);

/* What cairn_serfrpc_new needs; cairn_serfrpc_config_default fills it. */
typedef struct cairn_serfrpc_config {
    /* The agent's RPC address (Serf's default 127.0.0.1:7373). */
    cairn_addr addr;
    /* The agent's -rpc-auth key, or NULL/"" for none. Copied. */
    const char *auth_key;
    /* Dial timeout; 0 means 5 s. */
    cairn_time connect_timeout;
    /* A request without a reply this long means the agent is stuck: the
     * connection is dropped and re-established. 0 means 30 s. */
    cairn_time request_timeout;
    /* Reconnect after losing the agent. */
    bool reconnect;
    /* Backoff between attempts: starts at backoff_min, doubles up to
     * backoff_max, each wait drawn uniformly in [d/2, d]. 0 means 100 ms and
     * 5 s. */
    cairn_time backoff_min, backoff_max;
    /* Consecutive failed attempts before giving up; 0 = never give up. A
     * connection that handshakes but fails before it has stayed up for
     * stable_after counts as a failed attempt. */
    unsigned max_attempts;
    /* An outage ends (the backoff restarts at backoff_min and the next loss
     * is reported as DOWN again) only when a connection has stayed READY
     * this long; 0 means 10 s. A connection the owner marked useful
     * (cairn_serfrpc_mark_useful) makes its loss reported again, but keeps
     * the backoff growing until it has been up this long. */
    cairn_time stable_after;
    /* Seed for the jitter PRNG (0: from the OS). */
    uint64_t seed;
    /* Where to log (copied; NULL for none). */
    const cairn_logger *logger;
    /* Connection state changes (may be NULL). */
    cairn_serfrpc_state_cb state_cb;
    void *userdata;
} cairn_serfrpc_config;

/* cairn_serfrpc_config_default: addr 127.0.0.1:7373, reconnect on, all
 * durations at their defaults. */
void cairn_serfrpc_config_default(cairn_serfrpc_config *cfg);

/* cairn_serfrpc_new creates a client on loop (nothing is sent until
 * cairn_serfrpc_start). 0, CAIRN_EINVAL or CAIRN_ENOMEM. */
int cairn_serfrpc_new(cairn_loop *loop, const cairn_serfrpc_config *cfg, cairn_serfrpc **ret_c);

/* cairn_serfrpc_start begins connecting. The state callback reports the
 * outcome. 0 or CAIRN_EBUSY when already started. */
int cairn_serfrpc_start(cairn_serfrpc *c);

/* cairn_serfrpc_delete closes the connection; pending requests complete
 * with CAIRN_ESHUTDOWN and streams end with CAIRN_ESHUTDOWN before it
 * returns (callbacks must not use the client then). Safe inside a callback
 * of this client (freed after it returns). Accepts NULL. */
void cairn_serfrpc_delete(cairn_serfrpc *c);

/* cairn_serfrpc_ready: the client is READY (requests can be sent). */
bool cairn_serfrpc_ready(const cairn_serfrpc *c);
/* cairn_serfrpc_mark_useful: the owner got what it connected for on this
 * connection (the cluster backend calls it when it has synchronised), so
 * it has announced the agent as back and the loss of this connection is
 * news: it is reported as DOWN even if it comes before stable_after. No-op
 * when not READY. */
void cairn_serfrpc_mark_useful(cairn_serfrpc *c);

/* cairn_serfrpc_addr_string: the agent address as text (static per client). */
const char *cairn_serfrpc_addr_string(const cairn_serfrpc *c);

/* Requests. Each returns 0 when the request was sent (cb follows exactly
 * once), CAIRN_ENOTCONN when not READY, CAIRN_ELIMIT when too many are
 * pending, CAIRN_EINVAL or CAIRN_ENOMEM (cb is then never called). Strings
 * are copied. */
int cairn_serfrpc_members(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata);
/* members-filtered: each non-NULL, non-empty field is an anchored regexp
 * evaluated by the agent; tags: ntags key/regexp pairs. */
int cairn_serfrpc_members_filtered(cairn_serfrpc *c, const char *name, const char *status,
                                   const cairn_tag *tags, size_t ntags, cairn_serfrpc_reply_cb cb,
                                   void *userdata);
/* join: addrs are "host[:port]" strings as the agent accepts them. */
int cairn_serfrpc_join(cairn_serfrpc *c, const char *const *addrs, size_t naddrs, bool replay,
                       cairn_serfrpc_reply_cb cb, void *userdata);
int cairn_serfrpc_get_coordinate(cairn_serfrpc *c, const char *node, cairn_serfrpc_reply_cb cb,
                                 void *userdata);
int cairn_serfrpc_stats(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata);

/* cairn_serfrpc_stream subscribes to events matching filter (the agent's
 * syntax: "member-join,member-failed,user:deploy", "*" or ""). ack (may be
 * NULL) gets the agent's answer to the subscription; then ev_cb gets records
 * until the stream ends. *ret_seq identifies it for cairn_serfrpc_stop. */
int cairn_serfrpc_stream(cairn_serfrpc *c, const char *filter, cairn_serfrpc_reply_cb ack,
                         cairn_serfrpc_event_cb ev_cb, void *userdata, uint64_t *ret_seq);

/* cairn_serfrpc_stop ends the stream (or query, or monitor) seq: no record is delivered after this
 * call; its ev_cb gets its end call (status 0) when the agent confirms (or
 * the connection ends). cb (may be NULL) gets the agent's reply. 0,
 * CAIRN_ENOENT for an unknown stream, or the request errors above. */
int cairn_serfrpc_stop(cairn_serfrpc *c, uint64_t seq, cairn_serfrpc_reply_cb cb, void *userdata);

/* cairn_serfrpc_leave asks the agent to leave the cluster gracefully and
 * shut down; the reply comes after the leave has completed. */
int cairn_serfrpc_leave(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata);

/* cairn_serfrpc_force_leave marks a failed node as left; with prune it is
 * also removed from the member list at once. */
int cairn_serfrpc_force_leave(cairn_serfrpc *c, const char *node, bool prune,
                              cairn_serfrpc_reply_cb cb, void *userdata);

/* cairn_serfrpc_event sends a user event. payload NULL sends nil (what the
 * serf CLI sends without a payload argument), else payload_len bytes. */
int cairn_serfrpc_event(cairn_serfrpc *c, const char *name, const uint8_t *payload,
                        size_t payload_len, bool coalesce, cairn_serfrpc_reply_cb cb,
                        void *userdata);

/* cairn_serfrpc_tags sets (merges) nset tags and deletes ndelete tag keys
 * of the agent's own node. */
int cairn_serfrpc_tags(cairn_serfrpc *c, const cairn_tag *set, size_t nset,
                       const char *const *delete_keys, size_t ndelete, cairn_serfrpc_reply_cb cb,
                       void *userdata);

/* cairn_serfrpc_respond answers the query the agent streamed with id
 * (cairn_event.query_id) with payload. */
int cairn_serfrpc_respond(cairn_serfrpc *c, uint64_t id, const uint8_t *payload, size_t payload_len,
                          cairn_serfrpc_reply_cb cb, void *userdata);

/* Key commands (Serf's keyring over the cluster): key is base64. The reply
 * carries the keyResponse in reply->keys; status CAIRN_EREMOTE with error
 * "n/m nodes reported failure" when some node failed. */
int cairn_serfrpc_install_key(cairn_serfrpc *c, const char *key, cairn_serfrpc_reply_cb cb,
                              void *userdata);
/* use-key: makes key the primary on every node. */
int cairn_serfrpc_use_key(cairn_serfrpc *c, const char *key, cairn_serfrpc_reply_cb cb,
                          void *userdata);
/* remove-key: removes key from every node. */
int cairn_serfrpc_remove_key(cairn_serfrpc *c, const char *key, cairn_serfrpc_reply_cb cb,
                             void *userdata);
/* list-keys: every installed key with its node count. */
int cairn_serfrpc_list_keys(cairn_serfrpc *c, cairn_serfrpc_reply_cb cb, void *userdata);

/* Query record types (Serf's "ack", "response", "done"). */
enum cairn_serfrpc_query_record_type {
    /* A node acknowledged the query (RequestAck). */
    CAIRN_SERFRPC_QUERY_ACK = 1,
    /* A node responded with a payload. */
    CAIRN_SERFRPC_QUERY_RESPONSE = 2,
    /* The query's deadline passed: no more records follow. */
    CAIRN_SERFRPC_QUERY_DONE = 3,
};

/* One record of a query stream. Valid only during the callback. */
typedef struct cairn_serfrpc_query_record {
    /* enum cairn_serfrpc_query_record_type. */
    int type;
    /* The acking or responding node ("" for done). */
    const char *from;
    /* The response payload (NULL, 0 for acks and done). */
    const uint8_t *payload;
    /* Bytes of payload. */
    size_t payload_len;
} cairn_serfrpc_query_record;

/* A query record arrived (rec != NULL, status 0), or the query stream
 * ended (rec == NULL; status 0 after the done record or
 * cairn_serfrpc_stop, CAIRN_EREMOTE when the agent refused the query (the
 * ack callback has the error), or the transport failure). Exactly one end
 * call per accepted query. */
typedef void (*cairn_serfrpc_query_cb)(cairn_serfrpc *c, const cairn_serfrpc_query_record *rec,
                                       int status, void *userdata);

/* What a query asks (Serf's QueryParam). */
typedef struct cairn_serfrpc_query_params {
    /* The query name (names starting with "_serf_" are refused by the
     * agent, except "_serf_ping" without payload). */
    const char *name;
    /* The payload; NULL sends nil. */
    const uint8_t *payload;
    /* Bytes of payload. */
    size_t payload_len;
    /* Only these nodes (nfilter_nodes names; 0 for all). */
    const char *const *filter_nodes;
    /* Entries of filter_nodes. */
    size_t nfilter_nodes;
    /* Only nodes whose tags match these key/regexp pairs. */
    const cairn_tag *filter_tags;
    /* Entries of filter_tags. */
    size_t nfilter_tags;
    /* Ask every node for an ack. */
    bool request_ack;
    /* Extra nodes that relay each response (0-255). */
    uint8_t relay_factor;
    /* The query deadline; 0 lets the agent choose (Serf's default). */
    cairn_time timeout;
} cairn_serfrpc_query_params;

/* cairn_serfrpc_query starts a query. ack (may be NULL) gets the agent's
 * answer to the request; then rec_cb gets ack/response records, the done
 * record at the deadline, and the end call. *ret_seq (may be NULL)
 * identifies it for cairn_serfrpc_stop. The request watchdog covers only
 * the agent's first answer: the records run until the deadline. */
int cairn_serfrpc_query(cairn_serfrpc *c, const cairn_serfrpc_query_params *q,
                        cairn_serfrpc_reply_cb ack, cairn_serfrpc_query_cb rec_cb, void *userdata,
                        uint64_t *ret_seq);

/* A monitor log line arrived (line != NULL, status 0: one line without
 * its newline), or the monitor ended (line == NULL; status as for
 * cairn_serfrpc_event_cb). */
typedef void (*cairn_serfrpc_log_cb)(cairn_serfrpc *c, const char *line, int status,
                                     void *userdata);

/* cairn_serfrpc_monitor streams the agent's log at level ("trace",
 * "debug", "info", "warn", "err"; case-insensitive; NULL or "" for
 * "INFO"): first the agent's backlog, then live lines, until
 * cairn_serfrpc_stop(*ret_seq) or the connection ends. ack (may be NULL)
 * gets the agent's answer ("Unknown log level: X", "Monitor already
 * exists"). */
int cairn_serfrpc_monitor(cairn_serfrpc *c, const char *level, cairn_serfrpc_reply_cb ack,
                          cairn_serfrpc_log_cb log_cb, void *userdata, uint64_t *ret_seq);

/* ---- the cluster backend ---- */

/* Opaque: the cluster seam over a Serf agent, with its member cache. */
typedef struct cairn_serfrpc_cluster cairn_serfrpc_cluster;

/* Synchronisation state reported to sync_cb. */
enum cairn_serfrpc_sync {
    /* Members, own name and every coordinate are loaded from the agent
     * (after each (re)connection). */
    CAIRN_SERFRPC_SYNCED = 1,
    /* The agent went away; the cache is kept (stale) until it is back. */
    CAIRN_SERFRPC_STALE = 2,
    /* The client gave up (see CAIRN_SERFRPC_GAVE_UP), or the agent refused
     * a synchronisation request (err CAIRN_EAUTH: it wants an RPC auth key;
     * CAIRN_EREMOTE: another error), reported once per connection. */
    CAIRN_SERFRPC_FAILED = 3,
};

/* Synchronisation change (enum cairn_serfrpc_sync); err and msg as for
 * cairn_serfrpc_state_cb. Runs on the loop thread. */
typedef void (*cairn_serfrpc_sync_cb)(cairn_serfrpc_cluster *cl, int sync, int err, const char *msg,
                                      void *userdata);

/* What cairn_serfrpc_cluster_new needs. */
typedef struct cairn_serfrpc_cluster_config {
    /* The RPC client's settings (its state_cb/userdata are ignored: the
     * cluster uses them). */
    cairn_serfrpc_config rpc;
    /* How often every coordinate is re-read; 0 means 5 s. */
    cairn_time coord_refresh;
    /* How often the member list is re-read and reconciled (0: never; the
     * event stream alone keeps the cache current, but the agent delivers
     * member events coalesced, 1-3 s after the change). */
    cairn_time member_poll;
    /* Member events (from the agent's stream, and synthesized on resync
     * and member polls), delivered after the cache has been updated; a
     * streamed member that changes nothing in the cache (a repeat of what a
     * resync or poll already applied) is left out. User events pass
     * through. May be NULL. */
    cairn_event_cb event_cb;
    /* Synchronisation changes; may be NULL. */
    cairn_serfrpc_sync_cb sync_cb;
    /* Passed to both callbacks. */
    void *userdata;
} cairn_serfrpc_cluster_config;

/* cairn_serfrpc_cluster_new creates the backend and its client (not yet
 * connected). 0, CAIRN_EINVAL or CAIRN_ENOMEM. */
int cairn_serfrpc_cluster_new(cairn_loop *loop, const cairn_serfrpc_cluster_config *cfg,
                              cairn_serfrpc_cluster **ret_cl);
/* cairn_serfrpc_cluster_start connects. 0 or a CAIRN_E* code. */
int cairn_serfrpc_cluster_start(cairn_serfrpc_cluster *cl);
/* cairn_serfrpc_cluster_delete: NULL ok; not from inside its callbacks. */
void cairn_serfrpc_cluster_delete(cairn_serfrpc_cluster *cl);

/* cairn_serfrpc_cluster_get: the cluster seam over this backend. The value
 * is valid as long as the backend. */
cairn_cluster cairn_serfrpc_cluster_get(cairn_serfrpc_cluster *cl);

/* cairn_serfrpc_cluster_client: the underlying RPC client (for join etc.). */
cairn_serfrpc *cairn_serfrpc_cluster_client(cairn_serfrpc_cluster *cl);

/* cairn_serfrpc_cluster_self: the agent's node name (stats agent.name), or
 * NULL before the first sync. Valid until the next event. */
const char *cairn_serfrpc_cluster_self(const cairn_serfrpc_cluster *cl);

/* cairn_serfrpc_cluster_self_tag: a tag of the agent itself (stats "tags"
 * section), or NULL. */
const char *cairn_serfrpc_cluster_self_tag(const cairn_serfrpc_cluster *cl, const char *key);

/* cairn_serfrpc_cluster_synced: true between SYNCED and the next STALE. */
bool cairn_serfrpc_cluster_synced(const cairn_serfrpc_cluster *cl);

/* cairn_serfrpc_cluster_refresh_coordinates starts an immediate re-read of
 * every coordinate; done (may be NULL) runs when all replies are in. */
int cairn_serfrpc_cluster_refresh_coordinates(cairn_serfrpc_cluster *cl,
                                              void (*done)(cairn_serfrpc_cluster *cl, void *ud),
                                              void *userdata);

#endif
