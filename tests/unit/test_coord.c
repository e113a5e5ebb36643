/* Unit tests for src/coord: consul's TestRTT_ComputeDistance, ports of
 * serf's coordinate_test.go and client_test.go (same numbers, same 1e-6
 * tolerance as verifyEqualFloats), and cairn's own bounds: the capped latency
 * filter table, RTT range edges, allocation failures and the reset path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/rng.h"
#include "coord/coord_internal.h"
#include "base/alloc_test.h"

/* serf's verifyEqualFloats / verifyEqualVectors. */
#define ZERO_THRESHOLD 1.0e-6
static void eq_float(double a, double b)
{
    if (!(fabs(a - b) <= ZERO_THRESHOLD))
        fail_msg("equal assertion fail, %.9f != %.9f", a, b);
}

static void eq_vec(const double *a, const double *b, unsigned dim)
{
    for (unsigned i = 0; i < dim; i++)
        eq_float(a[i], b[i]);
}

static cairn_coord_config cfg_dim(unsigned dim)
{
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.dimensionality = dim;
    return cfg;
}

static cairn_coord new_coord(const cairn_coord_config *cfg)
{
    cairn_coord c;
    assert_int_equal(cairn_coord_init(cfg, &c), 0);
    return c;
}

static void set_vec3(cairn_coord *c, double x, double y, double z)
{
    c->vec[0] = x;
    c->vec[1] = y;
    c->vec[2] = z;
}

/* ---- consul lib/rtt_test.go ---- */

/* consul's GenerateCoordinate: a default coordinate, vec[0] = rtt seconds,
 * height 0. */
static cairn_coord generate_coordinate(cairn_time rtt)
{
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord c = new_coord(&cfg);
    c.vec[0] = cairn_time_seconds(rtt);
    c.height = 0.0;
    return c;
}

static void test_rtt_compute_distance(void **state)
{
    (void)state;
    static const struct {
        cairn_time a, b;
        double expected;
    } cases[] = {
        {0, 10 * CAIRN_MSEC, 0.010},
        {10 * CAIRN_MSEC, 10 * CAIRN_MSEC, 0.0},
        {8 * CAIRN_MSEC, 10 * CAIRN_MSEC, 0.002},
        {10 * CAIRN_MSEC, 8 * CAIRN_MSEC, 0.002},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cairn_coord a = generate_coordinate(cases[i].a);
        cairn_coord b = generate_coordinate(cases[i].b);
        double d = cairn_compute_distance(&a, &b);
        if (d != cases[i].expected)
            fail_msg("case %zu: %.17g != %.17g", i, d, cases[i].expected);
    }
    cairn_coord x = generate_coordinate(10 * CAIRN_MSEC);
    assert_true(isinf(cairn_compute_distance(NULL, &x)));
    assert_true(isinf(cairn_compute_distance(&x, NULL)));
    assert_true(isinf(cairn_compute_distance(NULL, NULL)));
    assert_true(cairn_compute_distance(&x, NULL) > 0);
}

/* TestRTT_Intersect: the same sets and expectations (pointer identity). */
static void test_rtt_intersect(void **state)
{
    (void)state;
    cairn_coord c[10];
    for (int i = 1; i <= 9; i++)
        c[i] = generate_coordinate(i * CAIRN_MSEC);
    const cairn_coord_segment server1[] = {{"", &c[1]}, {"alpha", &c[2]}, {"beta", &c[3]}};
    const cairn_coord_segment server2[] = {{"", &c[4]}, {"alpha", &c[5]}, {"beta", &c[6]}};
    const cairn_coord_segment client_alpha[] = {{"alpha", &c[7]}};
    const cairn_coord_segment client_beta1[] = {{"beta", &c[8]}};
    const cairn_coord_segment client_beta2[] = {{"beta", &c[9]}};
    static const cairn_coord marker;
    const struct {
        const char *desc;
        const cairn_coord_segment *a;
        size_t na;
        const cairn_coord_segment *b;
        size_t nb;
        const cairn_coord *c1, *c2;
    } cases[] = {
        {"nil maps", NULL, 0, NULL, 0, NULL, NULL},
        {"two servers", server1, 3, server2, 3, &c[1], &c[4]},
        {"two clients", client_beta1, 1, client_beta2, 1, &c[8], &c[9]},
        {"server1 and client alpha", server1, 3, client_alpha, 1, &c[2], &c[7]},
        {"server1 and client beta 1", server1, 3, client_beta1, 1, &c[3], &c[8]},
        {"server1 and client alpha reversed", client_alpha, 1, server1, 3, &c[7], &c[2]},
        {"server1 and client beta 1 reversed", client_beta1, 1, server1, 3, &c[8], &c[3]},
        {"nothing in common", client_alpha, 1, client_beta1, 1, NULL, &c[8]},
        {"nothing in common reversed", client_beta1, 1, client_alpha, 1, NULL, &c[7]},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const cairn_coord *r1 = &marker, *r2 = &marker;
        cairn_coord_set_intersect(cases[i].a, cases[i].na, cases[i].b, cases[i].nb, &r1, &r2);
        if (r1 != cases[i].c1 || r2 != cases[i].c2)
            fail_msg("%s: wrong pair", cases[i].desc);
    }
    /* The pair feeds ComputeDistance: nothing in common is +Inf. */
    const cairn_coord *r1, *r2;
    cairn_coord_set_intersect(client_alpha, 1, client_beta1, 1, &r1, &r2);
    assert_true(isinf(cairn_compute_distance(r1, r2)));
    cairn_coord_set_intersect(server1, 3, client_alpha, 1, &r1, &r2);
    assert_true(cairn_compute_distance(r1, r2) == 0.005);
}

