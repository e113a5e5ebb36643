/* An in-memory cluster behind the cairn_cluster seam, modelled on Consul's
 * router_test.go mockCluster. Members live in a growable array of records
 * owning their strings; the seam hands out borrowed views of them. See
 * mock_cluster.h for the rules. Test support: libc memory, abort on OOM. */
#include "mock_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/addr.h"
#include "cairn/error.h"
#include "cairn/rng.h"

#define MOCK_MAX_TAGS 16

struct mock_member {
    char *name;
    cairn_addr addr;
    cairn_tag tags[MOCK_MAX_TAGS];
    size_t ntags;
    int status;
    bool has_coord;
    cairn_coord coord;
};

struct mock_cluster {
    char *self;
    struct mock_member *members;
    size_t n, cap;
    unsigned next_ip;
    int coord_err;
    int join_err;
    char **joins;
    size_t njoins;
    /* Open-addressing index name -> member position + 1 (0 = empty),
     * rebuilt on every add/remove so that reads never write. */
    size_t *index;
    size_t index_cap;
};

static void *xcalloc(size_t n, size_t size);

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static void reindex(mock_cluster *mc)
{
    size_t cap = 16;
    while (cap < 2 * mc->n + 2)
        cap *= 2;
    free(mc->index);
    mc->index = xcalloc(cap, sizeof(*mc->index));
    mc->index_cap = cap;
    for (size_t i = 0; i < mc->n; i++) {
        size_t h = name_hash(mc->members[i].name) & (cap - 1);
        while (mc->index[h] != 0)
            h = (h + 1) & (cap - 1);
        mc->index[h] = i + 1;
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

mock_cluster *mock_cluster_new(const char *self)
{
    mock_cluster *mc = xcalloc(1, sizeof(*mc));
    mc->self = xstrdup(self);
    mc->next_ip = 1;
    return mc;
}

static void member_free(struct mock_member *m)
{
    free(m->name);
    for (size_t i = 0; i < m->ntags; i++) {
        free((char *)m->tags[i].key);
        free((char *)m->tags[i].value);
    }
}

void mock_cluster_delete(mock_cluster *mc)
{
    if (mc == NULL)
        return;
    for (size_t i = 0; i < mc->n; i++)
        member_free(&mc->members[i]);
    free(mc->members);
    free(mc->index);
    mock_cluster_clear_joins(mc);
    free(mc->joins);
    free(mc->self);
    free(mc);
}

cairn_coord mock_coord(cairn_time rtt)
{
    cairn_coord c;
    memset(&c, 0, sizeof(c));
    c.dim = 8;
    c.error = 1.5;
    c.adjustment = 0.0;
    c.height = 0.0;
    c.vec[0] = cairn_time_seconds(rtt);
    return c;
}

static struct mock_member *lookup(mock_cluster *mc, const char *name)
{
    size_t i = mock_cluster_find(mc, name);
    if (i == (size_t)-1) {
        fprintf(stderr, "mock_cluster: no member %s\n", name);
        abort();
    }
    return &mc->members[i];
}

static void tag_set(struct mock_member *m, const char *key, const char *value)
{
    for (size_t i = 0; i < m->ntags; i++) {
        if (strcmp(m->tags[i].key, key) != 0)
            continue;
        free((char *)m->tags[i].value);
        if (value == NULL) {
            free((char *)m->tags[i].key);
            m->tags[i] = m->tags[--m->ntags];
        } else {
            m->tags[i].value = xstrdup(value);
        }
        return;
    }
    if (value == NULL)
        return;
    if (m->ntags == MOCK_MAX_TAGS)
        abort();
    m->tags[m->ntags].key = xstrdup(key);
    m->tags[m->ntags].value = xstrdup(value);
    m->ntags++;
}

static size_t add(mock_cluster *mc, const char *dc, const char *full, const char *role,
                  const cairn_coord *coord)
{
    if (mc->n == mc->cap) {
        mc->cap = mc->cap ? 2 * mc->cap : 16;
        mc->members = realloc(mc->members, mc->cap * sizeof(*mc->members));
        if (mc->members == NULL)
            abort();
    }
    struct mock_member *m = &mc->members[mc->n];
    memset(m, 0, sizeof(*m));
    m->name = xstrdup(full);
    uint8_t ip[4] = {127, 0, 0, (uint8_t)mc->next_ip};
    mc->next_ip++;
    cairn_addr_from_ip(ip, 4, 8300, &m->addr);
    m->status = CAIRN_MEMBER_ALIVE;
    tag_set(m, "dc", dc);
    tag_set(m, "role", role);
    tag_set(m, "port", "8300");
    tag_set(m, "build", "0.8.0");
    tag_set(m, "vsn", "3");
    if (coord != NULL) {
        m->has_coord = true;
        m->coord = *coord;
    }
    mc->n++;
    reindex(mc);
    return mc->n - 1;
}

size_t mock_cluster_add_member(mock_cluster *mc, const char *dc, const char *name,
                               const cairn_coord *coord)
{
    char full[256];
    snprintf(full, sizeof(full), "%s.%s", name, dc);
    return add(mc, dc, full, "consul", coord);
}

size_t mock_cluster_add_lan_member(mock_cluster *mc, const char *dc, const char *name,
                                   const char *role, const cairn_coord *coord)
{
    return add(mc, dc, name, role, coord);
}

void mock_cluster_set_status(mock_cluster *mc, const char *name, int status)
{
    lookup(mc, name)->status = status;
}

void mock_cluster_set_tag(mock_cluster *mc, const char *name, const char *key, const char *value)
{
    tag_set(lookup(mc, name), key, value);
}

void mock_cluster_set_addr(mock_cluster *mc, const char *name, const char *ip)
{
    struct mock_member *m = lookup(mc, name);
    if (cairn_addr_parse_ip(ip, m->addr.port, &m->addr) != 0)
        abort();
}

void mock_cluster_set_coord(mock_cluster *mc, const char *name, const cairn_coord *coord)
{
    struct mock_member *m = lookup(mc, name);
    m->has_coord = coord != NULL;
    if (coord != NULL)
        m->coord = *coord;
}

void mock_cluster_remove(mock_cluster *mc, const char *name)
{
    size_t i = mock_cluster_find(mc, name);
    if (i == (size_t)-1)
        abort();
    member_free(&mc->members[i]);
    memmove(&mc->members[i], &mc->members[i + 1], (mc->n - i - 1) * sizeof(*mc->members));
    mc->n--;
    reindex(mc);
}

void mock_cluster_fail_coordinate(mock_cluster *mc, int err)
{
    mc->coord_err = err;
}

static void view(const struct mock_member *m, cairn_member *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->name = m->name;
    ret->addr = m->addr;
    ret->tags = m->tags;
    ret->ntags = m->ntags;
    ret->status = m->status;
    ret->protocol_min = 1;
    ret->protocol_max = 5;
    ret->protocol_cur = 2;
    ret->delegate_min = 2;
    ret->delegate_max = 5;
    ret->delegate_cur = 4;
}

bool mock_cluster_member(mock_cluster *mc, size_t i, cairn_member *ret)
{
    if (i >= mc->n)
        return false;
    view(&mc->members[i], ret);
    return true;
}

size_t mock_cluster_find(mock_cluster *mc, const char *name)
{
    if (mc->index_cap == 0)
        return (size_t)-1;
    size_t h = name_hash(name) & (mc->index_cap - 1);
    while (mc->index[h] != 0) {
        if (strcmp(mc->members[mc->index[h] - 1].name, name) == 0)
            return mc->index[h] - 1;
        h = (h + 1) & (mc->index_cap - 1);
    }
    return (size_t)-1;
}

size_t mock_cluster_count(mock_cluster *mc)
{
    return mc->n;
}

/* ---- the seam ---- */

static size_t seam_num_nodes(void *impl)
{
    return ((mock_cluster *)impl)->n;
}

static int seam_for_each(void *impl, cairn_member_cb fn, void *userdata)
{
    mock_cluster *mc = impl;
    for (size_t i = 0; i < mc->n; i++) {
        cairn_member m;
        view(&mc->members[i], &m);
        if (!fn(&m, userdata))
            break;
    }
    return 0;
}

static int seam_get_coordinate(void *impl, cairn_coord *ret_coord)
{
    mock_cluster *mc = impl;
    if (mc->coord_err != 0)
        return mc->coord_err;
    size_t i = mock_cluster_find(mc, mc->self);
    if (i == (size_t)-1 || !mc->members[i].has_coord)
        return CAIRN_ENOENT;
    *ret_coord = mc->members[i].coord;
    return 0;
}

static bool seam_get_cached(void *impl, const char *name, cairn_coord *ret_coord)
{
    mock_cluster *mc = impl;
    size_t i = mock_cluster_find(mc, name);
    if (i == (size_t)-1 || !mc->members[i].has_coord)
        return false;
    *ret_coord = mc->members[i].coord;
    return true;
}

static const cairn_cluster_ops mock_ops = {
    .num_nodes = seam_num_nodes,
    .for_each_member = seam_for_each,
    .get_coordinate = seam_get_coordinate,
    .get_cached_coordinate = seam_get_cached,
};

cairn_cluster mock_cluster_seam(mock_cluster *mc)
{
    cairn_cluster c = {&mock_ops, mc};
    return c;
}

/* ---- join target ---- */

int mock_cluster_join(mock_cluster *mc, const char *join_str, size_t *ret_joined)
{
    mc->joins = realloc(mc->joins, (mc->njoins + 1) * sizeof(*mc->joins));
    if (mc->joins == NULL)
        abort();
    mc->joins[mc->njoins++] = xstrdup(join_str);
    if (mc->join_err != 0)
        return mc->join_err;
    *ret_joined = 1;
    return 0;
}

void mock_cluster_set_join_err(mock_cluster *mc, int err)
{
    mc->join_err = err;
}

size_t mock_cluster_join_count(mock_cluster *mc)
{
    return mc->njoins;
}

const char *mock_cluster_join_at(mock_cluster *mc, size_t i)
{
    return i < mc->njoins ? mc->joins[i] : NULL;
}

void mock_cluster_clear_joins(mock_cluster *mc)
{
    for (size_t i = 0; i < mc->njoins; i++)
        free(mc->joins[i]);
    mc->njoins = 0;
}

mock_cluster *mock_cluster_consul_test(const char *self)
{
    mock_cluster *mc = mock_cluster_new(self);
    if (mc == NULL)
        return NULL;
    cairn_coord c = mock_coord(10 * CAIRN_MSEC);
    mock_cluster_add_member(mc, "dc0", "node0", &c);
    c = mock_coord(3 * CAIRN_MSEC);
    mock_cluster_add_member(mc, "dc1", "node1", &c);
    c = mock_coord(2 * CAIRN_MSEC);
    mock_cluster_add_member(mc, "dc1", "node2", &c);
    c = mock_coord(5 * CAIRN_MSEC);
    mock_cluster_add_member(mc, "dc1", "node3", &c);
    mock_cluster_add_member(mc, "dc1", "node4", NULL);
    c = mock_coord(8 * CAIRN_MSEC);
    mock_cluster_add_member(mc, "dc2", "node1", &c);
    mock_cluster_add_member(mc, "dcX", "node1", NULL);
    return mc;
}
