/* Vivaldi coordinate maths: the pure half of Serf's coordinate package.
 *
 * A coordinate is a Euclidean vector plus a height and an adjustment, all in
 * seconds (see cairn/coord.h). This file holds what Serf's coordinate.go and
 * config.go hold: the default config, a fresh coordinate, validity and
 * compatibility, the distance between two coordinates and the force step
 * that moves one coordinate relative to another; plus consul's
 * lib.ComputeDistance and CoordinateSet.Intersect (segments). The client
 * that feeds RTTs into these lives in client.c.
 *
 * The arithmetic follows Go operation for operation, so results match Serf
 * bit for bit on the same inputs: norms are summed in index order and then
 * square-rooted, a unit vector is the difference multiplied by 1/|d| (not
 * divided by |d|), the height update is ((h + h') * f) / |d| + h, and a
 * distance is truncated to whole nanoseconds before it is used as seconds.
 * Fused multiply-adds would change the last bits, so contraction is off
 * (see the pragma below).
 *
 * Departures: coordinates are fixed arrays of CAIRN_COORD_MAX_DIM doubles
 * instead of slices; where Go panics on a dimensionality conflict cairn
 * returns an error code or CAIRN_COORD_DISTANCE_INF; the random direction
 * for coinciding points comes from a caller-supplied cairn_rng instead of
 * Go's global math/rand.
 */
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/rng.h"
#include "coord/coord_internal.h"

/* Go (amd64) never fuses a*b+c; clang would where FMA is available. GCC in
 * ISO C mode (-std=c11) does not contract and does not know the pragma. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include <math.h>
#include <string.h>

cairn_coord_config cairn_coord_config_default(void)
{
    cairn_coord_config cfg = {
        .dimensionality = 8,
        .vivaldi_error_max = 1.5,
        .vivaldi_ce = 0.25,
        .vivaldi_cc = 0.25,
        .adjustment_window_size = 20,
        .height_min = 10.0e-6,
        .latency_filter_size = 3,
        .gravity_rho = 150.0,
        .max_peers = CAIRN_COORD_MAX_PEERS_DEFAULT,
        .rng_seed = 0,
    };
    return cfg;
}

static bool finite_nonnegative(double x)
{
    return isfinite(x) && x >= 0.0;
}

int cairn_coord_config_check(const cairn_coord_config *cfg)
{
    if (cfg == NULL)
        return CAIRN_EINVAL;
    if (cfg->dimensionality == 0 || cfg->dimensionality > CAIRN_COORD_MAX_DIM)
        return CAIRN_EINVAL;
    if (cfg->latency_filter_size == 0 || cfg->latency_filter_size > CAIRN_COORD_LATENCY_FILTER_MAX)
        return CAIRN_EINVAL;
    if (cfg->adjustment_window_size > CAIRN_COORD_ADJUSTMENT_WINDOW_MAX)
        return CAIRN_EINVAL;
    if (cfg->max_peers == 0)
        return CAIRN_EINVAL;
    if (!finite_nonnegative(cfg->vivaldi_error_max) || !finite_nonnegative(cfg->vivaldi_ce) ||
        !finite_nonnegative(cfg->vivaldi_cc) || !finite_nonnegative(cfg->height_min))
        return CAIRN_EINVAL;
    /* Gravity divides by rho; 0 would make every update non-finite. */
    if (!isfinite(cfg->gravity_rho) || cfg->gravity_rho <= 0.0)
        return CAIRN_EINVAL;
    return 0;
}

int cairn_coord_init(const cairn_coord_config *cfg, cairn_coord *ret_coord)
{
    if (cfg == NULL || ret_coord == NULL || cfg->dimensionality > CAIRN_COORD_MAX_DIM)
        return CAIRN_EINVAL;
    memset(ret_coord, 0, sizeof(*ret_coord));
    ret_coord->dim = cfg->dimensionality;
    ret_coord->error = cfg->vivaldi_error_max;
    ret_coord->adjustment = 0.0;
    ret_coord->height = cfg->height_min;
    return 0;
}

bool cairn_coord_valid(const cairn_coord *c)
{
    if (c == NULL || c->dim > CAIRN_COORD_MAX_DIM)
        return false;
    for (unsigned i = 0; i < c->dim; i++) {
        if (!isfinite(c->vec[i]))
            return false;
    }
    return isfinite(c->error) && isfinite(c->adjustment) && isfinite(c->height);
}

bool cairn_coord_compatible(const cairn_coord *a, const cairn_coord *b)
{
    return a != NULL && b != NULL && a->dim == b->dim && a->dim <= CAIRN_COORD_MAX_DIM;
}

void cairn__coord_vec_add(const double *a, const double *b, unsigned dim, double *ret)
{
    for (unsigned i = 0; i < dim; i++)
        ret[i] = a[i] + b[i];
}

void cairn__coord_vec_diff(const double *a, const double *b, unsigned dim, double *ret)
{
    for (unsigned i = 0; i < dim; i++)
        ret[i] = a[i] - b[i];
}

