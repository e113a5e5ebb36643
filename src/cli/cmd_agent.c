/* `cairn agent`: run one Serf 0.9.4 member (cairn_agent over cairn_serf)
 * on libuv.
 *
 * This file is the agent's boundary with the world: it parses flags,
 * resolves addresses, owns the libuv loop and the signal handlers
 * (uv_signal, so the library stays free of process-wide state), runs the
 * --event-handler scripts (src/agent/handlers.h, on the same loop) and
 * turns serf's events, our coordinate and the library's log messages into
 * records on stdout, plain text or one JSON object per line (--log-json).
 *
 * Lifecycle: bind (exit 1 if that fails), join the --join addresses if any
 * (exit 1 if none answers), then run until SIGINT or SIGTERM, which start
 * Serf's graceful leave (leave intent, memberlist leave, propagation
 * delay: Serf agents show us left); exit 0 when it completes. A second
 * signal during the leave exits 1 at once. SIGUSR1 logs the serf members
 * and the counters. Bad flags exit 2.
 *
 * --proxy LISTEN=DC (repeatable) starts one client-side TCP proxy each
 * (src/agent/proxy.h, docs/PROXY.md) on the agent's Router, after the agent
 * is up; a listen address that cannot be bound exits 1. Their counters join
 * the stats record ("proxies").
 */
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cairn/agent.h"
#include "cairn/alloc.h"
#include "agent/config.h"
#include "agent/handlers.h"
#include "agent/http.h"
#include "agent/log_sink.h"
#include "agent/rpc_backend.h"
#include "agent/proxy.h"
#include "cairn/loop_uv.h"
#include "base/base64.h"
#include "base/utf8.h"
#include "cli/commands.h"
#include "cli/flags.h"

#define AGENT_MAX_JOINS 64
/* Most --config-file and --config-dir flags. */
#define AGENT_MAX_CONFIG_PATHS 64
#define AGENT_DEFAULT_PORT     7946
/* Consul's defaults: the WAN pool's serf port and the server RPC port. */
#define AGENT_DEFAULT_WAN_PORT    8302
#define AGENT_DEFAULT_SERVER_PORT 8300
/* Serf's RPC address default (serf agent -rpc-addr). */
#define AGENT_DEFAULT_RPC "127.0.0.1:7373"
#define AGENT_RPC_PORT    7373
/* After an RPC `leave` has been answered, the agent exits this much later
 * (time for the reply to reach the client). */
#define AGENT_RPC_EXIT_DELAY_MS 200
/* Most --proxy flags (each one listener). */
#define AGENT_MAX_PROXIES 16
/* How often our coordinate is checked and logged when it moved: often
 * enough to follow Vivaldi's convergence, rarely enough for a log. */
#define AGENT_COORD_PERIOD_MS 10000
/* Consul's HTTP API address by default (docs/HTTP.md). */
#define AGENT_HTTP_DEFAULT "127.0.0.1:8500"
#ifndef CAIRN_VERSION_STRING
#define CAIRN_VERSION_STRING "0.1.0"
#endif

/* The command line, then the configuration files merged under it (Serf's
 * readConfig: files in order, the flags last). Heap-allocated: a SIGHUP
 * builds a new one and swaps it in. */
struct agent_flags {
    const char *node, *bind, *advertise, *encrypt, *profile, *log_level;
    const char *protocol, *reconnect_timeout, *tombstone_timeout, *snapshot;
    const char *tags_file, *keyring_file, *retry_interval, *retry_max, *role;
    const char *broadcast_timeout, *http_addr;
    /* The RPC server's address and auth key (--rpc-addr, --rpc-auth and
     * the rpc_addr / rpc_auth keys). */
    const char *rpc_addr, *rpc_auth;
    const char *joins[AGENT_MAX_JOINS];
    size_t n_joins;
    const char *retry_joins[AGENT_MAX_JOINS];
    size_t n_retry_joins;
    /* Routing (docs/ROUTING.md). */
    const char *dc, *server_port, *bind_wan, *advertise_wan, *profile_wan;
    const char *wan_joins[AGENT_MAX_JOINS];
    size_t n_wan_joins;
    const char *proxies[AGENT_MAX_PROXIES];
    size_t n_proxies;
    bool server;
    const char *handlers[CAIRN_HANDLERS_MAX];
    /* The configuration file each handler came from (NULL: the flag). */
    const char *handler_src[CAIRN_HANDLERS_MAX];
    size_t n_handlers;
    /* --config-file and --config-dir, in command-line order. */
    const char *config_paths[AGENT_MAX_CONFIG_PATHS];
    size_t n_config_paths;
    char *tag_text[CAIRN_AGENT_MAX_TAGS];
    cairn_tag tags[CAIRN_AGENT_MAX_TAGS];
    size_t n_tags;
    bool json, stats_on_exit, disable_compression, replay, rejoin;
    /* From the configuration files only. */
    bool disable_coordinates, disable_name_resolution, skip_leave_on_interrupt;
    int leave_on_terminate;
    /* The files read (owned; the fields above may point into them). */
    cairn_agent_file_config files;
    /* The tags announced: the files' merged with --tag (and role), or the
     * tags file's (owned by file_tags). */
    cairn_tag all_tags[CAIRN_AGENT_MAX_TAGS];
    size_t n_all_tags;
    cairn_tag file_tags[CAIRN_AGENT_MAX_TAGS];
    size_t n_file_tags;
};

static void flags_delete(struct agent_flags *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_tags; i++)
        free(f->tag_text[i]);
    cairn__agent_tags_free(f->file_tags, f->n_file_tags);
    cairn__agent_config_destroy(&f->files);
    free(f);
}

struct agent_cli {
    uv_loop_t uv;
    cairn_loop *loop;
    cairn_agent *agent;
    uv_signal_t sigint, sigterm, sigusr1;
    /* Where records go: stdout, text or JSON, --log-level. */
    cairn_log_sink sink;
    bool stats_on_exit;
    /* Exit status once the loop stops. */
    int status;
    /* A leave is under way (a second signal forces the exit). */
    bool leaving;
    /* The join we wait for at start-up. */
    bool joining;
    /* A signal came before that join finished: exit 1 after the leave. */
    bool join_interrupted;
    /* The --join hosts being resolved (NULL once they are). */
    cairn_resolve_hosts *resolving;
    /* The --join-wan hosts being resolved, and that WAN join under way. */
    cairn_resolve_hosts *resolving_wan;
    bool joining_wan;
    /* The last error the library logged (explains a failed join). */
    char last_error[512];
    /* Polls our coordinate and logs it when it moved. */
    uv_timer_t coord_timer;
    cairn_coord last_coord;
    /* --event-handler scripts (NULL without any), and our own member as
     * they see it (SERF_SELF_NAME, SERF_TAG_*: the tags never change at
     * run time). */
    cairn_handlers *handlers;
    cairn_member self;
    /* Our name and tags as the handlers see them (owned copies: a SIGHUP
     * may change the tags). */
    char node[CAIRN_NAME_MAX + 1];
    cairn_tag self_tags[CAIRN_AGENT_MAX_TAGS];
    size_t n_self_tags;
    /* The command line (re-read on SIGHUP, as Serf does) and what it and
     * its configuration files say now. */
    int argc;
    char **argv;
    struct agent_flags *flags;
    uv_signal_t sighup;
    /* --retry-join: the hosts, the pause between attempts, the attempts
     * allowed (0: forever), made so far, the timer and the resolution. */
    const char *const *retry_hosts;
    size_t n_retry_hosts;
    cairn_time retry_interval;
    long retry_max, retry_attempts;
    uv_timer_t retry_timer;
    cairn_resolve_hosts *retry_resolving;
    /* --keyring-file: the keyring loaded from it (ours, outlives the
     * agent) and its path; --tags-file's path (NULL without). */
    cairn_keyring *keyring;
    char *keyring_path, *tags_path;
    /* The port a --join or --retry-join host without one gets (ours). */
    uint16_t join_port;
    /* The Serf RPC server (src/agent/rpc_backend.h) and the timer that
     * exits after an RPC leave. */
    cairn_agent_rpc *rpc;
    uv_timer_t exit_timer;
    bool exit_timer_on;
    /* The HTTP API (NULL when disabled). */
    cairn_http *http;
    /* --proxy listeners. */
    cairn_proxy *proxies[AGENT_MAX_PROXIES];
    size_t n_proxies;
};

static void reload(struct agent_cli *c);
static void start_retry(struct agent_cli *c);

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cairn agent [options]\n\n"
            "Run one gossip node that speaks the Serf 0.9.4 / memberlist 0.2.2 protocol.\n\n"
            "  --node NAME             node name (default: the host name)\n"
            "  --bind HOST[:PORT]      gossip bind address (default 0.0.0.0:7946; the\n"
            "                          port defaults to 7946, as in Serf)\n"
            "  --advertise HOST[:PORT] address announced to peers (default: the bind\n"
            "                          address, or the first non-loopback IPv4 when bound\n"
            "                          to 0.0.0.0)\n"
            "  --join HOST[:PORT]      join through this member (repeatable; port\n"
            "                          defaults to the bind port, as in Serf)\n"
            "  --tag KEY=VALUE         announce a tag (repeatable; 512 bytes in all)\n"
            "  --encrypt BASE64        gossip key, 16, 24 or 32 bytes (serf keygen)\n"
            "  --profile lan|wan|local memberlist timing profile (default lan)\n"
            "  --disable-compression   do not LZW-compress what we send\n"
            "  --log-level LEVEL       trace, debug, info, warn, error (default info)\n"
            "  --log-json              one JSON object per line\n"
            "  --stats-on-exit         log the counters when stopping\n"
            "  --protocol N            serf protocol to speak, 3 to 5 (default 5)\n"
            "  --reconnect-timeout DUR how long failed members are kept (default 24h)\n"
            "  --tombstone-timeout DUR how long left members are kept (default 24h)\n"
            "  --replay                replay old user events when joining\n"
            "  --snapshot PATH         keep Serf's snapshot file there: a restart rejoins the\n"
            "                          members it remembers and replays no old event\n"
            "  --rejoin                rejoin from the snapshot even after a graceful leave\n"
            "  --rpc-addr HOST:PORT    Serf agent RPC address for the serf CLI (default\n"
            "                          127.0.0.1:7373, as serf agent)\n"
            "  --rpc-auth KEY          require this RPC auth key (serf -rpc-auth)\n"
            "  --http-addr IP:PORT     Consul's HTTP API (default 127.0.0.1:8500; \"\" turns\n"
            "                          it off; when the default is taken the agent runs\n"
            "                          without it)\n"
            "  --event-handler [FILTER=]SCRIPT\n"
            "                          run SCRIPT (/bin/sh -c) for events: FILTER is a comma\n"
            "                          list of member-join, member-leave, member-failed,\n"
            "                          member-update, member-reap, user[:NAME], query[:NAME]\n"
            "                          or * (default *); repeatable, as serf agent\n"
            "  --proxy LISTEN=DC       accept TCP on LISTEN (IP:PORT) and connect each\n"
            "                          connection to a healthy server of datacenter DC\n"
            "                          (repeatable, 16 at most)\n"
            "  --config-file PATH      read a serf agent JSON configuration file (repeatable;\n"
            "                          files merge in order, the flags apply last)\n"
            "  --config-dir DIR        read DIR's *.json files in lexical order (repeatable)\n"
            "  --tags-file PATH        keep our tags in this JSON file: loaded at start,\n"
            "                          rewritten when they change (no --tag with it)\n"
            "  --role NAME             the tag role=NAME (Serf's deprecated -role)\n"
            "  --keyring-file PATH     Serf's keyring file (JSON array of base64 keys, the first\n"
            "                          primary): loaded at start, rewritten when `serf keys`\n"
            "                          changes the keys; not with --encrypt\n"
            "  --retry-join HOST[:PORT] join through this member, retrying until it works\n"
            "                          (repeatable)\n"
            "  --retry-interval DUR    pause between retry joins (default 30s, at least 1s)\n"
            "  --retry-max N           retry joins before giving up with exit 1 (default 0:\n"
            "                          forever)\n"
            "  --broadcast-timeout DUR how long a leave waits for its broadcast (default 5s)\n"
            "\n"

            "Routing (docs/ROUTING.md):\n"
            "  --dc NAME               datacenter: run a router over the LAN pool (this\n"
            "                          serf) and a WAN pool; log route changes\n"
            "  --server                be a server of the datacenter: Consul's server tags,\n"
            "                          member <node>.<dc> of the WAN pool, flood joins\n"
            "  --server-port PORT      the port clients' RPCs go to (tag port, default 8300)\n"
            "  --bind-wan HOST[:PORT]  WAN pool bind address (default: the --bind host, port\n"
            "                          8302 for a server, any free port for a client)\n"
            "  --advertise-wan HOST[:PORT]\n"
            "                          WAN address announced to peers\n"
            "  --join-wan HOST[:PORT]  join the WAN pool through this member (repeatable;\n"
            "                          port defaults to 8302)\n"
            "  --profile-wan lan|wan|local\n"
            "                          WAN pool timing profile (default wan)\n\n"
            "SIGINT/SIGTERM: graceful serf leave (peers see us left), then exit 0.\n"
            "SIGHUP: re-read the flags and configuration files: log level, event handlers,\n"
            "tags. SIGUSR1: log members (WAN members too), current routes and counters.\n"
            "Exit status: 0 after a leave, 1 on a bind (gossip, --rpc-addr or --proxy), join\n"
            "or leave failure, 2 on bad flags.\n");
}

