/* Waiters: the completions of a leave or a meta update (Go blocks the
 * caller of Leave/UpdateNode until the broadcast is sent or the timeout;
 * on a loop the caller gets a callback instead). A waiter rides on the
 * broadcast it waits for: the broadcast queue calls
 * cairn__ml_waiter_finished when the message leaves the queue, the
 * waiter's timer completes it from the loop (or at the timeout). This file
 * sits below state.c (which queues the broadcasts) and memberlist.c (which
 * creates the waiters), so neither depends on the other for it.
 */
#include "memberlist/ml_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

static void waiter_unlink(cairn_memberlist *ml, struct ml_waiter *w)
{
    for (struct ml_waiter **pp = &ml->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

/* A waiter is freed once it has completed and its broadcast (if it was
 * attached to one) has finished, so the queue never holds a dangling
 * pointer. */
static void waiter_maybe_free(cairn_memberlist *ml, struct ml_waiter *w)
{
    if (w->completed && (w->fired || !w->attached)) {
        waiter_unlink(ml, w);
        cairn_timer_delete(w->timer);
        cairn_free(w);
    }
}

static void on_waiter_timer(cairn_timer *t, void *ud)
{
    struct ml_waiter *w = ud;
    cairn_memberlist *ml = w->ml;
    (void)t;
    if (w->completed)
        return;
    w->completed = true;
    int status = w->fired || w->immediate ? 0 : CAIRN_ETIMEDOUT;
    cairn_ml_done_cb done = w->done;
    void *ud2 = w->userdata;
    waiter_maybe_free(ml, w);
    if (done)
        done(ml, status, 0, ud2);
}

void cairn__ml_waiter_finished(void *ud)
{
    struct ml_waiter *w = ud;
    w->fired = true;
    if (w->completed) {
        waiter_maybe_free(w->ml, w);
        return;
    }
    /* Complete from the loop, never from inside the queue. */
    cairn_timer_start(w->timer, 0);
}

struct ml_waiter *cairn__ml_waiter_new(cairn_memberlist *ml, cairn_ml_done_cb done, void *ud)
{
    struct ml_waiter *w = cairn_calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->ml = ml;
    w->done = done;
    w->userdata = ud;
    if (cairn_timer_new(ml->loop, on_waiter_timer, w, &w->timer) < 0) {
        cairn_free(w);
        return NULL;
    }
    w->next = ml->waiters;
    ml->waiters = w;
    return w;
}

/* Starts the wait: at once when nobody else is alive, else until the
 * broadcast finishes or timeout (<= 0: no timeout). */
void cairn__ml_waiter_arm(cairn_memberlist *ml, struct ml_waiter *w, cairn_time timeout)
{
    bool any_alive = false;
    for (size_t i = 0; i < ml->n_nodes && !any_alive; i++) {
        const struct ml_node *n = ml->nodes[i];
        any_alive = n->state != CAIRN_ML_DEAD && n->state != CAIRN_ML_LEFT &&
                    strcmp(n->name, ml->name) != 0;
    }
    if (!any_alive) {
        w->immediate = true;
        cairn_timer_start(w->timer, 0);
    } else if (w->fired) {
        cairn_timer_start(w->timer, 0);
    } else if (timeout > 0) {
        cairn_timer_start(w->timer, timeout);
    }
}
