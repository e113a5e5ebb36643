/* Datacenter lists of the Router: by name, by distance, coordinate maps,
 * and the /v1/coordinate/datacenters JSON (spec consul-servers §2.7-§2.9).
 *
 * get_datacenters copies the names of the snapshot's dc index (already
 * sorted by byte order) into caller storage; it allocates nothing.
 *
 * get_datacenters_by_distance follows Go's GetDatacentersByDistance step by
 * step, with arrays and sorts in place of Go's maps. For each area of the
 * snapshot: read this node's coordinate, walk the members, skip non-servers
 * and (PR #6420) left members, and record (dc, distance) with 0.0 for the
 * local datacenter and ComputeDistance(own, cached) for the others (+Inf
 * when either coordinate is unknown). Sorting those records by (dc,
 * distance) groups each datacenter's distances in ascending order, so the
 * upper median is the group's element [len/2]. Each (dc, median) becomes a
 * candidate; after the last area the candidates sorted by (dc, median) give
 * each datacenter's minimum over areas as the first of its group. Finally
 * the datacenters, now in name order, are sorted stably by RTT (qsort with
 * the original position as the tie-break), as Go does. Go's float
 * sort would put a NaN first and its comparator treats NaN as never less,
 * which makes the result depend on the algorithm; a NaN distance (only
 * possible with invalid coordinates) is counted as +Inf instead, i.e. an
 * invalid coordinate is an unknown one.
 *
 * Members are checked with cairn__server_check_member: every rule of
 * cairn_server_from_member (Go: IsConsulServer) runs, in one pass over the
 * tags, but no record is built, since only the datacenter is needed (the
 * parse used to be three quarters of the call: a record, its strings and
 * arrays allocated and freed per member per call).
 *
 * Member names and tag strings are borrowed only during the cluster's
 * callback, so the datacenter names are copied into one scratch arena and
 * records refer to them by offset. Scratch memory is the call's own (through
 * cairn_malloc); nothing shared is written.
 *
 * get_datacenter_maps mirrors GetDatacenterMaps: per area, per datacenter in
 * first-seen order, the cached coordinates of non-left servers that have
 * one. cairn_dc_maps_to_json then produces what Consul's HTTP endpoint
 * returns: "lan" entries dropped (Coordinate.ListDatacenters), node names
 * without the ".<dc>" suffix, "Segment":"" on each entry, "[]" for nothing.
 */
#include "cairn/router.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/coord.h"
#include "base/utf8.h"
#include "servers/router_internal.h"
#include "servers/server_internal.h"

/* ---- by name ---- */

int cairn_router_get_datacenters(cairn_router *r, cairn_dc_buf *buf, size_t *ret_n,
                                 cairn_diag *diag)
{
    if (r == NULL || buf == NULL || ret_n == NULL || (buf->names_cap > 0 && buf->names == NULL) ||
        (buf->bytes_cap > 0 && buf->bytes == NULL))
        return cairn_diag_set(diag, CAIRN_EINVAL, "datacenters: missing argument");
    const struct router_snap *s = router_read_lock(r);
    int rc = 0;
    if (s->ndcs > buf->names_cap || s->name_bytes > buf->bytes_cap) {
        rc = cairn_diag_set(diag, CAIRN_ENOSPC,
                            "datacenters: need %zu names and %zu bytes, have %zu and %zu", s->ndcs,
                            s->name_bytes, buf->names_cap, buf->bytes_cap);
    } else {
        char *p = buf->bytes;
        for (size_t i = 0; i < s->ndcs; i++) {
            size_t len = strlen(s->dcs[i].name) + 1;
            memcpy(p, s->dcs[i].name, len);
            buf->names[i] = p;
            p += len;
        }
        *ret_n = s->ndcs;
    }
    router_read_unlock(r);
    return rc;
}

/* ---- distance ---- */

/* A (datacenter, value) record; the name is at arena + off. */
struct dc_rec {
    size_t off;
    double v;
};