/* ---- output: records through the agent's sink (src/agent/log_sink.h) ---- */

static void on_log(int level, const char *module, const char *msg, void *ud)
{
    struct agent_cli *c = ud;
    if (level >= CAIRN_LOG_ERROR)
        snprintf(c->last_error, sizeof(c->last_error), "%s", msg);
    cairn__log_sink_log(level, module, msg, &c->sink);
}

/* The tags as a JSON object, key by key from the decoded Meta (keys and
 * values repaired as in jstr). */
static json_t *tags_json(const cairn_member *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < m->ntags; i++) {
        json_t *k = cairn__log_json_string(m->tags[i].key);
        json_object_set_new(o, json_string_value(k), cairn__log_json_string(m->tags[i].value));
        json_decref(k);
    }
    return o;
}

/* The tags as text for a people's line: k=v,k=v (ambiguous when a value
 * holds ',' or '='; the JSON log is the exact form). */
static void tags_text(const cairn_member *m, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < m->ntags && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s=%s", i ? "," : "", m->tags[i].key,
                         m->tags[i].value);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Logs a member: event (member-join ...) or "member" for listings. The
 * incarnation comes from the memberlist underneath while it knows the
 * node (0 once it is reaped there). */
static void log_member(struct agent_cli *c, const char *event, const cairn_member *m)
{
    char addr[CAIRN_ADDR_STRLEN], tags[1024];
    cairn_addr_format(&m->addr, true, addr, sizeof(addr));
    tags_text(m, tags, sizeof(tags));
    cairn_ml_node n;
    uint32_t inc = 0;
    if (cairn_memberlist_get_node(cairn_agent_memberlist(c->agent), m->name, &n) == 0)
        inc = n.incarnation;
    const char *status = cairn_member_status_name(m->status);
    json_t *o =
        json_pack("{s:o, s:s, s:s, s:o, s:I}", "node", cairn__log_json_string(m->name), "addr",
                  addr, "status", status, "tags", tags_json(m), "incarnation", (json_int_t)inc);
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, event, o, "%s %s %s %s", m->name, addr, status,
                         tags);
}

/* A payload as a JSON field: text when it is valid UTF-8 without NUL
 * ("payload"), else base64 ("payload_base64"). */
static void payload_json(json_t *o, const uint8_t *p, size_t len, char *text, size_t cap)
{
    if (len == 0 || (cairn__utf8_valid((const char *)p, len) && !memchr(p, 0, len))) {
        json_object_set_new(o, "payload", json_stringn(len ? (const char *)p : "", len));
        snprintf(text, cap, "%.*s", (int)len, len ? (const char *)p : "");
        return;
    }
    char *b64 = malloc(CAIRN__BASE64_LEN(len) + 1);
    if (!b64)
        return;
    cairn__base64_encode(p, len, b64);
    json_object_set_new(o, "payload_base64", json_string(b64));
    snprintf(text, cap, "base64:%s", b64);
    free(b64);
}

static void log_user_event(struct agent_cli *c, const cairn_event *ev)
{
    char text[256];
    json_t *o = json_pack("{s:o, s:I, s:b}", "name", cairn__log_json_string(ev->name), "ltime",
                          (json_int_t)ev->ltime, "coalesce", ev->coalesce);
    payload_json(o, ev->payload, ev->payload_len, text, sizeof(text));
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "user-event", o, "%s ltime=%llu %s", ev->name,
                         (unsigned long long)ev->ltime, text);
}

static void log_query(struct agent_cli *c, const cairn_event *ev)
{
    char text[256];
    /* The deadline as seconds from now (the loop's clock is monotonic). */
    double in =
        ev->deadline ? (double)(ev->deadline - cairn_loop_now(c->loop)) / (double)CAIRN_SEC : 0;
    json_t *o =
        json_pack("{s:o, s:I, s:I, s:o, s:f}", "name", cairn__log_json_string(ev->name), "ltime",
                  (json_int_t)ev->ltime, "id", (json_int_t)ev->query_id, "source",
                  ev->source ? cairn__log_json_string(ev->source) : json_null(), "deadline_in", in);
    if (ev->deadline) {
        /* The same instant on the wall clock, as the other times. */
        cairn_log_time t = cairn__log_time_now();
        int64_t ns = (int64_t)t.nsec + (ev->deadline - cairn_loop_now(c->loop));
        t.sec += ns / 1000000000;
        t.nsec = (int32_t)(ns % 1000000000);
        if (t.nsec < 0) {
            t.nsec += 1000000000;
            t.sec--;
        }
        char when[CAIRN_LOG_TIME_STRLEN];
        cairn__log_time_format(t, CAIRN_LOG_TIME_RFC3339, when, sizeof(when));
        json_object_set_new(o, "deadline", json_string(when));
    }
    payload_json(o, ev->payload, ev->payload_len, text, sizeof(text));
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "query", o,
                         "%s ltime=%llu id=%llu from %s deadline in %.1f s %s", ev->name,
                         (unsigned long long)ev->ltime, (unsigned long long)ev->query_id,
                         ev->source ? ev->source : "?", in, text);
}

static void on_event(cairn_agent *agent, const cairn_event *ev, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    if (ev->type == CAIRN_EVENT_USER)
        log_user_event(c, ev);
    else if (ev->type == CAIRN_EVENT_QUERY)
        log_query(c, ev);
    else
        for (size_t i = 0; i < ev->nmembers; i++)
            log_member(c, cairn_event_type_name(ev->type), &ev->members[i]);
    if (ev->type == CAIRN_EVENT_QUERY && !ev->respond && cairn__handlers_count(c->handlers))
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_DEBUG, "query", NULL,
                             "query %s cannot be answered from here: handler output is dropped",
                             ev->name);
    cairn__handlers_dispatch(c->handlers, ev, &c->self);
    cairn_serfrpc_server_event(cairn__agent_rpc_server(c->rpc), ev);
}

/* Every log record's text line, for the RPC monitor. */
static void on_log_line(int level, const char *line, void *ud)
{
    struct agent_cli *c = ud;
    cairn_serfrpc_server_log(cairn__agent_rpc_server(c->rpc), level, line);
}

static bool list_member(const cairn_member *m, void *ud)
{
    log_member(ud, "member", m);
    return true;
}

/* A WAN member, listed (SIGUSR1): the fields of a member record. */
static bool list_wan_member(const cairn_member *m, void *ud)
{
    struct agent_cli *c = ud;
    char addr[CAIRN_ADDR_STRLEN], tags[1024];
    cairn_addr_format(&m->addr, true, addr, sizeof(addr));
    tags_text(m, tags, sizeof(tags));
    const char *status = cairn_member_status_name(m->status);
    json_t *o = json_pack("{s:o, s:s, s:s, s:o}", "node", cairn__log_json_string(m->name), "addr",
                          addr, "status", status, "tags", tags_json(m));
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "wan-member", o, "%s %s %s %s", m->name, addr,
                         status, tags);
    return true;
}

/* One route record: event "route" (a change) or "route-current" (the
 * SIGUSR1 listing); server null when the datacenter has none. */
static void log_route(struct agent_cli *c, const char *event, const char *dc, const char *server,
                      const cairn_addr *addr, int error)
{
    char a[CAIRN_ADDR_STRLEN] = "";
    if (server)
        cairn_addr_format(addr, true, a, sizeof(a));
    json_t *o = json_pack("{s:o, s:o, s:o}", "datacenter", cairn__log_json_string(dc), "server",
                          server ? cairn__log_json_string(server) : json_null(), "addr",
                          server ? json_string(a) : json_null());
    if (!server)
        json_object_set_new(o, "error", json_string(cairn_err_name(error)));
    if (server)
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, event, o, "%s -> %s %s", dc, server, a);
    else
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, event, o, "%s -> none (%s)", dc,
                             cairn_strerror(error));
}

static void on_route(cairn_agent *agent, const cairn_agent_route_event *ev, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    static const char *const kinds[] = {"server-add", "server-fail", "server-remove"};
    if (ev->kind == CAIRN_AGENT_ROUTE_CHANGE) {
        log_route(c, "route", ev->datacenter, ev->server, &ev->addr, ev->error);
        return;
    }
    if (ev->kind < 0 || ev->kind > CAIRN_AGENT_SERVER_REMOVE)
        return;
    char a[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&ev->addr, true, a, sizeof(a));
    json_t *o = json_pack("{s:s, s:o, s:o, s:s}", "area", ev->area, "datacenter",
                          cairn__log_json_string(ev->datacenter), "server",
                          cairn__log_json_string(ev->server), "addr", a);
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, kinds[ev->kind], o, "%s %s %s %s", ev->area,
                         ev->datacenter, ev->server, a);
}

/* The current route of every datacenter the router knows (SIGUSR1). */
static void list_routes(struct agent_cli *c)
{
    cairn_router *r = cairn_agent_router(c->agent);
    if (!r)
        return;
    const char *names[CAIRN_AGENT_MAX_DCS];
    size_t cap = CAIRN_AGENT_MAX_DCS * CAIRN_SERVER_DC_MAX;
    char *bytes = malloc(cap);
    if (!bytes)
        return;
    cairn_dc_buf b = {
        .names = names, .names_cap = CAIRN_AGENT_MAX_DCS, .bytes = bytes, .bytes_cap = cap};
    size_t n = 0;
    if (cairn_router_get_datacenters(r, &b, &n, NULL) != 0)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        cairn_route route;
        int rc = cairn_router_find_route(r, names[i], &route);
        log_route(c, "route-current", names[i], rc == 0 ? route.server.name : NULL,
                  &route.server.addr, rc);
    }
    free(bytes);
}

static bool coord_same(const cairn_coord *a, const cairn_coord *b)
{
    if (a->dim != b->dim || a->error != b->error || a->adjustment != b->adjustment ||
        a->height != b->height)
        return false;
    for (unsigned i = 0; i < a->dim; i++)
        if (a->vec[i] != b->vec[i])
            return false;
    return true;
}

/* Our coordinate, logged when it moved since the last record. */
static void log_coordinate(struct agent_cli *c, bool force)
{
    cairn_coord co;
    if (cairn_serf_get_coordinate(cairn_agent_serf(c->agent), &co) < 0)
        return;
    if (!force && coord_same(&co, &c->last_coord))
        return;
    c->last_coord = co;
    json_t *vec = json_array();
    for (unsigned i = 0; i < co.dim; i++)
        json_array_append_new(vec, json_real(co.vec[i]));
    json_t *o = json_pack("{s:o, s:f, s:f, s:f}", "vec", vec, "error", co.error, "adjustment",
                          co.adjustment, "height", co.height);
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "coordinate", o,
                         "error=%.3f adjustment=%.6f height=%.6f", co.error, co.adjustment,
                         co.height);
}

static void on_coord_timer(uv_timer_t *t)
{
    log_coordinate(t->data, false);
}

/* The --proxy counters, one object per proxy. */
static json_t *proxies_json(struct agent_cli *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->n_proxies; i++) {
        cairn_proxy_stats s;
        cairn_addr at;
        char listen[CAIRN_ADDR_STRLEN] = "";
        cairn__proxy_stats(c->proxies[i], &s);
        if (cairn__proxy_local(c->proxies[i], &at) == 0)
            cairn_addr_format(&at, true, listen, sizeof(listen));
        json_array_append_new(
            a,
            json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "listen", listen, "dc",
                      cairn__log_json_string(cairn__proxy_dc(c->proxies[i])), "accepted",
                      (json_int_t)s.accepted, "active", (json_int_t)s.active, "connect_failures",
                      (json_int_t)s.connect_failures, "retries", (json_int_t)s.retries, "failovers",
                      (json_int_t)s.failovers, "bytes_up", (json_int_t)s.bytes_up, "bytes_down",
                      (json_int_t)s.bytes_down, "closed_error", (json_int_t)s.closed_error,
                      "no_route", (json_int_t)s.no_route, "refused_cap", (json_int_t)s.refused_cap,
                      "idle_closed", (json_int_t)s.idle_closed, "paused", (json_int_t)s.paused));
    }
    return a;
}

