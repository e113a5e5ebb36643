/* The libuv test environment that test_loop_net, test_pinger_tcp and
 * test_serfrpc_client each used to spell out: a libuv loop owned by the
 * test, a cairn loop over it, and bounded ways to run it. Runs are bounded
 * by wall-clock deadlines so a broken test fails instead of hanging; a
 * ticking timer keeps UV_RUN_ONCE from sleeping past those deadlines. The
 * helpers assert through cmocka, so only cmocka tests may call them. */
#include "uv_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>

#include "cairn/time.h"
#include "slowdown.h"

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

int uv_env_setup(void **state)
{
    /* Streams on libuv write with write(2): a peer that hung up would
     * raise SIGPIPE (cairn/loop_uv.h), which under valgrind's timing
     * killed test_serfrpc_client. */
    signal(SIGPIPE, SIG_IGN);
    struct uv_env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->uv), 0);
    assert_int_equal(cairn_loop_new_uv(&e->uv, &e->loop), 0);
    uv_timer_init(&e->uv, &e->tick);
    uv_timer_start(&e->tick, on_tick, 10, 10);
    *state = e;
    return 0;
}

int uv_env_teardown(void **state)
{
    struct uv_env *e = *state;
    uv_close((uv_handle_t *)&e->tick, NULL);
    cairn_loop_delete(e->loop);
    cairn_time deadline = cairn_monotonic_now() + 3 * CAIRN_SEC * cairn_test_slowdown();
    while (uv_loop_alive(&e->uv) && cairn_monotonic_now() < deadline)
        uv_run(&e->uv, UV_RUN_ONCE);
    assert_int_equal(uv_loop_close(&e->uv), 0);
    free(e);
    return 0;
}

void uv_env_run_until(struct uv_env *e, const bool *done)
{
    cairn_time deadline = cairn_monotonic_now() + 5 * CAIRN_SEC * cairn_test_slowdown();
    while (!*done && cairn_monotonic_now() < deadline)
        uv_run(&e->uv, UV_RUN_ONCE);
    assert_true(*done);
}

void uv_env_run_for(struct uv_env *e, int ms)
{
    cairn_time deadline = cairn_monotonic_now() + ms * CAIRN_MSEC;
    while (cairn_monotonic_now() < deadline)
        uv_run(&e->uv, UV_RUN_ONCE);
}
