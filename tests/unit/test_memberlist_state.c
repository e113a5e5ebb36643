/* Unit tests for memberlist's state machine, on the manual clock and
 * without sockets: ports of memberlist's state_test.go (AliveNode_*,
 * SuspectNode_*, DeadNode_*, MergeState, VerifyProtocol) checking the spec's
 * §2.8 rules: strictly greater incarnations, refutation with
 * max(own+1, accused+1), dead From == Node -> left, address conflicts, Vsn
 * validation, Lifeguard suspicion timing, dead-node reaping and the
 * messages queued for gossip (decoded back from the broadcast queue). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/memberlist.h"
#include "wire/msg.h"
#include "memberlist/ml_internal.h"
#include "memberlist/util.h"
#include "base/alloc_test.h"

static const uint8_t VSN[6] = {1, 5, 2, 2, 5, 5};

/* What the delegate saw. */
struct events {
    int joins, leaves, updates, conflicts, alive_checks;
    char last[64];
    int last_state;
    int reject_alive;
};

static void ev_join(void *ud, const cairn_ml_node *n)
{
    struct events *e = ud;
    e->joins++;
    snprintf(e->last, sizeof(e->last), "%s", n->name);
}
static void ev_leave(void *ud, const cairn_ml_node *n)
{
    struct events *e = ud;
    e->leaves++;
    e->last_state = n->state;
    snprintf(e->last, sizeof(e->last), "%s", n->name);
}
static void ev_update(void *ud, const cairn_ml_node *n)
{
    struct events *e = ud;
    e->updates++;
    snprintf(e->last, sizeof(e->last), "%s", n->name);
}
static void ev_conflict(void *ud, const cairn_ml_node *a, const cairn_ml_node *b)
{
    struct events *e = ud;
    (void)a;
    (void)b;
    e->conflicts++;
}
static int ev_alive(void *ud, const cairn_ml_node *n)
{
    struct events *e = ud;
    (void)n;
    e->alive_checks++;
    return e->reject_alive;
}

struct fixture {
    cairn_loop *loop;
    cairn_memberlist *ml;
    struct events ev;
};

static struct fixture *fx_new(int n_extra)
{
    (void)n_extra;
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(cairn_loop_new_manual(0, &f->loop), 0);
    cairn_memberlist_config c;
    cairn_memberlist_config_lan(&c);
    c.name = "me";
    assert_int_equal(cairn_addr_parse("127.0.0.1:7946", 0, &c.advertise), 0);
    c.probe_interval = 0; /* the tests drive everything by hand */
    c.gossip_interval = 0;
    c.push_pull_interval = 0;
    c.probe_interval = CAIRN_SEC; /* used by the suspicion formula ... */
    c.seed = 42;
    cairn_memberlist_delegate d = {
        .notify_join = ev_join,
        .notify_leave = ev_leave,
        .notify_update = ev_update,
        .notify_conflict = ev_conflict,
        .userdata = &f->ev,
    };
    assert_int_equal(cairn__ml_create(f->loop, &c, &d, NULL, NULL, false, &f->ml), 0);
    /* ... but no probe ticks. */
    cairn_timer_stop(f->ml->probe_timer);
    return f;
}

static void fx_free(struct fixture *f)
{
    cairn_memberlist_delete(f->ml);
    cairn_loop_delete(f->loop);
    free(f);
}

static void alive(struct fixture *f, const char *name, const char *ip, uint32_t inc,
                  const char *meta)
{
    struct ml_alive a = {.node = cairn__span_str(name),
                         .incarnation = inc,
                         .meta = cairn__span_str(meta ? meta : ""),
                         .vsn = {VSN, 6}};
    assert_int_equal(cairn_addr_parse(ip, 7946, &a.addr), 0);
    cairn__ml_alive_node(f->ml, &a, NULL, false);
}

static void suspect(struct fixture *f, const char *node, uint32_t inc, const char *from)
{
    cairn_wire_suspect s = {
        .from = cairn__span_str(from), .incarnation = inc, .node = cairn__span_str(node)};
    cairn__ml_suspect_node(f->ml, &s);
}

