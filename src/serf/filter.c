/* Query filters (Go: query.go QueryParam.encodeFilters and
 * Serf.shouldProcessQuery).
 *
 * A query carries a list of encoded filters, each `[type][msgpack]`: a node
 * filter (type 0, an array of names: the node processes the query only when
 * its name is listed) or a tag filter (type 1, {Expr, Tag}: the node's value
 * of Tag, empty when absent, must match the regular expression Expr
 * somewhere). Every filter must pass. An unknown or malformed filter fails
 * the query, as in Go.
 *
 * Expressions are matched by base/regex.h: PCRE2 with Go's defaults and a
 * bounded cost (an expression from any member of the cluster cannot take
 * more than CAIRN__RE_MEM_MAX bytes or CAIRN__RE_STEPS steps; glibc's
 * regcomp, used before, took 2^n memory for `x++…+`). The syntax is RE2's
 * plus PCRE2's extras (back-references, look-arounds), which Go would
 * refuse. Expressions are compiled per received query (queries are rare;
 * Go does the same). A match that runs out of steps fails the filter.
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "base/regex.h"
#include "cairn/alloc.h"
#include "cairn/error.h"

int cairn__serf_filters_encode(const cairn_serf_query_params *p, cairn_buf *out, size_t *lens,
                               size_t n_lens)
{
    size_t k = 0;
    int rc = 0;
    if (p->n_filter_nodes > 0) {
        cairn_span *names = cairn_calloc(p->n_filter_nodes, sizeof(*names));
        if (names == NULL)
            return CAIRN_ENOMEM;
        for (size_t i = 0; i < p->n_filter_nodes && rc == 0; i++) {
            if (p->filter_nodes[i] == NULL || p->filter_nodes[i][0] == 0)
                rc = CAIRN_EINVAL;
            else
                names[i] = cairn__span_str(p->filter_nodes[i]);
        }
        cairn_wire_serf_filter f = {
            .type = CAIRN_WIRE_SERF_FILTER_NODE, .nodes = names, .n_nodes = p->n_filter_nodes};
        size_t before = out->len;
        if (rc == 0 && k >= n_lens)
            rc = CAIRN_ELIMIT;
        if (rc == 0 && (rc = cairn__wire_serf_filter_encode(&f, out, NULL)) == 0)
            lens[k++] = out->len - before;
        cairn_free(names);
    }
    for (size_t i = 0; i < p->n_filter_tags && rc == 0; i++) {
        const cairn_tag *t = &p->filter_tags[i];
        if (t->key == NULL || t->key[0] == 0 || t->value == NULL)
            return CAIRN_EINVAL;
        if (k >= n_lens)
            return CAIRN_ELIMIT;
        cairn_wire_serf_filter f = {.type = CAIRN_WIRE_SERF_FILTER_TAG,
                                    .expr = cairn__span_str(t->value),
                                    .tag = cairn__span_str(t->key)};
        size_t before = out->len;
        if ((rc = cairn__wire_serf_filter_encode(&f, out, NULL)) == 0)
            lens[k++] = out->len - before;
    }
    return rc;
}

static bool node_listed(const char *self, const cairn_wire_serf_filter *f)
{
    size_t n = strlen(self);
    for (size_t i = 0; i < f->n_nodes; i++)
        if (f->nodes[i].len == n && memcmp(f->nodes[i].p, self, n) == 0)
            return true;
    return false;
}

/* Go's regexp.MatchString(expr, value). */
static bool tag_matches(const cairn_tag *tags, size_t ntags, const cairn_wire_serf_filter *f)
{
    const char *value = "";
    for (size_t i = 0; i < ntags; i++)
        if (f->tag.len && strlen(tags[i].key) == f->tag.len &&
            memcmp(tags[i].key, f->tag.p, f->tag.len) == 0)
            value = tags[i].value;
    cairn__re *re;
    if (cairn__re_compile((const char *)f->expr.p, f->expr.len, 0, &re) != 0)
        return false;
    bool ok = cairn__re_match(re, value, strlen(value)) == 1;
    cairn__re_free(re);
    return ok;
}

bool cairn__serf_filters_match(const char *self, const cairn_tag *tags, size_t ntags,
                               const cairn_span *filters, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cairn_wire_arena a;
        cairn__wire_arena_init(&a, 256 * 1024);
        cairn_wire_serf_filter f;
        bool ok = cairn__wire_serf_filter_decode(filters[i].p, filters[i].len, &a, NULL, &f) == 0;
        if (ok && f.type == CAIRN_WIRE_SERF_FILTER_NODE)
            ok = node_listed(self, &f);
        else if (ok && f.type == CAIRN_WIRE_SERF_FILTER_TAG)
            ok = tag_matches(tags, ntags, &f);
        else
            ok = false;
        cairn__wire_arena_destroy(&a);
        if (!ok)
            return false;
    }
    return true;
}
