/* memberlist's packet (UDP) receive pipeline (Go: net.go ingestPacket,
 * handleCommand and the handlers it dispatches to).
 *
 * The framing layer peels encryption, CRC, compression and compounds and
 * hands us each message; this file dispatches it to the probe machinery
 * (ping, indirect ping, ack, nack: probe.c) or the state machine (alive,
 * suspect, dead: state.c) or the delegate (user). Upstream queues suspect/
 * alive/dead/user messages to a handler goroutine (bounded by
 * HandoffQueueDepth); we are single-threaded on the loop, so every message
 * is handled at once and no queue (and no drop policy) is needed.
 *
 * Bad input is counted (stats.rx_dropped) for every packet, but warned about
 * through a rate limit (ratelog.c).
 */
#include "memberlist/ml_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "wire/mp.h"

/* ---- receiving ---- */

struct rx_ctx {
    cairn_memberlist *ml;
    const cairn_addr *from;
    cairn_time at;
};

static void handle_alive(cairn_memberlist *ml, const cairn_wire_alive *w)
{
    struct ml_alive a = {
        .node = w->node, .incarnation = w->incarnation, .meta = w->meta, .vsn = w->vsn};
    if (cairn_addr_from_ip(w->addr.p, w->addr.len, w->port, &a.addr) < 0)
        return;
    /* Protocol < 2 or a zero port: the receiver's own port (Go does this). */
    if (ml->cfg.protocol_version < 2 || a.addr.port == 0)
        a.addr.port = ml->cfg.bind.port;
    cairn__ml_alive_node(ml, &a, NULL, false);
}

static void on_message(uint8_t type, const uint8_t *body, size_t body_len, void *ud)
{
    struct rx_ctx *c = ud;
    cairn_memberlist *ml = c->ml;
    if (ml->shutdown)
        return;
    if (type == CAIRN_WIRE_USER) {
        if (ml->del.notify_msg)
            ml->del.notify_msg(ml->del.userdata, body, body_len);
        return;
    }
    /* The message decoders want the type byte in front. */
    cairn_buf_reset(&ml->rx);
    if (cairn_buf_append(&ml->rx, &type, 1) < 0 || cairn_buf_append(&ml->rx, body, body_len) < 0) {
        ml->stats.rx_dropped++;
        return;
    }
    cairn_wire_msg m;
    cairn_diag diag = {0};
    cairn__wire_arena_destroy(&ml->arena);
    int rc = cairn__wire_msg_decode(ml->rx.data, ml->rx.len, &ml->arena, &diag, &m);
    if (rc < 0) {
        char from[CAIRN_ADDR_STRLEN];
        ml->stats.rx_dropped++;
        cairn__ml_ratelog(ml, &ml->rl_packet, CAIRN_LOG_WARN, "dropping %s message: %s from=%s",
                          cairn__wire_type_name(type), diag.msg,
                          cairn_addr_format(c->from, true, from, sizeof(from)));
        return;
    }
    switch (m.type) {
    case CAIRN_WIRE_PING:
        cairn__ml_handle_ping(ml, &m.u.ping, c->from);
        break;
    case CAIRN_WIRE_INDIRECT_PING:
        cairn__ml_handle_indirect_ping(ml, &m.u.indirect_ping, c->from);
        break;
    case CAIRN_WIRE_ACK:
        cairn__ml_invoke_ack(ml, &m.u.ack, c->at);
        break;
    case CAIRN_WIRE_NACK:
        cairn__ml_invoke_nack(ml, &m.u.nack);
        break;
    case CAIRN_WIRE_SUSPECT:
        cairn__ml_suspect_node(ml, &m.u.suspect);
        break;
    case CAIRN_WIRE_ALIVE:
        handle_alive(ml, &m.u.alive);
        break;
    case CAIRN_WIRE_DEAD:
        cairn__ml_dead_node(ml, &m.u.dead, NULL);
        break;
    default: {
        char from[CAIRN_ADDR_STRLEN];
        ml->stats.rx_dropped++;
        cairn__ml_ratelog(ml, &ml->rl_packet, CAIRN_LOG_WARN,
                          "unexpected %s message in a packet from=%s", cairn__wire_type_name(type),
                          cairn_addr_format(c->from, true, from, sizeof(from)));
        break;
    }
    }
    cairn__wire_arena_destroy(&ml->arena);
}

