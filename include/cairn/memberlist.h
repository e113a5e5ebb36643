/* cairn/memberlist.h: SWIM + Lifeguard membership, wire-compatible with
 * HashiCorp memberlist 0.2.2 as Serf 0.9.4 runs it.
 *
 * A cairn_memberlist is one gossip member on one cairn_loop. It probes one
 * peer per ProbeInterval (direct ping, then indirect pings through other
 * members, then a TCP ping), suspects peers that do not answer and declares
 * them dead after a Lifeguard suspicion timeout, spreads alive/suspect/dead
 * news by piggybacking on its packets and by periodic gossip, and
 * reconciles full state with a random peer over TCP (push/pull).
 *
 * Serf sits on top through cairn_memberlist_delegate: node meta (tags), user
 * messages, its own broadcasts, push/pull user state, ack payloads
 * (coordinates) and membership notifications.
 *
 * Threading: everything runs on the loop thread; no function here is
 * thread-safe. Delegate callbacks run on the loop thread and must not delete
 * the memberlist.
 */
#ifndef CAIRN_MEMBERLIST_H
#define CAIRN_MEMBERLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/buf.h"
#include "cairn/limits.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/time.h"

/* Opaque: one memberlist node, and the keyring it may use (cairn/keyring.h). */
typedef struct cairn_memberlist cairn_memberlist;
typedef struct cairn_keyring cairn_keyring;

/* Opaque: a pool of immutable gossip messages that the memberlists of one
 * process may share (cairn_memberlist_config.shared_pool). A message
 * queued for gossip by several of them (an alive about node X is the same
 * bytes at every member) is then stored once, reference-counted, instead
 * of once per memberlist: the simulator's worlds of thousands of members
 * in one process use it. Not thread-safe: every memberlist (and serf)
 * given one pool must run on the same thread (one loop thread, or the
 * simulator's); several real loops on different threads must each have
 * their own pool, or none. */
typedef struct cairn_ml_pool cairn_ml_pool;

/* One message chosen for an outgoing packet (see the delegate's
 * get_broadcasts); msg is valid only during the call. */
typedef void (*cairn_bcast_emit_cb)(const uint8_t *msg, size_t len, void *userdata);

/* Wire limits of memberlist 0.2.2 (net.go). */
/* Largest node meta (serf tags) in an alive message. */
#define CAIRN_ML_META_MAX CAIRN_META_MAX
/* Protocol versions spoken: min 1, max 5; 2 is what serf runs. */
#define CAIRN_ML_PROTOCOL_MIN     1
#define CAIRN_ML_PROTOCOL_MAX     5
#define CAIRN_ML_PROTOCOL_DEFAULT 2
/* At most this many concurrent inbound push/pulls (more are closed). */
#define CAIRN_ML_MAX_PUSHPULL_REQUESTS 128
/* At most this many inbound streams of any kind (push/pull, user message,
 * TCP ping, encrypted frames not yet opened) at once; more are closed at
 * accept. The same number as the push/pull slots: Go counts only
 * push/pulls, but every open stream can buffer bytes. */
#define CAIRN_ML_MAX_INBOUND_STREAMS 128
/* Bytes buffered across all streams (inbound and outbound: unparsed input,
 * decrypted and decompressed messages, copied node states) before further
 * input is refused and the stream that would pass it is ended. Three
 * maximal push/pull states (20 MiB each, memberlist's maxPushStateBytes)
 * fit, so a join answered by a large cluster while two periodic exchanges
 * run still succeeds; real states are far smaller (a 1,000-node cluster's
 * is ~150 KB). */
#define CAIRN_ML_STREAM_MEM_MAX ((size_t)64 * 1024 * 1024)
/* Most bytes one compress message on a stream may expand to: the largest
 * push/pull state memberlist accepts (maxPushStateBytes). Go allows 40 MiB;
 * a bomb that passes this is refused at half the CPU. */
#define CAIRN_ML_STREAM_DECOMPRESSED_MAX ((size_t)20 * 1024 * 1024)
/* Stream decompression, all streams together, is also metered by a token
 * bucket: it holds at most CAIRN_ML_STREAM_DECOMPRESSED_MAX (so one
 * largest push/pull always passes on an idle node) and refills at this
 * many bytes per second. LZW decodes at 60-300 MB/s here, so a peer
 * opening stream after stream with bombs costs at most ~15 % of a core
 * instead of all of it; a compress message finding the bucket short may
 * only expand into what is in it (and fails beyond). */
