/* `cairn wire decode`: show what a captured serf/memberlist packet or stream
 * contains, layer by layer, as JSON.
 *
 *   cairn wire decode [--key BASE64] [--stream] HEX|-
 *
 * The input is hex on the command line, or `-` for stdin (hex text, or raw
 * bytes when stdin is not all hex). Packets (UDP) are peeled in receive
 * order: encryption (when --key is given; no type byte, no AAD), CRC (0c),
 * compress (09, LZW), compound (07, each part peeled again), then the
 * message and, for user messages, the serf payload inside. With --stream the
 * input is one TCP stream direction: an encrypted frame (0a + length, AAD),
 * a compress wrapper, then one stream message (push-pull with its nodes and
 * serf state, TCP user message, ping/ack/err).
 *
 * The framing work is done by wire_frame.h and keyring.h, the message checks
 * by the typed decoders of wire_msg.h (so the CLI accepts exactly what the
 * library accepts); the JSON of a message body is produced by walking its
 * msgpack generically, with a few keys rendered for people: raw IPs as
 * addresses, Vsn as numbers, Meta as tags, ack payloads as coordinates.
 * Undecodable input still prints the JSON up to the failing layer, with an
 * "error" member there, names the layer and reason on stderr, and exits 1.
 * Bad usage exits 2.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/keyring.h"
#include "base/base64.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "wire/keyring_internal.h"

/* Largest input accepted (a maximal encrypted stream frame plus slack). */
#define WIRE_CLI_MAX_INPUT (CAIRN_STREAM_MAX_BUFFER)
/* Nesting of msgpack rendered as JSON (deeper values are elided). */
#define WIRE_CLI_MAX_DEPTH 16

typedef struct wire_cli {
    /* Keyring from --key, or NULL. */
    cairn_keyring *ring;
    /* Set on the first undecodable layer; `why` describes it. */
    bool failed;
    char why[CAIRN_DIAG_MAX + 64];
} wire_cli;

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn wire decode [--key BASE64] [--stream] HEX|-\n\n"
                 "Decode a memberlist/serf packet (or, with --stream, one TCP stream\n"
                 "direction) and print every layer as JSON. `-` reads stdin (hex or raw).\n"
                 "  --key BASE64  AES key (16/24/32 bytes, as `serf keygen` prints)\n"
                 "  --stream      input is a TCP stream, not a UDP packet\n");
}

/* ------------------------------------------------------------ input */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* parse_hex decodes s (whitespace and ':' ignored, optional 0x). Returns 0
 * or -1 when s is not hex. */
static int parse_hex(const char *s, size_t n, cairn_buf *out)
{
    int hi = -1;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (isspace(c) || c == ':')
            continue;
        if (c == '0' && k + 1 < n && (s[k + 1] == 'x' || s[k + 1] == 'X') && hi < 0) {
            k++;
            continue;
        }
        int v = hexval(c);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        uint8_t b = (uint8_t)(hi << 4 | v);
        if (cairn_buf_append(out, &b, 1))
            return -1;
        hi = -1;
    }
    return hi < 0 ? 0 : -1;
}

static int read_input(const char *arg, cairn_buf *out)
{
    if (strcmp(arg, "-") != 0)
        return parse_hex(arg, strlen(arg), out);
    cairn_buf raw;
    cairn_buf_init(&raw, WIRE_CLI_MAX_INPUT * 2 + 64);
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (cairn_buf_append(&raw, chunk, n)) {
            cairn_buf_destroy(&raw);
            return -1;
        }
    int e = parse_hex((const char *)raw.data, raw.len, out);
    if (e) { /* not hex text: take the bytes as they are */
        cairn_buf_reset(out);
        e = cairn_buf_append(out, raw.data, raw.len) ? -1 : 0;
    }
    cairn_buf_destroy(&raw);
    return e;
}

