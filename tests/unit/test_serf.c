/* Unit tests of serf's rules (src/serf), one node (or two) on the
 * simulator, driving the internal handlers directly where a rule is about
 * one message:
 *   - Lamport clocks: witness/increment, and push/pull's "remote - 1";
 *   - configuration defaults (Serf's) and checks naming the field;
 *   - tags: the 512-byte Meta limit with the tag named, duplicates;
 *   - user events: the size limits before and after encoding, the ring's
 *     dedup by LTime + name + payload, too-old and eventMinTime drops;
 *   - intents: newer-only acceptance (and so re-gossip only when new),
 *     intents about unknown members kept and applied at join, expiry after
 *     RecentIntentTimeout, the table cap, refutation of a leave intent
 *     about ourselves, prune;
 *   - status machine: alive -> leaving -> left, alive -> failed -> left,
 *     memberlist's graceful leave without an intent, updates, reaping.
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
#include "serf/serf_internal.h"
#include "memberlist/ml_internal.h"
#include "base/alloc_test.h"
#include "serf_world.h"
#include "wire/msg.h"

static serf_world W;

static cairn_serf *one_node(void)
{
    assert_int_equal(serf_world_init(&W, 7, 1), 0);
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_sim_run_for(W.sim, CAIRN_MSEC);
    return W.nodes[0].serf;
}

/* A memberlist node as notify_join would hand it over. */
static cairn_ml_node fake_node(const char *name, int last_octet, const uint8_t *meta,
                               size_t meta_len, int state)
{
    cairn_ml_node n = {.name = name, .meta = meta, .meta_len = meta_len, .state = state};
    uint8_t ip[4] = {10, 9, 9, (uint8_t)last_octet};
    assert_int_equal(cairn_addr_from_ip(ip, 4, 7946, &n.addr), 0);
    n.pmin = 1;
    n.pmax = 5;
    n.pcur = 2;
    n.dmin = 2;
    n.dmax = 5;
    n.dcur = 4;
    return n;
}

static void test_clock(void **state)
{
    (void)state;
    struct serf_clock c = {1};
    cairn__serf_clock_witness(&c, 0);
    assert_int_equal(cairn__serf_clock_time(&c), 1);
    cairn__serf_clock_witness(&c, 1); /* v >= current: v + 1 */
    assert_int_equal(cairn__serf_clock_time(&c), 2);
    cairn__serf_clock_witness(&c, 10);
    assert_int_equal(cairn__serf_clock_time(&c), 11);
    cairn__serf_clock_witness(&c, 5);
    assert_int_equal(cairn__serf_clock_time(&c), 11);
    assert_int_equal(cairn__serf_clock_increment(&c), 12);
    /* A fresh serf: every clock at 1, as Go's Create leaves them. */
    cairn_serf *s = one_node();
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.member_time, 1);
    assert_int_equal(st.event_time, 1);
    assert_int_equal(st.query_time, 1);
    serf_world_destroy(&W);
}

static void test_config(void **state)
{
    (void)state;
    cairn_serf_config c;
    cairn_serf_config_default(&c);
    assert_int_equal(c.protocol_version, 4);
    assert_int_equal(c.broadcast_timeout, 5 * CAIRN_SEC);
    assert_int_equal(c.leave_propagate_delay, CAIRN_SEC);
    assert_int_equal(c.reap_interval, 15 * CAIRN_SEC);
    assert_int_equal(c.reconnect_interval, 30 * CAIRN_SEC);
    assert_int_equal(c.reconnect_timeout, 24 * 3600 * CAIRN_SEC);
    assert_int_equal(c.tombstone_timeout, 24 * 3600 * CAIRN_SEC);
    assert_int_equal(c.recent_intent_timeout, 300 * CAIRN_SEC);
    assert_int_equal(c.queue_check_interval, 30 * CAIRN_SEC);
    assert_int_equal(c.queue_depth_warning, 128);
    assert_int_equal(c.max_queue_depth, 4096);
    assert_int_equal(c.min_queue_depth, 0);
    assert_int_equal(c.user_event_size_limit, 512);
    assert_int_equal(c.coalesce_period, 0);
    assert_int_equal(c.user_coalesce_period, 0);
    assert_false(c.disable_coordinates);
    cairn_diag d = {0};
    /* No name yet. */
    assert_int_equal(cairn_serf_config_check(&c, &d), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "name"));
    c.memberlist.name = "a";
    assert_int_equal(cairn_serf_config_check(&c, NULL), 0);
    c.protocol_version = 2;
    cairn_diag_clear(&d);
    assert_int_equal(cairn_serf_config_check(&c, &d), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "protocol_version"));
    c.protocol_version = 5;
    c.user_event_size_limit = CAIRN_SERF_USER_EVENT_SIZE_MAX + 1;
    cairn_diag_clear(&d);
    assert_int_equal(cairn_serf_config_check(&c, &d), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "user_event_size_limit"));
    c.user_event_size_limit = 512;
    c.reap_interval = 0;
    cairn_diag_clear(&d);
    assert_int_equal(cairn_serf_config_check(&c, &d), CAIRN_EINVAL);
    assert_non_null(strstr(d.msg, "reap_interval"));
}

