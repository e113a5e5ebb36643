/* `cairn dcs|route|dc-maps|watch`: routing over a real Serf agent.
 *
 * Each command opens a session: a libuv loop, the serfrpc cluster backend
 * connected to the agent (--serf-rpc), and, for the routing commands, a
 * Router with one area ("wan") over that cluster, fed by the serf adapter,
 * with the TCP pinger. The session first waits until the backend has
 * synchronised (members, own name, every coordinate), then the command
 * reads the router exactly as a Consul agent would: datacenters by
 * distance, find_route after a rebalance (which pings), the datacenter maps.
 * `watch` keeps the session running and prints every route change as
 * events arrive, surviving agent restarts (the backend reconnects and
 * resynchronises).
 *
 * Output: text for people; with --format json, the stable shapes described
 * in docs/CLI.md. Errors go to stderr as one sentence; exit 1 for failures
 * (agent unreachable, unknown datacenter, no reachable server), 2 for usage.
 */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/log_sink.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/loop_uv.h"
#include "cairn/manager.h"
#include "cairn/pinger_tcp.h"
#include "cairn/router.h"
#include "cairn/serf_adapter.h"
#include "cairn/serfrpc.h"
#include "cli/commands.h"
#include "cli/flags.h"

/* Longest wait for the first synchronisation of a one-shot command. */
#define DEFAULT_TIMEOUT_S 10.0
/* How often `watch` re-checks routes between events. */
#define WATCH_REFRESH (1 * CAIRN_SEC)
/* Poll interval while waiting for a rebalance's pings. */
#define REBALANCE_POLL (10 * CAIRN_MSEC)
/* Datacenter list capacity (names and bytes) for router queries. */
#define MAX_DCS  256
#define DC_BYTES (MAX_DCS * 128)

struct opts {
    cairn_addr rpc;
    const char *rpc_str;
    const char *auth;
    const char *dc;
    bool json;
    bool verbose;
    double timeout_s;
    double duration_s;
    const char *arg;
};

enum { MODE_DCS, MODE_ROUTE, MODE_MAPS, MODE_WATCH };

/* Last printed route of one datacenter (watch). */
struct seen_route {
    char dc[CAIRN_SERVER_DC_MAX];
    char name[CAIRN_SERVER_NAME_MAX];
    bool present;
};

struct session {
    const struct opts *o;
    int mode;
    uv_loop_t uv;
    cairn_loop *loop;
    cairn_serfrpc_cluster *cl;
    cairn_pinger_tcp *pinger;
    cairn_router *router;
    cairn_serf_adapter *adapter;
    cairn_logger logger;
    /* -v: the protocol log, text records on stderr (the agent's sink). */
    cairn_log_sink verbose;
    cairn_timer *deadline;
    cairn_timer *tick;
    uv_signal_t sigint, sigterm;
    bool signals;
    /* The local datacenter (from --dc or the agent's dc tag). */
    char local_dc[CAIRN_SERVER_DC_MAX];
    bool synced_once;
    bool done;
    int status;
    /* route: waiting for a rebalance to finish. */
    bool rebalancing;
    cairn_time rebalance_deadline;
    /* watch state. */
    struct seen_route seen[MAX_DCS];
    size_t nseen;
    cairn_time started;
};

/* ---- small output helpers ---- */

static void die_msg(struct session *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void die_msg(struct session *s, int status, const char *fmt, ...)
{
    va_list ap;
    fputs("cairn: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s->status = status;
    s->done = true;
}

/* now_str: the time of day for watch lines, "HH:MM:SS.mmm" UTC (the
 * agent's one formatter, src/agent/log_sink.h). */
static void now_str(char *out, size_t len)
{
    cairn__log_time_format(cairn__log_time_now(), CAIRN_LOG_TIME_CLOCK, out, len);
}

static void print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        puts(text);
        free(text);
    }
    json_decref(j);
    fflush(stdout);
}

/* ---- options ---- */

