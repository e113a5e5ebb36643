/* Benchmark of the routing hot path and of datacenters by distance.
 *
 * find_server / find_route (what the issue asks for): 1 and 2 reader
 * threads call cairn_manager_find_server (one manager with 5 servers) or
 * cairn_router_find_route("dc1") (the router of Consul's testCluster: four
 * datacenters, dc1 with 4 servers) as fast as they can for MEASURE_NS,
 * while the main thread adds and removes one extra server of that manager /
 * dc WRITE_HZ times a second on an absolute schedule (the rate achieved is
 * measured and reported as writes_per_sec; a writer that blocks falls
 * behind and shows it). ns_per_op is a reader's wall time per lookup,
 * averaged over the readers; cpu_ns_per_op the same with the reader's
 * thread CPU time (less disturbed by the other tenants of a shared machine,
 * but blind to time spent asleep on a contended lock). Each figure is the
 * best of RUNS runs interleaved with the baselines'.
 *
 * Baselines, measured in the same run on the same objects: exactly the same
 * lookup call, made under one pthread mutex (baseline_*) or under the read
 * side of one pthread rwlock (rwlock_*), with the writer taking that lock
 * (exclusively) around the same add/remove at the same rate. So the ratio
 * is the cost of the synchronisation and nothing else: RCU's read side
 * against a lock's two atomic read-modify-writes of a shared cache line.
 * ratio = baseline_ns_per_op / ns_per_op.
 *
 * dcs_by_distance: cairn_router_get_datacenters_by_distance over 2 areas of
 * 100 datacenters x 5 servers (random coordinates, seeded). Baseline: a
 * naive port of Go's algorithm with maps replaced by linear scans: for each
 * member a linear search of the datacenter list, per-datacenter lists grown
 * one element at a time, insertion sorts for the medians and for the final
 * stable RTT sort. Both check members with the same parse
 * (cairn__server_check_member: every IsConsulServer rule, no record built)
 * and read coordinates through the same cluster seam, so the difference is
 * the grouping and sorting.
 *
 * `bench_router --profile N` instead makes N single-threaded calls of each
 * lookup and of the mutex baseline (no writer) and 3 of each by-distance
 * function (profile_*), and prints nothing: run it
 * under `valgrind --tool=callgrind` for exact instruction counts per call
 * (the profile_* functions), which a noisy machine cannot disturb.
 *
 * One JSON object per line, e.g.
 *   {"name":"find_route","threads":2,"ns_per_op":4.1,"baseline_ns_per_op":61.0,
 *    "ratio":14.9,"writes_per_sec":1000,...}
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/cairn.h"
#include "cairn/coord.h"
#include "cairn/manager.h"
#include "cairn/router.h"
#include "cairn/server.h"
#include "faux_servers.h"
#include "mock_cluster.h"
#include "servers/server_internal.h"

#define MEASURE_NS (150 * CAIRN_MSEC)
/* Each figure is the best of RUNS interleaved runs (the machine is shared:
 * the minimum is the least disturbed estimate). */
#define RUNS          3
#define WRITE_HZ      1000
#define DIST_DCS      100
#define DIST_SERVERS  5
#define DIST_CALLS_NS (200 * CAIRN_MSEC)

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_router: %s: %s\n", what, cairn_strerror(rc));
    exit(1);
}

/* ---- the reader/writer harness ---- */

enum target { T_MANAGER, T_ROUTER };
enum sync { S_RCU, S_MUTEX, S_RWLOCK };

struct run {
    enum target target;
    enum sync sync;
    cairn_manager *mgr;
    cairn_router *router;
    /* The baselines' locks. */
    pthread_mutex_t mu;
    pthread_rwlock_t rw;
    atomic_bool go, stop;
    long ops[2];
    cairn_time elapsed[2], cpu[2];
    atomic_int next_id;
};

static volatile unsigned long sink;

static cairn_time thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (cairn_time)ts.tv_sec * CAIRN_SEC + ts.tv_nsec;
}

/* lookup: one lookup of the run's target; returns a byte of the answer. */
static inline unsigned long lookup(struct run *run)
{
    cairn_server_info info;
    cairn_route rt;
    int rc;
    unsigned char c;
    if (run->target == T_MANAGER) {
        rc = cairn_manager_find_server(run->mgr, &info);
        c = (unsigned char)info.name[4];
    } else {
        rc = cairn_router_find_route(run->router, "dc1", &rt);
        c = (unsigned char)rt.server.name[4];
    }
    if (rc != 0)
        die("lookup", rc);
    return c;
}

