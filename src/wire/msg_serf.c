/* serf 0.9.4 message bodies: intents, push-pull state, user events,
 * queries and their filters, query responses, conflict responses, key
 * requests/responses and relays.
 *
 * Serf messages ride as memberlist user payloads (`08` + these bytes) or
 * inside other serf messages (a key request is a query's Payload, a conflict
 * response a query response's Payload, a relay wraps a response). Like the
 * memberlist file, each struct is a field table in Go's sorted key order;
 * the non-scalar fields (the 512-slot Events ring, LeftMembers, the
 * StatusLTimes map, Filters, Member.Tags, Keys, the nested DestAddr) have
 * small custom callbacks. Counts are bounded by the bytes left before
 * allocating, the Events ring additionally by CAIRN_WIRE_SERF_RING.
 *
 * Map order: Go emits StatusLTimes and Tags in random order. Decoding keeps
 * wire order and encoding writes the caller's order for StatusLTimes, so a
 * decoded message re-encodes to the same bytes; Member.Tags are written
 * sorted like Meta tags.
 */
#include "wire/msg.h"

#include <string.h>

#include "msg_internal.h"

/* ------------------------------------------------------------ intents */

static const wire_field leave_fields[] = {
    WF_UINT(cairn_wire_serf_leave, ltime, "LTime", 0, 0),
    WF_STR(cairn_wire_serf_leave, node, "Node", 1, 0, 0),
    WF_BOOL(cairn_wire_serf_leave, prune, "Prune", 2),
};

static const wire_field join_fields[] = {
    WF_UINT(cairn_wire_serf_join, ltime, "LTime", 0, 0),
    WF_STR(cairn_wire_serf_join, node, "Node", 1, 0, 0),
};

static const wire_field user_event_fields[] = {
    WF_BOOL(cairn_wire_serf_user_event, cc, "CC", 3),
    WF_UINT(cairn_wire_serf_user_event, ltime, "LTime", 0, 0),
    WF_STR(cairn_wire_serf_user_event, name, "Name", 1, 0, 0),
    WF_BYTES(cairn_wire_serf_user_event, payload, "Payload", 2, 0, 0),
};

static const wire_field response_fields[] = {
    WF_UINT(cairn_wire_serf_query_response, flags, "Flags", 3, 0),
    WF_STR(cairn_wire_serf_query_response, from, "From", 2, 0, 0),
    WF_UINT(cairn_wire_serf_query_response, id, "ID", 1, 0),
    WF_UINT(cairn_wire_serf_query_response, ltime, "LTime", 0, 0),
    WF_BYTES(cairn_wire_serf_query_response, payload, "Payload", 4, 0, 0),
};

static const wire_field key_request_fields[] = {
    WF_BYTES(cairn_wire_serf_key_request, key, "Key", 0, 0, CAIRN_WIRE_KEY_MAX),
};

/* ------------------------------------------------------------ push-pull */

static const wire_field event_item_fields[] = {
    WF_STR(cairn_wire_serf_event_item, name, "Name", 0, 0, 0),
    WF_BYTES(cairn_wire_serf_event_item, payload, "Payload", 1, 0, 0),
};

static int dec_slot_events(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_event_slot *s = WF_CONTAINER(field, cairn_wire_serf_event_slot, events);
    void *p;
    if (cairn__wire_read_struct_array(c, "Events[].Events", event_item_fields,
                                      WF_NFIELDS(event_item_fields), sizeof(*s->events), UINT32_MAX,
                                      WIRE_NO_PRESENT, &p, &s->n_events))
        return c->r.err;
    s->events = p;
    return 0;
}

static int enc_slot_events(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_event_slot *s = WF_CCONTAINER(field, cairn_wire_serf_event_slot, events);
    return cairn__wire_write_struct_array(w, msg, event_item_fields, WF_NFIELDS(event_item_fields),
                                          s->events, sizeof(*s->events), s->n_events,
                                          WIRE_NO_PRESENT, diag);
}

static const wire_field slot_fields[] = {
    WF_CUSTOM(cairn_wire_serf_event_slot, events, "Events", 1, dec_slot_events, enc_slot_events),
    WF_UINT(cairn_wire_serf_event_slot, ltime, "LTime", 0, 0),
};

