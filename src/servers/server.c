/* Server metadata records (Go: agent/metadata.Server and IsConsulServer).
 *
 * A record is built once, from a serf member's tags or from a filled
 * template, and never written again. That immutability is what lets the
 * Manager publish snapshots that share records with the Router and with
 * older snapshots still being read on other threads: nobody ever needs a
 * lock to read a field. Sharing is counted with an atomic reference count
 * kept in a private header in front of the public struct, so the public
 * type stays a plain, documented struct the Router can read directly.
 *
 * Parsing follows the newest Consul rules (spec §5.2) with Go's strictness
 * (see parse.c). The tags it reads are gathered in one pass over the
 * member's tags (not one linear search per key), and the same checks can
 * run without building a record (cairn__server_check_member, for the
 * Router's datacenter lists). Departures from Go, all deliberate:
 *   - "not a server" (role is not "consul") is CAIRN_ENOENT, while a server
 *     with a bad tag is CAIRN_EINVAL with a diagnostic naming the tag; Go
 *     folds both into ok == false;
 *   - names and datacenters longer than CAIRN_SERVER_NAME_MAX /
 *     CAIRN_SERVER_DC_MAX are rejected, so the hot path's fixed-size copy
 *     (cairn_server_info) can never truncate;
 *   - an RPC port outside 0..65535 is kept in `port` (Go accepts it) but
 *     cannot be represented in a cairn_addr, whose port is then 0;
 *   - the build version is not memoised per raw string (that would need
 *     process-global state); parsing one short string is cheap;
 *   - segment and feature maps become arrays sorted by name.
 *
 * The hot-path copy. cairn_server_info_fill runs on every find_server and
 * find_route, so a record keeps the three strings it copies (name, short
 * name, datacenter) together in one allocation, each NUL-terminated and
 * zero-padded to a multiple of COPY_BLOCK bytes, with the padded sizes in
 * the private header. The fill then copies whole 16-byte blocks with known
 * counts (no strlen, no libc call: a handful of vector moves for typical
 * names) and never reads or writes outside either buffer, because the info
 * fields' sizes are multiples of the block too.
 */
#include "cairn/server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/cluster.h"
#include "servers/server_internal.h"

/* Block size of the hot-path copy (see above). */
#define COPY_BLOCK 16
_Static_assert(CAIRN_SERVER_NAME_MAX % COPY_BLOCK == 0 && CAIRN_SERVER_DC_MAX % COPY_BLOCK == 0,
               "cairn_server_info string fields must hold whole copy blocks");

/* The reference count lives in front of the public record. */
struct server_rec {
    /* Number of references; the record is freed when it drops to 0. */
    atomic_long refs;
    /* One allocation holding name, short_name and datacenter (pub points
     * into it), each zero-padded to name_blk / short_blk / dc_blk bytes, a
     * multiple of COPY_BLOCK and at most the cairn_server_info field. */
    char *hot;
    uint16_t name_blk, short_blk, dc_blk;
    /* The public, immutable part. */
    cairn_server pub;
};

static struct server_rec *rec_of(const cairn_server *s)
{
    return (struct server_rec *)((char *)(uintptr_t)s - offsetof(struct server_rec, pub));
}

static void server_free(struct server_rec *r)
{
    if (r == NULL)
        return;
    cairn_server *s = &r->pub;
    cairn_free(r->hot); /* name, short_name, datacenter */
    cairn_free((char *)s->id);
    cairn_free((char *)s->segment);
    cairn_server_segment *seg = (cairn_server_segment *)s->segments;
    for (size_t i = 0; seg != NULL && i < s->nsegments; i++) {
        cairn_free((char *)seg[i].name);
        cairn_free((char *)seg[i].host);
    }
    cairn_free(seg);
    cairn_server_feature *ft = (cairn_server_feature *)s->features;
    for (size_t i = 0; ft != NULL && i < s->nfeatures; i++)
        cairn_free((char *)ft[i].name);
    cairn_free(ft);
    cairn_free(r);
}

static char *dup_or_empty(const char *s)
{
    return cairn_strdup(s != NULL ? s : "");
}

/* The length of Go's strings.TrimSuffix(name, "." + dc). */
static size_t short_name_len(const char *name, size_t n, const char *dc)
{
    size_t d = strlen(dc);
    if (n >= d + 1 && name[n - d - 1] == '.' && memcmp(name + n - d, dc, d) == 0)
        return n - d - 1;
    return n;
}

