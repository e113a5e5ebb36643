/* The agent on the simulator: flag helpers (tag, key), Serf's Meta
 * encoding of tags, member events (join, leave, failed) between agents,
 * tags carried as structured data from a peer's Meta to the event (bytes
 * as they came, also when they are not UTF-8), our own name's checks, and
 * encryption: agents with different keys (or none) stay apart and count
 * the rejected packets and streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/agent.h"
#include "agent/log_sink.h"
#include "cairn/sim.h"
#include "sim_seed.h"

#define PORT       19400
#define MAX_EVENTS 64

struct rec {
    cairn_loop *loop;
    cairn_agent *agent;
    int n;
    int type[MAX_EVENTS];
    char node[MAX_EVENTS][32];
    /* The tags of the last event, as "key" "value" pairs. */
    char tags[8][2][32];
    size_t ntags;
    int join_status, join_count, leave_status;
    /* cfg.keyring_changed calls. */
    int keyring_changes;
};

static void on_event(cairn_agent *a, const cairn_event *ev, void *ud)
{
    struct rec *r = ud;
    (void)a;
    if (ev->type >= CAIRN_EVENT_USER)
        return;
    /* No coalescing in these tests: one member per event. */
    assert_int_equal(ev->nmembers, 1);
    if (r->n < MAX_EVENTS) {
        r->type[r->n] = ev->type;
        snprintf(r->node[r->n], sizeof(r->node[0]), "%s", ev->members[0].name);
        r->n++;
    }
    r->ntags = ev->members[0].ntags < 8 ? ev->members[0].ntags : 8;
    for (size_t i = 0; i < r->ntags; i++) {
        snprintf(r->tags[i][0], sizeof(r->tags[i][0]), "%s", ev->members[0].tags[i].key);
        snprintf(r->tags[i][1], sizeof(r->tags[i][1]), "%s", ev->members[0].tags[i].value);
    }
}

/* Index of the last event of type ev about node, or -1. */
static int last_event(const struct rec *r, int ev, const char *node)
{
    int at = -1;
    for (int i = 0; i < r->n; i++)
        if (r->type[i] == ev && strcmp(r->node[i], node) == 0)
            at = i;
    return at;
}

static void on_join(cairn_agent *a, int status, int count, void *ud)
{
    struct rec *r = ud;
    (void)a;
    r->join_status = status;
    r->join_count = count;
}

static void on_leave(cairn_agent *a, int status, int count, void *ud)
{
    struct rec *r = ud;
    (void)a;
    (void)count;
    r->leave_status = status;
}

static cairn_addr ip(int i)
{
    char s[32];
    snprintf(s, sizeof(s), "10.0.0.%d", i);
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip(s, PORT, &a), 0);
    return a;
}

static void start(cairn_sim *sim, struct rec *r, int i, const char *name, const uint8_t *key,
                  size_t key_len)
{
    memset(r, 0, sizeof(*r));
    r->join_status = r->leave_status = 1;
    cairn_addr a = ip(i);
    assert_int_equal(cairn_sim_node_loop(sim, &a, &r->loop), 0);
    cairn_tag tags[] = {{"role", "web"}, {"dc", "lab"}};
    cairn_agent_config cfg = {.node = name,
                              .bind = a,
                              .profile = "local",
                              .tags = tags,
                              .n_tags = 2,
                              .key = key,
                              .key_len = key_len,
                              .seed = 7 + (uint64_t)i,
                              .coalesce_period = -1,
                              .quiescent_period = -1};
    cairn_diag d = {0};
    assert_int_equal(cairn_agent_new(r->loop, &cfg, NULL, on_event, r, &d, &r->agent), 0);
}

static void stop(struct rec *r)
{
    cairn_agent_delete(r->agent);
    r->agent = NULL;
    cairn_loop_delete(r->loop);
}

