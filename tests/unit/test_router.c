/* Unit tests for the Router, the serf adapter and the flooder: Consul's
 * router_test.go (spec consul-servers §7.4, same numbers), adapter and
 * flooder behaviour (§3, §4), the regressions of §8, and an allocation
 * failure sweep over router operations. */
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
#include "cairn/flooder.h"
#include "cairn/manager.h"
#include "cairn/router.h"
#include "cairn/serf_adapter.h"
#include "cairn/server.h"
#include "faux_servers.h"
#include "mock_cluster.h"
#include "servers/router_internal.h"
#include "base/alloc_test.h"

/* ---- log capture ---- */

#define CAP_LINES 256
struct logcap {
    char lines[CAP_LINES][320];
    int levels[CAP_LINES];
    size_t n;
};

static void cap_cb(int level, const char *module, const char *msg, void *ud)
{
    struct logcap *c = ud;
    if (c->n == CAP_LINES)
        return;
    snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", msg);
    c->levels[c->n] = level;
    c->n++;
}

static size_t cap_count(const struct logcap *c, int level, const char *needle)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->levels[i] == level && strstr(c->lines[i], needle) != NULL)
            k++;
    return k;
}

/* ---- fixture ---- */

struct fx {
    cairn_loop *loop;
    cairn_router *r;
    struct logcap log;
    cairn_logger logger;
    faux_conn_pool ok, bad;
    cairn_pinger ok_seam, bad_seam;
    mock_cluster *clusters[4];
    size_t nclusters;
};

static int fx_init_dc(struct fx *f, const char *local_dc)
{
    memset(f, 0, sizeof(*f));
    int rc = cairn_loop_new_manual(0, &f->loop);
    if (rc != 0)
        return rc;
    f->logger.cb = cap_cb;
    f->logger.userdata = &f->log;
    f->logger.level = CAIRN_LOG_DEBUG;
    faux_conn_pool_init(&f->ok, 0.0, 1);
    faux_conn_pool_init(&f->bad, 1.0, 2);
    f->ok_seam = f->ok.pinger;
    f->bad_seam = f->bad.pinger;
    cairn_router_config cfg = {
        .local_datacenter = local_dc,
        .server_name = "",
        .loop = f->loop,
        .logger = &f->logger,
        .seed = 42,
    };
    rc = cairn_router_new(&cfg, &f->r);
    if (rc != 0)
        cairn_loop_delete(f->loop);
    return rc;
}

static void fx_init(struct fx *f)
{
    assert_int_equal(fx_init_dc(f, "dc0"), 0);
}

static void fx_destroy(struct fx *f)
{
    cairn_router_delete(f->r);
    cairn_loop_delete(f->loop);
    for (size_t i = 0; i < f->nclusters; i++)
        mock_cluster_delete(f->clusters[i]);
}

static mock_cluster *fx_keep(struct fx *f, mock_cluster *mc)
{
    assert_true(f->nclusters < 4);
    f->clusters[f->nclusters++] = mc;
    return mc;
}

static int add_area(struct fx *f, const char *id, mock_cluster *mc, const cairn_pinger *p,
                    cairn_diag *diag)
{
    cairn_cluster seam = mock_cluster_seam(mc);
    return cairn_router_add_area(f->r, id, &seam, p, diag);
}

static int route(struct fx *f, const char *dc, cairn_route *ret)
{
    cairn_route tmp;
    return cairn_router_find_route(f->r, dc, ret != NULL ? ret : &tmp);
}

/* server_of parses the mock member `name` into a new record. */
static cairn_server *server_of(mock_cluster *mc, const char *name)
{
    cairn_member m;
    assert_true(mock_cluster_member(mc, mock_cluster_find(mc, name), &m));
    cairn_server *s = NULL;
    assert_int_equal(cairn_server_from_member(&m, &s, NULL), 0);
    return s;
}

static cairn_event member_event(mock_cluster *mc, int type, const char *name, cairn_member *m)
{
    assert_true(mock_cluster_member(mc, mock_cluster_find(mc, name), m));
    cairn_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.members = m;
    ev.nmembers = 1;
    return ev;
}

#define DC_CAP 16
struct dcs {
    const char *names[DC_CAP];
    double rtts[DC_CAP];
    char bytes[512];
    size_t n;
};

static int get_dcs(struct fx *f, struct dcs *d, bool by_distance)
{
    cairn_dc_buf buf = {d->names, d->rtts, DC_CAP, d->bytes, sizeof(d->bytes)};
    if (by_distance)
        return cairn_router_get_datacenters_by_distance(f->r, &buf, &d->n, NULL);
    return cairn_router_get_datacenters(f->r, &buf, &d->n, NULL);
}

