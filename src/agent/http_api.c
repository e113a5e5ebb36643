/* The agent's HTTP API endpoint logic: Consul's endpoints and shapes, as
 * pure functions from a request to a response (see agent/http_api.h).
 *
 * Consul (agent/http.go) registers each endpoint with the methods it
 * allows; a path it does not know falls to its index handler, which
 * answers 404 with an empty body; a known path with another method gets
 * 405, an "Allow" header and "method X not allowed"; bad blocking-query
 * parameters get 400 "Invalid wait time" / "Invalid index"; errors from
 * the work itself 500 with the error text. X-Consul-Index goes out on
 * every answer (python-consul reads it even on a 404). We do the same.
 *
 * JSON field names and their order are Go's (encoding/json follows the
 * struct's field order); jansson keeps insertion order with
 * JSON_PRESERVE_ORDER and writes compact JSON as Go does; its reals are
 * then rewritten in Go's float format (below), so bodies are Consul's
 * bytes.
 *
 * Departures: join and force-leave accept GET as well as PUT
 * (python-consul 0.7.1 sends GET; Consul >= 1.0 answers 405 and the client
 * then reports failure). coordinate/nodes answers only for the local
 * datacenter (cairn does not forward RPCs): another one known to the
 * router gets 500 "cairn does not forward RPCs", an unknown one 500 "No
 * path to datacenter", as Consul says it.
 */
#include "agent/http_api.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "cairn/alloc.h"
#include "cairn/coord.h"
#include "cairn/server.h"
#include "agent/log_sink.h"
#include "base/utf8.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
/* Datacenter list scratch for catalog/datacenters and routes: names and
 * name bytes (a WAN of 1024 datacenters of 64-byte names). */
#define DC_NAMES_MAX 1024
#define DC_BYTES_MAX (64 * 1024)

/* ---- Go's float format ----
 *
 * Go's encoding/json writes a float64 with the fewest digits that read
 * back to the same value, as a plain decimal when 1e-6 <= |v| < 1e21 (or
 * v is 0) and in exponent form otherwise, with a one-digit negative
 * exponent unpadded ("1e-7", "1e+21"). jansson writes 17 significant
 * digits ("1.0000000000000001e-5" for Go's "0.00001", "0.0" for "0"), so
 * every real of a jansson dump is rewritten the Go way: the same numbers
 * and the same bytes as Consul. */

size_t cairn__http_go_float(double v, char *out, size_t cap)
{
    char e[40], digits[24];
    int p = 1;
    if (!isfinite(v) || cap < 32)
        return (size_t)snprintf(out, cap, "0");
    if (v == 0)
        return (size_t)snprintf(out, cap, signbit(v) ? "-0" : "0");
    for (; p < 17; p++) {
        snprintf(e, sizeof(e), "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", p - 1, v);
    /* e is "[-]d[.ddd]e[+-]XX": split into digits and exponent. */
    const char *s = e;
    bool neg = *s == '-';
    s += neg;
    size_t nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    digits[nd] = 0;
    int exp10 = atoi(s + 1);
    double a = fabs(v);
    size_t k = 0;
    if (neg)
        out[k++] = '-';
    if (a < 1e-6 || a >= 1e21) {
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            memcpy(out + k, digits + 1, nd - 1);
            k += nd - 1;
        }
        k += (size_t)snprintf(out + k, cap - k, "e%c%0*d", exp10 < 0 ? '-' : '+',
                              (exp10 < 0 && exp10 > -10) ? 1 : 2, abs(exp10));
        return k;
    }
    if (exp10 < 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            out[k++] = '0';
        memcpy(out + k, digits, nd);
        k += nd;
    } else if ((size_t)exp10 + 1 >= nd) {
        memcpy(out + k, digits, nd);
        k += nd;
        for (size_t i = nd; i < (size_t)exp10 + 1; i++)
            out[k++] = '0';
    } else {
        memcpy(out + k, digits, (size_t)exp10 + 1);
        k += (size_t)exp10 + 1;
        out[k++] = '.';
        memcpy(out + k, digits + exp10 + 1, nd - (size_t)exp10 - 1);
        k += nd - (size_t)exp10 - 1;
    }
    out[k] = 0;
    return k;
}

/* go_floats: a copy of JSON text (cairn_malloc) with every real number
 * (a number token with '.', 'e' or 'E', outside strings) rewritten by
 * cairn__http_go_float; integers and strings are copied as they are. */
static char *go_floats(const char *text)
{
    size_t len = strlen(text);
    /* A jansson real is at least 3 bytes ("0.0") and at least 5 when Go's
     * form is longer than its own ("1e+17" -> 18 digits); a Go float is at
     * most 24 bytes: 5x plus room for the last token is enough. */
    if (len > SIZE_MAX / 8)
        return NULL;
    char *out = cairn_malloc(len * 5 + 64);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    bool in_str = false;
    for (size_t i = 0; i < len;) {
        char ch = text[i];
        if (in_str) {
            out[k++] = ch;
            if (ch == '\\' && i + 1 < len)
                out[k++] = text[++i];
            else if (ch == '"')
                in_str = false;
            i++;
            continue;
        }
        if (ch == '"') {
            in_str = true;
            out[k++] = text[i++];
            continue;
        }
        if (ch != '-' && !(ch >= '0' && ch <= '9')) {
            out[k++] = text[i++];
            continue;
        }
        size_t j = i;
        bool real = false;
        while (j < len && strchr("+-0123456789.eE", text[j]) != NULL) {
            real = real || text[j] == '.' || text[j] == 'e' || text[j] == 'E';
            j++;
        }
        if (real) {
            k += cairn__http_go_float(strtod(text + i, NULL), out + k, 32);
        } else {
            memcpy(out + k, text + i, j - i);
            k += j - i;
        }
        i = j;
    }
    out[k] = 0;
    return out;
}

