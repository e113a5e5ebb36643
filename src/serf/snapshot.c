/* The snapshot file (Go: serf/snapshot.go): what a restarted node needs to
 * find its cluster again and not replay old events.
 *
 * The format is Serf's, line by line, so cairn and `serf agent -snapshot`
 * read each other's files:
 *
 *   alive: <name> <ip:port>     a member joined (the last space splits, so
 *                               names may hold spaces; IPv6 is [addr]:port)
 *   not-alive: <name>           it left or failed
 *   clock: <n>                  member clock seen - 1, when it advanced
 *   event-clock: <n>            the newest user event's LTime
 *   query-clock: <n>            the newest query's LTime
 *   leave                       we left gracefully
 *   # ...                       a comment; coordinate: lines are ignored
 *
 * Writing follows Serf: lines go to a buffer, written out when 500 ms have
 * passed since the last write (and, in cairn, by the 500 ms clock tick too,
 * so nothing waits longer than that); the file is synced only on leave,
 * on shutdown and by compaction. When the bytes written exceed max(128 KiB,
 * alive x 128 x 2) the file is compacted: the alive table and the three
 * clocks are written to <path>.compact, synced, and renamed over the path.
 * A failed write is logged and counted; a compaction is retried at most
 * every 30 s to recover, as Serf does.
 *
 * Replay on start reads the whole file (at most SNAP_READ_MAX bytes, lines
 * at most SNAP_LINE_MAX), applies each line to a small state (the alive
 * table and the clocks; `leave` empties it unless rejoin_after_leave), and
 * skips anything it cannot use with a warning naming the line: a torn last
 * line, an overlong or unparsable line. Nothing in the file can stop the
 * node. The serf then witnesses the clocks (so they restart past them),
 * drops user events and queries at or below the saved clocks
 * (eventMinTime/queryMinTime), and, once running, serf.c re-joins the
 * remembered members (cairn__serf_snapshot_next_rejoin hands them out in
 * random order) one at a time until one join succeeds. Logging goes
 * straight to the serf's logger, so this file depends on clock.c only.
 *
 * All file access is the loop's (cairn_file_*, synchronous and bounded;
 * docs/FILES.md).
 */
#include "serf/serf_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

/* Serf's constants. */
#define SNAP_FLUSH_INTERVAL   (500 * CAIRN_MSEC)
#define SNAP_CLOCK_INTERVAL   (500 * CAIRN_MSEC)
#define SNAP_RECOVER_INTERVAL (30 * CAIRN_SEC)
#define SNAP_MIN_COMPACT      (128u * 1024)
#define SNAP_BYTES_PER_NODE   128u
#define SNAP_COMPACT_FACTOR   2u
/* cairn's bounds: the write buffer, and what replay reads. */
#define SNAP_BUF_MAX (64u * 1024)

struct serf_snapshot {
    char *path;
    char *tmp_path;
    cairn_file *fh;
    /* The alive table and the last clocks written. */
    struct serf_snap_state st;
    /* Lines not yet written. */
    char *buf;
    size_t buf_len;
    cairn_time last_flush;
    /* Bytes in the file plus the buffer (Go: offset). */
    uint64_t offset;
    cairn_time last_recover;
    bool leaving;
    /* The clock tick (500 ms): records the member clock, writes the buffer. */
    cairn_timer *timer;
    /* Rejoin: the remembered members in random order, the next to try. */
    struct serf_snap_node *prev;
    size_t nprev, iprev;
};

/* ---- the replay state (also the unit tests' and the fuzzer's seam) ---- */

static void node_free(struct serf_snap_node *n)
{
    if (n == NULL)
        return;
    cairn_free(n->name);
    cairn_free(n);
}

static void alive_clear(struct ml_strmap *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        if (m->slots[i].key)
            node_free(m->slots[i].value);
    size_t cap = m->cap;
    cairn__ml_strmap_destroy(m);
    cairn__ml_strmap_init(m, cap);
}

void cairn__serf_snap_state_init(struct serf_snap_state *st, size_t max_nodes,
                                 bool rejoin_after_leave)
{
    memset(st, 0, sizeof(*st));
    cairn__ml_strmap_init(&st->alive, max_nodes);
    st->rejoin_after_leave = rejoin_after_leave;
}

void cairn__serf_snap_state_destroy(struct serf_snap_state *st)
{
    alive_clear(&st->alive);
    cairn__ml_strmap_destroy(&st->alive);
}

