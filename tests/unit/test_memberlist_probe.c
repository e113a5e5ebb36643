/* Unit tests for memberlist's failure detector on the manual clock, with
 * packets captured from a tap and answers injected as datagrams: the probe
 * (direct ack with RTT, indirect pings with Nack toward PMax >= 4 relays,
 * suspicion when nothing answers), Lifeguard awareness (successful probe
 * -1, failed probe + missing nacks, refute +1, probe interval scaled by the
 * score), the relay role (ping the target for a requester, forward its ack
 * with the requester's sequence number or send a nack after ProbeTimeout),
 * and answering pings (ack to SourceAddr:SourcePort, pings for another name
 * dropped). Spec serf-wire.md §2.8 "Probe loop" and "Awareness". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/memberlist.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "memberlist/ml_internal.h"

/* One captured message (a packet may hold several). */
struct sent {
    cairn_addr to;
    uint8_t type;
    uint32_t seq;
    bool nack_flag;
    char node[32];
};

struct fx {
    cairn_loop *loop;
    cairn_memberlist *ml;
    struct sent sent[64];
    int nsent;
    const cairn_addr *cur_to;
    int ping_completes;
    cairn_time last_rtt;
    size_t last_payload;
};

static void on_part(uint8_t type, const uint8_t *body, size_t len, void *ud)
{
    struct fx *f = ud;
    uint8_t buf[2048];
    assert_true(len + 1 <= sizeof(buf));
    buf[0] = type;
    memcpy(buf + 1, body, len);
    cairn_wire_arena arena;
    cairn__wire_arena_init(&arena, 1 << 20);
    cairn_wire_msg m;
    assert_int_equal(cairn__wire_msg_decode(buf, len + 1, &arena, NULL, &m), 0);
    assert_true(f->nsent < 64);
    struct sent *s = &f->sent[f->nsent++];
    memset(s, 0, sizeof(*s));
    s->to = *f->cur_to;
    s->type = type;
    cairn_span node = {0};
    switch (type) {
    case CAIRN_WIRE_PING:
        s->seq = m.u.ping.seq_no;
        node = m.u.ping.node;
        break;
    case CAIRN_WIRE_INDIRECT_PING:
        s->seq = m.u.indirect_ping.seq_no;
        s->nack_flag = m.u.indirect_ping.nack;
        node = m.u.indirect_ping.node;
        break;
    case CAIRN_WIRE_ACK:
        s->seq = m.u.ack.seq_no;
        break;
    case CAIRN_WIRE_NACK:
        s->seq = m.u.nack.seq_no;
        break;
    case CAIRN_WIRE_SUSPECT:
        node = m.u.suspect.node;
        break;
    default:
        break;
    }
    snprintf(s->node, sizeof(s->node), "%.*s", (int)node.len, (const char *)node.p);
    cairn__wire_arena_destroy(&arena);
}

static void tap(void *ud, const cairn_addr *to, const uint8_t *pkt, size_t len)
{
    struct fx *f = ud;
    cairn_packet_stats st = {0};
    f->cur_to = to;
    assert_int_equal(cairn__packet_decode(&f->ml->frame, pkt, len, on_part, f, &st, NULL), 0);
}

static void on_ping_complete(void *ud, const cairn_ml_node *n, cairn_time rtt,
                             const uint8_t *payload, size_t len)
{
    struct fx *f = ud;
    (void)n;
    (void)payload;
    f->ping_completes++;
    f->last_rtt = rtt;
    f->last_payload = len;
}

static void ack_payload(void *ud, cairn_buf *out)
{
    (void)ud;
    cairn_buf_append(out, "coord", 5);
}

static const uint8_t VSN5[6] = {1, 5, 2, 2, 5, 5};
static const uint8_t VSN3[6] = {1, 3, 2, 2, 5, 5};

static void add_node(struct fx *f, const char *name, const char *ip, const uint8_t *vsn)
{
    struct ml_alive a = {.node = cairn__span_str(name), .incarnation = 1, .vsn = {vsn, 6}};
    assert_int_equal(cairn_addr_parse(ip, 7946, &a.addr), 0);
    cairn__ml_alive_node(f->ml, &a, NULL, false);
}

static struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(cairn_loop_new_manual(CAIRN_SEC, &f->loop), 0);
    cairn_memberlist_config c;
    cairn_memberlist_config_lan(&c);
    c.name = "me";
    c.seed = 3;
    c.enable_compression = false;
    c.gossip_interval = 0;
    c.push_pull_interval = 0;
    c.disable_tcp_pings = true; /* the manual loop has no streams */
    assert_int_equal(cairn_addr_parse("10.0.0.1:7946", 0, &c.advertise), 0);
    cairn_memberlist_delegate d = {
        .notify_ping_complete = on_ping_complete, .ack_payload = ack_payload, .userdata = f};
    assert_int_equal(cairn__ml_create(f->loop, &c, &d, NULL, NULL, false, &f->ml), 0);
    f->ml->tap = tap;
    f->ml->tap_userdata = f;
    cairn_timer_stop(f->ml->probe_timer);
    add_node(f, "a", "10.0.0.2", VSN5);
    add_node(f, "b", "10.0.0.3", VSN5);
    add_node(f, "c", "10.0.0.4", VSN5);
    add_node(f, "d", "10.0.0.5", VSN3);          /* no nacks from this one */
    cairn__bcast_queue_reset(f->ml->broadcasts); /* no piggyback noise */
    return f;
}

static void fx_free(struct fx *f)
{
    cairn_memberlist_delete(f->ml);
    cairn_loop_delete(f->loop);
    free(f);
}

/* Injects one message (already encoded in b) as a datagram. */
static void inject(struct fx *f, cairn_buf *b, const char *from_ip)
{
    cairn_addr from;
    assert_int_equal(cairn_addr_parse(from_ip, 7946, &from), 0);
    cairn__ml_on_packet(NULL, &from, b->data, b->len, f->ml);
    cairn_buf_destroy(b);
}

static void inject_ack(struct fx *f, uint32_t seq, const char *from_ip)
{
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    cairn_wire_ack ack = {.seq_no = seq, .payload = CAIRN_SPAN_LIT("xy")};
    assert_int_equal(cairn__wire_ack_encode(&ack, &b, NULL), 0);
    inject(f, &b, from_ip);
}

static void inject_nack(struct fx *f, uint32_t seq, const char *from_ip)
{
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    cairn_wire_nack nack = {.seq_no = seq};
    assert_int_equal(cairn__wire_nack_encode(&nack, &b, NULL), 0);
    inject(f, &b, from_ip);
}

/* Starts one probe; returns the ping sent. */
static struct sent start_probe(struct fx *f)
{
    f->nsent = 0;
    cairn__ml_probe_tick(f->ml->probe_timer, f->ml);
    cairn_timer_stop(f->ml->probe_timer);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_PING);
    return f->sent[0];
}

static int state_of(struct fx *f, const char *name)
{
    cairn_ml_node n;
    assert_int_equal(cairn_memberlist_get_node(f->ml, name, &n), 0);
    return n.state;
}

static void test_direct_ack(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    cairn_memberlist_get_stats(f->ml, &(cairn_ml_stats){0});
    f->ml->awareness.score = 2;
    struct sent p = start_probe(f);
    /* Awareness 2: the probe's deadline is 3 probe intervals away. */
    assert_int_equal(f->ml->probe.deadline - f->ml->probe.sent, 3 * CAIRN_SEC);
    char ip[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&p.to, false, ip, sizeof(ip));
    cairn_loop_manual_advance(f->loop, 120 * CAIRN_MSEC);
    inject_ack(f, p.seq + 1000, ip); /* unknown seq: ignored */
    assert_int_equal(f->ping_completes, 0);
    inject_ack(f, p.seq, ip);
    assert_int_equal(f->ping_completes, 1);
    assert_int_equal(f->last_rtt, 120 * CAIRN_MSEC);
    assert_int_equal(f->last_payload, 2);
    assert_int_equal(cairn_memberlist_health_score(f->ml), 1);
    assert_false(f->ml->probe.active);
    fx_free(f);
}

/* No answer: indirect pings to three alive relays (Nack requested from
 * those with PMax >= 4), then suspicion; awareness grows by the missing
 * nacks. */
