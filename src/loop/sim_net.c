/* Packets and streams of the simulator.
 *
 * UDP: a send draws the datagram's fate at once from the world's rng (loss,
 * duplication, delay, reordering) and schedules one message per copy; the
 * receiving socket is looked up by address only at delivery, so a socket
 * closed meanwhile simply loses the datagram (counted as unreachable), as a
 * closed port would.
 *
 * TCP: a stream is a pair of ends, each the backend object behind one
 * cairn_stream. Dialling sends a SYN to the listener's node; it answers
 * with SYNACK (accepting and creating the server end) or REFUSED (no
 * listener) after the link delay; a SYN lost to a partition or sent to an
 * address where no node lives gets no answer, so the dial times out. Each
 * direction is a FIFO: a segment is never delivered before the previous one
 * of the same direction, whatever jitter it drew. Data or FIN that meets a
 * partition breaks the stream: both ends get CAIRN_ECONNRESET. Closing an
 * end sends FIN (the peer reads CAIRN_EOF) and detaches the pair; writes to
 * an end whose peer is gone are discarded. cairn_stream_shutdown sends the
 * FIN early and keeps the pair (half-close).
 *
 * Back-pressure: the model has no socket buffers, so a written byte counts
 * in the writer's write_queued until the peer's read callback got it (or
 * it was dropped); then the writer gets a local WRITTEN notice. A paused
 * reader (cairn_stream_read_stop) keeps arriving segments in its queue,
 * so its peer's write_queued grows, as a full TCP window would make it.
 *
 * Segments in flight hold a reference on the end they are addressed to, so
 * a closed end is freed only when the last one has been delivered or
 * dropped. Segments that arrive before the reader called start_read wait in
 * the end's queue and are rescheduled, in order, when it does.
 */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/sim_internal.h"

#include <string.h>

static struct sim_node *node_of(cairn_loop *loop)
{
    return (struct sim_node *)loop;
}

static bool is_unspecified(const cairn_addr *a)
{
    size_t n = a->family == 4 ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (a->ip[i] != 0)
            return false;
    return true;
}

/* The local address for a bind of addr on node (port still to pick). */
static int bind_addr(struct sim_node *node, const cairn_addr *addr, cairn_addr *ret)
{
    if (addr->family != node->ip.family)
        return CAIRN_EADDRNOTAVAIL;
    if (!is_unspecified(addr) && memcmp(addr->ip, node->ip.ip, sizeof(addr->ip)) != 0)
        return CAIRN_EADDRNOTAVAIL;
    *ret = node->ip;
    ret->port = addr->port;
    return 0;
}

/* ---- UDP ---- */

struct sim_udp {
    /* The common part (first), its node, its bound address. */
    struct cairn_udp base;
    struct sim_node *node;
    cairn_addr local;
};

/* Registers obj under (local ip, port) in m, picking a port when 0. */
static int bind_port(struct sim_node *node, struct sim_map *m, bool tcp, cairn_addr *local,
                     void *obj)
{
    if (local->port == 0) {
        local->port = cairn__sim_ephemeral_port(node, tcp);
        if (local->port == 0)
            return CAIRN_EADDRINUSE;
    }
    struct sim_key k;
    cairn__sim_key_ip_port(&k, local, local->port);
    if (cairn__sim_map_get(m, &k) != NULL)
        return CAIRN_EADDRINUSE;
    return cairn__sim_map_put(m, &k, obj);
}

static void unbind_port(struct sim_map *m, const cairn_addr *local)
{
    struct sim_key k;
    cairn__sim_key_ip_port(&k, local, local->port);
    cairn__sim_map_del(m, &k);
}

int cairn__sim_udp_bind(cairn_loop *loop, const cairn_addr *addr, cairn_udp **ret_udp)
{
    struct sim_node *node = node_of(loop);
    cairn_addr local;
    int r = bind_addr(node, addr, &local);
    if (r < 0)
        return r;
    struct sim_udp *u = cairn_calloc(1, sizeof(*u));
    if (u == NULL)
        return CAIRN_ENOMEM;
    u->node = node;
    r = bind_port(node, &node->sim->udps, false, &local, u);
    if (r < 0) {
        cairn_free(u);
        return r;
    }
    u->local = local;
    *ret_udp = &u->base;
    return 0;
}

static bool draw(cairn_sim *sim, double p)
{
    return p > 0 && cairn_rng_double(&sim->rng) < p;
}

