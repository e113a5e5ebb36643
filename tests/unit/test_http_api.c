/* Unit tests for the HTTP API's endpoint logic (src/agent/http_api.c):
 * requests in, Consul's status codes, headers and JSON out, against a real
 * Router fed by Consul's testCluster (mock_cluster_consul_test) and a mock
 * LAN pool. No sockets: the MHD adapter is covered by
 * tests/interop/test_http_api.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/router.h"
#include "agent/http_api.h"
#include "faux_servers.h"
#include "mock_cluster.h"

struct fx {
    cairn_loop *loop;
    cairn_router *r;
    faux_conn_pool ok;
    mock_cluster *wan, *lan;
    cairn_cluster wan_seam, lan_seam;
    cairn_http_stats stats;
    cairn_http_view view;
    cairn_http_resp resp;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(cairn_loop_new_manual(0, &f->loop), 0);
    faux_conn_pool_init(&f->ok, 0.0, 1);
    cairn_router_config cfg = {.local_datacenter = "dc0", .loop = f->loop, .seed = 7};
    assert_int_equal(cairn_router_new(&cfg, &f->r), 0);
    f->wan = mock_cluster_consul_test("node0.dc0");
    assert_non_null(f->wan);
    f->wan_seam = mock_cluster_seam(f->wan);
    assert_int_equal(cairn_router_add_area(f->r, CAIRN_AREA_WAN, &f->wan_seam, &f->ok.pinger, NULL),
                     0);
    f->lan = mock_cluster_new("self");
    cairn_coord c = mock_coord(1 * CAIRN_MSEC);
    mock_cluster_add_lan_member(f->lan, "dc0", "self", "node", &c);
    c = mock_coord(4 * CAIRN_MSEC);
    mock_cluster_add_lan_member(f->lan, "dc0", "bravo", "node", &c);
    mock_cluster_add_lan_member(f->lan, "dc0", "alpha", "node", &c);
    mock_cluster_add_lan_member(f->lan, "dc0", "nocoord", "node", NULL);
    mock_cluster_set_addr(f->lan, "alpha", "10.1.10.12");
    f->lan_seam = mock_cluster_seam(f->lan);
    f->stats.serf_lan.alive = 3;
    f->stats.serf_lan.failed = 1;
    f->stats.ml_lan.probes = 42;
    f->stats.route_lookups = 9;
    f->view = (cairn_http_view){.dc = "dc0",
                                .node = "self",
                                .version = "0.1.0",
                                .router = f->r,
                                .lan = &f->lan_seam,
                                .wan = &f->wan_seam,
                                .stats = &f->stats,
                                .index = 7};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cairn__http_resp_clear(&f->resp);
    cairn_router_delete(f->r);
    cairn_loop_delete(f->loop);
    mock_cluster_delete(f->wan);
    mock_cluster_delete(f->lan);
    free(f);
    return 0;
}

/* call: parses "METHOD /path?a=b&c" into a request and handles it. */
static cairn_http_resp *call(struct fx *f, const char *method, const char *url)
{
    static char buf[1024];
    cairn_http_req req = {.method = method};
    snprintf(buf, sizeof(buf), "%s", url);
    char *q = strchr(buf, '?');
    if (q != NULL) {
        *q++ = 0;
        for (char *tok = strtok(q, "&"); tok; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq++ = 0;
            req.params[req.n_params++] = (cairn_http_param){tok, eq};
        }
    }
    req.path = buf;
    cairn__http_resp_clear(&f->resp);
    assert_int_equal(cairn__http_api_handle(&req, &f->view, &f->resp), 0);
    return &f->resp;
}

static json_t *body_json(const cairn_http_resp *r)
{
    assert_non_null(r->body);
    assert_string_equal(r->content_type, "application/json");
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &err);
    assert_non_null(j);
    return j;
}

static void test_catalog_datacenters(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/catalog/datacenters");
    assert_int_equal(r->status, 200);
    /* GetDatacentersByDistance over Consul's testCluster. */
    assert_string_equal(r->body, "[\"dc0\",\"dc2\",\"dc1\",\"dcX\"]");
    assert_int_equal(r->index, 7);
    f->view.router = NULL;
    r = call(f, "GET", "/v1/catalog/datacenters");
    assert_string_equal(r->body, "[\"dc0\"]");
    assert_false(r->known_leader);
}

