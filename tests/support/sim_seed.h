/* Seeds for simulator tests: one place that picks the seed, lets a failing
 * run be replayed (CAIRN_SIM_SEED=<n> overrides it) and prints it, so every
 * failing simulator test shows the seed that reproduces it. */
#ifndef CAIRN_TEST_SIM_SEED_H
#define CAIRN_TEST_SIM_SEED_H

#include <stdint.h>

/* Returns $CAIRN_SIM_SEED when set, else fallback, after printing
 * "# <test>: seed <n>" to stdout. */
uint64_t cairn_test_sim_seed(const char *test, uint64_t fallback);

#endif
