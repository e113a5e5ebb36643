/* The agent's Serf RPC backend: cairn_serfrpc_backend_ops over the
 * agent's cairn_serf (agent/rpc_backend.h).
 *
 * Each op is what Serf's agent does for the command (cmd/serf/command/
 * agent/agent.go and ipc.go): join resolves the "host[:port]" strings
 * through the loop and joins with serf (ignoring old events unless
 * Replay); leave is the agent's graceful leave; tags merge the request
 * into our current tags, delete, then re-announce; queries, keys and
 * coordinates go straight to serf. Error texts are Serf's where the CLI
 * shows them ("user event exceeds configured limit of 512 bytes before
 * encoding", "Encoded length of tags exceeds limit of 512 bytes",
 * "%d/%d nodes reported failure").
 */
#include "agent/rpc_backend.h"

#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/memberlist.h"
#include "cairn/serf.h"

/* How long one join address may take to resolve. */
#define RPC_RESOLVE_TIMEOUT (10 * CAIRN_SEC)
/* Serf's user event limit (name + payload). */
#define RPC_USER_EVENT_LIMIT 512

struct join_ctx {
    cairn_agent_rpc *r;
    struct join_ctx *prev, *next;
    cairn_resolve_hosts *req;
    bool replay;
    cairn_serfrpc_done_fn done;
    void *ctx;
};

struct query_ctx {
    cairn_serf_query_handle *q;
    cairn_serfrpc_query_fn fn;
    void *ctx;
};

struct key_ctx {
    cairn_serfrpc_key_fn fn;
    void *ctx;
};

struct cairn_agent_rpc {
    cairn_loop *loop;
    cairn_agent *agent;
    cairn_serfrpc_server *srv;
    cairn_agent_rpc_config cfg;
    struct join_ctx *joins;
    bool leaving;
};

static cairn_serf *serf_of(void *impl)
{
    return cairn_agent_serf(((cairn_agent_rpc *)impl)->agent);
}

static const char *self_name(cairn_agent_rpc *r)
{
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_agent_memberlist(r->agent), &me);
    return me.name;
}

static int op_members(void *impl, cairn_member_cb fn, void *ud)
{
    return cairn_serf_for_each_member(serf_of(impl), fn, ud);
}

/* ---- join ---- */

static void join_unlink(struct join_ctx *j)
{
    if (!j->r)
        return;
    if (j->prev)
        j->prev->next = j->next;
    else
        j->r->joins = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->r = NULL;
}

static void on_serf_joined(cairn_serf *s, int status, int count, void *ud)
{
    struct join_ctx *j = ud;
    char err[256] = "";
    (void)s;
    if (status < 0)
        snprintf(err, sizeof err, "1 error occurred:\n\t* Failed to join: %s\n\n",
                 cairn_strerror(status));
    j->done(j->ctx, err, status < 0 ? 0 : count);
    cairn_free(j);
}

static void on_resolved(cairn_resolve_hosts *req, int status, const cairn_addr *addrs, size_t n,
                        size_t failed, const char *first_failed, int first_err, void *ud)
{
    struct join_ctx *j = ud;
    cairn_agent_rpc *r = j->r;
    (void)req;
    (void)failed;
    join_unlink(j);
    char err[512];
    if (status < 0 || n == 0) {
        snprintf(err, sizeof err, "1 error occurred:\n\t* Failed to resolve %s: %s\n\n",
                 first_failed ? first_failed : "?", cairn_strerror(first_err ? first_err : status));
        j->done(j->ctx, err, 0);
        cairn_free(j);
        return;
    }
    int rc = cairn_serf_join(cairn_agent_serf(r->agent), addrs, n, !j->replay, on_serf_joined, j);
    if (rc < 0)
        on_serf_joined(NULL, rc, 0, j);
}

