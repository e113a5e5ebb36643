/* Benchmark of memberlist on the deterministic simulator (cairn/sim.h), LAN
 * profile (probe 1 s, probe timeout 500 ms, gossip 200 ms to 3 nodes),
 * links of 1 ms latency, compression off. One JSON object per figure on
 * stdout; progress on stderr.
 *
 * Join pattern (printed in each object): three seed nodes join each other,
 * then every other node calls join with the three seed addresses (as
 * serf's retry_join toward a few servers), one node every 2 ms (a rolling
 * start: 2 s for 1,000 nodes, 20 s for 10,000).
 *
 * Two starts:
 *   - rolling (default for sizes given as arguments): the join pattern
 *     above. Every member queues an alive message for every member it
 *     learns. The world's members share one message pool (cairn_ml_pool,
 *     tests/support/ml_world.c), so a queued alive costs a 16-byte slot
 *     and a name-index entry per member, its bytes being stored once per
 *     process: memory grows as about 160 bytes x N^2 with the node tables
 *     (before the pool: 300 bytes x N^2, a 10,000 run OOM-killed at 24 GB
 *     with 9,000 joined); a size stops with an "error" object when the
 *     process's RSS passes BENCH_ML_RSS_GB (default 16).
 *   - warm (--warm): the N members start converged, each preloaded with
 *     the same alive list of all N (cairn_memberlist_preload), about
 *     94 bytes x N^2 of heap (11.6 GB of RSS at 10,000).
 *
 * Figures:
 *   - converge (rolling): virtual time from the last join call (and from
 *     the first) until every node counts all N members alive (num_members
 *     == N at every node, then a full N x N state check), in seconds and
 *     probe periods;
 *   - join_converge (warm): WARM_JOINS new nodes join one after the other;
 *     the time until 99.99 % and then all of the other members list the
 *     newcomer alive (one rumour's dissemination: what the serf
 *     convergence model predicts) and until it lists them all;
 *   - detect: random non-seed members are killed one after the other (5,
 *     or BENCH_ML_KILLS in warm runs; one in a rolling 10,000); the periods
 *     until some member first suspects it (SWIM: e/(e-1) ~ 1.58 periods to
 *     the first probe of it, plus the probe timeout), until some member
 *     declares it dead, and until every member knows it dead (sampled every
 *     100 ms);
 *   - sim_speed (rolling N >= 1,000): 60 virtual seconds of the
 *     converged cluster 10 s after convergence (members still gossip the
 *     join's alive backlog); with BENCH_ML_DRAINED=1 also 60 virtual
 *     seconds once every member's broadcast queue is empty (the steady
 *     state: probes, acks, push/pulls); simulated seconds per wall second
 *     and per CPU second (steadier on a loaded machine), events per wall
 *     second. Baseline in the same run: the same 1,000
 *     simulated node loops with only memberlist's periodic timers (a 1 s
 *     and a 200 ms timer each, re-armed, no packets), i.e. the cost of the
 *     simulator's event heap and clock with the protocol removed;
 *   - sim_speed_warm: 20 virtual seconds after every member's first
 *     push/pull (probes and acks only; the scaled push/pull interval has
 *     not come round yet), and the wall time of those first push/pulls.
 *
 * No arguments: rolling 1,000, warm 1,000, warm 10,000.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "cairn/memberlist.h"
#include "cairn/sim.h"
#include "ml_world.h"

#define SEEDS        3
#define JOIN_GAP     (2 * CAIRN_MSEC)
#define DETECT_KILLS 5
#define WARM_JOINS   5

/* Resident memory of this process in GB (0 if unknown). */
static double rss_gb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, res = 0;
    int got = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return got == 2 ? (double)res * (double)sysconf(_SC_PAGESIZE) / 1e9 : 0;
}

/* The RSS cap (GB): BENCH_ML_RSS_GB, default 16 (the machine has 24 GB,
 * shared; a warm 10,000 needs about 11.5 GB). */
static double rss_cap(void)
{
    const char *e = getenv("BENCH_ML_RSS_GB");
    return e != NULL && atof(e) > 0 ? atof(e) : 16.0;
}

/* True (after printing an "error" object for figure `name`) when the run
 * must stop. */
