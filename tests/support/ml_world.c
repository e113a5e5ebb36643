/* The shared simulated memberlist world (see ml_world.h). */
#include "ml_world.h"

#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

int ml_world_init(ml_world *w, uint64_t seed, size_t n)
{
    memset(w, 0, sizeof(*w));
    int r = cairn_sim_new(seed, &w->sim);
    if (r < 0)
        return r;
    w->nodes = cairn_calloc(n, sizeof(*w->nodes));
    if (w->nodes == NULL) {
        cairn_sim_delete(w->sim);
        return CAIRN_ENOMEM;
    }
    w->n = n;
    if ((r = cairn_ml_pool_new(&w->pool)) < 0) {
        cairn_free(w->nodes);
        cairn_sim_delete(w->sim);
        return r;
    }
    cairn_memberlist_config_lan(&w->cfg);
    /* One loop thread (the simulator's): every member shares one pool. */
    w->cfg.shared_pool = w->pool;
    w->cfg.enable_compression = false;
    if (w->cfg.max_nodes < n + 16)
        w->cfg.max_nodes = n + 16;
    for (size_t i = 0; i < n; i++) {
        ml_world_node *s = &w->nodes[i];
        snprintf(s->name, sizeof(s->name), "n%u", (unsigned)i);
        uint8_t ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        if ((r = cairn_addr_from_ip(ip, 4, 7946, &s->addr)) < 0) {
            ml_world_destroy(w);
            return r;
        }
    }
    return 0;
}

int ml_world_start(ml_world *w, size_t i)
{
    ml_world_node *s = &w->nodes[i];
    cairn_memberlist_config c = w->cfg;
    c.name = s->name;
    c.bind = s->addr;
    c.seed = cairn_rng_u64(cairn_sim_rng(w->sim)) | 1;
    int r = cairn_sim_node_loop(w->sim, &s->addr, &s->loop);
    if (r < 0)
        return r;
    const cairn_memberlist_delegate *del = NULL;
    const cairn_logger *log = NULL;
    if (w->instrument != NULL) {
        memset(&s->del, 0, sizeof(s->del));
        memset(&s->log, 0, sizeof(s->log));
        w->instrument(w, i, &s->del, &s->log);
        del = &s->del;
        log = &s->log;
    }
    if ((r = cairn_memberlist_new(s->loop, &c, del, log, NULL, &s->ml)) < 0) {
        cairn_loop_delete(s->loop);
        s->loop = NULL;
        return r;
    }
    s->up = true;
    return 0;
}

int ml_world_start_all(ml_world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->nodes[i].up)
            continue;
        int r = ml_world_start(w, i);
        if (r < 0)
            return r;
    }
    return 0;
}

void ml_world_kill(ml_world *w, size_t i)
{
    ml_world_node *s = &w->nodes[i];
    cairn_memberlist_delete(s->ml);
    cairn_loop_delete(s->loop);
    s->ml = NULL;
    s->loop = NULL;
    s->up = false;
}

void ml_world_destroy(ml_world *w)
{
    for (size_t i = 0; i < w->n; i++)
        ml_world_kill(w, i);
    cairn_sim_delete(w->sim);
    cairn_ml_pool_delete(w->pool);
    cairn_free(w->nodes);
    memset(w, 0, sizeof(*w));
}

size_t ml_world_live(const ml_world *w)
{
    size_t c = 0;
    for (size_t i = 0; i < w->n; i++)
        c += w->nodes[i].up;
    return c;
}

bool ml_world_converged(const ml_world *w)
{
    size_t live = ml_world_live(w);
    for (size_t i = 0; i < w->n; i++)
        if (w->nodes[i].up && cairn_memberlist_num_members(w->nodes[i].ml) != live)
            return false;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->nodes[i].up)
            continue;
        for (size_t j = 0; j < w->n; j++) {
            cairn_ml_node nd;
            if (i == j || !w->nodes[j].up)
                continue;
            if (cairn_memberlist_get_node(w->nodes[i].ml, w->nodes[j].name, &nd) < 0 ||
                nd.state != CAIRN_ML_ALIVE)
                return false;
        }
    }
    return true;
}

size_t ml_world_seeing(const ml_world *w, const char *name, int state)
{
    size_t c = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->nodes[i].up || strcmp(w->nodes[i].name, name) == 0)
            continue;
        cairn_ml_node nd;
        int st =
            cairn_memberlist_get_node(w->nodes[i].ml, name, &nd) == 0 ? nd.state : CAIRN_ML_DEAD;
        if (state == CAIRN_ML_SUSPECT)
            c += st != CAIRN_ML_ALIVE;
        else
            c += st == CAIRN_ML_DEAD || st == CAIRN_ML_LEFT;
    }
    return c;
}
