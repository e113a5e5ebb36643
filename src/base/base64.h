/* base/base64.h (internal): standard base64 (RFC 4648, "+/", padded), the
 * encoding Serf uses for keys (`serf keygen`, keyring files, key queries)
 * and the agent for binary event payloads in its log.
 *
 * One implementation for the library and the program, so that nothing but
 * the keyring needs OpenSSL (src/wire/keyring.c loads libcrypto only when a
 * key is installed: docs/performance.md, "Whole agents").
 *
 * Decoding is strict, like Go's base64.StdEncoding: the length must be a
 * multiple of 4, padding only at the end, no whitespace.
 *
 * Threading: pure functions, any thread.
 */
#ifndef CAIRN_BASE64_H
#define CAIRN_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters cairn__base64_encode writes for n bytes, without the NUL. */
#define CAIRN__BASE64_LEN(n) (4 * (((size_t)(n) + 2) / 3))

/* cairn__base64_encode writes the base64 of p[0..n) and a NUL into out,
 * which holds CAIRN__BASE64_LEN(n) + 1 bytes; returns the length. */
size_t cairn__base64_encode(const uint8_t *p, size_t n, char *out);

/* cairn__base64_decode decodes the NUL-terminated s into out (cap bytes);
 * returns the byte count, or -1 when s is not padded base64 or does not
 * fit. */
int cairn__base64_decode(const char *s, uint8_t *out, size_t cap);

#endif
