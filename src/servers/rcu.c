/* The TSan anchors of servers/rcu.h: constants whose addresses name the
 * happens-before edges "read-side section ended -> grace period over" and
 * "deferred callback ran -> rcu_barrier returned".
 *
 * Under TSan we also supply the runtime's default suppressions with one
 * entry: urcu_bp_barrier allocates a completion record that its own
 * callback frees on the call_rcu thread, handed over through liburcu's
 * uninstrumented lock-free queue, which TSan reports as a race between
 * calloc and free inside liburcu. The entry matches only reports with
 * urcu_bp_barrier on a stack, never our callbacks' own accesses. */
#include "servers/rcu.h"

const char cairn__rcu_tsan_anchor = 0;
const char cairn__rcu_tsan_barrier_anchor = 0;

#ifdef CAIRN_RCU_TSAN
/* Read by the TSan runtime at start-up (sanitizer/tsan_interface.h). */
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
    return "race:urcu_bp_barrier\n";
}
#endif
