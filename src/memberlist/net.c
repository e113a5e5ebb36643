/* memberlist's packet (UDP) send pipeline (Go: net.go sendMsg,
 * rawSendMsgPacket, getBroadcasts in broadcast.go).
 *
 * Sending: a message bound for one peer (ping, ack, nack, indirect ping)
 * gets as many queued broadcasts appended as fit the UDP budget, becoming a
 * compound; memberlist's own queue goes first, then the delegate's (serf's)
 * with a user type byte in front. The framing layer then compresses (only
 * if smaller), adds a CRC toward peers speaking protocol 5 and encrypts.
 * The CRC quirk of 0.2.2 is kept on purpose: only gossip, the probe's
 * ping+suspect compound and best-effort user messages name the peer node
 * and so carry a CRC; pings, acks and their piggyback compounds do not.
 *
 * Receiving: the framing layer peels encryption, CRC, compression and
 * compounds and hands us each message. Upstream queues suspect/alive/dead/
 * user messages to a handler goroutine (bounded by HandoffQueueDepth); we
 * are single-threaded on the loop, so every message is handled at once and
 * no queue (and no drop policy) is needed. *
 * Bad input is counted (stats.rx_dropped) for every packet, but warned about
 * through a rate limit (ratelog.c).
 */
#include "memberlist/ml_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

/* ---- parts and compounds ---- */

void cairn__ml_parts_init(struct ml_parts *p)
{
    cairn_buf_init(&p->data, ML_MAX_MESSAGE);
    p->n = 0;
}

void cairn__ml_parts_destroy(struct ml_parts *p)
{
    cairn_buf_destroy(&p->data);
    p->n = 0;
}

int cairn__ml_parts_add(struct ml_parts *p, const uint8_t *msg, size_t len)
{
    if (p->n >= ML_COMPOUND_MAX_PARTS || len > UINT16_MAX)
        return CAIRN_ELIMIT;
    size_t off = p->data.len;
    int rc = cairn_buf_append(&p->data, msg, len);
    if (rc < 0)
        return rc;
    p->off[p->n] = off;
    p->len[p->n] = len;
    p->n++;
    return 0;
}

int cairn__ml_make_compound(const struct ml_parts *p, cairn_buf *out)
{
    uint8_t hdr[2 + 2 * ML_COMPOUND_MAX_PARTS];
    size_t h = 0;
    hdr[h++] = CAIRN_WIRE_COMPOUND;
    hdr[h++] = (uint8_t)p->n;
    for (size_t i = 0; i < p->n; i++) {
        hdr[h++] = (uint8_t)(p->len[i] >> 8);
        hdr[h++] = (uint8_t)p->len[i];
    }
    int rc = cairn_buf_append(out, hdr, h);
    if (rc == 0)
        rc = cairn_buf_append(out, p->data.data, p->data.len);
    return rc;
}

/* ---- broadcasts for a packet ---- */

static void emit_own(const uint8_t *msg, size_t len, void *ud)
{
    struct ml_parts *p = ud;
    (void)cairn__ml_parts_add(p, msg, len); /* a failed part is simply not sent */
}

struct user_emit {
    struct ml_parts *parts;
};

static void emit_user(const uint8_t *msg, size_t len, void *ud)
{
    struct ml_parts *p = ((struct user_emit *)ud)->parts;
    if (p->n >= ML_COMPOUND_MAX_PARTS || len + 1 > UINT16_MAX)
        return;
    uint8_t type = CAIRN_WIRE_USER;
    size_t off = p->data.len;
    if (cairn_buf_append(&p->data, &type, 1) < 0 || cairn_buf_append(&p->data, msg, len) < 0) {
        p->data.len = off;
        return;
    }
    p->off[p->n] = off;
    p->len[p->n] = len + 1;
    p->n++;
}

size_t cairn__ml_get_broadcasts(cairn_memberlist *ml, int overhead, int limit, struct ml_parts *p)
{
    size_t before = p->n;
    cairn__bcast_queue_get(ml->broadcasts, overhead, limit, cairn__ml_estimate_nodes(ml), emit_own,
                           p);
    if (ml->del.get_broadcasts) {
        long used = 0;
        for (size_t i = before; i < p->n; i++)
            used += (long)p->len[i] + overhead;
        long avail = limit - used;
        if (avail > overhead + ML_USER_MSG_OVERHEAD) {
            struct user_emit ue = {p};
            ml->del.get_broadcasts(ml->del.userdata, overhead + ML_USER_MSG_OVERHEAD, (int)avail,
                                   emit_user, &ue);
        }
    }
    return p->n - before;
}

/* ---- sending ---- */

int cairn__ml_send_packet(cairn_memberlist *ml, const cairn_addr *to, const struct ml_node *node,
                          const uint8_t *msg, size_t len)
{
    bool crc = node && node->vsn[ML_PMAX] >= 5;
    cairn_buf_reset(&ml->tx);
    int rc = cairn__packet_encode(&ml->frame, crc, msg, len, &ml->tx);
    if (rc < 0) {
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "failed to frame packet: %s",
                   cairn_strerror(rc));
        return rc;
    }
    if (!ml->udp) {
        if (!ml->tap)
            return CAIRN_ENOTCONN;
        ml->tap(ml->tap_userdata, to, ml->tx.data, ml->tx.len);
        rc = 0;
    } else {
        rc = cairn_udp_send(ml->udp, to, ml->tx.data, ml->tx.len);
    }
    if (rc == 0) {
        ml->stats.tx_packets++;
        ml->stats.tx_bytes += ml->tx.len;
    }
    return rc;
}

/* Bytes of an encryption layer on what we send. */
static int encrypt_overhead(const cairn_memberlist *ml)
{
    return cairn__frame_encrypting(&ml->frame) ? ML_ENCRYPT_OVERHEAD : 0;
}

int cairn__ml_send_msg(cairn_memberlist *ml, const cairn_addr *to, const uint8_t *msg, size_t len)
{
    int avail =
        ml->cfg.udp_buffer_size - (int)len - ML_COMPOUND_HEADER_OVERHEAD - encrypt_overhead(ml);
    struct ml_parts p;
    cairn__ml_parts_init(&p);
    int rc = cairn__ml_parts_add(&p, msg, len);
    if (rc == 0 && avail > 0)
        cairn__ml_get_broadcasts(ml, ML_COMPOUND_OVERHEAD, avail, &p);
    if (rc < 0 || p.n <= 1) {
        cairn__ml_parts_destroy(&p);
        return cairn__ml_send_packet(ml, to, NULL, msg, len);
    }
    cairn_buf c;
    cairn_buf_init(&c, ML_MAX_MESSAGE);
    rc = cairn__ml_make_compound(&p, &c);
    if (rc == 0)
        rc = cairn__ml_send_packet(ml, to, NULL, c.data, c.len);
    cairn_buf_destroy(&c);
    cairn__ml_parts_destroy(&p);
    return rc;
}
