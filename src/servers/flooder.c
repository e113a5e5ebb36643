/* LAN to WAN join flooding (Go: agent/router.FloodJoins, newest; spec
 * consul-servers §4.3 and §8 items 6 and 7).
 *
 * One pass: index the destination (WAN) cluster's alive Consul servers of
 * the local datacenter by their LAN-style name (the ".<dc>" suffix
 * stripped), then join every alive Consul server of the source (LAN)
 * cluster that is missing from the index, as "<node>.<dc>/<host:port>".
 * The index is a sorted array of copied names searched with bsearch; Go uses
 * a map. Only alive destination members are indexed (PR #23709): a server
 * that left or failed the WAN must be flooded back in. Addresses are built
 * with cairn_join_host_port, which brackets IPv6 hosts (#2878, #22225).
 *
 * The driver (Go: Server.Flood, a 60 s ticker plus a notification on each
 * LAN server join) belongs to the agent; this file is one pass.
 */
#include "cairn/flooder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"

#define flood_log(c, level, ...) cairn_logf((c)->logger, (level), "flooder", __VA_ARGS__)

int cairn_flood_wan_addr(const cairn_server *s, char *out, size_t outlen, cairn_diag *diag,
                         void *userdata)
{
    (void)userdata;
    if (s == NULL || out == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "flood address: missing argument");
    char addr[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&s->addr, true, addr, sizeof(addr));
    if (s->wan_join_port == 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "no wan join  port for server: %s", addr);
    if (s->wan_join_port < 0 || s->wan_join_port > 65535)
        return cairn_diag_set(diag, CAIRN_EINVAL, "wan join port %lld out of range for server: %s",
                              (long long)s->wan_join_port, addr);
    if (s->addr.family == 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "missing address for server: %s", s->name);
    char host[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&s->addr, false, host, sizeof(host));
    int n = cairn_join_host_port(host, (unsigned)s->wan_join_port, out, outlen);
    if (n < 0 || (size_t)n >= outlen)
        return cairn_diag_set(diag, CAIRN_ENOSPC, "flood address: buffer too small");
    return 0;
}

struct flood {
    const cairn_flood_config *cfg;
    /* Index of destination names (suffix stripped), owned, sorted later. */
    char **names;
    size_t n, cap;
    size_t joins;
    int rc;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* parse: a Consul server record for an alive member, else NULL (and rc set
 * on allocation failure). */
static cairn_server *parse_alive(struct flood *f, const cairn_member *m)
{
    if (m->status != CAIRN_MEMBER_ALIVE)
        return NULL;
    cairn_server *s;
    int rc = cairn_server_from_member(m, &s, NULL);
    if (rc == CAIRN_ENOMEM)
        f->rc = rc;
    return rc == 0 ? s : NULL;
}

static bool index_member(const cairn_member *m, void *userdata)
{
    struct flood *f = userdata;
    cairn_server *s = parse_alive(f, m);
    if (s == NULL)
        return f->rc == 0;
    bool keep = strcmp(s->datacenter, f->cfg->local_dc) == 0;
    cairn_server_unref(s);
    if (!keep)
        return true;
    size_t len = strlen(m->name), dlen = strlen(f->cfg->local_dc);
    if (len > dlen && m->name[len - dlen - 1] == '.' &&
        strcmp(m->name + len - dlen, f->cfg->local_dc) == 0)
        len -= dlen + 1; /* strings.TrimSuffix(name, "."+dc) */
    if (f->n == f->cap) {
        size_t ncap = f->cap ? 2 * f->cap : 16;
        char **p = cairn_reallocarray(f->names, ncap, sizeof(*p));
        if (p == NULL) {
            f->rc = CAIRN_ENOMEM;
            return false;
        }
        f->names = p;
        f->cap = ncap;
    }
    f->names[f->n] = cairn_strndup(m->name, len);
    if (f->names[f->n] == NULL) {
        f->rc = CAIRN_ENOMEM;
        return false;
    }
    f->n++;
    return true;
}

static void join_server(struct flood *f, const cairn_server *s)
{
    const cairn_flood_config *cfg = f->cfg;
    char addr[CAIRN_FLOOD_JOIN_MAX];
    char raw[CAIRN_ADDR_STRLEN];
    cairn_addr_format(&s->addr, true, raw, sizeof(raw));
    cairn_diag diag;
    cairn_diag_clear(&diag);
    cairn_flood_addr_cb fn = cfg->addr_fn ? cfg->addr_fn : cairn_flood_wan_addr;
    int rc = fn(s, addr, sizeof(addr), &diag, cfg->addr_userdata);
    if (rc != 0) {
        flood_log(cfg, CAIRN_LOG_DEBUG,
                  "Failed to flood-join server: server=%s address=%s error=%s", s->name, raw,
                  diag.msg[0] ? diag.msg : cairn_strerror(rc));
        return;
    }
    char join[CAIRN_FLOOD_JOIN_MAX + CAIRN_SERVER_NAME_MAX + CAIRN_SERVER_DC_MAX];
    snprintf(join, sizeof(join), "%s.%s/%s", s->name, s->datacenter, addr);
    size_t n = 0;
    f->joins++;
    rc = cfg->join(join, &n, cfg->join_userdata);
    if (rc != 0)
        flood_log(cfg, CAIRN_LOG_DEBUG, "Failed to flood-join \"%s\" at %s: %s", s->name, addr,
                  cairn_strerror(rc));
    else if (n > 0)
        flood_log(cfg, CAIRN_LOG_DEBUG, "Successfully performed flood-join for \"%s\" at %s",
                  s->name, addr);
}

static bool flood_member(const cairn_member *m, void *userdata)
{
    struct flood *f = userdata;
    cairn_server *s = parse_alive(f, m);
    if (s == NULL)
        return f->rc == 0;
    const char *key = m->name;
    if (f->n == 0 || bsearch(&key, f->names, f->n, sizeof(*f->names), name_cmp) == NULL)
        join_server(f, s);
    cairn_server_unref(s);
    return true;
}

int cairn_flood_joins(const cairn_flood_config *cfg, size_t *ret_joins)
{
    if (cfg == NULL || cfg->local_dc == NULL || cfg->src == NULL || cfg->src->ops == NULL ||
        cfg->dst == NULL || cfg->dst->ops == NULL || cfg->join == NULL)
        return CAIRN_EINVAL;
    struct flood f = {.cfg = cfg};
    int rc = cfg->dst->ops->for_each_member(cfg->dst->impl, index_member, &f);
    if (rc == 0)
        rc = f.rc;
    if (rc == 0) {
        if (f.n > 1)
            qsort(f.names, f.n, sizeof(*f.names), name_cmp);
        rc = cfg->src->ops->for_each_member(cfg->src->impl, flood_member, &f);
        if (rc == 0)
            rc = f.rc;
    }
    for (size_t i = 0; i < f.n; i++)
        cairn_free(f.names[i]);
    cairn_free(f.names);
    if (rc == 0 && ret_joins != NULL)
        *ret_joins = f.joins;
    return rc;
}