static void test_indirect_and_suspect(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct sent p;
    /* Probe until a PMax-5 node is the target, so that relays are a mix. */
    for (;;) {
        p = start_probe(f);
        if (strcmp(p.node, "d") != 0)
            break;
        char ip[CAIRN_ADDR_STRLEN];
        inject_ack(f, p.seq, cairn_addr_format(&p.to, false, ip, sizeof(ip)));
    }
    f->ml->awareness.score = 0;
    f->nsent = 0;
    cairn_loop_manual_advance(f->loop, 500 * CAIRN_MSEC - 1);
    assert_int_equal(f->nsent, 0);
    cairn_loop_manual_advance(f->loop, 1);
    /* Up to IndirectChecks = 3 distinct relays (kRandomNodes makes 3n
     * random draws, so with few candidates it may find fewer). */
    int relays = f->nsent;
    assert_true(relays >= 2 && relays <= 3);
    int nack_flags = 0;
    for (int i = 0; i < relays; i++) {
        assert_int_equal(f->sent[i].type, CAIRN_WIRE_INDIRECT_PING);
        assert_int_equal(f->sent[i].seq, p.seq);
        assert_string_equal(f->sent[i].node, p.node);
        assert_false(cairn_addr_equal(&f->sent[i].to, &p.to));
        nack_flags += f->sent[i].nack_flag;
        /* The PMax-3 relay is not asked for a nack. */
        char ip[CAIRN_ADDR_STRLEN];
        cairn_addr_format(&f->sent[i].to, false, ip, sizeof(ip));
        assert_int_equal(f->sent[i].nack_flag, strcmp(ip, "10.0.0.5") != 0);
    }
    assert_int_equal(f->ml->probe.expected_nacks, nack_flags);
    /* One nack arrives. */
    inject_nack(f, p.seq, "10.0.0.2");
    cairn_loop_manual_advance(f->loop, 500 * CAIRN_MSEC - 1);
    assert_int_equal(state_of(f, p.node), CAIRN_ML_ALIVE);
    cairn_loop_manual_advance(f->loop, 1);
    assert_int_equal(state_of(f, p.node), CAIRN_ML_SUSPECT);
    assert_true(nack_flags >= 1);
    assert_int_equal(cairn_memberlist_health_score(f->ml), nack_flags - 1);
    cairn_ml_stats st;
    cairn_memberlist_get_stats(f->ml, &st);
    assert_int_equal(st.probe_failures, 1);
    /* The next probe of the suspect node carries the accusation along, so
     * that it can refute: a ping + suspect compound. */
    for (size_t i = 0; i < f->ml->n_nodes; i++)
        if (strcmp(f->ml->nodes[i]->name, p.node) == 0)
            f->ml->probe_index = i;
    f->nsent = 0;
    cairn__ml_probe_tick(f->ml->probe_timer, f->ml);
    assert_int_equal(f->nsent, 2);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_PING);
    assert_int_equal(f->sent[1].type, CAIRN_WIRE_SUSPECT);
    assert_string_equal(f->sent[1].node, p.node);
    fx_free(f);
}

/* An ack relayed after ProbeTimeout saves the node; no RTT is reported. */
static void test_indirect_ack(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct sent p = start_probe(f);
    cairn_loop_manual_advance(f->loop, 700 * CAIRN_MSEC);
    assert_true(f->ml->probe.indirect);
    inject_ack(f, p.seq, "10.0.0.3");
    assert_false(f->ml->probe.active);
    assert_int_equal(f->ping_completes, 0);
    assert_int_equal(state_of(f, p.node), CAIRN_ML_ALIVE);
    assert_int_equal(cairn_memberlist_health_score(f->ml), 0);
    fx_free(f);
}

/* A node with no nack-capable relays: +1 on failure. */
static void test_no_nack_relays(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    /* Make every relay PMax 3 by lowering a, b, c, d's versions. */
    for (size_t i = 0; i < f->ml->n_nodes; i++)
        if (strcmp(f->ml->nodes[i]->name, "me") != 0)
            f->ml->nodes[i]->vsn[ML_PMAX] = 3;
    struct sent p = start_probe(f);
    (void)p;
    cairn_loop_manual_advance(f->loop, CAIRN_SEC);
    assert_int_equal(f->ml->probe.expected_nacks, 0);
    assert_int_equal(cairn_memberlist_health_score(f->ml), 1);
    fx_free(f);
}

/* The relay role. */
static void relay_request(struct fx *f, uint32_t seq, bool nack)
{
    static const uint8_t target_ip[4] = {10, 0, 0, 4};
    static const uint8_t src_ip[4] = {10, 0, 0, 2};
    cairn_wire_indirect_ping ind = {.nack = nack,
                                    .node = CAIRN_SPAN_LIT("c"),
                                    .port = 7946,
                                    .seq_no = seq,
                                    .source_addr = {src_ip, 4},
                                    .source_node = CAIRN_SPAN_LIT("a"),
                                    .source_port = 8000,
                                    .target = {target_ip, 4}};
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    assert_int_equal(cairn__wire_indirect_ping_encode(&ind, &b, NULL), 0);
    f->nsent = 0;
    inject(f, &b, "10.0.0.2");
}

