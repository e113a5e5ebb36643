/* serf's snapshot file on the simulator (its in-memory filesystem outlives
 * nodes, so a node can crash and restart from what it wrote):
 *
 *   - crash + restart: the node comes back without any join address (it
 *     re-joins a member its snapshot remembers), with its clocks restored,
 *     and user events from before the crash are not delivered again while
 *     new ones are;
 *   - graceful leave + restart stays alone; with rejoin_after_leave it
 *     re-joins;
 *   - compaction keeps the file under max(128 KiB, alive x 256) while the
 *     event clock churns, and the compacted file replays the same clocks;
 *   - corrupt, overlong and torn lines are skipped with a warning naming
 *     the line; the rest of the file is used and the node runs;
 *   - a failing fsync on leave is counted and logged, and the leave still
 *     completes;
 *   - every allocation of a start from a snapshot failing in turn: the
 *     start fails with CAIRN_ENOMEM or succeeds (write failures absorbed),
 *     nothing leaks (ASan builds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "base/alloc_test.h"
#include "serf_world.h"
#include "serf/serf_internal.h"

static serf_world W;

static bool cond_converged(serf_world *w, const void *arg)
{
    (void)arg;
    return serf_world_converged(w);
}

static void world(uint64_t seed, size_t n, bool rejoin_after_leave)
{
    assert_int_equal(serf_world_init(&W, seed, n), 0);
    W.snapshots = true;
    W.cfg.rejoin_after_leave = rejoin_after_leave;
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    assert_true(serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 60 * CAIRN_SEC) >=
                0);
}

static void send_event(size_t from, const char *name)
{
    assert_int_equal(
        cairn_serf_user_event(W.nodes[from].serf, name, (const uint8_t *)"x", 1, false, NULL), 0);
}

static bool cond_all_got(serf_world *w, const void *arg)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->nodes[i].up && serf_world_user_count(&w->nodes[i], arg) == 0)
            return false;
    return true;
}

/* A kill -9: what was written (flushed) stays, the buffer is lost. The
 * serf's shutdown would flush and sync, so the file is put back to its
 * bytes from before. */
static void crash(size_t i)
{
    const uint8_t *data;
    size_t len;
    assert_int_equal(cairn_sim_file_get(W.sim, W.nodes[i].snap_path, &data, &len), 0);
    uint8_t *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, data, len);
    if (getenv("SNAP_DEBUG"))
        fprintf(stderr, "%.*s---\n", (int)len, (const char *)data);
    serf_world_kill(&W, i);
    assert_int_equal(cairn_sim_file_set(W.sim, W.nodes[i].snap_path, copy, len), 0);
    free(copy);
}

static void test_crash_restart(void **state)
{
    (void)state;
    world(101, 5, false);
    send_event(1, "before-1");
    send_event(2, "before-2");
    assert_true(
        serf_world_run_until(&W, cond_all_got, "before-2", 100 * CAIRN_MSEC, 10 * CAIRN_SEC) >= 0);
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC); /* past a 500 ms flush */
    cairn_serf_stats old;
    cairn_serf_get_stats(W.nodes[3].serf, &old);
    assert_int_equal(serf_world_user_count(&W.nodes[3], "before-1"), 1);

    crash(3);
    cairn_sim_run_for(W.sim, 3 * CAIRN_SEC);
    /* Restart: no join call; the snapshot's members are re-joined. */
    assert_int_equal(serf_world_start(&W, 3), 0);
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[3].serf, &st);
    assert_true(st.member_time >= old.member_time);
    assert_true(st.event_time >= 2); /* both events had LTime 1 */
    assert_true(st.event_time >= old.event_time);
    assert_true(serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 60 * CAIRN_SEC) >=
                0);
    cairn_serf_get_stats(W.nodes[3].serf, &st);
    assert_true(st.snapshot_rejoin_attempts >= 1);
    assert_int_equal(cairn_serf_num_members(W.nodes[3].serf), 5);
    /* Push/pull brought the others' event buffers: nothing old delivered. */
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    assert_int_equal(serf_world_user_count(&W.nodes[3], "before-1"), 0);
    assert_int_equal(serf_world_user_count(&W.nodes[3], "before-2"), 0);
    send_event(1, "after");
    assert_true(serf_world_run_until(&W, cond_all_got, "after", 100 * CAIRN_MSEC, 10 * CAIRN_SEC) >=
                0);
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC);
    assert_int_equal(serf_world_user_count(&W.nodes[3], "after"), 1);
    cairn_serf_get_stats(W.nodes[3].serf, &st);
    printf("crash/restart: clocks %llu/%llu (before %llu/%llu), %llu events too old or before "
           "min, %llu lines written\n",
           (unsigned long long)st.member_time, (unsigned long long)st.event_time,
           (unsigned long long)old.member_time, (unsigned long long)old.event_time,
           (unsigned long long)(st.events_too_old + st.events_before_min),
           (unsigned long long)st.snapshot_lines);
    serf_world_destroy(&W);
}