/* Where Go panics, cairn answers "infinitely far" or an error. */
static void test_incompatible_is_not_a_panic(void **state)
{
    (void)state;
    cairn_coord_config cfg3 = cfg_dim(3), cfg4 = cfg_dim(4);
    cairn_coord a = new_coord(&cfg3), b = new_coord(&cfg4);
    assert_int_equal(cairn_coord_distance(&a, &b), CAIRN_COORD_DISTANCE_INF);
    assert_true(isinf(cairn_compute_distance(&a, &b)));
    cairn_rng rng;
    cairn_rng_init(&rng, 1);
    cairn_coord out = a;
    out.vec[0] = 42.0;
    assert_int_equal(cairn_coord_apply_force(&cfg3, &rng, &a, 1.0, &b, &out), CAIRN_ERANGE);
    assert_true(out.vec[0] == 42.0); /* untouched on error */
    b.dim = CAIRN_COORD_MAX_DIM + 1;
    assert_false(cairn_coord_compatible(&b, &b));
    assert_false(cairn_coord_valid(&b));
    assert_int_equal(cairn_coord_distance(&b, &b), CAIRN_COORD_DISTANCE_INF);
    /* A NaN distance is "infinitely far" too, not Go's undefined int. */
    a.vec[0] = NAN;
    assert_int_equal(cairn_coord_distance(&a, &a), CAIRN_COORD_DISTANCE_INF);
}

/* ---- serf coordinate/config.go and coordinate_test.go ---- */

static void test_config_default(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    assert_int_equal(cfg.dimensionality, 8);
    assert_true(cfg.vivaldi_error_max == 1.5);
    assert_true(cfg.vivaldi_ce == 0.25);
    assert_true(cfg.vivaldi_cc == 0.25);
    assert_int_equal(cfg.adjustment_window_size, 20);
    assert_true(cfg.height_min == 10.0e-6);
    assert_int_equal(cfg.latency_filter_size, 3);
    assert_true(cfg.gravity_rho == 150.0);
    assert_int_equal(cairn_coord_config_check(&cfg), 0);

    cairn_coord_config bad = cfg;
    bad.latency_filter_size = 0;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    bad = cfg;
    bad.latency_filter_size = CAIRN_COORD_LATENCY_FILTER_MAX + 1;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    bad = cfg;
    bad.dimensionality = CAIRN_COORD_MAX_DIM + 1;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    bad = cfg;
    bad.adjustment_window_size = CAIRN_COORD_ADJUSTMENT_WINDOW_MAX + 1;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    bad = cfg;
    bad.gravity_rho = 0.0;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    bad = cfg;
    bad.vivaldi_cc = NAN;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    bad = cfg;
    bad.max_peers = 0;
    assert_int_equal(cairn_coord_config_check(&bad), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_config_check(NULL), CAIRN_EINVAL);
}

static void test_coordinate_new(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord c = new_coord(&cfg);
    assert_int_equal(c.dim, cfg.dimensionality);
    for (unsigned i = 0; i < c.dim; i++)
        assert_true(c.vec[i] == 0.0);
    assert_true(c.error == 1.5);
    assert_true(c.adjustment == 0.0);
    assert_true(c.height == 10.0e-6);
    cfg.dimensionality = CAIRN_COORD_MAX_DIM + 1;
    assert_int_equal(cairn_coord_init(&cfg, &c), CAIRN_EINVAL);
    assert_int_equal(c.dim, 8); /* untouched */
    assert_int_equal(cairn_coord_init(NULL, &c), CAIRN_EINVAL);
}

