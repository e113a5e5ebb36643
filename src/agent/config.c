/* `serf agent` configuration files, tags file and keyring file (agent/config.h).
 *
 * One table lists every key Serf 0.9.4's agent Config decodes, with its
 * JSON type and where it lands; a file is walked key by key against it,
 * so an unknown key, a value of the wrong type or a bad value is reported
 * with the file and the key, and a key Serf knows but cairn cannot honour
 * is refused by name. Merging follows MergeConfig: set values override,
 * tags merge key by key, lists append.
 */
#include "agent/config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cairn/addr.h"
#include "cairn/alloc.h"
#include "cairn/log.h"
#include "base/base64.h"
#include "base/utf8.h"

/* ---- durations ---- */

int cairn__go_duration(const char *s, cairn_time *ret)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
                 {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
    const double max_ns = 9.2e18;
    if (s == NULL || *s == '\0')
        return CAIRN_EINVAL;
    if (*s == '+')
        s++;
    if (strcmp(s, "0") == 0)
        return *ret = 0, 0;
    double total = 0;
    const char *p = s;
    while (*p != '\0') {
        const char *num = p;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        if (p == num || (p - num == 1 && *num == '.'))
            return CAIRN_EINVAL;
        char buf[64], *end;
        if ((size_t)(p - num) >= sizeof buf)
            return CAIRN_EINVAL;
        memcpy(buf, num, (size_t)(p - num));
        buf[p - num] = '\0';
        double v = strtod(buf, &end);
        if (*end != '\0')
            return CAIRN_EINVAL;
        /* The longest unit wins: "m" must not swallow the "m" of "ms". */
        size_t best = 0, blen = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > blen) {
                best = i;
                blen = l;
            }
        }
        if (blen == 0)
            return CAIRN_EINVAL;
        total += v * units[best].ns;
        p += blen;
        if (!(total <= max_ns))
            return CAIRN_EINVAL;
    }
    *ret = (cairn_time)total;
    return 0;
}

int cairn__agent_parse_duration(const char *text, cairn_time *ret)
{
    cairn_time t;
    if (cairn__go_duration(text, &t) < 0 || t < 1 || t > CAIRN_AGENT_DURATION_MAX)
        return CAIRN_EINVAL;
    *ret = t;
    return 0;
}

/* ---- the keys ---- */

enum key_kind {
    K_STRING,   /* char * */
    K_BOOL,     /* bool */
    K_TRIBOOL,  /* int: 1 true, -1 false */
    K_DURATION, /* cairn_time */
    K_INT,      /* int, in [lo, hi] */
    K_SIZE,     /* size_t, in [lo, hi] */
    K_TAGS,
    K_LIST, /* cairn_agent_config_item[], count after it */
    K_UNSUPPORTED,
};

/* What a string value must be. */
enum check {
    C_ANY,
    C_NONEMPTY,
    C_HOST,
    C_KEY,
    C_LEVEL,
    C_PROFILE,
};

struct key {
    const char *name;
    enum key_kind kind;
    size_t off;
    enum check check;
    long long lo, hi;
    /* K_LIST: offset of the count; capacity. */
    size_t count_off, cap;
    /* K_BOOL: the value stored is !json (enable_compression). */
    bool negate;
};

