/* serf_peer: one native cairn serf node on libuv, for interop checks
 * against the real Serf agent (tests/interop/test_serf_native.sh).
 *
 *   serf_peer NAME BIND_PORT JOIN_PORT LEAVE_AFTER_S [SNAPSHOT]
 *
 * Binds 127.0.0.1:BIND_PORT with tag role=cairn (protocol 5, as the agent),
 * joins 127.0.0.1:JOIN_PORT, after 2 s sends user event "hello" (payload
 * "from-cairn") and changes its tag to role=cairn2, after LEAVE_AFTER_S s
 * prints its coordinate cache and stats and leaves gracefully, then exits
 * 0 (1 when anything failed). Every event is printed as one line:
 *   EVENT <type> <member> <status> role=<role>   or   EVENT user <name> <payload>
 *
 * Queries (tests/interop/test_serf_query.sh): every query is printed as
 * `EVENT query <name> <payload>` and answered with "cairn-answer:<payload>".
 * Environment: CAIRN_PEER_KEY=<base64> starts with that gossip key (the
 * keyring is printed at leave as `KEYRING <count> <primary>`);
 * CAIRN_PEER_QUERY_AT=<s> runs query "cq" (payload "from-cairn", ack
 * requested) at second s and prints `QACK <node>`, `QRESP <node>
 * <payload>` and `QDONE acks=<n> responses=<n>`.
 *
 * With SNAPSHOT the node keeps Serf's snapshot file there (replayed at
 * start: "START member_time=.. event_time=.. skipped=.." is printed, and
 * serf log lines as "LOG ..."); JOIN_PORT 0 joins nobody (a restart that
 * re-joins from the snapshot); a negative LEAVE_AFTER_S exits after that
 * many seconds without leaving (the snapshot is flushed and synced, as by
 * an agent's SIGTERM).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"

static cairn_serf *serf;
static uv_loop_t uv;
static uv_timer_t ticker;
static int seconds, leave_after, failures, query_at = -1;
static cairn_keyring *ring;

static void on_event(const cairn_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == CAIRN_EVENT_QUERY) {
        char answer[256];
        int n = snprintf(answer, sizeof(answer), "cairn-answer:%.*s", (int)ev->payload_len,
                         ev->payload ? (const char *)ev->payload : "");
        int rc = ev->respond ? ev->respond(ev->respond_ctx, ev->query_id, (const uint8_t *)answer,
                                           (size_t)n)
                             : CAIRN_ENOTSUP;
        printf("EVENT query %s %.*s respond=%s\n", ev->name, (int)ev->payload_len,
               ev->payload ? (const char *)ev->payload : "", cairn_err_name(rc));
    } else if (ev->type == CAIRN_EVENT_USER) {
        printf("EVENT user %s %.*s\n", ev->name, (int)ev->payload_len,
               ev->payload ? (const char *)ev->payload : "");
    } else {
        for (size_t i = 0; i < ev->nmembers; i++) {
            const char *role = cairn_member_tag(&ev->members[i], "role");
            printf("EVENT %s %s %s role=%s\n", cairn_event_type_name(ev->type), ev->members[i].name,
                   cairn_member_status_name(ev->members[i].status), role ? role : "-");
        }
    }
    fflush(stdout);
}

static void on_joined(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)ud;
    printf("JOINED status=%s count=%d\n", cairn_err_name(status), count);
    fflush(stdout);
    failures += status != 0;
}

static void on_left(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)count;
    (void)ud;
    printf("LEFT status=%s\n", cairn_err_name(status));
    fflush(stdout);
    failures += status != 0;
    uv_timer_stop(&ticker);
    uv_stop(&uv);
}

static bool print_coord(const cairn_member *m, void *ud)
{
    cairn_coord own, c;
    (void)ud;
    if (cairn_serf_get_coordinate(serf, &own) == 0 &&
        cairn_serf_get_cached_coordinate(serf, m->name, &c))
        printf("COORD %s %.3f ms\n", m->name, cairn_compute_distance(&own, &c) * 1e3);
    return true;
}

static void on_query_result(cairn_serf_query_handle *q, const cairn_serf_query_result *r, void *ud)
{
    (void)q;
    (void)ud;
    if (r->kind == CAIRN_SERF_QUERY_ACK)
        printf("QACK %s\n", r->from);
    else if (r->kind == CAIRN_SERF_QUERY_RESPONSE)
        printf("QRESP %s %.*s\n", r->from, (int)r->payload_len,
               r->payload ? (const char *)r->payload : "");
    else
        printf("QDONE acks=%zu responses=%zu\n", r->acks, r->responses);
    fflush(stdout);
}

static void print_keyring(void)
{
    const uint8_t *k;
    size_t len;
    if (ring == NULL || cairn_keyring_key(ring, 0, &k, &len) != 0)
        return;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[64];
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)k[i] << 16 | (i + 1 < len ? (uint32_t)k[i + 1] << 8 : 0) |
                     (i + 2 < len ? k[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = 0;
    printf("KEYRING %zu %s\n", cairn_keyring_count(ring), out);
}

static void on_log(int level, const char *module, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    printf("LOG %s: %s\n", module, msg);
    fflush(stdout);
}

static void tick(uv_timer_t *t)
{
    (void)t;
    seconds++;
    if (seconds == query_at) {
        cairn_serf_query_params p = {.name = "cq",
                                     .payload = (const uint8_t *)"from-cairn",
                                     .payload_len = 10,
                                     .request_ack = true};
        int rc = cairn_serf_query(serf, &p, on_query_result, NULL, NULL);
        printf("QUERY %s\n", cairn_err_name(rc));
        failures += rc != 0;
    }
    if (seconds == 2) {
        cairn_diag d = {0};
        int rc = cairn_serf_user_event(serf, "hello", (const uint8_t *)"from-cairn", 10, false, &d);
        cairn_tag tags[] = {{"role", "cairn2"}};
        int rt = cairn_serf_set_tags(serf, tags, 1, &d);
        printf("SENT event=%s tags=%s %s\n", cairn_err_name(rc), cairn_err_name(rt), d.msg);
        failures += rc != 0 || rt != 0;
    }
    if (leave_after < 0 && seconds == -leave_after) {
        printf("EXIT without leave\n");
        uv_timer_stop(&ticker);
        uv_stop(&uv);
    }
    if (seconds == leave_after) {
        cairn_serf_for_each_member(serf, print_coord, NULL);
        print_keyring();
        cairn_serf_stats st;
        cairn_serf_get_stats(serf, &st);
        printf("STATS members=%zu alive=%zu left=%zu failed=%zu member_time=%llu "
               "event_time=%llu malformed=%llu relays_sent=%llu\n",
               st.members, st.alive, st.left, st.failed, (unsigned long long)st.member_time,
               (unsigned long long)st.event_time, (unsigned long long)st.msgs_malformed,
               (unsigned long long)st.relays_sent);
        int rc = cairn_serf_leave(serf, on_left, NULL);
        printf("LEAVING %s\n", cairn_err_name(rc));
        failures += rc != 0;
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: serf_peer NAME BIND_PORT JOIN_PORT LEAVE_AFTER_S [SNAPSHOT]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    leave_after = atoi(argv[4]);
    cairn_loop *loop;
    if (uv_loop_init(&uv) != 0 || cairn_loop_new_uv(&uv, &loop) != 0)
        return 1;
    cairn_serf_config c;
    cairn_serf_config_default(&c);
    c.memberlist.name = argv[1];
    c.protocol_version = 5;
    cairn_tag tags[] = {{"role", "cairn"}};
    c.tags = tags;
    c.ntags = 1;
    c.event_cb = on_event;
    c.snapshot_path = argc == 6 ? argv[5] : NULL;
    cairn_logger lg = {.cb = on_log, .level = CAIRN_LOG_INFO};
    int join_port = atoi(argv[3]);
    cairn_addr peer;
    cairn_diag d = {0};
    int rc = cairn_addr_parse_ip("127.0.0.1", (uint16_t)atoi(argv[2]), &c.memberlist.bind);
    if (rc == 0)
        rc = cairn_addr_parse_ip("127.0.0.1", (uint16_t)join_port, &peer);
    const char *key = getenv("CAIRN_PEER_KEY");
    if (getenv("CAIRN_PEER_QUERY_AT"))
        query_at = atoi(getenv("CAIRN_PEER_QUERY_AT"));
    if (rc == 0 && key) {
        uint8_t raw[32];
        size_t len;
        rc = cairn_agent_decode_key(key, raw, &len);
        if (rc == 0)
            rc = cairn_keyring_new(raw, len, &ring);
    }
    if (rc == 0)
        rc = cairn_serf_new(loop, &c, c.snapshot_path ? &lg : NULL, ring, &serf, &d);
    if (rc == 0 && c.snapshot_path) {
        cairn_serf_stats st;
        cairn_serf_get_stats(serf, &st);
        printf("START member_time=%llu event_time=%llu query_time=%llu skipped=%llu\n",
               (unsigned long long)st.member_time, (unsigned long long)st.event_time,
               (unsigned long long)st.query_time, (unsigned long long)st.snapshot_replay_skipped);
        fflush(stdout);
    }
    if (rc == 0 && join_port != 0)
        rc = cairn_serf_join(serf, &peer, 1, false, on_joined, NULL);
    if (rc != 0) {
        fprintf(stderr, "serf_peer: %s %s\n", cairn_strerror(rc), d.msg);
        return 1;
    }
    uv_timer_init(&uv, &ticker);
    uv_timer_start(&ticker, tick, 1000, 1000);
    uv_run(&uv, UV_RUN_DEFAULT);
    cairn_serf_delete(serf);
    cairn_loop_delete(loop);
    cairn_keyring_delete(ring);
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_run(&uv, UV_RUN_DEFAULT);
    uv_loop_close(&uv);
    return failures ? 1 : 0;
}