static bool over_cap(const char *name, size_t n, const char *phase, size_t progress)
{
    double gb = rss_gb();
    if (gb <= rss_cap())
        return false;
    printf("{\"name\":\"%s\",\"n\":%zu,\"error\":\"stopped: RSS %.1f GB over the "
           "%.1f GB cap (BENCH_ML_RSS_GB) during %s at %zu\"}\n",
           name, n, gb, rss_cap(), phase, progress);
    fflush(stdout);
    return true;
}

/* Peak resident memory of this process in GB (VmHWM; 0 if unknown). */
static double peak_rss_gb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1e3 / 1e9;
}

/* Heap bytes in use (malloc's own count: exact, unlike RSS, which keeps
 * what earlier sizes freed). */
static double heap_gb(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks / 1e9;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_memberlist_sim: %s: %s\n", what, cairn_strerror(r));
    exit(1);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds used by this process: steadier than wall time on a loaded
 * machine (the speed figures give both). */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void baseline(ml_world *w, size_t n, cairn_time virtual, double *ret_wall,
                     double *ret_events);

/* Messages in every live member's broadcast queue. */
static uint64_t queued(const ml_world *w)
{
    uint64_t q = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->nodes[i].up)
            continue;
        cairn_ml_stats st;
        cairn_memberlist_get_stats(w->nodes[i].ml, &st);
        q += st.broadcast_queue;
    }
    return q;
}

/* One speed window: `virtual` of the world as it is; prints an
 * ml_sim_speed object (window names what came before it). */
static void speed_window(ml_world *w, size_t n, const char *window, cairn_time virtual)
{
    cairn_sim_stats a, b;
    cairn_sim_get_stats(w->sim, &a);
    double t0 = wall(), c0 = cpu();
    cairn_sim_run_for(w->sim, virtual);
    double dt = wall() - t0, dc = cpu() - c0;
    cairn_sim_get_stats(w->sim, &b);
    double bdt, bev;
    baseline(w, n, virtual, &bdt, &bev);
    double vs = cairn_time_seconds(virtual);
    printf("{\"name\":\"ml_sim_speed\",\"n\":%zu,\"profile\":\"lan\",\"window\":\"%s\","
           "\"virtual_s\":%.0f,\"wall_s\":%.2f,\"cpu_s\":%.2f,\"sim_s_per_wall_s\":%.2f,"
           "\"sim_s_per_cpu_s\":%.2f,\"events_per_wall_s\":%.0f,\"packets\":%llu,"
           "\"baseline\":\"same node loops, 1 s + 200 ms timers only\","
           "\"baseline_sim_s_per_wall_s\":%.1f,\"baseline_events_per_wall_s\":%.0f}\n",
           n, window, vs, dt, dc, vs / dt, vs / dc, (double)(b.events - a.events) / dt,
           (unsigned long long)(b.packets_sent - a.packets_sent), vs / bdt, bev / bdt);
    fflush(stdout);
}

/* n simulated nodes, all started: members and later joiners alike. */
static void world_new(ml_world *w, uint64_t seed, size_t n)
{
    int r;
    if ((r = ml_world_init(w, seed, n)) < 0 || (r = ml_world_start_all(w)) < 0)
        die("world", r);
}

/* Baseline timer: re-arms itself with its period (userdata). */
static void rearm(cairn_timer *t, void *ud)
{
    cairn_timer_start(t, *(const cairn_time *)ud);
}

/* Detection: `kills` random non-seed members, one after the other (each
 * once the previous is known dead by every live member). */
