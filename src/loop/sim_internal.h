/* Internal structures of the simulator, shared by sim.c (world, event heap,
 * nodes, timers, links), sim_map.c (hash map) and sim_net.c (packets and
 * streams). */
#ifndef CAIRN_LOOP_SIM_INTERNAL_H
#define CAIRN_LOOP_SIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cairn/sim.h"
#include "loop/loop_internal.h"
#include "loop/post_queue.h"

/* ---- hash map with fixed-size keys (addresses, address pairs) ---- */

struct sim_key {
    /* family+ip (17 bytes) twice, or family+ip+port; zero padded. */
    uint64_t w[5];
};

struct sim_map_slot {
    struct sim_key key;
    /* NULL marks an empty slot. */
    void *value;
};

struct sim_map {
    struct sim_map_slot *slots;
    /* Power of two, or 0 before the first insert. */
    size_t cap;
    size_t len;
};

void cairn__sim_key_ip(struct sim_key *k, const cairn_addr *a);
void cairn__sim_key_ip_port(struct sim_key *k, const cairn_addr *a, uint16_t port);
/* The unordered pair {a, b} (ports ignored). */
void cairn__sim_key_pair(struct sim_key *k, const cairn_addr *a, const cairn_addr *b);

void *cairn__sim_map_get(const struct sim_map *m, const struct sim_key *k);
/* Inserts or replaces (value != NULL). 0 or CAIRN_ENOMEM. */
int cairn__sim_map_put(struct sim_map *m, const struct sim_key *k, void *value);
/* Removes k; returns the old value or NULL. */
void *cairn__sim_map_del(struct sim_map *m, const struct sim_key *k);
void cairn__sim_map_destroy(struct sim_map *m);

/* ---- events ---- */

enum sim_ev_kind {
    SIM_EV_TIMER,
    SIM_EV_POST,
    SIM_EV_PACKET,
    SIM_EV_SEGMENT,
};

/* Not in the heap. */
#define SIM_NO_INDEX SIZE_MAX

struct sim_ev {
    /* When it runs (virtual time): when it was due, or the end of the
     * stall that postponed it. */
    cairn_time at;
    /* When it was originally due (== at unless a stall postponed it). */
    cairn_time due;
    /* Tie-break: order of scheduling, kept when a stall postpones it. */
    uint64_t seq;
    /* Position in the heap, SIM_NO_INDEX when not queued. */
    size_t heap_index;
    /* enum sim_ev_kind. */
    uint8_t kind;
    /* enum sim_ev_phase: at equal `at`, SIM_PHASE_WAKE_TIMERS runs first. */
    uint8_t phase;
};

/* A heap entry: a copy of its event's order key, so that sifting compares
 * entries of the heap array and never reads the (scattered) events: with
 * tens of thousands of timers and packets queued, each read was a cache
 * miss. seq_phase is the sequence with the phase in bit 63. */
struct sim_heap_ent {
    cairn_time at;
    cairn_time due;
    uint64_t seq_phase;
    struct sim_ev *ev;
};

/* Events due at the same instant run by phase, then original due time,
 * then sequence. A node waking from a stall runs its expired timers before
 * its received backlog (libuv: timers, then poll), so those timers (and
 * timers they re-arm to expire at once) run in the wake-up phase. */
enum sim_ev_phase {
    SIM_PHASE_WAKE_TIMERS = 0,
    SIM_PHASE_NORMAL = 1,
};

/* Stream segment types. */
enum sim_seg {
    SIM_SEG_SYN,
    SIM_SEG_SYNACK,
    SIM_SEG_REFUSED,
    SIM_SEG_DATA,
    SIM_SEG_FIN,
    SIM_SEG_RST,
    /* Local notice to a writer that queued bytes left (never on a link). */
    SIM_SEG_WRITTEN,
};

struct sim_end;

