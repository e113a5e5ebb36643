/* Unit tests for the message bodies (src/wire/msg_*.c) and the msgpack
 * layer (src/wire/mp_*.c): every hex example of spec serf-wire §2.3 and
 * §3.2 round-trips byte for byte, every captured plaintext packet and
 * stream from tests/vectors decodes (and push-pulls re-encode identically),
 * and every named limit rejects its hostile input with a diagnostic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cairn/alloc.h"
#include "cairn/keyring.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "alloc_sweep.h"
#include "base/alloc_test.h"

/* ------------------------------------------------------------ helpers */

/* hex decodes s (whitespace ignored) into a malloc'd buffer. */
static uint8_t *hex(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *b = malloc(n / 2 + 1);
    size_t k = 0;
    int hi = -1;
    for (const char *p = s; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            b[k++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    *len = k;
    return b;
}

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    if (got_len != want_len || memcmp(got, want, want_len) != 0) {
        fprintf(stderr, "length got %zu want %zu\n got: ", got_len, want_len);
        for (size_t k = 0; k < got_len; k++)
            fprintf(stderr, "%02x", got[k]);
        fprintf(stderr, "\nwant: ");
        for (size_t k = 0; k < want_len; k++)
            fprintf(stderr, "%02x", want[k]);
        fprintf(stderr, "\n");
        fail_msg("bytes differ");
    }
}

static bool span_is(cairn_span s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* Spec hex. */
#define ALIVE_A                                                                                    \
    "04 86 a4 41646472 a4 7f000001 ab 496e6361726e6174696f6e 01 a4 4d657461 ab "                   \
    "ff81a4726f6c65a3776562 a4 4e6f6465 a1 61 a4 506f7274 cd 1f0a a3 56736e a6 010502020505"
#define ALIVE_B                                                                                    \
    "04 86 a4 41646472 a4 7f000001 ab 496e6361726e6174696f6e 01 a4 4d657461 aa "                   \
    "ff81a4726f6c65a26462 a4 4e6f6465 a1 62 a4 506f7274 cd 1f0b a3 56736e a6 010502020505"
#define PING_CAPTURED                                                                              \
    "0085a44e6f6465a161a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a1"     \
    "62aa536f75726365506f7274cd1f0b"
#define ZERO8 "cb0000000000000000"
#define COORD_PAYLOAD                                                                              \
    "01 84 aa 41646a7573746d656e74 cb 0000000000000000 a5 4572726f72 cb 3ff8000000000000 "         \
    "a6 486569676874 cb 3ee4f8b588e368f1 a3 566563 98 " ZERO8 ZERO8 ZERO8 ZERO8 ZERO8 ZERO8 ZERO8  \
        ZERO8
#define ACK_COORD "02 82 a7 5061796c6f6164 da 0082 " COORD_PAYLOAD " a5 5365714e6f 01"
#define RESPONSE                                                                                   \
    "05 85 a5 466c616773 00 a4 46726f6d a1 62 a2 4944 ce 01020304 a5 4c54696d65 02 "               \
    "a7 5061796c6f6164 a2 6f6b"

static char *nils(int n)
{
    char *s = malloc((size_t)n * 2 + 1);
    for (int k = 0; k < n; k++)
        memcpy(s + 2 * k, "c0", 2);
    s[2 * n] = 0;
    return s;
}

static char *pushpull_hex(void)
{
    char *n512 = nils(512);
    const char *head =
        "06 83 a4 4a6f696e c3 a5 4e6f646573 01 ac 5573657253746174654c656e cd 0249 "
        "87 a4 41646472 a4 7f000001 ab 496e6361726e6174696f6e 01 a4 4d657461 aa "
        "ff81a4726f6c65a26462 a4 4e616d65 a1 62 a4 506f7274 cd 1f0b a5 5374617465 00 a3 56736e a6 "
        "010502020505 "
        "02 86 aa 4576656e744c54696d65 01 a6 4576656e7473 dc 0200 ";
    const char *tail = " a5 4c54696d65 01 ab 4c6566744d656d62657273 90 aa 51756572794c54696d65 01 "
                       "ac 5374617475734c54696d6573 81 a1 62 00";
    char *s = malloc(strlen(head) + strlen(n512) + strlen(tail) + 1);
    strcpy(s, head);
    strcat(s, n512);
    strcat(s, tail);
    free(n512);
    return s;
}

/* ------------------------------------------------------------ msgpack layer */

static void test_mp_dialects(void **state)
{
    (void)state;
    cairn_buf b;
    cairn_buf_init(&b, 1024);
    char x40[40];
    memset(x40, 'x', sizeof(x40));
    cairn_span s = {(const uint8_t *)x40, sizeof(x40)};
    cairn_mp_writer w;
    cairn__mp_writer_init(&w, &b, CAIRN_MP_GOSSIP);
    cairn__mp_write_str(&w, s);
    cairn__mp_write_bytes(&w, s);
    assert_int_equal(cairn__mp_writer_finish(&w), 0);
    assert_int_equal(b.len, 86);
    assert_memory_equal(b.data, "\xda\x00\x28", 3);
    assert_memory_equal(b.data + 43, "\xda\x00\x28", 3);
    cairn_buf_reset(&b);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    cairn__mp_write_str(&w, s);
    cairn__mp_write_bytes(&w, (cairn_span){(const uint8_t *)"ab", 2});
    cairn__mp_write_bytes(&w, (cairn_span){NULL, 0});
    assert_int_equal(cairn__mp_writer_finish(&w), 0);
    assert_int_equal(b.len, 42 + 4 + 1);
    assert_memory_equal(b.data, "\xd9\x28", 2);
    assert_memory_equal(b.data + 42,
                        "\xc4\x02"
                        "ab\xc0",
                        5);
    /* Integers minimal whatever the C type; floats always cb (spec §1.1). */
    cairn_buf_reset(&b);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_GOSSIP);
    cairn__mp_write_int(&w, -1);
    cairn__mp_write_uint(&w, 200);
    cairn__mp_write_uint(&w, 7946);
    cairn__mp_write_int(&w, INT64_C(1) << 40);
    cairn__mp_write_double(&w, 1.5);
    assert_int_equal(cairn__mp_writer_finish(&w), 0);
    size_t n;
    uint8_t *want =
        hex("ff cc c8 cd 1f 0a cf 00 00 01 00 00 00 00 00 cb 3f f8 00 00 00 00 00 00", &n);
    assert_bytes(b.data, b.len, want, n);
    free(want);
    /* A failed write leaves the buffer as it was. */
    cairn_buf small;
    cairn_buf_init(&small, 8);
    cairn_buf_append(&small, "ab", 2);
    cairn__mp_writer_init(&w, &small, CAIRN_MP_GOSSIP);
    cairn__mp_write_str(&w, s);
    assert_int_equal(cairn__mp_writer_finish(&w), CAIRN_ELIMIT);
    assert_int_equal(small.len, 2);
    cairn_buf_destroy(&small);
    cairn_buf_destroy(&b);
}

static void test_mp_reader_rules(void **state)
{
    (void)state;
    size_t n;
    /* cf 00..01 into a u32, d3 int64 into u16, 00/01 as bool, nil as 0. */
    uint8_t *b = hex("cf 0000000000000001 d3 0000000000001f0a 01 c0 c0 d0 ff", &n);
    cairn_mp_reader r;
    cairn__mp_reader_init(&r, b, n);
    uint64_t u;
    bool bo;
    assert_int_equal(cairn__mp_read_uint(&r, UINT32_MAX, &u), 0);
    assert_int_equal(u, 1);
    assert_int_equal(cairn__mp_read_uint(&r, UINT16_MAX, &u), 0);
    assert_int_equal(u, 7946);
    assert_int_equal(cairn__mp_read_bool(&r, &bo), 0);
    assert_true(bo);
    assert_int_equal(cairn__mp_read_uint(&r, 5, &u), 0);
    assert_int_equal(u, 0);
    cairn_span sp;
    assert_int_equal(cairn__mp_read_str(&r, &sp), 0);
    assert_null(sp.p);
    /* Negative into unsigned: ERANGE, and the error sticks. */
    assert_int_equal(cairn__mp_read_uint(&r, UINT64_MAX, &u), CAIRN_ERANGE);
    assert_int_equal(cairn__mp_read_bool(&r, &bo), CAIRN_ERANGE);
    free(b);
    /* bool: c2/c3/nil and the single bytes 00/01 only (go-msgpack's
     * decodeBool); 02 and a wider 01 (cc 01) are rejected. */
    b = hex("00 c2 c0 02", &n);
    cairn__mp_reader_init(&r, b, n);
    for (int k = 0; k < 3; k++) {
        bo = true;
        assert_int_equal(cairn__mp_read_bool(&r, &bo), 0);
        assert_false(bo);
    }
    assert_int_equal(cairn__mp_read_bool(&r, &bo), CAIRN_EPROTO);
    free(b);
    b = hex("cc 01", &n);
    cairn__mp_reader_init(&r, b, n);
    assert_int_equal(cairn__mp_read_bool(&r, &bo), CAIRN_EPROTO);
    free(b);
    /* Overflow: 70000 into u16. */
    b = hex("ce 00011170", &n);
    cairn__mp_reader_init(&r, b, n);
    assert_int_equal(cairn__mp_read_uint(&r, UINT16_MAX, &u), CAIRN_ERANGE);
    free(b);
    /* Strings reject bin; bytes accept str, bin and arrays of small ints. */
    b = hex("c4 01 41", &n);
    cairn__mp_reader_init(&r, b, n);
    assert_int_equal(cairn__mp_read_str(&r, &sp), CAIRN_EPROTO);
    cairn__mp_reader_init(&r, b, n);
    assert_int_equal(cairn__mp_read_bytes(&r, NULL, 0, &sp), 0);
    assert_true(span_is(sp, "A"));
    free(b);
    b = hex("96 01 05 02 02 05 05", &n);
    uint8_t scratch[6];
    cairn__mp_reader_init(&r, b, n);
    assert_int_equal(cairn__mp_read_bytes(&r, NULL, 0, &sp), CAIRN_ENOTSUP);
    cairn__mp_reader_init(&r, b, n);
    assert_int_equal(cairn__mp_read_bytes(&r, scratch, 6, &sp), 0);
    assert_memory_equal(sp.p, "\x01\x05\x02\x02\x05\x05", 6);
    free(b);
    /* An array header claiming more elements than bytes: rejected up front. */
    b = hex("dd 00100000 c0 c0", &n);
    cairn__mp_reader_init(&r, b, n);
    uint32_t cnt;
    assert_int_equal(cairn__mp_read_array(&r, &cnt), CAIRN_EAGAIN);
    free(b);
    /* Truncated str; c1 is never valid. */
    b = hex("a5 41 42", &n);
    size_t olen;
    assert_int_equal(cairn__mp_object_len(b, n, &olen), CAIRN_EAGAIN);
    free(b);
    b = hex("c1", &n);
    assert_int_equal(cairn__mp_object_len(b, n, &olen), CAIRN_EPROTO);
    free(b);
    /* Nesting: 32 arrays deep is fine, 33 is not. */
    uint8_t deep[40];
    memset(deep, 0x91, sizeof(deep));
    deep[32] = 0xc0;
    assert_int_equal(cairn__mp_object_len(deep, 33, &olen), 0);
    assert_int_equal(olen, 33);
    deep[32] = 0x91;
    deep[33] = 0xc0;
    assert_int_equal(cairn__mp_object_len(deep, 34, &olen), CAIRN_ELIMIT);
    /* Ext values and every fixed format are skipped correctly. */
    b = hex("d4 01 02  c7 02 05 aa bb  ca 3f800000  d9 01 41  c5 0001 42  de 0001 a1 61 dc 0001 c3",
            &n);
    cairn__mp_reader_init(&r, b, n);
    for (int k = 0; k < 6; k++)
        assert_int_equal(cairn__mp_skip(&r), 0);
    assert_int_equal(cairn_mp_remaining(&r), 0);
    free(b);
}

/* ------------------------------------------------------------ round trips */

typedef int (*roundtrip_fn)(const uint8_t *msg, size_t len, cairn_wire_arena *a, cairn_buf *out,
                            cairn_diag *d);

#define RT(name, T, call_decode, call_encode)                                                      \
    static int rt_##name(const uint8_t *msg, size_t len, cairn_wire_arena *a, cairn_buf *out,      \
                         cairn_diag *d)                                                            \
    {                                                                                              \
        T m;                                                                                       \
        (void)a;                                                                                   \
        int e = call_decode;                                                                       \
        if (e)                                                                                     \
            return e;                                                                              \
        return call_encode;                                                                        \
    }

