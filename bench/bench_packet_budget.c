/* The work one UDP packet can cause (issue 8): the worst packets we can
 * build, each decoded as memberlist does (cairn__packet_decode, every
 * delivered message decoded with cairn__wire_msg_decode), next to a baseline
 * measured in the same run: a legitimate packet of the same size (a
 * compound of alive messages with 64-byte meta, sent plain).
 * One JSON object per line:
 *   {"name":..., "bytes":..., "us_per_packet":..., "baseline":...,
 *    "baseline_us_per_packet":..., "ratio":...}
 * Each figure runs for about 0.3 s. docs/limits.md quotes the results.
 * With `--dump DIR` it writes each worst packet to DIR/hostile_<name> in
 * the fuzz_packet corpus format (a mode byte 0, then the packet) instead:
 * that is how fuzz/corpus/packet/hostile_* were made. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_sweep.h"
#include "wire/frame.h"
#include "wire/lzw.h"
#include "wire/msg.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_msg(uint8_t type, const uint8_t *body, size_t len, void *ud)
{
    static uint8_t buf[CAIRN_PACKET_MAX_RECV + 1];
    cairn_wire_arena *arena = ud;
    buf[0] = type;
    memcpy(buf + 1, body, len);
    cairn_wire_msg m;
    (void)cairn__wire_msg_decode(buf, len + 1, arena, NULL, &m);
    cairn__wire_arena_destroy(arena);
}

/* µs per decode of pkt, run for ~0.3 s. */
static double us_per_packet(const cairn_buf *pkt)
{
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cairn_wire_arena arena;
    cairn__wire_arena_init(&arena, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    long n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 8; i++) {
            cairn_packet_stats st = {0};
            (void)cairn__packet_decode(&cfg, pkt->data, pkt->len, on_msg, &arena, &st, NULL);
        }
        n += 8;
        t = now_s();
    } while (t - t0 < 0.3);
    cairn__wire_arena_destroy(&arena);
    return (t - t0) * 1e6 / (double)n;
}

static void put_compress(cairn_buf *out, const uint8_t *lzw, size_t n)
{
    const uint8_t head[] = {9, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0, 0xa3, 'B', 'u', 'f', 0xc5};
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    cairn_buf_append(out, head, sizeof head);
    cairn_buf_append(out, len, 2);
    cairn_buf_append(out, lzw, n);
}

static void put_compound(cairn_buf *out, const uint8_t *part, size_t n, size_t parts)
{
    uint8_t h[2] = {7, (uint8_t)parts};
    cairn_buf_append(out, h, 2);
    for (size_t i = 0; i < parts; i++) {
        uint8_t l[2] = {(uint8_t)(n >> 8), (uint8_t)n};
        cairn_buf_append(out, l, 2);
    }
    for (size_t i = 0; i < parts; i++)
        cairn_buf_append(out, part, n);
}

/* A legitimate packet of about `size` bytes: a compound of alive messages. */
static void legit(cairn_buf *out, size_t size)
{
    static const uint8_t ip[4] = {10, 0, 0, 1}, vsn[6] = {1, 5, 2, 2, 5, 4};
    /* Meta sized so that at most 255 parts fill `size`. */
    static uint8_t meta[512];
    memset(meta, 'm', sizeof meta);
    size_t meta_len = size / 255 > 120 ? size / 255 - 80 : 40;
    if (meta_len > CAIRN_WIRE_META_MAX)
        meta_len = CAIRN_WIRE_META_MAX;
    cairn_buf one;
    cairn_buf_init(&one, 4096);
    cairn_wire_alive a = {.addr = {ip, 4},
                          .incarnation = 7,
                          .meta = {meta, meta_len},
                          .node = cairn__span_str("node-0123.dc1"),
                          .port = 7946,
                          .vsn = {vsn, 6}};
    cairn__wire_alive_encode(&a, &one, NULL);
    size_t parts = (size - 2) / (one.len + 2);
    if (parts < 1)
        parts = 1;
    if (parts > 255)
        parts = 255;
    if (size <= one.len) {
        cairn_buf_append(out, one.data, one.len);
    } else {
        put_compound(out, one.data, one.len, parts);
    }
    cairn_buf_destroy(&one);
}

static const char *dump_dir;

static void figure(const char *name, const cairn_buf *pkt)
{
    if (dump_dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/hostile_%s", dump_dir, name);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fputc(0, f) == EOF || fwrite(pkt->data, 1, pkt->len, f) != pkt->len) {
            perror(path);
            exit(1);
        }
        fclose(f);
        return;
    }
    cairn_buf base;
    cairn_buf_init(&base, 1 << 20);
    legit(&base, pkt->len);
    double w = us_per_packet(pkt), b = us_per_packet(&base);
    printf("{\"name\":\"%s\",\"bytes\":%zu,\"us_per_packet\":%.1f,"
           "\"baseline\":\"legit compound of alive messages, %zu bytes\","
           "\"baseline_us_per_packet\":%.1f,\"ratio\":%.2f}\n",
           name, pkt->len, w, base.len, b, w / b);
    fflush(stdout);
    cairn_buf_destroy(&base);
}

/* µs to read one stream message (type, as memberlist's first step) with
 * decompression capped at CAIRN_ML_STREAM_DECOMPRESSED_MAX (20 MiB). */
