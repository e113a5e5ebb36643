/* A member that left, came back while the cluster was split, and must not
 * stay "leaving" anywhere (found by build/soak, docs/soak.md "Findings"):
 *
 *   n2 leaves gracefully; n0 and n3 keep it left and re-apply its leave
 *   from each other's push/pull LeftMembers at time + 1, so its leave time
 *   creeps up; meanwhile n2 restarts (its snapshot's `leave` resets its
 *   clocks) and joins n1 on the other side of a partition, where it is
 *   alive with a join time below that leave time. After the heal n1 takes
 *   the inflated leave from a push/pull and turns n2 leaving; Serf would
 *   keep it so for good (memberlist keeps n2 alive, and push/pull-merged
 *   intents are not gossiped, so n2 never refutes). cairn tells n2, which
 *   refutes: everyone sees everyone alive again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"
#include "serf_world.h"
#include "sim_seed.h"

static serf_world W;

static bool cond_converged(serf_world *w, const void *arg)
{
    (void)arg;
    return serf_world_converged(w);
}

static void on_left(cairn_serf *s, int status, int count, void *ud)
{
    (void)s;
    (void)count;
    *(int *)ud = status == 0 ? 1 : -1;
}

static void test_left_member_back_while_split(void **state)
{
    (void)state;
    uint64_t seed = cairn_test_sim_seed("serf_stale_leave", 7);
    assert_int_equal(serf_world_init(&W, seed, 4), 0);
    W.snapshots = true;
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    assert_true(serf_world_run_until(&W, cond_converged, NULL, 200 * CAIRN_MSEC, 60 * CAIRN_SEC) >=
                0);

    /* n2 leaves and shuts down; everyone has it left. */
    int left = 0;
    assert_int_equal(cairn_serf_leave(W.nodes[2].serf, on_left, &left), 0);
    cairn_sim_run_for(W.sim, 10 * CAIRN_SEC);
    assert_int_equal(left, 1);
    serf_world_kill(&W, 2);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    assert_int_equal(cairn_serf_member_status(W.nodes[1].serf, "n2"), CAIRN_MEMBER_LEFT);

    /* Split {n1, n2} from {n0, n3}; n2 comes back alone and joins n1. */
    cairn_addr side[2] = {W.nodes[1].addr, W.nodes[2].addr};
    assert_int_equal(serf_world_start(&W, 2), 0);
    assert_int_equal(cairn_sim_partition(W.sim, side, 2, 1), 0);
    assert_int_equal(cairn_serf_join(W.nodes[2].serf, &W.nodes[1].addr, 1, true, NULL, NULL), 0);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    assert_int_equal(cairn_serf_member_status(W.nodes[1].serf, "n2"), CAIRN_MEMBER_ALIVE);

    /* n0 and n3 push/pull with each other a few times meanwhile. */
    cairn_sim_run_for(W.sim, 180 * CAIRN_SEC);
    cairn_sim_heal(W.sim);

    /* Within push/pull + reconnect rounds + the stale-leaving check,
     * everyone sees everyone alive (Serf: n1 keeps n2 leaving). */
    cairn_time t = serf_world_run_until(&W, cond_converged, NULL, CAIRN_SEC, 600 * CAIRN_SEC);
    if (t < 0) {
        for (size_t i = 0; i < W.n; i++)
            for (size_t j = 0; j < W.n; j++)
                if (W.nodes[i].up)
                    printf("# %s sees %s %s\n", W.nodes[i].name, W.nodes[j].name,
                           cairn_member_status_name(
                               cairn_serf_member_status(W.nodes[i].serf, W.nodes[j].name)));
    }
    assert_true(t >= 0);
    serf_world_destroy(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_left_member_back_while_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
