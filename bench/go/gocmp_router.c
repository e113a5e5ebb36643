/* gocmp_router: cairn's side of the routing comparison with the Go model of
 * Consul's Manager and Router (bench/go/router/main.go); bench/go/run.sh runs
 * both and joins them.
 *
 * `gocmp_router DIR`:
 *
 *   find_server_rN  N = 1, 2, 8 reader threads call cairn_manager_find_server
 *                   (one manager, 5 servers) as fast as they can while the
 *                   main thread adds and removes a sixth server 1,000 times
 *                   a second on an absolute schedule;
 *   find_route_rN   the same with cairn_router_find_route("dc1") on the
 *                   router of Consul's testCluster (area "wan": dc0 with
 *                   node0, dc1 with node1..node4, dc2, dcX), the writer
 *                   adding and removing a fifth dc1 server;
 *   dcs_by_distance cairn_router_get_datacenters_by_distance over 2 areas of
 *                   100 datacenters x 5 servers (seeded random coordinates,
 *                   as bench_router), written to DIR/dist_area<k>.txt, one
 *                   member a line: `name dc error height adjustment v0..v7`
 *                   (the area's own node is its first line); the answer goes
 *                   to DIR/dist_result.txt so the Go side can check its own.
 *
 * ns_op of a threaded figure is the run's wall time divided by the lookups
 * of all readers together (the inverse of the aggregate throughput); the
 * per-reader wall time per lookup is reader_ns_op, and reader_cpu_ns_op the
 * reader thread's CPU time per lookup (blind to time spent descheduled,
 * so less disturbed by other tenants). The machine has 2 cores:
 * with 8 readers (plus the writer) the threads take turns on them. Each
 * figure runs GOCMP_RUNS (3) times for 150 ms and the median is printed:
 *   {"side":"cairn","figure":...,"ns_op":...,"reader_ns_op":...,
 *    "allocs_op":...,"writes_per_s":...,"readers":N}
 * allocs_op counts calls into cairn's allocator hooks during the run (the
 * writer's included) divided by the lookups.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/alloc.h"
#include "cairn/cairn.h"
#include "cairn/coord.h"
#include "cairn/manager.h"
#include "cairn/router.h"
#include "cairn/server.h"
#include "faux_servers.h"
#include "mock_cluster.h"

#define MEASURE_NS   (150 * CAIRN_MSEC)
#define WRITE_HZ     1000
#define MAX_READERS  8
#define DIST_DCS     100
#define DIST_SERVERS 5
#define DIST_SECONDS 0.2

static int runs = 3;
static const char *dir;
static atomic_ulong alloc_calls;

static void *count_malloc(size_t n, void *ud)
{
    (void)ud;
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    return realloc(p, n);
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "gocmp_router: %s: %s\n", what, cairn_strerror(rc));
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- readers and writer ---- */

struct run {
    bool router; /* find_route, else find_server */
    cairn_manager *mgr;
    cairn_router *rt;
    atomic_bool go, stop;
    atomic_int next_id;
    long ops[MAX_READERS];
    cairn_time elapsed[MAX_READERS], cpu[MAX_READERS];
};

static volatile unsigned long sink;

static cairn_time thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (cairn_time)ts.tv_sec * CAIRN_SEC + ts.tv_nsec;
}

static void *reader(void *arg)
{
    struct run *run = arg;
    int id = atomic_fetch_add(&run->next_id, 1);
    unsigned long acc = 0;
    long ops = 0;
    cairn_server_info info;
    cairn_route route;
    while (!atomic_load(&run->go))
        ;
    cairn_time t0 = cairn_monotonic_now(), c0 = thread_cpu_now();
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++) {
            int rc;
            if (run->router) {
                rc = cairn_router_find_route(run->rt, "dc1", &route);
                acc += (unsigned char)route.server.name[4];
            } else {
                rc = cairn_manager_find_server(run->mgr, &info);
                acc += (unsigned char)info.name[4];
            }
            if (rc != 0)
                die("lookup", rc);
        }
        ops += 256;
    }
    run->cpu[id] = thread_cpu_now() - c0;
    run->elapsed[id] = cairn_monotonic_now() - t0;
    run->ops[id] = ops;
    sink += acc;
    return NULL;
}

