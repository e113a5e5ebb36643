/* Fuzz target: the coordinate client fed arbitrary peer coordinates, RTTs,
 * names and calls.
 *
 * Peer coordinates arrive from the network (serf ack payloads), so any
 * double, any dimensionality and any RTT must be either rejected or folded
 * in without ever leaving the client's own coordinate non-finite. The input
 * is a sequence of 97-byte records: an op byte (low 2 bits: update, update,
 * set, forget; next 3 bits: which of 8 peer names; top 3 bits: a dimension
 * skew), then 11 doubles (vec[8], error, adjustment, height) and an int64
 * RTT in nanoseconds. max_peers is 4, so eviction is exercised too.
 * Bytes after the last record configure a client (config_tail).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/coord.h"
#include "cairn/error.h"

#define RECORD (1 + 11 * 8 + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes after the last whole record (at least 44): a configuration
 * (the agent's flags and files set these) through cairn_coord_config_check
 * and, when accepted, a client and a coordinate made from it; then the
 * segment-set intersection over two coordinates. */
static void config_tail(const uint8_t *t, size_t n)
{
    if (n < 4 + 5 * 8)
        return;
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.dimensionality = t[0] % 12;
    cfg.latency_filter_size = t[1] % 300;
    cfg.adjustment_window_size = t[2] % 300;
    cfg.max_peers = t[3] % 8;
    double d[5];
    memcpy(d, t + 4, sizeof(d));
    cfg.vivaldi_error_max = d[0];
    cfg.vivaldi_ce = d[1];
    cfg.vivaldi_cc = d[2];
    cfg.height_min = d[3];
    cfg.gravity_rho = d[4];
    if (cairn_coord_config_check(&cfg) == 0) {
        cairn_coord_client *c = NULL;
        cairn_coord co;
        if (cairn_coord_client_new(&cfg, &c) != 0 || cairn_coord_init(&cfg, &co) != 0 ||
            !cairn_coord_valid(&co))
            abort();
        cairn_coord_client_delete(c);
        cairn_coord_segment a[2] = {{"", &co}, {t[0] & 1 ? "s1" : "", &co}};
        cairn_coord_segment b[2] = {{t[1] & 1 ? "s1" : "s2", &co}, {NULL, NULL}};
        const cairn_coord *ra, *rb;
        cairn_coord_set_intersect(a, 1 + (t[2] & 1), b, 1 + (t[3] & 1), &ra, &rb);
        cairn_coord_set_intersect(NULL, 3, a, 2, &ra, &rb);
        if (cairn_compute_distance(ra, NULL) != INFINITY)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_coord_config cfg = cairn_coord_config_default();
    cfg.max_peers = 4;
    cfg.rng_seed = 1;
    cairn_coord_client *client = NULL;
    if (cairn_coord_client_new(&cfg, &client) != 0)
        abort();
    for (size_t off = 0; off + RECORD <= size; off += RECORD) {
        const uint8_t *r = data + off;
        uint8_t op = r[0];
        double f[11];
        memcpy(f, r + 1, sizeof(f));
        int64_t rtt;
        memcpy(&rtt, r + 1 + sizeof(f), sizeof(rtt));
        cairn_coord other;
        memcpy(other.vec, f, sizeof(other.vec));
        other.error = f[8];
        other.adjustment = f[9];
        other.height = f[10];
        unsigned skew = op >> 5;
        other.dim = skew < 6 ? 8 : skew; /* 6, 7: incompatible */
        char name[8];
        snprintf(name, sizeof(name), "p%u", (unsigned)((op >> 2) & 7));

        int err = 0;
        switch (op & 3) {
        case 0:
        case 1:
            err = cairn_coord_client_update(client, name, &other, rtt);
            break;
        case 2:
            err = cairn_coord_client_set(client, &other);
            break;
        default:
            cairn_coord_client_forget_node(client, name);
            break;
        }
        if (err != 0 && err != CAIRN_EINVAL && err != CAIRN_ERANGE && err != CAIRN_ENOTSUP)
            abort();
        cairn_coord mine;
        if (cairn_coord_client_get(client, &mine) != 0 || !cairn_coord_valid(&mine) ||
            mine.dim != 8)
            abort();
        /* Distances from a valid coordinate never trip UB either. */
        (void)cairn_compute_distance(&mine, &other);
        cairn_coord_stats st;
        if (cairn_coord_client_stats(client, &st) != 0 || st.peers > cfg.max_peers)
            abort();
    }
    cairn_coord_client_delete(client);
    config_tail(data + size - size % RECORD, size % RECORD);
    return 0;
}
