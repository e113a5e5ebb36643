/* Internal queries, name-conflict resolution and the key manager (Go:
 * internal_query.go serfQueries, serf.go handleNodeConflict /
 * resolveNodeConflict, keymanager.go KeyManager).
 *
 * Queries named "_serf_..." are consumed here and never reach the
 * application: _serf_ping only acks (query.c sends the ack), _serf_conflict
 * answers with our view of the named member ([06] + Member, or [06] nil
 * when unknown; no answer when it is about us), and the key queries
 * (_serf_install-key, _serf_use-key, _serf_remove-key, _serf_list-keys)
 * act on the memberlist keyring and answer [08]{Keys, Message, PrimaryKey,
 * Result} with Serf's exact messages, list-keys truncated to fit the
 * response size limit the way Serf does it.
 *
 * When memberlist reports another address claiming our name, we run
 * _serf_conflict with our name: every other node answers with the address
 * it knows for that name; unless at least responses/2 + 1 of them name our
 * address, we lost and shut down (state CAIRN_SERF_SHUTDOWN, memberlist
 * stopped, logged, stats.conflicts_lost).
 *
 * The key manager runs a key query across the cluster and reports, once,
 * per-node results and key counts, as soon as every member answered or at
 * the deadline (Go: KeyManager.handleKeyRequest / streamKeyResp).
 *
 * Departures: Go starts one resolution per conflicting alive message; cairn
 * runs one at a time (the others are counted in name_conflicts only). Go's
 * Shutdown also closes the agent; cairn stops the serf's memberlist and
 * leaves deleting the serf to the application, which sees the state.
 * There is no keyring file to write here: a successful change calls
 * cfg.keyring_changed_cb and the agent writes the file.
 */
#include "serf/serf_internal.h"

#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "cairn/keyring.h"

#define Q_PING     "_serf_ping"
#define Q_CONFLICT "_serf_conflict"
#define Q_INSTALL  "_serf_install-key"
#define Q_USE      "_serf_use-key"
#define Q_REMOVE   "_serf_remove-key"
#define Q_LIST     "_serf_list-keys"
/* Go's minEncodedKeyLength: the first cut of a too-long key list is
 * QueryResponseSizeLimit / 25 keys. */
#define MIN_ENCODED_KEY_LEN 25
/* Longest base64 text of a key (32 bytes -> 44 characters). */
#define B64_KEY_MAX 48

/* ---- answering internal queries ---- */

static void handle_conflict(cairn_serf *s, const struct serf_rx_query *q)
{
    size_t n = strlen(s->cfg.memberlist.name);
    if (q->len == n && memcmp(q->payload, s->cfg.memberlist.name, n) == 0)
        return;
    char name[CAIRN_NAME_MAX + 1];
    struct serf_member *m = NULL;
    if (q->len > 0 && q->len <= CAIRN_NAME_MAX && !memchr(q->payload, 0, q->len)) {
        memcpy(name, q->payload, q->len);
        name[q->len] = 0;
        m = cairn__serf_find(s, name);
    }
    cairn_wire_serf_conflict_response r = {.present = m != NULL};
    cairn_wire_tag *tags = NULL;
    if (m) {
        tags = cairn_calloc(m->ntags ? m->ntags : 1, sizeof(*tags));
        if (tags == NULL)
            return;
        for (size_t i = 0; i < m->ntags; i++)
            tags[i] = (cairn_wire_tag){cairn__span_str(m->tags[i].key),
                                       cairn__span_str(m->tags[i].value)};
        r.member = (cairn_wire_serf_member){
            .addr = {m->addr.ip, m->addr.family == 6 ? 16 : 4},
            .delegate_cur = m->dcur,
            .delegate_max = m->dmax,
            .delegate_min = m->dmin,
            .name = cairn__span_str(m->name),
            .port = m->addr.port,
            .protocol_cur = m->pcur,
            .protocol_max = m->pmax,
            .protocol_min = m->pmin,
            .status = m->status,
            .tags = tags,
            .n_tags = m->ntags,
        };
    }
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    if (cairn__wire_serf_conflict_response_encode(&r, &b, NULL) == 0 && q->handle)
        (void)cairn__serf_respond(s, q->handle, b.data, b.len);
    cairn_buf_destroy(&b);
    cairn_free(tags);
}

static bool encryption_enabled(const cairn_serf *s)
{
    return s->keyring && cairn_keyring_count(s->keyring) > 0;
}