/* TestCoordinate_Clone: C copies by value; check the copy is independent. */
static void test_coordinate_clone(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord c = new_coord(&cfg);
    set_vec3(&c, 1.0, 2.0, 3.0);
    c.error = 5.0;
    c.adjustment = 10.0;
    c.height = 4.2;
    cairn_coord other = c;
    assert_memory_equal(&c, &other, sizeof(c));
    other.vec[0] = c.vec[0] + 0.5;
    assert_true(c.vec[0] == 1.0);
}

static void test_coordinate_is_valid(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord c = new_coord(&cfg);
    double *fields[CAIRN_COORD_MAX_DIM + 3];
    unsigned n = 0;
    for (unsigned i = 0; i < c.dim; i++)
        fields[n++] = &c.vec[i];
    fields[n++] = &c.error;
    fields[n++] = &c.adjustment;
    fields[n++] = &c.height;
    for (unsigned i = 0; i < n; i++) {
        assert_true(cairn_coord_valid(&c));
        *fields[i] = NAN;
        assert_false(cairn_coord_valid(&c));
        *fields[i] = 0.0;
        assert_true(cairn_coord_valid(&c));
        *fields[i] = INFINITY;
        assert_false(cairn_coord_valid(&c));
        *fields[i] = -INFINITY;
        assert_false(cairn_coord_valid(&c));
        *fields[i] = 0.0;
        assert_true(cairn_coord_valid(&c));
    }
    assert_false(cairn_coord_valid(NULL));
    /* Components past dim are not part of the coordinate. */
    cairn_coord_config cfg3 = cfg_dim(3);
    cairn_coord d = new_coord(&cfg3);
    d.vec[5] = NAN;
    assert_true(cairn_coord_valid(&d));
}

static void test_coordinate_is_compatible_with(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cairn_coord c1 = new_coord(&cfg), c2 = new_coord(&cfg);
    cfg.dimensionality = 2;
    cairn_coord alien = new_coord(&cfg);
    assert_true(cairn_coord_compatible(&c1, &c1) && cairn_coord_compatible(&c2, &c2) &&
                cairn_coord_compatible(&alien, &alien));
    assert_true(cairn_coord_compatible(&c1, &c2) && cairn_coord_compatible(&c2, &c1));
    assert_false(cairn_coord_compatible(&c1, &alien) || cairn_coord_compatible(&c2, &alien) ||
                 cairn_coord_compatible(&alien, &c1) || cairn_coord_compatible(&alien, &c2));
    assert_false(cairn_coord_compatible(NULL, &c1));
}

static void test_coordinate_apply_force(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cfg.height_min = 0;
    cairn_rng rng;
    cairn_rng_init(&rng, 7);
    cairn_coord origin = new_coord(&cfg);

    /* Normalises, gets the direction right, applies the force multiplier. */
    cairn_coord above = new_coord(&cfg);
    set_vec3(&above, 0.0, 0.0, 2.9);
    cairn_coord c;
    assert_int_equal(cairn_coord_apply_force(&cfg, &rng, &origin, 5.3, &above, &c), 0);
    eq_vec(c.vec, (double[]){0.0, 0.0, -5.3}, 3);

    /* Nothing special about the origin. */
    cairn_coord right = new_coord(&cfg);
    set_vec3(&right, 3.4, 0.0, -5.3);
    assert_int_equal(cairn_coord_apply_force(&cfg, &rng, &c, 2.0, &right, &c), 0);
    eq_vec(c.vec, (double[]){-2.0, 0.0, -5.3}, 3);

    /* On top of each other: a random direction, one unit away. */
    assert_int_equal(cairn_coord_apply_force(&cfg, &rng, &origin, 1.0, &origin, &c), 0);
    eq_float(cairn_compute_distance(&origin, &c), 1.0);

    /* A minimum height is factored in. */
    cfg.height_min = 10.0e-6;
    origin = new_coord(&cfg);
    assert_int_equal(cairn_coord_apply_force(&cfg, &rng, &origin, 5.3, &above, &c), 0);
    eq_vec(c.vec, (double[]){0.0, 0.0, -5.3}, 3);
    eq_float(c.height, cfg.height_min + 5.3 * cfg.height_min / 2.9);

    /* And enforced. */
    assert_int_equal(cairn_coord_apply_force(&cfg, &rng, &origin, -5.3, &above, &c), 0);
    eq_vec(c.vec, (double[]){0.0, 0.0, 5.3}, 3);
    eq_float(c.height, cfg.height_min);

    /* Go panics on a dimensionality conflict; cairn returns ERANGE. */
    cairn_coord bad = c;
    bad.dim = c.dim + 1;
    assert_int_equal(cairn_coord_apply_force(&cfg, &rng, &c, 1.0, &bad, &c), CAIRN_ERANGE);
    assert_int_equal(cairn_coord_apply_force(&cfg, NULL, &c, 1.0, &c, &c), CAIRN_EINVAL);
}

