/* The simulator's core: the one event heap, stalls postponing events, the
 * message pool, and the link model. Everything above it (sim.c's nodes and
 * loops, sim_net.c's datagrams and streams) schedules through here; it calls
 * nothing above it.
 *
 * Every event (a timer firing, posted work, a datagram or stream segment
 * arriving) is a struct sim_ev in a 4-ary min-heap keyed by (time,
 * sequence): O(log n) per event, and two events due at the same instant run
 * in the order they were scheduled, so a run depends only on the seed.
 * Messages in flight come from per-size-class free lists, so a steady run
 * does not call malloc per packet.
 */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/sim_internal.h"

#include <string.h>

/* ---- heap ---- */

/* A 4-ary min-heap of entries carrying their keys (struct sim_heap_ent):
 * half the depth of a binary heap, and a node's four children share one
 * or two cache lines. Keys are unique (seq), so the order of events is the
 * same as with any other correct priority queue. */
#define HEAP_ARITY    4
#define SEQ_PHASE_BIT (UINT64_C(1) << 63)

static bool ent_less(const struct sim_heap_ent *a, const struct sim_heap_ent *b)
{
    if (a->at != b->at)
        return a->at < b->at;
    if ((a->seq_phase ^ b->seq_phase) & SEQ_PHASE_BIT)
        return a->seq_phase < b->seq_phase; /* the phase bit decides */
    if (a->due != b->due)
        return a->due < b->due;
    return a->seq_phase < b->seq_phase;
}

static void heap_set(cairn_sim *sim, size_t i, const struct sim_heap_ent *e)
{
    sim->heap[i] = *e;
    e->ev->heap_index = i;
}

static void heap_up(cairn_sim *sim, size_t i)
{
    struct sim_heap_ent e = sim->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / HEAP_ARITY;
        if (!ent_less(&e, &sim->heap[parent]))
            break;
        heap_set(sim, i, &sim->heap[parent]);
        i = parent;
    }
    heap_set(sim, i, &e);
}

static void heap_down(cairn_sim *sim, size_t i)
{
    struct sim_heap_ent e = sim->heap[i];
    for (;;) {
        size_t first = HEAP_ARITY * i + 1, min = i;
        const struct sim_heap_ent *best = &e;
        for (size_t c = first; c < first + HEAP_ARITY && c < sim->heap_len; c++) {
            if (ent_less(&sim->heap[c], best)) {
                min = c;
                best = &sim->heap[c];
            }
        }
        if (min == i)
            break;
        heap_set(sim, i, &sim->heap[min]);
        i = min;
    }
    heap_set(sim, i, &e);
}

void cairn__sim_unschedule(cairn_sim *sim, struct sim_ev *ev)
{
    size_t i = ev->heap_index;
    if (i == SIM_NO_INDEX)
        return;
    ev->heap_index = SIM_NO_INDEX;
    sim->heap_len--;
    if (i == sim->heap_len)
        return;
    struct sim_ev *last = sim->heap[sim->heap_len].ev;
    heap_set(sim, i, &sim->heap[sim->heap_len]);
    heap_down(sim, i);
    heap_up(sim, last->heap_index);
}

/* Queues ev at `at` with its current seq, phase and due (the caller sets
 * them). */
static void heap_push(cairn_sim *sim, struct sim_ev *ev, cairn_time at)
{
    ev->at = at;
    struct sim_heap_ent e = {
        .at = at,
        .due = ev->due,
        .seq_phase = ev->seq | (ev->phase ? SEQ_PHASE_BIT : 0),
        .ev = ev,
    };
    heap_set(sim, sim->heap_len++, &e);
    heap_up(sim, sim->heap_len - 1);
}

/* Queues ev at `at` (not before now) in `phase`, with a new sequence. */
void cairn__sim_schedule_in(cairn_sim *sim, struct sim_ev *ev, cairn_time at, uint8_t phase)
{
    cairn__sim_unschedule(sim, ev);
    ev->seq = sim->next_seq++;
    ev->phase = phase;
    ev->due = at < sim->now ? sim->now : at;
    heap_push(sim, ev, ev->due);
}

void cairn__sim_schedule(cairn_sim *sim, struct sim_ev *ev, cairn_time at)
{
    cairn__sim_schedule_in(sim, ev, at, SIM_PHASE_NORMAL);
}

struct sim_ev *cairn__sim_heap_pop(cairn_sim *sim)
{
    struct sim_ev *ev = sim->heap[0].ev;
    cairn__sim_unschedule(sim, ev);
    return ev;
}