static void test_coordinate_datacenters(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/coordinate/datacenters");
    assert_int_equal(r->status, 200);
    json_t *j = body_json(r);
    assert_true(json_is_array(j));
    assert_true(json_array_size(j) >= 3);
    json_t *first = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(first, "AreaID")), "wan");
    json_t *coords = json_object_get(first, "Coordinates");
    json_t *c0 = json_array_get(coords, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "Segment")), "");
    assert_int_equal(json_array_size(json_object_get(json_object_get(c0, "Coord"), "Vec")), 8);
    json_decref(j);
    f->view.router = NULL;
    r = call(f, "GET", "/v1/coordinate/datacenters");
    assert_string_equal(r->body, "[]");
}

static void test_coordinate_nodes(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/coordinate/nodes");
    assert_int_equal(r->status, 200);
    assert_false(r->blocking);
    json_t *j = body_json(r);
    /* Sorted by name; the member without a coordinate is left out. */
    assert_int_equal(json_array_size(j), 3);
    const char *names[] = {"alpha", "bravo", "self"};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(j, i);
        assert_string_equal(json_string_value(json_object_get(e, "Node")), names[i]);
        const char *k;
        json_t *v;
        size_t n = 0;
        const char *want[] = {"Node", "Segment", "Coord"};
        json_object_foreach(e, k, v) assert_string_equal(k, want[n++]);
    }
    /* mock_coord(1 ms): Go writes the floats as "0.001", "1.5", "0". */
    assert_non_null(strstr(r->body, "{\"Node\":\"self\",\"Segment\":\"\",\"Coord\":{\"Vec\":"
                                    "[0.001,0,0,0,0,0,0,0],\"Error\":1.5,\"Adjustment\":0,"
                                    "\"Height\":0}}"));
    json_decref(j);

    r = call(f, "GET", "/v1/coordinate/nodes?index=5&wait=10s");
    assert_int_equal(r->status, 200);
    assert_true(r->blocking);
    assert_int_equal(r->block_index, 5);
    assert_int_equal(r->block_wait, 10 * CAIRN_SEC);
    r = call(f, "GET", "/v1/coordinate/nodes?index=5&wait=1h");
    assert_int_equal(r->block_wait, CAIRN_HTTP_WAIT_MAX);
    r = call(f, "GET", "/v1/coordinate/nodes?index=5");
    assert_int_equal(r->block_wait, CAIRN_HTTP_WAIT_DEFAULT);
    r = call(f, "GET", "/v1/coordinate/nodes?wait=ten");
    assert_int_equal(r->status, 400);
    assert_string_equal(r->body, "Invalid wait time");
    r = call(f, "GET", "/v1/coordinate/nodes?index=-1");
    assert_int_equal(r->status, 400);
    assert_string_equal(r->body, "Invalid index");
    r = call(f, "GET", "/v1/coordinate/nodes?index=12x");
    assert_int_equal(r->status, 400);
    r = call(f, "GET", "/v1/coordinate/nodes?dc=dc0");
    assert_int_equal(r->status, 200);
    r = call(f, "GET", "/v1/coordinate/nodes?dc=nowhere");
    assert_int_equal(r->status, 500);
    assert_string_equal(r->body, "No path to datacenter");
    r = call(f, "GET", "/v1/coordinate/nodes?dc=dc2&index=3");
    assert_int_equal(r->status, 500);
    assert_false(r->blocking);
    /* Coordinates disabled: Consul's 401. */
    mock_cluster_fail_coordinate(f->lan, CAIRN_ENOTSUP);
    r = call(f, "GET", "/v1/coordinate/nodes?index=3");
    assert_int_equal(r->status, 401);
    assert_string_equal(r->body, "Coordinate support disabled");
    assert_false(r->blocking);
    r = call(f, "GET", "/v1/coordinate/datacenters");
    assert_int_equal(r->status, 401);
}