int cairn__sim_udp_send(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len)
{
    struct sim_udp *u = (struct sim_udp *)udp;
    cairn_sim *sim = u->node->sim;
    if (to->family != u->local.family)
        return CAIRN_EINVAL;
    sim->stats.packets_sent++;
    if (!cairn_sim_reachable(sim, &u->local, to)) {
        sim->stats.packets_partitioned++;
        return 0;
    }
    const cairn_sim_link *l = cairn__sim_link(sim, &u->local, to);
    if (draw(sim, l->loss)) {
        sim->stats.packets_lost++;
        return 0;
    }
    int copies = draw(sim, l->duplicate) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        struct sim_msg *m = cairn__sim_msg_new(sim, len);
        if (m == NULL)
            return i == 0 ? CAIRN_ENOMEM : 0;
        m->ev.kind = SIM_EV_PACKET;
        m->from = u->local;
        m->to = *to;
        if (len > 0)
            memcpy(m->data, data, len);
        cairn_time delay = cairn__sim_delay(sim, l);
        if (draw(sim, l->reorder))
            delay += l->reorder_delay;
        cairn__sim_msg_send(sim, m, sim->now + delay);
        if (i == 1)
            sim->stats.packets_duplicated++;
    }
    return 0;
}

void cairn__sim_deliver_packet(cairn_sim *sim, struct sim_msg *m)
{
    struct sim_node *node = cairn__sim_node_find(sim, &m->to);
    if (node == NULL) {
        sim->stats.packets_unreachable++;
        cairn__sim_msg_drop(sim, m);
        return;
    }
    if (cairn__sim_postpone(sim, node, &m->ev))
        return;
    if (!cairn_sim_reachable(sim, &m->from, &m->to)) {
        sim->stats.packets_partitioned++;
        cairn__sim_msg_drop(sim, m);
        return;
    }
    struct sim_key k;
    cairn__sim_key_ip_port(&k, &m->to, m->to.port);
    struct sim_udp *u = cairn__sim_map_get(&sim->udps, &k);
    if (u == NULL || u->base.closing) {
        sim->stats.packets_unreachable++;
        cairn__sim_msg_drop(sim, m);
        return;
    }
    sim->stats.packets_delivered++;
    if (sim->trace != NULL)
        sim->trace(CAIRN_SIM_TRACE_PACKET, sim->now, &m->from, &m->to, m->data, m->len,
                   sim->trace_ud);
    cairn__udp_deliver(&u->base, &m->from, m->data, m->len);
    cairn__sim_msg_drop(sim, m);
}

int cairn__sim_udp_local(cairn_udp *udp, cairn_addr *ret_addr)
{
    *ret_addr = ((struct sim_udp *)udp)->local;
    return 0;
}

void cairn__sim_udp_free(cairn_udp *udp)
{
    struct sim_udp *u = (struct sim_udp *)udp;
    unbind_port(&u->node->sim->udps, &u->local);
    cairn_free(u);
}

/* ---- listeners ---- */

struct sim_listener {
    /* The common part (first), its node, its bound address. */
    struct cairn_listener base;
    struct sim_node *node;
    cairn_addr local;
};

int cairn__sim_listen(cairn_loop *loop, const cairn_addr *addr, cairn_listener **ret_listener)
{
    struct sim_node *node = node_of(loop);
    cairn_addr local;
    int r = bind_addr(node, addr, &local);
    if (r < 0)
        return r;
    struct sim_listener *l = cairn_calloc(1, sizeof(*l));
    if (l == NULL)
        return CAIRN_ENOMEM;
    l->node = node;
    r = bind_port(node, &node->sim->listeners, true, &local, l);
    if (r < 0) {
        cairn_free(l);
        return r;
    }
    l->local = local;
    *ret_listener = &l->base;
    return 0;
}

int cairn__sim_listener_local(cairn_listener *lst, cairn_addr *ret_addr)
{
    *ret_addr = ((struct sim_listener *)lst)->local;
    return 0;
}

void cairn__sim_listener_free(cairn_listener *lst)
{
    struct sim_listener *l = (struct sim_listener *)lst;
    unbind_port(&l->node->sim->listeners, &l->local);
    cairn_free(l);
}

/* ---- streams ---- */

