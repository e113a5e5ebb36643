/* libFuzzer target: the HTTP API's endpoint logic on arbitrary requests.
 * The input is "METHOD PATH?QUERY" (the first line); the rest of the bytes
 * become the names of a small member list (one per line), so peer-supplied
 * names (not UTF-8, quotes, control bytes) meet the JSON writers (a last
 * name "-" makes an agent without coordinates). Every
 * answer must be a status in 200..599, and a 200 JSON body must parse.
 *
 * Two inputs in three see a router (made once) over a WAN area of fixed
 * Consul servers in dc1, dc2 and dc4 (dc4's server named with a quote, a
 * control byte and a byte that is not UTF-8) and a LAN area (local dc0)
 * without servers, so the route, datacenter and datacenter-map endpoints
 * answer from it; the third sees none. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/loop.h"
#include "cairn/router.h"
#include "agent/http_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAMES_MAX 8

struct fake {
    char *names[NAMES_MAX];
    size_t n;
};

static size_t f_num(void *impl)
{
    return ((struct fake *)impl)->n;
}

static int f_each(void *impl, cairn_member_cb fn, void *ud)
{
    struct fake *f = impl;
    for (size_t i = 0; i < f->n; i++) {
        /* The names are tag values and keys too. */
        cairn_tag tags[] = {{"role", f->names[0]}, {f->names[i], "v"}};
        cairn_member m = {
            .name = f->names[i], .tags = tags, .ntags = 1 + (i > 0), .status = 1 + (int)i % 4};
        cairn_addr_parse_ip("10.0.0.1", 7946, &m.addr);
        if (!fn(&m, ud))
            break;
    }
    return 0;
}

static int f_coord(void *impl, cairn_coord *ret)
{
    /* A last name "-": an agent without coordinates. */
    struct fake *f = impl;
    if (f != NULL && f->n > 0 && strcmp(f->names[f->n - 1], "-") == 0)
        return CAIRN_ENOTSUP;
    cairn_coord_config cfg = cairn_coord_config_default();
    return cairn_coord_init(&cfg, ret);
}

/* A member's coordinate: its first component is the name's first 8 bytes
 * read as a double when that is finite (any finite value a peer could
 * send reaches the float writer). */
static bool f_cached(void *impl, const char *name, cairn_coord *ret)
{
    if (name[0] == 'n' || f_coord(impl, ret) < 0)
        return false;
    double v;
    if (strlen(name) >= sizeof(v)) {
        memcpy(&v, name, sizeof(v));
        if (isfinite(v))
            ret->vec[0] = v;
    }
    return true;
}

static const cairn_cluster_ops ops = {f_num, f_each, f_coord, f_cached};

/* The WAN area of the router: fixed Consul servers. */
static const char *const wan_names[] = {"s1.dc1", "s2.dc1", "s1.dc2", "q\"\x01\xff.dc4"};
static const char *const wan_dcs[] = {"dc1", "dc1", "dc2", "dc4"};
#define WAN_N (sizeof(wan_names) / sizeof(wan_names[0]))

static size_t w_num(void *impl)
{
    (void)impl;
    return WAN_N;
}

static int w_each(void *impl, cairn_member_cb fn, void *ud)
{
    (void)impl;
    for (size_t i = 0; i < WAN_N; i++) {
        cairn_tag tags[] = {{"dc", wan_dcs[i]},
                            {"role", "consul"},
                            {"port", "8300"},
                            {"build", "1.9.0"},
                            {"vsn", "3"}};
        cairn_member m = {.name = wan_names[i], .tags = tags, .ntags = 5, .status = 1};
        uint8_t ip[4] = {10, 1, 0, (uint8_t)(i + 1)};
        cairn_addr_from_ip(ip, 4, 8300, &m.addr);
        if (!fn(&m, ud))
            break;
    }
    return 0;
}

