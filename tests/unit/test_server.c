/* Unit tests for server metadata (spec §5, §7.5): TestServer_Key*,
 * TestIsConsulServer (E1 style, _Optional, and the newest table), TestBuild,
 * plus Go's Atoi and SplitHostPort rules, String(), and an allocation
 * failure sweep of the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/cluster.h"
#include "cairn/server.h"
#include "servers/server_internal.h"
#include "base/alloc_test.h"

/* A member whose tags a test can set and delete. */
#define MAXTAGS 32
struct tmember {
    cairn_tag tags[MAXTAGS];
    size_t ntags;
    cairn_member m;
};

static void tm_set(struct tmember *t, const char *k, const char *v)
{
    for (size_t i = 0; i < t->ntags; i++) {
        if (strcmp(t->tags[i].key, k) == 0) {
            t->tags[i].value = v;
            return;
        }
    }
    assert_true(t->ntags < MAXTAGS);
    t->tags[t->ntags++] = (cairn_tag){k, v};
    t->m.tags = t->tags;
    t->m.ntags = t->ntags;
}

static void tm_del(struct tmember *t, const char *k)
{
    for (size_t i = 0; i < t->ntags; i++) {
        if (strcmp(t->tags[i].key, k) == 0) {
            t->tags[i] = t->tags[--t->ntags];
            t->m.ntags = t->ntags;
            return;
        }
    }
}

static void tm_init(struct tmember *t, const char *name, const char *ip, uint16_t serf_port,
                    int status)
{
    memset(t, 0, sizeof(*t));
    t->m.name = name;
    assert_int_equal(cairn_addr_parse_ip(ip, serf_port, &t->m.addr), 0);
    t->m.status = status;
    t->m.tags = t->tags;
}

/* The record-free check (the Router's datacenter lists) must agree with
 * the full parse: same verdict, same diagnostic, same datacenter. */
static void check_agrees(struct tmember *t, int rc, const cairn_diag *d, const cairn_server *s)
{
    const char *dc = NULL;
    cairn_diag d2 = {0};
    assert_int_equal(cairn__server_check_member(&t->m, &dc, &d2), rc);
    if (d != NULL)
        assert_string_equal(d2.msg, d->msg);
    if (rc == 0)
        assert_string_equal(dc, s->datacenter);
}

static cairn_server *parse_ok(struct tmember *t)
{
    cairn_server *s = NULL;
    cairn_diag d = {0};
    int rc = cairn_server_from_member(&t->m, &s, &d);
    if (rc != 0)
        fail_msg("parse failed: %s (%s)", cairn_err_name(rc), d.msg);
    check_agrees(t, rc, &d, s);
    return s;
}

static int parse_rc(struct tmember *t, cairn_diag *d)
{
    cairn_server *s = NULL;
    int rc = cairn_server_from_member(&t->m, &s, d);
    check_agrees(t, rc, d, s);
    if (rc == 0)
        cairn_server_unref(s);
    return rc;
}

/* ---- TestServer_Key* ---- */

static cairn_server *named(const char *name, const char *ip)
{
    cairn_server f = {0};
    f.name = name;
    if (ip != NULL)
        assert_int_equal(cairn_addr_parse_ip(ip, 8300, &f.addr), 0);
    cairn_server *s;
    assert_int_equal(cairn_server_new(&f, &s), 0);
    return s;
}

/* A tiny "map" keyed by Key: finds the index of the first equal key. */
static int map_find(cairn_server **keys, int n, const cairn_server *k)
{
    for (int i = 0; i < n; i++)
        if (cairn_server_key_equal(keys[i], k))
            return i;
    return -1;
}

static void test_key_params(void **state)
{
    (void)state;
    /* "Addr inequality": same name, different IPs: equal keys. */
    cairn_server *a = named("s1", "127.0.0.1");
    cairn_server *b = named("s1", "127.0.0.2");
    assert_false(cairn_addr_equal(&a->addr, &b->addr));
    assert_true(cairn_server_key_equal(a, b));
    assert_string_equal(cairn_server_key(a), cairn_server_key(b));
    cairn_server *keys[1] = {a};
    assert_int_equal(map_find(keys, 1, b), 0);
    cairn_server_unref(a);
    cairn_server_unref(b);
}

