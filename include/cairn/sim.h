/* cairn/sim.h: a deterministic network simulator behind the loop seam.
 *
 * A cairn_sim is a world on virtual time. Each simulated node gets its own
 * cairn_loop (cairn_sim_node_loop) bound to an IP address of its own, with
 * timers, posted work, UDP packets and TCP streams that only ever travel
 * through the simulator's in-memory network: no real socket is opened, so
 * addresses like 10.0.0.1 are names inside the world only.
 *
 * Everything that happens is an event in one global heap ordered by (time,
 * sequence number); randomness (jitter, loss, duplication, reordering) comes
 * from one cairn_rng seeded at creation. A run is therefore reproducible bit
 * for bit from its seed, provided the code under test draws its own
 * randomness from seeded generators too.
 *
 * The network: each ordered pair of nodes uses the link set for the pair
 * (cairn_sim_set_link, symmetric) or the default link. Packets may be lost,
 * duplicated, delayed by latency plus uniform jitter, and held back to
 * reorder them. Streams deliver bytes in order after the link latency, are
 * refused when nothing listens, time out when the SYN is lost in a
 * partition, and break (CAIRN_ECONNRESET at both ends) when they carry data
 * across a partition. Partitions are blocked pairs (cairn_sim_block) or
 * groups (cairn_sim_partition); cairn_sim_heal lifts both.
 *
 * Stalls (cairn_sim_stall) model CPU starvation of a libuv process: the
 * stalled node runs none of its timers, posted work or receive callbacks
 * until the stall ends (what it sent before still travels, and packets to
 * it still arrive and wait). At the end it wakes as uv_run does after a
 * long callback: first the timer phase, then the poll phase. So, at the
 * stall's end, before anything else due at that instant:
 *   1. every timer that expired during the stall runs, in deadline order,
 *      and so does any timer those callbacks (re)arm to expire at once
 *      (libuv 1.44's uv__run_timers loops until no timer is due);
 *   2. then the backlog: datagrams, stream events and posted work that
 *      arrived meanwhile, in their original order.
 * Consequence: a probe timeout that expired during the stall fires before
 * the ack that arrived in time is read, as on a starved host. (A process
 * starved while blocked in epoll_wait would see its I/O first; this
 * simulator models the busy-loop case, the one that misleads a failure
 * detector.) Events of other nodes are unaffected.
 *
 * Threading: a world and all its node loops belong to one thread (the one
 * that runs it). cairn_loop_post on a node loop is the exception, as the
 * loop contract promises: from another thread the work runs at the next
 * step (which makes that run non-deterministic, as it must be).
 */
#ifndef CAIRN_SIM_H
#define CAIRN_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/loop.h"
#include "cairn/rng.h"
#include "cairn/time.h"

/* Opaque: a simulated world (cairn_sim_new / cairn_sim_delete). */
typedef struct cairn_sim cairn_sim;

/* Virtual time when a world starts (non-zero, so that code treating time
 * 0 as "never" is not fooled). */
#define CAIRN_SIM_START (1000 * CAIRN_SEC)

/* Properties of a link between two nodes (applied in each direction). */
typedef struct cairn_sim_link {
    /* One-way base delay. */
    cairn_time latency;
    /* Extra delay drawn uniformly from [0, jitter] per packet or segment. */
    cairn_time jitter;
    /* Probability that a datagram is dropped. Streams are not lossy (TCP
     * retransmits); they see only the latency. */
    double loss;
    /* Probability that a datagram is delivered twice (the copy draws its
     * own delay). */
    double duplicate;
    /* Probability that a datagram is held back by reorder_delay extra, so
     * that later ones overtake it. */
    double reorder;
    cairn_time reorder_delay;
} cairn_sim_link;

