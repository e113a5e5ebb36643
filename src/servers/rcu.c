/* The TSan anchors of servers/rcu.h: constants whose addresses name the
 * happens-before edges "read-side section ended -> grace period over" and
 * "deferred callback ran -> rcu_barrier returned". */
#include "servers/rcu.h"

const char cairn_rcu_tsan_anchor = 0;
const char cairn_rcu_tsan_barrier_anchor = 0;
