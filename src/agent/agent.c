/* The cairn agent: one cairn_serf with the serf agent's configuration.
 *
 * Serf's agent (cmd/serf/command/agent) is a thin shell over serf.Create:
 * it fills a serf.Config from its flags (delegate protocol 5, member and
 * user-event coalescing 3 s / 1 s, reconnect and tombstone timeouts),
 * passes every serf event to its handlers and, on a signal, calls
 * serf.Leave. This module is that shell for cairn: it validates the
 * configuration with the messages the command line shows (node name, tags,
 * key), builds a cairn_serf_config, forwards cairn_serf's events to one
 * callback and wraps join and leave with one pending completion each.
 *
 * Because the serf layer runs underneath, Serf agents see a full peer:
 * our coordinate rides the acks, our join and leave intents are gossiped
 * (a graceful leave shows as *left* in `serf members`, not failed), and
 * Serf's messages (intents, user events, queries) are handled, or counted
 * by serf when it does not handle them yet.
 *
 * cairn_agent_node_member stays here: it describes a raw memberlist node
 * as a serf member (tags from the Meta), for tools that look at the
 * memberlist underneath.
 */
#include "cairn/agent.h"

#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/buf.h"
#include "cairn/keyring.h"
#include "agent/routing.h"
#include "base/base64.h"
#include "base/utf8.h"
#include "wire/msg.h"

/* Largest tag encoding we build before checking it against the 512-byte
 * Meta limit (so an oversized set is reported with its size). */
#define AGENT_TAGS_SCRATCH (1024 * 1024)

struct cairn_agent {
    cairn_loop *loop;
    cairn_serf *serf;
    cairn_logger log;
    cairn_agent_event_cb events;
    void *userdata;
    cairn_keyring *keyring;
    /* The keyring is the caller's (cfg->keyring): not ours to delete. */
    bool keyring_borrowed;
    void (*keyring_changed)(cairn_agent *agent, void *userdata);
    /* Join with replay (not ignore_old). */
    bool replay;
    /* A join / a leave is under way. */
    bool join_busy, leave_busy;
    /* Pending completions (one join and one leave at a time is enough for
     * the CLI; more are refused with CAIRN_EBUSY). */
    cairn_agent_done_cb join_done, leave_done;
    void *join_ud, *leave_ud;
    /* The router, its WAN pool and their handlers (NULL without a
     * datacenter); see agent/routing.h. */
    cairn__routing *routing;
    /* A WAN join is under way, and its completion. */
    bool wan_join_busy;
    cairn_agent_done_cb wan_join_done;
    void *wan_join_ud;
};

/* ---- events ---- */

static void on_serf_event(const cairn_event *ev, void *ud)
{
    cairn_agent *a = ud;
    cairn__routing_lan_event(a->routing, ev);
    if (a->events)
        a->events(a, ev, a->userdata);
}

static void on_keyring_changed(cairn_serf *s, void *ud)
{
    cairn_agent *a = ud;
    (void)s;
    if (a->keyring_changed)
        a->keyring_changed(a, a->userdata);
}

/* copy_text: span as a C string into buf->text at *used; a NUL byte
 * inside becomes U+FFFD. NULL when out of room (cannot happen for Meta of
 * at most CAIRN_ML_META_MAX bytes, see cairn_agent_member_buf). */
static const char *copy_text(cairn_span sp, cairn_agent_member_buf *buf, size_t *used)
{
    char *start = buf->text + *used;
    size_t room = sizeof(buf->text) - *used;
    size_t k = 0;
    for (size_t i = 0; i < sp.len; i++) {
        if (k + 4 > room)
            return NULL;
        if (sp.p[i] == 0) {
            memcpy(start + k, "\xEF\xBF\xBD", 3);
            k += 3;
        } else {
            start[k++] = (char)sp.p[i];
        }
    }
    if (k + 1 > room)
        return NULL;
    start[k++] = 0;
    *used += k;
    return start;
}

static int member_status(int ml_state)
{
    switch (ml_state) {
    case CAIRN_ML_DEAD:
        return CAIRN_MEMBER_FAILED;
    case CAIRN_ML_LEFT:
        return CAIRN_MEMBER_LEFT;
    default:
        return CAIRN_MEMBER_ALIVE;
    }
}

