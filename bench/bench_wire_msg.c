/* bench_wire_msg: encode/decode rates of the message codecs on three
 * shapes that matter, each next to baselines measured in the same run:
 *
 *   gossip_compound  a 1400-byte-budget gossip packet: compound of alives
 *                    (serf tags in Meta), the bulk of steady-state UDP
 *   ack_coord        a probe ack carrying the serf coordinate payload
 *   pushpull_1000    a push-pull stream message with 1,000 node states and
 *                    a fresh serf state (585 bytes), the join/anti-entropy cost
 *
 * Baselines: msgpack-c's generic msgpack_unpack_next over the same msgpack
 * objects (builds an object tree in a zone, no field matching), and memcpy
 * of the same bytes. One JSON object per line:
 *   {"bench":"wire_msg","case":...,"op":...,"msgs_per_s":...,"mb_per_s":...}
 * "msgs" counts memberlist messages (an alive, an ack, a node state).
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/frame.h"
#include "wire/msg.h"

/* Time budget per figure: long enough for a stable rate on a shared 2-core
 * box, short enough that the whole program stays around 5 s. */
#define BENCH_SECONDS 0.25

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*bench_fn)(void *ctx);

/* run calls fn in batches until BENCH_SECONDS passed and prints a line. */
static void run(const char *cas, const char *op, bench_fn fn, void *ctx, size_t msgs_per_call,
                size_t bytes_per_call)
{
    long calls = 0, batch = 1;
    double t0 = now(), t;
    for (;;) {
        for (long k = 0; k < batch; k++)
            if (fn(ctx) != 0) {
                fprintf(stderr, "bench %s %s failed\n", cas, op);
                exit(1);
            }
        calls += batch;
        t = now() - t0;
        if (t >= BENCH_SECONDS)
            break;
        if (t < BENCH_SECONDS / 10)
            batch *= 2;
    }
    double mps = (double)calls * (double)msgs_per_call / t;
    double mbs = (double)calls * (double)bytes_per_call / t / 1e6;
    printf("{\"bench\":\"wire_msg\",\"case\":\"%s\",\"op\":\"%s\",\"msgs_per_s\":%.0f,"
           "\"mb_per_s\":%.1f,\"ns_per_msg\":%.1f,\"bytes\":%zu,\"msgs\":%zu,\"calls\":%ld}\n",
           cas, op, mps, mbs, 1e9 / mps, bytes_per_call, msgs_per_call, calls);
    fflush(stdout);
}

/* ------------------------------------------------------------ fixtures */

static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
static const uint8_t ip4[4] = {10, 0, 0, 1};

typedef struct gossip_ctx {
    cairn_wire_alive alive[32];
    char names[32][16];
    uint8_t meta[64];
    size_t meta_len;
    size_t n;
    cairn_buf parts; /* encoded alives back to back */
    size_t offs[32], lens[32];
    cairn_buf packet; /* the compound */
    cairn_buf scratch;
    uint8_t copy[2048];
    msgpack_unpacked unp;
    int count;
} gossip_ctx;

static void gossip_setup(gossip_ctx *g)
{
    memset(g, 0, sizeof(*g));
    cairn_wire_tag tags[2] = {{CAIRN_SPAN_LIT("role"), CAIRN_SPAN_LIT("web")},
                              {CAIRN_SPAN_LIT("dc"), CAIRN_SPAN_LIT("dc1")}};
    cairn_buf m;
    cairn_buf_init(&m, 512);
    cairn__wire_tags_encode(tags, 2, &m, NULL);
    memcpy(g->meta, m.data, m.len);
    g->meta_len = m.len;
    cairn_buf_destroy(&m);
    cairn_buf_init(&g->parts, 1 << 16);
    cairn_buf_init(&g->packet, 1 << 16);
    cairn_buf_init(&g->scratch, 1 << 16);
    /* gossip_encode's packer borrows pointers into scratch while the
     * compound is written into it: room up front, so it never moves. */
    cairn_buf_reserve(&g->scratch, 1 << 14);
    cairn_compound c, probe; /* probe: sizes only, its pointers go stale */
    cairn__compound_init(&c, CAIRN_PACKET_UDP_BUDGET);
    cairn__compound_init(&probe, CAIRN_PACKET_UDP_BUDGET);
    for (size_t k = 0; k < 32; k++) {
        snprintf(g->names[k], sizeof(g->names[k]), "node-%04zu", k);
        g->alive[k] = (cairn_wire_alive){
            {ip4, 4}, (uint32_t)(k + 1), {g->meta, g->meta_len}, cairn__span_str(g->names[k]),
            7946,     {vsn, 6}};
        size_t at = g->parts.len;
        cairn__wire_alive_encode(&g->alive[k], &g->parts, NULL);
        if (cairn__compound_add(&probe, g->parts.data + at, g->parts.len - at) != 0) {
            g->parts.len = at;
            break;
        }
        g->offs[k] = at;
        g->lens[k] = g->parts.len - at;
        g->n = k + 1;
    }
    /* Parts are added once all are encoded: parts.data may move while
     * growing, and the packer borrows pointers. */
    for (size_t k = 0; k < g->n; k++)
        cairn__compound_add(&c, g->parts.data + g->offs[k], g->lens[k]);
    cairn__compound_write(&c, false, &g->packet);
    msgpack_unpacked_init(&g->unp);
}