int cairn__serf_snap_alive(struct serf_snap_state *st, const char *name, size_t name_len,
                           const cairn_addr *addr)
{
    if (name_len == 0 || name_len > CAIRN_NAME_MAX)
        return CAIRN_EINVAL;
    char key[CAIRN_NAME_MAX + 1];
    memcpy(key, name, name_len);
    key[name_len] = '\0';
    struct serf_snap_node *n = cairn__ml_strmap_get(&st->alive, key);
    if (n != NULL) {
        n->addr = *addr;
        return 0;
    }
    n = cairn_calloc(1, sizeof(*n));
    char *copy = cairn_malloc(name_len + 1);
    if (n == NULL || copy == NULL) {
        cairn_free(n);
        cairn_free(copy);
        return CAIRN_ENOMEM;
    }
    memcpy(copy, key, name_len + 1);
    n->name = copy;
    n->addr = *addr;
    int r = cairn__ml_strmap_put(&st->alive, n->name, n);
    if (r < 0)
        node_free(n);
    return r;
}

void cairn__serf_snap_not_alive(struct serf_snap_state *st, const char *name)
{
    node_free(cairn__ml_strmap_del(&st->alive, name));
}

/* Go's strconv.ParseUint(s, 10, 64): digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *ret)
{
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

static bool prefixed(const char *line, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(line, prefix, n) != 0)
        return false;
    *rest = line + n;
    return true;
}

int cairn__serf_snap_line(struct serf_snap_state *st, const char *line, size_t len, int status,
                          char *why, size_t whylen)
{
    const char *rest;
    why[0] = '\0';
    if (status == CAIRN_EOF) {
        snprintf(why, whylen, "torn last line (no newline)");
        return CAIRN_EPARSE;
    }
    if (status == CAIRN_ELIMIT) {
        snprintf(why, whylen, "line longer than %u bytes", SNAP_LINE_MAX);
        return CAIRN_EPARSE;
    }
    if (strlen(line) != len) {
        snprintf(why, whylen, "NUL byte in line");
        return CAIRN_EPARSE;
    }
    if (prefixed(line, "alive: ", &rest)) {
        const char *sp = strrchr(rest, ' ');
        if (sp == NULL) {
            snprintf(why, whylen, "failed to parse address");
            return CAIRN_EPARSE;
        }
        cairn_addr a;
        if (cairn_addr_parse(sp + 1, 0, &a) < 0) {
            snprintf(why, whylen, "bad address \"%.80s\"", sp + 1);
            return CAIRN_EPARSE;
        }
        int r = cairn__serf_snap_alive(st, rest, (size_t)(sp - rest), &a);
        if (r < 0) {
            snprintf(why, whylen, "member not stored: %s", cairn_strerror(r));
            return r == CAIRN_EINVAL ? CAIRN_EPARSE : r;
        }
        return 0;
    }
    if (prefixed(line, "not-alive: ", &rest)) {
        cairn__serf_snap_not_alive(st, rest);
        return 0;
    }
    uint64_t *clock = NULL;
    if (prefixed(line, "clock: ", &rest))
        clock = &st->clock;
    else if (prefixed(line, "event-clock: ", &rest))
        clock = &st->event_clock;
    else if (prefixed(line, "query-clock: ", &rest))
        clock = &st->query_clock;
    if (clock != NULL) {
        if (!parse_u64(rest, clock)) {
            snprintf(why, whylen, "bad clock \"%.40s\"", rest);
            return CAIRN_EPARSE;
        }
        return 0;
    }
    if (prefixed(line, "coordinate: ", &rest) || line[0] == '#')
        return 0;
    if (strcmp(line, "leave") == 0) {
        st->saw_leave = true;
        if (st->rejoin_after_leave)
            return 0;
        alive_clear(&st->alive);
        st->clock = st->event_clock = st->query_clock = 0;
        return 0;
    }
    snprintf(why, whylen, "unrecognized line");
    return CAIRN_EPARSE;
}

/* ---- writing ---- */

static void snap_log(cairn_serf *s, int level, const char *what, int rc)
{
    s->stats.snapshot_errors++;
    cairn_logf(&s->log, level, "serf", "snapshot %s: %s", what, cairn_strerror(rc));
}

static int flush(cairn_serf *s)
{
    struct serf_snapshot *sn = s->snap;
    sn->last_flush = cairn_loop_now(s->loop);
    if (sn->buf_len == 0)
        return 0;
    if (sn->fh == NULL)
        return CAIRN_EIO;
    int r = cairn_file_write(sn->fh, sn->buf, sn->buf_len);
    sn->buf_len = 0; /* written or lost: never retried twice */
    return r;
}

