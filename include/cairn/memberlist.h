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
#include "cairn/time.h"

/* Wire limits of memberlist 0.2.2 (net.go). */
/* Largest node meta (serf tags) in an alive message. */
#define CAIRN_ML_META_MAX 512
/* Protocol versions spoken: min 1, max 5; 2 is what serf runs. */
#define CAIRN_ML_PROTOCOL_MIN 1
#define CAIRN_ML_PROTOCOL_MAX 5
#define CAIRN_ML_PROTOCOL_DEFAULT 2
/* At most this many concurrent inbound push/pulls (more are closed). */
#define CAIRN_ML_MAX_PUSHPULL_REQUESTS 128

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
    /* Seed for every random choice this member makes (0: from the OS). */
    uint64_t seed;
} cairn_memberlist_config;

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

#endif