static const double DIST_C1_C2 = 4.104875150354758;

static void test_coordinate_distance_to(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cfg.height_min = 0;
    cairn_coord c1 = new_coord(&cfg), c2 = new_coord(&cfg);
    set_vec3(&c1, -0.5, 1.3, 2.4);
    set_vec3(&c2, 1.2, -2.3, 3.4);

    eq_float(cairn_compute_distance(&c1, &c1), 0.0);
    eq_float(cairn_compute_distance(&c1, &c2), cairn_compute_distance(&c2, &c1));
    eq_float(cairn_compute_distance(&c1, &c2), DIST_C1_C2);
    /* The nanoseconds are truncated, as Go's Duration(d * 1e9). */
    assert_int_equal(cairn_coord_distance(&c1, &c2), (cairn_time)(DIST_C1_C2 * 1e9));

    /* Negative adjustment factors are ignored. */
    c1.adjustment = -1.0e6;
    eq_float(cairn_compute_distance(&c1, &c2), DIST_C1_C2);

    /* Positive ones count. */
    c1.adjustment = 0.1;
    c2.adjustment = 0.2;
    eq_float(cairn_compute_distance(&c1, &c2), DIST_C1_C2 + 0.3);

    /* So do heights. */
    c1.height = 0.7;
    c2.height = 0.1;
    eq_float(cairn_compute_distance(&c1, &c2), DIST_C1_C2 + 0.3 + 0.8);

    /* Go panics on a dimensionality conflict. */
    cairn_coord bad = c1;
    bad.dim = c1.dim + 1;
    assert_int_equal(cairn_coord_distance(&c1, &bad), CAIRN_COORD_DISTANCE_INF);
}

/* serf's documented example dist(), written out independently. */
static cairn_time example_dist(const cairn_coord *a, const cairn_coord *b)
{
    double sumsq = 0.0;
    for (unsigned i = 0; i < a->dim; i++) {
        double d = a->vec[i] - b->vec[i];
        sumsq += d * d;
    }
    double rtt = sqrt(sumsq) + a->height + b->height;
    double adjusted = rtt + a->adjustment + b->adjustment;
    if (adjusted > 0.0)
        rtt = adjusted;
    return (cairn_time)(rtt * 1.0e9);
}

static void test_coordinate_dist_example(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord c1 = new_coord(&cfg), c2 = new_coord(&cfg);
    set_vec3(&c1, -0.5, 1.3, 2.4);
    set_vec3(&c2, 1.2, -2.3, 3.4);
    c1.adjustment = 0.1;
    c2.adjustment = 0.2;
    c1.height = 0.7;
    c2.height = 0.1;
    eq_float(cairn_compute_distance(&c1, &c2), cairn_time_seconds(example_dist(&c1, &c2)));
    assert_int_equal(cairn_coord_distance(&c1, &c2), example_dist(&c1, &c2));
}

static void test_coordinate_raw_distance_to(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cfg.height_min = 0;
    cairn_coord c1 = new_coord(&cfg), c2 = new_coord(&cfg);
    set_vec3(&c1, -0.5, 1.3, 2.4);
    set_vec3(&c2, 1.2, -2.3, 3.4);
    eq_float(cairn__coord_raw_distance(&c1, &c1), 0.0);
    eq_float(cairn__coord_raw_distance(&c1, &c2), cairn__coord_raw_distance(&c2, &c1));
    eq_float(cairn__coord_raw_distance(&c1, &c2), DIST_C1_C2);
    /* The adjustment is not part of the raw distance. */
    c1.adjustment = 1.0e6;
    eq_float(cairn__coord_raw_distance(&c1, &c2), DIST_C1_C2);
    /* Heights are. */
    c1.height = 0.7;
    c2.height = 0.1;
    eq_float(cairn__coord_raw_distance(&c1, &c2), DIST_C1_C2 + 0.8);
}

static void test_coordinate_add_diff_magnitude(void **state)
{
    (void)state;
    const double v1[3] = {1.0, -3.0, 3.0}, v2[3] = {-4.0, 5.0, 6.0}, zero[3] = {0};
    double out[3];
    cairn__coord_vec_add(v1, v2, 3, out);
    eq_vec(out, (double[]){-3.0, 2.0, 9.0}, 3);
    cairn__coord_vec_add(v1, zero, 3, out);
    eq_vec(out, v1, 3);
    cairn__coord_vec_diff(v1, v2, 3, out);
    eq_vec(out, (double[]){5.0, -8.0, -3.0}, 3);
    cairn__coord_vec_diff(v1, zero, 3, out);
    eq_vec(out, v1, 3);
    eq_float(cairn__coord_vec_magnitude(zero, 3), 0.0);
    eq_float(cairn__coord_vec_magnitude((double[]){1.0, -2.0, 3.0}, 3), 3.7416573867739413);
}

