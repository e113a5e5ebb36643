/* memberlist/ml_internal.h: the memberlist object and the functions its
 * files share (module-internal).
 *
 * Files: state.c (node table, alive/suspect/dead rules, refutation, merge),
 * probe.c (probe, indirect probe, ack handlers, gossip and push/pull ticks),
 * net.c (packet send/receive pipelines), stream.c (TCP exchanges),
 * memberlist.c (lifecycle and public API).
 */
#ifndef CAIRN_ML_INTERNAL_H
#define CAIRN_ML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memberlist/broadcast.h"
#include "cairn/buf.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/memberlist.h"
#include "cairn/rng.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "memberlist/awareness.h"
#include "memberlist/strmap.h"
#include "memberlist/suspicion.h"

#define ML_LOG "memberlist"

/* memberlist's packing overheads (net.go): compound header, per entry, and
 * the extra type byte of a user message. */
#define ML_COMPOUND_HEADER_OVERHEAD 2
#define ML_COMPOUND_OVERHEAD        2
#define ML_USER_MSG_OVERHEAD        1
/* A compound carries at most 255 parts (the count is one byte). */
#define ML_COMPOUND_MAX_PARTS 255
/* Encryption overhead of the v1 layout: version + nonce + tag. */
#define ML_ENCRYPT_OVERHEAD 29
/* Largest message we build (a push/pull of a big cluster is the largest;
 * memberlist caps the state it accepts at 20 MiB). */
#define ML_MAX_MESSAGE (20u * 1024u * 1024u)
/* Longest node name accepted (Go has no limit; serf's agent validates
 * names to 128 characters when asked to). */
#define ML_NAME_MAX 1024
/* Loops over many nodes (a push/pull's state, a merge) ask for the cache
 * lines of the entry this many ahead (see cairn__ml_strmap_prefetch_slot). */
#define ML_PREFETCH_AHEAD 8
/* Vsn layout indexes. */
enum { ML_PMIN, ML_PMAX, ML_PCUR, ML_DMIN, ML_DMAX, ML_DCUR };

/* One member of the node table (Go: nodeState). Every member holds one of
 * these per known member, so in the simulator (thousands of members in one
 * process) its size is multiplied by N^2: fields are ordered and sized to
 * pack into 64 bytes before the name (meta is at most CAIRN_WIRE_META_MAX,
 * the state an enum cairn_ml_state). */
struct ml_node {
    /* Loop time of the last state change. */
    cairn_time state_change;
    /* Delegate meta (owned, may be NULL with meta_len 0). */
    uint8_t *meta;
    /* (No suspicion timer or memberlist pointer here: the simulator holds
     * N^2 of these blocks, and 16 bytes less puts a short-named node in a
     * 64-byte malloc chunk instead of 80. Suspicions live in the
     * memberlist's `suspects` map.) */
    /* Last known incarnation. */
    uint32_t incarnation;
    /* IP and port. */
    cairn_addr addr;
    /* enum cairn_ml_state. */
    uint8_t state;
    /* PMin PMax PCur DMin DMax DCur. */
    uint8_t vsn[6];
    /* Length of meta (<= CAIRN_WIRE_META_MAX). */
    uint16_t meta_len;
    /* Name, NUL-terminated, in the same block; also the key of the node
     * map. */
    char name[];
};
_Static_assert(CAIRN_WIRE_META_MAX <= UINT16_MAX, "ml_node.meta_len is 16 bits");

struct ml_ack_handler;
struct ml_conn;

/* One kind of warning about hostile or broken input, written at most once
 * per ML_RATELOG_INTERVAL (a flood of bad packets must not become a flood
 * of log lines); the rest are counted in stats.log_suppressed and the next
 * line written says how many were left out. */
#define ML_RATELOG_INTERVAL CAIRN_SEC
struct ml_ratelog {
    /* Loop time before which lines are suppressed. */
    cairn_time next;
    /* Lines suppressed since the last one written. */
    uint64_t suppressed;
};

/* The probe in flight (Go: the probeNode goroutine's locals). */
struct ml_probe {
    /* A probe is running. */
    bool active;
    /* Past ProbeTimeout: indirect pings (and the TCP ping) went out. */
    bool indirect;
    /* Our ping's sequence number. */
    uint32_t seq;
    /* The target (by name: the node may be reaped meanwhile). */
    char target[ML_NAME_MAX + 1];
    /* Target's incarnation when the probe started (for the suspect). */
    uint32_t incarnation;
    /* When the ping went out, and when the probe gives up. */
    cairn_time sent, deadline;
    /* Nack-capable relays asked, and nacks received. */
    int expected_nacks, nacks;
    /* The TCP fallback ping reached the target. */
    bool tcp_contacted;
    /* ProbeTimeout, then the deadline. */
    cairn_timer *timer;
};
struct ml_waiter;