void cairn_agent_node_member(const cairn_ml_node *node, cairn_agent_member_buf *buf,
                             cairn_member *ret_member, bool *ret_bad_meta)
{
    cairn_member m = {
        .name = node->name,
        .addr = node->addr,
        .tags = buf->tags,
        .status = member_status(node->state),
        .protocol_min = node->pmin,
        .protocol_max = node->pmax,
        .protocol_cur = node->pcur,
        .delegate_min = node->dmin,
        .delegate_max = node->dmax,
        .delegate_cur = node->dcur,
    };
    bool bad = false;
    cairn_wire_arena arena;
    cairn__wire_arena_init(&arena, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_wire_tag *tags;
    size_t n, used = 0;
    if (node->meta_len == 0) {
        n = 0;
    } else if (cairn__wire_tags_decode((cairn_span){node->meta, node->meta_len}, &arena, NULL,
                                       &tags, &n) != 0 ||
               n > CAIRN_AGENT_META_TAGS) {
        bad = true;
        n = 0;
    }
    for (size_t i = 0; i < n && !bad; i++) {
        buf->tags[i].key = copy_text(tags[i].key, buf, &used);
        buf->tags[i].value = copy_text(tags[i].value, buf, &used);
        bad = !buf->tags[i].key || !buf->tags[i].value;
        m.ntags = bad ? 0 : i + 1;
    }
    cairn__wire_arena_destroy(&arena);
    *ret_member = m;
    if (ret_bad_meta)
        *ret_bad_meta = bad;
}

/* ---- configuration ---- */

/* check_tags: the tags as serf will encode them, checked with the
 * messages the command line shows (the encoding itself is serf's). */
static int check_tags(const cairn_agent_config *cfg, cairn_diag *diag)
{
    if (cfg->n_tags > CAIRN_AGENT_MAX_TAGS)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "tags: %zu tags, limit %d", cfg->n_tags,
                              CAIRN_AGENT_MAX_TAGS);
    cairn_wire_tag tags[CAIRN_AGENT_MAX_TAGS];
    for (size_t i = 0; i < cfg->n_tags; i++) {
        if (!cfg->tags[i].key || !cfg->tags[i].key[0] || !cfg->tags[i].value)
            return cairn_diag_set(diag, CAIRN_EINVAL, "tags: tag %zu has no key", i + 1);
        tags[i].key = cairn__span_str(cfg->tags[i].key);
        tags[i].value = cairn__span_str(cfg->tags[i].value);
    }
    cairn_buf b;
    /* Room past the Meta limit so that the encoder reports the size. */
    cairn_buf_init(&b, AGENT_TAGS_SCRATCH);
    int rc = cairn__wire_tags_encode(tags, cfg->n_tags, &b, diag);
    if (rc == CAIRN_EINVAL)
        cairn_diag_set(diag, rc, "tags: duplicate key");
    cairn_buf_destroy(&b);
    return rc;
}

/* check_node_name: what Serf and the JSON log need of our own name: 1 to
 * CAIRN_NAME_MAX bytes of valid UTF-8 (peers are free to send
 * anything; that is repaired where it is printed). */
static int check_node_name(const char *name, cairn_diag *diag)
{
    if (!name || !name[0])
        return cairn_diag_set(diag, CAIRN_EINVAL, "node: the node name is empty");
    size_t len = strlen(name);
    if (len > CAIRN_NAME_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL, "node: the node name is %zu bytes, limit %d", len,
                              CAIRN_NAME_MAX);
    if (!cairn__utf8_valid(name, len))
        return cairn_diag_set(diag, CAIRN_EINVAL, "node: the node name is not valid UTF-8");
    return 0;
}

/* coalesce: a configured period: 0 is the agent default, negative off. */
static cairn_time coalesce(cairn_time configured, cairn_time dflt)
{
    return configured == 0 ? dflt : configured < 0 ? 0 : configured;
}