static void detect(ml_world *w, int kills, const char *start, double t_wall)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        n += w->nodes[i].up;
    double sum[3] = {0, 0, 0};
    size_t live = n;
    for (int k = 0; k < kills; k++) {
        size_t victim;
        do
            victim = SEEDS + (size_t)cairn_rng_below(cairn_sim_rng(w->sim), w->n - SEEDS);
        while (!w->nodes[victim].up);
        char name[16];
        snprintf(name, sizeof(name), "%s", w->nodes[victim].name);
        ml_world_kill(w, victim);
        live--;
        cairn_time t_kill = cairn_sim_now(w->sim), t_susp = -1, t_dead = -1, t_all = -1;
        while (t_all < 0 && cairn_sim_now(w->sim) - t_kill < 600 * CAIRN_SEC) {
            cairn_sim_run_for(w->sim, 100 * CAIRN_MSEC);
            cairn_time el = cairn_sim_now(w->sim) - t_kill;
            if (t_susp < 0 && ml_world_seeing(w, name, CAIRN_ML_SUSPECT) > 0)
                t_susp = el;
            if (t_susp >= 0) {
                size_t d = ml_world_seeing(w, name, CAIRN_ML_DEAD);
                if (t_dead < 0 && d > 0)
                    t_dead = el;
                if (d == live)
                    t_all = el;
            }
        }
        double pi = (double)w->cfg.probe_interval;
        double f[3] = {(double)t_susp / pi, (double)t_dead / pi,
                       t_all < 0 ? -1.0 : (double)t_all / pi};
        for (int j = 0; j < 3; j++)
            sum[j] += f[j];
        printf("{\"name\":\"ml_detect\",\"n\":%zu,\"start\":\"%s\",\"kill\":%d,"
               "\"first_suspect_periods\":%.1f,\"first_dead_periods\":%.1f,"
               "\"all_dead_periods\":%.1f,\"sample_step_periods\":0.1,"
               "\"swim_first_detection_periods\":1.58,\"wall_s\":%.1f}\n",
               n, start, k + 1, f[0], f[1], f[2], wall() - t_wall);
        fflush(stdout);
    }
    if (kills > 1)
        printf("{\"name\":\"ml_detect_mean\",\"n\":%zu,\"start\":\"%s\",\"kills\":%d,"
               "\"first_suspect_periods\":%.2f,\"first_dead_periods\":%.2f,"
               "\"all_dead_periods\":%.2f}\n",
               n, start, kills, sum[0] / kills, sum[1] / kills, sum[2] / kills);
    fflush(stdout);
}

/* The baseline of a speed figure: the first n of w's node loops again, in
 * a world of their own with only memberlist's periodic timers (the probe
 * and gossip intervals, re-armed, no packets), run for `virtual`. Returns
 * its wall seconds and events. */
static void baseline(ml_world *w, size_t n, cairn_time virtual, double *ret_wall,
                     double *ret_events)
{
    cairn_sim *bs;
    if (cairn_sim_new(1, &bs) < 0)
        die("sim_new", CAIRN_ENOMEM);
    cairn_loop **loops = calloc(n, sizeof(*loops));
    cairn_timer **timers = calloc(2 * n, sizeof(*timers));
    if (loops == NULL || timers == NULL)
        die("baseline", CAIRN_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        int r;
        if ((r = cairn_sim_node_loop(bs, &w->nodes[i].addr, &loops[i])) < 0)
            die("baseline node", r);
        for (int k = 0; k < 2; k++) {
            cairn_time *per = k ? &w->cfg.probe_interval : &w->cfg.gossip_interval;
            if ((r = cairn_timer_new(loops[i], rearm, per, &timers[2 * i + k])) < 0)
                die("baseline timer", r);
            cairn_timer_start(timers[2 * i + k],
                              (cairn_time)cairn_rng_below(cairn_sim_rng(bs), (uint64_t)*per));
        }
    }
    double b0 = wall();
    cairn_sim_run_for(bs, virtual);
    *ret_wall = wall() - b0;
    cairn_sim_stats bst;
    cairn_sim_get_stats(bs, &bst);
    *ret_events = (double)bst.events;
    for (size_t i = 0; i < 2 * n; i++)
        cairn_timer_delete(timers[i]);
    for (size_t i = 0; i < n; i++)
        cairn_loop_delete(loops[i]);
    cairn_sim_delete(bs);
    free(loops);
    free(timers);
}

static const char *JOIN_DESC = "3 seeds join each other; every other node joins the 3 seed "
                               "addresses, one node every 2 ms";

