/* The Serf CLI's commands in `cairn`: members, join, leave, force-leave,
 * event, query, reachability, monitor, tags, info, rtt, keys, keygen.
 *
 * Each command is one short session like `serf`'s own: one connection to
 * the agent's RPC address (--rpc-addr / --serf-rpc, else SERF_RPC_ADDR,
 * else 127.0.0.1:7373), the handshake and auth (--rpc-auth, else
 * SERF_RPC_AUTH), one or a few requests, output, exit. Nothing reconnects.
 * Output and exit status follow the serf CLI (its cmd/serf/command sources):
 * the same sentences, 0 on success, 1 when the agent refused or could not
 * be reached, and (unlike serf, which exits 1) 2 for usage errors. Every
 * request has a deadline (the client's watchdog); a query runs until the
 * agent's "done" record (its own timeout) and a monitor until Ctrl-C or
 * until the agent goes away, each also bounded by a safety timer.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "agent/log_sink.h"
#include "base/base64.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/loop_uv.h"
#include "cairn/serfrpc.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/serf_fmt.h"

/* The Go client's dial and request timeout. */
#define RPC_TIMEOUT (10 * CAIRN_SEC)
/* A graceful leave waits for the leave to propagate before answering. */
#define LEAVE_TIMEOUT (60 * CAIRN_SEC)
/* How long past its own timeout a query may run before we give up on the
 * agent's done record (the agent's default timeout is at most ~20 s for a
 * million members). */
#define QUERY_SLACK (30 * CAIRN_SEC)
/* After Ctrl-C, how long a monitor waits for the agent to confirm the stop. */
#define STOP_WAIT (2 * CAIRN_SEC)
/* Repeated flags (-tag, -node, -set, -delete) and arguments. */
#define MAX_LIST 256

enum cmd {
    C_MEMBERS,
    C_JOIN,
    C_LEAVE,
    C_FORCE_LEAVE,
    C_EVENT,
    C_QUERY,
    C_REACH,
    C_MONITOR,
    C_TAGS,
    C_INFO,
    C_RTT,
    C_KEYS,
    C_KEYGEN,
};

struct opts {
    enum cmd cmd;
    const char *name;
    cairn_addr rpc;
    const char *rpc_str;
    const char *auth;
    bool json, verbose, detailed, replay, prune, coalesce, no_ack, list;
    const char *status_re, *name_re, *log_level, *install, *use, *remove;
    double timeout_s;
    cairn_time qtimeout;
    unsigned relay;
    /* -tag / -set: key=value strings split into tags. */
    cairn_tag tags[MAX_LIST];
    size_t ntags;
    /* -node / -delete. */
    const char *list_vals[MAX_LIST];
    size_t nlist;
    const char *args[MAX_LIST];
    size_t nargs;
};

struct session {
    struct opts *o;
    uv_loop_t uv;
    cairn_loop *loop;
    cairn_serfrpc *c;
    cairn_logger logger;
    cairn_log_sink verbose_sink;
    cairn_timer *deadline;
    uv_signal_t sigint, sigterm;
    bool signals;
    bool started, done, quitting;
    int status;
    /* rtt: the second node's name (from stats when not given). */
    char self[CAIRN_NAME_MAX + 1];
    cairn_coord coords[2];
    int ncoords;
    /* query / reachability. */
    uint64_t seq;
    bool acked;
    int num_acks, num_resp;
    json_t *j_acks, *j_resp;
    char **live, **acks_from;
    size_t nlive, nacks_from, nmembers;
    bool dups;
    cairn_time started_at, last_at;
    /* monitor. */
    uint64_t stream_seq, monitor_seq;
    int open_streams;
};

/* ---- output ---- */

static void fail(struct session *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct session *s, int status, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", msg);
    /* Serf's sentence, then what to do about it. */
    if (strstr(msg, "Authentication required") != NULL &&
        (s->o->auth == NULL || s->o->auth[0] == '\0'))
        fprintf(stderr, "cairn: the agent requires an RPC auth key: pass --rpc-auth KEY (or set "
                        "SERF_RPC_AUTH)\n");
    s->status = status;
    s->done = true;
}

static void finish(struct session *s, int status)
{
    s->status = status;
    s->done = true;
}

/* print_go_json: Go's json.MarshalIndent(v, "", "  ") then a newline. */
static void print_go_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text != NULL) {
        puts(text);
        free(text);
    }
    json_decref(j);
}

