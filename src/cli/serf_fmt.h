/* cli/serf_fmt.h: pure text helpers for the Serf-compatible commands.
 *
 * What the serf CLI prints and parses, re-done in C so that `cairn`'s
 * output reads the same: columnize's "a|b|c" tables, Go's duration syntax
 * ("2s", "1m30s", "500ms", through the agent's one Go-duration parser),
 * `-tag key=value` pairs and Go's %q quoting. No I/O and no state: unit-tested in
 * tests/unit/test_cli_serf_fmt.c.
 */
#ifndef CAIRN_CLI_SERF_FMT_H
#define CAIRN_CLI_SERF_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/time.h"

/* cairn__cli_columnize: columnize.SimpleFormat. Each line's cells are
 * separated by '|' and trimmed of spaces; every column but a line's last
 * is padded (by UTF-8 characters) to the widest cell of that column, then
 * joined with two spaces. Returns the table without a trailing newline
 * (malloc'd; NULL when out of memory). */
char *cairn__cli_columnize(const char *const *lines, size_t n);

/* cairn__cli_parse_duration: Go's time.ParseDuration ("300ms", "2s",
 * "1h2m", "0"; units ns us µs ms s m h), plus a plain number of seconds
 * ("2.5"). false for anything else, for negative values, or beyond
 * ~292 years. */
bool cairn__cli_parse_duration(const char *s, cairn_time *ret);

/* cairn__cli_split_tag: Serf's UnmarshalTags for one "key=value": false
 * when there is no '=' or the key is empty; else the key's length (the
 * value starts after the '='). */
bool cairn__cli_split_tag(const char *s, size_t *ret_key_len);

/* cairn__cli_quote: Go's %q of s into out (always NUL-terminated,
 * truncated to len). */
void cairn__cli_quote(const char *s, char *out, size_t len);

#endif
