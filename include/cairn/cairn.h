/* cairn/cairn.h: every public header in one include.
 *
 * cairn/loop_uv.h is left out on purpose: it pulls in uv.h, and only
 * programs that drive a libuv loop need it.
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

/* base */
#include "cairn/error.h"
#include "cairn/alloc.h"
#include "cairn/log.h"
#include "cairn/limits.h"
#include "cairn/rng.h"
#include "cairn/time.h"
#include "cairn/buf.h"
#include "cairn/addr.h"
#include "cairn/cluster.h"
#include "cairn/pinger.h"
/* loop */
#include "cairn/loop.h"
#include "cairn/sim.h"
/* coordinates */
#include "cairn/coord.h"
/* membership */
#include "cairn/keyring.h"
#include "cairn/memberlist.h"
#include "cairn/serf.h"
/* routing */
#include "cairn/server.h"
#include "cairn/manager.h"
#include "cairn/router.h"
#include "cairn/serf_adapter.h"
#include "cairn/flooder.h"
#include "cairn/pinger_tcp.h"
/* Serf agent RPC */
#include "cairn/serfrpc.h"
#include "cairn/serfrpc_server.h"
/* agent */
#include "cairn/agent.h"

#endif