#define FC(field) offsetof(cairn_agent_file_config, field)
#define LIST(name, field, cap)                                                                     \
    {                                                                                              \
        name, K_LIST, FC(field), C_ANY, 0, 0, FC(n_##field), cap, false                            \
    }

static const struct key keys[] = {
    {"node_name", K_STRING, FC(node_name), C_NONEMPTY, 0, 0, 0, 0, false},
    {"role", K_STRING, FC(role), C_ANY, 0, 0, 0, 0, false},
    {"disable_coordinates", K_BOOL, FC(disable_coordinates), C_ANY, 0, 0, 0, 0, false},
    {"tags", K_TAGS, FC(tags), C_ANY, 0, 0, 0, 0, false},
    {"tags_file", K_STRING, FC(tags_file), C_NONEMPTY, 0, 0, 0, 0, false},
    {"bind", K_STRING, FC(bind), C_HOST, 0, 0, 0, 0, false},
    {"advertise", K_STRING, FC(advertise), C_HOST, 0, 0, 0, 0, false},
    {"encrypt_key", K_STRING, FC(encrypt_key), C_KEY, 0, 0, 0, 0, false},
    {"keyring_file", K_STRING, FC(keyring_file), C_NONEMPTY, 0, 0, 0, 0, false},
    {"log_level", K_STRING, FC(log_level), C_LEVEL, 0, 0, 0, 0, false},
    {"rpc_addr", K_STRING, FC(rpc_addr), C_HOST, 0, 0, 0, 0, false},
    {"rpc_auth", K_STRING, FC(rpc_auth), C_ANY, 0, 0, 0, 0, false},
    {"protocol", K_INT, FC(protocol), C_ANY, 3, CAIRN_SERF_PROTOCOL_MAX, 0, 0, false},
    {"replay_on_join", K_BOOL, FC(replay_on_join), C_ANY, 0, 0, 0, 0, false},
    {"query_response_size_limit", K_SIZE, FC(query_response_size_limit), C_ANY, 1,
     CAIRN_SERF_USER_EVENT_SIZE_MAX * 8, 0, 0, false},
    {"query_size_limit", K_SIZE, FC(query_size_limit), C_ANY, 1, CAIRN_SERF_USER_EVENT_SIZE_MAX * 8,
     0, 0, false},
    {"user_event_size_limit", K_SIZE, FC(user_event_size_limit), C_ANY, 1,
     CAIRN_SERF_USER_EVENT_SIZE_MAX, 0, 0, false},
    LIST("start_join", start_join, CAIRN_AGENT_CONFIG_JOINS_MAX),
    LIST("event_handlers", event_handlers, CAIRN_AGENT_CONFIG_HANDLERS_MAX),
    {"profile", K_STRING, FC(profile), C_PROFILE, 0, 0, 0, 0, false},
    {"snapshot_path", K_STRING, FC(snapshot_path), C_NONEMPTY, 0, 0, 0, 0, false},
    {"leave_on_terminate", K_TRIBOOL, FC(leave_on_terminate), C_ANY, 0, 0, 0, 0, false},
    {"skip_leave_on_interrupt", K_BOOL, FC(skip_leave_on_interrupt), C_ANY, 0, 0, 0, 0, false},
    {"discover", K_UNSUPPORTED, 0, C_ANY, 0, 0, 0, 0, false},
    {"interface", K_UNSUPPORTED, 0, C_ANY, 0, 0, 0, 0, false},
    {"reconnect_interval", K_DURATION, FC(reconnect_interval), C_ANY, 0, 0, 0, 0, false},
    {"reconnect_timeout", K_DURATION, FC(reconnect_timeout), C_ANY, 0, 0, 0, 0, false},
    {"tombstone_timeout", K_DURATION, FC(tombstone_timeout), C_ANY, 0, 0, 0, 0, false},
    {"disable_name_resolution", K_BOOL, FC(disable_name_resolution), C_ANY, 0, 0, 0, 0, false},
    {"enable_syslog", K_UNSUPPORTED, 0, C_ANY, 0, 0, 0, 0, false},
    {"syslog_facility", K_UNSUPPORTED, 0, C_ANY, 0, 0, 0, 0, false},
    LIST("retry_join", retry_join, CAIRN_AGENT_CONFIG_JOINS_MAX),
    {"retry_max_attempts", K_INT, FC(retry_max), C_ANY, 0, 1000000, 0, 0, false},
    {"retry_interval", K_DURATION, FC(retry_interval), C_ANY, 0, 0, 0, 0, false},
    {"rejoin_after_leave", K_BOOL, FC(rejoin_after_leave), C_ANY, 0, 0, 0, 0, false},
    {"enable_compression", K_BOOL, FC(disable_compression), C_ANY, 0, 0, 0, 0, true},
    {"disable_compression", K_BOOL, FC(disable_compression), C_ANY, 0, 0, 0, 0, false},
    {"statsite_addr", K_UNSUPPORTED, 0, C_ANY, 0, 0, 0, 0, false},
    {"statsd_addr", K_UNSUPPORTED, 0, C_ANY, 0, 0, 0, 0, false},
    {"broadcast_timeout", K_DURATION, FC(broadcast_timeout), C_ANY, 0, 0, 0, 0, false},
};

/* ---- lifecycle ---- */

void cairn__agent_config_init(cairn_agent_file_config *fc)
{
    memset(fc, 0, sizeof(*fc));
}

static void free_items(cairn_agent_config_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cairn_free(items[i].value);
        cairn_free(items[i].source);
    }
}

