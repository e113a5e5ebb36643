/* cairn/time.h: the one time unit, monotonic nanoseconds.
 *
 * Protocol code never reads a clock: it asks its loop (cairn_loop_now). Both
 * instants and durations are cairn_time values in nanoseconds, which covers
 * about 292 years either way.
 */
#ifndef CAIRN_TIME_H
#define CAIRN_TIME_H

#include <stdint.h>

/* A duration or a monotonic instant, in nanoseconds. */
typedef int64_t cairn_time;

/* Units: CAIRN_SEC is one second of cairn_time. */
#define CAIRN_NSEC ((cairn_time)1)
#define CAIRN_USEC ((cairn_time)1000)
#define CAIRN_MSEC ((cairn_time)1000000)
#define CAIRN_SEC  ((cairn_time)1000000000)
#define CAIRN_MIN  (60 * CAIRN_SEC)
#define CAIRN_HOUR (60 * CAIRN_MIN)

/* cairn_time_seconds converts a duration to seconds exactly as Go's
 * time.Duration.Seconds() does: whole seconds plus the remainder / 1e9, so
 * that 10 ms is exactly 0.010. */
static inline double cairn_time_seconds(cairn_time d)
{
    cairn_time sec = d / CAIRN_SEC;
    cairn_time nsec = d % CAIRN_SEC;
    return (double)sec + (double)nsec / 1e9;
}

/* cairn_time_from_seconds truncates seconds (finite) to whole nanoseconds,
 * saturating at the int64 range, as Go's Duration(f * 1e9) does for values in
 * range. */
cairn_time cairn_time_from_seconds(double s);

/* cairn_monotonic_now reads CLOCK_MONOTONIC. Only loop implementations, the
 * agent and benchmarks may call it; protocol code uses the loop's now. */
cairn_time cairn_monotonic_now(void);

#endif