#define CAIRN_ML_STREAM_INFLATE_RATE ((size_t)8 * 1024 * 1024)

/* Node states; the numbers are memberlist's (pushNodeState.State). */
enum cairn_ml_state {
    CAIRN_ML_ALIVE = 0,
    CAIRN_ML_SUSPECT = 1,
    CAIRN_ML_DEAD = 2,
    CAIRN_ML_LEFT = 3,
};

/* cairn_ml_state_name: "alive", "suspect", "dead", "left", "unknown". */
const char *cairn_ml_state_name(int state);

/* Configuration. Fill with a profile, then adjust. Durations in ns. */
typedef struct cairn_memberlist_config {
    /* Node name, unique in the cluster (copied at creation). */
    const char *name;
    /* Address and port to bind UDP and TCP to. */
    cairn_addr bind;
    /* Address and port announced to peers; family 0 means "the bound one". */
    cairn_addr advertise;
    /* memberlist protocol version spoken (PCur): 2 for serf. */
    uint8_t protocol_version;
    /* Delegate (serf) protocol range and current version (DMin/DMax/DCur). */
    uint8_t delegate_protocol_min, delegate_protocol_max, delegate_protocol_version;
    /* Deadline for a whole TCP exchange (push/pull, TCP ping). */
    cairn_time tcp_timeout;
    /* Members asked to ping a peer that missed its direct ping. */
    int indirect_checks;
    /* Broadcast retransmissions: retransmit_mult * ceil(log10(n + 1)). */
    int retransmit_mult;
    /* Suspicion min timeout: suspicion_mult * max(1, log10(n)) * probe_interval. */
    int suspicion_mult;
    /* Suspicion max timeout = this * min (Lifeguard). */
    int suspicion_max_timeout_mult;
    /* Push/pull anti-entropy period (scaled up above 32 nodes); 0 disables. */
    cairn_time push_pull_interval;
    /* Probe period; 0 disables probing. */
    cairn_time probe_interval;
    /* Wait for a direct ack before indirect probes. */
    cairn_time probe_timeout;
    /* Never use the TCP fallback ping. */
    bool disable_tcp_pings;
    /* Health score bound (Lifeguard): the score runs 0 .. this-1. */
    int awareness_max_multiplier;
    /* Peers per gossip round, and the round period (0 disables). */
    int gossip_nodes;
    cairn_time gossip_interval;
    /* Dead nodes still receive gossip, and are kept, for this long. */
    cairn_time gossip_to_the_dead_time;
    /* Require decryption of inbound / encrypt outbound (with a keyring). */
    bool gossip_verify_incoming, gossip_verify_outgoing;
    /* LZW-compress outbound messages (only if smaller, on UDP). */
    bool enable_compression;
    /* Inbound gossip messages queued per handler queue (excess dropped). */
    int handoff_queue_depth;
    /* Largest UDP packet built for gossip and piggybacking. */
    int udp_buffer_size;
    /* A dead node's name may be claimed by a new address after this long
     * (0: never). */
    cairn_time dead_node_reclaim_time;
    /* Hard cap on nodes tracked (table size). */
    size_t max_nodes;
    /* Hard cap on memberlist's own queued broadcasts. */
    size_t max_broadcasts;
    /* Message pool shared with other memberlists of this process, or NULL
     * (default: each keeps its own copies). Borrowed: it must outlive
     * every memberlist (and serf) using it; see cairn_ml_pool for the
     * threading rule. Caps are per memberlist as without a pool. */
    cairn_ml_pool *shared_pool;
    /* Seed for every random choice this member makes (0: from the OS). */
    uint64_t seed;
} cairn_memberlist_config;

/* cairn_ml_pool_new makes an empty message pool. 0, CAIRN_EINVAL or
 * CAIRN_ENOMEM. */
int cairn_ml_pool_new(cairn_ml_pool **ret_pool);

