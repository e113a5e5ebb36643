/* memberlist 0.2.2 message bodies: ping, indirect ping, ack, nack, err,
 * suspect, alive, dead, push-pull (header, node states, user state) and the
 * TCP user-message header.
 *
 * Each message is one table of fields in Go's sorted key order
 * (msg_internal.h); the tables are the protocol description, the functions
 * are glue. Departures from Go, all on the strict side and all from the
 * July 2026 memberlist hardening list: a non-empty Vsn must be exactly six
 * bytes (#368; Go 0.2.2 would index past a short one and panic), Meta is
 * capped at 512 bytes on decode too, raw IPs at 16 bytes, and the push-pull
 * node count and user-state length are checked against their caps (#357)
 * and against the bytes actually present before anything is allocated, as
 * is UserMsgLen (#361).
 */
#include "wire/msg.h"

#include <string.h>

#include "msg_internal.h"

static const wire_field ping_fields[] = {
    WF_STR(cairn_wire_ping, node, "Node", 1, 0, 0),
    WF_UINT(cairn_wire_ping, seq_no, "SeqNo", 0, 0),
    WF_BYTES(cairn_wire_ping, source_addr, "SourceAddr", 2, WF_OMITEMPTY, CAIRN_WIRE_ADDR_MAX),
    WF_STR(cairn_wire_ping, source_node, "SourceNode", 4, WF_OMITEMPTY, 0),
    WF_UINT(cairn_wire_ping, source_port, "SourcePort", 3, WF_OMITEMPTY),
};

static const wire_field indirect_fields[] = {
    WF_BOOL(cairn_wire_indirect_ping, nack, "Nack", 4),
    WF_STR(cairn_wire_indirect_ping, node, "Node", 3, 0, 0),
    WF_UINT(cairn_wire_indirect_ping, port, "Port", 2, 0),
    WF_UINT(cairn_wire_indirect_ping, seq_no, "SeqNo", 0, 0),
    WF_BYTES(cairn_wire_indirect_ping, source_addr, "SourceAddr", 5, WF_OMITEMPTY,
             CAIRN_WIRE_ADDR_MAX),
    WF_STR(cairn_wire_indirect_ping, source_node, "SourceNode", 7, WF_OMITEMPTY, 0),
    WF_UINT(cairn_wire_indirect_ping, source_port, "SourcePort", 6, WF_OMITEMPTY),
    WF_BYTES(cairn_wire_indirect_ping, target, "Target", 1, 0, CAIRN_WIRE_ADDR_MAX),
};

static const wire_field ack_fields[] = {
    WF_BYTES(cairn_wire_ack, payload, "Payload", 1, 0, 0),
    WF_UINT(cairn_wire_ack, seq_no, "SeqNo", 0, 0),
};

static const wire_field nack_fields[] = {
    WF_UINT(cairn_wire_nack, seq_no, "SeqNo", 0, 0),
};

static const wire_field err_fields[] = {
    WF_STR(cairn_wire_err, error, "Error", 0, 0, 0),
};

static const wire_field suspect_fields[] = {
    WF_STR(cairn_wire_suspect, from, "From", 2, 0, 0),
    WF_UINT(cairn_wire_suspect, incarnation, "Incarnation", 0, 0),
    WF_STR(cairn_wire_suspect, node, "Node", 1, 0, 0),
};

static const wire_field alive_fields[] = {
    WF_BYTES(cairn_wire_alive, addr, "Addr", 2, 0, CAIRN_WIRE_ADDR_MAX),
    WF_UINT(cairn_wire_alive, incarnation, "Incarnation", 0, 0),
    WF_BYTES(cairn_wire_alive, meta, "Meta", 4, 0, CAIRN_WIRE_META_MAX),
    WF_STR(cairn_wire_alive, node, "Node", 1, 0, 0),
    WF_UINT(cairn_wire_alive, port, "Port", 3, 0),
    WF_BYTES(cairn_wire_alive, vsn, "Vsn", 5, WF_VSN, CAIRN_WIRE_VSN_LEN),
};

/* Nodes and UserStateLen are Go ints; negative values are rejected by the
 * caps check (read as signed, then compared). */
typedef struct pp_header_raw {
    bool join;
    int64_t nodes;
    int64_t user_state_len;
} pp_header_raw;

static const wire_field pp_header_fields[] = {
    WF_BOOL(pp_header_raw, join, "Join", 2),
    WF_INT(pp_header_raw, nodes, "Nodes", 0),
    WF_INT(pp_header_raw, user_state_len, "UserStateLen", 1),
};

