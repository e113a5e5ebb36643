/* Failure detection and periodic work (Go: state.go probe, probeNode,
 * gossip, pushPull, the ack handlers; net.go handlePing,
 * handleIndirectPing).
 *
 * One probe per ProbeInterval: ping the next node of the shuffled list; if
 * no ack comes within ProbeTimeout, ask IndirectChecks other alive members
 * to ping it for us (they answer with our sequence number, or with a nack
 * when they heard nothing), and, toward peers that speak protocol 3 or
 * more, try a TCP ping in parallel. If nothing has answered when the
 * (health-scaled) probe interval is over, the node becomes suspect.
 * Lifeguard's health score moves with the outcome: down on success, up by
 * the number of missing nacks on failure (a node that hears no nacks is
 * probably the slow one).
 *
 * Upstream runs each probe as a blocking goroutine driven by a ticker that
 * drops ticks while it blocks; here the probe is a small state machine on
 * two timer phases, and a tick that finds a probe still running is skipped,
 * which gives the same cadence.
 */
#include "memberlist/ml_internal.h"

#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "memberlist/util.h"

/* An outstanding relay of someone else's indirect probe. */
struct ml_ack_handler {
    struct ml_ack_handler *next;
    cairn_memberlist *ml;
    /* The sequence number of our ping to the target. */
    uint32_t seq;
    /* The requester's sequence number and where to answer. */
    uint32_t req_seq;
    cairn_addr req_addr;
    /* Send a nack when ProbeTimeout passes without an ack. */
    bool nack;
    cairn_timer *timer;
};

/* ---- helpers ---- */

static void fill_ping(cairn_memberlist *ml, cairn_wire_ping *p, uint32_t seq, const char *target)
{
    *p = (cairn_wire_ping){
        .node = cairn__span_str(target),
        .seq_no = seq,
        .source_addr = cairn__ml_ip_span(&ml->advertise),
        .source_node = cairn__span_str(ml->name),
        .source_port = ml->advertise.port,
    };
}

/* Sends the message just encoded into ml->msg (rc is the encoder's
 * result) through cairn__ml_send_msg, piggybacking broadcasts. */
static int send_encoded(cairn_memberlist *ml, const cairn_addr *to, int rc)
{
    if (rc == 0)
        rc = cairn__ml_send_msg(ml, to, ml->msg.data, ml->msg.len);
    cairn_buf_reset(&ml->msg);
    return rc;
}

static cairn_buf *msg_buf(cairn_memberlist *ml)
{
    cairn_buf_reset(&ml->msg);
    return &ml->msg;
}

/* Encodes m with the wire encoder enc and sends it (type-safe). */
#define ML_SEND_MSG(ml, to, enc, m) send_encoded((ml), (to), enc((m), msg_buf(ml), NULL))

/* ---- answering pings ---- */

void cairn__ml_handle_ping(cairn_memberlist *ml, const cairn_wire_ping *p, const cairn_addr *from)
{
    if (p->node.len && !cairn__span_eq(p->node, cairn__span_str(ml->name))) {
        cairn__ml_ratelog(ml, &ml->rl_state, CAIRN_LOG_WARN, "got ping for unexpected node '%.*s'",
                          (int)p->node.len, (const char *)p->node.p);
        return;
    }
    cairn_buf payload;
    cairn_buf_init(&payload, ML_MAX_MESSAGE);
    cairn_wire_ack ack = {.seq_no = p->seq_no};
    if (ml->del.ack_payload) {
        ml->del.ack_payload(ml->del.userdata, &payload);
        ack.payload = (cairn_span){payload.data ? payload.data : (const uint8_t *)"", payload.len};
    }
    cairn_addr to = *from;
    if (p->source_addr.len && p->source_port)
        (void)cairn_addr_from_ip(p->source_addr.p, p->source_addr.len, p->source_port, &to);
    int rc = ML_SEND_MSG(ml, &to, cairn__wire_ack_encode, &ack);
    if (rc < 0)
        cairn__ml_ratelog(ml, &ml->rl_send, CAIRN_LOG_ERROR, "failed to send ack: %s",
                          cairn_strerror(rc));
    cairn_buf_destroy(&payload);
}

