/* Unit tests for memberlist's pure pieces: the scaling formulas (every row
 * of the anchors table), the Lifeguard awareness score and suspicion timer
 * (ports of memberlist's awareness_test.go and suspicion_test.go with the
 * same numbers, on the manual clock), the transmit-limited broadcast queue
 * (ports of queue_test.go), the string map and the config profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "memberlist/broadcast.h"
#include "cairn/memberlist.h"
#include "memberlist/awareness.h"
#include "memberlist/strmap.h"
#include "memberlist/suspicion.h"
#include "memberlist/util.h"
#include "base/alloc_test.h"

/* ---- formulas ---- */

static void test_anchor_table(void **state)
{
    (void)state;
    /* N, suspicion min (LAN), Lifeguard max, retransmits, push/pull, WAN min. */
    struct {
        int n;
        cairn_time min, max;
        int retransmits;
        cairn_time pushpull, wan_min;
    } rows[] = {
        {10, 4 * CAIRN_SEC, 24 * CAIRN_SEC, 8, 30 * CAIRN_SEC, 30 * CAIRN_SEC},
        {100, 8 * CAIRN_SEC, 48 * CAIRN_SEC, 12, 90 * CAIRN_SEC, 60 * CAIRN_SEC},
        {1000, 12 * CAIRN_SEC, 72 * CAIRN_SEC, 16, 180 * CAIRN_SEC, 90 * CAIRN_SEC},
        /* log10(5000) = 3.69897 -> Go truncates the scale to 3.698. */
        {5000, 14792 * CAIRN_MSEC, 88752 * CAIRN_MSEC, 16, 270 * CAIRN_SEC, 110940 * CAIRN_MSEC},
        {10000, 16 * CAIRN_SEC, 96 * CAIRN_SEC, 20, 300 * CAIRN_SEC, 120 * CAIRN_SEC},
    };
    cairn_memberlist_config lan, wan;
    cairn_memberlist_config_lan(&lan);
    cairn_memberlist_config_wan(&wan);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cairn_time min =
            cairn__ml_suspicion_timeout(lan.suspicion_mult, rows[i].n, lan.probe_interval);
        assert_int_equal(min, rows[i].min);
        assert_int_equal(lan.suspicion_max_timeout_mult * min, rows[i].max);
        assert_int_equal(cairn__ml_retransmit_limit(lan.retransmit_mult, rows[i].n),
                         rows[i].retransmits);
        assert_int_equal(cairn__ml_pushpull_scale(lan.push_pull_interval, rows[i].n),
                         rows[i].pushpull);
        assert_int_equal(
            cairn__ml_suspicion_timeout(wan.suspicion_mult, rows[i].n, wan.probe_interval),
            rows[i].wan_min);
    }
    /* Spec 2.8: n <= 10 -> 4 s; retransmits 1..9 -> 4, 10..99 -> 8. */
    for (int n = 0; n <= 10; n++)
        assert_int_equal(cairn__ml_suspicion_timeout(4, n, CAIRN_SEC), 4 * CAIRN_SEC);
    for (int n = 1; n <= 999; n++)
        assert_int_equal(cairn__ml_retransmit_limit(4, n), n < 10 ? 4 : n < 100 ? 8 : 12);
}