static const wire_field push_node_fields[] = {
    WF_BYTES(cairn_wire_push_node, addr, "Addr", 1, 0, CAIRN_WIRE_ADDR_MAX),
    WF_UINT(cairn_wire_push_node, incarnation, "Incarnation", 4, 0),
    WF_BYTES(cairn_wire_push_node, meta, "Meta", 3, 0, CAIRN_WIRE_META_MAX),
    WF_STR(cairn_wire_push_node, name, "Name", 0, 0, 0),
    WF_UINT(cairn_wire_push_node, port, "Port", 2, 0),
    WF_INT(cairn_wire_push_node, state, "State", 5),
    WF_BYTES(cairn_wire_push_node, vsn, "Vsn", 6, WF_VSN, CAIRN_WIRE_VSN_LEN),
};

typedef struct user_header_raw {
    int64_t user_msg_len;
} user_header_raw;

static const wire_field user_header_fields[] = {
    WF_INT(user_header_raw, user_msg_len, "UserMsgLen", 0),
};

const char *cairn__wire_type_name(int type)
{
    static const char *const names[] = {
        "ping",     "indirect-ping", "ack",      "suspect", "alive", "dead",    "push-pull",
        "compound", "user",          "compress", "encrypt", "nack",  "has-crc", "err"};
    if (type < 0 || type >= (int)(sizeof(names) / sizeof(names[0])))
        return "unknown";
    return names[type];
}

/* The messages that are one struct after the type byte. */
static const wire_msg_desc msg_descs[] = {
    [CAIRN_WIRE_PING] = WIRE_MSG_DESC("ping", ping_fields),
    [CAIRN_WIRE_INDIRECT_PING] = WIRE_MSG_DESC("indirect-ping", indirect_fields),
    [CAIRN_WIRE_ACK] = WIRE_MSG_DESC("ack", ack_fields),
    [CAIRN_WIRE_SUSPECT] = WIRE_MSG_DESC("suspect", suspect_fields),
    [CAIRN_WIRE_ALIVE] = WIRE_MSG_DESC("alive", alive_fields),
    [CAIRN_WIRE_DEAD] = WIRE_MSG_DESC("dead", suspect_fields),
    [CAIRN_WIRE_NACK] = WIRE_MSG_DESC("nack", nack_fields),
    [CAIRN_WIRE_ERR] = WIRE_MSG_DESC("err", err_fields),
};

WIRE_ENCODER(cairn__wire_ping_encode, cairn_wire_ping, msg_descs, CAIRN_WIRE_PING)
WIRE_DECODER(cairn__wire_ping_decode, cairn_wire_ping, msg_descs, CAIRN_WIRE_PING)
WIRE_ENCODER(cairn__wire_indirect_ping_encode, cairn_wire_indirect_ping, msg_descs,
             CAIRN_WIRE_INDIRECT_PING)
WIRE_DECODER(cairn__wire_indirect_ping_decode, cairn_wire_indirect_ping, msg_descs,
             CAIRN_WIRE_INDIRECT_PING)
WIRE_ENCODER(cairn__wire_ack_encode, cairn_wire_ack, msg_descs, CAIRN_WIRE_ACK)
WIRE_DECODER(cairn__wire_ack_decode, cairn_wire_ack, msg_descs, CAIRN_WIRE_ACK)
WIRE_ENCODER(cairn__wire_nack_encode, cairn_wire_nack, msg_descs, CAIRN_WIRE_NACK)
WIRE_DECODER_NOARENA(cairn__wire_nack_decode, cairn_wire_nack, msg_descs, CAIRN_WIRE_NACK)
WIRE_ENCODER(cairn__wire_err_encode, cairn_wire_err, msg_descs, CAIRN_WIRE_ERR)
WIRE_DECODER_NOARENA(cairn__wire_err_decode, cairn_wire_err, msg_descs, CAIRN_WIRE_ERR)
WIRE_ENCODER(cairn__wire_suspect_encode, cairn_wire_suspect, msg_descs, CAIRN_WIRE_SUSPECT)
WIRE_DECODER_NOARENA(cairn__wire_suspect_decode, cairn_wire_suspect, msg_descs, CAIRN_WIRE_SUSPECT)
WIRE_ENCODER(cairn__wire_dead_encode, cairn_wire_dead, msg_descs, CAIRN_WIRE_DEAD)
WIRE_DECODER_NOARENA(cairn__wire_dead_decode, cairn_wire_dead, msg_descs, CAIRN_WIRE_DEAD)
WIRE_ENCODER(cairn__wire_alive_encode, cairn_wire_alive, msg_descs, CAIRN_WIRE_ALIVE)
WIRE_DECODER(cairn__wire_alive_decode, cairn_wire_alive, msg_descs, CAIRN_WIRE_ALIVE)