static int op_join(void *impl, const char *const *addrs, size_t n, bool replay,
                   cairn_serfrpc_done_fn done, void *ctx, cairn_diag *diag)
{
    cairn_agent_rpc *r = impl;
    if (n == 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "no addresses to join");
    struct join_ctx *j = cairn_calloc(1, sizeof *j);
    if (!j)
        return CAIRN_ENOMEM;
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_agent_memberlist(r->agent), &me);
    j->r = r;
    j->replay = replay;
    j->done = done;
    j->ctx = ctx;
    j->next = r->joins;
    if (r->joins)
        r->joins->prev = j;
    r->joins = j;
    int rc = cairn_resolve_hosts_start(r->loop, addrs, n, me.addr.port ? me.addr.port : 7946,
                                       RPC_RESOLVE_TIMEOUT, on_resolved, j, &j->req, diag);
    if (rc < 0) {
        join_unlink(j);
        cairn_free(j);
    }
    return rc;
}

/* ---- leave ---- */

struct leave_ctx {
    cairn_agent_rpc *r;
    cairn_serfrpc_done_fn done;
    void *ctx;
};

static void on_agent_left(cairn_agent *a, int status, int count, void *ud)
{
    struct leave_ctx *l = ud;
    (void)a;
    (void)count;
    l->done(l->ctx, status < 0 ? cairn_strerror(status) : "", 0);
    if (status == 0 && l->r->cfg.on_left)
        l->r->cfg.on_left(l->r->cfg.userdata);
    cairn_free(l);
}

static int op_leave(void *impl, cairn_serfrpc_done_fn done, void *ctx, cairn_diag *diag)
{
    cairn_agent_rpc *r = impl;
    struct leave_ctx *l = cairn_calloc(1, sizeof *l);
    if (!l)
        return CAIRN_ENOMEM;
    *l = (struct leave_ctx){r, done, ctx};
    int rc = cairn_agent_leave(r->agent, on_agent_left, l);
    if (rc < 0) {
        cairn_free(l);
        return cairn_diag_set(diag, rc, "%s",
                              rc == CAIRN_EBUSY ? "Leave already in progress" : cairn_strerror(rc));
    }
    return 0;
}

/* ---- simple ops ---- */

static int op_force_leave(void *impl, const char *node, bool prune, cairn_diag *diag)
{
    int rc = cairn_serf_force_leave(serf_of(impl), node, prune);
    if (rc == CAIRN_EINVAL)
        return 0; /* Serf: an unknown or empty node is no error */
    return rc < 0 ? cairn_diag_set(diag, rc, "%s", cairn_strerror(rc)) : 0;
}

static int op_user_event(void *impl, const char *name, const uint8_t *payload, size_t len,
                         bool coalesce, cairn_diag *diag)
{
    if (strlen(name) + len > RPC_USER_EVENT_LIMIT)
        return cairn_diag_set(diag, CAIRN_ELIMIT,
                              "user event exceeds configured limit of %d bytes before encoding",
                              RPC_USER_EVENT_LIMIT);
    return cairn_serf_user_event(serf_of(impl), name, payload, len, coalesce, diag);
}

struct tag_copy {
    cairn_tag tags[CAIRN_AGENT_META_TAGS + 1];
    char text[4 * CAIRN_ML_META_MAX];
    size_t n, used;
    bool ok;
};

static const char *tc_dup(struct tag_copy *t, const char *s)
{
    size_t n = strlen(s) + 1;
    if (t->used + n > sizeof t->text)
        return NULL;
    char *d = t->text + t->used;
    memcpy(d, s, n);
    t->used += n;
    return d;
}

static bool copy_own_tags(const cairn_member *m, void *ud)
{
    struct tag_copy *t = ud;
    t->ok = true;
    for (size_t i = 0; i < m->ntags && t->n < CAIRN_AGENT_META_TAGS; i++) {
        t->tags[t->n].key = tc_dup(t, m->tags[i].key);
        t->tags[t->n].value = tc_dup(t, m->tags[i].value);
        if (t->tags[t->n].key && t->tags[t->n].value)
            t->n++;
    }
    return false;
}

