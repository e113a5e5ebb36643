/* Go-compatible string parsing for server tags: strconv.Atoi,
 * net.SplitHostPort and the build-version extraction of metadata.Build.
 *
 * Server tags are untrusted strings gossiped by any member, and Consul reads
 * them with Go's standard library; a member cairn accepts as a server must be
 * exactly one Consul accepts, no more and no less. So these helpers copy the
 * Go rules, not C's: atoi/strtol skip spaces and accept garbage after the
 * number, Go does neither. Each function only reads its input and writes its
 * out-parameters, so all are thread-safe.
 */
#include "cairn/server.h"

#include <stdint.h>
#include <string.h>

#include "servers/server_internal.h"

/* Parses an optional sign and decimal digits. Returns 0, CAIRN_EINVAL or
 * CAIRN_ERANGE; *clamped gets the value Go's Atoi returns alongside the
 * error: the parsed value, 0 for a syntax error, or the int64 bound for a
 * range error. */
int cairn__atoi_clamped(const char *s, int64_t *clamped)
{
    *clamped = 0;
    if (s == NULL)
        return CAIRN_EINVAL;
    bool neg = false;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    if (*s == '\0')
        return CAIRN_EINVAL;
    /* |INT64_MIN| = INT64_MAX + 1 fits a uint64. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool overflow = false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return CAIRN_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (overflow || v > (limit - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (overflow) {
        *clamped = neg ? INT64_MIN : INT64_MAX;
        return CAIRN_ERANGE;
    }
    *clamped = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int cairn_atoi(const char *s, int64_t *ret_value)
{
    int64_t v;
    int rc = cairn__atoi_clamped(s, &v);
    if (rc < 0)
        return rc;
    *ret_value = v;
    return 0;
}

static int copy_part(const char *p, size_t n, char *out, size_t outlen)
{
    if (n >= outlen)
        return CAIRN_ERANGE;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Go's net.SplitHostPort, rule by rule. */
int cairn_split_host_port(const char *s, char *host_out, size_t hostlen, char *port_out,
                          size_t portlen, cairn_diag *diag)
{
    if (s == NULL || host_out == NULL || port_out == NULL)
        return CAIRN_EINVAL;
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: missing port in address", s);
    const char *host;
    size_t hostn;
    const char *rest; /* what must not contain brackets after the host */
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL)
            return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: missing ']' in address", s);
        if (end + 1 == s + strlen(s))
            return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: missing port in address", s);
        if (end + 1 != colon) {
            if (end[1] == ':')
                return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: too many colons in address",
                                      s);
            return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: missing port in address", s);
        }
        host = s + 1;
        hostn = (size_t)(end - host);
        /* Go checks s[1:] for '[' and s[end+1:] for ']'. */
        if (memchr(s + 1, '[', strlen(s + 1)) != NULL)
            return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: unexpected '[' in address", s);
        rest = end + 1;
    } else {
        host = s;
        hostn = (size_t)(colon - s);
        if (memchr(host, ':', hostn) != NULL)
            return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: too many colons in address", s);
        if (memchr(s, '[', strlen(s)) != NULL)
            return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: unexpected '[' in address", s);
        rest = s;
    }
    if (strchr(rest, ']') != NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "address %s: unexpected ']' in address", s);
    int rc = copy_part(host, hostn, host_out, hostlen);
    if (rc == 0)
        rc = copy_part(colon + 1, strlen(colon + 1), port_out, portlen);
    if (rc < 0)
        return cairn_diag_set(diag, rc, "address %s: too long", s);
    return 0;
}

/* Length of the \d+ run at p. */
static size_t digits(const char *p)
{
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9')
        n++;
    return n;
}

/* Length of a \d+\.\d+\.\d+ match starting exactly at p, or 0. \d+ is
 * greedy and a digit can never match '.', so the greedy run is the only
 * candidate at each step: no backtracking is needed. */
static size_t match_version_at(const char *p)
{
    size_t n = 0;
    for (int part = 0; part < 3; part++) {
        size_t d = digits(p + n);
        if (d == 0)
            return 0;
        n += d;
        if (part < 2) {
            if (p[n] != '.')
                return 0;
            n++;
        }
    }
    return n;
}

static int parse_part(const char *p, size_t n, int64_t *ret)
{
    char tmp[32];
    if (n >= sizeof(tmp))
        return CAIRN_ERANGE;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return cairn_atoi(tmp, ret);
}

int cairn_server_parse_build(const char *build, cairn_server_version *ret_version, cairn_diag *diag)
{
    if (build == NULL || ret_version == NULL)
        return cairn_diag_set(diag, CAIRN_EINVAL, "build: missing");
    /* Leftmost match: the first start position from which the pattern
     * matches (regexp.FindString). */
    for (const char *p = build; *p != '\0'; p++) {
        size_t n = match_version_at(p);
        if (n == 0)
            continue;
        int64_t v[3];
        const char *q = p;
        for (int i = 0; i < 3; i++) {
            size_t d = digits(q);
            if (parse_part(q, d, &v[i]) < 0)
                return cairn_diag_set(diag, CAIRN_EINVAL,
                                      "build: \"%s\": version part out of range", build);
            q += d + 1;
        }
        *ret_version = (cairn_server_version){v[0], v[1], v[2]};
        return 0;
    }
    return cairn_diag_set(diag, CAIRN_EINVAL, "build: \"%s\": Malformed version", build);
}