/* A datagram or stream segment in flight, from a size-class pool. */
struct sim_msg {
    /* Its event (first, so an event pointer is the message). */
    struct sim_ev ev;
    /* Pool size class, or -1 for an oversize block. */
    int cls;
    /* Free list / stream receive queue link. */
    struct sim_msg *next;
    /* Sender's and destination's addresses (with ports). */
    cairn_addr from;
    cairn_addr to;
    /* Segments: the end it is for (holds a reference), its type. */
    struct sim_end *end;
    uint8_t seg;
    /* Data segments: the end that wrote it (holds a reference), whose
     * write_queued counts the bytes until the peer's reader gets them. */
    struct sim_end *src;
    /* Payload bytes in data. */
    size_t len;
    uint8_t data[];
};

/* First ephemeral port of a node (Linux's default range starts here). */
#define SIM_PORT_FIRST 32768

/* Size classes 64 B .. 64 KiB. */
#define SIM_POOL_CLASSES 11
#define SIM_POOL_MIN     64

/* ---- the world ---- */

struct sim_node;

struct cairn_sim {
    /* The seed, and the one generator every random choice draws from. */
    uint64_t seed;
    cairn_rng rng;
    /* Virtual time; the sequence number of the next scheduled event. */
    cairn_time now;
    uint64_t next_seq;
    /* The event heap: min (at, phase, due, seq), each entry keeping its
     * event's key (struct sim_heap_ent). Capacity covers every reserved
     * slot (one per timer and node, so arming never allocates) plus the
     * messages in flight. */
    struct sim_heap_ent *heap;
    size_t heap_len;
    size_t heap_cap;
    size_t heap_reserved;
    size_t msgs_in_flight;
    /* Free messages per size class. */
    struct sim_msg *pool[SIM_POOL_CLASSES];
    /* IP -> node; (IP, port) -> udp socket / listener; IP pair -> link
     * (owned) / blocked marker. */
    struct sim_map nodes;
    struct sim_map udps;
    struct sim_map listeners;
    struct sim_map links;
    struct sim_map blocked;
    /* Nodes in a non-zero group (so heal is cheap when none). */
    size_t grouped;
    cairn_sim_link default_link;
    /* Largest stream segment. */
    size_t stream_chunk;
    /* The trace hook (NULL when none). */
    cairn_sim_trace_cb trace;
    void *trace_ud;
    cairn_sim_stats stats;
    /* The thread that runs the world; posts from others set foreign_post. */
    pthread_t owner;
    atomic_bool foreign_post;
    /* Every node, for heal and foreign posts. */
    struct sim_node **all;
    size_t all_len;
    size_t all_cap;
    /* Names nodes can resolve (sim_resolve.c), and how long it takes. */
    struct sim_host *hosts;
    size_t hosts_len;
    cairn_time resolve_delay;
    /* The in-memory filesystem (sim_file.c), and syncs left to fail. */
    struct sim_file **files;
    size_t files_len, files_cap;
    unsigned fail_syncs;
};

struct sim_node {
    /* The node's loop (first: the loop pointer is the node). */
    struct cairn_loop base;
    cairn_sim *sim;
    /* Its IP (port 0). */
    cairn_addr ip;
    /* Index in sim->all. */
    size_t all_index;
    /* Partition group (0 = the default). */
    unsigned group;
    /* Nothing of this node runs before this time. */
    cairn_time stalled_until;
    /* Timer events of this node queued in SIM_PHASE_WAKE_TIMERS: while
     * any is left, the node is in its wake-up timer phase. */
    size_t wake_timers;
    /* Posted work, and the event that drains it (queued while non-empty). */
    struct cairn_post_queue posted;
    struct sim_ev post_ev;
    /* Next ephemeral port to try. */
    uint16_t next_port;
};

/* Names (sim_resolve.c). */
struct sim_host {
    char name[CAIRN_RESOLVE_HOST_MAX + 1];
    cairn_addr addrs[CAIRN_RESOLVE_MAX_ADDRS];
    size_t n;
};
int cairn__sim_resolve(cairn_resolve *req);
void cairn__sim_resolve_cancel(cairn_resolve *req);
void cairn__sim_hosts_free(cairn_sim *sim);

/* Files (sim_file.c). */
struct sim_file;
int cairn__sim_file_open(cairn_loop *loop, const char *path, bool truncate, void **ret_impl,
                         uint64_t *ret_size);