static void test_tags(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 3, 1), 0);
    static char big[600];
    memset(big, 'v', sizeof(big) - 1);
    cairn_tag tags[] = {{"role", "web"}, {"huge", big}};
    W.cfg.tags = tags;
    W.cfg.ntags = 2;
    cairn_loop *loop;
    assert_int_equal(cairn_sim_node_loop(W.sim, &W.nodes[0].addr, &loop), 0);
    cairn_serf_config c = W.cfg;
    c.memberlist.name = "n0";
    c.memberlist.bind = W.nodes[0].addr;
    cairn_serf *s = NULL;
    cairn_diag d = {0};
    assert_int_equal(cairn_serf_new(loop, &c, NULL, NULL, &s, &d), CAIRN_ELIMIT);
    assert_null(s);
    assert_non_null(strstr(d.msg, "\"huge\""));
    /* 512 bytes exactly is fine: ff 81 a4 "role" da xx xx value → pick a
     * value that fits, then one byte more fails. */
    c.ntags = 1;
    assert_int_equal(cairn_serf_new(loop, &c, NULL, NULL, &s, NULL), 0);
    struct serf_member *self = cairn__serf_find(s, "n0");
    assert_non_null(self);
    assert_int_equal(self->ntags, 1);
    assert_string_equal(self->tags[0].value, "web");
    assert_memory_equal(s->meta, "\xff\x81\xa4role\xa3web", 10);
    /* set_tags: too large, then duplicate keys, then fine. */
    cairn_tag bad[] = {{"huge", big}};
    cairn_diag_clear(&d);
    assert_int_equal(cairn_serf_set_tags(s, bad, 1, &d), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "huge"));
    cairn_tag dup[] = {{"a", "1"}, {"a", "2"}};
    assert_int_equal(cairn_serf_set_tags(s, dup, 2, NULL), CAIRN_EINVAL);
    /* The largest Meta that fits: ff + fixmap(1) + "k" + str16 value. */
    static char edge[600];
    size_t vlen = CAIRN_META_MAX - 1 - 1 - 2 - 3; /* ff 81 a1 6b da xx xx */
    memset(edge, 'e', vlen);
    edge[vlen] = 0;
    cairn_tag ok[] = {{"k", edge}};
    assert_int_equal(cairn_serf_set_tags(s, ok, 1, NULL), 0);
    assert_int_equal(s->meta_len, CAIRN_META_MAX);
    edge[vlen] = 'e';
    edge[vlen + 1] = 0;
    assert_int_equal(cairn_serf_set_tags(s, ok, 1, NULL), CAIRN_ELIMIT);
    cairn_sim_run_for(W.sim, 10 * CAIRN_MSEC);
    self = cairn__serf_find(s, "n0");
    assert_int_equal(self->ntags, 1);
    assert_int_equal(strlen(self->tags[0].value), vlen); /* our own update event applied */
    cairn_serf_delete(s);
    cairn_loop_delete(loop);
    serf_world_destroy(&W);
}

static void test_user_event_limits(void **state)
{
    (void)state;
    cairn_serf *s = one_node();
    static uint8_t payload[CAIRN_SERF_USER_EVENT_SIZE_MAX + 8];
    cairn_diag d = {0};
    assert_int_equal(cairn_serf_user_event(s, "deploy", payload, 507, false, &d), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "name + payload"));
    /* 6 + 500 bytes pass the first check but encode to more than 512. */
    cairn_diag_clear(&d);
    assert_int_equal(cairn_serf_user_event(s, "deploy", payload, 500, false, &d), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "encoded"));
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.event_time, 1); /* refused events take no stamp */
    assert_int_equal(cairn_serf_user_event(s, "deploy", payload, 400, true, NULL), 0);
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.event_time, 2);
    assert_int_equal(st.event_queue, 1); /* queued for gossip, as Go does even alone */
    assert_int_equal(serf_world_user_count(&W.nodes[0], "deploy"), 1);
    serf_world_destroy(&W);
}

static void test_event_ring(void **state)
{
    (void)state;
    cairn_serf *s = one_node();
    const uint8_t *a = (const uint8_t *)"a", *b = (const uint8_t *)"b";
    assert_true(cairn__serf_handle_user_event(s, a, 1, b, 1, 5, false));
    assert_false(cairn__serf_handle_user_event(s, a, 1, b, 1, 5, false)); /* duplicate */
    assert_true(cairn__serf_handle_user_event(s, b, 1, b, 1, 5, false));  /* other name */
    assert_true(cairn__serf_handle_user_event(s, a, 1, a, 1, 5, false));  /* other payload */
    assert_true(cairn__serf_handle_user_event(s, a, 1, b, 1, 6, false));  /* other LTime */
    assert_int_equal(s->event_clock.counter, 7);
    /* The slot of 5 + 512 takes over from 5. */
    assert_true(cairn__serf_handle_user_event(s, a, 1, b, 1, 5 + 512, false));
    assert_int_equal(s->ring[5].ltime, 517);
    assert_int_equal(s->ring[5].n, 1);
    /* Older than the clock minus 512: too old. */
    cairn__serf_clock_witness(&s->event_clock, 2000);
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    uint64_t delivered = st.events_delivered;
    assert_false(cairn__serf_handle_user_event(s, a, 1, b, 1, 2001 - 513, false));
    assert_true(cairn__serf_handle_user_event(s, a, 1, b, 1, 2001 - 512, false));
    /* Before eventMinTime (a join that ignores old events). */
    s->event_min_time = 1900;
    assert_false(cairn__serf_handle_user_event(s, a, 1, b, 1, 1899, false));
    assert_true(cairn__serf_handle_user_event(s, a, 1, b, 1, 1900, false));
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.events_too_old, 1);
    assert_int_equal(st.events_before_min, 1);
    assert_int_equal(st.events_delivered, delivered + 2);
    assert_int_equal(W.nodes[0].user_total, st.events_delivered);
    serf_world_destroy(&W);
}

