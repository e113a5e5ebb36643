/* Unit tests for the framing layers of src/wire: CRC, the compress wrapper,
 * compound packing and splitting, the UDP packet pipeline and the TCP
 * stream reader/encoder. Go-made bytes come from tests/vectors/wire_frame
 * (see its README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/alloc.h"
#include "cairn/keyring.h"
#include "wire/lzw.h"
#include "cairn/rng.h"
#include "wire/frame.h"
#include "alloc_sweep.h"
#include "wire_frame_vec.h"
#include "base/alloc_test.h"

#define BIG ((size_t)1 << 28)

static uint8_t KEY[32], KEY2[16];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++)
        KEY[i] = (uint8_t)i;
    memcpy(KEY2, "0123456789abcdef", 16);
    return 0;
}

/* ---- collected messages ---- */

typedef struct got {
    int n;
    uint8_t type[300];
    size_t len[300];
    uint8_t body[300][256];
} got;

static void collect(uint8_t type, const uint8_t *body, size_t len, void *ud)
{
    got *g = ud;
    assert_true(g->n < 300);
    g->type[g->n] = type;
    g->len[g->n] = len;
    memcpy(g->body[g->n], body, len < 256 ? len : 256);
    g->n++;
}

static void test_crc_vectors(void **state)
{
    (void)state;
    FILE *f = fopen(wfv_path(CAIRN_SOURCE_DIR, "crc_go.txt"), "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        uint8_t *in;
        long len = wfv_hex(line + 4, &in);
        unsigned want;
        assert_int_equal(sscanf(strchr(line + 4, ' '), " %x", &want), 1);
        assert_int_equal(cairn__crc32(in, (size_t)len), want);
        free(in);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 3);
}

static void test_compress_wrap_vectors(void **state)
{
    (void)state;
    FILE *f = fopen(wfv_path(CAIRN_SOURCE_DIR, "compress_go.txt"), "r");
    assert_non_null(f);
    static char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cairn_buf out, back;
        cairn_buf_init(&out, BIG);
        cairn_buf_init(&back, BIG);
        if (strncmp(line, "compress ", 9) == 0) {
            uint8_t *in, *want;
            long il = wfv_hex(line + 9, &in);
            long wl = wfv_hex(strchr(line + 9, ' ') + 1, &want);
            assert_int_equal(cairn__compress_wrap(in, (size_t)il, &out), 0);
            assert_int_equal(out.len, wl);
            assert_memory_equal(out.data, want, (size_t)wl);
            int r = cairn__compress_unwrap(out.data + 1, out.len - 1, 0, &back, NULL);
            if (il == 0) {
                assert_int_equal(r, CAIRN_EPROTO); /* empty decompressed buffer */
            } else {
                assert_int_equal(r, 0);
                assert_int_equal(back.len, il);
                assert_memory_equal(back.data, in, (size_t)il);
            }
            free(in);
            free(want);
        } else {
            /* compress_big_header HEX len N: a 70000-byte Buf uses str32 */
            uint8_t *want;
            long wl = wfv_hex(line + strlen("compress_big_header "), &want);
            size_t total;
            assert_int_equal(sscanf(strstr(line, " len "), " len %zu", &total), 1);
            uint8_t zero[16] = {0};
            /* Build the same message with our wrapper's header logic by
             * wrapping a raw buffer: we check the header shape only. */
            assert_int_equal(wl, 16);
            assert_memory_equal(want,
                                "\x09\x82\xa4"
                                "Algo"
                                "\x00\xa3"
                                "Buf"
                                "\xdb\x00\x01\x11",
                                16);
            assert_int_equal(total, 12 + 5 + 70000);
            (void)zero;
            free(want);
        }
        n++;
        cairn_buf_destroy(&out);
        cairn_buf_destroy(&back);
    }
    fclose(f);
    assert_int_equal(n, 4);
    /* Our wrapper switches to str16 and str32 at Go's thresholds. */
    cairn_rng rng;
    cairn_rng_init(&rng, 5);
    size_t sizes[] = {40, 70000};
    uint8_t heads[] = {0xda, 0xdb};
    for (int i = 0; i < 2; i++) {
        uint8_t *in = malloc(sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            in[k] = (uint8_t)cairn_rng_u64(&rng);
        cairn_buf out;
        cairn_buf_init(&out, BIG);
        assert_int_equal(cairn__compress_wrap(in, sizes[i], &out), 0);
        assert_int_equal(out.data[12], heads[i]);
        cairn_buf back;
        cairn_buf_init(&back, BIG);
        assert_int_equal(cairn__compress_unwrap(out.data + 1, out.len - 1, 0, &back, NULL), 0);
        assert_int_equal(back.len, sizes[i]);
        assert_memory_equal(back.data, in, sizes[i]);
        cairn_buf_destroy(&out);
        cairn_buf_destroy(&back);
        free(in);
    }
}

/* LZW of "TOBEORNOTTOBEORTOBEORNOT" (21 bytes). */
static const uint8_t TOBE_LZW[] = {0x00, 0xa9, 0x3c, 0x11, 0x52, 0xe4, 0x89, 0x14, 0x27, 0x4f, 0xa8,
                                   0x08, 0x24, 0x68, 0x70, 0x61, 0xc1, 0x83, 0x09, 0x03, 0x02};

static int unwrap_hex(const char *hex, cairn_buf *out, cairn_diag *d)
{
    uint8_t *b;
    long n = wfv_hex(hex, &b);
    assert_true(n >= 0);
    cairn_buf_reset(out);
    cairn_diag_clear(d);
    int r = cairn__compress_unwrap(b, (size_t)n, 0, out, d);
    free(b);
    return r;
}