/* Answers with r (keys as base64 strings in keys[0..n)). */
static int key_respond(cairn_serf *s, const struct serf_rx_query *q, bool result,
                       const char *message, char (*keys)[B64_KEY_MAX], size_t n,
                       const char *primary)
{
    cairn_span spans[CAIRN_KEYRING_MAX_KEYS];
    for (size_t i = 0; i < n; i++)
        spans[i] = cairn__span_str(keys[i]);
    cairn_wire_serf_key_response r = {.keys = n ? spans : NULL,
                                      .n_keys = n,
                                      .message = cairn__span_str(message ? message : ""),
                                      .primary_key = cairn__span_str(primary ? primary : ""),
                                      .result = result};
    cairn_buf b;
    cairn_buf_init(&b, 64 * 1024);
    int rc = cairn__wire_serf_key_response_encode(&r, &b, NULL);
    if (rc == 0)
        rc = q->handle ? cairn__serf_respond(s, q->handle, b.data, b.len) : CAIRN_ENOENT;
    cairn_buf_destroy(&b);
    return rc;
}

static void handle_list_keys(cairn_serf *s, const struct serf_rx_query *q)
{
    if (!encryption_enabled(s)) {
        cairn__serf_log(s, CAIRN_LOG_ERROR, "Keyring is empty (encryption not enabled)");
        (void)key_respond(s, q, false, "Keyring is empty (encryption not enabled)", NULL, 0, NULL);
        return;
    }
    cairn__serf_log(s, CAIRN_LOG_INFO, "Received list-keys query");
    char keys[CAIRN_KEYRING_MAX_KEYS][B64_KEY_MAX];
    char primary[B64_KEY_MAX] = "";
    size_t n = cairn_keyring_count(s->keyring), actual = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k;
        size_t len;
        if (cairn_keyring_key(s->keyring, i, &k, &len) == 0)
            cairn__base64_encode(k, len, keys[i]);
    }
    memcpy(primary, keys[0], B64_KEY_MAX);
    /* Serf: try the whole list, then cut it to limit/25 keys, then one key
     * fewer each time, saying so in Message. */
    char msg[96] = "";
    for (size_t i = s->cfg.query_response_size_limit / MIN_ENCODED_KEY_LEN + 1; i-- > 0;) {
        int rc = key_respond(s, q, true, msg, keys, n, primary);
        if (rc != CAIRN_ELIMIT) {
            if (actual > n)
                cairn__serf_log(s, CAIRN_LOG_WARN, "%s", msg);
            return;
        }
        n = n < i ? n : i;
        snprintf(msg, sizeof(msg), "truncated key list response, showing first %zu of %zu keys", i,
                 actual);
    }
    cairn__serf_log(s, CAIRN_LOG_ERROR, "Failed to truncate response so that it fits into message");
}

static void handle_key_change(cairn_serf *s, const struct serf_rx_query *q, int op)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 4096);
    cairn_wire_serf_key_request req;
    const char *msg = NULL;
    bool ok = false;
    if (cairn__wire_serf_key_request_decode(q->payload, q->len, &a, NULL, &req) < 0) {
        cairn__serf_log(s, CAIRN_LOG_ERROR, "Failed to decode key request");
    } else if (!encryption_enabled(s)) {
        msg = "No keyring to modify (encryption not enabled)";
        cairn__serf_log(s, CAIRN_LOG_ERROR, "%s", msg);
    } else {
        static const char *const what[] = {"install-key", "use-key", "remove-key"};
        cairn__serf_log(s, CAIRN_LOG_INFO, "Received %s query", what[op]);
        int rc = op == 0   ? cairn_keyring_add(s->keyring, req.key.p, req.key.len)
                 : op == 1 ? cairn_keyring_use(s->keyring, req.key.p, req.key.len)
                           : cairn_keyring_remove(s->keyring, req.key.p, req.key.len);
        ok = rc == 0;
        if (rc == CAIRN_EINVAL)
            msg = "key size must be 16, 24 or 32 bytes";
        else if (rc == CAIRN_ENOENT && op == 1)
            msg = "Requested key is not in the keyring";
        else if (rc == CAIRN_EBUSY)
            msg = "Removing the primary key is not allowed";
        else if (rc < 0)
            msg = cairn_strerror(rc);
        if (msg)
            cairn__serf_log(s, CAIRN_LOG_ERROR, "Failed to %s: %s", what[op], msg);
    }
    /* Serf writes its keyring file before answering. */
    if (ok && s->cfg.keyring_changed_cb)
        s->cfg.keyring_changed_cb(s, s->cfg.keyring_changed_userdata);
    (void)key_respond(s, q, ok, msg, NULL, 0, NULL);
    cairn__wire_arena_destroy(&a);
}