/* The --proxy counters for the text line: " proxy[LISTEN=DC] accepted=..". */
static void proxies_text(struct agent_cli *c, char *out, size_t cap)
{
    size_t used = 0;
    for (size_t i = 0; i < c->n_proxies && used < cap; i++) {
        cairn_proxy_stats s;
        cairn_addr at;
        char listen[CAIRN_ADDR_STRLEN] = "";
        cairn__proxy_stats(c->proxies[i], &s);
        if (cairn__proxy_local(c->proxies[i], &at) == 0)
            cairn_addr_format(&at, true, listen, sizeof(listen));
        int w = snprintf(out + used, cap - used,
                         " proxy[%s=%s] accepted=%llu active=%llu connect_failures=%llu "
                         "retries=%llu failovers=%llu bytes_up=%llu bytes_down=%llu "
                         "closed_error=%llu",
                         listen, cairn__proxy_dc(c->proxies[i]), (unsigned long long)s.accepted,
                         (unsigned long long)s.active, (unsigned long long)s.connect_failures,
                         (unsigned long long)s.retries, (unsigned long long)s.failovers,
                         (unsigned long long)s.bytes_up, (unsigned long long)s.bytes_down,
                         (unsigned long long)s.closed_error);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static void log_stats(struct agent_cli *c)
{
    cairn_agent_stats s;
    cairn_agent_get_stats(c->agent, &s);
    const cairn_ml_stats *m = &s.ml;
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I}",
        "alive", (json_int_t)s.alive, "failed", (json_int_t)s.failed, "left", (json_int_t)s.left,
        "probes", (json_int_t)m->probes, "probe_failures", (json_int_t)m->probe_failures,
        "declared_dead", (json_int_t)m->declared_dead, "refutes", (json_int_t)m->refutes,
        "tx_packets", (json_int_t)m->tx_packets, "rx_packets", (json_int_t)m->rx_packets,
        "rx_dropped", (json_int_t)m->rx_dropped, "rx_decrypt_failed",
        (json_int_t)m->rx_decrypt_failed, "stream_rejected", (json_int_t)m->stream_rejected,
        "pushpull_out", (json_int_t)m->pushpull_out, "pushpull_in", (json_int_t)m->pushpull_in,
        "pushpull_failed", (json_int_t)m->pushpull_failed, "serf_msgs",
        (json_int_t)(s.serf.msgs_malformed + s.serf.msgs_unhandled), "tx_bytes",
        (json_int_t)m->tx_bytes, "rx_bytes", (json_int_t)m->rx_bytes);
    /* What peers were refused (issue 8's caps), and the warnings the rate
     * limit left out. */
    json_t *caps =
        json_pack("{s:I, s:I, s:I, s:I}", "streams_refused", (json_int_t)m->streams_refused,
                  "stream_mem_refused", (json_int_t)m->stream_mem_refused, "stream_mem_peak",
                  (json_int_t)m->stream_mem_peak, "log_suppressed", (json_int_t)m->log_suppressed);
    json_object_update(o, caps);
    json_decref(caps);
    const cairn_serf_stats *f = &s.serf;
    json_t *serf =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                  "leaving", (json_int_t)s.leaving, "member_time", (json_int_t)f->member_time,
                  "event_time", (json_int_t)f->event_time, "query_time", (json_int_t)f->query_time,
                  "intent_queue", (json_int_t)f->intent_queue, "event_queue",
                  (json_int_t)f->event_queue, "query_queue", (json_int_t)f->query_queue,
                  "events_delivered", (json_int_t)f->events_delivered, "events_dropped",
                  (json_int_t)(f->events_too_old + f->events_before_min + f->events_dropped),
                  "queue_pruned", (json_int_t)f->queue_pruned, "msgs_malformed",
                  (json_int_t)f->msgs_malformed, "msgs_unhandled", (json_int_t)f->msgs_unhandled,
                  "members_dropped", (json_int_t)f->members_dropped, "intents_dropped",
                  (json_int_t)f->intents_dropped, "health_score", (json_int_t)f->health_score);
    json_object_update(o, serf);
    json_decref(serf);
    if (c->handlers) {
        cairn_handlers_stats hs;
        cairn__handlers_get_stats(c->handlers, &hs);
        json_t *hj = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "handler_started",
            (json_int_t)hs.started, "handler_succeeded", (json_int_t)hs.succeeded, "handler_failed",
            (json_int_t)hs.failed, "handler_over_cap", (json_int_t)hs.over_cap, "handler_killed",
            (json_int_t)hs.killed, "handler_output_truncated", (json_int_t)hs.output_truncated,
            "handler_responses", (json_int_t)hs.responses, "handler_responses_failed",
            (json_int_t)hs.responses_failed, "handler_running", (json_int_t)hs.running);
        json_object_update(o, hj);
        json_decref(hj);
    }
    char ptext[AGENT_MAX_PROXIES * 160] = "";
    if (c->n_proxies) {
        json_object_set_new(o, "proxies", proxies_json(c));
        proxies_text(c, ptext, sizeof(ptext));
    }
    cairn__log_sink_emit(
        &c->sink, CAIRN_LOG_INFO, "stats", o,
        "alive=%zu leaving=%zu failed=%zu left=%zu member_time=%llu event_time=%llu "
        "events_delivered=%llu msgs_malformed=%llu msgs_unhandled=%llu probes=%llu "
        "probe_failures=%llu "
        "rx_packets=%llu rx_dropped=%llu rx_decrypt_failed=%llu stream_rejected=%llu "
        "pushpull_out=%llu pushpull_in=%llu pushpull_failed=%llu serf_msgs=%llu "
        "streams_refused=%llu stream_mem_refused=%llu stream_mem_peak=%llu log_suppressed=%llu%s",
        s.alive, s.leaving, s.failed, s.left, (unsigned long long)f->member_time,
        (unsigned long long)f->event_time, (unsigned long long)f->events_delivered,
        (unsigned long long)f->msgs_malformed, (unsigned long long)f->msgs_unhandled,
        (unsigned long long)m->probes, (unsigned long long)m->probe_failures,
        (unsigned long long)m->rx_packets, (unsigned long long)m->rx_dropped,
        (unsigned long long)m->rx_decrypt_failed, (unsigned long long)m->stream_rejected,
        (unsigned long long)m->pushpull_out, (unsigned long long)m->pushpull_in,
        (unsigned long long)m->pushpull_failed,
        (unsigned long long)(f->msgs_malformed + f->msgs_unhandled),
        (unsigned long long)m->streams_refused, (unsigned long long)m->stream_mem_refused,
        (unsigned long long)m->stream_mem_peak, (unsigned long long)m->log_suppressed, ptext);
}

/* ---- stopping ---- */

static void stop(struct agent_cli *c, int status)
{
    c->status = status;
    if (c->stats_on_exit && c->agent)
        log_stats(c);
    uv_stop(&c->uv);
}

static void on_left(cairn_agent *agent, int status, int count, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    (void)count;
    if (status == 0 && c->join_interrupted) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "agent-left", NULL,
                             "graceful leave complete");
        fprintf(stderr, "cairn agent: interrupted before the --join finished\n");
        stop(c, 1);
    } else if (status == 0) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "agent-left", NULL,
                             "graceful leave complete");
        stop(c, 0);
    } else {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "agent-left",
                             json_pack("{s:s}", "error", cairn_strerror(status)),
                             "leave failed: %s", cairn_strerror(status));
        fprintf(stderr, "cairn agent: leave failed: %s\n", cairn_strerror(status));
        stop(c, 1);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent_cli *c = h->data;
    if (signum == SIGUSR1) {
        cairn_serf_for_each_member(cairn_agent_serf(c->agent), list_member, c);
        if (cairn_agent_wan_serf(c->agent))
            cairn_serf_for_each_member(cairn_agent_wan_serf(c->agent), list_wan_member, c);
        list_routes(c);
        log_stats(c);
        return;
    }
    if (signum == SIGHUP) {
        reload(c);
        return;
    }
    /* Serf: skip_leave_on_interrupt, and leave_on_terminate (cairn leaves
     * on SIGTERM unless a file says "leave_on_terminate": false). */
    if (!c->leaving && ((signum == SIGINT && c->flags->skip_leave_on_interrupt) ||
                        (signum == SIGTERM && c->flags->leave_on_terminate < 0))) {
        cairn__log_sink_emit(
            &c->sink, CAIRN_LOG_WARN, "agent-exit", json_pack("{s:s}", "signal", strsignal(signum)),
            "caught %s, exiting without leave (%s)", strsignal(signum),
            signum == SIGINT ? "skip_leave_on_interrupt" : "leave_on_terminate is false");
        stop(c, 1);
        return;
    }
    if (c->leaving) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_WARN, "agent-exit", NULL,
                             "second signal, exiting without leave");
        stop(c, 1);
        return;
    }
    c->leaving = true;
    /* Some peers may know us already: leave gracefully all the same, but
     * a start-up that never joined is no success. */
    c->join_interrupted = c->joining;
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "agent-leave",
                         json_pack("{s:s}", "signal", strsignal(signum)),
                         "caught %s, leaving gracefully", strsignal(signum));
    int rc = cairn_agent_leave(c->agent, on_left, c);
    if (rc < 0)
        on_left(c->agent, rc, 0, c);
}

static void on_joined(cairn_agent *agent, int status, int count, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    c->joining = false;
    if (c->leaving)
        return; /* interrupted: the leave decides the exit */
    if (status < 0) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "join",
                             json_pack("{s:s}", "error", cairn_strerror(status)), "join failed: %s",
                             cairn_strerror(status));
        fprintf(stderr, "cairn agent: could not join any --join address: %s%s%s%s\n",
                cairn_strerror(status), c->last_error[0] ? " (" : "", c->last_error,
                c->last_error[0] ? ")" : "");
        stop(c, 1);
        return;
    }
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "join", json_pack("{s:i}", "contacted", count),
                         "joined, %d node(s) contacted", count);
    start_retry(c);
}

/* ---- flags ---- */

static int bad_value(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "cairn agent: %s: \"%s\" %s\n\n", flag, value, why);
    usage(stderr);
    return 2;
}

/* How long one name may take to resolve (memberlist's TCPTimeout: a join
 * that cannot even resolve its peer gives up as one that cannot reach it). */
#define AGENT_RESOLVE_TIMEOUT (10 * CAIRN_SEC)

/* Checks HOST[:PORT] (IP literal, [IPv6], or a name) without resolving it:
 * 0, or -1 with the reason in why ("port 0 is not 1 to 65535", "no host"). */
static int check_host(const char *text, uint16_t default_port, char *why, size_t whylen)
{
    char host[CAIRN_RESOLVE_HOST_MAX + 1];
    uint16_t port;
    cairn_diag d = {0};
    if (cairn_addr_split_host(text, default_port, host, sizeof(host), &port, &d) == 0)
        return 0;
    snprintf(why, whylen, "is not HOST:PORT (%s)", d.msg);
    return -1;
}

struct resolved {
    bool done;
    int status;
    cairn_addr addr;
    char why[256];
};

static void on_resolved_one(cairn_resolve_hosts *req, int status, const cairn_addr *addrs, size_t n,
                            size_t failed, const char *first_failed, int first_err, void *ud)
{
    struct resolved *r = ud;
    (void)req;
    (void)failed;
    r->done = true;
    r->status = status;
    if (status == 0 && n > 0)
        r->addr = addrs[0];
    else
        snprintf(r->why, sizeof(r->why), "does not resolve: host \"%s\": %s",
                 first_failed ? first_failed : "?", cairn_strerror(first_err));
}

/* Resolves HOST[:PORT] through the loop (getaddrinfo on libuv's thread
 * pool, with a deadline), before the agent starts: 0, or -1 with why. */
static int resolve_on_loop(struct agent_cli *c, const char *text, uint16_t default_port,
                           cairn_addr *ret, char *why, size_t whylen)
{
    struct resolved r = {0};
    cairn_diag d = {0};
    const char *hosts[1] = {text};
    if (cairn_resolve_hosts_start(c->loop, hosts, 1, default_port, AGENT_RESOLVE_TIMEOUT,
                                  on_resolved_one, &r, NULL, &d) < 0) {
        snprintf(why, whylen, "is not HOST:PORT (%s)", d.msg);
        return -1;
    }
    while (!r.done)
        uv_run(&c->uv, UV_RUN_ONCE);
    if (r.status < 0) {
        snprintf(why, whylen, "%s", r.why);
        return -1;
    }
    *ret = r.addr;
    return 0;
}

