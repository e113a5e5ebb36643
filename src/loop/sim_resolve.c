/* Name resolution on the simulator: the world's host table.
 *
 * A lookup is a timer on the resolving node's loop, so it takes the world's
 * resolve delay in virtual time and waits out a stall like any other work
 * of that node; then it answers from the table (which may have changed in
 * the meantime, as DNS records do). Cancelling deletes the timer.
 */
#include "cairn/sim.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"
#include "loop/sim_internal.h"

#include <string.h>

static struct sim_host *host_find(cairn_sim *sim, const char *name)
{
    for (size_t i = 0; i < sim->hosts_len; i++)
        if (strcmp(sim->hosts[i].name, name) == 0)
            return &sim->hosts[i];
    return NULL;
}

int cairn_sim_add_host(cairn_sim *sim, const char *name, const cairn_addr *ip)
{
    if (sim == NULL || name == NULL || ip == NULL || (ip->family != 4 && ip->family != 6))
        return CAIRN_EINVAL;
    size_t len = strlen(name);
    if (len == 0 || len > CAIRN_RESOLVE_HOST_MAX)
        return CAIRN_EINVAL;
    struct sim_host *h = host_find(sim, name);
    if (h == NULL) {
        struct sim_host *hosts = cairn_reallocarray(sim->hosts, sim->hosts_len + 1, sizeof(*hosts));
        if (hosts == NULL)
            return CAIRN_ENOMEM;
        sim->hosts = hosts;
        h = &sim->hosts[sim->hosts_len++];
        memset(h, 0, sizeof(*h));
        memcpy(h->name, name, len + 1);
    }
    if (h->n == CAIRN_RESOLVE_MAX_ADDRS)
        return CAIRN_ELIMIT;
    h->addrs[h->n] = *ip;
    h->addrs[h->n].port = 0;
    h->n++;
    return 0;
}

void cairn_sim_set_resolve_delay(cairn_sim *sim, cairn_time delay)
{
    if (sim != NULL && delay >= 0)
        sim->resolve_delay = delay;
}

void cairn__sim_hosts_free(cairn_sim *sim)
{
    cairn_free(sim->hosts);
    sim->hosts = NULL;
    sim->hosts_len = 0;
}

static void on_lookup(cairn_timer *timer, void *userdata)
{
    cairn_resolve *req = userdata;
    struct sim_node *node = (struct sim_node *)req->loop;
    const struct sim_host *h = host_find(node->sim, req->host);
    req->impl = NULL;
    cairn_timer_delete(timer);
    if (h == NULL)
        cairn__resolve_done(req, CAIRN_ENOHOST, NULL, 0);
    else
        cairn__resolve_done(req, 0, h->addrs, h->n);
}

int cairn__sim_resolve(cairn_resolve *req)
{
    struct sim_node *node = (struct sim_node *)req->loop;
    cairn_timer *t;
    int r = cairn_timer_new(req->loop, on_lookup, req, &t);
    if (r < 0)
        return r;
    cairn_timer_start(t, node->sim->resolve_delay);
    req->impl = t;
    return 0;
}

void cairn__sim_resolve_cancel(cairn_resolve *req)
{
    cairn_timer_delete(req->impl);
    req->impl = NULL;
}