static void test_relay(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    char ip[CAIRN_ADDR_STRLEN];
    /* Ack from the target: forwarded with the requester's seq. */
    relay_request(f, 77, true);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_PING);
    assert_string_equal(f->sent[0].node, "c");
    assert_string_equal(cairn_addr_format(&f->sent[0].to, true, ip, sizeof(ip)), "10.0.0.4:7946");
    uint32_t relay_seq = f->sent[0].seq;
    f->nsent = 0;
    inject_ack(f, relay_seq, "10.0.0.4");
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_ACK);
    assert_int_equal(f->sent[0].seq, 77);
    assert_string_equal(cairn_addr_format(&f->sent[0].to, true, ip, sizeof(ip)), "10.0.0.2:8000");
    f->nsent = 0;
    cairn_loop_manual_advance(f->loop, CAIRN_SEC); /* no nack after an ack */
    assert_int_equal(f->nsent, 0);
    /* Silence: a nack after ProbeTimeout, only when asked for. */
    relay_request(f, 78, true);
    f->nsent = 0;
    cairn_loop_manual_advance(f->loop, 500 * CAIRN_MSEC);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_NACK);
    assert_int_equal(f->sent[0].seq, 78);
    relay_request(f, 79, false);
    f->nsent = 0;
    cairn_loop_manual_advance(f->loop, CAIRN_SEC);
    assert_int_equal(f->nsent, 0);
    assert_null(f->ml->acks);
    fx_free(f);
}

static void test_answer_ping(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    static const uint8_t src_ip[4] = {10, 0, 0, 9};
    cairn_wire_ping p = {.node = CAIRN_SPAN_LIT("me"),
                         .seq_no = 5,
                         .source_addr = {src_ip, 4},
                         .source_node = CAIRN_SPAN_LIT("z"),
                         .source_port = 9000};
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    assert_int_equal(cairn__wire_ping_encode(&p, &b, NULL), 0);
    f->nsent = 0;
    inject(f, &b, "10.0.0.2");
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_ACK);
    assert_int_equal(f->sent[0].seq, 5);
    char ip[CAIRN_ADDR_STRLEN];
    assert_string_equal(cairn_addr_format(&f->sent[0].to, true, ip, sizeof(ip)), "10.0.0.9:9000");
    /* Without Source*: answer the datagram's source. */
    p = (cairn_wire_ping){.node = CAIRN_SPAN_LIT("me"), .seq_no = 6};
    cairn_buf_init(&b, 4096);
    assert_int_equal(cairn__wire_ping_encode(&p, &b, NULL), 0);
    f->nsent = 0;
    inject(f, &b, "10.0.0.3");
    assert_int_equal(f->nsent, 1);
    assert_string_equal(cairn_addr_format(&f->sent[0].to, true, ip, sizeof(ip)), "10.0.0.3:7946");
    /* A ping for another name is dropped. */
    p = (cairn_wire_ping){.node = CAIRN_SPAN_LIT("other"), .seq_no = 7};
    cairn_buf_init(&b, 4096);
    assert_int_equal(cairn__wire_ping_encode(&p, &b, NULL), 0);
    f->nsent = 0;
    inject(f, &b, "10.0.0.3");
    assert_int_equal(f->nsent, 0);
    fx_free(f);
}

/* Broadcasts ride on the ack as a compound within the UDP budget. */
static void test_piggyback(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    add_node(f, "newcomer", "10.0.0.20", VSN5); /* queues an alive */
    cairn_wire_ping p = {.node = CAIRN_SPAN_LIT("me"), .seq_no = 9};
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    assert_int_equal(cairn__wire_ping_encode(&p, &b, NULL), 0);
    f->nsent = 0;
    inject(f, &b, "10.0.0.3");
    assert_int_equal(f->nsent, 2);
    assert_int_equal(f->sent[0].type, CAIRN_WIRE_ACK);
    assert_int_equal(f->sent[1].type, CAIRN_WIRE_ALIVE);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_ack),   cmocka_unit_test(test_indirect_and_suspect),
        cmocka_unit_test(test_indirect_ack), cmocka_unit_test(test_no_nack_relays),
        cmocka_unit_test(test_relay),        cmocka_unit_test(test_answer_ping),
        cmocka_unit_test(test_piggyback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