/* The scratch of one by-distance call. */
struct dist_scratch {
    cairn_router *r;
    const struct router_area *area;
    char *arena;
    size_t arena_len, arena_cap;
    /* This area's (dc, distance) records. */
    struct dc_rec *recs;
    size_t nrecs, recs_cap;
    /* (dc, median) candidates of every area so far. */
    struct dc_rec *cands;
    size_t ncands, cands_cap;
    bool have_self;
    cairn_coord self;
    int rc;
};

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 32;
    while (ncap < need)
        ncap *= 2;
    void *p = cairn_reallocarray(*arr, ncap, elem);
    if (p == NULL)
        return CAIRN_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int arena_add(struct dist_scratch *x, const char *str, size_t *ret_off)
{
    size_t len = strlen(str) + 1;
    if (x->arena_len + len > x->arena_cap) {
        size_t ncap = x->arena_cap ? 2 * x->arena_cap : 1024;
        while (ncap < x->arena_len + len)
            ncap *= 2;
        char *p = cairn_realloc(x->arena, ncap);
        if (p == NULL)
            return CAIRN_ENOMEM;
        x->arena = p;
        x->arena_cap = ncap;
    }
    memcpy(x->arena + x->arena_len, str, len);
    *ret_off = x->arena_len;
    x->arena_len += len;
    return 0;
}

static int rec_cmp(const void *a, const void *b, void *arena)
{
    const struct dc_rec *x = a, *y = b;
    int c = strcmp((const char *)arena + x->off, (const char *)arena + y->off);
    if (c != 0)
        return c;
    return x->v < y->v ? -1 : x->v > y->v;
}

static int dist_cmp(const void *a, const void *b)
{
    const struct router_dist *x = a, *y = b;
    if (x->rtt < y->rtt)
        return -1;
    if (y->rtt < x->rtt)
        return 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void cairn__router_distance_sort(struct router_dist *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i].pos = i;
    if (n > 1)
        qsort(d, n, sizeof(*d), dist_cmp);
}

/* parse_server: 0 and the datacenter (borrowed from m) for a Consul server
 * that has not left; 1 otherwise (a non-server is logged as Go does outside
 * the LAN area); CAIRN_ENOMEM. The full parse's checks run (Go:
 * IsConsulServer), but no record is built: only the dc is needed. */
static int parse_server(cairn_router *r, const struct router_area *a, const cairn_member *m,
                        const char **ret_dc)
{
    int rc = cairn__server_check_member(m, ret_dc, NULL);
    if (rc == CAIRN_ENOMEM)
        return rc;
    if (rc != 0) {
        if (!a->is_lan)
            router_log(r, CAIRN_LOG_WARN, "Non-server \"%s\" in server-only area \"%s\"", m->name,
                       a->id);
        return 1;
    }
    if (m->status == CAIRN_MEMBER_LEFT) {
        router_log(r, CAIRN_LOG_DEBUG, "server in area \"%s\" left, skipping: %s", a->id, m->name);
        return 1;
    }
    return 0;
}

static bool dist_member(const cairn_member *m, void *userdata)
{
    struct dist_scratch *x = userdata;
    const char *dc;
    int rc = parse_server(x->r, x->area, m, &dc);
    if (rc == 1)
        return true;
    if (rc != 0) {
        x->rc = rc;
        return false;
    }
    double d;
    if (strcmp(dc, x->r->local_dc) == 0) {
        d = 0.0;
    } else {
        cairn_coord other;
        bool found =
            x->area->cluster.ops->get_cached_coordinate(x->area->cluster.impl, m->name, &other);
        d = cairn_compute_distance(x->have_self ? &x->self : NULL, found ? &other : NULL);
    }
    if (isnan(d))
        d = INFINITY;
    size_t off;
    rc = grow_array((void **)&x->recs, &x->recs_cap, x->nrecs + 1, sizeof(*x->recs));
    if (rc == 0)
        rc = arena_add(x, dc, &off);
    if (rc != 0) {
        x->rc = rc;
        return false;
    }
    x->recs[x->nrecs].off = off;
    x->recs[x->nrecs].v = d;
    x->nrecs++;
    return true;
}