void cairn__coord_vec_mul(const double *v, double factor, unsigned dim, double *ret)
{
    for (unsigned i = 0; i < dim; i++)
        ret[i] = v[i] * factor;
}

double cairn__coord_vec_magnitude(const double *v, unsigned dim)
{
    double sum = 0.0;
    for (unsigned i = 0; i < dim; i++)
        sum += v[i] * v[i];
    return sqrt(sum);
}

double cairn__coord_unit_vector_at(const double *a, const double *b, unsigned dim, cairn_rng *rng,
                                   double *ret)
{
    cairn__coord_vec_diff(a, b, dim, ret);
    double mag = cairn__coord_vec_magnitude(ret, dim);
    if (mag > CAIRN_COORD_ZERO_THRESHOLD) {
        cairn__coord_vec_mul(ret, 1.0 / mag, dim, ret);
        return mag;
    }

    /* On top of each other: any direction will do. */
    for (unsigned i = 0; i < dim; i++)
        ret[i] = cairn_rng_double(rng) - 0.5;
    mag = cairn__coord_vec_magnitude(ret, dim);
    if (mag > CAIRN_COORD_ZERO_THRESHOLD) {
        cairn__coord_vec_mul(ret, 1.0 / mag, dim, ret);
        return 0.0;
    }

    /* Exceedingly rare: give up and point along the first axis. */
    memset(ret, 0, dim * sizeof(*ret));
    ret[0] = 1.0;
    return 0.0;
}

double cairn__coord_raw_distance(const cairn_coord *a, const cairn_coord *b)
{
    double d[CAIRN_COORD_MAX_DIM];
    cairn__coord_vec_diff(a->vec, b->vec, a->dim, d);
    return cairn__coord_vec_magnitude(d, a->dim) + a->height + b->height;
}

cairn_time cairn_coord_distance(const cairn_coord *a, const cairn_coord *b)
{
    if (!cairn_coord_compatible(a, b))
        return CAIRN_COORD_DISTANCE_INF;
    double dist = cairn__coord_raw_distance(a, b);
    double adjusted = dist + a->adjustment + b->adjustment;
    if (adjusted > 0.0)
        dist = adjusted;
    /* Go converts with Duration(dist * 1e9), which is undefined for NaN and
     * out-of-range values; cairn says "infinitely far" for NaN and
     * saturates the rest. */
    if (isnan(dist))
        return CAIRN_COORD_DISTANCE_INF;
    return cairn_time_from_seconds(dist);
}

double cairn_compute_distance(const cairn_coord *a, const cairn_coord *b)
{
    if (a == NULL || b == NULL)
        return INFINITY;
    cairn_time d = cairn_coord_distance(a, b);
    if (d == CAIRN_COORD_DISTANCE_INF)
        return INFINITY;
    return cairn_time_seconds(d);
}

/* Go's math.Max: NaN wins (C's fmax would drop it and hide a poisoned
 * height from the reset check). */
static double go_max(double x, double y)
{
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0.0 && y == 0.0)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

int cairn_coord_apply_force(const cairn_coord_config *cfg, cairn_rng *rng, const cairn_coord *c,
                            double force, const cairn_coord *other, cairn_coord *ret_coord)
{
    if (cfg == NULL || rng == NULL || c == NULL || other == NULL || ret_coord == NULL)
        return CAIRN_EINVAL;
    if (c->dim > CAIRN_COORD_MAX_DIM || other->dim > CAIRN_COORD_MAX_DIM)
        return CAIRN_EINVAL;
    if (!cairn_coord_compatible(c, other))
        return CAIRN_ERANGE;

    cairn_coord out = *c;
    double unit[CAIRN_COORD_MAX_DIM];
    double mag = 0.0;
    if (c->dim > 0) {
        mag = cairn__coord_unit_vector_at(c->vec, other->vec, c->dim, rng, unit);
        cairn__coord_vec_mul(unit, force, c->dim, unit);
        cairn__coord_vec_add(out.vec, unit, c->dim, out.vec);
    }
    if (mag > CAIRN_COORD_ZERO_THRESHOLD) {
        out.height = (out.height + other->height) * force / mag + out.height;
        out.height = go_max(out.height, cfg->height_min);
    }
    *ret_coord = out;
    return 0;
}

static const cairn_coord *set_lookup(const cairn_coord_segment *set, size_t n, const char *segment)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i].segment != NULL && strcmp(set[i].segment, segment) == 0)
            return set[i].coord;
    }
    return NULL;
}

void cairn_coord_set_intersect(const cairn_coord_segment *a, size_t na,
                               const cairn_coord_segment *b, size_t nb, const cairn_coord **ret_a,
                               const cairn_coord **ret_b)
{
    if (a == NULL)
        na = 0;
    if (b == NULL)
        nb = 0;
    /* A node in a single segment is a client of that segment; a node in
     * several can only be a server, which is in all of them. */
    const char *segment = "";
    if (na == 1 && a[0].segment != NULL)
        segment = a[0].segment;
    if (nb == 1 && b[0].segment != NULL)
        segment = b[0].segment;
    *ret_a = set_lookup(a, na, segment);
    *ret_b = set_lookup(b, nb, segment);
}
