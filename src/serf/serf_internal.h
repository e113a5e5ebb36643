/* serf/serf_internal.h: the serf instance and the names its files share.
 *
 * Files and who calls whom (no cycles, tools/check_cycles.py):
 *   clock.c     Lamport clocks (leaf)
 *   coalesce.c  member / user event coalescers (leaf, loop timers only)
 *   bcast.c     the intent / event / query broadcast queues, depth checks
 *   coord.c     ping delegate (ack payload, RTT updates), coordinate cache
 *   deliver.c   member views and event delivery (-> coalesce)
 *   members.c   member table, intents, status machine, reap, reconnect
 *               (-> clock, deliver, coord, bcast)
 *   event.c     user events and the 512-slot ring (-> clock, deliver, bcast)
 *   pushpull.c  push/pull local state and merge (-> members, event, clock)
 *   filter.c    query filters: encode ours, evaluate received (leaf)
 *   query.c     queries, responses, relays, the 512-slot query ring, the
 *               tables of running and answerable queries (-> clock,
 *               filter, deliver, bcast, internal)
 *   internal.c  internal queries: _serf_ping, _serf_conflict, key queries,
 *               name-conflict resolution, key manager (-> members; calls
 *               query.c only through the public cairn_serf_query API)
 *   snapshot.c  the snapshot file: record, compact, replay (-> clock;
 *               called from deliver.c and serf.c, which runs the rejoin)
 *   serf.c      config, lifecycle, API, the memberlist delegate (-> all)
 */
#ifndef CAIRN_SERF_INTERNAL_H
#define CAIRN_SERF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/serf.h"
#include "cairn/rng.h"
#include "memberlist/broadcast.h"
#include "memberlist/strmap.h"
#include "wire/msg.h"

/* ---- clock.c ---- */

/* A Lamport clock (Go: LamportClock); starts at 1 in a serf instance. */
struct serf_clock {
    uint64_t counter;
};

/* cairn__serf_clock_time: the current value. */
uint64_t cairn__serf_clock_time(const struct serf_clock *c);
/* cairn__serf_clock_increment: +1, returns the new value. */
uint64_t cairn__serf_clock_increment(struct serf_clock *c);
/* cairn__serf_clock_witness: if v >= current, current := v + 1. */
void cairn__serf_clock_witness(struct serf_clock *c, uint64_t v);

/* ---- members ---- */

/* One serf member (Go: memberState). Everything is owned. */
struct serf_member {
    /* Name (map key). */
    char *name;
    cairn_addr addr;
    /* Decoded tags, their strings in tag_strs. */
    cairn_tag *tags;
    size_t ntags;
    char *tag_strs;
    /* enum cairn_member_status. */
    int status;
    /* LTime of the last accepted intent. */
    uint64_t status_ltime;
    /* When it became failed or left (0 otherwise). */
    cairn_time leave_time;
    /* When it last became leaving, or its stale leave was re-gossiped. */
    cairn_time leaving_since;
    /* A prune waits for the leave to propagate: erase at prune_at (0: no). */
    cairn_time prune_at;
    uint8_t pmin, pmax, pcur, dmin, dmax, dcur;
    /* Coordinate cache entry (the last coordinate it sent us). */
    bool has_coord;
    cairn_coord coord;
};

/* A buffered intent about a member not yet known (Go: nodeIntent). */
struct serf_intent {
    char *name;
    /* CAIRN_WIRE_SERF_JOIN or CAIRN_WIRE_SERF_LEAVE. */
    int type;
    uint64_t ltime;
    /* Loop time it was stored (for RecentIntentTimeout). */
    cairn_time wall;
};

/* One user event kept in the ring. */
struct serf_user_event {
    char *name;
    uint8_t *payload;
    size_t len;
};

/* Most distinct events kept for one LTime slot (Go: unbounded); a flood of
 * same-LTime events cannot grow a slot past this. */
#define SERF_EVENTS_PER_SLOT_MAX 64

/* One ring slot (Go: userEvents). */
struct serf_event_slot {
    uint64_t ltime;
    /* Events stored (ev has room for cap). */
    size_t n, cap;
    struct serf_user_event *ev;
};

/* ---- coalesce.c ---- */

typedef struct serf_coalescer serf_coalescer;

/* cairn__serf_coalesce_new: a coalescer delivering to cb; member selects
 * the member-event rules (else user-event rules). 0 or CAIRN_ENOMEM. */
int cairn__serf_coalesce_new(cairn_loop *loop, bool member, cairn_time period, cairn_time quiet,
                             size_t cap, cairn_event_cb cb, void *userdata, serf_coalescer **ret_c);