static void test_compress_decode_variants(void **state)
{
    (void)state;
    cairn_buf out;
    cairn_buf_init(&out, BIG);
    cairn_diag d;
    const char *L = "00a93c1152e48914274fa80824687061c183090302";
    char hex[512];
    /* keys reversed, str8 Buf, unknown keys of several types, Algo as cd */
    snprintf(hex, sizeof hex, "84a3427566d915%sa1789301a17981c0c3a17ac0a4416c676fcd0000", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    assert_int_equal(out.len, 24);
    /* bin8, bin16, bin32 Buf */
    snprintf(hex, sizeof hex, "82a4416c676f00a3427566c415%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    snprintf(hex, sizeof hex, "82a4416c676f00a3427566c50015%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    snprintf(hex, sizeof hex, "82a4416c676f00a3427566c600000015%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    /* array form (declaration order) and map16 */
    snprintf(hex, sizeof hex, "9200b5%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    snprintf(hex, sizeof hex, "de0002a4416c676fc0a3427566b5%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    /* Algo 3 */
    snprintf(hex, sizeof hex, "82a4416c676f03a3427566b5%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), CAIRN_EPROTO);
    assert_string_equal(d.msg, "compress: Algo 3 unknown");
    /* Algo overflow, negative, not an integer */
    snprintf(hex, sizeof hex, "82a4416c676fcd0100a3427566b5%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), CAIRN_EPROTO);
    assert_string_equal(d.msg, "compress: Algo 256 overflows uint8");
    assert_int_equal(unwrap_hex("81a4416c676fff", &out, &d), CAIRN_EPROTO);
    assert_int_equal(unwrap_hex("81a4416c676fa0", &out, &d), CAIRN_EPROTO);
    /* Buf not raw */
    assert_int_equal(unwrap_hex("81a342756601", &out, &d), CAIRN_EPROTO);
    assert_non_null(strstr(d.msg, "Buf is not raw"));
    /* Buf truncated, map truncated, not a map, key not a string */
    assert_int_equal(unwrap_hex("81a3427566b5000102", &out, &d), CAIRN_EPROTO);
    assert_int_equal(unwrap_hex("82a4416c676f00", &out, &d), CAIRN_EPROTO);
    assert_int_equal(unwrap_hex("01", &out, &d), CAIRN_EPROTO);
    assert_int_equal(unwrap_hex("-", &out, &d), CAIRN_EPROTO);
    assert_int_equal(unwrap_hex("810100", &out, &d), CAIRN_EPROTO);
    /* missing Buf => empty LZW stream => unexpected EOF */
    assert_int_equal(unwrap_hex("81a4416c676f00", &out, &d), CAIRN_EPROTO);
    assert_non_null(strstr(d.msg, "lzw"));
    /* Empty decompressed buffer (memberlist #369): LZW of "" is 00 03 02 */
    assert_int_equal(unwrap_hex("82a4416c676f00a3427566a3000302", &out, &d), CAIRN_EPROTO);
    assert_string_equal(d.msg, "compress: decompressed buffer is empty");
    /* Keys are case-sensitive: "algo" is unknown and skipped */
    snprintf(hex, sizeof hex, "82a4616c676f03a3427566b5%s", L);
    assert_int_equal(unwrap_hex(hex, &out, &d), 0);
    cairn_buf_destroy(&out);
}

static void test_compound(void **state)
{
    (void)state;
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    assert_int_equal(cairn__packet_budget(&cfg), 1400);
    cairn_keyring *ring;
    assert_int_equal(cairn_keyring_new(KEY, 32, &ring), 0);
    cfg.keyring = ring;
    assert_int_equal(cairn__packet_budget(&cfg), 1371);
    cfg.enc_version = 0;
    assert_int_equal(cairn__packet_budget(&cfg), 1355);
    cfg.enc_version = 1;

    /* budget accounting: header 2 + (len + 2) per message */
    cairn_compound c;
    cairn__compound_init(&c, 1400);
    static uint8_t msg[1400];
    memset(msg, 4, sizeof msg);
    assert_int_equal(cairn__compound_add(&c, msg, 1000), 0);
    assert_true(cairn__compound_fits(&c, 394));
    assert_false(cairn__compound_fits(&c, 395));
    assert_int_equal(cairn__compound_add(&c, msg, 395), CAIRN_ENOSPC);
    assert_int_equal(cairn__compound_add(&c, msg, 394), 0);
    assert_int_equal(c.used, 1400);
    assert_int_equal(cairn__compound_add(&c, msg, 0), CAIRN_ENOSPC);
    /* 255 parts max */
    cairn__compound_init(&c, 100000);
    for (int i = 0; i < 255; i++)
        assert_int_equal(cairn__compound_add(&c, msg, 1), 0);
    assert_int_equal(cairn__compound_add(&c, msg, 1), CAIRN_ENOSPC);
    cairn__compound_init(&c, 1 << 20);
    assert_int_equal(cairn__compound_add(&c, msg, 70000), CAIRN_EMSGSIZE);

    /* wire format, and single_bare */
    cairn__compound_init(&c, 1400);
    const uint8_t a[] = {2, 0x80}, b[] = {4, 0x81, 0xa1, 'x', 1};
    assert_int_equal(cairn__compound_add(&c, a, sizeof a), 0);
    cairn_buf out;
    cairn_buf_init(&out, BIG);
    assert_int_equal(cairn__compound_write(&c, true, &out), 0);
    assert_int_equal(out.len, 2);
    cairn_buf_reset(&out);
    assert_int_equal(cairn__compound_add(&c, b, sizeof b), 0);
    assert_int_equal(cairn__compound_write(&c, true, &out), 0);
    const uint8_t want[] = {7, 2, 0, 2, 0, 5, 2, 0x80, 4, 0x81, 0xa1, 'x', 1};
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);

    /* decode: both delivered; then truncation drops the rest */
    cfg.keyring = NULL;
    cairn_packet_stats st = {0};
    got g = {0};
    assert_int_equal(cairn__packet_decode(&cfg, out.data, out.len, collect, &g, &st, NULL), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.type[0], 2);
    assert_int_equal(g.len[1], 4);
    memset(&g, 0, sizeof g);
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__packet_decode(&cfg, out.data, out.len - 1, collect, &g, &st, &d),
                     CAIRN_EPROTO);
    assert_int_equal(g.n, 1);
    assert_int_equal(st.truncated, 1);
    assert_non_null(strstr(d.msg, "compound: part 1 of 2 truncated"));
    /* three parts declared, the second overruns: 2 truncated */
    const uint8_t three[] = {7, 3, 0, 1, 0, 9, 0, 1, 2, 4, 4};
    memset(&g, 0, sizeof g);
    memset(&st, 0, sizeof st);
    cairn__packet_decode(&cfg, three, sizeof three, collect, &g, &st, NULL);
    assert_int_equal(g.n, 1);
    assert_int_equal(st.truncated, 2);
    /* short length table, missing count, empty part */
    const uint8_t shortlen[] = {7, 3, 0, 1, 0};
    const uint8_t nocount[] = {7};
    const uint8_t emptypart[] = {7, 2, 0, 0, 0, 1, 2};
    memset(&st, 0, sizeof st);
    memset(&g, 0, sizeof g);
    cairn__packet_decode(&cfg, shortlen, sizeof shortlen, collect, &g, &st, NULL);
    cairn__packet_decode(&cfg, nocount, sizeof nocount, collect, &g, &st, NULL);
    cairn__packet_decode(&cfg, emptypart, sizeof emptypart, collect, &g, &st, NULL);
    assert_int_equal(st.compound, 2);
    assert_int_equal(st.empty, 1);
    assert_int_equal(g.n, 1);
    cairn_buf_destroy(&out);
    cairn_keyring_delete(ring);
}

static void test_packet_pipeline(void **state)
{
    (void)state;
    cairn_keyring *ring;
    assert_int_equal(cairn_keyring_new(KEY, 32, &ring), 0);
    cairn_rng rng;
    cairn_rng_init(&rng, 99);
    static uint8_t msg[60000];
    for (int mode = 0; mode < 8; mode++) {
        cairn_frame_cfg cfg;
        cairn__frame_cfg_default(&cfg);
        cfg.compress = mode & 1;
        bool crc = mode & 2;
        cfg.keyring = (mode & 4) ? ring : NULL;
        size_t sizes[] = {1, 2, 30, 200, 1400, 20000, 60000};
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            size_t n = sizes[si];
            msg[0] = 4; /* alive */
            bool compressible = si % 2 == 0;
            for (size_t i = 1; i < n; i++)
                msg[i] = compressible ? (uint8_t)('a' + i % 7) : (uint8_t)cairn_rng_u64(&rng);
            cairn_buf pkt;
            cairn_buf_init(&pkt, BIG);
            assert_int_equal(cairn__packet_encode(&cfg, crc, msg, n, &pkt), 0);
            /* layers on the wire */
            size_t off = 0;
            if (mode & 4)
                assert_int_equal(pkt.data[0], 1);
            else {
                if (crc) {
                    assert_int_equal(pkt.data[0], 12);
                    off = 5;
                }
                bool shrank = pkt.len - off < n;
                assert_int_equal(pkt.data[off], shrank ? 9 : 4);
                if (!cfg.compress)
                    assert_int_equal(pkt.len - off, n);
                if (cfg.compress && n >= 1400 && compressible)
                    assert_true(shrank);
            }
            got g = {0};
            cairn_packet_stats st = {0};
            assert_int_equal(cairn__packet_decode(&cfg, pkt.data, pkt.len, collect, &g, &st, NULL),
                             pkt.len > CAIRN_PACKET_MAX_RECV ? CAIRN_EMSGSIZE : 0);
            if (pkt.len <= CAIRN_PACKET_MAX_RECV) {
                assert_int_equal(g.n, 1);
                assert_int_equal(g.type[0], 4);
                assert_int_equal(g.len[0], n - 1);
                assert_memory_equal(g.body[0], msg + 1, n - 1 < 256 ? n - 1 : 256);
            }
            cairn_buf_destroy(&pkt);
        }
    }
    cairn_keyring_delete(ring);
}

static void test_packet_hostile(void **state)
{
    (void)state;
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cairn_packet_stats st = {0};
    got g = {0};
    cairn_diag d;
    /* CRC mismatch, named */
    const uint8_t m[] = {4, 0x80};
    cairn_buf pkt;
    cairn_buf_init(&pkt, BIG);
    assert_int_equal(cairn__packet_encode(&cfg, true, m, sizeof m, &pkt), 0);
    pkt.data[6] ^= 1;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__packet_decode(&cfg, pkt.data, pkt.len, collect, &g, &st, &d),
                     CAIRN_ECRC);
    assert_int_equal(st.crc, 1);
    assert_int_equal(g.n, 0);
    assert_non_null(strstr(d.msg, "crc: mismatch (got 0x"));
    assert_non_null(strstr(d.msg, ", want 0x"));
    /* CRC only outermost: a CRC wrapper inside a compound is unsupported */
    const uint8_t inner[] = {7, 1, 0, 7, 12, 0, 0, 0, 0, 4, 0x80};
    cairn__packet_decode(&cfg, inner, sizeof inner, collect, &g, &st, NULL);
    assert_int_equal(st.unsupported, 1);
    /* short packet starting with 12 (< 5 bytes) is not a CRC wrapper */
    const uint8_t c12[] = {12, 0, 0};
    cairn__packet_decode(&cfg, c12, sizeof c12, collect, &g, &st, NULL);
    assert_int_equal(st.unsupported, 2);
    /* unknown, empty, too big */
    const uint8_t unk[] = {99};
    cairn__packet_decode(&cfg, unk, 1, collect, &g, &st, NULL);
    cairn__packet_decode(&cfg, unk, 0, collect, &g, &st, NULL);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(st.empty, 1);
    static uint8_t huge[CAIRN_PACKET_MAX_RECV + 1];
    assert_int_equal(cairn__packet_decode(&cfg, huge, sizeof huge, collect, &g, &st, NULL),
                     CAIRN_EMSGSIZE);
    assert_int_equal(st.too_big, 1);
    /* Algo 3 inside a packet */
    uint8_t a3[64] = {9, 0x82, 0xa4, 'A', 'l', 'g', 'o', 3, 0xa3, 'B', 'u', 'f', 0xb5};
    memcpy(a3 + 13, TOBE_LZW, sizeof TOBE_LZW);
    cairn_diag_clear(&d);
    cairn__packet_decode(&cfg, a3, 13 + sizeof TOBE_LZW, collect, &g, &st, &d);
    assert_string_equal(d.msg, "compress: Algo 3 unknown");
    assert_int_equal(st.compress, 1);
    /* nesting bomb: compress of compress of ... beyond the depth limit */
    cairn_buf a, b;
    cairn_buf_init(&a, BIG);
    cairn_buf_init(&b, BIG);
    assert_int_equal(cairn_buf_append(&a, m, sizeof m), 0);
    for (int i = 0; i < CAIRN_PACKET_MAX_DEPTH + 3; i++) {
        cairn_buf_reset(&b);
        assert_int_equal(cairn__compress_wrap(a.data, a.len, &b), 0);
        cairn_buf t = a;
        a = b;
        b = t;
    }
    memset(&g, 0, sizeof g);
    assert_int_equal(cairn__packet_decode(&cfg, a.data, a.len, collect, &g, &st, NULL),
                     CAIRN_ELIMIT);
    assert_int_equal(st.depth, 1);
    assert_int_equal(g.n, 0);
    cairn_buf_destroy(&a);
    cairn_buf_destroy(&b);
    cairn_buf_destroy(&pkt);
}

static void test_packet_encryption(void **state)
{
    (void)state;
    cairn_keyring *ring, *other;
    assert_int_equal(cairn_keyring_new(KEY, 32, &ring), 0);
    assert_int_equal(cairn_keyring_new(KEY2, 16, &other), 0);
    cairn_frame_cfg tx, rx;
    cairn__frame_cfg_default(&tx);
    cairn__frame_cfg_default(&rx);
    tx.keyring = ring;
    rx.keyring = other;
    const uint8_t m[] = {2, 0x80};
    cairn_buf pkt;
    cairn_buf_init(&pkt, BIG);
    assert_int_equal(cairn__packet_encode(&tx, false, m, sizeof m, &pkt), 0);
    assert_int_equal(pkt.len, 2 + 29);
    cairn_packet_stats st = {0};
    got g = {0};
    cairn_diag d;
    cairn_diag_clear(&d);
    /* wrong key */
    assert_int_equal(cairn__packet_decode(&rx, pkt.data, pkt.len, collect, &g, &st, &d),
                     CAIRN_EAUTH);
    assert_int_equal(st.decrypt, 1);
    assert_int_equal(g.n, 0);
    /* second key installed: tried after the primary */
    assert_int_equal(cairn_keyring_add(other, KEY, 32), 0);
    assert_int_equal(cairn__packet_decode(&rx, pkt.data, pkt.len, collect, &g, &st, NULL), 0);
    assert_int_equal(g.n, 1);
    /* tampered tag */
    pkt.data[pkt.len - 1] ^= 0x40;
    assert_int_equal(cairn__packet_decode(&rx, pkt.data, pkt.len, collect, &g, &st, NULL),
                     CAIRN_EAUTH);
    /* short buffer */
    assert_int_equal(cairn__packet_decode(&rx, pkt.data, 20, collect, &g, &st, NULL), CAIRN_EPROTO);
    assert_int_equal(st.decrypt, 3);
    /* verify_incoming off: plaintext accepted */
    rx.verify_incoming = false;
    assert_int_equal(cairn__packet_decode(&rx, m, sizeof m, collect, &g, &st, NULL), 0);
    assert_int_equal(st.plaintext, 1);
    assert_int_equal(g.n, 2);
    /* verify_outgoing off: nothing encrypted */
    tx.verify_outgoing = false;
    cairn_buf_reset(&pkt);
    assert_int_equal(cairn__packet_encode(&tx, false, m, sizeof m, &pkt), 0);
    assert_int_equal(pkt.len, 2);
    /* v0 sending */
    tx.verify_outgoing = true;
    tx.enc_version = 0;
    cairn_buf_reset(&pkt);
    assert_int_equal(cairn__packet_encode(&tx, true, m, sizeof m, &pkt), 0);
    assert_int_equal(pkt.data[0], 0);
    rx.verify_incoming = true;
    assert_int_equal(cairn__packet_decode(&rx, pkt.data, pkt.len, collect, &g, &st, NULL), 0);
    assert_int_equal(g.n, 3);
    cairn_buf_destroy(&pkt);
    cairn_keyring_delete(ring);
    cairn_keyring_delete(other);
}

/* LZW bomb wrapped as a compress message: rejected with bounded memory. */
static void test_bombs(void **state)
{
    (void)state;
    static uint8_t lzw[40000];
    size_t n = lzw_bomb(lzw, sizeof lzw - 16, 16000);
    static uint8_t pkt[40100];
    const uint8_t head[] = {9, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0, 0xa3, 'B', 'u', 'f', 0xda};
    memcpy(pkt, head, sizeof head);
    pkt[sizeof head] = (uint8_t)(n >> 8);
    pkt[sizeof head + 1] = (uint8_t)n;
    memcpy(pkt + sizeof head + 2, lzw, n);
    size_t plen = sizeof head + 2 + n;
    assert_true(plen < CAIRN_PACKET_MAX_RECV);
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cairn_packet_stats st = {0};
    got g = {0};
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__packet_decode(&cfg, pkt, plen, collect, &g, &st, &d), CAIRN_ELIMIT);
    assert_int_equal(st.decompress_limit, 1);
    assert_int_equal(g.n, 0);
    assert_non_null(strstr(d.msg, "lzw: output exceeds 65536 bytes"));
    /* Bounded memory, measured with the test allocator. */
    cairn__test_alloc_install();
    cairn__packet_decode(&cfg, pkt, plen, collect, &g, &st, NULL);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
    /* A compound of bombs shares one budget. */
    cfg.max_decompressed = 1 << 20;
    assert_int_equal(cairn__packet_decode(&cfg, pkt, plen, collect, &g, &st, NULL), CAIRN_ELIMIT);
    /* The stream path rejects the same bomb. */
    cairn__frame_cfg_default(&cfg);
    cairn_stream_rd *rd;
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, pkt, plen), 0);
    uint8_t t;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "lzw: output exceeds"));
    cairn__stream_rd_delete(rd);
    /* Empty decompressed buffer on both paths */
    const uint8_t empty[] = {9,    0x82, 0xa4, 'A', 'l',  'g', 'o', 0,
                             0xa3, 'B',  'u',  'f', 0xa3, 0,   3,   2};
    memset(&st, 0, sizeof st);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__packet_decode(&cfg, empty, sizeof empty, collect, &g, &st, &d),
                     CAIRN_EPROTO);
    assert_int_equal(st.empty, 1);
    assert_string_equal(d.msg, "compress: decompressed buffer is empty");
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, empty, sizeof empty), 0);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_EPROTO);
    assert_string_equal(d.msg, "stream: compress: decompressed buffer is empty");
    cairn__stream_rd_delete(rd);
}

