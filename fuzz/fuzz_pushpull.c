/* libFuzzer target: a memberlist push-pull stream (header, node states,
 * user state) and the serf push-pull state inside it, both as one buffer
 * and fed incrementally the way a TCP reader does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Incremental parse: header, then node by node, asking for more bytes
 * on CAIRN_EAGAIN; must agree with the one-shot decoder. */
static int incremental(const uint8_t *data, size_t size, cairn_wire_arena *a, size_t *ret_nodes)
{
    cairn_wire_pushpull_header h;
    size_t pos = 0, used, have = 1;
    int e;
    while ((e = cairn__wire_pushpull_header_decode(data, have, NULL, &h, &used)) == CAIRN_EAGAIN &&
           have < size)
        have++;
    if (e)
        return e;
    pos = used;
    for (uint32_t k = 0; k < h.nodes; k++) {
        cairn_wire_push_node n;
        e = cairn__wire_push_node_decode(data + pos, size - pos, a, NULL, &n, &used);
        if (e)
            return e;
        pos += used;
    }
    if (h.user_state_len > size - pos)
        return CAIRN_EAGAIN;
    *ret_nodes = h.nodes;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64u << 20);
    cairn_diag d;
    cairn_diag_clear(&d);
    cairn_wire_pushpull pp;
    int e = cairn__wire_pushpull_decode(data, size, &a, &d, &pp);
    size_t nodes = 0;
    int e2 = incremental(data, size, &a, &nodes);
    if ((e == 0) != (e2 == 0))
        abort();
    if (e == 0) {
        if (nodes != pp.n_nodes)
            abort();
        cairn_wire_serf_pushpull sp;
        cairn__wire_serf_pushpull_decode(pp.user_state.p, pp.user_state.len, &a, NULL, &sp);
        cairn_buf out;
        cairn_buf_init(&out, 1 << 24);
        if (cairn__wire_pushpull_encode(&pp, &out, NULL) != 0)
            abort();
        cairn_buf_destroy(&out);
    } else if (d.msg[0] == 0) {
        abort();
    }
    /* The serf state alone. */
    cairn_wire_serf_pushpull sp;
    cairn__wire_serf_pushpull_decode(data, size, &a, NULL, &sp);
    cairn__wire_arena_destroy(&a);
    return 0;
}
