/* Regular expressions with bounded cost (base/regex.h): PCRE2 with every
 * allocation drawn from a per-expression budget and a step limit on
 * matching. */
#include "base/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

struct cairn__re {
    size_t used; /* bytes drawn from the budget */
    bool over;   /* an allocation was refused for the budget */
    pcre2_general_context *gc;
    pcre2_compile_context *cc;
    pcre2_match_context *mc;
    pcre2_code *code;
    pcre2_match_data *md;
};

/* Each block carries its size in front, so a free returns it to the
 * budget. */
#define HDR alignof(max_align_t)

static void *budget_malloc(PCRE2_SIZE n, void *ud)
{
    struct cairn__re *re = ud;
    if (n > CAIRN__RE_MEM_MAX - re->used) {
        re->over = true;
        return NULL;
    }
    unsigned char *p = cairn_malloc(n + HDR);
    if (p == NULL)
        return NULL;
    memcpy(p, &n, sizeof n);
    re->used += n;
    return p + HDR;
}

static void budget_free(void *ptr, void *ud)
{
    struct cairn__re *re = ud;
    if (ptr == NULL)
        return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    re->used -= n;
    cairn_free(p);
}

void cairn__re_free(cairn__re *re)
{
    if (re == NULL)
        return;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mc);
    pcre2_compile_context_free(re->cc);
    pcre2_general_context_free(re->gc);
    cairn_free(re);
}

int cairn__re_compile(const char *expr, size_t len, int flags, cairn__re **out)
{
    *out = NULL;
    if (len > CAIRN__RE_EXPR_MAX)
        return CAIRN_EINVAL;
    char pat[CAIRN__RE_EXPR_MAX + 2];
    size_t n = 0;
    if (flags & CAIRN__RE_WHOLE)
        pat[n++] = '^';
    if (len)
        memcpy(pat + n, expr, len);
    n += len;
    if (flags & CAIRN__RE_WHOLE)
        pat[n++] = '$';

    cairn__re *re = cairn_calloc(1, sizeof *re);
    if (re == NULL)
        return CAIRN_ENOMEM;
    re->gc = pcre2_general_context_create(budget_malloc, budget_free, re);
    re->cc = re->gc ? pcre2_compile_context_create(re->gc) : NULL;
    re->mc = re->gc ? pcre2_match_context_create(re->gc) : NULL;
    if (re->cc == NULL || re->mc == NULL) {
        cairn__re_free(re);
        return CAIRN_ENOMEM;
    }
    pcre2_set_max_pattern_length(re->cc, CAIRN__RE_EXPR_MAX + 2);
    pcre2_set_match_limit(re->mc, CAIRN__RE_STEPS);
    pcre2_set_depth_limit(re->mc, CAIRN__RE_STEPS);
    pcre2_set_heap_limit(re->mc, CAIRN__RE_MEM_MAX / 2 / 1024);

    int err;
    PCRE2_SIZE at;
    re->code = pcre2_compile((PCRE2_SPTR)pat, n,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                                 PCRE2_NEVER_BACKSLASH_C,
                             &err, &at, re->cc);
    if (re->code == NULL) {
        /* A malloc that failed outside the budget is ENOMEM; a bad or
         * too-large expression is EINVAL. */
        int rc = err == PCRE2_ERROR_HEAP_FAILED && !re->over ? CAIRN_ENOMEM : CAIRN_EINVAL;
        cairn__re_free(re);
        return rc;
    }
    re->md = pcre2_match_data_create(1, re->gc);
    if (re->md == NULL) {
        int rc = re->over ? CAIRN_EINVAL : CAIRN_ENOMEM;
        cairn__re_free(re);
        return rc;
    }
    *out = re;
    return 0;
}

int cairn__re_match(cairn__re *re, const char *s, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, re->mc);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : CAIRN_ELIMIT;
}