static uint16_t padded(size_t len)
{
    return (uint16_t)((len + 1 + COPY_BLOCK - 1) / COPY_BLOCK * COPY_BLOCK);
}

/* hot_init makes r's hot block from the three strings and points pub at
 * it. The lengths were checked against the limits. */
static int hot_init(struct server_rec *r, const char *name, size_t name_len, const char *short_name,
                    size_t short_len, const char *dc, size_t dc_len)
{
    r->name_blk = padded(name_len);
    r->short_blk = padded(short_len);
    r->dc_blk = padded(dc_len);
    char *hot = cairn_calloc(1, (size_t)r->name_blk + r->short_blk + r->dc_blk);
    if (hot == NULL)
        return CAIRN_ENOMEM;
    memcpy(hot, name, name_len);
    memcpy(hot + r->name_blk, short_name, short_len);
    memcpy(hot + r->name_blk + r->short_blk, dc, dc_len);
    r->hot = hot;
    r->pub.name = hot;
    r->pub.short_name = hot + r->name_blk;
    r->pub.datacenter = hot + r->name_blk + r->short_blk;
    return 0;
}

static int cmp_segment(const void *a, const void *b)
{
    return strcmp(((const cairn_server_segment *)a)->name, ((const cairn_server_segment *)b)->name);
}

static int cmp_feature(const void *a, const void *b)
{
    return strcmp(((const cairn_server_feature *)a)->name, ((const cairn_server_feature *)b)->name);
}

static int copy_arrays(cairn_server *dst, const cairn_server *src)
{
    if (src->nsegments > 0) {
        cairn_server_segment *seg = cairn_calloc(src->nsegments, sizeof(*seg));
        if (seg == NULL)
            return CAIRN_ENOMEM;
        dst->segments = seg;
        for (size_t i = 0; i < src->nsegments; i++) {
            dst->nsegments = i + 1;
            seg[i].port = src->segments[i].port;
            seg[i].name = dup_or_empty(src->segments[i].name);
            seg[i].host = dup_or_empty(src->segments[i].host);
            if (seg[i].name == NULL || seg[i].host == NULL)
                return CAIRN_ENOMEM;
        }
        qsort(seg, src->nsegments, sizeof(*seg), cmp_segment);
    }
    if (src->nfeatures > 0) {
        cairn_server_feature *ft = cairn_calloc(src->nfeatures, sizeof(*ft));
        if (ft == NULL)
            return CAIRN_ENOMEM;
        dst->features = ft;
        for (size_t i = 0; i < src->nfeatures; i++) {
            dst->nfeatures = i + 1;
            ft[i].value = src->features[i].value;
            ft[i].name = dup_or_empty(src->features[i].name);
            if (ft[i].name == NULL)
                return CAIRN_ENOMEM;
        }
        qsort(ft, src->nfeatures, sizeof(*ft), cmp_feature);
    }
    return 0;
}

int cairn_server_new(const cairn_server *fields, cairn_server **ret_server)
{
    if (fields == NULL || fields->name == NULL || ret_server == NULL)
        return CAIRN_EINVAL;
    const char *dc = fields->datacenter != NULL ? fields->datacenter : "";
    size_t name_len = strlen(fields->name), dc_len = strlen(dc);
    const char *short_name = fields->short_name != NULL ? fields->short_name : fields->name;
    size_t short_len = fields->short_name != NULL ? strlen(fields->short_name)
                                                  : short_name_len(fields->name, name_len, dc);
    if (name_len >= CAIRN_SERVER_NAME_MAX || dc_len >= CAIRN_SERVER_DC_MAX ||
        short_len >= CAIRN_SERVER_NAME_MAX)
        return CAIRN_EINVAL;
    struct server_rec *r = cairn_calloc(1, sizeof(*r));
    if (r == NULL)
        return CAIRN_ENOMEM;
    cairn_server *s = &r->pub;
    *s = *fields;
    /* Pointers are replaced by our own copies below; clear them first so
     * that a failure frees only what we made. */
    s->name = s->short_name = s->id = s->datacenter = s->segment = NULL;
    s->segments = NULL;
    s->features = NULL;
    s->nsegments = s->nfeatures = 0;
    int rc = hot_init(r, fields->name, name_len, short_name, short_len, dc, dc_len);
    s->id = dup_or_empty(fields->id);
    s->segment = dup_or_empty(fields->segment);
    if (rc != 0 || s->id == NULL || s->segment == NULL || copy_arrays(s, fields) < 0) {
        server_free(r);
        return CAIRN_ENOMEM;
    }
    atomic_init(&r->refs, 1);
    *ret_server = s;
    return 0;
}

