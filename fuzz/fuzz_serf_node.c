/* libFuzzer target for the serf layer's state machine on the simulator:
 * one cairn_serf ("me", 10.0.0.1) and a peer address (10.0.0.2) that sends
 * it a scripted sequence of hostile but well-framed inputs, so the fuzzer
 * spends its time in serf's handlers and merges rather than in the
 * memberlist framing that fuzz_memberlist* already cover:
 *
 *   record = [op][len lo][len hi][len bytes of body]   (len capped at 1200)
 *   op % 6 == 0  UDP user message: 08 + body (any serf message: intents,
 *                user events, queries, responses, relays, key requests)
 *   op % 6 == 1  UDP alive for member "m<k>" (k = op / 6 % 8) at
 *                10.0.1.k, incarnation body[0], Meta = body (tags decoding,
 *                member join/update)
 *   op % 6 == 2  a push/pull stream from the peer (join flag: op & 64)
 *                carrying the peer alive and serf state = body (merge of
 *                clocks, left members, the event ring, query time)
 *   op % 6 == 3  UDP suspect or dead (op & 64) about "m<k>", from "p"
 *   op % 6 == 4  run the world for (body[0] + 1) * 100 ms
 *   op % 6 == 5  a user event or (op & 64) a query from "me" itself, the
 *                query with a node filter (op & 2) and tag filters (op & 4,
 *                an expression from the body) (exercises the
 *                queues and the responses the peer's bytes may answer)
 *
 * Invariants after 30 s of quiet: no crash, no leak (ASan), our node is
 * alive, the member table within max_members, every broadcast queue
 * within max_queue_depth, the recent-intent table within its cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/serf.h"
#include "cairn/sim.h"
#include "wire/msg.h"

#define BODY_MAX   1200
#define MEMBERS    32
#define QUEUE_MAX  64
#define INTENT_MAX 32

struct peer {
    cairn_loop *loop;
    cairn_udp *udp;
    cairn_addr me;
    cairn_stream *stream;
    cairn_buf pp; /* the push/pull being sent */
};

static void on_udp(cairn_udp *udp, const cairn_addr *from, const uint8_t *data, size_t len,
                   void *ud)
{
    (void)udp;
    (void)from;
    (void)data;
    (void)len;
    (void)ud;
}

static void on_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    (void)data;
    (void)len;
    struct peer *p = ud;
    if (status < 0 && p->stream == s) {
        cairn_stream_close(s);
        p->stream = NULL;
    }
}

static void on_connect(cairn_stream *s, int status, void *ud)
{
    struct peer *p = ud;
    if (status < 0) {
        p->stream = NULL;
        return;
    }
    (void)cairn_stream_start_read(s, on_read, p);
    (void)cairn_stream_write(s, p->pp.data, p->pp.len);
}

/* Answers every query the peer's bytes carry, with its own payload (the
 * response path: size limits, relays, the pending table). */
static void on_event(const cairn_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == CAIRN_EVENT_QUERY && ev->respond)
        (void)ev->respond(ev->respond_ctx, ev->query_id, ev->payload, ev->payload_len);
}

static void member_name(char *buf, size_t k)
{
    buf[0] = 'm';
    buf[1] = (char)('0' + k % 8);
    buf[2] = 0;
}

static void send_udp(struct peer *p, const cairn_buf *b)
{
    (void)cairn_udp_send(p->udp, &p->me, b->data, b->len);
}

static void op_alive(struct peer *p, size_t k, const uint8_t *body, size_t len)
{
    char name[4];
    member_name(name, k);
    uint8_t ip[4] = {10, 0, 1, (uint8_t)k};
    size_t meta = len > 512 ? 512 : len;
    cairn_wire_alive m = {.addr = {ip, 4},
                          .incarnation = len ? body[0] : 1,
                          .meta = {body, meta},
                          .node = cairn__span_str(name),
                          .port = 7946};
    cairn_buf b;
    cairn_buf_init(&b, 2048);
    if (cairn__wire_alive_encode(&m, &b, NULL) == 0)
        send_udp(p, &b);
    cairn_buf_destroy(&b);
}

static void op_suspect(struct peer *p, size_t k, bool dead, const uint8_t *body, size_t len)
{
    char name[4];
    member_name(name, k);
    cairn_wire_suspect m = {.from = cairn__span_str("p"),
                            .incarnation = len ? body[0] : 1,
                            .node = cairn__span_str(name)};
    cairn_buf b;
    cairn_buf_init(&b, 256);
    int rc =
        dead ? cairn__wire_dead_encode(&m, &b, NULL) : cairn__wire_suspect_encode(&m, &b, NULL);
    if (rc == 0)
        send_udp(p, &b);
    cairn_buf_destroy(&b);
}