RT(ping, cairn_wire_ping, cairn__wire_ping_decode(msg, len, a, d, &m),
   cairn__wire_ping_encode(&m, out, d))
RT(indirect, cairn_wire_indirect_ping, cairn__wire_indirect_ping_decode(msg, len, a, d, &m),
   cairn__wire_indirect_ping_encode(&m, out, d))
RT(ack, cairn_wire_ack, cairn__wire_ack_decode(msg, len, a, d, &m),
   cairn__wire_ack_encode(&m, out, d))
RT(nack, cairn_wire_nack, cairn__wire_nack_decode(msg, len, d, &m),
   cairn__wire_nack_encode(&m, out, d))
RT(err, cairn_wire_err, cairn__wire_err_decode(msg, len, d, &m), cairn__wire_err_encode(&m, out, d))
RT(suspect, cairn_wire_suspect, cairn__wire_suspect_decode(msg, len, d, &m),
   cairn__wire_suspect_encode(&m, out, d))
RT(dead, cairn_wire_dead, cairn__wire_dead_decode(msg, len, d, &m),
   cairn__wire_dead_encode(&m, out, d))
RT(alive, cairn_wire_alive, cairn__wire_alive_decode(msg, len, a, d, &m),
   cairn__wire_alive_encode(&m, out, d))
RT(pushpull, cairn_wire_pushpull, cairn__wire_pushpull_decode(msg, len, a, d, &m),
   cairn__wire_pushpull_encode(&m, out, d))
RT(leave, cairn_wire_serf_leave, cairn__wire_serf_leave_decode(msg, len, d, &m),
   cairn__wire_serf_leave_encode(&m, out, d))
RT(join, cairn_wire_serf_join, cairn__wire_serf_join_decode(msg, len, d, &m),
   cairn__wire_serf_join_encode(&m, out, d))
RT(event, cairn_wire_serf_user_event, cairn__wire_serf_user_event_decode(msg, len, a, d, &m),
   cairn__wire_serf_user_event_encode(&m, out, d))
RT(query, cairn_wire_serf_query, cairn__wire_serf_query_decode(msg, len, a, d, &m),
   cairn__wire_serf_query_encode(&m, out, d))
RT(response, cairn_wire_serf_query_response,
   cairn__wire_serf_query_response_decode(msg, len, a, d, &m),
   cairn__wire_serf_query_response_encode(&m, out, d))
RT(relay, cairn_wire_serf_relay, cairn__wire_serf_relay_decode(msg, len, a, d, &m),
   cairn__wire_serf_relay_encode(&m, out, d))
RT(keyreq, cairn_wire_serf_key_request, cairn__wire_serf_key_request_decode(msg, len, a, d, &m),
   cairn__wire_serf_key_request_encode(&m, out, d))
RT(keyresp, cairn_wire_serf_key_response, cairn__wire_serf_key_response_decode(msg, len, a, d, &m),
   cairn__wire_serf_key_response_encode(&m, out, d))
RT(serfpp, cairn_wire_serf_pushpull, cairn__wire_serf_pushpull_decode(msg, len, a, d, &m),
   cairn__wire_serf_pushpull_encode(&m, out, d))
RT(conflict, cairn_wire_serf_conflict_response,
   cairn__wire_serf_conflict_response_decode(msg, len, a, d, &m),
   cairn__wire_serf_conflict_response_encode(&m, out, d))

RT(filter, cairn_wire_serf_filter, cairn__wire_serf_filter_decode(msg, len, a, d, &m),
   cairn__wire_serf_filter_encode(&m, out, d))

/* decode_encode runs fn (decode + re-encode) over hex input and checks the
 * output against the hex `want`. */
static void decode_encode(roundtrip_fn fn, const char *input, const char *want)
{
    size_t n, wn;
    uint8_t *msg = hex(input, &n);
    uint8_t *w = hex(want, &wn);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_buf out;
    cairn_buf_init(&out, 1 << 20);
    cairn_diag d;
    cairn_diag_clear(&d);
    int e = fn(msg, n, &a, &out, &d);
    if (e)
        fail_msg("%s: %s (%s)", input, d.msg, cairn_err_name(e));
    assert_bytes(out.data, out.len, w, wn);
    cairn_buf_destroy(&out);
    cairn__wire_arena_destroy(&a);
    free(w);
    free(msg);
}

static void roundtrip(roundtrip_fn fn, const char *hexstr)
{
    decode_encode(fn, hexstr, hexstr);
}

static void test_spec_memberlist_roundtrip(void **state)
{
    (void)state;
    roundtrip(rt_ping, PING_CAPTURED);
    roundtrip(rt_ping, "00 82 a4 4e6f6465 a1 62 a5 5365714e6f 07");
    roundtrip(rt_ack, ACK_COORD);
    roundtrip(rt_ack, "02 82 a7 5061796c6f6164 c0 a5 5365714e6f 07");
    roundtrip(rt_alive, ALIVE_A);
    roundtrip(rt_alive, ALIVE_B);
    roundtrip(rt_suspect, "03 83 a4 46726f6d a1 61 ab 496e6361726e6174696f6e 01 a4 4e6f6465 a1 63");
    roundtrip(rt_dead, "05 83 a4 46726f6d a1 62 ab 496e6361726e6174696f6e 01 a4 4e6f6465 a1 62");
    roundtrip(rt_indirect,
              "01 88 a4 4e61636b c3 a4 4e6f6465 a1 63 a4 506f7274 cd 1f0c a5 5365714e6f 18 "
              "aa 536f7572636541646472 a4 7f000001 aa 536f757263654e6f6465 a1 61 "
              "aa 536f75726365506f7274 cd 1f0a a6 546172676574 a4 7f000001");
    roundtrip(rt_nack, "0b 81 a5 5365714e6f 1c");
    roundtrip(rt_err, "0d 81 a5 4572726f72 a4 626f6f6d");
    char *pp = pushpull_hex();
    roundtrip(rt_pushpull, pp);
    free(pp);
}

static void test_spec_ping_fields(void **state)
{
    (void)state;
    size_t n;
    uint8_t *msg = hex(PING_CAPTURED, &n);
    assert_int_equal(n, 59);
    cairn_wire_ping p;
    assert_int_equal(cairn__wire_ping_decode(msg, n, NULL, NULL, &p), 0);
    assert_true(span_is(p.node, "a"));
    assert_int_equal(p.seq_no, 1);
    assert_memory_equal(p.source_addr.p, "\x7f\x00\x00\x01", 4);
    assert_true(span_is(p.source_node, "b"));
    assert_int_equal(p.source_port, 7947);
    /* Zero-copy: spans point into the packet. */
    assert_true(p.node.p > msg && p.node.p < msg + n);
    free(msg);
    /* Encoding omits empty Source* fields. */
    cairn_wire_ping q = {.node = CAIRN_SPAN_LIT("b"), .seq_no = 7};
    cairn_buf out;
    cairn_buf_init(&out, 256);
    assert_int_equal(cairn__wire_ping_encode(&q, &out, NULL), 0);
    msg = hex("00 82 a4 4e6f6465 a1 62 a5 5365714e6f 07", &n);
    assert_bytes(out.data, out.len, msg, n);
    free(msg);
    cairn_buf_destroy(&out);
}

