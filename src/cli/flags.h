/* cli/flags.h: the one command-line flag parser of the `cairn` program.
 *
 * Every command describes its flags in a table and gets each occurrence
 * through one callback, so all commands accept the same spellings:
 *
 *   --name value   --name=value   -name value   -name=value   (Serf's style)
 *   -x             (a one-letter alias, e.g. -v, -h)
 *   --             (the rest are arguments)
 *
 * --help and -h are answered by the caller (the parser returns -1). Words
 * that are not flags are the command's arguments, in order, wherever they
 * stand. The parser prints nothing: usage errors come back as a sentence
 * naming the flag ("--timeout needs a value", "unknown flag \"--x\"").
 */
#ifndef CAIRN_CLI_FLAGS_H
#define CAIRN_CLI_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

/* One flag a command accepts. */
typedef struct cairn_cli_flag {
    /* The name without dashes ("serf-rpc"). */
    const char *name;
    /* A one-letter alias ('v' for -v), or 0. */
    char alias;
    /* The flag takes a value (else it is a switch and refuses "=value"). */
    bool value;
    /* The command's own number for it, passed to the callback. */
    int id;
} cairn_cli_flag;

/* One flag occurrence: flag is its canonical spelling ("--serf-rpc"),
 * value its value (NULL for switches). Return 0, or a usage error: write a
 * sentence naming the flag into why and return 2 (or another exit status,
 * e.g. 1 when out of memory). */
typedef int (*cairn_cli_flag_fn)(int id, const char *flag, const char *value, void *userdata,
                                 char *why, size_t why_len);

/* cairn__cli_flags_parse walks argv[1..argc) against defs (ndefs entries),
 * calling fn for each flag in order and storing up to max_args arguments
 * into args (*ret_nargs of them). Returns 0; -1 for --help or -h; 2 for a
 * usage error (unknown flag, missing value, value given to a switch, too
 * many arguments) with why filled; or what fn returned. */
int cairn__cli_flags_parse(int argc, char **argv, const cairn_cli_flag *defs, size_t ndefs,
                           cairn_cli_flag_fn fn, void *userdata, const char **args, size_t max_args,
                           size_t *ret_nargs, char *why, size_t why_len);

/* cairn__cli_flags_parse_go: the same, but every switch is a Go bool flag
 * as in the serf CLI: it also takes "=true"/"=false" (-coalesce=false) and
 * the callback gets "true" or "false" as its value (a bare -x is "true";
 * "-x false" is not accepted, as in Go). */
int cairn__cli_flags_parse_go(int argc, char **argv, const cairn_cli_flag *defs, size_t ndefs,
                              cairn_cli_flag_fn fn, void *userdata, const char **args,
                              size_t max_args, size_t *ret_nargs, char *why, size_t why_len);

#endif
