/* gocmp_codec: cairn's side of the codec and coordinate comparison with
 * HashiCorp's Go code (bench/go/run.sh runs both sides and joins them).
 *
 * `gocmp_codec DIR` builds every input once, writes it to DIR so that the Go
 * harness is fed the very same bytes, then measures cairn on it:
 *
 *   DIR/<msg>.bin          one encoded message per memberlist and serf type
 *                          (type byte first), the push-pull streams at 10,
 *                          1,000 and 10,000 members (memberlist 06 stream
 *                          with serf's 02 state carrying one StatusLTime per
 *                          member), and a 1,400-byte gossip compound of
 *                          alives;
 *   DIR/lzw_<src>.bin      memberlist's compress message (09 + {Algo, Buf})
 *                          of two sources, DIR/aes_<src>.bin an AES-256-GCM
 *                          (version 1, no label) sealing of them, DIR/aes.key
 *                          the key;
 *   DIR/coord_peers.txt    the Vivaldi update sequence: one peer a line,
 *                          `name rtt_ns error height adjustment v0 .. v7`.
 *
 * Each figure runs for GOCMP_SECONDS (0.2 s by default), GOCMP_RUNS times
 * (3), and the median is printed (GOCMP_ONLY=text measures only the figures
 * whose name contains text; the inputs are written anyway), one JSON object
 * per line:
 *   {"side":"cairn","figure":...,"ns_op":...,"cpu_ns_op":...,"allocs_op":...,
 *    "bytes":...}
 * ns_op is wall time per call, cpu_ns_op the process's CPU time per call
 * (blind to time spent descheduled by other tenants of the machine).
 * allocs_op counts calls into cairn's allocator hooks (cairn_set_allocator)
 * during the timed loops, divided by the calls; OpenSSL's own allocations
 * are not seen (the keyring makes its cipher contexts once per key, so none
 * happen per message).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/alloc.h"
#include "cairn/coord.h"
#include "cairn/keyring.h"
#include "wire/keyring_internal.h"
#include "cairn/rng.h"
#include "cairn/time.h"
#include "wire/frame.h"
#include "wire/lzw.h"
#include "wire/msg.h"

/* ---- allocation counting through cairn's hooks ---- */

static unsigned long alloc_calls;

static void *count_malloc(size_t n, void *ud)
{
    (void)ud;
    alloc_calls++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    alloc_calls++;
    return realloc(p, n);
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

/* ---- timing ---- */

static double seconds = 0.2;
static int runs = 3;
static const char *dir;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

typedef int (*op_fn)(void *ctx);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* measure runs op for `seconds`, `runs` times, and prints the median. */
static void measure(const char *figure, op_fn op, void *ctx, size_t bytes)
{
    double ns[16], cpu[16], allocs[16];
    const char *only = getenv("GOCMP_ONLY"); /* measure only figures containing this */
    if (only != NULL && strstr(figure, only) == NULL)
        return;
    for (int r = 0; r < runs; r++) {
        long calls = 0, batch = 1;
        unsigned long a0 = alloc_calls;
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now(), t;
        for (;;) {
            for (long k = 0; k < batch; k++)
                if (op(ctx) != 0) {
                    fprintf(stderr, "gocmp_codec: %s failed\n", figure);
                    exit(1);
                }
            calls += batch;
            t = now() - t0;
            if (t >= seconds)
                break;
            if (t < seconds / 10)
                batch *= 2;
        }
        ns[r] = t * 1e9 / (double)calls;
        cpu[r] = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e9 / (double)calls;
        allocs[r] = (double)(alloc_calls - a0) / (double)calls;
    }
    qsort(ns, (size_t)runs, sizeof(double), cmp_double);
    qsort(cpu, (size_t)runs, sizeof(double), cmp_double);
    qsort(allocs, (size_t)runs, sizeof(double), cmp_double);
    printf("{\"side\":\"cairn\",\"figure\":\"%s\",\"ns_op\":%.1f,\"cpu_ns_op\":%.1f,"
           "\"allocs_op\":%.2f,\"bytes\":%zu}\n",
           figure, ns[runs / 2], cpu[runs / 2], allocs[runs / 2], bytes);
    fflush(stdout);
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gocmp_codec: cannot write %s\n", path);
        exit(1);
    }
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "gocmp_codec: %s: %s\n", what, cairn_strerror(rc));
        exit(1);
    }
}