/* util_test.go TestSuspicionTimeout, TestRetransmitLimit, TestPushPullScale. */
static void test_go_util_cases(void **state)
{
    (void)state;
    struct {
        int n;
        cairn_time want;
    } cases[] = {{5, 1000 * CAIRN_MSEC},   {10, 1000 * CAIRN_MSEC},  {50, 1698 * CAIRN_MSEC},
                 {100, 2000 * CAIRN_MSEC}, {500, 2698 * CAIRN_MSEC}, {1000, 3000 * CAIRN_MSEC}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(cairn__ml_suspicion_timeout(3, cases[i].n, CAIRN_SEC) / 3, cases[i].want);
    assert_int_equal(cairn__ml_retransmit_limit(3, 0), 0);
    assert_int_equal(cairn__ml_retransmit_limit(3, 1), 3);
    assert_int_equal(cairn__ml_retransmit_limit(3, 99), 6);
    for (int i = 0; i <= 32; i++)
        assert_int_equal(cairn__ml_pushpull_scale(CAIRN_SEC, i), CAIRN_SEC);
    for (int i = 33; i <= 64; i++)
        assert_int_equal(cairn__ml_pushpull_scale(CAIRN_SEC, i), 2 * CAIRN_SEC);
    for (int i = 65; i <= 128; i++)
        assert_int_equal(cairn__ml_pushpull_scale(CAIRN_SEC, i), 3 * CAIRN_SEC);
}

/* ---- awareness (awareness_test.go) ---- */

static void test_awareness(void **state)
{
    (void)state;
    struct {
        int delta, score;
        cairn_time timeout;
    } cases[] = {
        {0, 0, 1},  {-1, 0, 1}, {-10, 0, 1}, {1, 1, 2},  {-1, 0, 1}, {10, 7, 8}, {-1, 6, 7},
        {-1, 5, 6}, {-1, 4, 5}, {-1, 3, 4},  {-1, 2, 3}, {-1, 1, 2}, {-1, 0, 1}, {-1, 0, 1},
    };
    struct ml_awareness a;
    cairn__ml_awareness_init(&a, 8);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cairn__ml_awareness_apply(&a, cases[i].delta);
        assert_int_equal(a.score, cases[i].score);
        assert_int_equal(cairn__ml_awareness_scale(&a, CAIRN_SEC), cases[i].timeout * CAIRN_SEC);
    }
}

/* ---- suspicion (suspicion_test.go) ---- */