/* ---- relaying indirect pings ---- */

static void free_handler(cairn_memberlist *ml, struct ml_ack_handler *h)
{
    for (struct ml_ack_handler **pp = &ml->acks; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    cairn_timer_delete(h->timer);
    cairn_free(h);
}

static void on_relay_timeout(cairn_timer *t, void *ud)
{
    struct ml_ack_handler *h = ud;
    cairn_memberlist *ml = h->ml;
    (void)t;
    if (h->nack) {
        cairn_wire_nack nack = {.seq_no = h->req_seq};
        (void)ML_SEND_MSG(ml, &h->req_addr, cairn__wire_nack_encode, &nack);
    }
    free_handler(ml, h);
}

void cairn__ml_handle_indirect_ping(cairn_memberlist *ml, const cairn_wire_indirect_ping *ind,
                                    const cairn_addr *from)
{
    uint16_t port = ind->port;
    if (ml->cfg.protocol_version < 2 || port == 0)
        port = ml->cfg.bind.port;
    cairn_addr target;
    if (cairn_addr_from_ip(ind->target.p, ind->target.len, port, &target) < 0)
        return;
    struct ml_ack_handler *h = cairn_calloc(1, sizeof(*h));
    if (!h)
        return;
    h->ml = ml;
    h->seq = ++ml->seq_no;
    h->req_seq = ind->seq_no;
    h->nack = ind->nack;
    h->req_addr = *from;
    if (ind->source_addr.len && ind->source_port)
        (void)cairn_addr_from_ip(ind->source_addr.p, ind->source_addr.len, ind->source_port,
                                 &h->req_addr);
    if (cairn_timer_new(ml->loop, on_relay_timeout, h, &h->timer) < 0) {
        cairn_free(h);
        return;
    }
    h->next = ml->acks;
    ml->acks = h;
    cairn_timer_start(h->timer, ml->cfg.probe_timeout);
    cairn_wire_ping ping = {
        .node = ind->node,
        .seq_no = h->seq,
        .source_addr = cairn__ml_ip_span(&ml->advertise),
        .source_node = cairn__span_str(ml->name),
        .source_port = ml->advertise.port,
    };
    int rc = ML_SEND_MSG(ml, &target, cairn__wire_ping_encode, &ping);
    if (rc < 0)
        cairn__ml_ratelog(ml, &ml->rl_send, CAIRN_LOG_ERROR, "failed to send indirect ping: %s",
                          cairn_strerror(rc));
}

/* ---- the probe ---- */

static void probe_finish(cairn_memberlist *ml, bool success)
{
    struct ml_probe *pr = &ml->probe;
    cairn_timer_stop(pr->timer);
    pr->active = false;
    if (success) {
        cairn__ml_awareness_apply(&ml->awareness, -1);
        return;
    }
    int delta = 1;
    if (pr->expected_nacks > 0)
        delta = pr->nacks < pr->expected_nacks ? pr->expected_nacks - pr->nacks : 0;
    cairn__ml_awareness_apply(&ml->awareness, delta);
    ml->stats.probe_failures++;
    cairn_logf(&ml->log, CAIRN_LOG_INFO, ML_LOG, "suspect %s has failed, no acks received",
               pr->target);
    cairn_wire_suspect s = {
        .from = cairn__span_str(ml->name),
        .incarnation = pr->incarnation,
        .node = cairn__span_str(pr->target),
    };
    cairn__ml_suspect_node(ml, &s);
}

void cairn__ml_invoke_ack(cairn_memberlist *ml, const cairn_wire_ack *ack, cairn_time at)
{
    struct ml_probe *pr = &ml->probe;
    if (pr->active && ack->seq_no == pr->seq) {
        if (!pr->indirect && ml->del.notify_ping_complete) {
            struct ml_node *n = cairn__ml_find(ml, (const uint8_t *)pr->target, strlen(pr->target));
            if (n) {
                cairn_ml_node v;
                cairn__ml_node_view(n, &v);
                ml->del.notify_ping_complete(ml->del.userdata, &v, at - pr->sent, ack->payload.p,
                                             ack->payload.len);
            }
        }
        probe_finish(ml, true);
        return;
    }
    for (struct ml_ack_handler *h = ml->acks; h; h = h->next) {
        if (h->seq != ack->seq_no)
            continue;
        cairn_wire_ack fwd = {.seq_no = h->req_seq};
        cairn_addr to = h->req_addr;
        free_handler(ml, h);
        int rc = ML_SEND_MSG(ml, &to, cairn__wire_ack_encode, &fwd);
        if (rc < 0)
            cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "failed to forward ack: %s",
                       cairn_strerror(rc));
        return;
    }
}

