/* Names shared by the files of src/coord (and its unit tests), not public.
 *
 * The vector helpers mirror Go's unexported add/diff/mul/magnitude/
 * unitVectorAt on fixed arrays of `dim` doubles; rawDistanceTo and the
 * client's latency filter are exposed here so the tests can check them the
 * way Serf's own tests do.
 */
#ifndef CAIRN_COORD_INTERNAL_H
#define CAIRN_COORD_INTERNAL_H

#include "cairn/coord.h"
#include "cairn/rng.h"

/* Two positions closer than this are "on top of each other" (Go:
 * zeroThreshold); also the floor of RTTs and of the summed error. */
#define CAIRN_COORD_ZERO_THRESHOLD 1.0e-6

/* ret[i] = a[i] + b[i] for i < dim. ret may alias a or b. */
void cairn__coord_vec_add(const double *a, const double *b, unsigned dim, double *ret);
/* ret[i] = a[i] - b[i] for i < dim. ret may alias a or b. */
void cairn__coord_vec_diff(const double *a, const double *b, unsigned dim, double *ret);
/* ret[i] = v[i] * factor for i < dim. ret may alias v. */
void cairn__coord_vec_mul(const double *v, double factor, unsigned dim, double *ret);
/* Euclidean norm of v[0..dim-1], summed in index order as Go does. */
double cairn__coord_vec_magnitude(const double *v, unsigned dim);
/* Writes the unit vector pointing at a from b to ret and returns |a - b|.
 * When the points coincide (norm <= zero threshold) the direction is random,
 * drawn from rng (each component uniform in [-0.5, 0.5) before
 * normalising), and 0 is returned; if even that is tiny, (1, 0, ...). dim is
 * at least 1. ret must not alias a or b. */
double cairn__coord_unit_vector_at(const double *a, const double *b, unsigned dim, cairn_rng *rng,
                                   double *ret);

/* Go's rawDistanceTo: |a - b| + a.height + b.height in seconds, without
 * adjustments. The caller has checked compatibility. */
double cairn__coord_raw_distance(const cairn_coord *a, const cairn_coord *b);

/* The client's latency filter (Go: latencyFilter): records rtt_seconds for
 * node and stores the median of its recent samples in *ret_median. Returns 0,
 * CAIRN_EINVAL (name too long) or CAIRN_ENOMEM. */
int cairn__coord_client_filter(cairn_coord_client *client, const char *node, double rtt_seconds,
                               double *ret_median);

/* The client's own coordinate, writable: only for tests that poison it the
 * way Serf's TestClient_NaN_Defense does. */
cairn_coord *cairn__coord_client_coord(cairn_coord_client *client);

#endif
