/* UTF-8 validation and repair (src/base/utf8.h).
 *
 * One decoder step, utf8_step, measures the next character or the maximal
 * invalid subpart at the cursor: a lead byte fixes how many continuation
 * bytes follow and the range the first of them must lie in (which rules
 * out overlong forms, surrogates and values above U+10FFFF, as Table 3-7
 * of the Unicode standard); the subpart ends at the first byte that does
 * not fit, so "E2 82 41" is one replacement then "A", and "FF" alone is
 * one replacement.
 */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

/* The replacement character U+FFFD in UTF-8. */
static const char replacement[] = "\xEF\xBF\xBD";
#define REPLACEMENT_LEN 3

/* utf8_step: the length of the character at p[0..n) (n >= 1) and whether
 * it is valid; an invalid one is its maximal subpart (at least 1 byte). */
static size_t utf8_step(const uint8_t *p, size_t n, bool *ret_valid)
{
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    *ret_valid = false;
    if (c >= 0x01 && c <= 0x7F) {
        *ret_valid = true;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 1; /* NUL, a continuation byte, C0, C1, F5..FF */
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi)
            return i;
        lo = 0x80, hi = 0xBF;
    }
    *ret_valid = true;
    return i;
}

bool cairn__utf8_valid(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        bool ok;
        i += utf8_step(p + i, len - i, &ok);
        if (!ok)
            return false;
    }
    return true;
}

size_t cairn__utf8_sanitize(const char *s, size_t len, char *out, size_t cap)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, total = 0, used = 0;
    bool full = cap == 0;
    while (i < len) {
        bool ok;
        size_t n = utf8_step(p + i, len - i, &ok);
        const char *piece = ok ? s + i : replacement;
        size_t plen = ok ? n : REPLACEMENT_LEN;
        if (!full && used + plen < cap) {
            memcpy(out + used, piece, plen);
            used += plen;
        } else {
            full = true;
        }
        total += plen;
        i += n;
    }
    if (cap > 0)
        out[used] = '\0';
    return total;
}
