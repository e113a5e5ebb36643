/* Unit tests for the Serf agent RPC client and the cluster backend, against
 * a fake agent served from the same libuv loop on 127.0.0.1 (port chosen by
 * the OS). The fake parses each request (header, and body for commands that
 * have one) and answers from a per-test script, so the tests can check the
 * bytes the client sends, pipelining, a stream interleaved with replies and
 * split across reads, auth refusal, a vanished agent reported once, bounded
 * jittered reconnects, and the cluster's resynchronisation events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "cairn/serfrpc.h"
#include "wire/mp.h"
#include "serfrpc/ipc.h"
#include "slowdown.h"
#include "uv_env.h"
#include "base/alloc_test.h"

/* RUN_UNTIL runs the loop 10 ms at a time until cond holds (checked after
 * each step; the ctest timeout bounds a test that never gets there). */
#define RUN_UNTIL(e, cond)                                                                         \
    do {                                                                                           \
        uv_env_run_for((e), 10);                                                                   \
    } while (!(cond))

/* ---- the fake agent ---- */

#define MAX_SEEN 256

struct fake;
/* Answers one request; body is the request body (or NULL). */
typedef void (*fake_fn)(struct fake *f, const char *cmd, uint64_t seq, const uint8_t *body,
                        size_t blen);

struct fake {
    struct uv_env *e;
    cairn_listener *lst;
    cairn_stream *conn;
    cairn_addr addr;
    cairn_buf rx;
    fake_fn fn;
    /* Requests seen on the current connection. */
    char cmds[MAX_SEEN][32];
    uint64_t seqs[MAX_SEEN];
    int nseen;
    int connections;
    /* Scenario knobs. */
    int variant;
    uint64_t stream_seq;
    bool hold_members; /* don't answer members (for the timeout test) */
    /* The last request body seen, verbatim. */
    uint8_t last_body[512];
    size_t last_body_len;
};

static bool has_body(const char *cmd)
{
    static const char *const with[] = {"handshake", "auth",           "members-filtered",
                                       "join",      "get-coordinate", "stream",
                                       "stop",      "query",          "monitor",
                                       "event",     "tags",           "force-leave",
                                       "respond",   "install-key",    "use-key",
                                       "remove-key"};
    for (size_t i = 0; i < sizeof with / sizeof with[0]; i++)
        if (strcmp(cmd, with[i]) == 0)
            return true;
    return false;
}

/* The fake never asserts on its own allocations (the allocation sweep
 * makes them fail too): a reply it cannot build is simply not sent. */
static void fake_send(struct fake *f, cairn_buf *b)
{
    if (f->conn != NULL)
        (void)cairn_stream_write(f->conn, b->data, b->len);
    cairn_buf_destroy(b);
}

static bool finish(cairn_mp_writer *w, cairn_buf *b)
{
    if (cairn__mp_writer_finish(w) == 0)
        return true;
    cairn_buf_destroy(b);
    return false;
}

static void w_header(cairn_mp_writer *w, uint64_t seq, const char *err)
{
    cairn__mp_write_map(w, 2);
    cairn__mp_write_cstr(w, "Error");
    cairn__mp_write_cstr(w, err);
    cairn__mp_write_cstr(w, "Seq");
    cairn__mp_write_uint(w, seq);
}

static void reply(struct fake *f, uint64_t seq, const char *err)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 1 << 20);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    w_header(&w, seq, err);
    if (finish(&w, &b))
        fake_send(f, &b);
}

/* A member: name "<n>.dc<d>" with Consul server tags. */
static void w_member(cairn_mp_writer *w, const char *name, const char *dc, const char *status,
                     uint16_t port)
{
    static const uint8_t ip[4] = {127, 0, 0, 1};
    char p[16];
    snprintf(p, sizeof p, "%u", (unsigned)(port + 1000));
    cairn__mp_write_map(w, 11);
    cairn__mp_write_cstr(w, "Addr");
    cairn__mp_write_bytes(w, (cairn_span){ip, 4});
    cairn__mp_write_cstr(w, "DelegateCur");
    cairn__mp_write_uint(w, 5);
    cairn__mp_write_cstr(w, "DelegateMax");
    cairn__mp_write_uint(w, 5);
    cairn__mp_write_cstr(w, "DelegateMin");
    cairn__mp_write_uint(w, 2);
    cairn__mp_write_cstr(w, "Name");
    cairn__mp_write_cstr(w, name);
    cairn__mp_write_cstr(w, "Port");
    cairn__mp_write_uint(w, port);
    cairn__mp_write_cstr(w, "ProtocolCur");
    cairn__mp_write_uint(w, 2);
    cairn__mp_write_cstr(w, "ProtocolMax");
    cairn__mp_write_uint(w, 5);
    cairn__mp_write_cstr(w, "ProtocolMin");
    cairn__mp_write_uint(w, 1);
    cairn__mp_write_cstr(w, "Status");
    cairn__mp_write_cstr(w, status);
    cairn__mp_write_cstr(w, "Tags");
    cairn__mp_write_map(w, 5);
    cairn__mp_write_cstr(w, "role");
    cairn__mp_write_cstr(w, "consul");
    cairn__mp_write_cstr(w, "dc");
    cairn__mp_write_cstr(w, dc);
    cairn__mp_write_cstr(w, "port");
    cairn__mp_write_cstr(w, p);
    cairn__mp_write_cstr(w, "vsn");
    cairn__mp_write_cstr(w, "2");
    cairn__mp_write_cstr(w, "build");
    cairn__mp_write_cstr(w, "1.2.3");
}

struct mspec {
    const char *name, *dc, *status;
    uint16_t port;
};

static void reply_members(struct fake *f, uint64_t seq, const struct mspec *ms, size_t n)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 1 << 20);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    w_header(&w, seq, "");
    cairn__mp_write_map(&w, 1);
    cairn__mp_write_cstr(&w, "Members");
    cairn__mp_write_array(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        w_member(&w, ms[i].name, ms[i].dc, ms[i].status, ms[i].port);
    if (finish(&w, &b))
        fake_send(f, &b);
}

/* A coordinate whose first component encodes the node (x seconds). */
static void reply_coord(struct fake *f, uint64_t seq, bool ok, double x)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 1 << 20);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    w_header(&w, seq, "");
    cairn__mp_write_map(&w, 2);
    cairn__mp_write_cstr(&w, "Coord");
    cairn__mp_write_map(&w, 4);
    cairn__mp_write_cstr(&w, "Adjustment");
    cairn__mp_write_double(&w, 0);
    cairn__mp_write_cstr(&w, "Error");
    cairn__mp_write_double(&w, ok ? 0.5 : 0);
    cairn__mp_write_cstr(&w, "Height");
    cairn__mp_write_double(&w, ok ? 1e-5 : 0);
    cairn__mp_write_cstr(&w, "Vec");
    if (ok) {
        cairn__mp_write_array(&w, 8);
        for (int i = 0; i < 8; i++)
            cairn__mp_write_double(&w, i == 0 ? x : 0.0);
    } else {
        cairn__mp_write_nil(&w);
    }
    cairn__mp_write_cstr(&w, "Ok");
    cairn__mp_write_bool(&w, ok);
    if (finish(&w, &b))
        fake_send(f, &b);
}

