/* sim_test: test your own code on the deterministic simulator.
 *
 * Code that uses cairn sees the network and the clock only through a
 * cairn_loop. Give it loops from a cairn_sim instead of libuv and a whole
 * cluster runs in one process on virtual time: seconds of gossip take
 * milliseconds, partitions and packet loss are one call, and a run replays
 * bit for bit from its seed (print the seed when a test fails).
 *
 * The "application code" under test here is peer_table: it follows member
 * events and keeps the set of live peers (what a proxy would route to). The
 * test starts three nodes, cuts node c off from the others and checks that
 * a's table drops c within 30 virtual seconds; then runs the same scenario
 * again with the same seed and checks it ends at the same virtual instant.
 *
 *   sim_test [SEED]
 *
 * Build: cc sim_test.c $(pkg-config --cflags --libs cairn) -o sim_test
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/cairn.h>

/* ---- the application code under test ---- */

#define MAX_PEERS 8

struct peer_table {
    char alive[MAX_PEERS][64];
    int n;
};

static void peer_table_on_one(struct peer_table *t, int event, const cairn_member *m)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->alive[i], m->name) == 0) {
            if (event == CAIRN_EVENT_MEMBER_FAILED || event == CAIRN_EVENT_MEMBER_LEAVE)
                memcpy(t->alive[i], t->alive[--t->n], sizeof t->alive[i]);
            return;
        }
    }
    if (event == CAIRN_EVENT_MEMBER_JOIN && t->n < MAX_PEERS)
        snprintf(t->alive[t->n++], sizeof t->alive[0], "%s", m->name);
}

/* A member event names one or more members (the agent coalesces them). */
static void peer_table_on_member(cairn_agent *agent, const cairn_event *ev, void *userdata)
{
    (void)agent;
    for (size_t i = 0; i < ev->nmembers; i++)
        peer_table_on_one(userdata, ev->type, &ev->members[i]);
}

static bool peer_table_has(const struct peer_table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->alive[i], name) == 0)
            return true;
    return false;
}

/* ---- the test ---- */

#define NNODES 3

struct node {
    cairn_addr ip;
    cairn_loop *loop;
    cairn_agent *agent;
    struct peer_table table;
};

static int check(bool cond, const char *what, uint64_t seed)
{
    if (!cond)
        fprintf(stderr, "sim_test: FAILED: %s (seed %" PRIu64 ")\n", what, seed);
    return cond ? 0 : -1;
}

/* One run; returns the virtual time (ns after the cut) at which a dropped
 * c, or -1. */
static cairn_time scenario(uint64_t seed)
{
    static const char *names[NNODES] = {"a", "b", "c"};
    struct node nodes[NNODES] = {0};
    cairn_sim *sim;
    cairn_time detected = -1;
    if (cairn_sim_new(seed, &sim) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < NNODES && rc == 0; i++) {
        char ip[16];
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        cairn_agent_config cfg = {.node = names[i], .profile = "lan", .seed = seed + (uint64_t)i};
        rc = cairn_addr_parse_ip(ip, 7946, &nodes[i].ip);
        cfg.bind = nodes[i].ip;
        if (rc == 0)
            rc = cairn_sim_node_loop(sim, &nodes[i].ip, &nodes[i].loop);
        if (rc == 0)
            rc = cairn_agent_new(nodes[i].loop, &cfg, NULL, peer_table_on_member, &nodes[i].table,
                                 NULL, &nodes[i].agent);
        if (rc == 0 && i > 0)
            rc = cairn_agent_join(nodes[i].agent, &nodes[0].ip, 1, NULL, NULL);
    }
    if (check(rc == 0, "set-up", seed) != 0)
        goto out;

    cairn_sim_run_for(sim, 5 * CAIRN_SEC);
    if (check(nodes[0].table.n == NNODES, "a sees every node alive", seed) != 0)
        goto out;

    /* Cut c off: a and b stay in group 0, c moves to group 1. */
    cairn_time cut = cairn_sim_now(sim);
    if (check(cairn_sim_partition(sim, &nodes[2].ip, 1, 1) == 0, "partition", seed) != 0)
        goto out;
    while (peer_table_has(&nodes[0].table, "c") && cairn_sim_now(sim) - cut < 30 * CAIRN_SEC)
        cairn_sim_run_for(sim, 10 * CAIRN_MSEC);
    if (check(!peer_table_has(&nodes[0].table, "c"), "a drops c within 30 s", seed) != 0 ||
        check(peer_table_has(&nodes[0].table, "b"), "a keeps b", seed) != 0)
        goto out;
    detected = cairn_sim_now(sim) - cut;

out:
    for (int i = 0; i < NNODES; i++) {
        cairn_agent_delete(nodes[i].agent);
        cairn_loop_delete(nodes[i].loop);
    }
    cairn_sim_delete(sim);
    return detected;
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    cairn_time first = scenario(seed);
    if (first < 0)
        return 1;
    printf("a dropped c %.3f virtual seconds after the partition (seed %" PRIu64 ")\n",
           (double)first / CAIRN_SEC, seed);
    cairn_time again = scenario(seed);
    if (check(again == first, "the same seed replays the same run", seed) != 0)
        return 1;
    printf("replayed with the same seed: identical\n");
    return 0;
}