/* cairn_ml_pool_delete frees the pool. Call it after every memberlist and
 * serf using it is deleted (messages still held elsewhere stay valid and
 * become private copies). Accepts NULL. */
void cairn_ml_pool_delete(cairn_ml_pool *pool);

/* cairn_memberlist_config_lan fills c with memberlist's DefaultLANConfig
 * (and cairn's caps); name and addresses are cleared (bind port 7946). */
void cairn_memberlist_config_lan(cairn_memberlist_config *c);

/* cairn_memberlist_config_wan: DefaultWANConfig. */
void cairn_memberlist_config_wan(cairn_memberlist_config *c);

/* cairn_memberlist_config_local: DefaultLocalConfig. */
void cairn_memberlist_config_local(cairn_memberlist_config *c);

/* cairn_memberlist_config_profile fills c from "lan", "wan" or "local"
 * (serf agent -profile). 0 or CAIRN_EINVAL. */
int cairn_memberlist_config_profile(const char *profile, cairn_memberlist_config *c);

/* cairn_memberlist_config_check validates c; 0 or CAIRN_EINVAL. */
int cairn_memberlist_config_check(const cairn_memberlist_config *c);

/* A node as memberlist reports it. Strings and bytes are borrowed: valid only
 * during the call that hands the node out. */
typedef struct cairn_ml_node {
    /* Node name, NUL-terminated. */
    const char *name;
    /* Gossip address (IP and port). */
    cairn_addr addr;
    /* Delegate meta (serf tags), meta_len bytes (may be 0). */
    const uint8_t *meta;
    size_t meta_len;
    /* enum cairn_ml_state. */
    int state;
    /* Incarnation number. */
    uint32_t incarnation;
    /* Protocol range/current (PMin PMax PCur) and delegate (DMin DMax DCur). */
    uint8_t pmin, pmax, pcur, dmin, dmax, dcur;
} cairn_ml_node;

/* The serf-facing delegate: memberlist's Delegate, EventDelegate,
 * ConflictDelegate, MergeDelegate, AliveDelegate and PingDelegate in one
 * table. Every member may be NULL. All run on the loop thread; none may
 * delete the memberlist. `userdata` is passed to each. */
typedef struct cairn_memberlist_delegate {
    /* Writes this node's meta (at most `limit` = CAIRN_ML_META_MAX bytes)
     * into buf and returns its length; called at creation and on
     * cairn_memberlist_update_node. */
    size_t (*node_meta)(void *userdata, uint8_t *buf, size_t limit);
    /* A user message (the bytes after memberlist's 08 type byte) arrived by
     * gossip, UDP or TCP. */
    void (*notify_msg)(void *userdata, const uint8_t *msg, size_t len);
    /* Offers room for the delegate's own broadcasts in an outgoing packet:
     * call emit for each message (each costs overhead + its length out of
     * limit). Serf forwards this to its broadcast queues. */
    void (*get_broadcasts)(void *userdata, int overhead, int limit, cairn_bcast_emit_cb emit,
                           void *emit_userdata);
    /* Appends the delegate's push/pull state to out (join: a join-time
     * exchange). Return 0 or a CAIRN_E* (the exchange then carries none). */
    int (*local_state)(void *userdata, bool join, cairn_buf *out);
    /* The peer's push/pull user state (not called when empty). */
    void (*merge_remote_state)(void *userdata, const uint8_t *buf, size_t len, bool join);
    /* A node joined (became alive from unknown/dead/left). */
    void (*notify_join)(void *userdata, const cairn_ml_node *node);
    /* A node became dead or left. */
    void (*notify_leave)(void *userdata, const cairn_ml_node *node);
    /* A node's meta changed. */
    void (*notify_update)(void *userdata, const cairn_ml_node *node);
    /* Another node claims a known name from a different address; the
     * message is dropped. */
    void (*notify_conflict)(void *userdata, const cairn_ml_node *existing,
                            const cairn_ml_node *other);
    /* On a join push/pull: the peer's full node list. Non-zero rejects the
     * whole exchange (serf: wrong cluster / name conflicts). */
    int (*notify_merge)(void *userdata, const cairn_ml_node *nodes, size_t n);
    /* Before accepting an alive message: non-zero ignores it. */
    int (*notify_alive)(void *userdata, const cairn_ml_node *node);
    /* Writes the payload for an ack we send (serf: our coordinate) into out. */
    void (*ack_payload)(void *userdata, cairn_buf *out);
    /* A direct probe of node completed: rtt and the ack payload it carried. */
    void (*notify_ping_complete)(void *userdata, const cairn_ml_node *node, cairn_time rtt,
                                 const uint8_t *payload, size_t len);
    /* Passed to every callback. */
    void *userdata;
} cairn_memberlist_delegate;