static void test_coordinate_unit_vector_at(void **state)
{
    (void)state;
    cairn_rng rng;
    cairn_rng_init(&rng, 3);
    const double v1[3] = {1.0, 2.0, 3.0}, v2[3] = {0.5, 0.6, 0.7};
    double u[3], d[3];
    double mag = cairn__coord_unit_vector_at(v1, v2, 3, &rng, u);
    eq_vec(u, (double[]){0.18257418583505536, 0.511207720338155, 0.8398412548412546}, 3);
    eq_float(cairn__coord_vec_magnitude(u, 3), 1.0);
    cairn__coord_vec_diff(v1, v2, 3, d);
    eq_float(mag, cairn__coord_vec_magnitude(d, 3));

    /* Equal positions: a random unit vector, not a division by zero. */
    mag = cairn__coord_unit_vector_at(v1, v1, 3, &rng, u);
    eq_float(cairn__coord_vec_magnitude(u, 3), 1.0);
    eq_float(mag, 0.0);
    /* ... which depends on the rng: another draw points elsewhere. */
    double u2[3];
    cairn__coord_unit_vector_at(v1, v1, 3, &rng, u2);
    assert_false(u[0] == u2[0] && u[1] == u2[1] && u[2] == u2[2]);
}

/* ---- serf coordinate/client_test.go ---- */

static cairn_coord_client *client_new(const cairn_coord_config *cfg)
{
    cairn_coord_client *client = NULL;
    assert_int_equal(cairn_coord_client_new(cfg, &client), 0);
    assert_non_null(client);
    return client;
}

static void test_client_new(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord_client *client = (cairn_coord_client *)&cfg; /* must stay untouched */
    cfg.dimensionality = 0;
    assert_int_equal(cairn_coord_client_new(&cfg, &client), CAIRN_EINVAL);
    assert_ptr_equal(client, (cairn_coord_client *)&cfg);

    cfg.dimensionality = 7;
    client = client_new(&cfg);
    cairn_coord origin = new_coord(&cfg), got;
    assert_int_equal(cairn_coord_client_get(client, &got), 0);
    assert_memory_equal(&got, &origin, sizeof(got));
    cairn_coord_client_delete(client);
    cairn_coord_client_delete(NULL);
}

static void test_client_update(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord c;
    assert_int_equal(cairn_coord_client_get(client, &c), 0);
    eq_vec(c.vec, (double[]){0.0, 0.0, 0.0}, 3);

    /* A node right above, and an RTT longer than the distance suggests. */
    cairn_coord other = new_coord(&cfg);
    other.vec[2] = 0.001;
    cairn_time rtt = (cairn_time)(2.0 * other.vec[2] * 1e9);
    assert_int_equal(cairn_coord_client_update(client, "node", &other, rtt), 0);
    assert_int_equal(cairn_coord_client_get(client, &c), 0);
    /* The client scooted down, away from it. */
    if (!(c.vec[2] < 0.0))
        fail_msg("client z coordinate %9.6f should be < 0.0", c.vec[2]);

    /* Set the coordinate to a known state. */
    c.vec[2] = 99.0;
    assert_int_equal(cairn_coord_client_set(client, &c), 0);
    assert_int_equal(cairn_coord_client_get(client, &c), 0);
    eq_float(c.vec[2], 99.0);
    cairn_coord_client_delete(client);
}

static void test_client_invalid_in_ping_values(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord other = new_coord(&cfg);
    other.vec[2] = 0.001;
    cairn_time dist = cairn_coord_client_distance(client, &other);

    /* Go: time.Duration(ping * secondsToNanoseconds) with int64 wrap-around
     * for 1<<63-1 (which comes out as -1 s). */
    const int64_t pings[] = {INT64_MAX, -35, 11};
    for (size_t i = 0; i < 3; i++) {
        cairn_time rtt = (cairn_time)((uint64_t)pings[i] * 1000000000ULL);
        assert_int_equal(cairn_coord_client_update(client, "node", &other, rtt), CAIRN_ERANGE);
        assert_int_equal(cairn_coord_client_distance(client, &other), dist);
    }
    cairn_coord_stats st;
    assert_int_equal(cairn_coord_client_stats(client, &st), 0);
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.peers, 0); /* rejected before the filter */
    cairn_coord_client_delete(client);
}

/* The edges of the accepted range: [0, 10 s]. Serf 0.9.4 accepts 0 and
 * counts it (serf.coordinate.zero-rtt); 10 s is in, 10 s + 1 ns is out. */
