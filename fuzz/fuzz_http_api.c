/* libFuzzer target: the HTTP API's endpoint logic on arbitrary requests.
 * The input is "METHOD PATH?QUERY" (the first line); the rest of the bytes
 * become the names of a small member list (one per line), so peer-supplied
 * names (not UTF-8, quotes, control bytes) meet the JSON writers. Every
 * answer must be a status in 200..599, and a 200 JSON body must parse. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/coord.h"
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
    cairn_tag tag = {"role", f->n ? f->names[0] : "x"};
    for (size_t i = 0; i < f->n; i++) {
        cairn_member m = {.name = f->names[i], .tags = &tag, .ntags = 1, .status = 1 + (int)i % 4};
        cairn_addr_parse_ip("10.0.0.1", 7946, &m.addr);
        if (!fn(&m, ud))
            break;
    }
    return 0;
}

static int f_coord(void *impl, cairn_coord *ret)
{
    (void)impl;
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
                            .node = f.n ? f.names[0] : "self",
                            .lan = &c,
                            .wan = size % 3 ? &c : NULL,
                            .stats = &st,
                            .index = size};
    cairn_http_resp resp;
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
