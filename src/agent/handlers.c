/* Serf's event handlers (serf/cmd/serf/command/agent/event_handler.go and
 * invoke.go) on libuv: one child process per matching handler and event.
 *
 * Serf runs each script with exec.Command and waits for it on its event
 * goroutine. The agent here has one thread, the loop's, so a run is a
 * little state machine of libuv handles instead: the process (uv_spawn of
 * /bin/sh -c SCRIPT), a stdin pipe written once and shut, stdout and
 * stderr pipes read into one bounded buffer (Serf's 8 KiB circbuf; Serf
 * keeps the last bytes, we keep the first, which for a query answer is the
 * part that counts), and a deadline timer that kills the process. The run
 * is finished when the process has exited and both output pipes reached
 * EOF; it is freed when every handle has closed.
 *
 * A query handler answers the query with its output when it exits 0 with
 * output, as Serf does (invoke.go calls query.Respond), cut to the response
 * size limit. The respond context is what cairn_query_respond_fn allows to
 * keep until the deadline; the run never outlives the deadline, because
 * the timer kills it then.
 */
#include "agent/handlers.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cairn/addr.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/loop_uv.h"

extern char **environ;

/* One entry: an event type (enum cairn_event_type, or -1 for "*"), an
 * optional name for user:NAME / query:NAME, and the script. */
struct entry {
    int type;
    char *name;
    char *script;
};

struct cairn_handlers {
    uv_loop_t *uv;
    cairn_loop *loop;
    const cairn_log_sink *sink;
    cairn_handlers_limits lim;
    struct entry entries[CAIRN_HANDLERS_MAX];
    size_t n;
    cairn_handlers_stats stats;
    cairn_handlers_done_cb done;
    void *done_ud;
    /* Runs in flight (a list, so delete can kill them). */
    struct run *runs;
    /* Set by delete: the last run to close frees the object. */
    bool deleting;
    /* Rate limit of warnings: the second of the last one. */
    uint64_t warned_at_ms;
};

struct run {
    cairn_handlers *h;
    struct run *next, **pprev;
    char *script;
    bool is_query;
    cairn_query_respond_fn respond;
    void *respond_ctx;
    uint64_t query_id;
    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_buf_t wbuf;
    uint8_t *input;
    /* Handles still open; freed at 0. */
    int open;
    bool exited, out_eof, err_eof, killed;
    int64_t exit_status;
    int term_signal;
    uint8_t *output;
    size_t output_len;
};

/* ---- parsing ---- */

static int parse_filter(const char *f, size_t len, struct entry *e)
{
    static const char *const names[] = {"member-join",   "member-leave", "member-failed",
                                        "member-update", "member-reap",  "user",
                                        "query"};
    e->name = NULL;
    if (len == 1 && f[0] == '*') {
        e->type = -1;
        return 0;
    }
    if (len > 5 && strncmp(f, "user:", 5) == 0) {
        e->type = CAIRN_EVENT_USER;
        e->name = cairn_strndup(f + 5, len - 5);
        return e->name ? 0 : CAIRN_ENOMEM;
    }
    if (len > 6 && strncmp(f, "query:", 6) == 0) {
        e->type = CAIRN_EVENT_QUERY;
        e->name = cairn_strndup(f + 6, len - 6);
        return e->name ? 0 : CAIRN_ENOMEM;
    }
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        if (strlen(names[i]) == len && strncmp(f, names[i], len) == 0) {
            e->type = i;
            return 0;
        }
    }
    return CAIRN_EINVAL;
}