static void test_client_rtt_range_edges(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord other = new_coord(&cfg);
    other.vec[0] = 0.01;
    assert_int_equal(cairn_coord_client_update(client, "a", &other, -1), CAIRN_ERANGE);
    assert_int_equal(cairn_coord_client_update(client, "a", &other, CAIRN_COORD_MAX_RTT + 1),
                     CAIRN_ERANGE);
    assert_int_equal(cairn_coord_client_update(client, "a", &other, 0), 0);
    assert_int_equal(cairn_coord_client_update(client, "a", &other, CAIRN_COORD_MAX_RTT), 0);
    cairn_coord_stats st;
    assert_int_equal(cairn_coord_client_stats(client, &st), 0);
    assert_int_equal(st.zero_rtt, 1);
    assert_int_equal(st.rejected, 2);
    assert_int_equal(st.resets, 0);
    cairn_coord c;
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));
    cairn_coord_client_delete(client);
}

static void test_client_distance_to(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cfg.height_min = 0;
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord other = new_coord(&cfg);
    other.vec[2] = 12.345;
    cairn_time expected = (cairn_time)(other.vec[2] * 1e9);
    assert_int_equal(cairn_coord_client_distance(client, &other), expected);
    assert_int_equal(cairn_coord_client_distance(NULL, &other), CAIRN_COORD_DISTANCE_INF);
    cairn_coord_client_delete(client);
}

static double filter(cairn_coord_client *client, const char *node, double rtt)
{
    double median = -1.0;
    assert_int_equal(cairn__coord_client_filter(client, node, rtt, &median), 0);
    return median;
}

static void test_client_latency_filter(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.latency_filter_size = 3;
    cairn_coord_client *client = client_new(&cfg);

    /* The median, and samples age out. */
    eq_float(filter(client, "alice", 0.201), 0.201);
    eq_float(filter(client, "alice", 0.200), 0.201);
    eq_float(filter(client, "alice", 0.207), 0.201);

    /* This glitch is median-ed out and never seen by Vivaldi. */
    eq_float(filter(client, "alice", 1.9), 0.207);
    eq_float(filter(client, "alice", 0.203), 0.207);
    eq_float(filter(client, "alice", 0.199), 0.203);
    eq_float(filter(client, "alice", 0.211), 0.203);

    /* Different nodes are not coupled. */
    eq_float(filter(client, "bob", 0.310), 0.310);

    /* Nodes that leave do not leak. */
    cairn_coord_stats st;
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 2);
    cairn_coord_client_forget_node(client, "alice");
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 1);
    eq_float(filter(client, "alice", 0.888), 0.888);

    /* Forgetting an unknown node, or NULLs, is harmless. */
    cairn_coord_client_forget_node(client, "carol");
    cairn_coord_client_forget_node(client, NULL);
    cairn_coord_client_forget_node(NULL, "alice");
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 2);
    cairn_coord_client_delete(client);
}

/* Two samples: element len/2 of the sorted pair is the larger one. */
static void test_client_latency_filter_two_samples(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord_client *client = client_new(&cfg);
    eq_float(filter(client, "x", 0.300), 0.300);
    assert_true(filter(client, "x", 0.100) == 0.300);
    cfg.latency_filter_size = 1;
    cairn_coord_client *one = client_new(&cfg);
    assert_true(filter(one, "x", 0.300) == 0.300);
    assert_true(filter(one, "x", 0.100) == 0.100);
    cairn_coord_client_delete(one);
    cairn_coord_client_delete(client);
}

/* cairn's cap: beyond max_peers the least recently updated filter goes. */
static void test_client_latency_filter_cap(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.max_peers = 2;
    cairn_coord_client *client = client_new(&cfg);
    filter(client, "a", 0.1);
    filter(client, "b", 0.2);
    filter(client, "a", 0.3); /* a is now the most recent */
    filter(client, "c", 0.4); /* evicts b */
    cairn_coord_stats st;
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 2);
    assert_int_equal(st.evictions, 1);
    /* a kept its history: [0.1, 0.3, 0.5] -> 0.3. */
    assert_true(filter(client, "a", 0.5) == 0.3);
    /* b starts over (and evicts c, now the oldest). */
    assert_true(filter(client, "b", 0.9) == 0.9);
    assert_true(filter(client, "c", 0.05) == 0.05);
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 2);
    assert_int_equal(st.evictions, 3);
    cairn_coord_client_delete(client);
}