static uint64_t max_size(const struct serf_snapshot *sn)
{
    uint64_t t = (uint64_t)sn->st.alive.len * SNAP_BYTES_PER_NODE * SNAP_COMPACT_FACTOR;
    return t < SNAP_MIN_COMPACT ? SNAP_MIN_COMPACT : t;
}

static int write_all(cairn_file *f, const char *line, uint64_t *offset)
{
    size_t n = strlen(line);
    *offset += n;
    return cairn_file_write(f, line, n);
}

static int compact(cairn_serf *s)
{
    struct serf_snapshot *sn = s->snap;
    cairn_file *f;
    int r = cairn_file_open(s->loop, sn->tmp_path, true, &f);
    if (r < 0)
        return r;
    uint64_t off = 0;
    char line[CAIRN_NAME_MAX + CAIRN_ADDR_STRLEN + 16];
    for (size_t i = 0; r == 0 && i < sn->st.alive.nslots; i++) {
        struct serf_snap_node *n = sn->st.alive.slots[i].value;
        if (sn->st.alive.slots[i].key == NULL)
            continue;
        char a[CAIRN_ADDR_STRLEN];
        snprintf(line, sizeof(line), "alive: %s %s\n", n->name,
                 cairn_addr_format(&n->addr, true, a, sizeof(a)));
        r = write_all(f, line, &off);
    }
    const char *fmt[3] = {"clock: %" PRIu64 "\n", "event-clock: %" PRIu64 "\n",
                          "query-clock: %" PRIu64 "\n"};
    uint64_t v[3] = {sn->st.clock, sn->st.event_clock, sn->st.query_clock};
    for (int i = 0; r == 0 && i < 3; i++) {
        snprintf(line, sizeof(line), fmt[i], v[i]);
        r = write_all(f, line, &off);
    }
    /* A compaction set off by the leave line itself must keep it. */
    if (r == 0 && sn->leaving)
        r = write_all(f, "leave\n", &off);
    if (r == 0)
        r = cairn_file_sync(f);
    cairn_file_close(f);
    if (r < 0)
        return r;
    /* Whatever was buffered for the old file is superseded. */
    sn->buf_len = 0;
    cairn_file_close(sn->fh);
    sn->fh = NULL;
    r = cairn_file_rename(s->loop, sn->tmp_path, sn->path);
    int r2 = cairn_file_open(s->loop, sn->path, false, &sn->fh);
    if (r == 0)
        r = r2;
    if (r < 0)
        return r;
    s->stats.snapshot_compactions++;
    sn->offset = cairn_file_size(sn->fh);
    sn->last_flush = cairn_loop_now(s->loop);
    return 0;
}

static int append_line(cairn_serf *s, const char *line)
{
    struct serf_snapshot *sn = s->snap;
    size_t n = strlen(line);
    int r = 0;
    if (sn->buf_len + n > SNAP_BUF_MAX)
        r = flush(s);
    if (r == 0) {
        memcpy(sn->buf + sn->buf_len, line, n);
        sn->buf_len += n;
        s->stats.snapshot_lines++;
        if (cairn_loop_now(s->loop) - sn->last_flush > SNAP_FLUSH_INTERVAL)
            r = flush(s);
    }
    sn->offset += n;
    if (r == 0 && sn->offset > max_size(sn))
        r = compact(s);
    return r;
}

static void try_append(cairn_serf *s, const char *line)
{
    struct serf_snapshot *sn = s->snap;
    int r = append_line(s, line);
    if (r == 0)
        return;
    snap_log(s, CAIRN_LOG_ERROR, "update", r);
    cairn_time now = cairn_loop_now(s->loop);
    if (sn->last_recover != 0 && now - sn->last_recover <= SNAP_RECOVER_INTERVAL)
        return;
    sn->last_recover = now;
    cairn_logf(&s->log, CAIRN_LOG_INFO, "serf",
               "attempting snapshot compaction to recover from error");
    r = compact(s);
    if (r < 0)
        snap_log(s, CAIRN_LOG_ERROR, "compaction", r);
}

static void update_clock(cairn_serf *s)
{
    struct serf_snapshot *sn = s->snap;
    uint64_t seen = cairn__serf_clock_time(&s->clock) - 1;
    if (seen > sn->st.clock) {
        sn->st.clock = seen;
        char line[48];
        snprintf(line, sizeof(line), "clock: %" PRIu64 "\n", seen);
        try_append(s, line);
    }
}