static void test_intents(void **state)
{
    (void)state;
    cairn_serf *s = one_node();
    serf_world_node *nd = &W.nodes[0];
    /* A known member: only newer intents count. */
    cairn_ml_node x = fake_node("n5", 5, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &x);
    assert_int_equal(cairn_serf_member_status(s, "n5"), CAIRN_MEMBER_ALIVE);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][5], 1);
    assert_true(cairn__serf_join_intent(s, "n5", 5));
    assert_false(cairn__serf_join_intent(s, "n5", 5));
    assert_false(cairn__serf_leave_intent(s, "n5", 4, false));
    assert_int_equal(s->clock.counter, 6); /* witnessed */
    assert_true(cairn__serf_leave_intent(s, "n5", 6, false));
    assert_int_equal(cairn_serf_member_status(s, "n5"), CAIRN_MEMBER_LEAVING);
    /* A second leave at the same time is not re-gossiped (consul#8179). */
    assert_false(cairn__serf_leave_intent(s, "n5", 6, false));
    /* A newer join brings a leaving member back. */
    assert_true(cairn__serf_join_intent(s, "n5", 7));
    assert_int_equal(cairn_serf_member_status(s, "n5"), CAIRN_MEMBER_ALIVE);
    assert_true(cairn__serf_leave_intent(s, "n5", 8, false));
    /* memberlist says dead: leaving -> left. */
    x.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &x);
    assert_int_equal(cairn_serf_member_status(s, "n5"), CAIRN_MEMBER_LEFT);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_LEAVE][5], 1);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_FAILED][5], 0);

    /* alive -> failed (memberlist dead, no intent) -> left (late intent). */
    cairn_ml_node y = fake_node("n6", 6, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &y);
    y.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &y);
    assert_int_equal(cairn_serf_member_status(s, "n6"), CAIRN_MEMBER_FAILED);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_FAILED][6], 1);
    assert_true(cairn__serf_leave_intent(s, "n6", 20, false));
    assert_int_equal(cairn_serf_member_status(s, "n6"), CAIRN_MEMBER_LEFT);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_LEAVE][6], 1);

    /* Intents about unknown members are buffered and applied at join. */
    assert_true(cairn__serf_leave_intent(s, "n7", 30, false));
    assert_false(cairn__serf_leave_intent(s, "n7", 30, false)); /* not new */
    assert_false(cairn__serf_join_intent(s, "n7", 29));         /* older */
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.recent_intents, 1);
    cairn_ml_node z = fake_node("n7", 7, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &z);
    assert_int_equal(cairn_serf_member_status(s, "n7"), CAIRN_MEMBER_LEAVING);
    assert_int_equal(cairn__serf_find(s, "n7")->status_ltime, 30);
    assert_true(cairn__serf_join_intent(s, "n8", 31));
    cairn_ml_node z8 = fake_node("n8", 8, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &z8);
    assert_int_equal(cairn_serf_member_status(s, "n8"), CAIRN_MEMBER_ALIVE);
    assert_int_equal(cairn__serf_find(s, "n8")->status_ltime, 31);

    /* Buffered intents expire after RecentIntentTimeout (checked by the
     * reaper every ReapInterval). */
    assert_true(cairn__serf_join_intent(s, "n9", 40));
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.recent_intents, 3);
    cairn_sim_run_for(W.sim, s->cfg.recent_intent_timeout + s->cfg.reap_interval + CAIRN_SEC);
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.recent_intents, 0);

    /* The table has a cap. */
    s->cfg.max_recent_intents = 2;
    cairn__ml_strmap_destroy(&s->intent_map);
    cairn__ml_strmap_init(&s->intent_map, 2);
    assert_true(cairn__serf_join_intent(s, "u1", 50));
    assert_true(cairn__serf_join_intent(s, "u2", 50));
    assert_false(cairn__serf_join_intent(s, "u3", 50));
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.intents_dropped, 1);
    serf_world_destroy(&W);
}

/* Keeps the first message a queue emits. */
struct capture {
    uint8_t buf[256];
    size_t len, n;
};

static void capture_emit(const uint8_t *msg, size_t len, void *ud)
{
    struct capture *c = ud;
    if (c->n++ == 0 && len <= sizeof(c->buf)) {
        memcpy(c->buf, msg, len);
        c->len = len;
    }
}

static void test_refute_and_prune(void **state)
{
    (void)state;
    cairn_serf *s = one_node();
    serf_world_node *nd = &W.nodes[0];
    uint64_t before = cairn__serf_find(s, "n0")->status_ltime;
    /* A stale leave intent about us while alive: refuted by a join intent
     * stamped after it. */
    assert_false(cairn__serf_leave_intent(s, "n0", 10, false));
    assert_int_equal(cairn_serf_member_status(s, "n0"), CAIRN_MEMBER_ALIVE);
    struct serf_member *self = cairn__serf_find(s, "n0");
    assert_true(self->status_ltime > 10 && self->status_ltime > before);
    assert_true(s->clock.counter > self->status_ltime);
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.intent_queue, 1);
    /* The queued message is our join intent with that time. */
    struct capture got = {0};
    cairn__serf_bcast_get(s, 2, 1400, capture_emit, &got);
    assert_true(got.n >= 1);
    cairn_wire_serf_join j;
    assert_int_equal(cairn__wire_serf_join_decode(got.buf, got.len, NULL, &j), 0);
    assert_int_equal(j.ltime, self->status_ltime);
    assert_true(cairn__span_eq(j.node, CAIRN_SPAN_LIT("n0")));

    /* Prune: a failed member is erased at once, with a reap event. */
    cairn_ml_node x = fake_node("n3", 3, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &x);
    x.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &x);
    size_t n = cairn_serf_num_members(s);
    assert_int_equal(cairn_serf_force_leave(s, "n3", true), 0);
    assert_int_equal(cairn_serf_member_status(s, "n3"), CAIRN_ENOENT);
    assert_int_equal(cairn_serf_num_members(s), n - 1);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_LEAVE][3], 1);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_REAP][3], 1);
    /* A leaving member is erased only after BroadcastTimeout +
     * LeavePropagateDelay. */
    cairn_ml_node y = fake_node("n4", 4, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &y);
    assert_int_equal(cairn_serf_force_leave(s, "n4", true), 0);
    assert_int_equal(cairn_serf_member_status(s, "n4"), CAIRN_MEMBER_LEAVING);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    assert_int_equal(cairn_serf_member_status(s, "n4"), CAIRN_MEMBER_LEAVING);
    cairn_sim_run_for(W.sim, 1100 * CAIRN_MSEC);
    assert_int_equal(cairn_serf_member_status(s, "n4"), CAIRN_ENOENT);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_REAP][4], 1);
    serf_world_destroy(&W);
}