/* CRC'd captures: the CRC checks our transcription, the body must decode. */
static void test_spec_crc_packets(void **state)
{
    (void)state;
    size_t n;
    uint8_t *pkt = hex("0c 4643c5ae 07 02 0044 0043 " ALIVE_A ALIVE_B, &n);
    assert_int_equal(n, 146);
    assert_int_equal(crc32(0, pkt + 5, (uInt)(n - 5)), 0x4643c5ae);
    cairn_wire_alive al;
    assert_int_equal(cairn__wire_alive_decode(pkt + 11, 0x44, NULL, NULL, &al), 0);
    assert_true(span_is(al.node, "a"));
    assert_int_equal(al.port, 7946);
    assert_int_equal(al.vsn.len, 6);
    assert_int_equal(cairn__wire_alive_decode(pkt + 11 + 0x44, 0x43, NULL, NULL, &al), 0);
    assert_true(span_is(al.node, "b"));
    free(pkt);

    pkt = hex("0c c887355e 05 83 a4 46726f6d a1 62 ab 496e6361726e6174696f6e 01 a4 4e6f6465 a1 62",
              &n);
    assert_int_equal(crc32(0, pkt + 5, (uInt)(n - 5)), 0xc887355e);
    cairn_wire_dead dd;
    assert_int_equal(cairn__wire_dead_decode(pkt + 5, n - 5, NULL, &dd), 0);
    assert_true(cairn__span_eq(dd.from, dd.node));
    free(pkt);

    pkt = hex("0c fe63071c 08 00 83 a5 4c54696d65 02 a4 4e6f6465 a1 62 a5 5072756e65 c2", &n);
    assert_int_equal(crc32(0, pkt + 5, (uInt)(n - 5)), 0xfe63071c);
    cairn_wire_msg m;
    assert_int_equal(cairn__wire_msg_decode(pkt + 5, n - 5, NULL, NULL, &m), 0);
    assert_int_equal(m.type, CAIRN_WIRE_USER);
    cairn_wire_serf_leave lv;
    assert_int_equal(cairn__wire_serf_leave_decode(m.u.user.p, m.u.user.len, NULL, &lv), 0);
    assert_int_equal(lv.ltime, 2);
    assert_true(span_is(lv.node, "b"));
    assert_false(lv.prune);
    /* Rebuilt from the decoded fields: serf leave → user message → CRC. */
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cfg.compress = false;
    cairn_buf serf, msg, out;
    cairn_buf_init(&serf, 4096);
    cairn_buf_init(&msg, 4096);
    cairn_buf_init(&out, 4096);
    assert_int_equal(cairn__wire_serf_leave_encode(&lv, &serf, NULL), 0);
    assert_int_equal(cairn__wire_user_encode((cairn_span){serf.data, serf.len}, &msg, NULL), 0);
    assert_int_equal(cairn__packet_encode(&cfg, true, msg.data, msg.len, &out), 0);
    assert_bytes(out.data, out.len, pkt, n);
    free(pkt);

    /* The alive compound, rebuilt from decoded fields, byte for byte. */
    pkt = hex("0c 4643c5ae 07 02 0044 0043 " ALIVE_A ALIVE_B, &n);
    cairn_wire_alive two[2];
    assert_int_equal(cairn__wire_alive_decode(pkt + 11, 0x44, NULL, NULL, &two[0]), 0);
    assert_int_equal(cairn__wire_alive_decode(pkt + 11 + 0x44, 0x43, NULL, NULL, &two[1]), 0);
    cairn_buf_reset(&msg);
    assert_int_equal(cairn__wire_alive_encode(&two[0], &msg, NULL), 0);
    size_t first = msg.len;
    assert_int_equal(cairn__wire_alive_encode(&two[1], &msg, NULL), 0);
    cairn_compound c;
    cairn__compound_init(&c, CAIRN_PACKET_UDP_BUDGET);
    assert_int_equal(cairn__compound_add(&c, msg.data, first), 0);
    assert_int_equal(cairn__compound_add(&c, msg.data + first, msg.len - first), 0);
    cairn_buf comp;
    cairn_buf_init(&comp, 4096);
    assert_int_equal(cairn__compound_write(&c, false, &comp), 0);
    cairn_buf_reset(&out);
    assert_int_equal(cairn__packet_encode(&cfg, true, comp.data, comp.len, &out), 0);
    assert_bytes(out.data, out.len, pkt, n);
    free(pkt);

    /* The dead (leave of b), CRC-wrapped. */
    pkt = hex("0c c887355e 05 83 a4 46726f6d a1 62 ab 496e6361726e6174696f6e 01 a4 4e6f6465 a1 62",
              &n);
    cairn_wire_dead dd2 = {CAIRN_SPAN_LIT("b"), 1, CAIRN_SPAN_LIT("b")};
    cairn_buf_reset(&msg);
    assert_int_equal(cairn__wire_dead_encode(&dd2, &msg, NULL), 0);
    cairn_buf_reset(&out);
    assert_int_equal(cairn__packet_encode(&cfg, true, msg.data, msg.len, &out), 0);
    assert_bytes(out.data, out.len, pkt, n);
    free(pkt);

    /* §2.3 compress example (Go library), through the framing layer. */
    pkt = hex("09 82 a4 416c676f 00 a3 427566 b5 00a93c1152e48914274fa80824687061c183090302", &n);
    cairn_buf_reset(&out);
    const char *tobe = "TOBEORNOTTOBEORTOBEORNOT";
    assert_int_equal(cairn__compress_wrap((const uint8_t *)tobe, strlen(tobe), &out), 0);
    assert_bytes(out.data, out.len, pkt, n);
    free(pkt);
    cairn_buf_destroy(&comp);
    cairn_buf_destroy(&serf);
    cairn_buf_destroy(&msg);
    cairn_buf_destroy(&out);
}

static void test_spec_pushpull_fields(void **state)
{
    (void)state;
    size_t n;
    char *s = pushpull_hex();
    uint8_t *msg = hex(s, &n);
    free(s);
    assert_int_equal(n, 689);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_wire_pushpull pp;
    assert_int_equal(cairn__wire_pushpull_decode(msg, n, &a, NULL, &pp), 0);
    assert_true(pp.header.join);
    assert_int_equal(pp.n_nodes, 1);
    assert_true(span_is(pp.nodes[0].name, "b"));
    assert_int_equal(pp.nodes[0].state, 0);
    assert_int_equal(pp.user_state.len, 585);
    cairn_wire_serf_pushpull sp;
    assert_int_equal(
        cairn__wire_serf_pushpull_decode(pp.user_state.p, pp.user_state.len, &a, NULL, &sp), 0);
    assert_int_equal(sp.n_events, 512);
    for (size_t k = 0; k < sp.n_events; k++)
        assert_false(sp.events[k].present);
    assert_int_equal(sp.ltime, 1);
    assert_int_equal(sp.event_ltime, 1);
    assert_int_equal(sp.query_ltime, 1);
    assert_non_null(sp.left_members);
    assert_int_equal(sp.n_left_members, 0);
    assert_int_equal(sp.n_status_ltimes, 1);
    assert_true(span_is(sp.status_ltimes[0].name, "b"));
    /* Stream API: header alone, incomplete prefixes ask for more. */
    cairn_wire_pushpull_header h;
    size_t used;
    for (size_t k = 0; k < 31; k++)
        assert_int_equal(cairn__wire_pushpull_header_decode(msg, k, NULL, &h, &used), CAIRN_EAGAIN);
    assert_int_equal(cairn__wire_pushpull_header_decode(msg, 31, NULL, &h, &used), 0);
    assert_int_equal(used, 31);
    assert_int_equal(h.user_state_len, 585);
    cairn_wire_push_node node;
    assert_int_equal(cairn__wire_push_node_decode(msg + 31, 72, &a, NULL, &node, &used),
                     CAIRN_EAGAIN);
    assert_int_equal(cairn__wire_push_node_decode(msg + 31, 73, &a, NULL, &node, &used), 0);
    assert_int_equal(used, 73);
    /* Header from the Go library. */
    cairn_buf out;
    cairn_buf_init(&out, 256);
    cairn_wire_pushpull_header gh = {true, 2, 600};
    assert_int_equal(cairn__wire_pushpull_header_encode(&gh, &out, NULL), 0);
    uint8_t *want =
        hex("06 83 a4 4a6f696e c3 a5 4e6f646573 02 ac 5573657253746174654c656e cd 0258", &n);
    assert_bytes(out.data, out.len, want, n);
    free(want);
    cairn_buf_destroy(&out);
    cairn__wire_arena_destroy(&a);
    free(msg);
}