static void dead(struct fixture *f, const char *node, uint32_t inc, const char *from)
{
    cairn_wire_dead d = {
        .from = cairn__span_str(from), .incarnation = inc, .node = cairn__span_str(node)};
    cairn__ml_dead_node(f->ml, &d, NULL);
}

static cairn_ml_node get(struct fixture *f, const char *name)
{
    cairn_ml_node n;
    assert_int_equal(cairn_memberlist_get_node(f->ml, name, &n), 0);
    return n;
}

/* Drains the broadcast queue (one transmission each) and records what
 * was queued, decoded. */
struct drained {
    int n;
    uint8_t type[32];
    char node[32][32];
    char from[32][32];
    uint32_t inc[32];
};

static void drain_one(const uint8_t *msg, size_t len, void *ud)
{
    struct drained *d = ud;
    cairn_wire_msg m;
    cairn_wire_arena arena;
    cairn__wire_arena_init(&arena, 1 << 20);
    assert_int_equal(cairn__wire_msg_decode(msg, len, &arena, NULL, &m), 0);
    assert_true(d->n < 32);
    d->type[d->n] = m.type;
    cairn_span node = {0}, from = {0};
    if (m.type == CAIRN_WIRE_ALIVE) {
        node = m.u.alive.node;
        d->inc[d->n] = m.u.alive.incarnation;
    } else if (m.type == CAIRN_WIRE_SUSPECT || m.type == CAIRN_WIRE_DEAD) {
        node = m.u.suspect.node;
        from = m.u.suspect.from;
        d->inc[d->n] = m.u.suspect.incarnation;
    }
    snprintf(d->node[d->n], 32, "%.*s", (int)node.len, (const char *)node.p);
    snprintf(d->from[d->n], 32, "%.*s", (int)from.len, (const char *)from.p);
    d->n++;
    cairn__wire_arena_destroy(&arena);
}

static struct drained drain(struct fixture *f)
{
    struct drained d = {0};
    cairn__bcast_queue_get(f->ml->broadcasts, 0, 1 << 20, 1, drain_one, &d);
    cairn__bcast_queue_reset(f->ml->broadcasts);
    return d;
}

/* ---- alive ---- */

static void test_self_starts_at_incarnation_1(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    cairn_ml_node me = get(f, "me");
    assert_int_equal(me.incarnation, 1);
    assert_int_equal(me.state, CAIRN_ML_ALIVE);
    assert_int_equal(me.pmin, 1);
    assert_int_equal(me.pmax, 5);
    assert_int_equal(me.pcur, 2);
    assert_int_equal(me.dcur, 5);
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_ALIVE);
    assert_string_equal(d.node[0], "me");
    assert_int_equal(d.inc[0], 1);
    assert_int_equal(f->ev.joins, 1); /* upstream notifies our own join too */
    fx_free(f);
}

static void test_alive_new_node(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    drain(f);
    alive(f, "test", "127.0.0.2", 1, "m");
    cairn_ml_node n = get(f, "test");
    assert_int_equal(n.state, CAIRN_ML_ALIVE);
    assert_int_equal(n.incarnation, 1);
    assert_int_equal(f->ev.joins, 2);
    assert_string_equal(f->ev.last, "test");
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.node[0], "test");
    /* Idempotent: the same incarnation again changes nothing. */
    alive(f, "test", "127.0.0.2", 1, "m");
    assert_int_equal(drain(f).n, 0);
    assert_int_equal(f->ev.joins, 2);
    /* A new meta needs a higher incarnation and gives an update. */
    alive(f, "test", "127.0.0.2", 2, "m2");
    assert_int_equal(f->ev.updates, 1);
    assert_int_equal(get(f, "test").meta_len, 2);
    /* Incarnation 0 for an unknown node: inserted dead, alive ignored. */
    alive(f, "zero", "127.0.0.9", 0, NULL);
    assert_int_equal(get(f, "zero").state, CAIRN_ML_DEAD);
    assert_int_equal(cairn_memberlist_num_members(f->ml), 2);
    fx_free(f);
}

