/* base/regex.h (internal): regular expressions from the network and from
 * RPC clients, matched the way Go's regexp package matches them, at a cost
 * bounded whatever the expression.
 *
 * Serf evaluates two kinds of caller-supplied expressions: a query's tag
 * filters (unanchored, Go's regexp.MatchString), from any member of the
 * cluster, and the Serf RPC's members-filtered expressions (Serf compiles
 * "^" + expr + "$"). Go uses RE2, whose cost is linear in the expression
 * and the subject. glibc's regcomp is not: it copies a repeated
 * subexpression once per operator, so `x++++…` or `((x+)+)+…` costs 2^n
 * memory (a 90-byte hostile query took the fuzzer past 2 GB), and its
 * back-references match in exponential time.
 *
 * cairn uses PCRE2 (libpcre2-8, installed on every Debian system) with its
 * costs capped:
 *   - expressions longer than CAIRN__RE_EXPR_MAX bytes do not compile;
 *   - every allocation of a compiled expression and of its matching (the
 *     compiled code, the backtracking frames) is drawn from a budget of
 *     CAIRN__RE_MEM_MAX bytes; past it, compiling fails and a match reports
 *     CAIRN_ELIMIT;
 *   - a match stops after CAIRN__RE_STEPS backtracking steps
 *     (pcre2_set_match_limit), CAIRN_ELIMIT.
 * Worst case per match: CAIRN__RE_STEPS steps, about a millisecond.
 *
 * Syntax is PCRE2's with Go's defaults: UTF-8 (an invalid UTF-8 expression
 * does not compile, an invalid UTF-8 subject still matches byte-wise where
 * it can), `$` only at the very end (PCRE2_DOLLAR_ENDONLY), `.` not matching
 * a newline, \d \w \s ASCII. Everything RE2 accepts compiles (\d, (?i),
 * non-greedy quantifiers, {m,n}, [[:alpha:]], \pL); PCRE2 also accepts
 * back-references and look-arounds, which Go rejects (a departure: a filter
 * Serf would refuse, cairn evaluates, within the same bounds).
 *
 * Threading: a compiled cairn__re is used by one thread at a time.
 */
#ifndef CAIRN_REGEX_H
#define CAIRN_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#define CAIRN__RE_EXPR_MAX 1024
#define CAIRN__RE_MEM_MAX  (512 * 1024)
#define CAIRN__RE_STEPS    100000

typedef struct cairn__re cairn__re;

/* Compile flags. */
enum {
    /* Serf RPC's "^" + expr + "$": the whole subject must match. */
    CAIRN__RE_WHOLE = 1,
};

/* cairn__re_compile compiles expr[0..len). 0 with *out set; CAIRN_EINVAL
 * when the expression is invalid, too long or too large for the budget
 * (then *out is NULL); CAIRN_ENOMEM. */
int cairn__re_compile(const char *expr, size_t len, int flags, cairn__re **out);

/* cairn__re_match: 1 when re matches somewhere in s[0..len) (the whole of
 * it with CAIRN__RE_WHOLE), 0 when not, CAIRN_ELIMIT when the match ran
 * out of steps or memory. */
int cairn__re_match(cairn__re *re, const char *s, size_t len);

/* cairn__re_free releases re (NULL is fine). */
void cairn__re_free(cairn__re *re);

#endif