static void test_parse_tag(void **state)
{
    (void)state;
    cairn_tag t;
    char a[] = "role=web", b[] = "k=", c[] = "x", d[] = "=v", e[] = "k=a=b";
    assert_int_equal(cairn_agent_parse_tag(a, &t), 0);
    assert_string_equal(t.key, "role");
    assert_string_equal(t.value, "web");
    assert_int_equal(cairn_agent_parse_tag(b, &t), 0);
    assert_string_equal(t.value, "");
    assert_int_equal(cairn_agent_parse_tag(c, &t), CAIRN_EINVAL);
    assert_int_equal(cairn_agent_parse_tag(d, &t), CAIRN_EINVAL);
    assert_int_equal(cairn_agent_parse_tag(e, &t), 0);
    assert_string_equal(t.value, "a=b");
}

static void test_decode_key(void **state)
{
    (void)state;
    uint8_t k[32];
    size_t n = 0;
    /* 16, 24, 32 zero-ish bytes as serf keygen would print them. */
    assert_int_equal(cairn_agent_decode_key("AAAAAAAAAAAAAAAAAAAAAA==", k, &n), 0);
    assert_int_equal(n, 16);
    assert_int_equal(cairn_agent_decode_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", k, &n), 0);
    assert_int_equal(n, 24);
    assert_int_equal(cairn_agent_decode_key("T9jncgl9mbLus+baTTa7q3nPn7Kw8bFPWDRMCJXgeHU=", k, &n),
                     0);
    assert_int_equal(n, 32);
    assert_int_equal(k[0], 0x4f);
    assert_int_equal(k[31], 0x75);
    assert_int_equal(cairn_agent_decode_key("AAAA", k, &n), CAIRN_EINVAL); /* 3 bytes */
    assert_int_equal(cairn_agent_decode_key("not base64!!", k, &n), CAIRN_EINVAL);
    assert_int_equal(cairn_agent_decode_key("", k, &n), CAIRN_EINVAL);
}

static void test_meta_is_serf_tags(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_meta", 11), &sim), 0);
    cairn_addr a = ip(1);
    cairn_loop *loop;
    assert_int_equal(cairn_sim_node_loop(sim, &a, &loop), 0);
    /* The spec's example: {role: web} -> ff 81 a4 "role" a3 "web". */
    cairn_tag one[] = {{"role", "web"}};
    cairn_agent_config cfg = {.node = "m", .bind = a, .tags = one, .n_tags = 1};
    cairn_agent *ag;
    assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, NULL, &ag), 0);
    cairn_ml_node me;
    cairn_memberlist_local_node(cairn_agent_memberlist(ag), &me);
    static const uint8_t want[] = {0xff, 0x81, 0xa4, 'r', 'o', 'l', 'e', 0xa3, 'w', 'e', 'b'};
    assert_int_equal(me.meta_len, sizeof(want));
    assert_memory_equal(me.meta, want, sizeof(want));
    /* Serf's Vsn for the agent: 01 05 02 02 05 05. */
    assert_int_equal(me.pmin, 1);
    assert_int_equal(me.pmax, 5);
    assert_int_equal(me.pcur, 2);
    assert_int_equal(me.dmin, 2);
    assert_int_equal(me.dmax, 5);
    assert_int_equal(me.dcur, 5);
    cairn_agent_member_buf buf;
    cairn_member m;
    bool bad = true;
    cairn_agent_node_member(&me, &buf, &m, &bad);
    assert_false(bad);
    assert_int_equal(m.ntags, 1);
    assert_string_equal(m.tags[0].key, "role");
    assert_string_equal(m.tags[0].value, "web");
    assert_int_equal(m.status, CAIRN_MEMBER_ALIVE);
    cairn_agent_delete(ag);
    /* No tags: ff 80. */
    cfg.n_tags = 0;
    assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, NULL, &ag), 0);
    cairn_memberlist_local_node(cairn_agent_memberlist(ag), &me);
    assert_int_equal(me.meta_len, 2);
    assert_int_equal(me.meta[0], 0xff);
    assert_int_equal(me.meta[1], 0x80);
    cairn_agent_delete(ag);
    /* Over 512 bytes: refused, and the diagnostic says so. */
    static char big[600];
    memset(big, 'x', sizeof(big) - 1);
    cairn_tag large[] = {{"k", big}};
    cfg.tags = large;
    cfg.n_tags = 1;
    cairn_diag d = {0};
    assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, &d, &ag), CAIRN_ELIMIT);
    assert_non_null(strstr(d.msg, "512"));
    /* Bad key length and unknown profile. */
    cfg.n_tags = 0;
    uint8_t key[20] = {0};
    cfg.key = key;
    cfg.key_len = sizeof(key);
    assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, NULL, &ag), CAIRN_EINVAL);
    cfg.key_len = 0;
    cfg.profile = "moon";
    assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, NULL, &ag), CAIRN_EINVAL);
    cairn_loop_delete(loop);
    cairn_sim_delete(sim);
}