static void test_members(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/agent/members");
    assert_int_equal(r->status, 200);
    json_t *j = body_json(r);
    assert_int_equal(json_array_size(j), 4);
    json_t *alpha = NULL;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(j, i), "Name")), "alpha") == 0)
            alpha = json_array_get(j, i);
    assert_non_null(alpha);
    assert_string_equal(json_string_value(json_object_get(alpha, "Addr")), "10.1.10.12");
    assert_int_equal(json_integer_value(json_object_get(alpha, "Status")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(alpha, "Tags"), "role")),
                        "node");
    /* Go's field order. */
    const char *want[] = {"Name",        "Addr",        "Port",        "Tags",
                          "Status",      "ProtocolMin", "ProtocolMax", "ProtocolCur",
                          "DelegateMin", "DelegateMax", "DelegateCur"};
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(alpha, k, v) assert_string_equal(k, want[n++]);
    assert_int_equal(n, 11);
    json_decref(j);

    r = call(f, "GET", "/v1/agent/members?wan=1");
    j = body_json(r);
    assert_int_equal(json_array_size(j), mock_cluster_count(f->wan));
    json_decref(j);
    r = call(f, "GET", "/v1/agent/members?wan=");
    j = body_json(r);
    assert_int_equal(json_array_size(j), 4); /* empty wan: LAN */
    json_decref(j);
    /* A peer's name that is not UTF-8 is repaired, not a failed answer. */
    mock_cluster_add_lan_member(f->lan, "dc0", "bad\xff", "node", NULL);
    r = call(f, "GET", "/v1/agent/members");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"bad\xef\xbf\xbd\""));
    f->view.wan = NULL; /* a client agent */
    r = call(f, "GET", "/v1/agent/members?wan=true");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "null");
}

static void test_self(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/agent/self");
    assert_int_equal(r->status, 200);
    json_t *j = body_json(r);
    json_t *cfg = json_object_get(j, "Config");
    assert_string_equal(json_string_value(json_object_get(cfg, "Datacenter")), "dc0");
    assert_string_equal(json_string_value(json_object_get(cfg, "NodeName")), "self");
    assert_true(json_is_false(json_object_get(cfg, "Server")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "Member"), "Name")),
                        "self");
    assert_true(json_is_object(json_object_get(j, "Coord")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "Stats"), "serf_lan"), "failed")),
                        "1");
    assert_true(json_is_object(json_object_get(j, "Meta")));
    json_decref(j);
}

static void test_actions(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/agent/join/10.0.0.1:8301");
    assert_int_equal(r->status, 200);
    assert_int_equal(r->action, CAIRN_HTTP_ACT_JOIN);
    assert_string_equal(r->target, "10.0.0.1:8301");
    assert_false(r->wan);
    r = call(f, "PUT", "/v1/agent/join/[::1]:8302?wan=1");
    assert_int_equal(r->action, CAIRN_HTTP_ACT_JOIN);
    assert_string_equal(r->target, "[::1]:8302");
    assert_true(r->wan);
    r = call(f, "PUT", "/v1/agent/join/");
    assert_int_equal(r->status, 400);
    assert_int_equal(r->action, CAIRN_HTTP_ACT_NONE);
    r = call(f, "DELETE", "/v1/agent/join/1.2.3.4");
    assert_int_equal(r->status, 405);
    assert_string_equal(r->body, "method DELETE not allowed");
    assert_string_equal(r->allow, "OPTIONS,GET,PUT");
    assert_int_equal(r->action, CAIRN_HTTP_ACT_NONE);

    r = call(f, "GET", "/v1/agent/force-leave/node9?prune");
    assert_int_equal(r->action, CAIRN_HTTP_ACT_FORCE_LEAVE);
    assert_string_equal(r->target, "node9");
    assert_true(r->prune);
    assert_false(r->wan);
    r = call(f, "PUT", "/v1/agent/force-leave/node9?wan");
    assert_false(r->prune);
    assert_true(r->wan);

    r = call(f, "PUT", "/v1/agent/leave");
    assert_int_equal(r->action, CAIRN_HTTP_ACT_LEAVE);
    r = call(f, "GET", "/v1/agent/leave");
    assert_int_equal(r->status, 405);
    assert_string_equal(r->allow, "OPTIONS,PUT");
    char longname[400];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    char url[512];
    snprintf(url, sizeof(url), "/v1/agent/force-leave/%s", longname);
    r = call(f, "PUT", url);
    assert_int_equal(r->status, 400);
}

static void test_errors(void **state)
{
    struct fx *f = *state;
    cairn_http_resp *r = call(f, "GET", "/v1/nope");
    assert_int_equal(r->status, 404);
    assert_null(r->body);
    assert_int_equal(r->index, 7);
    r = call(f, "GET", "/");
    assert_int_equal(r->status, 404);
    r = call(f, "GET", "/v1/agent/members/extra");
    assert_int_equal(r->status, 404);
    r = call(f, "POST", "/v1/catalog/datacenters");
    assert_int_equal(r->status, 405);
    assert_string_equal(r->content_type, "text/plain; charset=utf-8");
    r = call(f, "OPTIONS", "/v1/catalog/datacenters");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->allow, "OPTIONS,GET");
    f->view.index = 0; /* never below 1 */
    r = call(f, "GET", "/v1/nope");
    assert_int_equal(r->index, 1);
}

