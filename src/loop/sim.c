/* The simulator's world: nodes with their loops (time, timers, posted
 * work), links, partitions and stalls, and the public cairn_sim API. It sits
 * on sim_core.c (the event heap, the message pool, the link model) and
 * dispatches arriving datagrams and segments to sim_net.c; neither of those
 * calls back into this file.
 *
 * A timer's event lives in the timer (one heap slot reserved per timer at
 * creation, so arming never allocates). A stalled node's events are moved to
 * the end of the stall with their original due time and sequence number
 * kept, and its timers are put in a wake-up phase that runs before
 * everything else due at that instant: the node wakes as a libuv process
 * starved of CPU does, running its expired timers (in deadline order, and
 * any they re-arm to expire at once) before it reads the datagrams and
 * stream data that arrived meanwhile (in arrival order), and its posted work.
 *
 * This follows the manual loop (manual.c) and, in spirit, the fake network
 * of Tarantool's SWIM tests: the protocol code cannot tell it from libuv.
 */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/sim_internal.h"

#include <string.h>

/* Largest stream segment (and the default chunk). */
#define SIM_SEGMENT_MAX 65536

static bool link_valid(const cairn_sim_link *l)
{
    return l->latency >= 0 && l->jitter >= 0 && l->reorder_delay >= 0 && l->loss >= 0 &&
           l->loss <= 1 && l->duplicate >= 0 && l->duplicate <= 1 && l->reorder >= 0 &&
           l->reorder <= 1;
}

int cairn_sim_set_default_link(cairn_sim *sim, const cairn_sim_link *link)
{
    if (sim == NULL || link == NULL || !link_valid(link))
        return CAIRN_EINVAL;
    sim->default_link = *link;
    return 0;
}

static bool ip_valid(const cairn_addr *a)
{
    return a != NULL && (a->family == 4 || a->family == 6);
}

int cairn_sim_set_link(cairn_sim *sim, const cairn_addr *a, const cairn_addr *b,
                       const cairn_sim_link *link)
{
    if (sim == NULL || !ip_valid(a) || !ip_valid(b) || (link != NULL && !link_valid(link)))
        return CAIRN_EINVAL;
    struct sim_key k;
    cairn__sim_key_pair(&k, a, b);
    if (link == NULL) {
        cairn_free(cairn__sim_map_del(&sim->links, &k));
        return 0;
    }
    cairn_sim_link *l = cairn__sim_map_get(&sim->links, &k);
    if (l != NULL) {
        *l = *link;
        return 0;
    }
    l = cairn_memdup(link, sizeof(*link));
    if (l == NULL)
        return CAIRN_ENOMEM;
    if (cairn__sim_map_put(&sim->links, &k, l) < 0) {
        cairn_free(l);
        return CAIRN_ENOMEM;
    }
    return 0;
}

/* The (never written) marker stored for a blocked pair. */
static const char blocked_marker;

int cairn_sim_block(cairn_sim *sim, const cairn_addr *a, const cairn_addr *b)
{
    if (sim == NULL || !ip_valid(a) || !ip_valid(b))
        return CAIRN_EINVAL;
    struct sim_key k;
    cairn__sim_key_pair(&k, a, b);
    return cairn__sim_map_put(&sim->blocked, &k, (void *)&blocked_marker);
}

int cairn_sim_unblock(cairn_sim *sim, const cairn_addr *a, const cairn_addr *b)
{
    if (sim == NULL || !ip_valid(a) || !ip_valid(b))
        return CAIRN_EINVAL;
    struct sim_key k;
    cairn__sim_key_pair(&k, a, b);
    cairn__sim_map_del(&sim->blocked, &k);
    return 0;
}

int cairn_sim_partition(cairn_sim *sim, const cairn_addr *ips, size_t n, unsigned group)
{
    if (sim == NULL || (ips == NULL && n > 0))
        return CAIRN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        struct sim_node *node = cairn__sim_node_find(sim, &ips[i]);
        if (node == NULL)
            return CAIRN_ENOENT;
        if (node->group == 0 && group != 0)
            sim->grouped++;
        else if (node->group != 0 && group == 0)
            sim->grouped--;
        node->group = group;
    }
    return 0;
}

void cairn_sim_heal(cairn_sim *sim)
{
    if (sim->grouped > 0) {
        for (size_t i = 0; i < sim->all_len; i++)
            sim->all[i]->group = 0;
        sim->grouped = 0;
    }
    cairn__sim_map_destroy(&sim->blocked);
}