static void test_alive_bad_vsn_and_delegate(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    static const uint8_t bad[6] = {0, 5, 2, 2, 5, 5};
    struct ml_alive a = {.node = cairn__span_str("x"), .incarnation = 1, .vsn = {bad, 6}};
    assert_int_equal(cairn_addr_parse("127.0.0.3", 7946, &a.addr), 0);
    cairn__ml_alive_node(f->ml, &a, NULL, false);
    cairn_ml_node n;
    assert_int_equal(cairn_memberlist_get_node(f->ml, "x", &n), CAIRN_ENOENT);
    static const uint8_t bad2[6] = {3, 2, 2, 2, 5, 5}; /* PMin > PMax */
    a.vsn = (cairn_span){bad2, 6};
    cairn__ml_alive_node(f->ml, &a, NULL, false);
    assert_int_equal(cairn_memberlist_get_node(f->ml, "x", &n), CAIRN_ENOENT);
    /* The alive delegate can veto. */
    f->ml->del.notify_alive = ev_alive;
    f->ev.reject_alive = 1;
    alive(f, "y", "127.0.0.4", 1, NULL);
    assert_int_equal(f->ev.alive_checks, 1);
    assert_int_equal(cairn_memberlist_get_node(f->ml, "y", &n), CAIRN_ENOENT);
    f->ev.reject_alive = 0;
    alive(f, "y", "127.0.0.4", 1, NULL);
    assert_int_equal(get(f, "y").state, CAIRN_ML_ALIVE);
    fx_free(f);
}

static void test_alive_refute(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    drain(f);
    /* Someone claims we are alive at incarnation 10 with other meta. */
    alive(f, "me", "127.0.0.1", 10, "evil");
    cairn_ml_node me = get(f, "me");
    assert_int_equal(me.incarnation, 11); /* max(own+1, accused+1) */
    assert_int_equal(me.meta_len, 0);     /* our meta is not taken over */
    assert_int_equal(cairn_memberlist_health_score(f->ml), 1);
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_ALIVE);
    assert_string_equal(d.node[0], "me");
    assert_int_equal(d.inc[0], 11);
    /* An older claim is ignored; an identical one too. */
    alive(f, "me", "127.0.0.1", 5, "evil");
    alive(f, "me", "127.0.0.1", 11, NULL);
    assert_int_equal(drain(f).n, 0);
    assert_int_equal(get(f, "me").incarnation, 11);
    /* A suspicion below our incarnation is stale and ignored... */
    suspect(f, "me", 3, "other");
    assert_int_equal(get(f, "me").incarnation, 11);
    /* ... one at our incarnation is refuted with +1. */
    suspect(f, "me", 11, "other");
    assert_int_equal(get(f, "me").incarnation, 12);
    fx_free(f);
}

static void test_alive_conflict(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    alive(f, "test", "127.0.0.2", 1, NULL);
    /* Same name, other address, node alive: conflict, dropped. */
    alive(f, "test", "127.0.0.5", 2, NULL);
    assert_int_equal(f->ev.conflicts, 1);
    cairn_ml_node n = get(f, "test");
    char buf[64];
    assert_string_equal(cairn_addr_format(&n.addr, false, buf, sizeof(buf)), "127.0.0.2");
    assert_int_equal(n.incarnation, 1);
    /* Dead (reclaim time 0 = never): still a conflict. */
    dead(f, "test", 1, "me");
    alive(f, "test", "127.0.0.5", 2, NULL);
    assert_int_equal(f->ev.conflicts, 2);
    /* Left: the new address takes over (even at the same incarnation). */
    alive(f, "gone", "127.0.0.6", 1, NULL);
    dead(f, "gone", 1, "gone");
    assert_int_equal(get(f, "gone").state, CAIRN_ML_LEFT);
    alive(f, "gone", "127.0.0.7", 1, NULL);
    n = get(f, "gone");
    assert_int_equal(n.state, CAIRN_ML_ALIVE);
    assert_string_equal(cairn_addr_format(&n.addr, false, buf, sizeof(buf)), "127.0.0.7");
    fx_free(f);
}