static int make_keyring(const char *b64, cairn_keyring **ret)
{
    uint8_t key[48];
    int len = cairn__base64_decode(b64, key, sizeof key);
    if (len <= 0 || !cairn_keyring_valid_key_len((size_t)len))
        return -1;
    return cairn_keyring_new(key, (size_t)len, ret) ? -1 : 0;
}

/* ------------------------------------------------------------ values */

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 2 + 1);
    if (s == NULL)
        return json_null();
    for (size_t k = 0; k < n; k++)
        snprintf(s + 2 * k, 3, "%02x", p[k]);
    s[2 * n] = 0;
    json_t *j = json_string(s);
    free(s);
    return j;
}

static bool printable(cairn_span s)
{
    for (size_t k = 0; k < s.len; k++)
        if (s.p[k] < 0x20 || s.p[k] == 0x7f)
            return false;
    return true;
}

/* raw_json renders a raw/str/bin value, by its key when that says more. */
static json_t *raw_json(const char *key, cairn_span s, cairn_wire_arena *a)
{
    if (s.p == NULL)
        return json_null();
    bool ipkey = key && (!strcmp(key, "Addr") || !strcmp(key, "SourceAddr") ||
                         !strcmp(key, "Target") || !strcmp(key, "IP"));
    if (ipkey && (s.len == 4 || s.len == 16)) {
        char txt[INET6_ADDRSTRLEN];
        inet_ntop(s.len == 4 ? AF_INET : AF_INET6, s.p, txt, sizeof(txt));
        return json_string(txt);
    }
    if (key && !strcmp(key, "Vsn")) {
        json_t *arr = json_array();
        for (size_t k = 0; k < s.len; k++)
            json_array_append_new(arr, json_integer(s.p[k]));
        return arr;
    }
    if (key && !strcmp(key, "Meta")) {
        json_t *o = json_object();
        json_object_set_new(o, "hex", hex_json(s.p, s.len));
        cairn_wire_tag *t;
        size_t n;
        if (cairn__wire_tags_decode(s, a, NULL, &t, &n) == 0) {
            json_t *tags = json_object();
            for (size_t k = 0; k < n; k++) {
                char *kk = strndup((const char *)t[k].key.p, t[k].key.len);
                json_object_set_new(tags, kk ? kk : "?",
                                    json_stringn((const char *)t[k].value.p, t[k].value.len));
                free(kk);
            }
            json_object_set_new(o, "tags", tags);
        }
        return o;
    }
    if (key && strcmp(key, "Key") != 0 && printable(s)) {
        json_t *j = json_stringn((const char *)s.p, s.len);
        if (j) /* NULL when not valid UTF-8 */
            return j;
    }
    json_t *o = json_object();
    json_object_set_new(o, "hex", hex_json(s.p, s.len));
    return o;
}

