/* Unit tests for the Serf agent RPC decoders, on replies captured from the
 * real serf 0.9.4 agent (tests/vectors/serfrpc, made by
 * tools/capture_serfrpc.py), plus hand-made hostile inputs for every cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/serfrpc.h"
#include "serfrpc/decode.h"
#include "serfrpc/ipc.h"
#include "base/alloc_test.h"

struct vec {
    uint8_t data[65536];
    size_t len;
};

static void load(const char *name, struct vec *v)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/vectors/serfrpc/%s.bin", CAIRN_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    v->len = fread(v->data, 1, sizeof v->data, f);
    fclose(f);
    assert_true(v->len > 0);
}

/* split: the header at *off, then advances *off past it. */
static void next_header(const struct vec *v, size_t *off, cairn_wire_arena *a, serfrpc_header *h)
{
    size_t len;
    assert_int_equal(
        cairn__ipc_object_len(v->data + *off, v->len - *off, CAIRN_SERFRPC_MAX_RECORD, &len), 0);
    assert_int_equal(cairn__serfrpc_decode_header(v->data + *off, len, a, h, NULL), 0);
    *off += len;
}

static size_t body_len(const struct vec *v, size_t off)
{
    size_t len;
    assert_int_equal(
        cairn__ipc_object_len(v->data + off, v->len - off, CAIRN_SERFRPC_MAX_RECORD, &len), 0);
    return len;
}

static void test_members(void **state)
{
    struct vec v;
    cairn_wire_arena a;
    serfrpc_header h;
    size_t off = 0;
    cairn_member *ms;
    size_t n;
    load("members", &v);
    cairn__wire_arena_init(&a, 1 << 20);
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "");
    assert_int_equal(h.seq, 2);
    size_t blen = body_len(&v, off);
    assert_int_equal(off + blen, v.len);
    assert_int_equal(cairn__serfrpc_decode_members(v.data + off, blen, &a, &ms, &n, NULL), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        char buf[CAIRN_ADDR_STRLEN];
        assert_true(strcmp(ms[i].name, "s1.dc1") == 0 || strcmp(ms[i].name, "s2.dc1") == 0);
        assert_int_equal(ms[i].status, CAIRN_MEMBER_ALIVE);
        assert_string_equal(cairn_member_tag(&ms[i], "role"), "consul");
        assert_string_equal(cairn_member_tag(&ms[i], "dc"), "dc1");
        assert_string_equal(cairn_member_tag(&ms[i], "build"), "1.2.3:abc");
        assert_int_equal(ms[i].ntags, 5);
        cairn_addr_format(&ms[i].addr, true, buf, sizeof buf);
        assert_string_equal(buf, strcmp(ms[i].name, "s1.dc1") == 0 ? "127.0.0.1:17900"
                                                                   : "127.0.0.1:17902");
        assert_int_equal(ms[i].protocol_min, 1);
        assert_int_equal(ms[i].protocol_max, 5);
        assert_int_equal(ms[i].protocol_cur, 2);
        assert_int_equal(ms[i].delegate_min, 2);
        assert_int_equal(ms[i].delegate_max, 5);
        assert_int_equal(ms[i].delegate_cur, 5);
    }
    cairn__wire_arena_destroy(&a);
}

static void test_filtered_stats_join(void **state)
{
    struct vec v;
    cairn_wire_arena a;
    serfrpc_header h;
    size_t off = 0, n;
    cairn_member *ms;
    cairn__wire_arena_init(&a, 1 << 20);

    load("members_filtered", &v);
    next_header(&v, &off, &a, &h);
    assert_int_equal(
        cairn__serfrpc_decode_members(v.data + off, body_len(&v, off), &a, &ms, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ms[0].name, "s2.dc1");

    cairn_serfrpc_stat *st;
    off = 0;
    load("stats", &v);
    next_header(&v, &off, &a, &h);
    assert_int_equal(
        cairn__serfrpc_decode_stats(v.data + off, body_len(&v, off), &a, &st, &n, NULL), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].section, "agent") == 0 && strcmp(st[i].key, "name") == 0) {
            assert_string_equal(st[i].value, "s1.dc1");
            found = true;
        }
    assert_true(found);

    int32_t num = -1;
    off = 0;
    load("join", &v);
    next_header(&v, &off, &a, &h);
    assert_int_equal(cairn__serfrpc_decode_join(v.data + off, body_len(&v, off), &num, NULL), 0);
    assert_int_equal(num, 1);
    cairn__wire_arena_destroy(&a);
}