int cairn__wire_user_encode(cairn_span payload, cairn_buf *out, cairn_diag *diag)
{
    if (out == NULL || (payload.len && payload.p == NULL))
        return CAIRN_EINVAL;
    size_t start = out->len;
    uint8_t t = CAIRN_WIRE_USER;
    int e = cairn_buf_append(out, &t, 1);
    if (e == 0)
        e = cairn_buf_append(out, payload.p, payload.len);
    if (e) {
        out->len = start;
        cairn_diag_set(diag, e, "user: encoding failed: %s", cairn_strerror(e));
    }
    return e;
}

/* ------------------------------------------------------------ push-pull */

int cairn__wire_pushpull_header_encode(const cairn_wire_pushpull_header *m, cairn_buf *out,
                                       cairn_diag *diag)
{
    if (m == NULL || out == NULL)
        return CAIRN_EINVAL;
    pp_header_raw raw = {m->join, m->nodes, m->user_state_len};
    return cairn__wire_encode_msg(out, CAIRN_WIRE_PUSHPULL, "push-pull", pp_header_fields,
                                  WF_NFIELDS(pp_header_fields), &raw, diag);
}

/* decode_prefix runs a struct decode over a stream prefix starting at a
 * type byte (type >= 0) or directly at the map (type < 0). */
static int decode_prefix(const uint8_t *p, size_t len, int type, const char *name,
                         const wire_field *fields, size_t n, cairn_wire_arena *arena,
                         cairn_diag *diag, void *base, size_t *ret_used)
{
    size_t skip = type >= 0 ? 1 : 0;
    if (p == NULL || len < skip + 1)
        return CAIRN_EAGAIN;
    if (type >= 0 && p[0] != type)
        return cairn_diag_set(diag, CAIRN_EPROTO, "%s: type byte is %u, want %d", name, p[0], type);
    /* Find the end of the map first, so "incomplete" is told apart from
     * "malformed" without leaving half a diagnostic behind. */
    size_t obj;
    int e = cairn__mp_object_len(p + skip, len - skip, &obj);
    if (e == CAIRN_EAGAIN)
        return e;
    if (e)
        return cairn_diag_set(diag, e, "%s: body is %s", name, cairn__mp_err_text(e));
    wire_ctx c = {.arena = arena, .diag = diag, .msg = name};
    cairn__mp_reader_init(&c.r, p + skip, obj);
    e = cairn__wire_decode_struct(&c, fields, n, base);
    if (e)
        return e == CAIRN_EAGAIN ? CAIRN_EPROTO : e;
    *ret_used = skip + obj;
    return 0;
}

int cairn__wire_pushpull_header_decode(const uint8_t *p, size_t len, cairn_diag *diag,
                                       cairn_wire_pushpull_header *ret, size_t *ret_used)
{
    pp_header_raw raw = {0};
    size_t used;
    int e = decode_prefix(p, len, CAIRN_WIRE_PUSHPULL, "push-pull", pp_header_fields,
                          WF_NFIELDS(pp_header_fields), NULL, diag, &raw, &used);
    if (e)
        return e;
    if (raw.nodes < 0 || raw.nodes > CAIRN_WIRE_PUSHPULL_NODES_MAX)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "push-pull: Nodes is %lld, limit %u",
                              (long long)raw.nodes, CAIRN_WIRE_PUSHPULL_NODES_MAX);
    if (raw.user_state_len < 0 || raw.user_state_len > CAIRN_WIRE_USER_STATE_MAX)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "push-pull: UserStateLen is %lld, limit %u",
                              (long long)raw.user_state_len, CAIRN_WIRE_USER_STATE_MAX);
    if (ret)
        *ret = (cairn_wire_pushpull_header){raw.join, (uint32_t)raw.nodes,
                                            (uint32_t)raw.user_state_len};
    if (ret_used)
        *ret_used = used;
    return 0;
}