static void assert_dcs(const struct dcs *d, const char *const *want, size_t n)
{
    assert_int_equal(d->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(d->names[i], want[i]);
}

/* ---- router_test.go ---- */

static void test_router_shutdown(void **state)
{
    struct fx f;
    fx_init(&f);
    cairn_diag diag;
    cairn_diag_clear(&diag);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    mock_cluster *other = fx_keep(&f, mock_cluster_new("node0.dc0"));
    mock_cluster_add_member(other, "dcY", "node1", NULL);
    assert_int_equal(add_area(&f, "other", other, &f.ok_seam, NULL), 0);
    assert_int_equal(route(&f, "dcY", NULL), 0);

    cairn_router_shutdown(f.r);
    assert_int_equal(route(&f, "dcY", NULL), CAIRN_ENOROUTE);
    assert_int_equal(add_area(&f, "other", other, &f.ok_seam, &diag), CAIRN_ESHUTDOWN);
    assert_non_null(strstr(diag.msg, "router is shut down"));
    assert_string_equal(diag.msg, "cannot add area, router is shut down");

    /* Other writers now see no areas. */
    cairn_server *s = server_of(other, "node1.dcY");
    cairn_diag_clear(&diag);
    assert_int_equal(cairn_router_add_server(f.r, "other", s, &diag), CAIRN_ENOENT);
    assert_string_equal(diag.msg, "area ID \"other\" does not exist");
    cairn_server_unref(s);
    cairn_router_shutdown(f.r); /* idempotent */
    fx_destroy(&f);
}

static void test_router_routing(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    assert_int_equal(route(&f, "dc0", NULL), 0);
    assert_int_equal(route(&f, "dc1", NULL), 0);
    assert_int_equal(route(&f, "dc2", NULL), 0);
    assert_int_equal(route(&f, "dcX", NULL), 0); /* no coordinates, but a server */
    assert_int_equal(route(&f, "dcY", NULL), CAIRN_ENOROUTE);

    mock_cluster *other = fx_keep(&f, mock_cluster_new("node0.dc0"));
    mock_cluster_add_member(other, "dc0", "node0", NULL);
    mock_cluster_add_member(other, "dc1", "node1", NULL);
    mock_cluster_add_member(other, "dcY", "node1", NULL);
    assert_int_equal(add_area(&f, "other", other, &f.ok_seam, NULL), 0);
    const char *all[] = {"dc0", "dc1", "dc2", "dcX", "dcY"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(route(&f, all[i], NULL), 0);

    /* Failing the only server of a DC still routes (best effort). */
    cairn_route rt;
    assert_int_equal(route(&f, "dcY", &rt), 0);
    assert_string_equal(rt.server.name, "node1.dcY");
    cairn_server *s = server_of(other, rt.server.name);
    assert_int_equal(cairn_router_fail_server(f.r, "other", s, NULL), 0);
    assert_int_equal(route(&f, "dcY", NULL), 0);

    /* Removing it removes the manager and the index entry. */
    assert_int_equal(cairn_router_remove_server(f.r, "other", s, NULL), 0);
    cairn_server_unref(s);
    assert_int_equal(route(&f, "dcY", NULL), CAIRN_ENOROUTE);
    assert_false(cairn_router_area_has_manager(f.r, "other", "dcY"));
    assert_false(cairn_router_has_datacenter(f.r, "dcY"));

    /* dc0 is reachable through both areas. */
    assert_int_equal(route(&f, "dc0", &rt), 0);
    s = server_of(wan, rt.server.name);
    assert_int_equal(cairn_router_remove_server(f.r, CAIRN_AREA_WAN, s, NULL), 0);
    assert_int_equal(route(&f, "dc0", &rt), 0);
    assert_true(cairn_router_area_has_manager(f.r, "other", "dc0"));
    assert_false(cairn_router_area_has_manager(f.r, CAIRN_AREA_WAN, "dc0"));
    assert_int_equal(cairn_router_remove_server(f.r, "other", s, NULL), 0);
    cairn_server_unref(s);
    assert_int_equal(route(&f, "dc0", NULL), CAIRN_ENOROUTE);

    /* Removing areas. */
    assert_int_equal(route(&f, "dc1", NULL), 0);
    assert_int_equal(cairn_router_remove_area(f.r, CAIRN_AREA_WAN, NULL), 0);
    assert_int_equal(route(&f, "dc1", NULL), 0);
    assert_int_equal(cairn_router_remove_area(f.r, "other", NULL), 0);
    assert_int_equal(route(&f, "dc1", NULL), CAIRN_ENOROUTE);

    /* Unknown areas. */
    cairn_diag diag;
    cairn_diag_clear(&diag);
    assert_int_equal(cairn_router_remove_area(f.r, "other", &diag), CAIRN_ENOENT);
    assert_string_equal(diag.msg, "area ID \"other\" does not exist");
    fx_destroy(&f);
}

static void rebalance_fn(cairn_manager *m, void *userdata)
{
    (void)userdata;
    assert_int_equal(cairn_manager_rebalance(m), 0);
}

static void test_router_routing_offline(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.bad_seam, NULL), 0);
    const char *four[] = {"dc0", "dc1", "dc2", "dcX"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(route(&f, four[i], NULL), 0);

    /* A rebalance where every ping fails takes dc1 offline: known DC, no
     * route (ErrDCNotAvailable, not ErrNoDCPath: #6399). */
    assert_int_equal(cairn_router_with_manager(f.r, CAIRN_AREA_WAN, "dc1", rebalance_fn, NULL), 0);
    assert_int_equal(route(&f, "dc1", NULL), CAIRN_EUNAVAIL);
    assert_true(cairn_router_has_datacenter(f.r, "dc1"));
    assert_int_equal(route(&f, "dc0", NULL), 0);
    assert_int_equal(route(&f, "dc2", NULL), 0);
    assert_int_equal(route(&f, "dcX", NULL), 0);

    /* An online manager in another area brings dc1 back. */
    mock_cluster *other = fx_keep(&f, mock_cluster_new("node0.dc0"));
    mock_cluster_add_member(other, "dc0", "node0", NULL);
    mock_cluster_add_member(other, "dc1", "node1", NULL);
    assert_int_equal(add_area(&f, "other", other, &f.ok_seam, NULL), 0);
    cairn_route rt;
    assert_int_equal(route(&f, "dc1", &rt), 0);
    assert_string_equal(rt.server.name, "node1.dc1");
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(route(&f, four[i], NULL), 0);
    assert_int_equal(cairn_router_with_manager(f.r, "nope", "dc1", rebalance_fn, NULL),
                     CAIRN_ENOENT);
    fx_destroy(&f);
}

static void test_router_get_datacenters(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    struct dcs d;
    assert_int_equal(get_dcs(&f, &d, false), 0);
    const char *want[] = {"dc0", "dc1", "dc2", "dcX"};
    assert_dcs(&d, want, 4);

    /* Too little room: an error, nothing written. */
    const char *names[3];
    char bytes[64];
    size_t n = 99;
    cairn_diag diag;
    cairn_diag_clear(&diag);
    cairn_dc_buf small = {names, NULL, 3, bytes, sizeof(bytes)};
    assert_int_equal(cairn_router_get_datacenters(f.r, &small, &n, &diag), CAIRN_ENOSPC);
    assert_int_equal(n, 99);
    assert_non_null(strstr(diag.msg, "need 4 names"));
    fx_destroy(&f);
}

static void test_router_distance_sorter(void **state)
{
    struct router_dist d[] = {{"foo", 3.0, 0}, {"bar", 1.0, 0}, {"baz", 1.0, 0}, {"zoo", 0.0, 0}};
    cairn__router_distance_sort(d, 4);
    const char *names[] = {"zoo", "bar", "baz", "foo"};
    const double rtts[] = {0.0, 1.0, 1.0, 3.0};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(d[i].name, names[i]);
        assert_true(d[i].rtt == rtts[i]);
    }
}

