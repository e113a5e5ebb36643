/* Helpers for the wire framing tests (see wire_frame_vec.h). */
#include "wire_frame_vec.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long wfv_hex(const char *hex, uint8_t **ret)
{
    size_t n = 0;
    while (hex[n] && hex[n] != ' ' && hex[n] != '\n')
        n++;
    if (n == 1 && hex[0] == '-')
        n = 0;
    if (n % 2)
        return -1;
    uint8_t *p = malloc(n / 2 + 1);
    if (p == NULL)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int a = hexval(hex[2 * i]), b = hexval(hex[2 * i + 1]);
        if (a < 0 || b < 0) {
            free(p);
            return -1;
        }
        p[i] = (uint8_t)(a << 4 | b);
    }
    *ret = p;
    return (long)(n / 2);
}

void wfv_gen(uint32_t seed, size_t n, uint32_t k, uint8_t *out)
{
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (uint8_t)((x >> 8) % k);
    }
}

void wfv_sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}

const char *wfv_path(const char *source_dir, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/wire_frame/%s", source_dir, name);
    return path;
}

long wfv_field(const char *line, const char *key, uint8_t **ret)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (p == NULL)
        return -1;
    return wfv_hex(p + strlen(pat), ret);
}