/* print_columns: columnize.SimpleFormat of lines, then a newline. */
static void print_columns(FILE *f, char **lines, size_t n)
{
    char *t = cairn__cli_columnize((const char *const *)lines, n);
    if (t != NULL) {
        fprintf(f, "%s\n", t);
        free(t);
    }
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* json_text: a JSON string of bytes, invalid UTF-8 replaced by U+FFFD (as
 * Go's encoder does). */
static json_t *json_text(const uint8_t *p, size_t n)
{
    json_t *j = json_stringn((const char *)p, n);
    if (j != NULL)
        return j;
    char *buf = malloc(3 * n + 1);
    size_t o = 0;
    if (buf == NULL)
        return json_string("");
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            buf[o++] = (char)p[i];
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j != NULL ? j : json_string("");
}

/* ---- usage ---- */

struct cmd_info {
    const char *name;
    const char *args;
    const char *what;
    const char *flags;
};

#define RPC_FLAGS                                                                                  \
    "  --rpc-addr HOST:PORT  the Serf agent's RPC address (also --serf-rpc; default\n"             \
    "                        $SERF_RPC_ADDR, else 127.0.0.1:7373)\n"                               \
    "  --rpc-auth KEY        the agent's RPC auth key (default $SERF_RPC_AUTH)\n"

static const struct cmd_info infos[] = {
    [C_MEMBERS] = {"members", "",
                   "Lists the members the Serf agent knows: name, address, status, tags.\n",
                   "  --status REGEXP       only members whose status matches (anchored)\n"
                   "  --name REGEXP         only members whose name matches (anchored)\n"
                   "  --tag KEY=REGEXP      only members whose tag KEY matches (repeatable)\n"
                   "  --role REGEXP         the same as --tag role=REGEXP (deprecated in Serf)\n"
                   "  --detailed            also the protocol versions\n"
                   "  --format text|json    output format (default text)\n"
                   "  --timeout SECONDS     how long to wait for the agent (default 10)\n"
                   "  -v, --verbose         log protocol details to stderr\n"},
    [C_JOIN] = {"join", " ADDRESS...", "Tells the agent to join the cluster at ADDRESS(es).\n",
                "  --replay              replay past user events to this agent\n"},
    [C_LEAVE] = {"leave", "", "Makes the agent leave the cluster gracefully and shut down.\n", ""},
    [C_FORCE_LEAVE] = {"force-leave", " NODE", "Forces a failed member into the left state.\n",
                       "  --prune               also remove it from the member list now\n"},
    [C_EVENT] = {"event", " NAME [PAYLOAD]", "Sends a custom user event through the cluster.\n",
                 "  --coalesce[=BOOL]     let agents coalesce events of NAME (default true)\n"},
    [C_QUERY] = {"query", " NAME [PAYLOAD]",
                 "Sends a query and prints the acks and responses until its timeout.\n",
                 "  --node NAME           only this node (repeatable)\n"
                 "  --tag KEY=REGEXP      only nodes whose tag KEY matches (repeatable)\n"
                 "  --no-ack              do not ask the nodes for acks\n"
                 "  --timeout DURATION    the query timeout (\"2s\", \"500ms\"; default: the\n"
                 "                        agent's)\n"
                 "  --relay-factor N      nodes that relay each response (0-255)\n"
                 "  --format text|json    output format (default text)\n"},
    [C_REACH] = {"reachability", "", "Checks that every live member answers a ping query.\n",
                 "  --verbose             print each ack and the timings\n"},
    [C_MONITOR] = {"monitor", "", "Streams the agent's log and events until Ctrl-C.\n",
                   "  --log-level LEVEL     trace, debug, info (default), warn or err\n"},
    [C_TAGS] = {"tags", "", "Sets or deletes tags of the agent's own node.\n",
                "  --set KEY=VALUE       set a tag (repeatable)\n"
                "  --delete KEY          delete a tag (repeatable)\n"},
    [C_INFO] = {"info", "", "Prints the agent's statistics.\n",
                "  --format text|json    output format (default text)\n"},
    [C_RTT] = {"rtt", " NODE1 [NODE2]",
               "Estimates the round trip time between two nodes (NODE2 defaults to the\n"
               "agent's own node) from their network coordinates.\n",
               ""},
    [C_KEYS] = {"keys", "", "Manages the cluster's gossip encryption keys.\n",
                "  --list                list the installed keys and how many nodes have each\n"
                "  --install KEY         install KEY (base64) on every member\n"
                "  --use KEY             make KEY the primary key on every member\n"
                "  --remove KEY          remove KEY from every member\n"},
    [C_KEYGEN] = {"keygen", "", "Prints a new random 32-byte encryption key (base64).\n", ""},
};

static void usage(FILE *out, enum cmd cmd)
{
    const struct cmd_info *in = &infos[cmd];
    fprintf(out, "usage: cairn %s [options]%s\n\n%s\noptions:\n%s", in->name, in->args, in->what,
            in->flags);
    if (cmd != C_KEYGEN)
        fputs(RPC_FLAGS, out);
    fputs("  -h, --help            this text\n", out);
}

/* ---- flags ---- */

enum {
    F_RPC,
    F_AUTH,
    F_FORMAT,
    F_TIMEOUT,
    F_VERBOSE,
    F_STATUS,
    F_NAME,
    F_TAG,
    F_ROLE,
    F_DETAILED,
    F_REPLAY,
    F_PRUNE,
    F_COALESCE,
    F_NODE,
    F_NO_ACK,
    F_QTIMEOUT,
    F_RELAY,
    F_LOG_LEVEL,
    F_SET,
    F_DELETE,
    F_LIST,
    F_INSTALL,
    F_USE,
    F_REMOVE,
};

#define RPC_DEFS                                                                                   \
    {"rpc-addr", 0, true, F_RPC}, {"serf-rpc", 0, true, F_RPC},                                    \
    {                                                                                              \
        "rpc-auth", 0, true, F_AUTH                                                                \
    }

static const cairn_cli_flag members_defs[] = {
    RPC_DEFS,
    {"format", 0, true, F_FORMAT},
    {"timeout", 0, true, F_TIMEOUT},
    {"verbose", 'v', false, F_VERBOSE},
    {"status", 0, true, F_STATUS},
    {"name", 0, true, F_NAME},
    {"tag", 0, true, F_TAG},
    {"role", 0, true, F_ROLE},
    {"detailed", 0, false, F_DETAILED},
};
static const cairn_cli_flag join_defs[] = {RPC_DEFS, {"replay", 0, false, F_REPLAY}};
static const cairn_cli_flag plain_defs[] = {RPC_DEFS};
static const cairn_cli_flag force_defs[] = {RPC_DEFS, {"prune", 0, false, F_PRUNE}};
static const cairn_cli_flag event_defs[] = {RPC_DEFS, {"coalesce", 0, false, F_COALESCE}};
static const cairn_cli_flag query_defs[] = {
    RPC_DEFS,
    {"node", 0, true, F_NODE},
    {"tag", 0, true, F_TAG},
    {"no-ack", 0, false, F_NO_ACK},
    {"timeout", 0, true, F_QTIMEOUT},
    {"relay-factor", 0, true, F_RELAY},
    {"format", 0, true, F_FORMAT},
};
static const cairn_cli_flag reach_defs[] = {RPC_DEFS, {"verbose", 0, false, F_VERBOSE}};
static const cairn_cli_flag monitor_defs[] = {RPC_DEFS, {"log-level", 0, true, F_LOG_LEVEL}};
static const cairn_cli_flag tags_defs[] = {
    RPC_DEFS, {"set", 0, true, F_SET}, {"delete", 0, true, F_DELETE}};
static const cairn_cli_flag info_defs[] = {RPC_DEFS, {"format", 0, true, F_FORMAT}};
static const cairn_cli_flag keys_defs[] = {
    RPC_DEFS,
    {"list", 0, false, F_LIST},
    {"install", 0, true, F_INSTALL},
    {"use", 0, true, F_USE},
    {"remove", 0, true, F_REMOVE},
};

#define DEFS(a) a, sizeof a / sizeof a[0]

static bool is_true(const char *v)
{
    return v == NULL || strcmp(v, "true") == 0;
}

/* add_tag: a KEY=VALUE (or KEY=REGEXP) flag value into o->tags. */
static int add_tag(struct opts *o, const char *flag, const char *value, char *why, size_t wl)
{
    size_t klen;
    if (o->ntags == MAX_LIST)
        return snprintf(why, wl, "%s: more than %d given", flag, MAX_LIST), 2;
    if (!cairn__cli_split_tag(value, &klen))
        return snprintf(why, wl, "%s: invalid tag: '%.64s' (want KEY=VALUE)", flag, value), 2;
    char *key = strndup(value, klen);
    if (key == NULL)
        return snprintf(why, wl, "out of memory"), 1;
    o->tags[o->ntags].key = key;
    o->tags[o->ntags].value = value + klen + 1;
    o->ntags++;
    return 0;
}

static int on_flag(int id, const char *flag, const char *value, void *ud, char *why, size_t wl)
{
    struct opts *o = ud;
    switch (id) {
    case F_RPC:
        o->rpc_str = value;
        break;
    case F_AUTH:
        o->auth = value;
        break;
    case F_FORMAT:
        if (strcmp(value, "json") == 0)
            o->json = true;
        else if (strcmp(value, "text") == 0)
            o->json = false;
        else
            return snprintf(why, wl, "%s must be text or json, not \"%.64s\"", flag, value), 2;
        break;
    case F_TIMEOUT: {
        char *end;
        double v = strtod(value, &end);
        if (end == value || *end != '\0' || !(v > 0))
            return snprintf(why, wl, "%s \"%.64s\" must be a number of seconds more than 0", flag,
                            value),
                   2;
        if (v > 1e7)
            return snprintf(why, wl, "%s \"%.64s\" is more than the limit of 10000000 seconds",
                            flag, value),
                   2;
        o->timeout_s = v;
        break;
    }
    case F_VERBOSE:
        o->verbose = is_true(value);
        break;
    case F_STATUS:
        o->status_re = value;
        break;
    case F_NAME:
        o->name_re = value;
        break;
    case F_TAG:
    case F_SET:
        return add_tag(o, flag, value, why, wl);
    case F_ROLE:
        if (o->ntags == MAX_LIST)
            return snprintf(why, wl, "%s: too many tag filters", flag), 2;
        o->tags[o->ntags].key = strdup("role");
        o->tags[o->ntags].value = value;
        if (o->tags[o->ntags].key == NULL)
            return snprintf(why, wl, "out of memory"), 1;
        o->ntags++;
        printf("Deprecation warning: 'Role' has been replaced with 'Tags'\n");
        break;
    case F_DETAILED:
        o->detailed = is_true(value);
        break;
    case F_REPLAY:
        o->replay = is_true(value);
        break;
    case F_PRUNE:
        o->prune = is_true(value);
        break;
    case F_COALESCE:
        o->coalesce = is_true(value);
        break;
    case F_NO_ACK:
        o->no_ack = is_true(value);
        break;
    case F_LIST:
        o->list = is_true(value);
        break;
    case F_NODE:
    case F_DELETE:
        if (o->nlist == MAX_LIST)
            return snprintf(why, wl, "%s: more than %d given", flag, MAX_LIST), 2;
        o->list_vals[o->nlist++] = value;
        break;
    case F_QTIMEOUT:
        if (!cairn__cli_parse_duration(value, &o->qtimeout))
            return snprintf(why, wl,
                            "%s \"%.64s\" is not a duration (like 2s, 500ms, 1m30s, or "
                            "seconds)",
                            flag, value),
                   2;
        break;
    case F_RELAY: {
        char *end;
        long v = strtol(value, &end, 10);
        if (end == value || *end != '\0' || v < 0 || v > 255)
            return snprintf(why, wl, "%s \"%.64s\": Relay factor must be between 0 and 255", flag,
                            value),
                   2;
        o->relay = (unsigned)v;
        break;
    }
    case F_LOG_LEVEL:
        o->log_level = value;
        break;
    case F_INSTALL:
        o->install = value;
        break;
    case F_USE:
        o->use = value;
        break;
    default: /* F_REMOVE */
        o->remove = value;
        break;
    }
    return 0;
}

/* check_args: the argument count and the flags' combinations per command;
 * a sentence in why when wrong. */
static bool check_args(struct opts *o, char *why, size_t wl)
{
    size_t n = o->nargs;
    switch (o->cmd) {
    case C_JOIN:
        if (n == 0)
            return snprintf(why, wl, "At least one address to join must be specified."), false;
        return true;
    case C_FORCE_LEAVE:
        if (n != 1)
            return snprintf(why, wl, "A node name must be specified to force leave."), false;
        return true;
    case C_EVENT:
    case C_QUERY:
        if (n < 1)
            return snprintf(why, wl, "A%s name must be specified.",
                            o->cmd == C_EVENT ? "n event" : " query"),
                   false;
        if (n > 2)
            return snprintf(why, wl,
                            "Too many command line arguments. Only a name and payload must be "
                            "specified."),
                   false;
        return true;
    case C_RTT:
        if (n < 1 || n > 2)
            return snprintf(why, wl, "One or two node names must be specified"), false;
        return true;
    case C_TAGS:
        if (o->ntags == 0 && o->nlist == 0)
            return snprintf(why, wl, "give --set KEY=VALUE and/or --delete KEY"), false;
        break;
    case C_KEYS: {
        int k = (o->list ? 1 : 0) + (o->install ? 1 : 0) + (o->use ? 1 : 0) + (o->remove ? 1 : 0);
        if (k > 1)
            return snprintf(why, wl, "Only one of -install, -use, -remove, or -list allowed"),
                   false;
        if (k == 0)
            return snprintf(why, wl, "give one of --list, --install, --use or --remove"), false;
        break;
    }
    default:
        break;
    }
    if (n > 0)
        return snprintf(why, wl, "unexpected argument \"%.64s\"", o->args[0]), false;
    return true;
}

/* parse: 0 to run, 2 after a usage error (printed), -1 after --help. */
static int parse(int argc, char **argv, struct opts *o)
{
    static const struct {
        const cairn_cli_flag *defs;
        size_t n;
    } tables[] = {
        [C_MEMBERS] = {DEFS(members_defs)},
        [C_JOIN] = {DEFS(join_defs)},
        [C_LEAVE] = {DEFS(plain_defs)},
        [C_FORCE_LEAVE] = {DEFS(force_defs)},
        [C_EVENT] = {DEFS(event_defs)},
        [C_QUERY] = {DEFS(query_defs)},
        [C_REACH] = {DEFS(reach_defs)},
        [C_MONITOR] = {DEFS(monitor_defs)},
        [C_TAGS] = {DEFS(tags_defs)},
        [C_INFO] = {DEFS(info_defs)},
        [C_RTT] = {DEFS(plain_defs)},
        [C_KEYS] = {DEFS(keys_defs)},
        [C_KEYGEN] = {NULL, 0},
    };
    char why[512];
    const char *env_addr = getenv("SERF_RPC_ADDR");
    o->rpc_str = env_addr != NULL && env_addr[0] != '\0' ? env_addr : "127.0.0.1:7373";
    o->auth = getenv("SERF_RPC_AUTH");
    o->coalesce = true;
    o->timeout_s = 10;
    int rc = cairn__cli_flags_parse_go(argc, argv, tables[o->cmd].defs, tables[o->cmd].n, on_flag,
                                       o, o->args, MAX_LIST, &o->nargs, why, sizeof why);
    if (rc == -1) {
        usage(stdout, o->cmd);
        return -1;
    }
    if (rc == 0 && o->cmd != C_KEYGEN && cairn_addr_parse(o->rpc_str, 7373, &o->rpc) != 0) {
        snprintf(why, sizeof why, "--rpc-addr \"%.64s\" is not HOST:PORT", o->rpc_str);
        rc = 2;
    }
    if (rc == 0 && !check_args(o, why, sizeof why))
        rc = 2;
    if (rc == 0)
        return 0;
    fprintf(stderr, "cairn %s: %s\n\n", o->name, why);
    usage(stderr, o->cmd);
    return rc;
}

/* ---- members ---- */

static void on_members(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    const struct opts *o = s->o;
    if (r->status != 0) {
        fail(s, 1, "Error retrieving members: %s", r->error);
        return;
    }
    if (o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < r->nmembers; i++) {
            const cairn_member *m = &r->members[i];
            char ip[CAIRN_ADDR_STRLEN];
            cairn_addr_format(&m->addr, false, ip, sizeof ip);
            json_t *tags = json_object();
            for (size_t t = 0; t < m->ntags; t++)
                json_object_set_new(tags, m->tags[t].key, json_string(m->tags[t].value));
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:i, s:s, s:o, s:{s:i, s:i, s:i}}", "name", m->name,
                               "addr", ip, "port", (json_int_t)m->addr.port, "status",
                               cairn_member_status_name(m->status), "tags", tags, "protocol", "min",
                               (json_int_t)m->delegate_min, "max", (json_int_t)m->delegate_max,
                               "version", (json_int_t)m->delegate_cur));
        }
        char *text = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (text != NULL)
            puts(text);
        free(text);
        json_decref(arr);
        finish(s, 0);
        return;
    }
    char **lines = calloc(r->nmembers + 1, sizeof *lines);
    if (lines == NULL) {
        fail(s, 1, "out of memory");
        return;
    }
    for (size_t i = 0; i < r->nmembers; i++) {
        const cairn_member *m = &r->members[i];
        char addr[CAIRN_ADDR_STRLEN];
        cairn_addr_format(&m->addr, true, addr, sizeof addr);
        size_t len = strlen(m->name) + strlen(addr) + 256;
        for (size_t t = 0; t < m->ntags; t++)
            len += strlen(m->tags[t].key) + strlen(m->tags[t].value) + 2;
        char *line = malloc(len);
        if (line == NULL)
            break;
        size_t off = (size_t)snprintf(line, len, "%s|%s|%s|", m->name, addr,
                                      cairn_member_status_name(m->status));
        for (size_t t = 0; t < m->ntags; t++)
            off += (size_t)snprintf(line + off, len - off, "%s%s=%s", t ? "," : "", m->tags[t].key,
                                    m->tags[t].value);
        if (o->detailed)
            snprintf(
                line + off, len - off, "|Protocol Version: %u|Available Protocol Range: [%u, %u]",
                (unsigned)m->delegate_cur, (unsigned)m->delegate_min, (unsigned)m->delegate_max);
        lines[i] = line;
    }
    print_columns(stdout, lines, r->nmembers);
    free_lines(lines, r->nmembers);
    finish(s, 0);
}