/* ---- responses ---- */

static void resp_init(cairn_http_resp *resp, const cairn_http_view *view)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    resp->content_type = CT_JSON;
    resp->index = view->index ? view->index : 1;
    cairn_route route;
    resp->known_leader =
        view->router != NULL && cairn_router_find_lan_route(view->router, &route) == 0;
}

void cairn__http_resp_clear(cairn_http_resp *resp)
{
    if (resp == NULL)
        return;
    cairn_free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

int cairn__http_resp_set(cairn_http_resp *resp, int status, const char *body, bool json)
{
    cairn__http_resp_clear(resp);
    resp->status = status;
    resp->content_type = json ? CT_JSON : CT_TEXT;
    resp->action = CAIRN_HTTP_ACT_NONE;
    if (body == NULL || !body[0])
        return 0;
    resp->body = cairn_strdup(body);
    if (resp->body == NULL) {
        resp->status = 500;
        resp->content_type = CT_TEXT;
        return CAIRN_ENOMEM;
    }
    resp->body_len = strlen(body);
    return 0;
}

/* set_text_json: the body is JSON text owned by cairn_malloc (taken). */
static int set_owned_json(cairn_http_resp *resp, char *text)
{
    cairn__http_resp_clear(resp);
    resp->status = 200;
    resp->content_type = CT_JSON;
    resp->body = text;
    resp->body_len = strlen(text);
    return 0;
}

/* set_json: the body is j's compact dump (j is consumed). */
static int set_json(cairn_http_resp *resp, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (text == NULL)
        return cairn__http_resp_set(resp, 500, "out of memory", false), CAIRN_ENOMEM;
    char *go = go_floats(text);
    free(text);
    if (go == NULL)
        return cairn__http_resp_set(resp, 500, "out of memory", false), CAIRN_ENOMEM;
    return set_owned_json(resp, go);
}

/* ---- request helpers ---- */

const char *cairn__http_param(const cairn_http_req *req, const char *key, bool *ret_present)
{
    for (size_t i = 0; i < req->n_params; i++) {
        if (strcmp(req->params[i].key, key) == 0) {
            if (ret_present)
                *ret_present = true;
            return req->params[i].value;
        }
    }
    if (ret_present)
        *ret_present = false;
    return NULL;
}

/* Consul: any non-empty wan counts ("?wan=1", "?wan=true", even "?wan=0"). */
static bool param_nonempty(const cairn_http_req *req, const char *key)
{
    const char *v = cairn__http_param(req, key, NULL);
    return v != NULL && v[0] != 0;
}

/* Present at all ("?prune", "?prune=", "?prune=1"). */
static bool param_present(const cairn_http_req *req, const char *key)
{
    bool present;
    cairn__http_param(req, key, &present);
    return present;
}

int cairn__http_parse_wait(const char *text, cairn_time *ret_wait)
{
    return cairn__go_duration(text, ret_wait);
}

/* ---- JSON pieces ---- */

/* jstr: a JSON string of peer bytes (names, tags): invalid UTF-8 is
 * written with U+FFFD rather than failing the whole answer. */
static json_t *jstr(const char *s)
{
    return cairn__utf8_valid(s, strlen(s)) ? json_string(s) : cairn__log_json_string(s);
}

static json_t *coord_json(const cairn_coord *c)
{
    json_t *vec = json_array();
    json_t *o = json_object();
    if (vec == NULL || o == NULL)
        goto fail;
    for (unsigned i = 0; i < c->dim; i++)
        if (json_array_append_new(vec, json_real(c->vec[i])) != 0)
            goto fail;
    if (json_object_set_new(o, "Vec", vec) != 0) {
        vec = NULL;
        goto fail;
    }
    vec = NULL;
    if (json_object_set_new(o, "Error", json_real(c->error)) != 0 ||
        json_object_set_new(o, "Adjustment", json_real(c->adjustment)) != 0 ||
        json_object_set_new(o, "Height", json_real(c->height)) != 0)
        goto fail;
    return o;
fail:
    json_decref(vec);
    json_decref(o);
    return NULL;
}

/* member_json: Consul's agent/members entry (serf.Member as api.AgentMember). */
static json_t *member_json(const cairn_member *m)
{
    char ip[CAIRN_ADDR_STRLEN];
    cairn_addr a = m->addr;
    cairn_addr_format(&a, false, ip, sizeof(ip));
    json_t *tags = json_object();
    json_t *o = json_object();
    if (tags == NULL || o == NULL)
        goto fail;
    for (size_t i = 0; i < m->ntags; i++) {
        const char *key = m->tags[i].key;
        char fixed[4 * CAIRN_ML_META_MAX];
        if (!cairn__utf8_valid(key, strlen(key))) {
            cairn__utf8_sanitize(key, strlen(key), fixed, sizeof(fixed));
            key = fixed;
        }
        if (json_object_set_new(tags, key, jstr(m->tags[i].value)) != 0)
            goto fail;
    }
    if (json_object_set_new(o, "Name", jstr(m->name)) != 0 ||
        json_object_set_new(o, "Addr", jstr(ip)) != 0 ||
        json_object_set_new(o, "Port", json_integer(m->addr.port)) != 0)
        goto fail;
    if (json_object_set_new(o, "Tags", tags) != 0) {
        tags = NULL;
        goto fail;
    }
    tags = NULL;
    if (json_object_set_new(o, "Status", json_integer(m->status)) != 0 ||
        json_object_set_new(o, "ProtocolMin", json_integer(m->protocol_min)) != 0 ||
        json_object_set_new(o, "ProtocolMax", json_integer(m->protocol_max)) != 0 ||
        json_object_set_new(o, "ProtocolCur", json_integer(m->protocol_cur)) != 0 ||
        json_object_set_new(o, "DelegateMin", json_integer(m->delegate_min)) != 0 ||
        json_object_set_new(o, "DelegateMax", json_integer(m->delegate_max)) != 0 ||
        json_object_set_new(o, "DelegateCur", json_integer(m->delegate_cur)) != 0)
        goto fail;
    return o;
fail:
    json_decref(tags);
    json_decref(o);
    return NULL;
}

/* ---- members ---- */

struct members_walk {
    json_t *arr;
    bool failed;
    /* agent/self: only this member. */
    const char *only;
    json_t *found;
};

static bool on_member(const cairn_member *m, void *ud)
{
    struct members_walk *w = ud;
    if (w->only != NULL) {
        if (strcmp(m->name, w->only) != 0)
            return true;
        w->found = member_json(m);
        w->failed = w->found == NULL;
        return false;
    }
    if (json_array_append_new(w->arr, member_json(m)) != 0) {
        w->failed = true;
        return false;
    }
    return true;
}

static int ep_members(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    const cairn_cluster *c = param_nonempty(req, "wan") ? view->wan : view->lan;
    if (c == NULL) /* a client agent has no WAN pool: Consul answers null */
        return set_json(resp, json_null());
    struct members_walk w = {.arr = json_array()};
    if (w.arr == NULL)
        return set_json(resp, NULL);
    int rc = c->ops->for_each_member(c->impl, on_member, &w);
    if (rc < 0 || w.failed) {
        json_decref(w.arr);
        return cairn__http_resp_set(resp, 500, cairn_strerror(rc < 0 ? rc : CAIRN_ENOMEM), false);
    }
    return set_json(resp, w.arr);
}

/* ---- datacenters ---- */

/* coords_disabled: Consul answers 401 "Coordinate support disabled" on
 * the coordinate endpoints when the agent runs without coordinates. */
static bool coords_disabled(const cairn_http_view *view)
{
    cairn_coord c;
    return view->lan != NULL &&
           view->lan->ops->get_coordinate(view->lan->impl, &c) == CAIRN_ENOTSUP;
}

static int ep_catalog_dcs(const cairn_http_req *req, const cairn_http_view *view,
                          cairn_http_resp *resp)
{
    (void)req;
    json_t *arr = json_array();
    if (arr == NULL)
        return set_json(resp, NULL);
    size_t n = 0;
    cairn_dc_buf buf = {.names = NULL};
    if (view->router != NULL) {
        buf.names = cairn_calloc(DC_NAMES_MAX, sizeof(*buf.names));
        buf.bytes = cairn_malloc(DC_BYTES_MAX);
        buf.names_cap = DC_NAMES_MAX;
        buf.bytes_cap = DC_BYTES_MAX;
        cairn_diag diag = {0};
        int rc = buf.names && buf.bytes
                     ? cairn_router_get_datacenters_by_distance(view->router, &buf, &n, &diag)
                     : CAIRN_ENOMEM;
        if (rc < 0) {
            cairn_free(buf.names);
            cairn_free(buf.bytes);
            json_decref(arr);
            return cairn__http_resp_set(resp, 500, diag.msg[0] ? diag.msg : cairn_strerror(rc),
                                        false);
        }
    }
    bool has_local = false;
    for (size_t i = 0; i < n; i++)
        has_local = has_local || strcmp(buf.names[i], view->dc) == 0;
    /* The local datacenter is at distance 0: first when the router does
     * not list it (no server known yet). */
    if (!has_local)
        json_array_append_new(arr, jstr(view->dc));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, jstr(buf.names[i]));
    cairn_free(buf.names);
    cairn_free(buf.bytes);
    if (json_array_size(arr) != n + !has_local)
        return json_decref(arr), set_json(resp, NULL);
    return set_json(resp, arr);
}