void cairn__agent_config_destroy(cairn_agent_file_config *fc)
{
    if (!fc)
        return;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].kind == K_STRING)
            cairn_free(*(char **)((char *)fc + keys[i].off));
    cairn__agent_tags_free(fc->tags, fc->n_tags);
    free_items(fc->start_join, fc->n_start_join);
    free_items(fc->retry_join, fc->n_retry_join);
    free_items(fc->event_handlers, fc->n_event_handlers);
    memset(fc, 0, sizeof(*fc));
}

void cairn__agent_tags_free(cairn_tag *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cairn_free((char *)tags[i].key);
        cairn_free((char *)tags[i].value);
        tags[i].key = tags[i].value = NULL;
    }
}

/* ---- values ---- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* A string for messages: at most 64 bytes, valid UTF-8 (U+FFFD). */
static void shown(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s);
    cairn__utf8_sanitize(s, len > 64 ? 64 : len, out, cap);
}

static int check_string(const struct key *k, const char *s, const char *src, char *why, size_t wl)
{
    char show[256];
    shown(s, show, sizeof(show));
    char host[CAIRN_RESOLVE_HOST_MAX + 1];
    uint16_t port;
    cairn_diag d = {0};
    uint8_t key[32];
    size_t klen;
    int level;
    if (!cairn__utf8_valid(s, strlen(s))) {
        snprintf(why, wl, "%s: \"%s\": \"%s\" is not valid UTF-8", src, k->name, show);
        return CAIRN_EINVAL;
    }
    switch (k->check) {
    case C_NONEMPTY:
        if (!s[0])
            return snprintf(why, wl, "%s: \"%s\" is empty", src, k->name), CAIRN_EINVAL;
        return 0;
    case C_HOST:
        if (cairn_addr_split_host(s, 7946, host, sizeof(host), &port, &d) < 0)
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not HOST:PORT (%s)", src, k->name, show,
                            d.msg),
                   CAIRN_EINVAL;
        return 0;
    case C_KEY:
        if (cairn_agent_decode_key(s, key, &klen) < 0)
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not base64 of a 16, 24 or 32-byte key",
                            src, k->name, show),
                   CAIRN_EINVAL;
        return 0;
    case C_LEVEL:
        /* Serf writes ERR for error. */
        if (cairn_log_level_parse(s, &level) < 0 && strcasecmp(s, "err") != 0)
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not trace, debug, info, warn or error",
                            src, k->name, show),
                   CAIRN_EINVAL;
        return 0;
    case C_PROFILE:
        if (strcmp(s, "lan") && strcmp(s, "wan") && strcmp(s, "local"))
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not lan, wan or local", src, k->name,
                            show),
                   CAIRN_EINVAL;
        return 0;
    default:
        return 0;
    }
}

static int set_string(char **slot, const char *s)
{
    char *copy = cairn_strdup(s);
    if (!copy)
        return CAIRN_ENOMEM;
    cairn_free(*slot);
    *slot = copy;
    return 0;
}