static int op_update_tags(void *impl, const cairn_tag *set, size_t nset, const char *const *del,
                          size_t ndel, cairn_diag *diag)
{
    cairn_agent_rpc *r = impl;
    struct tag_copy *t = cairn_calloc(1, sizeof *t);
    if (!t)
        return CAIRN_ENOMEM;
    cairn_serf_get_member(serf_of(impl), self_name(r), copy_own_tags, t);
    /* Merge in the new values, then delete (Serf's order). */
    cairn_tag *all = cairn_calloc(t->n + nset + 1, sizeof *all);
    int rc = CAIRN_ENOMEM;
    if (!all)
        goto out;
    size_t n = t->n;
    memcpy(all, t->tags, t->n * sizeof *all);
    for (size_t i = 0; i < nset; i++) {
        size_t k = 0;
        while (k < n && strcmp(all[k].key, set[i].key) != 0)
            k++;
        all[k] = set[i];
        if (k == n)
            n++;
    }
    for (size_t i = 0; i < ndel; i++)
        for (size_t k = 0; k < n; k++)
            if (strcmp(all[k].key, del[i]) == 0) {
                all[k] = all[--n];
                break;
            }
    cairn_diag d = {0};
    rc = cairn_serf_set_tags(serf_of(impl), all, n, &d);
    if (rc == CAIRN_ELIMIT)
        cairn_diag_set(diag, rc, "Encoded length of tags exceeds limit of %d bytes",
                       CAIRN_ML_META_MAX);
    else if (rc < 0)
        cairn_diag_set(diag, rc, "%s", d.msg[0] ? d.msg : cairn_strerror(rc));
out:
    cairn_free(all);
    cairn_free(t);
    return rc;
}

/* ---- queries ---- */

static void on_query(cairn_serf_query_handle *q, const cairn_serf_query_result *res, void *ud)
{
    struct query_ctx *qc = ud;
    (void)q;
    int kind = res->kind == CAIRN_SERF_QUERY_ACK        ? CAIRN_SERFRPC_QUERY_ACK
               : res->kind == CAIRN_SERF_QUERY_RESPONSE ? CAIRN_SERFRPC_QUERY_RESPONSE
                                                        : CAIRN_SERFRPC_QUERY_DONE;
    qc->fn(qc->ctx, kind, res->from, res->payload, res->payload_len);
    if (kind == CAIRN_SERFRPC_QUERY_DONE)
        cairn_free(qc);
}

static int op_query(void *impl, const cairn_serfrpc_query_req *q, cairn_serfrpc_query_fn cb,
                    void *ctx, void **ret_handle, cairn_diag *diag)
{
    struct query_ctx *qc = cairn_calloc(1, sizeof *qc);
    if (!qc)
        return CAIRN_ENOMEM;
    qc->fn = cb;
    qc->ctx = ctx;
    cairn_serf_query_params p = {
        .name = q->name,
        .payload = q->payload,
        .payload_len = q->payload_len,
        .filter_nodes = q->filter_nodes,
        .n_filter_nodes = q->n_filter_nodes,
        .filter_tags = q->filter_tags,
        .n_filter_tags = q->n_filter_tags,
        .request_ack = q->request_ack,
        .relay_factor = q->relay_factor,
        .timeout = q->timeout > 0 ? (cairn_time)q->timeout : 0,
    };
    *ret_handle = qc;
    int rc = cairn_serf_query(serf_of(impl), &p, on_query, qc, &qc->q);
    if (rc < 0) {
        cairn_free(qc);
        *ret_handle = NULL;
        if (rc == CAIRN_ELIMIT)
            return cairn_diag_set(diag, rc, "query exceeds limit of 1024 bytes");
        return cairn_diag_set(diag, rc, "%s", cairn_strerror(rc));
    }
    return 0;
}

static void op_query_cancel(void *impl, void *handle)
{
    struct query_ctx *qc = handle;
    (void)impl;
    if (!qc)
        return;
    cairn_serf_query_cancel(qc->q);
    cairn_free(qc);
}

/* ---- keys ---- */

