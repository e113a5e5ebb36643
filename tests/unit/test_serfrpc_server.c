/* Unit tests for the Serf agent RPC server (cairn/serfrpc_server.h): our
 * own RPC client (cairn/serfrpc.h) against the server on one libuv loop,
 * with a fake backend. Both ends share the codec, so these check that what
 * the server encodes the client decodes (members with tags, anchored
 * member filters with Serf's empty-tag rule, join, stats, coordinates,
 * stream filters), the auth rules, and raw-byte quirks of the real agent
 * (a command before auth answered twice, an unknown command closes). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "cairn/serfrpc_server.h"
#include "slowdown.h"
#include "uv_env.h"

#define RUN_UNTIL(e, cond)                                                                         \
    do {                                                                                           \
        uv_env_run_for((e), 10);                                                                   \
    } while (!(cond))

/* ---- fake backend ---- */

static const cairn_tag tags_a[] = {{"role", "web"}, {"dc", "lab"}};
static const cairn_tag tags_b[] = {{"dc", "lab"}};

static int fb_members(void *impl, cairn_member_cb fn, void *ud)
{
    (void)impl;
    cairn_member ms[2];
    memset(ms, 0, sizeof ms);
    ms[0].name = "alpha";
    cairn_addr_parse_ip("127.0.0.1", 7946, &ms[0].addr);
    ms[0].tags = tags_a;
    ms[0].ntags = 2;
    ms[0].status = CAIRN_MEMBER_ALIVE;
    ms[0].protocol_max = 5;
    ms[0].delegate_cur = 5;
    ms[1] = ms[0];
    ms[1].name = "beta";
    ms[1].tags = tags_b;
    ms[1].ntags = 1;
    ms[1].status = CAIRN_MEMBER_FAILED;
    for (int i = 0; i < 2; i++)
        if (!fn(&ms[i], ud))
            break;
    return 0;
}

static int fb_join(void *impl, const char *const *addrs, size_t n, bool replay,
                   cairn_serfrpc_done_fn done, void *ctx, cairn_diag *diag)
{
    (void)impl;
    (void)addrs;
    (void)replay;
    (void)diag;
    done(ctx, "", (int64_t)n); /* completes inside the call */
    return 0;
}

static int fb_leave(void *impl, cairn_serfrpc_done_fn done, void *ctx, cairn_diag *diag)
{
    (void)impl;
    (void)done;
    (void)ctx;
    return cairn_diag_set(diag, CAIRN_EBUSY, "no");
}

static int fb_force_leave(void *impl, const char *node, bool prune, cairn_diag *diag)
{
    (void)impl;
    (void)node;
    (void)prune;
    (void)diag;
    return 0;
}

static int fb_user_event(void *impl, const char *name, const uint8_t *payload, size_t len,
                         bool coalesce, cairn_diag *diag)
{
    (void)impl;
    (void)name;
    (void)payload;
    (void)len;
    (void)coalesce;
    (void)diag;
    return 0;
}

static int fb_tags(void *impl, const cairn_tag *set, size_t nset, const char *const *del,
                   size_t ndel, cairn_diag *diag)
{
    (void)impl;
    (void)set;
    (void)nset;
    (void)del;
    (void)ndel;
    (void)diag;
    return 0;
}

static int fb_query(void *impl, const cairn_serfrpc_query_req *q, cairn_serfrpc_query_fn cb,
                    void *ctx, void **ret_handle, cairn_diag *diag)
{
    (void)impl;
    (void)q;
    (void)cb;
    (void)ctx;
    (void)ret_handle;
    return cairn_diag_set(diag, CAIRN_ENOTSUP, "no queries here");
}

static void fb_query_cancel(void *impl, void *handle)
{
    (void)impl;
    (void)handle;
}

