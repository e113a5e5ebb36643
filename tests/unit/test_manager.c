/* Unit tests for the server Manager: Consul's manager_test.go (§7.2) and
 * manager_internal_test.go (§7.3) with the same numbers, the lib delay tests
 * (§7.5), regression tests for hashicorp/consul#3463 and #8401 (§8), the
 * asynchronous rebalance (pings in flight, concurrent writes, delete with a
 * ping outstanding), the timer on the manual clock, and an allocation
 * failure sweep over every manager operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/loop.h"
#include "cairn/manager.h"
#include "faux_servers.h"
#include "servers/manager_internal.h"
#include "base/alloc_test.h"

/* ---- fixture ---- */

struct logcap {
    int warn_no_servers;
    int debug_no_healthy;
    int debug_cycled;
    int debug_ping_failed;
};

static void log_cb(int level, const char *module, const char *msg, void *ud)
{
    struct logcap *c = ud;
    assert_string_equal(module, "manager");
    if (level == CAIRN_LOG_WARN && strcmp(msg, "No servers available") == 0)
        c->warn_no_servers++;
    if (strstr(msg, "No healthy servers during rebalance") != NULL)
        c->debug_no_healthy++;
    if (strstr(msg, "cycled away from server") != NULL)
        c->debug_cycled++;
    if (strstr(msg, "pinging server failed") != NULL)
        c->debug_ping_failed++;
}

struct fx {
    cairn_loop *loop;
    faux_serf serf;
    faux_conn_pool pool;
    struct logcap log;
    cairn_logger logger;
    int rebalancer_calls;
    cairn_manager *m;
};

static void count_rebalancer(void *ud)
{
    ((struct fx *)ud)->rebalancer_calls++;
}

static int fx_make(struct fx *f, const char *server_name, uint64_t seed)
{
    cairn_manager_config cfg = {
        .loop = f->loop,
        .cluster = &f->serf.cluster,
        .pinger = &f->pool.pinger,
        .server_name = server_name,
        .rebalancer = count_rebalancer,
        .rebalancer_userdata = f,
        .logger = &f->logger,
        .seed = seed,
    };
    return cairn_manager_new(&cfg, &f->m);
}

/* Go: testManagerFailProb(failPct) with fauxSerf{numNodes}. */
static void fx_init(struct fx *f, double fail_pct, size_t nodes, const char *server_name,
                    uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(cairn_loop_new_manual(0, &f->loop), 0);
    faux_serf_init(&f->serf, nodes);
    faux_conn_pool_init(&f->pool, fail_pct, seed ^ 0x9e3779b97f4a7c15ull);
    f->logger = (cairn_logger){log_cb, &f->log, CAIRN_LOG_DEBUG};
    assert_int_equal(fx_make(f, server_name, seed), 0);
}

static void fx_destroy(struct fx *f)
{
    cairn_manager_delete(f->m);
    f->m = NULL;
    cairn_loop_delete(f->loop);
}

/* Adds a server named name (faux address) and drops the test's reference. */
static void add(cairn_manager *m, const char *name)
{
    cairn_server *s = faux_server(name, "dc1");
    assert_non_null(s);
    assert_int_equal(cairn_manager_add_server(m, s), 0);
    cairn_server_unref(s);
}

/* The front server's name ("" when empty). */
static const char *front(const cairn_manager *m, cairn_server_info *buf)
{
    if (cairn_manager_find_server(m, buf) != 0)
        return "";
    return buf->name;
}

static bool collect_cb(const cairn_server *s, void *ud)
{
    char *out = ud;
    strcat(out, s->name);
    strcat(out, ",");
    return true;
}

/* The whole list as "a,b,c,". */
static void order(const cairn_manager *m, char *out)
{
    out[0] = '\0';
    assert_true(cairn_manager_check_servers(m, collect_cb, out));
}

static bool has_server(const cairn_manager *m, const char *name)
{
    char buf[4096], needle[64];
    order(m, buf);
    snprintf(needle, sizeof(needle), "%s,", name);
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
        if (p == buf || p[-1] == ',')
            return true;
    return false;
}

/* ---- §7.2 manager_test.go ---- */

static void test_add_server(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 1);
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    add(f.m, "s1");
    assert_int_equal(cairn_manager_num_servers(f.m), 1);
    add(f.m, "s1");
    assert_int_equal(cairn_manager_num_servers(f.m), 1);
    add(f.m, "s2");
    assert_int_equal(cairn_manager_num_servers(f.m), 2);
    fx_destroy(&f);
}

static void test_add_server_replaces_in_place(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 1);
    add(f.m, "s1");
    add(f.m, "s2");
    add(f.m, "s3");
    cairn_server fields = {.name = "s2", .datacenter = "dc1", .version = 7};
    cairn_server *s2b;
    assert_int_equal(cairn_server_new(&fields, &s2b), 0);
    assert_int_equal(cairn_manager_add_server(f.m, s2b), 0);
    assert_int_equal(cairn_server_refcount(s2b), 2); /* ours + the manager's */
    char buf[256];
    order(f.m, buf);
    assert_string_equal(buf, "s1,s2,s3,");
    cairn_manager_notify_failed_server(f.m, "s1");
    cairn_server_info info;
    assert_string_equal(front(f.m, &info), "s2");
    assert_int_equal(info.version, 7);
    cairn_server_unref(s2b);
    fx_destroy(&f);
}

static void test_is_offline(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 2);
    assert_true(cairn_manager_is_offline(f.m));
    add(f.m, "s1");
    assert_false(cairn_manager_is_offline(f.m));
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_false(cairn_manager_is_offline(f.m));
    assert_int_equal(cairn_manager_remove_server(f.m, "s1"), 0);
    assert_false(cairn_manager_is_offline(f.m)); /* remove does not touch it */
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_true(cairn_manager_is_offline(f.m)); /* empty list counts as none */
    fx_destroy(&f);

    fx_init(&f, 0.5, 0, NULL, 3);
    add(f.m, "s1");
    int on = 0, off = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cairn_manager_rebalance(f.m), 0);
        if (cairn_manager_is_offline(f.m))
            off++;
        else
            on++;
    }
    assert_true(on > 0);
    assert_true(off > 0);
    fx_destroy(&f);
}

