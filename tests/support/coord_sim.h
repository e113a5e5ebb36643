/* Test support: Serf's coordinate simulator (coordinate/phantom.go).
 *
 * Truth matrices for the topologies of Serf's performance tests, a set of
 * coordinate clients, Simulate (each cycle every node observes the true RTT
 * to one random peer, skipping itself) and Evaluate (relative error over all
 * pairs). Randomness is cairn's seeded rng, not Go's math/rand. Used by
 * tests/unit/test_coord_perf.c, test_coord_golden.c and bench/bench_coord.c.
 */
#ifndef CAIRN_TEST_COORD_SIM_H
#define CAIRN_TEST_COORD_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/coord.h"

/* Largest simulation (Serf's tests use at most 25 nodes). */
#define COORD_SIM_MAX_NODES 25

/* A symmetric matrix of true RTTs; rtt[i][i] is 0. */
typedef struct coord_truth {
    size_t n;
    cairn_time rtt[COORD_SIM_MAX_NODES][COORD_SIM_MAX_NODES];
} coord_truth;

/* n clients, one per simulated node. */
typedef struct coord_sim {
    size_t n;
    cairn_coord_client *clients[COORD_SIM_MAX_NODES];
} coord_sim;

/* Relative-error summary (Go: Stats). */
typedef struct coord_sim_stats {
    double avg;
    double max;
} coord_sim_stats;

/* Creates n clients from *base with rng_seed = client_seed_base + i + 1.
 * Returns 0, CAIRN_EINVAL (n too large) or the client_new error; on error
 * nothing is left allocated. */
int coord_sim_init(coord_sim *sim, size_t n, const cairn_coord_config *base,
                   uint64_t client_seed_base);
void coord_sim_destroy(coord_sim *sim);

/* GenerateLine: nodes `spacing` apart on a line. */
void coord_truth_line(coord_truth *t, size_t n, cairn_time spacing);
/* GenerateGrid: a sqrt(n)-wide grid, `spacing` apart. */
void coord_truth_grid(coord_truth *t, size_t n, cairn_time spacing);
/* GenerateSplit: two LANs (`lan` inside), `lan + wan` across; nodes
 * 0..n/2 on one side. */
void coord_truth_split(coord_truth *t, size_t n, cairn_time lan, cairn_time wan);
/* GenerateCircle: nodes 1..n-1 on a circle of `radius`, node 0 at 2r from
 * all of them. */
void coord_truth_circle(coord_truth *t, size_t n, cairn_time radius);
/* GenerateRandom: normal RTTs (mean, deviation) from an rng seeded `seed`. */
void coord_truth_random(coord_truth *t, size_t n, cairn_time mean, cairn_time deviation,
                        uint64_t seed);
/* TestPerformance_Drift's square: sides `side`, the even-even diagonal
 * sqrt(2) * side. */
void coord_truth_drift_square(coord_truth *t, cairn_time side);

/* Simulate: `cycles` rounds, peers drawn from an rng seeded `seed` (a fresh
 * one per call, as Go re-seeds). Returns 0 or the first update error. */
int coord_sim_run(coord_sim *sim, const coord_truth *t, int cycles, uint64_t seed);

/* Evaluate: relative error |est - actual| / actual over all pairs i < j. */
coord_sim_stats coord_sim_evaluate(const coord_sim *sim, const coord_truth *t);

#endif