static int ep_coord_dcs(const cairn_http_req *req, const cairn_http_view *view,
                        cairn_http_resp *resp)
{
    (void)req;
    if (coords_disabled(view))
        return cairn__http_resp_set(resp, 401, "Coordinate support disabled", false);
    if (view->router == NULL)
        return cairn__http_resp_set(resp, 200, "[]", true);
    cairn_dc_maps *maps = NULL;
    cairn_diag diag = {0};
    int rc = cairn_router_get_datacenter_maps(view->router, &maps, &diag);
    char *text = NULL;
    if (rc == 0)
        rc = cairn_dc_maps_to_json(maps, &text);
    cairn_dc_maps_free(maps);
    if (rc < 0)
        return cairn__http_resp_set(resp, 500, diag.msg[0] ? diag.msg : cairn_strerror(rc), false);
    char *go = go_floats(text);
    cairn_free(text);
    if (go == NULL)
        return cairn__http_resp_set(resp, 500, "out of memory", false), CAIRN_ENOMEM;
    return set_owned_json(resp, go);
}

/* ---- coordinates of nodes ---- */

struct nodes_walk {
    const cairn_cluster *c;
    const char *self;
    json_t *arr;
    bool failed;
};

static bool on_node(const cairn_member *m, void *ud)
{
    struct nodes_walk *w = ud;
    cairn_coord co;
    if (m->status == CAIRN_MEMBER_LEFT)
        return true;
    bool have = strcmp(m->name, w->self) == 0
                    ? w->c->ops->get_coordinate(w->c->impl, &co) == 0
                    : w->c->ops->get_cached_coordinate(w->c->impl, m->name, &co);
    if (!have || co.dim == 0)
        return true;
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "Node", jstr(m->name)) != 0 ||
        json_object_set_new(o, "Segment", jstr("")) != 0 ||
        json_object_set_new(o, "Coord", coord_json(&co)) != 0 ||
        json_array_append_new(w->arr, o) != 0) {
        w->failed = true;
        return false;
    }
    return true;
}