static int start_members(struct session *s)
{
    const struct opts *o = s->o;
    if (o->status_re == NULL && o->name_re == NULL && o->ntags == 0)
        return cairn_serfrpc_members(s->c, on_members, s);
    return cairn_serfrpc_members_filtered(s->c, o->name_re, o->status_re, o->tags, o->ntags,
                                          on_members, s);
}

/* ---- join, leave, force-leave, event, tags ---- */

static void on_join(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error joining the cluster: %s", r->error);
        return;
    }
    printf("Successfully joined cluster by contacting %d nodes.\n", (int)r->num_joined);
    finish(s, 0);
}

static void on_leave(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error leaving: %s", r->error);
        return;
    }
    printf("Graceful leave complete\n");
    finish(s, 0);
}

static void on_force_leave(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0)
        fail(s, 1, "Error force leaving: %s", r->error);
    else
        finish(s, 0);
}

static void on_event(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error sending event: %s", r->error);
        return;
    }
    printf("Event '%s' dispatched! Coalescing enabled: %s\n", s->o->args[0],
           s->o->coalesce ? "true" : "false");
    finish(s, 0);
}

static void on_tags(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error setting tags: %s", r->error);
        return;
    }
    printf("Successfully updated agent tags\n");
    finish(s, 0);
}

