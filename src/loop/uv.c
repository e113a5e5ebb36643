/* The libuv backend of cairn_loop.
 *
 * Time is uv_hrtime() (monotonic ns). Each cairn_timer owns a uv_timer_t;
 * libuv timers have millisecond resolution, so delays are rounded up (a timer
 * never fires early). Deleting a timer closes its handle and frees the memory
 * in the close callback, as libuv's handle lifetime rules require. Posted
 * work is a mutex-protected queue drained by a uv_async_t. Packets and
 * streams live in uv_net.c.
 */
#include "cairn/loop_uv.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/uv_internal.h"

static struct uv_backend *to_uv(cairn_loop *loop)
{
    return (struct uv_backend *)loop;
}

static cairn_time uvb_now(cairn_loop *loop)
{
    (void)loop;
    return (cairn_time)uv_hrtime();
}

static void async_free(uv_handle_t *h)
{
    struct uv_backend *b = h->data;
    cairn_free(b->rxbuf);
    cairn_free(b);
}

static void uvb_destroy(cairn_loop *loop)
{
    struct uv_backend *b = to_uv(loop);
    cairn__post_queue_destroy(&b->posted);
    uv_close((uv_handle_t *)&b->async, async_free);
}

static int uvb_post(cairn_loop *loop, cairn_post_cb cb, void *userdata)
{
    struct uv_backend *b = to_uv(loop);
    int r = cairn__post_queue_push(&b->posted, cb, userdata);
    if (r == 0)
        uv_async_send(&b->async);
    return r;
}

static void on_async(uv_async_t *a)
{
    struct uv_backend *b = a->data;
    cairn__post_queue_run(&b->posted);
}

static uint64_t delay_ms(cairn_time delay)
{
    return (uint64_t)((delay + CAIRN_MSEC - 1) / CAIRN_MSEC);
}

static void on_uv_timer(uv_timer_t *h)
{
    cairn_timer *t = h->data;
    /* libuv's clock is cached milliseconds; never fire before the deadline
     * on the nanosecond clock that cairn_loop_now reports. */
    cairn_time left = t->deadline - uvb_now(t->loop);
    if (left > 0) {
        uv_timer_start(h, on_uv_timer, delay_ms(left), 0);
        return;
    }
    t->deadline = -1;
    cairn__timer_fire(t);
}

static int uvb_timer_new(cairn_loop *loop, cairn_timer *timer)
{
    uv_timer_t *h = cairn_malloc(sizeof(*h));
    if (h == NULL)
        return CAIRN_ENOMEM;
    int r = uv_timer_init(to_uv(loop)->uv, h);
    if (r < 0) {
        cairn_free(h);
        return cairn_err_from_errno(r);
    }
    h->data = timer;
    timer->impl = h;
    return 0;
}

static void uvb_timer_start(cairn_timer *timer, cairn_time delay)
{
    uv_update_time(to_uv(timer->loop)->uv);
    timer->deadline = uvb_now(timer->loop) + delay;
    uv_timer_start(timer->impl, on_uv_timer, delay_ms(delay), 0);
}

static void uvb_timer_stop(cairn_timer *timer)
{
    uv_timer_stop(timer->impl);
    timer->deadline = -1;
}

static void timer_handle_free(uv_handle_t *h)
{
    cairn_free(h->data);
    cairn_free(h);
}

static void uvb_timer_free(cairn_timer *timer)
{
    uv_timer_t *h = timer->impl;
    h->data = timer;
    uv_close((uv_handle_t *)h, timer_handle_free);
}

static const struct cairn_loop_ops uv_ops = {
    .now = uvb_now,
    .destroy = uvb_destroy,
    .post = uvb_post,
    .timer_new = uvb_timer_new,
    .timer_start = uvb_timer_start,
    .timer_stop = uvb_timer_stop,
    .timer_free = uvb_timer_free,
    .udp_bind = cairn__uv_udp_bind,
    .udp_send = cairn__uv_udp_send,
    .udp_local = cairn__uv_udp_local,
    .udp_free = cairn__uv_udp_free,
    .listen = cairn__uv_listen,
    .listener_local = cairn__uv_listener_local,
    .listener_free = cairn__uv_listener_free,
    .stream_dial = cairn__uv_stream_dial,
    .stream_start_read = cairn__uv_stream_start_read,
    .stream_write = cairn__uv_stream_write,
    .stream_peer = cairn__uv_stream_peer,
    .stream_read_stop = cairn__uv_stream_read_stop,
    .stream_shutdown = cairn__uv_stream_shutdown,
    .stream_free = cairn__uv_stream_free,
    .resolve = cairn__uv_resolve,
    .file_open = cairn__uv_file_open,
    .file_write = cairn__uv_file_write,
    .file_sync = cairn__uv_file_sync,
    .file_close = cairn__uv_file_close,
    .file_read = cairn__uv_file_read,
    .file_rename = cairn__uv_file_rename,
    .file_remove = cairn__uv_file_remove,
    .resolve_cancel = cairn__uv_resolve_cancel,
};

int cairn_loop_new_uv(uv_loop_t *uv, cairn_loop **ret_loop)
{
    if (uv == NULL || ret_loop == NULL)
        return CAIRN_EINVAL;
    struct uv_backend *b = cairn_calloc(1, sizeof(*b));
    if (b == NULL)
        return CAIRN_ENOMEM;
    b->base.ops = &uv_ops;
    b->uv = uv;
    int r = uv_async_init(uv, &b->async, on_async);
    if (r < 0) {
        cairn_free(b);
        return cairn_err_from_errno(r);
    }
    b->async.data = b;
    cairn__post_queue_init(&b->posted);
    *ret_loop = &b->base;
    return 0;
}

uv_loop_t *cairn_loop_uv_get(cairn_loop *loop)
{
    return to_uv(loop)->uv;
}