static void test_spec_serf_roundtrip(void **state)
{
    (void)state;
    roundtrip(rt_join, "01 82 a5 4c54696d65 03 a4 4e6f6465 a1 62");
    roundtrip(rt_leave, "00 83 a5 4c54696d65 05 a4 4e6f6465 a1 63 a5 5072756e65 c2");
    roundtrip(rt_event, "03 84 a2 4343 c3 a5 4c54696d65 01 a4 4e616d65 a6 6465706c6f79 "
                        "a7 5061796c6f6164 a2 7631");
    roundtrip(rt_query,
              "04 8b a4 41646472 a4 7f000001 a7 46696c74657273 92 a6 0092a161a162 "
              "b4 0182a445787072a3776562a3546167a4726f6c65 a5 466c616773 01 a2 4944 ce 01020304 "
              "a5 4c54696d65 02 a4 4e616d65 a6 757074696d65 a7 5061796c6f6164 a1 78 "
              "a4 506f7274 cd 1f0a ab 52656c6179466163746f72 00 aa 536f757263654e6f6465 a1 61 "
              "a7 54696d656f7574 ce 1dcd6500");
    roundtrip(rt_response, RESPONSE);
    roundtrip(rt_response, "05 85 a5 466c616773 01 a4 46726f6d a1 62 a2 4944 ce 01020304 "
                           "a5 4c54696d65 02 a7 5061796c6f6164 c0");
    roundtrip(rt_relay, "09 82 a8 4465737441646472 83 a2 4950 a4 7f000001 a4 506f7274 cd 1f0a "
                        "a4 5a6f6e65 a0 a8 446573744e616d65 a1 61 " RESPONSE);
    roundtrip(rt_keyreq, "07 81 a3 4b6579 b0 000102030405060708090a0b0c0d0e0f");
    roundtrip(rt_keyreq, "07 81 a3 4b6579 a0");
    roundtrip(rt_keyresp, "08 84 a4 4b657973 91 a1 41 a7 4d657373616765 a0 "
                          "aa 5072696d6172794b6579 a1 41 a6 526573756c74 c3");
    roundtrip(rt_conflict, "06 c0");
    roundtrip(rt_conflict,
              "06 8b a4 41646472 a4 7f000001 ab 44656c6567617465437572 05 "
              "ab 44656c65676174654d6178 05 ab 44656c65676174654d696e 02 a4 4e616d65 a1 61 "
              "a4 506f7274 cd 1f0a ab 50726f746f636f6c437572 02 ab 50726f746f636f6c4d6178 05 "
              "ab 50726f746f636f6c4d696e 01 a6 537461747573 01 a4 54616773 82 a2 6463 a3 6c6162 "
              "a4 726f6c65 a3 776562");
    /* A push-pull slot with events round-trips too. */
    roundtrip(rt_serfpp,
              "02 86 aa 4576656e744c54696d65 03 a6 4576656e7473 92 c0 "
              "82 a6 4576656e7473 91 82 a4 4e616d65 a1 78 a7 5061796c6f6164 a0 a5 4c54696d65 02 "
              "a5 4c54696d65 01 ab 4c6566744d656d62657273 91 a1 63 "
              "aa 51756572794c54696d65 01 ac 5374617475734c54696d6573 c0");
}

static void test_spec_query_filters(void **state)
{
    (void)state;
    size_t n;
    uint8_t *msg =
        hex("04 8b a4 41646472 a4 7f000001 a7 46696c74657273 92 a6 0092a161a162 "
            "b4 0182a445787072a3776562a3546167a4726f6c65 a5 466c616773 01 a2 4944 ce 01020304 "
            "a5 4c54696d65 02 a4 4e616d65 a6 757074696d65 a7 5061796c6f6164 a1 78 "
            "a4 506f7274 cd 1f0a ab 52656c6179466163746f72 00 aa 536f757263654e6f6465 a1 61 "
            "a7 54696d656f7574 ce 1dcd6500",
            &n);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 1 << 20);
    cairn_wire_serf_query q;
    assert_int_equal(cairn__wire_serf_query_decode(msg, n, &a, NULL, &q), 0);
    assert_int_equal(q.timeout, 500000000);
    assert_int_equal(q.id, 0x01020304);
    assert_int_equal(q.n_filters, 2);
    cairn_wire_serf_filter f;
    assert_int_equal(cairn__wire_serf_filter_decode(q.filters[0].p, q.filters[0].len, &a, NULL, &f),
                     0);
    assert_int_equal(f.type, CAIRN_WIRE_SERF_FILTER_NODE);
    assert_int_equal(f.n_nodes, 2);
    assert_true(span_is(f.nodes[1], "b"));
    cairn_buf out;
    cairn_buf_init(&out, 256);
    assert_int_equal(cairn__wire_serf_filter_encode(&f, &out, NULL), 0);
    assert_bytes(out.data, out.len, q.filters[0].p, q.filters[0].len);
    assert_int_equal(cairn__wire_serf_filter_decode(q.filters[1].p, q.filters[1].len, &a, NULL, &f),
                     0);
    assert_int_equal(f.type, CAIRN_WIRE_SERF_FILTER_TAG);
    assert_true(span_is(f.tag, "role"));
    assert_true(span_is(f.expr, "web"));
    cairn_buf_reset(&out);
    assert_int_equal(cairn__wire_serf_filter_encode(&f, &out, NULL), 0);
    assert_bytes(out.data, out.len, q.filters[1].p, q.filters[1].len);
    /* The captured list-keys payload is a key request with an empty key. */
    uint8_t *kr = hex("0781a34b6579a0", &n);
    cairn_wire_serf_key_request req;
    assert_int_equal(cairn__wire_serf_key_request_decode(kr, n, &a, NULL, &req), 0);
    assert_int_equal(req.key.len, 0);
    assert_non_null(req.key.p);
    free(kr);
    cairn_buf_destroy(&out);
    cairn__wire_arena_destroy(&a);
    free(msg);
}

/* ------------------------------------------------------------ tags, coord */

static void test_tags(void **state)
{
    (void)state;
    cairn_buf out;
    cairn_buf_init(&out, 4096);
    cairn_wire_tag one = {CAIRN_SPAN_LIT("role"), CAIRN_SPAN_LIT("web")};
    assert_int_equal(cairn__wire_tags_encode(&one, 1, &out, NULL), 0);
    size_t n;
    uint8_t *want = hex("ff 81 a4 726f6c65 a3 776562", &n);
    assert_bytes(out.data, out.len, want, n);
    free(want);
    /* Sorted whatever the input order; empty set is ff 80. */
    cairn_wire_tag two[3] = {{CAIRN_SPAN_LIT("role"), CAIRN_SPAN_LIT("db")},
                             {CAIRN_SPAN_LIT("dc"), CAIRN_SPAN_LIT("lab")},
                             {CAIRN_SPAN_LIT("a"), CAIRN_SPAN_LIT("")}};
    cairn_buf_reset(&out);
    assert_int_equal(cairn__wire_tags_encode(two, 3, &out, NULL), 0);
    want = hex("ff 83 a1 61 a0 a2 6463 a3 6c6162 a4 726f6c65 a2 6462", &n);
    assert_bytes(out.data, out.len, want, n);
    free(want);
    cairn_buf_reset(&out);
    assert_int_equal(cairn__wire_tags_encode(NULL, 0, &out, NULL), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "\xff\x80", 2);
    /* Duplicates and oversize are refused, leaving out unchanged. */
    cairn_wire_tag dup[2] = {one, one};
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_tags_encode(dup, 2, &out, &d), CAIRN_EINVAL);
    assert_int_equal(out.len, 2);
    char big[600];
    memset(big, 'v', sizeof(big));
    cairn_wire_tag huge = {CAIRN_SPAN_LIT("k"), {(const uint8_t *)big, 510}};
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_tags_encode(&huge, 1, &out, &d), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "tags: Meta is 517 bytes, limit 512");
    assert_int_equal(out.len, 2);
    /* Decode: ff map, legacy role, empty. */
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 1 << 20);
    cairn_wire_tag *t;
    size_t nt;
    uint8_t *meta = hex("ff 82 a4 726f6c65 a3 776562 a2 6463 a3 6c6162", &n);
    assert_int_equal(cairn__wire_tags_decode((cairn_span){meta, n}, &a, NULL, &t, &nt), 0);
    assert_int_equal(nt, 2);
    assert_true(span_is(t[1].key, "dc"));
    assert_true(span_is(t[1].value, "lab"));
    free(meta);
    assert_int_equal(cairn__wire_tags_decode(CAIRN_SPAN_LIT("web"), &a, NULL, &t, &nt), 0);
    assert_int_equal(nt, 1);
    assert_true(span_is(t[0].key, "role"));
    assert_true(span_is(t[0].value, "web"));
    assert_int_equal(cairn__wire_tags_decode((cairn_span){NULL, 0}, &a, NULL, &t, &nt), 0);
    assert_int_equal(nt, 0);
    cairn_diag_clear(&d);
    assert_int_equal(
        cairn__wire_tags_decode((cairn_span){(const uint8_t *)big, 600}, &a, &d, &t, &nt),
        CAIRN_ELIMIT);
    assert_string_equal(d.msg, "tags: Meta is 600 bytes, limit 512");
    /* Truncated map. */
    meta = hex("ff 82 a4 726f6c65 a3 7765", &n);
    assert_int_equal(cairn__wire_tags_decode((cairn_span){meta, n}, &a, NULL, &t, &nt),
                     CAIRN_EPROTO);
    free(meta);
    cairn__wire_arena_destroy(&a);
    cairn_buf_destroy(&out);
}

static void test_coord_payload(void **state)
{
    (void)state;
    size_t n;
    uint8_t *want = hex(COORD_PAYLOAD, &n);
    assert_int_equal(n, 130);
    cairn_coord c;
    assert_int_equal(cairn__wire_coord_decode(want, n, NULL, &c), 0);
    assert_int_equal(c.dim, 8);
    assert_true(c.error == 1.5);
    assert_true(c.height == 1.0e-5);
    cairn_buf out;
    cairn_buf_init(&out, 1024);
    assert_int_equal(cairn__wire_coord_encode(&c, &out, NULL), 0);
    assert_bytes(out.data, out.len, want, n);
    free(want);
    cairn_diag d;
    cairn_diag_clear(&d);
    cairn_coord bad = c;
    bad.vec[3] = NAN;
    assert_int_equal(cairn__wire_coord_encode(&bad, &out, &d), CAIRN_EINVAL);
    assert_string_equal(d.msg, "coordinate: Vec is not finite (refusing to encode)");
    bad = c;
    bad.dim = 9;
    assert_int_equal(cairn__wire_coord_encode(&bad, &out, NULL), CAIRN_EINVAL);
    assert_int_equal(out.len, 130);
    /* Decoder: 9 dimensions, NaN, Inf, other version, ints accepted. */
    uint8_t *p = hex("01 81 a3 566563 99 00 00 00 00 00 00 00 00 00", &n);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_coord_decode(p, n, &d, &c), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "coordinate: Vec has 9 dimensions, limit 8");
    free(p);
    p = hex("01 82 a5 4572726f72 cb 7ff8000000000000 a3 566563 92 01 02", &n);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_coord_decode(p, n, &d, &c), CAIRN_ERANGE);
    assert_string_equal(d.msg, "coordinate: Error is not finite (rejected)");
    free(p);
    p = hex("01 82 a6 486569676874 ca 7f800000 a3 566563 92 01 02", &n);
    assert_int_equal(cairn__wire_coord_decode(p, n, NULL, &c), CAIRN_ERANGE);
    free(p);
    p = hex("02 80", &n);
    assert_int_equal(cairn__wire_coord_decode(p, n, NULL, &c), CAIRN_ENOTSUP);
    free(p);
    p = hex("01 83 a3 566563 92 01 ca 3fc00000 a7 556e6b6e6f776e 81 a1 61 90 a6 486569676874 c0",
            &n);
    assert_int_equal(cairn__wire_coord_decode(p, n, NULL, &c), 0);
    assert_int_equal(c.dim, 2);
    assert_true(c.vec[0] == 1.0 && c.vec[1] == 1.5);
    free(p);
    cairn_buf_destroy(&out);
}