static void test_find_server(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 4);
    cairn_server_info info;
    assert_int_equal(cairn_manager_find_server(f.m, &info), CAIRN_ENOSERVERS);
    assert_int_equal(f.log.warn_no_servers, 1);
    assert_int_equal(cairn_manager_find_server(f.m, &info), CAIRN_ENOSERVERS);
    assert_int_equal(f.log.warn_no_servers, 2); /* every call, as Go (#6672) */
    add(f.m, "s1");
    assert_int_equal(cairn_manager_num_servers(f.m), 1);
    assert_string_equal(front(f.m, &info), "s1");
    assert_string_equal(front(f.m, &info), "s1");
    add(f.m, "s2");
    assert_int_equal(cairn_manager_num_servers(f.m), 2);
    assert_string_equal(front(f.m, &info), "s1");
    cairn_manager_notify_failed_server(f.m, "s1");
    assert_string_equal(front(f.m, &info), "s2");
    cairn_manager_notify_failed_server(f.m, "s2");
    assert_string_equal(front(f.m, &info), "s1");
    /* The copy carries the request fields. */
    cairn_addr want = faux_addr("s1");
    assert_true(cairn_addr_equal(&info.addr, &want));
    assert_string_equal(info.datacenter, "dc1");
    /* find_server_ref hands out a new reference. */
    cairn_server *ref;
    assert_int_equal(cairn_manager_find_server_ref(f.m, &ref), 0);
    assert_string_equal(ref->name, "s1");
    cairn_rcu_barrier(); /* retired lists drop their references */
    assert_int_equal(cairn_server_refcount(ref), 2);
    cairn_server_unref(ref);
    fx_destroy(&f);
}

static void test_new(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 5);
    assert_non_null(f.m);
    assert_true(cairn_manager_is_offline(f.m));
    assert_int_equal(cairn_manager_next_rebalance(f.m), -1); /* armed by start */
    /* Bad configurations. */
    cairn_manager *m = NULL;
    cairn_manager_config cfg = {.loop = f.loop, .cluster = &f.serf.cluster};
    assert_int_equal(cairn_manager_new(&cfg, &m), CAIRN_EINVAL); /* no pinger */
    cfg.pinger = &f.pool.pinger;
    cfg.loop = NULL;
    assert_int_equal(cairn_manager_new(&cfg, &m), CAIRN_EINVAL);
    assert_int_equal(cairn_manager_new(NULL, &m), CAIRN_EINVAL);
    assert_null(m);
    fx_destroy(&f);
}

static void test_notify_failed_server(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 6);
    cairn_server_info info;
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    assert_int_equal(cairn_manager_notify_failed_server(f.m, "s1"), 0);
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    add(f.m, "s1");
    cairn_manager_notify_failed_server(f.m, "s2"); /* not in the list */
    assert_int_equal(cairn_manager_num_servers(f.m), 1);
    cairn_manager_notify_failed_server(f.m, "s1"); /* only one: no-op */
    assert_string_equal(front(f.m, &info), "s1");
    add(f.m, "s2");
    assert_int_equal(cairn_manager_num_servers(f.m), 2);
    assert_string_equal(front(f.m, &info), "s1");
    cairn_manager_notify_failed_server(f.m, "s2"); /* not the front */
    assert_string_equal(front(f.m, &info), "s1");
    cairn_manager_notify_failed_server(f.m, "s1");
    assert_string_equal(front(f.m, &info), "s2");
    cairn_manager_notify_failed_server(f.m, "s2");
    assert_string_equal(front(f.m, &info), "s1");
    assert_int_equal(f.log.debug_cycled, 2);
    fx_destroy(&f);
}

static void test_num_servers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 7);
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    add(f.m, ""); /* an empty-named server still counts */
    assert_int_equal(cairn_manager_num_servers(f.m), 1);
    assert_int_equal(cairn_manager_num_servers(NULL), 0);
    assert_true(cairn_manager_is_offline(NULL));
    fx_destroy(&f);
}

static void test_rebalance_servers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0.5, 16384, NULL, 8);
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "s%02d", i);
        add(f.m, name);
    }
    /* Record 100 orders by FindServer + NotifyFailedServer, each after a
     * rebalance; at least 50 must differ. */
    static char orders[100][100 * 4];
    int distinct = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cairn_manager_rebalance(f.m), 0);
        char *o = orders[distinct];
        o[0] = '\0';
        for (int j = 0; j < 100; j++) {
            cairn_server_info info;
            assert_int_equal(cairn_manager_find_server(f.m, &info), 0);
            strcat(o, info.name);
            cairn_manager_notify_failed_server(f.m, info.name);
        }
        bool seen = false;
        for (int k = 0; k < distinct && !seen; k++)
            seen = strcmp(orders[k], o) == 0;
        if (!seen)
            distinct++;
    }
    assert_true(distinct >= 50);
    assert_int_equal(cairn_manager_num_servers(f.m), 100);
    fx_destroy(&f);
}

/* Also the regression test for #3463: a failed ping must rotate the working
 * copy, or a dead front server survives the rebalance. */
static void test_rebalance_avoid_failed(void **state)
{
    (void)state;
    cairn_addr a1 = faux_addr("s1"), a2 = faux_addr("s2"), a3 = faux_addr("s3");
    assert_false(cairn_addr_equal(&a1, &a2));
    assert_false(cairn_addr_equal(&a2, &a3));
    int s2_tried_first = 0;
    for (int i = 0; i < 100; i++) {
        struct fx f;
        fx_init(&f, 0, 16384, NULL, 100 + (uint64_t)i);
        f.pool.fail_addr = a2;
        add(f.m, "s1");
        add(f.m, "s2");
        add(f.m, "s3");
        assert_int_equal(cairn_manager_rebalance(f.m), 0);
        cairn_server_info info;
        assert_string_not_equal(front(f.m, &info), "s2");
        assert_false(cairn_manager_is_offline(f.m));
        s2_tried_first += f.pool.pings == 2;
        fx_destroy(&f);
    }
    /* The shuffle put s2 first in roughly a third of the runs. */
    assert_true(s2_tried_first > 10);
}

static bool find_front_n_times(const cairn_manager *m, const char *name)
{
    for (size_t i = cairn_manager_num_servers(m); i > 0; i--) {
        cairn_server_info info;
        if (cairn_manager_find_server(m, &info) == 0 && strcmp(info.name, name) == 0)
            return true;
    }
    return false;
}

static void remove_checked(struct fx *f, const char *name, size_t *expected, int *removed)
{
    assert_int_equal(cairn_manager_remove_server(f->m, name), 0);
    (*expected)--;
    (*removed)++;
    assert_int_equal(cairn_manager_num_servers(f->m), *expected);
    assert_false(find_front_n_times(f->m, name));
    assert_false(has_server(f->m, name));
}