/* ---- prefetching a compound's node lookups ---- */

/* The node-map hashes of the names in one compound's state messages. */
struct rx_prefetch {
    const cairn_memberlist *ml;
    size_t n;
    uint64_t h[ML_COMPOUND_MAX_PARTS];
};

/* Packet decode callback of the first pass: finds an alive/suspect/dead
 * message's "Node" and asks for its node-map slot. Reads only. */
static void prefetch_message(uint8_t type, const uint8_t *body, size_t body_len, void *ud)
{
    struct rx_prefetch *pf = ud;
    if ((type != CAIRN_WIRE_ALIVE && type != CAIRN_WIRE_SUSPECT && type != CAIRN_WIRE_DEAD) ||
        pf->n == ML_COMPOUND_MAX_PARTS)
        return;
    cairn_mp_reader r;
    cairn__mp_reader_init(&r, body, body_len);
    uint32_t fields;
    if (cairn__mp_read_map(&r, &fields) < 0)
        return;
    for (uint32_t i = 0; i < fields; i++) {
        cairn_span key, name;
        if (cairn__mp_read_str(&r, &key) < 0)
            return;
        if (!cairn__mp_key_is(key, "Node")) {
            if (cairn__mp_skip(&r) < 0)
                return;
            continue;
        }
        if (cairn__mp_read_str(&r, &name) < 0)
            return;
        uint64_t h = cairn__ml_strmap_hash(name.p, name.len);
        cairn__ml_strmap_prefetch_slot(&pf->ml->node_map, h);
        pf->h[pf->n++] = h;
        return;
    }
}

/* A compound of gossip (up to 255 alive/suspect/dead messages) looks up a
 * node per message, and in a big cluster each lookup misses the cache
 * twice (the map slot, then the node): the simulator's members hold N
 * tables of N nodes, and this was 40 % of its time. A first, read-only
 * pass over the packet asks for every slot, then for every node, so that
 * the misses overlap instead of coming one after the other. Plain
 * compounds only, with or without a CRC (an encrypted or compressed
 * packet would be opened twice). */
static void prefetch_compound(const cairn_memberlist *ml, const uint8_t *data, size_t len)
{
    if (ml->frame.keyring || ml->node_map.nslots == 0)
        return;
    if (len > 5 && data[0] == CAIRN_WIRE_HAS_CRC) { /* a hint: the CRC is checked later */
        data += 5;
        len -= 5;
    }
    if (len < 2 || data[0] != CAIRN_WIRE_COMPOUND || data[1] < 2)
        return;
    struct rx_prefetch pf;
    pf.ml = ml;
    pf.n = 0;
    cairn_packet_stats ps = {0};
    (void)cairn__packet_decode(&ml->frame, data, len, prefetch_message, &pf, &ps, NULL);
    for (size_t i = 0; i < pf.n; i++)
        cairn__ml_strmap_prefetch_value(&ml->node_map, pf.h[i]);
}

void cairn__ml_on_packet(cairn_udp *udp, const cairn_addr *from, const uint8_t *data, size_t len,
                         void *userdata)
{
    cairn_memberlist *ml = userdata;
    (void)udp;
    if (ml->shutdown)
        return;
    ml->stats.rx_packets++;
    ml->stats.rx_bytes += len;
    prefetch_compound(ml, data, len);
    struct rx_ctx c = {ml, from, cairn_loop_now(ml->loop)};
    cairn_packet_stats ps = {0};
    cairn_diag diag = {0};
    if (cairn__packet_decode(&ml->frame, data, len, on_message, &c, &ps, &diag) < 0) {
        char fa[CAIRN_ADDR_STRLEN];
        ml->stats.rx_dropped++;
        ml->stats.rx_decrypt_failed += ps.decrypt;
        cairn__ml_ratelog(ml, &ml->rl_packet, CAIRN_LOG_WARN,
                          "dropped (part of) a packet: %s from=%s", diag.msg,
                          cairn_addr_format(from, true, fa, sizeof(fa)));
    }
}
