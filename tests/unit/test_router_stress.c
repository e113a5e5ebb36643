/* Concurrency stress of the Router's lock-free read side (about 1 s): two
 * reader threads call find_route, get_datacenters and
 * get_datacenters_by_distance without pause while the loop thread adds and
 * removes servers, including ones that create and destroy a manager (and so
 * publish new router snapshots), and fails servers. Readers check every
 * answer against what must hold at any moment. Meant to run under
 * ThreadSanitizer as well (`make tsan`); a data race or a use after free of
 * a retired snapshot or manager is what it looks for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/router.h"
#include "cairn/server.h"
#include "faux_servers.h"
#include "mock_cluster.h"

#define STRESS_NS (1 * CAIRN_SEC)
#define READERS   2

struct shared {
    cairn_router *r;
    atomic_bool stop;
    atomic_long errors;
    long ops[READERS];
    long by_distance[READERS];
    long dcz_seen[READERS];
    int id_next;
    pthread_mutex_t id_mu;
};

static void reader_check(struct shared *sh, bool ok, const char *what)
{
    if (!ok && atomic_fetch_add(&sh->errors, 1) < 5)
        fprintf(stderr, "reader: %s\n", what);
}

static void *reader(void *arg)
{
    struct shared *sh = arg;
    pthread_mutex_lock(&sh->id_mu);
    int id = sh->id_next++;
    pthread_mutex_unlock(&sh->id_mu);
    const char *want[] = {"dc0", "dc2", "dc1", "dcX"};
    while (!atomic_load(&sh->stop)) {
        cairn_route rt;
        int rc = cairn_router_find_route(sh->r, "dc1", &rt);
        reader_check(sh, rc == 0, "dc1 must route");
        reader_check(sh, rc != 0 || strcmp(rt.server.datacenter, "dc1") == 0, "dc1 route to dc1");
        reader_check(sh, cairn_router_find_route(sh->r, "dc0", &rt) == 0, "dc0 must route");
        rc = cairn_router_find_route(sh->r, "dcZ", &rt);
        reader_check(sh, rc == 0 || rc == CAIRN_ENOROUTE, "dcZ routes or is unknown");
        if (rc == 0) {
            reader_check(sh, strcmp(rt.server.name, "z1.dcZ") == 0, "dcZ server");
            sh->dcz_seen[id]++;
        }
        sh->ops[id] += 3;
        if (sh->ops[id] % 64 == 0) {
            const char *names[8];
            double rtts[8];
            char bytes[128];
            size_t n = 0;
            cairn_dc_buf buf = {names, rtts, 8, bytes, sizeof(bytes)};
            rc = cairn_router_get_datacenters_by_distance(sh->r, &buf, &n, NULL);
            reader_check(sh, rc == 0 && n == 4, "by distance");
            for (size_t i = 0; rc == 0 && i < 4 && i < n; i++)
                reader_check(sh, strcmp(names[i], want[i]) == 0, "by distance order");
            rc = cairn_router_get_datacenters(sh->r, &buf, &n, NULL);
            reader_check(sh, rc == 0 && (n == 4 || n == 5), "datacenters");
            sh->by_distance[id]++;
        }
    }
    return NULL;
}

static cairn_server *make_server(const char *name, const char *dc)
{
    cairn_server *s = faux_server(name, dc);
    assert_non_null(s);
    return s;
}

static void test_router_stress(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    struct shared sh;
    memset(&sh, 0, sizeof(sh));
    pthread_mutex_init(&sh.id_mu, NULL);
    cairn_router_config cfg = {.local_datacenter = "dc0", .loop = loop, .seed = 7};
    assert_int_equal(cairn_router_new(&cfg, &sh.r), 0);

    /* Go's testCluster. */
    mock_cluster *mc = mock_cluster_consul_test("node0.dc0");
    cairn_cluster seam = mock_cluster_seam(mc);
    faux_conn_pool pool;
    faux_conn_pool_init(&pool, 0.0, 1);
    assert_int_equal(cairn_router_add_area(sh.r, CAIRN_AREA_WAN, &seam, &pool.pinger, NULL), 0);

    cairn_server *extra = make_server("node9.dc1", "dc1");
    cairn_server *z = make_server("z1.dcZ", "dcZ");
    cairn_server *front = make_server("node1.dc1", "dc1");
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &sh), 0);

    long writes = 0;
    cairn_time start = cairn_monotonic_now();
    while (cairn_monotonic_now() - start < STRESS_NS) {
        assert_int_equal(cairn_router_add_server(sh.r, CAIRN_AREA_WAN, extra, NULL), 0);
        assert_int_equal(cairn_router_add_server(sh.r, CAIRN_AREA_WAN, z, NULL), 0);
        assert_int_equal(cairn_router_fail_server(sh.r, CAIRN_AREA_WAN, front, NULL), 0);
        assert_int_equal(cairn_router_remove_server(sh.r, CAIRN_AREA_WAN, extra, NULL), 0);
        assert_int_equal(cairn_router_remove_server(sh.r, CAIRN_AREA_WAN, z, NULL), 0);
        writes += 5;
    }
    atomic_store(&sh.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);

    long reads = 0, dz = 0;
    for (int i = 0; i < READERS; i++) {
        reads += sh.ops[i];
        dz += sh.dcz_seen[i];
        assert_true(sh.by_distance[i] > 0);
    }
    printf("stress: %ld writes, %ld route lookups (%ld to dcZ while it existed)\n", writes, reads,
           dz);
    assert_int_equal(atomic_load(&sh.errors), 0);
    assert_true(writes > 0 && reads > 0);

    cairn_server_unref(extra);
    cairn_server_unref(z);
    cairn_server_unref(front);
    cairn_router_delete(sh.r);
    mock_cluster_delete(mc);
    cairn_loop_delete(loop);
    pthread_mutex_destroy(&sh.id_mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