static int fb_key(void *impl, int op, const char *key, cairn_serfrpc_key_fn cb, void *ctx,
                  cairn_diag *diag)
{
    (void)impl;
    (void)op;
    (void)key;
    (void)cb;
    (void)ctx;
    return cairn_diag_set(diag, CAIRN_ENOTSUP, "no keys here");
}

static void fb_stats(void *impl, cairn_serfrpc_stat_fn fn, void *ud)
{
    (void)impl;
    fn(ud, "agent", "name", "alpha");
    fn(ud, "serf", "members", "2");
    fn(ud, "serf", "failed", "1");
    fn(ud, "event_handlers", "", "");
}

static bool fb_coord(void *impl, const char *node, cairn_coord *ret)
{
    (void)impl;
    if (strcmp(node, "alpha") != 0)
        return false;
    memset(ret, 0, sizeof *ret);
    ret->dim = 8;
    ret->vec[0] = 0.5;
    ret->error = 1.5;
    return true;
}

static const cairn_serfrpc_backend_ops fake_ops = {
    .for_each_member = fb_members,
    .join = fb_join,
    .leave = fb_leave,
    .force_leave = fb_force_leave,
    .user_event = fb_user_event,
    .update_tags = fb_tags,
    .query = fb_query,
    .query_cancel = fb_query_cancel,
    .key_op = fb_key,
    .stats = fb_stats,
    .get_coordinate = fb_coord,
};

static cairn_serfrpc_server *server_cfg(struct uv_env *e, cairn_serfrpc_server_config cfg,
                                        cairn_addr *ret_addr)
{
    cairn_addr_parse_ip("127.0.0.1", 0, &cfg.addr);
    cairn_serfrpc_server *srv;
    assert_int_equal(cairn_serfrpc_server_new(e->loop, &cfg, &srv), 0);
    assert_int_equal(cairn_serfrpc_server_local(srv, ret_addr), 0);
    return srv;
}

static cairn_serfrpc_server *server(struct uv_env *e, const char *auth, cairn_addr *ret_addr)
{
    cairn_serfrpc_server_config cfg = {
        .ops = &fake_ops, .auth_key = auth, .idle_timeout = CAIRN_SEC};
    return server_cfg(e, cfg, ret_addr);
}

/* ---- client side ---- */

struct got {
    int state, n, err;
    int status[16];
    size_t nmembers[16];
    char names[16][64];
    char tags[16][64];
    int32_t joined;
    bool coord_ok[16];
    double vec0;
    char stat_name[64];
    int events;
    char ev_name[64];
};

static void on_state(cairn_serfrpc *c, int state, int err, const char *msg, void *ud)
{
    struct got *g = ud;
    (void)c;
    (void)msg;
    g->state = state;
    g->err = err;
}

static void on_reply(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct got *g = ud;
    (void)c;
    int i = g->n++;
    g->status[i] = r->status;
    g->nmembers[i] = r->nmembers;
    g->names[i][0] = 0;
    for (size_t k = 0; k < r->nmembers; k++) {
        strncat(g->names[i], r->members[k].name, 20);
        strcat(g->names[i], " ");
    }
    if (r->nmembers) {
        const char *v = cairn_member_tag(&r->members[0], "role");
        snprintf(g->tags[i], sizeof g->tags[i], "%s", v ? v : "-");
    }
    if (r->num_joined)
        g->joined = r->num_joined;
    g->coord_ok[i] = r->coord_ok;
    if (r->coord_ok)
        g->vec0 = r->coord.vec[0];
    for (size_t k = 0; k < r->nstats; k++)
        if (strcmp(r->stats[k].section, "agent") == 0 && strcmp(r->stats[k].key, "name") == 0)
            snprintf(g->stat_name, sizeof g->stat_name, "%s", r->stats[k].value);
}

static void on_ev(cairn_serfrpc *c, const cairn_event *ev, int status, void *ud)
{
    struct got *g = ud;
    (void)c;
    (void)status;
    if (!ev)
        return;
    g->events++;
    snprintf(g->ev_name, sizeof g->ev_name, "%s", ev->name ? ev->name : "");
}