/* Completion of an asynchronous operation: status 0 or a CAIRN_E* code;
 * for joins, `count` is the number of peers contacted successfully. Runs on
 * the loop thread; it may start new operations but must not delete the
 * memberlist. */
typedef void (*cairn_ml_done_cb)(cairn_memberlist *ml, int status, int count, void *userdata);

/* cairn_memberlist_new binds UDP and TCP on cfg->bind over loop, makes this
 * node alive (incarnation 1) and starts probing, gossip and push/pull.
 * delegate, logger and keyring may be NULL; they (and the keyring) must
 * outlive the memberlist. 0, CAIRN_EINVAL, CAIRN_ENOMEM or a bind error. */
int cairn_memberlist_new(cairn_loop *loop, const cairn_memberlist_config *cfg,
                         const cairn_memberlist_delegate *delegate, const cairn_logger *logger,
                         cairn_keyring *keyring, cairn_memberlist **ret_ml);

/* cairn_memberlist_delete stops everything, closes sockets and frees ml
 * without a leave (peers will detect the failure). Pending completions are
 * called with CAIRN_ECANCELED first. Accepts NULL. */
void cairn_memberlist_delete(cairn_memberlist *ml);

/* cairn_memberlist_join push/pulls (Join=true) with each address. done (may
 * be NULL) runs once all have answered or failed: status 0 if at least one
 * succeeded, else the last error; count = successes. 0 or CAIRN_E*. */
int cairn_memberlist_join(cairn_memberlist *ml, const cairn_addr *addrs, size_t n,
                          cairn_ml_done_cb done, void *userdata);

/* cairn_memberlist_preload merges `nodes` into the node table as a
 * push/pull from a peer would (the same protocol-version check, alive,
 * suspect, dead and left rules, and join/update notifications; no merge
 * delegate), except that alive entries queue no gossip about themselves.
 * It exists to start a simulation or test from an already converged
 * cluster: when every member is preloaded with the same list, none of them
 * has news to spread, whereas a rolling join makes each member queue and
 * re-send an alive message for every other (N^2 messages in flight, the
 * memory and time of a 10,000-member simulation). A member preloaded with a
 * list its peers do not share is not announced to them. Our own entry is
 * handled as any alive about us (refuted if it conflicts). Names must be
 * non-empty, at most 1024 bytes, without NUL. A member that cannot be
 * stored (table full, out of memory) is logged and skipped, as in a
 * push/pull. 0, CAIRN_EINVAL (a bad name or address family, or nodes NULL
 * with n > 0: nothing merged), CAIRN_EVERSION (incompatible versions:
 * nothing merged) or CAIRN_ENOMEM (nothing merged). */
int cairn_memberlist_preload(cairn_memberlist *ml, const cairn_ml_node *nodes, size_t n);

/* cairn_memberlist_leave broadcasts our graceful leave (dead from self) and
 * calls done when it has been sent the retransmit limit number of times
 * (status 0), when nobody else is alive (0, at once from the loop), or
 * after timeout (> 0) with CAIRN_ETIMEDOUT. Calling it again is a no-op
 * that completes at once. 0 or CAIRN_E*. */
int cairn_memberlist_leave(cairn_memberlist *ml, cairn_time timeout, cairn_ml_done_cb done,
                           void *userdata);

/* cairn_memberlist_update_node re-reads the meta from the delegate and
 * gossips a new alive (incarnation + 1); done as for leave. */
int cairn_memberlist_update_node(cairn_memberlist *ml, cairn_time timeout, cairn_ml_done_cb done,
                                 void *userdata);

/* cairn_memberlist_send_best_effort sends a user message to a known node
 * by UDP (08 + msg, with CRC toward PMax >= 5 peers). 0, CAIRN_ENOENT,
 * CAIRN_EMSGSIZE or a send error. */
