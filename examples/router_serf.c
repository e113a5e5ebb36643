/* router_serf: a Router on your own libuv loop, fed by a Serf agent's RPC.
 *
 * What a Consul-style client does to route an RPC to another datacenter:
 * follow a Serf pool (here a running `serf agent`, through its RPC port),
 * keep a Router of the Consul servers in it, and ask the Router for the
 * server to use for a datacenter. The Router stays current by itself: the
 * serf adapter turns the agent's member events into router updates.
 *
 *   router_serf [--serf-rpc HOST:PORT] DATACENTER
 *
 * Prints "DATACENTER NAME IP:PORT" of the server to use and exits 0; exits 1
 * when the agent cannot be reached or the datacenter has no server. The
 * local datacenter is the agent's own "dc" tag.
 *
 * Build: cc router_serf.c $(pkg-config --cflags --libs cairn) -o router_serf
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <cairn/cairn.h>
#include <cairn/loop_uv.h>

struct app {
    const char *want_dc;
    cairn_loop *loop;
    cairn_serfrpc_cluster *cl;
    cairn_pinger_tcp *pinger;
    cairn_router *router;
    cairn_serf_adapter *adapter;
    int status; /* exit status */
};

/* Member events from the agent keep the router current. */
static void on_event(const cairn_event *ev, void *userdata)
{
    struct app *app = userdata;
    if (app->adapter != NULL)
        cairn_serf_adapter_handle(ev, app->adapter);
}

/* Builds the router once the member list is loaded, then answers. */
static int answer(struct app *app)
{
    const char *local_dc = cairn_serfrpc_cluster_self_tag(app->cl, "dc");
    if (local_dc == NULL) {
        fprintf(stderr, "router_serf: the agent has no dc tag\n");
        return 1;
    }
    cairn_router_config rcfg = {.local_datacenter = local_dc, .loop = app->loop, .seed = 1};
    cairn_cluster cluster = cairn_serfrpc_cluster_get(app->cl);
    cairn_pinger pinger = cairn_pinger_tcp_get(app->pinger);
    cairn_diag diag;
    cairn_diag_clear(&diag);
    int rc = cairn_router_new(&rcfg, &app->router);
    if (rc == 0)
        rc = cairn_router_add_area(app->router, CAIRN_AREA_WAN, &cluster, &pinger, &diag);
    cairn_serf_adapter_config acfg = {.router = app->router, .area_id = CAIRN_AREA_WAN};
    if (rc == 0)
        rc = cairn_serf_adapter_new(&acfg, &app->adapter);
    if (rc != 0) {
        fprintf(stderr, "router_serf: router: %s\n", diag.msg[0] ? diag.msg : cairn_strerror(rc));
        return 1;
    }

    /* The hot path: lock-free, callable from any thread. */
    cairn_route route;
    rc = cairn_router_find_route(app->router, app->want_dc, &route);
    if (rc != 0) {
        fprintf(stderr, "router_serf: no route to %s: %s\n", app->want_dc, cairn_strerror(rc));
        return 1;
    }
    char addr[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&route.server.addr, true, addr, sizeof addr);
    printf("%s %s %s\n", app->want_dc, route.server.name, addr);
    return 0;
}

static void on_sync(cairn_serfrpc_cluster *cl, int sync, int err, const char *msg, void *userdata)
{
    struct app *app = userdata;
    if (sync == CAIRN_SERFRPC_SYNCED && app->router == NULL)
        app->status = answer(app);
    else if (sync != CAIRN_SERFRPC_SYNCED)
        fprintf(stderr, "router_serf: %s\n", msg);
    /* A real client keeps running here; this example stops after one answer. */
    uv_stop(cairn_loop_uv_get(app->loop));
}

int main(int argc, char **argv)
{
    /* libuv streams write with write(2): a peer that hung up must not kill
     * us with SIGPIPE (cairn/loop_uv.h). */
    signal(SIGPIPE, SIG_IGN);
    const char *rpc = "127.0.0.1:7373";
    if (argc == 4 && strcmp(argv[1], "--serf-rpc") == 0) {
        rpc = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: router_serf [--serf-rpc HOST:PORT] DATACENTER\n");
        return 2;
    }
    struct app app = {.want_dc = argv[1], .status = 1};

    uv_loop_t uv;
    if (uv_loop_init(&uv) != 0 || cairn_loop_new_uv(&uv, &app.loop) != 0)
        return 1;
    cairn_serfrpc_cluster_config cfg = {0};
    cairn_serfrpc_config_default(&cfg.rpc);
    cfg.rpc.reconnect = false;
    cfg.event_cb = on_event;
    cfg.sync_cb = on_sync;
    cfg.userdata = &app;
    int rc = cairn_addr_parse(rpc, 7373, &cfg.rpc.addr);
    if (rc == 0)
        rc = cairn_serfrpc_cluster_new(app.loop, &cfg, &app.cl);
    if (rc == 0)
        rc = cairn_pinger_tcp_new(app.loop, CAIRN_PINGER_TCP_DEFAULT_TIMEOUT, &app.pinger);
    if (rc == 0)
        rc = cairn_serfrpc_cluster_start(app.cl);
    if (rc == 0)
        uv_run(&uv, UV_RUN_DEFAULT);
    else
        fprintf(stderr, "router_serf: %s\n", cairn_strerror(rc));

    /* Tear down in reverse order; the uv loop runs once more to close. */
    cairn_serfrpc_cluster_delete(app.cl);
    cairn_serf_adapter_delete(app.adapter);
    cairn_router_delete(app.router);
    cairn_pinger_tcp_delete(app.pinger);
    cairn_loop_delete(app.loop);
    uv_run(&uv, UV_RUN_DEFAULT);
    uv_loop_close(&uv);
    return rc == 0 ? app.status : 1;
}