static void *reader(void *arg)
{
    struct run *run = arg;
    int id = atomic_fetch_add(&run->next_id, 1);
    unsigned long acc = 0;
    long ops = 0;
    while (!atomic_load(&run->go))
        ;
    cairn_time t0 = cairn_monotonic_now(), c0 = thread_cpu_now();
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++) {
            switch (run->sync) {
            case S_RCU:
                acc += lookup(run);
                break;
            case S_MUTEX:
                pthread_mutex_lock(&run->mu);
                acc += lookup(run);
                pthread_mutex_unlock(&run->mu);
                break;
            case S_RWLOCK:
                pthread_rwlock_rdlock(&run->rw);
                acc += lookup(run);
                pthread_rwlock_unlock(&run->rw);
                break;
            }
        }
        ops += 256;
    }
    run->cpu[id] = thread_cpu_now() - c0;
    run->elapsed[id] = cairn_monotonic_now() - t0;
    run->ops[id] = ops;
    sink += acc;
    return NULL;
}

static void sleep_until(cairn_time deadline)
{
    struct timespec ts = {(time_t)(deadline / CAIRN_SEC), (long)(deadline % CAIRN_SEC)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* writer_op performs write number i (even: add the extra server, odd:
 * remove it) under the run's lock, if any. */
static void writer_op(struct run *run, long i, cairn_server *extra)
{
    if (run->sync == S_MUTEX)
        pthread_mutex_lock(&run->mu);
    else if (run->sync == S_RWLOCK)
        pthread_rwlock_wrlock(&run->rw);
    int rc;
    if (run->target == T_MANAGER)
        rc = (i % 2 == 0) ? cairn_manager_add_server(run->mgr, extra)
                          : cairn_manager_remove_server(run->mgr, extra->name);
    else
        rc = (i % 2 == 0) ? cairn_router_add_server(run->router, CAIRN_AREA_WAN, extra, NULL)
                          : cairn_router_remove_server(run->router, CAIRN_AREA_WAN, extra, NULL);
    if (run->sync == S_MUTEX)
        pthread_mutex_unlock(&run->mu);
    else if (run->sync == S_RWLOCK)
        pthread_rwlock_unlock(&run->rw);
    if (rc != 0)
        die("write", rc);
}

/* One measurement: per-reader ns per lookup (wall and CPU), writes/s. */
struct figure {
    double ns, cpu_ns, wps;
};

static struct figure measure(struct run *run, int threads, cairn_server *extra)
{
    pthread_t th[2];
    atomic_store(&run->go, false);
    atomic_store(&run->stop, false);
    atomic_store(&run->next_id, 0);
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, reader, run);
    atomic_store(&run->go, true);
    cairn_time start = cairn_monotonic_now();
    cairn_time next = start;
    long writes = 0;
    while (cairn_monotonic_now() - start < MEASURE_NS) {
        writer_op(run, writes++, extra);
        next += CAIRN_SEC / WRITE_HZ;
        sleep_until(next);
    }
    cairn_time wall = cairn_monotonic_now() - start;
    atomic_store(&run->stop, true);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    if (writes % 2 == 1)
        writer_op(run, writes, extra); /* leave the extra server out */
    struct figure f = {0.0, 0.0, (double)writes * 1e9 / (double)wall};
    for (int i = 0; i < threads; i++) {
        f.ns += (double)run->elapsed[i] / (double)run->ops[i] / threads;
        f.cpu_ns += (double)run->cpu[i] / (double)run->ops[i] / threads;
    }
    return f;
}

static void keep_best(struct figure *best, struct figure f)
{
    if (f.ns < best->ns) {
        best->ns = f.ns;
        best->wps = f.wps;
    }
    best->cpu_ns = fmin(best->cpu_ns, f.cpu_ns);
}

static void report(const char *name, int threads, const struct figure *f)
{
    printf("{\"name\":\"%s\",\"threads\":%d,\"ns_per_op\":%.1f,\"baseline_ns_per_op\":%.1f,"
           "\"ratio\":%.1f,\"writes_per_sec\":%.0f,\"baseline_writes_per_sec\":%.0f,"
           "\"rwlock_ns_per_op\":%.1f,\"rwlock_ratio\":%.1f,\"cpu_ns_per_op\":%.1f,"
           "\"baseline_cpu_ns_per_op\":%.1f,\"rwlock_cpu_ns_per_op\":%.1f,"
           "\"baseline\":\"same lookup under a pthread mutex\"}\n",
           name, threads, f[S_RCU].ns, f[S_MUTEX].ns, f[S_MUTEX].ns / f[S_RCU].ns, f[S_RCU].wps,
           f[S_MUTEX].wps, f[S_RWLOCK].ns, f[S_RWLOCK].ns / f[S_RCU].ns, f[S_RCU].cpu_ns,
           f[S_MUTEX].cpu_ns, f[S_RWLOCK].cpu_ns);
    fflush(stdout);
}

/* The --profile entry points, one per figure (kept out of line so that
 * callgrind reports each one's inclusive cost). */
__attribute__((noinline)) static void profile_find_server(cairn_manager *m, cairn_server_info *info)
{
    if (cairn_manager_find_server(m, info) != 0)
        die("find_server", CAIRN_EIO);
}

__attribute__((noinline)) static void profile_find_route(cairn_router *r, cairn_route *rt)
{
    if (cairn_router_find_route(r, "dc1", rt) != 0)
        die("find_route", CAIRN_EIO);
}

__attribute__((noinline)) static void
profile_find_server_mutex(pthread_mutex_t *mu, cairn_manager *m, cairn_server_info *info)
{
    pthread_mutex_lock(mu);
    profile_find_server(m, info);
    pthread_mutex_unlock(mu);
}

__attribute__((noinline)) static void profile_find_route_mutex(pthread_mutex_t *mu, cairn_router *r,
                                                               cairn_route *rt)
{
    pthread_mutex_lock(mu);
    profile_find_route(r, rt);
    pthread_mutex_unlock(mu);
}

static void profile(struct run *run, long calls)
{
    cairn_server_info info;
    cairn_route rt;
    for (long i = 0; i < calls; i++) {
        profile_find_server(run->mgr, &info);
        profile_find_route(run->router, &rt);
        profile_find_server_mutex(&run->mu, run->mgr, &info);
        profile_find_route_mutex(&run->mu, run->router, &rt);
    }
}

static void bench_lookups(cairn_loop *loop, long profile_calls)
{
    faux_serf serf;
    faux_serf_init(&serf, 16384);
    faux_conn_pool pool;
    faux_conn_pool_init(&pool, 0.0, 1);
    cairn_server *extra = faux_server("extra.dc1", "dc1");

    /* The manager: 5 servers. */
    cairn_manager_config mcfg = {
        .loop = loop, .cluster = &serf.cluster, .pinger = &pool.pinger, .seed = 1};
    cairn_manager *mgr;
    int rc = cairn_manager_new(&mcfg, &mgr);
    if (rc != 0)
        die("manager", rc);
    cairn_server *ms[5];
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%d.dc1", i);
        ms[i] = faux_server(name, "dc1");
        if ((rc = cairn_manager_add_server(mgr, ms[i])) != 0)
            die("add", rc);
    }

    /* The router over testCluster. */
    cairn_router_config rcfg = {.local_datacenter = "dc0", .loop = loop, .seed = 2};
    cairn_router *router;
    if ((rc = cairn_router_new(&rcfg, &router)) != 0)
        die("router", rc);
    mock_cluster *mc = mock_cluster_consul_test("node0.dc0");
    cairn_cluster seam = mock_cluster_seam(mc);
    if ((rc = cairn_router_add_area(router, CAIRN_AREA_WAN, &seam, &pool.pinger, NULL)) != 0)
        die("add area", rc);

    static struct run run; /* static: big, and shared with the threads */
    run.mgr = mgr;
    run.router = router;
    pthread_mutex_init(&run.mu, NULL);
    pthread_rwlock_init(&run.rw, NULL);
    if (profile_calls > 0)
        profile(&run, profile_calls);
    for (int threads = 1; profile_calls == 0 && threads <= 2; threads++) {
        const enum target targets[] = {T_MANAGER, T_ROUTER};
        const char *names[] = {"find_server", "find_route"};
        for (int t = 0; t < 2; t++) {
            struct figure best[3];
            for (int k = 0; k < 3; k++)
                best[k] = (struct figure){INFINITY, INFINITY, 0.0};
            run.target = targets[t];
            for (int k = 0; k < RUNS; k++)
                for (enum sync sy = S_RCU; sy <= S_RWLOCK; sy++) {
                    run.sync = sy;
                    keep_best(&best[sy], measure(&run, threads, extra));
                }
            report(names[t], threads, best);
        }
    }
    pthread_mutex_destroy(&run.mu);
    pthread_rwlock_destroy(&run.rw);

    cairn_router_delete(router);
    mock_cluster_delete(mc);
    cairn_manager_delete(mgr);
    for (int i = 0; i < 5; i++)
        cairn_server_unref(ms[i]);
    cairn_server_unref(extra);
}

