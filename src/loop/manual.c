/* The manual loop: a clock that moves only when a test says so.
 *
 * Active timers sit in a binary min-heap ordered by (deadline, start
 * sequence), so timers due at the same instant fire in the order they were
 * armed, and a run is reproducible. Advancing pops due timers one by one,
 * setting `now` to each deadline before its callback, so callbacks that
 * re-arm timers inside the advance window are honoured in order.
 */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"
#include "loop/post_queue.h"

#include <string.h>

struct manual_loop {
    struct cairn_loop base;
    cairn_time now;
    uint64_t next_seq;
    cairn_timer **heap;
    size_t heap_len;
    size_t heap_cap;
    struct cairn_post_queue posted;
};

static struct manual_loop *to_manual(cairn_loop *loop)
{
    return (struct manual_loop *)loop;
}

static bool timer_less(const cairn_timer *a, const cairn_timer *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void heap_swap(struct manual_loop *m, size_t i, size_t j)
{
    cairn_timer *t = m->heap[i];
    m->heap[i] = m->heap[j];
    m->heap[j] = t;
    m->heap[i]->heap_index = i;
    m->heap[j]->heap_index = j;
}

static void heap_up(struct manual_loop *m, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(m->heap[i], m->heap[parent]))
            break;
        heap_swap(m, i, parent);
        i = parent;
    }
}

static void heap_down(struct manual_loop *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->heap_len && timer_less(m->heap[l], m->heap[min]))
            min = l;
        if (r < m->heap_len && timer_less(m->heap[r], m->heap[min]))
            min = r;
        if (min == i)
            return;
        heap_swap(m, i, min);
        i = min;
    }
}

static void heap_remove(struct manual_loop *m, cairn_timer *t)
{
    size_t i = t->heap_index;
    m->heap_len--;
    if (i != m->heap_len) {
        m->heap[i] = m->heap[m->heap_len];
        m->heap[i]->heap_index = i;
        heap_down(m, i);
        heap_up(m, i);
    }
    t->deadline = -1;
}

static cairn_time manual_now(cairn_loop *loop)
{
    return to_manual(loop)->now;
}

static void manual_destroy(cairn_loop *loop)
{
    struct manual_loop *m = to_manual(loop);
    cairn__post_queue_destroy(&m->posted);
    cairn_free(m->heap);
    cairn_free(m);
}

static int manual_post(cairn_loop *loop, cairn_post_cb cb, void *userdata)
{
    return cairn__post_queue_push(&to_manual(loop)->posted, cb, userdata);
}

static int manual_timer_new(cairn_loop *loop, cairn_timer *timer)
{
    struct manual_loop *m = to_manual(loop);
    /* Reserve a heap slot per timer so that starting one never allocates. */
    if (m->heap_cap == SIZE_MAX / sizeof(cairn_timer *))
        return CAIRN_ENOMEM;
    cairn_timer **heap = cairn_reallocarray(m->heap, m->heap_cap + 1, sizeof(*heap));
    if (heap == NULL)
        return CAIRN_ENOMEM;
    m->heap = heap;
    m->heap_cap++;
    return 0;
}

static void manual_timer_stop(cairn_timer *timer)
{
    heap_remove(to_manual(timer->loop), timer);
}

static void manual_timer_start(cairn_timer *timer, cairn_time delay)
{
    struct manual_loop *m = to_manual(timer->loop);
    if (timer->deadline >= 0)
        heap_remove(m, timer);
    timer->deadline = m->now + delay;
    timer->seq = m->next_seq++;
    timer->heap_index = m->heap_len;
    m->heap[m->heap_len++] = timer;
    heap_up(m, timer->heap_index);
}

static void manual_timer_free(cairn_timer *timer)
{
    struct manual_loop *m = to_manual(timer->loop);
    m->heap_cap--;
    cairn_free(timer);
}

static const struct cairn_loop_ops manual_ops = {
    .now = manual_now,
    .destroy = manual_destroy,
    .post = manual_post,
    .timer_new = manual_timer_new,
    .timer_start = manual_timer_start,
    .timer_stop = manual_timer_stop,
    .timer_free = manual_timer_free,
};

int cairn_loop_new_manual(cairn_time start, cairn_loop **ret_loop)
{
    if (ret_loop == NULL)
        return CAIRN_EINVAL;
    struct manual_loop *m = cairn_calloc(1, sizeof(*m));
    if (m == NULL)
        return CAIRN_ENOMEM;
    m->base.ops = &manual_ops;
    m->now = start;
    cairn__post_queue_init(&m->posted);
    *ret_loop = &m->base;
    return 0;
}

static size_t run_due(struct manual_loop *m, cairn_time until)
{
    size_t n = 0;
    for (;;) {
        n += cairn__post_queue_run(&m->posted);
        if (m->heap_len == 0 || m->heap[0]->deadline > until)
            break;
        cairn_timer *t = m->heap[0];
        if (t->deadline > m->now)
            m->now = t->deadline;
        heap_remove(m, t);
        cairn__timer_fire(t);
        n++;
    }
    return n;
}

size_t cairn_loop_manual_advance(cairn_loop *loop, cairn_time delta)
{
    struct manual_loop *m = to_manual(loop);
    if (delta < 0)
        delta = 0;
    cairn_time until = m->now + delta;
    size_t n = run_due(m, until);
    m->now = until;
    return n + cairn__post_queue_run(&m->posted);
}

size_t cairn_loop_manual_run_pending(cairn_loop *loop)
{
    struct manual_loop *m = to_manual(loop);
    return run_due(m, m->now);
}

cairn_time cairn_loop_manual_next_deadline(cairn_loop *loop)
{
    struct manual_loop *m = to_manual(loop);
    return m->heap_len ? m->heap[0]->deadline : -1;
}