static int merge_tags(cairn_agent_file_config *fc, const json_t *obj, const char *src,
                      const char *what, char *why, size_t wl)
{
    const char *key;
    json_t *v;
    char show[256];
    json_object_foreach((json_t *)obj, key, v)
    {
        shown(key, show, sizeof(show));
        if (!json_is_string(v))
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is %s, want a string", src, what, show,
                            type_name(v)),
                   CAIRN_EINVAL;
        if (!key[0])
            return snprintf(why, wl, "%s: \"%s\": a tag has an empty key", src, what), CAIRN_EINVAL;
        if (!cairn__utf8_valid(key, strlen(key)))
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not valid UTF-8", src, what, show),
                   CAIRN_EINVAL;
        size_t i = 0;
        while (i < fc->n_tags && strcmp(fc->tags[i].key, key) != 0)
            i++;
        if (i == CAIRN_AGENT_MAX_TAGS)
            return snprintf(why, wl, "%s: \"%s\": more than %d tags", src, what,
                            CAIRN_AGENT_MAX_TAGS),
                   CAIRN_ELIMIT;
        char *value = cairn_strdup(json_string_value(v));
        if (!value)
            return CAIRN_ENOMEM;
        if (i == fc->n_tags) {
            char *k = cairn_strdup(key);
            if (!k) {
                cairn_free(value);
                return CAIRN_ENOMEM;
            }
            fc->tags[i].key = k;
            fc->tags[i].value = NULL;
            fc->n_tags++;
        }
        cairn_free((char *)fc->tags[i].value);
        fc->tags[i].value = value;
    }
    return 0;
}

static int append_list(cairn_agent_file_config *fc, const struct key *k, const json_t *arr,
                       const char *src, char *why, size_t wl)
{
    if (!json_is_array(arr))
        return snprintf(why, wl, "%s: \"%s\" is %s, want an array of strings", src, k->name,
                        type_name(arr)),
               CAIRN_EINVAL;
    cairn_agent_config_item *items = (cairn_agent_config_item *)((char *)fc + k->off);
    size_t *n = (size_t *)((char *)fc + k->count_off);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return snprintf(why, wl, "%s: \"%s\": entry %zu is %s, want a string", src, k->name,
                            i + 1, type_name(v)),
                   CAIRN_EINVAL;
        const char *s = json_string_value(v);
        char show[256];
        shown(s, show, sizeof(show));
        char host[CAIRN_RESOLVE_HOST_MAX + 1];
        uint16_t port;
        cairn_diag d = {0};
        if (k->off != FC(event_handlers) &&
            cairn_addr_split_host(s, 7946, host, sizeof(host), &port, &d) < 0)
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not HOST:PORT (%s)", src, k->name, show,
                            d.msg),
                   CAIRN_EINVAL;
        if (k->off == FC(event_handlers) && !s[0])
            return snprintf(why, wl, "%s: \"%s\": entry %zu is empty", src, k->name, i + 1),
                   CAIRN_EINVAL;
        if (*n == k->cap)
            return snprintf(why, wl, "%s: \"%s\": more than %zu entries in all", src, k->name,
                            k->cap),
                   CAIRN_ELIMIT;
        items[*n].value = cairn_strdup(s);
        items[*n].source = cairn_strdup(src);
        if (!items[*n].value || !items[*n].source) {
            cairn_free(items[*n].value);
            cairn_free(items[*n].source);
            return CAIRN_ENOMEM;
        }
        (*n)++;
    }
    return 0;
}