void cairn__ml_invoke_nack(cairn_memberlist *ml, const cairn_wire_nack *nack)
{
    struct ml_probe *pr = &ml->probe;
    if (pr->active && nack->seq_no == pr->seq)
        pr->nacks++;
}

/* The TCP fallback ping's outcome (ml_tcp_ping_done). */
static void on_tcp_ping(cairn_memberlist *ml, uint32_t seq, bool contacted)
{
    struct ml_probe *pr = &ml->probe;
    if (pr->active && pr->seq == seq && contacted)
        pr->tcp_contacted = true;
}

static bool indirect_filter(const cairn_memberlist *ml, const struct ml_node *n, const void *ctx)
{
    const char *target = ctx;
    return strcmp(n->name, ml->name) == 0 || strcmp(n->name, target) == 0 ||
           n->state != CAIRN_ML_ALIVE;
}

/* ProbeTimeout passed without a direct ack: indirect pings and TCP. */
static void probe_indirect(cairn_memberlist *ml)
{
    struct ml_probe *pr = &ml->probe;
    struct ml_node *target = cairn__ml_find(ml, (const uint8_t *)pr->target, strlen(pr->target));
    pr->indirect = true;
    if (target) {
        struct ml_node *peers[16];
        size_t k = (size_t)ml->cfg.indirect_checks;
        if (k > sizeof(peers) / sizeof(peers[0]))
            k = sizeof(peers) / sizeof(peers[0]);
        size_t got = cairn__ml_k_random_nodes(ml, k, indirect_filter, pr->target, peers);
        cairn_wire_indirect_ping ind = {
            .node = cairn__span_str(pr->target),
            .port = target->addr.port,
            .seq_no = pr->seq,
            .source_addr = cairn__ml_ip_span(&ml->advertise),
            .source_node = cairn__span_str(ml->name),
            .source_port = ml->advertise.port,
            .target = cairn__ml_ip_span(&target->addr),
        };
        cairn_addr taddr = target->addr;
        uint8_t pmax = target->vsn[ML_PMAX];
        for (size_t i = 0; i < got; i++) {
            ind.nack = peers[i]->vsn[ML_PMAX] >= 4;
            if (ind.nack)
                pr->expected_nacks++;
            int rc = ML_SEND_MSG(ml, &peers[i]->addr, cairn__wire_indirect_ping_encode, &ind);
            if (rc < 0)
                cairn__ml_ratelog(ml, &ml->rl_send, CAIRN_LOG_ERROR,
                                  "failed to send indirect ping: %s", cairn_strerror(rc));
        }
        if (!ml->cfg.disable_tcp_pings && pmax >= 3) {
            cairn_wire_ping ping;
            fill_ping(ml, &ping, pr->seq, pr->target);
            (void)cairn__ml_tcp_ping_start(ml, &taddr, &ping, pr->deadline, on_tcp_ping);
        }
    }
    cairn_timer_start(pr->timer, pr->deadline - cairn_loop_now(ml->loop));
}

static void on_probe_timer(cairn_timer *t, void *ud)
{
    cairn_memberlist *ml = ud;
    struct ml_probe *pr = &ml->probe;
    (void)t;
    if (!pr->active)
        return;
    if (!pr->indirect) {
        probe_indirect(ml);
        return;
    }
    if (pr->tcp_contacted) {
        cairn_logf(&ml->log, CAIRN_LOG_WARN, ML_LOG,
                   "was able to connect to %s but other probes failed, network may be "
                   "misconfigured",
                   pr->target);
        probe_finish(ml, true);
        return;
    }
    probe_finish(ml, false);
}