/* cairn__serf_coalesce_delete frees it (pending events are dropped). */
void cairn__serf_coalesce_delete(serf_coalescer *c);
/* cairn__serf_coalesce_add takes ev (copied); false when it was not taken
 * (the caller then delivers it directly). */
bool cairn__serf_coalesce_add(serf_coalescer *c, const cairn_event *ev);
/* cairn__serf_coalesce_flush delivers everything pending now. */
void cairn__serf_coalesce_flush(serf_coalescer *c);

/* Largest broadcast queue regardless of the depth checks (each queue's hard
 * cap; the periodic check prunes to the configured depth). */
#define SERF_QUEUE_HARD_MAX 65536

struct serf_rx_query;
struct serf_queries;

/* ---- the instance ---- */

struct cairn_serf {
    cairn_loop *loop;
    cairn_memberlist *ml;
    cairn_serf_config cfg;
    cairn_logger log;
    /* Name-conflict warnings about other members (a peer can send them in
     * a flood): at most one a second, the next one saying how many were
     * left out. */
    cairn_time conflict_log_next;
    uint64_t conflict_log_suppressed;
    /* enum cairn_serf_state. */
    int state;
    cairn_rng rng;
    /* Member, event and query clocks. */
    struct serf_clock clock, event_clock, query_clock;
    /* Members: name -> struct serf_member, plus an array to iterate. */
    struct ml_strmap member_map;
    struct serf_member **members;
    size_t n_members, cap_members;
    /* Recent intents: name -> struct serf_intent. */
    struct ml_strmap intent_map;
    /* User events. */
    struct serf_event_slot *ring;
    uint64_t event_min_time;
    /* Queries below this LTime are dropped (Go: queryMinTime; set from the
     * snapshot). */
    uint64_t query_min_time;
    /* The snapshot file (NULL without snapshot_path). */
    struct serf_snapshot *snap;
    /* Joins running with ignore_old. */
    int ignore_old_joins;
    /* Broadcast queues: intents, events, queries (the last for later). */
    cairn_bcast_queue *intents_q, *events_q, *queries_q;
    /* Vivaldi (NULL when disabled). */
    cairn_coord_client *coord;
    /* Periodic work. */
    cairn_timer *reap_timer, *reconnect_timer, *queue_timer, *prune_timer;
    /* Last queue warning, per queue (rate limit). */
    cairn_time queue_warned[3];
    /* Last warning that a queue hit SERF_QUEUE_HARD_MAX (rate limit). */
    cairn_time queue_cap_warned;
    /* Our tags, encoded (Meta) and as given. */
    uint8_t meta[CAIRN_META_MAX];
    size_t meta_len;
    cairn_tag *tags;
    size_t ntags;
    char *tag_strs;
    /* Coalescers (NULL when off). */
    serf_coalescer *member_co, *user_co;
    /* A running leave. */
    cairn_serf_done_cb leave_done;
    void *leave_ud;
    cairn_timer *leave_timer;
    /* 1 waiting for the intent, 2 memberlist leave, 3 propagate delay. */
    int leave_phase;
    cairn_serf_stats stats;
    /* The memberlist keyring (NULL: encryption off), for key queries. */
    cairn_keyring *keyring;
    /* Queries: ring, running and answerable tables (query.c). */
    struct serf_queries *queries;
    /* A name-conflict resolution query is running (internal.c). */
    bool conflict_running;
    /* Handler of received _serf_* queries (internal.c, set by serf.c so
     * query.c does not call up into internal.c). */
    void (*internal_query)(cairn_serf *s, const struct serf_rx_query *q);
};

/* ---- bcast.c ---- */

/* cairn__serf_bcast_init makes the three queues and the depth timer. */
int cairn__serf_bcast_init(cairn_serf *s);
/* cairn__serf_bcast_destroy frees them. */
void cairn__serf_bcast_destroy(cairn_serf *s);
/* cairn__serf_bcast_queue appends msg to queue q; finished (may be NULL)
 * runs when it leaves the queue. 0 or CAIRN_E*. */
int cairn__serf_bcast_queue(cairn_serf *s, cairn_bcast_queue *q, const uint8_t *msg, size_t len,
                            cairn_bcast_finished_cb finished, void *userdata);
/* cairn__serf_bcast_get: memberlist's get_broadcasts (intents, queries,
 * events). */
void cairn__serf_bcast_get(cairn_serf *s, int overhead, int limit, cairn_bcast_emit_cb emit,
                           void *emit_userdata);
/* cairn__serf_bcast_queue_max: the depth limit now (Go: getQueueMax). */
size_t cairn__serf_bcast_queue_max(const cairn_serf *s);