/* Many peers: the table grows and every filter stays separate. */
static void test_client_latency_filter_many(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord_client *client = client_new(&cfg);
    char name[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2000; i++) {
            snprintf(name, sizeof(name), "node-%d", i);
            double m = filter(client, name, (double)i + round * 0.25);
            assert_true(m == (double)i + (round == 0 ? 0.0 : 0.25));
        }
    }
    cairn_coord_stats st;
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 2000);
    assert_int_equal(st.evictions, 0);
    for (int i = 0; i < 2000; i += 2) {
        snprintf(name, sizeof(name), "node-%d", i);
        cairn_coord_client_forget_node(client, name);
    }
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.peers, 1000);
    assert_true(filter(client, "node-0", 7.0) == 7.0);
    assert_true(filter(client, "node-1", 7.0) == 1.5);

    /* Names past the cap are refused, not stored. */
    char longname[CAIRN_COORD_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    double m;
    assert_int_equal(cairn__coord_client_filter(client, longname, 0.1, &m), CAIRN_EINVAL);
    cairn_coord other = new_coord(&cfg);
    assert_int_equal(cairn_coord_client_update(client, longname, &other, CAIRN_MSEC), CAIRN_EINVAL);
    longname[CAIRN_COORD_NAME_MAX] = '\0'; /* exactly at the cap: fine */
    assert_int_equal(cairn_coord_client_update(client, longname, &other, CAIRN_MSEC), 0);
    cairn_coord_client_delete(client);
}

static void test_client_nan_defense(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord c;

    /* Block a bad coordinate from coming in. */
    cairn_coord other = new_coord(&cfg);
    other.vec[0] = NAN;
    assert_false(cairn_coord_valid(&other));
    cairn_time rtt = 250 * CAIRN_MSEC;
    assert_int_equal(cairn_coord_client_update(client, "node", &other, rtt), CAIRN_EINVAL);
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));

    /* Block setting an invalid coordinate directly. */
    assert_int_equal(cairn_coord_client_set(client, &other), CAIRN_EINVAL);
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));

    /* Block an incompatible coordinate. */
    other.dim = 2 * other.dim;
    memset(other.vec, 0, sizeof(other.vec));
    assert_int_equal(cairn_coord_client_update(client, "node", &other, rtt), CAIRN_ENOTSUP);
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));

    /* Block setting an incompatible coordinate directly. */
    assert_int_equal(cairn_coord_client_set(client, &other), CAIRN_ENOTSUP);
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));
    assert_int_equal(c.dim, 3);

    /* Poison the internal state; the update resets. */
    cairn__coord_client_coord(client)->vec[0] = NAN;
    other = new_coord(&cfg);
    assert_int_equal(cairn_coord_client_update(client, "node", &other, rtt), 0);
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));
    cairn_coord origin = new_coord(&cfg);
    assert_memory_equal(&c, &origin, sizeof(c));
    cairn_coord_stats st;
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.resets, 1);

    /* cairn departure: the reset also cleared the adjustment window, so the
     * next update does not reset again (Serf's would, for 19 more). */
    assert_int_equal(cairn_coord_client_update(client, "node", &other, rtt), 0);
    cairn_coord_client_get(client, &c);
    assert_true(cairn_coord_valid(&c));
    assert_true(c.adjustment > 0.0);
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.resets, 1);
    cairn_coord_client_delete(client);
}

/* A reset reached through the public API: a finite but enormous coordinate
 * overflows the distance to infinity. */
static void test_client_overflow_resets(void **state)
{
    (void)state;
    cairn_coord_config cfg = cfg_dim(3);
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord c = new_coord(&cfg);
    c.vec[0] = 1.0e308;
    assert_int_equal(cairn_coord_client_set(client, &c), 0);
    cairn_coord other = new_coord(&cfg);
    other.vec[0] = -1.0e308;
    assert_int_equal(cairn_coord_client_update(client, "far", &other, CAIRN_MSEC), 0);
    cairn_coord got;
    cairn_coord_client_get(client, &got);
    assert_true(cairn_coord_valid(&got));
    cairn_coord_stats st;
    cairn_coord_client_stats(client, &st);
    assert_int_equal(st.resets, 1);
    cairn_coord_client_delete(client);
}

/* The same seed and observations give the same coordinate, bit for bit;
 * another seed gives another (the first update starts from coinciding
 * points, so it draws a random direction). */
static cairn_coord run_seeded(uint64_t seed)
{
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.rng_seed = seed;
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord other = new_coord(&cfg);
    for (int i = 0; i < 50; i++)
        assert_int_equal(cairn_coord_client_update(client, "peer", &other, 20 * CAIRN_MSEC), 0);
    cairn_coord c;
    cairn_coord_client_get(client, &c);
    cairn_coord_client_delete(client);
    return c;
}

static void test_client_seeded_reproducible(void **state)
{
    (void)state;
    cairn_coord a = run_seeded(11), b = run_seeded(11), d = run_seeded(12);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_false(memcmp(a.vec, d.vec, sizeof(a.vec)) == 0);
    /* Either way it learned the 20 ms: distance to the peer at the origin. */
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord origin = new_coord(&cfg);
    assert_true(fabs(cairn_compute_distance(&a, &origin) - 0.020) < 0.002);
}