static void op_pushpull(struct peer *p, bool join, const uint8_t *body, size_t len)
{
    if (p->stream)
        return; /* one at a time */
    uint8_t ip[4] = {10, 0, 0, 2};
    cairn_wire_push_node n = {.addr = {ip, 4},
                              .incarnation = 1,
                              .meta = {(const uint8_t *)"", 0},
                              .name = cairn__span_str("p"),
                              .port = 7946,
                              .state = 0};
    cairn_wire_pushpull m = {
        .header = {.join = join}, .nodes = &n, .n_nodes = 1, .user_state = {body, len}};
    cairn_buf_reset(&p->pp);
    if (cairn__wire_pushpull_encode(&m, &p->pp, NULL) < 0)
        return;
    (void)cairn_stream_dial(p->loop, &p->me, CAIRN_SEC, on_connect, p, &p->stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_sim *sim;
    if (cairn_sim_new(1, &sim) < 0)
        return 0;
    struct peer p = {0};
    cairn_buf_init(&p.pp, 4096);
    cairn_addr paddr;
    cairn_loop *la = NULL;
    cairn_serf *s = NULL;
    (void)cairn_addr_parse("10.0.0.1:7946", 0, &p.me);
    (void)cairn_addr_parse("10.0.0.2:7946", 0, &paddr);
    if (cairn_sim_node_loop(sim, &p.me, &la) < 0 || cairn_sim_node_loop(sim, &paddr, &p.loop) < 0)
        goto out;
    if (cairn_udp_bind(p.loop, &paddr, on_udp, &p, &p.udp) < 0)
        goto out;
    cairn_serf_config c;
    cairn_serf_config_default(&c);
    c.memberlist.name = "me";
    c.memberlist.bind = p.me;
    c.memberlist.seed = 1;
    c.max_members = MEMBERS;
    c.max_recent_intents = INTENT_MAX;
    c.max_queue_depth = QUEUE_MAX;
    c.max_queries = 8;
    c.max_pending_responses = 16;
    c.queue_check_interval = CAIRN_SEC;
    c.event_cb = on_event;
    if (cairn_serf_new(la, &c, NULL, NULL, &s, NULL) < 0)
        goto out;

    size_t off = 0, qn = 0;
    while (off + 3 <= size) {
        uint8_t op = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > BODY_MAX)
            len = BODY_MAX;
        if (len > size - off)
            len = size - off;
        const uint8_t *body = data + off;
        off += len;
        size_t k = (size_t)(op / 6) % 8;
        switch (op % 6) {
        case 0: {
            cairn_buf b;
            cairn_buf_init(&b, len + 1);
            if (cairn__wire_user_encode((cairn_span){body, len}, &b, NULL) == 0)
                send_udp(&p, &b);
            cairn_buf_destroy(&b);
            break;
        }
        case 1:
            op_alive(&p, k, body, len);
            break;
        case 2:
            op_pushpull(&p, op & 64, body, len);
            break;
        case 3:
            op_suspect(&p, k, op & 64, body, len);
            break;
        case 4:
            cairn_sim_run_for(sim, (cairn_time)((len ? body[0] : 0) + 1) * 100 * CAIRN_MSEC);
            break;
        case 5: {
            char name[16] = "ev";
            name[2] = (char)('a' + qn++ % 26);
            name[3] = 0;
            size_t pl = len > 64 ? 64 : len;
            if (op & 64) {
                /* op & 2: a node filter; op & 4: a tag filter whose
                 * expression is the body up to its first NUL (at most 32
                 * bytes). */
                static const char *const fnodes[] = {"me", "p", "m1"};
                char expr[33];
                size_t el = 0;
                while (el < len && el < 32 && body[el] != 0) {
                    expr[el] = (char)body[el];
                    el++;
                }
                expr[el] = 0;
                cairn_tag ftags[] = {{.key = "role", .value = expr}, {.key = "dc", .value = "d."}};
                cairn_serf_query_params q = {
                    .name = name,
                    .payload = body,
                    .payload_len = pl,
                    .request_ack = op & 128,
                    .relay_factor = (uint8_t)(op & 1),
                    .timeout = 2 * CAIRN_SEC,
                    .filter_nodes = op & 2 ? fnodes : NULL,
                    .n_filter_nodes = op & 2 ? 1 + (size_t)(op >> 3 & 1) * 2 : 0,
                    .filter_tags = op & 4 ? ftags : NULL,
                    .n_filter_tags = op & 4 ? 1 + (size_t)(op >> 4 & 1) : 0};
                (void)cairn_serf_query(s, &q, NULL, NULL, NULL);
            } else {
                (void)cairn_serf_user_event(s, name, body, pl, op & 128, NULL);
            }
            break;
        }
        }
        cairn_sim_run_for(sim, 10 * CAIRN_MSEC);
    }
    cairn_sim_run_for(sim, 30 * CAIRN_SEC);

    cairn_serf_stats st;
    cairn_serf_get_stats(s, &st);
    if (cairn_serf_member_status(s, "me") != CAIRN_MEMBER_ALIVE || st.members > MEMBERS ||
        st.intent_queue > QUEUE_MAX || st.event_queue > QUEUE_MAX || st.query_queue > QUEUE_MAX ||
        st.recent_intents > INTENT_MAX)
        abort();
out:
    cairn_stream_close(p.stream);
    cairn_serf_delete(s);
    cairn_udp_close(p.udp);
    cairn_loop_delete(p.loop);
    cairn_loop_delete(la);
    cairn_sim_delete(sim);
    cairn_buf_destroy(&p.pp);
    return 0;
}