/* payload_arg: the optional PAYLOAD argument (NULL when absent). */
static const uint8_t *payload_arg(const struct opts *o, size_t *ret_len)
{
    *ret_len = o->nargs == 2 ? strlen(o->args[1]) : 0;
    return o->nargs == 2 ? (const uint8_t *)o->args[1] : NULL;
}

/* ---- query and reachability ---- */

static bool list_has(char **l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], name) == 0)
            return true;
    return false;
}

static bool list_add(char ***l, size_t *n, const char *name)
{
    char **nl = realloc(*l, (*n + 1) * sizeof *nl);
    if (nl == NULL)
        return false;
    *l = nl;
    if ((nl[*n] = strdup(name)) == NULL)
        return false;
    (*n)++;
    return true;
}

static void query_finished(struct session *s)
{
    const struct opts *o = s->o;
    if (o->json) {
        json_t *j = json_object();
        json_object_set(j, "Acks", s->j_acks != NULL ? s->j_acks : json_null());
        json_object_set(j, "Responses", s->j_resp);
        print_go_json(j);
    } else {
        if (!o->no_ack)
            printf("Total Acks: %d\n", s->num_acks);
        printf("Total Responses: %d\n", s->num_resp);
    }
    finish(s, 0);
}

static void reach_finished(struct session *s)
{
    if (s->o->verbose) {
        double total = cairn_time_seconds(cairn_loop_now(s->loop) - s->started_at);
        double last = cairn_time_seconds(s->last_at - s->started_at);
        printf("Query time: %0.2f sec, time to last response: %0.2f sec\n", total, last);
    }
    int exit_status = 0;
    if (s->dups) {
        printf("Duplicate responses means there is a misconfiguration. Verify that node names "
               "are unique.\n");
        exit_status = 1;
    }
    static const char troubleshooting[] =
        "\nTroubleshooting tips:\n"
        "* Ensure that the bind addr:port is accessible by all other nodes\n"
        "* If an advertise address is set, ensure it routes to the bind address\n"
        "* Check that no nodes are behind a NAT\n"
        "* If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP "
        "and TCP)\n"
        "* Verify networking equipment is functional\n";
    size_t n = s->nlive;
    size_t acks = (size_t)s->num_acks;
    if (acks == n) {
        printf("Successfully contacted all live nodes\n");
    } else if (acks > n) {
        printf("Received more acks than live nodes! Acks from non-live nodes:\n");
        for (size_t i = 0; i < s->nacks_from; i++)
            if (!list_has(s->live, s->nlive, s->acks_from[i]))
                printf("\t%s\n", s->acks_from[i]);
        printf("This could mean Serf is detecting false-failures due to a misconfiguration or "
               "network issue.\n%s",
               troubleshooting);
        exit_status = 1;
    } else {
        printf("Received less acks than live nodes! Missing acks from:\n");
        for (size_t i = 0; i < s->nlive; i++)
            if (!list_has(s->acks_from, s->nacks_from, s->live[i]))
                printf("\t%s\n", s->live[i]);
        printf("This could mean Serf gossip packets are being lost due to a misconfiguration or "
               "network issue.\n%s",
               troubleshooting);
        exit_status = 1;
    }
    finish(s, exit_status);
}