/* ---- messages ---- */

/* One codec figure pair: the message's struct (built once), its encoded
 * bytes, and a scratch buffer for the encoder. */
typedef struct msg_case {
    const char *name;
    int (*enc)(struct msg_case *c);
    int (*dec)(struct msg_case *c);
    const void *m;
    cairn_buf msg, scratch;
} msg_case;

static int run_enc(void *ctx)
{
    msg_case *c = ctx;
    cairn_buf_reset(&c->scratch);
    return c->enc(c);
}

static int run_dec(void *ctx)
{
    msg_case *c = ctx;
    return c->dec(c);
}

/* Decoders without an arena. */
#define CODEC_PLAIN(id, T, pfx)                                                                    \
    static int id##_enc(msg_case *c)                                                               \
    {                                                                                              \
        return pfx##_encode(c->m, &c->scratch, NULL);                                              \
    }                                                                                              \
    static int id##_dec(msg_case *c)                                                               \
    {                                                                                              \
        T r;                                                                                       \
        return pfx##_decode(c->msg.data, c->msg.len, NULL, &r);                                    \
    }
/* Decoders with an arena (one per decode, as the protocol layers use them). */
#define CODEC_ARENA(id, T, pfx)                                                                    \
    static int id##_enc(msg_case *c)                                                               \
    {                                                                                              \
        return pfx##_encode(c->m, &c->scratch, NULL);                                              \
    }                                                                                              \
    static int id##_dec(msg_case *c)                                                               \
    {                                                                                              \
        T r;                                                                                       \
        cairn_wire_arena a;                                                                        \
        cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);                                \
        int e = pfx##_decode(c->msg.data, c->msg.len, &a, NULL, &r);                               \
        cairn__wire_arena_destroy(&a);                                                             \
        return e;                                                                                  \
    }

CODEC_ARENA(ping, cairn_wire_ping, cairn__wire_ping)
CODEC_ARENA(indirect, cairn_wire_indirect_ping, cairn__wire_indirect_ping)
CODEC_PLAIN(nack, cairn_wire_nack, cairn__wire_nack)
CODEC_PLAIN(err, cairn_wire_err, cairn__wire_err)
CODEC_PLAIN(suspect, cairn_wire_suspect, cairn__wire_suspect)
CODEC_ARENA(alive, cairn_wire_alive, cairn__wire_alive)
CODEC_PLAIN(dead, cairn_wire_dead, cairn__wire_dead)
CODEC_PLAIN(leave, cairn_wire_serf_leave, cairn__wire_serf_leave)
CODEC_PLAIN(join, cairn_wire_serf_join, cairn__wire_serf_join)
CODEC_ARENA(uevent, cairn_wire_serf_user_event, cairn__wire_serf_user_event)
CODEC_ARENA(query, cairn_wire_serf_query, cairn__wire_serf_query)
CODEC_ARENA(qresp, cairn_wire_serf_query_response, cairn__wire_serf_query_response)
CODEC_ARENA(conflict, cairn_wire_serf_conflict_response, cairn__wire_serf_conflict_response)
CODEC_ARENA(keyreq, cairn_wire_serf_key_request, cairn__wire_serf_key_request)
CODEC_ARENA(keyresp, cairn_wire_serf_key_response, cairn__wire_serf_key_response)
CODEC_ARENA(relay, cairn_wire_serf_relay, cairn__wire_serf_relay)

/* ack carrying serf's coordinate: encode = the payload, then the ack (what
 * serf's AckPayload and memberlist's ack do); decode = both layers. */
static int ack_enc(msg_case *c)
{
    const cairn_coord *coord = c->m;
    uint8_t pl[256];
    if (cairn__wire_coord_encode(coord, &c->scratch, NULL) || c->scratch.len > sizeof(pl))
        return -1;
    size_t n = c->scratch.len;
    memcpy(pl, c->scratch.data, n);
    cairn_buf_reset(&c->scratch);
    cairn_wire_ack ack = {{pl, n}, 7};
    return cairn__wire_ack_encode(&ack, &c->scratch, NULL);
}

static int ack_dec(msg_case *c)
{
    cairn_wire_ack ack;
    cairn_coord coord;
    int e = cairn__wire_ack_decode(c->msg.data, c->msg.len, NULL, NULL, &ack);
    return e ? e : cairn__wire_coord_decode(ack.payload.p, ack.payload.len, NULL, &coord);
}

