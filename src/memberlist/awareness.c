/* Lifeguard local health awareness (Go: awareness.go).
 *
 * The same clamped counter as upstream; the loop thread owns it, so there is
 * no lock. Upstream publishes the score as a metric on change; we return
 * whether it changed and let the caller log it.
 */
#include "memberlist/awareness.h"

void cairn__ml_awareness_init(struct ml_awareness *a, int max)
{
    a->max = max < 1 ? 1 : max;
    a->score = 0;
}

int cairn__ml_awareness_apply(struct ml_awareness *a, int delta)
{
    int before = a->score;
    long s = (long)a->score + delta;
    if (s < 0)
        s = 0;
    else if (s > a->max - 1)
        s = a->max - 1;
    a->score = (int)s;
    return a->score != before;
}

cairn_time cairn__ml_awareness_scale(const struct ml_awareness *a, cairn_time timeout)
{
    return timeout * (cairn_time)(a->score + 1);
}