/* cmp_node orders entries by node name, as the catalog does. */
static int cmp_node(const void *a, const void *b)
{
    const json_t *const *x = a, *const *y = b;
    return strcmp(json_string_value(json_object_get(*x, "Node")),
                  json_string_value(json_object_get(*y, "Node")));
}

static int sort_nodes(json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return 0;
    json_t **v = cairn_calloc(n, sizeof(*v));
    if (v == NULL)
        return CAIRN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_node);
    json_array_clear(arr);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, v[i]) != 0)
            rc = CAIRN_ENOMEM;
    cairn_free(v);
    return rc;
}

/* Blocking-query parameters: 0, or a 400 already set in resp. */
static int parse_blocking(const cairn_http_req *req, cairn_http_resp *resp)
{
    const char *wait = cairn__http_param(req, "wait", NULL);
    const char *index = cairn__http_param(req, "index", NULL);
    cairn_time w = CAIRN_HTTP_WAIT_DEFAULT;
    if (wait != NULL && cairn__http_parse_wait(wait, &w) < 0)
        return cairn__http_resp_set(resp, 400, "Invalid wait time", false), -1;
    if (index == NULL)
        return 0;
    char *end;
    if (!index[0] || index[0] == '-' || index[0] == '+')
        return cairn__http_resp_set(resp, 400, "Invalid index", false), -1;
    unsigned long long v = strtoull(index, &end, 10);
    if (*end)
        return cairn__http_resp_set(resp, 400, "Invalid index", false), -1;
    if (w > CAIRN_HTTP_WAIT_MAX)
        w = CAIRN_HTTP_WAIT_MAX;
    resp->blocking = v > 0;
    resp->block_index = v;
    resp->block_wait = w;
    return 0;
}

static int ep_coord_nodes(const cairn_http_req *req, const cairn_http_view *view,
                          cairn_http_resp *resp)
{
    if (coords_disabled(view))
        return cairn__http_resp_set(resp, 401, "Coordinate support disabled", false);
    if (parse_blocking(req, resp) < 0)
        return 0;
    const char *dc = cairn__http_param(req, "dc", NULL);
    if (dc != NULL && dc[0] && strcmp(dc, view->dc) != 0) {
        resp->blocking = false;
        bool known = view->router && cairn_router_has_datacenter(view->router, dc);
        return cairn__http_resp_set(
            resp, 500, known ? "cairn does not forward RPCs" : "No path to datacenter", false);
    }
    struct nodes_walk w = {.c = view->lan, .self = view->node, .arr = json_array()};
    if (w.arr == NULL)
        return set_json(resp, NULL);
    int rc = view->lan->ops->for_each_member(view->lan->impl, on_node, &w);
    if (rc == 0 && !w.failed)
        rc = sort_nodes(w.arr);
    if (rc < 0 || w.failed) {
        json_decref(w.arr);
        resp->blocking = false;
        return cairn__http_resp_set(resp, 500, cairn_strerror(rc < 0 ? rc : CAIRN_ENOMEM), false);
    }
    bool blocking = resp->blocking;
    uint64_t bi = resp->block_index;
    cairn_time bw = resp->block_wait;
    rc = set_json(resp, w.arr);
    resp->blocking = blocking;
    resp->block_index = bi;
    resp->block_wait = bw;
    return rc;
}

/* ---- agent/self ---- */

static json_t *stats_section(const char *const *keys, const uint64_t *vals, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < n; i++) {
        char text[32];
        snprintf(text, sizeof(text), "%llu", (unsigned long long)vals[i]);
        json_object_set_new(o, keys[i], jstr(text));
    }
    return o;
}

/* serf_stats_json: Consul's Stats()["serf_lan"] (strings, serf.Stats). */
static json_t *serf_stats_json(const cairn_serf_stats *s)
{
    static const char *const keys[] = {"members",     "failed",     "left",       "health_score",
                                       "member_time", "event_time", "query_time", "intent_queue",
                                       "event_queue", "query_queue"};
    const uint64_t vals[] = {
        s->members,     s->failed,     s->left,       (uint64_t)s->health_score,
        s->member_time, s->event_time, s->query_time, s->intent_queue,
        s->event_queue, s->query_queue};
    return stats_section(keys, vals, sizeof(vals) / sizeof(vals[0]));
}