static cairn_serfrpc *client(struct uv_env *e, const cairn_addr *a, const char *auth, struct got *g)
{
    cairn_serfrpc_config cfg;
    cairn_serfrpc_config_default(&cfg);
    cfg.addr = *a;
    cfg.auth_key = auth;
    cfg.reconnect = false;
    cfg.state_cb = on_state;
    cfg.userdata = g;
    cairn_serfrpc *c;
    assert_int_equal(cairn_serfrpc_new(e->loop, &cfg, &c), 0);
    assert_int_equal(cairn_serfrpc_start(c), 0);
    return c;
}

static void test_commands(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    struct got g;
    memset(&g, 0, sizeof g);
    cairn_serfrpc_server *srv = server(e, NULL, &a);
    cairn_serfrpc *c = client(e, &a, NULL, &g);
    RUN_UNTIL(e, g.state == CAIRN_SERFRPC_READY);
    /* Pipelined: every reply matched to its request. */
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &g), 0);
    const cairn_tag web[] = {{"role", "w.b"}};
    assert_int_equal(cairn_serfrpc_members_filtered(c, NULL, NULL, web, 1, on_reply, &g), 0);
    /* Anchored: "alph" does not match "alpha". */
    assert_int_equal(cairn_serfrpc_members_filtered(c, "alph", NULL, NULL, 0, on_reply, &g), 0);
    assert_int_equal(cairn_serfrpc_members_filtered(c, NULL, "fail.*", NULL, 0, on_reply, &g), 0);
    /* An empty tag value: the tag absent or empty (beta has no role). */
    const cairn_tag norole[] = {{"role", ""}};
    assert_int_equal(cairn_serfrpc_members_filtered(c, NULL, NULL, norole, 1, on_reply, &g), 0);
    const char *const addrs[] = {"127.0.0.1:1", "127.0.0.1:2"};
    assert_int_equal(cairn_serfrpc_join(c, addrs, 2, false, on_reply, &g), 0);
    assert_int_equal(cairn_serfrpc_get_coordinate(c, "alpha", on_reply, &g), 0);
    assert_int_equal(cairn_serfrpc_get_coordinate(c, "zz", on_reply, &g), 0);
    assert_int_equal(cairn_serfrpc_stats(c, on_reply, &g), 0);
    RUN_UNTIL(e, g.n == 9);
    assert_int_equal(g.status[0], 0);
    assert_string_equal(g.names[0], "alpha beta ");
    assert_string_equal(g.tags[0], "web");
    assert_string_equal(g.names[1], "alpha ");
    assert_int_equal(g.nmembers[2], 0);
    assert_string_equal(g.names[3], "beta ");
    assert_string_equal(g.names[4], "beta ");
    assert_int_equal(g.joined, 2);
    assert_true(g.coord_ok[6]);
    assert_true(g.vec0 == 0.5);
    assert_false(g.coord_ok[7]);
    assert_string_equal(g.stat_name, "alpha");

    /* Streams: user:deploy lets only that event through. */
    uint64_t seq;
    assert_int_equal(cairn_serfrpc_stream(c, "member-join,user:deploy", on_reply, on_ev, &g, &seq),
                     0);
    RUN_UNTIL(e, g.n == 10);
    cairn_event ev = {.type = CAIRN_EVENT_USER, .name = "other", .ltime = 3};
    cairn_serfrpc_server_event(srv, &ev);
    ev.name = "deploy";
    ev.payload = (const uint8_t *)"v1";
    ev.payload_len = 2;
    cairn_serfrpc_server_event(srv, &ev);
    RUN_UNTIL(e, g.events == 1);
    uv_env_run_for(e, 50);
    assert_int_equal(g.events, 1);
    assert_string_equal(g.ev_name, "deploy");
    cairn_serfrpc_server_stats st;
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_int_equal(st.clients, 1);
    cairn_serfrpc_delete(c);
    cairn_serfrpc_server_delete(srv);
}