static void reply_stats(struct fake *f, uint64_t seq, const char *name)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 1 << 20);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    w_header(&w, seq, "");
    cairn__mp_write_map(&w, 2);
    cairn__mp_write_cstr(&w, "agent");
    cairn__mp_write_map(&w, 1);
    cairn__mp_write_cstr(&w, "name");
    cairn__mp_write_cstr(&w, name);
    cairn__mp_write_cstr(&w, "tags");
    cairn__mp_write_map(&w, 1);
    cairn__mp_write_cstr(&w, "dc");
    cairn__mp_write_cstr(&w, "dc1");
    if (finish(&w, &b))
        fake_send(f, &b);
}

/* A member event record, optionally written in two halves. */
static void send_record(struct fake *f, const char *event, const char *name, const char *status,
                        bool split)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 1 << 20);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    w_header(&w, f->stream_seq, "");
    cairn__mp_write_map(&w, 2);
    cairn__mp_write_cstr(&w, "Event");
    cairn__mp_write_cstr(&w, event);
    cairn__mp_write_cstr(&w, "Members");
    cairn__mp_write_array(&w, 1);
    w_member(&w, name, "dc2", status, 7000);
    assert_true(finish(&w, &b));
    if (split) {
        size_t half = b.len / 2;
        assert_int_equal(cairn_stream_write(f->conn, b.data, half), 0);
        uv_env_run_for(f->e, 30);
        assert_int_equal(cairn_stream_write(f->conn, b.data + half, b.len - half), 0);
        cairn_buf_destroy(&b);
    } else {
        fake_send(f, &b);
    }
}

static void fake_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct fake *f = ud;
    if (status != 0) {
        if (f->conn == s) {
            cairn_stream_close(s);
            f->conn = NULL;
        }
        return;
    }
    if (cairn_buf_append(&f->rx, data, len) != 0) {
        cairn_stream_close(s);
        f->conn = NULL;
        return;
    }
    for (;;) {
        size_t hlen, blen = 0;
        if (cairn__ipc_object_len(f->rx.data, f->rx.len, 1 << 20, &hlen) != 0)
            return;
        cairn_mp_reader r;
        uint32_t n;
        char cmd[32] = "";
        uint64_t seq = 0;
        cairn__mp_reader_init(&r, f->rx.data, hlen);
        assert_int_equal(cairn__mp_read_map(&r, &n), 0);
        for (uint32_t i = 0; i < n; i++) {
            cairn_span k, v;
            assert_int_equal(cairn__mp_read_str(&r, &k), 0);
            if (cairn__mp_key_is(k, "Command")) {
                assert_int_equal(cairn__mp_read_str(&r, &v), 0);
                memcpy(cmd, v.p, v.len < 31 ? v.len : 31);
            } else {
                assert_int_equal(cairn__mp_read_uint(&r, UINT64_MAX, &seq), 0);
            }
        }
        const uint8_t *body = NULL;
        if (has_body(cmd)) {
            if (cairn__ipc_object_len(f->rx.data + hlen, f->rx.len - hlen, 1 << 20, &blen) != 0)
                return;
            body = f->rx.data + hlen;
        }
        if (f->nseen < MAX_SEEN) {
            snprintf(f->cmds[f->nseen], sizeof f->cmds[0], "%s", cmd);
            f->seqs[f->nseen++] = seq;
        }
        /* Copy the body: the handler may write, which never re-enters us,
         * but consuming first keeps the buffer simple. */
        uint8_t copy[4096];
        size_t clen = blen < sizeof copy ? blen : sizeof copy;
        if (body != NULL) {
            memcpy(copy, body, clen);
            f->last_body_len = clen < sizeof f->last_body ? clen : sizeof f->last_body;
            memcpy(f->last_body, body, f->last_body_len);
        }
        cairn_buf_consume(&f->rx, hlen + blen);
        f->fn(f, cmd, seq, body != NULL ? copy : NULL, clen);
    }
}

static void fake_accept(cairn_listener *lst, cairn_stream *s, void *ud)
{
    struct fake *f = ud;
    if (f->conn != NULL)
        cairn_stream_close(f->conn);
    f->conn = s;
    f->nseen = 0;
    f->connections++;
    cairn_buf_reset(&f->rx);
    if (cairn_stream_start_read(s, fake_read, f) != 0) {
        cairn_stream_close(s);
        f->conn = NULL;
    }
}

static void fake_start(struct fake *f, struct uv_env *e, fake_fn fn, uint16_t port)
{
    cairn_addr a;
    f->e = e;
    f->fn = fn;
    cairn_buf_init(&f->rx, 1 << 20);
    assert_int_equal(cairn_addr_parse_ip("127.0.0.1", port, &a), 0);
    assert_int_equal(cairn_listen(e->loop, &a, fake_accept, f, &f->lst), 0);
    assert_int_equal(cairn_listener_local(f->lst, &f->addr), 0);
}

/* fake_stop closes the listener and the connection (the agent "dies"). */
static void fake_stop(struct fake *f)
{
    cairn_listener_close(f->lst);
    f->lst = NULL;
    cairn_stream_close(f->conn);
    f->conn = NULL;
}

static void fake_free(struct fake *f)
{
    fake_stop(f);
    cairn_buf_destroy(&f->rx);
}