/* The ring holds *userEvents: nil slots are c0, flagged by `present`. */
static int dec_events(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_pushpull *m = WF_CONTAINER(field, cairn_wire_serf_pushpull, events);
    void *p;
    if (cairn__wire_read_struct_array(
            c, "Events", slot_fields, WF_NFIELDS(slot_fields), sizeof(*m->events),
            CAIRN_WIRE_SERF_RING, offsetof(cairn_wire_serf_event_slot, present), &p, &m->n_events))
        return c->r.err;
    m->events = p;
    return 0;
}

static int enc_events(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_pushpull *m = WF_CCONTAINER(field, cairn_wire_serf_pushpull, events);
    return cairn__wire_write_struct_array(w, msg, slot_fields, WF_NFIELDS(slot_fields), m->events,
                                          sizeof(*m->events), m->n_events,
                                          offsetof(cairn_wire_serf_event_slot, present), diag);
}

static int dec_left(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_pushpull *m = WF_CONTAINER(field, cairn_wire_serf_pushpull, left_members);
    return cairn__wire_read_str_array(c, "LeftMembers", &m->left_members, &m->n_left_members);
}

static int enc_left(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_pushpull *m =
        WF_CCONTAINER(field, cairn_wire_serf_pushpull, left_members);
    cairn__wire_write_str_array(w, m->left_members, m->n_left_members);
    return 0;
}

static int dec_status(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_pushpull *m = WF_CONTAINER(field, cairn_wire_serf_pushpull, status_ltimes);
    bool nil = cairn__mp_peek(&c->r) == CAIRN_MP_T_NIL;
    uint32_t n;
    if (cairn__mp_read_map(&c->r, &n))
        return cairn__wire_fail(c, "StatusLTimes", c->r.err);
    if (nil)
        return 0;
    cairn_wire_serf_status_ltime *s = cairn__wire_alloc(c, "StatusLTimes", (size_t)n * sizeof(*s));
    if (s == NULL)
        return c->r.err;
    for (uint32_t k = 0; k < n; k++)
        if (cairn__mp_read_str(&c->r, &s[k].name) ||
            cairn__mp_read_uint(&c->r, UINT64_MAX, &s[k].ltime))
            return cairn__wire_fail(c, "StatusLTimes", c->r.err);
    m->status_ltimes = s;
    m->n_status_ltimes = n;
    return 0;
}

static int enc_status(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_pushpull *m =
        WF_CCONTAINER(field, cairn_wire_serf_pushpull, status_ltimes);
    if (m->status_ltimes == NULL && m->n_status_ltimes == 0) {
        cairn__mp_write_nil(w);
        return 0;
    }
    cairn__mp_write_map(w, (uint32_t)m->n_status_ltimes);
    for (size_t k = 0; k < m->n_status_ltimes; k++) {
        cairn__mp_write_str(w, m->status_ltimes[k].name);
        cairn__mp_write_uint(w, m->status_ltimes[k].ltime);
    }
    return 0;
}

static const wire_field pushpull_fields[] = {
    WF_UINT(cairn_wire_serf_pushpull, event_ltime, "EventLTime", 3, 0),
    WF_CUSTOM(cairn_wire_serf_pushpull, events, "Events", 4, dec_events, enc_events),
    WF_UINT(cairn_wire_serf_pushpull, ltime, "LTime", 0, 0),
    WF_CUSTOM(cairn_wire_serf_pushpull, left_members, "LeftMembers", 2, dec_left, enc_left),
    WF_UINT(cairn_wire_serf_pushpull, query_ltime, "QueryLTime", 5, 0),
    WF_CUSTOM(cairn_wire_serf_pushpull, status_ltimes, "StatusLTimes", 1, dec_status, enc_status),
};

/* ------------------------------------------------------------ query */

static int dec_filters(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_query *m = WF_CONTAINER(field, cairn_wire_serf_query, filters);
    void *p;
    size_t n;
    if (cairn__wire_read_array_alloc(c, "Filters", sizeof(cairn_span), UINT32_MAX, &p, &n))
        return c->r.err;
    cairn_span *s = p;
    for (size_t k = 0; k < n; k++)
        if (cairn__wire_read_bytes(c, "Filters", 0, &s[k]))
            return c->r.err;
    m->filters = s;
    m->n_filters = n;
    return 0;
}