cairn_server *cairn_server_ref(cairn_server *s)
{
    if (s != NULL)
        atomic_fetch_add_explicit(&rec_of(s)->refs, 1, memory_order_relaxed);
    return s;
}

void cairn_server_unref(cairn_server *s)
{
    if (s == NULL)
        return;
    struct server_rec *r = rec_of(s);
    /* acq_rel: every use of the record by other holders happens before the
     * free (the usual reference-count ordering). */
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        server_free(r);
}

long cairn_server_refcount(const cairn_server *s)
{
    return s == NULL ? 0 : atomic_load_explicit(&rec_of(s)->refs, memory_order_relaxed);
}

const char *cairn_server_key(const cairn_server *s)
{
    return s != NULL ? s->name : NULL;
}

bool cairn_server_key_equal(const cairn_server *a, const cairn_server *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a->name, b->name) == 0;
}

int cairn_server_string(const cairn_server *s, char *out, size_t outlen)
{
    char addr[CAIRN_ADDR_STRLEN] = "";
    const char *net = "";
    if (s->addr.family != 0) {
        cairn_addr_format(&s->addr, true, addr, sizeof(addr));
        net = "tcp";
    }
    return snprintf(out, outlen, "%s (Addr: %s/%s) (DC: %s)", s->name, net, addr, s->datacenter);
}

/* Copies n bytes, a multiple of COPY_BLOCK, in whole blocks. */
static inline void copy_blocks(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i += COPY_BLOCK)
        memcpy(dst + i, src + i, COPY_BLOCK);
}

void cairn_server_info_fill(const cairn_server *s, cairn_server_info *ret_info)
{
    /* Padded sizes never exceed the info fields (checked at creation). */
    const struct server_rec *r = rec_of(s);
    const char *hot = r->hot;
    size_t name_blk = r->name_blk, short_blk = r->short_blk, dc_blk = r->dc_blk;
    copy_blocks(ret_info->name, hot, name_blk);
    copy_blocks(ret_info->short_name, hot + name_blk, short_blk);
    copy_blocks(ret_info->datacenter, hot + name_blk + short_blk, dc_blk);
    ret_info->addr = s->addr;
    ret_info->version = s->version;
    ret_info->status = s->status;
    ret_info->use_tls = s->use_tls;
    ret_info->read_replica = s->read_replica;
}

/* ---- IsConsulServer ---- */

/* Temporary storage of one parse: the sl_/ft_ arrays point into tags, except
 * segment hosts, which are split out into `hosts`. */
struct parse_tmp {
    cairn_server_segment *segs;
    char **hosts;
    size_t nsegs;
    cairn_server_feature *fts;
    size_t nfts;
};

static void parse_tmp_free(struct parse_tmp *t)
{
    for (size_t i = 0; t->hosts != NULL && i < t->nsegs; i++)
        cairn_free(t->hosts[i]);
    cairn_free(t->hosts);
    cairn_free(t->segs);
    cairn_free(t->fts);
}

/* The tags parse_fields reads, gathered in one pass over the member's tags
 * instead of one linear search per key. The first occurrence of a key
 * wins, as with cairn_member_tag. A present flag tag has a non-NULL value. */
struct known_tags {
    const char *role, *dc, *segment, *id, *expect, *port, *wan_join_port, *grpc_port,
        *grpc_tls_port, *vsn, *raft_vsn, *build, *bootstrap, *use_tls, *nonvoter, *read_replica;
};

/* The field of k for a tag key, or NULL for keys parse_fields ignores. */
static const char **known_slot(struct known_tags *k, const char *key)
{
    switch (key[0]) {
    case 'b':
        return strcmp(key, "build") == 0       ? &k->build
               : strcmp(key, "bootstrap") == 0 ? &k->bootstrap
                                               : NULL;
    case 'd':
        return strcmp(key, "dc") == 0 ? &k->dc : NULL;
    case 'e':
        return strcmp(key, "expect") == 0 ? &k->expect : NULL;
    case 'g':
        return strcmp(key, "grpc_port") == 0       ? &k->grpc_port
               : strcmp(key, "grpc_tls_port") == 0 ? &k->grpc_tls_port
                                                   : NULL;
    case 'i':
        return strcmp(key, "id") == 0 ? &k->id : NULL;
    case 'n':
        return strcmp(key, "nonvoter") == 0 ? &k->nonvoter : NULL;
    case 'p':
        return strcmp(key, "port") == 0 ? &k->port : NULL;
    case 'r':
        return strcmp(key, "role") == 0           ? &k->role
               : strcmp(key, "raft_vsn") == 0     ? &k->raft_vsn
               : strcmp(key, "read_replica") == 0 ? &k->read_replica
                                                  : NULL;
    case 's':
        return strcmp(key, "segment") == 0 ? &k->segment : NULL;
    case 'u':
        return strcmp(key, "use_tls") == 0 ? &k->use_tls : NULL;
    case 'v':
        return strcmp(key, "vsn") == 0 ? &k->vsn : NULL;
    case 'w':
        return strcmp(key, "wan_join_port") == 0 ? &k->wan_join_port : NULL;
    default:
        return NULL;
    }
}