void cairn__serf_internal_query(cairn_serf *s, const struct serf_rx_query *q)
{
    if (strcmp(q->name, Q_PING) == 0)
        return;
    if (strcmp(q->name, Q_CONFLICT) == 0)
        handle_conflict(s, q);
    else if (strcmp(q->name, Q_INSTALL) == 0)
        handle_key_change(s, q, 0);
    else if (strcmp(q->name, Q_USE) == 0)
        handle_key_change(s, q, 1);
    else if (strcmp(q->name, Q_REMOVE) == 0)
        handle_key_change(s, q, 2);
    else if (strcmp(q->name, Q_LIST) == 0)
        handle_list_keys(s, q);
    else
        cairn__serf_log(s, CAIRN_LOG_WARN, "Unhandled internal query '%s'", q->name);
}

/* ---- name-conflict resolution ---- */

struct conflict_ctx {
    cairn_serf *s;
    cairn_addr local;
    size_t responses, matching;
};

static void on_conflict_reply(cairn_serf_query_handle *q, const cairn_serf_query_result *r,
                              void *ud)
{
    (void)q;
    struct conflict_ctx *c = ud;
    cairn_serf *s = c->s;
    if (r->kind == CAIRN_SERF_QUERY_RESPONSE) {
        cairn_wire_arena a;
        cairn__wire_arena_init(&a, 64 * 1024);
        cairn_wire_serf_conflict_response cr;
        if (r->payload_len < 1 || r->payload[0] != CAIRN_WIRE_SERF_CONFLICT_RESPONSE)
            cairn__serf_log(s, CAIRN_LOG_ERROR, "Invalid conflict query response type");
        else if (cairn__wire_serf_conflict_response_decode(r->payload, r->payload_len, &a, NULL,
                                                           &cr) < 0)
            cairn__serf_log(s, CAIRN_LOG_ERROR, "Failed to decode conflict query response");
        else {
            cairn_addr got;
            c->responses++;
            if (cr.present &&
                cairn_addr_from_ip(cr.member.addr.p, cr.member.addr.len, cr.member.port, &got) ==
                    0 &&
                cairn_addr_equal(&got, &c->local))
                c->matching++;
        }
        cairn__wire_arena_destroy(&a);
        return;
    }
    if (r->kind != CAIRN_SERF_QUERY_DONE)
        return;
    s->conflict_running = false;
    if (r->status == 0) {
        size_t majority = c->responses / 2 + 1;
        if (c->matching >= majority)
            cairn__serf_log(s, CAIRN_LOG_INFO, "majority in name conflict resolution [%zu / %zu]",
                            c->matching, c->responses);
        else {
            cairn__serf_log(s, CAIRN_LOG_WARN,
                            "minority in name conflict resolution, quitting [%zu / %zu]",
                            c->matching, c->responses);
            s->stats.conflicts_lost++;
            s->state = CAIRN_SERF_SHUTDOWN;
            cairn_memberlist_delete(s->ml);
            s->ml = NULL;
        }
    }
    cairn_free(c);
}

