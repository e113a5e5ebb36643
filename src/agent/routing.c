/* The routing agent: cairn's Router fed natively from the agent's own LAN
 * and WAN pools (docs/ROUTING.md).
 *
 * A Consul server runs two serfs, the LAN pool of its datacenter and the
 * WAN pool of every datacenter's servers (named "<node>.<dc>" there), and a
 * Router with two areas over them: "lan", fed by its LAN event handler,
 * and "wan", fed by the serf adapter (HandleSerfEvents). A 60 s ticker plus
 * a notification on each LAN server join drive FloodJoins, which joins the
 * LAN's servers missing from the WAN. This module is that wiring for a
 * cairn agent, on the agent's loop:
 *
 *  - "lan" area over the LAN serf, handled as Consul's LAN handlers do
 *    (spec consul-servers §1.15): a server of our datacenter that joins or
 *    updates is added, one that leaves, fails or is reaped is *removed*
 *    (clients remove failed servers), a server of another datacenter is
 *    refused with Consul's warning "server has joined the wrong cluster".
 *    Servers in a network segment are skipped, as Consul servers do.
 *  - "wan" area over the WAN serf, fed by cairn_serf_adapter_handle: a
 *    failed WAN server is only rotated away (soft fail, PR #2801). Members
 *    without role=consul (client agents' WAN members, see below) are
 *    filtered out before the adapter, which would warn about each.
 *  - flood joins (cairn_flood_joins) on a timer and after each LAN server
 *    join, on server agents.
 *
 * Departure from Consul, for client agents: a Consul client forwards a
 * cross-datacenter RPC to a server of its own datacenter, which routes it.
 * A cairn client has no server to forward through (cairn has no Consul
 * RPC), and its users want the route itself: a live server of datacenter
 * X. So a client agent also joins the WAN pool, as a member without
 * server tags (role=node), reached through its datacenter's servers' WAN
 * addresses (their LAN IP and wan_join_port tag, as flood joins use).
 * Its "wan" area then sees every server of every datacenter with the
 * same failure detection and coordinates as a server; nobody routes to it
 * because it announces no server tags. docs/ROUTING.md weighs this.
 *
 * Route reports: after each member event and every
 * CAIRN_AGENT_ROUTE_CHECK, every datacenter's route (cairn_router_
 * find_route) is compared with the last one reported and changes go to
 * the configured callback, with the server adds, fails and removes.
 */
#include "agent/routing.h"

#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/flooder.h"
#include "cairn/pinger_tcp.h"
#include "cairn/rng.h"
#include "cairn/serf_adapter.h"

/* The server tags we add to the LAN (role, dc, port, vsn, raft_vsn, build,
 * id, segment, wan_join_port) and the text their values need. */
#define SERVER_TAGS 9

/* The route last reported for one datacenter. */
struct seen {
    char dc[CAIRN_SERVER_DC_MAX];
    char name[CAIRN_SERVER_NAME_MAX];
    bool present;
};

struct cairn__routing {
    cairn_agent *agent;
    cairn_loop *loop;
    cairn_logger log;
    char *dc;
    char *node;
    bool server;
    cairn_router *router;
    cairn_pinger_tcp *tcp;
    cairn_pinger pinger;
    cairn_serf *wan;
    cairn_serf *lan;
    cairn_cluster wan_cluster, lan_cluster;
    cairn_serf_adapter *adapter;
    bool lan_area;
    cairn_timer *flood_timer, *route_timer, *flood_soon;
    cairn_time flood_interval;
    cairn_agent_route_cb route_cb;
    void *route_ud;
    /* LAN tags: the user's, then ours. */
    cairn_tag *tags;
    size_t ntags;
    char port[8], wan_port[8], id[40];
    char *build;
    struct seen seen[CAIRN_AGENT_MAX_DCS];
    size_t nseen;
    /* Scratch for the datacenter names of a route check. */
    const char *dc_names[CAIRN_AGENT_MAX_DCS];
    char dc_bytes[CAIRN_AGENT_MAX_DCS * CAIRN_SERVER_DC_MAX];
    /* Deleting: events are ignored. */
    bool closing;
};

#define rlog(r, level, ...) cairn_logf(&(r)->log, (level), "agent", __VA_ARGS__)

/* ---- reports ---- */