/* Push-pull at N members: memberlist's 06 stream with serf's 02 state. */
typedef struct pp_input {
    cairn_wire_push_node *nodes;
    cairn_wire_serf_status_ltime *st;
    char (*names)[32];
    size_t n;
    cairn_wire_serf_event_slot slots[CAIRN_WIRE_SERF_RING];
    cairn_span left[1];
    cairn_buf state; /* scratch for the serf state when encoding */
} pp_input;

static int pp_enc(msg_case *c)
{
    pp_input *in = (pp_input *)c->m;
    cairn_wire_serf_pushpull sp = {
        7, in->slots, CAIRN_WIRE_SERF_RING, (uint64_t)in->n + 3, in->left, 0, 2, in->st, in->n};
    cairn_buf_reset(&in->state);
    int e = cairn__wire_serf_pushpull_encode(&sp, &in->state, NULL);
    if (e)
        return e;
    cairn_wire_pushpull pp = {{false, (uint32_t)in->n, (uint32_t)in->state.len},
                              in->nodes,
                              in->n,
                              {in->state.data, in->state.len}};
    return cairn__wire_pushpull_encode(&pp, &c->scratch, NULL);
}

static int pp_dec(msg_case *c)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_wire_pushpull pp;
    cairn_wire_serf_pushpull sp;
    int e = cairn__wire_pushpull_decode(c->msg.data, c->msg.len, &a, NULL, &pp);
    if (e == 0)
        e = cairn__wire_serf_pushpull_decode(pp.user_state.p, pp.user_state.len, &a, NULL, &sp);
    cairn__wire_arena_destroy(&a);
    return e;
}

/* Fixtures shared by the messages. */
static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
static const uint8_t ip4[4] = {10, 0, 0, 1};
static uint8_t meta[128];
static size_t meta_len;

static void make_meta(void)
{
    cairn_wire_tag tags[4] = {{CAIRN_SPAN_LIT("build"), CAIRN_SPAN_LIT("0.9.4:d7a8a2c5")},
                              {CAIRN_SPAN_LIT("dc"), CAIRN_SPAN_LIT("dc1")},
                              {CAIRN_SPAN_LIT("port"), CAIRN_SPAN_LIT("8300")},
                              {CAIRN_SPAN_LIT("role"), CAIRN_SPAN_LIT("consul")}};
    cairn_buf m;
    cairn_buf_init(&m, 512);
    check(cairn__wire_tags_encode(tags, 4, &m, NULL), "tags");
    memcpy(meta, m.data, m.len);
    meta_len = m.len;
    cairn_buf_destroy(&m);
}

static pp_input *pp_new(size_t n)
{
    pp_input *in = calloc(1, sizeof(*in));
    in->n = n;
    in->nodes = calloc(n, sizeof(*in->nodes));
    in->st = calloc(n, sizeof(*in->st));
    in->names = calloc(n, sizeof(*in->names));
    for (size_t k = 0; k < n; k++) {
        snprintf(in->names[k], sizeof(in->names[k]), "node-%05zu.dc1", k);
        in->nodes[k] = (cairn_wire_push_node){{ip4, 4},
                                              (uint32_t)(k % 7 + 1),
                                              {meta, meta_len},
                                              cairn__span_str(in->names[k]),
                                              7946,
                                              (int32_t)(k % 4 == 3 ? 1 : 0),
                                              {vsn, 6}};
        in->st[k] = (cairn_wire_serf_status_ltime){cairn__span_str(in->names[k]), k + 1};
    }
    cairn_buf_init(&in->state, 1 << 24);
    return in;
}

static void pp_free(pp_input *in)
{
    cairn_buf_destroy(&in->state);
    free(in->nodes);
    free(in->st);
    free(in->names);
    free(in);
}

/* run_case encodes c->m once into c->msg with c->enc, writes it to
 * DIR/<name>.bin and measures <name>_encode and <name>_decode. */
static void run_case(msg_case *c)
{
    cairn_buf_init(&c->msg, 1 << 26);
    cairn_buf_init(&c->scratch, 1 << 26);
    cairn_buf_reset(&c->scratch);
    check(c->enc(c), c->name);
    check(cairn_buf_append(&c->msg, c->scratch.data, c->scratch.len), "copy");
    check(c->dec(c), c->name);
    char file[128], fig[128];
    snprintf(file, sizeof(file), "%s.bin", c->name);
    write_file(file, c->msg.data, c->msg.len);
    snprintf(fig, sizeof(fig), "%s_encode", c->name);
    measure(fig, run_enc, c, c->msg.len);
    snprintf(fig, sizeof(fig), "%s_decode", c->name);
    measure(fig, run_dec, c, c->msg.len);
}