static void test_key_equal(void **state)
{
    (void)state;
    cairn_server *s1 = named("s1", NULL), *s1b = named("s1", NULL), *s2 = named("s2", NULL);
    assert_true(cairn_server_key_equal(s1, s1b));
    cairn_server *keys[1] = {s1};
    assert_int_equal(map_find(keys, 1, s1b), 0);
    assert_false(cairn_server_key_equal(s1, s2));
    assert_int_equal(map_find(keys, 1, s2), -1);
    assert_true(cairn_server_key_equal(NULL, NULL));
    assert_false(cairn_server_key_equal(s1, NULL));
    cairn_server_unref(s1);
    cairn_server_unref(s1b);
    cairn_server_unref(s2);
}

static void test_key(void **state)
{
    (void)state;
    cairn_server *s = named("s1", NULL);
    assert_string_equal(cairn_server_key(s), "s1");
    assert_true(strcmp(cairn_server_key(s), "s2") != 0);
    cairn_server_unref(s);
}

static void test_string(void **state)
{
    (void)state;
    cairn_server f = {0};
    f.name = "node1.dc1";
    f.datacenter = "dc1";
    assert_int_equal(cairn_addr_parse_ip("127.0.0.1", 8300, &f.addr), 0);
    cairn_server *s;
    assert_int_equal(cairn_server_new(&f, &s), 0);
    char buf[128];
    int n = cairn_server_string(s, buf, sizeof(buf));
    assert_string_equal(buf, "node1.dc1 (Addr: tcp/127.0.0.1:8300) (DC: dc1)");
    assert_int_equal(n, (int)strlen(buf));
    /* Truncation still NUL-terminates and reports the needed length. */
    char small[8];
    assert_int_equal(cairn_server_string(s, small, sizeof(small)), n);
    assert_string_equal(small, "node1.d");
    assert_string_equal(s->short_name, "node1");
    cairn_server_unref(s);
    cairn_server *bare = named("s1", NULL);
    cairn_server_string(bare, buf, sizeof(buf));
    assert_string_equal(buf, "s1 (Addr: /) (DC: )");
    cairn_server_unref(bare);
    /* IPv6 is bracketed. */
    cairn_server *v6 = named("s6", "::1");
    cairn_server_string(v6, buf, sizeof(buf));
    assert_string_equal(buf, "s6 (Addr: tcp/[::1]:8300) (DC: )");
    cairn_server_unref(v6);
}

static void test_refcount(void **state)
{
    (void)state;
    cairn_server *s = named("s1", NULL);
    assert_int_equal(cairn_server_refcount(s), 1);
    assert_ptr_equal(cairn_server_ref(s), s);
    assert_int_equal(cairn_server_refcount(s), 2);
    cairn_server_unref(s);
    assert_int_equal(cairn_server_refcount(s), 1);
    cairn_server_unref(s);
    cairn_server_unref(NULL);
    assert_null(cairn_server_ref(NULL));
}

/* ---- TestIsConsulServer, E1 style ---- */

static void e1_base(struct tmember *t)
{
    tm_init(t, "foo", "127.0.0.1", 8301, CAIRN_MEMBER_LEFT);
    tm_set(t, "role", "consul");
    tm_set(t, "id", "asdf");
    tm_set(t, "dc", "east-aws");
    tm_set(t, "port", "10000");
    tm_set(t, "build", "0.8.0");
    tm_set(t, "wan_join_port", "1234");
    tm_set(t, "vsn", "1");
    tm_set(t, "expect", "3");
    tm_set(t, "raft_vsn", "3");
    tm_set(t, "use_tls", "1");
    tm_set(t, "nonvoter", "1");
}