/* Applies one key of a file. */
static int apply(cairn_agent_file_config *fc, const struct key *k, const json_t *v, const char *src,
                 char *why, size_t wl)
{
    void *slot = (char *)fc + k->off;
    switch (k->kind) {
    case K_UNSUPPORTED:
        /* The default asks for nothing cairn lacks. */
        if (json_is_false(v) || (json_is_string(v) && !json_string_value(v)[0]))
            return 0;
        return snprintf(why, wl,
                        "%s: \"%s\" is not supported by cairn (remove it, or set it to "
                        "false / \"\")",
                        src, k->name),
               CAIRN_EINVAL;
    case K_STRING: {
        if (!json_is_string(v))
            return snprintf(why, wl, "%s: \"%s\" is %s, want a string", src, k->name, type_name(v)),
                   CAIRN_EINVAL;
        const char *s = json_string_value(v);
        /* Serf's MergeConfig: an empty string is "not set". */
        if (!s[0])
            return 0;
        int rc = check_string(k, s, src, why, wl);
        return rc < 0 ? rc : set_string(slot, s);
    }
    case K_BOOL:
        if (!json_is_boolean(v))
            return snprintf(why, wl, "%s: \"%s\" is %s, want true or false", src, k->name,
                            type_name(v)),
                   CAIRN_EINVAL;
        if (json_is_true(v) != k->negate)
            *(bool *)slot = true;
        return 0;
    case K_TRIBOOL:
        if (!json_is_boolean(v))
            return snprintf(why, wl, "%s: \"%s\" is %s, want true or false", src, k->name,
                            type_name(v)),
                   CAIRN_EINVAL;
        *(int *)slot = json_is_true(v) ? 1 : -1;
        return 0;
    case K_DURATION: {
        if (!json_is_string(v))
            return snprintf(why, wl, "%s: \"%s\" is %s, want a duration string such as \"30s\"",
                            src, k->name, type_name(v)),
                   CAIRN_EINVAL;
        cairn_time t;
        if (cairn__agent_parse_duration(json_string_value(v), &t) < 0) {
            char show[256];
            shown(json_string_value(v), show, sizeof(show));
            return snprintf(why, wl, "%s: \"%s\": \"%s\" is not a duration such as 24h, 30m or 90s",
                            src, k->name, show),
                   CAIRN_EINVAL;
        }
        *(cairn_time *)slot = t;
        return 0;
    }
    case K_INT:
    case K_SIZE: {
        if (!json_is_integer(v))
            return snprintf(why, wl, "%s: \"%s\" is %s, want an integer", src, k->name,
                            type_name(v)),
                   CAIRN_EINVAL;
        json_int_t x = json_integer_value(v);
        /* Serf: 0 is "not set". */
        if (x == 0)
            return 0;
        if (x < k->lo || x > k->hi)
            return snprintf(why, wl, "%s: \"%s\": %lld is not %lld to %lld", src, k->name,
                            (long long)x, k->lo, k->hi),
                   CAIRN_EINVAL;
        if (k->kind == K_INT)
            *(int *)slot = (int)x;
        else
            *(size_t *)slot = (size_t)x;
        return 0;
    }
    case K_TAGS:
        if (!json_is_object(v))
            return snprintf(why, wl, "%s: \"%s\" is %s, want an object of strings", src, k->name,
                            type_name(v)),
                   CAIRN_EINVAL;
        return merge_tags(fc, v, src, k->name, why, wl);
    case K_LIST:
        return append_list(fc, k, v, src, why, wl);
    }
    return CAIRN_EINVAL;
}

int cairn__agent_config_parse(cairn_agent_file_config *fc, const char *text, size_t len,
                              const char *source, char *why, size_t why_len)
{
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (!root) {
        snprintf(why, why_len, "%s: not JSON: %s (line %d, column %d)", source, err.text, err.line,
                 err.column);
        return CAIRN_EINVAL;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        snprintf(why, why_len, "%s: is %s, want a JSON object", source, type_name(root));
        rc = CAIRN_EINVAL;
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v)
    {
        const struct key *k = NULL;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !k; i++)
            if (strcmp(keys[i].name, name) == 0)
                k = &keys[i];
        if (!k) {
            char show[256];
            shown(name, show, sizeof(show));
            snprintf(why, why_len, "%s: unknown key \"%s\"", source, show);
            rc = CAIRN_EINVAL;
            goto out;
        }
        if ((rc = apply(fc, k, v, source, why, why_len)) < 0) {
            if (rc == CAIRN_ENOMEM)
                snprintf(why, why_len, "%s: out of memory", source);
            goto out;
        }
    }
    fc->n_files++;