static void test_suspicion_remaining(void **state)
{
    (void)state;
    struct {
        int n, k;
        cairn_time elapsed, min, max, want;
    } cases[] = {
        {0, 3, 0, 2 * CAIRN_SEC, 30 * CAIRN_SEC, 30 * CAIRN_SEC},
        {1, 3, 2 * CAIRN_SEC, 2 * CAIRN_SEC, 30 * CAIRN_SEC, 14 * CAIRN_SEC},
        {2, 3, 3 * CAIRN_SEC, 2 * CAIRN_SEC, 30 * CAIRN_SEC, 4810 * CAIRN_MSEC},
        {3, 3, 4 * CAIRN_SEC, 2 * CAIRN_SEC, 30 * CAIRN_SEC, -2 * CAIRN_SEC},
        {4, 3, 5 * CAIRN_SEC, 2 * CAIRN_SEC, 30 * CAIRN_SEC, -3 * CAIRN_SEC},
        {5, 3, 10 * CAIRN_SEC, 2 * CAIRN_SEC, 30 * CAIRN_SEC, -8 * CAIRN_SEC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(cairn__ml_suspicion_remaining(cases[i].n, cases[i].k, cases[i].elapsed,
                                                       cases[i].min, cases[i].max),
                         cases[i].want);
}

struct fired {
    int count;
    int confirmations;
    cairn_time at;
    cairn_loop *loop;
};

static void on_suspicion(struct ml_suspicion *s, int confirmations, void *ud)
{
    (void)s;
    struct fired *f = ud;
    f->count++;
    f->confirmations = confirmations;
    f->at = cairn_loop_now(f->loop);
}

static void test_suspicion_timer(void **state)
{
    (void)state;
    const int k = 3;
    const cairn_time min = 500 * CAIRN_MSEC, max = 2 * CAIRN_SEC;
    const cairn_time fudge = 25 * CAIRN_MSEC;
    struct {
        int confirmations;
        const char *from[6];
        bool new_info[6];
        cairn_time expected;
    } cases[] = {
        {0, {NULL}, {false}, max},
        {1, {"me", "foo", NULL}, {false, true}, 1250 * CAIRN_MSEC},
        {1, {"me", "foo", "foo", "foo", NULL}, {false, true, false, false}, 1250 * CAIRN_MSEC},
        /* Go says 810 ms with a 25 ms sleep tolerance; the formula gives
         * floor(1000 * (2 - ln3/ln4 * 1.5)) = 811 ms exactly. */
        {2, {"me", "foo", "bar", NULL}, {false, true, true}, 811 * CAIRN_MSEC},
        {3, {"me", "foo", "bar", "baz", NULL}, {false, true, true, true}, min},
        {3, {"me", "foo", "bar", "baz", "zoo", NULL}, {false, true, true, true, false}, min},
    };
    cairn__test_alloc_install();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cairn_loop *loop;
        assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
        struct fired f = {.loop = loop};
        struct ml_suspicion *s;
        assert_int_equal(cairn__ml_suspicion_new(loop, "me", k, min, max, on_suspicion, &f, &s), 0);
        cairn_time already = 0;
        for (int j = 0; cases[i].from[j]; j++) {
            cairn_loop_manual_advance(loop, fudge);
            already += fudge;
            assert_int_equal(cairn__ml_suspicion_confirm(s, cases[i].from[j]),
                             cases[i].new_info[j]);
        }
        /* Right before the timeout it has not fired; right after it has. */
        cairn_loop_manual_advance(loop, cases[i].expected - already - 1);
        assert_int_equal(f.count, 0);
        cairn_loop_manual_advance(loop, 1);
        assert_int_equal(f.count, 1);
        assert_int_equal(f.confirmations, cases[i].confirmations);
        assert_int_equal(f.at, cases[i].expected);
        /* A late confirmation does not fire it again. */
        cairn__ml_suspicion_confirm(s, "late");
        cairn_loop_manual_advance(loop, cases[i].expected + 2 * fudge);
        assert_int_equal(f.count, 1);
        cairn__ml_suspicion_delete(s);
        cairn_loop_delete(loop);
    }
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

static void test_suspicion_zero_k_and_immediate(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    struct fired f = {.loop = loop};
    struct ml_suspicion *s;
    /* k = 0: min is used and confirmations add nothing. */
    assert_int_equal(cairn__ml_suspicion_new(loop, "me", 0, 25 * CAIRN_MSEC, 30 * CAIRN_SEC,
                                             on_suspicion, &f, &s),
                     0);
    assert_false(cairn__ml_suspicion_confirm(s, "foo"));
    cairn_loop_manual_advance(loop, 25 * CAIRN_MSEC);
    assert_int_equal(f.count, 1);
    cairn__ml_suspicion_delete(s);
    /* The deadline moves into the past: fires from the loop at once. */
    f = (struct fired){.loop = loop};
    assert_int_equal(cairn__ml_suspicion_new(loop, "me", 1, 100 * CAIRN_MSEC, 30 * CAIRN_SEC,
                                             on_suspicion, &f, &s),
                     0);
    cairn_loop_manual_advance(loop, 200 * CAIRN_MSEC);
    assert_int_equal(f.count, 0);
    assert_true(cairn__ml_suspicion_confirm(s, "foo"));
    assert_int_equal(f.count, 0); /* not re-entrantly */
    cairn_loop_manual_run_pending(loop);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.confirmations, 1);
    cairn__ml_suspicion_delete(s);
    cairn_loop_delete(loop);
}

/* The spec's LAN example: 3 nodes -> k forced to 0 -> exactly 4 s; with 10
 * nodes k = 2 and the first timeout is the 24 s max, 2 confirmations -> 4 s. */
static void test_suspicion_lan_numbers(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    struct fired f = {.loop = loop};
    struct ml_suspicion *s;
    cairn_time min = cairn__ml_suspicion_timeout(4, 10, CAIRN_SEC);
    assert_int_equal(cairn__ml_suspicion_new(loop, "a", 2, min, 6 * min, on_suspicion, &f, &s), 0);
    assert_int_equal(cairn__ml_suspicion_deadline(s), 24 * CAIRN_SEC);
    cairn_loop_manual_advance(loop, CAIRN_SEC);
    assert_true(cairn__ml_suspicion_confirm(s, "b"));
    /* 24 - ln2/ln3 * 20 = 11.381 s, truncated to ms. */
    assert_int_equal(cairn__ml_suspicion_deadline(s), 11381 * CAIRN_MSEC);
    assert_true(cairn__ml_suspicion_confirm(s, "c"));
    assert_int_equal(cairn__ml_suspicion_deadline(s), 4 * CAIRN_SEC);
    assert_false(cairn__ml_suspicion_confirm(s, "d"));
    cairn_loop_manual_advance(loop, 3 * CAIRN_SEC);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.confirmations, 2);
    cairn__ml_suspicion_delete(s);
    cairn_loop_delete(loop);
}

/* ---- broadcast queue (queue_test.go) ---- */

struct collected {
    char msgs[16][64];
    int n;
};