/* ---- coord.c ---- */

/* cairn__serf_coord_ack_payload: our coordinate as the ack payload. */
void cairn__serf_coord_ack_payload(cairn_serf *s, cairn_buf *out);
/* cairn__serf_coord_ping_complete folds one direct probe into Vivaldi and
 * caches the peer's coordinate. */
void cairn__serf_coord_ping_complete(cairn_serf *s, const char *node, cairn_time rtt,
                                     const uint8_t *payload, size_t len);
/* cairn__serf_coord_forget drops member m's cache entry and filter. */
void cairn__serf_coord_forget(cairn_serf *s, struct serf_member *m);

/* ---- deliver.c ---- */

/* cairn__serf_member_view: m as a cairn_member (borrowing m). */
void cairn__serf_member_view(const struct serf_member *m, cairn_member *ret);
/* cairn__serf_emit_member delivers a member event about m. */
void cairn__serf_emit_member(cairn_serf *s, int type, const struct serf_member *m);
/* cairn__serf_emit_user delivers a user event. */
void cairn__serf_emit_user(cairn_serf *s, const char *name, const uint8_t *payload, size_t len,
                           uint64_t ltime, bool cc);
/* cairn__serf_log: logs through s's logger (module "serf"). */
void cairn__serf_log(const cairn_serf *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- members.c ---- */

/* cairn__serf_members_init / destroy: the tables and the reap/reconnect
 * timers. */
int cairn__serf_members_init(cairn_serf *s);
void cairn__serf_members_destroy(cairn_serf *s);
/* cairn__serf_find: the member or NULL. */
struct serf_member *cairn__serf_find(const cairn_serf *s, const char *name);
/* memberlist notifications (Go: handleNodeJoin / Leave / Update). */
void cairn__serf_node_join(cairn_serf *s, const cairn_ml_node *n);
void cairn__serf_node_leave(cairn_serf *s, const cairn_ml_node *n);
void cairn__serf_node_update(cairn_serf *s, const cairn_ml_node *n);
/* Intents (Go: handleNodeJoinIntent / handleNodeLeaveIntent): true when
 * new (to be re-gossiped). */
bool cairn__serf_join_intent(cairn_serf *s, const char *node, uint64_t ltime);
bool cairn__serf_leave_intent(cairn_serf *s, const char *node, uint64_t ltime, bool prune);
/* cairn__serf_gossip_leave queues a leave intent about name at ltime on
 * the intents queue and sends it to name directly (a re-gossip: nothing
 * changes here). */
void cairn__serf_gossip_leave(cairn_serf *s, const char *name, uint64_t ltime);
/* cairn__serf_broadcast_join stamps and queues our join intent with ltime
 * (join and refutation). */
int cairn__serf_broadcast_join(cairn_serf *s, uint64_t ltime);
/* cairn__serf_has_alive_peers: another member is alive. */
bool cairn__serf_has_alive_peers(const cairn_serf *s);

/* ---- event.c ---- */

/* cairn__serf_events_init / destroy: the ring. */
int cairn__serf_events_init(cairn_serf *s);
void cairn__serf_events_destroy(cairn_serf *s);
/* cairn__serf_handle_user_event: Go handleUserEvent; true when new. */
bool cairn__serf_handle_user_event(cairn_serf *s, const uint8_t *name, size_t name_len,
                                   const uint8_t *payload, size_t len, uint64_t ltime, bool cc);

/* ---- snapshot.c ---- */

/* Longest snapshot line read, and the most bytes replay reads. */
#define SNAP_LINE_MAX (CAIRN_NAME_MAX + 128)
#define SNAP_READ_MAX (64u * 1024 * 1024)

/* A remembered member: name (owned) and address. */
struct serf_snap_node {
    char *name;
    cairn_addr addr;
};

/* What the snapshot says: alive members and the last clocks. */
struct serf_snap_state {
    /* name -> struct serf_snap_node (keyed by its own name). */
    struct ml_strmap alive;
    uint64_t clock, event_clock, query_clock;
    /* A `leave` line was seen (and honoured unless rejoin_after_leave). */
    bool saw_leave;
    bool rejoin_after_leave;
};

struct serf_snapshot;

/* cairn__serf_snap_state_init / destroy: an empty state holding at most
 * max_nodes members. */
void cairn__serf_snap_state_init(struct serf_snap_state *st, size_t max_nodes,
                                 bool rejoin_after_leave);
void cairn__serf_snap_state_destroy(struct serf_snap_state *st);
/* cairn__serf_snap_alive / not_alive update the table. 0, CAIRN_EINVAL,
 * CAIRN_ENOMEM or CAIRN_ELIMIT. */
int cairn__serf_snap_alive(struct serf_snap_state *st, const char *name, size_t name_len,
                           const cairn_addr *addr);
void cairn__serf_snap_not_alive(struct serf_snap_state *st, const char *name);
/* cairn__serf_snap_line applies one line (status as cairn_file_line_cb):
 * 0, or CAIRN_EPARSE / CAIRN_ENOMEM / CAIRN_ELIMIT with the reason in why
 * (the line is skipped). */
int cairn__serf_snap_line(struct serf_snap_state *st, const char *line, size_t len, int status,
                          char *why, size_t whylen);
/* cairn__serf_snapshot_open opens and replays cfg.snapshot_path (no-op
 * without one): clocks witnessed, min times set, rejoin list made. */
int cairn__serf_snapshot_open(cairn_serf *s, cairn_diag *diag);
/* cairn__serf_snapshot_next_rejoin: the next remembered member to try
 * (random order, ourselves excluded; the name lives as long as the
 * snapshot), or false when none is left. */
bool cairn__serf_snapshot_next_rejoin(cairn_serf *s, const char **ret_name, cairn_addr *ret_addr);
/* Events to record (no-ops without a snapshot). */
void cairn__serf_snapshot_member(cairn_serf *s, int type, const struct serf_member *m);
void cairn__serf_snapshot_user(cairn_serf *s, uint64_t ltime);
void cairn__serf_snapshot_query(cairn_serf *s, uint64_t ltime);
/* cairn__serf_snapshot_leave writes `leave` and syncs (Go: Leave). */
void cairn__serf_snapshot_leave(cairn_serf *s);
/* cairn__serf_snapshot_close flushes, syncs, closes and frees. */
void cairn__serf_snapshot_close(cairn_serf *s);

/* ---- pushpull.c ---- */

/* cairn__serf_local_state / merge_remote_state: memberlist's push/pull
 * delegate (serf message type 2). */
int cairn__serf_local_state(cairn_serf *s, cairn_buf *out);
void cairn__serf_merge_remote_state(cairn_serf *s, const uint8_t *buf, size_t len, bool join);

/* ---- filter.c ---- */

/* cairn__serf_filters_encode appends params' filters (each `[type][msgpack]`)
 * to out, one after the other, and their lengths to lens (room for n_lens):
 * 0, CAIRN_EINVAL (an empty node name or tag), CAIRN_ELIMIT, CAIRN_ENOMEM. */
int cairn__serf_filters_encode(const cairn_serf_query_params *p, cairn_buf *out, size_t *lens,
                               size_t n_lens);
/* cairn__serf_filters_match: true when a node named self with tags passes
 * every encoded filter (unknown or malformed filters, and regexps that do
 * not compile, fail, as in Go). */
bool cairn__serf_filters_match(const char *self, const cairn_tag *tags, size_t ntags,
                               const cairn_span *filters, size_t n);

/* ---- query.c ---- */

/* cairn__serf_queries_init / destroy: the tables (destroy reports DONE
 * with CAIRN_ECANCELED to every running query). */
int cairn__serf_queries_init(cairn_serf *s);
void cairn__serf_queries_destroy(cairn_serf *s);
/* Received messages 04, 05, 09 (whole serf message); the query handler
 * returns true when msg is to be re-gossiped. */
bool cairn__serf_handle_query(cairn_serf *s, const uint8_t *msg, size_t len);
void cairn__serf_handle_query_response(cairn_serf *s, const uint8_t *msg, size_t len);
void cairn__serf_handle_relay(cairn_serf *s, const uint8_t *msg, size_t len);

/* A received query as the internal handlers see it (borrowed). */
struct serf_rx_query {
    const char *name;
    const uint8_t *payload;
    size_t len;
    /* The pending-table handle for cairn__serf_respond (0: none). */
    uint64_t handle;
};
/* cairn__serf_respond answers a received query (the respond function of
 * the query event; ctx is the serf). */
int cairn__serf_respond(void *ctx, uint64_t query_id, const uint8_t *payload, size_t len);

/* ---- internal.c ---- */

/* cairn__serf_internal_query handles a received query named _serf_*
 * (never delivered to the application). */
void cairn__serf_internal_query(cairn_serf *s, const struct serf_rx_query *q);
/* cairn__serf_name_conflict: memberlist's conflict delegate. */
void cairn__serf_name_conflict(cairn_serf *s, const cairn_ml_node *existing,
                               const cairn_ml_node *other);

#endif