static void test_router_get_datacenters_by_distance(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    struct dcs d;
    assert_int_equal(get_dcs(&f, &d, true), 0);
    const char *want1[] = {"dc0", "dc2", "dc1", "dcX"};
    assert_dcs(&d, want1, 4);
    /* dc0 local 0; dc2 |10-8| = 2 ms; dc1 upper median of [5,7,8,+Inf] = 8. */
    assert_true(d.rtts[0] == 0.0);
    assert_true(d.rtts[1] == 0.002);
    assert_true(d.rtts[2] == 0.008);
    assert_true(isinf(d.rtts[3]));

    mock_cluster *other = fx_keep(&f, mock_cluster_new("node0.dc0"));
    cairn_coord c = mock_coord(20 * CAIRN_MSEC);
    mock_cluster_add_member(other, "dc0", "node0", &c);
    c = mock_coord(21 * CAIRN_MSEC);
    mock_cluster_add_member(other, "dc1", "node1", &c);
    assert_int_equal(add_area(&f, "other", other, &f.ok_seam, NULL), 0);
    assert_int_equal(get_dcs(&f, &d, true), 0);
    const char *want2[] = {"dc0", "dc1", "dc2", "dcX"};
    assert_dcs(&d, want2, 4);
    assert_true(d.rtts[1] == 0.001); /* min(8 ms, 1 ms) */
    fx_destroy(&f);
}

static void test_router_by_distance_errors(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    struct dcs d;
    /* An unknown own coordinate makes every remote DC +Inf (alphabetical). */
    mock_cluster_set_coord(wan, "node0.dc0", NULL);
    assert_int_equal(get_dcs(&f, &d, true), 0);
    const char *want[] = {"dc0", "dc1", "dc2", "dcX"};
    assert_dcs(&d, want, 4);
    assert_true(isinf(d.rtts[1]) && isinf(d.rtts[3]));
    /* Coordinates disabled: the whole call fails (Go returns the error). */
    mock_cluster_fail_coordinate(wan, CAIRN_ENOTSUP);
    d.n = 77;
    cairn_diag diag;
    cairn_diag_clear(&diag);
    cairn_dc_buf buf = {d.names, d.rtts, DC_CAP, d.bytes, sizeof(d.bytes)};
    assert_int_equal(cairn_router_get_datacenters_by_distance(f.r, &buf, &d.n, &diag),
                     CAIRN_ENOTSUP);
    assert_int_equal(d.n, 77);
    assert_non_null(strstr(diag.msg, "area \"wan\""));
    /* No areas: an empty list. */
    mock_cluster_fail_coordinate(wan, 0);
    assert_int_equal(cairn_router_remove_area(f.r, CAIRN_AREA_WAN, NULL), 0);
    assert_int_equal(get_dcs(&f, &d, true), 0);
    assert_int_equal(d.n, 0);
    fx_destroy(&f);
}

static const cairn_dc_map *find_map(const cairn_dc_maps *maps, const char *dc)
{
    for (size_t i = 0; i < maps->n; i++)
        if (strcmp(maps->maps[i].datacenter, dc) == 0)
            return &maps->maps[i];
    return NULL;
}

static void assert_map(const cairn_dc_maps *maps, const char *dc, const char *const *nodes,
                       const cairn_time *rtts, size_t n)
{
    const cairn_dc_map *m = find_map(maps, dc);
    assert_non_null(m);
    assert_string_equal(m->area_id, "wan");
    assert_int_equal(m->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(m->coords[i].node, nodes[i]);
        cairn_coord want = mock_coord(rtts[i]);
        assert_memory_equal(&m->coords[i].coord, &want, sizeof(want));
    }
}

static void test_router_get_datacenter_maps(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    cairn_dc_maps *maps = NULL;
    assert_int_equal(cairn_router_get_datacenter_maps(f.r, &maps, NULL), 0);
    assert_int_equal(maps->n, 3);
    const char *n0[] = {"node0.dc0"};
    const cairn_time r0[] = {10 * CAIRN_MSEC};
    assert_map(maps, "dc0", n0, r0, 1);
    const char *n1[] = {"node1.dc1", "node2.dc1", "node3.dc1"};
    const cairn_time r1[] = {3 * CAIRN_MSEC, 2 * CAIRN_MSEC, 5 * CAIRN_MSEC};
    assert_map(maps, "dc1", n1, r1, 3);
    const char *n2[] = {"node1.dc2"};
    const cairn_time r2[] = {8 * CAIRN_MSEC};
    assert_map(maps, "dc2", n2, r2, 1);
    assert_null(find_map(maps, "dcX"));

    /* The JSON of /v1/coordinate/datacenters. */
    char *text = NULL;
    assert_int_equal(cairn_dc_maps_to_json(maps, &text), 0);
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    assert_non_null(root);
    assert_true(json_is_array(root));
    assert_int_equal(json_array_size(root), 3);
    size_t i;
    json_t *entry;
    bool saw_dc1 = false;
    json_array_foreach(root, i, entry)
    {
        assert_int_equal(json_object_size(entry), 3);
        assert_string_equal(json_string_value(json_object_get(entry, "AreaID")), "wan");
        const char *dc = json_string_value(json_object_get(entry, "Datacenter"));
        assert_non_null(dc);
        json_t *coords = json_object_get(entry, "Coordinates");
        assert_true(json_is_array(coords));
        if (strcmp(dc, "dc1") != 0)
            continue;
        saw_dc1 = true;
        assert_int_equal(json_array_size(coords), 3);
        json_t *c0 = json_array_get(coords, 0);
        assert_int_equal(json_object_size(c0), 3);
        assert_string_equal(json_string_value(json_object_get(c0, "Node")), "node1");
        assert_string_equal(json_string_value(json_object_get(c0, "Segment")), "");
        json_t *coord = json_object_get(c0, "Coord");
        assert_int_equal(json_object_size(coord), 4);
        json_t *vec = json_object_get(coord, "Vec");
        assert_int_equal(json_array_size(vec), 8);
        assert_true(json_real_value(json_array_get(vec, 0)) == 0.003);
        assert_true(json_real_value(json_object_get(coord, "Error")) == 1.5);
        assert_true(json_number_value(json_object_get(coord, "Adjustment")) == 0.0);
        assert_true(json_number_value(json_object_get(coord, "Height")) == 0.0);
    }
    assert_true(saw_dc1);
    json_decref(root);
    cairn_free(text);
    cairn_dc_maps_free(maps);

    /* Nothing: "[]". */
    assert_int_equal(cairn_dc_maps_to_json(NULL, &text), 0);
    assert_string_equal(text, "[]");
    cairn_free(text);
    fx_destroy(&f);
}