static int enc_filters(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_query *m = WF_CCONTAINER(field, cairn_wire_serf_query, filters);
    if (m->filters == NULL && m->n_filters == 0) {
        cairn__mp_write_nil(w);
        return 0;
    }
    cairn__mp_write_array(w, (uint32_t)m->n_filters);
    for (size_t k = 0; k < m->n_filters; k++)
        cairn__mp_write_bytes(w, m->filters[k]);
    return 0;
}

static const wire_field query_fields[] = {
    WF_BYTES(cairn_wire_serf_query, addr, "Addr", 2, 0, CAIRN_WIRE_ADDR_MAX),
    WF_CUSTOM(cairn_wire_serf_query, filters, "Filters", 5, dec_filters, enc_filters),
    WF_UINT(cairn_wire_serf_query, flags, "Flags", 6, 0),
    WF_UINT(cairn_wire_serf_query, id, "ID", 1, 0),
    WF_UINT(cairn_wire_serf_query, ltime, "LTime", 0, 0),
    WF_STR(cairn_wire_serf_query, name, "Name", 9, 0, 0),
    WF_BYTES(cairn_wire_serf_query, payload, "Payload", 10, 0, 0),
    WF_UINT(cairn_wire_serf_query, port, "Port", 3, 0),
    WF_UINT(cairn_wire_serf_query, relay_factor, "RelayFactor", 7, 0),
    WF_STR(cairn_wire_serf_query, source_node, "SourceNode", 4, 0, 0),
    WF_INT(cairn_wire_serf_query, timeout, "Timeout", 8),
};

static const wire_field tag_filter_fields[] = {
    WF_STR(cairn_wire_serf_filter, expr, "Expr", 1, 0, 0),
    WF_STR(cairn_wire_serf_filter, tag, "Tag", 0, 0, 0),
};

/* ------------------------------------------------------------ member, keys */

static int dec_tags(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_member *m = WF_CONTAINER(field, cairn_wire_serf_member, tags);
    return cairn__wire_read_tag_map(c, "Tags", &m->tags, &m->n_tags);
}

static int enc_tags(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_member *m = WF_CCONTAINER(field, cairn_wire_serf_member, tags);
    return cairn__wire_write_tag_map(w, m->tags, m->n_tags, msg, diag);
}

static const wire_field member_fields[] = {
    WF_BYTES(cairn_wire_serf_member, addr, "Addr", 1, 0, CAIRN_WIRE_ADDR_MAX),
    WF_UINT(cairn_wire_serf_member, delegate_cur, "DelegateCur", 10, 0),
    WF_UINT(cairn_wire_serf_member, delegate_max, "DelegateMax", 9, 0),
    WF_UINT(cairn_wire_serf_member, delegate_min, "DelegateMin", 8, 0),
    WF_STR(cairn_wire_serf_member, name, "Name", 0, 0, 0),
    WF_UINT(cairn_wire_serf_member, port, "Port", 2, 0),
    WF_UINT(cairn_wire_serf_member, protocol_cur, "ProtocolCur", 7, 0),
    WF_UINT(cairn_wire_serf_member, protocol_max, "ProtocolMax", 6, 0),
    WF_UINT(cairn_wire_serf_member, protocol_min, "ProtocolMin", 5, 0),
    WF_INT(cairn_wire_serf_member, status, "Status", 4),
    WF_CUSTOM(cairn_wire_serf_member, tags, "Tags", 3, dec_tags, enc_tags),
};

static int dec_keys(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_key_response *m = WF_CONTAINER(field, cairn_wire_serf_key_response, keys);
    return cairn__wire_read_str_array(c, "Keys", &m->keys, &m->n_keys);
}

static int enc_keys(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_key_response *m =
        WF_CCONTAINER(field, cairn_wire_serf_key_response, keys);
    cairn__wire_write_str_array(w, m->keys, m->n_keys);
    return 0;
}

static const wire_field key_response_fields[] = {
    WF_CUSTOM(cairn_wire_serf_key_response, keys, "Keys", 2, dec_keys, enc_keys),
    WF_STR(cairn_wire_serf_key_response, message, "Message", 1, 0, 0),
    WF_STR(cairn_wire_serf_key_response, primary_key, "PrimaryKey", 3, 0, 0),
    WF_BOOL(cairn_wire_serf_key_response, result, "Result", 0),
};

/* ------------------------------------------------------------ relay */

