/* Test fakes for the routing core (see faux_servers.h). */
#include "faux_servers.h"

#include <stdio.h>
#include <string.h>

static size_t faux_num_nodes(void *impl)
{
    return ((faux_serf *)impl)->num_nodes;
}

static int faux_for_each(void *impl, cairn_member_cb fn, void *userdata)
{
    (void)impl;
    (void)fn;
    (void)userdata;
    return 0;
}

static int faux_get_coord(void *impl, cairn_coord *ret)
{
    (void)impl;
    (void)ret;
    return CAIRN_ENOTSUP;
}

static bool faux_get_cached(void *impl, const char *name, cairn_coord *ret)
{
    (void)impl;
    (void)name;
    (void)ret;
    return false;
}

static const cairn_cluster_ops faux_serf_ops = {faux_num_nodes, faux_for_each, faux_get_coord,
                                                faux_get_cached};

void faux_serf_init(faux_serf *f, size_t num_nodes)
{
    f->num_nodes = num_nodes;
    f->cluster.ops = &faux_serf_ops;
    f->cluster.impl = f;
}

static int faux_ping(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                     cairn_ping_done_cb done, void *token)
{
    (void)dc;
    faux_conn_pool *p = impl;
    if (p->start_err != 0)
        return p->start_err;
    p->pings++;
    snprintf(p->last_name, sizeof(p->last_name), "%s", name);
    if (p->async) {
        if (p->npending == FAUX_PENDING_MAX)
            return CAIRN_ELIMIT;
        p->pending[p->npending].done = done;
        p->pending[p->npending].token = token;
        p->npending++;
        return 0;
    }
    bool ok = cairn_rng_double(&p->rng) > p->fail_pct;
    if (p->fail_addr.family != 0 && cairn_addr_equal(addr, &p->fail_addr))
        ok = false;
    done(ok, ok ? 0 : CAIRN_ECONNREFUSED, token);
    return 0;
}

static void faux_cancel(void *impl, void *token)
{
    faux_conn_pool *p = impl;
    size_t j = 0;
    for (size_t i = 0; i < p->npending; i++) {
        if (p->pending[i].token == token)
            p->cancelled++;
        else
            p->pending[j++] = p->pending[i];
    }
    p->npending = j;
}

static const cairn_pinger_ops faux_pool_ops = {faux_ping, faux_cancel};

void faux_conn_pool_init(faux_conn_pool *p, double fail_pct, uint64_t seed)
{
    memset(p, 0, sizeof(*p));
    p->fail_pct = fail_pct;
    cairn_rng_init(&p->rng, seed);
    p->pinger.ops = &faux_pool_ops;
    p->pinger.impl = p;
}

bool faux_conn_pool_complete(faux_conn_pool *p, bool ok)
{
    if (p->npending == 0)
        return false;
    cairn_ping_done_cb done = p->pending[0].done;
    void *token = p->pending[0].token;
    memmove(&p->pending[0], &p->pending[1], (p->npending - 1) * sizeof(p->pending[0]));
    p->npending--;
    done(ok, ok ? 0 : CAIRN_ETIMEDOUT, token);
    return true;
}

cairn_addr faux_addr(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = name; *c != '\0'; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    uint8_t ip[4] = {127, (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
    cairn_addr a;
    cairn_addr_from_ip(ip, 4, 8300, &a);
    return a;
}

cairn_server *faux_server(const char *name, const char *dc)
{
    cairn_server f = {0};
    f.name = name;
    f.datacenter = dc;
    f.addr = faux_addr(name);
    f.port = 8300;
    f.version = 1;
    f.status = CAIRN_MEMBER_ALIVE;
    cairn_server *s = NULL;
    if (cairn_server_new(&f, &s) < 0)
        return NULL;
    return s;
}
