/* Benchmark of the wire framing hot paths: LZW compress/decompress and
 * AES-GCM encrypt/decrypt, on a 1,400-byte gossip packet and a 100 KB
 * push-pull-like buffer, each next to an in-run baseline (zlib deflate at
 * level 1 / inflate for LZW; memcpy for AES-GCM). One JSON object per line:
 *   {"name":..., "bytes":..., "mb_per_s":..., "baseline":..., "baseline_mb_per_s":...,
 *    "ratio":...}
 * The inputs are msgpack-like text with repeated keys and names, like the
 * real messages. Each figure runs for about 0.3 s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "cairn/keyring.h"
#include "wire/lzw.h"
#include "wire/keyring_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fill buf with push-pull-like content: repeated node state maps with
 * varying names, addresses and incarnations. */
static void fill(uint8_t *buf, size_t n)
{
    static const char *keys[] = {"Addr", "Incarnation", "Meta", "Name", "Port", "State", "Vsn"};
    size_t o = 0;
    uint32_t x = 12345;
    while (o < n) {
        char rec[256];
        x = x * 1103515245u + 12345u;
        int l =
            snprintf(rec, sizeof rec,
                     "\x87%s\xa4\x7f%c%c%c%s\xce%c%c%s\xc4\x02\xff\x80%s\xa8node-%03u%"
                     "s\xcd\x1f\x0a%s%c%s\x96\x01\x05\x02\x02\x05\x05",
                     keys[0], 0, (char)(x >> 24), 1, keys[1], (char)(x >> 8), 7, keys[2], keys[3],
                     (unsigned)(x >> 16) % 1000, keys[4], keys[5], (char)(x % 3), keys[6]);
        for (int i = 0; i < l && o < n; i++)
            buf[o++] = (uint8_t)rec[i];
    }
}

typedef int (*op_fn)(void *ctx);

/* run op repeatedly for ~0.3 s; returns MB/s of `bytes` per op. */
static double rate(op_fn op, void *ctx, size_t bytes)
{
    long iters = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 16; i++)
            if (op(ctx) != 0) {
                fprintf(stderr, "bench_wire_frame: operation failed\n");
                exit(1);
            }
        iters += 16;
        t = now_s();
    } while (t - t0 < 0.3);
    return (double)bytes * (double)iters / (t - t0) / 1e6;
}

typedef struct ctx {
    const uint8_t *in;
    size_t n;
    cairn_buf out;
    const uint8_t *comp; /* compressed form for decompress */
    size_t comp_n;
    uint8_t *scratch;
    size_t scratch_n;
    cairn_keyring *ring;
} ctx;

static int lzw_c(void *p)
{
    ctx *c = p;
    cairn_buf_reset(&c->out);
    return cairn__lzw_compress(c->in, c->n, &c->out);
}

static int lzw_d(void *p)
{
    ctx *c = p;
    cairn_buf_reset(&c->out);
    return cairn__lzw_decompress(c->comp, c->comp_n, 0, &c->out, NULL);
}

static int zlib_c(void *p)
{
    ctx *c = p;
    uLongf dl = (uLongf)c->scratch_n;
    return compress2(c->scratch, &dl, c->in, (uLong)c->n, 1) == Z_OK ? 0 : -1;
}

static int zlib_d(void *p)
{
    ctx *c = p;
    uLongf dl = (uLongf)c->scratch_n;
    return uncompress(c->scratch, &dl, c->comp, (uLong)c->comp_n) == Z_OK ? 0 : -1;
}

static int gcm_e(void *p)
{
    ctx *c = p;
    cairn_buf_reset(&c->out);
    return cairn__keyring_encrypt(c->ring, 1, NULL, 0, c->in, c->n, &c->out);
}

static int gcm_d(void *p)
{
    ctx *c = p;
    cairn_buf_reset(&c->out);
    return cairn__keyring_decrypt(c->ring, NULL, 0, c->comp, c->comp_n, &c->out, NULL);
}

static int copy(void *p)
{
    ctx *c = p;
    memcpy(c->scratch, c->in, c->n);
    __asm__ volatile("" : : "r"(c->scratch) : "memory");
    return 0;
}

static void report(const char *name, size_t bytes, double mbs, const char *base, double base_mbs,
                   double ratio_extra)
{
    printf("{\"name\":\"%s\",\"bytes\":%zu,\"mb_per_s\":%.1f,\"baseline\":\"%s\","
           "\"baseline_mb_per_s\":%.1f,\"ratio\":%.3f%s}\n",
           name, bytes, mbs, base, base_mbs, mbs / base_mbs, "");
    (void)ratio_extra;
}

int main(void)
{
    static const uint8_t key[32] = "bench-key-0123456789abcdefghijkl";
    size_t sizes[2] = {1400, 100 * 1000};
    const char *labels[2] = {"gossip_1400", "pushpull_100k"};
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s];
        uint8_t *in = malloc(n);
        fill(in, n);
        ctx c = {0};
        c.in = in;
        c.n = n;
        cairn_buf_init(&c.out, (size_t)1 << 26);
        c.scratch_n = compressBound((uLong)n) + n;
        c.scratch = malloc(c.scratch_n);
        char name[64];

        /* LZW */
        cairn_buf lz;
        cairn_buf_init(&lz, (size_t)1 << 26);
        if (cairn__lzw_compress(in, n, &lz) != 0)
            return 1;
        uLongf zl = (uLongf)c.scratch_n;
        uint8_t *z = malloc(c.scratch_n);
        compress2(z, &zl, in, (uLong)n, 1);
        double lc = rate(lzw_c, &c, n);
        double zc = rate(zlib_c, &c, n);
        snprintf(name, sizeof name, "lzw_compress_%s", labels[s]);
        report(name, n, lc, "zlib_deflate_l1", zc, 0);
        printf(
            "{\"name\":\"lzw_ratio_%s\",\"bytes\":%zu,\"lzw_bytes\":%zu,\"zlib_l1_bytes\":%lu}\n",
            labels[s], n, lz.len, (unsigned long)zl);
        c.comp = lz.data;
        c.comp_n = lz.len;
        double ld = rate(lzw_d, &c, n);
        c.comp = z;
        c.comp_n = zl;
        double zd = rate(zlib_d, &c, n);
        snprintf(name, sizeof name, "lzw_decompress_%s", labels[s]);
        report(name, n, ld, "zlib_inflate", zd, 0);

        /* AES-GCM (AES-256, v1) */
        if (cairn_keyring_new(key, 32, &c.ring) != 0)
            return 1;
        double mc = rate(copy, &c, n);
        double ge = rate(gcm_e, &c, n);
        snprintf(name, sizeof name, "aes256gcm_encrypt_%s", labels[s]);
        report(name, n, ge, "memcpy", mc, 0);
        cairn_buf ct;
        cairn_buf_init(&ct, (size_t)1 << 26);
        cairn__keyring_encrypt(c.ring, 1, NULL, 0, in, n, &ct);
        c.comp = ct.data;
        c.comp_n = ct.len;
        double gd = rate(gcm_d, &c, n);
        snprintf(name, sizeof name, "aes256gcm_decrypt_%s", labels[s]);
        report(name, n, gd, "memcpy", mc, 0);

        cairn_buf_destroy(&ct);
        cairn_buf_destroy(&lz);
        cairn_buf_destroy(&c.out);
        cairn_keyring_delete(c.ring);
        free(z);
        free(c.scratch);
        free(in);
    }
    return 0;
}