static void on_tick(cairn_timer *t, void *ud)
{
    cairn_serf *s = ud;
    if (!s->snap->leaving) {
        update_clock(s);
        if (s->snap->buf_len > 0 &&
            cairn_loop_now(s->loop) - s->snap->last_flush >= SNAP_FLUSH_INTERVAL) {
            int r = flush(s);
            if (r < 0)
                snap_log(s, CAIRN_LOG_ERROR, "flush", r);
        }
    }
    cairn_timer_start(t, SNAP_CLOCK_INTERVAL);
}

void cairn__serf_snapshot_member(cairn_serf *s, int type, const struct serf_member *m)
{
    struct serf_snapshot *sn = s->snap;
    if (sn == NULL || sn->leaving)
        return;
    char line[CAIRN_NAME_MAX + CAIRN_ADDR_STRLEN + 16];
    /* A name with a line break would inject lines (a hostile "x\nleave"). */
    if (strpbrk(m->name, "\r\n") != NULL) {
        s->stats.snapshot_errors++;
        cairn_logf(&s->log, CAIRN_LOG_WARN, "serf",
                   "snapshot: member name with a line break not recorded");
        return;
    }
    if (type == CAIRN_EVENT_MEMBER_JOIN) {
        size_t len = strlen(m->name);
        if (cairn__serf_snap_alive(&sn->st, m->name, len, &m->addr) < 0) {
            s->stats.snapshot_errors++;
        } else {
            char a[CAIRN_ADDR_STRLEN];
            snprintf(line, sizeof(line), "alive: %s %s\n", m->name,
                     cairn_addr_format(&m->addr, true, a, sizeof(a)));
            try_append(s, line);
        }
    } else if (type == CAIRN_EVENT_MEMBER_LEAVE || type == CAIRN_EVENT_MEMBER_FAILED) {
        cairn__serf_snap_not_alive(&sn->st, m->name);
        snprintf(line, sizeof(line), "not-alive: %s\n", m->name);
        try_append(s, line);
    }
    update_clock(s);
}

void cairn__serf_snapshot_user(cairn_serf *s, uint64_t ltime)
{
    struct serf_snapshot *sn = s->snap;
    if (sn == NULL || sn->leaving || ltime <= sn->st.event_clock)
        return;
    sn->st.event_clock = ltime;
    char line[48];
    snprintf(line, sizeof(line), "event-clock: %" PRIu64 "\n", ltime);
    try_append(s, line);
}

void cairn__serf_snapshot_query(cairn_serf *s, uint64_t ltime)
{
    struct serf_snapshot *sn = s->snap;
    if (sn == NULL || sn->leaving || ltime <= sn->st.query_clock)
        return;
    sn->st.query_clock = ltime;
    char line[48];
    snprintf(line, sizeof(line), "query-clock: %" PRIu64 "\n", ltime);
    try_append(s, line);
}

void cairn__serf_snapshot_leave(cairn_serf *s)
{
    struct serf_snapshot *sn = s->snap;
    if (sn == NULL || sn->leaving)
        return;
    sn->leaving = true;
    if (!s->cfg.rejoin_after_leave)
        alive_clear(&sn->st.alive);
    try_append(s, "leave\n");
    int r = flush(s);
    if (r < 0)
        snap_log(s, CAIRN_LOG_ERROR, "flush of leave", r);
    r = sn->fh ? cairn_file_sync(sn->fh) : CAIRN_EIO;
    if (r < 0)
        snap_log(s, CAIRN_LOG_ERROR, "sync of leave", r);
}

/* ---- open, replay, rejoin, close ---- */

static void on_line(const char *line, size_t len, size_t lineno, int status, void *ud)
{
    cairn_serf *s = ud;
    char why[160];
    int r = cairn__serf_snap_line(&s->snap->st, line, len, status, why, sizeof(why));
    if (r < 0) {
        s->stats.snapshot_replay_skipped++;
        cairn_logf(&s->log, CAIRN_LOG_WARN, "serf", "snapshot %s line %zu skipped: %s",
                   s->snap->path, lineno, why);
    }
}

static char *dup_str(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = cairn_malloc(na + nb + 1);
    if (p != NULL) {
        memcpy(p, a, na);
        memcpy(p + na, b, nb + 1);
    }
    return p;
}

