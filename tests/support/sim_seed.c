/* See sim_seed.h. */
#include "sim_seed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t cairn_test_sim_seed(const char *test, uint64_t fallback)
{
    uint64_t seed = fallback;
    const char *env = getenv("CAIRN_SIM_SEED");
    if (env != NULL && *env != '\0')
        seed = strtoull(env, NULL, 0);
    printf("# %s: seed %" PRIu64 " (replay with CAIRN_SIM_SEED=%" PRIu64 ")\n", test, seed, seed);
    fflush(stdout);
    return seed;
}