out:
    json_decref(root);
    return rc;
}

/* ---- files ---- */

int cairn__agent_read_file(const char *path, size_t max, char **ret_text, size_t *ret_len,
                           char *why, size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(why, why_len, "%s: cannot read: %s", path, strerror(e));
        return e == ENOENT ? CAIRN_ENOENT : CAIRN_EIO;
    }
    /* The buffer grows with what is read (a small file does not cost
     * max bytes); max + 1 bytes are read at most, to notice a larger file. */
    size_t cap = max + 2 < 4096 ? max + 2 : 4096, n = 0;
    char *buf = cairn_malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            size_t ncap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
            char *nbuf = ncap > cap ? cairn_realloc(buf, ncap) : NULL;
            if (!nbuf) {
                cairn_free(buf);
                buf = NULL;
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0 || n > max)
            break;
    }
    if (!buf) {
        fclose(f);
        snprintf(why, why_len, "%s: out of memory", path);
        return CAIRN_ENOMEM;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        cairn_free(buf);
        snprintf(why, why_len, "%s: cannot read", path);
        return CAIRN_EIO;
    }
    if (n > max) {
        cairn_free(buf);
        snprintf(why, why_len, "%s: larger than %zu bytes", path, max);
        return CAIRN_ELIMIT;
    }
    buf[n] = 0;
    *ret_text = buf;
    *ret_len = n;
    return 0;
}

static int read_one(cairn_agent_file_config *fc, const char *path, char *why, size_t why_len)
{
    char *text;
    size_t len;
    int rc = cairn__agent_read_file(path, CAIRN_AGENT_CONFIG_FILE_MAX, &text, &len, why, why_len);
    if (rc < 0)
        return rc;
    rc = cairn__agent_config_parse(fc, text, len, path, why, why_len);
    cairn_free(text);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cairn__agent_config_read_path(cairn_agent_file_config *fc, const char *path, char *why,
                                  size_t why_len)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        snprintf(why, why_len, "%s: cannot read: %s", path, strerror(e));
        return e == ENOENT ? CAIRN_ENOENT : CAIRN_EIO;
    }
    if (!S_ISDIR(st.st_mode))
        return read_one(fc, path, why, why_len);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(why, why_len, "%s: cannot read: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    char **names = cairn_calloc(CAIRN_AGENT_CONFIG_DIR_MAX, sizeof(char *));
    size_t n = 0;
    int rc = names ? 0 : CAIRN_ENOMEM;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        if (n == CAIRN_AGENT_CONFIG_DIR_MAX) {
            snprintf(why, why_len, "%s: more than %d .json files", path,
                     CAIRN_AGENT_CONFIG_DIR_MAX);
            rc = CAIRN_ELIMIT;
            break;
        }
        size_t plen = strlen(path) + 1 + l + 1;
        names[n] = cairn_malloc(plen);
        if (!names[n]) {
            rc = CAIRN_ENOMEM;
            break;
        }
        snprintf(names[n], plen, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (rc == CAIRN_ENOMEM)
        snprintf(why, why_len, "%s: out of memory", path);
    if (rc == 0)
        qsort(names, n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct stat fst;
        /* Serf skips subdirectories. */
        if (stat(names[i], &fst) == 0 && S_ISDIR(fst.st_mode))
            continue;
        rc = read_one(fc, names[i], why, why_len);
    }
    for (size_t i = 0; i < n; i++)
        cairn_free(names[i]);
    cairn_free(names);
    return rc;
}

/* ---- tags file ---- */

int cairn__agent_tags_parse(const char *text, size_t len, cairn_tag *tags, size_t max,
                            size_t *ret_n, char *why, size_t why_len)
{
    cairn_agent_file_config *tmp = cairn_calloc(1, sizeof(*tmp));
    if (!tmp)
        return CAIRN_ENOMEM;
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    int rc;
    if (!root) {
        snprintf(why, why_len, "not JSON: %s (line %d)", err.text, err.line);
        rc = CAIRN_EINVAL;
    } else if (!json_is_object(root)) {
        snprintf(why, why_len, "is %s, want an object of strings", type_name(root));
        rc = CAIRN_EINVAL;
    } else if (json_object_size(root) > max) {
        snprintf(why, why_len, "holds %zu tags, limit %zu", json_object_size(root), max);
        rc = CAIRN_ELIMIT;
    } else {
        rc = merge_tags(tmp, root, "tags file", "tags", why, why_len);
    }
    json_decref(root);
    if (rc == 0) {
        memcpy(tags, tmp->tags, tmp->n_tags * sizeof(cairn_tag));
        *ret_n = tmp->n_tags;
        tmp->n_tags = 0;
    }
    cairn__agent_tags_free(tmp->tags, tmp->n_tags);
    cairn_free(tmp);
    return rc;
}

char *cairn__agent_tags_encode(const cairn_tag *tags, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        if (json_object_set_new(o, tags[i].key, json_string(tags[i].value)) < 0) {
            json_decref(o);
            return NULL;
        }
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s)
        return NULL;
    char *out = cairn_strdup(s);
    free(s);
    return out;
}