static void test_auth(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    struct got ok, bad;
    memset(&ok, 0, sizeof ok);
    memset(&bad, 0, sizeof bad);
    cairn_serfrpc_server *srv = server(e, "sekrit", &a);
    cairn_serfrpc *c1 = client(e, &a, "sekrit", &ok);
    cairn_serfrpc *c2 = client(e, &a, "wrong", &bad);
    RUN_UNTIL(e, ok.state == CAIRN_SERFRPC_READY && bad.state == CAIRN_SERFRPC_GAVE_UP);
    assert_int_equal(bad.err, CAIRN_EAUTH);
    assert_int_equal(cairn_serfrpc_members(c1, on_reply, &ok), 0);
    RUN_UNTIL(e, ok.n == 1);
    assert_int_equal(ok.nmembers[0], 2);
    cairn_serfrpc_delete(c1);
    cairn_serfrpc_delete(c2);
    cairn_serfrpc_server_delete(srv);
}

/* ---- raw bytes ---- */

struct raw {
    uint8_t buf[4096];
    size_t len;
    bool done, connected;
    cairn_stream *s;
};

static void raw_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    struct raw *r = ud;
    (void)s;
    if (status < 0) {
        r->done = true;
        return;
    }
    if (r->len + len <= sizeof r->buf) {
        memcpy(r->buf + r->len, data, len);
        r->len += len;
    }
}

static void raw_conn(cairn_stream *s, int status, void *ud)
{
    struct raw *r = ud;
    assert_int_equal(status, 0);
    r->connected = true;
    cairn_stream_set_timeout(s, 2 * CAIRN_SEC);
    cairn_stream_start_read(s, raw_read, r);
}

#define FS(s) (uint8_t)(0xa0 | (sizeof(s) - 1)), s

static void test_raw_quirks(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    cairn_serfrpc_server *srv = server(e, "k", &a);
    struct raw r;
    memset(&r, 0, sizeof r);
    assert_int_equal(cairn_stream_dial(e->loop, &a, 2 * CAIRN_SEC, raw_conn, &r, &r.s), 0);
    RUN_UNTIL(e, r.connected);
    /* handshake; then get-coordinate with a body before auth: Serf reads
     * the body as the next header, so "Authentication required" twice
     * with Seq 2; then an unknown command after a good auth closes. */
    static const char req[] = "\x82\xa7"
                              "Command\xa9handshake\xa3Seq\x01\x81\xa7Version\x01"
                              "\x82\xa7"
                              "Command\xaeget-coordinate\xa3Seq\x02"
                              "\x81\xa4"
                              "Node\xa1x"
                              "\x82\xa7"
                              "Command\xa4"
                              "auth\xa3Seq\x03\x81\xa7"
                              "AuthKey\xa1k"
                              "\x82\xa7"
                              "Command\xa5"
                              "bogus\xa3Seq\x04";
    assert_int_equal(cairn_stream_write(r.s, (const uint8_t *)req, sizeof req - 1), 0);
    RUN_UNTIL(e, r.done);
    static const char want[] = "\x82\xa5"
                               "Error\xa0\xa3Seq\x01"
                               "\x82\xa5"
                               "Error\xb7"
                               "Authentication required\xa3Seq\x02"
                               "\x82\xa5"
                               "Error\xb7"
                               "Authentication required\xa3Seq\x02"
                               "\x82\xa5"
                               "Error\xa0\xa3Seq\x03"
                               "\x82\xa5"
                               "Error\xb3Unsupported command\xa3Seq\x04";
    assert_int_equal(r.len, sizeof want - 1);
    assert_memory_equal(r.buf, want, sizeof want - 1);
    cairn_stream_close(r.s);
    cairn_serfrpc_server_delete(srv);
}