/* Appends a compress message (09 {Algo: 0, Buf: lzw}) to out. */
static void put_compress(cairn_buf *out, const uint8_t *lzw, size_t n)
{
    const uint8_t head[] = {9, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0, 0xa3, 'B', 'u', 'f', 0xc5};
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    assert_int_equal(cairn_buf_append(out, head, sizeof head), 0);
    assert_int_equal(cairn_buf_append(out, len, 2), 0);
    assert_int_equal(cairn_buf_append(out, lzw, n), 0);
}

/* 07 n lens parts, all parts the same. */
static void put_compound(cairn_buf *out, const uint8_t *part, size_t n, size_t parts)
{
    uint8_t h[2] = {7, (uint8_t)parts};
    assert_int_equal(cairn_buf_append(out, h, 2), 0);
    for (size_t i = 0; i < parts; i++) {
        uint8_t l[2] = {(uint8_t)(n >> 8), (uint8_t)n};
        assert_int_equal(cairn_buf_append(out, l, 2), 0);
    }
    for (size_t i = 0; i < parts; i++)
        assert_int_equal(cairn_buf_append(out, part, n), 0);
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Issue 8, defect 2: one budget of decompressed bytes for the whole packet,
 * charged with the work of parts that fail. Before the fix a part that
 * failed (over the cap, or an invalid code) cost nothing, so each of eight
 * bombs in one compound ran to 40 MiB (1.6 s of CPU per packet). */
static void test_packet_budget_counts_failed_work(void **state)
{
    (void)state;
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    /* Eight parts, each 50,000 zeros compressed with the EOF code cut off:
     * each decodes ~50 KB and then fails. The first spends 50 KB of the
     * 64 KiB, the second runs out, the other six never start. */
    static uint8_t zeros[50000];
    cairn_buf z, part, pkt;
    cairn_buf_init(&z, 1 << 20);
    cairn_buf_init(&part, 1 << 20);
    cairn_buf_init(&pkt, 1 << 20);
    assert_int_equal(cairn__lzw_compress(zeros, sizeof zeros, &z), 0);
    put_compress(&part, z.data, z.len - 2);
    put_compound(&pkt, part.data, part.len, 8);
    cairn_packet_stats st = {0};
    got g = {0};
    assert_true(cairn__packet_decode(&cfg, pkt.data, pkt.len, collect, &g, &st, NULL) < 0);
    assert_int_equal(st.compress, 1);
    assert_int_equal(st.decompress_limit, 7);
    assert_int_equal(g.n, 0);
    /* Eight capped bombs (7.4 MB each) in one compound, and the same
     * compound compressed again: the LZW work of the whole packet is one
     * budget, so decoding it costs well under a millisecond (a generous
     * 50 ms bound here, for sanitizer builds on a busy machine). */
    static uint8_t bomb[8192];
    size_t bn = lzw_bomb(bomb, sizeof bomb, 0);
    cairn_buf_reset(&part);
    put_compress(&part, bomb, bn);
    cairn_buf_reset(&pkt);
    put_compound(&pkt, part.data, part.len, 8);
    assert_true(pkt.len < CAIRN_PACKET_MAX_RECV);
    memset(&st, 0, sizeof st);
    double t0 = cpu_ms();
    assert_int_equal(cairn__packet_decode(&cfg, pkt.data, pkt.len, collect, &g, &st, NULL),
                     CAIRN_ELIMIT);
    double took = cpu_ms() - t0;
    assert_int_equal(st.decompress_limit, 8);
    assert_true(took < 50.0);
    /* compress(compound(8 x compress(bomb))): the outer layer spends the
     * budget on the compound itself, the inner bombs get what is left. */
    cairn_buf_reset(&z);
    assert_int_equal(cairn__lzw_compress(pkt.data, pkt.len, &z), 0);
    cairn_buf_reset(&part);
    put_compress(&part, z.data, z.len);
    memset(&st, 0, sizeof st);
    t0 = cpu_ms();
    assert_int_equal(cairn__packet_decode(&cfg, part.data, part.len, collect, &g, &st, NULL),
                     CAIRN_ELIMIT);
    took = cpu_ms() - t0;
    assert_int_equal(st.decompress_limit, 8);
    assert_true(took < 50.0);
    cairn_buf_destroy(&z);
    cairn_buf_destroy(&part);
    cairn_buf_destroy(&pkt);
}

/* ---- stream ---- */

/* A push-pull-shaped message: 06, header map {Nodes: 2, UserStateLen: L},
 * two node maps, L raw bytes. */
static size_t make_pushpull(uint8_t *out, size_t state_len)
{
    size_t o = 0;
    out[o++] = 6;
    const uint8_t hdr[] = {0x83,
                           0xa4,
                           'J',
                           'o',
                           'i',
                           'n',
                           0xc2,
                           0xa5,
                           'N',
                           'o',
                           'd',
                           'e',
                           's',
                           2,
                           0xac,
                           'U',
                           's',
                           'e',
                           'r',
                           'S',
                           't',
                           'a',
                           't',
                           'e',
                           'L',
                           'e',
                           'n',
                           0xcd,
                           (uint8_t)(state_len >> 8),
                           (uint8_t)state_len};
    memcpy(out + o, hdr, sizeof hdr);
    o += sizeof hdr;
    const uint8_t node[] = {0x82, 0xa4, 'N',  'a', 'm', 'e', 0xa1, 'a', 0xa3, 'V',
                            's',  'n',  0x96, 1,   5,   2,   2,    5,   5};
    memcpy(out + o, node, sizeof node);
    o += sizeof node;
    memcpy(out + o, node, sizeof node);
    out[o + 7] = 'b';
    o += sizeof node;
    for (size_t i = 0; i < state_len; i++)
        out[o++] = (uint8_t)(i * 31 + 7);
    return o;
}

/* Drive the reader like memberlist would; feed `data` in chunks given by
 * `cut` (two pieces at cut, or byte by byte when cut == 0). Returns 0 when
 * the message was parsed and matched `msg`. */
static int drive(cairn_stream_rd *rd, const uint8_t *data, size_t len, size_t cut,
                 const uint8_t *msg, size_t msg_len)
{
    size_t fed = 0;
    int step = 0;
    const uint8_t *p;
    size_t n;
    size_t raw_len = 0;
    size_t off = 1; /* position in msg */
    for (;;) {
        int r;
        uint8_t t;
        switch (step) {
        case 0:
            r = cairn__stream_rd_type(rd, &t, NULL);
            if (r == 0 && t != msg[0])
                return -100;
            break;
        case 1:
            r = cairn__stream_rd_object(rd, &p, &n, NULL);
            if (r == 0) {
                raw_len = (size_t)p[n - 2] << 8 | p[n - 1];
            }
            break;
        case 2:
        case 3:
            r = cairn__stream_rd_object(rd, &p, &n, NULL);
            break;
        case 4:
            r = cairn__stream_rd_raw(rd, raw_len, &p, NULL);
            n = raw_len;
            break;
        default:
            return off == msg_len ? 0 : -101;
        }
        if (r == CAIRN_EAGAIN) {
            if (fed == len)
                return CAIRN_EAGAIN;
            size_t k = cut == 0 ? 1 : (fed < cut ? cut - fed : len - fed);
            r = cairn__stream_rd_feed(rd, data + fed, k);
            if (r < 0)
                return r;
            fed += k;
            continue;
        }
        if (r < 0)
            return r;
        if (step >= 1) {
            if (memcmp(p, msg + off, n) != 0)
                return -102;
            off += n;
        }
        step++;
    }
}

static void test_stream_every_split(void **state)
{
    (void)state;
    static uint8_t msg[2000];
    size_t mlen = make_pushpull(msg, 700);
    cairn_keyring *ring;
    assert_int_equal(cairn_keyring_new(KEY, 32, &ring), 0);
    for (int mode = 0; mode < 4; mode++) {
        cairn_frame_cfg cfg;
        cairn__frame_cfg_default(&cfg);
        cfg.compress = mode & 1;
        cfg.keyring = (mode & 2) ? ring : NULL;
        cairn_buf wire;
        cairn_buf_init(&wire, BIG);
        assert_int_equal(cairn__stream_encode(&cfg, msg, mlen, &wire), 0);
        if (mode & 2) {
            assert_int_equal(wire.data[0], 10);
            assert_int_equal(wire.len, 5 + 29 + (mode & 1 ? wire.len - 34 : mlen));
        } else {
            assert_int_equal(wire.data[0], mode & 1 ? 9 : 6);
        }
        for (size_t cut = 0; cut <= wire.len; cut++) {
            cairn_stream_rd *rd;
            assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
            /* Follow with a second plain message to check nothing is lost
             * (only when unencrypted: with keys every message is framed). */
            int r = drive(rd, wire.data, wire.len, cut, msg, mlen);
            if (r != 0)
                fail_msg("mode %d cut %zu: %d", mode, cut, r);
            assert_int_equal(cairn__stream_rd_framed(rd), mode != 0);
            assert_int_equal(cairn__stream_rd_encrypted(rd), (mode & 2) != 0);
            cairn__stream_rd_end(rd);
            cairn__stream_rd_delete(rd);
        }
        cairn_buf_destroy(&wire);
    }
    cairn_keyring_delete(ring);
}

static void test_stream_two_messages_and_truncation(void **state)
{
    (void)state;
    static uint8_t msg[2000];
    size_t mlen = make_pushpull(msg, 50);
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cfg.compress = false;
    cairn_buf wire;
    cairn_buf_init(&wire, BIG);
    assert_int_equal(cairn__stream_encode(&cfg, msg, mlen, &wire), 0);
    cfg.compress = true;
    assert_int_equal(cairn__stream_encode(&cfg, msg, mlen, &wire), 0);
    cairn_stream_rd *rd;
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(drive(rd, wire.data, wire.len, wire.len, msg, mlen), 0);
    cairn__stream_rd_end(rd);
    assert_int_equal(drive(rd, NULL, 0, 0, msg, mlen), 0);
    cairn__stream_rd_end(rd);
    uint8_t t;
    assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), CAIRN_EAGAIN);
    cairn__stream_rd_delete(rd);

    /* A compressed message whose raw tail is short: truncation, not EAGAIN */
    cairn_buf_reset(&wire);
    assert_int_equal(cairn__stream_encode(&cfg, msg, mlen - 1, &wire), 0);
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(drive(rd, wire.data, wire.len, wire.len, msg, mlen), CAIRN_EPROTO);
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_EPROTO); /* sticky */
    assert_non_null(strstr(d.msg, "raw tail truncated"));
    cairn__stream_rd_delete(rd);
    cairn_buf_destroy(&wire);
}