/* ---- nodes: the loop ops ---- */

static struct sim_node *to_node(cairn_loop *loop)
{
    return (struct sim_node *)loop;
}

static cairn_time node_now(cairn_loop *loop)
{
    return to_node(loop)->sim->now;
}

static void node_destroy(cairn_loop *loop)
{
    struct sim_node *node = to_node(loop);
    cairn_sim *sim = node->sim;
    cairn__sim_unschedule(sim, &node->post_ev);
    cairn__post_queue_destroy(&node->posted);
    struct sim_key k;
    cairn__sim_key_ip(&k, &node->ip);
    cairn__sim_map_del(&sim->nodes, &k);
    if (node->group != 0)
        sim->grouped--;
    struct sim_node *last = sim->all[--sim->all_len];
    sim->all[node->all_index] = last;
    last->all_index = node->all_index;
    sim->heap_reserved--;
    cairn_free(node);
}

static int node_post(cairn_loop *loop, cairn_post_cb cb, void *userdata)
{
    struct sim_node *node = to_node(loop);
    cairn_sim *sim = node->sim;
    int r = cairn__post_queue_push(&node->posted, cb, userdata);
    if (r < 0)
        return r;
    if (!pthread_equal(pthread_self(), sim->owner))
        atomic_store(&sim->foreign_post, true);
    else if (node->post_ev.heap_index == SIM_NO_INDEX)
        cairn__sim_schedule(sim, &node->post_ev, sim->now);
    return 0;
}

/* A timer's event, hung off cairn_timer.impl. */
struct sim_timer {
    struct sim_ev ev;
    cairn_timer *timer;
    struct sim_node *node;
};

static int node_timer_new(cairn_loop *loop, cairn_timer *timer)
{
    struct sim_node *node = to_node(loop);
    if (cairn__sim_heap_reserve(node->sim, 1) < 0)
        return CAIRN_ENOMEM;
    struct sim_timer *st = cairn_malloc(sizeof(*st));
    if (st == NULL)
        return CAIRN_ENOMEM;
    st->ev.kind = SIM_EV_TIMER;
    st->ev.heap_index = SIM_NO_INDEX;
    st->timer = timer;
    st->node = node;
    timer->impl = st;
    node->sim->heap_reserved++;
    return 0;
}

/* Takes the timer's event out of the heap, leaving the wake-up phase. */
static void timer_unschedule(struct sim_timer *st)
{
    if (st->ev.heap_index != SIM_NO_INDEX && st->ev.phase == SIM_PHASE_WAKE_TIMERS)
        st->node->wake_timers--;
    cairn__sim_unschedule(st->node->sim, &st->ev);
}

static void node_timer_start(cairn_timer *timer, cairn_time delay)
{
    struct sim_timer *st = timer->impl;
    struct sim_node *node = st->node;
    cairn_sim *sim = node->sim;
    timer->deadline = sim->now + delay;
    timer_unschedule(st);
    /* Re-armed to expire at once during the wake-up timer phase: it runs
     * in that phase too (libuv's timer phase runs until no timer is due). */
    uint8_t phase = SIM_PHASE_NORMAL;
    if (node->wake_timers > 0 && timer->deadline <= sim->now) {
        phase = SIM_PHASE_WAKE_TIMERS;
        node->wake_timers++;
    }
    cairn__sim_schedule_in(sim, &st->ev, timer->deadline, phase);
}

static void node_timer_stop(cairn_timer *timer)
{
    struct sim_timer *st = timer->impl;
    timer_unschedule(st);
    timer->deadline = -1;
}

static void node_timer_free(cairn_timer *timer)
{
    struct sim_timer *st = timer->impl;
    st->node->sim->heap_reserved--;
    cairn_free(st);
    cairn_free(timer);
}