static void test_status_machine(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 11, 1), 0);
    W.cfg.reap_interval = CAIRN_SEC;
    W.cfg.reconnect_timeout = 10 * CAIRN_SEC;
    W.cfg.tombstone_timeout = 20 * CAIRN_SEC;
    W.cfg.reconnect_interval = 0;
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_serf *s = W.nodes[0].serf;
    serf_world_node *nd = &W.nodes[0];
    /* Our own join is the first event. */
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][0], 1);
    /* memberlist's graceful leave (dead from self) with no intent seen:
     * cairn makes it left, not failed. */
    cairn_ml_node a = fake_node("n1", 1, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &a);
    a.state = CAIRN_ML_LEFT;
    cairn__serf_node_leave(s, &a);
    assert_int_equal(cairn_serf_member_status(s, "n1"), CAIRN_MEMBER_LEFT);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_FAILED][1], 0);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_LEAVE][1], 1);
    /* Update: new tags. */
    const uint8_t meta[] = "\xff\x81\xa4role\xa2"
                           "db";
    cairn_ml_node b = fake_node("n2", 2, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &b);
    b.meta = meta;
    b.meta_len = sizeof(meta) - 1;
    cairn__serf_node_update(s, &b);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_UPDATE][2], 1);
    assert_string_equal(cairn__serf_find(s, "n2")->tags[0].value, "db");
    /* Failed member reaped after ReconnectTimeout, left one after
     * TombstoneTimeout. */
    b.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &b);
    assert_int_equal(cairn_serf_member_status(s, "n2"), CAIRN_MEMBER_FAILED);
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.left, 1);
    cairn_sim_run_for(W.sim, 9 * CAIRN_SEC);
    assert_int_equal(cairn_serf_member_status(s, "n2"), CAIRN_MEMBER_FAILED);
    cairn_sim_run_for(W.sim, 3 * CAIRN_SEC);
    assert_int_equal(cairn_serf_member_status(s, "n2"), CAIRN_ENOENT);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_REAP][2], 1);
    assert_int_equal(cairn_serf_member_status(s, "n1"), CAIRN_MEMBER_LEFT);
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    assert_int_equal(cairn_serf_member_status(s, "n1"), CAIRN_ENOENT);
    /* A failed member coming back within FlapTimeout is a flap. */
    cairn_ml_node c = fake_node("n3", 3, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &c);
    c.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &c);
    cairn__serf_node_join(s, &c);
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.flaps, 1);
    assert_int_equal(cairn_serf_member_status(s, "n3"), CAIRN_MEMBER_ALIVE);
    serf_world_destroy(&W);
}

/* Push/pull: the state round-trips, clocks witness remote - 1, left
 * members become leave intents at StatusLTime + 1, events replay. */
