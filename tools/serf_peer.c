/* serf_peer: one native cairn serf node on libuv, for interop checks
 * against the real Serf agent (tests/interop/test_serf_native.sh).
 *
 *   serf_peer NAME BIND_PORT JOIN_PORT LEAVE_AFTER_S
 *
 * Binds 127.0.0.1:BIND_PORT with tag role=cairn (protocol 5, as the agent),
 * joins 127.0.0.1:JOIN_PORT, after 2 s sends user event "hello" (payload
 * "from-cairn") and changes its tag to role=cairn2, after LEAVE_AFTER_S s
 * prints its coordinate cache and stats and leaves gracefully, then exits
 * 0 (1 when anything failed). Every event is printed as one line:
 *   EVENT <type> <member> <status> role=<role>   or   EVENT user <name> <payload>
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
static int seconds, leave_after, failures;

static void on_event(const cairn_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == CAIRN_EVENT_USER) {
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

static void tick(uv_timer_t *t)
{
    (void)t;
    seconds++;
    if (seconds == 2) {
        cairn_diag d = {0};
        int rc = cairn_serf_user_event(serf, "hello", (const uint8_t *)"from-cairn", 10, false, &d);
        cairn_tag tags[] = {{"role", "cairn2"}};
        int rt = cairn_serf_set_tags(serf, tags, 1, &d);
        printf("SENT event=%s tags=%s %s\n", cairn_err_name(rc), cairn_err_name(rt), d.msg);
        failures += rc != 0 || rt != 0;
    }
    if (seconds == leave_after) {
        cairn_serf_for_each_member(serf, print_coord, NULL);
        cairn_serf_stats st;
        cairn_serf_get_stats(serf, &st);
        printf("STATS members=%zu alive=%zu left=%zu failed=%zu member_time=%llu "
               "event_time=%llu malformed=%llu\n",
               st.members, st.alive, st.left, st.failed, (unsigned long long)st.member_time,
               (unsigned long long)st.event_time, (unsigned long long)st.msgs_malformed);
        int rc = cairn_serf_leave(serf, on_left, NULL);
        printf("LEAVING %s\n", cairn_err_name(rc));
        failures += rc != 0;
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: serf_peer NAME BIND_PORT JOIN_PORT LEAVE_AFTER_S\n");
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
    cairn_addr peer;
    cairn_diag d = {0};
    int rc = cairn_addr_parse_ip("127.0.0.1", (uint16_t)atoi(argv[2]), &c.memberlist.bind);
    if (rc == 0)
        rc = cairn_addr_parse_ip("127.0.0.1", (uint16_t)atoi(argv[3]), &peer);
    if (rc == 0)
        rc = cairn_serf_new(loop, &c, NULL, NULL, &serf, &d);
    if (rc == 0)
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
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_run(&uv, UV_RUN_DEFAULT);
    uv_loop_close(&uv);
    return failures ? 1 : 0;
}
