/* The coordinate client: one node's Vivaldi coordinate, moved by RTTs.
 *
 * Serf's coordinate.Client keeps a node's own coordinate and, on every probe
 * ack that carries the peer's coordinate, runs four steps: a per-peer moving
 * median over the last few RTTs (to ride out blips), the Vivaldi spring step
 * (error estimate, then a force towards or away from the peer), the
 * adjustment window (the mean residual of the last 20 observations, halved)
 * and gravity (a weak pull towards the origin against drift). If the result
 * has a NaN or infinity, the coordinate starts over at the origin and the
 * reset is counted. This file does the same, in the same order and with the
 * same arithmetic (see coord.c), so a cairn node and a Serf node that see the
 * same RTTs and draw the same random directions end at the same coordinate.
 *
 * Departures from Serf:
 * - The latency filters live in a hash table capped at cfg.max_peers; when
 *   full, the least recently updated peer's filter is evicted (Serf's map
 *   grows until ForgetNode). Names longer than CAIRN_COORD_NAME_MAX are
 *   rejected. A filter entry is allocated before anything changes, so an
 *   allocation failure leaves the client as it was.
 * - The random direction for coinciding points comes from the client's own
 *   cairn_rng, seeded from cfg.rng_seed, not from a global generator.
 * - On a reset the adjustment window is cleared too. Serf keeps it, so a
 *   NaN sample that caused the reset stays in the window and resets the
 *   coordinate again on each of the next 19 updates.
 * - No mutex: the client belongs to one thread (cairn's loop model).
 *
 * The table: buckets of singly linked entries, hashed with a seeded 64-bit
 * FNV-1a plus a final mix (seeded from cfg.rng_seed, so with a secret seed
 * node names chosen by others cannot be aimed at one bucket), grown by doubling while
 * the load is above one; every entry is also on a doubly linked recency list
 * whose tail is evicted.
 */
#include "cairn/coord.h"
#include "cairn/alloc.h"
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

/* Buckets of a new table; it doubles from here as peers arrive. */
#define FILTER_BUCKETS_INITIAL 16

/* One peer's latency filter. The samples (latency_filter_size of them) and
 * then the NUL-terminated name follow the struct in the same allocation. */
struct filter_entry {
    /* Next entry in the same bucket. */
    struct filter_entry *hnext;
    /* Recency list: towards the most recently updated (prev) and the least
     * (next). */
    struct filter_entry *prev, *next;
    /* Hash of the name. */
    uint64_t hash;
    /* Samples held, oldest first (at most latency_filter_size). */
    unsigned count;
    /* Name length in bytes. */
    size_t name_len;
    /* The samples, seconds; the name follows them. */
    double samples[];
};

struct cairn_coord_client {
    /* Tuning, copied at creation. */
    cairn_coord_config cfg;
    /* The node's coordinate. */
    cairn_coord coord;
    /* A fresh coordinate at the origin, the anchor of gravity. */
    cairn_coord origin;
    /* Random directions for coinciding points. */
    cairn_rng rng;
    /* Seed of the name hash. */
    uint64_t hash_seed;
    /* Latency filters: buckets (a power of two), count, recency list. */
    struct filter_entry **buckets;
    size_t nbuckets;
    size_t npeers;
    struct filter_entry *newest, *oldest;
    /* Counters reported by cairn_coord_client_stats (peers is npeers). */
    cairn_coord_stats stats;
    /* Next slot of the adjustment window. */
    unsigned adjustment_index;
    /* The adjustment window, cfg.adjustment_window_size samples, seconds. */
    double adjustment_samples[];
};

static char *entry_name(struct filter_entry *e, unsigned filter_size)
{
    return (char *)(e->samples + filter_size);
}