static int ep_self(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    (void)req;
    json_t *cfg =
        json_pack("{s:o, s:o, s:s, s:b, s:s, s:s, s:s}", "Datacenter", jstr(view->dc), "NodeName",
                  jstr(view->node), "NodeID", "", "Server", view->server, "Version",
                  view->version ? view->version : "", "Revision", "", "BuildDate", "");
    cairn_coord co;
    json_t *coord =
        view->lan->ops->get_coordinate(view->lan->impl, &co) == 0 ? coord_json(&co) : json_null();
    struct members_walk w = {.only = view->node};
    view->lan->ops->for_each_member(view->lan->impl, on_member, &w);
    json_t *stats = json_object();
    if (stats != NULL && view->stats != NULL) {
        json_object_set_new(stats, "serf_lan", serf_stats_json(&view->stats->serf_lan));
        if (view->stats->has_wan)
            json_object_set_new(stats, "serf_wan", serf_stats_json(&view->stats->serf_wan));
    }
    json_t *self = json_object();
    if (self == NULL || cfg == NULL || coord == NULL || stats == NULL || w.failed ||
        json_object_set_new(self, "Config", cfg) != 0 ||
        json_object_set_new(self, "Coord", coord) != 0 ||
        json_object_set_new(self, "Member", w.found ? w.found : json_null()) != 0 ||
        json_object_set_new(self, "Stats", stats) != 0 ||
        json_object_set_new(self, "Meta", json_object()) != 0) {
        json_decref(self);
        return set_json(resp, NULL);
    }
    return set_json(resp, self);
}

/* ---- status ---- */

static int ep_leader(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    (void)req;
    (void)view;
    /* cairn has no Raft view: no leader address to report. */
    return cairn__http_resp_set(resp, 200, "\"\"", true);
}

static int ep_peers(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    (void)req;
    (void)view;
    return cairn__http_resp_set(resp, 200, "[]", true);
}

/* ---- actions ---- */

static int set_target(cairn_http_resp *resp, const char *target, int action)
{
    if (!target[0])
        return cairn__http_resp_set(
            resp, 400,
            action == CAIRN_HTTP_ACT_JOIN ? "Missing address to join" : "Missing node name", false);
    if (strlen(target) >= sizeof(resp->target))
        return cairn__http_resp_set(resp, 400, "Path argument is too long", false);
    strcpy(resp->target, target);
    resp->action = action;
    resp->body = NULL;
    resp->content_type = CT_TEXT;
    return 0;
}

static int ep_join(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    (void)view;
    resp->wan = param_nonempty(req, "wan");
    return set_target(resp, req->path + strlen("/v1/agent/join/"), CAIRN_HTTP_ACT_JOIN);
}

static int ep_force_leave(const cairn_http_req *req, const cairn_http_view *view,
                          cairn_http_resp *resp)
{
    (void)view;
    resp->wan = param_present(req, "wan");
    resp->prune = param_present(req, "prune");
    return set_target(resp, req->path + strlen("/v1/agent/force-leave/"),
                      CAIRN_HTTP_ACT_FORCE_LEAVE);
}

static int ep_leave(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    (void)req;
    (void)view;
    resp->action = CAIRN_HTTP_ACT_LEAVE;
    resp->content_type = CT_TEXT;
    return 0;
}

/* ---- cairn's routes (any thread: router only) ---- */

static json_t *route_json(const char *dc, const cairn_route *route, int err)
{
    json_t *server = json_null();
    if (err == 0) {
        char addr[CAIRN_ADDR_STRLEN];
        cairn_addr a = route->server.addr;
        cairn_addr_format(&a, true, addr, sizeof(addr));
        /* Names and datacenters are peers' bytes: repaired (jstr). */
        server = json_pack("{s:o, s:o, s:o, s:s, s:I, s:b, s:b}", "Name", jstr(route->server.name),
                           "ShortName", jstr(route->server.short_name), "Datacenter",
                           jstr(route->server.datacenter), "Addr", addr, "Version",
                           (json_int_t)route->server.version, "UseTLS", route->server.use_tls,
                           "ReadReplica", route->server.read_replica);
    }
    return json_pack("{s:o, s:o, s:s}", "Datacenter", jstr(dc), "Server", server, "Error",
                     err == 0 ? "" : cairn_strerror(err));
}

/* The hot path writes its JSON by hand (no jansson tree): a bounded
 * buffer, strings escaped as Go's encoding/json does (", \\, control
 * characters, and <, >, & as \u003c ...), invalid UTF-8 repaired first. */
struct jbuf {
    char *p;
    size_t len, cap;
    bool full;
};

static void jb_raw(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void jb_str(struct jbuf *b, const char *s)
{
    char fixed[4 * CAIRN_SERVER_NAME_MAX];
    size_t n = strlen(s);
    if (!cairn__utf8_valid(s, n)) {
        n = cairn__utf8_sanitize(s, n, fixed, sizeof(fixed));
        n = n < sizeof(fixed) ? n : sizeof(fixed) - 1;
        s = fixed;
    }
    jb_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            jb_raw(b, e, 2);
        } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            char e[8];
            snprintf(e, sizeof(e), "\\u%04x", ch);
            jb_raw(b, e, 6);
        } else {
            jb_raw(b, &s[i], 1);
        }
    }
    jb_raw(b, "\"", 1);
}