static void test_coordinates(void **state)
{
    struct vec v;
    cairn_wire_arena a;
    serfrpc_header h;
    size_t off = 0;
    bool ok = false;
    cairn_coord co;
    cairn__wire_arena_init(&a, 1 << 20);
    load("coordinate", &v);
    next_header(&v, &off, &a, &h);
    assert_int_equal(cairn__serfrpc_decode_coord(v.data + off, body_len(&v, off), &ok, &co, NULL),
                     0);
    assert_true(ok);
    assert_int_equal(co.dim, 8);
    assert_true(co.height >= 1e-5);
    assert_true(co.error > 0 && co.error <= 1.5);

    off = 0;
    load("coordinate_unknown", &v);
    next_header(&v, &off, &a, &h);
    assert_int_equal(cairn__serfrpc_decode_coord(v.data + off, body_len(&v, off), &ok, &co, NULL),
                     0);
    assert_false(ok);
    assert_int_equal(co.dim, 0);
    assert_true(co.height == 0.0);
    cairn__wire_arena_destroy(&a);
}

static void test_stream_records(void **state)
{
    struct vec v;
    cairn_wire_arena a;
    serfrpc_header h;
    size_t off = 0;
    int seen[7] = {0};
    cairn__wire_arena_init(&a, 1 << 20);
    load("stream", &v);
    next_header(&v, &off, &a, &h); /* the subscription's answer: no body */
    assert_string_equal(h.error, "");
    uint64_t seq = h.seq;
    while (off < v.len) {
        next_header(&v, &off, &a, &h);
        assert_int_equal(h.seq, seq);
        size_t blen = body_len(&v, off);
        cairn_event ev;
        assert_int_equal(cairn__serfrpc_decode_record(v.data + off, blen, &a, &ev, NULL), 0);
        off += blen;
        assert_true(ev.type >= 0 && ev.type < 7);
        seen[ev.type]++;
        if (ev.type == CAIRN_EVENT_USER) {
            assert_string_equal(ev.name, "deploy");
            assert_int_equal(ev.payload_len, 2);
            assert_memory_equal(ev.payload, "v1", 2);
            assert_true(ev.ltime > 0);
            assert_true(ev.coalesce); /* `serf event` coalesces by default */
        } else {
            assert_int_equal(ev.nmembers, 1);
            assert_string_equal(ev.members[0].name, "s3.dc1");
            if (ev.type == CAIRN_EVENT_MEMBER_FAILED)
                assert_int_equal(ev.members[0].status, CAIRN_MEMBER_FAILED);
            if (ev.type == CAIRN_EVENT_MEMBER_UPDATE)
                assert_string_equal(cairn_member_tag(&ev.members[0], "extra"), "1");
        }
    }
    assert_int_equal(seen[CAIRN_EVENT_MEMBER_JOIN], 1);
    assert_int_equal(seen[CAIRN_EVENT_USER], 1);
    assert_int_equal(seen[CAIRN_EVENT_MEMBER_UPDATE], 1);
    assert_int_equal(seen[CAIRN_EVENT_MEMBER_FAILED], 1);
    cairn__wire_arena_destroy(&a);
}

/* A query record (hand-built: Serf's streamQuery): its ID is the handle
 * for `respond`, and nothing the stream does not carry is invented. */