/* make_serf_config: the serf agent's serf.Config for cfg. */
static int make_serf_config(const cairn_agent_config *cfg, cairn_agent *a, cairn_serf_config *sc,
                            cairn_diag *diag)
{
    const char *profile = cfg->profile ? cfg->profile : "lan";
    cairn_serf_config_default(sc);
    if (cairn_memberlist_config_profile(profile, &sc->memberlist) < 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "profile: \"%s\" is not lan, wan or local",
                              profile);
    unsigned proto = cfg->protocol ? cfg->protocol : CAIRN_AGENT_PROTOCOL;
    if (proto < 3 || proto > CAIRN_SERF_PROTOCOL_MAX)
        return cairn_diag_set(diag, CAIRN_EINVAL, "protocol: %u is not 3 to %d", proto,
                              CAIRN_SERF_PROTOCOL_MAX);
    sc->memberlist.name = cfg->node;
    sc->memberlist.bind = cfg->bind;
    sc->memberlist.advertise = cfg->advertise;
    sc->memberlist.enable_compression = !cfg->disable_compression;
    sc->memberlist.seed = cfg->seed;
    sc->protocol_version = (uint8_t)proto;
    sc->tags = cfg->tags;
    sc->ntags = cfg->n_tags;
    sc->event_cb = on_serf_event;
    sc->event_userdata = a;
    sc->coalesce_period = coalesce(cfg->coalesce_period, CAIRN_AGENT_COALESCE_PERIOD);
    sc->quiescent_period = coalesce(cfg->quiescent_period, CAIRN_AGENT_QUIESCENT_PERIOD);
    sc->user_coalesce_period = sc->coalesce_period;
    sc->user_quiescent_period = sc->quiescent_period;
    if (cfg->reconnect_timeout > 0)
        sc->reconnect_timeout = cfg->reconnect_timeout;
    if (cfg->tombstone_timeout > 0)
        sc->tombstone_timeout = cfg->tombstone_timeout;
    sc->snapshot_path = cfg->snapshot_path;
    sc->rejoin_after_leave = cfg->rejoin_after_leave;
    sc->disable_coordinates = cfg->disable_coordinates;
    sc->enable_name_conflict_resolution = !cfg->disable_name_resolution;
    if (cfg->reconnect_interval > 0)
        sc->reconnect_interval = cfg->reconnect_interval;
    if (cfg->broadcast_timeout > 0)
        sc->broadcast_timeout = cfg->broadcast_timeout;
    if (cfg->query_size_limit)
        sc->query_size_limit = cfg->query_size_limit;
    if (cfg->query_response_size_limit)
        sc->query_response_size_limit = cfg->query_response_size_limit;
    if (cfg->user_event_size_limit)
        sc->user_event_size_limit = cfg->user_event_size_limit;
    if (cfg->keyring_changed) {
        sc->keyring_changed_cb = on_keyring_changed;
        sc->keyring_changed_userdata = a;
    }
    return cairn_serf_config_check(sc, diag);
}

int cairn_agent_new(cairn_loop *loop, const cairn_agent_config *cfg, const cairn_logger *logger,
                    cairn_agent_event_cb events, void *userdata, cairn_diag *diag,
                    cairn_agent **ret_agent)
{
    if (!loop || !cfg || !ret_agent)
        return CAIRN_EINVAL;
    int rc = check_node_name(cfg->node, diag);
    if (rc < 0)
        return rc;
    if (!cfg->keyring && cfg->key_len && !cairn_keyring_valid_key_len(cfg->key_len))
        return cairn_diag_set(diag, CAIRN_EINVAL, "encrypt: key is %zu bytes, need 16, 24 or 32",
                              cfg->key_len);
    if ((rc = check_tags(cfg, diag)) < 0)
        return rc;
    cairn_agent *a = cairn_calloc(1, sizeof(*a));
    if (!a)
        return CAIRN_ENOMEM;
    a->loop = loop;
    a->events = events;
    a->userdata = userdata;
    a->replay = cfg->replay;
    if (logger)
        a->log = *logger;
    cairn_serf_config sc;
    if ((rc = make_serf_config(cfg, a, &sc, diag)) < 0)
        goto fail;
    a->keyring_changed = cfg->keyring_changed;
    if (cfg->keyring) {
        a->keyring = cfg->keyring;
        a->keyring_borrowed = true;
    } else if (cfg->key_len && (rc = cairn_keyring_new(cfg->key, cfg->key_len, &a->keyring)) < 0) {
        if (rc == CAIRN_ENOTSUP)
            rc = cairn_diag_set(diag, rc, "encryption needs %s (package libssl3)",
                                CAIRN_KEYRING_LIBCRYPTO);
        goto fail;
    }
    if (cfg->datacenter && (rc = cairn__routing_new(a, loop, cfg, &sc, logger, a->keyring, diag,
                                                    &a->routing, &sc.tags, &sc.ntags)) < 0)
        goto fail;
    if (!cfg->datacenter && (cfg->server || cfg->wan_bind.family)) {
        rc = cairn_diag_set(diag, CAIRN_EINVAL, "datacenter: a server or a WAN pool needs one");
        goto fail;
    }
    cairn_diag sd = {0};
    rc = cairn_serf_new(loop, &sc, logger, a->keyring, &a->serf, &sd);
    if (rc < 0) {
        char addr[CAIRN_ADDR_STRLEN];
        if (rc == CAIRN_EINVAL || rc == CAIRN_ELIMIT || rc == CAIRN_ENOMEM)
            cairn_diag_set(diag, rc, "%s", sd.msg[0] ? sd.msg : cairn_strerror(rc));
        else
            cairn_diag_set(diag, rc, "bind: cannot bind %s: %s",
                           cairn_addr_format(&cfg->bind, true, addr, sizeof(addr)),
                           cairn_strerror(rc));
        goto fail;
    }
    if (a->routing && (rc = cairn__routing_attach_lan(a->routing, a->serf, diag)) < 0)
        goto fail;
    *ret_agent = a;
    return 0;
fail:
    cairn_agent_delete(a);
    return rc;
}