static void test_pushpull(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 13, 2), 0);
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_serf *a = W.nodes[0].serf, *b = W.nodes[1].serf;
    cairn_ml_node x = fake_node("n5", 5, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(a, &x);
    assert_true(cairn__serf_join_intent(a, "n5", 40));
    x.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(a, &x);
    assert_true(cairn__serf_leave_intent(a, "n5", 41, false)); /* left */
    cairn__serf_clock_witness(&a->event_clock, 99);
    assert_true(cairn__serf_handle_user_event(a, (const uint8_t *)"ev", 2, NULL, 0, 90, true));
    cairn__serf_clock_witness(&a->query_clock, 30);
    cairn_buf out;
    cairn_buf_init(&out, CAIRN_WIRE_USER_STATE_MAX);
    assert_int_equal(cairn__serf_local_state(a, &out), 0);
    assert_int_equal(out.data[0], CAIRN_WIRE_SERF_PUSHPULL);
    /* b has n5 alive: the left list turns it leaving at 42. */
    cairn_ml_node x2 = fake_node("n5", 5, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(b, &x2);
    cairn__serf_merge_remote_state(b, out.data, out.len, false);
    assert_int_equal(cairn_serf_member_status(b, "n5"), CAIRN_MEMBER_LEAVING);
    assert_int_equal(cairn__serf_find(b, "n5")->status_ltime, 42);
    assert_true(b->clock.counter >= 42);
    assert_int_equal(b->event_clock.counter, 100); /* witness(100 - 1) */
    assert_int_equal(b->query_clock.counter, 31);  /* witness(31 - 1) */
    assert_int_equal(serf_world_user_count(&W.nodes[1], "ev"), 1);
    /* A second merge replays nothing new. */
    cairn__serf_merge_remote_state(b, out.data, out.len, false);
    assert_int_equal(serf_world_user_count(&W.nodes[1], "ev"), 1);
    /* Garbage is counted, not merged. */
    cairn_serf_stats st;
    cairn__serf_merge_remote_state(b, out.data, 20, false);
    cairn_serf_get_stats(b, &st);
    assert_int_equal(st.msgs_malformed, 1);
    cairn_buf_destroy(&out);
    serf_world_destroy(&W);
}

/* Coalescing as the agent configures it: member events per member (latest
 * type kept, grouped by type, repeats of the last delivered type skipped),
 * user events with CC per name (highest LTime kept), others at once. */
static void test_coalesce(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 17, 1), 0);
    W.cfg.coalesce_period = 3 * CAIRN_SEC;
    W.cfg.quiescent_period = CAIRN_SEC;
    W.cfg.user_coalesce_period = 3 * CAIRN_SEC;
    W.cfg.user_quiescent_period = CAIRN_SEC;
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_serf *s = W.nodes[0].serf;
    serf_world_node *nd = &W.nodes[0];
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC); /* our own join flushed */
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][0], 1);
    uint64_t cbs = nd->member_callbacks;
    cairn_ml_node a = fake_node("n1", 1, NULL, 0, CAIRN_ML_ALIVE);
    cairn_ml_node b = fake_node("n2", 2, NULL, 0, CAIRN_ML_ALIVE);
    cairn_ml_node c = fake_node("n3", 3, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &a);
    cairn__serf_node_join(s, &b);
    cairn__serf_node_join(s, &c);
    c.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &c); /* n3: join then failed -> failed only */
    cairn_sim_run_for(W.sim, 900 * CAIRN_MSEC);
    assert_int_equal(nd->member_callbacks, cbs); /* still quiet period */
    cairn_sim_run_for(W.sim, 200 * CAIRN_MSEC);
    /* One join event with n1 and n2, one failed event with n3. */
    assert_int_equal(nd->member_callbacks, cbs + 2);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][1], 1);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][2], 1);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][3], 0);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_FAILED][3], 1);
    /* n1 joins again (no change): skipped; an update is never skipped. */
    cairn__serf_node_join(s, &a);
    cairn_sim_run_for(W.sim, 1500 * CAIRN_MSEC);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_JOIN][1], 1);
    cairn__serf_node_update(s, &a);
    cairn_sim_run_for(W.sim, 1500 * CAIRN_MSEC);
    cairn__serf_node_update(s, &a);
    cairn_sim_run_for(W.sim, 1500 * CAIRN_MSEC);
    assert_int_equal(nd->mev[CAIRN_EVENT_MEMBER_UPDATE][1], 2);
    /* A steady stream is flushed by the coalesce period, not starved. */
    cbs = nd->member_callbacks;
    for (int k = 0; k < 8; k++) {
        cairn__serf_node_update(s, &b);
        cairn_sim_run_for(W.sim, 500 * CAIRN_MSEC);
    }
    assert_true(nd->member_callbacks >= cbs + 1);
    /* User events: CC ones coalesce per name, others pass at once. */
    const uint8_t *p = (const uint8_t *)"p";
    assert_true(cairn__serf_handle_user_event(s, (const uint8_t *)"deploy", 6, p, 1, 10, true));
    assert_true(cairn__serf_handle_user_event(s, (const uint8_t *)"deploy", 6, p, 1, 12, true));
    assert_true(cairn__serf_handle_user_event(s, (const uint8_t *)"deploy", 6, p, 1, 11, true));
    assert_true(cairn__serf_handle_user_event(s, (const uint8_t *)"now", 3, p, 1, 13, false));
    assert_int_equal(serf_world_user_count(nd, "now"), 1);
    assert_int_equal(serf_world_user_count(nd, "deploy"), 0);
    cairn_sim_run_for(W.sim, 1100 * CAIRN_MSEC);
    assert_int_equal(serf_world_user_count(nd, "deploy"), 1);
    for (size_t i = 0; i < nd->nuser; i++)
        if (strcmp(nd->user[i].name, "deploy") == 0)
            assert_int_equal(nd->user[i].ltime, 12);
    serf_world_destroy(&W);
}

/* Largest single request seen by size_alloc (a libc-backed allocator, so
 * blocks pass freely between it and libc's). */
static size_t max_request;

static void *size_malloc(size_t n, void *ud)
{
    (void)ud;
    if (n > max_request)
        max_request = n;
    return malloc(n);
}

static void *size_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    if (n > max_request)
        max_request = n;
    return realloc(p, n);
}

static void size_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

/* The member coalescer's order table grows with what is pending: a serf
 * with the default 65,536-member cap and coalescing on asks for no large
 * block up front (it used to calloc, and so touch, 512 KiB per agent; the
 * agent benchmark found it), and a burst of 40 pending members still
 * coalesces into one event. */
static void test_coalesce_grows(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 1, 1), 0);
    W.cfg.coalesce_period = 3 * CAIRN_SEC;
    W.cfg.quiescent_period = CAIRN_SEC;
    W.cfg.user_coalesce_period = 3 * CAIRN_SEC;
    W.cfg.user_quiescent_period = CAIRN_SEC;
    assert_int_equal(W.cfg.max_members, 65536);
    cairn_allocator a = {size_malloc, size_realloc, size_free, NULL};
    max_request = 0;
    assert_int_equal(cairn_set_allocator(&a), 0);
    int rc = serf_world_start_all(&W);
    assert_int_equal(cairn_set_allocator(NULL), 0);
    assert_int_equal(rc, 0);
    assert_true(max_request < 128 * 1024);
    cairn_serf *s = W.nodes[0].serf;
    serf_world_node *nd = &W.nodes[0];
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC); /* our own join flushed */
    uint64_t total = nd->member_total;
    uint64_t cbs = nd->member_callbacks;
    char name[16];
    for (int k = 0; k < 40; k++) {
        snprintf(name, sizeof(name), "m%d", k);
        cairn_ml_node n = fake_node(name, (uint8_t)(k + 1), NULL, 0, CAIRN_ML_ALIVE);
        cairn__serf_node_join(s, &n);
    }
    assert_int_equal(nd->member_callbacks, cbs);
    cairn_sim_run_for(W.sim, 1100 * CAIRN_MSEC);
    assert_int_equal(nd->member_callbacks, cbs + 1);
    assert_int_equal(nd->member_total, total + 40);
    serf_world_destroy(&W);
}

/* The queue-depth check prunes to MaxQueueDepth (or to
 * max(2 * members, MinQueueDepth)) and counts what it dropped. */