static void on_keys(cairn_serf *s, const cairn_serf_key_response *r, void *ud)
{
    struct key_ctx *k = ud;
    (void)s;
    char err[128] = "";
    if (r->num_err)
        snprintf(err, sizeof err, "%zu/%zu nodes reported failure", r->num_err, r->num_nodes);
    else if (r->num_resp != r->num_nodes)
        snprintf(err, sizeof err, "%zu/%zu nodes reported success", r->num_resp, r->num_nodes);
    cairn_tag *msgs = cairn_calloc(r->n_nodes + 1, sizeof *msgs);
    const char **keys = cairn_calloc(r->n_keys + 1, sizeof *keys);
    int64_t *counts = cairn_calloc(r->n_keys + 1, sizeof *counts);
    cairn_serfrpc_key_result out = {
        .error = err,
        .num_nodes = (int64_t)r->num_nodes,
        .num_resp = (int64_t)r->num_resp,
        .num_err = (int64_t)r->num_err,
    };
    if (msgs && keys && counts) {
        for (size_t i = 0; i < r->n_nodes; i++)
            if (!r->nodes[i].result || (r->nodes[i].message && r->nodes[i].message[0]))
                msgs[out.n_messages++] =
                    (cairn_tag){r->nodes[i].from, r->nodes[i].message ? r->nodes[i].message : ""};
        for (size_t i = 0; i < r->n_keys; i++) {
            keys[i] = r->keys[i].key;
            counts[i] = (int64_t)r->keys[i].count;
        }
        out.messages = msgs;
        out.keys = keys;
        out.key_counts = counts;
        out.n_keys = r->n_keys;
    }
    k->fn(k->ctx, &out);
    cairn_free(msgs);
    cairn_free(keys);
    cairn_free(counts);
    cairn_free(k);
}

static int op_key(void *impl, int op, const char *key, cairn_serfrpc_key_fn cb, void *ctx,
                  cairn_diag *diag)
{
    struct key_ctx *k = cairn_calloc(1, sizeof *k);
    if (!k)
        return CAIRN_ENOMEM;
    k->fn = cb;
    k->ctx = ctx;
    cairn_serf *s = serf_of(impl);
    int rc;
    switch (op) {
    case CAIRN_SERFRPC_KEY_INSTALL:
        rc = cairn_serf_install_key(s, key, on_keys, k);
        break;
    case CAIRN_SERFRPC_KEY_USE:
        rc = cairn_serf_use_key(s, key, on_keys, k);
        break;
    case CAIRN_SERFRPC_KEY_REMOVE:
        rc = cairn_serf_remove_key(s, key, on_keys, k);
        break;
    default:
        rc = cairn_serf_list_keys(s, on_keys, k);
        break;
    }
    if (rc < 0) {
        cairn_free(k);
        if (rc == CAIRN_EINVAL)
            return cairn_diag_set(diag, rc, "illegal base64 data at input byte 0");
        return cairn_diag_set(diag, rc, "%s", cairn_strerror(rc));
    }
    return 0;
}

/* ---- stats and coordinates ---- */

static void stat_u(cairn_serfrpc_stat_fn fn, void *ud, const char *sec, const char *key,
                   unsigned long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", v);
    fn(ud, sec, key, b);
}

struct stat_tags {
    cairn_serfrpc_stat_fn fn;
    void *ud;
};

static bool emit_own_tags(const cairn_member *m, void *ud)
{
    struct stat_tags *st = ud;
    for (size_t i = 0; i < m->ntags; i++)
        st->fn(st->ud, "tags", m->tags[i].key, m->tags[i].value);
    return false;
}

/* event_handlers: Serf's "EVENT:NAME" keys ("member-join:", "*:",
 * "user:deploy"), one per item of each handler's filter. */
static void emit_handlers(cairn_agent_rpc *r, cairn_serfrpc_stat_fn fn, void *ud)
{
    size_t n = 0;
    for (size_t i = 0; i < r->cfg.n_handlers; i++) {
        const char *spec = r->cfg.handlers[i];
        const char *eq = strchr(spec, '=');
        const char *filter = eq && eq != spec ? spec : "*";
        size_t flen = eq && eq != spec ? (size_t)(eq - spec) : 1;
        const char *script = eq ? eq + 1 : spec;
        for (const char *p = filter; p < filter + flen;) {
            const char *comma = memchr(p, ',', (size_t)(filter + flen - p));
            size_t len = comma ? (size_t)(comma - p) : (size_t)(filter + flen - p);
            char key[256];
            bool named = memchr(p, ':', len) != NULL;
            snprintf(key, sizeof key, "%.*s%s", (int)(len > 200 ? 200 : len), p, named ? "" : ":");
            fn(ud, "event_handlers", key, script);
            n++;
            p += len + (comma ? 1 : 0);
        }
    }
    if (n == 0)
        fn(ud, "event_handlers", "", ""); /* an empty section */
}