/* mp_json renders the next msgpack value (NULL on a reader error). */
static json_t *mp_json(cairn_mp_reader *r, const char *key, cairn_wire_arena *a, int depth)
{
    if (depth > WIRE_CLI_MAX_DEPTH) {
        cairn__mp_skip(r);
        return r->err ? NULL : json_string("…");
    }
    switch (cairn__mp_peek(r)) {
    case CAIRN_MP_T_NIL:
        r->pos++;
        return json_null();
    case CAIRN_MP_T_BOOL: {
        bool b;
        return cairn__mp_read_bool(r, &b) ? NULL : json_boolean(b);
    }
    case CAIRN_MP_T_UINT: {
        uint64_t u;
        if (cairn__mp_read_uint(r, UINT64_MAX, &u))
            return NULL;
        return u > INT64_MAX ? json_real((double)u) : json_integer((json_int_t)u);
    }
    case CAIRN_MP_T_INT: {
        int64_t i;
        return cairn__mp_read_int(r, INT64_MIN, INT64_MAX, &i) ? NULL : json_integer(i);
    }
    case CAIRN_MP_T_FLOAT: {
        double d;
        return cairn__mp_read_double(r, &d) ? NULL : json_real(d);
    }
    case CAIRN_MP_T_STR:
    case CAIRN_MP_T_BIN: {
        cairn_span s;
        return cairn__mp_read_bytes(r, NULL, 0, &s) ? NULL : raw_json(key, s, a);
    }
    case CAIRN_MP_T_ARRAY: {
        uint32_t n;
        if (cairn__mp_read_array(r, &n))
            return NULL;
        json_t *arr = json_array();
        for (uint32_t k = 0; k < n; k++) {
            json_t *v = mp_json(r, key, a, depth + 1);
            if (v == NULL) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        return arr;
    }
    case CAIRN_MP_T_MAP: {
        uint32_t n;
        if (cairn__mp_read_map(r, &n))
            return NULL;
        json_t *o = json_object();
        for (uint32_t k = 0; k < n; k++) {
            cairn_span ks;
            if (cairn__mp_read_bytes(r, NULL, 0, &ks)) {
                json_decref(o);
                return NULL;
            }
            char *kk = strndup(ks.p ? (const char *)ks.p : "", ks.len);
            json_t *v = kk ? mp_json(r, kk, a, depth + 1) : NULL;
            if (v == NULL) {
                free(kk);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, kk, v);
            free(kk);
        }
        return o;
    }
    default:
        if (cairn__mp_skip(r))
            return NULL;
        return json_string("(ext)");
    }
}

/* body_json renders one msgpack object at p (after a type byte). */
static json_t *body_json(const uint8_t *p, size_t len, cairn_wire_arena *a, size_t *ret_used)
{
    cairn_mp_reader r;
    cairn__mp_reader_init(&r, p, len);
    json_t *j = mp_json(&r, NULL, a, 0);
    if (ret_used)
        *ret_used = r.pos;
    return j ? j : json_null();
}

/* ------------------------------------------------------------ messages */

static void fail(wire_cli *cli, json_t *layer, const char *where, const char *why)
{
    json_object_set_new(layer, "error", json_string(why));
    if (!cli->failed) {
        cli->failed = true;
        snprintf(cli->why, sizeof(cli->why), "%s: %s", where, why);
    }
}

static json_t *serf_json(wire_cli *cli, const uint8_t *p, size_t len, cairn_wire_arena *a,
                         int depth);

static json_t *coord_json(const cairn_coord *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "adjustment", json_real(c->adjustment));
    json_object_set_new(o, "error", json_real(c->error));
    json_object_set_new(o, "height", json_real(c->height));
    json_t *v = json_array();
    for (unsigned k = 0; k < c->dim; k++)
        json_array_append_new(v, json_real(c->vec[k]));
    json_object_set_new(o, "vec", v);
    return o;
}