/* Counters of the world since creation. */
typedef struct cairn_sim_stats {
    /* Events processed by cairn_sim_step (timers, posts, deliveries). */
    uint64_t events;
    /* Datagrams handed to cairn_udp_send on any node. */
    uint64_t packets_sent;
    /* Datagrams delivered to a receive callback (duplicates included). */
    uint64_t packets_delivered;
    /* Dropped by link loss. */
    uint64_t packets_lost;
    /* Dropped because the pair was partitioned at send or delivery. */
    uint64_t packets_partitioned;
    /* Dropped because no node or no socket was at the destination. */
    uint64_t packets_unreachable;
    /* Extra copies made by duplication. */
    uint64_t packets_duplicated;
    /* Stream connections accepted, refused, broken by partitions. */
    uint64_t streams_accepted;
    uint64_t streams_refused;
    uint64_t streams_broken;
    /* Stream payload bytes delivered to read callbacks. */
    uint64_t stream_bytes;
} cairn_sim_stats;

/* What a trace callback saw. */
enum cairn_sim_trace_kind {
    CAIRN_SIM_TRACE_PACKET = 1,
    CAIRN_SIM_TRACE_STREAM = 2,
};

/* Called for each datagram delivered to a socket and each stream segment
 * delivered to a reader, just before the receive callback, with the
 * virtual time of delivery. data is valid only during the call. */
typedef void (*cairn_sim_trace_cb)(int kind, cairn_time at, const cairn_addr *from,
                                   const cairn_addr *to, const uint8_t *data, size_t len,
                                   void *userdata);

/* cairn_sim_new creates an empty world at CAIRN_SIM_START whose random
 * choices all come from `seed`. Default link: 1 ms latency, nothing else.
 * 0, CAIRN_EINVAL or CAIRN_ENOMEM; delete with cairn_sim_delete. */
int cairn_sim_new(uint64_t seed, cairn_sim **ret_sim);

/* cairn_sim_delete frees the world and whatever is still in flight. Every
 * node loop must have been deleted first (cairn_loop_delete, after closing
 * its timers and sockets). Accepts NULL. */
void cairn_sim_delete(cairn_sim *sim);

/* cairn_sim_seed: the seed the world was made with (print it when a test
 * fails). */
uint64_t cairn_sim_seed(const cairn_sim *sim);

/* cairn_sim_now: the current virtual time. */
cairn_time cairn_sim_now(const cairn_sim *sim);

/* cairn_sim_rng: the world's generator, for scenario choices that must
 * replay with the seed (e.g. which node to kill). */
cairn_rng *cairn_sim_rng(cairn_sim *sim);

/* cairn_sim_node_loop adds a node with IP ip (its port is ignored) and
 * returns its loop; cairn_loop_delete removes the node (its timers and
 * sockets must be gone). Sockets on the loop bind ip or the unspecified
 * address of ip's family. 0, CAIRN_EINVAL, CAIRN_EEXIST (ip taken),
 * CAIRN_ENOMEM. */
int cairn_sim_node_loop(cairn_sim *sim, const cairn_addr *ip, cairn_loop **ret_loop);

/* cairn_sim_set_default_link sets the link used by pairs without their own.
 * CAIRN_EINVAL for negative times or probabilities outside [0, 1]. */
int cairn_sim_set_default_link(cairn_sim *sim, const cairn_sim_link *link);

/* cairn_sim_set_link sets the link between a and b (both directions; ports
 * ignored; the nodes need not exist yet); link NULL reverts the pair to the
 * default. 0, CAIRN_EINVAL, CAIRN_ENOMEM. */
int cairn_sim_set_link(cairn_sim *sim, const cairn_addr *a, const cairn_addr *b,
                       const cairn_sim_link *link);

/* cairn_sim_block cuts traffic between a and b in both directions until
 * cairn_sim_unblock or cairn_sim_heal. 0, CAIRN_EINVAL, CAIRN_ENOMEM. */
int cairn_sim_block(cairn_sim *sim, const cairn_addr *a, const cairn_addr *b);
int cairn_sim_unblock(cairn_sim *sim, const cairn_addr *a, const cairn_addr *b);

/* cairn_sim_partition moves the n listed nodes into partition group
 * `group`. Every node starts in group 0; nodes in different groups cannot
 * reach each other. 0, CAIRN_EINVAL, or CAIRN_ENOENT for an unknown ip (the
 * nodes listed before it have moved). */
int cairn_sim_partition(cairn_sim *sim, const cairn_addr *ips, size_t n, unsigned group);