static void test_queue_depth(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 19, 1), 0);
    W.cfg.max_queue_depth = 10;
    W.cfg.queue_check_interval = CAIRN_SEC;
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_serf *s = W.nodes[0].serf;
    char name[16];
    for (int k = 0; k < 25; k++) {
        snprintf(name, sizeof(name), "e%d", k);
        assert_int_equal(cairn_serf_user_event(s, name, NULL, 0, false, NULL), 0);
    }
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.event_queue, 25); /* alone: nothing is sent */
    assert_int_equal(cairn__serf_bcast_queue_max(s), 10);
    cairn_sim_run_for(W.sim, 1100 * CAIRN_MSEC);
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.event_queue, 10);
    assert_int_equal(st.queue_pruned, 15);
    /* MinQueueDepth: the limit follows the member count. */
    s->cfg.min_queue_depth = 4;
    assert_int_equal(cairn__serf_bcast_queue_max(s), 4); /* 2 * 1 member < 4 */
    for (int k = 0; k < 5; k++) {
        cairn_ml_node x = fake_node((const char *[]){"a", "b", "c", "d", "e"}[k], 20 + k, NULL, 0,
                                    CAIRN_ML_ALIVE);
        cairn__serf_node_join(s, &x);
    }
    assert_int_equal(cairn__serf_bcast_queue_max(s), 12);
    serf_world_destroy(&W);
}

/* A flood of user events past the hard cap (65,536 per queue) between two
 * checks: the queue never holds more, the overflow is counted and warned
 * about once; the next check prunes to MaxQueueDepth with its warning. */
struct warnlog {
    int cap_lines, depth_lines, limit_lines;
};

static void on_warn(int level, const char *module, const char *msg, void *ud)
{
    (void)module;
    struct warnlog *w = ud;
    if (level < CAIRN_LOG_WARN)
        return;
    if (strstr(msg, "hard cap"))
        w->cap_lines++;
    else if (strstr(msg, "exceeds limit"))
        w->limit_lines++;
    else if (strstr(msg, "queue depth"))
        w->depth_lines++;
}

static void test_queue_flood(void **state)
{
    (void)state;
    struct warnlog wl = {0};
    cairn_logger lg = {.cb = on_warn, .userdata = &wl, .level = CAIRN_LOG_WARN};
    assert_int_equal(serf_world_init(&W, 23, 1), 0);
    W.logger = &lg;
    W.cfg.queue_check_interval = CAIRN_SEC;
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_serf *s = W.nodes[0].serf;
    enum { FLOOD = SERF_QUEUE_HARD_MAX + 5000 };
    cairn_serf_stats st;
    for (int k = 0; k < FLOOD; k++) {
        assert_int_equal(cairn_serf_user_event(s, "e", NULL, 0, false, NULL), 0);
        if (k % 8192 == 0) {
            cairn_serf_get_stats(s, &st);
            assert_true(st.event_queue <= SERF_QUEUE_HARD_MAX);
        }
    }
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.event_queue, SERF_QUEUE_HARD_MAX);
    assert_int_equal(st.queue_pruned, FLOOD - SERF_QUEUE_HARD_MAX);
    assert_int_equal(wl.cap_lines, 1);
    /* The check: down to MaxQueueDepth (4096), counted, warned. */
    cairn_sim_run_for(W.sim, 1100 * CAIRN_MSEC);
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.event_queue, 4096);
    assert_int_equal(st.queue_pruned, FLOOD - 4096);
    assert_int_equal(wl.limit_lines, 1);
    assert_int_equal(wl.depth_lines, 1);
    W.logger = NULL;
    serf_world_destroy(&W);
}

/* Lifecycle: a lone leave completes (no intent to wait for), left is
 * final, joins are refused after it; delete during a leave cancels it;
 * the cluster seam answers from the serf. */
static void on_done(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)count;
    *(int *)ud = status;
}

static bool count_member(const cairn_member *m, void *ud)
{
    (void)m;
    ++*(size_t *)ud;
    return true;
}

static void test_lifecycle(void **state)
{
    (void)state;
    cairn_serf *s = one_node();
    cairn_cluster cl;
    cairn_serf_cluster(s, &cl);
    assert_int_equal(cl.ops->num_nodes(cl.impl), 1);
    size_t n = 0;
    assert_int_equal(cl.ops->for_each_member(cl.impl, count_member, &n), 0);
    assert_int_equal(n, 1);
    cairn_coord c;
    assert_int_equal(cl.ops->get_coordinate(cl.impl, &c), 0);
    assert_int_equal(c.dim, 8);
    assert_false(cl.ops->get_cached_coordinate(cl.impl, "nobody", &c));
    int status = 1;
    assert_int_equal(cairn_serf_leave(s, on_done, &status), 0);
    assert_int_equal(status, 1); /* never from inside the call */
    assert_int_equal(cairn_serf_leave(s, NULL, NULL), CAIRN_EBUSY);
    cairn_sim_run_for(W.sim, 500 * CAIRN_MSEC);
    assert_int_equal(cairn_serf_state(s), CAIRN_SERF_LEAVING);
    cairn_sim_run_for(W.sim, 600 * CAIRN_MSEC);
    assert_int_equal(status, 0);
    assert_int_equal(cairn_serf_state(s), CAIRN_SERF_LEFT);
    assert_int_equal(cairn_serf_join(s, &W.nodes[0].addr, 1, false, NULL, NULL), CAIRN_ESHUTDOWN);
    assert_int_equal(cairn_serf_user_event(s, "x", NULL, 0, false, NULL), CAIRN_ESHUTDOWN);
    status = 1;
    assert_int_equal(cairn_serf_leave(s, on_done, &status), 0); /* again: at once */
    cairn_sim_run_for(W.sim, CAIRN_MSEC);
    assert_int_equal(status, 0);
    serf_world_destroy(&W);

    /* A peer serf believes alive but memberlist cannot reach: the leave
     * intent is never sent, the wait times out after BroadcastTimeout, and
     * cairn still completes the leave (Go gives up with an error). */
    s = one_node();
    cairn_ml_node ghost = fake_node("n9", 9, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &ghost);
    status = 1;
    assert_int_equal(cairn_serf_leave(s, on_done, &status), 0);
    cairn_sim_run_for(W.sim, 4900 * CAIRN_MSEC);
    assert_int_equal(status, 1);
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.intent_queue, 1);
    assert_int_equal(st.leave_timeouts, 0);
    cairn_sim_run_for(W.sim, 1200 * CAIRN_MSEC);
    assert_int_equal(status, 0);
    assert_int_equal(cairn_serf_state(s), CAIRN_SERF_LEFT);
    cairn_serf_get_stats(s, &st);
    assert_int_equal(st.leave_timeouts, 1);
    serf_world_destroy(&W);

    /* Disabled coordinates. */
    assert_int_equal(serf_world_init(&W, 23, 1), 0);
    W.cfg.disable_coordinates = true;
    assert_int_equal(serf_world_start_all(&W), 0);
    s = W.nodes[0].serf;
    assert_int_equal(cairn_serf_get_coordinate(s, &c), CAIRN_ENOTSUP);
    status = 1;
    assert_int_equal(cairn_serf_leave(s, on_done, &status), 0);
    cairn_sim_run_for(W.sim, 100 * CAIRN_MSEC);
    serf_world_kill(&W, 0); /* mid-leave */
    assert_int_equal(status, CAIRN_ECANCELED);
    serf_world_destroy(&W);
}