static void on_query_ack(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error sending query: %s", r->error);
        return;
    }
    s->acked = true;
    s->started_at = s->last_at = cairn_loop_now(s->loop);
    if (s->o->cmd == C_REACH)
        printf("Starting reachability test...\n");
    else if (!s->o->json)
        printf("Query '%s' dispatched\n", s->o->args[0]);
}

static void on_query_rec(cairn_serfrpc *c, const cairn_serfrpc_query_record *rec, int status,
                         void *ud)
{
    struct session *s = ud;
    const struct opts *o = s->o;
    if (s->done)
        return;
    if (rec == NULL) {
        if (status != 0 && s->acked)
            fail(s, 1, "Error: the query ended early: %s", cairn_strerror(status));
        else if (status == 0)
            o->cmd == C_REACH ? reach_finished(s) : query_finished(s);
        return;
    }
    if (rec->type == CAIRN_SERFRPC_QUERY_DONE)
        return; /* the end call follows */
    if (rec->from[0] == '\0') {
        /* The serf CLI reads an ack or response from "" as the end (its
         * channels yield "" once closed); relayed records can carry it. */
        o->cmd == C_REACH ? reach_finished(s) : query_finished(s);
        return;
    }
    if (o->cmd == C_REACH) {
        if (rec->type != CAIRN_SERFRPC_QUERY_ACK)
            return;
        if (o->verbose)
            printf("\tAck from '%s'\n", rec->from);
        s->num_acks++;
        if (list_has(s->acks_from, s->nacks_from, rec->from)) {
            s->dups = true;
            printf("Duplicate response from '%s'\n", rec->from);
        } else if (!list_add(&s->acks_from, &s->nacks_from, rec->from)) {
            fail(s, 1, "out of memory");
        }
        s->last_at = cairn_loop_now(s->loop);
        return;
    }
    if (rec->type == CAIRN_SERFRPC_QUERY_ACK) {
        s->num_acks++;
        if (o->json) {
            if (s->j_acks == NULL)
                s->j_acks = json_array();
            json_array_append_new(s->j_acks, json_string(rec->from));
        } else {
            printf("Ack from '%s'\n", rec->from);
        }
        return;
    }
    s->num_resp++;
    size_t n = rec->payload_len;
    if (o->json) {
        json_object_set_new(s->j_resp, rec->from, json_text(rec->payload, n));
        return;
    }
    if (n > 0 && rec->payload[n - 1] == '\n')
        n--;
    printf("Response from '%s': ", rec->from);
    if (n > 0)
        fwrite(rec->payload, 1, n, stdout);
    putchar('\n');
}

static int start_query(struct session *s, const char *name, const uint8_t *payload, size_t plen)
{
    const struct opts *o = s->o;
    cairn_serfrpc_query_params q;
    memset(&q, 0, sizeof q);
    q.name = name;
    q.payload = payload;
    q.payload_len = plen;
    if (o->cmd == C_QUERY) {
        q.filter_nodes = o->list_vals;
        q.nfilter_nodes = o->nlist;
        q.filter_tags = o->tags;
        q.nfilter_tags = o->ntags;
        q.relay_factor = (uint8_t)o->relay;
        q.timeout = o->qtimeout;
        q.request_ack = !o->no_ack;
    } else {
        q.request_ack = true;
    }
    s->j_resp = json_object();
    /* The agent ends the query at its deadline with a done record; the
     * safety timer covers an agent that never sends it. */
    cairn_timer_start(s->deadline, (q.timeout > 0 ? q.timeout : 0) + QUERY_SLACK + RPC_TIMEOUT);
    return cairn_serfrpc_query(s->c, &q, on_query_ack, on_query_rec, s, &s->seq);
}

static void on_reach_members(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error getting members: %s", r->error);
        return;
    }
    for (size_t i = 0; i < r->nmembers; i++)
        if (r->members[i].status == CAIRN_MEMBER_ALIVE &&
            !list_has(s->live, s->nlive, r->members[i].name) &&
            !list_add(&s->live, &s->nlive, r->members[i].name)) {
            fail(s, 1, "out of memory");
            return;
        }
    printf("Total members: %zu, live members: %zu\n", r->nmembers, s->nlive);
    int rc = start_query(s, "_serf_ping", NULL, 0);
    if (rc != 0)
        fail(s, 1, "Error sending query: %s", cairn_strerror(rc));
}

/* ---- monitor ---- */