/* cairn_sim_heal puts every node back in group 0 and removes every
 * blocked pair. */
void cairn_sim_heal(cairn_sim *sim);

/* cairn_sim_reachable: whether a and b can exchange traffic now. */
bool cairn_sim_reachable(const cairn_sim *sim, const cairn_addr *a, const cairn_addr *b);

/* cairn_sim_stall freezes node ip for `duration` from now: its timers,
 * posted work and receive callbacks due meanwhile run when it ends, expired
 * timers first, then the received backlog (see the top of this file; an
 * ongoing longer stall is kept). 0, CAIRN_EINVAL, CAIRN_ENOENT. */
int cairn_sim_stall(cairn_sim *sim, const cairn_addr *ip, cairn_time duration);

/* cairn_sim_set_stream_chunk cuts every stream write into segments of at
 * most max bytes (default 65536; minimum 1), so incremental parsers see
 * partial reads. */
void cairn_sim_set_stream_chunk(cairn_sim *sim, size_t max);

/* cairn_sim_add_host makes name (at most CAIRN_RESOLVE_HOST_MAX bytes)
 * resolve to ip (its port is ignored) on every node of the world, after the
 * addresses it already has (at most CAIRN_RESOLVE_MAX_ADDRS). Names not
 * added resolve to CAIRN_ENOHOST; IP literals need no entry. 0,
 * CAIRN_EINVAL, CAIRN_ELIMIT or CAIRN_ENOMEM. */
int cairn_sim_add_host(cairn_sim *sim, const char *name, const cairn_addr *ip);

/* cairn_sim_file_set makes path (in the world's in-memory filesystem,
 * shared by all its nodes and kept until cairn_sim_delete) hold exactly
 * data[0..len), all of it synced. 0, CAIRN_EINVAL or CAIRN_ENOMEM. */
int cairn_sim_file_set(cairn_sim *sim, const char *path, const void *data, size_t len);

/* cairn_sim_file_get lends path's current bytes (valid until the file is
 * next written, renamed over or removed). 0, CAIRN_EINVAL or CAIRN_ENOENT. */
int cairn_sim_file_get(cairn_sim *sim, const char *path, const uint8_t **ret_data, size_t *ret_len);

/* cairn_sim_file_crash drops what was written to path since its last sync
 * except the first `keep` bytes (a power cut; keep > 0 tears the last
 * line). 0, CAIRN_EINVAL or CAIRN_ENOENT. */
int cairn_sim_file_crash(cairn_sim *sim, const char *path, size_t keep);

/* cairn_sim_file_fail_sync makes the world's next n cairn_file_sync calls
 * fail with CAIRN_EIO (0 stops it). */
void cairn_sim_file_fail_sync(cairn_sim *sim, unsigned n);

/* cairn_sim_set_resolve_delay: how long a name takes to resolve on a node
 * (default 1 ms; >= 0); a delay past a request's timeout makes it time
 * out, as a silent DNS server would. */
void cairn_sim_set_resolve_delay(cairn_sim *sim, cairn_time delay);

/* cairn_sim_set_trace installs (or with NULL removes) the trace hook. */
void cairn_sim_set_trace(cairn_sim *sim, cairn_sim_trace_cb cb, void *userdata);

/* cairn_sim_get_stats copies the counters. */
void cairn_sim_get_stats(const cairn_sim *sim, cairn_sim_stats *ret_stats);

/* cairn_sim_next_event: the time of the earliest pending event, or -1. */
cairn_time cairn_sim_next_event(const cairn_sim *sim);

/* cairn_sim_step processes the earliest event (moving time to it). Returns
 * false when nothing is pending. */
bool cairn_sim_step(cairn_sim *sim);

/* cairn_sim_run_until processes, in (time, sequence) order, every event due
 * at or before t (including those they schedule), then sets the time to t
 * (if later). Returns the number of events processed. */
size_t cairn_sim_run_until(cairn_sim *sim, cairn_time t);

/* cairn_sim_run_for: cairn_sim_run_until(sim, now + d). */
size_t cairn_sim_run_for(cairn_sim *sim, cairn_time d);

#endif