struct sim_end {
    /* The common part (first), the world, the node it lives on. */
    struct cairn_stream base;
    cairn_sim *sim;
    struct sim_node *node;
    /* The other end while the connection stands. */
    struct sim_end *peer;
    /* This end's and the other end's addresses. */
    cairn_addr local;
    cairn_addr remote;
    /* Delivery time of the last segment sent towards the peer (FIFO). */
    cairn_time tx_last;
    /* Segments in flight to this end, plus one while the user holds it. */
    int refs;
    /* start_read was called. */
    bool reading;
    /* Broken or refused: writes fail. */
    bool reset;
    /* Segments that arrived before start_read or while paused, in
     * order; the head may be scheduled for replay (head_scheduled). */
    struct sim_msg *rx_head;
    struct sim_msg *rx_tail;
    bool head_scheduled;
    /* A WRITTEN notice is on its way to this end. */
    bool written_owed;
    /* FIN already sent (shutdown). */
    bool fin_sent;
};

static void seg_send(cairn_sim *sim, struct sim_msg *m, uint8_t seg, struct sim_end *dst,
                     const cairn_addr *from, const cairn_addr *to, cairn_time at);

/* The bytes of a data segment left its writer: lower write_queued and send
 * the writer one WRITTEN notice (now, from the loop). */
static void src_release(cairn_sim *sim, struct sim_msg *m)
{
    struct sim_end *src = m->src;
    m->src = NULL;
    src->base.write_queued -= m->len;
    if (!src->base.closing && !src->written_owed && src->base.written_cb != NULL) {
        struct sim_msg *n = cairn__sim_msg_new(sim, 0);
        if (n != NULL) {
            src->written_owed = true;
            seg_send(sim, n, SIM_SEG_WRITTEN, src, &src->remote, &src->local, sim->now);
        }
    }
    cairn__sim_end_unref(src);
}

void cairn__sim_msg_drop(cairn_sim *sim, struct sim_msg *m)
{
    if (m->src != NULL)
        src_release(sim, m);
    if (m->end != NULL)
        cairn__sim_end_unref(m->end);
    m->end = NULL;
    cairn__sim_msg_free(sim, m);
}

void cairn__sim_end_unref(struct sim_end *e)
{
    if (--e->refs == 0)
        cairn_free(e);
}

static struct sim_end *end_new(struct sim_node *node)
{
    struct sim_end *e = cairn_calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->sim = node->sim;
    e->node = node;
    e->refs = 1;
    e->base.loop = &node->base;
    return e;
}

/* Queues segment `seg` from e's side to dst (which gets a reference) at
 * `at`; m must come from cairn__sim_msg_new. */
static void seg_send(cairn_sim *sim, struct sim_msg *m, uint8_t seg, struct sim_end *dst,
                     const cairn_addr *from, const cairn_addr *to, cairn_time at)
{
    m->ev.kind = SIM_EV_SEGMENT;
    m->seg = seg;
    m->end = dst;
    dst->refs++;
    m->from = *from;
    m->to = *to;
    cairn__sim_msg_send(sim, m, at);
}

/* The FIFO delivery time of the next segment from e to its peer. */
static cairn_time fifo_at(struct sim_end *e)
{
    cairn_sim *sim = e->sim;
    cairn_time at = sim->now + cairn__sim_delay(sim, cairn__sim_link(sim, &e->local, &e->remote));
    if (at < e->tx_last)
        at = e->tx_last;
    e->tx_last = at;
    return at;
}

/* Sends RST to e now (a local notification: no link, no partition). */
static void rst_now(struct sim_end *e)
{
    struct sim_msg *m = cairn__sim_msg_new(e->sim, 0);
    if (m != NULL)
        seg_send(e->sim, m, SIM_SEG_RST, e, &e->remote, &e->local, e->sim->now);
}

/* A partition cut the connection: both ends read CAIRN_ECONNRESET. */
static void end_break(struct sim_end *e)
{
    struct sim_end *peer = e->peer;
    e->sim->stats.streams_broken++;
    e->peer = NULL;
    e->reset = true;
    if (!e->base.closing)
        rst_now(e);
    if (peer != NULL) {
        peer->peer = NULL;
        peer->reset = true;
        if (!peer->base.closing)
            rst_now(peer);
    }
}

int cairn__sim_stream_dial(cairn_loop *loop, const cairn_addr *addr, cairn_stream **ret_stream)
{
    struct sim_node *node = node_of(loop);
    cairn_sim *sim = node->sim;
    if (addr->family != node->ip.family)
        return CAIRN_EHOSTUNREACH;
    struct sim_end *e = end_new(node);
    if (e == NULL)
        return CAIRN_ENOMEM;
    struct sim_msg *m = cairn__sim_msg_new(sim, 0);
    if (m == NULL) {
        cairn_free(e);
        return CAIRN_ENOMEM;
    }
    e->local = node->ip;
    e->local.port = cairn__sim_ephemeral_port(node, true);
    e->remote = *addr;
    if (cairn_sim_reachable(sim, &e->local, addr)) {
        cairn_time at = sim->now + cairn__sim_delay(sim, cairn__sim_link(sim, &e->local, addr));
        seg_send(sim, m, SIM_SEG_SYN, e, &e->local, addr, at);
    } else {
        cairn__sim_msg_drop(sim, m); /* lost: the dial will time out */
    }
    *ret_stream = &e->base;
    return 0;
}