static void jb_lit(struct jbuf *b, const char *s)
{
    jb_raw(b, s, strlen(s));
}

/* route_text: route_json's bytes for a found route, written directly. */
static int route_text(const char *dc, const cairn_route *route, cairn_http_resp *resp)
{
    char addr[CAIRN_ADDR_STRLEN], num[32];
    cairn_addr a = route->server.addr;
    cairn_addr_format(&a, true, addr, sizeof(addr));
    size_t cap = 256 + 6 * (strlen(dc) + strlen(route->server.name) +
                            strlen(route->server.short_name) + strlen(route->server.datacenter));
    struct jbuf b = {cairn_malloc(cap), 0, cap, false};
    if (b.p == NULL)
        return cairn__http_resp_set(resp, 500, "out of memory", false), CAIRN_ENOMEM;
    jb_lit(&b, "{\"Datacenter\":");
    jb_str(&b, dc);
    jb_lit(&b, ",\"Server\":{\"Name\":");
    jb_str(&b, route->server.name);
    jb_lit(&b, ",\"ShortName\":");
    jb_str(&b, route->server.short_name);
    jb_lit(&b, ",\"Datacenter\":");
    jb_str(&b, route->server.datacenter);
    jb_lit(&b, ",\"Addr\":");
    jb_str(&b, addr);
    snprintf(num, sizeof(num), "%lld", (long long)route->server.version);
    jb_lit(&b, ",\"Version\":");
    jb_lit(&b, num);
    jb_lit(&b, route->server.use_tls ? ",\"UseTLS\":true" : ",\"UseTLS\":false");
    jb_lit(&b, route->server.read_replica ? ",\"ReadReplica\":true}" : ",\"ReadReplica\":false}");
    jb_lit(&b, ",\"Error\":\"\"}");
    if (b.full) {
        cairn_free(b.p);
        return cairn__http_resp_set(resp, 500, "answer too large", false);
    }
    b.p[b.len] = 0;
    return set_owned_json(resp, b.p);
}

static int ep_route(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    const char *dc = req->path + strlen("/v1/cairn/route/");
    if (!dc[0])
        return cairn__http_resp_set(resp, 400, "Missing datacenter", false);
    if (view->router == NULL)
        return cairn__http_resp_set(resp, 500, "No router", false);
    cairn_route route;
    int rc = cairn_router_find_route(view->router, dc, &route);
    if (rc == CAIRN_ENOROUTE)
        return cairn__http_resp_set(resp, 404, "No path to datacenter", false);
    if (rc == CAIRN_EUNAVAIL)
        return cairn__http_resp_set(resp, 503, "Remote DC has no server currently reachable",
                                    false);
    if (rc < 0)
        return cairn__http_resp_set(resp, 500, cairn_strerror(rc), false);
    return route_text(dc, &route, resp);
}

static int ep_routes(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    (void)req;
    json_t *arr = json_array();
    if (arr == NULL)
        return set_json(resp, NULL);
    if (view->router == NULL)
        return set_json(resp, arr);
    cairn_dc_buf buf = {.names = cairn_calloc(DC_NAMES_MAX, sizeof(const char *)),
                        .bytes = cairn_malloc(DC_BYTES_MAX),
                        .names_cap = DC_NAMES_MAX,
                        .bytes_cap = DC_BYTES_MAX};
    size_t n = 0;
    int rc = buf.names && buf.bytes ? cairn_router_get_datacenters(view->router, &buf, &n, NULL)
                                    : CAIRN_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cairn_route route;
        int err = cairn_router_find_route(view->router, buf.names[i], &route);
        if (json_array_append_new(arr, route_json(buf.names[i], &route, err)) != 0)
            rc = CAIRN_ENOMEM;
    }
    cairn_free(buf.names);
    cairn_free(buf.bytes);
    if (rc < 0) {
        json_decref(arr);
        return cairn__http_resp_set(resp, 500, cairn_strerror(rc), false);
    }
    return set_json(resp, arr);
}

/* ---- metrics ---- */

/* One metric sample: name (dotted), optional pool/state labels, value. */
struct metric {
    const char *name;
    const char *help;
    const char *pool;
    const char *state;
    double value;
    bool gauge;
};

#define METRICS_MAX 96

struct metric_list {
    struct metric m[METRICS_MAX];
    size_t n;
};

static void add_metric(struct metric_list *l, const char *name, const char *help, const char *pool,
                       const char *state, double value, bool gauge)
{
    if (l->n < METRICS_MAX)
        l->m[l->n++] = (struct metric){name, help, pool, state, value, gauge};
}