/* ignore_old: a node joining without replay gets no event sent before the
 * join; one joining with replay gets them from the push/pull. */
static void test_join_ignore_old(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 29, 3), 0);
    assert_int_equal(serf_world_start_all(&W), 0);
    cairn_serf *a = W.nodes[0].serf;
    for (int k = 0; k < 3; k++) {
        char name[8];
        snprintf(name, sizeof(name), "old%d", k);
        assert_int_equal(cairn_serf_user_event(a, name, NULL, 0, false, NULL), 0);
    }
    int st1 = 1, st2 = 1;
    assert_int_equal(cairn_serf_join(W.nodes[1].serf, &W.nodes[0].addr, 1, true, on_done, &st1), 0);
    assert_int_equal(cairn_serf_join(W.nodes[2].serf, &W.nodes[0].addr, 1, false, on_done, &st2),
                     0);
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC);
    assert_int_equal(st1, 0);
    assert_int_equal(st2, 0);
    assert_int_equal(serf_world_user_count(&W.nodes[1], "old0"), 0);
    assert_int_equal(serf_world_user_count(&W.nodes[2], "old0"), 1);
    assert_int_equal(serf_world_user_count(&W.nodes[2], "old2"), 1);
    cairn_serf_stats st;
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_true(st.event_time >= 4); /* the remote event clock was witnessed */
    /* A new event reaches both. */
    assert_int_equal(cairn_serf_user_event(a, "new", NULL, 0, false, NULL), 0);
    cairn_sim_run_for(W.sim, 2 * CAIRN_SEC);
    assert_int_equal(serf_world_user_count(&W.nodes[1], "new"), 1);
    assert_int_equal(serf_world_user_count(&W.nodes[2], "new"), 1);
    /* Everyone knows everyone, with the join intents' times. */
    assert_true(serf_world_converged(&W));
    serf_world_destroy(&W);
}

/* The ping delegate: our coordinate in every ack payload, peers'
 * coordinates cached from their acks (ours too), bad payloads ignored,
 * cache entries gone with the member. */
static void test_coord_cache(void **state)
{
    (void)state;
    cairn_serf *s = one_node();
    cairn_buf ack;
    cairn_buf_init(&ack, 1024);
    cairn__serf_coord_ack_payload(s, &ack);
    assert_true(ack.len > 1);
    assert_int_equal(ack.data[0], CAIRN_WIRE_COORD_PAYLOAD_VERSION);
    cairn_coord mine, got;
    assert_int_equal(cairn__wire_coord_decode(ack.data, ack.len, NULL, &got), 0);
    assert_int_equal(cairn_serf_get_coordinate(s, &mine), 0);
    assert_memory_equal(got.vec, mine.vec, sizeof(mine.vec));
    assert_false(cairn_serf_get_cached_coordinate(s, "n0", &got)); /* no update yet */

    cairn_ml_node x = fake_node("n4", 4, NULL, 0, CAIRN_ML_ALIVE);
    cairn__serf_node_join(s, &x);
    /* A peer's coordinate: 1 ms away on the first axis. */
    cairn_coord peer = mine;
    peer.vec[0] = 0.001;
    cairn_buf pl;
    cairn_buf_init(&pl, 1024);
    assert_int_equal(cairn__wire_coord_encode(&peer, &pl, NULL), 0);
    cairn__serf_coord_ping_complete(s, "n4", 20 * CAIRN_MSEC, pl.data, pl.len);
    assert_true(cairn_serf_get_cached_coordinate(s, "n4", &got));
    assert_true(got.vec[0] == 0.001);
    assert_true(cairn_serf_get_cached_coordinate(s, "n0", &got));
    cairn_coord now;
    assert_int_equal(cairn_serf_get_coordinate(s, &now), 0);
    assert_memory_equal(got.vec, now.vec, sizeof(now.vec));
    assert_true(cairn_coord_distance(&mine, &now) > 0); /* we moved */
    /* Another version byte, garbage, an RTT above 10 s: ignored. */
    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    uint64_t rejected = st.coordinate_rejected;
    pl.data[0] = 2;
    cairn__serf_coord_ping_complete(s, "n4", 20 * CAIRN_MSEC, pl.data, pl.len);
    pl.data[0] = 1;
    cairn__serf_coord_ping_complete(s, "n4", 20 * CAIRN_MSEC, pl.data, 5);
    cairn__serf_coord_ping_complete(s, "n4", 11 * CAIRN_SEC, pl.data, pl.len);
    cairn_serf_get_stats(s, &st);
    assert_true(st.coordinate_rejected >= rejected + 3);
    /* Erased with the member. */
    x.state = CAIRN_ML_DEAD;
    cairn__serf_node_leave(s, &x);
    assert_int_equal(cairn_serf_force_leave(s, "n4", true), 0);
    assert_false(cairn_serf_get_cached_coordinate(s, "n4", &got));
    cairn_buf_destroy(&ack);
    cairn_buf_destroy(&pl);
    serf_world_destroy(&W);
}