static void print_bytes_go(const uint8_t *p, size_t n)
{
    if (p == NULL || n == 0) {
        printf("[]byte(nil)");
        return;
    }
    printf("[]byte{");
    for (size_t i = 0; i < n; i++)
        printf("%s0x%x", i ? ", " : "", p[i]);
    printf("}");
}

static void monitor_lost(struct session *s)
{
    if (s->quitting || s->done)
        return;
    printf("\nRemote side ended the monitor! This usually means that the\n"
           "remote side has exited or crashed.\n");
    finish(s, 1);
}

static void on_monitor_event(cairn_serfrpc *c, const cairn_event *ev, int status, void *ud)
{
    struct session *s = ud;
    if (ev == NULL) {
        if (--s->open_streams <= 0 && s->quitting)
            finish(s, 0);
        else
            monitor_lost(s);
        return;
    }
    char q[CAIRN_SERFRPC_MAX_STRING * 4 + 8];
    printf("Event Info:\n\tEvent: \"%s\"\n", cairn_event_type_name(ev->type));
    if (ev->type <= CAIRN_EVENT_MEMBER_REAP) {
        printf("\tMembers: ");
        for (size_t i = 0; i < ev->nmembers; i++) {
            char addr[CAIRN_ADDR_STRLEN];
            cairn_addr_format(&ev->members[i].addr, true, addr, sizeof addr);
            printf("%s%s %s %s", i ? ", " : "", ev->members[i].name, addr,
                   cairn_member_status_name(ev->members[i].status));
        }
        printf("\n");
        return;
    }
    cairn__cli_quote(ev->name != NULL ? ev->name : "", q, sizeof q);
    if (ev->type == CAIRN_EVENT_QUERY)
        printf("\tID: 0x%llx\n", (unsigned long long)ev->query_id);
    else
        printf("\tCoalesce: %s\n", ev->coalesce ? "true" : "false");
    printf("\tLTime: 0x%llx\n\tName: %s\n\tPayload: ", (unsigned long long)ev->ltime, q);
    print_bytes_go(ev->payload, ev->payload_len);
    printf("\n");
}

static void on_monitor_line(cairn_serfrpc *c, const char *line, int status, void *ud)
{
    struct session *s = ud;
    if (line == NULL) {
        if (--s->open_streams <= 0 && s->quitting)
            finish(s, 0);
        else
            monitor_lost(s);
        return;
    }
    printf("%s\n", line);
}

static void on_stream_ack(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0 && !s->done)
        fail(s, 1, "Error starting stream: %s", r->error);
}

static void on_monitor_ack(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0 && !s->done)
        fail(s, 1, "Error starting monitor: %s", r->error);
}

static int start_monitor(struct session *s)
{
    int rc = cairn_serfrpc_stream(s->c, "*", on_stream_ack, on_monitor_event, s, &s->stream_seq);
    if (rc != 0)
        return rc;
    s->open_streams = 1;
    rc = cairn_serfrpc_monitor(s->c, s->o->log_level, on_monitor_ack, on_monitor_line, s,
                               &s->monitor_seq);
    if (rc == 0)
        s->open_streams = 2;
    cairn_timer_stop(s->deadline); /* runs until Ctrl-C or the agent goes away */
    return rc;
}

/* ---- info, rtt ---- */

static int cmp_stat(const void *a, const void *b)
{
    const cairn_serfrpc_stat *x = *(const cairn_serfrpc_stat *const *)a;
    const cairn_serfrpc_stat *y = *(const cairn_serfrpc_stat *const *)b;
    int c = strcmp(x->section, y->section);
    if (c != 0 || x->key == y->key)
        return c;
    if (x->key == NULL || y->key == NULL)
        return x->key == NULL ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void on_info(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error querying agent: %s", r->error);
        return;
    }
    if (s->o->json) {
        json_t *j = json_object();
        for (size_t i = 0; i < r->nstat_sections; i++)
            json_object_set_new(j, r->stat_sections[i], json_object());
        for (size_t i = 0; i < r->nstats; i++) {
            json_t *sec = json_object_get(j, r->stats[i].section);
            if (sec == NULL) {
                sec = json_object();
                json_object_set_new(j, r->stats[i].section, sec);
            }
            json_object_set_new(sec, r->stats[i].key, json_string(r->stats[i].value));
        }
        print_go_json(j);
        finish(s, 0);
        return;
    }
    /* Every section (empty ones too) as an entry with key NULL, sorted
     * before its own entries. */
    size_t n = r->nstats + r->nstat_sections;
    cairn_serfrpc_stat *heads = calloc(r->nstat_sections + 1, sizeof *heads);
    const cairn_serfrpc_stat **idx = calloc(n + 1, sizeof *idx);
    if (idx == NULL || heads == NULL) {
        free(heads);
        free(idx);
        fail(s, 1, "out of memory");
        return;
    }
    for (size_t i = 0; i < r->nstats; i++)
        idx[i] = &r->stats[i];
    for (size_t i = 0; i < r->nstat_sections; i++) {
        heads[i].section = r->stat_sections[i];
        idx[r->nstats + i] = &heads[i];
    }
    qsort(idx, n, sizeof *idx, cmp_stat);
    for (size_t i = 0; i < n; i++) {
        if (idx[i]->key == NULL)
            printf("%s:\n", idx[i]->section);
        else
            printf("\t%s = %s\n", idx[i]->key, idx[i]->value);
    }
    if (n == 0)
        printf("\n");
    free(heads);
    free(idx);
    finish(s, 0);
}

static const char *rtt_node(const struct session *s, int i)
{
    return i == 0 ? s->o->args[0] : s->o->nargs == 2 ? s->o->args[1] : s->self;
}

static void on_coord(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (s->done)
        return;
    int i = s->ncoords++;
    char q[CAIRN_NAME_MAX * 4 + 8];
    if (r->status != 0) {
        fail(s, 1, "Error getting coordinates: %s", r->error);
        return;
    }
    if (!r->coord_ok) {
        cairn__cli_quote(rtt_node(s, i), q, sizeof q);
        fail(s, 1, "Could not find a coordinate for node %s", q);
        return;
    }
    s->coords[i] = r->coord;
    if (s->ncoords < 2)
        return;
    double d = cairn_compute_distance(&s->coords[0], &s->coords[1]);
    if (!(d < INFINITY)) {
        fail(s, 1, "Error: the coordinates of %s and %s are not compatible", rtt_node(s, 0),
             rtt_node(s, 1));
        return;
    }
    printf("Estimated %s <-> %s rtt: %.3f ms\n", rtt_node(s, 0), rtt_node(s, 1), d * 1000.0);
    finish(s, 0);
}