static void test_stream_go_frame_and_policy(void **state)
{
    (void)state;
    FILE *f = fopen(wfv_path(CAIRN_SOURCE_DIR, "crypt_go.txt"), "r");
    assert_non_null(f);
    char line[4096];
    uint8_t *frame = NULL, *pt = NULL, *key = NULL;
    long fl = -1, pl = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "stream ", 7) == 0) {
            fl = wfv_field(line, "frame", &frame);
            pl = wfv_field(line, "pt", &pt);
            assert_int_equal(wfv_field(line, "key", &key), 32);
        }
    fclose(f);
    assert_true(fl > 0 && pl > 0);
    cairn_keyring *ring;
    assert_int_equal(cairn_keyring_new(key, 32, &ring), 0);
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cfg.keyring = ring;
    cairn_stream_rd *rd;
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    uint8_t t;
    for (long i = 0; i < fl; i++) {
        assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), CAIRN_EAGAIN);
        assert_int_equal(cairn__stream_rd_feed(rd, frame + i, 1), 0);
    }
    assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), 0);
    assert_int_equal(t, pt[0]);
    const uint8_t *p;
    assert_int_equal(cairn__stream_rd_raw(rd, (size_t)pl - 1, &p, NULL), 0);
    assert_memory_equal(p, pt + 1, (size_t)pl - 1);
    assert_int_equal(cairn__stream_rd_raw(rd, 1, &p, NULL), CAIRN_EPROTO); /* framed: truncated */
    cairn__stream_rd_delete(rd);

    /* Changing the length header breaks the AAD: decrypt fails. */
    frame[4] ^= 0; /* unchanged copy first */
    uint8_t *bad = malloc((size_t)fl + 1);
    memcpy(bad, frame, (size_t)fl);
    bad[4] = (uint8_t)(bad[4] + 1);
    bad[fl] = 0;
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, bad, (size_t)fl + 1), 0);
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_EAUTH);
    cairn__stream_rd_delete(rd);
    free(bad);

    /* Plain message while keys exist and verify_incoming: refused. */
    const uint8_t ping[] = {0, 0x80};
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, ping, sizeof ping), 0);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_EPROTO);
    assert_string_equal(d.msg,
                        "stream: encryption is configured but remote state is not encrypted");
    cairn__stream_rd_delete(rd);
    /* ... accepted when verify_incoming is off */
    cfg.verify_incoming = false;
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, ping, sizeof ping), 0);
    assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), 0);
    size_t n;
    assert_int_equal(cairn__stream_rd_object(rd, &p, &n, NULL), 0);
    assert_int_equal(n, 1);
    cairn__stream_rd_delete(rd);
    /* Encrypted frame without keys: refused. */
    cairn__frame_cfg_default(&cfg);
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, frame, (size_t)fl), 0);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_EPROTO);
    assert_non_null(strstr(d.msg, "encryption is not configured"));
    cairn__stream_rd_delete(rd);
    /* Frame length over 20 MiB: refused after 5 bytes, nothing buffered. */
    cfg.keyring = ring;
    const uint8_t huge[] = {10, 0x01, 0x40, 0x00, 0x01};
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, huge, sizeof huge), 0);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__stream_rd_type(rd, &t, &d), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "limit 20971520"));
    assert_int_equal(cairn__stream_rd_feed(rd, huge, 1), CAIRN_ELIMIT); /* sticky */
    cairn__stream_rd_delete(rd);
    /* Exactly 20 MiB is allowed to wait for more. */
    const uint8_t max[] = {10, 0x01, 0x40, 0x00, 0x00};
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, max, sizeof max), 0);
    assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), CAIRN_EAGAIN);
    cairn__stream_rd_delete(rd);
    /* Raw tail over the limit, and an object claiming 2^32 elements. */
    cfg.keyring = NULL;
    const uint8_t user[] = {8, 0x81, 0xa1, 'x', 1, 0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, user, sizeof user), 0);
    assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), 0);
    assert_int_equal(cairn__stream_rd_object(rd, &p, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_int_equal(cairn__stream_rd_object(rd, &p, &n, NULL), CAIRN_ELIMIT);
    cairn__stream_rd_delete(rd);
    assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, user, 5), 0);
    assert_int_equal(cairn__stream_rd_type(rd, &t, NULL), 0);
    assert_int_equal(cairn__stream_rd_object(rd, &p, &n, NULL), 0);
    assert_int_equal(cairn__stream_rd_raw(rd, CAIRN_STREAM_MAX_RAW + 1, &p, NULL), CAIRN_ELIMIT);
    cairn__stream_rd_delete(rd);
    cairn_keyring_delete(ring);
    free(frame);
    free(pt);
    free(key);
}