static void usage(FILE *out, const char *cmd)
{
    const char *arg = strcmp(cmd, "route") == 0 ? " DATACENTER" : "";
    fprintf(out, "usage: cairn %s [options]%s\n\n", cmd, arg);
    if (strcmp(cmd, "dcs") == 0)
        fprintf(out, "Lists the datacenters that have Consul servers, nearest first.\n");
    else if (strcmp(cmd, "route") == 0)
        fprintf(out, "Prints the server a client would use now for DATACENTER.\n");
    else if (strcmp(cmd, "dc-maps") == 0)
        fprintf(out, "Prints Consul's /v1/coordinate/datacenters JSON.\n");
    else
        fprintf(out, "Prints every datacenter's route, then each change as it happens.\n");
    fprintf(out, "\noptions:\n"
                 "  --serf-rpc HOST:PORT  the Serf agent's RPC address (also --rpc-addr;\n"
                 "                        default $SERF_RPC_ADDR, else 127.0.0.1:7373)\n"
                 "  --rpc-auth KEY        the agent's RPC auth key (default $SERF_RPC_AUTH)\n"
                 "  --dc NAME             the local datacenter (default: the agent's dc tag)\n"
                 "  --format text|json    output format (default text)\n"
                 "  --timeout SECONDS     how long to wait for the agent (default 10)\n"
                 "  -v, --verbose         log protocol details to stderr\n");
    if (strcmp(cmd, "watch") == 0)
        fprintf(out, "  --duration SECONDS    stop after this long (default: until interrupted)\n");
    fprintf(out, "  -h, --help            this text\n");
}

/* Longest --timeout or --duration: about 115 days (a timer beyond that
 * is surely a typo). */
#define MAX_SECONDS 1e7

/* parse_seconds: true and *out for a number in (0, MAX_SECONDS]; else
 * false and a reason in why ("is not a number", "must be more than 0",
 * "is more than the limit of ..."). */
static bool parse_seconds(const char *s, double *out, char *why, size_t whylen)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || isnan(v))
        snprintf(why, whylen, "is not a number of seconds");
    else if (!(v > 0))
        snprintf(why, whylen, "must be more than 0 seconds");
    else if (v > MAX_SECONDS)
        snprintf(why, whylen, "is more than the limit of %.0f seconds (about 115 days)",
                 MAX_SECONDS);
    else {
        *out = v;
        return true;
    }
    return false;
}

enum { F_RPC, F_AUTH, F_DC, F_FORMAT, F_TIMEOUT, F_DURATION, F_VERBOSE };

static const cairn_cli_flag serf_flags[] = {
    {"serf-rpc", 0, true, F_RPC},      {"rpc-addr", 0, true, F_RPC},
    {"rpc-auth", 0, true, F_AUTH},     {"dc", 0, true, F_DC},
    {"format", 0, true, F_FORMAT},     {"timeout", 0, true, F_TIMEOUT},
    {"duration", 0, true, F_DURATION}, {"verbose", 'v', false, F_VERBOSE},
};

struct opts_ctx {
    struct opts *o;
    bool watch;
};

/* on_flag applies one flag (cli/flags.h). */
static int on_flag(int id, const char *flag, const char *value, void *ud, char *why, size_t wl)
{
    struct opts_ctx *ctx = ud;
    struct opts *o = ctx->o;
    char reason[128];
    switch (id) {
    case F_RPC:
        o->rpc_str = value;
        break;
    case F_AUTH:
        o->auth = value;
        break;
    case F_DC:
        o->dc = value;
        break;
    case F_VERBOSE:
        o->verbose = true;
        break;
    case F_FORMAT:
        if (strcmp(value, "json") == 0)
            o->json = true;
        else if (strcmp(value, "text") != 0)
            return snprintf(why, wl, "%s must be text or json, not \"%.64s\"", flag, value), 2;
        break;
    case F_TIMEOUT:
        if (!parse_seconds(value, &o->timeout_s, reason, sizeof reason))
            return snprintf(why, wl, "%s \"%.64s\" %s", flag, value, reason), 2;
        break;
    default: /* F_DURATION */
        if (!ctx->watch)
            return snprintf(why, wl, "%s is only for watch", flag), 2;
        if (!parse_seconds(value, &o->duration_s, reason, sizeof reason))
            return snprintf(why, wl, "%s \"%.64s\" %s", flag, value, reason), 2;
        break;
    }
    return 0;
}

