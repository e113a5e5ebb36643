/* memberlist/awareness.h: Lifeguard's local health score (module-internal).
 *
 * The score counts recent evidence that this node itself is slow (missed
 * nacks, having to refute accusations). It ranges over 0 .. max-1 and
 * stretches the probe interval and timeouts by (score + 1), so a struggling
 * node gives its peers more time before it accuses them.
 */
#ifndef CAIRN_ML_AWARENESS_H
#define CAIRN_ML_AWARENESS_H

#include "cairn/time.h"

struct ml_awareness {
    /* Upper bound (exclusive) of the score: AwarenessMaxMultiplier. */
    int max;
    /* Current score, 0 (healthy) .. max-1. */
    int score;
};

/* cairn__ml_awareness_init: score 0, bound max (>= 1). */
void cairn__ml_awareness_init(struct ml_awareness *a, int max);

/* cairn__ml_awareness_apply adds delta and clamps to 0 .. max-1. Returns true when
 * the score changed. */
int cairn__ml_awareness_apply(struct ml_awareness *a, int delta);

/* cairn__ml_awareness_scale: timeout * (score + 1). */
cairn_time cairn__ml_awareness_scale(const struct ml_awareness *a, cairn_time timeout);

#endif