static void test_remove_server(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 9);
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    assert_int_equal(cairn_manager_remove_server(f.m, "s01"), 0); /* before adding */
    add(f.m, "s01");
    assert_int_equal(cairn_manager_remove_server(f.m, "s02"), 0);
    add(f.m, "s02");
    const size_t max_servers = 19;
    char name[32];
    for (int i = (int)max_servers; i > 2; i--) {
        snprintf(name, sizeof(name), "s%02d", i);
        add(f.m, name);
    }
    assert_int_equal(cairn_manager_num_servers(f.m), max_servers);
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_int_equal(cairn_manager_num_servers(f.m), max_servers);

    size_t expected = max_servers;
    int removed = 0;
    cairn_server_info a, b;
    for (int i = 3; i > 0; i--) { /* from the front */
        assert_int_equal(cairn_manager_find_server(f.m, &a), 0);
        remove_checked(&f, a.name, &expected, &removed);
    }
    for (int i = 3; i > 0; i--) { /* from the end */
        assert_int_equal(cairn_manager_find_server(f.m, &a), 0);
        cairn_manager_notify_failed_server(f.m, a.name);
        remove_checked(&f, a.name, &expected, &removed);
    }
    for (int i = 3; i > 0; i--) { /* from the middle */
        assert_int_equal(cairn_manager_find_server(f.m, &a), 0);
        cairn_manager_notify_failed_server(f.m, a.name);
        assert_int_equal(cairn_manager_find_server(f.m, &b), 0);
        cairn_manager_notify_failed_server(f.m, b.name);
        remove_checked(&f, a.name, &expected, &removed);
    }
    assert_int_equal(cairn_manager_num_servers(f.m) + (size_t)removed, max_servers);
    for (size_t i = cairn_manager_num_servers(f.m); i > 0; i--) { /* drain */
        assert_int_equal(cairn_manager_find_server(f.m, &a), 0);
        cairn_manager_notify_failed_server(f.m, a.name);
        assert_int_equal(cairn_manager_find_server(f.m, &b), 0);
        cairn_manager_notify_failed_server(f.m, b.name);
        remove_checked(&f, a.name, &expected, &removed);
    }
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    assert_int_equal(removed, (int)max_servers);
    fx_destroy(&f);
}

/* ---- §7.3 manager_internal_test.go ---- */

static cairn_server_list *list_of(const char *const *names, size_t n)
{
    cairn_server_list *l = cairn__server_list_new(n);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++)
        assert_non_null(l->servers[i] = faux_server(names[i], "dc1"));
    return l;
}

static void list_names(const cairn_server_list *l, char *out)
{
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        strcat(out, l->servers[i]->name);
        strcat(out, ",");
    }
}

static void test_cycle_server(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 10);
    static const char *const names[] = {"server1", "server2", "server3"};
    cairn_server_list *l = list_of(names, 3);
    assert_int_equal(cairn__manager_save_list(f.m, l), 0);
    cairn__server_list_free(l);
    assert_int_equal(cairn__manager_get_list(f.m, &l), 0);
    assert_int_equal(l->n, 3);
    static const char *const want[] = {"server2,server3,server1,", "server3,server1,server2,",
                                       "server1,server2,server3,"};
    char buf[128];
    for (int i = 0; i < 3; i++) {
        cairn_server_list *c = cairn__server_list_cycle(l);
        assert_non_null(c);
        assert_int_equal(c->n, 3);
        list_names(c, buf);
        assert_string_equal(buf, want[i]);
        cairn__server_list_free(l);
        l = c;
    }
    cairn__server_list_free(l);
    /* Go returns an empty list for fewer than 2 servers. */
    cairn_server_list *one = list_of(names, 1);
    cairn_server_list *c = cairn__server_list_cycle(one);
    assert_int_equal(c->n, 0);
    cairn__server_list_free(c);
    cairn__server_list_free(one);
    fx_destroy(&f);
}

static void test_get_server_list(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 11);
    cairn_server_list *l = NULL;
    assert_int_equal(cairn__manager_get_list(f.m, &l), 0);
    assert_non_null(l);
    assert_int_equal(l->n, 0);
    cairn__server_list_free(l);
    fx_destroy(&f);
}

static size_t faux_nodes_of(const cairn_cluster *c)
{
    return c->ops->num_nodes(c->impl);
}

static void test_new_internal(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 12);
    assert_non_null(f.m);
    /* clusterInfo, logger and the stop path (delete) exist. */
    assert_int_equal(faux_nodes_of(&f.serf.cluster), 16384);
    assert_non_null(f.logger.cb);
    fx_destroy(&f);
}

static bool in_list(const cairn_server_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->servers[i]->name, name) == 0)
            return true;
    return false;
}

static void reconcile_case(size_t n, uint64_t seed)
{
    struct fx f;
    fx_init(&f, 0.5, 0, NULL, seed);
    cairn_rng draw;
    cairn_rng_init(&draw, seed * 7 + 1);
    cairn_server_list *healthy = cairn__server_list_new(n), *failed = cairn__server_list_new(n);
    healthy->n = failed->n = 0;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%02zu", i);
        cairn_server *s = faux_server(name, "dc1");
        if (cairn_rng_double(&draw) > 0.33) {
            assert_int_equal(cairn_manager_add_server(f.m, s), 0);
            /* Ping it once through the same fake pinger. */
            bool ok = cairn_rng_double(&f.pool.rng) > f.pool.fail_pct;
            if (ok)
                healthy->servers[healthy->n++] = s;
            else
                failed->servers[failed->n++] = s;
        } else {
            healthy->servers[healthy->n++] = s; /* reconcile should add it */
        }
    }
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    cairn_server_info sel;
    bool have_sel = cairn_manager_find_server(f.m, &sel) == 0;
    bool selected_failed = have_sel && in_list(failed, sel.name);
    cairn_server_list *orig;
    assert_int_equal(cairn__manager_get_list(f.m, &orig), 0);
    assert_int_equal(cairn__manager_save_list(f.m, healthy), 0);
    if (!selected_failed) {
        int rc = cairn__manager_reconcile(f.m, orig);
        assert_true(rc >= 0);
        if (rc == 0 && healthy->n != 0 && orig->n != 0)
            fail_msg("n=%zu: reconcile returned false", n);
    }
    cairn_server_list *result;
    assert_int_equal(cairn__manager_get_list(f.m, &result), 0);
    if (!(result->n == 0 && orig->n == 0)) {
        for (size_t i = 0; i < failed->n; i++)
            assert_false(in_list(result, failed->servers[i]->name));
        assert_int_equal(result->n, healthy->n);
        for (size_t i = 0; i < healthy->n; i++)
            assert_true(in_list(result, healthy->servers[i]->name));
        /* The verified server stays first when the merge happened. */
        if (!selected_failed && orig->n > 0 && healthy->n > 0)
            assert_string_equal(result->servers[0]->name, orig->servers[0]->name);
    }
    cairn__server_list_free(result);
    cairn__server_list_free(orig);
    cairn__server_list_free(healthy);
    cairn__server_list_free(failed);
    fx_destroy(&f);
}