static void test_msgpack_measure(void **state)
{
    (void)state;
    size_t n;
    const uint8_t nested[] = {0x92, 0x81, 0xa1, 'k', 0x93, 1,    0xc0, 0xcb, 0,   0,   0,
                              0,    0,    0,    0,   0,    0xc7, 2,    5,    'a', 'b', 0xff};
    assert_int_equal(cairn__frame_mp_object_len(nested, sizeof nested, &n), 0);
    assert_int_equal(n, sizeof nested - 1);
    for (size_t k = 0; k < sizeof nested - 1; k++)
        assert_int_equal(cairn__frame_mp_object_len(nested, k, &n), CAIRN_EAGAIN);
    const uint8_t c1[] = {0x91, 0xc1};
    assert_int_equal(cairn__frame_mp_object_len(c1, 2, &n), CAIRN_EPROTO);
    /* deep nesting costs no stack */
    static uint8_t deep[100001];
    memset(deep, 0x91, 100000);
    deep[100000] = 0xc0;
    assert_int_equal(cairn__frame_mp_object_len(deep, sizeof deep, &n), 0);
    assert_int_equal(n, sizeof deep);
}

static void test_random_stream_round_trips(void **state)
{
    (void)state;
    cairn_keyring *ring;
    assert_int_equal(cairn_keyring_new(KEY2, 16, &ring), 0);
    cairn_rng rng;
    cairn_rng_init(&rng, 7);
    static uint8_t msg[100 * 1024 + 16];
    for (int iter = 0; iter < 24; iter++) {
        size_t n = iter == 0 ? 0 : (size_t)cairn_rng_below(&rng, 100 * 1024);
        msg[0] = 8;
        msg[1] = 0x81;
        msg[2] = 0xaa;
        memcpy(msg + 3, "UserMsgLen", 10);
        msg[13] = 0xce;
        msg[14] = (uint8_t)(n >> 24);
        msg[15] = (uint8_t)(n >> 16);
        msg[16] = (uint8_t)(n >> 8);
        msg[17] = (uint8_t)n;
        uint64_t alpha = 1 + cairn_rng_below(&rng, 256);
        for (size_t i = 0; i < n; i++)
            msg[18 + i] = (uint8_t)cairn_rng_below(&rng, alpha);
        cairn_frame_cfg cfg;
        cairn__frame_cfg_default(&cfg);
        cfg.compress = iter & 1;
        cfg.keyring = (iter & 2) ? ring : NULL;
        cairn_buf wire;
        cairn_buf_init(&wire, BIG);
        assert_int_equal(cairn__stream_encode(&cfg, msg, 18 + n, &wire), 0);
        cairn_stream_rd *rd;
        assert_int_equal(cairn__stream_rd_new(&cfg, &rd), 0);
        size_t fed = 0;
        uint8_t t;
        const uint8_t *p;
        size_t olen;
        int r;
        /* random chunks */
#define PULL(call)                                                                                 \
    while ((r = (call)) == CAIRN_EAGAIN) {                                                         \
        assert_true(fed < wire.len);                                                               \
        size_t k = 1 + (size_t)cairn_rng_below(&rng, 3000);                                        \
        if (k > wire.len - fed)                                                                    \
            k = wire.len - fed;                                                                    \
        assert_int_equal(cairn__stream_rd_feed(rd, wire.data + fed, k), 0);                        \
        fed += k;                                                                                  \
    }                                                                                              \
    assert_int_equal(r, 0)
        PULL(cairn__stream_rd_type(rd, &t, NULL));
        assert_int_equal(t, 8);
        PULL(cairn__stream_rd_object(rd, &p, &olen, NULL));
        assert_int_equal(olen, 17);
        PULL(cairn__stream_rd_raw(rd, n, &p, NULL));
        if (n)
            assert_memory_equal(p, msg + 18, n);
#undef PULL
        cairn__stream_rd_delete(rd);
        cairn_buf_destroy(&wire);
    }
    cairn_keyring_delete(ring);
}

