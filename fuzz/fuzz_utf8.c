/* libFuzzer target: UTF-8 repair (src/base/utf8.h). The output is always
 * valid UTF-8 of the length the function reports; valid input (without
 * NUL) comes out unchanged, and a cut output is a prefix of the whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t need = cairn__utf8_sanitize(s, size, NULL, 0);
    char *out = malloc(need + 1);
    if (!out)
        return 0;
    if (cairn__utf8_sanitize(s, size, out, need + 1) != need || strlen(out) != need ||
        !cairn__utf8_valid(out, need))
        abort();
    if (cairn__utf8_valid(s, size) && (need != size || memcmp(out, s, size) != 0))
        abort();
    char cut[8];
    cairn__utf8_sanitize(s, size, cut, sizeof(cut));
    if (!cairn__utf8_valid(cut, strlen(cut)) || strncmp(cut, out, strlen(cut)) != 0)
        abort();
    free(out);
    return 0;
}