/* dist_area adds one area's (dc, median) candidates. */
static int dist_area(struct dist_scratch *x, const struct router_area *a, cairn_diag *diag)
{
    x->area = a;
    x->nrecs = 0;
    int rc = a->cluster.ops->get_coordinate(a->cluster.impl, &x->self);
    x->have_self = rc == 0;
    if (rc != 0 && rc != CAIRN_ENOENT)
        return cairn_diag_set(diag, rc, "area \"%s\": cannot get coordinate: %s", a->id,
                              cairn_strerror(rc));
    rc = a->cluster.ops->for_each_member(a->cluster.impl, dist_member, x);
    if (rc == 0)
        rc = x->rc;
    if (rc != 0)
        return cairn_diag_set(diag, rc, "area \"%s\": cannot list members: %s", a->id,
                              cairn_strerror(rc));
    if (x->nrecs > 1)
        qsort_r(x->recs, x->nrecs, sizeof(*x->recs), rec_cmp, x->arena);
    for (size_t i = 0; i < x->nrecs;) {
        size_t j = i + 1;
        while (j < x->nrecs && strcmp(x->arena + x->recs[j].off, x->arena + x->recs[i].off) == 0)
            j++;
        rc = grow_array((void **)&x->cands, &x->cands_cap, x->ncands + 1, sizeof(*x->cands));
        if (rc != 0)
            return cairn_diag_set(diag, rc, "datacenters by distance: out of memory");
        x->cands[x->ncands].off = x->recs[i].off;
        x->cands[x->ncands].v = x->recs[i + (j - i) / 2].v;
        x->ncands++;
        i = j;
    }
    return 0;
}

/* dist_emit keeps the minimum per dc, orders by RTT and copies out. */
static int dist_emit(struct dist_scratch *x, cairn_dc_buf *buf, size_t *ret_n, cairn_diag *diag)
{
    if (x->ncands > 1)
        qsort_r(x->cands, x->ncands, sizeof(*x->cands), rec_cmp, x->arena);
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < x->ncands; i++) {
        if (n > 0 && strcmp(x->arena + x->cands[n - 1].off, x->arena + x->cands[i].off) == 0)
            continue; /* a later area's larger median */
        x->cands[n++] = x->cands[i];
        bytes += strlen(x->arena + x->cands[i].off) + 1;
    }
    if (n > buf->names_cap || bytes > buf->bytes_cap)
        return cairn_diag_set(diag, CAIRN_ENOSPC,
                              "datacenters: need %zu names and %zu bytes, have %zu and %zu", n,
                              bytes, buf->names_cap, buf->bytes_cap);
    /* Names are in byte order now; a stable sort by RTT finishes the job. */
    struct router_dist *d = cairn_calloc(n ? n : 1, sizeof(*d));
    if (d == NULL)
        return cairn_diag_set(diag, CAIRN_ENOMEM, "datacenters by distance: out of memory");
    for (size_t i = 0; i < n; i++) {
        d[i].name = x->arena + x->cands[i].off;
        d[i].rtt = x->cands[i].v;
    }
    if (n > 1)
        cairn__router_distance_sort(d, n);
    char *p = buf->bytes;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(d[i].name) + 1;
        memcpy(p, d[i].name, len);
        buf->names[i] = p;
        if (buf->rtts != NULL)
            buf->rtts[i] = d[i].rtt;
        p += len;
    }
    cairn_free(d);
    *ret_n = n;
    return 0;
}

int cairn_router_get_datacenters_by_distance(cairn_router *r, cairn_dc_buf *buf, size_t *ret_n,
                                             cairn_diag *diag)
{
    if (r == NULL || buf == NULL || ret_n == NULL || (buf->names_cap > 0 && buf->names == NULL) ||
        (buf->bytes_cap > 0 && buf->bytes == NULL))
        return cairn_diag_set(diag, CAIRN_EINVAL, "datacenters by distance: missing argument");
    struct dist_scratch x;
    memset(&x, 0, sizeof(x));
    x.r = r;
    int rc = 0;
    const struct router_snap *s = router_read_lock(r);
    for (size_t i = 0; i < s->nareas && rc == 0; i++)
        rc = dist_area(&x, s->areas[i], diag);
    router_read_unlock(r);
    if (rc == 0)
        rc = dist_emit(&x, buf, ret_n, diag);
    cairn_free(x.arena);
    cairn_free(x.recs);
    cairn_free(x.cands);
    return rc;
}

/* ---- coordinate maps ---- */

struct maps_scratch {
    cairn_router *r;
    const struct router_area *area;
    cairn_dc_maps *out;
    size_t cap;
    /* Index in out->maps of this area's first map. */
    size_t first;
    int rc;
};