static int responded;
static char response[16];

static int fake_respond(void *ctx, uint64_t query_id, const uint8_t *payload, size_t len)
{
    (void)ctx;
    assert_int_equal(query_id, 77);
    responded++;
    snprintf(response, sizeof response, "%.*s", (int)len, (const char *)payload);
    return 0;
}

/* A query streamed to `query:q` carries a per-connection ID; `respond`
 * with it reaches the event's respond function once. */
static void test_respond(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    cairn_serfrpc_server *srv = server(e, NULL, &a);
    struct raw r;
    memset(&r, 0, sizeof r);
    assert_int_equal(cairn_stream_dial(e->loop, &a, 2 * CAIRN_SEC, raw_conn, &r, &r.s), 0);
    RUN_UNTIL(e, r.connected);
    static const char sub[] = "\x82\xa7"
                              "Command\xa9handshake\xa3Seq\x01\x81\xa7Version\x01"
                              "\x82\xa7"
                              "Command\xa6stream\xa3Seq\x02\x81\xa4Type\xa7query:q";
    assert_int_equal(cairn_stream_write(r.s, (const uint8_t *)sub, sizeof sub - 1), 0);
    RUN_UNTIL(e, r.len == 26);
    cairn_event ev = {.type = CAIRN_EVENT_QUERY,
                      .name = "other",
                      .ltime = 9,
                      .query_id = 77,
                      .respond = fake_respond};
    cairn_serfrpc_server_event(srv, &ev); /* filtered out */
    ev.name = "q";
    cairn_serfrpc_server_event(srv, &ev);
    static const char rec[] = "\x82\xa5"
                              "Error\xa0\xa3Seq\x02"
                              "\x85\xa5"
                              "Event\xa5query\xa2ID\x01\xa5LTime\x09\xa4Name\xa1q\xa7Payload\xc0";
    RUN_UNTIL(e, r.len == 26 + sizeof rec - 1);
    assert_memory_equal(r.buf + 26, rec, sizeof rec - 1);
    static const char resp[] = "\x82\xa7"
                               "Command\xa7respond\xa3Seq\x03\x82\xa2ID\x01\xa7Payload\xc4\x02hi"
                               "\x82\xa7"
                               "Command\xa7respond\xa3Seq\x04\x82\xa2ID\x01\xa7Payload\xc0";
    assert_int_equal(cairn_stream_write(r.s, (const uint8_t *)resp, sizeof resp - 1), 0);
    static const char want[] = "\x82\xa5"
                               "Error\xa0\xa3Seq\x03"
                               "\x82\xa5"
                               "Error\xbeNo pending queries matching ID\xa3Seq\x04";
    size_t at = 26 + sizeof rec - 1;
    RUN_UNTIL(e, r.len == at + sizeof want - 1);
    assert_memory_equal(r.buf + at, want, sizeof want - 1);
    assert_int_equal(responded, 1);
    assert_string_equal(response, "hi");
    cairn_stream_close(r.s);
    cairn_serfrpc_server_delete(srv);
}

/* A client that subscribes and never reads: records beyond out_max are
 * dropped (counted), the server keeps serving others; a silent client is
 * closed at the handshake deadline; the client cap refuses the extra one. */