static void pool_metrics(struct metric_list *l, const char *pool, const cairn_ml_stats *ml,
                         const cairn_serf_stats *sf)
{
    static const char *const mh = "Serf members by state";
    add_metric(l, "cairn.serf.members", mh, pool, "alive", (double)sf->alive, true);
    add_metric(l, "cairn.serf.members", mh, pool, "leaving", (double)sf->leaving, true);
    add_metric(l, "cairn.serf.members", mh, pool, "left", (double)sf->left, true);
    add_metric(l, "cairn.serf.members", mh, pool, "failed", (double)sf->failed, true);
    add_metric(l, "cairn.serf.health_score", "Lifeguard health score (0 is healthy)", pool, NULL,
               sf->health_score, true);
    add_metric(l, "cairn.memberlist.probes", "Probes started", pool, NULL, (double)ml->probes,
               false);
    add_metric(l, "cairn.memberlist.probe_failures", "Probes that ended in a suspicion", pool, NULL,
               (double)ml->probe_failures, false);
    add_metric(l, "cairn.memberlist.declared_dead", "Nodes declared dead", pool, NULL,
               (double)ml->declared_dead, false);
    add_metric(l, "cairn.memberlist.refutes", "Accusations refuted", pool, NULL,
               (double)ml->refutes, false);
    add_metric(l, "cairn.memberlist.tx_packets", "Gossip packets sent", pool, NULL,
               (double)ml->tx_packets, false);
    add_metric(l, "cairn.memberlist.rx_packets", "Gossip packets received", pool, NULL,
               (double)ml->rx_packets, false);
    add_metric(l, "cairn.memberlist.tx_bytes", "Gossip bytes sent", pool, NULL,
               (double)ml->tx_bytes, false);
    add_metric(l, "cairn.memberlist.rx_bytes", "Gossip bytes received", pool, NULL,
               (double)ml->rx_bytes, false);
    add_metric(l, "cairn.memberlist.rx_dropped", "Received packets dropped", pool, NULL,
               (double)ml->rx_dropped, false);
    add_metric(l, "cairn.memberlist.pushpull", "Push/pull exchanges completed", pool, NULL,
               (double)(ml->pushpull_in + ml->pushpull_out), false);
    add_metric(l, "cairn.memberlist.pushpull_failed", "Push/pull exchanges failed", pool, NULL,
               (double)ml->pushpull_failed, false);
    add_metric(l, "cairn.serf.events", "User events delivered", pool, NULL,
               (double)sf->events_delivered, false);
    add_metric(l, "cairn.serf.queries", "Queries received", pool, NULL,
               (double)sf->queries_received, false);
}

static void collect_metrics(const cairn_http_view *view, struct metric_list *l)
{
    static const cairn_http_stats zero;
    const cairn_http_stats *s = view->stats ? view->stats : &zero;
    pool_metrics(l, "lan", &s->ml_lan, &s->serf_lan);
    if (s->has_wan)
        pool_metrics(l, "wan", &s->ml_wan, &s->serf_wan);
    add_metric(l, "cairn.http.requests", "HTTP requests answered", NULL, NULL,
               (double)s->http_requests, false);
    add_metric(l, "cairn.http.rejected", "HTTP connections refused or cut off by a limit", NULL,
               NULL, (double)s->http_rejected, false);
    add_metric(l, "cairn.http.blocking", "Blocking queries parked", NULL, NULL,
               (double)s->http_blocking, true);
    add_metric(l, "cairn.route.lookups", "Route lookups through the HTTP API", NULL, NULL,
               (double)s->route_lookups, false);
    add_metric(l, "cairn.route.misses", "Route lookups that found no server", NULL, NULL,
               (double)s->route_misses, false);
    /* The hook: the router's (route changes, rebalances) and the proxy's
     * counters arrive as extra entries. */
    for (size_t i = 0; i < s->n_extra; i++)
        add_metric(l, s->extra[i].name, s->extra[i].help, NULL, NULL, s->extra[i].value,
                   s->extra[i].gauge);
}

static json_t *labels_json(const struct metric *m)
{
    json_t *o = json_object();
    if (o && m->pool)
        json_object_set_new(o, "pool", jstr(m->pool));
    if (o && m->state)
        json_object_set_new(o, "state", jstr(m->state));
    return o;
}

/* metrics_json: go-metrics' InmemSink DisplayMetrics shape. */
static json_t *metrics_json(const struct metric_list *l, const char *timestamp)
{
    json_t *gauges = json_array(), *counters = json_array();
    for (size_t i = 0; gauges && counters && i < l->n; i++) {
        const struct metric *m = &l->m[i];
        json_t *o = m->gauge ? json_pack("{s:s, s:f, s:o}", "Name", m->name, "Value", m->value,
                                         "Labels", labels_json(m))
                             : json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:o}", "Name",
                                         m->name, "Count", (json_int_t)1, "Rate", 0.0, "Sum",
                                         m->value, "Min", m->value, "Max", m->value, "Mean",
                                         m->value, "Stddev", 0.0, "Labels", labels_json(m));
        json_array_append_new(m->gauge ? gauges : counters, o);
    }
    return json_pack("{s:s, s:o, s:[], s:o, s:[]}", "Timestamp", timestamp ? timestamp : "",
                     "Gauges", gauges, "Points", "Counters", counters, "Samples");
}

static bool prom_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool prom_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (k < 0)
            return false;
        if ((size_t)k < *cap - *len) {
            *len += (size_t)k;
            return true;
        }
        size_t ncap = *cap * 2 + (size_t)k;
        char *nb = cairn_realloc(*buf, ncap);
        if (nb == NULL)
            return false;
        *buf = nb;
        *cap = ncap;
    }
}

/* prom_name writes name with '.' and '-' as '_' (Prometheus' alphabet). */
static void prom_name(const char *name, char *out, size_t cap)
{
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == ':';
        out[i] = ok ? ch : '_';
    }
    out[i] = 0;
}