/* ---- datacenters by distance ---- */

struct naive_dc {
    char name[CAIRN_SERVER_DC_MAX];
    double *vals;
    size_t n;
    /* In the result: the minimum median. */
    double rtt;
};

struct naive {
    const cairn_cluster *cluster;
    const char *local;
    cairn_coord self;
    struct naive_dc *dcs;
    size_t ndcs;
};

static bool naive_member(const cairn_member *m, void *userdata)
{
    struct naive *x = userdata;
    const char *dc;
    if (cairn__server_check_member(m, &dc, NULL) != 0 || m->status == CAIRN_MEMBER_LEFT)
        return true;
    double d = 0.0;
    if (strcmp(dc, x->local) != 0) {
        cairn_coord other;
        bool found = x->cluster->ops->get_cached_coordinate(x->cluster->impl, m->name, &other);
        d = cairn_compute_distance(&x->self, found ? &other : NULL);
    }
    size_t i = 0;
    while (i < x->ndcs && strcmp(x->dcs[i].name, dc) != 0)
        i++;
    if (i == x->ndcs) {
        x->dcs = realloc(x->dcs, (x->ndcs + 1) * sizeof(*x->dcs));
        memset(&x->dcs[i], 0, sizeof(x->dcs[i]));
        snprintf(x->dcs[i].name, sizeof(x->dcs[i].name), "%s", dc);
        x->ndcs++;
    }
    x->dcs[i].vals = realloc(x->dcs[i].vals, (x->dcs[i].n + 1) * sizeof(double));
    x->dcs[i].vals[x->dcs[i].n++] = d;
    return true;
}