static uint64_t hash_name(uint64_t seed, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 0x100000001b3ULL;
    }
    /* Final avalanche (murmur3 fmix64) so the low bits pick buckets well. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

int cairn_coord_client_new(const cairn_coord_config *cfg, cairn_coord_client **ret_client)
{
    if (ret_client == NULL || cairn_coord_config_check(cfg) != 0)
        return CAIRN_EINVAL;

    size_t size = sizeof(cairn_coord_client) + (size_t)cfg->adjustment_window_size * sizeof(double);
    cairn_coord_client *client = cairn_calloc(1, size);
    if (client == NULL)
        return CAIRN_ENOMEM;
    client->buckets = cairn_calloc(FILTER_BUCKETS_INITIAL, sizeof(*client->buckets));
    if (client->buckets == NULL)
        goto fail;
    client->nbuckets = FILTER_BUCKETS_INITIAL;
    client->cfg = *cfg;
    cairn_coord_init(cfg, &client->coord);
    cairn_coord_init(cfg, &client->origin);
    cairn_rng_init(&client->rng, cfg->rng_seed);
    /* The hash seed comes from its own generator (derived from the same
     * seed), so it does not shift the client's stream of random
     * directions. */
    cairn_rng seeder;
    cairn_rng_init(&seeder, cfg->rng_seed ^ 0x636f6f7264ULL);
    client->hash_seed = cairn_rng_u64(&seeder);
    *ret_client = client;
    return 0;

fail:
    cairn_coord_client_delete(client);
    return CAIRN_ENOMEM;
}

void cairn_coord_client_delete(cairn_coord_client *client)
{
    if (client == NULL)
        return;
    struct filter_entry *e = client->newest;
    while (e != NULL) {
        struct filter_entry *next = e->next;
        cairn_free(e);
        e = next;
    }
    cairn_free(client->buckets);
    cairn_free(client);
}

cairn_coord *cairn__coord_client_coord(cairn_coord_client *client)
{
    return &client->coord;
}

int cairn_coord_client_get(const cairn_coord_client *client, cairn_coord *ret_coord)
{
    if (client == NULL || ret_coord == NULL)
        return CAIRN_EINVAL;
    *ret_coord = client->coord;
    return 0;
}

/* Go's checkCoordinate: compatible first, then finite. */
static int check_coord(const cairn_coord_client *client, const cairn_coord *coord)
{
    if (!cairn_coord_compatible(&client->coord, coord))
        return CAIRN_ENOTSUP;
    if (!cairn_coord_valid(coord))
        return CAIRN_EINVAL;
    return 0;
}

int cairn_coord_client_set(cairn_coord_client *client, const cairn_coord *coord)
{
    if (client == NULL || coord == NULL)
        return CAIRN_EINVAL;
    int err = check_coord(client, coord);
    if (err != 0)
        return err;
    client->coord = *coord;
    return 0;
}

cairn_time cairn_coord_client_distance(const cairn_coord_client *client, const cairn_coord *other)
{
    if (client == NULL)
        return CAIRN_COORD_DISTANCE_INF;
    return cairn_coord_distance(&client->coord, other);
}

int cairn_coord_client_stats(const cairn_coord_client *client, cairn_coord_stats *ret_stats)
{
    if (client == NULL || ret_stats == NULL)
        return CAIRN_EINVAL;
    *ret_stats = client->stats;
    ret_stats->peers = client->npeers;
    return 0;
}

/* ---- latency filter table ---- */

static struct filter_entry **bucket_of(cairn_coord_client *client, uint64_t hash)
{
    return &client->buckets[hash & (client->nbuckets - 1)];
}

static struct filter_entry *filter_find(cairn_coord_client *client, const char *node, size_t len,
                                        uint64_t hash)
{
    unsigned fsize = client->cfg.latency_filter_size;
    for (struct filter_entry *e = *bucket_of(client, hash); e != NULL; e = e->hnext) {
        if (e->hash == hash && e->name_len == len && memcmp(entry_name(e, fsize), node, len) == 0)
            return e;
    }
    return NULL;
}

static void recency_unlink(cairn_coord_client *client, struct filter_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        client->newest = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        client->oldest = e->prev;
    e->prev = e->next = NULL;
}