static void test_query_record(void **state)
{
    static const uint8_t rec[] = {0x85, 0xa5, 'E',  'v',  'e',  'n',  't',  0xa5, 'q',  'u',  'e',
                                  'r',  'y',  0xa2, 'I',  'D',  0xcd, 0x01, 0x00, 0xa5, 'L',  'T',
                                  'i',  'm',  'e',  0x07, 0xa4, 'N',  'a',  'm',  'e',  0xa1, 'q',
                                  0xa7, 'P',  'a',  'y',  'l',  'o',  'a',  'd',  0xc4, 0x01, 'p'};
    cairn_wire_arena a;
    cairn_event ev;
    cairn__wire_arena_init(&a, 1 << 20);
    assert_int_equal(cairn__serfrpc_decode_record(rec, sizeof rec, &a, &ev, NULL), 0);
    assert_int_equal(ev.type, CAIRN_EVENT_QUERY);
    assert_int_equal(ev.query_id, 256);
    assert_int_equal(ev.ltime, 7);
    assert_string_equal(ev.name, "q");
    assert_int_equal(ev.payload_len, 1);
    assert_false(ev.coalesce);
    assert_null(ev.source);
    assert_null(ev.respond);
    assert_int_equal(ev.deadline, 0);
    assert_int_equal(ev.query_flags, 0);
    cairn__wire_arena_destroy(&a);
    /* The names' one table, both ways. */
    for (int t = CAIRN_EVENT_MEMBER_JOIN; t <= CAIRN_EVENT_QUERY; t++)
        assert_int_equal(cairn_event_type_parse(cairn_event_type_name(t)), t);
    assert_int_equal(cairn_event_type_parse("member-exploded"), -1);
    for (int st = CAIRN_MEMBER_NONE; st <= CAIRN_MEMBER_FAILED; st++)
        assert_int_equal(cairn_member_status_parse(cairn_member_status_name(st)), st);
    assert_int_equal(cairn_member_status_parse("suspect"), CAIRN_MEMBER_NONE);
}

static void test_error_headers(void **state)
{
    struct vec v;
    cairn_wire_arena a;
    serfrpc_header h;
    size_t off = 0;
    cairn__wire_arena_init(&a, 1 << 20);
    load("auth_required", &v);
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "");
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "Authentication required");
    assert_int_equal(h.seq, 2);
    assert_int_equal(off, v.len); /* no body follows */
    off = 0;
    load("auth_bad", &v);
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "Invalid authentication token");
    /* After a request with a body, the real agent answers twice. */
    off = 0;
    load("auth_required_body", &v);
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "Authentication required");
    uint64_t first = h.seq;
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "Authentication required");
    assert_int_equal(h.seq, first);
    assert_int_equal(off, v.len);
    off = 0;
    load("handshake_required", &v);
    next_header(&v, &off, &a, &h);
    assert_string_equal(h.error, "Handshake required");
    cairn__wire_arena_destroy(&a);
}

/* Framing: every strict prefix of a reply is "need more", never an error. */
static void test_framing_prefixes(void **state)
{
    struct vec v;
    size_t len;
    load("members", &v);
    size_t hlen;
    assert_int_equal(cairn__ipc_object_len(v.data, v.len, CAIRN_SERFRPC_MAX_RECORD, &hlen), 0);
    for (size_t n = 0; n < hlen; n++)
        assert_int_equal(cairn__ipc_object_len(v.data, n, CAIRN_SERFRPC_MAX_RECORD, &len),
                         CAIRN_EAGAIN);
    /* A record cap smaller than the body: too large, not "need more". */
    assert_int_equal(cairn__ipc_object_len(v.data + hlen, v.len - hlen, 64, &len), CAIRN_EMSGSIZE);
}

/* Caps: a member with more tags than CAIRN_SERFRPC_MAX_TAGS, an oversized
 * name, and a count larger than the bytes present. */