void cairn_agent_delete(cairn_agent *agent)
{
    if (!agent)
        return;
    /* Cancelled completions run from serf_delete; they are dropped (see
     * on_joined), so clear ours first. */
    cairn_serf *s = agent->serf;
    agent->serf = NULL;
    cairn__routing *r = agent->routing;
    agent->routing = NULL;
    cairn__routing_delete(r);
    cairn_serf_delete(s);
    if (!agent->keyring_borrowed)
        cairn_keyring_delete(agent->keyring);
    cairn_free(agent);
}

/* ---- join and leave ---- */

static void on_joined(cairn_serf *s, int status, int count, void *ud)
{
    cairn_agent *a = ud;
    (void)s;
    cairn_agent_done_cb done = a->join_done;
    a->join_done = NULL;
    a->join_busy = false;
    if (done && a->serf)
        done(a, status, count, a->join_ud);
}

int cairn_agent_join(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                     cairn_agent_done_cb done, void *userdata)
{
    if (!agent || !addrs || n == 0)
        return CAIRN_EINVAL;
    if (agent->join_busy)
        return CAIRN_EBUSY;
    agent->join_done = done;
    agent->join_ud = userdata;
    agent->join_busy = true;
    int rc = cairn_serf_join(agent->serf, addrs, n, !agent->replay, on_joined, agent);
    if (rc < 0) {
        agent->join_done = NULL;
        agent->join_busy = false;
    }
    return rc;
}

static void on_left(cairn_serf *s, int status, int count, void *ud)
{
    cairn_agent *a = ud;
    (void)s;
    (void)count;
    cairn_agent_done_cb done = a->leave_done;
    a->leave_done = NULL;
    a->leave_busy = false;
    if (done && a->serf)
        done(a, status, 0, a->leave_ud);
}

/* The WAN pool left (or failed to): now the LAN, as a Consul server
 * leaves the WAN first (its datacenter keeps routing to it meanwhile). */
static void on_wan_left(cairn_serf *s, int status, int count, void *ud)
{
    cairn_agent *a = ud;
    (void)s;
    (void)status;
    (void)count;
    if (!a->serf)
        return;
    int rc = cairn_serf_leave(a->serf, on_left, a);
    if (rc < 0)
        on_left(a->serf, rc, 0, a);
}

int cairn_agent_leave(cairn_agent *agent, cairn_agent_done_cb done, void *userdata)
{
    if (!agent)
        return CAIRN_EINVAL;
    if (agent->leave_busy)
        return CAIRN_EBUSY;
    agent->leave_done = done;
    agent->leave_ud = userdata;
    agent->leave_busy = true;
    cairn_serf *wan = cairn_agent_wan_serf(agent);
    int rc = wan && cairn_serf_state(wan) == CAIRN_SERF_ALIVE
                 ? cairn_serf_leave(wan, on_wan_left, agent)
                 : cairn_serf_leave(agent->serf, on_left, agent);
    if (rc < 0) {
        agent->leave_done = NULL;
        agent->leave_busy = false;
    }
    return rc;
}