/* parse_opts: 0 to run, 2 for a usage error (printed), -1 after --help. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    const char *cmd = argv[0];
    bool want_arg = strcmp(cmd, "route") == 0;
    char why[256];
    const char *args[1];
    size_t nargs = 0;
    memset(o, 0, sizeof *o);
    const char *env_addr = getenv("SERF_RPC_ADDR");
    o->rpc_str = env_addr != NULL && env_addr[0] != '\0' ? env_addr : "127.0.0.1:7373";
    o->auth = getenv("SERF_RPC_AUTH");
    o->timeout_s = DEFAULT_TIMEOUT_S;
    struct opts_ctx ctx = {o, strcmp(cmd, "watch") == 0};
    int rc =
        cairn__cli_flags_parse(argc, argv, serf_flags, sizeof serf_flags / sizeof serf_flags[0],
                               on_flag, &ctx, args, want_arg ? 1 : 0, &nargs, why, sizeof why);
    if (rc == -1) {
        usage(stdout, cmd);
        return -1;
    }
    if (rc == 0 && cairn_addr_parse(o->rpc_str, 7373, &o->rpc) != 0) {
        snprintf(why, sizeof why, "--serf-rpc \"%.64s\" is not HOST:PORT", o->rpc_str);
        rc = 2;
    }
    if (rc == 0 && want_arg && nargs != 1) {
        snprintf(why, sizeof why, "expected one DATACENTER argument");
        rc = 2;
    }
    if (rc == 0) {
        o->arg = want_arg ? args[0] : NULL;
        return 0;
    }
    fprintf(stderr, "cairn %s: %s\n\n", cmd, why);
    usage(stderr, cmd);
    return rc;
}

/* ---- routes ---- */

static void dc_buf_init(cairn_dc_buf *b, const char **names, double *rtts, char *bytes)
{
    b->names = names;
    b->rtts = rtts;
    b->names_cap = MAX_DCS;
    b->bytes = bytes;
    b->bytes_cap = DC_BYTES;
}

static json_t *route_json(const char *dc, const cairn_route *r)
{
    char ip[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&r->server.addr, false, ip, sizeof ip);
    return json_pack("{s:s, s:s, s:s, s:i, s:s}", "datacenter", dc, "name", r->server.name, "addr",
                     ip, "port", (json_int_t)r->server.addr.port, "status",
                     cairn_member_status_name(r->server.status));
}

static void print_route_text(const char *prefix, const char *dc, const cairn_route *r)
{
    char addr[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&r->server.addr, true, addr, sizeof addr);
    printf("%s%s %s %s %s\n", prefix, dc, r->server.name, addr,
           cairn_member_status_name(r->server.status));
    fflush(stdout);
}

/* ---- session callbacks ---- */

static void watch_check_routes(struct session *s);

static void on_event(const cairn_event *ev, void *ud)
{
    struct session *s = ud;
    if (s->adapter == NULL || ev->type > CAIRN_EVENT_MEMBER_REAP)
        return;
    cairn_serf_adapter_handle(ev, s->adapter);
    if (s->mode != MODE_WATCH)
        return;
    char t[32];
    now_str(t, sizeof t);
    for (size_t i = 0; i < ev->nmembers; i++) {
        if (s->o->json) {
            print_json(json_pack("{s:s, s:s, s:s, s:s}", "time", t, "type", "event", "event",
                                 cairn_event_type_name(ev->type), "member", ev->members[i].name));
        } else {
            printf("%s event %s %s\n", t, cairn_event_type_name(ev->type), ev->members[i].name);
            fflush(stdout);
        }
    }
    watch_check_routes(s);
}