static void recency_push_newest(cairn_coord_client *client, struct filter_entry *e)
{
    e->prev = NULL;
    e->next = client->newest;
    if (client->newest != NULL)
        client->newest->prev = e;
    else
        client->oldest = e;
    client->newest = e;
}

/* Unlinks e from its bucket and the recency list and frees it. */
static void filter_remove(cairn_coord_client *client, struct filter_entry *e)
{
    struct filter_entry **link = bucket_of(client, e->hash);
    while (*link != e)
        link = &(*link)->hnext;
    *link = e->hnext;
    recency_unlink(client, e);
    client->npeers--;
    cairn_free(e);
}

/* Doubles the bucket array while the load is above one and the table may
 * still grow; a failed allocation just keeps the longer chains. */
static void filter_maybe_grow(cairn_coord_client *client)
{
    if (client->npeers <= client->nbuckets || client->nbuckets >= client->cfg.max_peers)
        return;
    size_t n = client->nbuckets * 2;
    struct filter_entry **b = cairn_calloc(n, sizeof(*b));
    if (b == NULL)
        return;
    for (struct filter_entry *e = client->newest; e != NULL; e = e->next) {
        struct filter_entry **slot = &b[e->hash & (n - 1)];
        e->hnext = *slot;
        *slot = e;
    }
    cairn_free(client->buckets);
    client->buckets = b;
    client->nbuckets = n;
}

/* Finds or creates node's entry and makes it the most recent. NULL only
 * when a new entry could not be allocated (nothing changed then). */
static struct filter_entry *filter_get(cairn_coord_client *client, const char *node, size_t len)
{
    uint64_t hash = hash_name(client->hash_seed, node, len);
    struct filter_entry *e = filter_find(client, node, len, hash);
    if (e != NULL) {
        recency_unlink(client, e);
        recency_push_newest(client, e);
        return e;
    }

    unsigned fsize = client->cfg.latency_filter_size;
    e = cairn_malloc(sizeof(*e) + fsize * sizeof(double) + len + 1);
    if (e == NULL)
        return NULL;
    if (client->npeers >= client->cfg.max_peers) {
        filter_remove(client, client->oldest);
        client->stats.evictions++;
    }
    e->hash = hash;
    e->count = 0;
    e->name_len = len;
    memcpy(entry_name(e, fsize), node, len);
    entry_name(e, fsize)[len] = '\0';
    struct filter_entry **slot = bucket_of(client, hash);
    e->hnext = *slot;
    *slot = e;
    recency_push_newest(client, e);
    client->npeers++;
    filter_maybe_grow(client);
    return e;
}

int cairn__coord_client_filter(cairn_coord_client *client, const char *node, double rtt_seconds,
                               double *ret_median)
{
    size_t len = strnlen(node, CAIRN_COORD_NAME_MAX + 1);
    if (len > CAIRN_COORD_NAME_MAX)
        return CAIRN_EINVAL;
    struct filter_entry *e = filter_get(client, node, len);
    if (e == NULL)
        return CAIRN_ENOMEM;

    /* Append, dropping the oldest sample when full. */
    unsigned fsize = client->cfg.latency_filter_size;
    if (e->count == fsize) {
        memmove(e->samples, e->samples + 1, (fsize - 1) * sizeof(double));
        e->count--;
    }
    e->samples[e->count++] = rtt_seconds;

    /* Median of a sorted copy: element count/2 (the upper one of two). */
    double sorted[CAIRN_COORD_LATENCY_FILTER_MAX];
    for (unsigned i = 0; i < e->count; i++) {
        unsigned j = i;
        while (j > 0 && sorted[j - 1] > e->samples[i]) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = e->samples[i];
    }
    *ret_median = sorted[e->count / 2];
    return 0;
}

void cairn_coord_client_forget_node(cairn_coord_client *client, const char *node)
{
    if (client == NULL || node == NULL)
        return;
    size_t len = strnlen(node, CAIRN_COORD_NAME_MAX + 1);
    if (len > CAIRN_COORD_NAME_MAX)
        return;
    struct filter_entry *e =
        filter_find(client, node, len, hash_name(client->hash_seed, node, len));
    if (e != NULL)
        filter_remove(client, e);
}

