/* libFuzzer target: a whole snapshot file through the loop's line splitter
 * (the simulator's filesystem, with small line and size caps) into serf's
 * replay state, then the same file replayed with rejoin_after_leave, and
 * every remembered address formatted and parsed back. */
#include <stdint.h>
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
    return 0;
}
