/* Unit tests for the loop seam: the manual clock's ordering and deferred
 * deletion, posting from other threads, and the libuv backend's timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "base/alloc_test.h"

struct rec {
    int order[16];
    cairn_time at[16];
    int n;
    cairn_loop *loop;
};

struct tctx {
    struct rec *rec;
    int id;
    cairn_timer *self;
    int rearm;
    int delete_self;
};

static void on_timer(cairn_timer *t, void *ud)
{
    struct tctx *c = ud;
    c->rec->order[c->rec->n] = c->id;
    c->rec->at[c->rec->n++] = cairn_loop_now(c->rec->loop);
    assert_false(cairn_timer_active(t));
    if (c->rearm-- > 0)
        cairn_timer_start(t, 10);
    if (c->delete_self)
        cairn_timer_delete(t);
}

static void test_manual_order(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(1000, &loop), 0);
    struct rec rec = {.loop = loop};
    struct tctx c[4];
    cairn_timer *t[4];
    cairn_time delays[4] = {30, 10, 30, 5};
    for (int i = 0; i < 4; i++) {
        c[i] = (struct tctx){&rec, i, NULL, 0, 0};
        assert_int_equal(cairn_timer_new(loop, on_timer, &c[i], &t[i]), 0);
        cairn_timer_start(t[i], delays[i]);
    }
    c[3].rearm = 1; /* fires at 1005 then 1015 */
    cairn_timer_stop(t[1]);
    assert_int_equal(cairn_loop_manual_next_deadline(loop), 1005);
    assert_int_equal(cairn_loop_manual_advance(loop, 29), 2);
    assert_int_equal(cairn_loop_now(loop), 1029);
    assert_int_equal(cairn_loop_manual_advance(loop, 1), 2);
    int want[] = {3, 3, 0, 2};
    cairn_time want_at[] = {1005, 1015, 1030, 1030};
    assert_int_equal(rec.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rec.order[i], want[i]);
        assert_int_equal(rec.at[i], want_at[i]);
    }
    assert_int_equal(cairn_loop_manual_next_deadline(loop), -1);
    for (int i = 0; i < 4; i++)
        cairn_timer_delete(t[i]);
    cairn_loop_delete(loop);
}

static void test_manual_delete_in_callback(void **state)
{
    (void)state;
    cairn__test_alloc_install();
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    struct rec rec = {.loop = loop};
    struct tctx c = {&rec, 7, NULL, 1, 1};
    cairn_timer *t;
    assert_int_equal(cairn_timer_new(loop, on_timer, &c, &t), 0);
    cairn_timer_start(t, 1);
    cairn_loop_manual_advance(loop, 100);
    assert_int_equal(rec.n, 1);
    cairn_loop_delete(loop);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

static int posted_count;
static void on_post(void *ud)
{
    (void)ud;
    posted_count++;
}

static void *poster(void *arg)
{
    cairn_loop *loop = arg;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cairn_loop_post(loop, on_post, NULL), 0);
    return NULL;
}

static void test_manual_post_threads(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    pthread_t th[2];
    posted_count = 0;
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, poster, loop);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cairn_loop_manual_run_pending(loop);
    assert_int_equal(posted_count, 2000);
    cairn_loop_delete(loop);
}

struct uvctx {
    cairn_time started;
    cairn_time fired;
    cairn_loop *loop;
};

static void on_uv_fire(cairn_timer *t, void *ud)
{
    struct uvctx *c = ud;
    c->fired = cairn_loop_now(c->loop);
    cairn_timer_delete(t);
}

static void test_uv_timer(void **state)
{
    (void)state;
    uv_loop_t uv;
    assert_int_equal(uv_loop_init(&uv), 0);
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_uv(&uv, &loop), 0);
    struct uvctx c = {.loop = loop};
    cairn_timer *t;
    assert_int_equal(cairn_timer_new(loop, on_uv_fire, &c, &t), 0);
    c.started = cairn_loop_now(loop);
    cairn_timer_start(t, 20 * CAIRN_MSEC);
    posted_count = 0;
    assert_int_equal(cairn_loop_post(loop, on_post, NULL), 0);
    while (c.fired == 0)
        uv_run(&uv, UV_RUN_ONCE);
    assert_int_equal(posted_count, 1);
    assert_true(c.fired - c.started >= 20 * CAIRN_MSEC);
    cairn_loop_delete(loop);
    uv_run(&uv, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&uv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual_order),
        cmocka_unit_test(test_manual_delete_in_callback),
        cmocka_unit_test(test_manual_post_threads),
        cmocka_unit_test(test_uv_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