static void test_is_consul_server_e1(void **state)
{
    (void)state;
    struct tmember t;
    e1_base(&t);
    cairn_server *s = parse_ok(&t);
    assert_string_equal(s->datacenter, "east-aws");
    assert_int_equal(s->port, 10000);
    assert_string_equal(s->name, "foo");
    assert_string_equal(s->id, "asdf");
    assert_false(s->bootstrap);
    assert_int_equal(s->expect, 3);
    assert_int_equal(s->wan_join_port, 1234);
    assert_int_equal(s->raft_version, 3);
    assert_int_equal(s->status, CAIRN_MEMBER_LEFT);
    assert_true(s->use_tls);
    assert_true(s->non_voter);
    assert_true(s->read_replica);
    cairn_server_unref(s);

    tm_set(&t, "bootstrap", "1");
    tm_set(&t, "disabled", "1");
    s = parse_ok(&t);
    assert_true(s->bootstrap);
    char buf[CAIRN_ADDR_STRLEN];
    assert_string_equal(cairn_addr_format(&s->addr, true, buf, sizeof(buf)), "127.0.0.1:10000");
    assert_int_equal(s->version, 1);
    cairn_server_unref(s);

    tm_set(&t, "expect", "3");
    tm_del(&t, "bootstrap");
    tm_del(&t, "disabled");
    s = parse_ok(&t);
    assert_int_equal(s->expect, 3);
    assert_false(s->bootstrap);
    cairn_server_unref(s);

    tm_del(&t, "nonvoter");
    s = parse_ok(&t);
    assert_false(s->non_voter);
    assert_false(s->read_replica);
    cairn_server_unref(s);

    tm_del(&t, "role");
    cairn_diag d = {0};
    assert_int_equal(parse_rc(&t, &d), CAIRN_ENOENT);
    assert_string_equal(d.msg, "role is not consul");
    tm_set(&t, "role", "node");
    assert_int_equal(parse_rc(&t, NULL), CAIRN_ENOENT);
}

static void test_is_consul_server_optional(void **state)
{
    (void)state;
    struct tmember t;
    e1_base(&t);
    tm_del(&t, "wan_join_port");
    tm_del(&t, "raft_vsn");
    tm_del(&t, "expect");
    cairn_server *s = parse_ok(&t);
    assert_string_equal(s->datacenter, "east-aws");
    assert_int_equal(s->port, 10000);
    assert_string_equal(s->name, "foo");
    assert_string_equal(s->id, "asdf");
    assert_false(s->bootstrap);
    assert_int_equal(s->expect, 0);
    assert_int_equal(s->wan_join_port, 0);
    assert_int_equal(s->raft_version, 0);
    assert_int_equal(s->status, CAIRN_MEMBER_LEFT);
    cairn_server_unref(s);

    tm_set(&t, "bootstrap", "1");
    tm_set(&t, "disabled", "1");
    s = parse_ok(&t);
    assert_true(s->bootstrap);
    char buf[CAIRN_ADDR_STRLEN];
    assert_string_equal(cairn_addr_format(&s->addr, true, buf, sizeof(buf)), "127.0.0.1:10000");
    assert_int_equal(s->version, 1);
    cairn_server_unref(s);

    tm_set(&t, "expect", "3");
    tm_del(&t, "bootstrap");
    tm_del(&t, "disabled");
    s = parse_ok(&t);
    assert_int_equal(s->expect, 3);
    assert_false(s->bootstrap);
    cairn_server_unref(s);

    tm_del(&t, "role");
    assert_int_equal(parse_rc(&t, NULL), CAIRN_ENOENT);
}

/* ---- TestIsConsulServer, newest table ---- */

static void newest_base(struct tmember *t)
{
    tm_init(t, "foo", "127.0.0.1", 5454, CAIRN_MEMBER_LEFT);
    tm_set(t, "role", "consul");
    tm_set(t, "id", "asdf");
    tm_set(t, "dc", "east-aws");
    tm_set(t, "port", "10000");
    tm_set(t, "build", "0.8.0");
    tm_set(t, "wan_join_port", "1234");
    tm_set(t, "grpc_port", "9876");
    tm_set(t, "grpc_tls_port", "9877");
    tm_set(t, "vsn", "1");
    tm_set(t, "expect", "3");
    tm_set(t, "raft_vsn", "3");
    tm_set(t, "use_tls", "1");
}

