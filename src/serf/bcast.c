/* Serf's broadcast queues (Go: serf.go broadcasts / eventBroadcasts /
 * queryBroadcasts, delegate.go GetBroadcasts, checkQueueDepth).
 *
 * Three transmit-limited queues (memberlist's queue, src/memberlist/
 * broadcast.h): intents, events and queries. Each is retransmitted
 * RetransmitMult * ceil(log10(n + 1)) times with n = serf members (failed
 * and left included). A packet takes intents first, then queries, then
 * events, each from the room the previous left. Serf messages are unnamed:
 * none replaces another.
 *
 * Every QueueCheckInterval each queue's depth is compared with
 * QueueDepthWarning (a warning, at most one per queue per minute here; Go
 * logs every check) and with the limit (MaxQueueDepth, or max(2 * members,
 * MinQueueDepth) when MinQueueDepth is set): above it the most transmitted
 * messages are pruned and counted. cairn also gives each queue a hard cap
 * (SERF_QUEUE_HARD_MAX) so memory is bounded between checks; what that cap
 * drops is counted in queue_pruned too, with a warning at most once a
 * minute.
 */
#include "serf/serf_internal.h"

#include "cairn/error.h"

/* At most one depth warning per queue per this long. */
#define SERF_QUEUE_WARN_EVERY (60 * CAIRN_SEC)

size_t cairn__serf_bcast_queue_max(const cairn_serf *s)
{
    if (s->cfg.min_queue_depth == 0)
        return s->cfg.max_queue_depth;
    size_t max = 2 * s->n_members;
    return max < s->cfg.min_queue_depth ? s->cfg.min_queue_depth : max;
}

static void check_queue(cairn_serf *s, int i, const char *name, cairn_bcast_queue *q)
{
    size_t n = cairn__bcast_queue_len(q);
    cairn_time now = cairn_loop_now(s->loop);
    if (n >= s->cfg.queue_depth_warning &&
        (s->queue_warned[i] == 0 || now - s->queue_warned[i] >= SERF_QUEUE_WARN_EVERY)) {
        s->queue_warned[i] = now;
        cairn__serf_log(s, CAIRN_LOG_WARN, "%s queue depth: %zu", name, n);
    }
    size_t max = cairn__serf_bcast_queue_max(s);
    if (n > max) {
        cairn__serf_log(s, CAIRN_LOG_WARN,
                        "%s queue depth (%zu) exceeds limit (%zu), dropping messages", name, n,
                        max);
        cairn__bcast_queue_prune(q, max);
        s->stats.queue_pruned += n - cairn__bcast_queue_len(q);
    }
}

static void on_queue_check(cairn_timer *t, void *ud)
{
    cairn_serf *s = ud;
    check_queue(s, 0, "intent", s->intents_q);
    check_queue(s, 1, "event", s->events_q);
    check_queue(s, 2, "query", s->queries_q);
    cairn_timer_start(t, s->cfg.queue_check_interval);
}

int cairn__serf_bcast_init(cairn_serf *s)
{
    int mult = s->cfg.memberlist.retransmit_mult;
    int rc = cairn__bcast_queue_new(mult, SERF_QUEUE_HARD_MAX, &s->intents_q);
    if (rc == 0)
        rc = cairn__bcast_queue_new(mult, SERF_QUEUE_HARD_MAX, &s->events_q);
    if (rc == 0)
        rc = cairn__bcast_queue_new(mult, SERF_QUEUE_HARD_MAX, &s->queries_q);
    if (rc == 0) {
        /* Serf's messages (join/leave intents above all) are the same bytes
         * at every member that relays them: share them like memberlist's. */
        cairn__bcast_queue_set_pool(s->intents_q, s->cfg.memberlist.shared_pool);
        cairn__bcast_queue_set_pool(s->events_q, s->cfg.memberlist.shared_pool);
        cairn__bcast_queue_set_pool(s->queries_q, s->cfg.memberlist.shared_pool);
        rc = cairn_timer_new(s->loop, on_queue_check, s, &s->queue_timer);
    }
    if (rc == 0)
        cairn_timer_start(s->queue_timer, s->cfg.queue_check_interval);
    return rc;
}

void cairn__serf_bcast_destroy(cairn_serf *s)
{
    cairn_timer_delete(s->queue_timer);
    cairn__bcast_queue_delete(s->intents_q);
    cairn__bcast_queue_delete(s->events_q);
    cairn__bcast_queue_delete(s->queries_q);
    s->queue_timer = NULL;
    s->intents_q = s->events_q = s->queries_q = NULL;
}

int cairn__serf_bcast_queue(cairn_serf *s, cairn_bcast_queue *q, const uint8_t *msg, size_t len,
                            cairn_bcast_finished_cb finished, void *userdata)
{
    size_t before = cairn__bcast_queue_len(q);
    int rc = cairn__bcast_queue_push(q, NULL, msg, len, finished, userdata);
    size_t after = cairn__bcast_queue_len(q);
    if (rc == 0)
        cairn__ml_gossip_wake(s->ml);
    if (rc == 0 && after <= before) {
        /* Hit the hard cap between two checks: the queue dropped its most
         * transmitted message(s). Counted as pruned, warned once a minute. */
        s->stats.queue_pruned += before + 1 - after;
        cairn_time now = cairn_loop_now(s->loop);
        if (s->queue_cap_warned == 0 || now - s->queue_cap_warned >= SERF_QUEUE_WARN_EVERY) {
            s->queue_cap_warned = now;
            cairn__serf_log(s, CAIRN_LOG_WARN,
                            "broadcast queue at its hard cap (%d), dropping messages",
                            SERF_QUEUE_HARD_MAX);
        }
    }
    return rc;
}

/* Counts what a queue emitted so the next queue gets the rest. */
struct bcast_tally {
    cairn_bcast_emit_cb emit;
    void *ud;
    int overhead;
    long used;
};

static void tally_emit(const uint8_t *msg, size_t len, void *ud)
{
    struct bcast_tally *t = ud;
    t->used += (long)len + t->overhead;
    t->emit(msg, len, t->ud);
}

void cairn__serf_bcast_get(cairn_serf *s, int overhead, int limit, cairn_bcast_emit_cb emit,
                           void *emit_userdata)
{
    struct bcast_tally t = {emit, emit_userdata, overhead, 0};
    int n = (int)s->n_members;
    cairn_bcast_queue *order[3] = {s->intents_q, s->queries_q, s->events_q};
    for (int i = 0; i < 3; i++) {
        long room = limit - t.used;
        if (room <= overhead)
            break;
        cairn__bcast_queue_get(order[i], overhead, (int)room, n, tally_emit, &t);
    }
}