static int request_coords(struct session *s)
{
    int rc = cairn_serfrpc_get_coordinate(s->c, rtt_node(s, 0), on_coord, s);
    if (rc == 0)
        rc = cairn_serfrpc_get_coordinate(s->c, rtt_node(s, 1), on_coord, s);
    return rc;
}

static void on_rtt_stats(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    if (r->status != 0) {
        fail(s, 1, "Error querying agent: %s", r->error);
        return;
    }
    for (size_t i = 0; i < r->nstats; i++)
        if (strcmp(r->stats[i].section, "agent") == 0 && strcmp(r->stats[i].key, "name") == 0)
            snprintf(s->self, sizeof s->self, "%s", r->stats[i].value);
    int rc = request_coords(s);
    if (rc != 0)
        fail(s, 1, "Error getting coordinates: %s", cairn_strerror(rc));
}

/* ---- keys ---- */

static void print_failures(const cairn_serfrpc_keys *k)
{
    if (k->nmessages > 0) {
        char **lines = calloc(k->nmessages, sizeof *lines);
        if (lines == NULL)
            return;
        for (size_t i = 0; i < k->nmessages; i++) {
            size_t len = strlen(k->messages[i].node) + strlen(k->messages[i].message) + 16;
            if ((lines[i] = malloc(len)) != NULL)
                snprintf(lines[i], len, "failed: | %s | %s", k->messages[i].node,
                         k->messages[i].message);
            else
                lines[i] = strdup("");
        }
        print_columns(stderr, lines, k->nmessages);
        free_lines(lines, k->nmessages);
    }
    fprintf(stderr, "\n");
}

static void on_keys(cairn_serfrpc *c, const cairn_serfrpc_reply *r, void *ud)
{
    struct session *s = ud;
    const struct opts *o = s->o;
    const char *what = o->list      ? "Failed to gather member keys"
                       : o->install ? "Error installing key"
                       : o->use     ? "Error changing primary key"
                                    : "Error removing key";
    if (r->status != 0) {
        print_failures(&r->keys);
        fail(s, 1, "%s: %s", what, r->error);
        return;
    }
    if (o->list) {
        printf("==> Keys gathered, listing cluster keys...\n\n");
        char **lines = calloc(r->keys.nkeys + 1, sizeof *lines);
        if (lines == NULL) {
            fail(s, 1, "out of memory");
            return;
        }
        for (size_t i = 0; i < r->keys.nkeys; i++) {
            size_t len = strlen(r->keys.keys[i].key) + 48;
            if ((lines[i] = malloc(len)) != NULL)
                snprintf(lines[i], len, "%s | [%d/%d]", r->keys.keys[i].key,
                         (int)r->keys.keys[i].count, (int)r->keys.num_nodes);
            else
                lines[i] = strdup("");
        }
        print_columns(stdout, lines, r->keys.nkeys);
        free_lines(lines, r->keys.nkeys);
    } else {
        printf("==> %s\n", o->install ? "Successfully installed key!"
                           : o->use   ? "Successfully changed primary key!"
                                      : "Successfully removed key!");
    }
    finish(s, 0);
}

static int start_keys(struct session *s)
{
    const struct opts *o = s->o;
    if (o->list) {
        printf("==> Asking all members for installed keys...\n");
        return cairn_serfrpc_list_keys(s->c, on_keys, s);
    }
    if (o->install) {
        printf("==> Installing key on all members...\n");
        return cairn_serfrpc_install_key(s->c, o->install, on_keys, s);
    }
    if (o->use) {
        printf("==> Changing primary key on all members...\n");
        return cairn_serfrpc_use_key(s->c, o->use, on_keys, s);
    }
    printf("==> Removing key on all members...\n");
    return cairn_serfrpc_remove_key(s->c, o->remove, on_keys, s);
}

/* ---- the session ---- */

static void start(struct session *s)
{
    const struct opts *o = s->o;
    size_t plen;
    const uint8_t *payload;
    int rc;
    switch (o->cmd) {
    case C_MEMBERS:
        rc = start_members(s);
        break;
    case C_JOIN:
        rc = cairn_serfrpc_join(s->c, o->args, o->nargs, o->replay, on_join, s);
        break;
    case C_LEAVE:
        rc = cairn_serfrpc_leave(s->c, on_leave, s);
        break;
    case C_FORCE_LEAVE:
        rc = cairn_serfrpc_force_leave(s->c, o->args[0], o->prune, on_force_leave, s);
        break;
    case C_EVENT:
        payload = payload_arg(o, &plen);
        rc = cairn_serfrpc_event(s->c, o->args[0], payload, plen, o->coalesce, on_event, s);
        break;
    case C_QUERY:
        payload = payload_arg(o, &plen);
        rc = start_query(s, o->args[0], payload, plen);
        break;
    case C_REACH:
        rc = cairn_serfrpc_members(s->c, on_reach_members, s);
        break;
    case C_MONITOR:
        rc = start_monitor(s);
        break;
    case C_TAGS:
        rc = cairn_serfrpc_tags(s->c, o->tags, o->ntags, o->list_vals, o->nlist, on_tags, s);
        break;
    case C_INFO:
        rc = cairn_serfrpc_stats(s->c, on_info, s);
        break;
    case C_RTT:
        rc = o->nargs == 2 ? request_coords(s) : cairn_serfrpc_stats(s->c, on_rtt_stats, s);
        break;
    default: /* C_KEYS */
        rc = start_keys(s);
        break;
    }
    if (rc != 0 && !s->done)
        fail(s, 1, "Error: cannot send the request: %s", cairn_strerror(rc));
}

static void on_state(cairn_serfrpc *c, int state, int err, const char *msg, void *ud)
{
    struct session *s = ud;
    if (state == CAIRN_SERFRPC_READY) {
        if (!s->started) {
            s->started = true;
            start(s);
        }
        return;
    }
    if (s->done)
        return;
    if (s->o->cmd == C_MONITOR && s->started) {
        monitor_lost(s);
        return;
    }
    if (!s->started)
        fail(s, 1, "Error connecting to Serf agent: %s", msg);
    else
        fail(s, 1, "Error: %s", msg);
}