static int gossip_encode(void *ctx)
{
    gossip_ctx *g = ctx;
    cairn_buf_reset(&g->scratch);
    size_t offs[32];
    for (size_t k = 0; k < g->n; k++) {
        offs[k] = g->scratch.len;
        if (cairn__wire_alive_encode(&g->alive[k], &g->scratch, NULL))
            return -1;
    }
    cairn_compound c;
    cairn__compound_init(&c, CAIRN_PACKET_UDP_BUDGET);
    for (size_t k = 0; k < g->n; k++) {
        size_t end = k + 1 < g->n ? offs[k + 1] : g->scratch.len;
        if (cairn__compound_add(&c, g->scratch.data + offs[k], end - offs[k]))
            return -1;
    }
    size_t mark = g->scratch.len;
    int e = cairn__compound_write(&c, false, &g->scratch);
    return e || g->scratch.len - mark != g->packet.len ? -1 : 0;
}

static void on_alive(uint8_t type, const uint8_t *body, size_t len, void *ud)
{
    gossip_ctx *g = ud;
    cairn_wire_alive a;
    /* Decoders take the whole message; the type byte sits just before the
     * body inside the packet, as it does in every compound part. */
    if (type == CAIRN_WIRE_ALIVE &&
        cairn__wire_alive_decode(body - 1, len + 1, NULL, NULL, &a) == 0)
        g->count++;
}

static int gossip_decode(void *ctx)
{
    gossip_ctx *g = ctx;
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cairn_packet_stats st;
    memset(&st, 0, sizeof(st));
    g->count = 0;
    cairn__packet_decode(&cfg, g->packet.data, g->packet.len, on_alive, g, &st, NULL);
    return g->count == (int)g->n ? 0 : -1;
}

static int gossip_msgpackc(void *ctx)
{
    gossip_ctx *g = ctx;
    for (size_t k = 0; k < g->n; k++) {
        size_t off = 0;
        if (msgpack_unpack_next(&g->unp, (const char *)g->parts.data + g->offs[k] + 1,
                                g->lens[k] - 1, &off) != MSGPACK_UNPACK_SUCCESS)
            return -1;
    }
    return 0;
}

static int gossip_memcpy(void *ctx)
{
    gossip_ctx *g = ctx;
    memcpy(g->copy, g->packet.data, g->packet.len);
    __asm__ volatile("" : : "r"(g->copy) : "memory");
    return 0;
}

/* ack with coordinate */
typedef struct ack_ctx {
    cairn_coord coord;
    uint8_t payload[256];
    size_t payload_len;
    cairn_buf msg, scratch;
    uint8_t copy[512];
    msgpack_unpacked unp;
} ack_ctx;

