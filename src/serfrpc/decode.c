/* Decoders of Serf agent RPC replies (spec serf-wire §5.3).
 *
 * Go encodes these structs as maps keyed by field name; we look keys up by
 * exact name, skip unknown ones (a newer agent may add fields) and treat nil
 * as the zero value, exactly as the Go decoder does. Strings are copied into
 * the arena with a terminating NUL so that they can be handed out as C
 * strings in cairn_member and cairn_event values.
 *
 * Bounds: the arena (wire's) has a limit that is a fixed multiple of the record size (every
 * decoded byte costs at least one input byte, plus fixed-size structs whose
 * count is checked against the bytes left before allocation), and every
 * count and string length is capped by the CAIRN_SERFRPC_MAX_* constants.
 */
#include "serfrpc/decode.h"

#include <string.h>

#include "cairn/alloc.h"
#include "serfrpc/ipc.h"

/* read_cstr: a string of at most max bytes copied into the arena. */
static bool read_cstr(ipc_cur *c, cairn_wire_arena *a, const char *field, size_t max,
                      const char **ret)
{
    const uint8_t *p;
    size_t n;
    if (!cairn__ipc_read_str(c, field, max, &p, &n))
        return false;
    if (memchr(p, 0, n) != NULL) {
        cairn__ipc_fail(c, CAIRN_EPROTO, "%s contains a NUL byte", field);
        return false;
    }
    char *s = cairn__wire_arena_alloc(a, n + 1);
    if (s == NULL) {
        cairn__ipc_fail(c, CAIRN_ENOMEM, "%s: out of memory", field);
        return false;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    *ret = s;
    return true;
}

int cairn__serfrpc_decode_header(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                 serfrpc_header *ret, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    serfrpc_header h = {.error = "", .seq = 0};
    bool have_seq = false;
    cairn__ipc_cur_init(&c, p, n, "response header", diag);
    if (!cairn__ipc_read_map(&c, "header", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Error"))
            read_cstr(&c, a, "Error", CAIRN_SERFRPC_MAX_ERROR, &h.error);
        else if (cairn__mp_key_is(k, "Seq"))
            have_seq = cairn__ipc_read_uint(&c, "Seq", UINT64_MAX, &h.seq);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err == 0 && !have_seq)
        cairn__ipc_fail(&c, CAIRN_EPROTO, "Seq is missing");
    if (c.err != 0)
        return c.err;
    *ret = h;
    return 0;
}

static bool read_tags(ipc_cur *c, cairn_wire_arena *a, cairn_member *m)
{
    uint32_t n;
    if (!cairn__ipc_read_map(c, "Member.Tags", CAIRN_SERFRPC_MAX_TAGS, &n))
        return false;
    cairn_tag *tags = NULL;
    if (n > 0) {
        tags = cairn__wire_arena_alloc(a, n * sizeof *tags);
        if (tags == NULL)
            return cairn__ipc_fail(c, CAIRN_ENOMEM, "Member.Tags: out of memory"), false;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!read_cstr(c, a, "Member.Tags key", CAIRN_SERFRPC_MAX_STRING, &tags[i].key) ||
            !read_cstr(c, a, "Member.Tags value", CAIRN_SERFRPC_MAX_STRING, &tags[i].value))
            return false;
    }
    m->tags = tags;
    m->ntags = n;
    return true;
}

static bool read_u8(ipc_cur *c, const char *field, uint8_t *out)
{
    uint64_t v;
    if (!cairn__ipc_read_uint(c, field, 255, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

static bool read_member(ipc_cur *c, cairn_wire_arena *a, cairn_member *m)
{
    uint32_t nk;
    const uint8_t *ip = NULL;
    uint8_t ipbuf[16];
    size_t iplen = 0;
    uint64_t port = 0;
    const char *status = "none";
    m->name = "";
    if (!cairn__ipc_read_map(c, "Member", 64, &nk))
        return false;
    for (uint32_t i = 0; i < nk && c->err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(c, &k))
            break;
        if (cairn__mp_key_is(k, "Addr"))
            cairn__ipc_read_bytes(c, "Member.Addr", 16, ipbuf, &ip, &iplen);
        else if (cairn__mp_key_is(k, "Name"))
            read_cstr(c, a, "Member.Name", CAIRN_NAME_MAX, &m->name);
        else if (cairn__mp_key_is(k, "Port"))
            cairn__ipc_read_uint(c, "Member.Port", 65535, &port);
        else if (cairn__mp_key_is(k, "Status"))
            read_cstr(c, a, "Member.Status", 32, &status);
        else if (cairn__mp_key_is(k, "Tags"))
            read_tags(c, a, m);
        else if (cairn__mp_key_is(k, "DelegateCur"))
            read_u8(c, "Member.DelegateCur", &m->delegate_cur);
        else if (cairn__mp_key_is(k, "DelegateMax"))
            read_u8(c, "Member.DelegateMax", &m->delegate_max);
        else if (cairn__mp_key_is(k, "DelegateMin"))
            read_u8(c, "Member.DelegateMin", &m->delegate_min);
        else if (cairn__mp_key_is(k, "ProtocolCur"))
            read_u8(c, "Member.ProtocolCur", &m->protocol_cur);
        else if (cairn__mp_key_is(k, "ProtocolMax"))
            read_u8(c, "Member.ProtocolMax", &m->protocol_max);
        else if (cairn__mp_key_is(k, "ProtocolMin"))
            read_u8(c, "Member.ProtocolMin", &m->protocol_min);
        else
            cairn__ipc_skip(c);
    }
    if (c->err != 0)
        return false;
    if (iplen != 0 && iplen != 4 && iplen != 16)
        return cairn__ipc_fail(c, CAIRN_EPROTO, "Member.Addr is %zu bytes, want 4 or 16", iplen),
               false;
    if (iplen != 0)
        cairn_addr_from_ip(ip, iplen, (uint16_t)port, &m->addr);
    else
        m->addr.port = (uint16_t)port;
    m->status = cairn_member_status_parse(status);
    return true;
}

/* read_member_array: [Member...] into the arena. */
static bool read_member_array(ipc_cur *c, cairn_wire_arena *a, cairn_member **ret, size_t *ret_n)
{
    uint32_t n;
    if (!cairn__ipc_read_array(c, "Members", CAIRN_SERFRPC_MAX_MEMBERS, &n))
        return false;
    cairn_member *ms = NULL;
    if (n > 0) {
        ms = cairn__wire_arena_alloc(a, (size_t)n * sizeof *ms);
        if (ms == NULL)
            return cairn__ipc_fail(c, CAIRN_ENOMEM, "Members: out of memory"), false;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!read_member(c, a, &ms[i]))
            return false;
    *ret = ms;
    *ret_n = n;
    return true;
}

int cairn__serfrpc_decode_members(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                  cairn_member **ret_members, size_t *ret_n, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    cairn_member *ms = NULL;
    size_t count = 0;
    cairn__ipc_cur_init(&c, p, n, "members reply", diag);
    if (!cairn__ipc_read_map(&c, "body", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Members"))
            read_member_array(&c, a, &ms, &count);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    *ret_members = ms;
    *ret_n = count;
    return 0;
}

int cairn__serfrpc_decode_join(const uint8_t *p, size_t n, int32_t *ret_num, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    uint64_t num = 0;
    cairn__ipc_cur_init(&c, p, n, "join reply", diag);
    if (!cairn__ipc_read_map(&c, "body", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Num"))
            cairn__ipc_read_uint(&c, "Num", INT32_MAX, &num);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    *ret_num = (int32_t)num;
    return 0;
}

static bool read_coordinate(ipc_cur *c, cairn_coord *co)
{
    uint32_t nk;
    if (cairn__ipc_read_nil(c))
        return true;
    if (!cairn__ipc_read_map(c, "Coord", 16, &nk))
        return false;
    for (uint32_t i = 0; i < nk && c->err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(c, &k))
            break;
        if (cairn__mp_key_is(k, "Adjustment")) {
            cairn__ipc_read_float(c, "Coord.Adjustment", &co->adjustment);
        } else if (cairn__mp_key_is(k, "Error")) {
            cairn__ipc_read_float(c, "Coord.Error", &co->error);
        } else if (cairn__mp_key_is(k, "Height")) {
            cairn__ipc_read_float(c, "Coord.Height", &co->height);
        } else if (cairn__mp_key_is(k, "Vec")) {
            uint32_t dim;
            if (!cairn__ipc_read_array(c, "Coord.Vec", CAIRN_COORD_MAX_DIM, &dim))
                break;
            for (uint32_t d = 0; d < dim; d++)
                cairn__ipc_read_float(c, "Coord.Vec element", &co->vec[d]);
            co->dim = dim;
        } else {
            cairn__ipc_skip(c);
        }
    }
    return c->err == 0;
}

int cairn__serfrpc_decode_coord(const uint8_t *p, size_t n, bool *ret_ok, cairn_coord *ret_coord,
                                cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    bool ok = false;
    cairn_coord co;
    memset(&co, 0, sizeof co);
    cairn__ipc_cur_init(&c, p, n, "get-coordinate reply", diag);
    if (!cairn__ipc_read_map(&c, "body", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Coord"))
            read_coordinate(&c, &co);
        else if (cairn__mp_key_is(k, "Ok"))
            cairn__ipc_read_bool(&c, "Ok", &ok);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    *ret_ok = ok;
    *ret_coord = co;
    return 0;
}

int cairn__serfrpc_decode_stats(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                cairn_serfrpc_stat **ret, size_t *ret_n, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nsec;
    size_t count = 0;
    cairn_serfrpc_stat *st = NULL;
    cairn__ipc_cur_init(&c, p, n, "stats reply", diag);
    if (!cairn__ipc_read_map(&c, "body", 64, &nsec))
        return c.err;
    /* Every entry costs at least 2 input bytes: the total is bounded. */
    size_t cap = CAIRN_SERFRPC_MAX_STATS;
    st = cairn__wire_arena_alloc(a, cap * sizeof *st);
    if (st == NULL)
        return cairn__ipc_fail(&c, CAIRN_ENOMEM, "stats: out of memory");
    for (uint32_t i = 0; i < nsec && c.err == 0; i++) {
        const char *section;
        uint32_t nk;
        if (!read_cstr(&c, a, "section name", CAIRN_SERFRPC_MAX_STRING, &section) ||
            !cairn__ipc_read_map(&c, "section", CAIRN_SERFRPC_MAX_STATS, &nk))
            break;
        for (uint32_t j = 0; j < nk && c.err == 0; j++) {
            if (count == cap) {
                cairn__ipc_fail(&c, CAIRN_ELIMIT, "more than %zu entries", cap);
                break;
            }
            st[count].section = section;
            if (read_cstr(&c, a, "key", CAIRN_SERFRPC_MAX_STRING, &st[count].key) &&
                read_cstr(&c, a, "value", CAIRN_SERFRPC_MAX_STRING * 8, &st[count].value))
                count++;
        }
    }
    if (c.err != 0)
        return c.err;
    *ret = st;
    *ret_n = count;
    return 0;
}

int cairn__serfrpc_decode_record(const uint8_t *p, size_t n, cairn_wire_arena *a, cairn_event *ret,
                                 cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    cairn_event ev;
    const char *type = "";
    cairn_member *ms = NULL;
    size_t nms = 0;
    memset(&ev, 0, sizeof ev);
    cairn__ipc_cur_init(&c, p, n, "stream record", diag);
    if (!cairn__ipc_read_map(&c, "record", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Event")) {
            read_cstr(&c, a, "Event", 64, &type);
        } else if (cairn__mp_key_is(k, "Members")) {
            read_member_array(&c, a, &ms, &nms);
        } else if (cairn__mp_key_is(k, "Name")) {
            read_cstr(&c, a, "Name", CAIRN_SERFRPC_MAX_STRING, &ev.name);
        } else if (cairn__mp_key_is(k, "LTime")) {
            cairn__ipc_read_uint(&c, "LTime", UINT64_MAX, &ev.ltime);
        } else if (cairn__mp_key_is(k, "Coalesce")) {
            cairn__ipc_read_bool(&c, "Coalesce", &ev.coalesce);
        } else if (cairn__mp_key_is(k, "ID")) {
            cairn__ipc_read_uint(&c, "ID", UINT64_MAX, &ev.query_id);
        } else if (cairn__mp_key_is(k, "Payload")) {
            cairn__ipc_read_bytes(&c, "Payload", CAIRN_SERFRPC_MAX_PAYLOAD, NULL, &ev.payload,
                                  &ev.payload_len);
        } else {
            cairn__ipc_skip(&c);
        }
    }
    if (c.err != 0)
        return c.err;
    ev.type = cairn_event_type_parse(type);
    if (ev.type < 0)
        return cairn__ipc_fail(&c, CAIRN_EPROTO, "Event \"%s\" is unknown", type);
    if (ev.payload_len > 0) {
        uint8_t *copy = cairn__wire_arena_alloc(a, ev.payload_len);
        if (copy == NULL)
            return cairn__ipc_fail(&c, CAIRN_ENOMEM, "Payload: out of memory");
        memcpy(copy, ev.payload, ev.payload_len);
        ev.payload = copy;
    } else {
        ev.payload = NULL;
    }
    ev.members = ms;
    ev.nmembers = nms;
    *ret = ev;
    return 0;
}

/* read_int32: a Go int that must fit an int32 (counts of nodes). */
static bool read_int32(ipc_cur *c, const char *field, int32_t *out)
{
    uint64_t v;
    if (!cairn__ipc_read_uint(c, field, INT32_MAX, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

/* read_key_counts: Keys map[string]int into the arena. */
static bool read_key_counts(ipc_cur *c, cairn_wire_arena *a, cairn_serfrpc_keys *k)
{
    uint32_t n;
    if (cairn__ipc_read_nil(c))
        return true;
    if (!cairn__ipc_read_map(c, "Keys", CAIRN_SERFRPC_MAX_KEY_ENTRIES, &n))
        return false;
    cairn_serfrpc_key_count *kc = NULL;
    if (n > 0 && (kc = cairn__wire_arena_alloc(a, (size_t)n * sizeof *kc)) == NULL)
        return cairn__ipc_fail(c, CAIRN_ENOMEM, "Keys: out of memory"), false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_cstr(c, a, "Keys key", CAIRN_SERFRPC_MAX_STRING, &kc[i].key) ||
            !read_int32(c, "Keys count", &kc[i].count))
            return false;
    k->keys = kc;
    k->nkeys = n;
    return true;
}

/* read_messages: Messages map[string]string into the arena. */
static bool read_messages(ipc_cur *c, cairn_wire_arena *a, cairn_serfrpc_keys *k)
{
    uint32_t n;
    if (cairn__ipc_read_nil(c))
        return true;
    if (!cairn__ipc_read_map(c, "Messages", CAIRN_SERFRPC_MAX_KEY_ENTRIES, &n))
        return false;
    cairn_serfrpc_node_message *m = NULL;
    if (n > 0 && (m = cairn__wire_arena_alloc(a, (size_t)n * sizeof *m)) == NULL)
        return cairn__ipc_fail(c, CAIRN_ENOMEM, "Messages: out of memory"), false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_cstr(c, a, "Messages node", CAIRN_NAME_MAX, &m[i].node) ||
            !read_cstr(c, a, "Messages message", CAIRN_SERFRPC_MAX_ERROR, &m[i].message))
            return false;
    k->messages = m;
    k->nmessages = n;
    return true;
}

int cairn__serfrpc_decode_keys(const uint8_t *p, size_t n, cairn_wire_arena *a,
                               cairn_serfrpc_keys *ret, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    cairn_serfrpc_keys k;
    memset(&k, 0, sizeof k);
    cairn__ipc_cur_init(&c, p, n, "key reply", diag);
    if (!cairn__ipc_read_map(&c, "body", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span key;
        if (!cairn__ipc_read_key(&c, &key))
            break;
        if (cairn__mp_key_is(key, "Keys"))
            read_key_counts(&c, a, &k);
        else if (cairn__mp_key_is(key, "Messages"))
            read_messages(&c, a, &k);
        else if (cairn__mp_key_is(key, "NumErr"))
            read_int32(&c, "NumErr", &k.num_err);
        else if (cairn__mp_key_is(key, "NumNodes"))
            read_int32(&c, "NumNodes", &k.num_nodes);
        else if (cairn__mp_key_is(key, "NumResp"))
            read_int32(&c, "NumResp", &k.num_resp);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    *ret = k;
    return 0;
}

int cairn__serfrpc_decode_query_record(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                       cairn_serfrpc_query_record *ret, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    const char *type = "";
    cairn_serfrpc_query_record r = {.type = 0, .from = "", .payload = NULL, .payload_len = 0};
    cairn__ipc_cur_init(&c, p, n, "query record", diag);
    if (!cairn__ipc_read_map(&c, "record", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "From"))
            read_cstr(&c, a, "From", CAIRN_NAME_MAX, &r.from);
        else if (cairn__mp_key_is(k, "Type"))
            read_cstr(&c, a, "Type", 32, &type);
        else if (cairn__mp_key_is(k, "Payload"))
            cairn__ipc_read_bytes(&c, "Payload", CAIRN_SERFRPC_MAX_PAYLOAD, NULL, &r.payload,
                                  &r.payload_len);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    if (strcmp(type, "ack") == 0)
        r.type = CAIRN_SERFRPC_QUERY_ACK;
    else if (strcmp(type, "response") == 0)
        r.type = CAIRN_SERFRPC_QUERY_RESPONSE;
    else if (strcmp(type, "done") == 0)
        r.type = CAIRN_SERFRPC_QUERY_DONE;
    else
        return cairn__ipc_fail(&c, CAIRN_EPROTO, "Type \"%s\" is unknown", type);
    if (r.payload_len > 0) {
        uint8_t *copy = cairn__wire_arena_alloc(a, r.payload_len);
        if (copy == NULL)
            return cairn__ipc_fail(&c, CAIRN_ENOMEM, "Payload: out of memory");
        memcpy(copy, r.payload, r.payload_len);
        r.payload = copy;
    } else {
        r.payload = NULL;
    }
    *ret = r;
    return 0;
}

int cairn__serfrpc_decode_log(const uint8_t *p, size_t n, cairn_wire_arena *a,
                              const char **ret_line, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nk;
    const char *line = "";
    cairn__ipc_cur_init(&c, p, n, "monitor record", diag);
    if (!cairn__ipc_read_map(&c, "record", 16, &nk))
        return c.err;
    for (uint32_t i = 0; i < nk && c.err == 0; i++) {
        cairn_span k;
        if (!cairn__ipc_read_key(&c, &k))
            break;
        if (cairn__mp_key_is(k, "Log"))
            read_cstr(&c, a, "Log", CAIRN_SERFRPC_MAX_LOG_LINE, &line);
        else
            cairn__ipc_skip(&c);
    }
    if (c.err != 0)
        return c.err;
    *ret_line = line;
    return 0;
}

int cairn__serfrpc_decode_stat_sections(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                        const char ***ret, size_t *ret_n, cairn_diag *diag)
{
    ipc_cur c;
    uint32_t nsec;
    const char **names = NULL;
    cairn__ipc_cur_init(&c, p, n, "stats reply", diag);
    if (!cairn__ipc_read_map(&c, "body", 64, &nsec))
        return c.err;
    if (nsec > 0 && (names = cairn__wire_arena_alloc(a, nsec * sizeof *names)) == NULL)
        return cairn__ipc_fail(&c, CAIRN_ENOMEM, "stats: out of memory");
    for (uint32_t i = 0; i < nsec && c.err == 0; i++)
        if (read_cstr(&c, a, "section name", CAIRN_SERFRPC_MAX_STRING, &names[i]))
            cairn__ipc_skip(&c);
    if (c.err != 0)
        return c.err;
    *ret = names;
    *ret_n = nsec;
    return 0;
}