int cairn__serf_snapshot_open(cairn_serf *s, cairn_diag *diag)
{
    const char *path = s->cfg.snapshot_path;
    if (path == NULL || path[0] == '\0')
        return 0;
    struct serf_snapshot *sn = cairn_calloc(1, sizeof(*sn));
    if (sn == NULL)
        return CAIRN_ENOMEM;
    s->snap = sn;
    cairn__serf_snap_state_init(&sn->st, s->cfg.max_members, s->cfg.rejoin_after_leave);
    sn->path = dup_str(path, "");
    sn->tmp_path = dup_str(path, ".compact");
    sn->buf = cairn_malloc(SNAP_BUF_MAX);
    if (sn->path == NULL || sn->tmp_path == NULL || sn->buf == NULL)
        return CAIRN_ENOMEM;
    int r = cairn_file_open(s->loop, path, false, &sn->fh);
    if (r < 0)
        return cairn_diag_set(diag, r, "snapshot %s: %s", path, cairn_strerror(r));
    sn->offset = cairn_file_size(sn->fh);
    r = cairn_file_read_lines(s->loop, path, SNAP_LINE_MAX, SNAP_READ_MAX, on_line, s);
    if (r == CAIRN_ENOMEM)
        return r;
    if (r < 0)
        snap_log(s, CAIRN_LOG_WARN, "replay (starting without it)", r);
    /* Go: clocks witnessed, minimum event/query times one past the saved. */
    cairn__serf_clock_witness(&s->clock, sn->st.clock);
    cairn__serf_clock_witness(&s->event_clock, sn->st.event_clock);
    cairn__serf_clock_witness(&s->query_clock, sn->st.query_clock);
    s->event_min_time = sn->st.event_clock + 1;
    s->query_min_time = sn->st.query_clock + 1;
    /* The remembered members, in random order (Go: AliveNodes). */
    if (sn->st.alive.len > 0) {
        sn->prev = cairn_calloc(sn->st.alive.len, sizeof(*sn->prev));
        if (sn->prev == NULL)
            return CAIRN_ENOMEM;
        for (size_t i = 0; i < sn->st.alive.nslots; i++) {
            struct serf_snap_node *n = sn->st.alive.slots[i].value;
            if (sn->st.alive.slots[i].key == NULL || strcmp(n->name, s->cfg.memberlist.name) == 0)
                continue;
            struct serf_snap_node *p = &sn->prev[sn->nprev];
            p->addr = n->addr;
            p->name = dup_str(n->name, "");
            if (p->name == NULL)
                return CAIRN_ENOMEM;
            sn->nprev++;
        }
        for (size_t i = sn->nprev; i > 1; i--) {
            size_t j = (size_t)cairn_rng_below(&s->rng, i);
            struct serf_snap_node t = sn->prev[i - 1];
            sn->prev[i - 1] = sn->prev[j];
            sn->prev[j] = t;
        }
    }
    r = cairn_timer_new(s->loop, on_tick, s, &sn->timer);
    if (r < 0)
        return r;
    sn->last_flush = cairn_loop_now(s->loop);
    cairn_timer_start(sn->timer, SNAP_CLOCK_INTERVAL);
    return 0;
}

bool cairn__serf_snapshot_next_rejoin(cairn_serf *s, const char **ret_name, cairn_addr *ret_addr)
{
    struct serf_snapshot *sn = s->snap;
    if (sn == NULL || sn->iprev >= sn->nprev)
        return false;
    struct serf_snap_node *n = &sn->prev[sn->iprev++];
    *ret_name = n->name;
    *ret_addr = n->addr;
    s->stats.snapshot_rejoin_attempts++;
    return true;
}

void cairn__serf_snapshot_close(cairn_serf *s)
{
    struct serf_snapshot *sn = s->snap;
    if (sn == NULL)
        return;
    if (sn->fh != NULL) {
        if (!sn->leaving)
            update_clock(s);
        int r = flush(s);
        if (r < 0)
            snap_log(s, CAIRN_LOG_ERROR, "flush", r);
        r = cairn_file_sync(sn->fh);
        if (r < 0)
            snap_log(s, CAIRN_LOG_ERROR, "sync", r);
        cairn_file_close(sn->fh);
    }
    cairn_timer_delete(sn->timer);
    cairn__serf_snap_state_destroy(&sn->st);
    for (size_t i = 0; i < sn->nprev; i++)
        cairn_free(sn->prev[i].name);
    cairn_free(sn->prev);
    cairn_free(sn->buf);
    cairn_free(sn->path);
    cairn_free(sn->tmp_path);
    cairn_free(sn);
    s->snap = NULL;
}