static void collect(const uint8_t *msg, size_t len, void *ud)
{
    struct collected *c = ud;
    assert_true(len < 64 && c->n < 16);
    memcpy(c->msgs[c->n], msg, len);
    c->msgs[c->n][len] = 0;
    c->n++;
}

static void on_finished(void *ud)
{
    (*(int *)ud)++;
}

static void push_str(cairn_bcast_queue *q, const char *name, const char *msg, int *done)
{
    assert_int_equal(cairn__bcast_queue_push(q, name, (const uint8_t *)msg, strlen(msg),
                                             done ? on_finished : NULL, done),
                     0);
}

static void test_queue_invalidate(void **state)
{
    (void)state;
    cairn_bcast_queue *q;
    assert_int_equal(cairn__bcast_queue_new(1, 100, &q), 0);
    int done_test = 0;
    push_str(q, "test", "m-test", &done_test);
    push_str(q, "foo", "m-foo", NULL);
    push_str(q, "bar", "m-bar", NULL);
    assert_int_equal(cairn__bcast_queue_len(q), 3);
    push_str(q, "test", "m-tst2", NULL);
    assert_int_equal(cairn__bcast_queue_len(q), 3);
    assert_int_equal(done_test, 1);
    /* Unnamed messages never replace anything. */
    push_str(q, NULL, "x", NULL);
    push_str(q, NULL, "x", NULL);
    assert_int_equal(cairn__bcast_queue_len(q), 5);
    struct collected c = {0};
    cairn__bcast_queue_get(q, 0, 1000, 1, collect, &c);
    assert_int_equal(c.n, 5);
    /* Largest first, newest first on ties. */
    assert_string_equal(c.msgs[0], "m-tst2");
    assert_string_equal(c.msgs[1], "m-bar");
    assert_string_equal(c.msgs[2], "m-foo");
    cairn__bcast_queue_delete(q);
}

static void test_queue_get_broadcasts(void **state)
{
    (void)state;
    cairn_bcast_queue *q;
    assert_int_equal(cairn__bcast_queue_new(3, 100, &q), 0);
    push_str(q, "test", "1. this is a test.", NULL);
    push_str(q, "foo", "2. this is a test.", NULL);
    push_str(q, "bar", "3. this is a test.", NULL);
    push_str(q, "baz", "4. this is a test.", NULL);
    struct collected c = {0};
    assert_int_equal(cairn__bcast_queue_get(q, 2, 80, 10, collect, &c), 4);
    c.n = 0;
    assert_int_equal(cairn__bcast_queue_get(q, 3, 80, 10, collect, &c), 3);
    cairn__bcast_queue_delete(q);
}

static void test_queue_get_broadcasts_limit(void **state)
{
    (void)state;
    cairn_bcast_queue *q;
    assert_int_equal(cairn__bcast_queue_new(1, 100, &q), 0);
    assert_int_equal(cairn__bcast_queue_retransmit_limit(1, 10), 2);
    int done = 0;
    push_str(q, "test", "1. this is a test.", &done);
    push_str(q, "foo", "2. this is a test.", &done);
    push_str(q, "bar", "3. this is a test.", &done);
    push_str(q, "baz", "4. this is a test.", &done);
    struct collected c = {0};
    assert_int_equal(cairn__bcast_queue_get(q, 3, 80, 10, collect, &c), 3);
    /* Newest first: 4, 3, 2. */
    assert_string_equal(c.msgs[0], "4. this is a test.");
    assert_string_equal(c.msgs[2], "2. this is a test.");
    c.n = 0;
    assert_int_equal(cairn__bcast_queue_get(q, 3, 80, 10, collect, &c), 3);
    /* Fewest transmissions first: 1 (never sent), then 4, 3. */
    assert_string_equal(c.msgs[0], "1. this is a test.");
    assert_int_equal(done, 2);
    c.n = 0;
    assert_int_equal(cairn__bcast_queue_get(q, 3, 80, 10, collect, &c), 2);
    assert_int_equal(done, 4);
    assert_int_equal(cairn__bcast_queue_len(q), 0);
    c.n = 0;
    assert_int_equal(cairn__bcast_queue_get(q, 3, 80, 10, collect, &c), 0);
    cairn__bcast_queue_delete(q);
}

