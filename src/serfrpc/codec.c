/* The server side of the agent RPC codec (spec serf-wire §5.3).
 *
 * Requests: Serf's agent decodes each body into the Go struct of its
 * command with the IPC handle; keys are matched exactly, unknown keys are
 * skipped, nil is the zero value and a wrong type fails the decode (the
 * agent then drops the connection). We read every body with one decoder
 * over the shared IPC cursor (serfrpc/ipc.h), which applies the same rules
 * plus caps on every count and length.
 *
 * Replies: maps with keys in go-msgpack's order (sorted names), minimal
 * integers, strings as str, []byte as bin, so the Go client (and our own
 * decoders in decode.c) read them as they read the real agent's.
 */
#include "serfrpc/codec.h"

#include <string.h>

#include "serfrpc/ipc.h"

/* ---- requests ---- */

int cairn__serfrpc_decode_req_header(const uint8_t *p, size_t n, serfrpc_req_header *ret,
                                     cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    serfrpc_req_header h = *ret;
    cairn__ipc_cur_init(&c, p, n, "request header", diag);
    if (!cairn__ipc_read_map(&c, "header", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Command")) {
            const uint8_t *s;
            size_t len;
            if (cairn__ipc_read_str(&c, "Command", CAIRN_SERFRPC_MAX_STRING, &s, &len)) {
                size_t keep = len > SERFRPC_COMMAND_MAX ? SERFRPC_COMMAND_MAX : len;
                memcpy(h.command, s, keep);
                h.command[keep] = '\0';
                if (len > SERFRPC_COMMAND_MAX || memchr(s, 0, len) != NULL)
                    strcpy(h.command, "?"); /* unknown */
            }
        } else if (cairn__mp_key_is(k, "Seq")) {
            cairn__ipc_read_uint(&c, "Seq", UINT64_MAX, &h.seq);
        } else {
            cairn__ipc_skip(&c);
        }
    }
    if (c.err != 0)
        return c.err;
    *ret = h;
    return 0;
}

static bool read_cstr(ipc_cur *c, cairn_wire_arena *a, const char *field, size_t max,
                      const char **ret)
{
    const uint8_t *p;
    size_t n;
    if (!cairn__ipc_read_str(c, field, max, &p, &n))
        return false;
    if (memchr(p, 0, n) != NULL)
        return cairn__ipc_fail(c, CAIRN_EPROTO, "%s contains a NUL byte", field), false;
    char *s = cairn__wire_arena_alloc(a, n + 1);
    if (s == NULL)
        return cairn__ipc_fail(c, CAIRN_ENOMEM, "%s: out of memory", field), false;
    memcpy(s, p, n);
    s[n] = '\0';
    *ret = s;
    return true;
}

static void read_tag_map(ipc_cur *c, cairn_wire_arena *a, const char *field, serfrpc_req_body *b)
{
    uint32_t n;
    if (!cairn__ipc_read_map(c, field, SERFRPC_REQ_MAX_LIST, &n))
        return;
    cairn_tag *t = n ? cairn__wire_arena_alloc(a, n * sizeof *t) : NULL;
    if (n && t == NULL) {
        cairn__ipc_fail(c, CAIRN_ENOMEM, "%s: out of memory", field);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!read_cstr(c, a, field, CAIRN_SERFRPC_MAX_STRING, &t[i].key) ||
            !read_cstr(c, a, field, CAIRN_SERFRPC_MAX_STRING, &t[i].value))
            return;
    b->tags = t;
    b->ntags = n;
}

static void read_list(ipc_cur *c, cairn_wire_arena *a, const char *field, serfrpc_req_body *b)
{
    uint32_t n;
    if (!cairn__ipc_read_array(c, field, SERFRPC_REQ_MAX_LIST, &n))
        return;
    const char **l = n ? cairn__wire_arena_alloc(a, n * sizeof *l) : NULL;
    if (n && l == NULL) {
        cairn__ipc_fail(c, CAIRN_ENOMEM, "%s: out of memory", field);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!read_cstr(c, a, field, CAIRN_SERFRPC_MAX_STRING, &l[i]))
            return;
    b->list = l;
    b->nlist = n;
}