static void ack_setup(ack_ctx *a)
{
    memset(a, 0, sizeof(*a));
    a->coord.dim = 8;
    for (int k = 0; k < 8; k++)
        a->coord.vec[k] = 0.001 * (k + 1);
    a->coord.error = 0.4;
    a->coord.height = 2e-4;
    a->coord.adjustment = -1e-5;
    cairn_buf p;
    cairn_buf_init(&p, 256);
    cairn__wire_coord_encode(&a->coord, &p, NULL);
    memcpy(a->payload, p.data, p.len);
    a->payload_len = p.len;
    cairn_buf_destroy(&p);
    cairn_buf_init(&a->msg, 1024);
    cairn_buf_init(&a->scratch, 1024);
    cairn_wire_ack ack = {{a->payload, a->payload_len}, 7};
    cairn__wire_ack_encode(&ack, &a->msg, NULL);
    msgpack_unpacked_init(&a->unp);
}

static int ack_encode(void *ctx)
{
    ack_ctx *a = ctx;
    /* The coordinate payload first, then the ack that carries it. */
    uint8_t pl[256];
    cairn_buf_reset(&a->scratch);
    if (cairn__wire_coord_encode(&a->coord, &a->scratch, NULL) || a->scratch.len > sizeof(pl))
        return -1;
    memcpy(pl, a->scratch.data, a->scratch.len);
    cairn_wire_ack ack = {{pl, a->scratch.len}, 7};
    cairn_buf_reset(&a->scratch);
    return cairn__wire_ack_encode(&ack, &a->scratch, NULL);
}

static int ack_decode(void *ctx)
{
    ack_ctx *a = ctx;
    cairn_wire_ack ack;
    cairn_coord c;
    if (cairn__wire_ack_decode(a->msg.data, a->msg.len, NULL, NULL, &ack))
        return -1;
    return cairn__wire_coord_decode(ack.payload.p, ack.payload.len, NULL, &c);
}

static int ack_msgpackc(void *ctx)
{
    ack_ctx *a = ctx;
    size_t off = 0, off2 = 0;
    if (msgpack_unpack_next(&a->unp, (const char *)a->msg.data + 1, a->msg.len - 1, &off) !=
        MSGPACK_UNPACK_SUCCESS)
        return -1;
    /* ... and the payload's own msgpack, as the typed path does. */
    return msgpack_unpack_next(&a->unp, (const char *)a->payload + 1, a->payload_len - 1, &off2) ==
                   MSGPACK_UNPACK_SUCCESS
               ? 0
               : -1;
}

static int ack_memcpy(void *ctx)
{
    ack_ctx *a = ctx;
    memcpy(a->copy, a->msg.data, a->msg.len);
    __asm__ volatile("" : : "r"(a->copy) : "memory");
    return 0;
}

/* 1000-node push-pull */
#define PP_NODES 1000
typedef struct pp_ctx {
    cairn_wire_push_node nodes[PP_NODES];
    char names[PP_NODES][16];
    uint8_t meta[64];
    cairn_buf state, msg, scratch;
    uint8_t *copy;
    cairn_wire_pushpull pp;
    msgpack_unpacked unp;
} pp_ctx;

static void pp_setup(pp_ctx *p)
{
    memset(p, 0, sizeof(*p));
    cairn_wire_tag tags[2] = {{CAIRN_SPAN_LIT("role"), CAIRN_SPAN_LIT("node")},
                              {CAIRN_SPAN_LIT("dc"), CAIRN_SPAN_LIT("dc1")}};
    cairn_buf m;
    cairn_buf_init(&m, 512);
    cairn__wire_tags_encode(tags, 2, &m, NULL);
    memcpy(p->meta, m.data, m.len);
    for (int k = 0; k < PP_NODES; k++) {
        snprintf(p->names[k], sizeof(p->names[k]), "node-%04d", k);
        p->nodes[k] = (cairn_wire_push_node){{ip4, 4},
                                             (uint32_t)(k % 7 + 1),
                                             {p->meta, m.len},
                                             cairn__span_str(p->names[k]),
                                             7946,
                                             k % 4,
                                             {vsn, 6}};
    }
    cairn_buf_destroy(&m);
    /* A fresh single node's serf state: 512 nil event slots. */
    static cairn_wire_serf_event_slot slots[CAIRN_WIRE_SERF_RING];
    static cairn_span none[1];
    cairn_wire_serf_status_ltime st = {CAIRN_SPAN_LIT("node-0000"), 1};
    cairn_wire_serf_pushpull sp = {1, slots, CAIRN_WIRE_SERF_RING, 1, none, 0, 1, &st, 1};
    cairn_buf_init(&p->state, 1 << 20);
    cairn__wire_serf_pushpull_encode(&sp, &p->state, NULL);
    p->pp = (cairn_wire_pushpull){{true, PP_NODES, (uint32_t)p->state.len},
                                  p->nodes,
                                  PP_NODES,
                                  {p->state.data, p->state.len}};
    cairn_buf_init(&p->msg, 1 << 22);
    cairn_buf_init(&p->scratch, 1 << 22);
    cairn__wire_pushpull_encode(&p->pp, &p->msg, NULL);
    p->copy = malloc(p->msg.len);
    msgpack_unpacked_init(&p->unp);
}

