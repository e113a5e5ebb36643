/* cairn/loop.h: the only door between protocol code and the world.
 *
 * Protocol code (memberlist, serf, servers) asks a cairn_loop for the time and
 * for one-shot timers, and (in a later layer) for UDP packets and TCP
 * streams. It never calls a clock, socket or libuv function itself. Backends:
 *
 *   - libuv (cairn/loop_uv.h): real time and real sockets;
 *   - manual (this header): a clock that only moves when a test advances it,
 *     firing due timers in order; the simulator builds on the same idea.
 *
 * Threading: every function here except cairn_loop_post must be called on the
 * loop's own thread (for the manual loop: the thread that advances it).
 * Callbacks run on that thread. cairn_loop_post is the one thread-safe entry:
 * it queues work for the loop thread.
 */
#ifndef CAIRN_LOOP_H
#define CAIRN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/time.h"

typedef struct cairn_loop cairn_loop;
typedef struct cairn_timer cairn_timer;

/* A timer fired. The timer is inactive again when this runs; the callback
 * may restart, stop or delete it (deletion is deferred until it returns). */
typedef void (*cairn_timer_cb)(cairn_timer *timer, void *userdata);

/* Work posted from another thread. */
typedef void (*cairn_post_cb)(void *userdata);

/* cairn_loop_now: the loop's monotonic time in nanoseconds. */
cairn_time cairn_loop_now(cairn_loop *loop);

/* cairn_loop_delete destroys a loop. All timers (and later sockets) made on
 * it must have been deleted first. Accepts NULL. */
void cairn_loop_delete(cairn_loop *loop);

/* cairn_loop_post queues cb(userdata) to run on the loop thread soon. Safe to
 * call from any thread, including the loop's own. Returns 0, CAIRN_ENOMEM or
 * CAIRN_ESHUTDOWN (loop being deleted). Posted work still queued when the
 * loop is deleted is dropped without running. */
int cairn_loop_post(cairn_loop *loop, cairn_post_cb cb, void *userdata);

/* cairn_timer_new creates an inactive one-shot timer. 0, CAIRN_EINVAL or
 * CAIRN_ENOMEM; *ret_timer is owned by the caller (cairn_timer_delete). */
int cairn_timer_new(cairn_loop *loop, cairn_timer_cb cb, void *userdata, cairn_timer **ret_timer);

/* cairn_timer_start (re)arms timer to fire once after delay ns (negative
 * counts as 0). Restarting an active timer replaces its deadline. */
void cairn_timer_start(cairn_timer *timer, cairn_time delay);

/* cairn_timer_stop disarms timer; a no-op when inactive. */
void cairn_timer_stop(cairn_timer *timer);

/* cairn_timer_active: true between start and fire/stop. */
bool cairn_timer_active(const cairn_timer *timer);

/* cairn_timer_deadline: absolute fire time of an active timer (loop time),
 * or -1 when inactive. */
cairn_time cairn_timer_deadline(const cairn_timer *timer);

/* cairn_timer_delete stops and frees timer. Accepts NULL. Safe inside the
 * timer's own callback. */
void cairn_timer_delete(cairn_timer *timer);

/* ---- the manual (test) clock ---- */

/* cairn_loop_new_manual makes a loop whose time starts at `start` and moves
 * only through cairn_loop_manual_advance. 0 or CAIRN_ENOMEM. */
int cairn_loop_new_manual(cairn_time start, cairn_loop **ret_loop);

/* cairn_loop_manual_advance moves time forward by delta (>= 0), running, in
 * deadline order (ties in start order), every timer due on the way, with now
 * equal to each timer's deadline while it runs; then runs posted work.
 * Returns the number of callbacks run. */
size_t cairn_loop_manual_advance(cairn_loop *loop, cairn_time delta);

/* cairn_loop_manual_run_pending runs posted work and timers already due,
 * without moving time. Returns the number of callbacks run. */
size_t cairn_loop_manual_run_pending(cairn_loop *loop);

/* cairn_loop_manual_next_deadline: the earliest active timer's deadline, or
 * -1 when none is armed. */
cairn_time cairn_loop_manual_next_deadline(cairn_loop *loop);

#endif