static const wire_field dest_addr_fields[] = {
    WF_BYTES(cairn_wire_serf_relay, dest_ip, "IP", 0, 0, CAIRN_WIRE_ADDR_MAX),
    WF_UINT(cairn_wire_serf_relay, dest_port, "Port", 1, 0),
    WF_STR(cairn_wire_serf_relay, dest_zone, "Zone", 2, 0, 0),
};

static int dec_dest_addr(wire_ctx *c, void *field, const wire_field *f)
{
    cairn_wire_serf_relay *m = WF_CONTAINER(field, cairn_wire_serf_relay, dest_ip);
    return cairn__wire_decode_struct(c, dest_addr_fields, WF_NFIELDS(dest_addr_fields), m);
}

static int enc_dest_addr(cairn_mp_writer *w, const void *field, const char *msg, cairn_diag *diag)
{
    const cairn_wire_serf_relay *m = WF_CCONTAINER(field, cairn_wire_serf_relay, dest_ip);
    return cairn__wire_encode_struct(w, msg, dest_addr_fields, WF_NFIELDS(dest_addr_fields), m,
                                     diag);
}

static const wire_field relay_fields[] = {
    WF_CUSTOM(cairn_wire_serf_relay, dest_ip, "DestAddr", 0, dec_dest_addr, enc_dest_addr),
    WF_STR(cairn_wire_serf_relay, dest_name, "DestName", 1, 0, 0),
};

/* ------------------------------------------------------------ codecs */

const char *cairn__wire_serf_type_name(int type)
{
    static const char *const names[] = {"leave",        "join",     "push-pull", "user-event",
                                        "query",        "response", "conflict",  "key-request",
                                        "key-response", "relay"};
    if (type < 0 || type >= (int)(sizeof(names) / sizeof(names[0])))
        return "unknown";
    return names[type];
}

/* The messages that are one struct after the type byte. */
static const wire_msg_desc serf_descs[] = {
    [CAIRN_WIRE_SERF_LEAVE] = WIRE_MSG_DESC("serf leave", leave_fields),
    [CAIRN_WIRE_SERF_JOIN] = WIRE_MSG_DESC("serf join", join_fields),
    [CAIRN_WIRE_SERF_PUSHPULL] = WIRE_MSG_DESC("serf push-pull", pushpull_fields),
    [CAIRN_WIRE_SERF_USER_EVENT] = WIRE_MSG_DESC("serf user event", user_event_fields),
    [CAIRN_WIRE_SERF_QUERY] = WIRE_MSG_DESC("serf query", query_fields),
    [CAIRN_WIRE_SERF_QUERY_RESPONSE] = WIRE_MSG_DESC("serf response", response_fields),
    [CAIRN_WIRE_SERF_KEY_REQUEST] = WIRE_MSG_DESC("serf key request", key_request_fields),
    [CAIRN_WIRE_SERF_KEY_RESPONSE] = WIRE_MSG_DESC("serf key response", key_response_fields),
};

WIRE_ENCODER(cairn__wire_serf_leave_encode, cairn_wire_serf_leave, serf_descs,
             CAIRN_WIRE_SERF_LEAVE)
WIRE_DECODER_NOARENA(cairn__wire_serf_leave_decode, cairn_wire_serf_leave, serf_descs,
                     CAIRN_WIRE_SERF_LEAVE)
WIRE_ENCODER(cairn__wire_serf_join_encode, cairn_wire_serf_join, serf_descs, CAIRN_WIRE_SERF_JOIN)
WIRE_DECODER_NOARENA(cairn__wire_serf_join_decode, cairn_wire_serf_join, serf_descs,
                     CAIRN_WIRE_SERF_JOIN)
WIRE_ENCODER(cairn__wire_serf_pushpull_encode, cairn_wire_serf_pushpull, serf_descs,
             CAIRN_WIRE_SERF_PUSHPULL)
WIRE_DECODER(cairn__wire_serf_pushpull_decode, cairn_wire_serf_pushpull, serf_descs,
             CAIRN_WIRE_SERF_PUSHPULL)
WIRE_ENCODER(cairn__wire_serf_user_event_encode, cairn_wire_serf_user_event, serf_descs,
             CAIRN_WIRE_SERF_USER_EVENT)
WIRE_DECODER(cairn__wire_serf_user_event_decode, cairn_wire_serf_user_event, serf_descs,
             CAIRN_WIRE_SERF_USER_EVENT)
