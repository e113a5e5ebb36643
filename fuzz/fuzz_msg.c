/* libFuzzer target: any memberlist message (decode by type byte), the
 * stream-prefix decoders, and the invariant that whatever decodes also
 * re-encodes and decodes again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frame.h"
#include "wire/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(const cairn_wire_msg *m, const uint8_t *data, size_t size)
{
    cairn_buf out;
    cairn_buf_init(&out, 1 << 22);
    int e;
    switch (m->type) {
    case CAIRN_WIRE_PING:
        e = cairn__wire_ping_encode(&m->u.ping, &out, NULL);
        break;
    case CAIRN_WIRE_INDIRECT_PING:
        e = cairn__wire_indirect_ping_encode(&m->u.indirect_ping, &out, NULL);
        break;
    case CAIRN_WIRE_ACK:
        e = cairn__wire_ack_encode(&m->u.ack, &out, NULL);
        break;
    case CAIRN_WIRE_NACK:
        e = cairn__wire_nack_encode(&m->u.nack, &out, NULL);
        break;
    case CAIRN_WIRE_ERR:
        e = cairn__wire_err_encode(&m->u.err, &out, NULL);
        break;
    case CAIRN_WIRE_SUSPECT:
        e = cairn__wire_suspect_encode(&m->u.suspect, &out, NULL);
        break;
    case CAIRN_WIRE_ALIVE:
        e = cairn__wire_alive_encode(&m->u.alive, &out, NULL);
        break;
    case CAIRN_WIRE_DEAD:
        e = cairn__wire_dead_encode(&m->u.dead, &out, NULL);
        break;
    case CAIRN_WIRE_PUSHPULL:
        e = cairn__wire_pushpull_encode(&m->u.pushpull, &out, NULL);
        break;
    default:
        e = -1;
        break;
    }
    if (e == 0) {
        /* What we encode must decode, and encode again identically. */
        cairn_wire_arena a;
        cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
        cairn_wire_msg m2;
        if (cairn__wire_msg_decode(out.data, out.len, &a, NULL, &m2) != 0)
            abort();
        if (m2.type != m->type)
            abort();
        cairn__wire_arena_destroy(&a);
    } else if (e != -1) {
        abort(); /* a decoded message always satisfies the encoder */
    }
    (void)data;
    (void)size;
    cairn_buf_destroy(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64u << 20);
    cairn_diag d;
    cairn_diag_clear(&d);
    cairn_wire_msg m;
    if (cairn__wire_msg_decode(data, size, &a, &d, &m) == 0)
        reencode(&m, data, size);
    else if (d.msg[0] == 0)
        abort(); /* every rejection names where */
    cairn__wire_arena_destroy(&a);

    /* Stream prefix decoders. */
    cairn_wire_pushpull_header h;
    cairn_wire_user_msg_header uh;
    size_t used;
    if (cairn__wire_pushpull_header_decode(data, size, NULL, &h, &used) == 0 && used > size)
        abort();
    if (cairn__wire_user_msg_header_decode(data, size, NULL, &uh, &used) == 0) {
        if (used > size || uh.user_msg_len > CAIRN_WIRE_USER_MSG_MAX)
            abort();
        /* Encoded back, it decodes to the same length. */
        cairn_buf out;
        cairn_wire_user_msg_header back;
        cairn_buf_init(&out, 1024);
        if (cairn__wire_user_msg_header_encode(&uh, &out, NULL) != 0 ||
            cairn__wire_user_msg_header_decode(out.data, out.len, NULL, &back, &used) != 0 ||
            back.user_msg_len != uh.user_msg_len)
            abort();
        cairn_buf_destroy(&out);
    }
    size_t olen;
    if (cairn__mp_object_len(data, size, &olen) == 0 && olen > size)
        abort();
    /* The stream reader's scanner over the same bytes (it must agree on a
     * complete object's length), and the type names `cairn wire` prints. */
    size_t flen;
    if (cairn__frame_mp_object_len(data, size, &flen) == 0 && flen > size)
        abort();
    if (size > 0 &&
        (cairn__wire_type_name(data[0]) == NULL || cairn__wire_serf_type_name(data[0]) == NULL ||
         cairn__wire_type_name(-1 - data[0]) == NULL ||
         cairn__wire_serf_type_name(-1 - data[0]) == NULL))
        abort();
    return 0;
}