void cairn__serf_name_conflict(cairn_serf *s, const cairn_ml_node *existing,
                               const cairn_ml_node *other)
{
    char a[CAIRN_ADDR_STRLEN], b[CAIRN_ADDR_STRLEN];
    if (strcmp(existing->name, s->cfg.memberlist.name) != 0) {
        cairn_time now = cairn_loop_now(s->loop);
        if (now < s->conflict_log_next) {
            s->conflict_log_suppressed++;
            return;
        }
        s->conflict_log_next = now + CAIRN_SEC;
        cairn__serf_log(s, CAIRN_LOG_WARN,
                        "Name conflict for '%s' both %s and %s are claiming (%llu similar "
                        "suppressed)",
                        existing->name, cairn_addr_format(&existing->addr, true, a, sizeof(a)),
                        cairn_addr_format(&other->addr, true, b, sizeof(b)),
                        (unsigned long long)s->conflict_log_suppressed);
        s->conflict_log_suppressed = 0;
        return;
    }
    s->stats.name_conflicts++;
    cairn__serf_log(s, CAIRN_LOG_ERROR,
                    "Node name conflicts with another node at %s. Names must be unique! "
                    "(Resolution enabled: %s)",
                    cairn_addr_format(&other->addr, true, b, sizeof(b)),
                    s->cfg.enable_name_conflict_resolution ? "true" : "false");
    if (!s->cfg.enable_name_conflict_resolution || s->conflict_running ||
        s->state != CAIRN_SERF_ALIVE)
        return;
    struct conflict_ctx *c = cairn_calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->s = s;
    c->local = existing->addr;
    const char *self = s->cfg.memberlist.name;
    cairn_serf_query_params p = {
        .name = Q_CONFLICT, .payload = (const uint8_t *)self, .payload_len = strlen(self)};
    if (cairn_serf_query(s, &p, on_conflict_reply, c, NULL) < 0) {
        cairn__serf_log(s, CAIRN_LOG_ERROR, "Failed to start name resolution query");
        cairn_free(c);
        return;
    }
    s->conflict_running = true;
}

/* ---- key manager ---- */

struct key_op {
    cairn_serf *s;
    cairn_serf_key_cb cb;
    void *ud;
    size_t num_nodes, num_resp, num_err;
    cairn_serf_key_node *nodes;
    size_t n_nodes, cap_nodes;
    cairn_serf_key_count *keys, *primary;
    size_t n_keys, n_primary;
    /* Owned strings behind nodes/keys. */
    char **strs;
    size_t n_strs, cap_strs;
};

static char *op_strdup(struct key_op *k, const uint8_t *p, size_t n)
{
    if (k->n_strs == k->cap_strs) {
        size_t cap = k->cap_strs ? 2 * k->cap_strs : 16;
        char **v = cairn_realloc(k->strs, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        k->strs = v;
        k->cap_strs = cap;
    }
    char *c = cairn_malloc(n + 1);
    if (c == NULL)
        return NULL;
    if (n)
        memcpy(c, p, n);
    c[n] = 0;
    k->strs[k->n_strs++] = c;
    return c;
}

/* Counts key in *tab (at most CAIRN_KEYRING_MAX_KEYS * 4 distinct). */
static void count_key(struct key_op *k, cairn_serf_key_count **tab, size_t *n, cairn_span key)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*tab)[i].key) == key.len &&
            (key.len == 0 || memcmp((*tab)[i].key, key.p, key.len) == 0)) {
            (*tab)[i].count++;
            return;
        }
    if (*n >= 4 * CAIRN_KEYRING_MAX_KEYS)
        return;
    cairn_serf_key_count *v = cairn_realloc(*tab, (*n + 1) * sizeof(*v));
    if (v == NULL)
        return;
    *tab = v;
    char *c = op_strdup(k, key.p, key.len);
    if (c)
        v[(*n)++] = (cairn_serf_key_count){c, 1};
}

static void add_node(struct key_op *k, const char *from, bool result, cairn_span msg)
{
    if (k->n_nodes == k->cap_nodes) {
        size_t cap = k->cap_nodes ? 2 * k->cap_nodes : 16;
        cairn_serf_key_node *v = cairn_realloc(k->nodes, cap * sizeof(*v));
        if (v == NULL)
            return;
        k->nodes = v;
        k->cap_nodes = cap;
    }
    const char *f = op_strdup(k, (const uint8_t *)from, strlen(from));
    const char *m = op_strdup(k, msg.p, msg.len);
    if (f && m)
        k->nodes[k->n_nodes++] = (cairn_serf_key_node){f, result, m};
}

static void key_reply(struct key_op *k, const cairn_serf_query_result *r)
{
    static const char bad_type[] = "Invalid key query response type";
    static const char bad_msg[] = "Failed to decode key query response";
    k->num_resp++;
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 64 * 1024);
    cairn_wire_serf_key_response kr;
    if (r->payload_len < 1 || r->payload[0] != CAIRN_WIRE_SERF_KEY_RESPONSE) {
        k->num_err++;
        add_node(k, r->from, false, (cairn_span){(const uint8_t *)bad_type, sizeof(bad_type) - 1});
    } else if (cairn__wire_serf_key_response_decode(r->payload, r->payload_len, &a, NULL, &kr) <
               0) {
        k->num_err++;
        add_node(k, r->from, false, (cairn_span){(const uint8_t *)bad_msg, sizeof(bad_msg) - 1});
    } else {
        k->num_err += !kr.result;
        add_node(k, r->from, kr.result, kr.message);
        for (size_t i = 0; i < kr.n_keys; i++)
            count_key(k, &k->keys, &k->n_keys, kr.keys[i]);
        count_key(k, &k->primary, &k->n_primary, kr.primary_key);
    }
    cairn__wire_arena_destroy(&a);
}

