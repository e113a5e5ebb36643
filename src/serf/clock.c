/* Lamport clocks (Go: lamport.go).
 *
 * Serf keeps three: the member clock (join/leave intents, push/pull LTime
 * and StatusLTimes), the event clock (user events) and the query clock.
 * Witness(v) moves the clock to v + 1 when v is at or past it, so the next
 * local stamp is strictly later than anything seen. Go uses atomics because
 * goroutines share the clocks; here one loop thread owns them, so plain
 * integers do. The snapshotter (later) reads and restores them through
 * these functions.
 */
#include "serf/serf_internal.h"

uint64_t cairn__serf_clock_time(const struct serf_clock *c)
{
    return c->counter;
}

uint64_t cairn__serf_clock_increment(struct serf_clock *c)
{
    return ++c->counter;
}

void cairn__serf_clock_witness(struct serf_clock *c, uint64_t v)
{
    if (v >= c->counter && v != UINT64_MAX)
        c->counter = v + 1;
}
