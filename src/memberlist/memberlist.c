/* The memberlist object: creation, join, leave, meta updates and queries
 * (Go: memberlist.go Create, Join, Leave, UpdateNode, Members, SendTo*).
 *
 * Creation binds TCP and UDP on one port, announces this node alive with
 * incarnation 1 and starts three periodic jobs with a random initial
 * stagger, as upstream: probe (ProbeInterval), gossip (GossipInterval) and
 * push/pull (PushPullInterval, scaled with cluster size). Upstream blocks
 * the caller of Join/Leave/UpdateNode; on a loop these complete through a
 * callback instead. A leave or update waits until its broadcast has left
 * the queue (sent the retransmit limit number of times, or replaced) or
 * until the timeout.
 *
 * The advertise address must be concrete: upstream picks a private IP when
 * bound to 0.0.0.0; we ask the caller (the agent) to decide.
 */
#include "memberlist/ml_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "cairn/keyring.h"

/* ---- lifecycle ---- */

/* Our Vsn as every alive we send carries it: memberlist's protocol range
 * and version, then the delegate's (always all six bytes, spec §2.8). */
static void local_vsn(const cairn_memberlist *ml, uint8_t vsn[6])
{
    vsn[0] = CAIRN_ML_PROTOCOL_MIN;
    vsn[1] = CAIRN_ML_PROTOCOL_MAX;
    vsn[2] = ml->cfg.protocol_version;
    vsn[3] = ml->cfg.delegate_protocol_min;
    vsn[4] = ml->cfg.delegate_protocol_max;
    vsn[5] = ml->cfg.delegate_protocol_version;
}

static int set_alive(cairn_memberlist *ml)
{
    uint8_t meta[CAIRN_ML_META_MAX];
    size_t meta_len = 0;
    if (ml->del.node_meta) {
        meta_len = ml->del.node_meta(ml->del.userdata, meta, sizeof(meta));
        if (meta_len > sizeof(meta))
            return CAIRN_EMSGSIZE;
    }
    uint8_t vsn[6];
    local_vsn(ml, vsn);
    struct ml_alive a = {
        .node = cairn__span_str(ml->name),
        .incarnation = ++ml->incarnation,
        .addr = ml->advertise,
        .meta = {meta, meta_len},
        .vsn = {vsn, sizeof(vsn)},
    };
    cairn__ml_alive_node(ml, &a, NULL, true);
    return cairn__ml_strmap_get(&ml->node_map, ml->name) ? 0 : CAIRN_ENOMEM;
}

static bool addr_unspecified(const cairn_addr *a)
{
    size_t n = cairn_addr_ip_len(a);
    for (size_t i = 0; i < n; i++)
        if (a->ip[i])
            return false;
    return true;
}

static int bind_sockets(cairn_memberlist *ml)
{
    cairn_addr bind = ml->cfg.bind;
    int rc = cairn_listen(ml->loop, &bind, cairn__ml_on_accept, ml, &ml->listener);
    if (rc < 0)
        return rc;
    if ((rc = cairn_listener_local(ml->listener, &bind)) < 0)
        return rc;
    if ((rc = cairn_udp_bind(ml->loop, &bind, cairn__ml_on_packet, ml, &ml->udp)) < 0)
        return rc;
    ml->cfg.bind.port = bind.port;
    ml->advertise = ml->cfg.advertise.family ? ml->cfg.advertise : bind;
    if (ml->advertise.port == 0)
        ml->advertise.port = bind.port;
    if (addr_unspecified(&ml->advertise))
        return CAIRN_EADDRNOTAVAIL;
    return 0;
}

/* Periodic jobs start after a random stagger in [0, interval). */
static int start_timer(cairn_memberlist *ml, cairn_time interval, cairn_timer_cb cb,
                       cairn_timer **ret)
{
    if (interval <= 0)
        return 0;
    int rc = cairn_timer_new(ml->loop, cb, ml, ret);
    if (rc < 0)
        return rc;
    cairn_timer_start(*ret, (cairn_time)cairn_rng_below(&ml->rng, (uint64_t)interval));
    return 0;
}

int cairn_memberlist_new(cairn_loop *loop, const cairn_memberlist_config *cfg,
                         const cairn_memberlist_delegate *delegate, const cairn_logger *logger,
                         cairn_keyring *keyring, cairn_memberlist **ret_ml)
{
    return cairn__ml_create(loop, cfg, delegate, logger, keyring, true, ret_ml);
}

