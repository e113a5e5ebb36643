/* libFuzzer target: any serf message (decode by serf type byte), filters
 * of decoded queries, relay inner messages, and decode/encode/decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int encode(const cairn_wire_serf_msg *m, cairn_buf *out)
{
    switch (m->type) {
    case CAIRN_WIRE_SERF_LEAVE:
        return cairn__wire_serf_leave_encode(&m->u.leave, out, NULL);
    case CAIRN_WIRE_SERF_JOIN:
        return cairn__wire_serf_join_encode(&m->u.join, out, NULL);
    case CAIRN_WIRE_SERF_PUSHPULL:
        return cairn__wire_serf_pushpull_encode(&m->u.pushpull, out, NULL);
    case CAIRN_WIRE_SERF_USER_EVENT:
        return cairn__wire_serf_user_event_encode(&m->u.user_event, out, NULL);
    case CAIRN_WIRE_SERF_QUERY:
        return cairn__wire_serf_query_encode(&m->u.query, out, NULL);
    case CAIRN_WIRE_SERF_QUERY_RESPONSE:
        return cairn__wire_serf_query_response_encode(&m->u.query_response, out, NULL);
    case CAIRN_WIRE_SERF_CONFLICT_RESPONSE:
        return cairn__wire_serf_conflict_response_encode(&m->u.conflict_response, out, NULL);
    case CAIRN_WIRE_SERF_KEY_REQUEST:
        return cairn__wire_serf_key_request_encode(&m->u.key_request, out, NULL);
    case CAIRN_WIRE_SERF_KEY_RESPONSE:
        return cairn__wire_serf_key_response_encode(&m->u.key_response, out, NULL);
    case CAIRN_WIRE_SERF_RELAY:
        return cairn__wire_serf_relay_encode(&m->u.relay, out, NULL);
    default:
        return -1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64u << 20);
    cairn_diag d;
    cairn_diag_clear(&d);
    cairn_wire_serf_msg m;
    if (cairn__wire_serf_msg_decode(data, size, &a, &d, &m) == 0) {
        if (m.type == CAIRN_WIRE_SERF_QUERY)
            for (size_t k = 0; k < m.u.query.n_filters; k++) {
                cairn_wire_serf_filter f;
                cairn__wire_serf_filter_decode(m.u.query.filters[k].p, m.u.query.filters[k].len, &a,
                                               NULL, &f);
            }
        if (m.type == CAIRN_WIRE_SERF_RELAY) {
            cairn_wire_serf_msg inner;
            cairn__wire_serf_msg_decode(m.u.relay.inner.p, m.u.relay.inner.len, &a, NULL, &inner);
        }
        cairn_buf out;
        cairn_buf_init(&out, 1 << 22);
        int e = encode(&m, &out);
        /* Duplicate Member tags are legal on the wire but refused by the
         * encoder; everything else decoded must encode and decode again. */
        if (e == 0) {
            cairn_wire_serf_msg m2;
            if (cairn__wire_serf_msg_decode(out.data, out.len, &a, NULL, &m2) != 0)
                abort();
        } else if (m.type != CAIRN_WIRE_SERF_CONFLICT_RESPONSE) {
            abort();
        }
        cairn_buf_destroy(&out);
    } else if (d.msg[0] == 0) {
        abort();
    }
    cairn__wire_arena_destroy(&a);
    cairn_wire_serf_filter f;
    cairn__wire_arena_init(&a, 1u << 20);
    cairn__wire_serf_filter_decode(data, size, &a, NULL, &f);
    cairn__wire_arena_destroy(&a);
    return 0;
}