int cairn__handlers_add(cairn_handlers *h, const char *spec, char *why, size_t why_len)
{
    const char *eq = strchr(spec, '=');
    const char *filter = eq ? spec : "*";
    size_t flen = eq ? (size_t)(eq - spec) : 1;
    const char *script = eq ? eq + 1 : spec;
    if (!script[0])
        return snprintf(why, why_len, "\"%.64s\" has no script", spec), CAIRN_EINVAL;
    if (flen == 0) {
        filter = "*";
        flen = 1;
    }
    size_t start = h->n;
    for (const char *p = filter; p < filter + flen;) {
        const char *comma = memchr(p, ',', (size_t)(filter + flen - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(filter + flen - p);
        if (h->n == CAIRN_HANDLERS_MAX) {
            snprintf(why, why_len, "more than %d handler entries", CAIRN_HANDLERS_MAX);
            goto fail;
        }
        struct entry *e = &h->entries[h->n];
        int rc = parse_filter(p, len, e);
        if (rc < 0) {
            snprintf(why, why_len,
                     "\"%.*s\" is not an event filter (member-join, member-leave, "
                     "member-failed, member-update, member-reap, user, user:NAME, "
                     "query, query:NAME or *)",
                     (int)(len > 64 ? 64 : len), p);
            goto fail;
        }
        e->script = cairn_strdup(script);
        if (!e->script) {
            cairn_free(e->name);
            snprintf(why, why_len, "out of memory");
            goto fail;
        }
        h->n++;
        p += len + (comma ? 1 : 0);
        if (!comma)
            break;
    }
    return 0;
fail:
    while (h->n > start) {
        h->n--;
        cairn_free(h->entries[h->n].name);
        cairn_free(h->entries[h->n].script);
    }
    return h->n == CAIRN_HANDLERS_MAX ? CAIRN_ELIMIT : CAIRN_EINVAL;
}

int cairn__handlers_replace(cairn_handlers *h, const char *const *specs, size_t n, size_t *ret_bad,
                            char *why, size_t why_len)
{
    struct entry old[CAIRN_HANDLERS_MAX];
    size_t old_n = h->n;
    memcpy(old, h->entries, sizeof(old));
    h->n = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = cairn__handlers_add(h, specs[i], why, why_len);
        if (rc < 0) {
            for (size_t k = 0; k < h->n; k++) {
                cairn_free(h->entries[k].name);
                cairn_free(h->entries[k].script);
            }
            memcpy(h->entries, old, sizeof(old));
            h->n = old_n;
            if (ret_bad)
                *ret_bad = i;
            return rc;
        }
    }
    /* Runs in flight hold their own copy of the script. */
    for (size_t k = 0; k < old_n; k++) {
        cairn_free(old[k].name);
        cairn_free(old[k].script);
    }
    return 0;
}

size_t cairn__handlers_count(const cairn_handlers *h)
{
    return h ? h->n : 0;
}

/* ---- lifecycle ---- */

int cairn__handlers_new(cairn_loop *loop, const cairn_handlers_limits *limits,
                        const cairn_log_sink *sink, cairn_handlers **ret)
{
    uv_loop_t *uv = loop ? cairn_loop_uv_get(loop) : NULL;
    if (!uv || !ret)
        return CAIRN_EINVAL;
    cairn_handlers *h = cairn_calloc(1, sizeof(*h));
    if (!h)
        return CAIRN_ENOMEM;
    h->uv = uv;
    h->loop = loop;
    h->sink = sink;
    if (limits)
        h->lim = *limits;
    if (!h->lim.max_procs)
        h->lim.max_procs = CAIRN_HANDLERS_MAX_PROCS;
    if (!h->lim.max_output)
        h->lim.max_output = CAIRN_HANDLERS_MAX_OUTPUT;
    if (h->lim.timeout <= 0)
        h->lim.timeout = CAIRN_HANDLERS_TIMEOUT;
    if (!h->lim.response_limit)
        h->lim.response_limit = CAIRN_HANDLERS_RESPONSE_SIZE;
    *ret = h;
    return 0;
}

void cairn__handlers_set_done(cairn_handlers *h, cairn_handlers_done_cb cb, void *userdata)
{
    h->done = cb;
    h->done_ud = userdata;
}

void cairn__handlers_get_stats(const cairn_handlers *h, cairn_handlers_stats *ret)
{
    *ret = h->stats;
}

static void free_handlers(cairn_handlers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        cairn_free(h->entries[i].name);
        cairn_free(h->entries[i].script);
    }
    cairn_free(h);
}

static void close_run(struct run *r);
static void kill_group(struct run *r);

void cairn__handlers_delete(cairn_handlers *h)
{
    if (!h)
        return;
    h->deleting = true;
    h->done = NULL;
    if (!h->runs) {
        free_handlers(h);
        return;
    }
    for (struct run *r = h->runs; r; r = r->next) {
        kill_group(r);
        close_run(r);
    }
}

/* ---- runs ---- */

/* warn logs at most one warning a second (the rest are only counted). */
static void warn(cairn_handlers *h, const char *event, json_t *fields, const char *text)
{
    uint64_t now = uv_now(h->uv);
    if (h->warned_at_ms && now - h->warned_at_ms < 1000) {
        json_decref(fields);
        return;
    }
    h->warned_at_ms = now;
    if (h->sink)
        cairn__log_sink_emit(h->sink, CAIRN_LOG_WARN, event, fields, "%s", text);
    else
        json_decref(fields);
}