static const struct cairn_loop_ops sim_ops = {
    .now = node_now,
    .destroy = node_destroy,
    .post = node_post,
    .timer_new = node_timer_new,
    .timer_start = node_timer_start,
    .timer_stop = node_timer_stop,
    .timer_free = node_timer_free,
    .udp_bind = cairn__sim_udp_bind,
    .udp_send = cairn__sim_udp_send,
    .udp_local = cairn__sim_udp_local,
    .udp_free = cairn__sim_udp_free,
    .listen = cairn__sim_listen,
    .listener_local = cairn__sim_listener_local,
    .listener_free = cairn__sim_listener_free,
    .stream_dial = cairn__sim_stream_dial,
    .stream_start_read = cairn__sim_stream_start_read,
    .stream_write = cairn__sim_stream_write,
    .stream_peer = cairn__sim_stream_peer,
    .stream_read_stop = cairn__sim_stream_read_stop,
    .stream_shutdown = cairn__sim_stream_shutdown,
    .stream_free = cairn__sim_stream_free,
    .resolve = cairn__sim_resolve,
    .resolve_cancel = cairn__sim_resolve_cancel,
    .file_open = cairn__sim_file_open,
    .file_write = cairn__sim_file_write,
    .file_sync = cairn__sim_file_sync,
    .file_close = cairn__sim_file_close,
    .file_read = cairn__sim_file_read,
    .file_rename = cairn__sim_file_rename,
    .file_remove = cairn__sim_file_remove,
};

int cairn_sim_node_loop(cairn_sim *sim, const cairn_addr *ip, cairn_loop **ret_loop)
{
    if (sim == NULL || !ip_valid(ip) || ret_loop == NULL)
        return CAIRN_EINVAL;
    if (cairn__sim_node_find(sim, ip) != NULL)
        return CAIRN_EEXIST;
    if (cairn__sim_heap_reserve(sim, 1) < 0)
        return CAIRN_ENOMEM;
    if (sim->all_len == sim->all_cap) {
        size_t cap = sim->all_cap ? sim->all_cap * 2 : 16;
        struct sim_node **all = cairn_reallocarray(sim->all, cap, sizeof(*all));
        if (all == NULL)
            return CAIRN_ENOMEM;
        sim->all = all;
        sim->all_cap = cap;
    }
    struct sim_node *node = cairn_calloc(1, sizeof(*node));
    if (node == NULL)
        return CAIRN_ENOMEM;
    node->base.ops = &sim_ops;
    node->sim = sim;
    node->ip = *ip;
    node->ip.port = 0;
    node->post_ev.kind = SIM_EV_POST;
    node->post_ev.heap_index = SIM_NO_INDEX;
    node->next_port = SIM_PORT_FIRST;
    struct sim_key k;
    cairn__sim_key_ip(&k, ip);
    if (cairn__sim_map_put(&sim->nodes, &k, node) < 0) {
        cairn_free(node);
        return CAIRN_ENOMEM;
    }
    cairn__post_queue_init(&node->posted);
    node->all_index = sim->all_len;
    sim->all[sim->all_len++] = node;
    sim->heap_reserved++;
    *ret_loop = &node->base;
    return 0;
}

int cairn_sim_stall(cairn_sim *sim, const cairn_addr *ip, cairn_time duration)
{
    if (sim == NULL || !ip_valid(ip) || duration < 0)
        return CAIRN_EINVAL;
    struct sim_node *node = cairn__sim_node_find(sim, ip);
    if (node == NULL)
        return CAIRN_ENOENT;
    if (sim->now + duration > node->stalled_until)
        node->stalled_until = sim->now + duration;
    return 0;
}

/* ---- the world ---- */

int cairn_sim_new(uint64_t seed, cairn_sim **ret_sim)
{
    if (ret_sim == NULL)
        return CAIRN_EINVAL;
    cairn_sim *sim = cairn_calloc(1, sizeof(*sim));
    if (sim == NULL)
        return CAIRN_ENOMEM;
    sim->seed = seed;
    cairn_rng_init(&sim->rng, seed);
    sim->now = CAIRN_SIM_START;
    sim->default_link.latency = CAIRN_MSEC;
    sim->stream_chunk = SIM_SEGMENT_MAX;
    sim->resolve_delay = CAIRN_MSEC;
    sim->owner = pthread_self();
    atomic_init(&sim->foreign_post, false);
    *ret_sim = sim;
    return 0;
}