/* The default script: handshake ok, members from variant, coordinates. */
static void agent_fn(struct fake *f, const char *cmd, uint64_t seq, const uint8_t *body,
                     size_t blen)
{
    if (f->variant == 2 && strcmp(cmd, "handshake") != 0) {
        /* An agent with rpc_auth, before auth: serf answers a request that
         * has a body twice (spec serf-wire §5.2 and client.c). */
        reply(f, seq, "Authentication required");
        if (body != NULL)
            reply(f, seq, "Authentication required");
        return;
    }
    if (strcmp(cmd, "handshake") == 0 || strcmp(cmd, "stop") == 0) {
        reply(f, seq, "");
    } else if (strcmp(cmd, "auth") == 0) {
        reply(f, seq, "Invalid authentication token");
    } else if (strcmp(cmd, "stats") == 0) {
        reply_stats(f, seq, "me.dc1");
    } else if (strcmp(cmd, "stream") == 0) {
        f->stream_seq = seq;
        reply(f, seq, "");
    } else if (strcmp(cmd, "join") == 0) {
        cairn_buf b;
        cairn_mp_writer w;
        cairn_buf_init(&b, 4096);
        cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
        w_header(&w, seq, "");
        cairn__mp_write_map(&w, 1);
        cairn__mp_write_cstr(&w, "Num");
        cairn__mp_write_uint(&w, 2);
        if (finish(&w, &b))
            fake_send(f, &b);
    } else if (strcmp(cmd, "members") == 0 || strcmp(cmd, "members-filtered") == 0) {
        static const struct mspec first[] = {{"me.dc1", "dc1", "alive", 7001},
                                             {"a.dc2", "dc2", "alive", 7002},
                                             {"b.dc2", "dc2", "alive", 7003},
                                             {"c.dc2", "dc2", "alive", 7004}};
        static const struct mspec second[] = {{"me.dc1", "dc1", "alive", 7001},
                                              {"a.dc2", "dc2", "alive", 7002},
                                              {"c.dc2", "dc2", "failed", 7004},
                                              {"d.dc3", "dc3", "alive", 7005}};
        if (f->hold_members)
            return;
        if (f->variant == 0)
            reply_members(f, seq, first, 4);
        else
            reply_members(f, seq, second, 4);
    } else if (strcmp(cmd, "get-coordinate") == 0) {
        /* body = {Node: "<name>"}: the coordinate's x is name[0] ms. */
        cairn_mp_reader r;
        uint32_t n;
        cairn_span k, v;
        cairn__mp_reader_init(&r, body, blen);
        assert_int_equal(cairn__mp_read_map(&r, &n), 0);
        assert_int_equal(cairn__mp_read_str(&r, &k), 0);
        assert_true(cairn__mp_key_is(k, "Node"));
        assert_int_equal(cairn__mp_read_str(&r, &v), 0);
        bool known = v.len > 0 && v.p[0] != 'z';
        reply_coord(f, seq, known, known ? (v.p[0] - 'a' + 1) * 1e-3 : 0);
    } else {
        reply(f, seq, "Unsupported command");
    }
}

/* ---- client tests ---- */

struct states {
    int ready, down, gave_up;
    int last_err;
    char last_msg[512];
};

static void on_state(cairn_serfrpc *c, int state, int err, const char *msg, void *ud)
{
    struct states *st = ud;
    if (state == CAIRN_SERFRPC_READY)
        st->ready++;
    else if (state == CAIRN_SERFRPC_DOWN)
        st->down++;
    else
        st->gave_up++;
    st->last_err = err;
    snprintf(st->last_msg, sizeof st->last_msg, "%s", msg);
}

static cairn_serfrpc *client_for(struct uv_env *e, const cairn_addr *addr, struct states *st,
                                 bool reconnect, const char *auth)
{
    cairn_serfrpc_config cfg;
    cairn_serfrpc *c;
    cairn_serfrpc_config_default(&cfg);
    cfg.addr = *addr;
    cfg.reconnect = reconnect;
    cfg.backoff_min = 10 * CAIRN_MSEC;
    cfg.backoff_max = 40 * CAIRN_MSEC;
    cfg.seed = 7;
    cfg.auth_key = auth;
    cfg.state_cb = on_state;
    cfg.userdata = st;
    assert_int_equal(cairn_serfrpc_new(e->loop, &cfg, &c), 0);
    assert_int_equal(cairn_serfrpc_start(c), 0);
    return c;
}

static void test_unreachable(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    memset(&f, 0, sizeof f);
    fake_start(&f, e, agent_fn, 0);
    cairn_addr addr = f.addr;
    fake_free(&f); /* nothing listens there now */
    cairn_serfrpc *c = client_for(e, &addr, &st, false, NULL);
    bool done = false;
    while (!done) {
        uv_env_run_for(e, 20);
        done = st.gave_up > 0;
    }
    char want[128];
    snprintf(want, sizeof want, "cannot reach serf agent at 127.0.0.1:%u: connection refused",
             (unsigned)addr.port);
    assert_string_equal(st.last_msg, want);
    assert_int_equal(st.down, 1);
    assert_int_equal(st.ready, 0);
    assert_int_equal(st.last_err, CAIRN_ECONNREFUSED);
    assert_int_equal(cairn_serfrpc_members(c, NULL, NULL), CAIRN_ENOTCONN);
    cairn_serfrpc_delete(c);
}

struct replies {
    int n;
    int order[8];
    cairn_serfrpc_reply last[8];
    size_t nmembers[8];
    char first_name[8][32];
    int events;
    char event_name[32];
    int event_type;
    int ended;
    int end_status;
};

static void on_reply(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct replies *rs = ud;
    int i = rs->n++;
    rs->last[i] = *r;
    rs->last[i].error = NULL; /* not valid after the call */
    rs->nmembers[i] = r->nmembers;
    if (r->nmembers > 0)
        snprintf(rs->first_name[i], sizeof rs->first_name[0], "%s", r->members[0].name);
}

static void on_stream_ev(cairn_serfrpc *c, const cairn_event *ev, int status, void *ud)
{
    struct replies *rs = ud;
    if (ev == NULL) {
        rs->ended++;
        rs->end_status = status;
        return;
    }
    rs->events++;
    rs->event_type = ev->type;
    snprintf(rs->event_name, sizeof rs->event_name, "%s", ev->members[0].name);
}