/* ---- gossip compound (alives packed into one 1,400-byte packet) ---- */

typedef struct gossip_ctx {
    cairn_wire_alive alive[64];
    char names[64][32];
    size_t n;
    cairn_buf packet, scratch;
    /* Where the compound starts in scratch after gossip_encode. */
    size_t mark;
    int count;
} gossip_ctx;

static void gossip_setup(gossip_ctx *g)
{
    cairn_buf parts;
    cairn_buf_init(&parts, 1 << 16);
    cairn_buf_init(&g->packet, 1 << 16);
    cairn_buf_init(&g->scratch, 1 << 16);
    cairn_compound probe;
    cairn__compound_init(&probe, CAIRN_PACKET_UDP_BUDGET);
    for (size_t k = 0; k < 64; k++) {
        snprintf(g->names[k], sizeof(g->names[k]), "node-%04zu.dc1", k);
        g->alive[k] = (cairn_wire_alive){
            {ip4, 4}, (uint32_t)(k + 1), {meta, meta_len}, cairn__span_str(g->names[k]),
            7946,     {vsn, 6}};
        size_t at = parts.len;
        check(cairn__wire_alive_encode(&g->alive[k], &parts, NULL), "alive");
        if (cairn__compound_add(&probe, parts.data + at, parts.len - at) != 0)
            break;
        g->n = k + 1;
    }
    cairn_buf_destroy(&parts);
}

static int gossip_encode(void *ctx)
{
    gossip_ctx *g = ctx;
    cairn_buf_reset(&g->scratch);
    /* The packer borrows pointers into scratch and the compound is written
     * into it too: room for both up front, so it never moves meanwhile. */
    if (cairn_buf_reserve(&g->scratch, 4 * CAIRN_PACKET_UDP_BUDGET) != 0)
        return -1;
    size_t offs[65];
    for (size_t k = 0; k < g->n; k++) {
        offs[k] = g->scratch.len;
        if (cairn__wire_alive_encode(&g->alive[k], &g->scratch, NULL))
            return -1;
    }
    offs[g->n] = g->scratch.len;
    cairn_compound c;
    cairn__compound_init(&c, CAIRN_PACKET_UDP_BUDGET);
    for (size_t k = 0; k < g->n; k++)
        if (cairn__compound_add(&c, g->scratch.data + offs[k], offs[k + 1] - offs[k]))
            return -1;
    g->mark = g->scratch.len;
    return cairn__compound_write(&c, false, &g->scratch);
}

