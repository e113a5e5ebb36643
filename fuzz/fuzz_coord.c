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
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/coord.h"
#include "cairn/error.h"

#define RECORD (1 + 11 * 8 + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    return 0;
}