/* ---- suspect ---- */

static void test_suspect_rules(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    suspect(f, "nobody", 1, "x"); /* unknown: ignored */
    alive(f, "test", "127.0.0.2", 5, NULL);
    drain(f);
    suspect(f, "test", 4, "x"); /* older: ignored */
    assert_int_equal(get(f, "test").state, CAIRN_ML_ALIVE);
    suspect(f, "test", 5, "x");
    assert_int_equal(get(f, "test").state, CAIRN_ML_SUSPECT);
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_SUSPECT);
    assert_string_equal(d.from[0], "x");
    /* A repeat from the same accuser is not news (k = 0 here anyway). */
    suspect(f, "test", 5, "x");
    assert_int_equal(drain(f).n, 0);
    /* An alive with a higher incarnation clears the suspicion. */
    alive(f, "test", "127.0.0.2", 6, NULL);
    assert_int_equal(get(f, "test").state, CAIRN_ML_ALIVE);
    assert_null(cairn__ml_node_suspicion(f->ml, f->ml->nodes[0]) == NULL ? NULL : (void *)1);
    fx_free(f);
}

/* Spec: 3 nodes -> k forced to 0 -> dead exactly 4 s after the first
 * suspect, declared by us, gossiped, reported as a leave (state dead). */
static void test_suspect_timeout_small_cluster(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    alive(f, "b", "127.0.0.2", 1, NULL);
    alive(f, "c", "127.0.0.3", 1, NULL);
    drain(f);
    cairn_loop_manual_advance(f->loop, 100 * CAIRN_MSEC);
    suspect(f, "c", 1, "b");
    cairn_loop_manual_advance(f->loop, 4 * CAIRN_SEC - 1);
    assert_int_equal(get(f, "c").state, CAIRN_ML_SUSPECT);
    cairn_loop_manual_advance(f->loop, 1);
    assert_int_equal(get(f, "c").state, CAIRN_ML_DEAD);
    assert_int_equal(f->ev.leaves, 1);
    assert_int_equal(f->ev.last_state, CAIRN_ML_DEAD);
    cairn_ml_stats st;
    cairn_memberlist_get_stats(f->ml, &st);
    assert_int_equal(st.declared_dead, 1);
    /* The dead replaced the queued suspect (both are named "c"). */
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_DEAD);
    assert_string_equal(d.from[0], "me");
    fx_free(f);
}

/* 10 nodes: k = 2, min 4 s, max 24 s; confirmations from new accusers are
 * re-gossiped and pull the deadline to 4 s. */
static void test_suspect_lifeguard_confirmations(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    char name[16], ip[32];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
        alive(f, name, ip, 1, NULL);
    }
    assert_int_equal(cairn_memberlist_num_nodes(f->ml), 10);
    drain(f);
    suspect(f, "n0", 1, "n1");
    assert_int_equal(
        cairn__ml_suspicion_deadline(cairn__ml_node_suspicion(f->ml, f->ml->nodes[0])) >= 0, 1);
    struct ml_node *n0 = cairn__ml_find(f->ml, (const uint8_t *)"n0", 2);
    assert_int_equal(cairn__ml_suspicion_deadline(cairn__ml_node_suspicion(f->ml, n0)),
                     24 * CAIRN_SEC);
    assert_int_equal(drain(f).n, 1);
    suspect(f, "n0", 1, "n1"); /* same accuser: nothing */
    assert_int_equal(drain(f).n, 0);
    suspect(f, "n0", 1, "n2"); /* confirmation: re-gossiped, 11.381 s */
    assert_int_equal(drain(f).n, 1);
    assert_int_equal(cairn__ml_suspicion_deadline(cairn__ml_node_suspicion(f->ml, n0)),
                     11381 * CAIRN_MSEC);
    suspect(f, "n0", 1, "n3");
    assert_int_equal(cairn__ml_suspicion_deadline(cairn__ml_node_suspicion(f->ml, n0)),
                     4 * CAIRN_SEC);
    suspect(f, "n0", 1, "n4"); /* beyond k: not news */
    assert_int_equal(drain(f).n, 1);
    cairn_loop_manual_advance(f->loop, 4 * CAIRN_SEC);
    assert_int_equal(get(f, "n0").state, CAIRN_ML_DEAD);
    fx_free(f);
}