static void run_rolling(size_t n, bool speed)
{
    ml_world w;
    double t_wall = wall();
    world_new(&w, 20261127 + n, n);
    double period = cairn_time_seconds(w.cfg.probe_interval);
    cairn_addr seeds[SEEDS];
    for (size_t i = 0; i < SEEDS; i++)
        seeds[i] = w.nodes[i].addr;
    cairn_time t_first = cairn_sim_now(w.sim);
    for (size_t i = 0; i < n; i++) {
        int r = cairn_memberlist_join(w.nodes[i].ml, seeds, SEEDS, NULL, NULL);
        if (r < 0)
            die("join", r);
        cairn_sim_run_for(w.sim, JOIN_GAP);
        if (i % 100 == 99 && over_cap("ml_converge", n, "joins", i + 1)) {
            ml_world_destroy(&w);
            return;
        }
        if (i % 1000 == 999)
            fprintf(stderr, "# N=%zu: %zu joined, wall %.0f s, RSS %.1f GB\n", n, i + 1,
                    wall() - t_wall, rss_gb());
    }
    cairn_time t_last = cairn_sim_now(w.sim) - JOIN_GAP;
    cairn_time limit = t_last + 600 * CAIRN_SEC;
    fprintf(stderr,
            "# N=%zu: last join, wall %.0f s, RSS %.2f GB, heap %.3f GB (%.1f B per member "
            "pair), %llu queued\n",
            n, wall() - t_wall, rss_gb(), heap_gb(), heap_gb() * 1e9 / ((double)n * (double)n),
            (unsigned long long)queued(&w));
    while (!ml_world_converged(&w)) {
        if (cairn_sim_now(w.sim) > limit) {
            fprintf(stderr, "# N=%zu: no convergence within 600 s\n", n);
            exit(1);
        }
        cairn_sim_run_for(w.sim, 500 * CAIRN_MSEC);
        if (over_cap("ml_converge", n, "convergence (virtual ms after last join)",
                     (size_t)((cairn_sim_now(w.sim) - t_last) / CAIRN_MSEC))) {
            ml_world_destroy(&w);
            return;
        }
        fprintf(stderr, "# N=%zu: t=%.1f s, wall %.0f s, RSS %.2f GB, heap %.3f GB\n", n,
                cairn_time_seconds(cairn_sim_now(w.sim) - t_first), wall() - t_wall, rss_gb(),
                heap_gb());
    }
    fprintf(stderr,
            "# N=%zu: converged, RSS %.2f GB, heap %.3f GB (%.1f B per member pair), %llu "
            "queued\n",
            n, rss_gb(), heap_gb(), heap_gb() * 1e9 / ((double)n * (double)n),
            (unsigned long long)queued(&w));
    double from_last = cairn_time_seconds(cairn_sim_now(w.sim) - t_last);
    double from_first = cairn_time_seconds(cairn_sim_now(w.sim) - t_first);
    printf("{\"name\":\"ml_converge\",\"n\":%zu,\"join\":\"%s\",\"seconds_after_last_join\":%.1f,"
           "\"periods_after_last_join\":%.1f,\"seconds_after_first_join\":%.1f,"
           "\"check_step_s\":0.5,\"serf_model_99.99pct_s\":%s,\"wall_s\":%.1f,"
           "\"peak_rss_gb\":%.2f}\n",
           n, JOIN_DESC, from_last, from_last / period, from_first,
           n == 10000  ? "2.6"
           : n == 1000 ? "2.2"
                       : "null",
           wall() - t_wall, peak_rss_gb());
    fflush(stdout);
    /* BENCH_ML_CONVERGE_ONLY=1: stop at convergence (memory figures). */
    const char *co = getenv("BENCH_ML_CONVERGE_ONLY");
    if (co != NULL && atoi(co) > 0) {
        ml_world_destroy(&w);
        return;
    }

    if (speed) {
        cairn_sim_run_for(w.sim, 10 * CAIRN_SEC); /* settle */
        speed_window(&w, n, "10 s after convergence (alive backlog still gossiped)",
                     60 * CAIRN_SEC);
        /* BENCH_ML_DRAINED=1: then the true steady state, once every
         * member's broadcast queue is empty (probes, acks, push/pulls);
         * the detection figures below then start later (other draws). */
        const char *e = getenv("BENCH_ML_DRAINED");
        if (e != NULL && atoi(e) > 0) {
            cairn_time t0 = cairn_sim_now(w.sim);
            double w0 = wall();
            while (queued(&w) > 0 && cairn_sim_now(w.sim) - t0 < 1200 * CAIRN_SEC)
                cairn_sim_run_for(w.sim, CAIRN_SEC);
            printf("{\"name\":\"ml_backlog_drained\",\"n\":%zu,\"virtual_s_after_"
                   "convergence\":%.0f,\"queued_left\":%llu,\"wall_s\":%.1f}\n",
                   n, 70 + cairn_time_seconds(cairn_sim_now(w.sim) - t0),
                   (unsigned long long)queued(&w), wall() - w0);
            fflush(stdout);
            speed_window(&w, n, "every broadcast queue empty (steady state)", 60 * CAIRN_SEC);
        }
    }

    detect(&w, n >= 10000 ? 1 : DETECT_KILLS, "rolling", t_wall);
    ml_world_destroy(&w);
}