struct cairn_memberlist {
    cairn_loop *loop;
    /* Our copy of the configuration; cfg.name points at `name`. */
    cairn_memberlist_config cfg;
    char *name;
    cairn_memberlist_delegate del;
    cairn_logger log;
    cairn_keyring *keyring;
    cairn_rng rng;
    struct ml_awareness awareness;
    /* memberlist's own broadcasts (alive/suspect/dead, named by node). */
    cairn_bcast_queue *broadcasts;

    /* Node table: the map finds by name; the array is the probe order. */
    struct ml_strmap node_map;
    struct ml_node **nodes;
    size_t n_nodes, cap_nodes;
    /* Lifeguard suspicion timers of the suspect nodes (Go: nodeTimers):
     * node name -> struct ml_suspect. */
    struct ml_strmap suspects;
    size_t probe_index;

    uint32_t seq_no;
    uint32_t incarnation;
    /* Leave() called: our own alive messages are ignored, dead is not refuted. */
    bool leaving;
    /* Tearing down: no new work. */
    bool shutdown;
    /* Inside cairn_memberlist_preload: alive merges queue no gossip. */
    bool preloading;
    /* Address announced in alive and ping Source*. */
    cairn_addr advertise;

    cairn_udp *udp;
    cairn_listener *listener;
    cairn_timer *probe_timer, *gossip_timer, *pushpull_timer;
    /* Gossip on demand (cairn__ml_gossip_on_demand): the gossip timer is
     * stopped while nothing is queued (gossip_idle) and re-armed on the
     * tick phase (gossip_last + k * gossip_interval) by the next push. */
    bool gossip_on_demand, gossip_idle;
    cairn_time gossip_last;
    /* Pushes seen by cairn__ml_gossip_wake (one queued during a tick keeps
     * the timer running). */
    uint64_t gossip_pushes;

    /* Outstanding ack handlers (by sequence number). */
    struct ml_ack_handler *acks;
    /* The probe in flight, if any. */
    struct ml_probe probe;
    /* Open TCP exchanges. */
    struct ml_conn *conns;
    int inbound_pushpulls;
    /* Inbound streams open (CAIRN_ML_MAX_INBOUND_STREAMS). */
    size_t inbound_streams;
    /* Stream decompression token bucket (CAIRN_ML_STREAM_INFLATE_RATE):
     * bytes available, as of loop time inflate_at (0: never filled). */
    double inflate_tokens;
    cairn_time inflate_at;
    /* Rate limits of the warnings about bad input: packets, stream errors,
     * refused streams, and state-machine complaints a peer can trigger at
     * will (conflicting address, refutations, pings for another node). */
    struct ml_ratelog rl_packet, rl_stream, rl_refused, rl_state;
    /* Sends that fail (a peer can advertise an address we cannot send to). */
    struct ml_ratelog rl_send;
    /* Leave/update completions waiting for a broadcast to finish. */
    struct ml_waiter *waiters;

    cairn_ml_stats stats;
    /* Test hook: without sockets (cairn__ml_create with net=false), packets we
     * would send go here instead. */
    void (*tap)(void *userdata, const cairn_addr *to, const uint8_t *pkt, size_t len);
    void *tap_userdata;
    /* Framing configuration (keyring, verification, compression). */
    cairn_frame_cfg frame;
    /* Scratch for decoding one inbound message and its type byte. */
    cairn_wire_arena arena;
    cairn_buf rx;
    /* Scratch for one outbound datagram, and for one message to send. */
    cairn_buf tx;
    cairn_buf msg;
};

/* ---- state.c ---- */

/* cairn__ml_node_view fills a public view of n (borrowing its fields). */
void cairn__ml_node_view(const struct ml_node *n, cairn_ml_node *ret);

/* cairn__ml_node_suspicion: the suspicion timer of node n (NULL unless n
 * is suspect). */
struct ml_suspicion *cairn__ml_node_suspicion(const cairn_memberlist *ml, const struct ml_node *n);
/* cairn__ml_find: the node named (len bytes, not NUL-terminated) or NULL. */
struct ml_node *cairn__ml_find(const cairn_memberlist *ml, const uint8_t *name, size_t len);
/* cairn__ml_estimate_nodes: table size, the n of the scaling formulas. */
int cairn__ml_estimate_nodes(const cairn_memberlist *ml);

