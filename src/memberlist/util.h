/* memberlist/util.h: memberlist's scaling formulas (module-internal).
 *
 * These decide how timeouts and retransmissions grow with cluster size. They
 * reproduce memberlist 0.2.2's util.go and suspicion.go to the nanosecond,
 * including Go's truncations, because peers and the anchors table agree on
 * the exact numbers.
 */
#ifndef CAIRN_ML_UTIL_H
#define CAIRN_ML_UTIL_H

#include "cairn/time.h"

/* Push/pull interval stays unscaled up to this many nodes (Go:
 * pushPullScaleThreshold). */
#define ML_PUSHPULL_SCALE_THRESHOLD 32

/* cairn__ml_suspicion_timeout: the Lifeguard minimum suspicion timeout
 * mult * max(1, log10(max(1, n))) * interval, with the node scale truncated
 * to thousandths as Go does (time.Duration(nodeScale*1000)). */
cairn_time cairn__ml_suspicion_timeout(int suspicion_mult, int n, cairn_time interval);

/* cairn__ml_retransmit_limit: mult * ceil(log10(n + 1)), the number of times a
 * broadcast is sent before it leaves the queue. */
int cairn__ml_retransmit_limit(int retransmit_mult, int n);

/* cairn__ml_pushpull_scale: interval unchanged for n <= 32, else multiplied by
 * ceil(log2(n) - log2(32)) + 1. */
cairn_time cairn__ml_pushpull_scale(cairn_time interval, int n);

/* cairn__ml_suspicion_remaining: the time left on a suspicion timer after
 * `confirmations` independent confirmations out of `k` expected, `elapsed`
 * after it started: max - ln(c+1)/ln(k+1) * (max - min), truncated to whole
 * milliseconds, never below min, minus elapsed (may be <= 0). */
cairn_time cairn__ml_suspicion_remaining(int confirmations, int k, cairn_time elapsed,
                                         cairn_time min, cairn_time max);

#endif