static void on_closed(uv_handle_t *hd)
{
    struct run *r = hd->data;
    if (--r->open > 0)
        return;
    cairn_handlers *h = r->h;
    *r->pprev = r->next;
    if (r->next)
        r->next->pprev = r->pprev;
    cairn_free(r->script);
    cairn_free(r->input);
    cairn_free(r->output);
    cairn_free(r);
    if (h->deleting && !h->runs)
        free_handlers(h);
}

static void close_one(struct run *r, uv_handle_t *hd)
{
    if (!uv_is_closing(hd))
        uv_close(hd, on_closed);
}

static void answer(struct run *r)
{
    cairn_handlers *h = r->h;
    if (!r->respond) {
        h->stats.responses_failed++;
        warn(h, "handler", json_pack("{s:s, s:s}", "script", r->script, "error", "no respond"),
             "query handler output cannot be sent: queries cannot be answered from here yet");
        return;
    }
    size_t len = r->output_len < h->lim.response_limit ? r->output_len : h->lim.response_limit;
    int rc = r->respond(r->respond_ctx, r->query_id, r->output, len);
    if (rc == 0) {
        h->stats.responses++;
        return;
    }
    h->stats.responses_failed++;
    warn(h, "handler", json_pack("{s:s, s:s}", "script", r->script, "error", cairn_strerror(rc)),
         "query response refused");
}

static void close_run(struct run *r)
{
    uv_timer_stop(&r->timer);
    close_one(r, (uv_handle_t *)&r->timer);
    close_one(r, (uv_handle_t *)&r->proc);
    close_one(r, (uv_handle_t *)&r->in);
    close_one(r, (uv_handle_t *)&r->out);
    close_one(r, (uv_handle_t *)&r->err);
}

/* finish: once the process exited and both outputs are drained. */
static void maybe_finish(struct run *r)
{
    if (!r->exited || !r->out_eof || !r->err_eof)
        return;
    cairn_handlers *h = r->h;
    h->stats.running--;
    bool ok = r->exit_status == 0 && r->term_signal == 0;
    if (ok)
        h->stats.succeeded++;
    else
        h->stats.failed++;
    if (!ok && !h->deleting) {
        char text[256];
        snprintf(text, sizeof(text), "handler '%.128s' %s %d%s", r->script,
                 r->term_signal ? "killed by signal" : "exited with status",
                 r->term_signal ? r->term_signal : (int)r->exit_status,
                 r->killed ? " (deadline)" : "");
        warn(h, "handler",
             json_pack("{s:s, s:I, s:i, s:b}", "script", r->script, "status",
                       (json_int_t)r->exit_status, "signal", r->term_signal, "killed", r->killed),
             text);
    }
    if (ok && r->is_query && r->output_len > 0 && !h->deleting)
        answer(r);
    if (h->done)
        h->done(r->script, r->term_signal ? -r->term_signal : (int)r->exit_status, r->output,
                r->output_len, h->done_ud);
    close_run(r);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct run *r = p->data;
    r->exited = true;
    r->exit_status = status;
    r->term_signal = sig;
    maybe_finish(r);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    static char scratch[4096];
    (void)hd;
    (void)suggested;
    /* One read at a time on the loop thread: a static scratch is enough. */
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct run *r = s->data;
    if (n > 0) {
        size_t room = r->h->lim.max_output - r->output_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(r->output + r->output_len, buf->base, take);
        r->output_len += take;
        r->h->stats.output_truncated += (size_t)n - take;
        return;
    }
    if (n == 0)
        return;
    uv_read_stop(s);
    if (s == (uv_stream_t *)&r->out)
        r->out_eof = true;
    else
        r->err_eof = true;
    maybe_finish(r);
}

static void on_written(uv_write_t *w, int status)
{
    struct run *r = w->data;
    (void)status; /* a script that does not read its stdin is fine */
    close_one(r, (uv_handle_t *)&r->in);
}

/* kill_group: the script and whatever it started (its own process group,
 * see UV_PROCESS_DETACHED), so no grandchild keeps the pipes open. */
static void kill_group(struct run *r)
{
    if (r->proc.pid > 0)
        uv_kill(-r->proc.pid, SIGKILL);
}