static int setup_router(struct session *s)
{
    const char *dc = s->o->dc;
    if (dc == NULL)
        dc = cairn_serfrpc_cluster_self_tag(s->cl, "dc");
    if (dc == NULL || dc[0] == '\0') {
        die_msg(s, 1, "the local datacenter is unknown (the agent has no dc tag): pass --dc");
        return -1;
    }
    snprintf(s->local_dc, sizeof s->local_dc, "%s", dc);
    cairn_router_config rc = {.local_datacenter = s->local_dc,
                              .loop = s->loop,
                              .logger = &s->logger,
                              .seed = (uint64_t)cairn_monotonic_now()};
    cairn_diag diag;
    cairn_diag_clear(&diag);
    cairn_cluster cluster = cairn_serfrpc_cluster_get(s->cl);
    cairn_pinger pinger = cairn_pinger_tcp_get(s->pinger);
    int rc2 = cairn_router_new(&rc, &s->router);
    if (rc2 == 0)
        rc2 = cairn_router_add_area(s->router, CAIRN_AREA_WAN, &cluster, &pinger, &diag);
    cairn_serf_adapter_config ac = {
        .router = s->router, .area_id = CAIRN_AREA_WAN, .logger = &s->logger};
    if (rc2 == 0)
        rc2 = cairn_serf_adapter_new(&ac, &s->adapter);
    if (rc2 != 0) {
        die_msg(s, 1, "cannot set up the router: %s", diag.msg[0] ? diag.msg : cairn_strerror(rc2));
        return -1;
    }
    return 0;
}

static void run_command(struct session *s);

static void on_sync(cairn_serfrpc_cluster *cl, int sync, int err, const char *msg, void *ud)
{
    struct session *s = ud;
    char t[32];
    now_str(t, sizeof t);
    if (sync == CAIRN_SERFRPC_SYNCED) {
        bool first = !s->synced_once;
        s->synced_once = true;
        if (first && setup_router(s) != 0)
            return;
        if (s->mode == MODE_WATCH && !first) {
            if (s->o->json)
                print_json(
                    json_pack("{s:s, s:s, s:s}", "time", t, "type", "agent", "state", "synced"));
            else
                printf("%s agent %s is back; resynchronised\n", t, s->o->rpc_str);
            fflush(stdout);
        }
        if (first)
            run_command(s);
        else if (s->mode == MODE_WATCH)
            watch_check_routes(s);
        return;
    }
    if (s->mode == MODE_WATCH && sync == CAIRN_SERFRPC_STALE && s->synced_once) {
        if (s->o->json)
            print_json(json_pack("{s:s, s:s, s:s, s:s}", "time", t, "type", "agent", "state",
                                 "stale", "error", msg));
        else
            printf("%s agent away (%s); keeping the last known routes\n", t, msg);
        fflush(stdout);
        return;
    }
    if (s->done)
        return;
    if (err == CAIRN_EAUTH && s->o->auth == NULL)
        die_msg(s, 1, "%s: pass --rpc-auth KEY", msg);
    else if (s->mode != MODE_WATCH || !s->synced_once || sync == CAIRN_SERFRPC_FAILED)
        die_msg(s, 1, "%s", msg);
}

static void on_deadline(cairn_timer *t, void *ud)
{
    struct session *s = ud;
    if (s->mode == MODE_WATCH && s->synced_once) {
        s->done = true;
        return;
    }
    die_msg(s, 1, "serf agent at %s did not answer within %.0f s", s->o->rpc_str, s->o->timeout_s);
}

/* ---- commands ---- */

static void do_dcs(struct session *s)
{
    const char *names[MAX_DCS];
    double rtts[MAX_DCS];
    char bytes[DC_BYTES];
    cairn_dc_buf b;
    size_t n;
    cairn_diag diag;
    cairn_diag_clear(&diag);
    dc_buf_init(&b, names, rtts, bytes);
    int rc = cairn_router_get_datacenters_by_distance(s->router, &b, &n, &diag);
    if (rc != 0) {
        die_msg(s, 1, "cannot rank datacenters: %s", diag.msg[0] ? diag.msg : cairn_strerror(rc));
        return;
    }
    if (s->o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(names[i]));
        print_json(arr);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (isinf(rtts[i]))
                printf("%-20s (no coordinate)\n", names[i]);
            else
                printf("%-20s %8.3f ms\n", names[i], rtts[i] * 1000.0);
        }
    }
    s->done = true;
}