static void on_left(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)count;
    *(int *)ud = status;
}

static void leave_restart(bool rejoin_after_leave)
{
    world(202, 4, rejoin_after_leave);
    int st = 1;
    assert_int_equal(cairn_serf_leave(W.nodes[2].serf, on_left, &st), 0);
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    assert_int_equal(st, 0);
    serf_world_kill(&W, 2);
    const uint8_t *data;
    size_t len;
    assert_int_equal(cairn_sim_file_get(W.sim, W.nodes[2].snap_path, &data, &len), 0);
    assert_true(len >= 6 && memcmp(data + len - 6, "leave\n", 6) == 0);
    assert_int_equal(serf_world_start(&W, 2), 0);
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    size_t seen = cairn_serf_num_members(W.nodes[2].serf);
    if (rejoin_after_leave) {
        assert_true(serf_world_converged(&W));
        assert_int_equal(seen, 4);
    } else {
        assert_int_equal(seen, 1);
        assert_int_equal(serf_world_seeing(&W, 2, CAIRN_MEMBER_ALIVE), 0);
    }
    serf_world_destroy(&W);
}

static void test_leave_restart_stays_out(void **state)
{
    (void)state;
    leave_restart(false);
}

static void test_leave_restart_rejoin_after_leave(void **state)
{
    (void)state;
    leave_restart(true);
}

static void test_compaction_bounded(void **state)
{
    (void)state;
    world(303, 2, false);
    size_t max_len = 0;
    char name[32];
    for (int i = 0; i < 12000; i++) {
        snprintf(name, sizeof(name), "e%d", i % 50);
        send_event(1, name);
        if (i % 100 == 99) {
            cairn_sim_run_for(W.sim, 600 * CAIRN_MSEC);
            const uint8_t *data;
            size_t len;
            assert_int_equal(cairn_sim_file_get(W.sim, W.nodes[1].snap_path, &data, &len), 0);
            if (len > max_len)
                max_len = len;
        }
    }
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    printf("compaction: %llu lines, %llu compactions, file at most %zu bytes\n",
           (unsigned long long)st.snapshot_lines, (unsigned long long)st.snapshot_compactions,
           max_len);
    assert_true(st.snapshot_compactions >= 1);
    assert_true(max_len <= 128 * 1024 + 64 * 1024);
    uint64_t ev = st.event_time;
    serf_world_kill(&W, 1);
    assert_int_equal(serf_world_start(&W, 1), 0);
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_true(st.event_time >= ev);
    assert_int_equal(st.snapshot_replay_skipped, 0);
    serf_world_destroy(&W);
}

/* Member churn instead of events: 40 members (fake memberlist nodes fed
 * to node 1) join and fail 200 times over, 16,000 alive / not-alive lines;
 * compaction keeps the file near its 128 KiB threshold. */
static void test_compaction_bounded_member_churn(void **state)
{
    (void)state;
    world(304, 2, false);
    cairn_serf *s = W.nodes[1].serf;
    size_t max_len = 0;
    char name[16];
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 40; k++) {
            snprintf(name, sizeof(name), "churn%d", k);
            cairn_ml_node n = {.name = name, .state = CAIRN_ML_ALIVE};
            uint8_t ip[4] = {10, 9, 9, (uint8_t)(k + 1)};
            assert_int_equal(cairn_addr_from_ip(ip, 4, 7946, &n.addr), 0);
            n.pmin = 1, n.pmax = 5, n.pcur = 2, n.dmin = 2, n.dmax = 5, n.dcur = 4;
            cairn__serf_node_join(s, &n);
            n.state = CAIRN_ML_DEAD;
            cairn__serf_node_leave(s, &n);
        }
        cairn_sim_run_for(W.sim, 600 * CAIRN_MSEC);
        const uint8_t *data;
        size_t len;
        assert_int_equal(cairn_sim_file_get(W.sim, W.nodes[1].snap_path, &data, &len), 0);
        if (len > max_len)
            max_len = len;
    }
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    printf("member churn: %llu lines, %llu compactions, file at most %zu bytes\n",
           (unsigned long long)st.snapshot_lines, (unsigned long long)st.snapshot_compactions,
           max_len);
    assert_true(st.snapshot_lines >= 16000);
    assert_true(st.snapshot_compactions >= 1);
    assert_true(max_len <= 128 * 1024 + 64 * 1024);
    serf_world_destroy(&W);
}

struct logbuf {
    char text[4096];
    size_t len;
};

