/* cairn/pinger_tcp.h: the built-in TCP pinger (Go: Consul's ConnPool.Ping,
 * reduced to "does the server accept a TCP connection on its RPC port").
 *
 * ping() dials the server's address with a timeout on the loop and reports
 * ok when the connection is established (then closes it), or the dial error
 * (CAIRN_ECONNREFUSED, CAIRN_ETIMEDOUT, ...). Nothing blocks the loop.
 * cancel(token) closes every dial started with that token; their done is
 * never called. Runs on the loop thread only.
 */
#ifndef CAIRN_PINGER_TCP_H
#define CAIRN_PINGER_TCP_H

#include "cairn/loop.h"
#include "cairn/pinger.h"
#include "cairn/time.h"

/* Opaque: the TCP-connect pinger of one loop. */
typedef struct cairn_pinger_tcp cairn_pinger_tcp;

/* Default dial timeout (Consul's RPC ping uses the pool's connect timeout,
 * 10 s; a router wants to move on sooner). */
#define CAIRN_PINGER_TCP_DEFAULT_TIMEOUT (2 * CAIRN_SEC)
/* Pings in flight at once; more fail with CAIRN_ELIMIT. */
#define CAIRN_PINGER_TCP_MAX_INFLIGHT 4096

/* cairn_pinger_tcp_new: timeout <= 0 means the default. 0, CAIRN_EINVAL or
 * CAIRN_ENOMEM. */
int cairn_pinger_tcp_new(cairn_loop *loop, cairn_time timeout, cairn_pinger_tcp **ret_p);
/* cairn_pinger_tcp_delete cancels every ping in flight (no done calls) and
 * frees the pinger. NULL ok; not from inside a done callback. */
void cairn_pinger_tcp_delete(cairn_pinger_tcp *p);
/* cairn_pinger_tcp_get: the seam value (valid as long as the pinger). */
cairn_pinger cairn_pinger_tcp_get(cairn_pinger_tcp *p);
/* cairn_pinger_tcp_inflight: pings started and not yet done or cancelled. */
size_t cairn_pinger_tcp_inflight(const cairn_pinger_tcp *p);

#endif