/* ---- the Vivaldi update ---- */

/* Go's updateVivaldi: error estimate, then a spring force along the line
 * to the peer. */
static void update_vivaldi(cairn_coord_client *client, const cairn_coord *other, double rtt)
{
    const cairn_coord_config *cfg = &client->cfg;
    cairn_coord *c = &client->coord;

    double dist = cairn_time_seconds(cairn_coord_distance(c, other));
    if (rtt < CAIRN_COORD_ZERO_THRESHOLD)
        rtt = CAIRN_COORD_ZERO_THRESHOLD;
    double wrongness = fabs(dist - rtt) / rtt;

    double total_error = c->error + other->error;
    if (total_error < CAIRN_COORD_ZERO_THRESHOLD)
        total_error = CAIRN_COORD_ZERO_THRESHOLD;
    double weight = c->error / total_error;

    c->error = cfg->vivaldi_ce * weight * wrongness + c->error * (1.0 - cfg->vivaldi_ce * weight);
    if (c->error > cfg->vivaldi_error_max)
        c->error = cfg->vivaldi_error_max;

    double delta = cfg->vivaldi_cc * weight;
    double force = delta * (rtt - dist);
    cairn_coord_apply_force(cfg, &client->rng, c, force, other, c);
}

/* Go's updateAdjustment: the window holds rtt minus the raw distance; the
 * adjustment is their sum over twice the window (summed in slot order). */
static void update_adjustment(cairn_coord_client *client, const cairn_coord *other, double rtt)
{
    unsigned window = client->cfg.adjustment_window_size;
    if (window == 0)
        return;
    double dist = cairn__coord_raw_distance(&client->coord, other);
    client->adjustment_samples[client->adjustment_index] = rtt - dist;
    client->adjustment_index = (client->adjustment_index + 1) % window;

    double sum = 0.0;
    for (unsigned i = 0; i < window; i++)
        sum += client->adjustment_samples[i];
    client->coord.adjustment = sum / (2.0 * (double)window);
}

/* Go's updateGravity: a force of -(d / rho)^2 relative to the origin. */
static void update_gravity(cairn_coord_client *client)
{
    double dist = cairn_time_seconds(cairn_coord_distance(&client->origin, &client->coord));
    double x = dist / client->cfg.gravity_rho;
    /* Go's math.Pow(x, 2) squares the mantissa once and scales exactly,
     * which is x * x. */
    double force = -1.0 * (x * x);
    cairn_coord_apply_force(&client->cfg, &client->rng, &client->coord, force, &client->origin,
                            &client->coord);
}

int cairn_coord_client_update(cairn_coord_client *client, const char *node,
                              const cairn_coord *other, cairn_time rtt)
{
    if (client == NULL)
        return CAIRN_EINVAL;
    int err = CAIRN_EINVAL;
    if (node == NULL || other == NULL)
        goto reject;
    err = check_coord(client, other);
    if (err != 0)
        goto reject;
    err = CAIRN_ERANGE;
    if (rtt < 0 || rtt > CAIRN_COORD_MAX_RTT)
        goto reject;

    double rtt_seconds;
    err = cairn__coord_client_filter(client, node, cairn_time_seconds(rtt), &rtt_seconds);
    if (err != 0)
        goto reject;
    if (rtt == 0)
        client->stats.zero_rtt++;

    update_vivaldi(client, other, rtt_seconds);
    update_adjustment(client, other, rtt_seconds);
    update_gravity(client);
    if (!cairn_coord_valid(&client->coord)) {
        client->stats.resets++;
        client->coord = client->origin;
        memset(client->adjustment_samples, 0, client->cfg.adjustment_window_size * sizeof(double));
        client->adjustment_index = 0;
    }
    return 0;

reject:
    client->stats.rejected++;
    return err;
}