/* A SYN reached m->to: accept, or refuse. Reuses m for the answer. */
static void syn_arrived(cairn_sim *sim, struct sim_msg *m)
{
    struct sim_end *client = m->end;
    struct sim_node *node = cairn__sim_node_find(sim, &m->to);
    if (client->base.closing || node == NULL) {
        cairn__sim_msg_drop(sim, m);
        return;
    }
    if (cairn__sim_postpone(sim, node, &m->ev))
        return;
    if (!cairn_sim_reachable(sim, &m->from, &m->to)) {
        cairn__sim_msg_drop(sim, m);
        return;
    }
    struct sim_key k;
    cairn__sim_key_ip_port(&k, &m->to, m->to.port);
    struct sim_listener *l = cairn__sim_map_get(&sim->listeners, &k);
    struct sim_end *server = NULL;
    if (l != NULL && !l->base.closing)
        server = end_new(node);
    cairn_addr from = m->to, to = m->from;
    cairn__sim_end_unref(client);
    m->end = NULL;
    cairn_time at = sim->now + cairn__sim_delay(sim, cairn__sim_link(sim, &from, &to));
    if (server == NULL) {
        sim->stats.streams_refused++;
        seg_send(sim, m, SIM_SEG_REFUSED, client, &from, &to, at);
        return;
    }
    server->local = from;
    server->remote = to;
    server->peer = client;
    client->peer = server;
    server->tx_last = at;
    seg_send(sim, m, SIM_SEG_SYNACK, client, &from, &to, at);
    sim->stats.streams_accepted++;
    cairn__listener_accept(&l->base, &server->base);
}

/* Hands a segment to the reader of e (which is reading). */
static void seg_to_reader(cairn_sim *sim, struct sim_end *e, struct sim_msg *m)
{
    switch (m->seg) {
    case SIM_SEG_DATA:
        sim->stats.stream_bytes += m->len;
        if (sim->trace != NULL)
            sim->trace(CAIRN_SIM_TRACE_STREAM, sim->now, &m->from, &m->to, m->data, m->len,
                       sim->trace_ud);
        cairn__stream_deliver(&e->base, m->data, m->len, 0);
        break;
    case SIM_SEG_FIN:
        cairn__stream_deliver(&e->base, NULL, 0, CAIRN_EOF);
        break;
    default:
        cairn__stream_deliver(&e->base, NULL, 0, CAIRN_ECONNRESET);
        break;
    }
}

/* Schedules the head of e's queue for delivery now (once). */
static void schedule_head(struct sim_end *e)
{
    if (e->rx_head == NULL || e->head_scheduled || !e->reading)
        return;
    e->head_scheduled = true;
    cairn__sim_schedule(e->sim, &e->rx_head->ev, e->sim->now);
}

/* The queued head of e came up: deliver it unless paused again, then the
 * next one (one per event, so segments arriving meanwhile queue behind). */
static void replay_head(cairn_sim *sim, struct sim_end *e)
{
    struct sim_msg *m = e->rx_head;
    e->head_scheduled = false;
    if (!e->reading)
        return; /* stays queued until the resume */
    e->rx_head = m->next;
    if (e->rx_head == NULL)
        e->rx_tail = NULL;
    seg_to_reader(sim, e, m);
    /* m's reference keeps e alive until it is dropped. */
    if (!e->base.closing)
        schedule_head(e);
    cairn__sim_msg_drop(sim, m);
}