static void test_bounds(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    cairn_serfrpc_server_config cfg = {.ops = &fake_ops,
                                       .max_clients = 3,
                                       .out_max = 64 * 1024,
                                       .handshake_timeout = 200 * CAIRN_MSEC,
                                       .idle_timeout = CAIRN_SEC};
    cairn_serfrpc_server *srv = server_cfg(e, cfg, &a);
    struct raw silent, extra;
    memset(&silent, 0, sizeof silent);
    memset(&extra, 0, sizeof extra);
    /* The slow reader: a plain socket that subscribes and never reads. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a.port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static const char sub[] = "\x82\xa7"
                              "Command\xa9handshake\xa3Seq\x01\x81\xa7Version\x01"
                              "\x82\xa7"
                              "Command\xa6stream\xa3Seq\x02\x81\xa4Type\xa1*";
    assert_int_equal(write(fd, sub, sizeof sub - 1), (ssize_t)(sizeof sub - 1));
    uv_env_run_for(e, 50);
    struct got g;
    memset(&g, 0, sizeof g);
    cairn_serfrpc *c = client(e, &a, NULL, &g);
    RUN_UNTIL(e, g.state == CAIRN_SERFRPC_READY);
    static uint8_t big[60000];
    cairn_event ev = {
        .type = CAIRN_EVENT_USER, .name = "x", .payload = big, .payload_len = sizeof big};
    for (int i = 0; i < 400; i++)
        cairn_serfrpc_server_event(srv, &ev);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &g), 0);
    RUN_UNTIL(e, g.n == 1);
    assert_int_equal(g.nmembers[0], 2);
    cairn_serfrpc_server_stats st;
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_true(st.dropped_events > 0);
    assert_int_equal(st.clients, 2);
    /* A third client fits; a fourth is refused at once. */
    assert_int_equal(cairn_stream_dial(e->loop, &a, 2 * CAIRN_SEC, raw_conn, &silent, &silent.s),
                     0);
    RUN_UNTIL(e, silent.connected);
    uv_env_run_for(e, 20);
    assert_int_equal(cairn_stream_dial(e->loop, &a, 2 * CAIRN_SEC, raw_conn, &extra, &extra.s), 0);
    RUN_UNTIL(e, extra.done);
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_int_equal(st.refused, 1);
    /* The silent one is closed at the 200 ms handshake deadline. */
    RUN_UNTIL(e, silent.done);
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_true(st.timeouts >= 1);
    cairn_stream_close(silent.s);
    cairn_stream_close(extra.s);
    close(fd);
    cairn_serfrpc_delete(c);
    cairn_serfrpc_server_delete(srv);
}