int cairn__ml_create(cairn_loop *loop, const cairn_memberlist_config *cfg,
                     const cairn_memberlist_delegate *delegate, const cairn_logger *logger,
                     cairn_keyring *keyring, bool net, cairn_memberlist **ret_ml)
{
    if (!loop || !ret_ml || cairn_memberlist_config_check(cfg) < 0)
        return CAIRN_EINVAL;
    cairn_memberlist *ml = cairn_calloc(1, sizeof(*ml));
    if (!ml)
        return CAIRN_ENOMEM;
    int rc = CAIRN_ENOMEM;
    ml->loop = loop;
    ml->cfg = *cfg;
    if (delegate)
        ml->del = *delegate;
    if (logger)
        ml->log = *logger;
    ml->keyring = keyring;
    cairn_buf_init(&ml->rx, CAIRN_PACKET_MAX_RECV + 1);
    cairn_buf_init(&ml->tx, CAIRN_PACKET_MAX_RECV + 1024);
    cairn_buf_init(&ml->msg, ML_MAX_MESSAGE);
    cairn__wire_arena_init(&ml->arena, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn__ml_strmap_init_embedded(&ml->node_map, cfg->max_nodes, offsetof(struct ml_node, name));
    cairn__ml_strmap_init(&ml->suspects, cfg->max_nodes);
    cairn__ml_awareness_init(&ml->awareness, cfg->awareness_max_multiplier);
    cairn__frame_cfg_default(&ml->frame);
    ml->frame.keyring = keyring;
    ml->frame.verify_incoming = cfg->gossip_verify_incoming;
    ml->frame.verify_outgoing = cfg->gossip_verify_outgoing;
    ml->frame.compress = cfg->enable_compression;
    ml->frame.enc_version = cfg->protocol_version >= 2 ? 1 : 0;
    if (cfg->seed)
        cairn_rng_init(&ml->rng, cfg->seed);
    else if ((rc = cairn_rng_seed_random(&ml->rng)) < 0)
        goto fail;
    rc = CAIRN_ENOMEM;
    if (!(ml->name = cairn_strdup(cfg->name)))
        goto fail;
    ml->cfg.name = ml->name;
    if (cairn__bcast_queue_new(cfg->retransmit_mult, cfg->max_broadcasts, &ml->broadcasts) < 0)
        goto fail;
    cairn__bcast_queue_set_pool(ml->broadcasts, cfg->shared_pool);
    if (net) {
        if ((rc = bind_sockets(ml)) < 0)
            goto fail;
    } else {
        ml->advertise = cfg->advertise;
        rc = CAIRN_EINVAL;
        if (addr_unspecified(&ml->advertise) || ml->advertise.port == 0)
            goto fail;
    }
    if ((rc = set_alive(ml)) < 0)
        goto fail;
    if ((rc = start_timer(ml, cfg->probe_interval, cairn__ml_probe_tick, &ml->probe_timer)) < 0 ||
        (rc = start_timer(ml, cfg->gossip_nodes > 0 ? cfg->gossip_interval : 0,
                          cairn__ml_gossip_tick, &ml->gossip_timer)) < 0 ||
        (rc = start_timer(ml, cfg->push_pull_interval, cairn__ml_pushpull_tick,
                          &ml->pushpull_timer)) < 0)
        goto fail;
    *ret_ml = ml;
    return 0;
fail:
    cairn_memberlist_delete(ml);
    return rc;
}

void cairn_memberlist_delete(cairn_memberlist *ml)
{
    if (!ml)
        return;
    ml->shutdown = true;
    cairn_timer_delete(ml->probe_timer);
    cairn_timer_delete(ml->gossip_timer);
    cairn_timer_delete(ml->pushpull_timer);
    cairn__ml_probe_cancel_all(ml);
    cairn__ml_close_all_conns(ml);
    /* Pending completions learn that they were cancelled. */
    for (struct ml_waiter *w = ml->waiters; w; w = w->next) {
        if (!w->completed && w->done) {
            w->completed = true;
            w->done(ml, CAIRN_ECANCELED, 0, w->userdata);
        }
    }
    while (ml->waiters) {
        struct ml_waiter *w = ml->waiters;
        ml->waiters = w->next;
        cairn_timer_delete(w->timer);
        cairn_free(w);
    }
    cairn_udp_close(ml->udp);
    cairn_listener_close(ml->listener);
    cairn__bcast_queue_delete(ml->broadcasts);
    cairn__ml_free_nodes(ml);
    cairn__wire_arena_destroy(&ml->arena);
    cairn_buf_destroy(&ml->rx);
    cairn_buf_destroy(&ml->tx);
    cairn_buf_destroy(&ml->msg);
    cairn_free(ml->name);
    cairn_free(ml);
}

/* ---- join ---- */

struct join_op {
    cairn_memberlist *ml;
    size_t pending;
    int successes;
    int last_err;
    cairn_ml_done_cb done;
    void *userdata;
};

static void on_join_pushpull(cairn_memberlist *ml, int status, void *ud)
{
    struct join_op *j = ud;
    if (status == 0)
        j->successes++;
    else
        j->last_err = status;
    if (--j->pending > 0)
        return;
    cairn_ml_done_cb done = j->done;
    void *uud = j->userdata;
    int successes = j->successes, err = j->last_err;
    cairn_free(j);
    if (done)
        done(ml, successes > 0 ? 0 : err, successes, uud);
}

int cairn_memberlist_join(cairn_memberlist *ml, const cairn_addr *addrs, size_t n,
                          cairn_ml_done_cb done, void *userdata)
{
    if (!ml || (!addrs && n) || n == 0)
        return CAIRN_EINVAL;
    struct join_op *j = cairn_calloc(1, sizeof(*j));
    if (!j)
        return CAIRN_ENOMEM;
    *j = (struct join_op){.ml = ml,
                          .pending = n + 1,
                          .last_err = CAIRN_ECONNREFUSED,
                          .done = done,
                          .userdata = userdata};
    for (size_t i = 0; i < n; i++) {
        cairn_addr a = addrs[i];
        if (a.port == 0)
            a.port = ml->cfg.bind.port;
        int rc = cairn__ml_pushpull_start(ml, &a, true, on_join_pushpull, j);
        if (rc < 0) {
            j->last_err = rc;
            j->pending--;
        }
    }
    /* The extra count keeps j alive until every start was attempted. */
    on_join_pushpull(ml, CAIRN_EAGAIN, j);
    return 0;
}

int cairn_memberlist_preload(cairn_memberlist *ml, const cairn_ml_node *nodes, size_t n)
{
    if (!ml || (!nodes && n))
        return CAIRN_EINVAL;
    if (n == 0)
        return 0;
    /* One block: the push/pull records, then their version bytes. */
    if (n > SIZE_MAX / (sizeof(cairn_wire_push_node) + 6))
        return CAIRN_ENOMEM;
    cairn_wire_push_node *recs = cairn_malloc(n * (sizeof(*recs) + 6));
    if (!recs)
        return CAIRN_ENOMEM;
    uint8_t *vsn = (uint8_t *)(recs + n);
    for (size_t i = 0; i < n; i++) {
        const cairn_ml_node *x = &nodes[i];
        size_t len = x->name ? strlen(x->name) : 0;
        cairn_span ip = cairn__ml_ip_span(&x->addr);
        if (len == 0 || len > ML_NAME_MAX || ip.len == 0 || x->meta_len > CAIRN_WIRE_META_MAX ||
            (x->meta_len && !x->meta)) {
            cairn_free(recs);
            return CAIRN_EINVAL;
        }
        uint8_t *v = vsn + 6 * i;
        v[ML_PMIN] = x->pmin, v[ML_PMAX] = x->pmax, v[ML_PCUR] = x->pcur;
        v[ML_DMIN] = x->dmin, v[ML_DMAX] = x->dmax, v[ML_DCUR] = x->dcur;
        recs[i] = (cairn_wire_push_node){.addr = ip,
                                         .incarnation = x->incarnation,
                                         .meta = {x->meta, x->meta_len},
                                         .name = {(const uint8_t *)x->name, len},
                                         .port = x->addr.port,
                                         .state = x->state,
                                         .vsn = {v, 6}};
    }
    int rc = cairn__ml_verify_protocol(ml, recs, n);
    if (rc == 0) {
        ml->preloading = true;
        cairn__ml_merge_state(ml, recs, n);
        ml->preloading = false;
    }
    cairn_free(recs);
    return rc;
}

/* ---- leave and update ---- */

int cairn_memberlist_leave(cairn_memberlist *ml, cairn_time timeout, cairn_ml_done_cb done,
                           void *userdata)
{
    if (!ml)
        return CAIRN_EINVAL;
    struct ml_waiter *w = cairn__ml_waiter_new(ml, done, userdata);
    if (!w)
        return CAIRN_ENOMEM;
    if (ml->leaving) {
        w->immediate = true;
        cairn_timer_start(w->timer, 0);
        return 0;
    }
    ml->leaving = true;
    struct ml_node *me = cairn__ml_strmap_get(&ml->node_map, ml->name);
    cairn_wire_dead d = {.from = cairn__span_str(ml->name),
                         .incarnation = me ? me->incarnation : ml->incarnation,
                         .node = cairn__span_str(ml->name)};
    w->attached = true;
    size_t queued = cairn__bcast_queue_len(ml->broadcasts);
    cairn__ml_dead_node(ml, &d, w);
    (void)queued;
    cairn__ml_waiter_arm(ml, w, timeout);
    return 0;
}

int cairn_memberlist_update_node(cairn_memberlist *ml, cairn_time timeout, cairn_ml_done_cb done,
                                 void *userdata)
{
    if (!ml)
        return CAIRN_EINVAL;
    uint8_t meta[CAIRN_ML_META_MAX];
    size_t meta_len = 0;
    if (ml->del.node_meta) {
        meta_len = ml->del.node_meta(ml->del.userdata, meta, sizeof(meta));
        if (meta_len > sizeof(meta))
            return CAIRN_EMSGSIZE;
    }
    struct ml_node *me = cairn__ml_strmap_get(&ml->node_map, ml->name);
    if (!me)
        return CAIRN_ENOENT;
    struct ml_waiter *w = cairn__ml_waiter_new(ml, done, userdata);
    if (!w)
        return CAIRN_ENOMEM;
    uint8_t vsn[6];
    local_vsn(ml, vsn);
    struct ml_alive a = {
        .node = cairn__span_str(ml->name),
        .incarnation = ++ml->incarnation,
        .addr = me->addr,
        .meta = {meta, meta_len},
        .vsn = {vsn, sizeof(vsn)},
    };
    w->attached = true;
    cairn__ml_alive_node(ml, &a, w, true);
    cairn__ml_waiter_arm(ml, w, timeout);
    return 0;
}

/* ---- sending user messages ---- */

static int send_user(cairn_memberlist *ml, const cairn_addr *to, const struct ml_node *node,
                     const uint8_t *msg, size_t len)
{
    cairn_buf_reset(&ml->msg);
    uint8_t type = CAIRN_WIRE_USER;
    int rc = cairn_buf_append(&ml->msg, &type, 1);
    if (rc == 0)
        rc = cairn_buf_append(&ml->msg, msg, len);
    if (rc == 0)
        rc = cairn__ml_send_packet(ml, to, node, ml->msg.data, ml->msg.len);
    cairn_buf_reset(&ml->msg);
    return rc;
}

int cairn_memberlist_send_best_effort(cairn_memberlist *ml, const char *node, const uint8_t *msg,
                                      size_t len)
{
    if (!ml || !node || (!msg && len))
        return CAIRN_EINVAL;
    struct ml_node *n = cairn__ml_strmap_get(&ml->node_map, node);
    if (!n)
        return CAIRN_ENOENT;
    return send_user(ml, &n->addr, n, msg, len);
}

int cairn_memberlist_send_to_address(cairn_memberlist *ml, const cairn_addr *addr,
                                     const uint8_t *msg, size_t len)
{
    if (!ml || !addr || (!msg && len))
        return CAIRN_EINVAL;
    return send_user(ml, addr, NULL, msg, len);
}

/* ---- queries ---- */

size_t cairn_memberlist_num_members(const cairn_memberlist *ml)
{
    size_t alive = 0;
    for (size_t i = 0; i < ml->n_nodes; i++)
        alive += ml->nodes[i]->state != CAIRN_ML_DEAD && ml->nodes[i]->state != CAIRN_ML_LEFT;
    return alive;
}

size_t cairn_memberlist_num_nodes(const cairn_memberlist *ml)
{
    return ml->n_nodes;
}

void cairn_memberlist_for_each(const cairn_memberlist *ml, cairn_ml_node_cb cb, void *userdata)
{
    for (size_t i = 0; i < ml->n_nodes; i++) {
        cairn_ml_node v;
        cairn__ml_node_view(ml->nodes[i], &v);
        if (!cb(&v, userdata))
            return;
    }
}

int cairn_memberlist_get_node(const cairn_memberlist *ml, const char *name, cairn_ml_node *ret_node)
{
    if (!ml || !name || !ret_node)
        return CAIRN_EINVAL;
    const struct ml_node *n = cairn__ml_strmap_get(&ml->node_map, name);
    if (!n)
        return CAIRN_ENOENT;
    cairn__ml_node_view(n, ret_node);
    return 0;
}

void cairn_memberlist_local_node(const cairn_memberlist *ml, cairn_ml_node *ret_node)
{
    (void)cairn_memberlist_get_node(ml, ml->name, ret_node);
}

int cairn_memberlist_health_score(const cairn_memberlist *ml)
{
    return ml->awareness.score;
}

void cairn_memberlist_get_stats(const cairn_memberlist *ml, cairn_ml_stats *ret_stats)
{
    *ret_stats = ml->stats;
    ret_stats->broadcast_queue = cairn__bcast_queue_len(ml->broadcasts);
    ret_stats->accept_paused = ml->listener ? cairn_listener_accept_paused(ml->listener) : 0;
}
