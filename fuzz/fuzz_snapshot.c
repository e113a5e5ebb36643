/* libFuzzer target: a whole snapshot file through the loop's line splitter
 * (the simulator's filesystem, with small line and size caps) into serf's
 * replay state, then the same file replayed with rejoin_after_leave, and
 * every remembered address formatted and parsed back.
 *
 * Then, when the input holds a NUL byte, the writer: the input up to it is
 * the file that cairn__serf_snapshot_open replays (with the real caps) for
 * a serf cut to what snapshot.c uses, and the bytes after the NUL are a
 * script of two-byte records [op][arg] recording into it:
 *
 *   op % 8 == 0  member "m<arg % 16>" joins at 10.0.<arg>.1:7946 (op & 8:
 *                a name with a line break, which is refused)
 *   op % 8 == 1  it leaves (op & 8: fails)
 *   op % 8 == 2  a user event at LTime arg * (op + 1); == 3 a query
 *   op % 8 == 4  the member clock advances by arg and the world runs for
 *                (arg % 16 + 1) * 100 ms (clock ticks, flushes)
 *   op % 8 == 5  the next arg % 3 file syncs fail (error and recovery)
 *   op % 8 == 6  we leave (op & 8: rejoin_after_leave was set)
 *   op % 8 == 7  (arg % 4 + 1) * 16 joins and leaves of 1000-byte names,
 *                enough to reach the compaction threshold in a few records
 *
 * then every remembered member is handed out for rejoin, the snapshot is
 * closed, and the file it left is replayed once more. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/sim.h"
#include "serf/serf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(const char *line, size_t len, size_t lineno, int status, void *ud)
{
    char why[160];
    (void)lineno;
    (void)cairn__serf_snap_line(ud, line, len, status, why, sizeof(why));
}

static struct serf_member *member(struct serf_member *m, char *name, size_t cap, const char *fmt,
                                  unsigned k, unsigned ip)
{
    memset(m, 0, sizeof(*m));
    snprintf(name, cap, fmt, k);
    m->name = name;
    char a[32];
    snprintf(a, sizeof(a), "10.0.%u.1", ip & 255);
    if (cairn_addr_parse_ip(a, 7946, &m->addr) < 0)
        abort();
    return m;
}

static void writer(cairn_sim *sim, cairn_loop *loop, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (nul == NULL)
        return;
    size_t flen = (size_t)(nul - data);
    const uint8_t *script = nul + 1;
    size_t slen = (size_t)(data + size - script);
    bool rejoin = slen > 0 && (script[0] & 0x80) != 0;
    if (cairn_sim_file_set(sim, "/w", data, flen) < 0)
        return;
    cairn_sim_file_fail_sync(sim, 0);
    static cairn_serf s;
    memset(&s, 0, sizeof(s));
    s.loop = loop;
    s.cfg.snapshot_path = "/w";
    s.cfg.max_members = 64;
    s.cfg.rejoin_after_leave = rejoin;
    s.cfg.memberlist.name = "me";
    cairn_rng_init(&s.rng, 1);
    int r = cairn__serf_snapshot_open(&s, NULL);
    if (r < 0) {
        if (r != CAIRN_ENOMEM && s.snap != NULL)
            abort();
        cairn__serf_snapshot_close(&s);
        return;
    }
    char name[64], fill[1000];
    struct serf_member m;
    for (size_t i = 0; i + 1 < slen; i += 2) {
        unsigned op = script[i], arg = script[i + 1];
        switch (op % 8) {
        case 0:
            cairn__serf_snapshot_member(
                &s, CAIRN_EVENT_MEMBER_JOIN,
                member(&m, name, sizeof(name), op & 8 ? "m%u\nleave" : "m%u", arg % 16, arg));
            break;
        case 1:
            cairn__serf_snapshot_member(
                &s, op & 8 ? CAIRN_EVENT_MEMBER_FAILED : CAIRN_EVENT_MEMBER_LEAVE,
                member(&m, name, sizeof(name), "m%u", arg % 16, arg));
            break;
        case 2:
            cairn__serf_snapshot_user(&s, (uint64_t)arg * (op + 1));
            break;
        case 3:
            cairn__serf_snapshot_query(&s, (uint64_t)arg * (op + 1));
            break;
        case 4:
            s.clock.counter += arg;
            cairn_sim_run_for(sim, (cairn_time)(arg % 16 + 1) * 100 * CAIRN_MSEC);
            break;
        case 5:
            cairn_sim_file_fail_sync(sim, arg % 3);
            break;
        case 6:
            cairn__serf_snapshot_leave(&s);
            break;
        default:
            /* Names of ~1000 bytes: 64 lines are ~64 KiB, half the
             * compaction threshold. */
            memset(fill, 'f', sizeof(fill) - 8);
            for (unsigned k = 0; k < (arg % 4 + 1) * 16; k++) {
                snprintf(fill + sizeof(fill) - 8, 8, "%u", k % 48);
                member(&m, name, sizeof(name), "%u", 0, k);
                m.name = fill;
                cairn__serf_snapshot_member(
                    &s, k & 1 ? CAIRN_EVENT_MEMBER_LEAVE : CAIRN_EVENT_MEMBER_JOIN, &m);
            }
            break;
        }
    }
    const char *rname;
    cairn_addr raddr;
    size_t n = 0;
    while (cairn__serf_snapshot_next_rejoin(&s, &rname, &raddr))
        if (strcmp(rname, "me") == 0 || ++n > 64)
            abort();
    cairn__serf_snapshot_close(&s);
    struct serf_snap_state st;
    cairn__serf_snap_state_init(&st, 64, rejoin);
    r = cairn_file_read_lines(loop, "/w", 256, 1 << 20, on_line, &st);
    if (r < 0 && r != CAIRN_ELIMIT)
        abort();
    cairn__serf_snap_state_destroy(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cairn_sim *sim;
    static cairn_loop *loop;
    if (sim == NULL) {
        cairn_addr a;
        if (cairn_sim_new(1, &sim) < 0 || cairn_addr_parse_ip("10.0.0.1", 0, &a) < 0 ||
            cairn_sim_node_loop(sim, &a, &loop) < 0)
            abort();
    }
    if (cairn_sim_file_set(sim, "/snap", data, size) < 0)
        return 0;
    for (int rejoin = 0; rejoin < 2; rejoin++) {
        struct serf_snap_state st;
        cairn__serf_snap_state_init(&st, 64, rejoin != 0);
        int r = cairn_file_read_lines(loop, "/snap", 256, 1 << 16, on_line, &st);
        if (r < 0 && r != CAIRN_ELIMIT)
            abort();
        if (st.alive.len > 64)
            abort();
        for (size_t i = 0; i < st.alive.nslots; i++) {
            struct serf_snap_node *n = st.alive.slots[i].value;
            if (st.alive.slots[i].key == NULL)
                continue;
            char s[CAIRN_ADDR_STRLEN];
            cairn_addr back;
            if (strlen(n->name) == 0 ||
                cairn_addr_parse(cairn_addr_format(&n->addr, true, s, sizeof(s)), 0, &back) < 0 ||
                !cairn_addr_equal(&back, &n->addr))
                abort();
        }
        cairn__serf_snap_state_destroy(&st);
    }
    writer(sim, loop, data, size);
    return 0;
}