/* One key of a body; false when the key is not a known field. */
static bool read_field(ipc_cur *c, cairn_wire_arena *a, cairn_span k, serfrpc_req_body *b)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"AuthKey", offsetof(serfrpc_req_body, auth_key)},
        {"Name", offsetof(serfrpc_req_body, name)},
        {"Status", offsetof(serfrpc_req_body, status)},
        {"Node", offsetof(serfrpc_req_body, node)},
        {"Type", offsetof(serfrpc_req_body, type)},
        {"LogLevel", offsetof(serfrpc_req_body, log_level)},
        {"Key", offsetof(serfrpc_req_body, key)},
    };
    static const struct {
        const char *key;
        size_t off;
    } bools[] = {
        {"Replay", offsetof(serfrpc_req_body, replay)},
        {"Prune", offsetof(serfrpc_req_body, prune)},
        {"Coalesce", offsetof(serfrpc_req_body, coalesce)},
        {"RequestAck", offsetof(serfrpc_req_body, request_ack)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (cairn__mp_key_is(k, strs[i].key))
            return read_cstr(c, a, strs[i].key, CAIRN_SERFRPC_MAX_PAYLOAD,
                             (const char **)((char *)b + strs[i].off)),
                   true;
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        if (cairn__mp_key_is(k, bools[i].key))
            return cairn__ipc_read_bool(c, bools[i].key, (bool *)((char *)b + bools[i].off)), true;
    uint64_t v;
    if (cairn__mp_key_is(k, "Version"))
        cairn__ipc_read_uint(c, "Version", INT32_MAX, &b->version);
    else if (cairn__mp_key_is(k, "Stop"))
        cairn__ipc_read_uint(c, "Stop", UINT64_MAX, &b->stop);
    else if (cairn__mp_key_is(k, "ID"))
        cairn__ipc_read_uint(c, "ID", UINT64_MAX, &b->id);
    else if (cairn__mp_key_is(k, "RelayFactor"))
        cairn__ipc_read_uint(c, "RelayFactor", 255, &b->relay_factor);
    else if (cairn__mp_key_is(k, "Timeout")) {
        if (cairn__ipc_read_uint(c, "Timeout", INT64_MAX, &v))
            b->timeout = (int64_t)v;
    } else if (cairn__mp_key_is(k, "Payload")) {
        if (!cairn__ipc_read_nil(c) && c->err == 0) {
            const uint8_t *p;
            size_t n;
            if (cairn__ipc_read_bytes(c, "Payload", CAIRN_SERFRPC_MAX_PAYLOAD, NULL, &p, &n)) {
                uint8_t *copy = cairn__wire_arena_alloc(a, n + 1);
                if (copy == NULL)
                    return cairn__ipc_fail(c, CAIRN_ENOMEM, "Payload: out of memory"), true;
                if (n)
                    memcpy(copy, p, n);
                b->payload = copy;
                b->payload_len = n;
            }
        }
    } else if (cairn__mp_key_is(k, "Tags") || cairn__mp_key_is(k, "FilterTags"))
        read_tag_map(c, a, "Tags", b);
    else if (cairn__mp_key_is(k, "Existing") || cairn__mp_key_is(k, "DeleteTags") ||
             cairn__mp_key_is(k, "FilterNodes"))
        read_list(c, a, "list", b);
    else
        return false;
    return true;
}

int cairn__serfrpc_decode_req_body(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                   serfrpc_req_body *ret, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    serfrpc_req_body b;
    memset(&b, 0, sizeof b);
    cairn__ipc_cur_init(&c, p, n, "request body", diag);
    if (cairn__ipc_read_nil(&c)) {
        *ret = b;
        return 0;
    }
    if (!cairn__ipc_read_map(&c, "body", 64, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (!read_field(&c, a, k, &b))
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    *ret = b;
    return 0;
}

/* ---- replies ---- */

static void kv_str(cairn_mp_writer *w, const char *k, const char *v)
{
    cairn__mp_write_cstr(w, k);
    cairn__mp_write_cstr(w, v ? v : "");
}

static void kv_uint(cairn_mp_writer *w, const char *k, uint64_t v)
{
    cairn__mp_write_cstr(w, k);
    cairn__mp_write_uint(w, v);
}

void cairn__serfrpc_encode_resp_header(cairn_mp_writer *w, const char *error, uint64_t seq)
{
    cairn__mp_write_map(w, 2);
    kv_str(w, "Error", error);
    kv_uint(w, "Seq", seq);
}

void cairn__serfrpc_encode_member(cairn_mp_writer *w, const cairn_member *m)
{
    size_t iplen = cairn_addr_ip_len(&m->addr);
    cairn__mp_write_map(w, 11);
    cairn__mp_write_cstr(w, "Addr");
    if (iplen)
        cairn__mp_write_bytes(w, (cairn_span){m->addr.ip, iplen});
    else
        cairn__mp_write_nil(w);
    kv_uint(w, "DelegateCur", m->delegate_cur);
    kv_uint(w, "DelegateMax", m->delegate_max);
    kv_uint(w, "DelegateMin", m->delegate_min);
    kv_str(w, "Name", m->name);
    kv_uint(w, "Port", m->addr.port);
    kv_uint(w, "ProtocolCur", m->protocol_cur);
    kv_uint(w, "ProtocolMax", m->protocol_max);
    kv_uint(w, "ProtocolMin", m->protocol_min);
    kv_str(w, "Status", cairn_member_status_name(m->status));
    cairn__mp_write_cstr(w, "Tags");
    cairn__mp_write_map(w, (uint32_t)m->ntags);
    for (size_t i = 0; i < m->ntags; i++)
        kv_str(w, m->tags[i].key, m->tags[i].value);
}

void cairn__serfrpc_encode_members(cairn_mp_writer *w, const cairn_member *ms, size_t n)
{
    cairn__mp_write_map(w, 1);
    cairn__mp_write_cstr(w, "Members");
    cairn__mp_write_array(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        cairn__serfrpc_encode_member(w, &ms[i]);
}

void cairn__serfrpc_encode_join(cairn_mp_writer *w, int64_t num)
{
    cairn__mp_write_map(w, 1);
    cairn__mp_write_cstr(w, "Num");
    cairn__mp_write_int(w, num);
}

void cairn__serfrpc_encode_coord(cairn_mp_writer *w, bool ok, const cairn_coord *co)
{
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "Coord");
    cairn__mp_write_map(w, 4);
    cairn__mp_write_cstr(w, "Adjustment");
    cairn__mp_write_double(w, ok ? co->adjustment : 0);
    cairn__mp_write_cstr(w, "Error");
    cairn__mp_write_double(w, ok ? co->error : 0);
    cairn__mp_write_cstr(w, "Height");
    cairn__mp_write_double(w, ok ? co->height : 0);
    cairn__mp_write_cstr(w, "Vec");
    if (!ok) {
        cairn__mp_write_nil(w);
    } else {
        cairn__mp_write_array(w, co->dim);
        for (unsigned i = 0; i < co->dim; i++)
            cairn__mp_write_double(w, co->vec[i]);
    }
    cairn__mp_write_cstr(w, "Ok");
    cairn__mp_write_bool(w, ok);
}

void cairn__serfrpc_encode_stats(cairn_mp_writer *w, const cairn_serfrpc_stat *st, size_t n)
{
    uint32_t nsec = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(st[i].section, st[i - 1].section) != 0)
            nsec++;
    cairn__mp_write_map(w, nsec);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(st[j].section, st[i].section) == 0)
            j++;
        cairn__mp_write_cstr(w, st[i].section);
        /* A section with one empty key is an empty map (event_handlers). */
        bool empty = j == i + 1 && st[i].key[0] == '\0';
        cairn__mp_write_map(w, empty ? 0 : (uint32_t)(j - i));
        for (size_t k = i; k < j && !empty; k++)
            kv_str(w, st[k].key, st[k].value);
        i = j;
    }
}