static void test_reconcile_server_list(void **state)
{
    (void)state;
    static const size_t ns[] = {0, 1, 2, 3, 4, 5, 10, 100};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        for (uint64_t seed = 1; seed <= 20; seed++)
            reconcile_case(ns[i], seed * 1000 + ns[i]);
}

/* Deterministic merge: 'o' dropped, 'b' kept with l's record and position,
 * 'n' appended; false when the verified server is gone or a list is empty. */
static void test_reconcile_rules(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 0, NULL, 13);
    static const char *const lnames[] = {"c", "a", "b", "d"};
    static const char *const curnames[] = {"a", "e", "b", "c", "f"};
    cairn_server_list *l = list_of(lnames, 4);
    cairn_server_list *cur = list_of(curnames, 5);
    assert_int_equal(cairn__manager_save_list(f.m, cur), 0);
    assert_int_equal(cairn__manager_reconcile(f.m, l), 1);
    char buf[128];
    order(f.m, buf);
    assert_string_equal(buf, "c,a,b,e,f,");
    /* 'b' keeps the record from l (spec §1.12, quirk §1.16 c). */
    cairn_server *front_ref;
    assert_int_equal(cairn_manager_find_server_ref(f.m, &front_ref), 0);
    assert_ptr_equal(front_ref, l->servers[0]);
    cairn_server_unref(front_ref);
    /* The verified server was removed meanwhile: false, nothing published. */
    static const char *const without_c[] = {"a", "b"};
    cairn_server_list *cur2 = list_of(without_c, 2);
    assert_int_equal(cairn__manager_save_list(f.m, cur2), 0);
    assert_int_equal(cairn__manager_reconcile(f.m, l), 0);
    order(f.m, buf);
    assert_string_equal(buf, "a,b,");
    /* Empty lists. */
    cairn_server_list *empty = cairn__server_list_new(0);
    assert_int_equal(cairn__manager_reconcile(f.m, empty), 0);
    assert_int_equal(cairn__manager_save_list(f.m, empty), 0);
    assert_int_equal(cairn__manager_reconcile(f.m, l), 0);
    assert_int_equal(cairn_manager_num_servers(f.m), 0);
    cairn__server_list_free(empty);
    cairn__server_list_free(cur2);
    cairn__server_list_free(cur);
    cairn__server_list_free(l);
    fx_destroy(&f);
}

static void test_refresh_server_rebalance_timer(void **state)
{
    (void)state;
    static const struct {
        size_t nodes, servers;
        cairn_time min;
    } rows[] = {
        {0, 3, 2 * CAIRN_MIN},         {1, 0, 2 * CAIRN_MIN},         {1, 3, 2 * CAIRN_MIN},
        {2, 3, 2 * CAIRN_MIN},         {100, 0, 2 * CAIRN_MIN},       {100, 1, 2 * CAIRN_MIN},
        {100, 3, 2 * CAIRN_MIN},       {1024, 1, 2 * CAIRN_MIN},      {1024, 3, 2 * CAIRN_MIN},
        {1024, 5, 2 * CAIRN_MIN},      {16384, 1, 4 * CAIRN_MIN},     {16384, 2, 2 * CAIRN_MIN},
        {16384, 3, 2 * CAIRN_MIN},     {16384, 5, 2 * CAIRN_MIN},     {65535, 0, 2 * CAIRN_MIN},
        {65535, 1, 8 * CAIRN_MIN},     {65535, 2, 3 * CAIRN_MIN},     {65535, 3, 5 * CAIRN_MIN},
        {65535, 5, 3 * CAIRN_MIN},     {65535, 7, 2 * CAIRN_MIN},     {1000000, 1, 4 * CAIRN_HOUR},
        {1000000, 2, 2 * CAIRN_HOUR},  {1000000, 3, 80 * CAIRN_MIN},  {1000000, 5, 50 * CAIRN_MIN},
        {1000000, 11, 20 * CAIRN_MIN}, {1000000, 19, 10 * CAIRN_MIN},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct fx f;
        fx_init(&f, 0, rows[i].nodes, NULL, 14 + i);
        for (size_t j = 0; j < rows[i].servers; j++) {
            char name[32];
            snprintf(name, sizeof(name), "s%02zu", j);
            add(f.m, name);
        }
        cairn_time d = cairn__manager_refresh_rebalance_timer(f.m);
        if (d < rows[i].min)
            fail_msg("row %zu: %lld < %lld", i, (long long)d, (long long)rows[i].min);
        /* The timer is armed with the value returned. */
        assert_int_equal(cairn_manager_next_rebalance(f.m), cairn_loop_now(f.loop) + d);
        /* And it is the actual value: nodes / (64 x servers) s, floored. */
        if (rows[i].servers > 0 &&
            rows[i].nodes * 15625000.0 / (double)rows[i].servers >= (double)(3 * CAIRN_MIN))
            assert_int_equal(
                d, (cairn_time)((double)rows[i].nodes * 15625000.0 / (double)rows[i].servers));
        else
            assert_true(d >= 2 * CAIRN_MIN && d < 3 * CAIRN_MIN);
        fx_destroy(&f);
    }
}

static cairn_time dur(long long h, long long m, long long s, long long ns)
{
    return h * CAIRN_HOUR + m * CAIRN_MIN + s * CAIRN_SEC + ns;
}

