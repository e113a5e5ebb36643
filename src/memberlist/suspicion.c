/* Lifeguard suspicion timers (Go: suspicion.go).
 *
 * SWIM declares a suspected node dead after a fixed timeout. Lifeguard's
 * "dynamic suspicion" starts with a long timeout (max) and shortens it as
 * independent members confirm the suspicion, down to min once k members
 * agree, so a real failure is still declared quickly while a slow accuser
 * alone cannot kill a healthy node.
 *
 * Upstream keeps the accusers in a map and restarts a time.AfterFunc timer;
 * here the accusers are a small array (at most k + 1 names, k is
 * SuspicionMult - 2, so 1..5 in practice) and the timer is a cairn_timer on
 * the node's loop. Upstream fires the callback on a new goroutine when a
 * confirmation moves the deadline into the past; we re-arm the timer with a
 * zero delay, which has the same "soon, not re-entrantly" effect.
 */
#include "memberlist/suspicion.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "memberlist/util.h"

struct ml_suspicion {
    /* Confirmations counted (not including the first accuser). */
    int n;
    /* Confirmations expected before the timeout reaches min. */
    int k;
    /* Timeout bounds. */
    cairn_time min, max;
    /* When the suspicion started (loop time). */
    cairn_time start;
    /* The loop whose clock and timer we use. */
    cairn_loop *loop;
    cairn_timer *timer;
    ml_suspicion_cb cb;
    void *userdata;
    /* Accusers seen so far (owned copies); k + 1 slots. */
    char **from;
    int nfrom;
};

static void on_timeout(cairn_timer *t, void *ud)
{
    struct ml_suspicion *s = ud;
    (void)t;
    s->cb(s, s->n, s->userdata);
}

void cairn__ml_suspicion_delete(struct ml_suspicion *s)
{
    if (!s)
        return;
    cairn_timer_delete(s->timer);
    for (int i = 0; i < s->nfrom; i++)
        cairn_free(s->from[i]);
    cairn_free(s->from);
    cairn_free(s);
}

int cairn__ml_suspicion_new(cairn_loop *loop, const char *from, int k, cairn_time min,
                            cairn_time max, ml_suspicion_cb cb, void *userdata,
                            struct ml_suspicion **ret_s)
{
    if (!loop || !from || !cb || k < 0 || min < 0 || max < min || !ret_s)
        return CAIRN_EINVAL;
    struct ml_suspicion *s = cairn_calloc(1, sizeof(*s));
    if (!s)
        return CAIRN_ENOMEM;
    s->k = k;
    s->min = min;
    s->max = max;
    s->loop = loop;
    s->cb = cb;
    s->userdata = userdata;
    s->from = cairn_calloc((size_t)k + 1, sizeof(*s->from));
    if (!s->from)
        goto fail;
    s->from[0] = cairn_strdup(from);
    if (!s->from[0])
        goto fail;
    s->nfrom = 1;
    if (cairn_timer_new(loop, on_timeout, s, &s->timer) < 0)
        goto fail;
    s->start = cairn_loop_now(loop);
    cairn_timer_start(s->timer, k < 1 ? min : max);
    *ret_s = s;
    return 0;
fail:
    cairn__ml_suspicion_delete(s);
    return CAIRN_ENOMEM;
}

bool cairn__ml_suspicion_confirm(struct ml_suspicion *s, const char *from)
{
    if (s->n >= s->k)
        return false;
    for (int i = 0; i < s->nfrom; i++)
        if (strcmp(s->from[i], from) == 0)
            return false;
    char *copy = cairn_strdup(from);
    if (!copy)
        return false;
    s->from[s->nfrom++] = copy;
    s->n++;
    cairn_time elapsed = cairn_loop_now(s->loop) - s->start;
    cairn_time remaining = cairn__ml_suspicion_remaining(s->n, s->k, elapsed, s->min, s->max);
    /* Only an armed timer is moved: after it fired the outcome stands. */
    if (cairn_timer_active(s->timer))
        cairn_timer_start(s->timer, remaining > 0 ? remaining : 0);
    return true;
}

int cairn__ml_suspicion_confirmations(const struct ml_suspicion *s)
{
    return s->n;
}

cairn_time cairn__ml_suspicion_deadline(const struct ml_suspicion *s)
{
    return cairn_timer_deadline(s->timer);
}