static json_t *serf_json(wire_cli *cli, const uint8_t *p, size_t len, cairn_wire_arena *a,
                         int depth)
{
    json_t *o = json_object();
    json_object_set_new(o, "layer", json_string("serf"));
    if (len == 0) {
        fail(cli, o, "serf", "empty payload");
        return o;
    }
    json_object_set_new(o, "type", json_string(cairn__wire_serf_type_name(p[0])));
    json_object_set_new(o, "type_byte", json_integer(p[0]));
    cairn_diag d;
    cairn_diag_clear(&d);
    cairn_wire_serf_msg m;
    if (cairn__wire_serf_msg_decode(p, len, a, &d, &m)) {
        fail(cli, o, "serf", d.msg);
        return o;
    }
    size_t used = 0;
    json_object_set_new(o, "body", body_json(p + 1, len - 1, a, &used));
    if (m.type == CAIRN_WIRE_SERF_QUERY && m.u.query.n_filters) {
        json_t *fs = json_array();
        for (size_t k = 0; k < m.u.query.n_filters; k++) {
            cairn_span f = m.u.query.filters[k];
            json_t *fj = json_object();
            json_object_set_new(fj, "type", json_string(f.len && f.p[0] == 0 ? "node" : "tag"));
            if (f.len)
                json_object_set_new(fj, "value", body_json(f.p + 1, f.len - 1, a, NULL));
            json_array_append_new(fs, fj);
        }
        json_object_set_new(o, "filters", fs);
    }
    /* Payloads that are serf messages themselves. */
    cairn_span inner = {NULL, 0};
    if (m.type == CAIRN_WIRE_SERF_RELAY)
        inner = m.u.relay.inner;
    if (m.type == CAIRN_WIRE_SERF_QUERY && m.u.query.name.len > 6 &&
        memcmp(m.u.query.name.p, "_serf_", 6) == 0 && m.u.query.payload.len &&
        m.u.query.payload.p[0] == CAIRN_WIRE_SERF_KEY_REQUEST)
        inner = m.u.query.payload;
    if (m.type == CAIRN_WIRE_SERF_QUERY_RESPONSE && m.u.query_response.payload.len) {
        cairn_wire_serf_msg probe;
        uint8_t t = m.u.query_response.payload.p[0];
        if ((t == CAIRN_WIRE_SERF_KEY_RESPONSE || t == CAIRN_WIRE_SERF_CONFLICT_RESPONSE) &&
            cairn__wire_serf_msg_decode(m.u.query_response.payload.p,
                                        m.u.query_response.payload.len, a, NULL, &probe) == 0)
            inner = m.u.query_response.payload;
    }
    if (inner.len && depth < 4)
        json_object_set_new(o, "inner", serf_json(cli, inner.p, inner.len, a, depth + 1));
    if (m.type == CAIRN_WIRE_SERF_RELAY)
        json_object_set_new(o, "header_bytes", json_integer((json_int_t)used + 1));
    return o;
}

/* message_json: one memberlist message (not a framing layer). */
static json_t *message_json(wire_cli *cli, const uint8_t *p, size_t len, cairn_wire_arena *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "layer", json_string("message"));
    json_object_set_new(o, "type", json_string(cairn__wire_type_name(p[0])));
    json_object_set_new(o, "type_byte", json_integer(p[0]));
    json_object_set_new(o, "bytes", json_integer((json_int_t)len));
    cairn_diag d;
    cairn_diag_clear(&d);
    cairn_wire_msg m;
    if (cairn__wire_msg_decode(p, len, a, &d, &m)) {
        fail(cli, o, "message", d.msg);
        return o;
    }
    if (m.type == CAIRN_WIRE_USER) {
        json_object_set_new(o, "serf", serf_json(cli, m.u.user.p, m.u.user.len, a, 0));
        return o;
    }
    if (m.type == CAIRN_WIRE_PUSHPULL) {
        size_t used;
        json_object_set_new(o, "header", body_json(p + 1, len - 1, a, &used));
        size_t pos = 1 + used;
        json_t *nodes = json_array();
        for (size_t k = 0; k < m.u.pushpull.n_nodes; k++) {
            json_array_append_new(nodes, body_json(p + pos, len - pos, a, &used));
            pos += used;
        }
        json_object_set_new(o, "nodes", nodes);
        json_object_set_new(
            o, "user_state",
            serf_json(cli, m.u.pushpull.user_state.p, m.u.pushpull.user_state.len, a, 0));
        return o;
    }
    json_object_set_new(o, "body", body_json(p + 1, len - 1, a, NULL));
    if (m.type == CAIRN_WIRE_ACK && m.u.ack.payload.len) {
        cairn_coord c;
        cairn_diag_clear(&d);
        if (cairn__wire_coord_decode(m.u.ack.payload.p, m.u.ack.payload.len, &d, &c) == 0)
            json_object_set_new(o, "coordinate", coord_json(&c));
        else
            json_object_set_new(o, "payload_note", json_string(d.msg));
    }
    return o;
}

/* ------------------------------------------------------------ packets */

