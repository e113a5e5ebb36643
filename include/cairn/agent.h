/* cairn/agent.h: the cairn agent: one Serf 0.9.4 member (cairn_serf) with
 * the serf agent's defaults.
 *
 * The agent owns a cairn_serf on a caller-supplied loop, configured as
 * `serf agent` configures its serf: delegate protocol 5, member and user
 * event coalescing 3 s / 1 s, user events up to 512 bytes, tags in the
 * Meta (0xFF + msgpack map, at most 512 bytes), an optional gossip key and
 * a memberlist timing profile. It joins seed addresses (ignoring old user
 * events unless replay is set), reports every serf event (member join,
 * leave, failed, update, reap; user events; queries) through one callback
 * and leaves the serf way: leave intent, memberlist leave, propagation
 * delay, so Serf agents show it as left.
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
#include "cairn/router.h"
#include "cairn/serf.h"
#include "cairn/time.h"

/* Opaque: one serf node (cairn_agent_new / cairn_agent_delete); loop thread only. */
typedef struct cairn_agent cairn_agent;

/* Most tags an agent carries (Serf has no count limit; the 512-byte Meta
 * limit allows at most ~125 one-character tags). */
#define CAIRN_AGENT_MAX_TAGS 128
/* Serf's BroadcastTimeout: the longest each step of a graceful leave waits
 * for its broadcast to go out. */
#define CAIRN_AGENT_LEAVE_TIMEOUT (5 * CAIRN_SEC)
/* The serf agent's delegate protocol (`serf agent -protocol`, default 5). */
#define CAIRN_AGENT_PROTOCOL 5
/* The serf agent's coalescing of member events and of user events sent
 * with coalesce: flush 3 s after the first event or after 1 s of quiet. */
#define CAIRN_AGENT_COALESCE_PERIOD  (3 * CAIRN_SEC)
#define CAIRN_AGENT_QUIESCENT_PERIOD (1 * CAIRN_SEC)

/* Most tags a peer's Meta can hold: 512 bytes, each tag at least two
 * (two empty fixstr). */
#define CAIRN_AGENT_META_TAGS (CAIRN_ML_META_MAX / 2)

/* Agent configuration; strings are copied by cairn_agent_new. Zero fields
 * take the serf agent's defaults. */
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
    /* Serf delegate protocol, 3 to CAIRN_SERF_PROTOCOL_MAX (cairn encodes
     * tags as protocol >= 3 does); 0: CAIRN_AGENT_PROTOCOL. */
    uint8_t protocol;
    /* How long failed members are kept (and reconnected to) before they
     * are reaped; 0: serf's 24 h. */
    cairn_time reconnect_timeout;
    /* How long left members are kept before they are reaped; 0: 24 h. */
    cairn_time tombstone_timeout;
    /* Member- and user-event coalescing (see cairn_serf_config); 0: the
     * agent's CAIRN_AGENT_COALESCE_PERIOD / CAIRN_AGENT_QUIESCENT_PERIOD;
     * negative: no coalescing (every event at once). */
    cairn_time coalesce_period, quiescent_period;
    /* Joins replay the user events peers remember (serf -replay); false:
     * events older than the join are ignored. */
    bool replay;
    /* Serf's snapshot file (serf -snapshot): members, clocks and leaves
     * recorded there and replayed at start, so a restarted agent rejoins
     * without a join address and delivers no old event twice. NULL: none.
     * Copied. */
    const char *snapshot_path;
    /* After a graceful leave, a restart still re-joins the members the
     * snapshot remembers (serf -rejoin / rejoin_after_leave). */
    bool rejoin_after_leave;
} cairn_agent_config;

/* A serf event (cairn/cluster.h): member events (ev->members, several when
 * coalesced, with Serf statuses), user events and queries, as cairn_serf
 * delivers them, borrowed for the call. Names and tags are the peer's
 * bytes: not necessarily valid UTF-8. Runs on the loop thread; may call
 * cairn_agent_* query functions and keep ev->respond_ctx / ev->query_id
 * to answer later, but must not delete the agent. */
typedef void (*cairn_agent_event_cb)(cairn_agent *agent, const cairn_event *ev, void *userdata);

/* Completion of a join (count = peers contacted) or a leave (count 0):
 * status 0 or a CAIRN_E* code. Must not delete the agent. */
typedef void (*cairn_agent_done_cb)(cairn_agent *agent, int status, int count, void *userdata);

/* Counters: memberlist's and serf's. */
typedef struct cairn_agent_stats {
    /* The memberlist's own counters. */
    cairn_ml_stats ml;
    /* serf's counters and gauges (clocks, members by status, queues,
     * dropped and malformed messages). */
    cairn_serf_stats serf;
    /* Members now alive, leaving, failed and left (Serf statuses), self
     * included. */
    size_t alive, leaving, failed, left;
} cairn_agent_stats;

/* cairn_agent_new validates cfg, creates the serf (binding cfg->bind) and
 * reports our own member-join. logger and events may be NULL. 0 or:
 * CAIRN_EINVAL (bad config; diag names the field:
 * "node: the node name is not valid UTF-8"),
 * CAIRN_ELIMIT (tags over 512 bytes, diag says how many), CAIRN_ENOMEM, or
 * a bind error (CAIRN_EADDRINUSE, CAIRN_EADDRNOTAVAIL ...). */
int cairn_agent_new(cairn_loop *loop, const cairn_agent_config *cfg, const cairn_logger *logger,
                    cairn_agent_event_cb events, void *userdata, cairn_diag *diag,
                    cairn_agent **ret_agent);

/* cairn_agent_delete stops at once without a leave (peers see a failure).
 * Pending join/leave completions are dropped (not called). Accepts NULL. */
void cairn_agent_delete(cairn_agent *agent);

/* cairn_agent_join joins through each address (serf join, with replay as
 * configured); done runs once with status 0 if at least one answered.
 * 0, CAIRN_EBUSY (a join is running) or a cairn_serf_join error. */
int cairn_agent_join(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                     cairn_agent_done_cb done, void *userdata);

/* cairn_agent_leave is serf's graceful leave (cairn_serf_leave): leave
 * intent, memberlist leave, propagation delay; done runs with status 0
 * when we are left (peers see member-leave, Serf shows "left"). 0,
 * CAIRN_EBUSY (a leave is running) or CAIRN_ESHUTDOWN. */
int cairn_agent_leave(cairn_agent *agent, cairn_agent_done_cb done, void *userdata);

/* cairn_agent_serf: the agent's serf (borrowed; for members, user events,
 * coordinates). Must not be deleted by the caller. */
cairn_serf *cairn_agent_serf(cairn_agent *agent);

/* cairn_agent_memberlist: the memberlist under the agent's serf. */
cairn_memberlist *cairn_agent_memberlist(cairn_agent *agent);

/* cairn_agent_router: the Router the agent feeds from its LAN and WAN pools
 * (borrowed, loop thread), or NULL when the agent routes nothing. */
cairn_router *cairn_agent_router(cairn_agent *agent);

/* cairn_agent_dc: the agent's own datacenter ("" when none is set). */
const char *cairn_agent_dc(const cairn_agent *agent);

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