int cairn__wire_push_node_encode(const cairn_wire_push_node *m, cairn_buf *out, cairn_diag *diag)
{
    if (m == NULL || out == NULL)
        return CAIRN_EINVAL;
    cairn_mp_writer w;
    cairn__mp_writer_init(&w, out, CAIRN_MP_GOSSIP);
    cairn__wire_encode_struct(&w, "push-pull node", push_node_fields, WF_NFIELDS(push_node_fields),
                              m, diag);
    return cairn__mp_writer_finish(&w);
}

/* push_node_one_pass decodes a node state the way Go sends it in one pass,
 * without decode_prefix's delimiting walk (a quarter of a push-pull
 * decode's instructions). It accepts only what the delimiting path accepts
 * with the same result: every item read by a typed field reader (nothing
 * skipped, so nesting is bounded by the field kinds and every header was
 * checked against the buffer end) and no arena needed ([]byte as raw
 * bytes). Anything else, error or not, returns false and the caller takes
 * the delimiting path, which words the errors. */
static bool push_node_one_pass(const uint8_t *p, size_t len, cairn_wire_push_node *tmp,
                               size_t *ret_used)
{
    wire_ctx c = {.arena = NULL, .diag = NULL, .msg = "push-pull node"};
    cairn__mp_reader_init(&c.r, p, len);
    if (p == NULL ||
        cairn__wire_decode_struct(&c, push_node_fields, WF_NFIELDS(push_node_fields), tmp) ||
        c.skipped != 0)
        return false;
    *ret_used = c.r.pos;
    return true;
}

int cairn__wire_push_node_decode(const uint8_t *p, size_t len, cairn_wire_arena *arena,
                                 cairn_diag *diag, cairn_wire_push_node *ret, size_t *ret_used)
{
    cairn_wire_push_node tmp;
    memset(&tmp, 0, sizeof(tmp));
    size_t used;
    int e = 0;
    if (!push_node_one_pass(p, len, &tmp, &used)) {
        memset(&tmp, 0, sizeof(tmp));
        e = decode_prefix(p, len, -1, "push-pull node", push_node_fields,
                          WF_NFIELDS(push_node_fields), arena, diag, &tmp, &used);
    }
    if (e)
        return e;
    if (ret)
        *ret = tmp;
    if (ret_used)
        *ret_used = used;
    return 0;
}

int cairn__wire_pushpull_encode(const cairn_wire_pushpull *m, cairn_buf *out, cairn_diag *diag)
{
    if (m == NULL || out == NULL || (m->n_nodes && m->nodes == NULL) ||
        (m->user_state.len && m->user_state.p == NULL))
        return CAIRN_EINVAL;
    if (m->n_nodes > CAIRN_WIRE_PUSHPULL_NODES_MAX || m->user_state.len > CAIRN_WIRE_USER_STATE_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL,
                              "push-pull: %zu nodes / %zu state bytes "
                              "exceed the limits",
                              m->n_nodes, m->user_state.len);
    size_t start = out->len;
    cairn_wire_pushpull_header h = {m->header.join, (uint32_t)m->n_nodes,
                                    (uint32_t)m->user_state.len};
    int e = cairn__wire_pushpull_header_encode(&h, out, diag);
    for (size_t k = 0; e == 0 && k < m->n_nodes; k++)
        e = cairn__wire_push_node_encode(&m->nodes[k], out, diag);
    if (e == 0)
        e = cairn_buf_append(out, m->user_state.p, m->user_state.len);
    if (e)
        out->len = start;
    return e;
}