/* Every allocation failure in the decoders is reported and leaks nothing. */
/* What the allocation-failure attempts below work on. */
typedef struct frame_alloc_ctx {
    const cairn_frame_cfg *cfg;
    const cairn_buf *pkt, *wire, *comp;
    const uint8_t *msg;
    size_t mlen;
} frame_alloc_ctx;

static int packet_decode_attempt(void *ctx)
{
    frame_alloc_ctx *x = ctx;
    cairn_packet_stats st = {0};
    got g = {0};
    int r = cairn__packet_decode(x->cfg, x->pkt->data, x->pkt->len, collect, &g, &st, NULL);
    if (cairn__test_alloc_failed())
        assert_int_equal(st.nomem, 1);
    else if (r == 0)
        assert_int_equal(g.n, 2);
    return r;
}

static int stream_read_attempt(void *ctx)
{
    frame_alloc_ctx *x = ctx;
    cairn_stream_rd *rd = NULL;
    int r = cairn__stream_rd_new(x->cfg, &rd);
    if (r == 0)
        r = drive(rd, x->wire->data, x->wire->len, x->wire->len, x->msg, x->mlen);
    cairn__stream_rd_delete(rd);
    return r;
}

static int encode_attempt(void *ctx)
{
    frame_alloc_ctx *x = ctx;
    cairn_buf o;
    cairn_buf_init(&o, BIG);
    int r = cairn__packet_encode(x->cfg, true, x->comp->data, x->comp->len, &o);
    if (r == 0)
        r = cairn__stream_encode(x->cfg, x->msg, x->mlen, &o);
    cairn_buf_destroy(&o);
    return r;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    static uint8_t msg[3000];
    size_t mlen = make_pushpull(msg, 1500);
    cairn_keyring *ring;
    cairn__test_alloc_install();
    assert_int_equal(cairn_keyring_new(KEY, 32, &ring), 0);
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cfg.keyring = ring;
    cairn_buf wire, pkt;
    cairn_buf_init(&wire, BIG);
    cairn_buf_init(&pkt, BIG);
    assert_int_equal(cairn__stream_encode(&cfg, msg, mlen, &wire), 0);
    /* a compound holding a compressible message, CRC, encrypted */
    cairn_compound c;
    static uint8_t alive[3000];
    memcpy(alive, msg, mlen);
    alive[0] = 4;
    cairn__compound_init(&c, 1 << 16);
    assert_int_equal(cairn__compound_add(&c, alive, mlen), 0);
    assert_int_equal(cairn__compound_add(&c, alive, 30), 0);
    cairn_buf comp;
    cairn_buf_init(&comp, BIG);
    assert_int_equal(cairn__compound_write(&c, false, &comp), 0);
    assert_int_equal(cairn__packet_encode(&cfg, true, comp.data, comp.len, &pkt), 0);
    long base = cairn__test_alloc_live();
    frame_alloc_ctx x = {&cfg, &pkt, &wire, &comp, msg, mlen};
    assert_true(alloc_sweep(packet_decode_attempt, &x, base, 10000) >= 1);
    assert_true(alloc_sweep(stream_read_attempt, &x, base, 10000) >= 1);
    assert_true(alloc_sweep(encode_attempt, &x, base, 10000) >= 1);
    cairn_buf_destroy(&comp);
    cairn_buf_destroy(&wire);
    cairn_buf_destroy(&pkt);
    cairn_keyring_delete(ring);
    assert_int_equal(cairn__test_alloc_live(), 0);
    cairn__test_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_compress_wrap_vectors),
        cmocka_unit_test(test_compress_decode_variants),
        cmocka_unit_test(test_compound),
        cmocka_unit_test(test_packet_pipeline),
        cmocka_unit_test(test_packet_hostile),
        cmocka_unit_test(test_packet_encryption),
        cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_packet_budget_counts_failed_work),
        cmocka_unit_test(test_stream_every_split),
        cmocka_unit_test(test_stream_two_messages_and_truncation),
        cmocka_unit_test(test_stream_go_frame_and_policy),
        cmocka_unit_test(test_msgpack_measure),
        cmocka_unit_test(test_random_stream_round_trips),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