int cairn__sim_file_write(cairn_loop *loop, void *impl, const uint8_t *data, size_t len);
int cairn__sim_file_sync(cairn_loop *loop, void *impl);
void cairn__sim_file_close(cairn_loop *loop, void *impl);
int cairn__sim_file_read(cairn_loop *loop, const char *path, size_t max, uint8_t **ret_data,
                         size_t *ret_len);
int cairn__sim_file_rename(cairn_loop *loop, const char *from, const char *to);
int cairn__sim_file_remove(cairn_loop *loop, const char *path);
void cairn__sim_files_free(cairn_sim *sim);

/* Heap and messages (sim_core.c). */
void cairn__sim_schedule(cairn_sim *sim, struct sim_ev *ev, cairn_time at);
/* Schedules ev at `at` in the given phase (enum sim_ev_phase). */
void cairn__sim_schedule_in(cairn_sim *sim, struct sim_ev *ev, cairn_time at, uint8_t phase);
/* Removes and returns the earliest event; the heap must not be empty. */
struct sim_ev *cairn__sim_heap_pop(cairn_sim *sim);
/* Makes room for `more` events beyond those reserved: 0 or CAIRN_ENOMEM. */
int cairn__sim_heap_reserve(cairn_sim *sim, size_t more);
void cairn__sim_unschedule(cairn_sim *sim, struct sim_ev *ev);
/* A message with room for len bytes; NULL on allocation failure (the
 * heap slot is reserved too). */
struct sim_msg *cairn__sim_msg_new(cairn_sim *sim, size_t len);
/* Back to the pool; m->end is the caller's (sim_net.c's msg_drop unrefs it). */
void cairn__sim_msg_free(cairn_sim *sim, struct sim_msg *m);
/* Schedules m for delivery at `at` (its heap slot is already reserved). */
void cairn__sim_msg_send(cairn_sim *sim, struct sim_msg *m, cairn_time at);
struct sim_node *cairn__sim_node_find(const cairn_sim *sim, const cairn_addr *ip);
/* The link between two IPs. */
const cairn_sim_link *cairn__sim_link(const cairn_sim *sim, const cairn_addr *a,
                                      const cairn_addr *b);
/* One delay sample on link l (latency + jitter). */
cairn_time cairn__sim_delay(cairn_sim *sim, const cairn_sim_link *l);
/* True when the node is stalled at the event's time: the event has been
 * moved to the end of the stall. */
bool cairn__sim_postpone(cairn_sim *sim, struct sim_node *node, struct sim_ev *ev);
/* A free port on the node for udp (or tcp when tcp). 0 when exhausted. */
uint16_t cairn__sim_ephemeral_port(struct sim_node *node, bool tcp);

/* Packets and streams (sim_net.c). */
void cairn__sim_deliver_packet(cairn_sim *sim, struct sim_msg *m);
void cairn__sim_deliver_segment(cairn_sim *sim, struct sim_msg *m);
void cairn__sim_end_unref(struct sim_end *e);
/* Frees a message in flight, dropping the stream end it holds (if any). */
void cairn__sim_msg_drop(cairn_sim *sim, struct sim_msg *m);

int cairn__sim_udp_bind(cairn_loop *loop, const cairn_addr *addr, cairn_udp **ret_udp);
int cairn__sim_udp_send(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len);
int cairn__sim_udp_local(cairn_udp *udp, cairn_addr *ret_addr);
void cairn__sim_udp_free(cairn_udp *udp);
int cairn__sim_listen(cairn_loop *loop, const cairn_addr *addr, cairn_listener **ret_listener);
int cairn__sim_listener_local(cairn_listener *lst, cairn_addr *ret_addr);
void cairn__sim_listener_free(cairn_listener *lst);
int cairn__sim_stream_dial(cairn_loop *loop, const cairn_addr *addr, cairn_stream **ret_stream);
int cairn__sim_stream_start_read(cairn_stream *stream);
int cairn__sim_stream_write(cairn_stream *stream, const uint8_t *data, size_t len);
int cairn__sim_stream_read_stop(cairn_stream *stream);
int cairn__sim_stream_shutdown(cairn_stream *stream);
int cairn__sim_stream_peer(cairn_stream *stream, cairn_addr *ret_addr);
void cairn__sim_stream_free(cairn_stream *stream);

#endif
