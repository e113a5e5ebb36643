/* A simulated world of serf nodes for the serf tests (tests/unit/test_serf.c,
 * tests/sim/test_serf_sim.c), in the style of ml_world.h.
 *
 * Node i is named "n<i>" and listens on 10.<i>>>16>.<i>>>8>.<i>:7946 of one
 * cairn_sim; its memberlist seed comes from the simulator's rng, so a world
 * replays from the simulator's seed. Each node records the events its serf
 * delivers: member events per (type, member index) and user events per
 * name. Nothing here asserts; fallible calls return CAIRN_E* codes.
 */
#ifndef CAIRN_TEST_SERF_WORLD_H
#define CAIRN_TEST_SERF_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/serf.h"
#include "cairn/sim.h"

/* Most nodes in a world (member-event counters are per node index). */
#define SERF_WORLD_MAX 64
/* Distinct user-event names recorded per node. */
#define SERF_WORLD_EVENTS 128

typedef struct serf_world serf_world;

typedef struct serf_world_node {
    serf_world *w;
    /* Loop and serf; NULL while down. */
    cairn_loop *loop;
    cairn_serf *serf;
    cairn_addr addr;
    char name[16];
    bool up;
    /* Member events received: [event type][member index]. */
    uint32_t mev[5][SERF_WORLD_MAX];
    /* User events received, by name. */
    struct {
        char name[48];
        uint32_t count;
        uint64_t ltime;
    } user[SERF_WORLD_EVENTS];
    size_t nuser;
    uint64_t user_total;
    /* Member events delivered (callbacks), and members in them. */
    uint64_t member_callbacks, member_total;
    /* Optional: every event is also passed on to forward (set before or
     * after start; e.g. a router's serf adapter). */
    cairn_event_cb forward;
    void *forward_userdata;
    /* Optional: the keyring the node's serf starts with (set before
     * start; owned by the test, must outlive the node). */
    cairn_keyring *keyring;
    /* Its snapshot file in the simulator's filesystem (when w->snapshots). */
    char snap_path[32];
} serf_world_node;

struct serf_world {
    cairn_sim *sim;
    size_t n;
    serf_world_node nodes[SERF_WORLD_MAX];
    /* Configuration each node starts from (name, bind, seed and event
     * callback set per node); tune between init and start. */
    cairn_serf_config cfg;
    /* Give each node the snapshot file "/snap/n<i>" (set before start). */
    bool snapshots;
    /* Logger passed to every serf (NULL: none). */
    const cairn_logger *logger;
};

/* serf_world_init: a simulator from seed and n (<= SERF_WORLD_MAX) nodes,
 * none started; Serf's library defaults, compression off. */
int serf_world_init(serf_world *w, uint64_t seed, size_t n);
/* serf_world_start starts node i (fresh loop and serf, counters cleared). */
int serf_world_start(serf_world *w, size_t i);
int serf_world_start_all(serf_world *w);
/* serf_world_kill: node i crashes (serf deleted without leave). */
void serf_world_kill(serf_world *w, size_t i);
void serf_world_destroy(serf_world *w);
/* serf_world_join_all: every started node i > 0 joins node 0. */
int serf_world_join_all(serf_world *w);
/* serf_world_index: i of "n<i>", or -1. */
int serf_world_index(const char *name);
/* serf_world_seeing: live nodes other than node i that list node i with
 * `status` (CAIRN_MEMBER_NONE: do not list it at all). */
size_t serf_world_seeing(const serf_world *w, size_t i, int status);
/* serf_world_converged: every live node lists every live node alive. */
bool serf_world_converged(const serf_world *w);
/* serf_world_user_count: how many times node i got user event `name`. */
uint32_t serf_world_user_count(const serf_world_node *nd, const char *name);
/* serf_world_run_until: runs until cond(w, arg) holds, checking every
 * step, at most limit; the time it took, or -1. */
typedef bool (*serf_world_cond)(serf_world *w, const void *arg);
cairn_time serf_world_run_until(serf_world *w, serf_world_cond cond, const void *arg,
                                cairn_time step, cairn_time limit);

#endif
