/* cairn/loop_uv.h: the libuv backend of cairn_loop.
 *
 * Only programs (the agent, the CLI, benchmarks) include this header; the
 * protocol layers never see uv.h.
 */
#ifndef CAIRN_LOOP_UV_H
#define CAIRN_LOOP_UV_H

#include <uv.h>

#include "cairn/loop.h"

/* cairn_loop_new_uv wraps an existing, initialised uv loop (not owned).
 * cairn_loop_now is uv_hrtime(); timers are uv timers rounded up to whole
 * milliseconds; cairn_loop_post wakes the loop with a uv_async. Delete the
 * cairn loop before closing the uv loop, then run the uv loop once more so
 * that handle closes complete. 0, CAIRN_ENOMEM or an error mapped from
 * libuv.
 *
 * Streams write with write(2), so a program using them must ignore SIGPIPE
 * (signal(SIGPIPE, SIG_IGN)) as every libuv program does; a write to a
 * reset stream then reports CAIRN_ECONNRESET to the read callback. The
 * library itself never touches process-wide signal state. */
int cairn_loop_new_uv(uv_loop_t *uv, cairn_loop **ret_loop);

/* cairn_loop_uv_get: the wrapped uv loop. */
uv_loop_t *cairn_loop_uv_get(cairn_loop *loop);

#endif
