/* Vivaldi end to end on the simulator: serf nodes learn their coordinates
 * from memberlist's probe acks (RTT measured over the simulated links plus
 * the peer's coordinate in the ack payload), on the topologies of Serf's
 * coordinate/performance_test.go, with each link's one-way latency half
 * the topology's RTT, for 2,000 probe periods. Serf's own bounds (current
 * limits, serf #816) were fitted to one random stream: Serf's Go code meets
 * them for only some seeds (Go seeds 1..200: Grid 118, Split 154, Height
 * 42, Random 182; see tests/unit/test_coord_perf.c, which holds the math to
 * them bit for bit). End to end, over seeds 1..24 (CAIRN_SIM_SEED), cairn
 * met Serf's exact bounds in 24 (Grid), 24 (Split), 7 (Height) and 16
 * (Random) of 24. The assertions are therefore Serf's bound where every
 * scanned seed met it, else about 1.25x the worst scanned seed; each test
 * prints its figures next to Serf's bounds and says whether they were met:
 *
 *   topology                       nodes  Serf avg / max     asserted
 *   Line (10 ms spacing)           10     0.0031 / 0.0130    (test_serf_sim)
 *   Grid (5x5, 10 ms spacing)      25     0.0016 / 0.0230    same (worst seen
 *                                                            0.0014 / 0.017)
 *   Split (LAN 1 ms, WAN +10 ms)   25     0.000060 / 0.00048 0.000075 / 0.0006
 *                                                            (0.000060 / 0.00048)
 *   Height (circle r = 100 ms,     25     0.0028 / 0.064     0.0036 / 0.064
 *     centre at 2r; 2-D as Serf's)        centre >= 0.97 r,  others <= 0.06 r
 *                                         others <= 0.03 r   (0.0029 / 0.060,
 *                                                            others 0.043 r)
 *   Random (100 ms, sd 10 ms)      25     0.075 / 0.33       0.105 / 0.53
 *                                                            (0.084 / 0.42)
 *
 * Differences from Serf's phantom simulator: memberlist probes peers round
 * robin (not one random peer per cycle), and a node's view of a peer's
 * coordinate is the one in that peer's last ack. On the random (non-metric)
 * topology the error keeps wandering with time (0.11 at 4,000 periods for
 * the default seed), as Vivaldi does wherever the triangle inequality
 * fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "cairn/cairn.h"
#include "coord_sim.h"
#include "serf_world.h"
#include "sim_seed.h"

#define SPACING  (10 * CAIRN_MSEC)
#define PERIODS  2000
#define GRID_N   25
#define OTHERS_N 25

/* Under the sanitizers (make test's second build) only the grid runs: the
 * code paths are the same for every topology, and 4 x 2,000 periods of 25
 * nodes take minutes there; the normal build runs all four. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COORD_SIM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define COORD_SIM_SANITIZED 1
#endif
#ifdef COORD_SIM_SANITIZED
#define SKIP_UNDER_SANITIZERS() skip()
#else
#define SKIP_UNDER_SANITIZERS() ((void)0)
#endif

static serf_world W;

struct result {
    double avg, max;
    cairn_coord coords[COORD_SIM_MAX_NODES];
};

/* Runs a world of t->n nodes on t's latencies for PERIODS probe periods
 * and evaluates every pair's estimate against the truth. */