static void known_dcs(struct session *s, char *out, size_t len)
{
    const char *names[MAX_DCS];
    char bytes[DC_BYTES];
    cairn_dc_buf b;
    size_t n = 0;
    dc_buf_init(&b, names, NULL, bytes);
    out[0] = '\0';
    if (cairn_router_get_datacenters(s->router, &b, &n, NULL) != 0)
        return;
    size_t off = 0;
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%s", i ? ", " : "", names[i]);
}

static void rebalance_one(cairn_manager *m, void *ud)
{
    struct session *s = ud;
    int rc = cairn_manager_rebalance(m);
    s->rebalancing = rc == 0 || rc == CAIRN_EBUSY;
}

static void check_rebalancing(cairn_manager *m, void *ud)
{
    struct session *s = ud;
    s->rebalancing = cairn_manager_rebalancing(m);
}

static void finish_route(struct session *s)
{
    cairn_route r;
    int rc = cairn_router_find_route(s->router, s->o->arg, &r);
    if (rc == CAIRN_EUNAVAIL || rc == CAIRN_ENOROUTE) {
        die_msg(s, 1, "datacenter \"%s\" has no server currently reachable", s->o->arg);
        return;
    }
    if (rc != 0) {
        die_msg(s, 1, "cannot route to \"%s\": %s", s->o->arg, cairn_strerror(rc));
        return;
    }
    if (s->o->json)
        print_json(route_json(s->o->arg, &r));
    else
        print_route_text("", s->o->arg, &r);
    s->done = true;
}

static void on_tick(cairn_timer *t, void *ud)
{
    struct session *s = ud;
    if (s->mode == MODE_ROUTE && s->rebalancing) {
        cairn_router_with_manager(s->router, CAIRN_AREA_WAN, s->o->arg, check_rebalancing, s);
        if (s->rebalancing && cairn_loop_now(s->loop) < s->rebalance_deadline) {
            cairn_timer_start(t, REBALANCE_POLL);
            return;
        }
        s->rebalancing = false;
        finish_route(s);
        return;
    }
    if (s->mode == MODE_WATCH) {
        /* Routes also change without events (a manager's periodic
         * rebalance); coordinates are refreshed by the backend itself. */
        watch_check_routes(s);
        cairn_timer_start(t, WATCH_REFRESH);
    }
}

static void do_route(struct session *s)
{
    const char *dc = s->o->arg;
    if (!cairn_router_has_datacenter(s->router, dc)) {
        char known[1024];
        known_dcs(s, known, sizeof known);
        die_msg(s, 1, "unknown datacenter \"%s\" (known: %s)", dc, known[0] ? known : "none");
        return;
    }
    s->rebalancing = false;
    cairn_router_with_manager(s->router, CAIRN_AREA_WAN, dc, rebalance_one, s);
    if (!s->rebalancing) {
        finish_route(s);
        return;
    }
    /* Each ping may take the pinger's timeout; a rebalance tries each server once. */
    s->rebalance_deadline = cairn_loop_now(s->loop) + 64 * CAIRN_PINGER_TCP_DEFAULT_TIMEOUT;
    cairn_timer_start(s->tick, REBALANCE_POLL);
}

static void do_maps(struct session *s)
{
    cairn_dc_maps *maps = NULL;
    char *json = NULL;
    cairn_diag diag;
    cairn_diag_clear(&diag);
    int rc = cairn_router_get_datacenter_maps(s->router, &maps, &diag);
    if (rc == 0)
        rc = cairn_dc_maps_to_json(maps, &json);
    if (rc != 0) {
        die_msg(s, 1, "cannot build the datacenter maps: %s",
                diag.msg[0] ? diag.msg : cairn_strerror(rc));
    } else {
        puts(json);
        s->done = true;
    }
    cairn_free(json);
    cairn_dc_maps_free(maps);
}