static void report(cairn__routing *r, int kind, const char *area, const char *dc,
                   const char *server, const cairn_addr *addr, int error)
{
    if (!r->route_cb)
        return;
    cairn_agent_route_event ev = {
        .kind = kind, .area = area, .datacenter = dc, .server = server, .error = error};
    if (addr)
        ev.addr = *addr;
    r->route_cb(r->agent, &ev, r->route_ud);
}

static struct seen *seen_for(cairn__routing *r, const char *dc)
{
    for (size_t i = 0; i < r->nseen; i++)
        if (strcmp(r->seen[i].dc, dc) == 0)
            return &r->seen[i];
    if (r->nseen == CAIRN_AGENT_MAX_DCS)
        return NULL;
    struct seen *s = &r->seen[r->nseen++];
    memset(s, 0, sizeof(*s));
    snprintf(s->dc, sizeof(s->dc), "%s", dc);
    return s;
}

static void check_one(cairn__routing *r, struct seen *s)
{
    cairn_route route;
    int rc = cairn_router_find_route(r->router, s->dc, &route);
    if (rc == 0) {
        if (s->present && strcmp(s->name, route.server.name) == 0)
            return;
        s->present = true;
        snprintf(s->name, sizeof(s->name), "%s", route.server.name);
        report(r, CAIRN_AGENT_ROUTE_CHANGE, NULL, s->dc, route.server.name, &route.server.addr, 0);
        return;
    }
    if (!s->present)
        return;
    s->present = false;
    s->name[0] = 0;
    report(r, CAIRN_AGENT_ROUTE_CHANGE, NULL, s->dc, NULL, NULL, rc);
}

