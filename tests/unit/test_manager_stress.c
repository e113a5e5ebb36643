/* Concurrent readers against a writer, for the Manager's lock-free hot
 * path (meant to run under ThreadSanitizer too; about one second).
 *
 * Reader threads call find_server, find_server_ref, num_servers, is_offline
 * and check_servers in a tight loop while the main thread (the loop thread)
 * adds, replaces, removes, rotates (notify_failed), re-flags (update_tls)
 * and rebalances. Readers check every answer for internal consistency: a
 * record's address is the one derived from its name (no torn or freed
 * record), the count stays within what the writer can produce, and the
 * permanent servers are always present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cairn/loop.h"
#include "cairn/manager.h"
#include "cairn/time.h"
#include "faux_servers.h"

#define READERS   3
#define PERMANENT 4  /* p0..p3 are never removed */
#define TRANSIENT 12 /* t0..t11 come and go */
#define RUN_NS    (800 * CAIRN_MSEC)

struct shared {
    cairn_manager *m;
    atomic_bool stop;
    atomic_long lookups;
    atomic_int errors;
    char first_error[512];
    pthread_mutex_t err_lock;
};

static void reader_error(struct shared *sh, const char *what, const char *name)
{
    pthread_mutex_lock(&sh->err_lock);
    if (atomic_fetch_add(&sh->errors, 1) == 0)
        snprintf(sh->first_error, sizeof(sh->first_error), "%s (%s)", what, name);
    pthread_mutex_unlock(&sh->err_lock);
}

struct scan {
    int permanent_seen;
    size_t n;
    bool bad;
};

static bool scan_cb(const cairn_server *s, void *ud)
{
    struct scan *sc = ud;
    cairn_addr want = faux_addr(s->name);
    if (!cairn_addr_equal(&want, &s->addr) || strcmp(s->datacenter, "dc1") != 0)
        sc->bad = true;
    if (s->name[0] == 'p')
        sc->permanent_seen++;
    sc->n++;
    return true;
}

static void *reader(void *arg)
{
    struct shared *sh = arg;
    long n = 0;
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        cairn_server_info info;
        if (cairn_manager_find_server(sh->m, &info) != 0) {
            reader_error(sh, "find_server failed", "");
        } else {
            cairn_addr want = faux_addr(info.name);
            if (!cairn_addr_equal(&want, &info.addr) || strcmp(info.datacenter, "dc1") != 0)
                reader_error(sh, "torn find_server answer", info.name);
        }
        size_t k = cairn_manager_num_servers(sh->m);
        if (k < PERMANENT || k > PERMANENT + TRANSIENT)
            reader_error(sh, "num_servers out of range", "");
        if (cairn_manager_is_offline(sh->m))
            reader_error(sh, "offline", "");
        if ((n & 63) == 0) {
            struct scan sc = {0};
            cairn_manager_check_servers(sh->m, scan_cb, &sc);
            if (sc.bad || sc.permanent_seen != PERMANENT || sc.n < PERMANENT)
                reader_error(sh, "inconsistent snapshot", "");
            cairn_server *ref;
            if (cairn_manager_find_server_ref(sh->m, &ref) == 0) {
                cairn_addr want = faux_addr(ref->name);
                if (!cairn_addr_equal(&want, &ref->addr))
                    reader_error(sh, "torn record", ref->name);
                cairn_server_unref(ref);
            }
        }
        n++;
    }
    atomic_fetch_add(&sh->lookups, n);
    return NULL;
}

static void add(cairn_manager *m, const char *name)
{
    cairn_server *s = faux_server(name, "dc1");
    assert_non_null(s);
    assert_int_equal(cairn_manager_add_server(m, s), 0);
    cairn_server_unref(s);
}

static void test_stress(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    faux_serf serf;
    faux_serf_init(&serf, 100);
    faux_conn_pool pool;
    faux_conn_pool_init(&pool, 0.3, 7);
    cairn_manager_config cfg = {.loop = loop,
                                .cluster = &serf.cluster,
                                .pinger = &pool.pinger,
                                .server_name = "p0",
                                .seed = 11};
    struct shared sh = {0};
    pthread_mutex_init(&sh.err_lock, NULL);
    assert_int_equal(cairn_manager_new(&cfg, &sh.m), 0);
    char name[16];
    for (int i = 0; i < PERMANENT; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        add(sh.m, name);
    }
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &sh), 0);

    cairn_rng rng;
    cairn_rng_init(&rng, 3);
    long writes = 0;
    cairn_time end = cairn_monotonic_now() + RUN_NS;
    while (cairn_monotonic_now() < end) {
        snprintf(name, sizeof(name), "t%d", (int)cairn_rng_below(&rng, TRANSIENT));
        cairn_server_info info;
        switch (cairn_rng_below(&rng, 6)) {
        case 0:
        case 1:
            add(sh.m, name); /* append or replace in place */
            break;
        case 2:
            assert_int_equal(cairn_manager_remove_server(sh.m, name), 0);
            break;
        case 3:
            if (cairn_manager_find_server(sh.m, &info) == 0)
                assert_int_equal(cairn_manager_notify_failed_server(sh.m, info.name), 0);
            break;
        case 4:
            assert_int_equal(cairn_manager_rebalance(sh.m), 0);
            break;
        case 5:
            assert_int_equal(cairn_manager_update_tls(sh.m, cairn_rng_below(&rng, 2)), 0);
            break;
        }
        writes++;
    }
    atomic_store(&sh.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&sh.errors) != 0)
        fail_msg("%d reader errors, first: %s", atomic_load(&sh.errors), sh.first_error);
    print_message("%ld writes, %ld lookups\n", writes, atomic_load(&sh.lookups));
    assert_true(writes > 100);
    assert_true(atomic_load(&sh.lookups) > 1000);
    cairn_manager_delete(sh.m);
    cairn_loop_delete(loop);
    pthread_mutex_destroy(&sh.err_lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