void cairn__serfrpc_encode_keys(cairn_mp_writer *w, const cairn_serfrpc_key_result *r, bool list)
{
    cairn__mp_write_map(w, 5);
    cairn__mp_write_cstr(w, "Keys");
    if (!list) {
        cairn__mp_write_nil(w);
    } else {
        cairn__mp_write_map(w, (uint32_t)r->n_keys);
        for (size_t i = 0; i < r->n_keys; i++) {
            cairn__mp_write_cstr(w, r->keys[i]);
            cairn__mp_write_int(w, r->key_counts[i]);
        }
    }
    cairn__mp_write_cstr(w, "Messages");
    cairn__mp_write_map(w, (uint32_t)r->n_messages);
    for (size_t i = 0; i < r->n_messages; i++)
        kv_str(w, r->messages[i].key, r->messages[i].value);
    cairn__mp_write_cstr(w, "NumErr");
    cairn__mp_write_int(w, r->num_err);
    cairn__mp_write_cstr(w, "NumNodes");
    cairn__mp_write_int(w, r->num_nodes);
    cairn__mp_write_cstr(w, "NumResp");
    cairn__mp_write_int(w, r->num_resp);
}

static void payload(cairn_mp_writer *w, const uint8_t *p, size_t len)
{
    cairn__mp_write_cstr(w, "Payload");
    if (len == 0)
        cairn__mp_write_nil(w);
    else
        cairn__mp_write_bytes(w, (cairn_span){p, len});
}

void cairn__serfrpc_encode_event(cairn_mp_writer *w, const cairn_event *ev, uint64_t id)
{
    const char *type = cairn_event_type_name(ev->type);
    if (ev->type == CAIRN_EVENT_USER) {
        cairn__mp_write_map(w, 5);
        cairn__mp_write_cstr(w, "Coalesce");
        cairn__mp_write_bool(w, ev->coalesce);
        kv_str(w, "Event", type);
        kv_uint(w, "LTime", ev->ltime);
        kv_str(w, "Name", ev->name);
        payload(w, ev->payload, ev->payload_len);
    } else if (ev->type == CAIRN_EVENT_QUERY) {
        cairn__mp_write_map(w, 5);
        kv_str(w, "Event", type);
        kv_uint(w, "ID", id);
        kv_uint(w, "LTime", ev->ltime);
        kv_str(w, "Name", ev->name);
        payload(w, ev->payload, ev->payload_len);
    } else {
        cairn__mp_write_map(w, 2);
        kv_str(w, "Event", type);
        cairn__mp_write_cstr(w, "Members");
        cairn__mp_write_array(w, (uint32_t)ev->nmembers);
        for (size_t i = 0; i < ev->nmembers; i++)
            cairn__serfrpc_encode_member(w, &ev->members[i]);
    }
}

void cairn__serfrpc_encode_query_record(cairn_mp_writer *w, const char *type, const char *from,
                                        const uint8_t *p, size_t len)
{
    cairn__mp_write_map(w, 3);
    kv_str(w, "From", from);
    payload(w, p, len);
    kv_str(w, "Type", type);
}

void cairn__serfrpc_encode_log(cairn_mp_writer *w, const char *line)
{
    cairn__mp_write_map(w, 1);
    kv_str(w, "Log", line);
}
