/* memberlist/suspicion.h: one Lifeguard suspicion timer (module-internal).
 *
 * Created when a node is first suspected. It fires after `max` when k >= 1
 * independent confirmations are expected, else after `min`. Each
 * confirmation from a new accuser (up to k) pulls the deadline toward min
 * along a log curve (cairn__ml_suspicion_remaining). When it fires, the callback
 * gets the number of confirmations seen; the owner then declares the node
 * dead.
 */
#ifndef CAIRN_ML_SUSPICION_H
#define CAIRN_ML_SUSPICION_H

#include <stdbool.h>

#include "cairn/loop.h"

struct ml_suspicion;

/* The suspicion timed out. The callback may delete the suspicion. */
typedef void (*ml_suspicion_cb)(struct ml_suspicion *s, int confirmations, void *userdata);

/* cairn__ml_suspicion_new starts a suspicion on loop: `from` is the first accuser
 * (it does not count as a confirmation), k the expected confirmations (0
 * disables acceleration), min/max the timeout bounds. 0, CAIRN_EINVAL or
 * CAIRN_ENOMEM. */
int cairn__ml_suspicion_new(cairn_loop *loop, const char *from, int k, cairn_time min,
                            cairn_time max, ml_suspicion_cb cb, void *userdata,
                            struct ml_suspicion **ret_s);

/* cairn__ml_suspicion_confirm records an accusation from `from`. Returns true when
 * it was a new, counted confirmation (then the caller re-gossips the
 * suspect message); false when k confirmations were already seen, the
 * accuser was seen before, or memory ran out. If the new deadline has
 * already passed, the timeout callback runs from the loop at once (not from
 * inside this call). */
bool cairn__ml_suspicion_confirm(struct ml_suspicion *s, const char *from);

/* cairn__ml_suspicion_confirmations: confirmations counted so far. */
int cairn__ml_suspicion_confirmations(const struct ml_suspicion *s);

/* cairn__ml_suspicion_deadline: when the timer fires (loop time), -1 after it fired. */
cairn_time cairn__ml_suspicion_deadline(const struct ml_suspicion *s);

/* cairn__ml_suspicion_delete stops and frees s. Accepts NULL; safe inside its own
 * callback. */
void cairn__ml_suspicion_delete(struct ml_suspicion *s);

#endif