static void test_rebalance_delayer(void **state)
{
    (void)state;
    static const struct {
        size_t servers, nodes;
        cairn_time expected; /* -1: in [2m, 3m] */
    } rows[] = {
        {0, 1, -1},
        {0, 100, -1},
        {0, 65535, -1},
        {0, 1000000, -1},
        {1, 100, -1},
        {1, 1024, -1},
        {1, 8192, -1},
        {1, 11520, -1},
        {1, 11521, 180015625000LL},     /* 3m0.015625s */
        {1, 16384, 256000000000LL},     /* 4m16s */
        {1, 65535, 1023984375000LL},    /* 17m3.984375s */
        {1, 1000000, 15625000000000LL}, /* 4h20m25s */
        {2, 100, -1},
        {2, 16384, -1},
        {2, 23040, -1},
        {2, 23041, 180007812500LL},    /* 3m0.0078125s */
        {2, 65535, 511992187500LL},    /* 8m31.9921875s */
        {2, 1000000, 7812500000000LL}, /* 2h10m12.5s */
        {3, 0, -1},
        {3, 100, -1},
        {3, 1024, -1},
        {3, 16384, -1},
        {3, 34560, -1},
        {3, 34561, 180005208333LL},    /* 3m0.005208333s */
        {3, 65535, 341328125000LL},    /* 5m41.328125s */
        {3, 1000000, 5208333333333LL}, /* 86m48.333333333s */
        {5, 0, -1},
        {5, 1024, -1},
        {5, 16384, -1},
        {5, 32768, -1},
        {5, 57600, -1},
        {5, 65535, 204796875000LL},    /* 3m24.796875s */
        {5, 1000000, 3125000000000LL}, /* 52m5s */
        {7, 65535, -1},
        {7, 80500, -1},
        {7, 131070, 292566964285LL},    /* 4m52.566964285s */
        {11, 1000000, 1420454545454LL}, /* 23m40.454545454s */
        {19, 1000000, 822368421052LL},  /* 13m42.368421052s */
    };
    /* The table's spelled durations, checked against the constants. */
    assert_int_equal(rows[9].expected, dur(0, 4, 16, 0));
    assert_int_equal(rows[11].expected, dur(4, 20, 25, 0));
    assert_int_equal(rows[25].expected, dur(0, 86, 48, 333333333));
    assert_int_equal(rows[37].expected, dur(0, 13, 42, 368421052));
    cairn_rng rng;
    cairn_rng_init(&rng, 99);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int k = 0; k < 20; k++) {
            cairn_time jitter = cairn_random_stagger(&rng, CAIRN_REBALANCE_MAX_JITTER);
            cairn_time d = cairn_rebalance_delay(rows[i].servers, rows[i].nodes, jitter);
            if (rows[i].expected >= 0) {
                if (d != rows[i].expected)
                    fail_msg("row %zu: %lld != %lld", i, (long long)d, (long long)rows[i].expected);
            } else if (d < 2 * CAIRN_MIN || d > 3 * CAIRN_MIN) {
                fail_msg("row %zu: %lld out of [2m, 3m]", i, (long long)d);
            }
        }
    }
    /* The jitter edges. */
    assert_int_equal(cairn_rebalance_delay(0, 0, 0), 2 * CAIRN_MIN);
    assert_int_equal(cairn_rebalance_delay(1, 11520, CAIRN_MIN - 1), 180 * CAIRN_SEC);
    assert_int_equal(cairn_rebalance_delay(1, 100, CAIRN_MIN - 1), 3 * CAIRN_MIN - 1);
}

static void test_save_server_list(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 15);
    cairn_server_list *l;
    assert_int_equal(cairn__manager_get_list(f.m, &l), 0);
    assert_int_equal(l->n, 0);
    cairn_server_list *l1 = cairn__server_list_copy(l, 1);
    l1->servers[0] = faux_server("s1", "dc1");
    assert_int_equal(cairn__manager_save_list(f.m, l1), 0);
    cairn_server_list *r;
    assert_int_equal(cairn__manager_get_list(f.m, &r), 0);
    assert_int_equal(r->n, 1);
    /* A fresh copy appended to but not saved: the stored list is shorter. */
    cairn_server_list *l2 = cairn__server_list_copy(r, 1);
    l2->servers[1] = faux_server("s2", "dc1");
    assert_int_equal(l2->n, 2);
    assert_true(cairn_manager_num_servers(f.m) < l2->n);
    cairn__server_list_free(l);
    cairn__server_list_free(l1);
    cairn__server_list_free(l2);
    cairn__server_list_free(r);
    fx_destroy(&f);
}

/* TestManager_healthyServer, through a one-server rebalance. */
static void test_healthy_server(void **state)
{
    (void)state;
    struct fx f;
    /* Self: healthy with no ping, even though every ping would fail. */
    fx_init(&f, 1.0, 16384, "s1", 16);
    add(f.m, "s1");
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_false(cairn_manager_is_offline(f.m));
    assert_int_equal(f.pool.pings, 0);
    fx_destroy(&f);
    /* Another server with a successful ping. */
    fx_init(&f, 0.0, 16384, "s1", 17);
    add(f.m, "s2");
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_false(cairn_manager_is_offline(f.m));
    assert_int_equal(f.pool.pings, 1);
    assert_string_equal(f.pool.last_name, "s2");
    fx_destroy(&f);
    /* failPct 1: not healthy. */
    fx_init(&f, 1.0, 16384, "s1", 18);
    add(f.m, "s2");
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_true(cairn_manager_is_offline(f.m));
    assert_int_equal(f.pool.pings, 1);
    assert_int_equal(f.log.debug_ping_failed, 1);
    assert_int_equal(f.log.debug_no_healthy, 1);
    fx_destroy(&f);
}

/* TestManager_Rebalance, which is also the regression test for #8401. */
static void test_manager_rebalance(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0.0, 16384, "s1", 19);
    add(f.m, "s1");
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_false(cairn_manager_is_offline(f.m));
    fx_destroy(&f);

    fx_init(&f, 1.0, 16384, NULL, 20);
    add(f.m, "s1");
    add(f.m, "s2");
    add(f.m, "s3");
    char before[64], after[64];
    for (int i = 0; i < 100; i++) {
        order(f.m, before);
        assert_int_equal(cairn_manager_rebalance(f.m), 0);
        assert_true(cairn_manager_is_offline(f.m));
        order(f.m, after);
        assert_string_equal(before, after); /* nothing published */
    }
    assert_int_equal(f.pool.pings, 300);
    fx_destroy(&f);

    fx_init(&f, 1.0, 16384, "s1", 21);
    add(f.m, "s1");
    add(f.m, "s2");
    add(f.m, "s3");
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cairn_manager_rebalance(f.m), 0);
        assert_false(cairn_manager_is_offline(f.m));
        cairn_server_info info;
        assert_string_equal(front(f.m, &info), "s1"); /* the only healthy one */
    }
    fx_destroy(&f);
}

/* #8401 as the issue saw it: a single-server DC, timer-driven, stays online
 * after the first 2-minute rebalance and every one after it. */
static void test_regression_8401_single_server_timer(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 1.0, 1, "s1", 22);
    add(f.m, "s1");
    cairn_manager_start(f.m);
    for (int i = 0; i < 5; i++) {
        cairn_time next = cairn_manager_next_rebalance(f.m);
        assert_true(next > 0);
        cairn_loop_manual_advance(f.loop, next - cairn_loop_now(f.loop));
        assert_int_equal(f.rebalancer_calls, i + 1);
        assert_false(cairn_manager_is_offline(f.m));
    }
    assert_int_equal(f.pool.pings, 0);
    fx_destroy(&f);
}

