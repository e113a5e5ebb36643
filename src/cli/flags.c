/* The `cairn` program's flag parser (cli/flags.h).
 *
 * One table-driven parser instead of one per command (a hand table in
 * `agent`, getopt_long in the routing commands, string compares in `wire`
 * once): the spellings are Serf's (-node=x) and GNU's (--node x) at once,
 * and every error names the flag the same way.
 */
#include "cli/flags.h"

#include <stdio.h>
#include <string.h>

static const cairn_cli_flag *find(const cairn_cli_flag *defs, size_t ndefs, const char *name,
                                  size_t len)
{
    for (size_t i = 0; i < ndefs; i++)
        if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0)
            return &defs[i];
    if (len == 1)
        for (size_t i = 0; i < ndefs; i++)
            if (defs[i].alias && defs[i].alias == name[0])
                return &defs[i];
    return NULL;
}

static int parse(int argc, char **argv, const cairn_cli_flag *defs, size_t ndefs,
                 cairn_cli_flag_fn fn, void *userdata, const char **args, size_t max_args,
                 size_t *ret_nargs, char *why, size_t why_len, bool go_bools)
{
    size_t nargs = 0;
    bool only_args = false;
    why[0] = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_args || arg[0] != '-' || arg[1] == 0) {
            if (nargs == max_args) {
                snprintf(why, why_len, "unexpected argument \"%s\"", arg);
                return 2;
            }
            args[nargs++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_args = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "-help") == 0)
            return -1;
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        const cairn_cli_flag *d = find(defs, ndefs, name, eq ? (size_t)(eq - name) : strlen(name));
        if (!d) {
            snprintf(why, why_len, "unknown flag \"%s\"", arg);
            return 2;
        }
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", d->name);
        const char *value = NULL;
        if (go_bools && !d->value) {
            static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
            static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
            value = eq ? NULL : "true";
            for (size_t k = 0; eq && k < sizeof yes / sizeof yes[0]; k++) {
                if (strcmp(eq + 1, yes[k]) == 0)
                    value = "true";
                if (strcmp(eq + 1, no[k]) == 0)
                    value = "false";
            }
            if (value == NULL) {
                snprintf(why, why_len, "%s takes true or false (got \"%s\")", flag, eq + 1);
                return 2;
            }
            int rc = fn(d->id, flag, value, userdata, why, why_len);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!d->value && eq) {
            snprintf(why, why_len, "%s takes no value (got \"%s\")", flag, eq + 1);
            return 2;
        }
        if (d->value) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                snprintf(why, why_len, "%s needs a value", flag);
                return 2;
            }
        }
        int rc = fn(d->id, flag, value, userdata, why, why_len);
        if (rc != 0)
            return rc;
    }
    *ret_nargs = nargs;
    return 0;
}

int cairn__cli_flags_parse(int argc, char **argv, const cairn_cli_flag *defs, size_t ndefs,
                           cairn_cli_flag_fn fn, void *userdata, const char **args, size_t max_args,
                           size_t *ret_nargs, char *why, size_t why_len)
{
    return parse(argc, argv, defs, ndefs, fn, userdata, args, max_args, ret_nargs, why, why_len,
                 false);
}

int cairn__cli_flags_parse_go(int argc, char **argv, const cairn_cli_flag *defs, size_t ndefs,
                              cairn_cli_flag_fn fn, void *userdata, const char **args,
                              size_t max_args, size_t *ret_nargs, char *why, size_t why_len)
{
    return parse(argc, argv, defs, ndefs, fn, userdata, args, max_args, ret_nargs, why, why_len,
                 true);
}