/* peel appends the layers of p to `layers` (a JSON array). */
static void peel(wire_cli *cli, const uint8_t *p, size_t len, int depth, json_t *layers,
                 cairn_wire_arena *a)
{
    if (len == 0) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("message"));
        fail(cli, l, "message", "empty");
        json_array_append_new(layers, l);
        return;
    }
    if (depth > CAIRN_PACKET_MAX_DEPTH) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("message"));
        fail(cli, l, "message", "layers nested too deeply");
        json_array_append_new(layers, l);
        return;
    }
    if (depth == 0 && p[0] == CAIRN_FRAME_CRC && len >= 5) {
        json_t *l = json_object();
        uint32_t want = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        uint32_t got = cairn__crc32(p + 5, len - 5);
        char txt[16];
        snprintf(txt, sizeof(txt), "%08x", want);
        json_object_set_new(l, "layer", json_string("crc"));
        json_object_set_new(l, "crc", json_string(txt));
        json_object_set_new(l, "ok", json_boolean(want == got));
        json_array_append_new(layers, l);
        if (want != got) {
            snprintf(txt, sizeof(txt), "%08x", got);
            char why[96];
            snprintf(why, sizeof(why), "mismatch: header says %08x, body has %s", want, txt);
            fail(cli, l, "crc", why);
            return;
        }
        peel(cli, p + 5, len - 5, depth + 1, layers, a);
        return;
    }
    if (p[0] == CAIRN_FRAME_COMPRESS) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("compress"));
        json_object_set_new(l, "compressed_bytes", json_integer((json_int_t)len));
        json_array_append_new(layers, l);
        cairn_buf out;
        cairn_buf_init(&out, CAIRN_LZW_MAX_DECOMPRESSED);
        cairn_diag d;
        cairn_diag_clear(&d);
        if (cairn__compress_unwrap(p + 1, len - 1, 0, &out, &d)) {
            fail(cli, l, "compress", d.msg);
        } else {
            json_object_set_new(l, "bytes", json_integer((json_int_t)out.len));
            /* The spans of what follows point into `out`: keep it in the
             * arena's lifetime by copying. */
            uint8_t *copy = cairn__wire_arena_alloc(a, out.len);
            if (copy == NULL) {
                fail(cli, l, "compress", "out of memory");
            } else {
                memcpy(copy, out.data, out.len);
                peel(cli, copy, out.len, depth + 1, layers, a);
            }
        }
        cairn_buf_destroy(&out);
        return;
    }
    if (p[0] == CAIRN_FRAME_COMPOUND) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("compound"));
        json_array_append_new(layers, l);
        if (len < 2) {
            fail(cli, l, "compound", "no part count");
            return;
        }
        size_t n = p[1], off = 2 + 2 * n;
        json_object_set_new(l, "count", json_integer((json_int_t)n));
        if (off > len) {
            fail(cli, l, "compound", "part lengths run past the packet");
            return;
        }
        json_t *parts = json_array();
        json_object_set_new(l, "parts", parts);
        for (size_t k = 0; k < n; k++) {
            size_t plen = (size_t)p[2 + 2 * k] << 8 | p[3 + 2 * k];
            json_t *sub = json_array();
            json_array_append_new(parts, sub);
            if (plen > len - off) {
                fail(cli, l, "compound", "a part runs past the packet (truncated)");
                return;
            }
            peel(cli, p + off, plen, depth + 1, sub, a);
            off += plen;
        }
        return;
    }
    json_array_append_new(layers, message_json(cli, p, len, a));
}

static void decode_packet(wire_cli *cli, const uint8_t *p, size_t len, json_t *layers,
                          cairn_wire_arena *a)
{
    if (cli->ring) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("encryption"));
        json_object_set_new(l, "version", json_integer(len ? p[0] : -1));
        json_array_append_new(layers, l);
        cairn_buf pt;
        cairn_buf_init(&pt, CAIRN_PACKET_MAX_RECV + 64);
        cairn_diag d;
        cairn_diag_clear(&d);
        if (cairn__keyring_decrypt(cli->ring, NULL, 0, p, len, &pt, &d)) {
            fail(cli, l, "encryption", d.msg[0] ? d.msg : "cannot decrypt");
        } else {
            json_object_set_new(l, "plaintext_bytes", json_integer((json_int_t)pt.len));
            uint8_t *copy = cairn__wire_arena_alloc(a, pt.len);
            if (copy) {
                memcpy(copy, pt.data, pt.len);
                peel(cli, copy, pt.len, 0, layers, a);
            } else {
                fail(cli, l, "encryption", "out of memory");
            }
        }
        cairn_buf_destroy(&pt);
        return;
    }
    peel(cli, p, len, 0, layers, a);
}