/* #3463, step by step: each failed ping moves on to a different server. */
static void test_regression_3463_rotation(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 20; seed++) {
        struct fx f;
        fx_init(&f, 0, 16384, NULL, 300 + seed);
        f.pool.async = true;
        add(f.m, "s1");
        add(f.m, "s2");
        add(f.m, "s3");
        char pinged[3][CAIRN_SERVER_NAME_MAX];
        assert_int_equal(cairn_manager_rebalance(f.m), 0);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(f.pool.npending, 1);
            strcpy(pinged[i], f.pool.last_name);
            if (i < 2)
                assert_true(faux_conn_pool_complete(&f.pool, false));
        }
        assert_string_not_equal(pinged[0], pinged[1]);
        assert_string_not_equal(pinged[1], pinged[2]);
        assert_string_not_equal(pinged[0], pinged[2]);
        /* The third answers: it is the new front, the failed ones follow. */
        assert_true(faux_conn_pool_complete(&f.pool, true));
        assert_false(cairn_manager_rebalancing(f.m));
        cairn_server_info info;
        assert_string_equal(front(f.m, &info), pinged[2]);
        char want[1024], got[1024];
        snprintf(want, sizeof(want), "%s,%s,%s,", pinged[2], pinged[0], pinged[1]);
        order(f.m, got);
        assert_string_equal(got, want);
        fx_destroy(&f);
    }
}

/* ---- asynchronous rebalance ---- */

static void test_async_rebalance_concurrent_writes(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 23);
    f.pool.async = true;
    add(f.m, "s1");
    add(f.m, "s2");
    add(f.m, "s3");
    char before[64], buf[64];
    order(f.m, before);
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    /* The loop thread is free: the ping is pending, lookups work. */
    assert_true(cairn_manager_rebalancing(f.m));
    assert_int_equal(cairn_manager_rebalance(f.m), CAIRN_EBUSY);
    order(f.m, buf);
    assert_string_equal(buf, before); /* the published list was not shuffled */
    char verified[CAIRN_SERVER_NAME_MAX];
    strcpy(verified, f.pool.last_name);
    /* Serf events race the ping: a join and a leave of another server. */
    const char *gone = strcmp(verified, "s1") != 0 ? "s1" : "s2";
    add(f.m, "s4");
    assert_int_equal(cairn_manager_remove_server(f.m, gone), 0);
    assert_true(faux_conn_pool_complete(&f.pool, true));
    assert_false(cairn_manager_rebalancing(f.m));
    cairn_server_info info;
    assert_string_equal(front(f.m, &info), verified);
    assert_int_equal(cairn_manager_num_servers(f.m), 3);
    assert_false(has_server(f.m, gone));
    order(f.m, buf);
    assert_string_equal(buf + strlen(buf) - 3, "s4,"); /* appended */
    fx_destroy(&f);

    /* The verified server leaves while its ping is in flight: frozen. */
    fx_init(&f, 0, 16384, NULL, 24);
    f.pool.async = true;
    add(f.m, "s1");
    add(f.m, "s2");
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    strcpy(verified, f.pool.last_name);
    assert_int_equal(cairn_manager_remove_server(f.m, verified), 0);
    order(f.m, before);
    assert_true(faux_conn_pool_complete(&f.pool, true));
    order(f.m, buf);
    assert_string_equal(buf, before);
    assert_false(cairn_manager_is_offline(f.m));
    fx_destroy(&f);
}

static void test_async_delete_in_flight(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 25);
    f.pool.async = true;
    add(f.m, "s1");
    add(f.m, "s2");
    cairn_manager_start(f.m);
    cairn_loop_manual_advance(f.loop, 2 * CAIRN_MIN);
    assert_true(cairn_manager_rebalancing(f.m));
    assert_int_equal(f.pool.npending, 1);
    cairn_manager_delete(f.m);
    f.m = NULL;
    assert_int_equal(f.pool.cancelled, 1);
    assert_int_equal(f.pool.npending, 0);
    cairn_loop_delete(f.loop);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

static void test_ping_start_failure(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 26);
    add(f.m, "s1");
    add(f.m, "s2");
    f.pool.start_err = CAIRN_ENOMEM;
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_true(cairn_manager_is_offline(f.m)); /* counts as failed pings */
    assert_int_equal(f.log.debug_ping_failed, 2);
    f.pool.start_err = 0;
    assert_int_equal(cairn_manager_rebalance(f.m), 0);
    assert_false(cairn_manager_is_offline(f.m));
    fx_destroy(&f);
}

/* ---- timer ---- */

static void test_timer_first_fire_and_rearm(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 27);
    add(f.m, "s1");
    cairn_manager_start(f.m);
    assert_int_equal(cairn_manager_next_rebalance(f.m), 120 * CAIRN_SEC);
    cairn_loop_manual_advance(f.loop, 120 * CAIRN_SEC - 1);
    assert_int_equal(f.rebalancer_calls, 0);
    assert_int_equal(f.pool.pings, 0);
    cairn_loop_manual_advance(f.loop, 1);
    assert_int_equal(f.rebalancer_calls, 1);
    assert_int_equal(f.pool.pings, 1);
    /* 16384 nodes / 1 server: 256 s exactly (above the 3 min jitter cap). */
    assert_int_equal(cairn_manager_next_rebalance(f.m), 120 * CAIRN_SEC + 256 * CAIRN_SEC);
    /* Two servers: 128 s < min, so the jittered minimum. */
    add(f.m, "s2");
    cairn_loop_manual_advance(f.loop, 256 * CAIRN_SEC);
    assert_int_equal(f.rebalancer_calls, 2);
    cairn_time now = cairn_loop_now(f.loop);
    cairn_time next = cairn_manager_next_rebalance(f.m);
    assert_true(next >= now + 2 * CAIRN_MIN && next < now + 3 * CAIRN_MIN);
    /* reset_rebalance_timer: exactly 2 min from now. */
    cairn_manager_reset_rebalance_timer(f.m);
    assert_int_equal(cairn_manager_next_rebalance(f.m), now + 2 * CAIRN_MIN);
    fx_destroy(&f);
}

static void test_timer_rearm_uses_post_rebalance_count(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 65535, NULL, 28);
    f.pool.async = true;
    add(f.m, "s1");
    cairn_manager_start(f.m);
    cairn_loop_manual_advance(f.loop, 2 * CAIRN_MIN);
    assert_true(cairn_manager_rebalancing(f.m));
    assert_int_equal(cairn_manager_next_rebalance(f.m), -1); /* re-armed at the end */
    add(f.m, "s2");                                          /* joins during the ping */
    cairn_loop_manual_advance(f.loop, 5 * CAIRN_SEC);
    assert_true(faux_conn_pool_complete(&f.pool, true));
    /* 65535 nodes / 2 servers = 511.9921875 s, not 1023.984375 s (1 server). */
    assert_int_equal(cairn_manager_next_rebalance(f.m),
                     2 * CAIRN_MIN + 5 * CAIRN_SEC + 511992187500LL);
    /* A failing rebalance re-arms too. */
    cairn_loop_manual_advance(f.loop, 511992187500LL);
    assert_int_equal(f.rebalancer_calls, 2);
    assert_true(faux_conn_pool_complete(&f.pool, false));
    assert_true(faux_conn_pool_complete(&f.pool, false));
    assert_true(cairn_manager_is_offline(f.m));
    assert_true(cairn_manager_next_rebalance(f.m) > cairn_loop_now(f.loop));
    fx_destroy(&f);
}