static void on_deadline(uv_timer_t *t)
{
    struct run *r = t->data;
    if (!r->exited) {
        r->killed = true;
        r->h->stats.killed++;
    }
    kill_group(r);
}

/* ---- the environment and stdin, as invoke.go builds them ---- */

struct env {
    char **v;
    size_t n, cap;
};

static int env_add(struct env *e, const char *key, const char *value)
{
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        char **v = cairn_realloc(e->v, cap * sizeof(*v));
        if (!v)
            return CAIRN_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    size_t len = strlen(key) + strlen(value) + 2;
    char *s = cairn_malloc(len);
    if (!s)
        return CAIRN_ENOMEM;
    snprintf(s, len, "%s=%s", key, value);
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

static void env_free(struct env *e)
{
    for (size_t i = 0; i < e->n; i++)
        cairn_free(e->v[i]);
    cairn_free(e->v);
}

static int build_env(struct env *e, const cairn_event *ev, const cairn_member *self)
{
    int rc = 0;
    for (char **p = environ; *p && rc == 0; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq)
            continue;
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - *p), *p);
        rc = env_add(e, key, eq + 1);
    }
    const char *role = self ? cairn_member_tag(self, "role") : NULL;
    if (rc == 0)
        rc = env_add(e, "SERF_EVENT", cairn_event_type_name(ev->type));
    if (rc == 0)
        rc = env_add(e, "SERF_SELF_NAME", self ? self->name : "");
    if (rc == 0)
        rc = env_add(e, "SERF_SELF_ROLE", role ? role : "");
    for (size_t i = 0; self && i < self->ntags && rc == 0; i++) {
        char key[300];
        int k = snprintf(key, sizeof(key), "SERF_TAG_%.256s", self->tags[i].key);
        for (int j = 9; j < k && j < (int)sizeof(key); j++) {
            unsigned char c = (unsigned char)toupper((unsigned char)key[j]);
            key[j] = (char)((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ? c : '_');
        }
        rc = env_add(e, key, self->tags[i].value);
    }
    char lt[32];
    snprintf(lt, sizeof(lt), "%llu", (unsigned long long)ev->ltime);
    if (rc == 0 && ev->type == CAIRN_EVENT_USER) {
        rc = env_add(e, "SERF_USER_EVENT", ev->name ? ev->name : "");
        if (rc == 0)
            rc = env_add(e, "SERF_USER_LTIME", lt);
    } else if (rc == 0 && ev->type == CAIRN_EVENT_QUERY) {
        rc = env_add(e, "SERF_QUERY_NAME", ev->name ? ev->name : "");
        if (rc == 0)
            rc = env_add(e, "SERF_QUERY_LTIME", lt);
    }
    return rc;
}

/* A growable byte string for stdin. */
struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = cairn_realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

/* Appends s with tab and newline written \t and \n (Go's eventClean). */
static void put_clean(struct text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\t')
            put(t, "\\t", 2);
        else if (*s == '\n')
            put(t, "\\n", 2);
        else
            put(t, s, 1);
    }
}

/* stdin: the members as memberEventStdin writes them, or the payload with
 * a newline added when it lacks one (streamPayload). */
static void build_input(struct text *t, const cairn_event *ev)
{
    if (ev->type == CAIRN_EVENT_USER || ev->type == CAIRN_EVENT_QUERY) {
        if (ev->payload_len) {
            put(t, (const char *)ev->payload, ev->payload_len);
            if (ev->payload[ev->payload_len - 1] != '\n')
                put(t, "\n", 1);
        }
        return;
    }
    for (size_t i = 0; i < ev->nmembers; i++) {
        const cairn_member *m = &ev->members[i];
        char addr[CAIRN_ADDR_STRLEN];
        /* Go's net.IP String(): the address without the port. */
        cairn_addr_format(&m->addr, false, addr, sizeof(addr));
        const char *role = cairn_member_tag(m, "role");
        put_clean(t, m->name);
        put(t, "\t", 1);
        put(t, addr, strlen(addr));
        put(t, "\t", 1);
        put_clean(t, role ? role : "");
        put(t, "\t", 1);
        for (size_t k = 0; k < m->ntags; k++) {
            if (k)
                put(t, ",", 1);
            put_clean(t, m->tags[k].key);
            put(t, "=", 1);
            put_clean(t, m->tags[k].value);
        }
        put(t, "\n", 1);
    }
}