static void on_alive(uint8_t type, const uint8_t *body, size_t len, void *ud)
{
    gossip_ctx *g = ud;
    cairn_wire_alive a;
    /* The type byte sits just before the body inside the packet. */
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

/* ---- LZW (memberlist's compress message) and AES-GCM ---- */

typedef struct frame_ctx {
    const uint8_t *in;
    size_t n;
    cairn_buf wrapped; /* 09 + compress body, or the AES sealing */
    cairn_buf out;
    cairn_keyring *ring;
} frame_ctx;

static int lzw_enc(void *p)
{
    frame_ctx *c = p;
    cairn_buf_reset(&c->out);
    return cairn__compress_wrap(c->in, c->n, &c->out);
}

static int lzw_dec(void *p)
{
    frame_ctx *c = p;
    cairn_buf_reset(&c->out);
    int e = cairn__compress_unwrap(c->wrapped.data + 1, c->wrapped.len - 1, 0, &c->out, NULL);
    return e ? e : (c->out.len == c->n ? 0 : -1);
}

static int aes_enc(void *p)
{
    frame_ctx *c = p;
    cairn_buf_reset(&c->out);
    return cairn__keyring_encrypt(c->ring, 1, NULL, 0, c->in, c->n, &c->out);
}

static int aes_dec(void *p)
{
    frame_ctx *c = p;
    cairn_buf_reset(&c->out);
    int e =
        cairn__keyring_decrypt(c->ring, NULL, 0, c->wrapped.data, c->wrapped.len, &c->out, NULL);
    return e ? e : (c->out.len == c->n ? 0 : -1);
}

static void frame_figures(const char *src, const uint8_t *in, size_t n, cairn_keyring *ring)
{
    frame_ctx c = {in, n, {0}, {0}, ring};
    char file[128], fig[128];
    cairn_buf_init(&c.wrapped, 1 << 26);
    cairn_buf_init(&c.out, 1 << 26);
    check(cairn__compress_wrap(in, n, &c.wrapped), "lzw");
    snprintf(file, sizeof(file), "lzw_%s.bin", src);
    write_file(file, c.wrapped.data, c.wrapped.len);
    snprintf(fig, sizeof(fig), "lzw_%s_compress", src);
    measure(fig, lzw_enc, &c, n);
    snprintf(fig, sizeof(fig), "lzw_%s_decompress", src);
    measure(fig, lzw_dec, &c, n);

    cairn_buf_reset(&c.wrapped);
    check(cairn__keyring_encrypt(ring, 1, NULL, 0, in, n, &c.wrapped), "aes");
    snprintf(file, sizeof(file), "aes_%s.bin", src);
    write_file(file, c.wrapped.data, c.wrapped.len);
    snprintf(fig, sizeof(fig), "aes_%s_encrypt", src);
    measure(fig, aes_enc, &c, n);
    snprintf(fig, sizeof(fig), "aes_%s_decrypt", src);
    measure(fig, aes_dec, &c, n);
    cairn_buf_destroy(&c.wrapped);
    cairn_buf_destroy(&c.out);
}

/* ---- Vivaldi client update ---- */

#define PEERS 64

typedef struct coord_ctx {
    cairn_coord_client *client;
    cairn_coord peers[PEERS];
    char names[PEERS][16];
    cairn_time rtts[PEERS];
    int next;
} coord_ctx;

static int coord_update(void *p)
{
    coord_ctx *c = p;
    int k = c->next;
    c->next = (k + 1) % PEERS;
    return cairn_coord_client_update(c->client, c->names[k], &c->peers[k], c->rtts[k]);
}

/* Same peers as bench_coord.c: seeded random 8-d coordinates, 1..100 ms. */
static void coord_figure(void)
{
    static coord_ctx c;
    cairn_coord_config cfg = cairn_coord_config_default();
    cairn_rng rng;
    cairn_rng_init(&rng, 2026);
    char path[4096];
    snprintf(path, sizeof(path), "%s/coord_peers.txt", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        check(CAIRN_EIO, path);
    for (int p = 0; p < PEERS; p++) {
        cairn_coord_init(&cfg, &c.peers[p]);
        for (int k = 0; k < CAIRN_COORD_MAX_DIM; k++)
            c.peers[p].vec[k] = cairn_rng_double(&rng) * 0.05;
        c.peers[p].error = 0.2 + cairn_rng_double(&rng);
        snprintf(c.names[p], sizeof(c.names[p]), "peer-%d", p);
        c.rtts[p] = CAIRN_MSEC + (cairn_time)cairn_rng_below(&rng, 99 * CAIRN_MSEC);
        fprintf(f, "%s %lld %.17g %.17g %.17g", c.names[p], (long long)c.rtts[p], c.peers[p].error,
                c.peers[p].height, c.peers[p].adjustment);
        for (int k = 0; k < CAIRN_COORD_MAX_DIM; k++)
            fprintf(f, " %.17g", c.peers[p].vec[k]);
        fprintf(f, "\n");
    }
    fclose(f);
    check(cairn_coord_client_new(&cfg, &c.client), "coord client");
    measure("coord_update", coord_update, &c, 0);
    cairn_coord_client_delete(c.client);
}

/* ---- the message table ---- */

static void message_figures(void)
{
    static cairn_wire_ping ping = {
        CAIRN_SPAN_LIT("node-0001.dc1"), 4242, {ip4, 4}, CAIRN_SPAN_LIT("node-0000.dc1"), 7946};
    static cairn_wire_indirect_ping ind = {
        true,     CAIRN_SPAN_LIT("node-0001.dc1"), 7946, 4242,
        {ip4, 4}, CAIRN_SPAN_LIT("node-0000.dc1"), 7946, {ip4, 4}};
    static cairn_wire_nack nk = {4242};
    static cairn_wire_err er = {CAIRN_SPAN_LIT("Unknown message type: 42")};
    static cairn_wire_suspect sus = {CAIRN_SPAN_LIT("node-0000.dc1"), 17,
                                     CAIRN_SPAN_LIT("node-0001.dc1")};
    static cairn_wire_alive alv;
    alv = (cairn_wire_alive){{ip4, 4}, 17,      {meta, meta_len}, CAIRN_SPAN_LIT("node-0001.dc1"),
                             7946,     {vsn, 6}};
    static cairn_coord coord;
    coord.dim = 8;
    for (int k = 0; k < 8; k++)
        coord.vec[k] = 0.001 * (k + 1);
    coord.error = 0.4;
    coord.height = 2e-4;
    coord.adjustment = -1e-5;

    static cairn_wire_serf_leave lv = {99, CAIRN_SPAN_LIT("node-0001.dc1"), false};
    static cairn_wire_serf_join jn = {99, CAIRN_SPAN_LIT("node-0001.dc1")};
    static cairn_wire_serf_user_event ue = {
        true, 1234, CAIRN_SPAN_LIT("deploy"),
        CAIRN_SPAN_LIT("{\"rev\":\"9f2c1e0\",\"app\":\"web\"}")};
    /* A query with a node filter and a tag filter, as `serf query -node
     * -tag` sends. */
    static cairn_span fnodes[2] = {CAIRN_SPAN_LIT("node-0001.dc1"),
                                   CAIRN_SPAN_LIT("node-0002.dc1")};
    static cairn_wire_serf_filter f1 = {CAIRN_WIRE_SERF_FILTER_NODE, fnodes, 2, {0}, {0}};
    static cairn_wire_serf_filter f2 = {CAIRN_WIRE_SERF_FILTER_TAG, NULL, 0,
                                        CAIRN_SPAN_LIT("^web$"), CAIRN_SPAN_LIT("role")};
    static cairn_buf fb;
    static cairn_span filters[2];
    cairn_buf_init(&fb, 1024);
    check(cairn__wire_serf_filter_encode(&f1, &fb, NULL), "filter");
    size_t f1len = fb.len;
    check(cairn__wire_serf_filter_encode(&f2, &fb, NULL), "filter");
    filters[0] = (cairn_span){fb.data, f1len};
    filters[1] = (cairn_span){fb.data + f1len, fb.len - f1len};
    static cairn_wire_serf_query q;
    q = (cairn_wire_serf_query){{ip4, 4},
                                filters,
                                2,
                                CAIRN_WIRE_SERF_QUERY_ACK,
                                0x5eed,
                                77,
                                CAIRN_SPAN_LIT("uptime"),
                                CAIRN_SPAN_LIT("payload-bytes"),
                                7946,
                                2,
                                CAIRN_SPAN_LIT("node-0000.dc1"),
                                (int64_t)15 * CAIRN_SEC};
    static cairn_wire_serf_query_response qr = {0, CAIRN_SPAN_LIT("node-0001.dc1"), 0x5eed, 77,
                                                CAIRN_SPAN_LIT("up 3 days, 4:05")};
    static cairn_wire_tag mtags[3] = {{CAIRN_SPAN_LIT("dc"), CAIRN_SPAN_LIT("dc1")},
                                      {CAIRN_SPAN_LIT("port"), CAIRN_SPAN_LIT("8300")},
                                      {CAIRN_SPAN_LIT("role"), CAIRN_SPAN_LIT("consul")}};
    static cairn_wire_serf_conflict_response cr = {
        true, {{ip4, 4}, 5, 5, 2, CAIRN_SPAN_LIT("node-0001.dc1"), 7946, 5, 5, 2, 1, mtags, 3}};
    static const uint8_t key[32] = "bench-key-0123456789abcdefghijkl";
    static cairn_wire_serf_key_request kq = {{key, 32}};
    static cairn_span keys[2] = {CAIRN_SPAN_LIT("YmVuY2gta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGlqa2w="),
                                 CAIRN_SPAN_LIT("T3RoZXIta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGlqa2w=")};
    static cairn_wire_serf_key_response kr = {keys, 2, {0}, {0}, true};
    kr.primary_key = keys[0];
    static cairn_buf inner;
    cairn_buf_init(&inner, 1024);
    check(cairn__wire_serf_query_response_encode(&qr, &inner, NULL), "inner");
    static cairn_wire_serf_relay rl;
    rl = (cairn_wire_serf_relay){
        {ip4, 4}, 7946, {0}, CAIRN_SPAN_LIT("node-0000.dc1"), {inner.data, inner.len}};

    static msg_case cases[] = {
        {"ml_ping", ping_enc, ping_dec, &ping, {0}, {0}},
        {"ml_indirect_ping", indirect_enc, indirect_dec, &ind, {0}, {0}},
        {"ml_ack_coord", ack_enc, ack_dec, &coord, {0}, {0}},
        {"ml_suspect", suspect_enc, suspect_dec, &sus, {0}, {0}},
        {"ml_alive", alive_enc, alive_dec, &alv, {0}, {0}},
        {"ml_dead", dead_enc, dead_dec, &sus, {0}, {0}},
        {"ml_nack", nack_enc, nack_dec, &nk, {0}, {0}},
        {"ml_err", err_enc, err_dec, &er, {0}, {0}},
        {"serf_leave", leave_enc, leave_dec, &lv, {0}, {0}},
        {"serf_join", join_enc, join_dec, &jn, {0}, {0}},
        {"serf_user_event", uevent_enc, uevent_dec, &ue, {0}, {0}},
        {"serf_query", query_enc, query_dec, &q, {0}, {0}},
        {"serf_query_response", qresp_enc, qresp_dec, &qr, {0}, {0}},
        {"serf_conflict_response", conflict_enc, conflict_dec, &cr, {0}, {0}},
        {"serf_key_request", keyreq_enc, keyreq_dec, &kq, {0}, {0}},
        {"serf_key_response", keyresp_enc, keyresp_dec, &kr, {0}, {0}},
        {"serf_relay", relay_enc, relay_dec, &rl, {0}, {0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
        cairn_buf_destroy(&cases[i].msg);
        cairn_buf_destroy(&cases[i].scratch);
    }
    cairn_buf_destroy(&fb);
    cairn_buf_destroy(&inner);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gocmp_codec DIR (see bench/go/run.sh)\n");
        return 2;
    }
    dir = argv[1];
    const char *s = getenv("GOCMP_SECONDS");
    if (s != NULL && atof(s) > 0)
        seconds = atof(s);
    s = getenv("GOCMP_RUNS");
    if (s != NULL && atoi(s) > 0 && atoi(s) <= 16)
        runs = atoi(s);
    cairn_allocator counting = {count_malloc, count_realloc, count_free, NULL};
    check(cairn_set_allocator(&counting), "allocator");
    make_meta();

    message_figures();

    /* Push-pull at 10, 1,000 and 10,000 members; the 1,000 one is also an
     * LZW / AES-GCM source. */
    static const size_t sizes[3] = {10, 1000, 10000};
    cairn_buf pp1000;
    cairn_buf_init(&pp1000, 1 << 26);
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof(name), "ml_pushpull_%zu", sizes[i]);
        pp_input *in = pp_new(sizes[i]);
        msg_case c = {name, pp_enc, pp_dec, in, {0}, {0}};
        run_case(&c);
        if (sizes[i] == 1000)
            check(cairn_buf_append(&pp1000, c.msg.data, c.msg.len), "copy");
        cairn_buf_destroy(&c.msg);
        cairn_buf_destroy(&c.scratch);
        pp_free(in);
    }

    static gossip_ctx g;
    gossip_setup(&g);
    check(gossip_encode(&g), "compound");
    check(cairn_buf_append(&g.packet, g.scratch.data + g.mark, g.scratch.len - g.mark), "copy");
    write_file("gossip_compound.bin", g.packet.data, g.packet.len);
    measure("gossip_compound_encode", gossip_encode, &g, g.packet.len);
    measure("gossip_compound_decode", gossip_decode, &g, g.packet.len);

    static const uint8_t key[32] = "bench-key-0123456789abcdefghijkl";
    write_file("aes.key", key, sizeof(key));
    cairn_keyring *ring;
    check(cairn_keyring_new(key, 32, &ring), "keyring");
    frame_figures("gossip_compound", g.packet.data, g.packet.len, ring);
    frame_figures("ml_pushpull_1000", pp1000.data, pp1000.len, ring);
    cairn_keyring_delete(ring);
    cairn_buf_destroy(&pp1000);
    cairn_buf_destroy(&g.packet);
    cairn_buf_destroy(&g.scratch);

    coord_figure();
    return 0;
}