static void test_events(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_events", 12), &sim), 0);
    struct rec r[3];
    start(sim, &r[0], 1, "a", NULL, 0);
    start(sim, &r[1], 2, "b", NULL, 0);
    start(sim, &r[2], 3, "c", NULL, 0);
    assert_int_equal(last_event(&r[0], CAIRN_EVENT_MEMBER_JOIN, "a"), 0); /* self first */
    cairn_addr seed = ip(1);
    assert_int_equal(cairn_agent_join(r[1].agent, &seed, 1, on_join, &r[1]), 0);
    assert_int_equal(cairn_agent_join(r[2].agent, &seed, 1, on_join, &r[2]), 0);
    cairn_sim_run_for(sim, 3 * CAIRN_SEC);
    assert_int_equal(r[1].join_status, 0);
    assert_int_equal(r[1].join_count, 1);
    for (int i = 0; i < 3; i++)
        for (const char *n = "a"; *n <= 'c'; n = (*n == 'a') ? "b" : (*n == 'b') ? "c" : "d")
            assert_true(last_event(&r[i], CAIRN_EVENT_MEMBER_JOIN, n) >= 0);
    /* b leaves gracefully: a and c record member-leave. */
    assert_int_equal(cairn_agent_leave(r[1].agent, on_leave, &r[1]), 0);
    cairn_sim_run_for(sim, 4 * CAIRN_SEC);
    assert_int_equal(r[1].leave_status, 0);
    assert_true(last_event(&r[0], CAIRN_EVENT_MEMBER_LEAVE, "b") >= 0);
    assert_true(last_event(&r[2], CAIRN_EVENT_MEMBER_LEAVE, "b") >= 0);
    assert_int_equal(last_event(&r[0], CAIRN_EVENT_MEMBER_FAILED, "b"), -1);
    /* c vanishes: a records member-failed, not leave. */
    stop(&r[2]);
    cairn_sim_run_for(sim, 10 * CAIRN_SEC);
    assert_true(last_event(&r[0], CAIRN_EVENT_MEMBER_FAILED, "c") >= 0);
    assert_int_equal(last_event(&r[0], CAIRN_EVENT_MEMBER_LEAVE, "c"), -1);
    cairn_agent_stats s;
    cairn_agent_get_stats(r[0].agent, &s);
    assert_int_equal(s.alive, 1);
    assert_int_equal(s.left, 1);
    assert_int_equal(s.failed, 1);
    stop(&r[0]);
    stop(&r[1]);
    cairn_sim_delete(sim);
}

/* Meta of a raw memberlist peer (the bytes a remote Serf would send). */
static const uint8_t *peer_meta;
static size_t peer_meta_len;

static size_t peer_node_meta(void *ud, uint8_t *buf, size_t limit)
{
    (void)ud;
    memcpy(buf, peer_meta, peer_meta_len < limit ? peer_meta_len : limit);
    return peer_meta_len;
}

/* Issue 8 item 4: tags travel as key/value pairs, never flattened to
 * "k=v,k=v" and split again; a peer's name and tags arrive as the bytes it
 * sent (UTF-8 or not; the log repairs them), and a NUL inside a tag, which
 * C strings cannot carry, is U+FFFD. */