/* An alive/suspect/dead fact, as decoded from the wire or made locally. */
struct ml_alive {
    cairn_span node;
    uint32_t incarnation;
    cairn_addr addr;
    cairn_span meta;
    /* Vsn present (6 bytes) or not (len 0). */
    cairn_span vsn;
};

/* The three handlers of memberlist's state machine (Go: aliveNode,
 * suspectNode, deadNode). `notify` (may be NULL) is attached to the
 * resulting broadcast and fires when it leaves the queue. bootstrap: the
 * alive is our own being set (creation or meta update). */
void cairn__ml_alive_node(cairn_memberlist *ml, const struct ml_alive *a, struct ml_waiter *notify,
                          bool bootstrap);
void cairn__ml_suspect_node(cairn_memberlist *ml, const cairn_wire_suspect *s);
void cairn__ml_dead_node(cairn_memberlist *ml, const cairn_wire_dead *d, struct ml_waiter *notify);

/* cairn__ml_merge_state applies a peer's push/pull node list (Go: mergeState). */
void cairn__ml_merge_state(cairn_memberlist *ml, const cairn_wire_push_node *nodes, size_t n);
/* cairn__ml_verify_protocol checks the version brackets before a merge; 0 or
 * CAIRN_EVERSION. */
int cairn__ml_verify_protocol(cairn_memberlist *ml, const cairn_wire_push_node *nodes, size_t n);
/* cairn__ml_reset_nodes reaps dead nodes older than GossipToTheDeadTime and
 * reshuffles the probe order (Go: resetNodes). */
void cairn__ml_reset_nodes(cairn_memberlist *ml);
/* cairn__ml_k_random_nodes picks up to k distinct random nodes accepted by
 * filter (Go: kRandomNodes: 3n tries). Returns how many were stored. */
typedef bool (*ml_node_filter)(const cairn_memberlist *ml, const struct ml_node *n,
                               const void *ctx);
size_t cairn__ml_k_random_nodes(cairn_memberlist *ml, size_t k, ml_node_filter filter,
                                const void *ctx, struct ml_node **out);
/* cairn__ml_free_nodes releases the whole table. */
void cairn__ml_free_nodes(cairn_memberlist *ml);
/* ml_encode_broadcast encodes a memberlist message and queues it named by
 * node (the one place state changes are gossiped). */
void cairn__ml_queue_alive(cairn_memberlist *ml, const struct ml_alive *a,
                           struct ml_waiter *notify);
void cairn__ml_queue_suspect(cairn_memberlist *ml, const cairn_wire_suspect *s);
void cairn__ml_queue_dead(cairn_memberlist *ml, const cairn_wire_dead *d, struct ml_waiter *notify);

/* ---- memberlist.c ---- */

/* A leave/update completion waiting for a broadcast (Go: notify channel). */
struct ml_waiter {
    struct ml_waiter *next;
    cairn_memberlist *ml;
    cairn_ml_done_cb done;
    void *userdata;
    /* Completion timer: the timeout, or zero delay to complete. */
    cairn_timer *timer;
    /* Attached to a queued broadcast (whose finished callback holds w). */
    bool attached;
    /* That broadcast finished (left the queue). */
    bool fired;
    /* Nobody to tell: completes with success at once. */
    bool immediate;
    /* The done callback ran (or was cancelled). */
    bool completed;
};
/* The broadcast carrying w finished: complete it (from the loop). */
void cairn__ml_waiter_finished(void *w);
/* A new waiter for done (linked into ml->waiters), or NULL (no memory). */
struct ml_waiter *cairn__ml_waiter_new(cairn_memberlist *ml, cairn_ml_done_cb done, void *ud);
/* Starts the wait: at once when nobody else is alive, else until the
 * broadcast finishes or timeout (<= 0: no timeout). */
void cairn__ml_waiter_arm(cairn_memberlist *ml, struct ml_waiter *w, cairn_time timeout);

/* cairn__ml_create is cairn_memberlist_new; with net=false it binds nothing (the
 * advertise address in cfg must be set) so unit tests can drive the state
 * machine directly on the manual loop. */
int cairn__ml_create(cairn_loop *loop, const cairn_memberlist_config *cfg,
                     const cairn_memberlist_delegate *delegate, const cairn_logger *logger,
                     cairn_keyring *keyring, bool net, cairn_memberlist **ret_ml);