/* --tag KEY=VALUE: a copy split in place; keys must be unique. 0, 2 with
 * why, or 1 when out of memory. */
static int add_tag(struct agent_flags *f, const char *v, char *why, size_t wl)
{
    if (f->n_tags == CAIRN_AGENT_MAX_TAGS)
        return snprintf(why, wl, "--tag: \"%.64s\" is one too many", v), 2;
    char *copy = strdup(v);
    if (!copy)
        return snprintf(why, wl, "out of memory"), 1;
    cairn_tag *t = &f->tags[f->n_tags];
    if (cairn_agent_parse_tag(copy, t) < 0) {
        free(copy);
        return snprintf(why, wl, "--tag: \"%.64s\" is not k=v", v), 2;
    }
    for (size_t k = 0; k < f->n_tags; k++) {
        if (strcmp(f->tags[k].key, t->key) == 0) {
            free(copy);
            return snprintf(why, wl, "--tag: \"%.64s\" repeats a key", v), 2;
        }
    }
    f->tag_text[f->n_tags++] = copy;
    return 0;
}

/* The flags (cli/flags.h): a switch sets a bool, a value flag a string,
 * and the repeatable ones go through their own code. */
enum flag_kind {
    FLAG_SWITCH,
    FLAG_VALUE,
    FLAG_JOIN,
    FLAG_TAG,
    FLAG_HANDLER,
    FLAG_RETRY_JOIN,
    FLAG_CONFIG,
    FLAG_JOIN_WAN,
    FLAG_PROXY
};

struct flag_def {
    enum flag_kind kind;
    /* Offset of the bool (switch) or const char * (value) in agent_flags. */
    size_t off;
};

static const cairn_cli_flag agent_flags_table[] = {
    {"node", 0, true, 0},
    {"bind", 0, true, 1},
    {"advertise", 0, true, 2},
    {"encrypt", 0, true, 3},
    {"profile", 0, true, 4},
    {"log-level", 0, true, 5},
    {"join", 0, true, 6},
    {"tag", 0, true, 7},
    {"log-json", 0, false, 8},
    {"stats-on-exit", 0, false, 9},
    {"disable-compression", 0, false, 10},
    {"protocol", 0, true, 11},
    {"reconnect-timeout", 0, true, 12},
    {"tombstone-timeout", 0, true, 13},
    {"replay", 0, false, 14},
    {"event-handler", 0, true, 15},
    {"snapshot", 0, true, 16},
    {"rejoin", 0, false, 17},
    {"config-file", 0, true, 18},
    {"config-dir", 0, true, 19},
    {"tags-file", 0, true, 20},
    {"keyring-file", 0, true, 21},
    {"retry-join", 0, true, 22},
    {"retry-interval", 0, true, 23},
    {"retry-max", 0, true, 24},
    {"role", 0, true, 25},
    {"broadcast-timeout", 0, true, 26},
    {"rpc-addr", 0, true, 27},
    {"rpc-auth", 0, true, 28},
    {"dc", 0, true, 29},
    {"server", 0, false, 30},
    {"server-port", 0, true, 31},
    {"bind-wan", 0, true, 32},
    {"advertise-wan", 0, true, 33},
    {"join-wan", 0, true, 34},
    {"profile-wan", 0, true, 35},
    {"http-addr", 0, true, 36},
    {"proxy", 0, true, 37},
};

/* What each id of agent_flags_table does. */
static const struct flag_def flag_defs[] = {
    {FLAG_VALUE, offsetof(struct agent_flags, node)},
    {FLAG_VALUE, offsetof(struct agent_flags, bind)},
    {FLAG_VALUE, offsetof(struct agent_flags, advertise)},
    {FLAG_VALUE, offsetof(struct agent_flags, encrypt)},
    {FLAG_VALUE, offsetof(struct agent_flags, profile)},
    {FLAG_VALUE, offsetof(struct agent_flags, log_level)},
    {FLAG_JOIN, 0},
    {FLAG_TAG, 0},
    {FLAG_SWITCH, offsetof(struct agent_flags, json)},
    {FLAG_SWITCH, offsetof(struct agent_flags, stats_on_exit)},
    {FLAG_SWITCH, offsetof(struct agent_flags, disable_compression)},
    {FLAG_VALUE, offsetof(struct agent_flags, protocol)},
    {FLAG_VALUE, offsetof(struct agent_flags, reconnect_timeout)},
    {FLAG_VALUE, offsetof(struct agent_flags, tombstone_timeout)},
    {FLAG_SWITCH, offsetof(struct agent_flags, replay)},
    {FLAG_HANDLER, 0},
    {FLAG_VALUE, offsetof(struct agent_flags, snapshot)},
    {FLAG_SWITCH, offsetof(struct agent_flags, rejoin)},
    {FLAG_CONFIG, 0},
    {FLAG_CONFIG, 0},
    {FLAG_VALUE, offsetof(struct agent_flags, tags_file)},
    {FLAG_VALUE, offsetof(struct agent_flags, keyring_file)},
    {FLAG_RETRY_JOIN, 0},
    {FLAG_VALUE, offsetof(struct agent_flags, retry_interval)},
    {FLAG_VALUE, offsetof(struct agent_flags, retry_max)},
    {FLAG_VALUE, offsetof(struct agent_flags, role)},
    {FLAG_VALUE, offsetof(struct agent_flags, broadcast_timeout)},
    {FLAG_VALUE, offsetof(struct agent_flags, rpc_addr)},
    {FLAG_VALUE, offsetof(struct agent_flags, rpc_auth)},
    {FLAG_VALUE, offsetof(struct agent_flags, dc)},
    {FLAG_SWITCH, offsetof(struct agent_flags, server)},
    {FLAG_VALUE, offsetof(struct agent_flags, server_port)},
    {FLAG_VALUE, offsetof(struct agent_flags, bind_wan)},
    {FLAG_VALUE, offsetof(struct agent_flags, advertise_wan)},
    {FLAG_JOIN_WAN, 0},
    {FLAG_VALUE, offsetof(struct agent_flags, profile_wan)},
    {FLAG_VALUE, offsetof(struct agent_flags, http_addr)},
    {FLAG_PROXY, 0},
};

static int on_flag(int id, const char *flag, const char *v, void *ud, char *why, size_t wl)
{
    struct agent_flags *f = ud;
    const struct flag_def *d = &flag_defs[id];
    switch (d->kind) {
    case FLAG_SWITCH:
        *(bool *)((char *)f + d->off) = true;
        return 0;
    case FLAG_TAG:
        return add_tag(f, v, why, wl);
    case FLAG_HANDLER:
        if (f->n_handlers == CAIRN_HANDLERS_MAX)
            return snprintf(why, wl, "%s: \"%.64s\" is one too many (%d at most)", flag, v,
                            CAIRN_HANDLERS_MAX),
                   2;
        f->handlers[f->n_handlers++] = v;
        return 0;
    case FLAG_JOIN_WAN:
        if (f->n_wan_joins == AGENT_MAX_JOINS)
            return snprintf(why, wl, "%s: \"%.64s\" is one too many (64 at most)", flag, v), 2;
        f->wan_joins[f->n_wan_joins++] = v;
        return 0;
    case FLAG_PROXY:
        if (f->n_proxies == AGENT_MAX_PROXIES)
            return snprintf(why, wl, "%s: \"%.64s\" is one too many (%d at most)", flag, v,
                            AGENT_MAX_PROXIES),
                   2;
        f->proxies[f->n_proxies++] = v;
        return 0;
    case FLAG_JOIN:
        if (f->n_joins == AGENT_MAX_JOINS)
            return snprintf(why, wl, "%s: \"%.64s\" is one too many (64 at most)", flag, v), 2;
        f->joins[f->n_joins++] = v;
        return 0;
    case FLAG_RETRY_JOIN:
        if (f->n_retry_joins == AGENT_MAX_JOINS)
            return snprintf(why, wl, "%s: \"%.64s\" is one too many (64 at most)", flag, v), 2;
        f->retry_joins[f->n_retry_joins++] = v;
        return 0;
    case FLAG_CONFIG:
        if (f->n_config_paths == AGENT_MAX_CONFIG_PATHS)
            return snprintf(why, wl, "%s: \"%.64s\" is one too many (%d at most)", flag, v,
                            AGENT_MAX_CONFIG_PATHS),
                   2;
        f->config_paths[f->n_config_paths++] = v;
        return 0;
    default:
        *(const char **)((char *)f + d->off) = v;
        return 0;
    }
}

/* parse_flags: 0, -1 for --help (usage printed), or the exit status after
 * a message. */
static int parse_flags(int argc, char **argv, struct agent_flags *f)
{
    char why[512];
    size_t nargs;
    _Static_assert(sizeof(flag_defs) / sizeof(flag_defs[0]) ==
                       sizeof(agent_flags_table) / sizeof(agent_flags_table[0]),
                   "one flag_def per flag");
    int rc = cairn__cli_flags_parse(argc, argv, agent_flags_table,
                                    sizeof(agent_flags_table) / sizeof(agent_flags_table[0]),
                                    on_flag, f, NULL, 0, &nargs, why, sizeof(why));
    if (rc == -1) {
        usage(stdout);
        return -1;
    }
    if (rc != 0) {
        fprintf(stderr, "cairn agent: %s\n", why);
        if (rc == 2) {
            fputc('\n', stderr);
            usage(stderr);
        }
    }
    return rc;
}

/* The first non-loopback IPv4 of this host, else 127.0.0.1 (Serf picks a
 * private address the same way when bound to 0.0.0.0). */
static void pick_advertise(uint16_t port, cairn_addr *ret)
{
    uv_interface_address_t *ifs = NULL;
    int n = 0;
    cairn_addr_parse_ip("127.0.0.1", port, ret);
    if (uv_interface_addresses(&ifs, &n) != 0)
        return;
    for (int i = 0; i < n; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
            continue;
        cairn_addr_from_ip((const uint8_t *)&ifs[i].address.address4.sin_addr, 4, port, ret);
        break;
    }
    uv_free_interface_addresses(ifs, n);
}

static int parse_duration(const char *text, cairn_time *ret)
{
    return cairn__agent_parse_duration(text, ret) < 0 ? -1 : 0;
}

/* ---- configuration files (src/agent/config.h) ---- */

/* Puts the file items before what the flags gave (Serf's MergeConfig
 * appends the command line last). 0, or 2 with why when over cap. */
static int prepend_items(const cairn_agent_config_item *items, size_t n, const char **list,
                         const char **src, size_t *count, size_t cap, const char *what, char *why,
                         size_t wl)
{
    if (n + *count > cap)
        return snprintf(why, wl, "%s: %zu in the files and flags, limit %zu", what, n + *count,
                        cap),
               2;
    memmove(list + n, list, *count * sizeof(*list));
    if (src)
        memmove(src + n, src, *count * sizeof(*src));
    for (size_t i = 0; i < n; i++) {
        list[i] = items[i].value;
        if (src)
            src[i] = items[i].source;
    }
    *count += n;
    return 0;
}

/* Sets key=value in tags, replacing a tag with that key. */
static int put_tag(cairn_tag *tags, size_t *n, const char *key, const char *value)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(tags[i].key, key) == 0) {
            tags[i].value = value;
            return 0;
        }
    if (*n == CAIRN_AGENT_MAX_TAGS)
        return -1;
    tags[(*n)++] = (cairn_tag){.key = key, .value = value};
    return 0;
}

/* Reads the --config-file / --config-dir paths and merges them under the
 * flags; then the tags (files, --tag, role) or the tags file. 0, or the
 * exit status with why: 2 for a bad file, 1 for an unreadable tags file
 * (as Serf, which fails to create its agent then). */