/* ---- keyring file ---- */

int cairn__agent_keyring_parse(const char *text, size_t len, cairn_keyring **ret_ring, char *why,
                               size_t why_len)
{
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (!root)
        return snprintf(why, why_len, "not JSON: %s (line %d)", err.text, err.line), CAIRN_EINVAL;
    int rc = 0;
    cairn_keyring *ring = NULL;
    if (!json_is_array(root)) {
        snprintf(why, why_len, "is %s, want an array of base64 keys", type_name(root));
        rc = CAIRN_EINVAL;
        goto out;
    }
    if (json_array_size(root) == 0) {
        snprintf(why, why_len, "contains no keys");
        rc = CAIRN_EINVAL;
        goto out;
    }
    if (json_array_size(root) > CAIRN_KEYRING_MAX_KEYS) {
        snprintf(why, why_len, "holds %zu keys, limit %d", json_array_size(root),
                 CAIRN_KEYRING_MAX_KEYS);
        rc = CAIRN_EINVAL;
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(root, i, v)
    {
        uint8_t key[32];
        size_t klen;
        if (!json_is_string(v) || cairn_agent_decode_key(json_string_value(v), key, &klen) < 0) {
            snprintf(why, why_len, "key %zu is not base64 of a 16, 24 or 32-byte key", i + 1);
            rc = CAIRN_EINVAL;
            goto out;
        }
        rc = i == 0 ? cairn_keyring_new(key, klen, &ring) : cairn_keyring_add(ring, key, klen);
        memset(key, 0, sizeof(key));
        if (rc < 0) {
            snprintf(why, why_len, "key %zu: %s", i + 1,
                     rc == CAIRN_ENOTSUP ? "encryption needs " CAIRN_KEYRING_LIBCRYPTO
                                           " (package libssl3)"
                                         : cairn_strerror(rc));
            goto out;
        }
    }
    *ret_ring = ring;
    ring = NULL;
out:
    cairn_keyring_delete(ring);
    json_decref(root);
    return rc;
}

char *cairn__agent_keyring_encode(const cairn_keyring *ring)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < cairn_keyring_count(ring); i++) {
        const uint8_t *k;
        size_t len;
        char b64[48];
        if (cairn_keyring_key(ring, i, &k, &len) < 0)
            break;
        cairn__base64_encode(k, len, b64);
        if (json_array_append_new(a, json_string(b64)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    char *s = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
    json_decref(a);
    if (!s)
        return NULL;
    char *out = cairn_strdup(s);
    memset(s, 0, strlen(s));
    free(s);
    return out;
}