static struct seen_route *seen_for(struct session *s, const char *dc)
{
    for (size_t i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i].dc, dc) == 0)
            return &s->seen[i];
    if (s->nseen == MAX_DCS)
        return NULL;
    struct seen_route *r = &s->seen[s->nseen++];
    memset(r, 0, sizeof *r);
    snprintf(r->dc, sizeof r->dc, "%s", dc);
    return r;
}

/* watch_check_routes prints each datacenter whose route changed. */
static void watch_check_routes(struct session *s)
{
    const char *names[MAX_DCS];
    char bytes[DC_BYTES];
    cairn_dc_buf b;
    size_t n = 0;
    char t[32];
    dc_buf_init(&b, names, NULL, bytes);
    if (s->router == NULL || cairn_router_get_datacenters(s->router, &b, &n, NULL) != 0)
        return;
    now_str(t, sizeof t);
    for (size_t i = 0; i < s->nseen; i++) {
        bool still = false;
        for (size_t j = 0; j < n && !still; j++)
            still = strcmp(names[j], s->seen[i].dc) == 0;
        if (!still && s->seen[i].present) {
            s->seen[i].present = false;
            s->seen[i].name[0] = '\0';
            if (s->o->json)
                print_json(json_pack("{s:s, s:s, s:s}", "time", t, "type", "gone", "datacenter",
                                     s->seen[i].dc));
            else
                printf("%s route %s: gone (no servers left)\n", t, s->seen[i].dc);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct seen_route *sr = seen_for(s, names[i]);
        cairn_route r;
        if (sr == NULL)
            continue;
        int rc = cairn_router_find_route(s->router, names[i], &r);
        if (rc != 0) {
            if (sr->present) {
                sr->present = false;
                sr->name[0] = '\0';
                if (s->o->json)
                    print_json(json_pack("{s:s, s:s, s:s}", "time", t, "type", "unavailable",
                                         "datacenter", names[i]));
                else
                    printf("%s route %s: no server currently reachable\n", t, names[i]);
            }
            continue;
        }
        if (sr->present && strcmp(sr->name, r.server.name) == 0)
            continue;
        sr->present = true;
        snprintf(sr->name, sizeof sr->name, "%s", r.server.name);
        if (s->o->json) {
            json_t *j = route_json(names[i], &r);
            json_object_set_new(j, "time", json_string(t));
            json_object_set_new(j, "type", json_string("route"));
            print_json(j);
        } else {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s route ", t);
            print_route_text(prefix, names[i], &r);
        }
    }
    fflush(stdout);
}

static void do_watch(struct session *s)
{
    char t[32];
    now_str(t, sizeof t);
    if (!s->o->json)
        printf("%s watching serf agent %s (local datacenter %s)\n", t, s->o->rpc_str, s->local_dc);
    watch_check_routes(s);
    cairn_timer_start(s->tick, WATCH_REFRESH);
    if (s->o->duration_s > 0)
        cairn_timer_start(s->deadline, cairn_time_from_seconds(s->o->duration_s));
    else
        cairn_timer_stop(s->deadline);
}

static void run_command(struct session *s)
{
    switch (s->mode) {
    case MODE_DCS:
        do_dcs(s);
        break;
    case MODE_ROUTE:
        do_route(s);
        break;
    case MODE_MAPS:
        do_maps(s);
        break;
    default:
        do_watch(s);
        break;
    }
}

/* ---- the session ---- */

static void on_signal(uv_signal_t *h, int signum)
{
    struct session *s = h->data;
    s->done = true;
}

static int session_run(struct session *s)
{
    const struct opts *o = s->o;
    s->status = 0;
    s->verbose = (cairn_log_sink){
        .out = stderr, .level = CAIRN_LOG_DEBUG, .time_style = CAIRN_LOG_TIME_CLOCK};
    s->logger.cb = cairn__log_sink_log;
    s->logger.userdata = &s->verbose;
    s->logger.level = o->verbose ? CAIRN_LOG_DEBUG : CAIRN_LOG_OFF;
    if (uv_loop_init(&s->uv) != 0 || cairn_loop_new_uv(&s->uv, &s->loop) != 0) {
        fprintf(stderr, "cairn: cannot create an event loop\n");
        return 1;
    }
    cairn_serfrpc_cluster_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cairn_serfrpc_config_default(&cfg.rpc);
    cfg.rpc.addr = o->rpc;
    cfg.rpc.auth_key = o->auth;
    cfg.rpc.logger = &s->logger;
    cfg.rpc.connect_timeout = cairn_time_from_seconds(o->timeout_s);
    cfg.rpc.reconnect = s->mode == MODE_WATCH;
    cfg.rpc.backoff_min = 100 * CAIRN_MSEC;
    cfg.rpc.backoff_max = 2 * CAIRN_SEC;
    cfg.coord_refresh = s->mode == MODE_WATCH ? 2 * CAIRN_SEC : 60 * CAIRN_SEC;
    /* Member events reach the stream 1-3 s late (agent coalescing): watch
     * also re-reads the member list to see failures sooner. */
    cfg.member_poll = s->mode == MODE_WATCH ? 250 * CAIRN_MSEC : 0;
    cfg.event_cb = on_event;
    cfg.sync_cb = on_sync;
    cfg.userdata = s;
    int rc = cairn_serfrpc_cluster_new(s->loop, &cfg, &s->cl);
    if (rc == 0)
        rc = cairn_pinger_tcp_new(s->loop, CAIRN_PINGER_TCP_DEFAULT_TIMEOUT, &s->pinger);
    if (rc == 0)
        rc = cairn_timer_new(s->loop, on_deadline, s, &s->deadline);
    if (rc == 0)
        rc = cairn_timer_new(s->loop, on_tick, s, &s->tick);
    if (rc == 0 && s->mode == MODE_WATCH) {
        uv_signal_init(&s->uv, &s->sigint);
        uv_signal_init(&s->uv, &s->sigterm);
        s->sigint.data = s->sigterm.data = s;
        uv_signal_start(&s->sigint, on_signal, SIGINT);
        uv_signal_start(&s->sigterm, on_signal, SIGTERM);
        s->signals = true;
    }
    if (rc == 0) {
        s->started = cairn_loop_now(s->loop);
        cairn_timer_start(s->deadline, cairn_time_from_seconds(o->timeout_s));
        rc = cairn_serfrpc_cluster_start(s->cl);
    }
    if (rc != 0) {
        fprintf(stderr, "cairn: cannot start: %s\n", cairn_strerror(rc));
        s->status = 1;
    } else {
        while (!s->done)
            uv_run(&s->uv, UV_RUN_ONCE);
    }
    cairn_serfrpc_cluster_delete(s->cl);
    cairn_serf_adapter_delete(s->adapter);
    cairn_router_delete(s->router);
    cairn_pinger_tcp_delete(s->pinger);
    cairn_timer_delete(s->deadline);
    cairn_timer_delete(s->tick);
    if (s->signals) {
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
    }
    cairn_loop_delete(s->loop);
    uv_run(&s->uv, UV_RUN_DEFAULT);
    uv_loop_close(&s->uv);
    return s->status;
}

static int run(int argc, char **argv, int mode)
{
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return 1;
    s->o = &o;
    s->mode = mode;
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = session_run(s);
    free(s);
    return rc;
}

int cairn_cmd_dcs(int argc, char **argv)
{
    return run(argc, argv, MODE_DCS);
}

int cairn_cmd_route(int argc, char **argv)
{
    return run(argc, argv, MODE_ROUTE);
}

int cairn_cmd_dc_maps(int argc, char **argv)
{
    return run(argc, argv, MODE_MAPS);
}

int cairn_cmd_watch(int argc, char **argv)
{
    return run(argc, argv, MODE_WATCH);
}
