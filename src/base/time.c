/* Time conversions and the one monotonic clock read (for loop backends). */
#include "cairn/time.h"

#include <math.h>
#include <time.h>

cairn_time cairn_time_from_seconds(double s)
{
    double ns = s * 1e9;
    if (isnan(ns))
        return 0;
    if (ns >= 9223372036854775807.0)
        return INT64_MAX;
    if (ns <= -9223372036854775808.0)
        return INT64_MIN;
    return (cairn_time)ns;
}

cairn_time cairn_monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (cairn_time)ts.tv_sec * CAIRN_SEC + ts.tv_nsec;
}
