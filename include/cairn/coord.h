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
 *
 * Go -> C: Config/DefaultConfig -> cairn_coord_config/cairn_coord_config_default;
 * NewCoordinate -> cairn_coord_init; IsValid -> cairn_coord_valid;
 * IsCompatibleWith -> cairn_coord_compatible; DistanceTo ->
 * cairn_coord_distance; ApplyForce -> cairn_coord_apply_force; consul
 * lib.ComputeDistance -> cairn_compute_distance; lib.CoordinateSet.Intersect ->
 * cairn_coord_set_intersect; Client -> cairn_coord_client.
 *
 * Where Go panics (dimensionality conflicts) cairn returns an error code or a
 * sentinel ("infinitely far") instead; each function says which.
 */
#ifndef CAIRN_COORD_H
#define CAIRN_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/limits.h"
#include "cairn/time.h"

struct cairn_rng;

/* Serf's default dimensionality; a coordinate carries up to this many. */
#define CAIRN_COORD_MAX_DIM 8

/* Largest latency filter a config may ask for. Serf uses 3; the samples of
 * one peer live in its filter entry, so this bounds the entry size. */
#define CAIRN_COORD_LATENCY_FILTER_MAX 16

/* Largest adjustment window a config may ask for (Serf: 20). Each update sums
 * the whole window, so this also bounds the cost of an update. */
#define CAIRN_COORD_ADJUSTMENT_WINDOW_MAX 1024

/* Default cap on the number of peers whose latency filter a client keeps.
 * Serf's map is unbounded and pruned only by ForgetNode (on reap); cairn
 * also evicts the least recently updated peer beyond this many, so a flood
 * of names cannot grow memory without bound. 65,536 is far above the
 * 5,000-agents-per-datacenter guidance, so eviction never happens in a
 * healthy cluster (each entry is about 80 bytes plus the name). */
#define CAIRN_COORD_MAX_PEERS_DEFAULT 65536

/* Longest node name (bytes, without the NUL) the latency filter accepts.
 * Serf validates names to 128 bytes when asked to; anything past 1024 is
 * garbage and is rejected rather than stored. */
#define CAIRN_COORD_NAME_MAX CAIRN_NAME_MAX

/* Largest RTT an update accepts (Go: maxRTT, 10 s). */
#define CAIRN_COORD_MAX_RTT (10 * CAIRN_SEC)

/* cairn_coord_distance's answer when no distance exists (dimensionalities
 * differ, a NULL argument, or a non-finite component): "infinitely far". */
#define CAIRN_COORD_DISTANCE_INF INT64_MAX

/* A network coordinate (Go: coordinate.Coordinate), a plain value the caller owns. */
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

/* Tuning of the Vivaldi algorithm (Go: coordinate.Config) plus cairn's own
 * bounds. Get one from cairn_coord_config_default() and change fields. */
typedef struct cairn_coord_config {
    /* Dimensions of the Euclidean part, 1..CAIRN_COORD_MAX_DIM (Serf: 8). */
    unsigned dimensionality;
    /* Error of a fresh coordinate and upper bound of the error (1.5). */
    double vivaldi_error_max;
    /* Largest effect one observation has on the error estimate (0.25). */
    double vivaldi_ce;
    /* Largest effect one observation has on the position (0.25). */
    double vivaldi_cc;
    /* Adjustment samples kept, 0 disables the adjustment (20); at most
     * CAIRN_COORD_ADJUSTMENT_WINDOW_MAX. */
    unsigned adjustment_window_size;
    /* Smallest height, seconds (1e-5). */
    double height_min;
    /* RTT samples per peer for the moving median, 1..CAIRN_COORD_LATENCY_FILTER_MAX
     * (3). */
    unsigned latency_filter_size;
    /* Gravity towards the origin: larger is weaker (150). */
    double gravity_rho;
    /* cairn: most peers with a latency filter; the least recently updated is
     * evicted beyond it (CAIRN_COORD_MAX_PEERS_DEFAULT); at least 1. */
    size_t max_peers;
    /* cairn: seed of the client's own PRNG, which picks the random direction
     * when two coordinates coincide (Go uses the global math/rand). The
     * default is 0; owners that run many nodes should give each a different
     * seed (for example from cairn_rng_split). */
    uint64_t rng_seed;
} cairn_coord_config;

/* cairn_coord_config_default returns Serf's DefaultConfig: dimensionality 8,
 * error max 1.5, CE 0.25, CC 0.25, adjustment window 20, height min 1e-5,
 * latency filter 3, gravity rho 150; plus max_peers
 * CAIRN_COORD_MAX_PEERS_DEFAULT and rng_seed 0. Pure, thread-safe. */
