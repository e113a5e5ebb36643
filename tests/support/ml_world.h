/* A simulated world of memberlist nodes, shared by the simulator tests
 * (tests/sim) and the simulator benchmark (bench/bench_memberlist_sim.c).
 *
 * Node i is named "n<i>" and listens on 10.<i>>>16>.<i>>>8>.<i>:7946 of one
 * cairn_sim; its memberlist seed is drawn from the simulator's rng, so a
 * world is reproducible from the simulator's seed. Nothing here asserts:
 * every fallible call returns a CAIRN_E* code, and callers (cmocka tests,
 * benchmarks) decide what a failure means.
 */
#ifndef CAIRN_TEST_ML_WORLD_H
#define CAIRN_TEST_ML_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/memberlist.h"
#include "cairn/sim.h"

typedef struct ml_world ml_world;

typedef struct ml_world_node {
    /* The node's loop and memberlist; NULL while the node is down. */
    cairn_loop *loop;
    cairn_memberlist *ml;
    /* Its address (port 7946) and name ("n<i>"). */
    cairn_addr addr;
    char name[16];
    /* Started and not killed (a caller may clear it to keep a started node
     * out of ml_world_live/converged/seeing, e.g. before it joins). */
    bool up;
    /* Delegate and logger handed to memberlist (filled by `instrument`). */
    cairn_memberlist_delegate del;
    cairn_logger log;
} ml_world_node;

/* Fills node i's delegate and logger before it starts (may leave them
 * zeroed: no delegate, no log). */
typedef void (*ml_world_instrument_cb)(ml_world *w, size_t i, cairn_memberlist_delegate *d,
                                       cairn_logger *l);

struct ml_world {
    cairn_sim *sim;
    /* Every node of the world, up or down. */
    size_t n;
    ml_world_node *nodes;
    /* The configuration every node starts from (name, bind, seed set per
     * node); tune it between ml_world_init and the first start. */
    cairn_memberlist_config cfg;
    /* The gossip message pool every member shares (cfg.shared_pool). */
    cairn_ml_pool *pool;
    /* Optional instrumentation and its context. */
    ml_world_instrument_cb instrument;
    void *ctx;
};

/* ml_world_init makes a simulator from seed and n nodes (none started):
 * LAN profile, compression off (it costs CPU and changes nothing the
 * simulator measures), max_nodes raised to fit n. 0 or CAIRN_ENOMEM. */
int ml_world_init(ml_world *w, uint64_t seed, size_t n);

/* ml_world_start starts node i (a fresh loop and memberlist from w->cfg). */
int ml_world_start(ml_world *w, size_t i);

/* ml_world_start_all starts every node that is down. */
int ml_world_start_all(ml_world *w);

/* ml_world_kill stops node i at once (no leave): a crash. Frees its loop
 * and memberlist even when a caller marked it down itself; a no-op for a
 * node never started. */
void ml_world_kill(ml_world *w, size_t i);

/* ml_world_destroy kills every node and frees the world. */
void ml_world_destroy(ml_world *w);

/* ml_world_live: nodes up. */
size_t ml_world_live(const ml_world *w);

/* ml_world_converged: every live node counts every live node as a member
 * and lists each one alive. */
bool ml_world_converged(const ml_world *w);

/* ml_world_seeing: live nodes other than `name` itself that see `name` at
 * least in `state`: CAIRN_ML_SUSPECT counts suspect, dead and left;
 * CAIRN_ML_DEAD counts dead and left. A node that no longer lists `name`
 * (reaped) counts as seeing it dead. */
size_t ml_world_seeing(const ml_world *w, const char *name, int state);

#endif