static void insertion_sort(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* naive_by_distance returns the number of datacenters (names in best[]). */
static size_t naive_by_distance(const cairn_cluster *areas, size_t nareas, const char *local,
                                struct naive_dc *best)
{
    size_t nbest = 0;
    for (size_t a = 0; a < nareas; a++) {
        struct naive x = {.cluster = &areas[a], .local = local};
        areas[a].ops->get_coordinate(areas[a].impl, &x.self);
        areas[a].ops->for_each_member(areas[a].impl, naive_member, &x);
        for (size_t i = 0; i < x.ndcs; i++) {
            insertion_sort(x.dcs[i].vals, x.dcs[i].n);
            double median = x.dcs[i].vals[x.dcs[i].n / 2];
            size_t j = 0;
            while (j < nbest && strcmp(best[j].name, x.dcs[i].name) != 0)
                j++;
            if (j == nbest) {
                memcpy(best[j].name, x.dcs[i].name, sizeof(best[j].name));
                best[j].rtt = median;
                nbest++;
            } else if (median < best[j].rtt) {
                best[j].rtt = median;
            }
            free(x.dcs[i].vals);
        }
        free(x.dcs);
    }
    /* Name sort, then a stable insertion sort by RTT. */
    for (size_t i = 1; i < nbest; i++)
        for (size_t j = i; j > 0 && strcmp(best[j].name, best[j - 1].name) < 0; j--) {
            struct naive_dc t = best[j];
            best[j] = best[j - 1];
            best[j - 1] = t;
        }
    for (size_t i = 1; i < nbest; i++)
        for (size_t j = i; j > 0 && best[j].rtt < best[j - 1].rtt; j--) {
            struct naive_dc t = best[j];
            best[j] = best[j - 1];
            best[j - 1] = t;
        }
    return nbest;
}

__attribute__((noinline)) static void profile_by_distance(cairn_router *router, cairn_dc_buf *buf,
                                                          size_t *ret_n)
{
    int rc = cairn_router_get_datacenters_by_distance(router, buf, ret_n, NULL);
    if (rc != 0)
        die("by distance", rc);
}

__attribute__((noinline)) static size_t profile_naive_by_distance(const cairn_cluster *seams,
                                                                  struct naive_dc *best)
{
    return naive_by_distance(seams, 2, "dc000", best);
}

static void bench_by_distance(cairn_loop *loop, long profile_calls)
{
    cairn_rng rng;
    cairn_rng_init(&rng, 99);
    mock_cluster *mcs[2];
    cairn_cluster seams[2];
    for (int a = 0; a < 2; a++) {
        mcs[a] = mock_cluster_new("s0.dc000");
        for (int d = 0; d < DIST_DCS; d++) {
            for (int s = 0; s < DIST_SERVERS; s++) {
                char dc[16], name[16];
                snprintf(dc, sizeof(dc), "dc%03d", d);
                snprintf(name, sizeof(name), "s%d", s);
                cairn_coord c = mock_coord(0);
                for (int k = 0; k < 8; k++)
                    c.vec[k] = cairn_rng_double(&rng) * 0.05;
                mock_cluster_add_member(mcs[a], dc, name, &c);
            }
        }
        seams[a] = mock_cluster_seam(mcs[a]);
    }
    faux_conn_pool pool;
    faux_conn_pool_init(&pool, 0.0, 1);
    cairn_router_config rcfg = {.local_datacenter = "dc000", .loop = loop, .seed = 3};
    cairn_router *router;
    int rc = cairn_router_new(&rcfg, &router);
    if (rc != 0)
        die("router", rc);
    if ((rc = cairn_router_add_area(router, CAIRN_AREA_WAN, &seams[0], &pool.pinger, NULL)) != 0 ||
        (rc = cairn_router_add_area(router, "area2", &seams[1], &pool.pinger, NULL)) != 0)
        die("add area", rc);

    static const char *names[DIST_DCS];
    static double rtts[DIST_DCS];
    static char bytes[DIST_DCS * 8];
    static struct naive_dc best[DIST_DCS];
    cairn_dc_buf buf = {names, rtts, DIST_DCS, bytes, sizeof(bytes)};
    size_t n = 0;

    double us = INFINITY, base_us = INFINITY;
    size_t nb = 0;
    for (long i = 0; i < profile_calls; i++) {
        profile_by_distance(router, &buf, &n);
        nb = profile_naive_by_distance(seams, best);
    }
    for (int k = 0; profile_calls == 0 && k < RUNS; k++) {
        long calls = 0;
        cairn_time t0 = cairn_monotonic_now(), t1;
        do {
            if ((rc = cairn_router_get_datacenters_by_distance(router, &buf, &n, NULL)) != 0)
                die("by distance", rc);
            calls++;
            t1 = cairn_monotonic_now();
        } while (t1 - t0 < DIST_CALLS_NS);
        us = fmin(us, (double)(t1 - t0) / 1e3 / (double)calls);
        calls = 0;
        t0 = cairn_monotonic_now();
        do {
            nb = naive_by_distance(seams, 2, "dc000", best);
            calls++;
            t1 = cairn_monotonic_now();
        } while (t1 - t0 < DIST_CALLS_NS);
        base_us = fmin(base_us, (double)(t1 - t0) / 1e3 / (double)calls);
    }

    /* Both must agree. */
    if (nb != n) {
        fprintf(stderr, "bench_router: baseline disagrees (%zu vs %zu dcs)\n", nb, n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], best[i].name) != 0) {
            fprintf(stderr, "bench_router: baseline disagrees at %zu: %s vs %s\n", i, names[i],
                    best[i].name);
            exit(1);
        }
    if (profile_calls > 0)
        goto out;
    printf("{\"name\":\"dcs_by_distance\",\"datacenters\":%d,\"servers_per_dc\":%d,\"areas\":2,"
           "\"us_per_call\":%.1f,\"baseline_us_per_call\":%.1f,\"ratio\":%.2f,"
           "\"baseline\":\"naive linear-scan maps + insertion sorts, same member parse\"}\n",
           DIST_DCS, DIST_SERVERS, us, base_us, base_us / us);
out:
    cairn_router_delete(router);
    mock_cluster_delete(mcs[0]);
    mock_cluster_delete(mcs[1]);
}

int main(int argc, char **argv)
{
    long profile_calls = 0;
    if (argc == 3 && strcmp(argv[1], "--profile") == 0)
        profile_calls = atol(argv[2]);
    cairn_loop *loop;
    int rc = cairn_loop_new_manual(0, &loop);
    if (rc != 0)
        die("loop", rc);
    bench_lookups(loop, profile_calls);
    bench_by_distance(loop, profile_calls == 0 ? 0 : 3);
    cairn_loop_delete(loop);
    return 0;
}