static void run(const char *name, const coord_truth *t, uint64_t seed, size_t dims,
                struct result *res)
{
    assert_int_equal(serf_world_init(&W, seed, t->n), 0);
    if (dims)
        W.cfg.coord.dimensionality = dims;
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = i + 1; j < t->n; j++) {
            cairn_sim_link l = {.latency = t->rtt[i][j] / 2};
            assert_int_equal(cairn_sim_set_link(W.sim, &W.nodes[i].addr, &W.nodes[j].addr, &l), 0);
        }
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    cairn_sim_run_for(W.sim, PERIODS * CAIRN_SEC);
    assert_true(serf_world_converged(&W));
    for (size_t i = 0; i < t->n; i++)
        assert_int_equal(cairn_serf_get_coordinate(W.nodes[i].serf, &res->coords[i]), 0);
    double sum = 0, max = 0;
    size_t pairs = 0;
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = i + 1; j < t->n; j++) {
            double actual = cairn_time_seconds(t->rtt[i][j]);
            double est = cairn_compute_distance(&res->coords[i], &res->coords[j]);
            double err = fabs(est - actual) / actual;
            sum += err;
            max = err > max ? err : max;
            pairs++;
        }
    res->avg = sum / (double)pairs;
    res->max = max;
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[0].serf, &st);
    printf("# coordinates (%s, %zu nodes, %d s): avg error %.6f max %.6f, resets %llu\n", name,
           t->n, PERIODS, res->avg, res->max, (unsigned long long)st.coordinate_resets);
    serf_world_destroy(&W);
}

static void test_grid(void **state)
{
    (void)state;
    static coord_truth t;
    static struct result r;
    coord_truth_grid(&t, GRID_N, SPACING);
    run("grid 5x5, 10 ms", &t, cairn_test_sim_seed("serf_coord_grid", 711), 0, &r);
    printf("#   Serf's grid bounds 0.0016 / 0.0230: %s\n",
           r.avg <= 0.0016 && r.max <= 0.0230 ? "met" : "missed");
    assert_true(r.avg <= 0.0016);
    assert_true(r.max <= 0.0230);
}

static void test_split(void **state)
{
    (void)state;
    SKIP_UNDER_SANITIZERS();
    static coord_truth t;
    static struct result r;
    coord_truth_split(&t, OTHERS_N, CAIRN_MSEC, SPACING);
    run("split, LAN 1 ms, WAN +10 ms", &t, cairn_test_sim_seed("serf_coord_split", 712), 0, &r);
    printf("#   Serf's split bounds 0.000060 / 0.00048: %s\n",
           r.avg <= 0.000060 && r.max <= 0.00048 ? "met" : "missed");
    assert_true(r.avg <= 0.000075);
    assert_true(r.max <= 0.0006);
}

static void test_height(void **state)
{
    (void)state;
    SKIP_UNDER_SANITIZERS();
    static coord_truth t;
    static struct result r;
    const cairn_time radius = 100 * CAIRN_MSEC;
    coord_truth_circle(&t, OTHERS_N, radius);
    run("height, circle r = 100 ms, centre at 2r", &t,
        cairn_test_sim_seed("serf_coord_height", 713), 2, &r);
    double rs = cairn_time_seconds(radius), others = 0;
    for (size_t i = 1; i < OTHERS_N; i++)
        others = r.coords[i].height > others ? r.coords[i].height : others;
    bool met =
        r.avg <= 0.0028 && r.max <= 0.064 && r.coords[0].height >= 0.97 * rs && others <= 0.03 * rs;
    printf("#   centre height %.4f s, others at most %.4f s; Serf's bounds 0.0028 / 0.064, "
           "centre >= %.4f, others <= %.4f: %s\n",
           r.coords[0].height, others, 0.97 * rs, 0.03 * rs, met ? "met" : "missed");
    assert_true(r.avg <= 0.0036);
    assert_true(r.max <= 0.064);
    assert_true(r.coords[0].height >= 0.97 * rs);
    assert_true(others <= 0.06 * rs);
}

static void test_random(void **state)
{
    (void)state;
    SKIP_UNDER_SANITIZERS();
    static coord_truth t;
    static struct result r;
    coord_truth_random(&t, OTHERS_N, 100 * CAIRN_MSEC, 10 * CAIRN_MSEC, 1);
    run("random, mean 100 ms, sd 10 ms", &t, cairn_test_sim_seed("serf_coord_random", 714), 0, &r);
    printf("#   Serf's random bounds 0.075 / 0.33: %s\n",
           r.avg <= 0.075 && r.max <= 0.33 ? "met" : "missed");
    assert_true(r.avg <= 0.105);
    assert_true(r.max <= 0.53);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_height),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
