/* Benchmark of the coordinate maths: ns per client update and per distance.
 *
 * Data: 64 peers with random 8-dimensional coordinates (about 0..50 ms per
 * axis, seeded), node names "peer-N" and RTTs from 1 to 100 ms. Each figure
 * has a baseline measured in the same run over the same data: a plain
 * Euclidean distance (sum of squares, sqrt) between the same two vectors,
 * the floor of any Vivaldi step. The best of three runs is reported, one
 * JSON object per line:
 *   {"name":"coord_update","ns_per_op":...,"baseline_ns_per_op":...,"ratio":...}
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cairn/coord.h"
#include "cairn/rng.h"
#include "cairn/time.h"

#define PEERS 64
#define ITERS 400000
#define RUNS  3

static cairn_coord peers[PEERS];
static char names[PEERS][16];
static cairn_time rtts[PEERS];
static volatile double sink;

static double plain_euclid(const double *a, const double *b)
{
    double sum = 0.0;
    for (int k = 0; k < CAIRN_COORD_MAX_DIM; k++) {
        double d = a[k] - b[k];
        sum += d * d;
    }
    return sqrt(sum);
}

/* ns per op of the baseline: the distance from peer (i % PEERS) to peer
 * ((i + 1) % PEERS), the same pairs the measured loops use. */
static double time_baseline(void)
{
    double acc = 0.0;
    cairn_time t0 = cairn_monotonic_now();
    for (long i = 0; i < ITERS; i++)
        acc += plain_euclid(peers[i % PEERS].vec, peers[(i + 1) % PEERS].vec);
    cairn_time t1 = cairn_monotonic_now();
    sink = acc;
    return (double)(t1 - t0) / ITERS;
}

static double time_distance(void)
{
    cairn_time acc = 0;
    cairn_time t0 = cairn_monotonic_now();
    for (long i = 0; i < ITERS; i++)
        acc += cairn_coord_distance(&peers[i % PEERS], &peers[(i + 1) % PEERS]);
    cairn_time t1 = cairn_monotonic_now();
    sink = (double)acc;
    return (double)(t1 - t0) / ITERS;
}

static double time_update(cairn_coord_client *client)
{
    cairn_time t0 = cairn_monotonic_now();
    for (long i = 0; i < ITERS; i++) {
        int p = (int)(i % PEERS);
        if (cairn_coord_client_update(client, names[p], &peers[p], rtts[p]) != 0) {
            fprintf(stderr, "bench_coord: update failed\n");
            exit(1);
        }
    }
    cairn_time t1 = cairn_monotonic_now();
    cairn_coord c;
    cairn_coord_client_get(client, &c);
    sink = c.vec[0];
    return (double)(t1 - t0) / ITERS;
}

static void report(const char *name, double ns, double base)
{
    printf("{\"name\":\"%s\",\"ns_per_op\":%.2f,\"baseline_ns_per_op\":%.2f,\"ratio\":%.2f}\n",
           name, ns, base, ns / base);
}

int main(void)
{
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_rng rng;
    cairn_rng_init(&rng, 2026);
    for (int p = 0; p < PEERS; p++) {
        cairn_coord_init(&cfg, &peers[p]);
        for (int k = 0; k < CAIRN_COORD_MAX_DIM; k++)
            peers[p].vec[k] = cairn_rng_double(&rng) * 0.05;
        peers[p].error = 0.2 + cairn_rng_double(&rng);
        snprintf(names[p], sizeof(names[p]), "peer-%d", p);
        rtts[p] = CAIRN_MSEC + (cairn_time)cairn_rng_below(&rng, 99 * CAIRN_MSEC);
    }
    cairn_coord_client *client = NULL;
    if (cairn_coord_client_new(&cfg, &client) != 0)
        return 1;

    double base = INFINITY, upd = INFINITY, dist = INFINITY;
    for (int r = 0; r < RUNS; r++) {
        base = fmin(base, time_baseline());
        upd = fmin(upd, time_update(client));
        dist = fmin(dist, time_distance());
    }
    report("coord_update", upd, base);
    report("coord_distance", dist, base);
    cairn_coord_client_delete(client);
    return 0;
}