/* A WAN server whose name and datacenter are not UTF-8 (peers' bytes) is
 * repaired in the JSON, not a failure of the whole answer (the fuzz target
 * found /v1/coordinate/datacenters answering 500 "out of memory"). */
static void test_router_maps_json_repairs_names(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_new("node0.dc0"));
    cairn_coord c = mock_coord(1 * CAIRN_MSEC);
    mock_cluster_add_member(wan, "dc0", "node0", &c);
    mock_cluster_add_member(wan,
                            "d\xff"
                            "c",
                            "q\"\x01\xfe", &c);
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    cairn_dc_maps *maps = NULL;
    assert_int_equal(cairn_router_get_datacenter_maps(f.r, &maps, NULL), 0);
    char *text = NULL;
    assert_int_equal(cairn_dc_maps_to_json(maps, &text), 0);
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    assert_non_null(root);
    assert_int_equal(json_array_size(root), 2);
    bool saw = false;
    size_t i;
    json_t *entry;
    json_array_foreach(root, i, entry)
    {
        const char *dc = json_string_value(json_object_get(entry, "Datacenter"));
        if (strcmp(dc, "d\xef\xbf\xbd"
                       "c") != 0)
            continue;
        saw = true;
        json_t *c0 = json_array_get(json_object_get(entry, "Coordinates"), 0);
        assert_string_equal(json_string_value(json_object_get(c0, "Node")), "q\"\x01\xef\xbf\xbd");
    }
    assert_true(saw);
    json_decref(root);
    cairn_free(text);
    cairn_dc_maps_free(maps);
    fx_destroy(&f);
}

static void test_router_maps_lan_dropped_from_json(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *lan = fx_keep(&f, mock_cluster_new("node0"));
    cairn_coord c = mock_coord(1 * CAIRN_MSEC);
    mock_cluster_add_lan_member(lan, "dc0", "node0", "consul", &c);
    mock_cluster_add_lan_member(lan, "dc0", "client1", "node", &c);
    assert_int_equal(add_area(&f, CAIRN_AREA_LAN, lan, &f.ok_seam, NULL), 0);
    cairn_dc_maps *maps = NULL;
    assert_int_equal(cairn_router_get_datacenter_maps(f.r, &maps, NULL), 0);
    assert_int_equal(maps->n, 1); /* the router's answer keeps it */
    assert_string_equal(maps->maps[0].area_id, "lan");
    assert_int_equal(maps->maps[0].n, 1); /* the client is not a server */
    char *text = NULL;
    assert_int_equal(cairn_dc_maps_to_json(maps, &text), 0);
    assert_string_equal(text, "[]"); /* Coordinate.ListDatacenters drops "lan" */
    cairn_free(text);
    cairn_dc_maps_free(maps);
    /* No warnings about clients in the LAN area. */
    assert_int_equal(cap_count(&f.log, CAIRN_LOG_WARN, "Non-server"), 0);
    fx_destroy(&f);
}

static void test_router_find_lan_server(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *lan = fx_keep(&f, mock_cluster_new("node4.dc0"));
    mock_cluster_add_lan_member(lan, "dc0", "node0", "consul", NULL);
    mock_cluster_add_lan_member(lan, "dc0", "node1", "", NULL);
    mock_cluster_add_lan_member(lan, "dc0", "node2", "", NULL);
    cairn_route rt;
    assert_int_equal(cairn_router_find_lan_route(f.r, &rt), CAIRN_ENOROUTE);
    assert_int_equal(add_area(&f, CAIRN_AREA_LAN, lan, &f.ok_seam, NULL), 0);
    assert_int_equal(cairn_router_find_lan_route(f.r, &rt), 0);
    assert_non_null(rt.manager);
    char addr[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&rt.server.addr, true, addr, sizeof(addr));
    assert_string_equal(addr, "127.0.0.1:8300");
    assert_string_equal(rt.server.name, "node0");
    assert_int_equal(cap_count(&f.log, CAIRN_LOG_INFO, "Initializing LAN area manager"), 1);

    /* Removing the last local server deletes the LAN manager. */
    cairn_server *s = server_of(lan, "node0");
    assert_int_equal(cairn_router_remove_server(f.r, CAIRN_AREA_LAN, s, NULL), 0);
    assert_int_equal(cairn_router_find_lan_route(f.r, &rt), CAIRN_ENOROUTE);
    assert_int_equal(cairn_router_add_server(f.r, CAIRN_AREA_LAN, s, NULL), 0);
    assert_int_equal(cairn_router_find_lan_route(f.r, &rt), 0);
    cairn_server_unref(s);
    fx_destroy(&f);
}

static void test_router_lan_manager_without_servers(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *lan = fx_keep(&f, mock_cluster_new("client"));
    mock_cluster_add_lan_member(lan, "dc0", "client", "node", NULL);
    assert_int_equal(add_area(&f, CAIRN_AREA_LAN, lan, &f.ok_seam, NULL), 0);
    /* The local DC has a (offline, empty) LAN manager at once. */
    assert_true(cairn_router_has_datacenter(f.r, "dc0"));
    assert_true(cairn_router_area_has_manager(f.r, CAIRN_AREA_LAN, "dc0"));
    cairn_route rt;
    assert_int_equal(cairn_router_find_lan_route(f.r, &rt), CAIRN_ENOSERVERS);
    assert_int_equal(route(&f, "dc0", NULL), CAIRN_EUNAVAIL);
    fx_destroy(&f);
}

/* ---- other queries ---- */

struct count_visit {
    size_t n, stop_at;
};

static bool count_fn(const cairn_server *s, void *userdata)
{
    struct count_visit *c = userdata;
    c->n++;
    return c->n != c->stop_at;
}

