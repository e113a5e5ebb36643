/* Pure text helpers for the Serf-compatible commands (cli/serf_fmt.h). */
#include "cli/serf_fmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"

/* utf8_len: characters in s[0..n) (bytes that are not continuations). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

/* A cell: [p, p + n) after trimming. */
struct cell {
    const char *p;
    size_t n;
};

/* next_cell: the cell at *s, trimmed; *s moves past its '|' (or to the
 * end). false at the end of the line. */
static bool next_cell(const char **s, bool *first, struct cell *c)
{
    const char *p = *s;
    if (*p == '\0' && !*first)
        return false;
    *first = false;
    const char *bar = strchr(p, '|');
    const char *end = bar != NULL ? bar : p + strlen(p);
    const char *b = p, *e = end;
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    c->p = b;
    c->n = (size_t)(e - b);
    *s = bar != NULL ? bar + 1 : end;
    if (bar != NULL && *(*s) == '\0')
        *first = true; /* a trailing '|' leaves one empty cell */
    return true;
}

#define MAX_COLS 64

char *cairn__cli_columnize(const char *const *lines, size_t n)
{
    size_t widths[MAX_COLS] = {0};
    size_t ncols = 0, total = 1;
    for (size_t i = 0; i < n; i++) {
        const char *s = lines[i];
        bool first = true;
        struct cell c;
        for (size_t col = 0; next_cell(&s, &first, &c); col++) {
            size_t w = utf8_len(c.p, c.n);
            if (col < MAX_COLS) {
                if (col >= ncols)
                    ncols = col + 1;
                if (w > widths[col])
                    widths[col] = w;
            }
        }
        total += strlen(lines[i]) + 1;
    }
    for (size_t col = 0; col < ncols; col++)
        total += (widths[col] + 2) * n;
    char *out = malloc(total);
    if (out == NULL)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        struct cell cells[MAX_COLS];
        size_t k = 0;
        const char *s = lines[i];
        bool first = true;
        struct cell c;
        while (next_cell(&s, &first, &c)) {
            if (k < MAX_COLS)
                cells[k++] = c;
            else
                cells[k - 1].n = (size_t)(c.p + c.n - cells[k - 1].p);
        }
        for (size_t col = 0; col < k; col++) {
            memcpy(out + off, cells[col].p, cells[col].n);
            off += cells[col].n;
            if (col + 1 < k) {
                for (size_t w = utf8_len(cells[col].p, cells[col].n); w < widths[col]; w++)
                    out[off++] = ' ';
                out[off++] = ' ';
                out[off++] = ' ';
            }
        }
        if (i + 1 < n)
            out[off++] = '\n';
    }
    out[off] = '\0';
    return out;
}

bool cairn__cli_parse_duration(const char *s, cairn_time *ret)
{
    /* A plain number: seconds (cairn's extension); else Go's syntax. */
    char *end;
    if (s != NULL && (isdigit((unsigned char)*s) || *s == '.')) {
        double v = strtod(s, &end);
        if (end != s && *end == '\0') {
            if (!(v >= 0) || v * 1e9 > 9.2e18)
                return false;
            *ret = (cairn_time)(v * 1e9);
            return true;
        }
    }
    return cairn__go_duration(s, ret) == 0;
}

bool cairn__cli_split_tag(const char *s, size_t *ret_key_len)
{
    const char *eq = strchr(s, '=');
    if (eq == NULL || eq == s)
        return false;
    *ret_key_len = (size_t)(eq - s);
    return true;
}

void cairn__cli_quote(const char *s, char *out, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(out + off, len - off, __VA_ARGS__);                                      \
        if (w_ < 0 || (size_t)w_ >= len - off) {                                                   \
            out[len - 1] = '\0';                                                                   \
            return;                                                                                \
        }                                                                                          \
        off += (size_t)w_;                                                                         \
    } while (0)
    PUT("\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            PUT("\\%c", *p);
        else if (*p == '\n')
            PUT("\\n");
        else if (*p == '\t')
            PUT("\\t");
        else if (*p == '\r')
            PUT("\\r");
        else if (*p < 0x20 || *p == 0x7f)
            PUT("\\x%02x", *p);
        else
            PUT("%c", *p);
    }
    PUT("\"");
#undef PUT
}