static void op_stats(void *impl, cairn_serfrpc_stat_fn fn, void *ud)
{
    cairn_agent_rpc *r = impl;
    cairn_serf *s = serf_of(impl);
    cairn_serf_stats ss;
    cairn_serf_get_stats(s, &ss);
    fn(ud, "agent", "name", self_name(r));
    fn(ud, "runtime", "os", "linux");
#if defined(__x86_64__)
    fn(ud, "runtime", "arch", "amd64");
#elif defined(__aarch64__)
    fn(ud, "runtime", "arch", "arm64");
#else
    fn(ud, "runtime", "arch", "unknown");
#endif
    fn(ud, "runtime", "version", "cairn");
    fn(ud, "runtime", "max_procs", "1");
    fn(ud, "runtime", "goroutines", "0");
    fn(ud, "runtime", "cpu_count", "1");
    stat_u(fn, ud, "serf", "members", ss.members);
    stat_u(fn, ud, "serf", "failed", ss.failed);
    stat_u(fn, ud, "serf", "left", ss.left);
    stat_u(fn, ud, "serf", "health_score", (unsigned long long)ss.health_score);
    stat_u(fn, ud, "serf", "member_time", ss.member_time);
    stat_u(fn, ud, "serf", "event_time", ss.event_time);
    stat_u(fn, ud, "serf", "query_time", ss.query_time);
    stat_u(fn, ud, "serf", "intent_queue", ss.intent_queue);
    stat_u(fn, ud, "serf", "event_queue", ss.event_queue);
    stat_u(fn, ud, "serf", "query_queue", ss.query_queue);
    fn(ud, "serf", "encrypted", r->cfg.encrypted ? "true" : "false");
    stat_u(fn, ud, "serf", "coordinate_resets", ss.coordinate_resets);
    struct stat_tags st = {fn, ud};
    cairn_serf_get_member(s, self_name(r), emit_own_tags, &st);
    emit_handlers(r, fn, ud);
}

static bool op_get_coordinate(void *impl, const char *node, cairn_coord *ret)
{
    cairn_agent_rpc *r = impl;
    cairn_serf *s = serf_of(impl);
    if (strcmp(node, self_name(r)) == 0)
        return cairn_serf_get_coordinate(s, ret) == 0;
    return cairn_serf_get_cached_coordinate(s, node, ret);
}

static const cairn_serfrpc_backend_ops agent_ops = {
    .for_each_member = op_members,
    .join = op_join,
    .leave = op_leave,
    .force_leave = op_force_leave,
    .user_event = op_user_event,
    .update_tags = op_update_tags,
    .query = op_query,
    .query_cancel = op_query_cancel,
    .key_op = op_key,
    .stats = op_stats,
    .get_coordinate = op_get_coordinate,
};

int cairn__agent_rpc_new(cairn_loop *loop, cairn_agent *agent, const cairn_agent_rpc_config *cfg,
                         cairn_agent_rpc **ret)
{
    cairn_agent_rpc *r = cairn_calloc(1, sizeof *r);
    if (!r)
        return CAIRN_ENOMEM;
    r->loop = loop;
    r->agent = agent;
    r->cfg = *cfg;
    cairn_serfrpc_server_config sc = {
        .addr = cfg->addr,
        .auth_key = cfg->auth_key,
        .ops = &agent_ops,
        .impl = r,
        .logger = cfg->logger,
    };
    int rc = cairn_serfrpc_server_new(loop, &sc, &r->srv);
    if (rc < 0) {
        cairn_free(r);
        return rc;
    }
    *ret = r;
    return 0;
}

void cairn__agent_rpc_delete(cairn_agent_rpc *r)
{
    if (!r)
        return;
    cairn_serfrpc_server_delete(r->srv);
    while (r->joins) {
        struct join_ctx *j = r->joins;
        join_unlink(j);
        cairn_resolve_hosts_cancel(j->req);
        j->done(j->ctx, "shutting down", 0);
        cairn_free(j);
    }
    cairn_free(r);
}

cairn_serfrpc_server *cairn__agent_rpc_server(cairn_agent_rpc *r)
{
    return r ? r->srv : NULL;
}