static void gather_tags(const cairn_member *m, struct known_tags *k)
{
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < m->ntags; i++) {
        const char **slot = known_slot(k, m->tags[i].key);
        if (slot != NULL && *slot == NULL)
            *slot = m->tags[i].value;
    }
}

/* A required or optional integer tag with value val (NULL: absent). Absent:
 * *v = 0 and `required` decides. */
static int int_tag(const char *key, const char *val, bool required, int64_t *v, cairn_diag *diag)
{
    *v = 0;
    if (val == NULL) {
        if (required)
            return cairn_diag_set(diag, CAIRN_EINVAL, "%s: missing", key);
        return 0;
    }
    int rc = cairn_atoi(val, v);
    if (rc == CAIRN_ERANGE)
        return cairn_diag_set(diag, CAIRN_EINVAL, "%s: \"%s\" is out of range", key, val);
    if (rc < 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "%s: \"%s\" is not an integer", key, val);
    return 0;
}

static int parse_segment(const cairn_tag *tag, struct parse_tmp *t, cairn_diag *diag)
{
    size_t len = strlen(tag->value) + 1;
    char *host = cairn_malloc(len);
    char *port = cairn_malloc(len);
    if (host == NULL || port == NULL) {
        cairn_free(host);
        cairn_free(port);
        return CAIRN_ENOMEM;
    }
    cairn_diag sub = {0};
    int rc = cairn_split_host_port(tag->value, host, len, port, len, &sub);
    int64_t p = 0;
    if (rc == 0 && cairn_atoi(port, &p) < 0) {
        cairn_diag_set(&sub, CAIRN_EINVAL, "port \"%s\" is not an integer", port);
        rc = CAIRN_EINVAL;
    }
    cairn_free(port);
    if (rc < 0) {
        cairn_free(host);
        return cairn_diag_set(diag, CAIRN_EINVAL, "%s: %s", tag->key, sub.msg);
    }
    t->hosts[t->nsegs] = host;
    t->segs[t->nsegs++] = (cairn_server_segment){tag->key + 3, host, p};
    return 0;
}

static int parse_prefixed(const cairn_member *m, struct parse_tmp *t, cairn_diag *diag)
{
    size_t nsl = 0, nft = 0;
    for (size_t i = 0; i < m->ntags; i++) {
        nsl += strncmp(m->tags[i].key, "sl_", 3) == 0;
        nft += strncmp(m->tags[i].key, "ft_", 3) == 0;
    }
    if (nsl > 0) {
        t->segs = cairn_calloc(nsl, sizeof(*t->segs));
        t->hosts = cairn_calloc(nsl, sizeof(*t->hosts));
        if (t->segs == NULL || t->hosts == NULL)
            return CAIRN_ENOMEM;
    }
    if (nft > 0 && (t->fts = cairn_calloc(nft, sizeof(*t->fts))) == NULL)
        return CAIRN_ENOMEM;
    for (size_t i = 0; i < m->ntags; i++) {
        const cairn_tag *tag = &m->tags[i];
        if (strncmp(tag->key, "sl_", 3) == 0) {
            int rc = parse_segment(tag, t, diag);
            if (rc < 0)
                return rc;
        } else if (strncmp(tag->key, "ft_", 3) == 0) {
            int64_t v;
            if (cairn_atoi(tag->value, &v) < 0)
                return cairn_diag_set(diag, CAIRN_EINVAL, "%s: \"%s\" is not an integer", tag->key,
                                      tag->value);
            t->fts[t->nfts++] = (cairn_server_feature){tag->key + 3, v};
        }
    }
    return 0;
}

/* The newest gRPC rule: parse errors are ignored (Go keeps Atoi's value),
 * but if either tag is present, at least one port must be >= 1. */
