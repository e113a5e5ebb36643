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
#include <openssl/evp.h>
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
#include "agent/handlers.h"
#include "agent/log_sink.h"
#include "agent/proxy.h"
#include "cairn/loop_uv.h"
#include "base/utf8.h"
#include "cli/commands.h"
#include "cli/flags.h"

#define AGENT_MAX_JOINS 64
/* Most --proxy flags (each one listener). */
#define AGENT_MAX_PROXIES  16
#define AGENT_DEFAULT_PORT 7946
/* How often our coordinate is checked and logged when it moved: often
 * enough to follow Vivaldi's convergence, rarely enough for a log. */
#define AGENT_COORD_PERIOD_MS 10000

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
    /* --proxy listeners. */
    cairn_proxy *proxies[AGENT_MAX_PROXIES];
    size_t n_proxies;
};

static void usage(FILE *out)
{
    fprintf(
        out,
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
        "  --event-handler [FILTER=]SCRIPT\n"
        "                          run SCRIPT (/bin/sh -c) for events: FILTER is a comma\n"
        "                          list of member-join, member-leave, member-failed,\n"
        "                          member-update, member-reap, user[:NAME], query[:NAME]\n"
        "                          or * (default *); repeatable, as serf agent\n"
        "  --proxy LISTEN=DC       accept TCP on LISTEN (IP:PORT) and connect each\n"
        "                          connection to a healthy server of datacenter DC\n"
        "                          (repeatable, 16 at most)\n\n"
        "SIGINT/SIGTERM: graceful serf leave (peers see us left), then exit 0.\n"
        "SIGUSR1: log members and counters.\n"
        "Exit status: 0 after a leave, 1 on a bind (gossip or --proxy), join or leave failure,\n"
        "2 on bad flags.\n");
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
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!b64)
        return;
    EVP_EncodeBlock((unsigned char *)b64, p, (int)len);
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
}

static bool list_member(const cairn_member *m, void *ud)
{
    log_member(ud, "member", m);
    return true;
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
        log_stats(c);
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
}

/* ---- flags ---- */

struct agent_flags {
    const char *node, *bind, *advertise, *encrypt, *profile, *log_level;
    const char *protocol, *reconnect_timeout, *tombstone_timeout, *snapshot;
    const char *joins[AGENT_MAX_JOINS];
    size_t n_joins;
    const char *handlers[CAIRN_HANDLERS_MAX];
    size_t n_handlers;
    const char *proxies[AGENT_MAX_PROXIES];
    size_t n_proxies;
    char *tag_text[CAIRN_AGENT_MAX_TAGS];
    cairn_tag tags[CAIRN_AGENT_MAX_TAGS];
    size_t n_tags;
    bool json, stats_on_exit, disable_compression, replay, rejoin;
};

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
enum flag_kind { FLAG_SWITCH, FLAG_VALUE, FLAG_JOIN, FLAG_TAG, FLAG_HANDLER, FLAG_PROXY };

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
    {"proxy", 0, true, 18},
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

/* Longest duration flag: 10 years (far beyond any useful timeout, well
 * inside cairn_time). */
#define AGENT_DURATION_MAX ((cairn_time)10 * 365 * 24 * CAIRN_HOUR)

/* parse_duration reads a Go duration ("72h", "1h30m", "90s", "500ms"):
 * one or more positive decimal numbers each with a unit (ns, us, ms, s,
 * m, h). 0, or -1 when it is not one, is zero or is over 10 years. */
static int parse_duration(const char *text, cairn_time *ret)
{
    static const struct {
        const char *unit;
        cairn_time scale;
    } units[] = {{"ns", CAIRN_NSEC}, {"us", CAIRN_USEC}, {"ms", CAIRN_MSEC},
                 {"s", CAIRN_SEC},   {"m", CAIRN_MIN},   {"h", CAIRN_HOUR}};
    double total = 0;
    const char *p = text;
    if (!*p)
        return -1;
    while (*p) {
        char *end;
        if (!(*p >= '0' && *p <= '9') && *p != '.')
            return -1;
        double v = strtod(p, &end);
        if (end == p)
            return -1;
        size_t best = 0, k = sizeof(units) / sizeof(units[0]);
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(end, units[i].unit, ul) == 0 && ul > best) {
                best = ul;
                k = i;
            }
        }
        if (k == sizeof(units) / sizeof(units[0]))
            return -1;
        total += v * (double)units[k].scale;
        p = end + best;
    }
    if (!(total >= 1) || total > (double)AGENT_DURATION_MAX)
        return -1;
    *ret = (cairn_time)total;
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
    if (f->encrypt && cairn_agent_decode_key(f->encrypt, key, &cfg->key_len) < 0)
        return bad_value("--encrypt", f->encrypt, "is not base64 of a 16, 24 or 32-byte key");
    cfg->key = f->encrypt ? key : NULL;
    cairn_memberlist_config probe;
    cfg->profile = f->profile ? f->profile : "lan";
    if (cairn_memberlist_config_profile(cfg->profile, &probe) < 0)
        return bad_value("--profile", cfg->profile, "is not lan, wan or local");
    cfg->tags = f->tags;
    cfg->n_tags = f->n_tags;
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
    }
    if (f->reconnect_timeout && parse_duration(f->reconnect_timeout, &cfg->reconnect_timeout) < 0)
        return bad_value("--reconnect-timeout", f->reconnect_timeout,
                         "is not a duration such as 24h, 30m or 90s");
    if (f->tombstone_timeout && parse_duration(f->tombstone_timeout, &cfg->tombstone_timeout) < 0)
        return bad_value("--tombstone-timeout", f->tombstone_timeout,
                         "is not a duration such as 24h, 30m or 90s");
    for (size_t i = 0; i < f->n_proxies; i++) {
        cairn_addr a;
        char dc[CAIRN_SERVER_DC_MAX];
        if (cairn__proxy_parse_spec(f->proxies[i], &a, dc, sizeof(dc), why, sizeof(why)) < 0)
            return bad_value("--proxy", f->proxies[i], why);
    }
    return 0;
}