WIRE_ENCODER(cairn__wire_serf_query_encode, cairn_wire_serf_query, serf_descs,
             CAIRN_WIRE_SERF_QUERY)
WIRE_DECODER(cairn__wire_serf_query_decode, cairn_wire_serf_query, serf_descs,
             CAIRN_WIRE_SERF_QUERY)
WIRE_ENCODER(cairn__wire_serf_query_response_encode, cairn_wire_serf_query_response, serf_descs,
             CAIRN_WIRE_SERF_QUERY_RESPONSE)
WIRE_DECODER(cairn__wire_serf_query_response_decode, cairn_wire_serf_query_response, serf_descs,
             CAIRN_WIRE_SERF_QUERY_RESPONSE)
WIRE_ENCODER(cairn__wire_serf_key_request_encode, cairn_wire_serf_key_request, serf_descs,
             CAIRN_WIRE_SERF_KEY_REQUEST)
WIRE_DECODER(cairn__wire_serf_key_request_decode, cairn_wire_serf_key_request, serf_descs,
             CAIRN_WIRE_SERF_KEY_REQUEST)
WIRE_ENCODER(cairn__wire_serf_key_response_encode, cairn_wire_serf_key_response, serf_descs,
             CAIRN_WIRE_SERF_KEY_RESPONSE)
WIRE_DECODER(cairn__wire_serf_key_response_decode, cairn_wire_serf_key_response, serf_descs,
             CAIRN_WIRE_SERF_KEY_RESPONSE)

int cairn__wire_serf_conflict_response_encode(const cairn_wire_serf_conflict_response *m,
                                              cairn_buf *out, cairn_diag *diag)
{
    if (m == NULL || out == NULL)
        return CAIRN_EINVAL;
    if (m->present)
        return cairn__wire_encode_msg(out, CAIRN_WIRE_SERF_CONFLICT_RESPONSE, "serf conflict",
                                      member_fields, WF_NFIELDS(member_fields), &m->member, diag);
    static const uint8_t nil_member[2] = {CAIRN_WIRE_SERF_CONFLICT_RESPONSE, 0xc0};
    return cairn_buf_append(out, nil_member, sizeof(nil_member));
}

int cairn__wire_serf_conflict_response_decode(const uint8_t *msg, size_t len,
                                              cairn_wire_arena *arena, cairn_diag *diag,
                                              cairn_wire_serf_conflict_response *ret)
{
    cairn_wire_serf_conflict_response tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (len >= 2 && msg[0] == CAIRN_WIRE_SERF_CONFLICT_RESPONSE && msg[1] == 0xc0) {
        if (ret)
            *ret = tmp;
        return 0;
    }
    int e =
        cairn__wire_decode_msg(msg, len, CAIRN_WIRE_SERF_CONFLICT_RESPONSE, "serf conflict",
                               member_fields, WF_NFIELDS(member_fields), arena, diag, &tmp.member);
    if (e)
        return e;
    tmp.present = true;
    if (ret)
        *ret = tmp;
    return 0;
}

int cairn__wire_serf_relay_encode(const cairn_wire_serf_relay *m, cairn_buf *out, cairn_diag *diag)
{
    if (m == NULL || out == NULL || (m->inner.len && m->inner.p == NULL))
        return CAIRN_EINVAL;
    size_t start = out->len;
    int e = cairn__wire_encode_msg(out, CAIRN_WIRE_SERF_RELAY, "serf relay", relay_fields,
                                   WF_NFIELDS(relay_fields), m, diag);
    if (e == 0)
        e = cairn_buf_append(out, m->inner.p, m->inner.len);
    if (e)
        out->len = start;
    return e;
}

int cairn__wire_serf_relay_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                  cairn_diag *diag, cairn_wire_serf_relay *ret)
{
    if (msg == NULL || len < 1 || msg[0] != CAIRN_WIRE_SERF_RELAY)
        return cairn_diag_set(diag, CAIRN_EPROTO, "serf relay: wrong or missing type byte");
    size_t hdr;
    int e = cairn__mp_object_len(msg + 1, len - 1, &hdr);
    if (e)
        return cairn_diag_set(diag, e == CAIRN_EAGAIN ? CAIRN_EPROTO : e,
                              "serf relay: header is %s", cairn__mp_err_text(e));
    cairn_wire_serf_relay tmp;
    memset(&tmp, 0, sizeof(tmp));
    e = cairn__wire_decode_msg(msg, 1 + hdr, CAIRN_WIRE_SERF_RELAY, "serf relay", relay_fields,
                               WF_NFIELDS(relay_fields), arena, diag, &tmp);
    if (e)
        return e;
    if (1 + hdr == len)
        return cairn_diag_set(diag, CAIRN_EPROTO, "serf relay: no inner message");
    tmp.inner = (cairn_span){msg + 1 + hdr, len - 1 - hdr};
    if (ret)
        *ret = tmp;
    return 0;
}