static void on_deadline(cairn_timer *t, void *ud)
{
    struct session *s = ud;
    if (s->o->cmd == C_MONITOR) {
        finish(s, 0); /* the agent did not confirm the stop after Ctrl-C */
        return;
    }
    fail(s, 1, "Error: serf agent at %s did not answer in time", s->o->rpc_str);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct session *s = h->data;
    if (s->done)
        return;
    if (s->o->cmd == C_MONITOR) {
        if (signum != SIGINT || s->quitting || !s->started) {
            finish(s, 0);
            return;
        }
        /* serf's monitor: stop the monitor, then the stream, exit 0. */
        s->quitting = true;
        bool any = false;
        if (cairn_serfrpc_stop(s->c, s->monitor_seq, NULL, NULL) == 0)
            any = true;
        if (cairn_serfrpc_stop(s->c, s->stream_seq, NULL, NULL) == 0)
            any = true;
        if (!any)
            finish(s, 0);
        else
            cairn_timer_start(s->deadline, STOP_WAIT);
        return;
    }
    if (s->o->cmd == C_REACH)
        fail(s, 1, "Test interrupted");
    else
        fail(s, 1, "Interrupted");
}

static int session_run(struct session *s)
{
    const struct opts *o = s->o;
    s->verbose_sink = (cairn_log_sink){
        .out = stderr, .level = CAIRN_LOG_DEBUG, .time_style = CAIRN_LOG_TIME_CLOCK};
    s->logger.cb = cairn__log_sink_log;
    s->logger.userdata = &s->verbose_sink;
    s->logger.level = o->verbose && o->cmd == C_MEMBERS ? CAIRN_LOG_DEBUG : CAIRN_LOG_OFF;
    if (uv_loop_init(&s->uv) != 0 || cairn_loop_new_uv(&s->uv, &s->loop) != 0) {
        fprintf(stderr, "cairn: cannot create an event loop\n");
        return 1;
    }
    cairn_serfrpc_config cfg;
    cairn_serfrpc_config_default(&cfg);
    cfg.addr = o->rpc;
    cfg.auth_key = o->auth;
    cfg.logger = &s->logger;
    cfg.reconnect = false;
    cfg.max_attempts = 1;
    cfg.connect_timeout = RPC_TIMEOUT;
    cfg.request_timeout = o->cmd == C_LEAVE ? LEAVE_TIMEOUT : RPC_TIMEOUT;
    if (o->cmd == C_MEMBERS)
        cfg.connect_timeout = cfg.request_timeout = cairn_time_from_seconds(o->timeout_s);
    cfg.state_cb = on_state;
    cfg.userdata = s;
    int rc = cairn_serfrpc_new(s->loop, &cfg, &s->c);
    if (rc == 0)
        rc = cairn_timer_new(s->loop, on_deadline, s, &s->deadline);
    if (rc == 0) {
        uv_signal_init(&s->uv, &s->sigint);
        uv_signal_init(&s->uv, &s->sigterm);
        s->sigint.data = s->sigterm.data = s;
        uv_signal_start(&s->sigint, on_signal, SIGINT);
        uv_signal_start(&s->sigterm, on_signal, SIGTERM);
        s->signals = true;
        /* Dial plus handshake plus the request, each under its own
         * deadline; this one bounds the whole (queries re-arm it). */
        cairn_timer_start(s->deadline, cfg.connect_timeout + 2 * cfg.request_timeout);
        rc = cairn_serfrpc_start(s->c);
    }
    if (rc != 0) {
        fprintf(stderr, "Error connecting to Serf agent: %s\n", cairn_strerror(rc));
        s->status = 1;
    } else {
        while (!s->done)
            uv_run(&s->uv, UV_RUN_ONCE);
    }
    fflush(stdout);
    cairn_serfrpc_delete(s->c);
    cairn_timer_delete(s->deadline);
    if (s->signals) {
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
    }
    cairn_loop_delete(s->loop);
    uv_run(&s->uv, UV_RUN_DEFAULT);
    uv_loop_close(&s->uv);
    return s->status;
}

static int keygen(void)
{
    uint8_t key[32];
    char out[64];
    /* The kernel's generator, as Go's crypto/rand in `serf keygen`. */
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
        fprintf(stderr, "Error reading random data: %s\n", strerror(errno));
        return 1;
    }
    cairn__base64_encode(key, sizeof key, out);
    printf("%s\n", out);
    return 0;
}

static int run(int argc, char **argv, enum cmd cmd)
{
    struct opts *o = calloc(1, sizeof *o);
    struct session *s = calloc(1, sizeof *s);
    int rc = 1;
    if (o == NULL || s == NULL)
        goto out;
    o->cmd = cmd;
    o->name = argv[0];
    rc = parse(argc, argv, o);
    if (rc != 0) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    if (cmd == C_KEYGEN) {
        rc = keygen();
        goto out;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    s->o = o;
    rc = session_run(s);
out:
    if (s != NULL) {
        json_decref(s->j_acks);
        json_decref(s->j_resp);
        free_lines(s->live, s->nlive);
        free_lines(s->acks_from, s->nacks_from);
    }
    if (o != NULL)
        for (size_t i = 0; i < o->ntags; i++)
            free((char *)o->tags[i].key);
    free(o);
    free(s);
    return rc;
}

int cairn_cmd_members(int argc, char **argv)
{
    return run(argc, argv, C_MEMBERS);
}

int cairn_cmd_join(int argc, char **argv)
{
    return run(argc, argv, C_JOIN);
}

int cairn_cmd_leave(int argc, char **argv)
{
    return run(argc, argv, C_LEAVE);
}

int cairn_cmd_force_leave(int argc, char **argv)
{
    return run(argc, argv, C_FORCE_LEAVE);
}

int cairn_cmd_event(int argc, char **argv)
{
    return run(argc, argv, C_EVENT);
}

int cairn_cmd_query(int argc, char **argv)
{
    return run(argc, argv, C_QUERY);
}

int cairn_cmd_reachability(int argc, char **argv)
{
    return run(argc, argv, C_REACH);
}

int cairn_cmd_monitor(int argc, char **argv)
{
    return run(argc, argv, C_MONITOR);
}

int cairn_cmd_tags(int argc, char **argv)
{
    return run(argc, argv, C_TAGS);
}

int cairn_cmd_info(int argc, char **argv)
{
    return run(argc, argv, C_INFO);
}

int cairn_cmd_rtt(int argc, char **argv)
{
    return run(argc, argv, C_RTT);
}

int cairn_cmd_keys(int argc, char **argv)
{
    return run(argc, argv, C_KEYS);
}

int cairn_cmd_keygen(int argc, char **argv)
{
    return run(argc, argv, C_KEYGEN);
}