static void test_router_server_queries(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    cairn_server_info info;
    /* node2.dc1 is the third member: 127.0.0.3. */
    assert_int_equal(cairn_router_get_server_by_addr(f.r, "dc1", "127.0.0.3:8300", &info), 0);
    assert_string_equal(info.name, "node2.dc1");
    assert_int_equal(cairn_router_get_server_by_addr(f.r, "dc2", "127.0.0.3:8300", &info),
                     CAIRN_ENOENT);
    assert_int_equal(cairn_router_get_server_by_addr(f.r, "dcQ", "127.0.0.3:8300", &info),
                     CAIRN_ENOENT);

    struct count_visit c = {0, 0};
    cairn_router_check_servers(f.r, "dc1", count_fn, &c);
    assert_int_equal(c.n, 4);
    c = (struct count_visit){0, 2};
    cairn_router_check_servers(f.r, "dc1", count_fn, &c);
    assert_int_equal(c.n, 2);
    c = (struct count_visit){0, 0};
    cairn_router_check_servers(f.r, "nope", count_fn, &c);
    assert_int_equal(c.n, 0);

    /* notify_failed rotates the routed server; a stale route is ignored. */
    cairn_route rt, rt2;
    assert_int_equal(route(&f, "dc1", &rt), 0);
    cairn_router_notify_failed(f.r, &rt);
    assert_int_equal(route(&f, "dc1", &rt2), 0);
    assert_string_not_equal(rt.server.name, rt2.server.name);
    assert_int_equal(cairn_router_remove_area(f.r, CAIRN_AREA_WAN, NULL), 0);
    cairn_router_notify_failed(f.r, &rt2);

    /* Duplicate and invalid areas. */
    cairn_diag diag;
    cairn_diag_clear(&diag);
    assert_int_equal(add_area(&f, "x", wan, &f.ok_seam, NULL), 0);
    assert_int_equal(add_area(&f, "x", wan, &f.ok_seam, &diag), CAIRN_EEXIST);
    assert_string_equal(diag.msg, "area ID \"x\" already exists");
    assert_int_equal(add_area(&f, "", wan, &f.ok_seam, NULL), CAIRN_EINVAL);
    fx_destroy(&f);
}

/* ---- serf adapter ---- */

static void notify_count(void *userdata)
{
    (*(int *)userdata)++;
}