static void test_pipelined_and_stream(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    struct replies rs;
    memset(&f, 0, sizeof f);
    memset(&rs, 0, sizeof rs);
    fake_start(&f, e, agent_fn, 0);
    cairn_serfrpc *c = client_for(e, &f.addr, &st, false, NULL);
    RUN_UNTIL(e, st.ready == 1);
    uint64_t sseq;
    assert_int_equal(cairn_serfrpc_stream(c, "member-join", NULL, on_stream_ev, &rs, &sseq), 0);
    /* Three requests written back to back before any answer. */
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    assert_int_equal(cairn_serfrpc_get_coordinate(c, "b.dc2", on_reply, &rs), 0);
    assert_int_equal(cairn_serfrpc_get_coordinate(c, "zz", on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 3);
    assert_int_equal(f.nseen, 5);
    assert_string_equal(f.cmds[0], "handshake");
    assert_int_equal(f.seqs[0], 1);
    assert_string_equal(f.cmds[1], "stream");
    assert_string_equal(f.cmds[2], "members");
    assert_string_equal(f.cmds[3], "get-coordinate");
    assert_int_equal(f.seqs[4], 5);
    assert_int_equal(rs.last[0].status, 0);
    assert_int_equal(rs.nmembers[0], 4);
    assert_string_equal(rs.first_name[0], "me.dc1");
    assert_true(rs.last[1].coord_ok);
    assert_int_equal(rs.last[1].coord.dim, 8);
    assert_true(rs.last[1].coord.vec[0] == 2e-3);
    assert_false(rs.last[2].coord_ok);

    /* members-filtered and join send the bodies the serf CLI sends (spec
     * serf-wire §5.4), byte for byte; join returns Num. */
    static const uint8_t filtered[] = {0x83, 0xa4, 'N', 'a',  'm',  'e', 0xa0, 0xa6, 'S', 't', 'a',
                                       't',  'u',  's', 0xa0, 0xa4, 'T', 'a',  'g',  's', 0x80};
    assert_int_equal(cairn_serfrpc_members_filtered(c, NULL, "", NULL, 0, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 4);
    assert_string_equal(f.cmds[5], "members-filtered");
    assert_int_equal(f.last_body_len, sizeof filtered);
    assert_memory_equal(f.last_body, filtered, sizeof filtered);
    const char *const addrs[] = {"127.0.0.1:7946", "10.0.0.2"};
    static const uint8_t join_body[] = {0x82, 0xa8, 'E',  'x', 'i',  's', 't', 'i', 'n', 'g', 0x92,
                                        0xae, '1',  '2',  '7', '.',  '0', '.', '0', '.', '1', ':',
                                        '7',  '9',  '4',  '6', 0xa8, '1', '0', '.', '0', '.', '0',
                                        '.',  '2',  0xa6, 'R', 'e',  'p', 'l', 'a', 'y', 0xc2};
    assert_int_equal(cairn_serfrpc_join(c, addrs, 2, false, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 5);
    assert_string_equal(f.cmds[6], "join");
    assert_int_equal(f.last_body_len, sizeof join_body);
    assert_memory_equal(f.last_body, join_body, sizeof join_body);
    assert_int_equal(rs.last[4].status, 0);
    assert_int_equal(rs.last[4].num_joined, 2);
    rs.n = 3;

    /* A record split across two writes, then a reply, then a record: the
     * stream keeps flowing between replies. */
    send_record(&f, "member-join", "x.dc2", "alive", true);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 4);
    send_record(&f, "member-failed", "y.dc2", "failed", false);
    uv_env_run_for(e, 50);
    assert_int_equal(rs.events, 2);
    assert_string_equal(rs.event_name, "y.dc2");
    assert_int_equal(rs.event_type, CAIRN_EVENT_MEMBER_FAILED);

    /* stop: no record after it; the stream ends with status 0. */
    assert_int_equal(cairn_serfrpc_stop(c, sseq, NULL, NULL), 0);
    send_record(&f, "member-join", "late.dc2", "alive", false);
    uv_env_run_for(e, 50);
    assert_int_equal(rs.events, 2);
    assert_int_equal(rs.ended, 1);
    assert_int_equal(rs.end_status, 0);
    assert_int_equal(cairn_serfrpc_stop(c, sseq, NULL, NULL), CAIRN_ENOENT);
    cairn_serfrpc_delete(c);
    fake_free(&f);
}

static void test_auth_refused(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    memset(&f, 0, sizeof f);
    fake_start(&f, e, agent_fn, 0);
    cairn_serfrpc *c = client_for(e, &f.addr, &st, true, "wrong");
    RUN_UNTIL(e, st.gave_up > 0);
    assert_int_equal(st.ready, 0);
    assert_int_equal(st.down, 1);
    assert_int_equal(st.last_err, CAIRN_EAUTH);
    assert_non_null(strstr(st.last_msg, "refused the RPC auth key: Invalid authentication token"));
    assert_string_equal(f.cmds[1], "auth");
    assert_int_equal(f.connections, 1); /* no retry after a refused key */
    cairn_serfrpc_delete(c);
    fake_free(&f);
}

/* The agent goes away with a request pending and stays away for a while:
 * the pending request fails, DOWN is reported exactly once across all the
 * failed attempts, and the client is READY again when the agent returns. */
static void test_reconnect(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    struct replies rs;
    memset(&f, 0, sizeof f);
    memset(&rs, 0, sizeof rs);
    fake_start(&f, e, agent_fn, 0);
    uint16_t port = f.addr.port;
    cairn_serfrpc *c = client_for(e, &f.addr, &st, true, NULL);
    RUN_UNTIL(e, st.ready == 1);
    f.hold_members = true;
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    uv_env_run_for(e, 30);
    assert_int_equal(rs.n, 0);
    fake_stop(&f);
    uv_env_run_for(e, 300); /* ~10 attempts at 10-40 ms backoff */
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.last[0].status, CAIRN_ECONNRESET);
    assert_int_equal(st.down, 1);
    assert_int_equal(st.ready, 1);
    assert_false(cairn_serfrpc_ready(c));
    /* Back on the same port. */
    f.hold_members = false;
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip("127.0.0.1", port, &a), 0);
    assert_int_equal(cairn_listen(e->loop, &a, fake_accept, &f, &f.lst), 0);
    RUN_UNTIL(e, st.ready == 2);
    assert_int_equal(st.down, 1);
    assert_int_equal(f.connections, 2);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 2);
    assert_int_equal(rs.last[1].status, 0);
    cairn_serfrpc_delete(c);
    fake_free(&f);
}

/* An agent that wants an auth key: every request is refused with
 * "Authentication required" (twice for requests with a body, as serf does);
 * the connection stays up and nothing is misread as an unknown Seq. */
static void test_auth_required(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    struct replies rs;
    memset(&f, 0, sizeof f);
    memset(&rs, 0, sizeof rs);
    fake_start(&f, e, agent_fn, 0);
    f.variant = 2;
    cairn_serfrpc *c = client_for(e, &f.addr, &st, true, NULL);
    RUN_UNTIL(e, st.ready == 1);
    uint64_t sseq;
    assert_int_equal(cairn_serfrpc_get_coordinate(c, "a", on_reply, &rs), 0);
    assert_int_equal(cairn_serfrpc_stream(c, "*", on_reply, on_stream_ev, &rs, &sseq), 0);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 3);
    uv_env_run_for(e, 50);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rs.last[i].status, CAIRN_EAUTH);
    assert_int_equal(rs.ended, 1);
    assert_int_equal(rs.end_status, CAIRN_EAUTH);
    assert_int_equal(st.down, 0);
    assert_true(cairn_serfrpc_ready(c));
    cairn_serfrpc_delete(c);
    fake_free(&f);
}

/* A reply for a Seq never sent cannot be framed: the connection is dropped
 * with a message naming the Seq. Requests pending at delete get ESHUTDOWN. */
static void bad_seq_fn(struct fake *f, const char *cmd, uint64_t seq, const uint8_t *body,
                       size_t blen)
{
    if (strcmp(cmd, "handshake") == 0)
        reply(f, seq, "");
    else if (strcmp(cmd, "members") == 0)
        reply(f, seq + 100, "");
}