static void probe_node(cairn_memberlist *ml, struct ml_node *node)
{
    struct ml_probe *pr = &ml->probe;
    if (!pr->timer && cairn_timer_new(ml->loop, on_probe_timer, ml, &pr->timer) < 0)
        return;
    cairn_time interval = cairn__ml_awareness_scale(&ml->awareness, ml->cfg.probe_interval);
    pr->seq = ++ml->seq_no;
    snprintf(pr->target, sizeof(pr->target), "%s", node->name);
    pr->incarnation = node->incarnation;
    pr->sent = cairn_loop_now(ml->loop);
    pr->deadline = pr->sent + interval;
    pr->expected_nacks = pr->nacks = 0;
    pr->tcp_contacted = false;
    pr->indirect = false;
    ml->stats.probes++;

    cairn_wire_ping ping;
    fill_ping(ml, &ping, pr->seq, node->name);
    int rc;
    if (node->state == CAIRN_ML_ALIVE) {
        rc = ML_SEND_MSG(ml, &node->addr, cairn__wire_ping_encode, &ping);
    } else {
        /* A suspect node gets the accusation with the ping, to refute. */
        struct ml_parts p;
        cairn__ml_parts_init(&p);
        cairn_buf b;
        cairn_buf_init(&b, ML_MAX_MESSAGE);
        cairn_wire_suspect s = {.from = cairn__span_str(ml->name),
                                .incarnation = node->incarnation,
                                .node = cairn__span_str(node->name)};
        rc = cairn__wire_ping_encode(&ping, &b, NULL);
        size_t ping_len = b.len;
        if (rc == 0)
            rc = cairn__wire_suspect_encode(&s, &b, NULL);
        if (rc == 0)
            rc = cairn__ml_parts_add(&p, b.data, ping_len);
        if (rc == 0)
            rc = cairn__ml_parts_add(&p, b.data + ping_len, b.len - ping_len);
        cairn_buf c;
        cairn_buf_init(&c, ML_MAX_MESSAGE);
        if (rc == 0)
            rc = cairn__ml_make_compound(&p, &c);
        if (rc == 0)
            rc = cairn__ml_send_packet(ml, &node->addr, node, c.data, c.len);
        cairn_buf_destroy(&c);
        cairn_buf_destroy(&b);
        cairn__ml_parts_destroy(&p);
    }
    if (rc < 0) {
        cairn__ml_ratelog(ml, &ml->rl_send, CAIRN_LOG_ERROR, "failed to send ping: %s",
                          cairn_strerror(rc));
        return; /* UDP send errors are local: no verdict about the peer */
    }
    pr->active = true;
    cairn_timer_start(pr->timer, ml->cfg.probe_timeout);
}

void cairn__ml_probe_tick(cairn_timer *t, void *ud)
{
    cairn_memberlist *ml = ud;
    cairn_timer_start(t, ml->cfg.probe_interval);
    if (ml->probe.active || ml->shutdown)
        return;
    /* Go: probe(). Walk the shuffled list, at most len(nodes) checks. */
    size_t checks = 0;
    while (checks < ml->n_nodes) {
        if (ml->probe_index >= ml->n_nodes) {
            cairn__ml_reset_nodes(ml);
            ml->probe_index = 0;
            checks++;
            continue;
        }
        struct ml_node *n = ml->nodes[ml->probe_index++];
        if (strcmp(n->name, ml->name) == 0 || n->state == CAIRN_ML_DEAD ||
            n->state == CAIRN_ML_LEFT) {
            checks++;
            continue;
        }
        probe_node(ml, n);
        return;
    }
}

void cairn__ml_probe_cancel_all(cairn_memberlist *ml)
{
    while (ml->acks)
        free_handler(ml, ml->acks);
    cairn_timer_delete(ml->probe.timer);
    ml->probe.timer = NULL;
    ml->probe.active = false;
}

/* ---- gossip ---- */