static void test_routes(void **state)
{
    struct fx *f = *state;
    cairn_http_req req = {.method = "GET", .path = "/v1/cairn/route/dc1"};
    assert_true(cairn__http_api_is_fast(&req));
    req.path = "/v1/cairn/routes";
    assert_true(cairn__http_api_is_fast(&req));
    req.path = "/v1/agent/members";
    assert_false(cairn__http_api_is_fast(&req));
    req.method = "DELETE"; /* a 405 needs no loop */
    assert_true(cairn__http_api_is_fast(&req));

    cairn_http_resp *r = call(f, "GET", "/v1/cairn/route/dc1");
    assert_int_equal(r->status, 200);
    json_t *j = body_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "Datacenter")), "dc1");
    json_t *s = json_object_get(j, "Server");
    assert_string_equal(json_string_value(json_object_get(s, "Datacenter")), "dc1");
    assert_true(strncmp(json_string_value(json_object_get(s, "Name")), "node", 4) == 0);
    assert_non_null(strchr(json_string_value(json_object_get(s, "Addr")), ':'));
    json_decref(j);
    /* The hand-written answer is byte for byte what jansson writes for
     * the same route (the /v1/cairn/routes entry). */
    char one[1024];
    snprintf(one, sizeof(one), "%s", r->body);
    r = call(f, "GET", "/v1/cairn/routes");
    assert_non_null(strstr(r->body, one));
    r = call(f, "GET", "/v1/cairn/route/nowhere");
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "No path to datacenter");
    r = call(f, "GET", "/v1/cairn/route/");
    assert_int_equal(r->status, 400);

    r = call(f, "GET", "/v1/cairn/routes");
    j = body_json(r);
    assert_int_equal(json_array_size(j), 4);
    const char *dcs[] = {"dc0", "dc1", "dc2", "dcX"};
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(j, i);
        assert_string_equal(json_string_value(json_object_get(e, "Datacenter")), dcs[i]);
        assert_string_equal(json_string_value(json_object_get(e, "Error")), "");
    }
    json_decref(j);
    f->view.router = NULL;
    r = call(f, "GET", "/v1/cairn/routes");
    assert_string_equal(r->body, "[]");
    r = call(f, "GET", "/v1/cairn/route/dc1");
    assert_int_equal(r->status, 500);
}

/* WAN servers whose name and datacenter are not UTF-8 (peers' bytes) are
 * repaired in the JSON answers; they failed /v1/cairn/routes and
 * /v1/coordinate/datacenters with 500 before (found by fuzz_http_api). */
static void test_odd_wan_names(void **state)
{
    struct fx *f = *state;
    cairn_coord c = mock_coord(2 * CAIRN_MSEC);
    mock_cluster_add_member(f->wan, "d\xff", "q\"\x01\xfe", &c);
    assert_int_equal(cairn_router_remove_area(f->r, CAIRN_AREA_WAN, NULL), 0);
    assert_int_equal(cairn_router_add_area(f->r, CAIRN_AREA_WAN, &f->wan_seam, &f->ok.pinger, NULL),
                     0);
    const char *urls[] = {"/v1/cairn/routes", "/v1/coordinate/datacenters",
                          "/v1/catalog/datacenters"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        cairn_http_resp *r = call(f, "GET", urls[i]);
        assert_int_equal(r->status, 200);
        json_t *j = body_json(r);
        assert_non_null(j);
        assert_non_null(strstr(r->body, "d\xef\xbf\xbd"));
        json_decref(j);
    }
    cairn_http_resp *r = call(f, "GET", "/v1/cairn/routes");
    assert_non_null(strstr(r->body, "q\\\"\\u0001\xef\xbf\xbd"));
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0;
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return n;
}