/* ---- dead ---- */

static void test_dead_rules(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    dead(f, "nobody", 1, "x");
    alive(f, "test", "127.0.0.2", 3, NULL);
    drain(f);
    dead(f, "test", 2, "x"); /* older: ignored */
    assert_int_equal(get(f, "test").state, CAIRN_ML_ALIVE);
    dead(f, "test", 3, "x");
    cairn_ml_node n = get(f, "test");
    assert_int_equal(n.state, CAIRN_ML_DEAD);
    assert_int_equal(f->ev.leaves, 1);
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_DEAD);
    dead(f, "test", 3, "y"); /* double: ignored */
    assert_int_equal(drain(f).n, 0);
    assert_int_equal(f->ev.leaves, 1);
    /* Replay of the old alive: not newer, stays dead. */
    alive(f, "test", "127.0.0.2", 3, NULL);
    assert_int_equal(get(f, "test").state, CAIRN_ML_DEAD);
    /* A rejoin with a higher incarnation is a join. */
    alive(f, "test", "127.0.0.2", 4, NULL);
    assert_int_equal(get(f, "test").state, CAIRN_ML_ALIVE);
    assert_int_equal(f->ev.joins, 3);
    /* Dead about ourselves while not leaving: refute. */
    drain(f);
    dead(f, "me", 1, "test");
    assert_int_equal(get(f, "me").state, CAIRN_ML_ALIVE);
    assert_int_equal(get(f, "me").incarnation, 2);
    assert_int_equal(drain(f).type[0], CAIRN_WIRE_ALIVE);
    fx_free(f);
}

static void test_dead_cancels_suspicion(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    alive(f, "test", "127.0.0.2", 1, NULL);
    suspect(f, "test", 1, "x");
    dead(f, "test", 1, "test"); /* From == Node: left */
    assert_int_equal(get(f, "test").state, CAIRN_ML_LEFT);
    cairn_loop_manual_advance(f->loop, 60 * CAIRN_SEC);
    cairn_ml_stats st;
    cairn_memberlist_get_stats(f->ml, &st);
    assert_int_equal(st.declared_dead, 0);
    assert_int_equal(f->ev.leaves, 1);
    fx_free(f);
}

/* ---- merge ---- */

static void test_merge_state(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    alive(f, "test1", "127.0.0.1:7001", 1, NULL);
    alive(f, "test2", "127.0.0.1:7002", 1, NULL);
    alive(f, "test3", "127.0.0.1:7003", 1, NULL);
    alive(f, "test5", "127.0.0.1:7005", 1, NULL);
    static const uint8_t ip[4] = {127, 0, 0, 1};
    cairn_wire_push_node remote[] = {
        {.addr = {ip, 4},
         .incarnation = 2,
         .name = CAIRN_SPAN_LIT("test1"),
         .port = 7001,
         .state = CAIRN_ML_ALIVE,
         .vsn = {VSN, 6}},
        {.addr = {ip, 4},
         .incarnation = 1,
         .name = CAIRN_SPAN_LIT("test2"),
         .port = 7002,
         .state = CAIRN_ML_SUSPECT,
         .vsn = {VSN, 6}},
        {.addr = {ip, 4},
         .incarnation = 1,
         .name = CAIRN_SPAN_LIT("test3"),
         .port = 7003,
         .state = CAIRN_ML_DEAD,
         .vsn = {VSN, 6}},
        {.addr = {ip, 4},
         .incarnation = 2,
         .name = CAIRN_SPAN_LIT("test4"),
         .port = 7004,
         .state = CAIRN_ML_ALIVE,
         .vsn = {VSN, 6}},
        {.addr = {ip, 4},
         .incarnation = 1,
         .name = CAIRN_SPAN_LIT("test5"),
         .port = 7005,
         .state = CAIRN_ML_LEFT,
         .vsn = {VSN, 6}},
    };
    assert_int_equal(cairn__ml_verify_protocol(f->ml, remote, 5), 0);
    cairn__ml_merge_state(f->ml, remote, 5);
    assert_int_equal(get(f, "test1").incarnation, 2);
    assert_int_equal(get(f, "test1").state, CAIRN_ML_ALIVE);
    assert_int_equal(get(f, "test2").state, CAIRN_ML_SUSPECT);
    assert_int_equal(get(f, "test3").state, CAIRN_ML_SUSPECT); /* dead -> suspect */
    assert_int_equal(get(f, "test4").state, CAIRN_ML_ALIVE);
    assert_int_equal(get(f, "test5").state, CAIRN_ML_LEFT);
    /* The suspect from the merge is ours. */
    struct drained d = drain(f);
    bool saw = false;
    for (int i = 0; i < d.n; i++)
        if (d.type[i] == CAIRN_WIRE_SUSPECT && strcmp(d.node[i], "test3") == 0) {
            assert_string_equal(d.from[i], "me");
            saw = true;
        }
    assert_true(saw);
    fx_free(f);
}