/* sock_dial: a plain blocking connect to the server, then non-blocking. */
static int sock_dial(const cairn_addr *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a->port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* sock_closed: reads what is there; true once the server closed fd. */
static bool sock_closed(int fd)
{
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The idle deadline and the request cap, driven past: a handshaken client
 * that says nothing is closed at idle_timeout (counted in timeouts), one
 * with a stream open is not; a request whose header declares a string over
 * 256 KiB is closed at once, without a reply and before any deadline. */
static void test_idle_and_request_cap(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    const int idle_ms = 300 * cairn_test_slowdown();
    cairn_serfrpc_server_config cfg = {.ops = &fake_ops, .idle_timeout = idle_ms * CAIRN_MSEC};
    cairn_serfrpc_server *srv = server_cfg(e, cfg, &a);
    static const char hs[] = "\x82\xa7"
                             "Command\xa9handshake\xa3Seq\x01\x81\xa7Version\x01";
    static const char sub[] = "\x82\xa7"
                              "Command\xa6stream\xa3Seq\x02\x81\xa4Type\xa1*";
    /* Command: a str32 of 300,000 bytes (0x000493e0), 1 KiB of it sent. */
    static const char big_head[] = "\x82\xa3Seq\x03\xa7"
                                   "Command\xdb\x00\x04\x93\xe0";
    static char big_rest[1024];
    memset(big_rest, 'x', sizeof big_rest);
    int quiet = sock_dial(&a), streaming = sock_dial(&a), big = sock_dial(&a);
    assert_int_equal(write(quiet, hs, sizeof hs - 1), (ssize_t)(sizeof hs - 1));
    assert_int_equal(write(streaming, hs, sizeof hs - 1), (ssize_t)(sizeof hs - 1));
    assert_int_equal(write(streaming, sub, sizeof sub - 1), (ssize_t)(sizeof sub - 1));
    assert_int_equal(write(big, hs, sizeof hs - 1), (ssize_t)(sizeof hs - 1));
    uv_env_run_for(e, 20);
    assert_int_equal(write(big, big_head, sizeof big_head - 1), (ssize_t)(sizeof big_head - 1));
    assert_int_equal(write(big, big_rest, sizeof big_rest), (ssize_t)sizeof big_rest);
    cairn_serfrpc_server_stats st;
    RUN_UNTIL(e, sock_closed(big));
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(st.clients, 2);
    RUN_UNTIL(e, sock_closed(quiet));
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_int_equal(st.timeouts, 1);
    /* Three more idle periods: the streaming one stays. */
    uv_env_run_for(e, 3 * idle_ms);
    assert_false(sock_closed(streaming));
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_int_equal(st.clients, 1);
    close(quiet);
    close(streaming);
    close(big);
    cairn_serfrpc_server_delete(srv);
}

/* Streams per connection: 64; the 65th is refused with "Too many
 * streams" and the connection stays usable. */
static void test_stream_cap(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    cairn_serfrpc_server *srv = server(e, NULL, &a);
    int fd = sock_dial(&a);
    static const char hs[] = "\x82\xa7"
                             "Command\xa9handshake\xa3Seq\x01\x81\xa7Version\x01";
    assert_int_equal(write(fd, hs, sizeof hs - 1), (ssize_t)(sizeof hs - 1));
    /* 65 stream requests, Seq 10..74 (positive fixints). */
    for (int i = 0; i < 65; i++) {
        char sub[] = "\x82\xa7"
                     "Command\xa6stream\xa3Seq\x00\x81\xa4Type\xa1*";
        sub[20] = (char)(10 + i);
        assert_int_equal(sub[17], 'S');
        assert_int_equal(write(fd, sub, sizeof sub - 1), (ssize_t)(sizeof sub - 1));
    }
    static char got[16384];
    size_t have = 0;
    bool found = false;
    for (int i = 0; i < 500 && !found; i++) {
        uv_env_run_for(e, 10);
        ssize_t n = recv(fd, got + have, sizeof got - 1 - have, 0);
        if (n > 0)
            have += (size_t)n;
        got[have] = '\0';
        found = memmem(got, have, "Too many streams", 16) != NULL;
    }
    assert_true(found);
    /* The refusal is the 65th's (Seq 74 = 0x4a) and the only one. */
    const char *at = memmem(got, have, "Too many streams", 16);
    assert_int_equal((uint8_t)at[16 + 4], 74);
    assert_null(memmem(at + 16, have - (size_t)(at + 16 - got), "Too many", 8));
    cairn_serfrpc_server_stats st;
    cairn_serfrpc_server_get_stats(srv, &st);
    assert_int_equal(st.clients, 1);
    close(fd);
    cairn_serfrpc_server_delete(srv);
}

/* A client that pipelines requests and never reads a reply: the replies
 * queue up to 64 MiB (CONN_HARD_OUT_MAX), then the connection is closed;
 * the server keeps serving others. */
static void test_reply_cap(void **state)
{
    struct uv_env *e = *state;
    cairn_addr a;
    cairn_serfrpc_server_config cfg = {.ops = &fake_ops, .idle_timeout = 30 * CAIRN_SEC};
    cairn_serfrpc_server *srv = server_cfg(e, cfg, &a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a.port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static const char hs[] = "\x82\xa7"
                             "Command\xa9handshake\xa3Seq\x01\x81\xa7Version\x01";
    assert_int_equal(write(fd, hs, sizeof hs - 1), (ssize_t)(sizeof hs - 1));
    static const char req[] = "\x82\xa7"
                              "Command\xa7members\xa3Seq\x03";
    enum { BATCH = 2000 };
    static char batch[BATCH * (sizeof req - 1)];
    for (int i = 0; i < BATCH; i++)
        memcpy(batch + i * (sizeof req - 1), req, sizeof req - 1);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    cairn_serfrpc_server_stats st;
    size_t off = 0;
    bool closed = false;
    uint64_t t0 = uv_now(&e->uv);
    /* ~232,000 requests: ~1 s natively, ~100 s under valgrind. */
    while (!closed && uv_now(&e->uv) - t0 < 60000 * (uint64_t)cairn_test_slowdown()) {
        ssize_t n = send(fd, batch + off, sizeof batch - off, MSG_NOSIGNAL);
        if (n > 0)
            off = (off + (size_t)n) % sizeof batch;
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            closed = true;
        uv_env_run_for(e, 1);
        cairn_serfrpc_server_get_stats(srv, &st);
        closed = closed || st.clients == 0;
    }
    cairn_serfrpc_server_get_stats(srv, &st);
    print_message("closed after %llu requests never read\n", (unsigned long long)st.requests);
    assert_true(closed);
    assert_int_equal(st.clients, 0);
    /* Others are still served. */
    struct got g;
    memset(&g, 0, sizeof g);
    cairn_serfrpc *c = client(e, &a, NULL, &g);
    RUN_UNTIL(e, g.state == CAIRN_SERFRPC_READY);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &g), 0);
    RUN_UNTIL(e, g.n == 1);
    close(fd);
    cairn_serfrpc_delete(c);
    cairn_serfrpc_server_delete(srv);
}

/* The same server on the simulator (it sees the world only through the
 * loop): a client on another simulated host, virtual time. */
static void test_on_simulator(void **state)
{
    (void)state;
    cairn_sim *sim;
    cairn_loop *ls, *lc;
    cairn_addr ips, ipc;
    assert_int_equal(cairn_sim_new(7, &sim), 0);
    cairn_addr_parse_ip("10.0.0.1", 0, &ips);
    cairn_addr_parse_ip("10.0.0.2", 0, &ipc);
    assert_int_equal(cairn_sim_node_loop(sim, &ips, &ls), 0);
    assert_int_equal(cairn_sim_node_loop(sim, &ipc, &lc), 0);
    cairn_serfrpc_server_config cfg = {.ops = &fake_ops};
    cairn_addr_parse_ip("10.0.0.1", 7373, &cfg.addr);
    cairn_serfrpc_server *srv;
    assert_int_equal(cairn_serfrpc_server_new(ls, &cfg, &srv), 0);
    struct got g;
    memset(&g, 0, sizeof g);
    cairn_serfrpc_config cc;
    cairn_serfrpc_config_default(&cc);
    cc.addr = cfg.addr;
    cc.reconnect = false;
    cc.seed = 1;
    cc.state_cb = on_state;
    cc.userdata = &g;
    cairn_serfrpc *c;
    assert_int_equal(cairn_serfrpc_new(lc, &cc, &c), 0);
    assert_int_equal(cairn_serfrpc_start(c), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(g.state, CAIRN_SERFRPC_READY);
    assert_int_equal(cairn_serfrpc_members(c, on_reply, &g), 0);
    cairn_sim_run_for(sim, CAIRN_SEC);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.names[0], "alpha beta ");
    cairn_serfrpc_delete(c);
    cairn_serfrpc_server_delete(srv);
    cairn_loop_delete(lc);
    cairn_loop_delete(ls);
    cairn_sim_delete(sim);
}

int main(void)
{
    /* Streams on libuv write with write(2): a client that hung up would
     * raise SIGPIPE (see cairn/loop_uv.h). */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commands, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_auth, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_raw_quirks, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_bounds, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_idle_and_request_cap, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_stream_cap, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_reply_cap, uv_env_setup, uv_env_teardown),
        cmocka_unit_test_setup_teardown(test_respond, uv_env_setup, uv_env_teardown),
        cmocka_unit_test(test_on_simulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