/* Allocation failures: creating a serf, sending an event, changing tags
 * and deleting it either work or fail with CAIRN_ENOMEM, and never leak or
 * crash, whichever allocation fails. Unlike alloc_sweep's rule, a failure
 * may also be absorbed: failures inside memberlist's callbacks degrade (a
 * member kept without its tags, an event delivered uncoalesced) and are
 * counted, as memberlist itself logs and skips. */
static int serf_attempt(void *ctx)
{
    (void)ctx;
    cairn_sim *sim = NULL;
    cairn_loop *loop = NULL;
    cairn_serf *s = NULL;
    cairn_addr a;
    cairn_addr_parse_ip("10.0.0.1", 7946, &a);
    int rc = cairn_sim_new(5, &sim);
    if (rc == 0)
        rc = cairn_sim_node_loop(sim, &a, &loop);
    cairn_serf_config c;
    cairn_serf_config_default(&c);
    c.memberlist.name = "n0";
    c.memberlist.bind = a;
    c.memberlist.seed = 9;
    c.coalesce_period = c.user_coalesce_period = CAIRN_SEC;
    c.quiescent_period = c.user_quiescent_period = CAIRN_SEC;
    cairn_tag tags[] = {{"role", "web"}};
    c.tags = tags;
    c.ntags = 1;
    if (rc == 0)
        rc = cairn_serf_new(loop, &c, NULL, NULL, &s, NULL);
    if (rc == 0)
        rc = cairn_serf_user_event(s, "deploy", (const uint8_t *)"v1", 2, true, NULL);
    cairn_tag t2[] = {{"role", "db"}, {"dc", "east"}};
    if (rc == 0)
        rc = cairn_serf_set_tags(s, t2, 2, NULL);
    cairn_serf_delete(s);
    cairn_loop_delete(loop);
    cairn_sim_delete(sim);
    return rc;
}

static bool idle_gossip(serf_world *w, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < w->n; i++)
        if (cairn_timer_active(cairn_serf_memberlist(w->nodes[i].serf)->gossip_timer))
            return false;
    return true;
}

static bool all_got(serf_world *w, const void *arg)
{
    for (size_t i = 0; i < w->n; i++)
        if (serf_world_user_count(&w->nodes[i], arg) == 0)
            return false;
    return true;
}

/* Gossip on demand (memberlist/broadcast.h): once the join's broadcasts
 * are spent the gossip timers stop (no empty 200 ms ticks); a user event
 * wakes its node's timer on the old tick phase and reaches everyone, and
 * the timers stop again once it is spent. */
static void test_gossip_on_demand(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 31, 5), 0);
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    assert_true(serf_world_run_until(&W, idle_gossip, NULL, 10 * CAIRN_MSEC, 60 * CAIRN_SEC) >= 0);
    assert_true(serf_world_converged(&W));
    cairn_memberlist *ml = cairn_serf_memberlist(W.nodes[2].serf);
    cairn_time last = ml->gossip_last, iv = ml->cfg.gossip_interval;
    /* Quiet: nothing wakes the timers. */
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    assert_true(idle_gossip(&W, NULL));
    assert_int_equal(ml->gossip_last, last);
    assert_int_equal(cairn_serf_user_event(W.nodes[2].serf, "wake", NULL, 0, false, NULL), 0);
    assert_true(cairn_timer_active(ml->gossip_timer));
    cairn_time at = cairn_timer_deadline(ml->gossip_timer);
    assert_int_equal((at - last) % iv, 0);
    assert_true(at - cairn_loop_now(W.nodes[2].loop) <= iv);
    cairn_time took = serf_world_run_until(&W, all_got, "wake", 10 * CAIRN_MSEC, 10 * CAIRN_SEC);
    assert_true(took >= 0 && took < 2 * CAIRN_SEC);
    assert_true(serf_world_run_until(&W, idle_gossip, NULL, 10 * CAIRN_MSEC, 60 * CAIRN_SEC) >= 0);
    serf_world_destroy(&W);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    long n = 0, enomem = 0, absorbed = 0;
    for (;; n++) {
        cairn__test_alloc_fail_after(n);
        int rc = serf_attempt(NULL);
        bool failed = cairn__test_alloc_failed();
        cairn__test_alloc_fail_after(-1);
        assert_int_equal(cairn__test_alloc_live(), 0);
        if (!failed) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_true(rc == 0 || rc == CAIRN_ENOMEM);
        enomem += rc == CAIRN_ENOMEM;
        absorbed += rc == 0;
        assert_true(n < 20000);
    }
    cairn__test_alloc_uninstall();
    printf("# alloc failures: %ld points, %ld reported CAIRN_ENOMEM, %ld absorbed\n", n, enomem,
           absorbed);
    assert_true(enomem > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_user_event_limits),
        cmocka_unit_test(test_event_ring),
        cmocka_unit_test(test_intents),
        cmocka_unit_test(test_refute_and_prune),
        cmocka_unit_test(test_status_machine),
        cmocka_unit_test(test_pushpull),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_coalesce_grows),
        cmocka_unit_test(test_queue_depth),
        cmocka_unit_test(test_queue_flood),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_join_ignore_old),
        cmocka_unit_test(test_coord_cache),
        cmocka_unit_test(test_gossip_on_demand),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
