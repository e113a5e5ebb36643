/* A libuv loop with a cairn loop on top, for the unit tests that run real
 * sockets (test_loop_net, test_pinger_tcp, test_serfrpc_client). */
#ifndef CAIRN_TEST_UV_ENV_H
#define CAIRN_TEST_UV_ENV_H

#include <stdbool.h>

#include "cairn/loop_uv.h"

struct uv_env {
    uv_loop_t uv;
    uv_timer_t tick;
    cairn_loop *loop;
};

/* uv_env_setup is a cmocka setup (it also ignores SIGPIPE): it allocates a struct uv_env into
 * *state with an initialised libuv loop, a cairn loop over it, and a timer ticking every 10 ms so
 * that UV_RUN_ONCE never blocks past a run deadline. */
int uv_env_setup(void **state);

/* uv_env_teardown is the matching cmocka teardown: it deletes the cairn
 * loop, runs libuv for at most 3 s until no handle is alive (a stream closed
 * with writes queued may linger up to 2 s), asserts uv_loop_close() == 0 so
 * that a handle left open fails the test, and frees the env. */
int uv_env_teardown(void **state);

/* uv_env_run_until runs the loop until *done or 5 s pass (times
 * CAIRN_TEST_SLOWDOWN, slowdown.h), and asserts *done. The teardown's 3 s
 * are stretched alike. */
void uv_env_run_until(struct uv_env *e, const bool *done);

/* uv_env_run_for runs the loop for about ms milliseconds. */
void uv_env_run_for(struct uv_env *e, int ms);

#endif