/* ---- §7.5 lib ---- */

static void test_rate_scaled_interval(void **state)
{
    (void)state;
    const double min_rate = 1.0 / 86400.0;
    const cairn_time min = CAIRN_SEC;
    assert_int_equal(cairn_rate_scaled_interval(200, min, 0), CAIRN_SEC);
    assert_int_equal(cairn_rate_scaled_interval(200, min, 100), CAIRN_SEC);
    assert_int_equal(cairn_rate_scaled_interval(200, min, 200), CAIRN_SEC);
    assert_int_equal(cairn_rate_scaled_interval(200, min, 1000), 5 * CAIRN_SEC);
    assert_int_equal(cairn_rate_scaled_interval(200, min, 5000), 25 * CAIRN_SEC);
    assert_int_equal(cairn_rate_scaled_interval(200, min, 10000), 50 * CAIRN_SEC);
    assert_int_equal(cairn_rate_scaled_interval(min_rate / 2, min, 100), min);
    assert_int_equal(cairn_rate_scaled_interval(0, min, 10000), min);
    assert_int_equal(cairn_rate_scaled_interval(0.0, min, 10000), min);
    assert_int_equal(cairn_rate_scaled_interval(-1, min, 10000), min);
}

static void test_random_stagger(void **state)
{
    (void)state;
    cairn_rng rng;
    cairn_rng_init(&rng, 5);
    for (int i = 0; i < 10; i++) {
        cairn_time d = cairn_random_stagger(&rng, CAIRN_MIN);
        assert_true(d >= 0 && d < CAIRN_MIN);
    }
    assert_int_equal(cairn_random_stagger(&rng, 0), 0);
    assert_int_equal(cairn_random_stagger(&rng, -5), 0);
}

/* ---- later additions ---- */

static void test_update_tls(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 29);
    add(f.m, "s1");
    add(f.m, "s2");
    cairn_server *old;
    assert_int_equal(cairn_manager_find_server_ref(f.m, &old), 0);
    assert_false(old->use_tls);
    assert_int_equal(cairn_manager_update_tls(f.m, true), 0);
    cairn_server_info info;
    assert_string_equal(front(f.m, &info), "s1");
    assert_true(info.use_tls);
    assert_false(old->use_tls); /* records are immutable: replaced, not written */
    char buf[64];
    order(f.m, buf);
    assert_string_equal(buf, "s1,s2,");
    cairn_manager_notify_failed_server(f.m, "s1");
    assert_true(cairn_manager_find_server(f.m, &info) == 0 && info.use_tls);
    cairn_server_unref(old);
    fx_destroy(&f);
}

static bool stop_at_s2(const cairn_server *s, void *ud)
{
    (*(int *)ud)++;
    return strcmp(s->name, "s2") != 0;
}

static void test_check_servers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 30);
    int calls = 0;
    assert_true(cairn_manager_check_servers(f.m, stop_at_s2, &calls));
    assert_int_equal(calls, 0);
    add(f.m, "s1");
    add(f.m, "s2");
    add(f.m, "s3");
    assert_false(cairn_manager_check_servers(f.m, stop_at_s2, &calls));
    assert_int_equal(calls, 2);
    assert_true(cairn_manager_check_servers(NULL, stop_at_s2, &calls));
    fx_destroy(&f);
}

static bool count_cb(const cairn_server *s, void *ud)
{
    (void)s;
    (*(int *)ud)++;
    return true;
}

/* The hot path allocates nothing and writes no shared memory: with every
 * allocation failing, lookups still succeed, and reference counts are
 * untouched by them. */
