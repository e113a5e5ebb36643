/* cairn's coordinate client against Serf's own Go code, bit for bit.
 *
 * tests/vectors/coord_golden.txt was written by Serf 0.9.4's coordinate
 * package (tools/coord_golden.sh) with every random number taken from a Go
 * copy of cairn's rng: simulation peers from seed 1, client i's random
 * directions from seed i + 1. This test runs the same simulations (Line,
 * Grid, Split, Height, Random and the 11,000-cycle Drift square) and
 * requires every final coordinate component to have the same IEEE-754 bits.
 * Any deviation from Serf's arithmetic (operation order, truncation to
 * nanoseconds, the latency filter, the adjustment window, gravity) shows up
 * here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/coord.h"
#include "coord_sim.h"

#define GOLDEN_PATH CAIRN_SOURCE_DIR "/tests/vectors/coord_golden.txt"

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

/* Compares the clients of sim with the golden lines for `topology`; returns
 * how many lines were checked. */
static int compare(const coord_sim *sim, const char *topology)
{
    FILE *f = fopen(GOLDEN_PATH, "r");
    assert_non_null(f);
    char line[1024];
    int checked = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL;
        char *tok = strtok_r(line, " \n", &save);
        if (tok == NULL || strcmp(tok, topology) != 0)
            continue;
        size_t idx = strtoul(strtok_r(NULL, " \n", &save), NULL, 10);
        assert_true(idx < sim->n);
        cairn_coord c;
        assert_int_equal(cairn_coord_client_get(sim->clients[idx], &c), 0);
        double fields[3] = {c.error, c.adjustment, c.height};
        static const char *names[3] = {"error", "adjustment", "height"};
        for (int k = 0; k < 3; k++) {
            uint64_t want = strtoull(strtok_r(NULL, " \n", &save), NULL, 16);
            if (bits_of(fields[k]) != want)
                fail_msg("%s node %zu %s: %016" PRIx64 " want %016" PRIx64, topology, idx, names[k],
                         bits_of(fields[k]), want);
        }
        unsigned dim = 0;
        while ((tok = strtok_r(NULL, " \n", &save)) != NULL) {
            assert_true(dim < c.dim);
            uint64_t want = strtoull(tok, NULL, 16);
            if (bits_of(c.vec[dim]) != want)
                fail_msg("%s node %zu vec[%u]: %016" PRIx64 " want %016" PRIx64, topology, idx, dim,
                         bits_of(c.vec[dim]), want);
            dim++;
        }
        assert_int_equal(dim, c.dim);
        checked++;
    }
    fclose(f);
    return checked;
}

static void run_and_compare(const char *topology, const coord_truth *t, unsigned dim)
{
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.dimensionality = dim;
    coord_sim sim;
    assert_int_equal(coord_sim_init(&sim, t->n, &cfg, 0), 0);
    assert_int_equal(coord_sim_run(&sim, t, 1000, 1), 0);
    assert_int_equal(compare(&sim, topology), (int)t->n);
    coord_sim_destroy(&sim);
}

static void test_golden_line(void **state)
{
    (void)state;
    coord_truth t;
    coord_truth_line(&t, 10, 10 * CAIRN_MSEC);
    run_and_compare("line", &t, 8);
}

static void test_golden_grid(void **state)
{
    (void)state;
    coord_truth t;
    coord_truth_grid(&t, 25, 10 * CAIRN_MSEC);
    run_and_compare("grid", &t, 8);
}

static void test_golden_split(void **state)
{
    (void)state;
    coord_truth t;
    coord_truth_split(&t, 25, CAIRN_MSEC, 10 * CAIRN_MSEC);
    run_and_compare("split", &t, 8);
}

static void test_golden_height(void **state)
{
    (void)state;
    coord_truth t;
    coord_truth_circle(&t, 25, 100 * CAIRN_MSEC);
    run_and_compare("height", &t, 2);
}

static void test_golden_random(void **state)
{
    (void)state;
    coord_truth t;
    coord_truth_random(&t, 25, 100 * CAIRN_MSEC, 10 * CAIRN_MSEC, 1);
    run_and_compare("random", &t, 8);
}

/* Drift also goes through cairn_coord_client_set and two Simulate calls
 * (the peer rng re-seeded, the client rngs continuing). */
static void test_golden_drift(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.dimensionality = 2;
    coord_sim sim;
    assert_int_equal(coord_sim_init(&sim, 4, &cfg, 0), 0);
    const double d = cairn_time_seconds(500 * CAIRN_MSEC);
    const double start[4][2] = {{0.0, 0.0}, {0.0, d}, {d, d}, {d, d}};
    for (size_t i = 0; i < 4; i++) {
        cairn_coord c;
        assert_int_equal(cairn_coord_client_get(sim.clients[i], &c), 0);
        c.vec[0] = start[i][0];
        c.vec[1] = start[i][1];
        assert_int_equal(cairn_coord_client_set(sim.clients[i], &c), 0);
    }
    coord_truth t;
    coord_truth_drift_square(&t, 500 * CAIRN_MSEC);
    assert_int_equal(coord_sim_run(&sim, &t, 1000, 1), 0);
    assert_int_equal(coord_sim_run(&sim, &t, 10000, 1), 0);
    assert_int_equal(compare(&sim, "drift"), 4);
    coord_sim_destroy(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_line),   cmocka_unit_test(test_golden_grid),
        cmocka_unit_test(test_golden_split),  cmocka_unit_test(test_golden_height),
        cmocka_unit_test(test_golden_random), cmocka_unit_test(test_golden_drift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
