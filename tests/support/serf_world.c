/* The shared simulated serf world (see serf_world.h). */
#include "serf_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/error.h"

int serf_world_index(const char *name)
{
    if (name == NULL || name[0] != 'n')
        return -1;
    char *end;
    long i = strtol(name + 1, &end, 10);
    return *end == 0 && i >= 0 && i < SERF_WORLD_MAX ? (int)i : -1;
}

static void record(const cairn_event *ev, serf_world_node *nd);

static void on_event(const cairn_event *ev, void *ud)
{
    serf_world_node *nd = ud;
    record(ev, nd);
    if (nd->forward)
        nd->forward(ev, nd->forward_userdata);
}

static void record(const cairn_event *ev, serf_world_node *nd)
{
    if (ev->type == CAIRN_EVENT_USER) {
        nd->user_total++;
        for (size_t i = 0; i < nd->nuser; i++)
            if (strcmp(nd->user[i].name, ev->name) == 0) {
                nd->user[i].count++;
                return;
            }
        if (nd->nuser < SERF_WORLD_EVENTS) {
            snprintf(nd->user[nd->nuser].name, sizeof(nd->user[0].name), "%s", ev->name);
            nd->user[nd->nuser].count = 1;
            nd->user[nd->nuser].ltime = ev->ltime;
            nd->nuser++;
        }
        return;
    }
    if (ev->type < 0 || ev->type > CAIRN_EVENT_MEMBER_REAP)
        return;
    nd->member_callbacks++;
    for (size_t k = 0; k < ev->nmembers; k++) {
        int i = serf_world_index(ev->members[k].name);
        nd->member_total++;
        if (i >= 0)
            nd->mev[ev->type][i]++;
    }
}

int serf_world_init(serf_world *w, uint64_t seed, size_t n)
{
    memset(w, 0, sizeof(*w));
    if (n > SERF_WORLD_MAX)
        return CAIRN_EINVAL;
    int r = cairn_sim_new(seed, &w->sim);
    if (r < 0)
        return r;
    w->n = n;
    cairn_serf_config_default(&w->cfg);
    w->cfg.memberlist.enable_compression = false;
    for (size_t i = 0; i < n; i++) {
        serf_world_node *s = &w->nodes[i];
        s->w = w;
        snprintf(s->name, sizeof(s->name), "n%u", (unsigned)i);
        uint8_t ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        if ((r = cairn_addr_from_ip(ip, 4, 7946, &s->addr)) < 0) {
            serf_world_destroy(w);
            return r;
        }
    }
    return 0;
}

int serf_world_start(serf_world *w, size_t i)
{
    serf_world_node *s = &w->nodes[i];
    memset(s->mev, 0, sizeof(s->mev));
    s->nuser = 0;
    s->user_total = s->member_callbacks = s->member_total = 0;
    cairn_serf_config c = w->cfg;
    c.memberlist.name = s->name;
    c.memberlist.bind = s->addr;
    c.memberlist.seed = cairn_rng_u64(cairn_sim_rng(w->sim)) | 1;
    c.event_cb = on_event;
    c.event_userdata = s;
    if (w->snapshots) {
        snprintf(s->snap_path, sizeof(s->snap_path), "/snap/n%zu", i);
        c.snapshot_path = s->snap_path;
    }
    int r = cairn_sim_node_loop(w->sim, &s->addr, &s->loop);
    if (r < 0)
        return r;
    if ((r = cairn_serf_new(s->loop, &c, w->logger, s->keyring, &s->serf, NULL)) < 0) {
        cairn_loop_delete(s->loop);
        s->loop = NULL;
        return r;
    }
    s->up = true;
    return 0;
}

int serf_world_start_all(serf_world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->nodes[i].up)
            continue;
        int r = serf_world_start(w, i);
        if (r < 0)
            return r;
    }
    return 0;
}

void serf_world_kill(serf_world *w, size_t i)
{
    serf_world_node *s = &w->nodes[i];
    cairn_serf_delete(s->serf);
    cairn_loop_delete(s->loop);
    s->serf = NULL;
    s->loop = NULL;
    s->up = false;
}

void serf_world_destroy(serf_world *w)
{
    for (size_t i = 0; i < w->n; i++)
        serf_world_kill(w, i);
    cairn_sim_delete(w->sim);
    memset(w, 0, sizeof(*w));
}

int serf_world_join_all(serf_world *w)
{
    for (size_t i = 1; i < w->n; i++) {
        if (!w->nodes[i].up)
            continue;
        int r = cairn_serf_join(w->nodes[i].serf, &w->nodes[0].addr, 1, false, NULL, NULL);
        if (r < 0)
            return r;
        cairn_sim_run_for(w->sim, 5 * CAIRN_MSEC);
    }
    return 0;
}

size_t serf_world_seeing(const serf_world *w, size_t i, int status)
{
    size_t c = 0;
    for (size_t j = 0; j < w->n; j++) {
        if (j == i || !w->nodes[j].up)
            continue;
        int st = cairn_serf_member_status(w->nodes[j].serf, w->nodes[i].name);
        if (st < 0)
            st = CAIRN_MEMBER_NONE;
        c += st == status;
    }
    return c;
}

bool serf_world_converged(const serf_world *w)
{
    size_t live = 0;
    for (size_t i = 0; i < w->n; i++)
        live += w->nodes[i].up;
    for (size_t i = 0; i < w->n; i++)
        if (w->nodes[i].up && serf_world_seeing(w, i, CAIRN_MEMBER_ALIVE) != live - 1)
            return false;
    return true;
}

uint32_t serf_world_user_count(const serf_world_node *nd, const char *name)
{
    for (size_t i = 0; i < nd->nuser; i++)
        if (strcmp(nd->user[i].name, name) == 0)
            return nd->user[i].count;
    return 0;
}

cairn_time serf_world_run_until(serf_world *w, serf_world_cond cond, const void *arg,
                                cairn_time step, cairn_time limit)
{
    cairn_time start = cairn_sim_now(w->sim);
    while (cairn_sim_now(w->sim) - start <= limit) {
        if (cond(w, arg))
            return cairn_sim_now(w->sim) - start;
        cairn_sim_run_for(w->sim, step);
    }
    return -1;
}
