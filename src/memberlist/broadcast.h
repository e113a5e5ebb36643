/* memberlist/broadcast.h: the transmit-limited broadcast queue.
 *
 * Gossip piggybacks queued messages onto every packet it sends. This queue
 * decides which ones (memberlist's TransmitLimitedQueue): each message is
 * sent at most RetransmitMult * ceil(log10(n + 1)) times (n = cluster size);
 * a packet takes the messages sent the fewest times first and, among those,
 * the largest that still fits the remaining budget (the newest on ties). A
 * message queued under a name (memberlist uses the node name) replaces any
 * older queued message with the same name. Unnamed messages never replace
 * anything (as serf's broadcasts).
 *
 * The queue holds at most `max_items` messages; beyond that the ones sent
 * the most times (then the smallest, then the oldest) are dropped, as Go's
 * Prune does. Every message leaves through its `finished` callback: sent
 * often enough, replaced, pruned, or reset (not on cairn__bcast_queue_delete).
 *
 * A queue given a message pool (cairn__bcast_queue_set_pool) shares one
 * reference-counted copy of identical messages (same bytes, same name) with
 * every other queue of that pool.
 *
 * Threading: not thread-safe; one owner (the loop thread) uses it. Queues
 * sharing a pool must all run on one thread (the pool is not locked).
 */
#ifndef CAIRN_MEMBERLIST_BROADCAST_H
#define CAIRN_MEMBERLIST_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/memberlist.h" /* cairn_bcast_emit_cb */

typedef struct cairn_bcast_queue cairn_bcast_queue;

/* Longest message a queue holds (a message must fit one UDP packet to be
 * sent at all). */
#define CAIRN_BCAST_MSG_MAX 65535

/* A queued message left the queue. Must not call into the queue. */
typedef void (*cairn_bcast_finished_cb)(void *userdata);

/* cairn__bcast_queue_new makes an empty queue. retransmit_mult >= 1,
 * max_items >= 1. 0, CAIRN_EINVAL or CAIRN_ENOMEM. */
int cairn__bcast_queue_new(int retransmit_mult, size_t max_items, cairn_bcast_queue **ret_queue);

/* cairn__bcast_queue_delete frees the queue and every message in it without
 * calling their finished callbacks. Accepts NULL. */
void cairn__bcast_queue_delete(cairn_bcast_queue *q);

/* cairn__bcast_queue_set_pool makes q share its messages through pool (may
 * be NULL: private copies), which must outlive q's messages. Only while q
 * is empty (otherwise ignored). */
void cairn__bcast_queue_set_pool(cairn_bcast_queue *q, cairn_ml_pool *pool);

/* cairn__bcast_queue_push copies msg (len >= 1) into the queue with zero
 * transmissions. name (may be NULL) replaces a queued message of the same
 * name, whose finished callback runs first. finished (may be NULL) is called
 * with userdata when this message leaves the queue. 0, CAIRN_EINVAL,
 * CAIRN_ELIMIT (len > CAIRN_BCAST_MSG_MAX) or CAIRN_ENOMEM (queue unchanged on
 * error). */
int cairn__bcast_queue_push(cairn_bcast_queue *q, const char *name, const uint8_t *msg, size_t len,
                            cairn_bcast_finished_cb finished, void *userdata);

/* cairn__bcast_queue_get picks messages for one packet: each costs
 * `overhead` + its length out of `limit` bytes. emit is called for each
 * chosen message in order. num_nodes sets the retransmit limit; a message
 * that reaches it is removed (finished) after being emitted. Returns the
 * number of messages emitted. */
size_t cairn__bcast_queue_get(cairn_bcast_queue *q, int overhead, int limit, int num_nodes,
                              cairn_bcast_emit_cb emit, void *userdata);

/* cairn__bcast_queue_len: messages queued. */
size_t cairn__bcast_queue_len(const cairn_bcast_queue *q);

/* cairn__bcast_queue_prune drops messages (most transmitted first) until at
 * most max_retain remain. */
void cairn__bcast_queue_prune(cairn_bcast_queue *q, size_t max_retain);

/* cairn__bcast_queue_reset drops every message (each finished). */
void cairn__bcast_queue_reset(cairn_bcast_queue *q);

/* cairn__bcast_queue_retransmit_limit: retransmit_mult * ceil(log10(n + 1)). */
int cairn__bcast_queue_retransmit_limit(int retransmit_mult, int num_nodes);

/* Gossip on demand. memberlist ticks every gossip_interval (200 ms on LAN)
 * whether or not anything is queued; a quiet cluster queues nothing for
 * minutes, and each empty tick costs a wake-up (most of an idle agent's
 * CPU: docs/performance.md, "Whole agents"). After
 * cairn__ml_gossip_on_demand, a tick that finds nothing to send (its own
 * queue and the delegate's both empty) stops the timer, and
 * cairn__ml_gossip_wake re-arms it at the next point of the same tick
 * phase, so a message leaves when it would have with the ticker. The
 * delegate must call cairn__ml_gossip_wake whenever it queues a broadcast
 * (serf does, in cairn__serf_bcast_queue); memberlist wakes itself for its
 * own. Loop thread. */
void cairn__ml_gossip_on_demand(cairn_memberlist *ml);

/* cairn__ml_gossip_wake: a broadcast was queued (see above). No-op when
 * the timer runs, when not on demand, or ml is NULL. */
void cairn__ml_gossip_wake(cairn_memberlist *ml);

#endif