static bool matches(const struct entry *e, const cairn_event *ev)
{
    if (e->type == -1)
        return true;
    if (e->type != ev->type)
        return false;
    return !e->name || (ev->name && strcmp(e->name, ev->name) == 0);
}

/* start: one run of e for ev; false when it could not start. */
static bool start(cairn_handlers *h, const struct entry *e, const cairn_event *ev, char **env,
                  const struct text *input)
{
    struct run *r = cairn_calloc(1, sizeof(*r));
    if (!r)
        return false;
    r->h = h;
    r->script = cairn_strdup(e->script);
    r->output = cairn_malloc(h->lim.max_output);
    r->input = input->len ? cairn_malloc(input->len) : NULL;
    if (!r->script || !r->output || (input->len && !r->input)) {
        cairn_free(r->script);
        cairn_free(r->output);
        cairn_free(r->input);
        cairn_free(r);
        return false;
    }
    if (input->len)
        memcpy(r->input, input->p, input->len);
    r->is_query = ev->type == CAIRN_EVENT_QUERY;
    r->respond = ev->respond;
    r->respond_ctx = ev->respond_ctx;
    r->query_id = ev->query_id;
    uv_pipe_init(h->uv, &r->in, 0);
    uv_pipe_init(h->uv, &r->out, 0);
    uv_pipe_init(h->uv, &r->err, 0);
    uv_timer_init(h->uv, &r->timer);
    r->in.data = r->out.data = r->err.data = r->timer.data = r->proc.data = r;
    r->open = 5;
    r->next = h->runs;
    if (h->runs)
        h->runs->pprev = &r->next;
    r->pprev = &h->runs;
    h->runs = r;
    char *args[] = {"/bin/sh", "-c", r->script, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&r->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->err},
    };
    uv_process_options_t o = {.exit_cb = on_exit_cb,
                              .file = "/bin/sh",
                              .args = args,
                              .env = env,
                              .stdio = stdio,
                              .stdio_count = 3,
                              .flags = UV_PROCESS_DETACHED};
    h->stats.started++;
    h->stats.running++;
    int rc = uv_spawn(h->uv, &r->proc, &o);
    if (rc < 0) {
        /* The process handle must be closed all the same. */
        r->exited = r->out_eof = r->err_eof = true;
        r->exit_status = 127;
        maybe_finish(r);
        return true;
    }
    cairn_time limit = h->lim.timeout;
    if (r->is_query && ev->deadline) {
        cairn_time left = ev->deadline - cairn_loop_now(h->loop);
        limit = left > 0 ? left : 1;
    }
    uv_timer_start(&r->timer, on_deadline, (uint64_t)((limit + CAIRN_MSEC - 1) / CAIRN_MSEC), 0);
    uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
    if (r->input) {
        r->wbuf = uv_buf_init((char *)r->input, (unsigned)input->len);
        r->wreq.data = r;
        if (uv_write(&r->wreq, (uv_stream_t *)&r->in, &r->wbuf, 1, on_written) < 0)
            close_one(r, (uv_handle_t *)&r->in);
    } else {
        close_one(r, (uv_handle_t *)&r->in);
    }
    return true;
}

void cairn__handlers_dispatch(cairn_handlers *h, const cairn_event *ev, const cairn_member *self)
{
    if (!h || h->deleting)
        return;
    struct env env = {0};
    struct text input = {0};
    bool prepared = false;
    for (size_t i = 0; i < h->n; i++) {
        if (!matches(&h->entries[i], ev))
            continue;
        if (!prepared) {
            prepared = true;
            build_input(&input, ev);
            if (build_env(&env, ev, self) < 0 || input.oom) {
                h->stats.failed++;
                warn(h, "handler", NULL, "out of memory preparing a handler");
                break;
            }
        }
        if (h->stats.running >= h->lim.max_procs) {
            h->stats.over_cap++;
            char text[256];
            snprintf(text, sizeof(text), "%zu handlers running: '%.128s' not run for %s",
                     h->stats.running, h->entries[i].script, cairn_event_type_name(ev->type));
            warn(h, "handler",
                 json_pack("{s:s, s:s, s:I}", "script", h->entries[i].script, "error",
                           "too many handlers running", "over_cap", (json_int_t)h->stats.over_cap),
                 text);
            continue;
        }
        if (!start(h, &h->entries[i], ev, env.v, &input)) {
            h->stats.failed++;
            warn(h, "handler", NULL, "out of memory starting a handler");
        }
    }
    env_free(&env);
    cairn_free(input.p);
}