/* ---- queries ---- */

cairn_serf *cairn_agent_serf(cairn_agent *agent)
{
    return agent ? agent->serf : NULL;
}

cairn_router *cairn_agent_router(cairn_agent *agent)
{
    return agent ? cairn__routing_router(agent->routing) : NULL;
}

cairn_serf *cairn_agent_wan_serf(cairn_agent *agent)
{
    return agent ? cairn__routing_wan(agent->routing) : NULL;
}

const char *cairn_agent_dc(const cairn_agent *agent)
{
    return agent ? cairn__routing_dc(agent->routing) : NULL;
}

bool cairn_agent_is_server(const cairn_agent *agent)
{
    return agent && cairn__routing_is_server(agent->routing);
}

int cairn_agent_flood(cairn_agent *agent)
{
    return agent ? cairn__routing_flood(agent->routing) : CAIRN_EINVAL;
}

void cairn_agent_check_routes(cairn_agent *agent)
{
    if (agent)
        cairn__routing_check_routes(agent->routing);
}

static void on_wan_joined(cairn_serf *s, int status, int count, void *ud)
{
    cairn_agent *a = ud;
    (void)s;
    cairn_agent_done_cb done = a->wan_join_done;
    a->wan_join_done = NULL;
    a->wan_join_busy = false;
    if (done && a->serf)
        done(a, status, count, a->wan_join_ud);
}

int cairn_agent_join_wan(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                         cairn_agent_done_cb done, void *userdata)
{
    cairn_serf *wan = cairn_agent_wan_serf(agent);
    if (!wan || !addrs || n == 0)
        return CAIRN_EINVAL;
    if (agent->wan_join_busy)
        return CAIRN_EBUSY;
    agent->wan_join_done = done;
    agent->wan_join_ud = userdata;
    agent->wan_join_busy = true;
    int rc = cairn_serf_join(wan, addrs, n, true, on_wan_joined, agent);
    if (rc < 0) {
        agent->wan_join_done = NULL;
        agent->wan_join_busy = false;
    }
    return rc;
}

cairn_memberlist *cairn_agent_memberlist(cairn_agent *agent)
{
    return agent ? cairn_serf_memberlist(agent->serf) : NULL;
}

void cairn_agent_get_stats(const cairn_agent *agent, cairn_agent_stats *ret_stats)
{
    memset(ret_stats, 0, sizeof(*ret_stats));
    cairn_memberlist_get_stats(cairn_serf_memberlist(agent->serf), &ret_stats->ml);
    cairn_serf_get_stats(agent->serf, &ret_stats->serf);
    ret_stats->alive = ret_stats->serf.alive;
    ret_stats->leaving = ret_stats->serf.leaving;
    ret_stats->failed = ret_stats->serf.failed;
    ret_stats->left = ret_stats->serf.left;
}

/* ---- helpers for the command line ---- */

int cairn_agent_parse_tag(char *buf, cairn_tag *ret_tag)
{
    if (!buf || !ret_tag)
        return CAIRN_EINVAL;
    char *eq = strchr(buf, '=');
    if (!eq || eq == buf)
        return CAIRN_EINVAL;
    *eq = 0;
    ret_tag->key = buf;
    ret_tag->value = eq + 1;
    return 0;
}

int cairn_agent_decode_key(const char *b64, uint8_t *out, size_t *ret_len)
{
    if (!b64 || !out || !ret_len)
        return CAIRN_EINVAL;
    size_t n = strlen(b64);
    /* 32 bytes are 44 base64 characters; anything longer is no key. */
    if (n == 0 || n % 4 != 0 || n > 44)
        return CAIRN_EINVAL;
    uint8_t tmp[48];
    int len = cairn__base64_decode(b64, tmp, sizeof tmp);
    if (len < 0 || !cairn_keyring_valid_key_len((size_t)len))
        return CAIRN_EINVAL;
    memcpy(out, tmp, (size_t)len);
    *ret_len = (size_t)len;
    return 0;
}