/* Makes room for `more` extra events. */
int cairn__sim_heap_reserve(cairn_sim *sim, size_t more)
{
    size_t need = sim->heap_reserved + sim->msgs_in_flight + more;
    if (need <= sim->heap_cap)
        return 0;
    size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    struct sim_heap_ent *heap = cairn_reallocarray(sim->heap, cap, sizeof(*heap));
    if (heap == NULL)
        return CAIRN_ENOMEM;
    sim->heap = heap;
    sim->heap_cap = cap;
    return 0;
}

bool cairn__sim_postpone(cairn_sim *sim, struct sim_node *node, struct sim_ev *ev)
{
    if (node->stalled_until <= ev->at)
        return false;
    /* Timers go to the wake-up phase, ahead of the received backlog. */
    if (ev->kind == SIM_EV_TIMER && ev->phase != SIM_PHASE_WAKE_TIMERS) {
        ev->phase = SIM_PHASE_WAKE_TIMERS;
        node->wake_timers++;
    }
    /* Keep due and sequence: within a phase, postponed events keep their
     * original order. */
    heap_push(sim, ev, node->stalled_until);
    return true;
}

/* ---- messages ---- */

static int size_class(size_t len)
{
    size_t cap = SIM_POOL_MIN;
    for (int c = 0; c < SIM_POOL_CLASSES; c++, cap *= 2)
        if (len <= cap)
            return c;
    return -1;
}

struct sim_msg *cairn__sim_msg_new(cairn_sim *sim, size_t len)
{
    if (cairn__sim_heap_reserve(sim, 1) < 0)
        return NULL;
    int cls = size_class(len);
    struct sim_msg *m;
    if (cls >= 0 && sim->pool[cls] != NULL) {
        m = sim->pool[cls];
        sim->pool[cls] = m->next;
    } else {
        size_t cap = cls >= 0 ? (size_t)SIM_POOL_MIN << cls : len;
        m = cairn_malloc(sizeof(*m) + cap);
        if (m == NULL)
            return NULL;
    }
    m->cls = cls;
    m->next = NULL;
    m->end = NULL;
    m->src = NULL;
    m->len = len;
    m->ev.heap_index = SIM_NO_INDEX;
    sim->msgs_in_flight++;
    return m;
}

void cairn__sim_msg_free(cairn_sim *sim, struct sim_msg *m)
{
    sim->msgs_in_flight--;
    if (m->cls < 0) {
        cairn_free(m);
        return;
    }
    m->next = sim->pool[m->cls];
    sim->pool[m->cls] = m;
}

void cairn__sim_msg_send(cairn_sim *sim, struct sim_msg *m, cairn_time at)
{
    cairn__sim_schedule(sim, &m->ev, at);
}

/* ---- links and partitions ---- */

const cairn_sim_link *cairn__sim_link(const cairn_sim *sim, const cairn_addr *a,
                                      const cairn_addr *b)
{
    if (sim->links.len > 0) {
        struct sim_key k;
        cairn__sim_key_pair(&k, a, b);
        const cairn_sim_link *l = cairn__sim_map_get(&sim->links, &k);
        if (l != NULL)
            return l;
    }
    return &sim->default_link;
}

cairn_time cairn__sim_delay(cairn_sim *sim, const cairn_sim_link *l)
{
    cairn_time d = l->latency;
    if (l->jitter > 0)
        d += (cairn_time)cairn_rng_below(&sim->rng, (uint64_t)l->jitter + 1);
    return d;
}

bool cairn_sim_reachable(const cairn_sim *sim, const cairn_addr *a, const cairn_addr *b)
{
    if (sim->grouped > 0) {
        const struct sim_node *na = cairn__sim_node_find(sim, a),
                              *nb = cairn__sim_node_find(sim, b);
        if (na != NULL && nb != NULL && na->group != nb->group)
            return false;
    }
    if (sim->blocked.len > 0) {
        struct sim_key k;
        cairn__sim_key_pair(&k, a, b);
        if (cairn__sim_map_get(&sim->blocked, &k) != NULL)
            return false;
    }
    return true;
}

/* ---- nodes ---- */

struct sim_node *cairn__sim_node_find(const cairn_sim *sim, const cairn_addr *ip)
{
    struct sim_key k;
    cairn__sim_key_ip(&k, ip);
    return cairn__sim_map_get(&sim->nodes, &k);
}

uint16_t cairn__sim_ephemeral_port(struct sim_node *node, bool tcp)
{
    const struct sim_map *m = tcp ? &node->sim->listeners : &node->sim->udps;
    for (unsigned tries = 0; tries < 65536 - SIM_PORT_FIRST; tries++) {
        uint16_t port = node->next_port;
        node->next_port = port == 65535 ? SIM_PORT_FIRST : (uint16_t)(port + 1);
        struct sim_key k;
        cairn__sim_key_ip_port(&k, &node->ip, port);
        if (cairn__sim_map_get(m, &k) == NULL)
            return port;
    }
    return 0;
}