/* Warm start: n members already converged (each preloaded with the same
 * alive list of all n, cairn_memberlist_preload), so no member has a
 * backlog of N alive messages to spread. Figures: the cost of that start;
 * steady-state simulator speed; WARM_JOINS new nodes joining one after the
 * other (via the 3 seeds), each followed until 99.99 % and then all of the
 * others list it alive, and until it lists them all (the dissemination of
 * one rumour: the quantity of the serf convergence model); then detection.
 */
static void run_warm(size_t n, int kills)
{
    ml_world w;
    double t_wall = wall();
    world_new(&w, 20261128 + n, n + WARM_JOINS);
    double period = cairn_time_seconds(w.cfg.probe_interval);
    for (size_t i = n; i < n + WARM_JOINS; i++)
        w.nodes[i].up = false; /* not members yet (their loops tick alone) */
    double heap0 = heap_gb();
    cairn_ml_node *list = calloc(n, sizeof(*list));
    if (list == NULL)
        die("list", CAIRN_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        cairn_memberlist_local_node(w.nodes[i].ml, &list[i]);
        list[i].name = w.nodes[i].name;
        list[i].meta = NULL;
        list[i].meta_len = 0;
    }
    double t0 = wall();
    for (size_t i = 0; i < n; i++) {
        int r = cairn_memberlist_preload(w.nodes[i].ml, list, n);
        if (r < 0)
            die("preload", r);
        if (i % 100 == 99 && over_cap("ml_warm_start", n, "warm start", i + 1))
            exit(1);
        if (i % 1000 == 999)
            fprintf(stderr, "# N=%zu warm: %zu preloaded, wall %.0f s, RSS %.1f GB\n", n, i + 1,
                    wall() - t_wall, rss_gb());
    }
    free(list);
    double preload_s = wall() - t0, gb = rss_gb(), heap = heap_gb() - heap0;
    for (size_t i = 0; i < n; i++)
        if (cairn_memberlist_num_members(w.nodes[i].ml) != n)
            die("warm start incomplete", CAIRN_EINVAL);
    printf(
        "{\"name\":\"ml_warm_start\",\"n\":%zu,\"preload_wall_s\":%.1f,"
        "\"preload_heap_gb\":%.2f,\"heap_bytes_per_member_pair\":%.0f,\"process_rss_gb\":%.2f}\n",
        n, preload_s, heap, heap * 1e9 / ((double)n * (double)n), gb);
    fflush(stdout);

    /* Every member's first push/pull of the full table comes within the
     * base 30 s interval (staggered, before the interval scales with N):
     * run that out, then measure the steady state (probes, acks, the
     * scaled push/pulls). */
    t0 = wall();
    cairn_sim_run_for(w.sim, w.cfg.push_pull_interval);
    printf("{\"name\":\"ml_warm_first_pushpulls\",\"n\":%zu,\"virtual_s\":%.0f,"
           "\"wall_s\":%.1f,\"rss_gb\":%.2f}\n",
           n, cairn_time_seconds(w.cfg.push_pull_interval), wall() - t0, rss_gb());
    fflush(stdout);
    cairn_sim_stats a, b;
    cairn_sim_get_stats(w.sim, &a);
    t0 = wall();
    cairn_sim_run_for(w.sim, 20 * CAIRN_SEC);
    double dt = wall() - t0;
    cairn_sim_get_stats(w.sim, &b);
    size_t short_views = 0;
    for (size_t i = 0; i < n; i++)
        short_views += cairn_memberlist_num_members(w.nodes[i].ml) != n;
    double bdt, bev;
    baseline(&w, n, 20 * CAIRN_SEC, &bdt, &bev);
    printf("{\"name\":\"ml_sim_speed_warm\",\"n\":%zu,\"virtual_s\":20,\"wall_s\":%.1f,"
           "\"sim_s_per_wall_s\":%.3f,\"events_per_wall_s\":%.0f,\"packets\":%llu,"
           "\"members_not_seeing_all_alive\":%zu,"
           "\"baseline\":\"same node loops, 1 s + 200 ms timers only\","
           "\"baseline_sim_s_per_wall_s\":%.1f,\"baseline_events_per_wall_s\":%.0f,"
           "\"slowdown_vs_baseline\":%.1f}\n",
           n, dt, 20.0 / dt, (double)(b.events - a.events) / dt,
           (unsigned long long)(b.packets_sent - a.packets_sent), short_views, 20.0 / bdt,
           bev / bdt, dt / bdt);
    fflush(stdout);

    cairn_addr seeds[SEEDS];
    for (size_t i = 0; i < SEEDS; i++)
        seeds[i] = w.nodes[i].addr;
    size_t members = n;
    for (size_t j = n; j < n + WARM_JOINS; j++) {
        ml_world_node *jn = &w.nodes[j];
        cairn_time t_join = cairn_sim_now(w.sim), t_most = -1, t_all = -1, t_knows = -1;
        int r = cairn_memberlist_join(jn->ml, seeds, SEEDS, NULL, NULL);
        if (r < 0)
            die("join", r);
        jn->up = true;
        size_t most = members - members / 10000; /* 99.99 %, rounded up */
        while ((t_all < 0 || t_knows < 0) && cairn_sim_now(w.sim) - t_join < 300 * CAIRN_SEC) {
            cairn_sim_run_for(w.sim, 100 * CAIRN_MSEC);
            cairn_time el = cairn_sim_now(w.sim) - t_join;
            /* The others listing it alive (it lists itself alive). */
            size_t c = members - ml_world_seeing(&w, jn->name, CAIRN_ML_SUSPECT);
            if (t_most < 0 && c >= most)
                t_most = el;
            if (t_all < 0 && c == members)
                t_all = el;
            if (t_knows < 0 && cairn_memberlist_num_members(jn->ml) == members + 1)
                t_knows = el;
        }
        members++;
        printf("{\"name\":\"ml_join_converge\",\"n\":%zu,\"start\":\"warm\",\"join\":%zu,"
               "\"seconds_to_99.99pct\":%.1f,\"seconds_to_all\":%.1f,"
               "\"periods_to_all\":%.1f,\"joiner_knows_all_s\":%.1f,\"sample_step_s\":0.1,"
               "\"serf_model_99.99pct_s\":%s,\"wall_s\":%.1f}\n",
               members, j - n + 1, cairn_time_seconds(t_most), cairn_time_seconds(t_all),
               cairn_time_seconds(t_all) / period, cairn_time_seconds(t_knows),
               n >= 10000  ? "2.6"
               : n >= 1000 ? "2.2"
                           : "null",
               wall() - t_wall);
        fflush(stdout);
    }
    detect(&w, kills, "warm", t_wall);
    ml_world_destroy(&w);
}

/* The kills per warm size: BENCH_ML_KILLS (default DETECT_KILLS). */
static int warm_kills(void)
{
    const char *e = getenv("BENCH_ML_KILLS");
    return e != NULL && atoi(e) > 0 ? atoi(e) : DETECT_KILLS;
}

/* argv: [--warm] N...: the sizes to run, from a rolling join (default) or
 * warm; the simulator speed figure comes with rolling N >= 1000. No
 * arguments: rolling 1000, then warm 1000 and warm 10000. */
int main(int argc, char **argv)
{
    if (argc < 2) {
        run_rolling(1000, true);
        run_warm(1000, warm_kills());
        run_warm(10000, warm_kills());
        return 0;
    }
    bool warm = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--warm") == 0) {
            warm = true;
            continue;
        }
        char *end;
        long n = strtol(argv[i], &end, 10);
        if (*end != 0 || n < SEEDS + 2 || n > 100000) {
            fprintf(stderr, "usage: bench_memberlist_sim [--warm] [N...] (N in 5..100000)\n");
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--warm") == 0)
            continue;
        size_t n = (size_t)atol(argv[i]);
        if (warm)
            run_warm(n, warm_kills());
        else
            run_rolling(n, n >= 1000);
    }
    return 0;
}