int cairn__wire_pushpull_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                cairn_diag *diag, cairn_wire_pushpull *ret)
{
    cairn_wire_pushpull_header h;
    size_t pos;
    int e = cairn__wire_pushpull_header_decode(msg, len, diag, &h, &pos);
    if (e == CAIRN_EAGAIN)
        return cairn_diag_set(diag, CAIRN_EPROTO, "push-pull: header is truncated");
    if (e)
        return e;
    /* Every node state takes at least one byte, and the user state follows
     * them: both bounds hold before anything is allocated (#357). */
    if (h.nodes > len - pos)
        return cairn_diag_set(diag, CAIRN_ELIMIT,
                              "push-pull: Nodes is %u but only %zu bytes follow", h.nodes,
                              len - pos);
    if (h.user_state_len > len - pos - h.nodes)
        return cairn_diag_set(diag, CAIRN_EPROTO,
                              "push-pull: UserStateLen is %u but at most %zu bytes follow",
                              h.user_state_len, len - pos - h.nodes);
    if (arena == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "push-pull: no decode arena");
    size_t need = (size_t)h.nodes * sizeof(cairn_wire_push_node);
    if (need > arena->limit - arena->used)
        return cairn_diag_set(diag, CAIRN_ELIMIT,
                              "push-pull: %u nodes need %zu arena bytes, %zu of the limit %zu left",
                              h.nodes, need, arena->limit - arena->used, arena->limit);
    cairn_wire_push_node *nodes = cairn__wire_arena_alloc(arena, need);
    if (nodes == NULL)
        return cairn_diag_set(diag, CAIRN_ENOMEM, "push-pull: cannot allocate %u nodes", h.nodes);
    for (uint32_t k = 0; k < h.nodes; k++) {
        size_t used;
        e = cairn__wire_push_node_decode(msg + pos, len - pos, arena, diag, &nodes[k], &used);
        if (e == CAIRN_EAGAIN)
            return cairn_diag_set(diag, CAIRN_EPROTO, "push-pull: node %u of %u is truncated", k,
                                  h.nodes);
        if (e)
            return e;
        pos += used;
    }
    if (h.user_state_len > len - pos)
        return cairn_diag_set(diag, CAIRN_EPROTO,
                              "push-pull: UserStateLen is %u but %zu bytes follow",
                              h.user_state_len, len - pos);
    if (ret) {
        ret->header = h;
        ret->nodes = nodes;
        ret->n_nodes = h.nodes;
        ret->user_state = (cairn_span){msg + pos, h.user_state_len};
    }
    return 0;
}

/* ------------------------------------------------------------ user msg */

int cairn__wire_user_msg_header_encode(const cairn_wire_user_msg_header *m, cairn_buf *out,
                                       cairn_diag *diag)
{
    if (m == NULL || out == NULL)
        return CAIRN_EINVAL;
    user_header_raw raw = {m->user_msg_len};
    return cairn__wire_encode_msg(out, CAIRN_WIRE_USER, "user", user_header_fields,
                                  WF_NFIELDS(user_header_fields), &raw, diag);
}

int cairn__wire_user_msg_header_decode(const uint8_t *p, size_t len, cairn_diag *diag,
                                       cairn_wire_user_msg_header *ret, size_t *ret_used)
{
    user_header_raw raw = {0};
    size_t used;
    int e = decode_prefix(p, len, CAIRN_WIRE_USER, "user", user_header_fields,
                          WF_NFIELDS(user_header_fields), NULL, diag, &raw, &used);
    if (e)
        return e;
    if (raw.user_msg_len < 0 || raw.user_msg_len > CAIRN_WIRE_USER_MSG_MAX)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "user: UserMsgLen is %lld, limit %u",
                              (long long)raw.user_msg_len, CAIRN_WIRE_USER_MSG_MAX);
    if (ret)
        ret->user_msg_len = (uint32_t)raw.user_msg_len;
    if (ret_used)
        *ret_used = used;
    return 0;
}

/* ------------------------------------------------------------ dispatch */

int cairn__wire_msg_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                           cairn_diag *diag, cairn_wire_msg *ret)
{
    if (msg == NULL || len == 0)
        return cairn_diag_set(diag, CAIRN_EPROTO, "message: empty");
    cairn_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = msg[0];
    /* Every union member starts at &m.u. */
    int e =
        cairn__wire_decode_by_type(msg, len, msg_descs, WF_NFIELDS(msg_descs), arena, diag, &m.u);
    if (e > 0) {
        switch (msg[0]) {
        case CAIRN_WIRE_PUSHPULL:
            e = cairn__wire_pushpull_decode(msg, len, arena, diag, &m.u.pushpull);
            break;
        case CAIRN_WIRE_USER:
            m.u.user = (cairn_span){msg + 1, len - 1};
            e = 0;
            break;
        case CAIRN_WIRE_COMPOUND:
        case CAIRN_WIRE_COMPRESS:
        case CAIRN_WIRE_ENCRYPT:
        case CAIRN_WIRE_HAS_CRC:
            return cairn_diag_set(diag, CAIRN_ENOTSUP, "message: type %u (%s) is a framing layer",
                                  msg[0], cairn__wire_type_name(msg[0]));
        default:
            return cairn_diag_set(diag, CAIRN_ENOTSUP, "message: unknown type byte %u", msg[0]);
        }
    }
    if (e == 0 && ret)
        *ret = m;
    return e;
}