/* ------------------------------------------------------------ limits */

/* Arena trouble is told apart: no arena is CAIRN_EINVAL, the arena's cap
 * is CAIRN_ELIMIT (a limit, not memory exhaustion), both with a diag. */
static void test_arena_errors(void **state)
{
    (void)state;
    size_t n;
    uint8_t *m =
        hex("06 9b a1 61 a4 7f000001 cd 1f0a 81 a4 726f6c65 a3 776562 02 01 05 02 02 05 05", &n);
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_serf_conflict_response_decode(m, n, NULL, &d, NULL), CAIRN_EINVAL);
    assert_string_equal(d.msg, "serf conflict: Tags needs a decode arena");
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 16); /* one tag is two spans: 32 bytes */
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_serf_conflict_response_decode(m, n, &a, &d, NULL), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "serf conflict: Tags needs 32 arena bytes, 16 of the limit 16 left");
    cairn__wire_arena_destroy(&a);
    free(m);
    char *s = pushpull_hex();
    m = hex(s, &n);
    free(s);
    cairn__wire_arena_init(&a, 8);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_pushpull_decode(m, n, &a, &d, NULL), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "arena bytes, 8 of the limit 8 left"));
    cairn__wire_arena_destroy(&a);
    free(m);
}

static void test_limits(void **state)
{
    (void)state;
    cairn_buf out;
    cairn_buf_init(&out, 1 << 16);
    cairn_diag d;
    uint8_t meta[600];
    memset(meta, 'm', sizeof(meta));
    static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
    cairn_wire_alive al = {.addr = {(const uint8_t *)"\x7f\0\0\1", 4},
                           .incarnation = 1,
                           .meta = {meta, 600},
                           .node = CAIRN_SPAN_LIT("a"),
                           .port = 7946,
                           .vsn = {vsn, 6}};
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_alive_encode(&al, &out, &d), CAIRN_EINVAL);
    assert_string_equal(d.msg, "alive: Meta is 600 bytes, limit 512");
    assert_int_equal(out.len, 0);
    al.vsn.len = 3;
    al.meta.len = 10;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_alive_encode(&al, &out, &d), CAIRN_EINVAL);
    assert_string_equal(d.msg, "alive: Vsn is 3 bytes, want 0 or 6");

    /* Hand-build the hostile inputs (our encoder refuses to). */
    cairn_mp_writer w;
    cairn_buf_reset(&out);
    cairn__mp_writer_init(&w, &out, CAIRN_MP_GOSSIP);
    cairn__mp_write_raw(&w, "\x04", 1);
    cairn__mp_write_map(&w, 2);
    cairn__mp_write_cstr(&w, "Node");
    cairn__mp_write_cstr(&w, "a");
    cairn__mp_write_cstr(&w, "Meta");
    cairn__mp_write_bytes(&w, (cairn_span){meta, 600});
    assert_int_equal(cairn__mp_writer_finish(&w), 0);
    cairn_wire_alive got;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_alive_decode(out.data, out.len, NULL, &d, &got), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "alive: Meta is 600 bytes, limit 512");

    /* #368: short Vsn. */
    size_t n;
    uint8_t *m = hex("04 82 a4 4e6f6465 a1 61 a3 56736e a3 010502", &n);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_alive_decode(m, n, NULL, &d, &got), CAIRN_EPROTO);
    assert_string_equal(d.msg, "alive: Vsn is 3 bytes, want 0 or 6");
    free(m);
    /* Vsn as an array of ints needs the arena, and then works. */
    m = hex("04 82 a4 4e6f6465 a1 61 a3 56736e 96 01 05 02 02 05 05", &n);
    assert_int_equal(cairn__wire_alive_decode(m, n, NULL, NULL, &got), CAIRN_ENOTSUP);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 1 << 20);
    assert_int_equal(cairn__wire_alive_decode(m, n, &a, NULL, &got), 0);
    assert_memory_equal(got.vsn.p, vsn, 6);
    free(m);

    /* #357: node count above the cap, and above the bytes present. */
    m = hex("06 83 a4 4a6f696e c2 a5 4e6f646573 ce 00200000 ac 5573657253746174654c656e 00", &n);
    cairn_diag_clear(&d);
    cairn_wire_pushpull pp;
    assert_int_equal(cairn__wire_pushpull_decode(m, n, &a, &d, &pp), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "push-pull: Nodes is 2097152, limit 1048576");
    free(m);
    m = hex("06 83 a4 4a6f696e c2 a5 4e6f646573 ce 000f0000 ac 5573657253746174654c656e 00 80 80",
            &n);
    size_t used_before = a.used;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_pushpull_decode(m, n, &a, &d, &pp), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "push-pull: Nodes is 983040 but only 2 bytes follow");
    assert_int_equal(a.used, used_before);
    free(m);
    m = hex("06 83 a4 4a6f696e c2 a5 4e6f646573 00 ac 5573657253746174654c656e ce 01400001", &n);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_pushpull_decode(m, n, &a, &d, &pp), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "push-pull: UserStateLen is 20971521, limit 20971520");
    free(m);
    m = hex("06 83 a4 4a6f696e c2 a5 4e6f646573 d0 ff ac 5573657253746174654c656e 00", &n);
    assert_int_equal(cairn__wire_pushpull_decode(m, n, &a, NULL, &pp), CAIRN_ELIMIT);
    free(m);
    /* #361: UserMsgLen. */
    m = hex("08 81 aa 557365724d73674c656e ce 01400001", &n);
    cairn_wire_user_msg_header uh;
    size_t used;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_user_msg_header_decode(m, n, &d, &uh, &used), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "user: UserMsgLen is 20971521, limit 20971520");
    free(m);
    m = hex("08 81 aa 557365724d73674c656e cd 0400", &n);
    assert_int_equal(cairn__wire_user_msg_header_decode(m, n - 1, NULL, &uh, &used), CAIRN_EAGAIN);
    assert_int_equal(cairn__wire_user_msg_header_decode(m, n, NULL, &uh, &used), 0);
    assert_int_equal(uh.user_msg_len, 1024);
    assert_int_equal(used, n);
    cairn_buf_reset(&out);
    assert_int_equal(cairn__wire_user_msg_header_encode(&uh, &out, NULL), 0);
    assert_bytes(out.data, out.len, m, n);
    free(m);

    /* Serf Events ring larger than 512. */
    cairn_buf_reset(&out);
    cairn__mp_writer_init(&w, &out, CAIRN_MP_GOSSIP);
    cairn__mp_write_raw(&w, "\x02", 1);
    cairn__mp_write_map(&w, 1);
    cairn__mp_write_cstr(&w, "Events");
    cairn__mp_write_array(&w, 513);
    for (int k = 0; k < 513; k++)
        cairn__mp_write_nil(&w);
    assert_int_equal(cairn__mp_writer_finish(&w), 0);
    cairn_wire_serf_pushpull sp;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_serf_pushpull_decode(out.data, out.len, &a, &d, &sp),
                     CAIRN_ELIMIT);
    assert_string_equal(d.msg, "serf push-pull: Events has 513 elements, limit 512");

    /* Nesting depth in an unknown field. */
    cairn_buf_reset(&out);
    cairn__mp_writer_init(&w, &out, CAIRN_MP_GOSSIP);
    cairn__mp_write_raw(&w, "\x0b", 1);
    cairn__mp_write_map(&w, 2);
    cairn__mp_write_cstr(&w, "X");
    for (int k = 0; k < 40; k++)
        cairn__mp_write_array(&w, 1);
    cairn__mp_write_nil(&w);
    cairn__mp_write_cstr(&w, "SeqNo");
    cairn__mp_write_uint(&w, 3);
    assert_int_equal(cairn__mp_writer_finish(&w), 0);
    cairn_wire_nack nk;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_nack_decode(out.data, out.len, &d, &nk), CAIRN_ELIMIT);
    assert_string_equal(d.msg, "nack: an unknown field's value is too large or too deeply nested");

    cairn__wire_arena_destroy(&a);
    cairn_buf_destroy(&out);
}

/* Push node states decode in one pass when every item is a known field in
 * raw form, and through the delimiting path otherwise (unknown keys, array
 * form, []byte as an array of ints); the results agree, and a node is
 * refused exactly when the delimiting walk refuses it (nesting). */