static void test_metrics(void **state)
{
    struct fx *f = *state;
    cairn_http_counter extra[] = {{"proxy.connections", "Proxied connections", 5, false},
                                  {"router.route_changes", "Route changes", 2, false}};
    f->stats.extra = extra;
    f->stats.n_extra = 2;
    f->view.timestamp = "2026-12-07 01:00:00 +0000 UTC";
    cairn_http_resp *r = call(f, "GET", "/v1/agent/metrics");
    assert_int_equal(r->status, 200);
    json_t *j = body_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "Timestamp")),
                        "2026-12-07 01:00:00 +0000 UTC");
    json_t *gauges = json_object_get(j, "Gauges"), *counters = json_object_get(j, "Counters");
    assert_true(json_is_array(gauges) && json_is_array(counters));
    assert_true(json_is_array(json_object_get(j, "Points")));
    bool alive = false, proxy = false;
    size_t i;
    json_t *e;
    json_array_foreach(gauges, i, e)
    {
        json_t *labels = json_object_get(e, "Labels");
        const char *st = json_string_value(json_object_get(labels, "state"));
        if (strcmp(json_string_value(json_object_get(e, "Name")), "cairn.serf.members") == 0 &&
            st && strcmp(st, "alive") == 0)
            alive = json_number_value(json_object_get(e, "Value")) == 3.0;
    }
    json_array_foreach(counters, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "Name")), "proxy.connections") == 0)
            proxy = json_number_value(json_object_get(e, "Sum")) == 5.0;
    }
    assert_true(alive);
    assert_true(proxy);
    json_decref(j);

    r = call(f, "GET", "/v1/agent/metrics?format=prometheus");
    assert_int_equal(r->status, 200);
    assert_true(strncmp(r->content_type, "text/plain; version=0.0.4", 25) == 0);
    assert_int_equal(count_lines(r->body, "cairn_serf_members{pool=\"lan\",state=\"alive\"} 3\n"),
                     1);
    assert_int_equal(count_lines(r->body, "cairn_serf_members{pool=\"wan\""), 0);
    assert_int_equal(count_lines(r->body, "# TYPE cairn_serf_members gauge"), 1);
    assert_int_equal(count_lines(r->body, "cairn_memberlist_probes{pool=\"lan\"} 42"), 1);
    assert_int_equal(count_lines(r->body, "cairn_route_lookups 9"), 1);
    assert_int_equal(count_lines(r->body, "proxy_connections 5"), 1);
    assert_int_equal(count_lines(r->body, "router_route_changes 2"), 1);
    f->stats.has_wan = true;
    r = call(f, "GET", "/v1/agent/metrics?format=prometheus");
    assert_int_equal(count_lines(r->body, "cairn_serf_members{pool=\"wan\""), 4);
    r = call(f, "GET", "/v1/agent/metrics?format=xml");
    assert_int_equal(r->status, 400);
}

static void test_go_float(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {{0, "0"},           {1.5, "1.5"},
                 {1e-5, "0.00001"},  {1e-6, "0.000001"},
                 {1.5e-7, "1.5e-7"}, {1e-10, "1e-10"},
                 {-0.002, "-0.002"}, {123.456, "123.456"},
                 {100, "100"},       {1e20, "100000000000000000000"},
                 {1e21, "1e+21"},    {0.1 + 0.2, "0.30000000000000004"},
                 {0.3, "0.3"},       {1.0000000000000001e-5, "0.00001"},
                 {0.008, "0.008"},   {1.7976931348623157e308, "1.7976931348623157e+308"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32];
        cairn__http_go_float(cases[i].v, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
}

static void test_parse_wait(void **state)
{
    (void)state;
    cairn_time w;
    assert_int_equal(cairn__http_parse_wait("10s", &w), 0);
    assert_int_equal(w, 10 * CAIRN_SEC);
    assert_int_equal(cairn__http_parse_wait("1m30s", &w), 0);
    assert_int_equal(w, 90 * CAIRN_SEC);
    assert_int_equal(cairn__http_parse_wait("250ms", &w), 0);
    assert_int_equal(w, 250 * CAIRN_MSEC);
    assert_int_equal(cairn__http_parse_wait("0", &w), 0);
    assert_int_equal(w, 0);
    assert_int_equal(cairn__http_parse_wait("10", &w), CAIRN_EINVAL);
    assert_int_equal(cairn__http_parse_wait("", &w), CAIRN_EINVAL);
    assert_int_equal(cairn__http_parse_wait("-1s", &w), CAIRN_EINVAL);
    assert_int_equal(cairn__http_parse_wait("5x", &w), CAIRN_EINVAL);
    assert_int_equal(cairn__http_parse_wait("99999999999h", &w), CAIRN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog_datacenters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coordinate_datacenters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coordinate_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_wan_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test(test_parse_wait),
        cmocka_unit_test(test_go_float),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