/* The expected record of the base member, as the Go table spells it. */
static void check_newest(const cairn_server *s, int64_t grpc, int64_t grpc_tls, int64_t expect,
                         int64_t wan, int64_t raft, bool read_replica, bool bootstrap)
{
    assert_string_equal(s->name, "foo");
    assert_string_equal(s->short_name, "foo");
    assert_string_equal(s->id, "asdf");
    assert_string_equal(s->datacenter, "east-aws");
    assert_string_equal(s->segment, "");
    assert_int_equal(s->nsegments, 0);
    assert_int_equal(s->port, 10000);
    assert_int_equal(s->lan_join_port, 5454);
    assert_int_equal(s->grpc_port, grpc);
    assert_int_equal(s->grpc_tls_port, grpc_tls);
    assert_int_equal(s->wan_join_port, wan);
    assert_int_equal(s->expect, expect);
    assert_int_equal(s->raft_version, raft);
    assert_int_equal(s->version, 1);
    assert_int_equal(s->build.major, 0);
    assert_int_equal(s->build.minor, 8);
    assert_int_equal(s->build.patch, 0);
    assert_int_equal(s->status, CAIRN_MEMBER_LEFT);
    assert_true(s->use_tls);
    assert_int_equal(s->read_replica, read_replica);
    assert_int_equal(s->bootstrap, bootstrap);
    char buf[CAIRN_ADDR_STRLEN];
    assert_string_equal(cairn_addr_format(&s->addr, true, buf, sizeof(buf)), "127.0.0.1:10000");
}

static void test_is_consul_server_newest(void **state)
{
    (void)state;
    struct tmember t;
    cairn_server *s;

    newest_base(&t); /* normal */
    s = parse_ok(&t);
    check_newest(s, 9876, 9877, 3, 1234, 3, false, false);
    assert_int_equal(s->nfeatures, 0);
    cairn_server_unref(s);

    newest_base(&t); /* read-replica */
    tm_set(&t, "read_replica", "1");
    s = parse_ok(&t);
    check_newest(s, 9876, 9877, 3, 1234, 3, true, false);
    assert_false(s->non_voter);
    cairn_server_unref(s);

    newest_base(&t); /* non-voter */
    tm_set(&t, "nonvoter", "1");
    s = parse_ok(&t);
    check_newest(s, 9876, 9877, 3, 1234, 3, true, false);
    cairn_server_unref(s);

    newest_base(&t); /* expect-3 */
    tm_set(&t, "expect", "3");
    s = parse_ok(&t);
    check_newest(s, 9876, 9877, 3, 1234, 3, false, false);
    cairn_server_unref(s);

    newest_base(&t); /* bootstrapped */
    tm_set(&t, "bootstrap", "1");
    s = parse_ok(&t);
    check_newest(s, 9876, 9877, 3, 1234, 3, false, true);
    cairn_server_unref(s);

    newest_base(&t); /* optionals */
    tm_del(&t, "grpc_port");
    tm_del(&t, "wan_join_port");
    tm_del(&t, "raft_vsn");
    tm_del(&t, "expect");
    s = parse_ok(&t);
    check_newest(s, 0, 9877, 0, 0, 0, false, false);
    cairn_server_unref(s);

    newest_base(&t); /* feature-namespaces */
    tm_set(&t, "ft_ns", "1");
    s = parse_ok(&t);
    check_newest(s, 9876, 9877, 3, 1234, 3, false, false);
    assert_int_equal(s->nfeatures, 1);
    assert_string_equal(s->features[0].name, "ns");
    assert_int_equal(s->features[0].value, 1);
    cairn_server_unref(s);

    newest_base(&t); /* no-role */
    tm_del(&t, "role");
    assert_int_equal(parse_rc(&t, NULL), CAIRN_ENOENT);

    newest_base(&t); /* missing-grpc-port */
    tm_del(&t, "grpc_port");
    s = parse_ok(&t);
    check_newest(s, 0, 9877, 3, 1234, 3, false, false);
    cairn_server_unref(s);

    newest_base(&t); /* missing-grpc-tls-port */
    tm_del(&t, "grpc_tls_port");
    s = parse_ok(&t);
    check_newest(s, 9876, 0, 3, 1234, 3, false, false);
    cairn_server_unref(s);

    newest_base(&t); /* missing-both */
    tm_del(&t, "grpc_port");
    tm_del(&t, "grpc_tls_port");
    s = parse_ok(&t);
    check_newest(s, 0, 0, 3, 1234, 3, false, false);
    cairn_server_unref(s);

    static const char *const bad[][2] = {
        {"", ""},      /* bad-both */
        {"three", ""}, /* bad-grpc-port */
        {"-1", ""},    /* negative-grpc-port */
        {"0", ""},     /* zero-grpc-port */
        {"", "three"}, /* bad-grpc-tls-port */
        {"", "-1"},    /* negative-grpc-tls-port */
        {"", "0"},     /* zero-grpc-tls-port */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        newest_base(&t);
        tm_set(&t, "grpc_port", bad[i][0]);
        tm_set(&t, "grpc_tls_port", bad[i][1]);
        cairn_diag d = {0};
        assert_int_equal(parse_rc(&t, &d), CAIRN_EINVAL);
        assert_non_null(strstr(d.msg, "grpc_port"));
    }
    /* One good port and one bad one is fine; the bad one keeps Atoi's value. */
    newest_base(&t);
    tm_set(&t, "grpc_port", "three");
    s = parse_ok(&t);
    assert_int_equal(s->grpc_port, 0);
    assert_int_equal(s->grpc_tls_port, 9877);
    cairn_server_unref(s);
    newest_base(&t);
    tm_set(&t, "grpc_tls_port", "-1");
    s = parse_ok(&t);
    assert_int_equal(s->grpc_tls_port, -1);
    cairn_server_unref(s);
}