static void writer_op(struct run *run, long i, cairn_server *extra)
{
    int rc;
    if (run->router)
        rc = (i % 2 == 0) ? cairn_router_add_server(run->rt, CAIRN_AREA_WAN, extra, NULL)
                          : cairn_router_remove_server(run->rt, CAIRN_AREA_WAN, extra, NULL);
    else
        rc = (i % 2 == 0) ? cairn_manager_add_server(run->mgr, extra)
                          : cairn_manager_remove_server(run->mgr, extra->name);
    if (rc != 0)
        die("write", rc);
}

static void sleep_until(cairn_time deadline)
{
    struct timespec ts = {(time_t)(deadline / CAIRN_SEC), (long)(deadline % CAIRN_SEC)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

struct sample {
    double ns, reader_ns, cpu_ns, allocs, wps;
};

static struct sample once(struct run *run, int readers, cairn_server *extra)
{
    pthread_t th[MAX_READERS];
    atomic_store(&run->go, false);
    atomic_store(&run->stop, false);
    atomic_store(&run->next_id, 0);
    for (int i = 0; i < readers; i++)
        pthread_create(&th[i], NULL, reader, run);
    unsigned long a0 = atomic_load(&alloc_calls);
    atomic_store(&run->go, true);
    cairn_time start = cairn_monotonic_now(), next = start;
    long writes = 0;
    while (cairn_monotonic_now() - start < MEASURE_NS) {
        writer_op(run, writes++, extra);
        next += CAIRN_SEC / WRITE_HZ;
        sleep_until(next);
    }
    cairn_time wall = cairn_monotonic_now() - start;
    atomic_store(&run->stop, true);
    for (int i = 0; i < readers; i++)
        pthread_join(th[i], NULL);
    unsigned long allocs = atomic_load(&alloc_calls) - a0;
    if (writes % 2 == 1)
        writer_op(run, writes, extra); /* leave the extra server out */
    long ops = 0;
    double reader_ns = 0.0, cpu_ns = 0.0;
    for (int i = 0; i < readers; i++) {
        ops += run->ops[i];
        reader_ns += (double)run->elapsed[i] / (double)run->ops[i] / readers;
        cpu_ns += (double)run->cpu[i] / (double)run->ops[i] / readers;
    }
    return (struct sample){(double)wall / (double)ops, reader_ns, cpu_ns,
                           (double)allocs / (double)ops, (double)writes * 1e9 / (double)wall};
}

static void lookup_figure(struct run *run, const char *name, int readers, cairn_server *extra)
{
    double ns[16], rns[16], cns[16], al[16], wps[16];
    for (int r = 0; r < runs; r++) {
        struct sample s = once(run, readers, extra);
        ns[r] = s.ns;
        rns[r] = s.reader_ns;
        cns[r] = s.cpu_ns;
        al[r] = s.allocs;
        wps[r] = s.wps;
    }
    qsort(ns, (size_t)runs, sizeof(double), cmp_double);
    qsort(rns, (size_t)runs, sizeof(double), cmp_double);
    qsort(cns, (size_t)runs, sizeof(double), cmp_double);
    qsort(al, (size_t)runs, sizeof(double), cmp_double);
    qsort(wps, (size_t)runs, sizeof(double), cmp_double);
    printf("{\"side\":\"cairn\",\"figure\":\"%s_r%d\",\"ns_op\":%.2f,\"reader_ns_op\":%.2f,"
           "\"reader_cpu_ns_op\":%.2f,\"allocs_op\":%.4f,\"writes_per_s\":%.0f,\"readers\":%d}\n",
           name, readers, ns[runs / 2], rns[runs / 2], cns[runs / 2], al[runs / 2], wps[runs / 2],
           readers);
    fflush(stdout);
}

static void lookups(cairn_loop *loop)
{
    faux_serf serf;
    faux_serf_init(&serf, 16384);
    faux_conn_pool pool;
    faux_conn_pool_init(&pool, 0.0, 1);
    cairn_server *extra = faux_server("extra.dc1", "dc1");
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
    cairn_router_config rcfg = {.local_datacenter = "dc0", .loop = loop, .seed = 2};
    cairn_router *router;
    if ((rc = cairn_router_new(&rcfg, &router)) != 0)
        die("router", rc);
    mock_cluster *mc = mock_cluster_consul_test("node0.dc0");
    cairn_cluster seam = mock_cluster_seam(mc);
    if ((rc = cairn_router_add_area(router, CAIRN_AREA_WAN, &seam, &pool.pinger, NULL)) != 0)
        die("add area", rc);

    static struct run run;
    run.mgr = mgr;
    run.rt = router;
    static const int readers[] = {1, 2, 8};
    for (int k = 0; k < 3; k++) {
        run.router = false;
        lookup_figure(&run, "find_server", readers[k], extra);
        run.router = true;
        lookup_figure(&run, "find_route", readers[k], extra);
    }
    cairn_router_delete(router);
    mock_cluster_delete(mc);
    cairn_manager_delete(mgr);
    for (int i = 0; i < 5; i++)
        cairn_server_unref(ms[i]);
    cairn_server_unref(extra);
}

/* ---- datacenters by distance ---- */

static FILE *open_out(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die(path, CAIRN_EIO);
    return f;
}

static void by_distance(cairn_loop *loop)
{
    cairn_rng rng;
    cairn_rng_init(&rng, 99);
    mock_cluster *mcs[2];
    cairn_cluster seams[2];
    for (int a = 0; a < 2; a++) {
        char file[64];
        snprintf(file, sizeof(file), "dist_area%d.txt", a);
        FILE *f = open_out(file);
        mcs[a] = mock_cluster_new("s0.dc000");
        for (int d = 0; d < DIST_DCS; d++)
            for (int s = 0; s < DIST_SERVERS; s++) {
                char dc[16], name[16];
                snprintf(dc, sizeof(dc), "dc%03d", d);
                snprintf(name, sizeof(name), "s%d", s);
                cairn_coord c = mock_coord(0);
                for (int k = 0; k < 8; k++)
                    c.vec[k] = cairn_rng_double(&rng) * 0.05;
                mock_cluster_add_member(mcs[a], dc, name, &c);
                fprintf(f, "%s.%s %s %.17g %.17g %.17g", name, dc, dc, c.error, c.height,
                        c.adjustment);
                for (int k = 0; k < 8; k++)
                    fprintf(f, " %.17g", c.vec[k]);
                fprintf(f, "\n");
            }
        fclose(f);
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
    cairn_dc_buf buf = {names, rtts, DIST_DCS, bytes, sizeof(bytes)};
    size_t n = 0;
    double ns[16], cns[16], al[16];
    for (int r = 0; r < runs; r++) {
        long calls = 0;
        unsigned long a0 = atomic_load(&alloc_calls);
        cairn_time c0 = thread_cpu_now(), t0 = cairn_monotonic_now(), t1;
        do {
            if ((rc = cairn_router_get_datacenters_by_distance(router, &buf, &n, NULL)) != 0)
                die("by distance", rc);
            calls++;
            t1 = cairn_monotonic_now();
        } while ((double)(t1 - t0) < DIST_SECONDS * 1e9);
        ns[r] = (double)(t1 - t0) / (double)calls;
        cns[r] = (double)(thread_cpu_now() - c0) / (double)calls;
        al[r] = (double)(atomic_load(&alloc_calls) - a0) / (double)calls;
    }
    qsort(ns, (size_t)runs, sizeof(double), cmp_double);
    qsort(cns, (size_t)runs, sizeof(double), cmp_double);
    qsort(al, (size_t)runs, sizeof(double), cmp_double);
    FILE *f = open_out("dist_result.txt");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", names[i]);
    fclose(f);
    printf("{\"side\":\"cairn\",\"figure\":\"dcs_by_distance\",\"ns_op\":%.1f,\"cpu_ns_op\":%.1f,"
           "\"allocs_op\":%.2f,\"datacenters\":%zu}\n",
           ns[runs / 2], cns[runs / 2], al[runs / 2], n);
    cairn_router_delete(router);
    mock_cluster_delete(mcs[0]);
    mock_cluster_delete(mcs[1]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gocmp_router DIR (see bench/go/run.sh)\n");
        return 2;
    }
    dir = argv[1];
    const char *s = getenv("GOCMP_RUNS");
    if (s != NULL && atoi(s) > 0 && atoi(s) <= 16)
        runs = atoi(s);
    cairn_allocator counting = {count_malloc, count_realloc, count_free, NULL};
    int rc = cairn_set_allocator(&counting);
    if (rc != 0)
        die("allocator", rc);
    cairn_loop *loop;
    if ((rc = cairn_loop_new_manual(0, &loop)) != 0)
        die("loop", rc);
    lookups(loop);
    by_distance(loop);
    cairn_loop_delete(loop);
    return 0;
}