void cairn__sim_deliver_segment(cairn_sim *sim, struct sim_msg *m)
{
    if (m->seg == SIM_SEG_SYN) {
        syn_arrived(sim, m);
        return;
    }
    struct sim_end *e = m->end;
    if (e->base.closing) {
        cairn__sim_msg_drop(sim, m);
        return;
    }
    if (cairn__sim_postpone(sim, e->node, &m->ev))
        return;
    if (m == e->rx_head) {
        replay_head(sim, e);
        return;
    }
    switch (m->seg) {
    case SIM_SEG_WRITTEN:
        e->written_owed = false;
        cairn__stream_written(&e->base);
        cairn__sim_msg_drop(sim, m);
        return;
    case SIM_SEG_SYNACK:
    case SIM_SEG_REFUSED: {
        int status = m->seg == SIM_SEG_SYNACK ? 0 : CAIRN_ECONNREFUSED;
        if (status < 0)
            e->reset = true;
        /* m holds a reference, so e outlives a close inside the callback. */
        cairn__stream_connect_done(&e->base, status);
        cairn__sim_msg_drop(sim, m);
        return;
    }
    case SIM_SEG_DATA:
    case SIM_SEG_FIN:
        if (!cairn_sim_reachable(sim, &m->from, &m->to)) {
            end_break(e);
            cairn__sim_msg_drop(sim, m);
            return;
        }
        break;
    default:
        break;
    }
    if (!e->reading || e->rx_head != NULL) {
        m->next = NULL;
        if (e->rx_tail != NULL)
            e->rx_tail->next = m;
        else
            e->rx_head = m;
        e->rx_tail = m;
        return;
    }
    seg_to_reader(sim, e, m);
    cairn__sim_msg_drop(sim, m);
}

int cairn__sim_stream_start_read(cairn_stream *stream)
{
    struct sim_end *e = (struct sim_end *)stream;
    e->reading = true;
    /* Segments that waited run from the loop, one event each, in order. */
    schedule_head(e);
    return 0;
}

int cairn__sim_stream_read_stop(cairn_stream *stream)
{
    ((struct sim_end *)stream)->reading = false;
    return 0;
}

int cairn__sim_stream_shutdown(cairn_stream *stream)
{
    struct sim_end *e = (struct sim_end *)stream;
    if (e->reset)
        return CAIRN_ECONNRESET;
    if (e->peer == NULL || e->fin_sent)
        return 0;
    struct sim_msg *fin = cairn__sim_msg_new(e->sim, 0);
    if (fin == NULL)
        return CAIRN_ENOMEM;
    e->fin_sent = true;
    seg_send(e->sim, fin, SIM_SEG_FIN, e->peer, &e->local, &e->remote, fifo_at(e));
    return 0;
}

int cairn__sim_stream_write(cairn_stream *stream, const uint8_t *data, size_t len)
{
    struct sim_end *e = (struct sim_end *)stream;
    cairn_sim *sim = e->sim;
    if (e->reset)
        return CAIRN_ECONNRESET;
    if (e->peer == NULL)
        return 0; /* the peer closed: the bytes go nowhere */
    if (!cairn_sim_reachable(sim, &e->local, &e->remote)) {
        end_break(e);
        return 0;
    }
    /* Allocate every segment first, so a write is all or nothing. */
    struct sim_msg *head = NULL, **tail = &head;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < sim->stream_chunk ? len - off : sim->stream_chunk;
        struct sim_msg *m = cairn__sim_msg_new(sim, n);
        if (m == NULL) {
            while (head != NULL) {
                struct sim_msg *next = head->next;
                cairn__sim_msg_drop(sim, head);
                head = next;
            }
            return CAIRN_ENOMEM;
        }
        memcpy(m->data, data + off, n);
        *tail = m;
        tail = &m->next;
        off += n;
    }
    while (head != NULL) {
        struct sim_msg *next = head->next;
        head->src = e;
        e->refs++;
        e->base.write_queued += head->len;
        seg_send(sim, head, SIM_SEG_DATA, e->peer, &e->local, &e->remote, fifo_at(e));
        head = next;
    }
    return 0;
}

int cairn__sim_stream_peer(cairn_stream *stream, cairn_addr *ret_addr)
{
    *ret_addr = ((struct sim_end *)stream)->remote;
    return 0;
}

void cairn__sim_stream_free(cairn_stream *stream)
{
    struct sim_end *e = (struct sim_end *)stream;
    cairn_sim *sim = e->sim;
    struct sim_msg *m = e->rx_head;
    /* A head scheduled for replay is dropped when its event runs. */
    if (e->head_scheduled && m != NULL)
        m = m->next;
    e->rx_head = e->rx_tail = NULL;
    while (m != NULL) {
        struct sim_msg *next = m->next;
        cairn__sim_msg_drop(sim, m);
        m = next;
    }
    struct sim_end *peer = e->peer;
    if (peer != NULL) {
        e->peer = NULL;
        peer->peer = NULL;
        struct sim_msg *fin = e->fin_sent ? NULL : cairn__sim_msg_new(sim, 0);
        if (fin != NULL)
            seg_send(sim, fin, SIM_SEG_FIN, peer, &e->local, &e->remote, fifo_at(e));
    }
    cairn__sim_end_unref(e);
}