/* cairn_memberlist_preload: merge rules and events as a push/pull, but the
 * alive entries queue no gossip (what a simulation starting converged
 * needs); suspect entries still gossip; bad input merges nothing. */
static cairn_ml_node pre(const char *name, const char *ip, uint32_t inc, int state,
                         const char *meta)
{
    cairn_ml_node n = {.name = name,
                       .state = state,
                       .incarnation = inc,
                       .meta = (const uint8_t *)meta,
                       .meta_len = meta ? strlen(meta) : 0,
                       .pmin = VSN[0],
                       .pmax = VSN[1],
                       .pcur = VSN[2],
                       .dmin = VSN[3],
                       .dmax = VSN[4],
                       .dcur = VSN[5]};
    assert_int_equal(cairn_addr_parse(ip, 7946, &n.addr), 0);
    return n;
}

static void test_preload(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    drain(f);
    cairn_ml_node self;
    cairn_memberlist_local_node(f->ml, &self);
    cairn_ml_node list[] = {
        self,
        pre("a", "127.0.0.2", 1, CAIRN_ML_ALIVE, NULL),
        pre("b", "127.0.0.3:7000", 4, CAIRN_ML_ALIVE, "tags"),
        pre("c", "127.0.0.4", 1, CAIRN_ML_ALIVE, NULL),
        pre("c", "127.0.0.4", 1, CAIRN_ML_SUSPECT, NULL),
    };
    int joins = f->ev.joins;
    assert_int_equal(cairn_memberlist_preload(f->ml, list, 5), 0);
    assert_int_equal(cairn_memberlist_num_members(f->ml), 4);
    assert_int_equal(f->ev.joins, joins + 3);
    cairn_ml_node b = get(f, "b");
    assert_int_equal(b.state, CAIRN_ML_ALIVE);
    assert_int_equal(b.incarnation, 4);
    assert_int_equal(b.addr.port, 7000);
    assert_int_equal(b.meta_len, 4);
    assert_memory_equal(b.meta, "tags", 4);
    assert_int_equal(get(f, "c").state, CAIRN_ML_SUSPECT);
    assert_int_equal(get(f, "me").incarnation, self.incarnation);
    assert_int_equal(f->ml->stats.refutes, 0);
    /* Only the suspicion (ours, about c) was queued: no alive. */
    struct drained d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_SUSPECT);
    assert_string_equal(d.node[0], "c");
    assert_string_equal(d.from[0], "me");
    /* The same list through a push/pull merge queues the alives. */
    struct fixture *g = fx_new(0);
    drain(g);
    cairn_ml_node alive_only[] = {list[1], list[2]};
    assert_int_equal(cairn_memberlist_preload(g->ml, alive_only, 0), 0);
    static const uint8_t ip2[4] = {127, 0, 0, 2}, ip3[4] = {127, 0, 0, 3};
    cairn_wire_push_node remote[] = {
        {.addr = {ip2, 4},
         .incarnation = 1,
         .name = CAIRN_SPAN_LIT("a"),
         .port = 7946,
         .state = CAIRN_ML_ALIVE,
         .vsn = {VSN, 6}},
        {.addr = {ip3, 4},
         .incarnation = 4,
         .name = CAIRN_SPAN_LIT("b"),
         .port = 7000,
         .meta = CAIRN_SPAN_LIT("tags"),
         .state = CAIRN_ML_ALIVE,
         .vsn = {VSN, 6}},
    };
    cairn__ml_merge_state(g->ml, remote, 2);
    assert_int_equal(drain(g).n, 2);
    fx_free(g);
    /* After the preload, news about a preloaded node is gossiped again. */
    alive(f, "a", "127.0.0.2", 2, NULL);
    d = drain(f);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.type[0], CAIRN_WIRE_ALIVE);
    assert_string_equal(d.node[0], "a");
    /* Our own entry with a higher incarnation is refuted, as any alive. */
    cairn_ml_node me = self;
    me.incarnation = self.incarnation + 5;
    assert_int_equal(cairn_memberlist_preload(f->ml, &me, 1), 0);
    assert_true(get(f, "me").incarnation > me.incarnation);
    assert_int_equal(f->ml->stats.refutes, 1);
    d = drain(f);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.node[0], "me");
    /* Bad input merges nothing. */
    size_t before = cairn_memberlist_num_nodes(f->ml);
    cairn_ml_node bad[] = {pre("d", "127.0.0.5", 1, CAIRN_ML_ALIVE, NULL),
                           pre("", "127.0.0.6", 1, CAIRN_ML_ALIVE, NULL)};
    assert_int_equal(cairn_memberlist_preload(f->ml, bad, 2), CAIRN_EINVAL);
    bad[1] = pre("e", "127.0.0.6", 1, CAIRN_ML_ALIVE, NULL);
    bad[1].addr.family = 0;
    assert_int_equal(cairn_memberlist_preload(f->ml, bad, 2), CAIRN_EINVAL);
    bad[1] = pre("e", "127.0.0.6", 1, CAIRN_ML_ALIVE, NULL);
    bad[1].pcur = 0; /* below everyone's minimum */
    assert_int_equal(cairn_memberlist_preload(f->ml, bad, 2), CAIRN_EVERSION);
    assert_int_equal(cairn_memberlist_preload(f->ml, NULL, 1), CAIRN_EINVAL);
    assert_int_equal(cairn_memberlist_preload(NULL, bad, 1), CAIRN_EINVAL);
    assert_int_equal(cairn_memberlist_num_nodes(f->ml), before);
    assert_int_equal(drain(f).n, 0);
    /* Out of memory for the records: nothing merged. */
    cairn__test_alloc_install();
    cairn__test_alloc_fail_after(0);
    assert_int_equal(cairn_memberlist_preload(f->ml, bad, 1), CAIRN_ENOMEM);
    cairn__test_alloc_fail_after(-1);
    cairn__test_alloc_uninstall();
    assert_int_equal(cairn_memberlist_num_nodes(f->ml), before);
    fx_free(f);
}