static void on_log(int level, const char *module, const char *msg, void *ud)
{
    struct logbuf *b = ud;
    (void)module;
    if (level >= CAIRN_LOG_WARN && b->len < sizeof(b->text) - 1) {
        int n = snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s\n", msg);
        if (n > 0)
            b->len += (size_t)n < sizeof(b->text) - b->len ? (size_t)n : 0;
    }
}

static void test_corrupt_lines_skipped(void **state)
{
    (void)state;
    world(404, 2, false);
    serf_world_kill(&W, 1);
    char big[3000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char file[8192];
    snprintf(file, sizeof(file),
             "# written by hand\n"
             "alive: n0 10.0.0.0:7946\n"
             "clock: 12x\n"          /* 3: bad clock */
             "alive: nospace\n"      /* 4: no address */
             "what is this\n"        /* 5: unrecognized */
             "alive: %s 1.2.3.4:5\n" /* 6: too long */
             "coordinate: {}\n"
             "alive: my node [fd00::1]:7946\n"
             "not-alive: my node\n"
             "clock: 40\n"
             "event-clock: 30\n"
             "query-clock: 20\n"
             "event-clock: 3", /* 13: torn */
             big);
    assert_int_equal(cairn_sim_file_set(W.sim, W.nodes[1].snap_path, file, strlen(file)), 0);
    struct logbuf lb = {0};
    cairn_logger lg = {.cb = on_log, .userdata = &lb, .level = CAIRN_LOG_WARN};
    W.logger = &lg;
    assert_int_equal(serf_world_start(&W, 1), 0);
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_int_equal(st.snapshot_replay_skipped, 5);
    assert_int_equal(st.member_time, 41);
    assert_int_equal(st.event_time, 31);
    assert_int_equal(st.query_time, 21);
    assert_non_null(strstr(lb.text, "line 3 skipped"));
    assert_non_null(strstr(lb.text, "line 13 skipped: torn"));
    assert_non_null(strstr(lb.text, "line 6 skipped: line longer"));
    /* It re-joins n0 from the one remembered member. */
    assert_true(serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 30 * CAIRN_SEC) >=
                0);
    W.logger = NULL;
    serf_world_destroy(&W);
}

static void test_sync_failure_counted(void **state)
{
    (void)state;
    world(505, 3, false);
    cairn_sim_file_fail_sync(W.sim, 100);
    int st = 1;
    assert_int_equal(cairn_serf_leave(W.nodes[2].serf, on_left, &st), 0);
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    assert_int_equal(st, 0);
    cairn_serf_stats ss;
    cairn_serf_get_stats(W.nodes[2].serf, &ss);
    assert_true(ss.snapshot_errors >= 1);
    cairn_sim_file_fail_sync(W.sim, 0);
    /* The leave line was written (only its sync failed). */
    serf_world_kill(&W, 2);
    const uint8_t *data;
    size_t len;
    assert_int_equal(cairn_sim_file_get(W.sim, W.nodes[2].snap_path, &data, &len), 0);
    assert_true(len >= 6 && memcmp(data + len - 6, "leave\n", 6) == 0);
    serf_world_destroy(&W);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    static const char file[] = "alive: n0 10.0.0.0:7946\nalive: n9 10.0.0.9:7946\n"
                               "alive: x y [fd00::1]:7\nclock: 9\nevent-clock: 4\n"
                               "query-clock: 2\nnot-alive: n9\n";
    long failed = 0;
    for (long n = 0; n < 100000; n++) {
        cairn__test_alloc_install();
        assert_int_equal(serf_world_init(&W, 606, 2), 0);
        W.snapshots = true;
        assert_int_equal(serf_world_start(&W, 0), 0);
        assert_int_equal(cairn_sim_file_set(W.sim, "/snap/n1", file, sizeof(file) - 1), 0);
        long live = cairn__test_alloc_live();
        cairn__test_alloc_fail_after(n);
        int r = serf_world_start(&W, 1);
        bool hit = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        assert_true(r == 0 || r == CAIRN_ENOMEM);
        if (r == 0)
            cairn_sim_run_for(W.sim, 2 * CAIRN_SEC);
        if (r < 0)
            assert_int_equal(cairn__test_alloc_live(), live);
        serf_world_destroy(&W);
        assert_int_equal(cairn__test_alloc_live(), 0);
        cairn__test_alloc_uninstall();
        if (!hit)
            break;
        failed += r < 0;
    }
    printf("alloc sweep: %ld starts failed with ENOMEM\n", failed);
    assert_true(failed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_restart),
        cmocka_unit_test(test_leave_restart_stays_out),
        cmocka_unit_test(test_leave_restart_rejoin_after_leave),
        cmocka_unit_test(test_compaction_bounded),
        cmocka_unit_test(test_compaction_bounded_member_churn),
        cmocka_unit_test(test_corrupt_lines_skipped),
        cmocka_unit_test(test_sync_failure_counted),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