static void test_hot_path_no_alloc_no_refcount(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct fx f;
    fx_init(&f, 0, 16384, NULL, 31);
    add(f.m, "s1");
    add(f.m, "s2");
    cairn_server *s1;
    assert_int_equal(cairn_manager_find_server_ref(f.m, &s1), 0);
    cairn_rcu_barrier(); /* retired lists drop their references */
    long refs = cairn_server_refcount(s1);
    cairn__test_alloc_fail_after(0);
    for (int i = 0; i < 1000; i++) {
        cairn_server_info info;
        assert_int_equal(cairn_manager_find_server(f.m, &info), 0);
        assert_string_equal(info.name, "s1");
        assert_int_equal(cairn_manager_num_servers(f.m), 2);
        assert_false(cairn_manager_is_offline(f.m));
        int calls = 0;
        assert_true(cairn_manager_check_servers(f.m, count_cb, &calls));
        assert_int_equal(calls, 2);
    }
    assert_false(cairn__test_alloc_failed());
    cairn__test_alloc_fail_after(-1);
    assert_int_equal(cairn_server_refcount(s1), refs);
    cairn_server_unref(s1);
    fx_destroy(&f);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* ---- allocation failures ---- */

typedef int (*op_fn)(struct fx *f);

static int op_add_new(struct fx *f)
{
    cairn_server *s = faux_server("s9", "dc1");
    if (s == NULL)
        return CAIRN_ENOMEM;
    int rc = cairn_manager_add_server(f->m, s);
    cairn_server_unref(s);
    return rc;
}

static int op_add_replace(struct fx *f)
{
    cairn_server *s = faux_server("s2", "dc1");
    if (s == NULL)
        return CAIRN_ENOMEM;
    int rc = cairn_manager_add_server(f->m, s);
    cairn_server_unref(s);
    return rc;
}

static int op_remove(struct fx *f)
{
    return cairn_manager_remove_server(f->m, "s2");
}

static int op_notify(struct fx *f)
{
    cairn_server_info info;
    if (cairn_manager_find_server(f->m, &info) < 0)
        return CAIRN_ENOSERVERS;
    return cairn_manager_notify_failed_server(f->m, info.name);
}

static int op_rebalance(struct fx *f)
{
    return cairn_manager_rebalance(f->m);
}

static int op_update_tls(struct fx *f)
{
    return cairn_manager_update_tls(f->m, true);
}

static int op_timer_tick(struct fx *f)
{
    cairn_manager_start(f->m);
    cairn_loop_manual_advance(f->loop, 2 * CAIRN_MIN);
    /* Errors inside a tick are logged, never lost: the timer is re-armed. */
    return cairn_manager_next_rebalance(f->m) > cairn_loop_now(f->loop) ? 0 : CAIRN_EIO;
}

static int op_get_list(struct fx *f)
{
    cairn_server_list *l;
    int rc = cairn__manager_get_list(f->m, &l);
    if (rc == 0)
        cairn__server_list_free(l);
    return rc;
}

/* Sets *ret_c to a cycled copy of the manager's current list. */
static int cycled_list(struct fx *f, cairn_server_list **ret_c)
{
    cairn_server_list *l;
    int rc = cairn__manager_get_list(f->m, &l);
    if (rc < 0)
        return rc;
    cairn_server_list *c = cairn__server_list_cycle(l);
    cairn__server_list_free(l);
    if (c == NULL)
        return CAIRN_ENOMEM;
    *ret_c = c;
    return 0;
}

static int op_save_list(struct fx *f)
{
    cairn_server_list *c;
    int rc = cycled_list(f, &c);
    if (rc < 0)
        return rc;
    rc = cairn__manager_save_list(f->m, c);
    cairn__server_list_free(c);
    return rc;
}

static int op_reconcile(struct fx *f)
{
    cairn_server_list *c;
    int rc = cycled_list(f, &c);
    if (rc < 0)
        return rc;
    rc = cairn__manager_reconcile(f->m, c);
    cairn__server_list_free(c);
    return rc == 1 ? 0 : (rc == 0 ? CAIRN_EIO : rc);
}

static void sweep(const char *what, op_fn op, bool changes_list)
{
    cairn__test_alloc_install();
    long n;
    for (n = 0;; n++) {
        struct fx f;
        fx_init(&f, 0, 16384, NULL, 40);
        add(f.m, "s1");
        add(f.m, "s2");
        add(f.m, "s3");
        char before[64], after[64];
        order(f.m, before);
        cairn_rcu_barrier(); /* retired lists are freed */
        long live = cairn__test_alloc_live();
        cairn__test_alloc_fail_after(n);
        int rc = op(&f);
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        order(f.m, after);
        if (!failed) {
            assert_int_equal(rc, 0);
            if (changes_list && n > 0)
                assert_string_not_equal(before, after);
            fx_destroy(&f);
            assert_int_equal(cairn__test_alloc_live(), 0);
            break;
        }
        if (rc != CAIRN_ENOMEM)
            fail_msg("%s: failing allocation %ld returned %d", what, n, rc);
        assert_string_equal(before, after);               /* nothing changed */
        assert_int_equal(cairn__test_alloc_live(), live); /* nothing leaked */
        fx_destroy(&f);
        assert_int_equal(cairn__test_alloc_live(), 0);
    }
    assert_true(n > 0); /* the operation allocates: the sweep tested something */
    cairn__test_alloc_uninstall();
}

static void test_alloc_failures(void **state)
{
    (void)state;
    sweep("add", op_add_new, true);
    sweep("add-replace", op_add_replace, false);
    sweep("remove", op_remove, true);
    sweep("notify", op_notify, true);
    sweep("rebalance", op_rebalance, false);
    sweep("update_tls", op_update_tls, false);
    sweep("get_list", op_get_list, false);
    sweep("save_list", op_save_list, true);
    sweep("reconcile", op_reconcile, true);
    /* new: every failure returns ENOMEM and frees what it made. */
    cairn__test_alloc_install();
    for (long n = 0;; n++) {
        struct fx f;
        memset(&f, 0, sizeof(f));
        assert_int_equal(cairn_loop_new_manual(0, &f.loop), 0);
        faux_serf_init(&f.serf, 1);
        faux_conn_pool_init(&f.pool, 0, 1);
        long live = cairn__test_alloc_live();
        cairn__test_alloc_fail_after(n);
        int rc = fx_make(&f, "self", 1);
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        if (!failed) {
            assert_int_equal(rc, 0);
            fx_destroy(&f);
            assert_int_equal(cairn__test_alloc_live(), 0);
            break;
        }
        assert_int_equal(rc, CAIRN_ENOMEM);
        assert_int_equal(cairn__test_alloc_live(), live);
        cairn_loop_delete(f.loop);
        assert_int_equal(cairn__test_alloc_live(), 0);
    }
    cairn__test_alloc_uninstall();
}

/* A timer tick whose rebalance cannot allocate still re-arms the timer. */
static void test_alloc_failure_timer_tick(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    for (long n = 0; n < 8; n++) {
        struct fx f;
        fx_init(&f, 0, 16384, NULL, 41);
        add(f.m, "s1");
        add(f.m, "s2");
        cairn__test_alloc_fail_after(n);
        assert_int_equal(op_timer_tick(&f), 0);
        cairn__test_alloc_fail_after(-1);
        assert_int_equal(cairn_manager_num_servers(f.m), 2);
        fx_destroy(&f);
        assert_int_equal(cairn__test_alloc_live(), 0);
    }
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_server),
        cmocka_unit_test(test_add_server_replaces_in_place),
        cmocka_unit_test(test_is_offline),
        cmocka_unit_test(test_find_server),
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_notify_failed_server),
        cmocka_unit_test(test_num_servers),
        cmocka_unit_test(test_rebalance_servers),
        cmocka_unit_test(test_rebalance_avoid_failed),
        cmocka_unit_test(test_remove_server),
        cmocka_unit_test(test_cycle_server),
        cmocka_unit_test(test_get_server_list),
        cmocka_unit_test(test_new_internal),
        cmocka_unit_test(test_reconcile_server_list),
        cmocka_unit_test(test_reconcile_rules),
        cmocka_unit_test(test_refresh_server_rebalance_timer),
        cmocka_unit_test(test_rebalance_delayer),
        cmocka_unit_test(test_save_server_list),
        cmocka_unit_test(test_healthy_server),
        cmocka_unit_test(test_manager_rebalance),
        cmocka_unit_test(test_regression_8401_single_server_timer),
        cmocka_unit_test(test_regression_3463_rotation),
        cmocka_unit_test(test_async_rebalance_concurrent_writes),
        cmocka_unit_test(test_async_delete_in_flight),
        cmocka_unit_test(test_ping_start_failure),
        cmocka_unit_test(test_timer_first_fire_and_rearm),
        cmocka_unit_test(test_timer_rearm_uses_post_rebalance_count),
        cmocka_unit_test(test_rate_scaled_interval),
        cmocka_unit_test(test_random_stagger),
        cmocka_unit_test(test_update_tls),
        cmocka_unit_test(test_check_servers),
        cmocka_unit_test(test_hot_path_no_alloc_no_refcount),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_alloc_failure_timer_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