static void test_pushpull_node_paths(void **state)
{
    (void)state;
    size_t n;
    uint8_t *m = hex("06 83 a4 4a6f696e c2 a5 4e6f646573 03 ac 5573657253746174654c656e 00 "
                     /* a: the map Go sends */
                     "87 a4 41646472 a4 7f000001 ab 496e6361726e6174696f6e 01 a4 4d657461 a0 "
                     "a4 4e616d65 a1 61 a4 506f7274 cd 1f0a a5 5374617465 00 a3 56736e "
                     "a6 010502020505 "
                     /* b: the same with an unknown key */
                     "88 a4 41646472 a4 7f000001 ab 496e6361726e6174696f6e 01 a4 4d657461 a0 "
                     "a1 58 81 a1 61 91 01 a4 4e616d65 a1 62 a4 506f7274 cd 1f0a "
                     "a5 5374617465 00 a3 56736e a6 010502020505 "
                     /* c: array form, Vsn as an array of ints */
                     "97 a1 63 a4 7f000001 cd 1f0a a0 01 00 96 01 05 02 02 05 05",
                     &n);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_wire_pushpull pp;
    assert_int_equal(cairn__wire_pushpull_decode(m, n, &a, NULL, &pp), 0);
    assert_int_equal(pp.n_nodes, 3);
    const char *names[3] = {"a", "b", "c"};
    for (int k = 0; k < 3; k++) {
        assert_true(span_is(pp.nodes[k].name, names[k]));
        assert_int_equal(pp.nodes[k].port, 0x1f0a);
        assert_int_equal(pp.nodes[k].incarnation, 1);
        assert_int_equal(pp.nodes[k].addr.len, 4);
        assert_int_equal(pp.nodes[k].vsn.len, 6);
        assert_int_equal(pp.nodes[k].vsn.p[1], 5);
    }
    assert_int_equal(pp.user_state.len, 0);
    cairn__wire_arena_destroy(&a);
    free(m);
    /* An unknown key nested d deep: accepted iff the node's delimiting
     * walk accepts it. */
    for (int d = CAIRN_MP_MAX_DEPTH - 3; d <= CAIRN_MP_MAX_DEPTH + 2; d++) {
        uint8_t node[128], msg[256];
        size_t len = 0;
        static const uint8_t head[] = {0x82, 0xa4, 'N', 'a', 'm', 'e', 0xa1, 'x', 0xa1, 'X'};
        memcpy(node, head, sizeof(head));
        len = sizeof(head);
        for (int k = 0; k < d; k++)
            node[len++] = 0x91;
        node[len++] = 0xc0;
        static const uint8_t pph[] = {0x06, 0x83, 0xa4, 'J', 'o',  'i',  'n', 0xc2, 0xa5, 'N',
                                      'o',  'd',  'e',  's', 0x01, 0xac, 'U', 's',  'e',  'r',
                                      'S',  't',  'a',  't', 'e',  'L',  'e', 'n',  0x00};
        memcpy(msg, pph, sizeof(pph));
        memcpy(msg + sizeof(pph), node, len);
        size_t obj;
        bool walk_ok = cairn__mp_object_len(node, len, &obj) == 0;
        cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
        int e = cairn__wire_pushpull_decode(msg, sizeof(pph) + len, &a, NULL, &pp);
        assert_int_equal(e == 0, walk_ok);
        cairn__wire_arena_destroy(&a);
    }
}

/* ------------------------------------------------------------ array form */

/* go-msgpack 0.5.5 also decodes a struct from an array, by position in the
 * Go declaration order (spec §1.2); extra elements are skipped, missing
 * ones stay zero. Each input below is a hand-made array encoding; each
 * expected output is what go-msgpack 0.5.5 itself produced by decoding that
 * input into a copy of the Go struct and encoding it again (a throw-away Go
 * program against Debian's golang-github-hashicorp-go-msgpack-dev). */
static void test_positional_memberlist(void **state)
{
    (void)state;
    decode_encode(rt_ping, "00 95 07 a1 61 a4 7f000001 cd 1f0a a1 62",
                  "0085a44e6f6465a161a55365714e6f07aa536f7572636541646472a47f000001aa536f7572"
                  "63654e6f6465a162aa536f75726365506f7274cd1f0a");
    /* Short: the missing fields keep their zero (and omitempty drops them). */
    decode_encode(rt_ping, "00 92 07 a1 62", "0082a44e6f6465a162a55365714e6f07");
    decode_encode(rt_ping, "00 90", "0082a44e6f6465a0a55365714e6f00");
    /* Long: values past the declared fields are skipped, whatever type. */
    decode_encode(rt_ping, "00 98 07 a1 61 c0 c0 c0 81 a1 78 01 92 01 a0 a3 787878",
                  "0082a44e6f6465a161a55365714e6f07");
    decode_encode(rt_indirect, "01 98 18 a4 7f000001 cd 1f0c a1 63 c3 a4 7f000001 cd 1f0a a1 61",
                  "0188a44e61636bc3a44e6f6465a163a4506f7274cd1f0ca55365714e6f18aa536f75726365"
                  "41646472a47f000001aa536f757263654e6f6465a161aa536f75726365506f7274cd1f0aa6"
                  "546172676574a47f000001");
    decode_encode(rt_ack, "02 92 07 a2 6f6b", "0282a75061796c6f6164a26f6ba55365714e6f07");
    decode_encode(rt_nack, "0b 91 1c", "0b81a55365714e6f1c");
    decode_encode(rt_err, "0d 91 a4 626f6f6d", "0d81a54572726f72a4626f6f6d");
    decode_encode(rt_suspect, "03 93 01 a1 63 a1 61",
                  "03 83 a4 46726f6d a1 61 ab "
                  "496e6361726e6174696f6e 01 a4 4e6f6465 a1 63");
    decode_encode(rt_dead, "05 93 01 a1 62 a1 62",
                  "05 83 a4 46726f6d a1 62 ab 496e6361726e6174696f6e 01 a4 4e6f6465 a1 62");
    decode_encode(rt_alive,
                  "04 96 01 a1 61 a4 7f000001 cd 1f0a ab ff81a4726f6c65a3776562 a6 010502020505",
                  ALIVE_A);
    /* Arrays inside arrays: Vsn as an array of small ints. */
    decode_encode(rt_alive, "04 96 01 a1 61 a4 7f000001 cd 1f0a a2 ff80 96 01 05 02 02 05 05",
                  "0486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461a2ff80a44e6f64"
                  "65a161a4506f7274cd1f0aa356736ea6010502020505");
    decode_encode(rt_pushpull,
                  "06 93 01 00 c3 97 a1 61 a4 7f000001 cd 1f0a a2 ff80 01 00 a6 010502020505",
                  "0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656e0087a441646472a47f"
                  "000001ab496e6361726e6174696f6e01a44d657461a2ff80a44e616d65a161a4506f7274cd"
                  "1f0aa5537461746500a356736ea6010502020505");
    size_t n;
    uint8_t *p = hex("08 91 05 68656c6c6f", &n);
    cairn_wire_user_msg_header uh;
    size_t used = 0;
    assert_int_equal(cairn__wire_user_msg_header_decode(p, n, NULL, &uh, &used), 0);
    assert_int_equal(uh.user_msg_len, 5);
    assert_int_equal(used, 3);
    free(p);
    /* Go's positional decode still type-checks each element: an
     * Incarnation that is a string fails (go-msgpack: "Unhandled
     * single-byte unsigned integer value"), naming the field here. */
    p = hex("03 93 a1 61 a1 63 a1 61", &n);
    cairn_diag d;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_suspect_decode(p, n, &d, NULL), CAIRN_EPROTO);
    assert_non_null(strstr(d.msg, "suspect: Incarnation"));
    free(p);
    /* A truncated array (3 declared, 2 present) is malformed, not short. */
    p = hex("03 93 01 a1 63", &n);
    assert_int_equal(cairn__wire_suspect_decode(p, n, NULL, NULL), CAIRN_EPROTO);
    free(p);
}

