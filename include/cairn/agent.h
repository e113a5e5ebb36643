/* cairn/agent.h: the cairn agent, first version: one memberlist node that a
 * Serf 0.9.4 cluster accepts as a member.
 *
 * The agent owns a cairn_memberlist on a caller-supplied loop, announces
 * its tags in the node Meta exactly as Serf does (0xFF + msgpack map, at
 * most 512 bytes), joins seed addresses, reports member joins, updates,
 * failures and leaves through an event callback and leaves gracefully on
 * request. It answers what Serf's delegate expects of a memberlist peer
 * with the minimum that is correct: an empty push/pull user state (Serf
 * skips its merge for empty state) and acks with a nil payload (Serf's ping
 * delegate ignores empty payloads, so it keeps no coordinate for us).
 *
 * What it is not yet: the serf layer (intents, Lamport clocks, user events,
 * queries, coordinates). Serf messages arriving as memberlist user
 * messages are counted and ignored, never re-gossiped. See docs/AGENT.md.
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
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/memberlist.h"
#include "cairn/time.h"

/* Opaque: one gossip node (cairn_agent_new / cairn_agent_delete); loop thread only. */
typedef struct cairn_agent cairn_agent;

/* Most tags an agent carries (Serf has no count limit; the 512-byte Meta
 * limit allows at most ~125 one-character tags). */
#define CAIRN_AGENT_MAX_TAGS 128
/* Serf's BroadcastTimeout: the longest a graceful leave waits for its
 * broadcast to go out. */
#define CAIRN_AGENT_LEAVE_TIMEOUT (5 * CAIRN_SEC)

/* Most tags a peer's Meta can hold: 512 bytes, each tag at least two
 * (two empty fixstr). */
#define CAIRN_AGENT_META_TAGS (CAIRN_ML_META_MAX / 2)

/* Agent configuration; strings are copied by cairn_agent_new. */
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
} cairn_agent_config;

/* A member event: ev->type is CAIRN_EVENT_MEMBER_JOIN, _UPDATE, _FAILED or
 * _LEAVE (cairn/cluster.h; name with cairn_event_type_name) and
 * ev->members[0] the member, its tags decoded from the Meta (see
 * cairn_agent_node_member); node is memberlist's view of it (state,
 * incarnation, the raw Meta). Both are borrowed for the call. Names and
 * tags are the peer's bytes: not necessarily valid UTF-8. Runs on the loop
 * thread; may call cairn_agent_* query functions but must not delete the
 * agent. */
typedef void (*cairn_agent_event_cb)(cairn_agent *agent, const cairn_event *ev,
                                     const cairn_ml_node *node, void *userdata);

/* Completion of a join (count = peers contacted) or a leave (count 0):
 * status 0 or a CAIRN_E* code. May delete the agent. */
typedef void (*cairn_agent_done_cb)(cairn_agent *agent, int status, int count, void *userdata);

/* Counters: memberlist's, plus what the agent did with Serf's messages. */
typedef struct cairn_agent_stats {
    /* The memberlist's own counters. */
    cairn_ml_stats ml;
    /* Serf messages (memberlist user messages) received and ignored:
     * total, and by serf type byte (0 leave, 1 join, 3 event, 4 query, ...;
     * index 10 counts any other type). */
    uint64_t serf_msgs;
    uint64_t serf_by_type[11];
    /* Members now alive/suspect, failed (dead) and left, self included. */
    size_t alive, failed, left;
} cairn_agent_stats;

/* cairn_agent_new validates cfg, encodes the tags, creates the memberlist
 * (binding cfg->bind) and reports our own member-join. logger and events
 * may be NULL. 0 or: CAIRN_EINVAL (bad config; diag names the field:
 * "node: the node name is not valid UTF-8"),
 * CAIRN_ELIMIT (tags over 512 bytes, diag says how many), CAIRN_ENOMEM, or
 * a bind error (CAIRN_EADDRINUSE, CAIRN_EADDRNOTAVAIL ...). */
int cairn_agent_new(cairn_loop *loop, const cairn_agent_config *cfg, const cairn_logger *logger,
                    cairn_agent_event_cb events, void *userdata, cairn_diag *diag,
                    cairn_agent **ret_agent);

/* cairn_agent_delete stops at once without a leave (peers see a failure).
 * Pending join/leave completions are dropped (not called). Accepts NULL. */
void cairn_agent_delete(cairn_agent *agent);

/* cairn_agent_join push/pulls with each address (Join=true); done runs
 * once with status 0 if at least one answered. 0 or CAIRN_E*. */
int cairn_agent_join(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                     cairn_agent_done_cb done, void *userdata);

/* cairn_agent_leave is memberlist's graceful leave: broadcast dead-from-self
 * and run done when it has been transmitted (status 0), nobody else is
 * alive (0), or after timeout (CAIRN_ETIMEDOUT; <= 0 means
 * CAIRN_AGENT_LEAVE_TIMEOUT). 0 or CAIRN_E*. */
int cairn_agent_leave(cairn_agent *agent, cairn_time timeout, cairn_agent_done_cb done,
                      void *userdata);

/* cairn_agent_memberlist: the agent's memberlist (for member listings). */
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