/* ---- net.c ---- */

/* cairn__ml_send_packet applies compression, CRC (when node is given and speaks
 * PMax >= 5) and encryption, then sends one datagram. */
int cairn__ml_send_packet(cairn_memberlist *ml, const cairn_addr *to, const struct ml_node *node,
                          const uint8_t *msg, size_t len);
/* cairn__ml_send_msg piggybacks queued broadcasts onto msg as a compound, then
 * sends it without CRC (Go: sendMsg). */
int cairn__ml_send_msg(cairn_memberlist *ml, const cairn_addr *to, const uint8_t *msg, size_t len);
/* cairn__ml_get_broadcasts collects queued memberlist then delegate broadcasts
 * (the latter prefixed with the user type byte) into parts; returns the
 * number of parts. */
struct ml_parts {
    /* Concatenated message bytes. */
    cairn_buf data;
    /* Offsets and lengths of each part. */
    size_t off[ML_COMPOUND_MAX_PARTS + 1], len[ML_COMPOUND_MAX_PARTS + 1];
    size_t n;
};
void cairn__ml_parts_init(struct ml_parts *p);
void cairn__ml_parts_destroy(struct ml_parts *p);
int cairn__ml_parts_add(struct ml_parts *p, const uint8_t *msg, size_t len);
size_t cairn__ml_get_broadcasts(cairn_memberlist *ml, int overhead, int limit, struct ml_parts *p);
/* cairn__ml_make_compound writes 07 | n | n x u16 | parts into out. */
int cairn__ml_make_compound(const struct ml_parts *p, cairn_buf *out);
/* cairn__ml_on_packet is the UDP receive callback. */
void cairn__ml_on_packet(cairn_udp *udp, const cairn_addr *from, const uint8_t *data, size_t len,
                         void *userdata);
/* The IP bytes of addr (4 or 16), as the wire carries them. */
static inline cairn_span cairn__ml_ip_span(const cairn_addr *addr)
{
    return (cairn_span){addr->ip, cairn_addr_ip_len(addr)};
}

/* cairn__ml_ratelog writes one warning through r's rate limit (see
 * struct ml_ratelog). */
void cairn__ml_ratelog(cairn_memberlist *ml, struct ml_ratelog *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- probe.c ---- */

void cairn__ml_probe_tick(cairn_timer *t, void *ud);
void cairn__ml_gossip_tick(cairn_timer *t, void *ud);
void cairn__ml_pushpull_tick(cairn_timer *t, void *ud);
/* Inbound ack/nack dispatch to the handler registered for seq. */
void cairn__ml_invoke_ack(cairn_memberlist *ml, const cairn_wire_ack *ack, cairn_time at);
void cairn__ml_invoke_nack(cairn_memberlist *ml, const cairn_wire_nack *nack);
void cairn__ml_handle_ping(cairn_memberlist *ml, const cairn_wire_ping *p, const cairn_addr *from);
void cairn__ml_handle_indirect_ping(cairn_memberlist *ml, const cairn_wire_indirect_ping *ind,
                                    const cairn_addr *from);
/* cairn__ml_probe_cancel_all drops every ack handler and the probe in flight. */
void cairn__ml_probe_cancel_all(cairn_memberlist *ml);

/* ---- stream.c ---- */

void cairn__ml_on_accept(cairn_listener *lst, cairn_stream *stream, void *userdata);
/* cairn__ml_pushpull_start dials addr and exchanges state (join flag); done (may be
 * NULL) is called with the outcome. */
typedef void (*ml_pushpull_done)(cairn_memberlist *ml, int status, void *userdata);
int cairn__ml_pushpull_start(cairn_memberlist *ml, const cairn_addr *addr, bool join,
                             ml_pushpull_done done, void *userdata);
/* The TCP fallback ping with sequence number seq finished (contacted = an
 * ack with our seq came back). */
typedef void (*ml_tcp_ping_done)(cairn_memberlist *ml, uint32_t seq, bool contacted);
/* cairn__ml_tcp_ping_start dials addr, sends ping p and reports through
 * done before deadline (absolute loop time). */
int cairn__ml_tcp_ping_start(cairn_memberlist *ml, const cairn_addr *addr, const cairn_wire_ping *p,
                             cairn_time deadline, ml_tcp_ping_done done);
/* cairn__ml_close_all_conns closes every stream (their callbacks report
 * CAIRN_ECANCELED). */
void cairn__ml_close_all_conns(cairn_memberlist *ml);

#endif