static int merge_files(struct agent_flags *f, char *why, size_t wl)
{
    cairn_agent_file_config *fc = &f->files;
    for (size_t i = 0; i < f->n_config_paths; i++) {
        int rc = cairn__agent_config_read_path(fc, f->config_paths[i], why, wl);
        if (rc == CAIRN_ENOMEM)
            return 1;
        if (rc < 0)
            return 2;
    }
#define TAKE(field, key)                                                                           \
    if (!f->field && fc->key)                                                                      \
    f->field = fc->key
    TAKE(node, node_name);
    TAKE(bind, bind);
    TAKE(advertise, advertise);
    TAKE(encrypt, encrypt_key);
    TAKE(profile, profile);
    TAKE(log_level, log_level);
    TAKE(snapshot, snapshot_path);
    TAKE(tags_file, tags_file);
    TAKE(keyring_file, keyring_file);
    TAKE(role, role);
    TAKE(rpc_addr, rpc_addr);
    TAKE(rpc_auth, rpc_auth);
#undef TAKE
    f->replay = f->replay || fc->replay_on_join;
    f->rejoin = f->rejoin || fc->rejoin_after_leave;
    f->disable_compression = f->disable_compression || fc->disable_compression;
    f->disable_coordinates = fc->disable_coordinates;
    f->disable_name_resolution = fc->disable_name_resolution;
    f->skip_leave_on_interrupt = fc->skip_leave_on_interrupt;
    f->leave_on_terminate = fc->leave_on_terminate;
    int rc = prepend_items(fc->start_join, fc->n_start_join, f->joins, NULL, &f->n_joins,
                           AGENT_MAX_JOINS, "start_join and --join", why, wl);
    if (rc == 0)
        rc =
            prepend_items(fc->retry_join, fc->n_retry_join, f->retry_joins, NULL, &f->n_retry_joins,
                          AGENT_MAX_JOINS, "retry_join and --retry-join", why, wl);
    if (rc == 0)
        rc = prepend_items(fc->event_handlers, fc->n_event_handlers, f->handlers, f->handler_src,
                           &f->n_handlers, CAIRN_HANDLERS_MAX, "event_handlers and --event-handler",
                           why, wl);
    if (rc)
        return rc;
    /* Tags: the files' merged key by key, then --tag, then role (Serf's
     * deprecated spelling of the tag "role"). */
    f->n_all_tags = 0;
    for (size_t i = 0; i < fc->n_tags; i++)
        put_tag(f->all_tags, &f->n_all_tags, fc->tags[i].key, fc->tags[i].value);
    for (size_t i = 0; i < f->n_tags; i++)
        if (put_tag(f->all_tags, &f->n_all_tags, f->tags[i].key, f->tags[i].value) < 0)
            return snprintf(why, wl, "--tag: more than %d tags with the files'",
                            CAIRN_AGENT_MAX_TAGS),
                   2;
    if (f->role && put_tag(f->all_tags, &f->n_all_tags, "role", f->role) < 0)
        return snprintf(why, wl, "--role: more than %d tags", CAIRN_AGENT_MAX_TAGS), 2;
    if (!f->tags_file)
        return 0;
    if (!f->tags_file[0])
        return snprintf(why, wl, "--tags-file: \"\" is empty"), 2;
    /* Serf: "Tags config not allowed while using tag files". */
    if (f->n_all_tags)
        return snprintf(why, wl,
                        "--tags-file / tags_file: tags (--tag, --role, tags, role) are not "
                        "allowed with a tags file, as in Serf"),
               2;
    char *text;
    size_t len;
    char sub[400];
    rc = cairn__agent_read_file(f->tags_file, CAIRN_AGENT_CONFIG_FILE_MAX, &text, &len, sub,
                                sizeof(sub));
    if (rc == CAIRN_ENOENT)
        return 0; /* no tags yet */
    if (rc < 0)
        return snprintf(why, wl, "tags file %s", sub), 1;
    rc = cairn__agent_tags_parse(text, len, f->file_tags, CAIRN_AGENT_MAX_TAGS, &f->n_file_tags,
                                 sub, sizeof(sub));
    cairn_free(text);
    if (rc < 0)
        return snprintf(why, wl, "tags file %s: %s", f->tags_file, sub), 1;
    memcpy(f->all_tags, f->file_tags, f->n_file_tags * sizeof(cairn_tag));
    f->n_all_tags = f->n_file_tags;
    return 0;
}

/* The command line and the files it names: 0, -1 for --help (usage
 * printed), or the exit status after a message on stderr. */
static int load_flags(int argc, char **argv, struct agent_flags **ret, char *why, size_t wl)
{
    struct agent_flags *f = calloc(1, sizeof(*f));
    why[0] = 0;
    if (!f) {
        snprintf(why, wl, "out of memory");
        return 1;
    }
    int rc = parse_flags(argc, argv, f);
    if (rc == 0)
        rc = merge_files(f, why, wl);
    if (rc != 0) {
        flags_delete(f);
        return rc;
    }
    *ret = f;
    return 0;
}

/* The routing flags (--dc and what needs it); 0 or 2 after a message. */
static int build_routing_config(struct agent_flags *f, cairn_agent_config *cfg)
{
    static const struct {
        const char *name;
        size_t off;
    } need_dc[] = {{"--server-port", offsetof(struct agent_flags, server_port)},
                   {"--bind-wan", offsetof(struct agent_flags, bind_wan)},
                   {"--advertise-wan", offsetof(struct agent_flags, advertise_wan)},
                   {"--profile-wan", offsetof(struct agent_flags, profile_wan)}};
    if (!f->dc) {
        for (size_t i = 0; i < sizeof(need_dc) / sizeof(need_dc[0]); i++) {
            const char *v = *(const char **)((char *)f + need_dc[i].off);
            if (v)
                return bad_value(need_dc[i].name, v, "needs --dc");
        }
        if (f->server)
            return bad_value("--server", "", "needs --dc");
        if (f->n_wan_joins)
            return bad_value("--join-wan", f->wan_joins[0], "needs --dc");
        return 0;
    }
    size_t n = strlen(f->dc);
    if (n == 0 || n >= CAIRN_SERVER_DC_MAX || !cairn__utf8_valid(f->dc, n))
        return bad_value("--dc", f->dc, "is not 1 to 127 bytes of UTF-8");
    cfg->datacenter = f->dc;
    cfg->server = f->server;
    cfg->server_port = AGENT_DEFAULT_SERVER_PORT;
    if (f->server_port) {
        char *end;
        long v = strtol(f->server_port, &end, 10);
        if (*end || end == f->server_port || v < 1 || v > 65535)
            return bad_value("--server-port", f->server_port, "is not a port from 1 to 65535");
        if (!f->server)
            return bad_value("--server-port", f->server_port, "needs --server");
        cfg->server_port = (uint16_t)v;
    }
    char why[512];
    if (f->bind_wan && check_host(f->bind_wan, AGENT_DEFAULT_WAN_PORT, why, sizeof(why)) < 0)
        return bad_value("--bind-wan", f->bind_wan, why);
    if (f->advertise_wan &&
        check_host(f->advertise_wan, AGENT_DEFAULT_WAN_PORT, why, sizeof(why)) < 0)
        return bad_value("--advertise-wan", f->advertise_wan, why);
    for (size_t i = 0; i < f->n_wan_joins; i++)
        if (check_host(f->wan_joins[i], AGENT_DEFAULT_WAN_PORT, why, sizeof(why)) < 0)
            return bad_value("--join-wan", f->wan_joins[i], why);
    cairn_memberlist_config probe;
    cfg->wan_profile = f->profile_wan ? f->profile_wan : "wan";
    if (cairn_memberlist_config_profile(cfg->wan_profile, &probe) < 0)
        return bad_value("--profile-wan", cfg->wan_profile, "is not lan, wan or local");
    return 0;
}

/* Fills cfg from flags; 0 or the exit status (2) after a message. */
static int build_config(struct agent_flags *f, char *hostname, size_t hlen, cairn_agent_config *cfg,
                        uint8_t *key)
{
    memset(cfg, 0, sizeof(*cfg));
    if (!f->node) {
        if (gethostname(hostname, hlen) != 0 || !hostname[0])
            snprintf(hostname, hlen, "cairn");
        hostname[hlen - 1] = 0;
        f->node = hostname;
    }
    if (!f->node[0])
        return bad_value("--node", f->node, "is empty");
    size_t nlen = strlen(f->node);
    if (nlen > CAIRN_NAME_MAX) {
        char why[64];
        snprintf(why, sizeof(why), "is %zu bytes, limit %d", nlen, CAIRN_NAME_MAX);
        return bad_value("--node", "...", why);
    }
    if (!cairn__utf8_valid(f->node, nlen)) {
        char shown[CAIRN_NAME_MAX * 3 + 1];
        cairn__utf8_sanitize(f->node, nlen, shown, sizeof(shown));
        return bad_value("--node", shown,
                         "is not valid UTF-8 (shown with U+FFFD for each invalid sequence)");
    }
    cfg->node = f->node;
    char why[512];
    /* --bind HOST alone binds Serf's port, 7946, as `serf agent -bind`. */
    if (f->bind && check_host(f->bind, AGENT_DEFAULT_PORT, why, sizeof(why)) < 0)
        return bad_value("--bind", f->bind, why);
    if (f->advertise && check_host(f->advertise, AGENT_DEFAULT_PORT, why, sizeof(why)) < 0)
        return bad_value("--advertise", f->advertise, why);
    for (size_t i = 0; i < f->n_joins; i++)
        if (check_host(f->joins[i], AGENT_DEFAULT_PORT, why, sizeof(why)) < 0)
            return bad_value("--join", f->joins[i], why);
    if (!f->rpc_addr)
        f->rpc_addr = AGENT_DEFAULT_RPC;
    if (check_host(f->rpc_addr, AGENT_RPC_PORT, why, sizeof(why)) < 0)
        return bad_value("--rpc-addr", f->rpc_addr, why);
    if (f->encrypt && cairn_agent_decode_key(f->encrypt, key, &cfg->key_len) < 0)
        return bad_value("--encrypt", f->encrypt, "is not base64 of a 16, 24 or 32-byte key");
    cfg->key = f->encrypt ? key : NULL;
    cairn_memberlist_config probe;
    cfg->profile = f->profile ? f->profile : "lan";
    if (cairn_memberlist_config_profile(cfg->profile, &probe) < 0)
        return bad_value("--profile", cfg->profile, "is not lan, wan or local");
    cfg->tags = f->all_tags;
    cfg->n_tags = f->n_all_tags;
    cfg->disable_compression = f->disable_compression;
    cfg->replay = f->replay;
    if (f->snapshot && !f->snapshot[0])
        return bad_value("--snapshot", f->snapshot, "is empty");
    cfg->snapshot_path = f->snapshot;
    cfg->rejoin_after_leave = f->rejoin;
    if (f->protocol) {
        char *end;
        long v = strtol(f->protocol, &end, 10);
        /* cairn encodes tags as Serf's protocol 3 and later do. */
        if (*end || end == f->protocol || v < 3 || v > CAIRN_SERF_PROTOCOL_MAX)
            return bad_value("--protocol", f->protocol, "is not a serf protocol from 3 to 5");
        cfg->protocol = (uint8_t)v;
    } else if (f->files.protocol) {
        cfg->protocol = (uint8_t)f->files.protocol;
    }
    if (f->reconnect_timeout && parse_duration(f->reconnect_timeout, &cfg->reconnect_timeout) < 0)
        return bad_value("--reconnect-timeout", f->reconnect_timeout,
                         "is not a duration such as 24h, 30m or 90s");
    if (f->tombstone_timeout && parse_duration(f->tombstone_timeout, &cfg->tombstone_timeout) < 0)
        return bad_value("--tombstone-timeout", f->tombstone_timeout,
                         "is not a duration such as 24h, 30m or 90s");
    if (f->broadcast_timeout && parse_duration(f->broadcast_timeout, &cfg->broadcast_timeout) < 0)
        return bad_value("--broadcast-timeout", f->broadcast_timeout,
                         "is not a duration such as 5s or 500ms");
    const cairn_agent_file_config *fc = &f->files;
    if (!f->reconnect_timeout)
        cfg->reconnect_timeout = fc->reconnect_timeout;
    if (!f->tombstone_timeout)
        cfg->tombstone_timeout = fc->tombstone_timeout;
    if (!f->broadcast_timeout)
        cfg->broadcast_timeout = fc->broadcast_timeout;
    cfg->reconnect_interval = fc->reconnect_interval;
    cfg->query_size_limit = fc->query_size_limit;
    cfg->query_response_size_limit = fc->query_response_size_limit;
    cfg->user_event_size_limit = fc->user_event_size_limit;
    cfg->disable_coordinates = f->disable_coordinates;
    cfg->disable_name_resolution = f->disable_name_resolution;
    /* Serf refuses a key and a keyring file together ("Encryption key not
     * allowed while using a keyring"). */
    if (f->encrypt && f->keyring_file)
        return bad_value("--encrypt / encrypt_key", "...",
                         "is not allowed with a keyring file (--keyring-file / keyring_file), "
                         "as in Serf: install the key in the keyring file instead");
    if (f->keyring_file && !f->keyring_file[0])
        return bad_value("--keyring-file", f->keyring_file, "is empty");
    if (f->retry_max) {
        char *end;
        long v = strtol(f->retry_max, &end, 10);
        if (*end || end == f->retry_max || v < 0 || v > 1000000)
            return bad_value("--retry-max", f->retry_max, "is not a count from 0 to 1000000");
    }
    cairn_time t;
    if (f->retry_interval && parse_duration(f->retry_interval, &t) < 0)
        return bad_value("--retry-interval", f->retry_interval,
                         "is not a duration such as 30s or 1m");
    for (size_t i = 0; i < f->n_retry_joins; i++)
        if (check_host(f->retry_joins[i], AGENT_DEFAULT_PORT, why, sizeof(why)) < 0)
            return bad_value("--retry-join", f->retry_joins[i], why);
    cairn_addr http;
    if (f->http_addr && f->http_addr[0] && cairn_addr_parse(f->http_addr, 0, &http) < 0)
        return bad_value("--http-addr", f->http_addr, "is not IP:PORT (\"\" turns the API off)");
    for (size_t i = 0; i < f->n_proxies; i++) {
        cairn_addr a;
        char dc[CAIRN_SERVER_DC_MAX];
        if (cairn__proxy_parse_spec(f->proxies[i], &a, dc, sizeof(dc), why, sizeof(why)) < 0)
            return bad_value("--proxy", f->proxies[i], why);
    }
    return build_routing_config(f, cfg);
}