static void test_queue_prune_and_cap(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    cairn_bcast_queue *q;
    assert_int_equal(cairn__bcast_queue_new(1, 3, &q), 0);
    int d1 = 0, d2 = 0;
    push_str(q, "test", "1. this is a test.", &d1);
    push_str(q, "foo", "2. this is a test.", &d2);
    push_str(q, "bar", "3. this is a test.", NULL);
    push_str(q, "baz", "4. this is a test.", NULL); /* over the cap: oldest goes */
    assert_int_equal(cairn__bcast_queue_len(q), 3);
    assert_int_equal(d1, 1);
    cairn__bcast_queue_prune(q, 2);
    assert_int_equal(d2, 1);
    struct collected c = {0};
    cairn__bcast_queue_get(q, 0, 1000, 1, collect, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.msgs[0], "4. this is a test.");
    assert_string_equal(c.msgs[1], "3. this is a test.");
    /* Every allocation failure leaves the queue unchanged and leak-free. */
    cairn__bcast_queue_reset(q);
    for (long fail = 0; fail < 8; fail++) {
        cairn__test_alloc_fail_after(fail);
        int rc = cairn__bcast_queue_push(q, "n", (const uint8_t *)"abc", 3, NULL, NULL);
        cairn__test_alloc_fail_after(-1);
        assert_int_equal(cairn__bcast_queue_len(q), rc == 0 ? 1 : 0);
        cairn__bcast_queue_reset(q);
    }
    cairn__bcast_queue_delete(q);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* The packing rule: fewest transmits first, largest that fits. */
static void test_queue_largest_that_fits(void **state)
{
    (void)state;
    cairn_bcast_queue *q;
    assert_int_equal(cairn__bcast_queue_new(4, 100, &q), 0);
    push_str(q, "a", "aaaaaaaaaa", NULL); /* 10 */
    push_str(q, "b", "bbbbb", NULL);      /* 5 */
    push_str(q, "c", "ccccccc", NULL);    /* 7 */
    struct collected c = {0};
    /* Budget 14 with overhead 2: 10 fits (12 used), then nothing of 5 or 7. */
    assert_int_equal(cairn__bcast_queue_get(q, 2, 14, 3, collect, &c), 1);
    assert_string_equal(c.msgs[0], "aaaaaaaaaa");
    c.n = 0;
    /* Now b and c have 0 transmits: 7 then 5 (16 + 2 = 18 <= 20). */
    assert_int_equal(cairn__bcast_queue_get(q, 2, 20, 3, collect, &c), 2);
    assert_string_equal(c.msgs[0], "ccccccc");
    assert_string_equal(c.msgs[1], "bbbbb");
    cairn__bcast_queue_delete(q);
}

/* The queue against a plain model (every message in an array, the best
 * one found by a linear scan): thousands of random pushes (named, with
 * replacement, and unnamed, of a few lengths) and gets, through many
 * blocks, with two queues sharing one pool; then the pool outlives one
 * queue and dies before the other. Leak-free. */
struct model_msg {
    char name[8];
    char body[40];
    size_t len;
    int transmits;
    long id;
};
struct model {
    struct model_msg m[4096];
    size_t n;
    long id;
};

static void model_push(struct model *md, const char *name, const char *body, size_t len)
{
    if (name[0])
        for (size_t i = 0; i < md->n; i++)
            if (strcmp(md->m[i].name, name) == 0) {
                md->m[i] = md->m[--md->n];
                break;
            }
    struct model_msg *x = &md->m[md->n++];
    memset(x, 0, sizeof(*x));
    snprintf(x->name, sizeof(x->name), "%s", name);
    memcpy(x->body, body, len);
    x->len = len;
    x->id = ++md->id;
}

struct emitted {
    char msgs[512][40];
    size_t lens[512];
    int n;
};

static void collect_many(const uint8_t *msg, size_t len, void *ud)
{
    struct emitted *e = ud;
    assert_true(len < 40 && e->n < 512);
    memcpy(e->msgs[e->n], msg, len);
    e->lens[e->n++] = len;
}

static int model_get(struct model *md, int overhead, int limit, int tlimit, struct emitted *e)
{
    bool aside[4096] = {false};
    long used = 0;
    int sent = 0;
    for (;;) {
        long room = limit - used - overhead;
        int best = -1;
        for (size_t i = 0; i < md->n; i++) {
            struct model_msg *x = &md->m[i];
            if (aside[i] || (long)x->len > room)
                continue;
            struct model_msg *b = best < 0 ? NULL : &md->m[best];
            if (!b || x->transmits < b->transmits ||
                (x->transmits == b->transmits &&
                 (x->len > b->len || (x->len == b->len && x->id > b->id))))
                best = (int)i;
        }
        if (best < 0 || room <= 0)
            break;
        struct model_msg *x = &md->m[best];
        assert_int_equal(e->lens[sent], x->len);
        assert_memory_equal(e->msgs[sent], x->body, x->len);
        sent++;
        used += overhead + (long)x->len;
        aside[best] = true;
        x->transmits++;
    }
    for (size_t i = 0; i < md->n;) {
        if (md->m[i].transmits >= tlimit) {
            md->m[i] = md->m[--md->n];
            aside[i] = aside[md->n];
        } else {
            i++;
        }
    }
    return sent;
}

static void test_queue_model(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    cairn_ml_pool *pool;
    assert_int_equal(cairn_ml_pool_new(&pool), 0);
    cairn_bcast_queue *q[2];
    static struct model md[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(cairn__bcast_queue_new(2, 4000, &q[k]), 0);
        cairn__bcast_queue_set_pool(q[k], pool);
        memset(&md[k], 0, sizeof(md[k]));
    }
    cairn_rng rng;
    cairn_rng_init(&rng, 7);
    static struct emitted e;
    for (int step = 0; step < 12000; step++) {
        int k = (int)cairn_rng_below(&rng, 2);
        if (cairn_rng_below(&rng, 4) != 0) {
            char name[8] = "", body[40];
            if (cairn_rng_below(&rng, 5) != 0)
                snprintf(name, sizeof(name), "n%u", (unsigned)cairn_rng_below(&rng, 2500));
            size_t len = 8 + (size_t)cairn_rng_below(&rng, 4) * 7;
            snprintf(body, sizeof(body), "%-39u", (unsigned)cairn_rng_below(&rng, 3000));
            assert_int_equal(cairn__bcast_queue_push(q[k], name[0] ? name : NULL,
                                                     (const uint8_t *)body, len, NULL, NULL),
                             0);
            model_push(&md[k], name, body, len);
        } else {
            int limit = 20 + (int)cairn_rng_below(&rng, 300);
            e.n = 0;
            /* 1,000 nodes: retransmit limit 2 * 3 = 6. */
            size_t got = cairn__bcast_queue_get(q[k], 2, limit, 1000, collect_many, &e);
            assert_int_equal((int)got, e.n);
            assert_int_equal(model_get(&md[k], 2, limit, 6, &e), e.n);
        }
        assert_int_equal(cairn__bcast_queue_len(q[k]), md[k].n);
    }
    cairn__bcast_queue_delete(q[0]);
    cairn_ml_pool_delete(pool); /* q[1]'s messages become private */
    e.n = 0;
    cairn__bcast_queue_get(q[1], 2, 400, 1000, collect_many, &e);
    assert_int_equal(model_get(&md[1], 2, 400, 6, &e), e.n);
    cairn__bcast_queue_delete(q[1]);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* Identical messages queued by several queues of one pool are stored once. */
static void test_queue_pool_shares(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    cairn_ml_pool *pool;
    assert_int_equal(cairn_ml_pool_new(&pool), 0);
    cairn_bcast_queue *q[8];
    for (int k = 0; k < 8; k++) {
        assert_int_equal(cairn__bcast_queue_new(2, 100, &q[k]), 0);
        cairn__bcast_queue_set_pool(q[k], pool);
    }
    long live0 = cairn__test_alloc_live();
    push_str(q[0], "a", "alive-a", NULL);
    long first = cairn__test_alloc_live() - live0;
    for (int k = 1; k < 8; k++)
        push_str(q[k], "a", "alive-a", NULL);
    /* The first push made the pool's table and the message; the seven
     * others allocated their own structures only. */
    assert_int_equal(cairn__test_alloc_live() - live0, first + 7 * (first - 2));
    push_str(q[3], "a", "alive-a", NULL); /* replaces itself */
    long live = cairn__test_alloc_live();
    push_str(q[3], "a", "alive-a", NULL);
    assert_int_equal(cairn__test_alloc_live(), live);
    assert_int_equal(cairn__bcast_queue_len(q[3]), 1);
    for (int k = 0; k < 8; k++)
        cairn__bcast_queue_delete(q[k]);
    cairn_ml_pool_delete(pool);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* Regression: a get that empties the array (everything set aside) must not
 * restart ids, or a later message could share an id with a queued one and
 * replacing by name would remove the wrong entry (found by the simulator). */
static void test_queue_ids_stay_unique(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    cairn_bcast_queue *q;
    assert_int_equal(cairn__bcast_queue_new(4, 100, &q), 0);
    push_str(q, "a", "same-len-1", NULL);
    struct collected c = {0};
    assert_int_equal(cairn__bcast_queue_get(q, 0, 1000, 5, collect, &c), 1);
    push_str(q, "b", "same-len-2", NULL);
    /* Send b once: now a and b both have one transmission, equal length. */
    c.n = 0;
    assert_int_equal(cairn__bcast_queue_get(q, 0, 10, 5, collect, &c), 1);
    assert_string_equal(c.msgs[0], "same-len-2");
    int done_a = 0;
    push_str(q, "a", "same-len-3", &done_a); /* replaces a, not b */
    assert_int_equal(cairn__bcast_queue_len(q), 2);
    c.n = 0;
    cairn__bcast_queue_get(q, 0, 1000, 5, collect, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.msgs[0], "same-len-3");
    assert_string_equal(c.msgs[1], "same-len-2");
    assert_int_equal(done_a, 0);
    cairn__bcast_queue_delete(q);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* ---- string map ---- */

/* The embedded map (the node table's): values found from their keys, one
 * word per slot; growth, hits, misses and backward-shift deletion. */
struct emb_item {
    int n;
    char name[12];
};

static void test_strmap_embedded(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    static struct emb_item items[3000];
    struct ml_strmap m;
    cairn__ml_strmap_init_embedded(&m, 3000, offsetof(struct emb_item, name));
    for (int i = 0; i < 3000; i++) {
        items[i].n = i;
        snprintf(items[i].name, sizeof(items[i].name), "n%d", i);
        assert_int_equal(cairn__ml_strmap_put(&m, items[i].name, &items[i]), 0);
    }
    assert_int_equal(cairn__ml_strmap_put(&m, "x", NULL), CAIRN_ELIMIT);
    for (int i = 0; i < 3000; i++)
        assert_ptr_equal(cairn__ml_strmap_get(&m, items[i].name), &items[i]);
    assert_null(cairn__ml_strmap_get(&m, "n3000"));
    for (int i = 0; i < 3000; i += 2)
        assert_ptr_equal(cairn__ml_strmap_del(&m, items[i].name), &items[i]);
    assert_null(cairn__ml_strmap_del(&m, "n0"));
    for (int i = 0; i < 3000; i++) {
        char key[12];
        snprintf(key, sizeof(key), "n%d", i); /* another copy of the key */
        assert_ptr_equal(cairn__ml_strmap_get(&m, key), i % 2 ? &items[i] : NULL);
    }
    assert_int_equal(m.len, 1500);
    cairn__ml_strmap_destroy(&m);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

static void test_strmap(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    struct ml_strmap m;
    cairn__ml_strmap_init(&m, 5000);
    static char keys[3000][16];
    for (int i = 0; i < 3000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "node-%d", i);
        assert_int_equal(cairn__ml_strmap_put(&m, keys[i], &keys[i]), 0);
    }
    for (int i = 0; i < 3000; i += 2)
        assert_ptr_equal(cairn__ml_strmap_del(&m, keys[i]), &keys[i]);
    for (int i = 0; i < 3000; i++)
        assert_ptr_equal(cairn__ml_strmap_get(&m, keys[i]), i % 2 ? (void *)&keys[i] : NULL);
    assert_int_equal(m.len, 1500);
    cairn__ml_strmap_destroy(&m);
    cairn__ml_strmap_init(&m, 2);
    assert_int_equal(cairn__ml_strmap_put(&m, "a", keys[0]), 0);
    assert_int_equal(cairn__ml_strmap_put(&m, "b", keys[0]), 0);
    assert_int_equal(cairn__ml_strmap_put(&m, "c", keys[0]), CAIRN_ELIMIT);
    assert_int_equal(cairn__ml_strmap_put(&m, "a", keys[1]), 0);
    assert_ptr_equal(cairn__ml_strmap_get(&m, "a"), keys[1]);
    cairn__ml_strmap_destroy(&m);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

/* ---- config profiles: the spec table ---- */

static void test_config_profiles(void **state)
{
    (void)state;
    cairn_memberlist_config c;
    const char *names[] = {"lan", "wan", "local"};
    /* tcp, indirect, retransmit, susp, suspmax, pushpull, probe_to, probe_iv,
     * awareness, gossip_nodes, gossip_iv, to_the_dead. */
    struct {
        cairn_time tcp;
        int ind, rm, sm, smax;
        cairn_time pp, pt, pi;
        int amm, gn;
        cairn_time gi, gd;
    } want[] = {
        {10 * CAIRN_SEC, 3, 4, 4, 6, 30 * CAIRN_SEC, 500 * CAIRN_MSEC, CAIRN_SEC, 8, 3,
         200 * CAIRN_MSEC, 30 * CAIRN_SEC},
        {30 * CAIRN_SEC, 3, 4, 6, 6, 60 * CAIRN_SEC, 3 * CAIRN_SEC, 5 * CAIRN_SEC, 8, 4,
         500 * CAIRN_MSEC, 60 * CAIRN_SEC},
        {CAIRN_SEC, 1, 2, 3, 6, 15 * CAIRN_SEC, 200 * CAIRN_MSEC, CAIRN_SEC, 8, 3, 100 * CAIRN_MSEC,
         15 * CAIRN_SEC},
    };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cairn_memberlist_config_profile(names[i], &c), 0);
        assert_int_equal(c.bind.port, 7946);
        assert_int_equal(c.protocol_version, 2);
        assert_int_equal(c.tcp_timeout, want[i].tcp);
        assert_int_equal(c.indirect_checks, want[i].ind);
        assert_int_equal(c.retransmit_mult, want[i].rm);
        assert_int_equal(c.suspicion_mult, want[i].sm);
        assert_int_equal(c.suspicion_max_timeout_mult, want[i].smax);
        assert_int_equal(c.push_pull_interval, want[i].pp);
        assert_int_equal(c.probe_timeout, want[i].pt);
        assert_int_equal(c.probe_interval, want[i].pi);
        assert_int_equal(c.awareness_max_multiplier, want[i].amm);
        assert_int_equal(c.gossip_nodes, want[i].gn);
        assert_int_equal(c.gossip_interval, want[i].gi);
        assert_int_equal(c.gossip_to_the_dead_time, want[i].gd);
        assert_false(c.disable_tcp_pings);
        assert_true(c.gossip_verify_incoming && c.gossip_verify_outgoing);
        assert_true(c.enable_compression);
        assert_int_equal(c.handoff_queue_depth, 1024);
        assert_int_equal(c.udp_buffer_size, 1400);
        assert_int_equal(c.dead_node_reclaim_time, 0);
        assert_int_equal(cairn_memberlist_config_check(&c), CAIRN_EINVAL); /* no name */
        c.name = "n1";
        assert_int_equal(cairn_memberlist_config_check(&c), 0);
    }
    assert_int_equal(cairn_memberlist_config_profile("mars", &c), CAIRN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anchor_table),
        cmocka_unit_test(test_go_util_cases),
        cmocka_unit_test(test_awareness),
        cmocka_unit_test(test_suspicion_remaining),
        cmocka_unit_test(test_suspicion_timer),
        cmocka_unit_test(test_suspicion_zero_k_and_immediate),
        cmocka_unit_test(test_suspicion_lan_numbers),
        cmocka_unit_test(test_queue_invalidate),
        cmocka_unit_test(test_queue_get_broadcasts),
        cmocka_unit_test(test_queue_get_broadcasts_limit),
        cmocka_unit_test(test_queue_prune_and_cap),
        cmocka_unit_test(test_queue_largest_that_fits),
        cmocka_unit_test(test_queue_ids_stay_unique),
        cmocka_unit_test(test_queue_model),
        cmocka_unit_test(test_queue_pool_shares),
        cmocka_unit_test(test_strmap),
        cmocka_unit_test(test_strmap_embedded),
        cmocka_unit_test(test_config_profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