/* ------------------------------------------------------------ filters */

int cairn__wire_serf_filter_encode(const cairn_wire_serf_filter *f, cairn_buf *out,
                                   cairn_diag *diag)
{
    if (f == NULL || out == NULL)
        return CAIRN_EINVAL;
    if (f->type == CAIRN_WIRE_SERF_FILTER_TAG)
        return cairn__wire_encode_msg(out, CAIRN_WIRE_SERF_FILTER_TAG, "tag filter",
                                      tag_filter_fields, WF_NFIELDS(tag_filter_fields), f, diag);
    if (f->type != CAIRN_WIRE_SERF_FILTER_NODE)
        return cairn_diag_set(diag, CAIRN_EINVAL, "filter: unknown type %u", f->type);
    cairn_mp_writer w;
    cairn__mp_writer_init(&w, out, CAIRN_MP_GOSSIP);
    uint8_t t = CAIRN_WIRE_SERF_FILTER_NODE;
    cairn__mp_write_raw(&w, &t, 1);
    cairn__wire_write_str_array(&w, f->nodes, f->n_nodes);
    return cairn__mp_writer_finish(&w);
}

int cairn__wire_serf_filter_decode(const uint8_t *p, size_t len, cairn_wire_arena *arena,
                                   cairn_diag *diag, cairn_wire_serf_filter *ret)
{
    cairn_wire_serf_filter tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (p == NULL || len < 1)
        return cairn_diag_set(diag, CAIRN_EPROTO, "filter: empty");
    int e;
    if (p[0] == CAIRN_WIRE_SERF_FILTER_TAG) {
        e = cairn__wire_decode_msg(p, len, CAIRN_WIRE_SERF_FILTER_TAG, "tag filter",
                                   tag_filter_fields, WF_NFIELDS(tag_filter_fields), arena, diag,
                                   &tmp);
    } else if (p[0] == CAIRN_WIRE_SERF_FILTER_NODE) {
        wire_ctx c = {.arena = arena, .diag = diag, .msg = "node filter"};
        cairn__mp_reader_init(&c.r, p + 1, len - 1);
        e = cairn__wire_read_str_array(&c, "names", &tmp.nodes, &tmp.n_nodes);
        if (e == CAIRN_EAGAIN)
            e = CAIRN_EPROTO;
    } else {
        return cairn_diag_set(diag, CAIRN_ENOTSUP, "filter: unknown type %u", p[0]);
    }
    if (e)
        return e;
    tmp.type = p[0];
    if (ret)
        *ret = tmp;
    return 0;
}

/* ------------------------------------------------------------ dispatch */

int cairn__wire_serf_msg_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                cairn_diag *diag, cairn_wire_serf_msg *ret)
{
    if (msg == NULL || len == 0)
        return cairn_diag_set(diag, CAIRN_EPROTO, "serf message: empty");
    cairn_wire_serf_msg m;
    memset(&m, 0, sizeof(m));
    m.type = msg[0];
    /* Every union member starts at &m.u. */
    int e =
        cairn__wire_decode_by_type(msg, len, serf_descs, WF_NFIELDS(serf_descs), arena, diag, &m.u);
    if (e > 0) {
        switch (msg[0]) {
        case CAIRN_WIRE_SERF_CONFLICT_RESPONSE:
            e = cairn__wire_serf_conflict_response_decode(msg, len, arena, diag,
                                                          &m.u.conflict_response);
            break;
        case CAIRN_WIRE_SERF_RELAY:
            e = cairn__wire_serf_relay_decode(msg, len, arena, diag, &m.u.relay);
            break;
        default:
            return cairn_diag_set(diag, CAIRN_ENOTSUP, "serf message: unknown type byte %u",
                                  msg[0]);
        }
    }
    if (e == 0 && ret)
        *ret = m;
    return e;
}