/* ------------------------------------------------------------ streams */

/* stream_message: one stream message (type byte + header + raw tail). */
static void stream_message(wire_cli *cli, const uint8_t *p, size_t len, json_t *layers,
                           cairn_wire_arena *a)
{
    if (len == 0) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("message"));
        fail(cli, l, "message", "empty stream");
        json_array_append_new(layers, l);
        return;
    }
    size_t used = len;
    if (p[0] == CAIRN_WIRE_USER) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("message"));
        json_object_set_new(l, "type", json_string("user"));
        json_array_append_new(layers, l);
        cairn_wire_user_msg_header h;
        size_t hl;
        cairn_diag d;
        cairn_diag_clear(&d);
        int e = cairn__wire_user_msg_header_decode(p, len, &d, &h, &hl);
        if (e) {
            fail(cli, l, "message", e == CAIRN_EAGAIN ? "user: header is truncated" : d.msg);
            return;
        }
        json_object_set_new(l, "user_msg_len", json_integer(h.user_msg_len));
        if (h.user_msg_len > len - hl) {
            fail(cli, l, "message", "user: UserMsgLen runs past the stream");
            return;
        }
        json_object_set_new(l, "serf", serf_json(cli, p + hl, h.user_msg_len, a, 0));
        used = hl + h.user_msg_len;
    } else if (p[0] == CAIRN_WIRE_PUSHPULL) {
        cairn_wire_pushpull pp;
        cairn_diag d;
        cairn_diag_clear(&d);
        if (cairn__wire_pushpull_decode(p, len, a, &d, &pp) == 0)
            used = (size_t)(pp.user_state.p + pp.user_state.len - p);
        json_array_append_new(layers, message_json(cli, p, used, a));
    } else {
        size_t olen;
        if (len > 1 && cairn__mp_object_len(p + 1, len - 1, &olen) == 0)
            used = 1 + olen;
        json_array_append_new(layers, message_json(cli, p, used, a));
    }
    if (used < len) {
        json_t *last = json_array_get(layers, json_array_size(layers) - 1);
        json_object_set_new(last, "trailing_bytes", json_integer((json_int_t)(len - used)));
    }
}

static void decode_stream(wire_cli *cli, const uint8_t *p, size_t len, json_t *layers,
                          cairn_wire_arena *a)
{
    cairn_buf tmp;
    cairn_buf_init(&tmp, CAIRN_LZW_MAX_DECOMPRESSED);
    cairn_diag d;
    cairn_diag_clear(&d);
    if (len >= 1 && p[0] == CAIRN_FRAME_ENCRYPT) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("encryption"));
        json_array_append_new(layers, l);
        size_t n =
            len >= 5 ? (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4] : 0;
        json_object_set_new(l, "frame_bytes", json_integer((json_int_t)n));
        if (len < 5 || n > len - 5) {
            fail(cli, l, "encryption", "frame length runs past the stream");
            goto out;
        }
        if (cli->ring == NULL) {
            fail(cli, l, "encryption", "stream is encrypted; give --key");
            goto out;
        }
        if (cairn__keyring_decrypt(cli->ring, p, 5, p + 5, n, &tmp, &d)) {
            fail(cli, l, "encryption", d.msg[0] ? d.msg : "cannot decrypt");
            goto out;
        }
        if (len - 5 - n)
            json_object_set_new(l, "trailing_bytes", json_integer((json_int_t)(len - 5 - n)));
        uint8_t *copy = cairn__wire_arena_alloc(a, tmp.len);
        if (copy == NULL) {
            fail(cli, l, "encryption", "out of memory");
            goto out;
        }
        memcpy(copy, tmp.data, tmp.len);
        p = copy;
        len = tmp.len;
        cairn_buf_reset(&tmp);
    }
    if (len >= 1 && p[0] == CAIRN_FRAME_COMPRESS) {
        json_t *l = json_object();
        json_object_set_new(l, "layer", json_string("compress"));
        json_array_append_new(layers, l);
        size_t olen;
        if (cairn__mp_object_len(p + 1, len - 1, &olen)) {
            fail(cli, l, "compress", "wrapper is not a complete msgpack map");
            goto out;
        }
        json_object_set_new(l, "compressed_bytes", json_integer((json_int_t)(1 + olen)));
        cairn_diag_clear(&d);
        if (cairn__compress_unwrap(p + 1, olen, 0, &tmp, &d)) {
            fail(cli, l, "compress", d.msg);
            goto out;
        }
        json_object_set_new(l, "bytes", json_integer((json_int_t)tmp.len));
        uint8_t *copy = cairn__wire_arena_alloc(a, tmp.len);
        if (copy == NULL) {
            fail(cli, l, "compress", "out of memory");
            goto out;
        }
        memcpy(copy, tmp.data, tmp.len);
        p = copy;
        len = tmp.len;
    }
    stream_message(cli, p, len, layers, a);