static void test_caps(void **state)
{
    uint8_t buf[8192];
    size_t n = 0;
    cairn_wire_arena a;
    cairn_diag diag;
    cairn_member *ms;
    size_t nms;
    cairn__wire_arena_init(&a, 1 << 22);

    /* {Members: [{Tags: {257 entries}}]} */
    const uint8_t pre[] = {0x81, 0xa7, 'M', 'e', 'm', 'b', 'e',  'r',  's', 0x91,
                           0x81, 0xa4, 'T', 'a', 'g', 's', 0xde, 0x01, 0x01};
    memcpy(buf, pre, sizeof pre);
    n = sizeof pre;
    for (int i = 0; i < 257; i++) {
        buf[n++] = 0xa2;
        buf[n++] = (uint8_t)('a' + i / 26 % 26);
        buf[n++] = (uint8_t)('a' + i % 26);
        buf[n++] = 0xa0;
    }
    cairn_diag_clear(&diag);
    assert_int_equal(cairn__serfrpc_decode_members(buf, n, &a, &ms, &nms, &diag), CAIRN_ELIMIT);
    assert_non_null(strstr(diag.msg, "Member.Tags"));
    cairn__wire_arena_destroy(&a);

    /* {Members: [{Name: 600 x 'x'}]}: a name is capped by CAIRN_NAME_MAX
     * (1,024, as memberlist's tables), not by the 512-byte Meta limit. */
    const uint8_t pre2[] = {0x81, 0xa7, 'M', 'e', 'm', 'b', 'e',  'r',  's', 0x91,
                            0x81, 0xa4, 'N', 'a', 'm', 'e', 0xda, 0x02, 0x58};
    memcpy(buf, pre2, sizeof pre2);
    memset(buf + sizeof pre2, 'x', 600);
    cairn_diag_clear(&diag);
    assert_int_equal(cairn__serfrpc_decode_members(buf, sizeof pre2 + 600, &a, &ms, &nms, &diag),
                     0);
    assert_int_equal(strlen(ms[0].name), 600);
    cairn__wire_arena_destroy(&a);
    /* ... and 1,025 bytes are refused. */
    buf[sizeof pre2 - 2] = 0x04;
    buf[sizeof pre2 - 1] = 0x01;
    memset(buf + sizeof pre2, 'x', 1025);
    cairn_diag_clear(&diag);
    assert_int_equal(cairn__serfrpc_decode_members(buf, sizeof pre2 + 1025, &a, &ms, &nms, &diag),
                     CAIRN_ELIMIT);
    assert_non_null(strstr(diag.msg, "Member.Name"));
    cairn__wire_arena_destroy(&a);

    /* {Members: array32 of 65537} → over CAIRN_SERFRPC_MAX_MEMBERS or over
     * the bytes present: rejected before allocating. */
    const uint8_t big[] = {0x81, 0xa7, 'M',  'e',  'm',  'b',  'e',
                           'r',  's',  0xdd, 0x00, 0x01, 0x00, 0x01};
    cairn_diag_clear(&diag);
    assert_true(cairn__serfrpc_decode_members(big, sizeof big, &a, &ms, &nms, &diag) < 0);
    assert_int_equal(a.used, 0);
    cairn__wire_arena_destroy(&a);

    /* A Vec longer than CAIRN_COORD_MAX_DIM. */
    uint8_t cb[128];
    size_t k = 0;
    const uint8_t cpre[] = {0x81, 0xa5, 'C', 'o', 'o', 'r', 'd', 0x81, 0xa3, 'V', 'e', 'c', 0x99};
    memcpy(cb, cpre, sizeof cpre);
    k = sizeof cpre;
    for (int i = 0; i < 9; i++)
        cb[k++] = 0x00;
    bool ok;
    cairn_coord co;
    cairn_diag_clear(&diag);
    assert_int_equal(cairn__serfrpc_decode_coord(cb, k, &ok, &co, &diag), CAIRN_ELIMIT);
    assert_non_null(strstr(diag.msg, "Coord.Vec"));
}

/* Every allocation failure during a members decode is reported, not fatal,
 * and leaks nothing once the arena is destroyed. */
static void test_alloc_failures(void **state)
{
    struct vec v;
    size_t off = 0;
    load("members", &v);
    size_t hlen = body_len(&v, 0);
    off = hlen;
    size_t blen = body_len(&v, off);
    cairn__test_alloc_install();
    for (long i = 0; i < 64; i++) {
        cairn_wire_arena a;
        cairn_member *ms;
        size_t n;
        cairn__wire_arena_init(&a, 1 << 20);
        cairn__test_alloc_fail_after(i);
        int rc = cairn__serfrpc_decode_members(v.data + off, blen, &a, &ms, &n, NULL);
        cairn__wire_arena_destroy(&a);
        cairn__test_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == CAIRN_ENOMEM);
        assert_int_equal(cairn__test_alloc_live(), 0);
        if (rc == 0)
            break;
    }
    cairn__test_alloc_uninstall();
}

/* keyResponse, query and monitor records: hand-made in the agent's
 * encoding (the same bytes as the fuzz seeds in fuzz/corpus/serfrpc). */