static void test_positional_serf(void **state)
{
    (void)state;
    decode_encode(rt_leave, "00 93 02 a1 62 c3", "0083a54c54696d6502a44e6f6465a162a55072756e65c3");
    decode_encode(rt_join, "01 92 02 a1 62", "0182a54c54696d6502a44e6f6465a162");
    decode_encode(rt_event, "03 94 05 a3 646f6f a2 6869 c3",
                  "0384a24343c3a54c54696d6505a44e616d65a3646f6fa75061796c6f6164a26869");
    decode_encode(rt_query,
                  "04 9b 02 ce01020304 a4 7f000001 cd 1f0a a1 61 91 a6 0092a161a162 01 03 "
                  "cf 0000000ba43b7400 a6 757074696d65 c0",
                  "048ba441646472a47f000001a746696c7465727391a60092a161a162a5466c61677301a249"
                  "44ce01020304a54c54696d6502a44e616d65a6757074696d65a75061796c6f6164c0a4506f"
                  "7274cd1f0aab52656c6179466163746f7203aa536f757263654e6f6465a161a754696d656f"
                  "7574cf0000000ba43b7400");
    decode_encode(rt_response, "05 95 02 ce01020304 a1 62 01 a2 6f6b",
                  "0585a5466c61677301a446726f6da162a24944ce01020304a54c54696d6502a75061796c6f"
                  "6164a26f6b");
    decode_encode(rt_keyreq, "07 91 b0 000102030405060708090a0b0c0d0e0f",
                  "0781a34b6579b0000102030405060708090a0b0c0d0e0f");
    decode_encode(rt_keyresp, "08 94 c3 a2 6f6b 92 a1 61 a1 62 a1 61",
                  "0884a44b65797392a161a162a74d657373616765a26f6baa5072696d6172794b6579a161a6"
                  "526573756c74c3");
    /* The nested net.UDPAddr is positional too; the inner message follows. */
    decode_encode(rt_relay, "09 92 93 a4 7f000001 cd 1f0a a0 a1 62 01 92 02 a1 62",
                  "0982a8446573744164647283a24950a47f000001a4506f7274cd1f0aa45a6f6e65a0a84465"
                  "73744e616d65a162019202a162");
    /* Events ring slots ([]*userEvents) and their items as arrays. */
    decode_encode(rt_serfpp, "02 96 05 81 a1 61 03 91 a1 62 04 92 c0 92 07 91 92 a1 78 a2 6869 06",
                  "0286aa4576656e744c54696d6504a64576656e747392c082a64576656e74739182a44e616d"
                  "65a178a75061796c6f6164a26869a54c54696d6507a54c54696d6505ab4c6566744d656d62"
                  "65727391a162aa51756572794c54696d6506ac5374617475734c54696d657381a16103");
    decode_encode(rt_conflict,
                  "06 9b a1 61 a4 7f000001 cd 1f0a 81 a4 726f6c65 a3 776562 02 01 05 02 02 05 05",
                  "068ba441646472a47f000001ab44656c656761746543757205ab44656c65676174654d6178"
                  "05ab44656c65676174654d696e02a44e616d65a161a4506f7274cd1f0aab50726f746f636f"
                  "6c43757202ab50726f746f636f6c4d617805ab50726f746f636f6c4d696e01a65374617475"
                  "7302a45461677381a4726f6c65a3776562");
    decode_encode(rt_filter, "01 92 a4 726f6c65 a3 776562",
                  "0182a445787072a3776562a3546167a4726f6c65");
    /* A byte go-msgpack cannot read (c1) among the extra elements still
     * fails the message, as it does in Go. */
    size_t n;
    uint8_t *p = hex("00 94 02 a1 62 c3 c1", &n);
    assert_int_equal(cairn__wire_serf_leave_decode(p, n, NULL, NULL), CAIRN_EPROTO);
    free(p);
    /* Coordinate{Vec, Error, Adjustment, Height} as an array. */
    p = hex("01 94 92 cb3ff0000000000000 cb3ff8000000000000 cb3fe0000000000000 "
            "cb0000000000000000 cb3ee4f8b588e368f1",
            &n);
    cairn_coord c;
    assert_int_equal(cairn__wire_coord_decode(p, n, NULL, &c), 0);
    free(p);
    cairn_buf out;
    cairn_buf_init(&out, 1024);
    assert_int_equal(cairn__wire_coord_encode(&c, &out, NULL), 0);
    uint8_t *w = hex("0184aa41646a7573746d656e74cb0000000000000000a54572726f72cb3fe0000000000000a6"
                     "486569676874cb3ee4f8b588e368f1a356656392cb3ff0000000000000cb3ff8000000000000",
                     &n);
    assert_bytes(out.data, out.len, w, n);
    free(w);
    cairn_buf_destroy(&out);
    p = hex("01 95 91 01 00 00 00 a1 78", &n);
    assert_int_equal(cairn__wire_coord_decode(p, n, NULL, &c), 0);
    assert_int_equal(c.dim, 1);
    free(p);
}

static void test_decoding_rules(void **state)
{
    (void)state;
    size_t n;
    cairn_diag d;
    /* Keys case-sensitive ("node" ignored), unknown keys of every kind
     * skipped, order irrelevant, nil for everything. */
    uint8_t *m =
        hex("00 86 a4 6e6f6465 a1 7a a1 58 81 a1 61 91 01 a5 5365714e6f cf 0000000000000009 "
            "a4 4e6f6465 a1 62 aa 536f757263654e6f6465 c0 aa 536f75726365506f7274 d1 0050",
            &n);
    cairn_wire_ping p;
    assert_int_equal(cairn__wire_ping_decode(m, n, NULL, NULL, &p), 0);
    assert_true(span_is(p.node, "b"));
    assert_int_equal(p.seq_no, 9);
    assert_int_equal(p.source_port, 80);
    assert_null(p.source_node.p);
    free(m);
    /* A string field given as bin is rejected, as Go does. */
    m = hex("00 81 a4 4e6f6465 c4 01 62", &n);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_ping_decode(m, n, NULL, &d, &p), CAIRN_EPROTO);
    assert_string_equal(d.msg, "ping: Node is of the wrong msgpack type");
    free(m);
    /* Port overflow; SeqNo negative. */
    m = hex("04 81 a4 506f7274 ce 00011170", &n);
    cairn_wire_alive al;
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_alive_decode(m, n, NULL, &d, &al), CAIRN_ERANGE);
    assert_string_equal(d.msg, "alive: Port is out of range");
    free(m);
    /* Bool as 0/1; bin accepted for []byte. */
    m = hex("01 83 a4 4e61636b 01 a6 546172676574 c4 04 0a000001 a4 506f7274 00", &n);
    cairn_wire_indirect_ping ip;
    assert_int_equal(cairn__wire_indirect_ping_decode(m, n, NULL, NULL, &ip), 0);
    assert_true(ip.nack);
    assert_int_equal(ip.target.len, 4);
    free(m);
    /* Truncation anywhere is a clean EPROTO; wrong type byte too. */
    char *s = pushpull_hex();
    m = hex(s, &n);
    free(s);
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 1 << 20);
    for (size_t k = 0; k < n; k++) {
        cairn_wire_pushpull pp;
        int e = cairn__wire_pushpull_decode(m, k, &a, NULL, &pp);
        assert_true(e == CAIRN_EPROTO || e == CAIRN_ELIMIT);
    }
    cairn__wire_arena_destroy(&a);
    cairn_diag_clear(&d);
    assert_int_equal(cairn__wire_ack_decode(m, n, NULL, &d, NULL), CAIRN_EPROTO);
    assert_string_equal(d.msg, "ack: type byte is 6, want 2");
    free(m);
    /* Dispatch refuses framing types. */
    uint8_t c9[] = {0x09, 0x80};
    assert_int_equal(cairn__wire_msg_decode(c9, 2, NULL, NULL, NULL), CAIRN_ENOTSUP);
}

/* Walk every allocation of a push-pull decode: each failure is ENOMEM and
 * nothing leaks. */
/* Decodes a push-pull and the serf push-pull inside it. */
static int pushpull_attempt(void *ctx)
{
    const cairn_span *m = ctx;
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 1 << 20);
    cairn_wire_pushpull pp;
    cairn_wire_serf_pushpull sp;
    int e = cairn__wire_pushpull_decode(m->p, m->len, &a, NULL, &pp);
    if (e == 0)
        e = cairn__wire_serf_pushpull_decode(pp.user_state.p, pp.user_state.len, &a, NULL, &sp);
    cairn__wire_arena_destroy(&a);
    return e;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    size_t n;
    char *s = pushpull_hex();
    uint8_t *m = hex(s, &n);
    free(s);
    cairn_span msg = {m, n};
    cairn__test_alloc_install();
    assert_true(alloc_sweep(pushpull_attempt, &msg, 0, 64) >= 3);
    cairn__test_alloc_uninstall();
    free(m);
}

/* ------------------------------------------------------------ vectors */

/* The fixed public test key of tools/capture_vectors.sh: bytes 00..1f. */
static void test_key(uint8_t key[32])
{
    for (int k = 0; k < 32; k++)
        key[k] = (uint8_t)k;
}

typedef struct vec_stats {
    int packets;
    int messages;
    int serf;
    int streams;
    int reencoded;
    const char *path;
    cairn_wire_arena *arena;
} vec_stats;

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

/* Re-encodes deterministic messages and checks the bytes; returns whether
 * it compared. */
static bool reencode_serf(const cairn_wire_serf_msg *sm, const uint8_t *p, size_t len)
{
    cairn_buf out;
    cairn_buf_init(&out, 1 << 20);
    int e = -1;
    switch (sm->type) {
    case CAIRN_WIRE_SERF_JOIN:
        e = cairn__wire_serf_join_encode(&sm->u.join, &out, NULL);
        break;
    case CAIRN_WIRE_SERF_LEAVE:
        e = cairn__wire_serf_leave_encode(&sm->u.leave, &out, NULL);
        break;
    case CAIRN_WIRE_SERF_USER_EVENT:
        e = cairn__wire_serf_user_event_encode(&sm->u.user_event, &out, NULL);
        break;
    case CAIRN_WIRE_SERF_QUERY:
        e = cairn__wire_serf_query_encode(&sm->u.query, &out, NULL);
        break;
    case CAIRN_WIRE_SERF_QUERY_RESPONSE:
        e = cairn__wire_serf_query_response_encode(&sm->u.query_response, &out, NULL);
        break;
    case CAIRN_WIRE_SERF_KEY_REQUEST:
        e = cairn__wire_serf_key_request_encode(&sm->u.key_request, &out, NULL);
        break;
    case CAIRN_WIRE_SERF_KEY_RESPONSE:
        e = cairn__wire_serf_key_response_encode(&sm->u.key_response, &out, NULL);
        break;
    default:
        break;
    }
    if (e == 0)
        assert_bytes(out.data, out.len, p, len);
    cairn_buf_destroy(&out);
    return e == 0;
}

static void decode_serf(const uint8_t *p, size_t len, vec_stats *st)
{
    cairn_wire_serf_msg sm;
    cairn_diag d;
    cairn_diag_clear(&d);
    if (cairn__wire_serf_msg_decode(p, len, st->arena, &d, &sm))
        fail_msg("%s: serf: %s", st->path, d.msg);
    st->serf++;
    if (sm.type == CAIRN_WIRE_SERF_RELAY)
        decode_serf(sm.u.relay.inner.p, sm.u.relay.inner.len, st);
    if (sm.type == CAIRN_WIRE_SERF_QUERY) {
        for (size_t k = 0; k < sm.u.query.n_filters; k++) {
            cairn_wire_serf_filter f;
            assert_int_equal(cairn__wire_serf_filter_decode(sm.u.query.filters[k].p,
                                                            sm.u.query.filters[k].len, st->arena,
                                                            NULL, &f),
                             0);
        }
        /* Internal key queries carry a key request. */
        if (sm.u.query.payload.len && sm.u.query.payload.p[0] == CAIRN_WIRE_SERF_KEY_REQUEST &&
            sm.u.query.name.len > 6 && memcmp(sm.u.query.name.p, "_serf_", 6) == 0)
            decode_serf(sm.u.query.payload.p, sm.u.query.payload.len, st);
    }
    if (sm.type == CAIRN_WIRE_SERF_QUERY_RESPONSE && sm.u.query_response.payload.len &&
        sm.u.query_response.payload.p[0] == CAIRN_WIRE_SERF_KEY_RESPONSE)
        decode_serf(sm.u.query_response.payload.p, sm.u.query_response.payload.len, st);
    if (reencode_serf(&sm, p, len))
        st->reencoded++;
}