static void test_unknown_seq_and_shutdown(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    struct replies rs;
    memset(&f, 0, sizeof f);
    memset(&rs, 0, sizeof rs);
    fake_start(&f, e, bad_seq_fn, 0);
    cairn_serfrpc *c = client_for(e, &f.addr, &st, false, NULL);
    RUN_UNTIL(e, st.ready == 1);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    RUN_UNTIL(e, st.down == 1);
    assert_non_null(strstr(st.last_msg, "answered Seq 102, which is not pending"));
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.last[0].status, CAIRN_EPROTO);
    cairn_serfrpc_delete(c);
    fake_free(&f);

    /* delete with a request in flight: ESHUTDOWN before delete returns. */
    struct fake g;
    struct states st2 = {0};
    memset(&g, 0, sizeof g);
    memset(&rs, 0, sizeof rs);
    fake_start(&g, e, agent_fn, 0);
    g.hold_members = true;
    c = client_for(e, &g.addr, &st2, false, NULL);
    RUN_UNTIL(e, st2.ready == 1);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
    cairn_serfrpc_delete(c);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.last[0].status, CAIRN_ESHUTDOWN);
    fake_free(&g);
}

/* A members reply whose body declares a size no record may have (issue 8
 * item 6): the client must reject it from its first bytes, naming the
 * declared size and the limit, not wait for the request timeout. */
static const uint8_t *impossible_body;
static size_t impossible_len;

static void impossible_fn(struct fake *f, const char *cmd, uint64_t seq, const uint8_t *body,
                          size_t blen)
{
    if (strcmp(cmd, "handshake") == 0) {
        reply(f, seq, "");
    } else if (strcmp(cmd, "members") == 0) {
        reply(f, seq, "");
        if (f->conn != NULL)
            (void)cairn_stream_write(f->conn, impossible_body, impossible_len);
    }
}

