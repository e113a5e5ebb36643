/* libFuzzer target for memberlist's inbound packet handling: the framing
 * layer, every message decoder and the state machine behind them
 * (alive/suspect/dead rules, refutation, suspicion timers, ping/ack/nack
 * and indirect-ping relays), on the manual clock without sockets.
 *
 * Input: a sequence of records [advance u8][len u16 BE][len bytes]: the
 * clock moves advance * 100 ms (timers fire: probes, gossip, suspicion
 * timeouts, relay nacks; what we send goes to a discarding tap), then the
 * bytes arrive as one datagram from 10.0.0.2:7946. A fresh memberlist per
 * input keeps runs independent. Invariants: no crash, no leak, the node
 * table stays within its cap and our own node stays alive. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/memberlist.h"
#include "memberlist/ml_internal.h"

static size_t tapped;

static void tap(void *ud, const cairn_addr *to, const uint8_t *pkt, size_t len)
{
    (void)ud;
    (void)to;
    tapped += len ? pkt[len - 1] : 0;
}

static void touch(void *ud, const cairn_ml_node *n)
{
    (void)ud;
    tapped += strlen(n->name) + n->meta_len + (n->meta_len ? n->meta[n->meta_len - 1] : 0);
}

static void touch_msg(void *ud, const uint8_t *msg, size_t len)
{
    (void)ud;
    tapped += len ? msg[len - 1] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_loop *loop;
    if (cairn_loop_new_manual(CAIRN_SEC, &loop) < 0)
        return 0;
    cairn_memberlist_config c;
    cairn_memberlist_config_lan(&c);
    c.name = "me";
    c.seed = 1;
    c.max_nodes = 64;
    c.max_broadcasts = 64;
    (void)cairn_addr_parse("10.0.0.1:7946", 0, &c.advertise);
    cairn_memberlist_delegate d = {.notify_join = touch,
                                   .notify_leave = touch,
                                   .notify_update = touch,
                                   .notify_msg = touch_msg};
    cairn_memberlist *ml;
    if (cairn__ml_create(loop, &c, &d, NULL, NULL, false, &ml) < 0) {
        cairn_loop_delete(loop);
        return 0;
    }
    ml->tap = tap;
    cairn_addr from;
    (void)cairn_addr_parse("10.0.0.2:7946", 0, &from);
    size_t off = 0;
    while (off + 3 <= size) {
        cairn_loop_manual_advance(loop, (cairn_time)data[off] * 100 * CAIRN_MSEC);
        size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        cairn__ml_on_packet(NULL, &from, data + off, len, ml);
        off += len;
    }
    cairn_loop_manual_advance(loop, 60 * CAIRN_SEC);
    cairn_ml_node me;
    cairn_memberlist_local_node(ml, &me);
    if (me.state != CAIRN_ML_ALIVE || cairn_memberlist_num_nodes(ml) > c.max_nodes)
        abort();
    cairn_memberlist_delete(ml);
    cairn_loop_delete(loop);
    return 0;
}