static int pp_encode(void *ctx)
{
    pp_ctx *p = ctx;
    cairn_buf_reset(&p->scratch);
    return cairn__wire_pushpull_encode(&p->pp, &p->scratch, NULL);
}

static int pp_decode(void *ctx)
{
    pp_ctx *p = ctx;
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_wire_pushpull pp;
    cairn_wire_serf_pushpull sp;
    int e = cairn__wire_pushpull_decode(p->msg.data, p->msg.len, &a, NULL, &pp);
    if (e == 0)
        e = cairn__wire_serf_pushpull_decode(pp.user_state.p, pp.user_state.len, &a, NULL, &sp);
    cairn__wire_arena_destroy(&a);
    return e;
}

static int pp_msgpackc(void *ctx)
{
    pp_ctx *p = ctx;
    size_t off = 1;
    const char *b = (const char *)p->msg.data;
    size_t end = p->msg.len - p->state.len;
    while (off < end)
        if (msgpack_unpack_next(&p->unp, b, end, &off) != MSGPACK_UNPACK_SUCCESS)
            return -1;
    size_t soff = 1;
    return msgpack_unpack_next(&p->unp, (const char *)p->state.data, p->state.len, &soff) ==
                   MSGPACK_UNPACK_SUCCESS
               ? 0
               : -1;
}

static int pp_memcpy(void *ctx)
{
    pp_ctx *p = ctx;
    memcpy(p->copy, p->msg.data, p->msg.len);
    __asm__ volatile("" : : "r"(p->copy) : "memory");
    return 0;
}

int main(void)
{
    static gossip_ctx g;
    gossip_setup(&g);
    run("gossip_compound", "encode", gossip_encode, &g, g.n, g.packet.len);
    run("gossip_compound", "decode", gossip_decode, &g, g.n, g.packet.len);
    run("gossip_compound", "baseline_msgpackc_unpack", gossip_msgpackc, &g, g.n, g.packet.len);
    run("gossip_compound", "baseline_memcpy", gossip_memcpy, &g, g.n, g.packet.len);

    static ack_ctx a;
    ack_setup(&a);
    run("ack_coord", "encode", ack_encode, &a, 1, a.msg.len);
    run("ack_coord", "decode", ack_decode, &a, 1, a.msg.len);
    run("ack_coord", "baseline_msgpackc_unpack", ack_msgpackc, &a, 1, a.msg.len);
    run("ack_coord", "baseline_memcpy", ack_memcpy, &a, 1, a.msg.len);

    static pp_ctx p;
    pp_setup(&p);
    run("pushpull_1000", "encode", pp_encode, &p, PP_NODES, p.msg.len);
    run("pushpull_1000", "decode", pp_decode, &p, PP_NODES, p.msg.len);
    run("pushpull_1000", "baseline_msgpackc_unpack", pp_msgpackc, &p, PP_NODES, p.msg.len);
    run("pushpull_1000", "baseline_memcpy", pp_memcpy, &p, PP_NODES, p.msg.len);

    msgpack_unpacked_destroy(&g.unp);
    msgpack_unpacked_destroy(&a.unp);
    msgpack_unpacked_destroy(&p.unp);
    cairn_buf_destroy(&g.parts);
    cairn_buf_destroy(&g.packet);
    cairn_buf_destroy(&g.scratch);
    cairn_buf_destroy(&a.msg);
    cairn_buf_destroy(&a.scratch);
    cairn_buf_destroy(&p.state);
    cairn_buf_destroy(&p.msg);
    cairn_buf_destroy(&p.scratch);
    free(p.copy);
    return 0;
}