/* state_test.go TestMemberList_VerifyProtocol, the essential rows. */
static void test_verify_protocol(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    static const uint8_t ip[4] = {127, 0, 0, 1};
    struct {
        uint8_t vsn[6];
        int want;
    } rows[] = {
        {{1, 5, 2, 2, 5, 5}, 0},
        {{1, 5, 5, 2, 5, 5}, 0},              /* speaks 5, we all understand up to 5 */
        {{3, 5, 3, 2, 5, 5}, CAIRN_EVERSION}, /* needs >= 3; we speak 2 */
        {{1, 5, 2, 2, 5, 1}, CAIRN_EVERSION}, /* delegate 1 below everyone's min 2 */
        {{1, 1, 1, 2, 5, 5}, CAIRN_EVERSION}, /* max 1 < our current 2 */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cairn_wire_push_node r = {.addr = {ip, 4},
                                  .incarnation = 1,
                                  .name = CAIRN_SPAN_LIT("r"),
                                  .port = 7001,
                                  .state = CAIRN_ML_ALIVE,
                                  .vsn = {rows[i].vsn, 6}};
        assert_int_equal(cairn__ml_verify_protocol(f->ml, &r, 1), rows[i].want);
    }
    fx_free(f);
}

/* ---- reaping and random choice ---- */

