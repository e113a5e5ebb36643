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

void cairn__ml_on_packet(cairn_udp *udp, const cairn_addr *from, const uint8_t *data, size_t len,
                         void *userdata)
{
    cairn_memberlist *ml = userdata;
    (void)udp;
    if (ml->shutdown)
        return;
    ml->stats.rx_packets++;
    ml->stats.rx_bytes += len;
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