/* ---- state files: tags file and keyring file ---- */

/* Replaces path with text atomically: path.tmp written (mode 0600, as
 * Serf writes both files, the keys being secret), synced, renamed over
 * path. 0, or -1 with why. */
static int write_atomic(const char *path, const char *text, char *why, size_t wl)
{
    size_t plen = strlen(path) + 5;
    char *tmp = malloc(plen);
    if (!tmp)
        return snprintf(why, wl, "out of memory"), -1;
    snprintf(tmp, plen, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = 0;
    if (fd < 0) {
        err = errno;
    } else {
        size_t len = strlen(text), done = 0;
        while (done < len && !err) {
            ssize_t w = write(fd, text + done, len - done);
            if (w < 0 && errno != EINTR)
                err = errno;
            else if (w > 0)
                done += (size_t)w;
        }
        if (!err && fsync(fd) < 0)
            err = errno;
        if (close(fd) < 0 && !err)
            err = errno;
        if (!err && rename(tmp, path) < 0)
            err = errno;
        if (err)
            unlink(tmp);
    }
    free(tmp);
    if (err)
        return snprintf(why, wl, "%s: %s", path, strerror(err)), -1;
    return 0;
}

/* Serf rewrites its keyring file after every key change it accepted. */
static void on_keyring_changed(cairn_agent *agent, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    char why[512];
    char *text = cairn__agent_keyring_encode(c->keyring);
    int rc = text ? write_atomic(c->keyring_path, text, why, sizeof(why))
                  : (snprintf(why, sizeof(why), "out of memory"), -1);
    if (text) {
        memset(text, 0, strlen(text));
        cairn_free(text);
    }
    if (rc < 0) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "keyring",
                             json_pack("{s:o}", "error", cairn__log_json_string(why)),
                             "failed to write keyring file: %s", why);
        return;
    }
    size_t n = cairn_keyring_count(c->keyring);
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "keyring",
                         json_pack("{s:o, s:I}", "path", cairn__log_json_string(c->keyring_path),
                                   "keys", (json_int_t)n),
                         "keyring file %s rewritten (%zu key(s))", c->keyring_path, n);
}

/* --keyring-file: the keyring Serf restores from it (the file must exist
 * and hold at least one key; the first is primary). 0 or the exit status
 * (1, as Serf fails to create its agent). */
static int load_keyring(struct agent_cli *c, const struct agent_flags *f, cairn_agent_config *cfg)
{
    if (!f->keyring_file)
        return 0;
    char *text;
    size_t len;
    char why[512];
    int rc = cairn__agent_read_file(f->keyring_file, CAIRN_AGENT_CONFIG_FILE_MAX, &text, &len, why,
                                    sizeof(why));
    if (rc == 0) {
        char sub[256];
        rc = cairn__agent_keyring_parse(text, len, &c->keyring, sub, sizeof(sub));
        if (rc < 0)
            snprintf(why, sizeof(why), "%s: %s", f->keyring_file, sub);
        memset(text, 0, len);
        cairn_free(text);
    }
    if (rc < 0) {
        fprintf(stderr, "cairn agent: keyring file %s\n", why);
        return 1;
    }
    c->keyring_path = strdup(f->keyring_file);
    if (!c->keyring_path) {
        fprintf(stderr, "cairn agent: out of memory\n");
        return 1;
    }
    cfg->keyring = c->keyring;
    cfg->keyring_changed = on_keyring_changed;
    size_t n = cairn_keyring_count(c->keyring);
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "keyring",
                         json_pack("{s:o, s:I}", "path", cairn__log_json_string(c->keyring_path),
                                   "keys", (json_int_t)n),
                         "restored keyring with %zu key(s) from %s", n, c->keyring_path);
    return 0;
}

/* Our tags as the handlers see them (copies). 0 or -1 out of memory. */
static int set_self_tags(struct agent_cli *c, const cairn_tag *tags, size_t n)
{
    cairn_tag copy[CAIRN_AGENT_MAX_TAGS];
    for (size_t i = 0; i < n; i++) {
        copy[i].key = strdup(tags[i].key);
        copy[i].value = strdup(tags[i].value);
        if (!copy[i].key || !copy[i].value) {
            for (size_t k = 0; k <= i; k++) {
                free((char *)copy[k].key);
                free((char *)copy[k].value);
            }
            return -1;
        }
    }
    for (size_t i = 0; i < c->n_self_tags; i++) {
        free((char *)c->self_tags[i].key);
        free((char *)c->self_tags[i].value);
    }
    memcpy(c->self_tags, copy, n * sizeof(cairn_tag));
    c->n_self_tags = n;
    c->self.tags = c->self_tags;
    c->self.ntags = n;
    return 0;
}

/* Serf's Agent.SetTags: the tags file first (when there is one), then the
 * tags gossiped. 0 or -1 (logged). */
static int set_tags(struct agent_cli *c, const cairn_tag *tags, size_t n)
{
    char why[512];
    if (c->tags_path) {
        char *text = cairn__agent_tags_encode(tags, n);
        int rc = text ? write_atomic(c->tags_path, text, why, sizeof(why))
                      : (snprintf(why, sizeof(why), "out of memory"), -1);
        cairn_free(text);
        if (rc < 0) {
            cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "tags",
                                 json_pack("{s:o}", "error", cairn__log_json_string(why)),
                                 "failed to write tags file: %s", why);
            return -1;
        }
    }
    cairn_diag d = {0};
    int rc = cairn_serf_set_tags(cairn_agent_serf(c->agent), tags, n, &d);
    if (rc < 0) {
        const char *msg = d.msg[0] ? d.msg : cairn_strerror(rc);
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "tags",
                             json_pack("{s:o}", "error", cairn__log_json_string(msg)),
                             "failed to update tags: %s", msg);
        return -1;
    }
    if (set_self_tags(c, tags, n) < 0)
        return -1;
    return 0;
}

static bool same_tags(const cairn_tag *a, size_t na, const cairn_tag *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        size_t k = 0;
        while (k < nb && strcmp(a[i].key, b[k].key) != 0)
            k++;
        if (k == nb || strcmp(a[i].value, b[k].value) != 0)
            return false;
    }
    return true;
}

/* ---- SIGHUP: Serf's handleReload ---- */

/* The log level of f (Serf writes ERR for error); -1 when bad. */
static int level_of(const struct agent_flags *f)
{
    int level = CAIRN_LOG_INFO;
    if (!f->log_level)
        return level;
    if (strcasecmp(f->log_level, "err") == 0)
        return CAIRN_LOG_ERROR;
    return cairn_log_level_parse(f->log_level, &level) < 0 ? -1 : level;
}

static void reload_failed(struct agent_cli *c, const char *why)
{
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "reload",
                         json_pack("{s:o}", "error", cairn__log_json_string(why)),
                         "reload failed, keeping the current configuration: %s", why);
}

/* Re-reads the command line and the configuration files, and applies what
 * Serf's handleReload applies: the log level, the event handlers and the
 * tags (not with a tags file: that file is where the tags live). A bad
 * configuration is logged and the current one kept. */
static void reload(struct agent_cli *c)
{
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "reload", NULL, "reloading configuration");
    struct agent_flags *nf;
    char why[768];
    int rc = load_flags(c->argc, c->argv, &nf, why, sizeof(why));
    if (rc != 0) {
        reload_failed(c, why[0] ? why : "bad command line");
        return;
    }
    int level = level_of(nf);
    if (level < 0) {
        snprintf(why, sizeof(why), "log level \"%.64s\" is not trace, debug, info, warn or error",
                 nf->log_level);
        reload_failed(c, why);
        flags_delete(nf);
        return;
    }
    char sub[512];
    size_t bad = 0;
    if (cairn__handlers_replace(c->handlers, nf->handlers, nf->n_handlers, &bad, sub, sizeof(sub)) <
        0) {
        snprintf(why, sizeof(why), "%s: event handler %s",
                 nf->handler_src[bad] ? nf->handler_src[bad] : "--event-handler", sub);
        reload_failed(c, why);
        flags_delete(nf);
        return;
    }
    bool tags_changed = false;
    if (!c->tags_path && !same_tags(nf->all_tags, nf->n_all_tags, c->self_tags, c->n_self_tags))
        tags_changed = set_tags(c, nf->all_tags, nf->n_all_tags) == 0;
    int old_level = c->sink.level;
    c->sink.level = level;
    /* A retry join still running goes on with the new list. */
    c->retry_hosts = nf->retry_joins;
    c->n_retry_hosts = c->n_retry_hosts ? nf->n_retry_joins : 0;
    flags_delete(c->flags);
    c->flags = nf;
    cairn__log_sink_emit(
        &c->sink, CAIRN_LOG_INFO, "reload",
        json_pack("{s:s, s:s, s:I, s:b, s:I}", "log_level", cairn_log_level_name(level),
                  "previous_log_level", cairn_log_level_name(old_level), "event_handlers",
                  (json_int_t)cairn__handlers_count(c->handlers), "tags_changed", tags_changed,
                  "files", (json_int_t)nf->files.n_files),
        "reloaded %zu file(s): log level %s, %zu event handler entr%s, tags %s", nf->files.n_files,
        cairn_log_level_name(level), cairn__handlers_count(c->handlers),
        cairn__handlers_count(c->handlers) == 1 ? "y" : "ies",
        tags_changed ? "updated" : "unchanged");
}

/* ---- --retry-join: Serf's retryJoin ---- */

static void retry_later(struct agent_cli *c, const char *why);

static void on_retry_timer(uv_timer_t *t)
{
    struct agent_cli *c = t->data;
    if (!c->leaving)
        start_retry(c);
}

static void on_retry_joined(cairn_agent *agent, int status, int count, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    if (c->leaving)
        return;
    if (status < 0) {
        char why[600];
        snprintf(why, sizeof(why), "%s%s%s%s", cairn_strerror(status), c->last_error[0] ? " (" : "",
                 c->last_error, c->last_error[0] ? ")" : "");
        retry_later(c, why);
        return;
    }
    c->n_retry_hosts = 0;
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "join",
                         json_pack("{s:i, s:b}", "contacted", count, "retry_join", 1),
                         "retry join completed, synced with %d initial agent(s)", count);
}

static void on_retry_resolved(cairn_resolve_hosts *req, int status, const cairn_addr *addrs,
                              size_t n, size_t failed, const char *first_failed, int first_err,
                              void *ud)
{
    struct agent_cli *c = ud;
    (void)req;
    (void)failed;
    c->retry_resolving = NULL;
    if (c->leaving)
        return;
    if (status == 0 && n == 0)
        status = first_err ? first_err : CAIRN_ENOENT;
    int rc = status < 0 ? status : cairn_agent_join(c->agent, addrs, n, on_retry_joined, c);
    if (rc < 0) {
        char why[600];
        if (first_failed)
            snprintf(why, sizeof(why), "%s (%s does not resolve: %s)", cairn_strerror(rc),
                     first_failed, cairn_strerror(first_err));
        else
            snprintf(why, sizeof(why), "%s", cairn_strerror(rc));
        retry_later(c, why);
    }
}

/* Serf: after each failure the attempt counts; past retry_max attempts
 * (when not 0) the agent exits 1, else it waits retry_interval. */