void cairn_sim_delete(cairn_sim *sim)
{
    if (sim == NULL)
        return;
    /* Messages still in flight (and stream ends they keep alive). */
    while (sim->heap_len > 0) {
        struct sim_ev *ev = cairn__sim_heap_pop(sim);
        if (ev->kind == SIM_EV_PACKET || ev->kind == SIM_EV_SEGMENT)
            cairn__sim_msg_drop(sim, (struct sim_msg *)ev);
    }
    for (int c = 0; c < SIM_POOL_CLASSES; c++) {
        while (sim->pool[c] != NULL) {
            struct sim_msg *m = sim->pool[c];
            sim->pool[c] = m->next;
            cairn_free(m);
        }
    }
    for (size_t i = 0; i < sim->links.cap; i++)
        if (sim->links.slots[i].value != NULL)
            cairn_free(sim->links.slots[i].value);
    cairn__sim_map_destroy(&sim->links);
    cairn__sim_map_destroy(&sim->blocked);
    cairn__sim_map_destroy(&sim->nodes);
    cairn__sim_map_destroy(&sim->udps);
    cairn__sim_map_destroy(&sim->listeners);
    cairn__sim_hosts_free(sim);
    cairn__sim_files_free(sim);
    cairn_free(sim->heap);
    cairn_free(sim->all);
    cairn_free(sim);
}

uint64_t cairn_sim_seed(const cairn_sim *sim)
{
    return sim->seed;
}

cairn_time cairn_sim_now(const cairn_sim *sim)
{
    return sim->now;
}

cairn_rng *cairn_sim_rng(cairn_sim *sim)
{
    return &sim->rng;
}

void cairn_sim_set_stream_chunk(cairn_sim *sim, size_t max)
{
    if (max < 1)
        max = 1;
    if (max > SIM_SEGMENT_MAX)
        max = SIM_SEGMENT_MAX;
    sim->stream_chunk = max;
}

void cairn_sim_set_trace(cairn_sim *sim, cairn_sim_trace_cb cb, void *userdata)
{
    sim->trace = cb;
    sim->trace_ud = userdata;
}

void cairn_sim_get_stats(const cairn_sim *sim, cairn_sim_stats *ret_stats)
{
    *ret_stats = sim->stats;
}

cairn_time cairn_sim_next_event(const cairn_sim *sim)
{
    return sim->heap_len > 0 ? sim->heap[0].at : -1;
}

/* Work posted from other threads: give every node a chance to drain. */
static void collect_foreign_posts(cairn_sim *sim)
{
    if (!atomic_exchange(&sim->foreign_post, false))
        return;
    for (size_t i = 0; i < sim->all_len; i++)
        if (sim->all[i]->post_ev.heap_index == SIM_NO_INDEX)
            cairn__sim_schedule(sim, &sim->all[i]->post_ev, sim->now);
}

static void run_event(cairn_sim *sim, struct sim_ev *ev)
{
    switch (ev->kind) {
    case SIM_EV_TIMER: {
        struct sim_timer *st = (struct sim_timer *)ev;
        struct sim_node *node = st->node;
        if (cairn__sim_postpone(sim, node, ev))
            return;
        /* A wake-up timer keeps the node in its timer phase until its
         * callback returns, so what it re-arms to expire at once joins. */
        bool wake = ev->phase == SIM_PHASE_WAKE_TIMERS;
        ev->phase = SIM_PHASE_NORMAL;
        st->timer->deadline = -1;
        cairn__timer_fire(st->timer);
        if (wake)
            node->wake_timers--;
        break;
    }
    case SIM_EV_POST: {
        struct sim_node *node =
            (struct sim_node *)((char *)ev - offsetof(struct sim_node, post_ev));
        if (cairn__sim_postpone(sim, node, ev))
            return;
        cairn__post_queue_run(&node->posted);
        break;
    }
    case SIM_EV_PACKET:
        cairn__sim_deliver_packet(sim, (struct sim_msg *)ev);
        break;
    case SIM_EV_SEGMENT:
        cairn__sim_deliver_segment(sim, (struct sim_msg *)ev);
        break;
    default:
        break;
    }
}

bool cairn_sim_step(cairn_sim *sim)
{
    collect_foreign_posts(sim);
    if (sim->heap_len == 0)
        return false;
    struct sim_ev *ev = cairn__sim_heap_pop(sim);
    if (ev->at > sim->now)
        sim->now = ev->at;
    sim->stats.events++;
    run_event(sim, ev);
    return true;
}

size_t cairn_sim_run_until(cairn_sim *sim, cairn_time t)
{
    size_t n = 0;
    for (;;) {
        collect_foreign_posts(sim);
        if (sim->heap_len == 0 || sim->heap[0].at > t)
            break;
        cairn_sim_step(sim);
        n++;
    }
    if (t > sim->now)
        sim->now = t;
    return n;
}

size_t cairn_sim_run_for(cairn_sim *sim, cairn_time d)
{
    return cairn_sim_run_until(sim, sim->now + (d > 0 ? d : 0));
}