cairn_coord_config cairn_coord_config_default(void);

/* cairn_coord_config_check returns 0 when cfg can drive a client, or
 * CAIRN_EINVAL (NULL, dimensionality 0 or above CAIRN_COORD_MAX_DIM, filter
 * size 0 or above its max, window above its max, max_peers 0, or a
 * non-finite or negative tuning number). */
int cairn_coord_config_check(const cairn_coord_config *cfg);

/* cairn_coord_init writes a fresh coordinate for cfg to *ret_coord (Go:
 * NewCoordinate): the origin with cfg->dimensionality dimensions, error
 * vivaldi_error_max, adjustment 0 and height height_min. Returns 0, or
 * CAIRN_EINVAL when an argument is NULL or the dimensionality exceeds
 * CAIRN_COORD_MAX_DIM (0 dimensions is allowed, as in Go). */
int cairn_coord_init(const cairn_coord_config *cfg, cairn_coord *ret_coord);

/* cairn_coord_valid: true when c is non-NULL, c->dim <= CAIRN_COORD_MAX_DIM
 * and every component in use (vec[0..dim-1], error, adjustment, height) is
 * finite (Go: IsValid). */
bool cairn_coord_valid(const cairn_coord *c);

/* cairn_coord_compatible: true when both are non-NULL and have the same
 * dimensionality, at most CAIRN_COORD_MAX_DIM (Go: IsCompatibleWith). */
bool cairn_coord_compatible(const cairn_coord *a, const cairn_coord *b);

/* cairn_coord_distance estimates the RTT between a and b in nanoseconds,
 * exactly as Go's DistanceTo: d = |a.vec - b.vec| + a.height + b.height;
 * d' = d + a.adjustment + b.adjustment replaces d only when d' > 0; the
 * result is trunc(d * 1e9), saturated to the int64 range. Where Go panics
 * (dimensionalities differ) and for NULL arguments or a non-finite result,
 * returns CAIRN_COORD_DISTANCE_INF. Pure, thread-safe. */
cairn_time cairn_coord_distance(const cairn_coord *a, const cairn_coord *b);

/* cairn_compute_distance is consul's lib.ComputeDistance: the distance in
 * seconds, converted from the truncated nanoseconds as Go's
 * Duration.Seconds() does (so 10 ms is exactly 0.010). +Inf when either is
 * NULL, and also (where Go would panic) when cairn_coord_distance says
 * CAIRN_COORD_DISTANCE_INF. Pure, thread-safe. */
double cairn_compute_distance(const cairn_coord *a, const cairn_coord *b);

/* cairn_coord_apply_force moves c by force seconds along the direction from
 * other to c (a negative force pulls it towards other) and writes the result
 * to *ret_coord (Go: ApplyForce). When the two positions coincide it picks a
 * random direction from rng and leaves the height alone; otherwise the height
 * becomes (h + other.h) * force / |c - other| + h, floored at
 * cfg->height_min. Returns 0, CAIRN_EINVAL for a NULL argument or a
 * dimensionality above the max, or CAIRN_ERANGE where Go panics (the
 * dimensionalities differ). ret_coord may alias c. */
int cairn_coord_apply_force(const cairn_coord_config *cfg, struct cairn_rng *rng,
                            const cairn_coord *c, double force, const cairn_coord *other,
                            cairn_coord *ret_coord);

/* One entry of a node's coordinate set (consul lib.CoordinateSet, a map from
 * network segment name to coordinate). Both pointers are borrowed. */
typedef struct cairn_coord_segment {
    /* Segment name, NUL-terminated; "" is the default segment. */
    const char *segment;
    /* That segment's coordinate; may be NULL. */
    const cairn_coord *coord;
} cairn_coord_segment;

/* cairn_coord_set_intersect picks the pair of coordinates to compare two
 * nodes by (consul CoordinateSet.Intersect): the "" segment by default; if
 * set a has exactly one entry, its segment; if set b has exactly one entry,
 * its segment (b wins over a). *ret_a and *ret_b are then a's and b's
 * coordinates for that segment, each NULL when the set lacks it (feed them to
 * cairn_compute_distance, which says +Inf). A set is an array of na (nb)
 * entries; NULL with 0 is the empty set. Segment names should be unique
 * within a set (a map in Go); with duplicates the first entry is used.
 * ret_a and ret_b must not be NULL. Pure, thread-safe; the results point
 * into the sets. */