static void test_keys_query_monitor(void **state)
{
    (void)state;
    cairn_wire_arena a;
    cairn_diag diag;
    cairn_serfrpc_keys k;
    cairn__wire_arena_init(&a, 64 * 1024);
    /* {Keys: {"K1": 2}, Messages: {}, NumErr: 0, NumNodes: 2, NumResp: 2} */
    static const uint8_t list[] = "\x85\xa4Keys\x81\xa2K1\x02\xa8Messages\x80\xa6NumErr\x00"
                                  "\xa8NumNodes\x02\xa7NumResp\x02";
    assert_int_equal(cairn__serfrpc_decode_keys(list, sizeof list - 1, &a, &k, NULL), 0);
    assert_int_equal(k.nkeys, 1);
    assert_string_equal(k.keys[0].key, "K1");
    assert_int_equal(k.keys[0].count, 2);
    assert_int_equal(k.nmessages, 0);
    assert_int_equal(k.num_nodes, 2);
    assert_int_equal(k.num_resp, 2);
    cairn__wire_arena_destroy(&a);
    /* Keys nil, one failure message. */
    static const uint8_t failed[] = "\x85\xa4Keys\xc0\xa8Messages\x81\xa1"
                                    "a\xa2no"
                                    "\xa6NumErr\x01\xa8NumNodes\x01\xa7NumResp\x01";
    assert_int_equal(cairn__serfrpc_decode_keys(failed, sizeof failed - 1, &a, &k, NULL), 0);
    assert_int_equal(k.nkeys, 0);
    assert_int_equal(k.nmessages, 1);
    assert_string_equal(k.messages[0].node, "a");
    assert_string_equal(k.messages[0].message, "no");
    assert_int_equal(k.num_err, 1);
    cairn__wire_arena_destroy(&a);
    /* A negative count is refused. */
    static const uint8_t neg[] = "\x81\xa4Keys\x81\xa2K1\xff";
    cairn_diag_clear(&diag);
    assert_int_not_equal(cairn__serfrpc_decode_keys(neg, sizeof neg - 1, &a, &k, &diag), 0);
    cairn__wire_arena_destroy(&a);

    cairn_serfrpc_query_record r;
    static const uint8_t ack[] = "\x83\xa4"
                                 "From\xa1"
                                 "a\xa7Payload\xc0\xa4Type\xa3"
                                 "ack";
    assert_int_equal(cairn__serfrpc_decode_query_record(ack, sizeof ack - 1, &a, &r, NULL), 0);
    assert_int_equal(r.type, CAIRN_SERFRPC_QUERY_ACK);
    assert_string_equal(r.from, "a");
    assert_null(r.payload);
    cairn__wire_arena_destroy(&a);
    static const uint8_t resp[] = "\x83\xa4"
                                  "From\xa1"
                                  "b\xa7Payload\xc4\x03up\n\xa4Type\xa8response";
    assert_int_equal(cairn__serfrpc_decode_query_record(resp, sizeof resp - 1, &a, &r, NULL), 0);
    assert_int_equal(r.type, CAIRN_SERFRPC_QUERY_RESPONSE);
    assert_int_equal(r.payload_len, 3);
    assert_memory_equal(r.payload, "up\n", 3);
    cairn__wire_arena_destroy(&a);
    static const uint8_t done[] = "\x83\xa4"
                                  "From\xa0\xa7Payload\xc0\xa4Type\xa4"
                                  "done";
    assert_int_equal(cairn__serfrpc_decode_query_record(done, sizeof done - 1, &a, &r, NULL), 0);
    assert_int_equal(r.type, CAIRN_SERFRPC_QUERY_DONE);
    cairn__wire_arena_destroy(&a);
    static const uint8_t bad[] = "\x81\xa4Type\xa3"
                                 "bad";
    cairn_diag_clear(&diag);
    assert_int_equal(cairn__serfrpc_decode_query_record(bad, sizeof bad - 1, &a, &r, &diag),
                     CAIRN_EPROTO);
    assert_non_null(strstr(diag.msg, "bad"));
    cairn__wire_arena_destroy(&a);

    const char *line;
    static const uint8_t log[] = "\x81\xa3Log\xa5hello";
    assert_int_equal(cairn__serfrpc_decode_log(log, sizeof log - 1, &a, &line, NULL), 0);
    assert_string_equal(line, "hello");
    cairn__wire_arena_destroy(&a);
    static const uint8_t notmap[] = "\x93\x01\x02\x03";
    assert_int_not_equal(cairn__serfrpc_decode_log(notmap, sizeof notmap - 1, &a, &line, NULL), 0);
    cairn__wire_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),       cmocka_unit_test(test_filtered_stats_join),
        cmocka_unit_test(test_coordinates),   cmocka_unit_test(test_stream_records),
        cmocka_unit_test(test_error_headers), cmocka_unit_test(test_framing_prefixes),
        cmocka_unit_test(test_caps),          cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_query_record),  cmocka_unit_test(test_keys_query_monitor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