static bool w_cached(void *impl, const char *name, cairn_coord *ret)
{
    if (f_coord(impl, ret) < 0)
        return false;
    ret->vec[0] = (double)strlen(name) / 1000;
    return true;
}

static const cairn_cluster_ops wan_ops = {w_num, w_each, f_coord, w_cached};

static int p_ping(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                  cairn_ping_done_cb done, void *token)
{
    (void)impl;
    (void)dc;
    (void)name;
    (void)addr;
    (void)done;
    (void)token;
    return CAIRN_EUNAVAIL;
}

static void p_cancel(void *impl, void *token)
{
    (void)impl;
    (void)token;
}

static const cairn_pinger_ops pinger_ops = {p_ping, p_cancel};

static cairn_router *router(void)
{
    static cairn_loop *loop;
    static cairn_router *r;
    if (r == NULL) {
        cairn_router_config cfg = {.local_datacenter = "dc0", .server_name = "", .seed = 1};
        cairn_cluster wan = {&wan_ops, NULL};
        cairn_pinger pinger = {&pinger_ops, NULL};
        if (cairn_loop_new_manual(0, &loop) < 0)
            abort();
        cfg.loop = loop;
        /* The LAN area has no server: routes to dc0 find no server. */
        static struct fake none;
        cairn_cluster lan = {&ops, &none};
        if (cairn_router_new(&cfg, &r) < 0 ||
            cairn_router_add_area(r, "wan", &wan, &pinger, NULL) < 0 ||
            cairn_router_add_area(r, "lan", &lan, &pinger, NULL) < 0)
            abort();
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct fake f = {.n = 0};
    char *line = strchr(text, '\n');
    if (line != NULL) {
        *line++ = 0;
        while (line && f.n < NAMES_MAX) {
            char *next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            f.names[f.n++] = line;
            line = next;
        }
    }
    cairn_http_req req = {.method = "GET", .path = text};
    char *sp = strchr(text, ' ');
    if (sp != NULL) {
        *sp = 0;
        req.method = text;
        req.path = sp + 1;
    }
    char *q = strchr(req.path, '?');
    if (q != NULL) {
        *q++ = 0;
        while (q && req.n_params < CAIRN_HTTP_MAX_PARAMS) {
            char *amp = strchr(q, '&');
            if (amp)
                *amp++ = 0;
            char *eq = strchr(q, '=');
            if (eq)
                *eq++ = 0;
            req.params[req.n_params++] = (cairn_http_param){q, eq};
            q = amp;
        }
    }
    cairn_cluster c = {&ops, &f};
    cairn_http_counter extra = {"proxy.x", "x", 1, false};
    cairn_http_stats st = {.has_wan = size % 2, .extra = &extra, .n_extra = 1};
    cairn_http_view view = {.dc = "dc1",
                            .node = f.n ? f.names[f.n - 1] : "self",
                            .lan = &c,
                            .wan = size % 3 ? &c : NULL,
                            .stats = &st,
                            .index = size,
                            .router = size % 3 ? router() : NULL};
    cairn_http_resp resp;
    (void)cairn__http_api_is_fast(&req);
    /* The first 8 bytes as a double through Go's float format (what a
     * peer's coordinate may hold: NaN and infinities too). */
    if (size >= 8) {
        double v;
        char num[40];
        memcpy(&v, data, sizeof(v));
        if (cairn__http_go_float(v, num, sizeof(num)) >= sizeof(num))
            abort();
    }
    cairn__http_api_handle(&req, &view, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    if (resp.status == 200 && resp.body && strcmp(resp.content_type, "application/json") == 0) {
        json_error_t err;
        json_t *j =
            json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
        if (j == NULL) {
            fprintf(stderr, "not JSON (%s): %.*s\n", err.text, (int)resp.body_len, resp.body);
            abort();
        }
        json_decref(j);
    }
    cairn__http_resp_clear(&resp);
    free(text);
    return 0;
}