/* Every failing rule of §5.2 gives EINVAL with a diagnostic naming the tag. */
static void test_is_consul_server_rules(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"expect", "x", "expect: \"x\" is not an integer"},
        {"port", "abc", "port: \"abc\" is not an integer"},
        {"port", "", "port: \"\" is not an integer"},
        {"port", " 1", "port: \" 1\" is not an integer"},
        {"port", "1 ", "port: \"1 \" is not an integer"},
        {"port", "0x10", "port: \"0x10\" is not an integer"},
        {"port", "1_000", "port: \"1_000\" is not an integer"},
        {"port", "9223372036854775808", "port: \"9223372036854775808\" is out of range"},
        {"sl_alpha", "127.0.0.1", "sl_alpha"},
        {"sl_alpha", "127.0.0.1:x", "sl_alpha"},
        {"sl_alpha", "a:b:1", "too many colons"},
        {"ft_ns", "yes", "ft_ns: \"yes\" is not an integer"},
        {"wan_join_port", "x", "wan_join_port"},
        {"vsn", "1.0", "vsn: \"1.0\" is not an integer"},
        {"raft_vsn", "three", "raft_vsn"},
        {"build", "nope", "build"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tmember t;
        newest_base(&t);
        tm_set(&t, cases[i].key, cases[i].value);
        cairn_diag d = {0};
        assert_int_equal(parse_rc(&t, &d), CAIRN_EINVAL);
        if (strstr(d.msg, cases[i].needle) == NULL)
            fail_msg("case %zu: diag \"%s\" lacks \"%s\"", i, d.msg, cases[i].needle);
    }
    static const char *const required[] = {"port", "vsn", "build"};
    for (size_t i = 0; i < 3; i++) {
        struct tmember t;
        newest_base(&t);
        tm_del(&t, required[i]);
        cairn_diag d = {0};
        assert_int_equal(parse_rc(&t, &d), CAIRN_EINVAL);
        assert_non_null(strstr(d.msg, required[i]));
    }
    /* Negative and signed values are accepted, as Go's Atoi does. */
    struct tmember t;
    newest_base(&t);
    tm_set(&t, "port", "-1");
    tm_set(&t, "vsn", "+2");
    cairn_server *s = parse_ok(&t);
    assert_int_equal(s->port, -1);
    assert_int_equal(s->addr.port, 0);
    assert_int_equal(s->version, 2);
    cairn_server_unref(s);
    /* Segments, feature flags, short name and the name limit. */
    tm_init(&t, "foo.dc1", "10.0.0.1", 8302, CAIRN_MEMBER_ALIVE);
    tm_set(&t, "role", "consul");
    tm_set(&t, "dc", "dc1");
    tm_set(&t, "port", "8300");
    tm_set(&t, "vsn", "2");
    tm_set(&t, "build", "1.2.3");
    tm_set(&t, "segment", "beta");
    tm_set(&t, "sl_beta", "10.0.0.1:8303");
    tm_set(&t, "sl_alpha", "[fd00::1]:8304");
    tm_set(&t, "ft_si", "2");
    tm_set(&t, "ft_ns", "-1");
    s = parse_ok(&t);
    assert_string_equal(s->short_name, "foo");
    assert_string_equal(s->segment, "beta");
    assert_int_equal(s->nsegments, 2);
    assert_string_equal(s->segments[0].name, "alpha");
    assert_string_equal(s->segments[0].host, "fd00::1");
    assert_int_equal(s->segments[0].port, 8304);
    assert_string_equal(s->segments[1].name, "beta");
    assert_string_equal(s->segments[1].host, "10.0.0.1");
    assert_int_equal(s->segments[1].port, 8303);
    assert_int_equal(s->nfeatures, 2);
    assert_string_equal(s->features[0].name, "ns");
    assert_int_equal(s->features[0].value, -1);
    assert_string_equal(s->features[1].name, "si");
    assert_int_equal(s->grpc_port, 0);
    assert_int_equal(s->lan_join_port, 8302);
    cairn_server_info info;
    cairn_server_info_fill(s, &info);
    assert_string_equal(info.name, "foo.dc1");
    assert_string_equal(info.short_name, "foo");
    assert_string_equal(info.datacenter, "dc1");
    assert_true(cairn_addr_equal(&info.addr, &s->addr));
    assert_int_equal(info.version, 2);
    cairn_server_unref(s);
    char longname[CAIRN_SERVER_NAME_MAX + 1];
    memset(longname, 'a', CAIRN_SERVER_NAME_MAX);
    longname[CAIRN_SERVER_NAME_MAX] = '\0';
    t.m.name = longname;
    cairn_diag d = {0};
    assert_int_equal(parse_rc(&t, &d), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "name"));
    longname[CAIRN_SERVER_NAME_MAX - 1] = '\0'; /* exactly the limit */
    s = parse_ok(&t);
    cairn_server_info_fill(s, &info);
    assert_string_equal(info.name, longname);
    cairn_server_unref(s);
    assert_int_equal(cairn_server_from_member(NULL, &s, NULL), CAIRN_EINVAL);
}