static void test_tags_stay_structured(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_tags", 14), &sim), 0);
    struct rec r;
    memset(&r, 0, sizeof(r));
    cairn_addr a = ip(1);
    assert_int_equal(cairn_sim_node_loop(sim, &a, &r.loop), 0);
    /* --tag role=web,db --tag list=a,evil=1 */
    cairn_tag tags[] = {{"role", "web,db"}, {"list", "a,evil=1"}};
    cairn_agent_config cfg = {.node = "caf\xc3\xa9",
                              .bind = a,
                              .profile = "local",
                              .tags = tags,
                              .n_tags = 2,
                              .seed = 3,
                              .coalesce_period = -1};
    assert_int_equal(cairn_agent_new(r.loop, &cfg, NULL, on_event, &r, NULL, &r.agent), 0);
    assert_int_equal(r.ntags, 2); /* our own join; keys sorted in the Meta */
    assert_string_equal(r.tags[0][0], "list");
    assert_string_equal(r.tags[0][1], "a,evil=1");
    assert_string_equal(r.tags[1][0], "role");
    assert_string_equal(r.tags[1][1], "web,db");

    /* A peer named "bad\xffname" with tags {"k": "a,b=c", "n": "x\0y",
     * "\xfe": "\xc3("}, as a remote Serf would encode them. */
    static const uint8_t meta[] = {0xff, 0x83, 0xa1, 'k',  0xa5, 'a',  ',',  'b',  '=',  'c', 0xa1,
                                   'n',  0xa3, 'x',  0x00, 'y',  0xa1, 0xfe, 0xa2, 0xc3, '('};
    peer_meta = meta;
    peer_meta_len = sizeof(meta);
    cairn_addr b = ip(2);
    cairn_loop *bl;
    assert_int_equal(cairn_sim_node_loop(sim, &b, &bl), 0);
    cairn_memberlist_config mc;
    cairn_memberlist_config_local(&mc);
    mc.name = "bad\xffname";
    mc.bind = b;
    mc.seed = 5;
    cairn_memberlist_delegate d = {.node_meta = peer_node_meta};
    cairn_memberlist *peer;
    assert_int_equal(cairn_memberlist_new(bl, &mc, &d, NULL, NULL, &peer), 0);
    assert_int_equal(cairn_memberlist_join(peer, &a, 1, NULL, NULL), 0);
    cairn_sim_run_for(sim, 2 * CAIRN_SEC);
    assert_true(last_event(&r, CAIRN_EVENT_MEMBER_JOIN, "bad\xffname") >= 0);
    assert_int_equal(r.ntags, 3);
    assert_string_equal(r.tags[0][0], "k");
    assert_string_equal(r.tags[0][1], "a,b=c");
    assert_string_equal(r.tags[1][0], "n");
    /* cairn_serf's member tags are C strings cut at a NUL byte (the raw
     * Meta helper, cairn_agent_node_member, writes U+FFFD instead). */
    assert_string_equal(r.tags[1][1], "x");
    assert_string_equal(r.tags[2][0], "\xfe");
    assert_string_equal(r.tags[2][1], "\xc3(");
    cairn_memberlist_delete(peer);
    cairn_loop_delete(bl);
    stop(&r);
    cairn_sim_delete(sim);
}

/* Our own name: valid UTF-8, 1..CAIRN_NAME_MAX bytes; the
 * diagnostic names the field. */
static void test_node_name_checked(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_name", 15), &sim), 0);
    cairn_addr a = ip(1);
    cairn_loop *loop;
    assert_int_equal(cairn_sim_node_loop(sim, &a, &loop), 0);
    static char long_name[CAIRN_NAME_MAX + 2];
    memset(long_name, 'n', sizeof(long_name) - 1);
    const char *bad[] = {"", "bad\xffname", "\xc3(", "\xed\xa0\x80", "\xc0\xaf", long_name};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cairn_agent_config cfg = {.node = bad[i], .bind = a};
        cairn_diag d = {0};
        cairn_agent *ag = NULL;
        assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, &d, &ag), CAIRN_EINVAL);
        assert_null(ag);
        assert_memory_equal(d.msg, "node: ", 6);
    }
    long_name[CAIRN_NAME_MAX] = 0;
    cairn_agent_config cfg = {.node = long_name, .bind = a};
    cairn_agent *ag = NULL;
    assert_int_equal(cairn_agent_new(loop, &cfg, NULL, NULL, NULL, NULL, &ag), 0);
    cairn_agent_delete(ag);
    cairn_loop_delete(loop);
    cairn_sim_delete(sim);
}