static int map_for(struct maps_scratch *x, const char *dc, cairn_dc_map **ret_map)
{
    for (size_t i = x->first; i < x->out->n; i++) {
        if (strcmp(x->out->maps[i].datacenter, dc) == 0) {
            *ret_map = &x->out->maps[i];
            return 0;
        }
    }
    if (grow_array((void **)&x->out->maps, &x->cap, x->out->n + 1, sizeof(cairn_dc_map)) != 0)
        return CAIRN_ENOMEM;
    cairn_dc_map *m = &x->out->maps[x->out->n];
    memset(m, 0, sizeof(*m));
    m->datacenter = cairn_strdup(dc);
    m->area_id = cairn_strdup(x->area->id);
    x->out->n++; /* counted at once so that cairn_dc_maps_free sees it */
    if (m->datacenter == NULL || m->area_id == NULL)
        return CAIRN_ENOMEM;
    *ret_map = m;
    return 0;
}

static bool maps_member(const cairn_member *mem, void *userdata)
{
    struct maps_scratch *x = userdata;
    const char *dc;
    int rc = parse_server(x->r, x->area, mem, &dc);
    if (rc == 1)
        return true;
    if (rc != 0) {
        x->rc = rc;
        return false;
    }
    cairn_coord c;
    bool found = x->area->cluster.ops->get_cached_coordinate(x->area->cluster.impl, mem->name, &c);
    cairn_dc_map *m = NULL;
    if (found && (rc = map_for(x, dc, &m)) == 0) {
        cairn_dc_coord *coords = cairn_reallocarray(m->coords, m->n + 1, sizeof(*coords));
        if (coords == NULL) {
            rc = CAIRN_ENOMEM;
        } else {
            m->coords = coords;
            coords[m->n].coord = c;
            coords[m->n].node = cairn_strdup(mem->name);
            if (coords[m->n].node == NULL)
                rc = CAIRN_ENOMEM;
            else
                m->n++;
        }
    }
    if (rc != 0) {
        x->rc = rc;
        return false;
    }
    return true;
}

void cairn_dc_maps_free(cairn_dc_maps *maps)
{
    if (maps == NULL)
        return;
    for (size_t i = 0; i < maps->n; i++) {
        cairn_dc_map *m = &maps->maps[i];
        for (size_t j = 0; j < m->n; j++)
            cairn_free(m->coords[j].node);
        cairn_free(m->coords);
        cairn_free(m->datacenter);
        cairn_free(m->area_id);
    }
    cairn_free(maps->maps);
    cairn_free(maps);
}

/* drop_empty removes maps left without coordinates (only possible when an
 * allocation failed half-way; kept for robustness). */
static void drop_empty(cairn_dc_maps *maps)
{
    size_t n = 0;
    for (size_t i = 0; i < maps->n; i++) {
        if (maps->maps[i].n == 0) {
            cairn_free(maps->maps[i].coords);
            cairn_free(maps->maps[i].datacenter);
            cairn_free(maps->maps[i].area_id);
            continue;
        }
        maps->maps[n++] = maps->maps[i];
    }
    maps->n = n;
}

int cairn_router_get_datacenter_maps(cairn_router *r, cairn_dc_maps **ret_maps, cairn_diag *diag)
{
    if (r == NULL || ret_maps == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "datacenter maps: missing argument");
    cairn_dc_maps *out = cairn_calloc(1, sizeof(*out));
    if (out == NULL)
        return cairn_diag_set(diag, CAIRN_ENOMEM, "datacenter maps: out of memory");
    struct maps_scratch x = {.r = r, .out = out};
    int rc = 0;
    const struct router_snap *s = router_read_lock(r);
    for (size_t i = 0; i < s->nareas && rc == 0; i++) {
        x.area = s->areas[i];
        x.first = out->n;
        rc = x.area->cluster.ops->for_each_member(x.area->cluster.impl, maps_member, &x);
        if (rc == 0)
            rc = x.rc;
        if (rc != 0)
            cairn_diag_set(diag, rc, "area \"%s\": datacenter maps: %s", x.area->id,
                           cairn_strerror(rc));
    }
    router_read_unlock(r);
    if (rc != 0) {
        cairn_dc_maps_free(out);
        return rc;
    }
    drop_empty(out);
    *ret_maps = out;
    return 0;
}