void cairn__routing_check_routes(cairn__routing *r)
{
    if (!r || !r->router || r->closing)
        return;
    cairn_dc_buf b = {.names = r->dc_names,
                      .names_cap = CAIRN_AGENT_MAX_DCS,
                      .bytes = r->dc_bytes,
                      .bytes_cap = sizeof(r->dc_bytes)};
    size_t n = 0;
    if (cairn_router_get_datacenters(r->router, &b, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++) {
            struct seen *s = seen_for(r, r->dc_names[i]);
            if (s)
                check_one(r, s);
        }
    /* Datacenters no longer listed lose their route. */
    for (size_t i = 0; i < r->nseen; i++)
        if (r->seen[i].present && !cairn_router_has_datacenter(r->router, r->seen[i].dc))
            check_one(r, &r->seen[i]);
}

static void on_route_timer(cairn_timer *t, void *ud)
{
    cairn__routing *r = ud;
    cairn__routing_check_routes(r);
    cairn_timer_start(t, CAIRN_AGENT_ROUTE_CHECK);
}

/* ---- the LAN area (clients and servers alike: failed servers removed) ---- */

static void lan_member(cairn__routing *r, int type, const cairn_member *m)
{
    cairn_server *s;
    if (cairn_server_from_member(m, &s, NULL) != 0)
        return; /* clients are normal in the LAN */
    const char *ev = cairn_event_type_name(type);
    if (s->segment[0]) {
        cairn_server_unref(s);
        return;
    }
    if (strcmp(s->datacenter, r->dc) != 0) {
        if (type == CAIRN_EVENT_MEMBER_JOIN || type == CAIRN_EVENT_MEMBER_UPDATE)
            rlog(r, CAIRN_LOG_WARN,
                 "server has joined the wrong cluster: wrong datacenter: server=%s "
                 "datacenter=%s",
                 s->name, s->datacenter);
        cairn_server_unref(s);
        return;
    }
    cairn_diag diag;
    cairn_diag_clear(&diag);
    int rc, kind;
    if (type == CAIRN_EVENT_MEMBER_JOIN || type == CAIRN_EVENT_MEMBER_UPDATE) {
        rc = cairn_router_add_server(r->router, CAIRN_AREA_LAN, s, &diag);
        kind = CAIRN_AGENT_SERVER_ADD;
        if (r->server && rc == 0 && r->flood_soon && !r->closing)
            cairn_timer_start(r->flood_soon, 0);
    } else {
        rc = cairn_router_remove_server(r->router, CAIRN_AREA_LAN, s, &diag);
        kind = CAIRN_AGENT_SERVER_REMOVE;
    }
    if (rc != 0)
        rlog(r, CAIRN_LOG_ERROR, "Failed to process %s event for server %s in area lan: %s", ev,
             s->name, diag.msg[0] ? diag.msg : cairn_strerror(rc));
    else
        report(r, kind, CAIRN_AREA_LAN, s->datacenter, s->name, &s->addr, 0);
    cairn_server_unref(s);
}

void cairn__routing_lan_event(cairn__routing *r, const cairn_event *ev)
{
    if (!r || !r->lan_area || r->closing || ev->type > CAIRN_EVENT_MEMBER_REAP)
        return;
    for (size_t i = 0; i < ev->nmembers; i++)
        lan_member(r, ev->type, &ev->members[i]);
    if (!r->server && r->flood_soon)
        cairn_timer_start(r->flood_soon, 0); /* a client may find its way to the WAN */
    cairn__routing_check_routes(r);
}

/* ---- the WAN area (serf adapter: failed servers rotated) ---- */

static bool is_server(const cairn_member *m)
{
    const char *role = cairn_member_tag(m, "role");
    return role && strcmp(role, "consul") == 0;
}

static void on_wan_event(const cairn_event *ev, void *ud)
{
    cairn__routing *r = ud;
    if (r->closing || !r->adapter || ev->type > CAIRN_EVENT_MEMBER_REAP)
        return;
    cairn_member *servers = cairn_calloc(ev->nmembers ? ev->nmembers : 1, sizeof(*servers));
    if (!servers)
        return;
    size_t n = 0;
    for (size_t i = 0; i < ev->nmembers; i++)
        if (is_server(&ev->members[i]))
            servers[n++] = ev->members[i];
    if (n) {
        cairn_event sub = *ev;
        sub.members = servers;
        sub.nmembers = n;
        cairn_serf_adapter_handle(&sub, r->adapter);
        int kind = ev->type == CAIRN_EVENT_MEMBER_FAILED ? CAIRN_AGENT_SERVER_FAIL
                   : ev->type == CAIRN_EVENT_MEMBER_LEAVE || ev->type == CAIRN_EVENT_MEMBER_REAP
                       ? CAIRN_AGENT_SERVER_REMOVE
                       : CAIRN_AGENT_SERVER_ADD;
        for (size_t i = 0; i < n; i++) {
            cairn_server *s;
            if (cairn_server_from_member(&servers[i], &s, NULL) != 0)
                continue;
            report(r, kind, CAIRN_AREA_WAN, s->datacenter, s->name, &s->addr, 0);
            cairn_server_unref(s);
        }
    }
    cairn_free(servers);
    cairn__routing_check_routes(r);
}

/* ---- flood joins ---- */

/* flood_join: the destination's join for cairn_flood_joins: the address
 * after the '/' of "<name>/<addr>", joined asynchronously (the count is
 * not known yet: 0). */
static int flood_join(const char *join_str, size_t *ret_joined, void *ud)
{
    cairn__routing *r = ud;
    const char *slash = strrchr(join_str, '/');
    cairn_addr a;
    if (cairn_addr_parse(slash ? slash + 1 : join_str, 0, &a) < 0)
        return CAIRN_EINVAL;
    *ret_joined = 0;
    return cairn_serf_join(r->wan, &a, 1, true, NULL, NULL);
}

struct client_join {
    cairn__routing *r;
    cairn_addr addrs[16];
    size_t n;
    size_t alive_peers;
};

static bool count_wan_peer(const cairn_member *m, void *ud)
{
    struct client_join *cj = ud;
    if (m->status == CAIRN_MEMBER_ALIVE && is_server(m))
        cj->alive_peers++;
    return true;
}

static bool collect_lan_server(const cairn_member *m, void *ud)
{
    struct client_join *cj = ud;
    cairn_server *s;
    if (m->status != CAIRN_MEMBER_ALIVE || cairn_server_from_member(m, &s, NULL) != 0)
        return true;
    char addr[CAIRN_FLOOD_JOIN_MAX];
    if (strcmp(s->datacenter, cj->r->dc) == 0 && cj->n < sizeof(cj->addrs) / sizeof(cj->addrs[0]) &&
        cairn_flood_wan_addr(s, addr, sizeof(addr), NULL, NULL) == 0 &&
        cairn_addr_parse(addr, 0, &cj->addrs[cj->n]) == 0)
        cj->n++;
    cairn_server_unref(s);
    return true;
}

/* client_flood: a client with no alive server in its WAN view joins the
 * WAN through the WAN addresses of its datacenter's alive servers. */
static int client_flood(cairn__routing *r)
{
    struct client_join cj = {.r = r};
    cairn_serf_for_each_member(r->wan, count_wan_peer, &cj);
    if (cj.alive_peers > 0)
        return 0;
    cairn_serf_for_each_member(r->lan, collect_lan_server, &cj);
    if (cj.n == 0)
        return 0;
    return cairn_serf_join(r->wan, cj.addrs, cj.n, true, NULL, NULL);
}

int cairn__routing_flood(cairn__routing *r)
{
    if (!r || !r->wan || !r->lan)
        return CAIRN_EINVAL;
    if (!r->server)
        return client_flood(r);
    cairn_flood_config fc = {.local_dc = r->dc,
                             .src = &r->lan_cluster,
                             .dst = &r->wan_cluster,
                             .join = flood_join,
                             .join_userdata = r,
                             .logger = &r->log};
    return cairn_flood_joins(&fc, NULL);
}

static void on_flood_timer(cairn_timer *t, void *ud)
{
    cairn__routing *r = ud;
    cairn__routing_flood(r);
    if (t == r->flood_timer)
        cairn_timer_start(t, r->flood_interval);
}

/* ---- set-up ---- */

static int check_config(const cairn_agent_config *cfg, cairn_diag *diag)
{
    size_t n = strlen(cfg->datacenter);
    if (n == 0 || n >= CAIRN_SERVER_DC_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL, "datacenter: \"%s\" is not 1 to %d bytes",
                              cfg->datacenter, CAIRN_SERVER_DC_MAX - 1);
    if (strlen(cfg->node) + n + 2 > CAIRN_NAME_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL,
                              "node: \"<node>.<dc>\" would be over %d bytes in the WAN",
                              CAIRN_NAME_MAX);
    if (!cfg->server)
        return 0;
    if (cfg->server_port == 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "server_port: a server needs its RPC port");
    cairn_server_version v;
    if (cfg->build && cairn_server_parse_build(cfg->build, &v, NULL) < 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "build: \"%s\" holds no version x.y.z",
                              cfg->build);
    static const char *const reserved[] = {"role",  "dc", "port",    "vsn",          "raft_vsn",
                                           "build", "id", "segment", "wan_join_port"};
    for (size_t i = 0; i < cfg->n_tags; i++)
        for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
            if (cfg->tags[i].key && strcmp(cfg->tags[i].key, reserved[k]) == 0)
                return cairn_diag_set(diag, CAIRN_EINVAL,
                                      "tags: key \"%s\" is set by the server role", reserved[k]);
    return 0;
}

static void make_id(const cairn_agent_config *cfg, char *out, size_t len)
{
    cairn_rng rng;
    if (cfg->seed)
        cairn_rng_init(&rng, cfg->seed ^ 0x6964u);
    else if (cairn_rng_seed_random(&rng) < 0)
        cairn_rng_init(&rng, (uint64_t)(uintptr_t)cfg);
    uint64_t a = cairn_rng_u64(&rng), b = cairn_rng_u64(&rng);
    /* UUID version 4, variant 1, as Consul's node IDs. */
    snprintf(out, len, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* server_tags: role=consul and the rest, pointing into r. With
 * wan_join_port (the LAN) or without (the WAN). */
static size_t server_tags(cairn__routing *r, cairn_tag *out, bool lan)
{
    size_t n = 0;
    out[n++] = (cairn_tag){"role", "consul"};
    out[n++] = (cairn_tag){"dc", r->dc};
    out[n++] = (cairn_tag){"port", r->port};
    out[n++] = (cairn_tag){"vsn", CAIRN_AGENT_SERVER_VSN};
    out[n++] = (cairn_tag){"raft_vsn", CAIRN_AGENT_SERVER_RAFT_VSN};
    out[n++] = (cairn_tag){"build", r->build};
    out[n++] = (cairn_tag){"id", r->id};
    if (lan) {
        out[n++] = (cairn_tag){"segment", ""};
        out[n++] = (cairn_tag){"wan_join_port", r->wan_port};
    }
    return n;
}

static int make_wan(cairn__routing *r, const cairn_agent_config *cfg, const cairn_serf_config *tmpl,
                    const cairn_logger *logger, cairn_keyring *keyring, cairn_diag *diag)
{
    cairn_serf_config sc = *tmpl;
    const char *profile = cfg->wan_profile ? cfg->wan_profile : "wan";
    cairn_memberlist_config ml = sc.memberlist;
    if (cairn_memberlist_config_profile(profile, &sc.memberlist) < 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "wan_profile: \"%s\" is not lan, wan or local",
                              profile);
    char name[CAIRN_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s.%s", cfg->node, r->dc);
    sc.memberlist.name = name;
    sc.memberlist.enable_compression = ml.enable_compression;
    sc.memberlist.seed = ml.seed ? ml.seed ^ 0x77616eu : 0;
    sc.memberlist.bind = cfg->wan_bind;
    if (!sc.memberlist.bind.family) {
        sc.memberlist.bind = cfg->bind;
        sc.memberlist.bind.port = 0;
    }
    sc.memberlist.advertise = cfg->wan_advertise;
    cairn_tag tags[SERVER_TAGS];
    cairn_tag client[] = {{"role", "node"}, {"dc", r->dc}};
    if (r->server) {
        sc.tags = tags;
        sc.ntags = server_tags(r, tags, false);
    } else {
        sc.tags = client;
        sc.ntags = 2;
    }
    sc.event_cb = on_wan_event;
    sc.event_userdata = r;
    /* The WAN pool keeps no snapshot of its own (the LAN's is the
     * agent's). */
    sc.snapshot_path = NULL;
    int rc = cairn_serf_config_check(&sc, diag);
    if (rc < 0)
        return rc;
    cairn_diag sd = {0};
    rc = cairn_serf_new(r->loop, &sc, logger, keyring, &r->wan, &sd);
    if (rc < 0) {
        char addr[CAIRN_ADDR_STRLEN];
        if (rc == CAIRN_EINVAL || rc == CAIRN_ELIMIT || rc == CAIRN_ENOMEM)
            return cairn_diag_set(diag, rc, "wan: %s", sd.msg[0] ? sd.msg : cairn_strerror(rc));
        return cairn_diag_set(diag, rc, "bind-wan: cannot bind %s: %s",
                              cairn_addr_format(&sc.memberlist.bind, true, addr, sizeof(addr)),
                              cairn_strerror(rc));
    }
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_serf_memberlist(r->wan), &me);
    snprintf(r->wan_port, sizeof(r->wan_port), "%u", (unsigned)me.addr.port);
    cairn_serf_cluster(r->wan, &r->wan_cluster);
    return 0;
}

static int make_router(cairn__routing *r, const cairn_agent_config *cfg, cairn_diag *diag)
{
    if (cfg->pinger) {
        r->pinger = *cfg->pinger;
    } else {
        int rc = cairn_pinger_tcp_new(r->loop, CAIRN_AGENT_PING_TIMEOUT, &r->tcp);
        if (rc < 0)
            return cairn_diag_set(diag, rc, "pinger: %s", cairn_strerror(rc));
        r->pinger = cairn_pinger_tcp_get(r->tcp);
    }
    cairn_router_config rc = {.local_datacenter = r->dc,
                              .server_name = r->server ? r->node : NULL,
                              .loop = r->loop,
                              .logger = &r->log,
                              .seed = cfg->seed ? cfg->seed ^ 0x726f75u : 0};
    if (!rc.seed) {
        cairn_rng rng;
        if (cairn_rng_seed_random(&rng) == 0)
            rc.seed = cairn_rng_u64(&rng);
    }
    int err = cairn_router_new(&rc, &r->router);
    if (err < 0)
        return cairn_diag_set(diag, err, "router: %s", cairn_strerror(err));
    return 0;
}

static int make_timers(cairn__routing *r)
{
    int rc = cairn_timer_new(r->loop, on_flood_timer, r, &r->flood_timer);
    if (rc == 0)
        rc = cairn_timer_new(r->loop, on_flood_timer, r, &r->flood_soon);
    if (rc == 0)
        rc = cairn_timer_new(r->loop, on_route_timer, r, &r->route_timer);
    return rc;
}

int cairn__routing_new(cairn_agent *agent, cairn_loop *loop, const cairn_agent_config *cfg,
                       const cairn_serf_config *wan_template, const cairn_logger *logger,
                       cairn_keyring *keyring, cairn_diag *diag, cairn__routing **ret_routing,
                       const cairn_tag **ret_tags, size_t *ret_ntags)
{
    int rc = check_config(cfg, diag);
    if (rc < 0)
        return rc;
    cairn__routing *r = cairn_calloc(1, sizeof(*r));
    if (!r)
        return CAIRN_ENOMEM;
    r->agent = agent;
    r->loop = loop;
    if (logger)
        r->log = *logger;
    else
        r->log.level = CAIRN_LOG_OFF;
    r->server = cfg->server;
    r->route_cb = cfg->route_cb;
    r->route_ud = cfg->route_userdata;
    r->flood_interval = cfg->flood_interval > 0 ? cfg->flood_interval : CAIRN_AGENT_FLOOD_INTERVAL;
    r->dc = cairn_strdup(cfg->datacenter);
    r->node = cairn_strdup(cfg->node);
    r->build = cairn_strdup(cfg->build ? cfg->build : CAIRN_AGENT_SERVER_BUILD);
    r->tags = cairn_calloc(cfg->n_tags + SERVER_TAGS, sizeof(*r->tags));
    rc = CAIRN_ENOMEM;
    if (!r->dc || !r->node || !r->build || !r->tags)
        goto fail;
    snprintf(r->port, sizeof(r->port), "%u", (unsigned)cfg->server_port);
    if (cfg->node_id)
        snprintf(r->id, sizeof(r->id), "%s", cfg->node_id);
    else
        make_id(cfg, r->id, sizeof(r->id));
    if ((rc = make_router(r, cfg, diag)) < 0 || (rc = make_timers(r)) < 0 ||
        (rc = make_wan(r, cfg, wan_template, logger, keyring, diag)) < 0)
        goto fail;
    if (cfg->n_tags)
        memcpy(r->tags, cfg->tags, cfg->n_tags * sizeof(*r->tags));
    r->ntags = cfg->n_tags;
    if (r->server)
        r->ntags += server_tags(r, r->tags + cfg->n_tags, true);
    *ret_tags = r->tags;
    *ret_ntags = r->ntags;
    *ret_routing = r;
    return 0;
fail:
    cairn__routing_delete(r);
    return rc;
}

int cairn__routing_attach_lan(cairn__routing *r, cairn_serf *lan, cairn_diag *diag)
{
    r->lan = lan;
    cairn_serf_cluster(lan, &r->lan_cluster);
    cairn_pinger pg = r->pinger;
    int rc = cairn_router_add_area(r->router, CAIRN_AREA_LAN, &r->lan_cluster, &pg, diag);
    if (rc < 0)
        return rc;
    r->lan_area = true;
    /* The WAN area second: the local datacenter's LAN manager comes first
     * in the router's index, so find_route prefers it (it removes failed
     * servers at once; the WAN one only rotates them). */
    if ((rc = cairn_router_add_area(r->router, CAIRN_AREA_WAN, &r->wan_cluster, &pg, diag)) < 0)
        return rc;
    cairn_serf_adapter_config ac = {
        .router = r->router, .area_id = CAIRN_AREA_WAN, .logger = &r->log};
    if ((rc = cairn_serf_adapter_new(&ac, &r->adapter)) < 0)
        return cairn_diag_set(diag, rc, "router: %s", cairn_strerror(rc));
    cairn_timer_start(r->flood_timer, r->flood_interval);
    cairn_timer_start(r->route_timer, CAIRN_AGENT_ROUTE_CHECK);
    cairn__routing_check_routes(r);
    return 0;
}

void cairn__routing_delete(cairn__routing *r)
{
    if (!r)
        return;
    r->closing = true;
    cairn_timer_delete(r->flood_timer);
    cairn_timer_delete(r->flood_soon);
    cairn_timer_delete(r->route_timer);
    cairn_serf_adapter_delete(r->adapter);
    cairn_router_delete(r->router);
    cairn_pinger_tcp_delete(r->tcp);
    cairn_serf_delete(r->wan);
    cairn_free(r->tags);
    cairn_free(r->build);
    cairn_free(r->node);
    cairn_free(r->dc);
    cairn_free(r);
}

cairn_router *cairn__routing_router(cairn__routing *r)
{
    return r ? r->router : NULL;
}

cairn_serf *cairn__routing_wan(cairn__routing *r)
{
    return r ? r->wan : NULL;
}

const char *cairn__routing_dc(const cairn__routing *r)
{
    return r ? r->dc : NULL;
}

bool cairn__routing_is_server(const cairn__routing *r)
{
    return r && r->server;
}
