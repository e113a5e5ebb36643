/* The cairn_loop front: argument checks and dispatch to the backend, plus the
 * one piece of timer lifetime logic shared by every backend (a timer deleted
 * from its own callback is freed after the callback returns). */
#include "cairn/loop.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"

cairn_time cairn_loop_now(cairn_loop *loop)
{
    return loop->ops->now(loop);
}

void cairn_loop_delete(cairn_loop *loop)
{
    if (loop != NULL)
        loop->ops->destroy(loop);
}

int cairn_loop_post(cairn_loop *loop, cairn_post_cb cb, void *userdata)
{
    if (loop == NULL || cb == NULL)
        return CAIRN_EINVAL;
    return loop->ops->post(loop, cb, userdata);
}

int cairn_timer_new(cairn_loop *loop, cairn_timer_cb cb, void *userdata, cairn_timer **ret_timer)
{
    if (loop == NULL || cb == NULL || ret_timer == NULL)
        return CAIRN_EINVAL;
    cairn_timer *t = cairn_calloc(1, sizeof(*t));
    if (t == NULL)
        return CAIRN_ENOMEM;
    t->loop = loop;
    t->cb = cb;
    t->userdata = userdata;
    t->deadline = -1;
    int r = loop->ops->timer_new(loop, t);
    if (r < 0) {
        cairn_free(t);
        return r;
    }
    *ret_timer = t;
    return 0;
}

void cairn_timer_start(cairn_timer *timer, cairn_time delay)
{
    if (delay < 0)
        delay = 0;
    timer->loop->ops->timer_start(timer, delay);
}

void cairn_timer_stop(cairn_timer *timer)
{
    if (timer->deadline >= 0)
        timer->loop->ops->timer_stop(timer);
}

bool cairn_timer_active(const cairn_timer *timer)
{
    return timer->deadline >= 0;
}

cairn_time cairn_timer_deadline(const cairn_timer *timer)
{
    return timer->deadline;
}

void cairn_timer_delete(cairn_timer *timer)
{
    if (timer == NULL)
        return;
    cairn_timer_stop(timer);
    if (timer->in_callback) {
        timer->delete_pending = true;
        return;
    }
    timer->loop->ops->timer_free(timer);
}

void cairn__timer_fire(cairn_timer *timer)
{
    timer->in_callback = true;
    timer->cb(timer, timer->userdata);
    timer->in_callback = false;
    if (timer->delete_pending) {
        cairn_timer_stop(timer);
        timer->loop->ops->timer_free(timer);
    }
}