out:
    cairn_buf_destroy(&tmp);
}

/* ------------------------------------------------------------ command */

struct wire_flags {
    const char *key;
    bool stream;
};

static int on_wire_flag(int id, const char *flag, const char *value, void *ud, char *why, size_t wl)
{
    struct wire_flags *wf = ud;
    if (id == 0)
        wf->stream = true;
    else
        wf->key = value;
    return 0;
}

static int wire_decode(int argc, char **argv)
{
    static const cairn_cli_flag defs[] = {{"stream", 0, false, 0}, {"key", 0, true, 1}};
    struct wire_flags wf = {0};
    const char *args[1], *input = NULL;
    size_t nargs = 0;
    char why[256];
    int rc = cairn__cli_flags_parse(argc, argv, defs, 2, on_wire_flag, &wf, args, 1, &nargs, why,
                                    sizeof(why));
    if (rc == -1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "cairn wire decode: %s\n",
                strstr(why, "unexpected argument") == why ? "one input only" : why);
        usage(stderr);
        return 2;
    }
    if (nargs == 0) {
        usage(stderr);
        return 2;
    }
    input = args[0];
    const char *key = wf.key;
    bool stream = wf.stream;
    wire_cli cli = {0};
    if (key && make_keyring(key, &cli.ring)) {
        fprintf(stderr, "cairn wire decode: --key must be base64 of a 16, 24 or 32 byte key\n");
        return 2;
    }
    cairn_buf in;
    cairn_buf_init(&in, WIRE_CLI_MAX_INPUT);
    if (read_input(input, &in)) {
        fprintf(stderr, "cairn wire decode: input is not hex (or too large)\n");
        cairn_buf_destroy(&in);
        cairn_keyring_delete(cli.ring);
        return 2;
    }
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    json_t *root = json_object();
    json_t *layers = json_array();
    json_object_set_new(root, "input_bytes", json_integer((json_int_t)in.len));
    json_object_set_new(root, "kind", json_string(stream ? "stream" : "packet"));
    json_object_set_new(root, "layers", layers);
    if (stream)
        decode_stream(&cli, in.data, in.len, layers, &a);
    else
        decode_packet(&cli, in.data, in.len, layers, &a);
    if (cli.failed)
        json_object_set_new(root, "error", json_string(cli.why));
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    fputc('\n', stdout);
    json_decref(root);
    cairn__wire_arena_destroy(&a);
    cairn_buf_destroy(&in);
    cairn_keyring_delete(cli.ring);
    if (cli.failed) {
        fprintf(stderr, "cairn wire decode: %s\n", cli.why);
        return 1;
    }
    return 0;
}

int cairn_cmd_wire(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "decode"))
        return wire_decode(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