/* ---- main ---- */

/* The --event-handler scripts: parsed here (exit 2 naming the flag when
 * one is not [FILTER=]SCRIPT); 0 or the exit status. */
static int start_handlers(struct agent_cli *c, const struct agent_flags *f,
                          const cairn_agent_config *cfg)
{
    c->self = (cairn_member){.name = cfg->node, .tags = cfg->tags, .ntags = cfg->n_tags};
    if (f->n_handlers == 0)
        return 0;
    if (cairn__handlers_new(c->loop, NULL, &c->sink, &c->handlers) < 0) {
        fprintf(stderr, "cairn agent: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < f->n_handlers; i++) {
        char why[512];
        if (cairn__handlers_add(c->handlers, f->handlers[i], why, sizeof(why)) < 0)
            return bad_value("--event-handler", f->handlers[i], why);
    }
    return 0;
}

static int start_signals(struct agent_cli *c)
{
    uv_signal_t *hs[] = {&c->sigint, &c->sigterm, &c->sigusr1};
    int nums[] = {SIGINT, SIGTERM, SIGUSR1};
    for (int i = 0; i < 3; i++) {
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
    if (cairn_addr_parse_ip("0.0.0.0", AGENT_DEFAULT_PORT, &cfg->bind) < 0)
        return 1;
    if (f->bind &&
        resolve_on_loop(c, f->bind, AGENT_DEFAULT_PORT, &cfg->bind, bad, sizeof(bad)) < 0)
        return bad_value("--bind", f->bind, bad);
    if (f->advertise &&
        resolve_on_loop(c, f->advertise, cfg->bind.port, &cfg->advertise, bad, sizeof(bad)) < 0)
        return bad_value("--advertise", f->advertise, bad);
    cairn_logger logger = {.cb = on_log, .userdata = c, .level = c->sink.level};
    if (cfg->bind.port && !cfg->advertise.family) {
        bool any = true;
        for (size_t i = 0; i < cairn_addr_ip_len(&cfg->bind); i++)
            any = any && cfg->bind.ip[i] == 0;
        if (any)
            pick_advertise(cfg->bind.port, &cfg->advertise);
    }
    int rc = cairn_agent_new(c->loop, cfg, &logger, on_event, c, &diag, &c->agent);
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
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_agent_memberlist(c->agent), &me);
    char addr[CAIRN_ADDR_STRLEN], bind[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&me.addr, true, addr, sizeof(addr));
    cairn_addr_format(&cfg->bind, true, bind, sizeof(bind));
    cairn__log_sink_emit(
        &c->sink, CAIRN_LOG_INFO, "agent-start",
        json_pack("{s:o, s:s, s:s, s:s, s:b, s:b}", "node", cairn__log_json_string(cfg->node),
                  "bind", bind, "advertise", addr, "profile", cfg->profile, "encrypted",
                  cfg->key_len > 0, "compression", !cfg->disable_compression),
        "node %s bind %s advertise %s profile %s encrypted %s compression %s", cfg->node, bind,
        addr, cfg->profile, cfg->key_len ? "yes" : "no", cfg->disable_compression ? "off" : "on");
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
    struct agent_flags f = {0};
    int rc = parse_flags(argc, argv, &f);
    cairn_agent_config cfg;
    uint8_t key[32];
    char hostname[256];
    if (rc == -1) { /* --help */
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    if ((rc = build_config(&f, hostname, sizeof(hostname), &cfg, key)) != 0)
        goto out;
    struct agent_cli c = {.sink = {.out = stdout, .json = f.json, .level = CAIRN_LOG_INFO},
                          .stats_on_exit = f.stats_on_exit};
    if (f.log_level && cairn_log_level_parse(f.log_level, &c.sink.level) < 0) {
        rc = bad_value("--log-level", f.log_level, "is not trace, debug, info, warn or error");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (uv_loop_init(&c.uv) < 0 || cairn_loop_new_uv(&c.uv, &c.loop) < 0) {
        fprintf(stderr, "cairn agent: cannot start the event loop\n");
        rc = 1;
        goto out;
    }
    if ((rc = start_handlers(&c, &f, &cfg)) == 0)
        rc = run_agent(&c, &cfg, &f);
    cairn_resolve_hosts_cancel(c.resolving);
    for (size_t i = 0; i < c.n_proxies; i++)
        cairn__proxy_delete(c.proxies[i]);
    cairn_agent_delete(c.agent);
    cairn__handlers_delete(c.handlers);
    cairn_loop_delete(c.loop);
    uv_walk(&c.uv, close_walk, NULL);
    uv_run(&c.uv, UV_RUN_DEFAULT);
    uv_loop_close(&c.uv);
out:
    for (size_t i = 0; i < f.n_tags; i++)
        free(f.tag_text[i]);
    return rc;
}