/* The sink: records keep every field when text is not UTF-8 (JSON gets
 * U+FFFD), text lines cannot be forged with a newline, times format both
 * ways. */
static void test_log_sink(void **state)
{
    (void)state;
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(f);
    cairn_log_sink sink = {.out = f, .json = true, .level = CAIRN_LOG_INFO};
    cairn__log_sink_log(CAIRN_LOG_WARN, "memberlist", "suspect bad\xffname", &sink);
    cairn__log_sink_log(CAIRN_LOG_DEBUG, "memberlist", "below the level", &sink);
    cairn__log_sink_emit(&sink, CAIRN_LOG_INFO, "member-join",
                         json_pack("{s:o}", "node", cairn__log_json_string("x\xc3(")), "-");
    sink.json = false;
    cairn__log_sink_emit(&sink, CAIRN_LOG_INFO, "member-join", NULL, "%s", "evil\n2026 [INFO] x");
    fclose(f);
    assert_non_null(strstr(buf, "\"level\":\"warn\",\"event\":\"log\",\"module\":\"memberlist\","
                                "\"msg\":\"suspect bad\xef\xbf\xbdname\"}\n"));
    assert_null(strstr(buf, "below the level"));
    assert_non_null(strstr(buf, "\"event\":\"member-join\",\"node\":\"x\xef\xbf\xbd(\"}\n"));
    assert_non_null(strstr(buf, "[INFO] member-join: evil\\x0a2026 [INFO] x\n"));
    char t[CAIRN_LOG_TIME_STRLEN];
    cairn_log_time when = {.sec = 1795785892, .nsec = 530283999};
    assert_string_equal(cairn__log_time_format(when, CAIRN_LOG_TIME_RFC3339, t, sizeof(t)),
                        "2026-11-27T13:24:52.530283Z");
    assert_string_equal(cairn__log_time_format(when, CAIRN_LOG_TIME_CLOCK, t, sizeof(t)),
                        "13:24:52.530");
}

static void test_wrong_key_is_kept_out(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_keys", 13), &sim), 0);
    uint8_t k1[16], k2[16];
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    struct rec a, good, bad, none;
    start(sim, &a, 1, "a", k1, sizeof(k1));
    start(sim, &good, 2, "good", k1, sizeof(k1));
    start(sim, &bad, 3, "bad", k2, sizeof(k2));
    start(sim, &none, 4, "none", NULL, 0);
    cairn_addr seed = ip(1);
    assert_int_equal(cairn_agent_join(good.agent, &seed, 1, on_join, &good), 0);
    assert_int_equal(cairn_agent_join(bad.agent, &seed, 1, on_join, &bad), 0);
    assert_int_equal(cairn_agent_join(none.agent, &seed, 1, on_join, &none), 0);
    cairn_sim_run_for(sim, 3 * CAIRN_SEC);
    assert_int_equal(good.join_status, 0);
    assert_int_not_equal(bad.join_status, 0);
    assert_int_not_equal(none.join_status, 0);
    assert_true(last_event(&a, CAIRN_EVENT_MEMBER_JOIN, "good") >= 0);
    assert_int_equal(last_event(&a, CAIRN_EVENT_MEMBER_JOIN, "bad"), -1);
    assert_int_equal(last_event(&a, CAIRN_EVENT_MEMBER_JOIN, "none"), -1);
    cairn_agent_stats s;
    cairn_agent_get_stats(a.agent, &s);
    /* Both push/pulls were refused at the framing layer. */
    assert_int_equal(s.ml.stream_rejected, 2);
    /* The rejected joiners could not read a's (encrypted) error either. */
    cairn_agent_get_stats(bad.agent, &s);
    assert_int_equal(s.ml.stream_rejected, 1);
    cairn_agent_get_stats(none.agent, &s);
    assert_int_equal(s.ml.stream_rejected, 1);
    /* A datagram under the wrong key is dropped and counted. */
    cairn_agent_get_stats(a.agent, &s);
    uint64_t before = s.ml.rx_decrypt_failed;
    const uint8_t msg[] = {1, 0x80};
    assert_int_equal(cairn_memberlist_send_to_address(cairn_agent_memberlist(bad.agent), &seed, msg,
                                                      sizeof(msg)),
                     0);
    cairn_sim_run_for(sim, 100 * CAIRN_MSEC);
    cairn_agent_get_stats(a.agent, &s);
    assert_int_equal(s.ml.rx_decrypt_failed, before + 1);
    assert_int_equal(s.serf.msgs_malformed, 0);
    stop(&a);
    stop(&good);
    stop(&bad);
    stop(&none);
    cairn_sim_delete(sim);
}