void cairn_coord_set_intersect(const cairn_coord_segment *a, size_t na,
                               const cairn_coord_segment *b, size_t nb, const cairn_coord **ret_a,
                               const cairn_coord **ret_b);

/* The coordinate client of one node (Go: coordinate.Client). Opaque. Not
 * thread-safe: like all protocol state it belongs to one thread (the loop
 * thread of the serf instance that owns it); give other threads copies. */
typedef struct cairn_coord_client cairn_coord_client;

/* What a client has counted (Go: ClientStats, plus cairn's counters). */
typedef struct cairn_coord_stats {
    /* Updates that left a non-finite coordinate and reset it (Go: Resets;
     * serf reports it as coordinate_resets). */
    uint64_t resets;
    /* Accepted updates whose RTT was exactly 0 (Go: the
     * serf.coordinate.zero-rtt metric). */
    uint64_t zero_rtt;
    /* Updates rejected for any reason (bad RTT, coordinate, name, memory). */
    uint64_t rejected;
    /* Latency filters evicted because max_peers was reached. */
    uint64_t evictions;
    /* Peers that currently have a latency filter. */
    size_t peers;
} cairn_coord_stats;

/* client: cairn_coord_client_new creates a client at the origin (Go:
 * NewClient) with a copy of *cfg, and stores it in *ret_client. Returns 0,
 * CAIRN_EINVAL when cfg fails cairn_coord_config_check (Go: "dimensionality
 * must be >0") or an argument is NULL, or CAIRN_ENOMEM. The caller deletes
 * the client with cairn_coord_client_delete. */
int cairn_coord_client_new(const cairn_coord_config *cfg, cairn_coord_client **ret_client);

/* client: cairn_coord_client_delete frees the client and its latency
 * filters. Accepts NULL. */
void cairn_coord_client_delete(cairn_coord_client *client);

/* client: cairn_coord_client_get copies the client's coordinate to
 * *ret_coord (Go: GetCoordinate). Returns 0, or CAIRN_EINVAL for NULL. */
int cairn_coord_client_get(const cairn_coord_client *client, cairn_coord *ret_coord);

/* client: cairn_coord_client_set replaces the client's coordinate with a copy
 * of *coord (Go: SetCoordinate). Returns 0; CAIRN_ENOTSUP when the
 * dimensionality is not the client's (Go: "dimensions aren't compatible");
 * CAIRN_EINVAL when a component is NaN or infinite (Go: "coordinate is
 * invalid") or an argument is NULL. On error nothing changes. */
int cairn_coord_client_set(cairn_coord_client *client, const cairn_coord *coord);

/* client: cairn_coord_client_update folds one observation into the client's
 * coordinate (Go: Update): `rtt` was measured to node `node`, whose
 * coordinate is *other. The RTT passes a per-node moving median of the last
 * latency_filter_size samples, then Vivaldi, the adjustment window and
 * gravity move the coordinate; if that leaves a NaN or infinity the
 * coordinate is reset to the origin and stats.resets counts it.
 * Returns 0; CAIRN_ERANGE when rtt is negative or above CAIRN_COORD_MAX_RTT
 * (0 is accepted and counted in stats.zero_rtt, as Serf 0.9.4 does);
 * CAIRN_ENOTSUP when other's dimensionality differs; CAIRN_EINVAL when other
 * has a NaN or infinite component, node is longer than CAIRN_COORD_NAME_MAX
 * or an argument is NULL; CAIRN_ENOMEM when a new latency filter could not
 * be allocated. On any error the client is unchanged (only stats.rejected
 * counts it). The new coordinate is read with cairn_coord_client_get. */
int cairn_coord_client_update(cairn_coord_client *client, const char *node,
                              const cairn_coord *other, cairn_time rtt);

/* client: cairn_coord_client_forget_node drops the latency filter of node
 * (Go: ForgetNode); serf calls it when a member is reaped. Unknown names and
 * a NULL client or node are ignored. */
void cairn_coord_client_forget_node(cairn_coord_client *client, const char *node);

/* client: cairn_coord_client_distance is cairn_coord_distance from the
 * client's coordinate to *other (Go: Client.DistanceTo). */
cairn_time cairn_coord_client_distance(const cairn_coord_client *client, const cairn_coord *other);

/* client: cairn_coord_client_stats copies the counters to *ret_stats (Go:
 * Stats). Returns 0, or CAIRN_EINVAL for NULL. */
int cairn_coord_client_stats(const cairn_coord_client *client, cairn_coord_stats *ret_stats);

#endif