/* ---- JSON ---- */

static json_t *coord_json(const cairn_coord *c)
{
    json_t *vec = json_array();
    json_t *obj = json_object();
    if (vec == NULL || obj == NULL)
        goto fail;
    for (unsigned i = 0; i < c->dim && i < CAIRN_COORD_MAX_DIM; i++)
        if (json_array_append_new(vec, json_real(c->vec[i])) != 0)
            goto fail;
    if (json_object_set_new(obj, "Vec", vec) != 0) {
        vec = NULL;
        goto fail;
    }
    vec = NULL;
    if (json_object_set_new(obj, "Error", json_real(c->error)) != 0 ||
        json_object_set_new(obj, "Adjustment", json_real(c->adjustment)) != 0 ||
        json_object_set_new(obj, "Height", json_real(c->height)) != 0)
        goto fail;
    return obj;
fail:
    json_decref(vec);
    json_decref(obj);
    return NULL;
}

/* entry_json: one CoordinateEntry, the node name without ".<dc>". */
/* A JSON string of s[0..n): peers' names and tags may be any bytes, which
 * jansson refuses; they are repaired (base/utf8.h) as Go's encoder does
 * (U+FFFD), so one odd WAN member cannot fail the whole answer. */
static json_t *jstrn(const char *s, size_t n)
{
    if (cairn__utf8_valid(s, n))
        return json_stringn(s, n);
    size_t need = cairn__utf8_sanitize(s, n, NULL, 0) + 1;
    char *fixed = cairn_malloc(need);
    if (fixed == NULL)
        return NULL;
    cairn__utf8_sanitize(s, n, fixed, need);
    json_t *j = json_string(fixed);
    cairn_free(fixed);
    return j;
}

static json_t *entry_json(const cairn_dc_coord *e, const char *dc)
{
    size_t nlen = strlen(e->node), dlen = strlen(dc);
    size_t keep = nlen;
    if (nlen > dlen + 1 && e->node[nlen - dlen - 1] == '.' &&
        memcmp(e->node + nlen - dlen, dc, dlen) == 0)
        keep = nlen - dlen - 1;
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    if (json_object_set_new(obj, "Node", jstrn(e->node, keep)) != 0 ||
        json_object_set_new(obj, "Segment", json_string("")) != 0 ||
        json_object_set_new(obj, "Coord", coord_json(&e->coord)) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static json_t *map_json(const cairn_dc_map *m)
{
    json_t *obj = json_object();
    json_t *coords = json_array();
    if (obj == NULL || coords == NULL)
        goto fail;
    for (size_t i = 0; i < m->n; i++)
        if (json_array_append_new(coords, entry_json(&m->coords[i], m->datacenter)) != 0)
            goto fail;
    if (json_object_set_new(obj, "Datacenter", jstrn(m->datacenter, strlen(m->datacenter))) != 0 ||
        json_object_set_new(obj, "AreaID", jstrn(m->area_id, strlen(m->area_id))) != 0)
        goto fail;
    if (json_object_set_new(obj, "Coordinates", coords) != 0) {
        coords = NULL;
        goto fail;
    }
    return obj;
fail:
    json_decref(coords);
    json_decref(obj);
    return NULL;
}

int cairn_dc_maps_to_json(const cairn_dc_maps *maps, char **ret_json)
{
    if (ret_json == NULL)
        return CAIRN_EINVAL;
    json_t *arr = json_array();
    if (arr == NULL)
        return CAIRN_ENOMEM;
    int rc = 0;
    for (size_t i = 0; maps != NULL && i < maps->n && rc == 0; i++) {
        if (strcmp(maps->maps[i].area_id, CAIRN_AREA_LAN) == 0)
            continue;
        if (json_array_append_new(arr, map_json(&maps->maps[i])) != 0)
            rc = CAIRN_ENOMEM;
    }
    char *text = rc == 0 ? json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(arr);
    if (rc == 0 && text == NULL)
        rc = CAIRN_ENOMEM;
    if (rc != 0)
        return rc;
    char *copy = cairn_strdup(text);
    free(text);
    if (copy == NULL)
        return CAIRN_ENOMEM;
    *ret_json = copy;
    return 0;
}