static bool gossip_filter(const cairn_memberlist *ml, const struct ml_node *n, const void *ctx)
{
    (void)ctx;
    if (strcmp(n->name, ml->name) == 0)
        return true;
    switch (n->state) {
    case CAIRN_ML_ALIVE:
    case CAIRN_ML_SUSPECT:
        return false;
    case CAIRN_ML_DEAD:
        return cairn_loop_now(ml->loop) - n->state_change > ml->cfg.gossip_to_the_dead_time;
    default:
        return true;
    }
}

void cairn__ml_gossip_tick(cairn_timer *t, void *ud)
{
    cairn_memberlist *ml = ud;
    cairn_timer_start(t, ml->cfg.gossip_interval);
    ml->gossip_last = cairn_loop_now(ml->loop);
    if (ml->shutdown)
        return;
    /* Nothing can be queued: no draw of random nodes, whose node blocks
     * are cold cache lines (in a simulated world of 10,000 members three
     * draws per tick were half the run time with every queue empty). With
     * a delegate, only its get_broadcasts can tell, so the tick goes on. */
    if (ml->del.get_broadcasts == NULL && cairn__bcast_queue_len(ml->broadcasts) == 0)
        return;
    struct ml_node *targets[64];
    size_t k = (size_t)ml->cfg.gossip_nodes;
    if (k > sizeof(targets) / sizeof(targets[0]))
        k = sizeof(targets) / sizeof(targets[0]);
    size_t got = cairn__ml_k_random_nodes(ml, k, gossip_filter, NULL, targets);
    int avail = ml->cfg.udp_buffer_size - ML_COMPOUND_HEADER_OVERHEAD -
                (cairn__frame_encrypting(&ml->frame) ? ML_ENCRYPT_OVERHEAD : 0);
    uint64_t pushes = ml->gossip_pushes;
    for (size_t i = 0; i < got; i++) {
        struct ml_parts p;
        cairn__ml_parts_init(&p);
        if (cairn__ml_get_broadcasts(ml, ML_COMPOUND_OVERHEAD, avail, &p) == 0) {
            cairn__ml_parts_destroy(&p);
            /* Nothing queued (or nothing that fits a packet, which no
             * later tick would send either): sleep until a push. */
            if (i == 0 && ml->gossip_on_demand && pushes == ml->gossip_pushes) {
                cairn_timer_stop(t);
                ml->gossip_idle = true;
            }
            return;
        }
        int rc;
        if (p.n == 1) {
            rc = cairn__ml_send_packet(ml, &targets[i]->addr, targets[i], p.data.data, p.len[0]);
        } else {
            cairn_buf c;
            cairn_buf_init(&c, ML_MAX_MESSAGE);
            rc = cairn__ml_make_compound(&p, &c);
            if (rc == 0)
                rc = cairn__ml_send_packet(ml, &targets[i]->addr, targets[i], c.data, c.len);
            cairn_buf_destroy(&c);
        }
        if (rc < 0)
            cairn__ml_ratelog(ml, &ml->rl_send, CAIRN_LOG_ERROR, "failed to send gossip to %s: %s",
                              targets[i]->name, cairn_strerror(rc));
        cairn__ml_parts_destroy(&p);
    }
}

/* ---- push/pull ---- */

static bool pushpull_filter(const cairn_memberlist *ml, const struct ml_node *n, const void *ctx)
{
    (void)ctx;
    return strcmp(n->name, ml->name) == 0 || n->state != CAIRN_ML_ALIVE;
}

void cairn__ml_pushpull_tick(cairn_timer *t, void *ud)
{
    cairn_memberlist *ml = ud;
    cairn_timer_start(
        t, cairn__ml_pushpull_scale(ml->cfg.push_pull_interval, cairn__ml_estimate_nodes(ml)));
    if (ml->shutdown)
        return;
    struct ml_node *peer;
    if (cairn__ml_k_random_nodes(ml, 1, pushpull_filter, NULL, &peer) == 0)
        return;
    int rc = cairn__ml_pushpull_start(ml, &peer->addr, false, NULL, NULL);
    if (rc < 0)
        cairn_logf(&ml->log, CAIRN_LOG_ERROR, ML_LOG, "push/pull with %s failed: %s", peer->name,
                   cairn_strerror(rc));
}
