/* demo_router: the Router over an in-memory WAN of three datacenters.
 *
 * Builds a router for datacenter "dc1" whose WAN area is a small in-memory
 * cluster (three servers each in dc1, dc2 and dc3, with Vivaldi coordinates
 * placing dc2 about 20 ms and dc3 about 60 ms away), then prints the route
 * to each datacenter, the datacenters by distance, the JSON of
 * /v1/coordinate/datacenters, and a failover: the server routed to for dc2
 * fails an RPC, then Serf reports it failed and finally gone, and the route
 * moves on each time. `make demo` runs it; it exits 0 when every step
 * behaved as expected.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/coord.h"
#include "cairn/router.h"
#include "cairn/serf_adapter.h"

#define NMEMBERS 9

/* ---- a fixed in-memory cluster behind the cairn_cluster seam ---- */

struct demo_member {
    char name[32];
    char dc[8];
    cairn_tag tags[5];
    cairn_member m;
    cairn_coord coord;
};

struct demo_cluster {
    struct demo_member members[NMEMBERS];
    size_t n;
    const char *self;
};

static size_t dc_num_nodes(void *impl)
{
    return ((struct demo_cluster *)impl)->n;
}

static int dc_for_each(void *impl, cairn_member_cb fn, void *userdata)
{
    struct demo_cluster *c = impl;
    for (size_t i = 0; i < c->n; i++)
        if (!fn(&c->members[i].m, userdata))
            break;
    return 0;
}

static bool dc_cached(void *impl, const char *name, cairn_coord *ret)
{
    struct demo_cluster *c = impl;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->members[i].name, name) == 0) {
            *ret = c->members[i].coord;
            return true;
        }
    }
    return false;
}

static int dc_self(void *impl, cairn_coord *ret)
{
    struct demo_cluster *c = impl;
    return dc_cached(impl, c->self, ret) ? 0 : CAIRN_ENOENT;
}

static const cairn_cluster_ops demo_ops = {dc_num_nodes, dc_for_each, dc_self, dc_cached};

static void add_member(struct demo_cluster *c, const char *node, const char *dc, double ms)
{
    struct demo_member *d = &c->members[c->n];
    snprintf(d->name, sizeof(d->name), "%s.%s", node, dc);
    snprintf(d->dc, sizeof(d->dc), "%s", dc);
    d->tags[0] = (cairn_tag){"role", "consul"};
    d->tags[1] = (cairn_tag){"dc", d->dc};
    d->tags[2] = (cairn_tag){"port", "8300"};
    d->tags[3] = (cairn_tag){"build", "1.18.0"};
    d->tags[4] = (cairn_tag){"vsn", "3"};
    uint8_t ip[4] = {127, 0, 1, (uint8_t)(c->n + 1)};
    cairn_addr_from_ip(ip, 4, 8302, &d->m.addr);
    d->m.name = d->name;
    d->m.tags = d->tags;
    d->m.ntags = 5;
    d->m.status = CAIRN_MEMBER_ALIVE;
    memset(&d->coord, 0, sizeof(d->coord));
    d->coord.dim = 8;
    d->coord.error = 1.5;
    d->coord.vec[0] = ms / 1000.0;
    d->coord.vec[1] = (double)(c->n % 3) * 0.0005; /* servers of a DC 0.5 ms apart */
    d->coord.height = 10e-6;
    c->n++;
}

/* ---- an always-successful synchronous pinger ---- */

static int ok_ping(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                   cairn_ping_done_cb done, void *token)
{
    done(true, 0, token);
    return 0;
}

static void ok_cancel(void *impl, void *token)
{
}

static const cairn_pinger_ops ok_pinger_ops = {ok_ping, ok_cancel};

/* ---- output ---- */

static void log_cb(int level, const char *module, const char *msg, void *userdata)
{
    printf("    [%s %s] %s\n", cairn_log_level_name(level), module, msg);
}

static int show_route(cairn_router *r, const char *dc, cairn_route *ret)
{
    cairn_route rt;
    int rc = cairn_router_find_route(r, dc, &rt);
    if (rc != 0) {
        printf("  route to %-4s -> none (%s: %s)\n", dc, cairn_err_name(rc), cairn_strerror(rc));
        return rc;
    }
    char addr[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&rt.server.addr, true, addr, sizeof(addr));
    printf("  route to %-4s -> %-10s %s\n", dc, rt.server.name, addr);
    if (ret != NULL)
        *ret = rt;
    return 0;
}

static int failed(const char *what)
{
    fprintf(stderr, "demo_router: unexpected: %s\n", what);
    return 1;
}

