/* Serf's coordinate simulator for tests and benchmarks; see coord_sim.h.
 *
 * The generators follow phantom.go step for step, including the truncation
 * of float RTTs to whole nanoseconds (Go's time.Duration conversions), so
 * the truth matrices are the ones Serf's tests use. */
#include "coord_sim.h"

/* Keep clang from fusing a*b+c, so the truth matrices match Go's bits. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include <math.h>
#include <stdio.h>

#include "cairn/error.h"
#include "cairn/rng.h"

int coord_sim_init(coord_sim *sim, size_t n, const cairn_coord_config *base,
                   uint64_t client_seed_base)
{
    if (n > COORD_SIM_MAX_NODES)
        return CAIRN_EINVAL;
    sim->n = 0;
    for (size_t i = 0; i < n; i++) {
        cairn_coord_config cfg = *base;
        cfg.rng_seed = client_seed_base + i + 1;
        int err = cairn_coord_client_new(&cfg, &sim->clients[i]);
        if (err != 0) {
            coord_sim_destroy(sim);
            return err;
        }
        sim->n = i + 1;
    }
    return 0;
}

void coord_sim_destroy(coord_sim *sim)
{
    for (size_t i = 0; i < sim->n; i++)
        cairn_coord_client_delete(sim->clients[i]);
    sim->n = 0;
}

static void truth_zero(coord_truth *t, size_t n)
{
    t->n = n;
    for (size_t i = 0; i < COORD_SIM_MAX_NODES; i++)
        for (size_t j = 0; j < COORD_SIM_MAX_NODES; j++)
            t->rtt[i][j] = 0;
}

static void truth_set(coord_truth *t, size_t i, size_t j, cairn_time rtt)
{
    t->rtt[i][j] = rtt;
    t->rtt[j][i] = rtt;
}

void coord_truth_line(coord_truth *t, size_t n, cairn_time spacing)
{
    truth_zero(t, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            truth_set(t, i, j, (cairn_time)(j - i) * spacing);
}

void coord_truth_grid(coord_truth *t, size_t n, cairn_time spacing)
{
    truth_zero(t, n);
    size_t k = (size_t)sqrt((double)n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            double dx = (double)(j % k) - (double)(i % k);
            double dy = (double)(j / k) - (double)(i / k);
            double dist = sqrt(dx * dx + dy * dy);
            truth_set(t, i, j, (cairn_time)(dist * (double)spacing));
        }
    }
}

void coord_truth_split(coord_truth *t, size_t n, cairn_time lan, cairn_time wan)
{
    truth_zero(t, n);
    size_t split = n / 2;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            cairn_time rtt = lan;
            if ((i <= split && j > split) || (i > split && j <= split))
                rtt += wan;
            truth_set(t, i, j, rtt);
        }
    }
}

void coord_truth_circle(coord_truth *t, size_t n, cairn_time radius)
{
    truth_zero(t, n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            cairn_time rtt;
            if (i == 0) {
                rtt = 2 * radius;
            } else {
                double t1 = 2.0 * M_PI * (double)i / (double)n;
                double t2 = 2.0 * M_PI * (double)j / (double)n;
                double dx = cos(t2) - cos(t1), dy = sin(t2) - sin(t1);
                double dist = sqrt(dx * dx + dy * dy);
                rtt = (cairn_time)(dist * (double)radius);
            }
            truth_set(t, i, j, rtt);
        }
    }
}

void coord_truth_random(coord_truth *t, size_t n, cairn_time mean, cairn_time deviation,
                        uint64_t seed)
{
    cairn_rng rng;
    cairn_rng_init(&rng, seed);
    truth_zero(t, n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            double s =
                cairn_rng_normal(&rng) * cairn_time_seconds(deviation) + cairn_time_seconds(mean);
            truth_set(t, i, j, (cairn_time)(s * 1e9));
        }
    }
}

void coord_truth_drift_square(coord_truth *t, cairn_time side)
{
    truth_zero(t, 4);
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = i + 1; j < 4; j++) {
            cairn_time rtt = side;
            if (i % 2 == 0 && j % 2 == 0)
                rtt = (cairn_time)(M_SQRT2 * (double)rtt);
            truth_set(t, i, j, rtt);
        }
    }
}

int coord_sim_run(coord_sim *sim, const coord_truth *t, int cycles, uint64_t seed)
{
    cairn_rng rng;
    cairn_rng_init(&rng, seed);
    char name[32];
    for (int cycle = 0; cycle < cycles; cycle++) {
        for (size_t i = 0; i < sim->n; i++) {
            size_t j = (size_t)cairn_rng_below(&rng, sim->n);
            if (j == i)
                continue;
            cairn_coord c;
            int err = cairn_coord_client_get(sim->clients[j], &c);
            if (err != 0)
                return err;
            snprintf(name, sizeof(name), "node_%zu", j);
            err = cairn_coord_client_update(sim->clients[i], name, &c, t->rtt[i][j]);
            if (err != 0)
                return err;
        }
    }
    return 0;
}

coord_sim_stats coord_sim_evaluate(const coord_sim *sim, const coord_truth *t)
{
    coord_sim_stats st = {0.0, 0.0};
    int count = 0;
    for (size_t i = 0; i < sim->n; i++) {
        for (size_t j = i + 1; j < sim->n; j++) {
            cairn_coord cj;
            cairn_coord_client_get(sim->clients[j], &cj);
            double est = cairn_time_seconds(cairn_coord_client_distance(sim->clients[i], &cj));
            double actual = cairn_time_seconds(t->rtt[i][j]);
            double err = fabs(est - actual) / actual;
            st.max = fmax(st.max, err);
            st.avg += err;
            count++;
        }
    }
    if (count > 0)
        st.avg /= count;
    return st;
}
