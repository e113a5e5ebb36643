/* cairn/coord.h: Vivaldi network coordinates, as Serf computes them.
 *
 * A coordinate is a point in an 8-dimensional Euclidean space plus a height
 * (the access-link latency) and an adjustment (a learned offset), all in
 * seconds, with an error estimate. Distances between two coordinates
 * estimate the RTT between the nodes. See docs and spec serf-wire §4.
 *
 * The functions marked "client" below belong to one node's coordinate client
 * (Go: coordinate.Client): it owns the node's coordinate and updates it from
 * observed RTTs. Other functions are pure.
 */
#ifndef CAIRN_COORD_H
#define CAIRN_COORD_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/time.h"

/* Serf's default dimensionality; a coordinate carries up to this many. */
#define CAIRN_COORD_MAX_DIM 8

typedef struct cairn_coord {
    /* Euclidean part, seconds; only vec[0..dim-1] are meaningful. */
    double vec[CAIRN_COORD_MAX_DIM];
    /* Number of dimensions in use (Serf: 8). 0 means "no vector" (the zero
     * coordinate an agent reports for an unknown node). */
    unsigned dim;
    /* Confidence estimate (dimensionless), at most the config's error max. */
    double error;
    /* Learned adjustment added to distances, seconds. */
    double adjustment;
    /* Height: the node's own access latency, seconds, at least height_min. */
    double height;
} cairn_coord;

#endif