static void decode_leaf(const uint8_t *p, size_t len, vec_stats *st)
{
    cairn_wire_msg m;
    cairn_diag d;
    cairn_diag_clear(&d);
    if (cairn__wire_msg_decode(p, len, st->arena, &d, &m))
        fail_msg("%s: %s", st->path, d.msg);
    st->messages++;
    if (m.type == CAIRN_WIRE_USER)
        decode_serf(m.u.user.p, m.u.user.len, st);
    if (m.type == CAIRN_WIRE_ACK && m.u.ack.payload.len) {
        cairn_coord c;
        cairn_diag_clear(&d);
        if (cairn__wire_coord_decode(m.u.ack.payload.p, m.u.ack.payload.len, &d, &c))
            fail_msg("%s: %s", st->path, d.msg);
        assert_int_equal(c.dim, 8);
    }
    if (m.type == CAIRN_WIRE_ALIVE) {
        cairn_wire_tag *t;
        size_t nt;
        assert_int_equal(cairn__wire_tags_decode(m.u.alive.meta, st->arena, NULL, &t, &nt), 0);
        assert_true(nt >= 1);
        assert_int_equal(m.u.alive.vsn.len, 6);
    }
    /* Everything memberlist sends on UDP is deterministic. */
    cairn_buf out;
    cairn_buf_init(&out, 1 << 20);
    int e = -1;
    switch (m.type) {
    case CAIRN_WIRE_PING:
        e = cairn__wire_ping_encode(&m.u.ping, &out, NULL);
        break;
    case CAIRN_WIRE_INDIRECT_PING:
        e = cairn__wire_indirect_ping_encode(&m.u.indirect_ping, &out, NULL);
        break;
    case CAIRN_WIRE_ACK:
        e = cairn__wire_ack_encode(&m.u.ack, &out, NULL);
        break;
    case CAIRN_WIRE_NACK:
        e = cairn__wire_nack_encode(&m.u.nack, &out, NULL);
        break;
    case CAIRN_WIRE_SUSPECT:
        e = cairn__wire_suspect_encode(&m.u.suspect, &out, NULL);
        break;
    case CAIRN_WIRE_ALIVE:
        e = cairn__wire_alive_encode(&m.u.alive, &out, NULL);
        break;
    case CAIRN_WIRE_DEAD:
        e = cairn__wire_dead_encode(&m.u.dead, &out, NULL);
        break;
    default:
        break;
    }
    if (e == 0) {
        assert_bytes(out.data, out.len, p, len);
        st->reencoded++;
    }
    cairn_buf_destroy(&out);
}

static void on_packet_msg(uint8_t type, const uint8_t *body, size_t body_len, void *userdata)
{
    uint8_t *msg = malloc(body_len + 1);
    msg[0] = type;
    if (body_len)
        memcpy(msg + 1, body, body_len);
    decode_leaf(msg, body_len + 1, userdata);
    free(msg);
}

/* One TCP stream direction: push-pull exchanges through the stream reader. */
static void decode_stream(const cairn_frame_cfg *cfg, const uint8_t *p, size_t len, vec_stats *st)
{
    cairn_stream_rd *rd;
    assert_int_equal(cairn__stream_rd_new(cfg, &rd), 0);
    assert_int_equal(cairn__stream_rd_feed(rd, p, len), 0);
    cairn_diag d;
    cairn_diag_clear(&d);
    uint8_t type;
    if (cairn__stream_rd_type(rd, &type, &d))
        fail_msg("%s: %s", st->path, d.msg);
    assert_int_equal(type, CAIRN_WIRE_PUSHPULL);
    const uint8_t *obj;
    size_t olen;
    assert_int_equal(cairn__stream_rd_object(rd, &obj, &olen, &d), 0);
    cairn_buf whole;
    cairn_buf_init(&whole, 1 << 22);
    assert_int_equal(cairn_buf_append(&whole, &type, 1), 0);
    assert_int_equal(cairn_buf_append(&whole, obj, olen), 0);
    cairn_wire_pushpull_header h;
    size_t used;
    if (cairn__wire_pushpull_header_decode(whole.data, whole.len, &d, &h, &used))
        fail_msg("%s: %s", st->path, d.msg);
    for (uint32_t k = 0; k < h.nodes; k++) {
        assert_int_equal(cairn__stream_rd_object(rd, &obj, &olen, &d), 0);
        cairn_wire_push_node n;
        if (cairn__wire_push_node_decode(obj, olen, st->arena, &d, &n, &used))
            fail_msg("%s: %s", st->path, d.msg);
        assert_int_equal(n.vsn.len, 6);
        assert_int_equal(cairn_buf_append(&whole, obj, olen), 0);
    }
    const uint8_t *raw;
    assert_int_equal(cairn__stream_rd_raw(rd, h.user_state_len, &raw, &d), 0);
    assert_int_equal(cairn_buf_append(&whole, raw, h.user_state_len), 0);
    cairn__stream_rd_end(rd);
    cairn__stream_rd_delete(rd);

    /* The reassembled message decodes in one piece and re-encodes exactly
     * (go-msgpack's map order for StatusLTimes is kept). */
    cairn_wire_pushpull pp;
    if (cairn__wire_pushpull_decode(whole.data, whole.len, st->arena, &d, &pp))
        fail_msg("%s: %s", st->path, d.msg);
    cairn_wire_serf_pushpull sp;
    if (cairn__wire_serf_pushpull_decode(pp.user_state.p, pp.user_state.len, st->arena, &d, &sp))
        fail_msg("%s: %s", st->path, d.msg);
    assert_int_equal(sp.n_events, 512);
    cairn_buf out;
    cairn_buf_init(&out, 1 << 22);
    assert_int_equal(cairn__wire_pushpull_encode(&pp, &out, NULL), 0);
    assert_bytes(out.data, out.len, whole.data, whole.len);
    cairn_buf_reset(&out);
    assert_int_equal(cairn__wire_serf_pushpull_encode(&sp, &out, NULL), 0);
    assert_bytes(out.data, out.len, pp.user_state.p, pp.user_state.len);
    st->streams++;
    st->reencoded++;
    cairn_buf_destroy(&out);
    cairn_buf_destroy(&whole);
}

static vec_stats decode_run(const char *run, bool encrypted)
{
    vec_stats st = {0};
    cairn_frame_cfg cfg;
    cairn__frame_cfg_default(&cfg);
    cairn_keyring *ring = NULL;
    if (encrypted) {
        uint8_t key[32];
        test_key(key);
        assert_int_equal(cairn_keyring_new(key, sizeof(key), &ring), 0);
        cfg.keyring = ring;
    }
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/tests/vectors/%s", CAIRN_SOURCE_DIR, run);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        bool udp = strncmp(de->d_name, "udp-", 4) == 0;
        bool tcp = strncmp(de->d_name, "tcp-", 4) == 0;
        if (!udp && !tcp)
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        size_t len;
        uint8_t *b = read_file(path, &len);
        cairn_wire_arena a;
        cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
        st.path = path;
        st.arena = &a;
        if (udp) {
            cairn_packet_stats ps;
            memset(&ps, 0, sizeof(ps));
            cairn_diag d;
            cairn_diag_clear(&d);
            if (cairn__packet_decode(&cfg, b, len, on_packet_msg, &st, &ps, &d))
                fail_msg("%s: %s", path, d.msg);
            assert_true(ps.delivered >= 1);
            st.packets++;
        } else {
            decode_stream(&cfg, b, len, &st);
        }
        cairn__wire_arena_destroy(&a);
        free(b);
    }
    closedir(dp);
    cairn_keyring_delete(ring);
    printf("# %s: %d packets, %d messages, %d serf, %d streams, %d re-encoded identically\n", run,
           st.packets, st.messages, st.serf, st.streams, st.reencoded);
    return st;
}

static void test_vectors_nocomp(void **state)
{
    (void)state;
    vec_stats st = decode_run("nocomp", false);
    assert_true(st.packets > 100);
    assert_true(st.messages > 150);
    assert_true(st.serf > 10);
    assert_true(st.streams >= 2);
}

static void test_vectors_plain(void **state)
{
    (void)state;
    vec_stats st = decode_run("plain", false);
    assert_true(st.packets > 100);
    assert_true(st.serf > 10);
    assert_true(st.streams >= 2);
}

static void test_vectors_encrypt(void **state)
{
    (void)state;
    vec_stats st = decode_run("encrypt", true);
    assert_true(st.packets > 100);
    assert_true(st.serf > 10);
    assert_true(st.streams >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_dialects),
        cmocka_unit_test(test_mp_reader_rules),
        cmocka_unit_test(test_spec_memberlist_roundtrip),
        cmocka_unit_test(test_spec_ping_fields),
        cmocka_unit_test(test_spec_crc_packets),
        cmocka_unit_test(test_spec_pushpull_fields),
        cmocka_unit_test(test_spec_serf_roundtrip),
        cmocka_unit_test(test_spec_query_filters),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_coord_payload),
        cmocka_unit_test(test_arena_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_pushpull_node_paths),
        cmocka_unit_test(test_positional_memberlist),
        cmocka_unit_test(test_positional_serf),
        cmocka_unit_test(test_decoding_rules),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_vectors_nocomp),
        cmocka_unit_test(test_vectors_plain),
        cmocka_unit_test(test_vectors_encrypt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