static void retry_later(struct agent_cli *c, const char *why)
{
    c->retry_attempts++;
    if (c->retry_max > 0 && c->retry_attempts > c->retry_max) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "join",
                             json_pack("{s:o, s:I}", "error", cairn__log_json_string(why),
                                       "attempts", (json_int_t)c->retry_attempts),
                             "maximum retry join attempts made (%ld), exiting: %s",
                             c->retry_attempts, why);
        fprintf(stderr, "cairn agent: --retry-join: maximum retry join attempts made (%ld): %s\n",
                c->retry_attempts, why);
        stop(c, 1);
        return;
    }
    double secs = (double)c->retry_interval / (double)CAIRN_SEC;
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_WARN, "join",
                         json_pack("{s:o, s:I, s:f}", "error", cairn__log_json_string(why),
                                   "attempt", (json_int_t)c->retry_attempts, "retry_in", secs),
                         "retry join failed: %s, retrying in %.1f s", why, secs);
    uv_timer_start(&c->retry_timer, on_retry_timer, (uint64_t)(c->retry_interval / CAIRN_MSEC), 0);
}

/* One attempt: resolve every --retry-join host, join what was found. */
static void start_retry(struct agent_cli *c)
{
    if (c->n_retry_hosts == 0 || c->leaving || c->retry_resolving)
        return;
    c->last_error[0] = 0;
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "join",
                         json_pack("{s:I, s:b}", "attempt", (json_int_t)c->retry_attempts + 1,
                                   "replay", c->flags->replay),
                         "joining cluster (retry join, attempt %ld)", c->retry_attempts + 1);
    int rc = cairn_resolve_hosts_start(c->loop, c->retry_hosts, c->n_retry_hosts, c->join_port,
                                       AGENT_RESOLVE_TIMEOUT, on_retry_resolved, c,
                                       &c->retry_resolving, NULL);
    if (rc < 0)
        retry_later(c, cairn_strerror(rc));
}

/* ---- main ---- */

/* PUT /v1/agent/leave answered: the agent has left, exit as after a signal. */
static void on_http_left(void *ud)
{
    struct agent_cli *c = ud;
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "agent-left", NULL,
                         "graceful leave complete (HTTP)");
    stop(c, 0);
}

/* The metrics hook (cairn_http_config.extra): the --proxy counters summed
 * over the agent's proxies (one proxy is the common case; the stats record
 * has them per proxy), named cairn.proxy.<counter>. Loop thread. */
static size_t proxy_metrics(cairn_http_counter *out, size_t cap, void *ud)
{
    struct agent_cli *c = ud;
    if (c->n_proxies == 0)
        return 0;
    cairn_proxy_stats sum = {0};
    for (size_t i = 0; i < c->n_proxies; i++) {
        cairn_proxy_stats s;
        cairn__proxy_stats(c->proxies[i], &s);
        sum.accepted += s.accepted;
        sum.active += s.active;
        sum.connect_failures += s.connect_failures;
        sum.retries += s.retries;
        sum.failovers += s.failovers;
        sum.bytes_up += s.bytes_up;
        sum.bytes_down += s.bytes_down;
        sum.closed_error += s.closed_error;
        sum.no_route += s.no_route;
        sum.refused_cap += s.refused_cap;
        sum.idle_closed += s.idle_closed;
        sum.paused += s.paused;
    }
    const cairn_http_counter all[] = {
        {"cairn.proxy.accepted", "Proxy connections accepted", (double)sum.accepted, false},
        {"cairn.proxy.active", "Proxy connections open now", (double)sum.active, true},
        {"cairn.proxy.connect_failures", "Proxy connect attempts that failed",
         (double)sum.connect_failures, false},
        {"cairn.proxy.retries", "Proxy connect attempts after a failed one", (double)sum.retries,
         false},
        {"cairn.proxy.failovers", "Proxy connections that reached a server after a failed attempt",
         (double)sum.failovers, false},
        {"cairn.proxy.bytes_up", "Proxy bytes client to server", (double)sum.bytes_up, false},
        {"cairn.proxy.bytes_down", "Proxy bytes server to client", (double)sum.bytes_down, false},
        {"cairn.proxy.closed_error", "Proxy connections closed by an error",
         (double)sum.closed_error, false},
        {"cairn.proxy.no_route", "Proxy connections closed for want of a route",
         (double)sum.no_route, false},
        {"cairn.proxy.refused_cap", "Proxy connections closed by the connection cap",
         (double)sum.refused_cap, false},
        {"cairn.proxy.idle_closed", "Proxy connections closed by the idle timeout",
         (double)sum.idle_closed, false},
        {"cairn.proxy.paused", "Times a proxy side paused reading for back-pressure",
         (double)sum.paused, false},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap)
        n = cap;
    memcpy(out, all, n * sizeof(all[0]));
    return n;
}

/* The HTTP API: 0, or the exit status. An explicit --http-addr that cannot
 * be bound is fatal; the default one is only a warning (several agents on
 * one host, or a Consul agent already there). */
static int start_http(struct agent_cli *c, const struct agent_flags *f)
{
    const char *addr = f->http_addr ? f->http_addr : AGENT_HTTP_DEFAULT;
    if (!addr[0])
        return 0;
    cairn_http_config hc = {.addr = addr,
                            .version = CAIRN_VERSION_STRING,
                            .extra = proxy_metrics,
                            .extra_ud = c,
                            .left = on_http_left,
                            .left_ud = c};
    cairn_diag diag = {0};
    int rc = cairn__http_new(c->loop, c->agent, &hc, &diag, &c->http);
    const char *why = diag.msg[0] ? diag.msg : cairn_strerror(rc);
    if (rc < 0 && !f->http_addr) {
        cairn__log_sink_emit(
            &c->sink, CAIRN_LOG_WARN, "http",
            json_pack("{s:s, s:o}", "addr", addr, "error", cairn__log_json_string(why)),
            "HTTP API off: %s", why);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "cairn agent: --http-addr: %s\n", why);
        return 1;
    }
    cairn__log_sink_emit(
        &c->sink, CAIRN_LOG_INFO, "http",
        json_pack("{s:s, s:i}", "addr", addr, "port", (int)cairn__http_port(c->http)),
        "HTTP API on %s", addr);
    return 0;
}

/* The --event-handler scripts: parsed here (exit 2 naming the flag when
 * one is not [FILTER=]SCRIPT); 0 or the exit status. */
static int start_handlers(struct agent_cli *c, const struct agent_flags *f,
                          const cairn_agent_config *cfg)
{
    snprintf(c->node, sizeof(c->node), "%s", cfg->node);
    c->self = (cairn_member){.name = c->node};
    /* Always there: a SIGHUP may add handlers. */
    /* A query handler's answer is cut to the query response limit. */
    cairn_handlers_limits lim = {.response_limit = cfg->query_response_size_limit};
    if (set_self_tags(c, cfg->tags, cfg->n_tags) < 0 ||
        cairn__handlers_new(c->loop, &lim, &c->sink, &c->handlers) < 0) {
        fprintf(stderr, "cairn agent: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < f->n_handlers; i++) {
        char why[512];
        if (cairn__handlers_add(c->handlers, f->handlers[i], why, sizeof(why)) < 0) {
            if (!f->handler_src[i])
                return bad_value("--event-handler", f->handlers[i], why);
            fprintf(stderr, "cairn agent: %s: \"event_handlers\": %s\n", f->handler_src[i], why);
            return 2;
        }
    }
    return 0;
}

static int start_signals(struct agent_cli *c)
{
    uv_signal_t *hs[] = {&c->sigint, &c->sigterm, &c->sigusr1, &c->sighup};
    int nums[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP};
    for (int i = 0; i < 4; i++) {
        if (uv_signal_init(&c->uv, hs[i]) < 0)
            return -1;
        hs[i]->data = c;
        if (uv_signal_start(hs[i], on_signal, nums[i]) < 0)
            return -1;
    }
    return 0;
}

static void close_walk(uv_handle_t *h, void *ud)
{
    (void)ud;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The --join hosts resolved (all concurrently, through the loop): join every
 * address found; a host that did not resolve is logged, and a join with
 * nothing to contact fails as a join that reached nobody. */
static void on_joins_resolved(cairn_resolve_hosts *req, int status, const cairn_addr *addrs,
                              size_t n, size_t failed, const char *first_failed, int first_err,
                              void *ud)
{
    struct agent_cli *c = ud;
    (void)req;
    c->resolving = NULL;
    if (failed > 0) {
        snprintf(c->last_error, sizeof(c->last_error), "--join %s does not resolve: %s",
                 first_failed, cairn_strerror(first_err));
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_WARN, "join",
                             json_pack("{s:o, s:s, s:i}", "host",
                                       cairn__log_json_string(first_failed), "error",
                                       cairn_strerror(first_err), "unresolved", (int)failed),
                             "%zu --join host(s) did not resolve, first %s: %s", failed,
                             first_failed, cairn_strerror(first_err));
    }
    int rc = status < 0 ? status : cairn_agent_join(c->agent, addrs, n, on_joined, c);
    if (rc < 0)
        on_joined(c->agent, rc, 0, c);
}

static bool addr_any(const cairn_addr *a)
{
    bool any = true;
    for (size_t i = 0; i < cairn_addr_ip_len(a); i++)
        any = any && a->ip[i] == 0;
    return any;
}

/* The WAN pool's addresses: --bind-wan (default: the --bind IP, port 8302
 * for a server, a free one for a client) and --advertise-wan. 0 or the
 * exit status. */
static int wan_addresses(struct agent_cli *c, cairn_agent_config *cfg, const struct agent_flags *f)
{
    char bad[512];
    cfg->wan_bind = cfg->bind;
    cfg->wan_bind.port = cfg->server ? AGENT_DEFAULT_WAN_PORT : 0;
    if (f->bind_wan && resolve_on_loop(c, f->bind_wan, AGENT_DEFAULT_WAN_PORT, &cfg->wan_bind, bad,
                                       sizeof(bad)) < 0)
        return bad_value("--bind-wan", f->bind_wan, bad);
    if (f->advertise_wan &&
        resolve_on_loop(c, f->advertise_wan, cfg->wan_bind.port ? cfg->wan_bind.port : 0,
                        &cfg->wan_advertise, bad, sizeof(bad)) < 0)
        return bad_value("--advertise-wan", f->advertise_wan, bad);
    if (!cfg->wan_advertise.family && addr_any(&cfg->wan_bind))
        pick_advertise(cfg->wan_bind.port, &cfg->wan_advertise);
    return 0;
}

/* The --join-wan hosts resolved: join the WAN pool through them. */
static void on_wan_joined(cairn_agent *agent, int status, int count, void *ud)
{
    struct agent_cli *c = ud;
    (void)agent;
    c->joining_wan = false;
    if (c->leaving)
        return;
    if (status < 0) {
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "join-wan",
                             json_pack("{s:s}", "error", cairn_strerror(status)),
                             "WAN join failed: %s", cairn_strerror(status));
        fprintf(stderr, "cairn agent: could not join any --join-wan address: %s\n",
                cairn_strerror(status));
        stop(c, 1);
        return;
    }
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "join-wan",
                         json_pack("{s:i}", "contacted", count),
                         "joined the WAN pool, %d node(s) contacted", count);
}

static void on_wan_joins_resolved(cairn_resolve_hosts *req, int status, const cairn_addr *addrs,
                                  size_t n, size_t failed, const char *first_failed, int first_err,
                                  void *ud)
{
    struct agent_cli *c = ud;
    (void)req;
    c->resolving_wan = NULL;
    if (failed > 0)
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_WARN, "join-wan",
                             json_pack("{s:o, s:s, s:i}", "host",
                                       cairn__log_json_string(first_failed), "error",
                                       cairn_strerror(first_err), "unresolved", (int)failed),
                             "%zu --join-wan host(s) did not resolve, first %s: %s", failed,
                             first_failed, cairn_strerror(first_err));
    int rc = status < 0 ? status : cairn_agent_join_wan(c->agent, addrs, n, on_wan_joined, c);
    if (rc < 0)
        on_wan_joined(c->agent, rc, 0, c);
}

static void on_exit_timer(uv_timer_t *t)
{
    stop(t->data, 0);
}

/* An RPC `leave` completed and was answered: exit as `serf agent` does. */
static void on_rpc_left(void *ud)
{
    struct agent_cli *c = ud;
    cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "agent-left", NULL, "graceful leave complete");
    if (c->exit_timer_on)
        return;
    c->exit_timer_on = true;
    uv_timer_init(&c->uv, &c->exit_timer);
    c->exit_timer.data = c;
    uv_timer_start(&c->exit_timer, on_exit_timer, AGENT_RPC_EXIT_DELAY_MS, 0);
}

/* The Serf RPC server on --rpc-addr: -1 (after a message) when it cannot
 * listen there, as `serf agent` exits when its RPC address is taken. */
