/* memberlist's scaling formulas (Go: util.go suspicionTimeout,
 * retransmitLimit, pushPullScale; suspicion.go remainingSuspicionTime).
 *
 * Written from the formulas in the spec's anchors table; the truncation
 * points follow Go so that every figure in that table is reproduced exactly
 * (tests/unit/test_memberlist_pure.c checks the rows).
 */
#include "memberlist/util.h"

#include <math.h>

cairn_time cairn__ml_suspicion_timeout(int suspicion_mult, int n, cairn_time interval)
{
    double node_scale = fmax(1.0, log10(fmax(1.0, (double)n)));
    /* Go: Duration(mult) * Duration(nodeScale*1000) * interval / 1000. */
    cairn_time scale_milli = (cairn_time)(node_scale * 1000.0);
    return (cairn_time)suspicion_mult * scale_milli * interval / 1000;
}

int cairn__ml_retransmit_limit(int retransmit_mult, int n)
{
    double node_scale = ceil(log10((double)n + 1.0));
    return retransmit_mult * (int)node_scale;
}

cairn_time cairn__ml_pushpull_scale(cairn_time interval, int n)
{
    if (n <= ML_PUSHPULL_SCALE_THRESHOLD)
        return interval;
    double mult = ceil(log2((double)n) - log2((double)ML_PUSHPULL_SCALE_THRESHOLD)) + 1.0;
    return (cairn_time)mult * interval;
}

cairn_time cairn__ml_suspicion_remaining(int confirmations, int k, cairn_time elapsed,
                                         cairn_time min, cairn_time max)
{
    double frac = log((double)confirmations + 1.0) / log((double)k + 1.0);
    double max_s = cairn_time_seconds(max), min_s = cairn_time_seconds(min);
    double raw = max_s - frac * (max_s - min_s);
    cairn_time timeout = (cairn_time)floor(1000.0 * raw) * CAIRN_MSEC;
    if (timeout < min)
        timeout = min;
    return timeout - elapsed;
}
