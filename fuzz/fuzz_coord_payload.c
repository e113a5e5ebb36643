/* libFuzzer target: serf's ping-ack coordinate payload. Accepted
 * coordinates are finite, at most 8-dimensional, and round-trip exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_coord c;
    cairn_diag d;
    cairn_diag_clear(&d);
    if (cairn__wire_coord_decode(data, size, &d, &c) != 0) {
        if (d.msg[0] == 0)
            abort();
        return 0;
    }
    if (c.dim > CAIRN_COORD_MAX_DIM || !isfinite(c.error) || !isfinite(c.height) ||
        !isfinite(c.adjustment))
        abort();
    cairn_buf out;
    cairn_buf_init(&out, 4096);
    if (cairn__wire_coord_encode(&c, &out, NULL) != 0)
        abort();
    cairn_coord c2;
    if (cairn__wire_coord_decode(out.data, out.len, NULL, &c2) != 0 || c2.dim != c.dim ||
        memcmp(c2.vec, c.vec, sizeof(double) * c.dim) != 0 || c2.error != c.error)
        abort();
    cairn_buf_destroy(&out);
    return 0;
}