static int start_rpc(struct agent_cli *c, const cairn_agent_config *cfg,
                     const struct agent_flags *f, const cairn_addr *addr,
                     const cairn_logger *logger)
{
    cairn_agent_rpc_config rc = {
        .addr = *addr,
        .auth_key = f->rpc_auth,
        .logger = logger,
        .on_left = on_rpc_left,
        .userdata = c,
        .encrypted = cfg->key_len > 0 || cfg->keyring,
        .handlers = f->handlers,
        .n_handlers = f->n_handlers,
    };
    int rv = cairn__agent_rpc_new(c->loop, c->agent, &rc, &c->rpc);
    if (rv < 0) {
        char text[CAIRN_ADDR_STRLEN];
        cairn_addr_format(addr, true, text, sizeof(text));
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "agent-exit",
                             json_pack("{s:s, s:s}", "rpc_addr", text, "error", cairn_strerror(rv)),
                             "--rpc-addr: cannot listen on %s: %s", text, cairn_strerror(rv));
        fprintf(stderr, "cairn agent: --rpc-addr: cannot listen on %s: %s\n", text,
                cairn_strerror(rv));
        return -1;
    }
    c->sink.tap = on_log_line;
    c->sink.tap_userdata = c;
    return 0;
}

/* One proxy per --proxy flag (already checked), on the agent's Router. 0,
 * or 1 after a message when one cannot listen. */
static int start_proxies(struct agent_cli *c, const struct agent_flags *f,
                         const cairn_logger *logger)
{
    for (size_t i = 0; i < f->n_proxies; i++) {
        char dc[CAIRN_SERVER_DC_MAX], why[256];
        cairn_proxy_config pc = {.dc = dc, .router = cairn_agent_router(c->agent)};
        cairn__proxy_parse_spec(f->proxies[i], &pc.listen, dc, sizeof(dc), why, sizeof(why));
        int rc = cairn__proxy_new(c->loop, &pc, logger, &c->proxies[c->n_proxies]);
        if (rc < 0) {
            cairn__log_sink_emit(
                &c->sink, CAIRN_LOG_ERROR, "agent-exit",
                json_pack("{s:o, s:s}", "proxy", cairn__log_json_string(f->proxies[i]), "error",
                          cairn_strerror(rc)),
                "--proxy %s: cannot listen: %s", f->proxies[i], cairn_strerror(rc));
            fprintf(stderr, "cairn agent: --proxy %s: cannot listen: %s\n", f->proxies[i],
                    cairn_strerror(rc));
            return 1;
        }
        c->n_proxies++;
        char at[CAIRN_ADDR_STRLEN];
        cairn_addr_format(&pc.listen, true, at, sizeof(at));
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "proxy-start",
                             json_pack("{s:s, s:o, s:b}", "listen", at, "dc",
                                       cairn__log_json_string(dc), "routed", pc.router != NULL),
                             "proxy %s -> datacenter %s%s", at, dc,
                             pc.router ? "" : " (no router: connections are closed)");
    }
    return 0;
}

static int run_agent(struct agent_cli *c, cairn_agent_config *cfg, const struct agent_flags *f)
{
    cairn_diag diag = {0};
    char bad[512];
    int rc;
    if (cairn_addr_parse_ip("0.0.0.0", AGENT_DEFAULT_PORT, &cfg->bind) < 0)
        return 1;
    if (f->bind &&
        resolve_on_loop(c, f->bind, AGENT_DEFAULT_PORT, &cfg->bind, bad, sizeof(bad)) < 0)
        return bad_value("--bind", f->bind, bad);
    if (f->advertise &&
        resolve_on_loop(c, f->advertise, cfg->bind.port, &cfg->advertise, bad, sizeof(bad)) < 0)
        return bad_value("--advertise", f->advertise, bad);
    /* The library logs down to debug whatever the level: the sink filters,
     * and a SIGHUP can lower its level. */
    cairn_logger logger = {.cb = on_log,
                           .userdata = c,
                           .level =
                               c->sink.level < CAIRN_LOG_DEBUG ? c->sink.level : CAIRN_LOG_DEBUG};
    cairn_addr rpc_addr;
    if (resolve_on_loop(c, f->rpc_addr, AGENT_RPC_PORT, &rpc_addr, bad, sizeof(bad)) < 0)
        return bad_value("--rpc-addr", f->rpc_addr, bad);
    if (cfg->bind.port && !cfg->advertise.family && addr_any(&cfg->bind))
        pick_advertise(cfg->bind.port, &cfg->advertise);
    if (cfg->datacenter && (rc = wan_addresses(c, cfg, f)) != 0)
        return rc;
    cfg->route_cb = on_route;
    cfg->route_userdata = c;
    rc = cairn_agent_new(c->loop, cfg, &logger, on_event, c, &diag, &c->agent);
    if (rc < 0) {
        const char *why = diag.msg[0] ? diag.msg : cairn_strerror(rc);
        /* Tag problems name the flag that carried them. */
        const char *flag = "";
        if (strncmp(why, "tags: ", 6) == 0) {
            flag = "--tag: ";
            why += 6;
        } else if (strncmp(why, "node: ", 6) == 0) {
            flag = "--node: ";
            why += 6;
        }
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_ERROR, "agent-exit",
                             json_pack("{s:o}", "error", cairn__log_json_string(why)), "%s%s", flag,
                             why);
        fprintf(stderr, "cairn agent: %s%s\n", flag, why);
        return rc == CAIRN_EINVAL || rc == CAIRN_ELIMIT ? 2 : 1;
    }
    if (start_rpc(c, cfg, f, &rpc_addr, &logger) < 0)
        return 1;
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_agent_memberlist(c->agent), &me);
    char addr[CAIRN_ADDR_STRLEN], bind[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&me.addr, true, addr, sizeof(addr));
    cairn_addr_format(&cfg->bind, true, bind, sizeof(bind));
    cairn__log_sink_emit(
        &c->sink, CAIRN_LOG_INFO, "agent-start",
        json_pack("{s:o, s:s, s:s, s:s, s:b, s:b}", "node", cairn__log_json_string(cfg->node),
                  "bind", bind, "advertise", addr, "profile", cfg->profile, "encrypted",
                  cfg->key_len > 0 || cfg->keyring, "compression", !cfg->disable_compression),
        "node %s bind %s advertise %s profile %s encrypted %s compression %s", cfg->node, bind,
        addr, cfg->profile, cfg->key_len || cfg->keyring ? "yes" : "no",
        cfg->disable_compression ? "off" : "on");
    cairn_serf *wan = cairn_agent_wan_serf(c->agent);
    if (wan) {
        cairn_memberlist_local_node(cairn_serf_memberlist(wan), &me);
        cairn_addr_format(&me.addr, true, addr, sizeof(addr));
        cairn__log_sink_emit(&c->sink, CAIRN_LOG_INFO, "routing-start",
                             json_pack("{s:o, s:b, s:o, s:s, s:s}", "datacenter",
                                       cairn__log_json_string(cfg->datacenter), "server",
                                       cfg->server, "wan_node", cairn__log_json_string(me.name),
                                       "wan_advertise", addr, "wan_profile", cfg->wan_profile),
                             "datacenter %s %s, WAN member %s at %s profile %s", cfg->datacenter,
                             cfg->server ? "server" : "client", me.name, addr, cfg->wan_profile);
    }
    c->join_port = cfg->bind.port;
    c->retry_hosts = f->retry_joins;
    c->n_retry_hosts = f->n_retry_joins;
    c->retry_interval = 30 * CAIRN_SEC;
    if (f->retry_interval)
        parse_duration(f->retry_interval, &c->retry_interval);
    else if (f->files.retry_interval)
        c->retry_interval = f->files.retry_interval;
    /* Serf: "'RetryInterval' is too low", at least 1 s. */
    if (c->retry_interval < CAIRN_SEC) {
        c->retry_interval = CAIRN_SEC;
        if (c->n_retry_hosts)
            cairn__log_sink_emit(&c->sink, CAIRN_LOG_WARN, "join", NULL,
                                 "retry interval is too low, using 1 s");
    }
    c->retry_max = f->retry_max ? strtol(f->retry_max, NULL, 10) : f->files.retry_max;
    uv_timer_init(&c->uv, &c->retry_timer);
    c->retry_timer.data = c;
    if (!f->n_joins)
        start_retry(c);
    if ((rc = start_http(c, f)) != 0)
        return rc;
    if ((rc = start_proxies(c, f, &logger)) != 0)
        return rc;
    if (f->n_joins) {
        c->joining = true;
        rc = cairn_resolve_hosts_start(c->loop, f->joins, f->n_joins, cfg->bind.port,
                                       AGENT_RESOLVE_TIMEOUT, on_joins_resolved, c, &c->resolving,
                                       NULL);
        if (rc < 0)
            on_joined(c->agent, rc, 0, c);
    }
    if (f->n_wan_joins) {
        c->joining_wan = true;
        rc = cairn_resolve_hosts_start(c->loop, f->wan_joins, f->n_wan_joins,
                                       AGENT_DEFAULT_WAN_PORT, AGENT_RESOLVE_TIMEOUT,
                                       on_wan_joins_resolved, c, &c->resolving_wan, NULL);
        if (rc < 0)
            on_wan_joined(c->agent, rc, 0, c);
    }
    /* Our coordinate: once now, then whenever it moved (checked every
     * AGENT_COORD_PERIOD_MS). */
    log_coordinate(c, true);
    uv_timer_init(&c->uv, &c->coord_timer);
    c->coord_timer.data = c;
    uv_timer_start(&c->coord_timer, on_coord_timer, AGENT_COORD_PERIOD_MS, AGENT_COORD_PERIOD_MS);
    if (c->status == 0 && start_signals(c) < 0) {
        fprintf(stderr, "cairn agent: cannot install signal handlers\n");
        return 1;
    }
    if (c->status == 0)
        uv_run(&c->uv, UV_RUN_DEFAULT);
    return c->status;
}

int cairn_cmd_agent(int argc, char **argv)
{
    struct agent_flags *f = NULL;
    char why[768];
    int rc = load_flags(argc, argv, &f, why, sizeof(why));
    cairn_agent_config cfg;
    uint8_t key[32];
    char hostname[256];
    if (rc == -1) /* --help */
        return 0;
    if (rc) {
        if (why[0])
            fprintf(stderr, "cairn agent: %s\n", why);
        return rc;
    }
    if ((rc = build_config(f, hostname, sizeof(hostname), &cfg, key)) != 0)
        goto out;
    struct agent_cli c = {.sink = {.out = stdout, .json = f->json, .level = CAIRN_LOG_INFO},
                          .stats_on_exit = f->stats_on_exit,
                          .argc = argc,
                          .argv = argv,
                          .flags = f};
    f = NULL; /* c.flags from here on */
    if ((c.sink.level = level_of(c.flags)) < 0) {
        rc = bad_value("--log-level", c.flags->log_level,
                       "is not trace, debug, info, warn or error");
        f = c.flags;
        goto out;
    }
    if (c.flags->tags_file && !(c.tags_path = strdup(c.flags->tags_file))) {
        f = c.flags;
        rc = 1;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (uv_loop_init(&c.uv) < 0 || cairn_loop_new_uv(&c.uv, &c.loop) < 0) {
        fprintf(stderr, "cairn agent: cannot start the event loop\n");
        f = c.flags;
        free(c.tags_path);
        rc = 1;
        goto out;
    }
    if ((rc = load_keyring(&c, c.flags, &cfg)) == 0 &&
        (rc = start_handlers(&c, c.flags, &cfg)) == 0)
        rc = run_agent(&c, &cfg, c.flags);
    cairn_resolve_hosts_cancel(c.resolving);
    cairn_resolve_hosts_cancel(c.resolving_wan);
    cairn_resolve_hosts_cancel(c.retry_resolving);
    c.sink.tap = NULL;
    cairn__agent_rpc_delete(c.rpc);
    c.rpc = NULL;
    cairn__http_delete(c.http);
    for (size_t i = 0; i < c.n_proxies; i++)
        cairn__proxy_delete(c.proxies[i]);
    cairn_agent_delete(c.agent);
    cairn_keyring_delete(c.keyring);
    cairn__handlers_delete(c.handlers);
    cairn_loop_delete(c.loop);
    uv_walk(&c.uv, close_walk, NULL);
    uv_run(&c.uv, UV_RUN_DEFAULT);
    uv_loop_close(&c.uv);
    set_self_tags(&c, NULL, 0);
    free(c.keyring_path);
    free(c.tags_path);
    f = c.flags;
out:
    flags_delete(f);
    return rc;
}