static int metrics_prometheus(const struct metric_list *l, cairn_http_resp *resp)
{
    size_t len = 0, cap = 4096;
    char *buf = cairn_malloc(cap);
    bool ok = buf != NULL;
    for (size_t i = 0; ok && i < l->n; i++) {
        const struct metric *m = &l->m[i];
        char name[128];
        prom_name(m->name, name, sizeof(name));
        if (i == 0 || strcmp(m->name, l->m[i - 1].name) != 0)
            ok = prom_append(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n", name, m->help, name,
                             m->gauge ? "gauge" : "counter");
        char labels[96] = "";
        if (m->pool && m->state)
            snprintf(labels, sizeof(labels), "{pool=\"%s\",state=\"%s\"}", m->pool, m->state);
        else if (m->pool)
            snprintf(labels, sizeof(labels), "{pool=\"%s\"}", m->pool);
        ok = ok && prom_append(&buf, &len, &cap, "%s%s %.17g\n", name, labels, m->value);
    }
    if (!ok) {
        cairn_free(buf);
        return cairn__http_resp_set(resp, 500, "out of memory", false), CAIRN_ENOMEM;
    }
    cairn__http_resp_clear(resp);
    resp->body = buf;
    resp->body_len = len;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

static int ep_metrics(const cairn_http_req *req, const cairn_http_view *view, cairn_http_resp *resp)
{
    struct metric_list *l = cairn_calloc(1, sizeof(*l));
    if (l == NULL)
        return cairn__http_resp_set(resp, 500, "out of memory", false), CAIRN_ENOMEM;
    collect_metrics(view, l);
    const char *fmt = cairn__http_param(req, "format", NULL);
    int rc;
    if (fmt != NULL && strcmp(fmt, "prometheus") == 0)
        rc = metrics_prometheus(l, resp);
    else if (fmt != NULL && fmt[0])
        rc = cairn__http_resp_set(resp, 400, "Unsupported metrics format", false);
    else
        rc = set_json(resp, metrics_json(l, view->timestamp));
    cairn_free(l);
    return rc;
}

/* ---- dispatch ---- */

typedef int (*endpoint_fn)(const cairn_http_req *, const cairn_http_view *, cairn_http_resp *);

struct endpoint {
    const char *path;
    /* The path is a prefix (an argument follows). */
    bool prefix;
    /* Allowed methods, as Consul lists them in "Allow". */
    const char *allow;
    endpoint_fn fn;
    /* Router only: any thread. */
    bool fast;
};

static const struct endpoint endpoints[] = {
    {"/v1/catalog/datacenters", false, "OPTIONS,GET", ep_catalog_dcs, false},
    {"/v1/coordinate/datacenters", false, "OPTIONS,GET", ep_coord_dcs, false},
    {"/v1/coordinate/nodes", false, "OPTIONS,GET", ep_coord_nodes, false},
    {"/v1/agent/members", false, "OPTIONS,GET", ep_members, false},
    {"/v1/agent/self", false, "OPTIONS,GET", ep_self, false},
    {"/v1/agent/join/", true, "OPTIONS,GET,PUT", ep_join, false},
    {"/v1/agent/force-leave/", true, "OPTIONS,GET,PUT", ep_force_leave, false},
    {"/v1/agent/leave", false, "OPTIONS,PUT", ep_leave, false},
    {"/v1/agent/metrics", false, "OPTIONS,GET", ep_metrics, false},
    {"/v1/status/leader", false, "OPTIONS,GET", ep_leader, false},
    {"/v1/status/peers", false, "OPTIONS,GET", ep_peers, false},
    {"/v1/cairn/route/", true, "OPTIONS,GET", ep_route, true},
    {"/v1/cairn/routes", false, "OPTIONS,GET", ep_routes, true},
};

static const struct endpoint *find_endpoint(const char *path)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const struct endpoint *e = &endpoints[i];
        size_t len = strlen(e->path);
        if (e->prefix ? strncmp(path, e->path, len) == 0 : strcmp(path, e->path) == 0)
            return e;
    }
    return NULL;
}

/* method_allowed: whether method is in the comma list allow. */
static bool method_allowed(const char *allow, const char *method)
{
    size_t ml = strlen(method);
    for (const char *p = allow; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == ml && memcmp(p, method, ml) == 0)
            return true;
        p += len + (comma != NULL);
    }
    return false;
}

bool cairn__http_api_is_fast(const cairn_http_req *req)
{
    const struct endpoint *e = req && req->path ? find_endpoint(req->path) : NULL;
    return e == NULL || e->fast || !method_allowed(e->allow, req->method) ||
           strcmp(req->method, "OPTIONS") == 0;
}

int cairn__http_api_handle(const cairn_http_req *req, const cairn_http_view *view,
                           cairn_http_resp *resp)
{
    resp_init(resp, view);
    const struct endpoint *e = find_endpoint(req->path);
    if (e == NULL)
        return cairn__http_resp_set(resp, 404, NULL, false);
    if (!method_allowed(e->allow, req->method)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "method %.32s not allowed", req->method);
        int rc = cairn__http_resp_set(resp, 405, msg, false);
        resp->allow = e->allow;
        return rc;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        resp->allow = e->allow;
        return cairn__http_resp_set(resp, 200, NULL, false);
    }
    return e->fn(req, view, resp);
}