static int parse_grpc(const struct known_tags *k, cairn_server *f, cairn_diag *diag)
{
    const char *g = k->grpc_port;
    const char *gt = k->grpc_tls_port;
    if (g != NULL)
        (void)cairn__atoi_clamped(g, &f->grpc_port);
    if (gt != NULL)
        (void)cairn__atoi_clamped(gt, &f->grpc_tls_port);
    if ((g != NULL || gt != NULL) && f->grpc_port < 1 && f->grpc_tls_port < 1)
        return cairn_diag_set(diag, CAIRN_EINVAL,
                              "grpc_port: \"%s\" and grpc_tls_port: \"%s\" are not valid ports",
                              g != NULL ? g : "", gt != NULL ? gt : "");
    return 0;
}

static int parse_fields(const cairn_member *m, const struct known_tags *k, cairn_server *f,
                        struct parse_tmp *t, cairn_diag *diag)
{
    int rc;
    f->name = m->name;
    f->datacenter = k->dc;
    f->segment = k->segment;
    f->id = k->id;
    if (strlen(f->name) >= CAIRN_SERVER_NAME_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL, "name: %zu bytes, limit %d", strlen(f->name),
                              CAIRN_SERVER_NAME_MAX - 1);
    if (f->datacenter != NULL && strlen(f->datacenter) >= CAIRN_SERVER_DC_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL, "dc: %zu bytes, limit %d", strlen(f->datacenter),
                              CAIRN_SERVER_DC_MAX - 1);
    if ((rc = int_tag("expect", k->expect, false, &f->expect, diag)) < 0 ||
        (rc = int_tag("port", k->port, true, &f->port, diag)) < 0 ||
        (rc = parse_prefixed(m, t, diag)) < 0 ||
        (rc = int_tag("wan_join_port", k->wan_join_port, false, &f->wan_join_port, diag)) < 0 ||
        (rc = parse_grpc(k, f, diag)) < 0 ||
        (rc = int_tag("vsn", k->vsn, true, &f->version, diag)) < 0 ||
        (rc = int_tag("raft_vsn", k->raft_vsn, false, &f->raft_version, diag)) < 0)
        return rc;
    const char *build = k->build;
    if (build == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "build: missing");
    if ((rc = cairn_server_parse_build(build, &f->build, diag)) < 0)
        return rc;
    f->segments = t->segs;
    f->nsegments = t->nsegs;
    f->features = t->fts;
    f->nfeatures = t->nfts;
    f->bootstrap = k->bootstrap != NULL;
    f->use_tls = k->use_tls != NULL;
    f->non_voter = k->nonvoter != NULL;
    f->read_replica = f->non_voter || k->read_replica != NULL;
    f->status = m->status;
    f->lan_join_port = m->addr.port;
    f->addr = m->addr;
    f->addr.port = (f->port >= 0 && f->port <= 65535) ? (uint16_t)f->port : 0;
    return 0;
}

/* parse_member runs every check of cairn_server_from_member and, when
 * ret_server is not NULL, builds the record. */
static int parse_member(const cairn_member *member, cairn_server **ret_server, const char **ret_dc,
                        cairn_diag *diag)
{
    if (member == NULL || member->name == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "member: missing");
    struct known_tags k;
    gather_tags(member, &k);
    if (k.role == NULL || strcmp(k.role, "consul") != 0)
        return cairn_diag_set(diag, CAIRN_ENOENT, "role is not consul");
    cairn_server f = {0};
    struct parse_tmp t = {0};
    int rc = parse_fields(member, &k, &f, &t, diag);
    /* cairn_server_new cannot reject what parse_fields accepted (the short
     * name is never longer than the name): only ENOMEM is left. */
    if (rc == 0 && ret_server != NULL)
        rc = cairn_server_new(&f, ret_server);
    if (rc == CAIRN_ENOMEM)
        cairn_diag_set(diag, rc, "%s: out of memory", member->name);
    parse_tmp_free(&t);
    if (rc == 0 && ret_dc != NULL)
        *ret_dc = k.dc != NULL ? k.dc : "";
    return rc;
}

int cairn_server_from_member(const cairn_member *member, cairn_server **ret_server,
                             cairn_diag *diag)
{
    if (ret_server == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "member: missing");
    return parse_member(member, ret_server, NULL, diag);
}

int cairn__server_check_member(const cairn_member *member, const char **ret_dc, cairn_diag *diag)
{
    return parse_member(member, NULL, ret_dc, diag);
}