static void test_adapter_events(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_new("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    int notified = 0;
    cairn_serf_adapter_config acfg = {f.r, CAIRN_AREA_WAN, &f.logger, notify_count, &notified};
    cairn_serf_adapter *a;
    assert_int_equal(cairn_serf_adapter_new(&acfg, &a), 0);
    mock_cluster_add_member(wan, "dc1", "node1", NULL);
    mock_cluster_add_member(wan, "dc1", "node2", NULL);

    /* join -> AddServer, for each member of a coalesced event. */
    cairn_member ms[2];
    assert_true(mock_cluster_member(wan, 0, &ms[0]));
    assert_true(mock_cluster_member(wan, 1, &ms[1]));
    cairn_event ev = {.type = CAIRN_EVENT_MEMBER_JOIN, .members = ms, .nmembers = 2};
    cairn_serf_adapter_handle(&ev, a);
    cairn_route rt;
    assert_int_equal(route(&f, "dc1", &rt), 0);
    assert_string_equal(rt.server.name, "node1.dc1");
    assert_int_equal(cap_count(&f.log, CAIRN_LOG_INFO,
                               "Handled member-join event for server node1.dc1 in area wan"),
                     1);
    assert_int_equal(notified, 1);

    /* update -> AddServer: the new address replaces the old (#5317). */
    cairn_member m;
    mock_cluster_set_addr(wan, "node1.dc1", "127.0.0.99");
    ev = member_event(wan, CAIRN_EVENT_MEMBER_UPDATE, "node1.dc1", &m);
    cairn_serf_adapter_handle(&ev, a);
    cairn_server_info info;
    assert_int_equal(cairn_router_get_server_by_addr(f.r, "dc1", "127.0.0.99:8300", &info), 0);
    assert_int_equal(cairn_router_get_server_by_addr(f.r, "dc1", "127.0.0.1:8300", &info),
                     CAIRN_ENOENT);
    assert_int_equal(route(&f, "dc1", &rt), 0);
    assert_string_equal(rt.server.name, "node1.dc1"); /* same position */

    /* failed -> FailServer: rotated away, still known. */
    ev = member_event(wan, CAIRN_EVENT_MEMBER_FAILED, "node1.dc1", &m);
    cairn_serf_adapter_handle(&ev, a);
    assert_int_equal(route(&f, "dc1", &rt), 0);
    assert_string_equal(rt.server.name, "node2.dc1");
    struct count_visit c = {0, 0};
    cairn_router_check_servers(f.r, "dc1", count_fn, &c);
    assert_int_equal(c.n, 2);

    /* leave -> RemoveServer. */
    ev = member_event(wan, CAIRN_EVENT_MEMBER_LEAVE, "node2.dc1", &m);
    cairn_serf_adapter_handle(&ev, a);
    assert_int_equal(route(&f, "dc1", &rt), 0);
    assert_string_equal(rt.server.name, "node1.dc1");

    /* reap -> RemoveServer (#5317): the DC goes away. */
    ev = member_event(wan, CAIRN_EVENT_MEMBER_REAP, "node1.dc1", &m);
    cairn_serf_adapter_handle(&ev, a);
    assert_false(cairn_router_has_datacenter(f.r, "dc1"));
    assert_int_equal(cap_count(&f.log, CAIRN_LOG_INFO, "Handled member-reap event"), 1);
    assert_int_equal(notified, 5);

    /* user and query events are ignored silently. */
    size_t lines = f.log.n;
    cairn_event uev = {.type = CAIRN_EVENT_USER, .name = "deploy"};
    cairn_serf_adapter_handle(&uev, a);
    uev.type = CAIRN_EVENT_QUERY;
    cairn_serf_adapter_handle(&uev, a);
    assert_int_equal(f.log.n, lines);
    assert_int_equal(notified, 5);

    /* Unknown types are warned about. */
    uev.type = 42;
    cairn_serf_adapter_handle(&uev, a);
    assert_int_equal(cap_count(&f.log, CAIRN_LOG_WARN, "Unhandled Serf Event"), 1);
    assert_int_equal(notified, 5);

    /* Non-servers are warned about, in every area. */
    mock_cluster_add_lan_member(wan, "dc1", "client1", "node", NULL);
    ev = member_event(wan, CAIRN_EVENT_MEMBER_JOIN, "client1", &m);
    cairn_serf_adapter_handle(&ev, a);
    assert_int_equal(
        cap_count(&f.log, CAIRN_LOG_WARN, "Non-server \"client1\" in server-only area \"wan\""), 1);
    assert_false(cairn_router_has_datacenter(f.r, "dc1"));
    cairn_serf_adapter_delete(a);

    /* Router errors are logged per member. */
    cairn_serf_adapter_config bad = {f.r, "nope", &f.logger, NULL, NULL};
    assert_int_equal(cairn_serf_adapter_new(&bad, &a), 0);
    ev = member_event(wan, CAIRN_EVENT_MEMBER_JOIN, "node1.dc1", &m);
    cairn_serf_adapter_handle(&ev, a);
    assert_int_equal(
        cap_count(&f.log, CAIRN_LOG_ERROR,
                  "Failed to process member-join event for server node1.dc1 in area nope: "
                  "area ID \"nope\" does not exist"),
        1);
    cairn_serf_adapter_delete(a);
    cairn_serf_adapter_delete(NULL);
    fx_destroy(&f);
}

/* ---- flooder ---- */

static int join_mock(const char *join_str, size_t *ret_joined, void *userdata)
{
    return mock_cluster_join(userdata, join_str, ret_joined);
}

struct flood_fx {
    mock_cluster *lan, *wan;
    cairn_cluster src, dst;
    cairn_flood_config cfg;
    struct logcap log;
    cairn_logger logger;
};

static void flood_init(struct flood_fx *x)
{
    memset(x, 0, sizeof(*x));
    x->lan = mock_cluster_new("node0");
    mock_cluster_add_lan_member(x->lan, "dc0", "node0", "consul", NULL); /* 127.0.0.1 */
    mock_cluster_add_lan_member(x->lan, "dc0", "node1", "consul", NULL); /* 127.0.0.2 */
    mock_cluster_add_lan_member(x->lan, "dc0", "node2", "consul", NULL); /* 127.0.0.3 */
    mock_cluster_add_lan_member(x->lan, "dc0", "client", "node", NULL);  /* 127.0.0.4 */
    mock_cluster_set_tag(x->lan, "node0", "wan_join_port", "8302");
    mock_cluster_set_tag(x->lan, "node1", "wan_join_port", "8302");
    mock_cluster_set_tag(x->lan, "node2", "wan_join_port", "8302");
    x->wan = mock_cluster_new("node0.dc0");
    mock_cluster_add_member(x->wan, "dc0", "node0", NULL);
    x->src = mock_cluster_seam(x->lan);
    x->dst = mock_cluster_seam(x->wan);
    x->logger = (cairn_logger){cap_cb, &x->log, CAIRN_LOG_DEBUG};
    x->cfg = (cairn_flood_config){
        .local_dc = "dc0",
        .src = &x->src,
        .dst = &x->dst,
        .join = join_mock,
        .join_userdata = x->wan,
        .logger = &x->logger,
    };
}

static void flood_destroy(struct flood_fx *x)
{
    mock_cluster_delete(x->lan);
    mock_cluster_delete(x->wan);
}

static void test_flood_joins_missing_servers(void **state)
{
    struct flood_fx x;
    flood_init(&x);
    size_t joins = 99;
    assert_int_equal(cairn_flood_joins(&x.cfg, &joins), 0);
    assert_int_equal(joins, 2);
    assert_int_equal(mock_cluster_join_count(x.wan), 2);
    assert_string_equal(mock_cluster_join_at(x.wan, 0), "node1.dc0/127.0.0.2:8302");
    assert_string_equal(mock_cluster_join_at(x.wan, 1), "node2.dc0/127.0.0.3:8302");
    assert_int_equal(cap_count(&x.log, CAIRN_LOG_DEBUG,
                               "Successfully performed flood-join for \"node1\" at 127.0.0.2:8302"),
                     1);

    /* A WAN server of another DC with the same short name does not count. */
    mock_cluster_clear_joins(x.wan);
    mock_cluster_add_member(x.wan, "dc9", "node1", NULL);
    assert_int_equal(cairn_flood_joins(&x.cfg, NULL), 0);
    assert_int_equal(mock_cluster_join_count(x.wan), 2);

    /* Once in the WAN, no more joins; not-alive LAN members are skipped. */
    mock_cluster_clear_joins(x.wan);
    mock_cluster_add_member(x.wan, "dc0", "node1", NULL);
    mock_cluster_set_status(x.lan, "node2", CAIRN_MEMBER_FAILED);
    assert_int_equal(cairn_flood_joins(&x.cfg, &joins), 0);
    assert_int_equal(joins, 0);
    assert_int_equal(mock_cluster_join_count(x.wan), 0);
    flood_destroy(&x);
}

static void test_flood_alive_only_index(void **state)
{
    /* PR #23709: a server that left or failed the WAN is flooded back in. */
    struct flood_fx x;
    flood_init(&x);
    mock_cluster_add_member(x.wan, "dc0", "node1", NULL);
    mock_cluster_add_member(x.wan, "dc0", "node2", NULL);
    assert_int_equal(cairn_flood_joins(&x.cfg, NULL), 0);
    assert_int_equal(mock_cluster_join_count(x.wan), 0);
    mock_cluster_set_status(x.wan, "node0.dc0", CAIRN_MEMBER_LEFT);
    mock_cluster_set_status(x.wan, "node1.dc0", CAIRN_MEMBER_FAILED);
    mock_cluster_set_status(x.wan, "node2.dc0", CAIRN_MEMBER_LEAVING);
    assert_int_equal(cairn_flood_joins(&x.cfg, NULL), 0);
    assert_int_equal(mock_cluster_join_count(x.wan), 3);
    assert_string_equal(mock_cluster_join_at(x.wan, 0), "node0.dc0/127.0.0.1:8302");
    assert_string_equal(mock_cluster_join_at(x.wan, 1), "node1.dc0/127.0.0.2:8302");
    assert_string_equal(mock_cluster_join_at(x.wan, 2), "node2.dc0/127.0.0.3:8302");
    flood_destroy(&x);
}

static void test_flood_ipv6(void **state)
{
    /* #2878 / #22225: IPv6 hosts are bracketed. */
    struct flood_fx x;
    flood_init(&x);
    mock_cluster_set_addr(x.lan, "node1", "fd00::2");
    mock_cluster_set_status(x.lan, "node2", CAIRN_MEMBER_LEFT);
    assert_int_equal(cairn_flood_joins(&x.cfg, NULL), 0);
    assert_int_equal(mock_cluster_join_count(x.wan), 1);
    assert_string_equal(mock_cluster_join_at(x.wan, 0), "node1.dc0/[fd00::2]:8302");

    char out[64];
    cairn_server *s = server_of(x.lan, "node1");
    assert_int_equal(cairn_flood_wan_addr(s, out, sizeof(out), NULL, NULL), 0);
    assert_string_equal(out, "[fd00::2]:8302");
    assert_int_equal(cairn_flood_wan_addr(s, out, 8, NULL, NULL), CAIRN_ENOSPC);
    cairn_server_unref(s);
    flood_destroy(&x);
}

static void test_flood_no_wan_join_port(void **state)
{
    struct flood_fx x;
    flood_init(&x);
    mock_cluster_set_tag(x.lan, "node2", "wan_join_port", NULL);
    assert_int_equal(cairn_flood_joins(&x.cfg, NULL), 0);
    assert_int_equal(mock_cluster_join_count(x.wan), 1);
    assert_string_equal(mock_cluster_join_at(x.wan, 0), "node1.dc0/127.0.0.2:8302");
    assert_int_equal(cap_count(&x.log, CAIRN_LOG_DEBUG,
                               "Failed to flood-join server: server=node2 address=127.0.0.3:8300 "
                               "error=no wan join  port for server: 127.0.0.3:8300"),
                     1);
    flood_destroy(&x);
}

static int custom_addr(const cairn_server *s, char *out, size_t outlen, cairn_diag *diag,
                       void *userdata)
{
    if (strcmp(s->name, "node2") == 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "no address for you");
    snprintf(out, outlen, "%s", (const char *)userdata);
    return 0;
}

static void test_flood_addr_fn_and_join_errors(void **state)
{
    struct flood_fx x;
    flood_init(&x);
    x.cfg.addr_fn = custom_addr;
    x.cfg.addr_userdata = "10.1.2.3:9999";
    mock_cluster_set_join_err(x.wan, CAIRN_ECONNREFUSED);
    size_t joins = 0;
    assert_int_equal(cairn_flood_joins(&x.cfg, &joins), 0); /* errors only logged */
    assert_int_equal(joins, 1);
    assert_string_equal(mock_cluster_join_at(x.wan, 0), "node1.dc0/10.1.2.3:9999");
    assert_int_equal(
        cap_count(&x.log, CAIRN_LOG_DEBUG,
                  "Failed to flood-join \"node1\" at 10.1.2.3:9999: connection refused"),
        1);
    assert_int_equal(cap_count(&x.log, CAIRN_LOG_DEBUG, "no address for you"), 1);
    x.cfg.join = NULL;
    assert_int_equal(cairn_flood_joins(&x.cfg, NULL), CAIRN_EINVAL);
    flood_destroy(&x);
}

/* ---- regressions (spec §8) ---- */

static void test_regression_6420_left_skipped(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    mock_cluster_set_status(wan, "node1.dc2", CAIRN_MEMBER_LEFT);
    mock_cluster_set_status(wan, "node1.dc1", CAIRN_MEMBER_FAILED); /* still counts */
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    /* AddArea still adds the left server ... */
    assert_int_equal(route(&f, "dc2", NULL), 0);
    /* ... but distance and maps skip it. */
    struct dcs d;
    assert_int_equal(get_dcs(&f, &d, true), 0);
    const char *want[] = {"dc0", "dc1", "dcX"};
    assert_dcs(&d, want, 3);
    cairn_dc_maps *maps = NULL;
    assert_int_equal(cairn_router_get_datacenter_maps(f.r, &maps, NULL), 0);
    assert_int_equal(maps->n, 2);
    assert_null(find_map(maps, "dc2"));
    assert_int_equal(find_map(maps, "dc1")->n, 3);
    cairn_dc_maps_free(maps);
    fx_destroy(&f);
}

static void test_regression_non_server_warned_in_area(void **state)
{
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    mock_cluster_add_lan_member(wan, "dc1", "client9", "node", NULL);
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    assert_int_equal(
        cap_count(&f.log, CAIRN_LOG_WARN, "Non-server \"client9\" in server-only area \"wan\""), 1);
    fx_destroy(&f);
}

/* The hot path allocates nothing: with the next allocation set to fail,
 * lookups still succeed and no allocation was attempted. */
static void test_router_hot_path_no_alloc(void **state)
{
    cairn__test_alloc_install();
    struct fx f;
    fx_init(&f);
    mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
    assert_int_equal(add_area(&f, CAIRN_AREA_WAN, wan, &f.ok_seam, NULL), 0);
    cairn__test_alloc_fail_after(0);
    cairn_route rt;
    struct dcs d;
    cairn_server_info info;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(route(&f, "dc1", &rt), 0);
        assert_int_equal(route(&f, "dcQ", NULL), CAIRN_ENOROUTE);
        assert_true(cairn_router_has_datacenter(f.r, "dc2"));
        assert_int_equal(get_dcs(&f, &d, false), 0);
        assert_int_equal(cairn_router_get_server_by_addr(f.r, "dc1", "127.0.0.3:8300", &info), 0);
    }
    assert_false(cairn__test_alloc_failed());
    cairn__test_alloc_fail_after(-1);
    fx_destroy(&f);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* ---- allocation failures ---- */

typedef int (*sweep_op)(struct fx *f, mock_cluster *wan);

static int op_add_area(struct fx *f, mock_cluster *wan)
{
    return add_area(f, CAIRN_AREA_WAN, wan, &f->ok_seam, NULL);
}

static int op_add_lan_area(struct fx *f, mock_cluster *wan)
{
    return add_area(f, CAIRN_AREA_LAN, wan, &f->ok_seam, NULL);
}

static int op_remove_area(struct fx *f, mock_cluster *wan)
{
    return cairn_router_remove_area(f->r, CAIRN_AREA_WAN, NULL);
}

/* Adds a new server with the given name and datacenter to the WAN area. */
static int add_wan_server(struct fx *f, const char *name, const char *dc)
{
    cairn_server fields;
    memset(&fields, 0, sizeof(fields));
    fields.name = name;
    fields.datacenter = dc;
    cairn_server *s;
    int rc = cairn_server_new(&fields, &s);
    if (rc != 0)
        return rc;
    rc = cairn_router_add_server(f->r, CAIRN_AREA_WAN, s, NULL);
    cairn_server_unref(s);
    return rc;
}

static int op_add_server_new_dc(struct fx *f, mock_cluster *wan)
{
    return add_wan_server(f, "node1.dcNew", "dcNew");
}

static int op_add_server_existing_dc(struct fx *f, mock_cluster *wan)
{
    return add_wan_server(f, "node9.dc1", "dc1");
}

static int op_remove_last_server(struct fx *f, mock_cluster *wan)
{
    cairn_member m;
    mock_cluster_member(wan, mock_cluster_find(wan, "node1.dc2"), &m);
    cairn_server *s;
    int rc = cairn_server_from_member(&m, &s, NULL);
    if (rc != 0)
        return rc;
    rc = cairn_router_remove_server(f->r, CAIRN_AREA_WAN, s, NULL);
    cairn_server_unref(s);
    return rc;
}

static int op_by_distance(struct fx *f, mock_cluster *wan)
{
    struct dcs d;
    return get_dcs(f, &d, true);
}

static int op_maps(struct fx *f, mock_cluster *wan)
{
    cairn_dc_maps *maps;
    int rc = cairn_router_get_datacenter_maps(f->r, &maps, NULL);
    if (rc != 0)
        return rc;
    char *text;
    rc = cairn_dc_maps_to_json(maps, &text);
    cairn_dc_maps_free(maps);
    if (rc == 0)
        cairn_free(text);
    return rc;
}

static int op_flood(struct fx *f, mock_cluster *wan)
{
    mock_cluster *lan = mock_cluster_new("a");
    mock_cluster_add_lan_member(lan, "dc0", "a", "consul", NULL);
    mock_cluster_add_lan_member(lan, "dc0", "b", "consul", NULL);
    mock_cluster_set_tag(lan, "a", "wan_join_port", "8302");
    mock_cluster_set_tag(lan, "b", "wan_join_port", "8302");
    cairn_cluster src = mock_cluster_seam(lan), dst = mock_cluster_seam(wan);
    cairn_flood_config cfg = {
        .local_dc = "dc0", .src = &src, .dst = &dst, .join = join_mock, .join_userdata = wan};
    int rc = cairn_flood_joins(&cfg, NULL);
    mock_cluster_delete(lan);
    return rc;
}

static void sweep(sweep_op setup_area, sweep_op op, const char *name)
{
    cairn__test_alloc_install();
    for (long n = 0;; n++) {
        assert_true(n < 100000);
        struct fx f;
        fx_init(&f);
        mock_cluster *wan = fx_keep(&f, mock_cluster_consul_test("node0.dc0"));
        if (setup_area != NULL)
            assert_int_equal(setup_area(&f, wan), 0);
        cairn__test_alloc_fail_after(n);
        int rc = op(&f, wan);
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        if (failed && rc != CAIRN_ENOMEM)
            fail_msg("%s: allocation %ld failed but rc = %d", name, n, rc);
        if (!failed)
            assert_int_equal(rc, 0);
        /* Whatever happened, the router is consistent: every published dc
         * still routes or is reported unavailable. */
        struct dcs d;
        if (get_dcs(&f, &d, false) == 0)
            for (size_t i = 0; i < d.n; i++) {
                int r = route(&f, d.names[i], NULL);
                assert_true(r == 0 || r == CAIRN_EUNAVAIL);
            }
        fx_destroy(&f);
        assert_int_equal(cairn__test_alloc_live(), 0);
        if (!failed)
            break;
    }
    cairn__test_alloc_uninstall();
}

static void test_alloc_failures(void **state)
{
    /* router_new itself. */
    cairn__test_alloc_install();
    for (long n = 0;; n++) {
        struct fx f;
        cairn_loop *loop;
        assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
        cairn__test_alloc_fail_after(n);
        cairn_router *r = NULL;
        cairn_router_config cfg = {.local_datacenter = "dc0", .loop = loop};
        int rc = cairn_router_new(&cfg, &r);
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        assert_int_equal(rc, failed ? CAIRN_ENOMEM : 0);
        cairn_router_delete(r);
        cairn_loop_delete(loop);
        assert_int_equal(cairn__test_alloc_live(), 0);
        (void)f;
        if (!failed)
            break;
    }
    cairn__test_alloc_uninstall();
    sweep(NULL, op_add_area, "add_area");
    sweep(NULL, op_add_lan_area, "add_area(lan)");
    sweep(op_add_area, op_remove_area, "remove_area");
    sweep(op_add_area, op_add_server_new_dc, "add_server(new dc)");
    sweep(op_add_area, op_add_server_existing_dc, "add_server(existing dc)");
    sweep(op_add_area, op_remove_last_server, "remove_server(last)");
    sweep(op_add_area, op_by_distance, "datacenters_by_distance");
    sweep(op_add_area, op_maps, "datacenter_maps");
    sweep(NULL, op_flood, "flood_joins");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_shutdown),
        cmocka_unit_test(test_router_routing),
        cmocka_unit_test(test_router_routing_offline),
        cmocka_unit_test(test_router_get_datacenters),
        cmocka_unit_test(test_router_distance_sorter),
        cmocka_unit_test(test_router_get_datacenters_by_distance),
        cmocka_unit_test(test_router_by_distance_errors),
        cmocka_unit_test(test_router_get_datacenter_maps),
        cmocka_unit_test(test_router_maps_lan_dropped_from_json),
        cmocka_unit_test(test_router_maps_json_repairs_names),
        cmocka_unit_test(test_router_find_lan_server),
        cmocka_unit_test(test_router_lan_manager_without_servers),
        cmocka_unit_test(test_router_server_queries),
        cmocka_unit_test(test_adapter_events),
        cmocka_unit_test(test_flood_joins_missing_servers),
        cmocka_unit_test(test_flood_alive_only_index),
        cmocka_unit_test(test_flood_ipv6),
        cmocka_unit_test(test_flood_no_wan_join_port),
        cmocka_unit_test(test_flood_addr_fn_and_join_errors),
        cmocka_unit_test(test_regression_6420_left_skipped),
        cmocka_unit_test(test_regression_non_server_warned_in_area),
        cmocka_unit_test(test_router_hot_path_no_alloc),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