static void test_reap_dead_not_left(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    alive(f, "d", "127.0.0.2", 1, NULL);
    alive(f, "l", "127.0.0.3", 1, NULL);
    dead(f, "d", 1, "me");
    dead(f, "l", 1, "l");
    cairn__ml_reset_nodes(f->ml);
    assert_int_equal(cairn_memberlist_num_nodes(f->ml), 3);
    cairn_loop_manual_advance(f->loop, 30 * CAIRN_SEC + 1);
    cairn__ml_reset_nodes(f->ml);
    cairn_ml_node n;
    assert_int_equal(cairn_memberlist_get_node(f->ml, "d", &n), CAIRN_ENOENT);
    assert_int_equal(cairn_memberlist_get_node(f->ml, "l", &n), 0); /* left stays */
    assert_int_equal(cairn_memberlist_num_nodes(f->ml), 2);
    fx_free(f);
}

static bool reject_self(const cairn_memberlist *ml, const struct ml_node *n, const void *ctx)
{
    (void)ctx;
    return strcmp(n->name, ml->name) == 0;
}

static void test_k_random_nodes(void **state)
{
    (void)state;
    struct fixture *f = fx_new(0);
    char name[16], ip[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        snprintf(ip, sizeof(ip), "127.0.2.%d", i + 1);
        alive(f, name, ip, 1, NULL);
    }
    struct ml_node *out[5];
    for (int round = 0; round < 50; round++) {
        size_t got = cairn__ml_k_random_nodes(f->ml, 5, reject_self, NULL, out);
        assert_int_equal(got, 5);
        for (size_t i = 0; i < got; i++) {
            assert_string_not_equal(out[i]->name, "me");
            for (size_t j = 0; j < i; j++)
                assert_ptr_not_equal(out[i], out[j]);
        }
    }
    fx_free(f);
}

/* Every allocation failure while handling news leaves a consistent table
 * and leaks nothing. */
static void test_alloc_failures(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    for (long fail = 0; fail < 40; fail++) {
        struct fixture *f = fx_new(0);
        cairn__test_alloc_fail_after(fail);
        alive(f, "a", "127.0.0.2", 1, "meta");
        suspect(f, "a", 1, "x");
        dead(f, "a", 1, "x");
        alive(f, "a", "127.0.0.2", 2, "meta2");
        cairn__test_alloc_fail_after(-1);
        cairn_ml_node n;
        if (cairn_memberlist_get_node(f->ml, "a", &n) == 0)
            assert_true(n.state <= CAIRN_ML_LEFT);
        fx_free(f);
        assert_int_equal(cairn__test_alloc_live(), 0);
    }
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_starts_at_incarnation_1),
        cmocka_unit_test(test_alive_new_node),
        cmocka_unit_test(test_alive_bad_vsn_and_delegate),
        cmocka_unit_test(test_alive_refute),
        cmocka_unit_test(test_alive_conflict),
        cmocka_unit_test(test_suspect_rules),
        cmocka_unit_test(test_suspect_timeout_small_cluster),
        cmocka_unit_test(test_suspect_lifeguard_confirmations),
        cmocka_unit_test(test_dead_rules),
        cmocka_unit_test(test_dead_cancels_suspicion),
        cmocka_unit_test(test_merge_state),
        cmocka_unit_test(test_preload),
        cmocka_unit_test(test_verify_protocol),
        cmocka_unit_test(test_reap_dead_not_left),
        cmocka_unit_test(test_k_random_nodes),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
