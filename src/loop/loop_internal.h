/* Internal contract between the cairn_loop front (loop.c) and its backends.
 *
 * A backend embeds `struct cairn_loop` first in its own struct and fills the
 * ops table. Later layers (packets, streams, the simulator) extend the table;
 * a backend that lacks an operation leaves it NULL and the front returns
 * CAIRN_ENOTSUP.
 */
#ifndef CAIRN_LOOP_INTERNAL_H
#define CAIRN_LOOP_INTERNAL_H

#include "cairn/loop.h"

struct cairn_loop_ops {
    cairn_time (*now)(cairn_loop *loop);
    void (*destroy)(cairn_loop *loop);
    int (*post)(cairn_loop *loop, cairn_post_cb cb, void *userdata);
    int (*timer_new)(cairn_loop *loop, cairn_timer *timer);
    void (*timer_start)(cairn_timer *timer, cairn_time delay);
    void (*timer_stop)(cairn_timer *timer);
    void (*timer_free)(cairn_timer *timer);
};

struct cairn_loop {
    const struct cairn_loop_ops *ops;
};

/* The front owns the common part of a timer; backends hang their data off
 * `impl`. */
struct cairn_timer {
    cairn_loop *loop;
    cairn_timer_cb cb;
    void *userdata;
    /* Absolute deadline while active, -1 when inactive. */
    cairn_time deadline;
    /* Set while the callback runs, so a delete inside it is deferred. */
    bool in_callback;
    bool delete_pending;
    /* Backend data. */
    void *impl;
    /* Manual loop: heap index while active; start sequence for ties. */
    size_t heap_index;
    uint64_t seq;
};

/* Runs a timer's callback with the deferred-delete protocol. Backends call it
 * after marking the timer inactive. */
void cairn_timer_fire_(cairn_timer *timer);

#endif