static void key_finish(struct key_op *k, int status)
{
    if (status == 0 && k->num_err)
        status = CAIRN_EREMOTE;
    else if (status == 0 && k->num_resp < k->num_nodes)
        status = CAIRN_ETIMEDOUT;
    cairn_serf_key_response r = {.status = status,
                                 .num_nodes = k->num_nodes,
                                 .num_resp = k->num_resp,
                                 .num_err = k->num_err,
                                 .nodes = k->nodes,
                                 .n_nodes = k->n_nodes,
                                 .keys = k->keys,
                                 .n_keys = k->n_keys,
                                 .primary_keys = k->primary,
                                 .n_primary_keys = k->n_primary};
    if (k->cb)
        k->cb(k->s, &r, k->ud);
    for (size_t i = 0; i < k->n_strs; i++)
        cairn_free(k->strs[i]);
    cairn_free(k->strs);
    cairn_free(k->nodes);
    cairn_free(k->keys);
    cairn_free(k->primary);
    cairn_free(k);
}

static void on_key_reply(cairn_serf_query_handle *q, const cairn_serf_query_result *r, void *ud)
{
    struct key_op *k = ud;
    k->num_nodes = r->num_nodes;
    if (r->kind == CAIRN_SERF_QUERY_DONE) {
        key_finish(k, r->status);
        return;
    }
    if (r->kind != CAIRN_SERF_QUERY_RESPONSE)
        return;
    key_reply(k, r);
    if (k->num_resp >= k->num_nodes) {
        cairn_serf_query_cancel(q);
        key_finish(k, 0);
    }
}

static int key_query(cairn_serf *s, const char *qname, const char *key, cairn_serf_key_cb cb,
                     void *ud)
{
    if (s == NULL)
        return CAIRN_EINVAL;
    uint8_t raw[B64_KEY_MAX];
    int n = 0;
    if (key) {
        n = strlen(key) < B64_KEY_MAX ? cairn__base64_decode(key, raw, sizeof(raw)) : -1;
        if (n < 0 || !cairn_keyring_valid_key_len((size_t)n))
            return CAIRN_EINVAL;
    }
    cairn_wire_serf_key_request req = {.key = {raw, (size_t)n}};
    cairn_buf b;
    cairn_buf_init(&b, 256);
    int rc = cairn__wire_serf_key_request_encode(&req, &b, NULL);
    struct key_op *k = rc == 0 ? cairn_calloc(1, sizeof(*k)) : NULL;
    if (rc == 0 && k == NULL)
        rc = CAIRN_ENOMEM;
    if (rc == 0) {
        *k = (struct key_op){.s = s, .cb = cb, .ud = ud};
        cairn_serf_query_params p = {.name = qname, .payload = b.data, .payload_len = b.len};
        rc = cairn_serf_query(s, &p, on_key_reply, k, NULL);
        if (rc < 0)
            cairn_free(k);
    }
    cairn_buf_destroy(&b);
    return rc;
}

int cairn_serf_install_key(cairn_serf *s, const char *key, cairn_serf_key_cb cb, void *userdata)
{
    return key ? key_query(s, Q_INSTALL, key, cb, userdata) : CAIRN_EINVAL;
}

int cairn_serf_use_key(cairn_serf *s, const char *key, cairn_serf_key_cb cb, void *userdata)
{
    return key ? key_query(s, Q_USE, key, cb, userdata) : CAIRN_EINVAL;
}

int cairn_serf_remove_key(cairn_serf *s, const char *key, cairn_serf_key_cb cb, void *userdata)
{
    return key ? key_query(s, Q_REMOVE, key, cb, userdata) : CAIRN_EINVAL;
}

int cairn_serf_list_keys(cairn_serf *s, cairn_serf_key_cb cb, void *userdata)
{
    return key_query(s, Q_LIST, NULL, cb, userdata);
}