static void on_keyring_changed(cairn_agent *a, void *ud)
{
    (void)a;
    ((struct rec *)ud)->keyring_changes++;
}

static void on_keys(cairn_serf *s, const cairn_serf_key_response *r, void *ud)
{
    (void)s;
    *(int *)ud = r->status == 0 ? 1 : -1;
}

/* --keyring-file's path through the agent: a borrowed keyring of several
 * keys, the hook after an accepted key query, the ring left to its owner. */
static void test_borrowed_keyring(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(cairn_test_sim_seed("agent_keyring", 14), &sim), 0);
    uint8_t k1[16], k2[16];
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    cairn_keyring *ring;
    assert_int_equal(cairn_keyring_new(k1, sizeof(k1), &ring), 0);
    assert_int_equal(cairn_keyring_add(ring, k2, sizeof(k2)), 0);
    struct rec a, b;
    memset(&a, 0, sizeof(a));
    cairn_addr at = ip(1);
    assert_int_equal(cairn_sim_node_loop(sim, &at, &a.loop), 0);
    cairn_agent_config cfg = {.node = "a",
                              .bind = at,
                              .profile = "local",
                              .keyring = ring,
                              .key_len = 3, /* ignored with a keyring */
                              .keyring_changed = on_keyring_changed,
                              .seed = 8,
                              .coalesce_period = -1,
                              .quiescent_period = -1};
    cairn_diag d = {0};
    assert_int_equal(cairn_agent_new(a.loop, &cfg, NULL, on_event, &a, &d, &a.agent), 0);
    start(sim, &b, 2, "b", k1, sizeof(k1));
    assert_int_equal(cairn_agent_join(b.agent, &at, 1, on_join, &b), 0);
    cairn_sim_run_for(sim, 3 * CAIRN_SEC);
    assert_int_equal(b.join_status, 0);
    /* b installs a third key cluster-wide: a's hook runs once. */
    int done = 0;
    assert_int_equal(cairn_serf_install_key(cairn_agent_serf(b.agent),
                                            "AwMDAwMDAwMDAwMDAwMDAw==", on_keys, &done),
                     0);
    cairn_sim_run_for(sim, 5 * CAIRN_SEC);
    assert_int_equal(done, 1);
    assert_int_equal(a.keyring_changes, 1);
    assert_int_equal(cairn_keyring_count(ring), 3);
    /* A refused change (removing the primary) does not call it. */
    done = 0;
    assert_int_equal(cairn_serf_remove_key(cairn_agent_serf(b.agent),
                                           "AQEBAQEBAQEBAQEBAQEBAQ==", on_keys, &done),
                     0);
    cairn_sim_run_for(sim, 5 * CAIRN_SEC);
    assert_int_equal(done, -1);
    assert_int_equal(a.keyring_changes, 1);
    stop(&a);
    /* The ring is still the caller's. */
    assert_int_equal(cairn_keyring_count(ring), 3);
    cairn_keyring_delete(ring);
    stop(&b);
    cairn_sim_delete(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_tag),
        cmocka_unit_test(test_decode_key),
        cmocka_unit_test(test_meta_is_serf_tags),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_wrong_key_is_kept_out),
        cmocka_unit_test(test_borrowed_keyring),
        cmocka_unit_test(test_tags_stay_structured),
        cmocka_unit_test(test_node_name_checked),
        cmocka_unit_test(test_log_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
