/* The TSan anchor of servers/rcu.h: a constant whose address names the
 * happens-before edge "read-side section ended -> grace period over". */
#include "servers/rcu.h"

const char cairn_rcu_tsan_anchor = 0;
