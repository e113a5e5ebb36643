/* Starved members on the simulated memberlist world: one run of the
 * "stalls" scenario, shared by the simulator test (tests/sim
 * test_memberlist_sim.c, test_stalls_lifeguard_vs_swim) and the Lifeguard
 * benchmark (bench/bench_lifeguard.c). docs/memberlist-sim.md.
 *
 * N members join and converge (LAN profile). Then, for `seconds`, `slow`
 * members (chosen by the seed) are starved of CPU: frozen 1..3 s, then
 * running for a 0.5..4 ms slice, over and over; each freeze is one stall
 * event. Optionally `kills` other members (never starved) are killed at
 * known times, evenly spread over the run, to measure the detection of a
 * truly dead member. Every other member is healthy for the whole run.
 *
 * The stall schedule and the victims come from their own generators
 * (seeded from the seed only), so a run with Lifeguard and one without get
 * the very same stalls and kills. Nothing here asserts: fallible calls
 * return 0 or a CAIRN_E* code.
 */
#ifndef CAIRN_TEST_ML_STALLS_H
#define CAIRN_TEST_ML_STALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest N and number of kills a run accepts. */
#define ML_STALLS_MAX_N     512
#define ML_STALLS_MAX_KILLS 16

/* One run's shape. */
typedef struct ml_stalls_params {
    /* Members, starved members among them, healthy members killed. */
    size_t n, slow, kills;
    /* Length of the starved phase, virtual seconds. */
    int seconds;
    /* Lifeguard on (memberlist's LAN defaults) or off ("SWIM timing":
     * awareness_max_multiplier 1 and suspicion_max_timeout_mult 1). */
    bool lifeguard;
} ml_stalls_params;

/* Detection of one killed member, seconds after its kill (-1: not within
 * the run). */
typedef struct ml_stalls_kill {
    double first_suspect, first_dead, all_healthy_dead, all_dead;
} ml_stalls_kill;

/* What one run observed. "Healthy" members are those never starved and
 * never killed; verdicts are first-hand, from each member's own log lines
 * ("suspect X has failed" when its probe of X fails, "marking X as failed"
 * when its suspicion of X times out), split by whether the accuser was
 * starved. */
typedef struct ml_stalls_result {
    /* Freezes applied (stall events) and the convergence time before. */
    uint64_t stall_events;
    double converge_s;
    /* False suspicions and false dead declarations about healthy members. */
    uint64_t suspect_healthy_by_slow, suspect_healthy_by_healthy;
    uint64_t dead_healthy_by_slow, dead_healthy_by_healthy;
    /* Dead declarations about starved members (not false: they were
     * unresponsive), and all dead declarations; `declared_dead` is the sum
     * of the members' own counters, equal to `dead_total` unless the log
     * wording changed. */
    uint64_t dead_slow, dead_total, declared_dead;
    /* Episodes: a healthy member going from seen dead by nobody to seen
     * dead by someone (notify_leave / notify_join). */
    uint64_t episodes_healthy;
    /* The killed members, in kill order. */
    size_t kills;
    ml_stalls_kill kill[ML_STALLS_MAX_KILLS];
} ml_stalls_result;

/* ml_stalls_run runs the scenario from seed. 0, CAIRN_EINVAL (shape out
 * of range), CAIRN_ETIMEDOUT (no convergence within 300 virtual s), or an
 * error of the simulator or memberlist. */
int ml_stalls_run(uint64_t seed, const ml_stalls_params *p, ml_stalls_result *r);

/* Sums of a result's false verdicts about healthy members. */
uint64_t ml_stalls_false_dead(const ml_stalls_result *r);
uint64_t ml_stalls_false_suspect(const ml_stalls_result *r);

#endif