static double us_per_stream_msg(const cairn_buf *msg)
{
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cfg.max_decompressed = (size_t)20 * 1024 * 1024;
    long n = 0;
    double t0 = now_s(), t;
    do {
        cairn_stream_rd *rd;
        if (cairn__stream_rd_new(&cfg, &rd) != 0)
            exit(1);
        uint8_t type;
        (void)cairn__stream_rd_feed(rd, msg->data, msg->len);
        (void)cairn__stream_rd_type(rd, &type, NULL);
        cairn__stream_rd_delete(rd);
        n++;
        t = now_s();
    } while (t - t0 < 0.3);
    return (t - t0) * 1e6 / (double)n;
}

/* The worst stream input: one compress message that expands past the
 * 20 MiB cap (~64 KB of LZW), next to a legitimate compressed message of
 * 20 MiB (the largest push/pull memberlist accepts) and to a legitimate
 * one of the same input size. */
static void stream_figure(void)
{
    static uint8_t bomb[70000];
    size_t bn = lzw_bomb(bomb, sizeof bomb, 40000);
    cairn_buf msg, plain, base;
    cairn_buf_init(&msg, 1 << 20);
    cairn_buf_init(&plain, (size_t)32 << 20);
    cairn_buf_init(&base, (size_t)32 << 20);
    put_compress(&msg, bomb, bn);
    while (plain.len < ((size_t)20 << 20) - 70000)
        legit(&plain, 65000);
    cairn__compress_wrap(plain.data, plain.len, &base);
    double w = us_per_stream_msg(&msg), b = us_per_stream_msg(&base);
    printf("{\"name\":\"stream_bomb_over_20mib_cap\",\"bytes\":%zu,\"us_per_packet\":%.1f,"
           "\"baseline\":\"legit compressed stream message expanding to %zu bytes (%zu in)\","
           "\"baseline_us_per_packet\":%.1f,\"ratio\":%.2f}\n",
           msg.len, w, plain.len, base.len, b, w / b);
    cairn_buf_destroy(&msg);
    cairn_buf_destroy(&plain);
    cairn_buf_destroy(&base);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump") == 0)
        dump_dir = argv[2];
    static uint8_t bomb[8192];
    size_t bn = lzw_bomb(bomb, sizeof bomb, 0); /* 5.6 KB -> 7.4 MB */
    cairn_buf part, pkt, z;
    cairn_buf_init(&part, 1 << 20);
    cairn_buf_init(&pkt, 1 << 20);
    cairn_buf_init(&z, 1 << 20);

    /* One capped bomb (issue: 180 ms each before). */
    put_compress(&pkt, bomb, bn);
    figure("one_lzw_bomb", &pkt);

    /* A compound of eight bombs. */
    cairn_buf_reset(&part);
    put_compress(&part, bomb, bn);
    cairn_buf_reset(&pkt);
    put_compound(&pkt, part.data, part.len, 8);
    figure("compound_of_8_bombs", &pkt);

    /* compress(compound(8 x compress(bomb))): the 1.6 s packet. */
    cairn__lzw_compress(pkt.data, pkt.len, &z);
    cairn_buf_reset(&pkt);
    put_compress(&pkt, z.data, z.len);
    figure("compressed_compound_of_8_bombs", &pkt);

    /* 255 small bombs (each ~230 bytes of LZW) in a compound. */
    size_t small = lzw_bomb(bomb, 230, 0);
    cairn_buf_reset(&part);
    put_compress(&part, bomb, small);
    cairn_buf_reset(&pkt);
    put_compound(&pkt, part.data, part.len, 255);
    figure("compound_of_255_small_bombs", &pkt);

    /* Bombs that fail at the end (EOF code cut): each decodes ~50 KB. */
    static uint8_t zeros[60000];
    cairn_buf_reset(&z);
    cairn__lzw_compress(zeros, sizeof zeros, &z);
    cairn_buf_reset(&part);
    put_compress(&part, z.data, z.len - 2);
    cairn_buf_reset(&pkt);
    size_t fit = 65000 / (part.len + 2);
    put_compound(&pkt, part.data, part.len, fit > 255 ? 255 : fit);
    figure("compound_of_255_failing_parts", &pkt);

    /* Nested compress, six levels, 64 KiB of zeros inside. */
    cairn_buf_reset(&pkt);
    cairn_buf_append(&pkt, zeros, 60000);
    for (int i = 0; i < 5; i++) {
        cairn_buf_reset(&z);
        cairn__compress_wrap(pkt.data, pkt.len, &z);
        cairn_buf_reset(&pkt);
        cairn_buf_append(&pkt, z.data, z.len);
    }
    figure("nested_compress_6_levels", &pkt);

    /* The largest packet of valid messages: a 64 KB compound of alives. */
    cairn_buf_reset(&pkt);
    legit(&pkt, 65000);
    figure("max_compound_of_alives", &pkt);

    /* 64 KB of garbage. */
    cairn_buf_reset(&pkt);
    for (size_t i = 0; i < 65000; i++) {
        uint8_t b = (uint8_t)(i * 131 + 17) | 0x80;
        cairn_buf_append(&pkt, &b, 1);
    }
    figure("max_garbage", &pkt);

    if (!dump_dir)
        stream_figure();
    cairn_buf_destroy(&part);
    cairn_buf_destroy(&pkt);
    cairn_buf_destroy(&z);
    return 0;
}