/* Every allocation failure on new and on a first update returns ENOMEM,
 * leaks nothing and leaves the client unchanged. */
static void test_client_alloc_failures(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn__test_alloc_install();
    int new_failures = 0, update_failures = 0;
    for (long n = 0;; n++) {
        cairn__test_alloc_fail_after(n);
        cairn_coord_client *client = NULL;
        int err = cairn_coord_client_new(&cfg, &client);
        if (err == CAIRN_ENOMEM) {
            assert_null(client);
            assert_int_equal(cairn__test_alloc_live(), 0);
            new_failures++;
            continue;
        }
        assert_int_equal(err, 0);
        cairn_coord before, after, other = new_coord(&cfg);
        other.vec[1] = 0.003;
        cairn_coord_client_get(client, &before);
        err = cairn_coord_client_update(client, "peer", &other, 5 * CAIRN_MSEC);
        cairn_coord_client_get(client, &after);
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        if (err == CAIRN_ENOMEM) {
            assert_memory_equal(&before, &after, sizeof(before));
            cairn_coord_stats st;
            cairn_coord_client_stats(client, &st);
            assert_int_equal(st.peers, 0);
            update_failures++;
            cairn_coord_client_delete(client);
            assert_int_equal(cairn__test_alloc_live(), 0);
            continue;
        }
        assert_int_equal(err, 0);
        assert_false(failed);
        cairn_coord_client_delete(client);
        assert_int_equal(cairn__test_alloc_live(), 0);
        break;
    }
    cairn__test_alloc_uninstall();
    assert_int_equal(new_failures, 2);
    assert_int_equal(update_failures, 1);
}

/* Table growth may fail without harm: the table just keeps longer chains. */
static void test_client_growth_failure_harmless(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn__test_alloc_install();
    cairn_coord_client *client = client_new(&cfg);
    char name[16];
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        filter(client, name, 0.001 * i);
    }
    /* The 17th peer: entry allocation succeeds, the growth fails. */
    cairn__test_alloc_fail_after(1);
    assert_true(filter(client, "n16", 0.5) == 0.5);
    assert_true(cairn__test_alloc_failed());
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        assert_true(filter(client, name, 0.001 * i) == 0.001 * i);
    }
    cairn_coord_client_delete(client);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

static void test_client_argument_checks(void **state)
{
    (void)state;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_coord_client *client = client_new(&cfg);
    cairn_coord c = new_coord(&cfg);
    assert_int_equal(cairn_coord_client_new(&cfg, NULL), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_get(NULL, &c), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_get(client, NULL), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_set(client, NULL), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_update(NULL, "x", &c, 1), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_update(client, NULL, &c, 1), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_update(client, "x", NULL, 1), CAIRN_EINVAL);
    assert_int_equal(cairn_coord_client_stats(client, NULL), CAIRN_EINVAL);
    cairn_coord_client_delete(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtt_compute_distance),
        cmocka_unit_test(test_rtt_intersect),
        cmocka_unit_test(test_incompatible_is_not_a_panic),
        cmocka_unit_test(test_config_default),
        cmocka_unit_test(test_coordinate_new),
        cmocka_unit_test(test_coordinate_clone),
        cmocka_unit_test(test_coordinate_is_valid),
        cmocka_unit_test(test_coordinate_is_compatible_with),
        cmocka_unit_test(test_coordinate_apply_force),
        cmocka_unit_test(test_coordinate_distance_to),
        cmocka_unit_test(test_coordinate_dist_example),
        cmocka_unit_test(test_coordinate_raw_distance_to),
        cmocka_unit_test(test_coordinate_add_diff_magnitude),
        cmocka_unit_test(test_coordinate_unit_vector_at),
        cmocka_unit_test(test_client_new),
        cmocka_unit_test(test_client_update),
        cmocka_unit_test(test_client_invalid_in_ping_values),
        cmocka_unit_test(test_client_rtt_range_edges),
        cmocka_unit_test(test_client_distance_to),
        cmocka_unit_test(test_client_latency_filter),
        cmocka_unit_test(test_client_latency_filter_two_samples),
        cmocka_unit_test(test_client_latency_filter_cap),
        cmocka_unit_test(test_client_latency_filter_many),
        cmocka_unit_test(test_client_nan_defense),
        cmocka_unit_test(test_client_overflow_resets),
        cmocka_unit_test(test_client_seeded_reproducible),
        cmocka_unit_test(test_client_alloc_failures),
        cmocka_unit_test(test_client_growth_failure_harmless),
        cmocka_unit_test(test_client_argument_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
