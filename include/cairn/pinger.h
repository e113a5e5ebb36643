/* cairn/pinger.h: the pinger seam (Go: router.Pinger).
 *
 * A Manager's rebalance asks whether one server answers before moving it to
 * the front. The ping is asynchronous: ping() starts it and returns at once;
 * the pinger later calls done() exactly once, on the loop thread, with ok
 * true or false (and an error code describing a failure). The loop thread is
 * never blocked by a ping. cancel() abandons every ping started with the
 * given `token` (done is then never called for them); a pinger must support
 * it so that a manager can be destroyed while its ping is in flight.
 */
#ifndef CAIRN_PINGER_H
#define CAIRN_PINGER_H

#include <stdbool.h>

#include "cairn/addr.h"

/* Completion: ok is true when the server answered; err is 0 or the CAIRN_E*
 * reason for failure. token is the value given to ping(). */
typedef void (*cairn_ping_done_cb)(bool ok, int err, void *token);

/* The functions of a pinger implementation. */
typedef struct cairn_pinger_ops {
    /* Starts a ping of server `name` (Go: ShortName) of datacenter `dc` at
     * `addr` (IP and RPC port). Returns 0 when started (done will follow,
     * possibly before ping returns), or a CAIRN_E* code (done will not be
     * called). */
    int (*ping)(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                cairn_ping_done_cb done, void *token);
    /* Abandons the pings started with token; done is not called for them. */
    void (*cancel)(void *impl, void *token);
} cairn_pinger_ops;

/* The pinger seam as a value: ops and implementation; copied by value. */
typedef struct cairn_pinger {
    /* The functions; must not be NULL. */
    const cairn_pinger_ops *ops;
    /* The implementation passed to each function. */
    void *impl;
} cairn_pinger;

#endif
