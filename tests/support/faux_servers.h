/* faux_servers.h: test fakes of the routing core's seams, after Consul's
 * manager tests (spec §7.1): fauxSerf (a cluster with a fixed node count),
 * fauxConnPool (a pinger failing with a probability drawn from its own
 * seeded rng, or for one address), fauxAddr (a distinct address per name).
 *
 * The pinger completes synchronously by default (inside ping(), as the Go
 * tests do). In async mode it keeps pings pending until the test completes
 * them, so tests can interleave writes with an in-flight rebalance. */
#ifndef FAUX_SERVERS_H
#define FAUX_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/cluster.h"
#include "cairn/pinger.h"
#include "cairn/rng.h"
#include "cairn/server.h"

/* fauxSerf: num_nodes returns a fixed number; no members. */
typedef struct faux_serf {
    /* What num_nodes returns (the test may change it). */
    size_t num_nodes;
    /* The seam to hand to the manager. */
    cairn_cluster cluster;
} faux_serf;

void faux_serf_init(faux_serf *f, size_t num_nodes);

#define FAUX_PENDING_MAX 8

/* fauxConnPool. */
typedef struct faux_conn_pool {
    /* A ping succeeds iff a draw in [0,1) is greater than fail_pct. */
    double fail_pct;
    /* A ping to this address always fails (family 0: none). */
    cairn_addr fail_addr;
    /* Async mode: pings wait for faux_conn_pool_complete. */
    bool async;
    /* Make ping() itself fail with this code (0: no). */
    int start_err;
    /* Number of pings started, and the name of the last one. */
    size_t pings;
    char last_name[CAIRN_SERVER_NAME_MAX];
    /* Async pending pings. */
    struct {
        cairn_ping_done_cb done;
        void *token;
    } pending[FAUX_PENDING_MAX];
    size_t npending;
    /* Number of cancel calls that removed a pending ping. */
    size_t cancelled;
    /* The draw generator. */
    cairn_rng rng;
    /* The seam to hand to the manager. */
    cairn_pinger pinger;
} faux_conn_pool;

void faux_conn_pool_init(faux_conn_pool *p, double fail_pct, uint64_t seed);

/* Completes the oldest pending ping with ok (async mode). Returns false
 * when none is pending. */
bool faux_conn_pool_complete(faux_conn_pool *p, bool ok);

/* fauxAddr: a distinct loopback address per name (127.x.y.z:8300, from a
 * hash of the name); tests check that the names they use do not collide. */
cairn_addr faux_addr(const char *name);

/* A server record named `name` in datacenter dc with faux_addr(name). */
cairn_server *faux_server(const char *name, const char *dc);

#endif
