/* base/utf8.h (internal): checking and repairing UTF-8 text from the network.
 *
 * Node names and tags arrive from peers as bytes; Serf treats them as Go
 * strings, which may hold any bytes. Everything cairn prints as JSON must
 * be valid UTF-8 (jansson refuses anything else, and so do most readers),
 * so the log boundary repairs text with cairn__utf8_sanitize, and the agent
 * refuses a name of its own that is not valid UTF-8.
 *
 * Repair rule: each maximal invalid subsequence (Unicode 15, §3.9, "U+FFFD
 * substitution of maximal subparts", as WHATWG's decoder) becomes one
 * U+FFFD REPLACEMENT CHARACTER (EF BF BD); NUL bytes, which C strings
 * cannot carry, become U+FFFD too. Valid text, including U+FFFD itself,
 * passes unchanged. Overlong forms, surrogates (ED A0..BF) and code points
 * above U+10FFFF are invalid.
 *
 * Threading: pure functions, any thread.
 */
#ifndef CAIRN_UTF8_H
#define CAIRN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* cairn__utf8_valid: true when s[0..len) is valid UTF-8 without NUL bytes. */
bool cairn__utf8_valid(const char *s, size_t len);

/* cairn__utf8_sanitize writes s[0..len) repaired (see above) into out, at
 * most cap - 1 bytes and a NUL (never a partial character; nothing when cap
 * is 0). Returns the length the whole repaired text has, like snprintf: a
 * result >= cap means out was cut. */
size_t cairn__utf8_sanitize(const char *s, size_t len, char *out, size_t cap);

#endif