/* ---- TestBuild ---- */

static void test_build(void **state)
{
    (void)state;
    struct tmember t;
    newest_base(&t);
    tm_del(&t, "build");
    assert_int_equal(parse_rc(&t, NULL), CAIRN_EINVAL); /* no tag */
    static const struct {
        const char *tag;
        int ok;
        int64_t v[3];
    } rows[] = {
        {"nope", 0, {0}},
        {"0.8.5", 1, {0, 8, 5}},
        {"0.9.3rc1:d62743c", 1, {0, 9, 3}},
        {"0.9.3+ent:d62743c", 1, {0, 9, 3}},
        /* Beyond the Go table: leftmost match, greedy digits, overflow. */
        {"v1.2", 0, {0}},
        {"x1.2a3.4.5", 1, {3, 4, 5}},
        {"12.34.56.78", 1, {12, 34, 56}},
        {"1.2.99999999999999999999", 0, {0}},
        {"", 0, {0}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tm_set(&t, "build", rows[i].tag);
        cairn_server_version v = {0};
        cairn_diag d = {0};
        int rc = cairn_server_parse_build(rows[i].tag, &v, &d);
        cairn_server *s = NULL;
        int prc = cairn_server_from_member(&t.m, &s, NULL);
        if (!rows[i].ok) {
            assert_int_equal(rc, CAIRN_EINVAL);
            assert_non_null(strstr(d.msg, "build"));
            assert_int_equal(prc, CAIRN_EINVAL);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(prc, 0);
        assert_int_equal(v.major, rows[i].v[0]);
        assert_int_equal(v.minor, rows[i].v[1]);
        assert_int_equal(v.patch, rows[i].v[2]);
        assert_memory_equal(&s->build, &v, sizeof(v));
        cairn_server_unref(s);
    }
}

/* ---- Go's Atoi and SplitHostPort ---- */

static void test_atoi(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        int64_t v;
    } rows[] = {
        {"0", 0, 0},
        {"10000", 0, 10000},
        {"+5", 0, 5},
        {"-5", 0, -5},
        {"-0", 0, 0},
        {"007", 0, 7},
        {"9223372036854775807", 0, INT64_MAX},
        {"-9223372036854775808", 0, INT64_MIN},
        {"9223372036854775808", CAIRN_ERANGE, 0},
        {"-9223372036854775809", CAIRN_ERANGE, 0},
        {"99999999999999999999999", CAIRN_ERANGE, 0},
        {"", CAIRN_EINVAL, 0},
        {"+", CAIRN_EINVAL, 0},
        {"-", CAIRN_EINVAL, 0},
        {" 1", CAIRN_EINVAL, 0},
        {"1 ", CAIRN_EINVAL, 0},
        {"1a", CAIRN_EINVAL, 0},
        {"0x1", CAIRN_EINVAL, 0},
        {"1_0", CAIRN_EINVAL, 0},
        {"--1", CAIRN_EINVAL, 0},
        {"1.0", CAIRN_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t v = 12345;
        int rc = cairn_atoi(rows[i].s, &v);
        if (rc != rows[i].rc)
            fail_msg("atoi(\"%s\") = %d, want %d", rows[i].s, rc, rows[i].rc);
        assert_int_equal(v, rc == 0 ? rows[i].v : 12345); /* untouched on error */
    }
    int64_t v;
    assert_int_equal(cairn_atoi(NULL, &v), CAIRN_EINVAL);
}

static void test_split_host_port(void **state)
{
    (void)state;
    static const struct {
        const char *in, *host, *port, *err;
    } rows[] = {
        {"127.0.0.1:8300", "127.0.0.1", "8300", NULL},
        {"[fd00::1]:80", "fd00::1", "80", NULL},
        {"host:", "host", "", NULL},
        {":80", "", "80", NULL},
        {"[]:80", "", "80", NULL},
        {"127.0.0.1", NULL, NULL, "missing port in address"},
        {"a:b:c", NULL, NULL, "too many colons in address"},
        {"::1", NULL, NULL, "too many colons in address"},
        {"[::1]", NULL, NULL, "missing port in address"},
        {"[::1]x:80", NULL, NULL, "missing port in address"},
        {"[::1]::80", NULL, NULL, "too many colons in address"},
        {"[::1:80", NULL, NULL, "missing ']' in address"},
        {"a[b:80", NULL, NULL, "unexpected '[' in address"},
        {"[a[b]:80", NULL, NULL, "unexpected '[' in address"},
        {"a]b:80", NULL, NULL, "unexpected ']' in address"},
        {"[ab]:8]0", NULL, NULL, "unexpected ']' in address"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char host[64], port[16];
        cairn_diag d = {0};
        int rc = cairn_split_host_port(rows[i].in, host, sizeof(host), port, sizeof(port), &d);
        if (rows[i].err == NULL) {
            if (rc != 0)
                fail_msg("split(%s): %s", rows[i].in, d.msg);
            assert_string_equal(host, rows[i].host);
            assert_string_equal(port, rows[i].port);
        } else {
            assert_int_equal(rc, CAIRN_EINVAL);
            if (strstr(d.msg, rows[i].err) == NULL)
                fail_msg("split(%s): diag \"%s\", want \"%s\"", rows[i].in, d.msg, rows[i].err);
        }
    }
    char tiny[2], port[16];
    assert_int_equal(cairn_split_host_port("abc:1", tiny, sizeof(tiny), port, sizeof(port), NULL),
                     CAIRN_ERANGE);
}

/* ---- allocation failures ---- */

static void test_alloc_failures(void **state)
{
    (void)state;
    struct tmember t;
    newest_base(&t);
    tm_set(&t, "sl_a", "1.2.3.4:1");
    tm_set(&t, "sl_b", "[::1]:2");
    tm_set(&t, "ft_x", "1");
    tm_set(&t, "ft_y", "2");
    cairn__test_alloc_install();
    long n;
    for (n = 0;; n++) {
        cairn__test_alloc_fail_after(n);
        cairn_server *s = NULL;
        cairn_diag d = {0};
        int rc = cairn_server_from_member(&t.m, &s, &d);
        if (!cairn__test_alloc_failed()) {
            assert_int_equal(rc, 0);
            assert_int_equal(s->nsegments, 2);
            assert_int_equal(s->nfeatures, 2);
            cairn_server_unref(s);
            assert_int_equal(cairn__test_alloc_live(), 0);
            break;
        }
        assert_int_equal(rc, CAIRN_ENOMEM);
        assert_int_equal(d.err, CAIRN_ENOMEM);
        assert_int_equal(cairn__test_alloc_live(), 0);
    }
    assert_true(n > 10);
    cairn__test_alloc_fail_after(-1);
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_params),
        cmocka_unit_test(test_key_equal),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_is_consul_server_e1),
        cmocka_unit_test(test_is_consul_server_optional),
        cmocka_unit_test(test_is_consul_server_newest),
        cmocka_unit_test(test_is_consul_server_rules),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_atoi),
        cmocka_unit_test(test_split_host_port),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