static void test_impossible_size_rejected_at_once(void **state)
{
    struct uv_env *e = *state;
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a', 'b'};
    /* {"Members": [{"Name": str32 0xfffffff0 ...: nested, a few bytes in. */
    static const uint8_t nested[] = {0x81, 0xa7, 'M', 'e', 'm', 'b',  'e',  'r',  's',  0x91, 0x81,
                                     0xa4, 'N',  'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xf0};
    static const struct {
        const uint8_t *p;
        size_t n;
        const char *size;
    } cases[] = {
        {arr32, sizeof arr32, "at least 4294967300 bytes"},
        {map32, sizeof map32, "at least 8589934595 bytes"},
        {str32, sizeof str32, "at least 4294967285 bytes"},
        {nested, sizeof nested, "at least 4294967301 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake f;
        struct states st = {0};
        struct replies rs;
        memset(&f, 0, sizeof f);
        memset(&rs, 0, sizeof rs);
        impossible_body = cases[i].p;
        impossible_len = cases[i].n;
        fake_start(&f, e, impossible_fn, 0);
        cairn_serfrpc_config cfg;
        cairn_serfrpc *c;
        cairn_serfrpc_config_default(&cfg);
        cfg.addr = f.addr;
        cfg.reconnect = false;
        cfg.request_timeout = 3 * CAIRN_SEC;
        cfg.state_cb = on_state;
        cfg.userdata = &st;
        assert_int_equal(cairn_serfrpc_new(e->loop, &cfg, &c), 0);
        assert_int_equal(cairn_serfrpc_start(c), 0);
        RUN_UNTIL(e, st.ready == 1);
        cairn_time t0 = cairn_monotonic_now();
        assert_int_equal(cairn_serfrpc_members(c, on_reply, &rs), 0);
        RUN_UNTIL(e, rs.n == 1);
        cairn_time took = cairn_monotonic_now() - t0;
        print_message("case %zu: rejected in %.1f ms: %s\n", i, cairn_time_seconds(took) * 1e3,
                      st.last_msg);
        assert_int_equal(rs.last[0].status, CAIRN_EMSGSIZE);
        assert_true(took < 1 * CAIRN_SEC);
        assert_non_null(strstr(st.last_msg, cases[i].size));
        assert_non_null(strstr(st.last_msg, "members reply"));
        assert_non_null(strstr(st.last_msg, "limit of 16777216 bytes"));
        cairn_serfrpc_delete(c);
        fake_free(&f);
    }
}

/* cairn__ipc_min_len: a complete object measures its length; a truncated
 * one its declared minimum. */
static void test_ipc_min_len(void **state)
{
    static const uint8_t whole[] = {0x92, 0xa1, 'x', 0xcd, 0x01, 0x02};
    assert_int_equal(cairn__ipc_min_len(whole, sizeof whole), sizeof whole);
    assert_int_equal(cairn__ipc_min_len(whole, 1), 3); /* 92 + two elements */
    assert_int_equal(cairn__ipc_min_len(whole, 2), 4); /* a1 declares one byte */
    assert_int_equal(cairn__ipc_min_len(whole, 4), 4); /* cd: one element, >= 1 byte */
    static const uint8_t bin32[] = {0xc6, 0x01, 0x00, 0x00, 0x00};
    assert_int_equal(cairn__ipc_min_len(bin32, sizeof bin32), 5 + 16777216);
    size_t len;
    assert_int_equal(cairn__ipc_object_len(bin32, sizeof bin32, 16777216, &len), CAIRN_EMSGSIZE);
    assert_int_equal(cairn__ipc_object_len(bin32, sizeof bin32, 16777221, &len), CAIRN_EAGAIN);
}

/* ---- cluster backend ---- */

struct cl_events {
    char log[64][48];
    int n;
    int synced, stale;
};

static void on_cl_event(const cairn_event *ev, void *ud)
{
    struct cl_events *ce = ud;
    for (size_t i = 0; i < ev->nmembers && ce->n < 64; i++)
        snprintf(ce->log[ce->n++], sizeof ce->log[0], "%s %s", cairn_event_type_name(ev->type),
                 ev->members[i].name);
}

static void on_cl_sync(cairn_serfrpc_cluster *cl, int sync, int err, const char *msg, void *ud)
{
    struct cl_events *ce = ud;
    if (sync == CAIRN_SERFRPC_SYNCED)
        ce->synced++;
    else if (sync == CAIRN_SERFRPC_STALE)
        ce->stale++;
}

static bool logged(const struct cl_events *ce, int from, const char *line)
{
    for (int i = from; i < ce->n; i++)
        if (strcmp(ce->log[i], line) == 0)
            return true;
    return false;
}

static bool count_member(const cairn_member *m, void *ud)
{
    (*(int *)ud)++;
    return true;
}

static void test_cluster_resync(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct cl_events ce;
    memset(&f, 0, sizeof f);
    memset(&ce, 0, sizeof ce);
    fake_start(&f, e, agent_fn, 0);
    uint16_t port = f.addr.port;
    cairn_serfrpc_cluster_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cairn_serfrpc_config_default(&cfg.rpc);
    cfg.rpc.addr = f.addr;
    cfg.rpc.backoff_min = 10 * CAIRN_MSEC;
    cfg.rpc.backoff_max = 20 * CAIRN_MSEC;
    cfg.event_cb = on_cl_event;
    cfg.sync_cb = on_cl_sync;
    cfg.userdata = &ce;
    cairn_serfrpc_cluster *cl;
    assert_int_equal(cairn_serfrpc_cluster_new(e->loop, &cfg, &cl), 0);
    assert_int_equal(cairn_serfrpc_cluster_start(cl), 0);
    RUN_UNTIL(e, ce.synced == 1);
    cairn_cluster c = cairn_serfrpc_cluster_get(cl);
    assert_string_equal(cairn_serfrpc_cluster_self(cl), "me.dc1");
    assert_string_equal(cairn_serfrpc_cluster_self_tag(cl, "dc"), "dc1");
    assert_int_equal(c.ops->num_nodes(c.impl), 4);
    cairn_coord co;
    assert_int_equal(c.ops->get_coordinate(c.impl, &co), 0);
    assert_true(co.vec[0] == ('m' - 'a' + 1) * 1e-3);
    assert_true(c.ops->get_cached_coordinate(c.impl, "b.dc2", &co));
    assert_true(co.vec[0] == 2e-3);
    assert_false(c.ops->get_cached_coordinate(c.impl, "nobody", &co));
    /* First sync: every alive member is announced as a join. */
    assert_true(logged(&ce, 0, "member-join a.dc2"));
    assert_true(logged(&ce, 0, "member-join c.dc2"));

    /* A streamed event updates the cache and is forwarded; a repeat is not. */
    int before = ce.n;
    send_record(&f, "member-failed", "b.dc2", "failed", false);
    send_record(&f, "member-failed", "b.dc2", "failed", false);
    uv_env_run_for(e, 60);
    assert_int_equal(ce.n, before + 1);
    assert_string_equal(ce.log[before], "member-failed b.dc2");

    /* The agent restarts with another view: b gone, c failed, d new. */
    f.variant = 1;
    cairn_stream_close(f.conn);
    f.conn = NULL;
    before = ce.n;
    RUN_UNTIL(e, ce.synced == 2);
    assert_int_equal(ce.stale, 1);
    assert_true(logged(&ce, before, "member-reap b.dc2"));
    assert_true(logged(&ce, before, "member-failed c.dc2"));
    assert_true(logged(&ce, before, "member-join d.dc3"));
    assert_false(logged(&ce, before, "member-join a.dc2")); /* unchanged: silent */
    int n = 0;
    c.ops->for_each_member(c.impl, count_member, &n);
    assert_int_equal(n, 4);
    assert_false(c.ops->get_cached_coordinate(c.impl, "b.dc2", &co));
    assert_true(c.ops->get_cached_coordinate(c.impl, "d.dc3", &co));
    assert_int_equal(f.connections, 2);
    (void)port;
    cairn_serfrpc_cluster_delete(cl);
    fake_free(&f);
}

/* An agent that handshakes and then answers badly, every time (issue 8
 * item 5): after the first sync it turns bad: a reply with a Seq never
 * sent, a members reply cut by a close, a members reply nested too deep,
 * in turn. The backend must back off (growing, jittered) instead of
 * redialling every backoff_min, and report the outage once. */
static void storm_fn(struct fake *f, const char *cmd, uint64_t seq, const uint8_t *body,
                     size_t blen)
{
    if (f->variant == 0 || strcmp(cmd, "handshake") == 0 || strcmp(cmd, "stream") == 0 ||
        strcmp(cmd, "stats") == 0) {
        agent_fn(f, cmd, seq, body, blen);
        return;
    }
    if (strcmp(cmd, "members") != 0)
        return;
    static const uint8_t cut[] = {0x81, 0xa7, 'M', 'e', 'm', 'b', 'e', 'r', 's', 0x92, 0x81};
    uint8_t deep[80];
    memset(deep, 0x91, sizeof deep);
    switch (f->connections % 3) {
    case 0:
        reply(f, seq + 100, "");
        break;
    case 1:
        reply(f, seq, "");
        (void)cairn_stream_write(f->conn, cut, sizeof cut);
        cairn_stream_close(f->conn);
        f->conn = NULL;
        break;
    default:
        reply(f, seq, "");
        (void)cairn_stream_write(f->conn, deep, sizeof deep);
        break;
    }
}

static void test_cluster_no_reconnect_storm(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct cl_events ce;
    memset(&f, 0, sizeof f);
    memset(&ce, 0, sizeof ce);
    fake_start(&f, e, storm_fn, 0);
    cairn_serfrpc_cluster_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cairn_serfrpc_config_default(&cfg.rpc);
    cfg.rpc.addr = f.addr;
    /* cairn watch's 100 ms .. 2 s, scaled down by 5. */
    cfg.rpc.backoff_min = 20 * CAIRN_MSEC;
    cfg.rpc.backoff_max = 400 * CAIRN_MSEC;
    cfg.member_poll = 50 * CAIRN_MSEC;
    cfg.event_cb = on_cl_event;
    cfg.sync_cb = on_cl_sync;
    cfg.userdata = &ce;
    cairn_serfrpc_cluster *cl;
    assert_int_equal(cairn_serfrpc_cluster_new(e->loop, &cfg, &cl), 0);
    assert_int_equal(cairn_serfrpc_cluster_start(cl), 0);
    RUN_UNTIL(e, ce.synced == 1);
    f.variant = 1; /* the next member poll gets a bad reply */
    RUN_UNTIL(e, ce.stale == 1);
    int before = f.connections;
    uv_env_run_for(e, 2000);
    int dials = f.connections - before;
    print_message("bad agent: %d reconnections in 2 s (%d per minute), %d stale reports\n", dials,
                  dials * 30, ce.stale);
    /* Backoff 20, 40, 80, 160, 320, 400 ... ms, each drawn in [d/2, d]:
     * at most ~11 in 2 s; a reset on every handshake would be ~100. */
    assert_true(dials >= 3);
    assert_true(dials <= 12);
    assert_int_equal(ce.stale, 1);
    assert_int_equal(ce.synced, 1);
    /* Back to a good agent: it resynchronises, and a later loss is news. */
    f.variant = 0;
    RUN_UNTIL(e, ce.synced == 2);
    cairn_stream_close(f.conn);
    f.conn = NULL;
    RUN_UNTIL(e, ce.stale == 2);
    cairn_serfrpc_cluster_delete(cl);
    fake_free(&f);
}

/* Every allocation of a cluster sync, failed one at a time: the backend
 * either completes the sync (recovering through its retry timer, or through
 * its watchdog and a reconnection when the fake agent could not answer) or
 * keeps retrying, never crashes, and frees everything when deleted. The sweep ends at the first run
 * in which the injected failure is never reached. */
static void test_cluster_alloc_sweep(void **state)
{
    long n, stalled = 0;
    for (n = 0; n < 2000; n++) {
        cairn__test_alloc_install();
        struct uv_env *e;
        uv_env_setup((void **)&e);
        struct fake f;
        struct cl_events ce;
        memset(&f, 0, sizeof f);
        memset(&ce, 0, sizeof ce);
        fake_start(&f, e, agent_fn, 0);
        cairn_serfrpc_cluster_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cairn_serfrpc_config_default(&cfg.rpc);
        cfg.rpc.addr = f.addr;
        cfg.rpc.backoff_min = 5 * CAIRN_MSEC;
        cfg.rpc.backoff_max = 10 * CAIRN_MSEC;
        cfg.rpc.seed = 1;
        /* A reply the fake could not build (its allocations fail too) is
         * recovered by the client's watchdog: reconnect and resync. */
        cfg.rpc.request_timeout = 100 * CAIRN_MSEC * cairn_test_slowdown();
        cfg.event_cb = on_cl_event;
        cfg.sync_cb = on_cl_sync;
        cfg.userdata = &ce;
        cairn_serfrpc_cluster *cl = NULL;
        cairn__test_alloc_fail_after(n);
        if (cairn_serfrpc_cluster_new(e->loop, &cfg, &cl) == 0 &&
            cairn_serfrpc_cluster_start(cl) == 0) {
            cairn_time deadline = cairn_monotonic_now() + 1 * CAIRN_SEC * cairn_test_slowdown();
            while (ce.synced == 0 && cairn_monotonic_now() < deadline)
                uv_run(&e->uv, UV_RUN_ONCE);
        }
        bool hit = cairn__test_alloc_failed();
        if (ce.synced == 0 && cl != NULL)
            stalled++;
        cairn__test_alloc_fail_after(-1);
        cairn_serfrpc_cluster_delete(cl);
        fake_free(&f);
        uv_env_teardown((void **)&e);
        assert_int_equal(cairn__test_alloc_live(), 0);
        cairn__test_alloc_uninstall();
        if (!hit) {
            assert_int_equal(ce.synced, 1);
            break;
        }
    }
    /* A run may stall when the failure hits the fake agent's listener (the
     * libuv backend leaves a connection it could not allocate for in the
     * backlog and stops accepting); the client keeps retrying then. */
    print_message("allocation sweep: %ld failure points, %ld without a sync within 1 s\n", n,
                  stalled);
    assert_true(n > 10 && n < 2000);
}

/* ---- query, monitor, key commands, bodyless commands ---- */

static void w_query_record(cairn_mp_writer *w, uint64_t seq, const char *from, const char *payload,
                           const char *type)
{
    w_header(w, seq, "");
    cairn__mp_write_map(w, 3);
    cairn__mp_write_cstr(w, "From");
    cairn__mp_write_cstr(w, from);
    cairn__mp_write_cstr(w, "Payload");
    if (payload == NULL)
        cairn__mp_write_nil(w);
    else
        cairn__mp_write_bytes(w, (cairn_span){(const uint8_t *)payload, strlen(payload)});
    cairn__mp_write_cstr(w, "Type");
    cairn__mp_write_cstr(w, type);
}

static void w_keys(cairn_mp_writer *w, const char *key, const char *node, const char *msg)
{
    cairn__mp_write_map(w, 5);
    cairn__mp_write_cstr(w, "Keys");
    if (key == NULL) {
        cairn__mp_write_nil(w);
    } else {
        cairn__mp_write_map(w, 1);
        cairn__mp_write_cstr(w, key);
        cairn__mp_write_uint(w, 2);
    }
    cairn__mp_write_cstr(w, "Messages");
    cairn__mp_write_map(w, node != NULL ? 1 : 0);
    if (node != NULL) {
        cairn__mp_write_cstr(w, node);
        cairn__mp_write_cstr(w, msg);
    }
    cairn__mp_write_cstr(w, "NumErr");
    cairn__mp_write_uint(w, node != NULL ? 1 : 0);
    cairn__mp_write_cstr(w, "NumNodes");
    cairn__mp_write_uint(w, 2);
    cairn__mp_write_cstr(w, "NumResp");
    cairn__mp_write_uint(w, 2);
}

static void more_fn(struct fake *f, const char *cmd, uint64_t seq, const uint8_t *body, size_t blen)
{
    cairn_buf b;
    cairn_mp_writer w;
    cairn_buf_init(&b, 1 << 20);
    cairn__mp_writer_init(&w, &b, CAIRN_MP_IPC);
    if (strcmp(cmd, "query") == 0) {
        w_header(&w, seq, "");
        w_query_record(&w, seq, "a", NULL, "ack");
        w_query_record(&w, seq, "b", "up\n", "response");
        w_query_record(&w, seq, "", NULL, "done");
    } else if (strcmp(cmd, "monitor") == 0) {
        f->stream_seq = seq;
        w_header(&w, seq, "");
        w_header(&w, seq, "");
        cairn__mp_write_map(&w, 1);
        cairn__mp_write_cstr(&w, "Log");
        cairn__mp_write_cstr(&w, "[INFO] hello");
    } else if (strcmp(cmd, "list-keys") == 0) {
        w_header(&w, seq, "");
        w_keys(&w, "K1", NULL, NULL);
    } else if (strcmp(cmd, "install-key") == 0) {
        w_header(&w, seq, "1/2 nodes reported failure");
        w_keys(&w, NULL, "b", "No keyring to modify (encryption not enabled)");
    } else if (strcmp(cmd, "event") == 0 && f->variant == 3) {
        w_header(&w, seq, "user event exceeds configured limit of 512 bytes before encoding");
    } else {
        w_header(&w, seq, "");
    }
    if (finish(&w, &b))
        fake_send(f, &b);
}

struct qstate {
    int acks, resps, dones, ended, end_status, lines, agent_acked;
    char resp[16], line[32];
};

static void on_qack(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct qstate *q = ud;
    if (r->status == 0)
        q->agent_acked++;
}

static void on_qrec(cairn_serfrpc *c, const cairn_serfrpc_query_record *rec, int status, void *ud)
{
    struct qstate *q = ud;
    if (rec == NULL) {
        q->ended++;
        q->end_status = status;
    } else if (rec->type == CAIRN_SERFRPC_QUERY_ACK) {
        q->acks++;
    } else if (rec->type == CAIRN_SERFRPC_QUERY_RESPONSE) {
        q->resps++;
        snprintf(q->resp, sizeof q->resp, "%s:%.*s", rec->from, (int)rec->payload_len,
                 (const char *)rec->payload);
    } else {
        q->dones++;
    }
}

static void on_line(cairn_serfrpc *c, const char *line, int status, void *ud)
{
    struct qstate *q = ud;
    if (line == NULL) {
        q->ended++;
        q->end_status = status;
        return;
    }
    q->lines++;
    snprintf(q->line, sizeof q->line, "%s", line);
}

struct keystate {
    int n, status;
    size_t nkeys, nmessages;
    char key[16], message[64];
    int32_t num_nodes;
};

static void on_keys(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct keystate *k = ud;
    k->n++;
    k->status = r->status;
    k->nkeys = r->keys.nkeys;
    k->nmessages = r->keys.nmessages;
    k->num_nodes = r->keys.num_nodes;
    if (r->keys.nkeys > 0)
        snprintf(k->key, sizeof k->key, "%s", r->keys.keys[0].key);
    if (r->keys.nmessages > 0)
        snprintf(k->message, sizeof k->message, "%s", r->keys.messages[0].message);
}

static void test_query_monitor_keys(void **state)
{
    struct uv_env *e = *state;
    struct fake f;
    struct states st = {0};
    struct replies rs;
    struct qstate q;
    struct keystate k;
    memset(&f, 0, sizeof f);
    memset(&rs, 0, sizeof rs);
    memset(&q, 0, sizeof q);
    memset(&k, 0, sizeof k);
    fake_start(&f, e, more_fn, 0);
    cairn_serfrpc *c = client_for(e, &f.addr, &st, false, NULL);
    RUN_UNTIL(e, st.ready == 1);

    /* The query body the serf CLI sends for `serf query -timeout=2s q`
     * (keys sorted; FilterNodes nil, FilterTags {}, Payload nil). */
    cairn_serfrpc_query_params qp = {.name = "q", .request_ack = true, .timeout = 2 * CAIRN_SEC};
    assert_int_equal(cairn_serfrpc_query(c, &qp, on_qack, on_qrec, &q, NULL), 0);
    RUN_UNTIL(e, q.ended == 1);
    assert_int_equal(q.agent_acked, 1);
    static const uint8_t qbody[] =
        "\x87\xab"
        "FilterNodes\xc0\xaa"
        "FilterTags\x80\xa4Name\xa1q\xa7Payload\xc0"
        "\xab"
        "RelayFactor\x00\xaaRequestAck\xc3\xa7Timeout\xce\x77\x35\x94\x00";
    assert_int_equal(f.last_body_len, sizeof qbody - 1);
    assert_memory_equal(f.last_body, qbody, sizeof qbody - 1);
    assert_int_equal(q.acks, 1);
    assert_int_equal(q.resps, 1);
    assert_string_equal(q.resp, "b:up\n");
    assert_int_equal(q.dones, 1);
    assert_int_equal(q.end_status, 0);

    /* monitor: the backlog line; stop ends it with status 0. */
    uint64_t mseq;
    memset(&q, 0, sizeof q);
    assert_int_equal(cairn_serfrpc_monitor(c, "debug", NULL, on_line, &q, &mseq), 0);
    RUN_UNTIL(e, q.lines == 1);
    assert_string_equal(q.line, "[INFO] hello");
    assert_int_equal(cairn_serfrpc_stop(c, mseq, NULL, NULL), 0);
    RUN_UNTIL(e, q.ended == 1);
    assert_int_equal(q.end_status, 0);

    /* Key commands: the keyResponse body, also with the agent's error. */
    assert_int_equal(cairn_serfrpc_list_keys(c, on_keys, &k), 0);
    RUN_UNTIL(e, k.n == 1);
    assert_int_equal(k.status, 0);
    assert_int_equal(k.nkeys, 1);
    assert_string_equal(k.key, "K1");
    assert_int_equal(k.num_nodes, 2);
    assert_int_equal(cairn_serfrpc_install_key(c, "K2", on_keys, &k), 0);
    RUN_UNTIL(e, k.n == 2);
    assert_int_equal(k.status, CAIRN_EREMOTE);
    assert_int_equal(k.nkeys, 0);
    assert_int_equal(k.nmessages, 1);
    assert_string_equal(k.message, "No keyring to modify (encryption not enabled)");

    /* Bodyless replies, pipelined; the event body as the serf CLI sends it. */
    static const cairn_tag set[] = {{"role", "web"}};
    const char *const del[] = {"old"};
    assert_int_equal(cairn_serfrpc_event(c, "deploy", NULL, 0, true, on_reply, &rs), 0);
    static const uint8_t ebody[] = "\x83\xa8"
                                   "Coalesce\xc3\xa4Name\xa6"
                                   "deploy\xa7Payload\xc0";
    assert_int_equal(cairn_serfrpc_tags(c, set, 1, del, 1, on_reply, &rs), 0);
    assert_int_equal(cairn_serfrpc_force_leave(c, "x", true, on_reply, &rs), 0);
    assert_int_equal(cairn_serfrpc_respond(c, 7, (const uint8_t *)"r", 1, on_reply, &rs), 0);
    assert_int_equal(cairn_serfrpc_leave(c, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rs.last[i].status, 0);
    assert_string_equal(f.cmds[f.nseen - 5], "event");
    assert_string_equal(f.cmds[f.nseen - 1], "leave");
    f.variant = 3;
    assert_int_equal(cairn_serfrpc_event(c, "deploy", NULL, 0, true, on_reply, &rs), 0);
    RUN_UNTIL(e, rs.n == 6);
    assert_int_equal(f.last_body_len, sizeof ebody - 1);
    assert_memory_equal(f.last_body, ebody, sizeof ebody - 1);
    assert_int_equal(rs.last[5].status, CAIRN_EREMOTE);
    assert_true(cairn_serfrpc_ready(c)); /* an Error without a body keeps the connection */

    assert_int_equal(cairn_serfrpc_query(c, NULL, NULL, on_qrec, &q, NULL), CAIRN_EINVAL);
    assert_int_equal(cairn_serfrpc_event(c, "x", NULL, 3, true, NULL, NULL), CAIRN_EINVAL);
    cairn_serfrpc_delete(c);
    fake_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreachable, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_and_stream, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_auth_refused, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_auth_required, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_seq_and_shutdown, uv_env_setup,
                                        uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_resync, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_impossible_size_rejected_at_once, uv_env_setup,
                                        uv_env_teardown),
        cmocka_unit_test(test_ipc_min_len),
        cmocka_unit_test_setup_teardown(test_query_monitor_keys, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_no_reconnect_storm, uv_env_setup,
                                        uv_env_teardown),
        cmocka_unit_test(test_cluster_alloc_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