static void send_event(cairn_serf_adapter *a, struct demo_cluster *c, int type, const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->members[i].name, name) != 0)
            continue;
        cairn_event ev = {.type = type, .members = &c->members[i].m, .nmembers = 1};
        printf("  serf event %s for %s\n", cairn_event_type_name(type), name);
        cairn_serf_adapter_handle(&ev, a);
    }
}

int main(void)
{
    struct demo_cluster wan = {.self = "s1.dc1"};
    const char *dcs[] = {"dc1", "dc2", "dc3"};
    const double dist[] = {0.0, 20.0, 60.0};
    for (int d = 0; d < 3; d++)
        for (int s = 1; s <= 3; s++) {
            char node[8];
            snprintf(node, sizeof(node), "s%d", s);
            add_member(&wan, node, dcs[d], dist[d]);
        }
    cairn_cluster cluster = {&demo_ops, &wan};
    cairn_pinger pinger = {&ok_pinger_ops, NULL};

    cairn_loop *loop;
    if (cairn_loop_new_manual(0, &loop) != 0)
        return failed("loop");
    cairn_logger logger = {log_cb, NULL, CAIRN_LOG_INFO};
    cairn_router_config cfg = {.local_datacenter = "dc1",
                               .server_name = "s1.dc1",
                               .loop = loop,
                               .logger = &logger,
                               .seed = 1};
    cairn_router *r;
    cairn_diag diag;
    cairn_diag_clear(&diag);
    if (cairn_router_new(&cfg, &r) != 0 ||
        cairn_router_add_area(r, CAIRN_AREA_WAN, &cluster, &pinger, &diag) != 0)
        return failed(diag.msg);
    cairn_serf_adapter_config acfg = {.router = r, .area_id = CAIRN_AREA_WAN, .logger = &logger};
    cairn_serf_adapter *adapter;
    if (cairn_serf_adapter_new(&acfg, &adapter) != 0)
        return failed("adapter");

    printf("router for dc1, WAN area with %zu servers in 3 datacenters\n\n", wan.n);
    printf("routes:\n");
    for (int d = 0; d < 3; d++)
        if (show_route(r, dcs[d], NULL) != 0)
            return failed("initial route");
    show_route(r, "dc9", NULL);

    const char *names[8];
    double rtts[8];
    char bytes[128];
    size_t n;
    cairn_dc_buf buf = {names, rtts, 8, bytes, sizeof(bytes)};
    if (cairn_router_get_datacenters_by_distance(r, &buf, &n, NULL) != 0 || n != 3)
        return failed("datacenters by distance");
    printf("\ndatacenters by distance:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %zu. %-4s %6.2f ms\n", i + 1, names[i], rtts[i] * 1000.0);
    if (strcmp(names[0], "dc1") != 0 || strcmp(names[1], "dc2") != 0 ||
        strcmp(names[2], "dc3") != 0)
        return failed("distance order");

    cairn_dc_maps *maps;
    char *json;
    if (cairn_router_get_datacenter_maps(r, &maps, NULL) != 0 ||
        cairn_dc_maps_to_json(maps, &json) != 0)
        return failed("datacenter maps");
    printf("\nGET /v1/coordinate/datacenters:\n%s\n", json);
    cairn_free(json);
    cairn_dc_maps_free(maps);

    printf("\nfailover in dc2:\n");
    cairn_route first, second, third;
    if (show_route(r, "dc2", &first) != 0)
        return failed("dc2 route");
    printf("  RPC to %s failed -> notify_failed\n", first.server.name);
    cairn_router_notify_failed(r, &first);
    if (show_route(r, "dc2", &second) != 0 || strcmp(first.server.name, second.server.name) == 0)
        return failed("failover after an RPC failure");
    send_event(adapter, &wan, CAIRN_EVENT_MEMBER_FAILED, second.server.name);
    if (show_route(r, "dc2", &third) != 0 || strcmp(third.server.name, second.server.name) == 0)
        return failed("failover after member-failed");
    for (size_t i = 0; i < wan.n; i++)
        if (strcmp(wan.members[i].dc, "dc2") == 0)
            send_event(adapter, &wan, CAIRN_EVENT_MEMBER_LEAVE, wan.members[i].name);
    int rc = show_route(r, "dc2", NULL);
    if (rc != CAIRN_ENOROUTE)
        return failed("dc2 should be gone");
    if (show_route(r, "dc3", NULL) != 0)
        return failed("dc3 route");

    cairn_serf_adapter_delete(adapter);
    cairn_router_delete(r);
    cairn_loop_delete(loop);
    printf("\ndemo ok\n");
    return 0;
}