int cairn_memberlist_send_best_effort(cairn_memberlist *ml, const char *node, const uint8_t *msg,
                                      size_t len);

/* cairn_memberlist_send_to_address sends a user message by UDP to addr
 * (no CRC, as SendToAddress). */
int cairn_memberlist_send_to_address(cairn_memberlist *ml, const cairn_addr *addr,
                                     const uint8_t *msg, size_t len);

/* cairn_memberlist_num_members: nodes neither dead nor left, self included. */
size_t cairn_memberlist_num_members(const cairn_memberlist *ml);

/* cairn_memberlist_num_nodes: every node in the table (dead not yet reaped
 * and left included): the n of the scaling formulas. */
size_t cairn_memberlist_num_nodes(const cairn_memberlist *ml);

/* Visits one node; return false to stop the iteration. */
typedef bool (*cairn_ml_node_cb)(const cairn_ml_node *node, void *userdata);

/* cairn_memberlist_for_each calls cb for every node in the table (all
 * states), in table order. */
void cairn_memberlist_for_each(const cairn_memberlist *ml, cairn_ml_node_cb cb, void *userdata);

/* cairn_memberlist_get_node looks a node up by name; 0 or CAIRN_ENOENT. The
 * node's borrowed fields are valid until the next loop callback. */
int cairn_memberlist_get_node(const cairn_memberlist *ml, const char *name,
                              cairn_ml_node *ret_node);

/* cairn_memberlist_local_node: this node (as get_node for our name). */
void cairn_memberlist_local_node(const cairn_memberlist *ml, cairn_ml_node *ret_node);

/* cairn_memberlist_health_score: the Lifeguard awareness score (0 best). */
int cairn_memberlist_health_score(const cairn_memberlist *ml);

/* Counters for tests and monitoring. */
typedef struct cairn_ml_stats {
    /* Probes started, and those that ended in a suspicion. */
    uint64_t probes, probe_failures;
    /* Nodes this member declared dead after its own suspicion timed out. */
    uint64_t declared_dead;
    /* Times this member refuted an accusation about itself. */
    uint64_t refutes;
    /* Packets and bytes sent / received, and received packets dropped as
     * malformed (or failing CRC/decryption). */
    uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes, rx_dropped;
    /* Push/pull exchanges completed as initiator / responder, failed. */
    uint64_t pushpull_out, pushpull_in, pushpull_failed;
    /* Received packets no installed key decrypted (or plaintext while
     * encryption is required): counted in rx_dropped too. */
    uint64_t rx_decrypt_failed;
    /* TCP exchanges rejected before their message type could be read:
     * wrong key, plaintext while encryption is required, or encrypted
     * without a keyring (either direction). */
    uint64_t stream_rejected;
    /* Inbound streams closed at accept because CAIRN_ML_MAX_INBOUND_STREAMS
     * were open. */
    uint64_t streams_refused;
    /* Times the TCP listener stopped accepting for a while because
     * accept() found no free descriptor (cairn_listener_accept_paused). */
    uint64_t accept_paused;
    /* Streams ended because their bytes would have passed
     * CAIRN_ML_STREAM_MEM_MAX across all streams. */
    uint64_t stream_mem_refused;
    /* Bytes buffered across streams now, and the most ever. */
    uint64_t stream_mem, stream_mem_peak;
    /* Decompressed bytes charged to streams (produced, or the cap when a
     * decode failed): the work CAIRN_ML_STREAM_INFLATE_RATE meters. */
    uint64_t stream_inflated;
    /* Warnings about hostile or broken input left out by the rate limit
     * (one line per kind per second; the rest are counted here). */
    uint64_t log_suppressed;
    /* Gauge: memberlist's own broadcasts (alive, suspect, dead) queued for
     * gossip now (memberlist's memberlist.queue.broadcasts metric); a
     * backlog after a join storm delays the delegate's (serf's) messages,
     * which are sent only in the room these leave. */
    uint64_t broadcast_queue;
} cairn_ml_stats;

/* cairn_memberlist_get_stats copies the counters. */
void cairn_memberlist_get_stats(const cairn_memberlist *ml, cairn_ml_stats *ret_stats);

#endif
