/* The cairn agent, first version: one memberlist node, Serf-compatible on
 * the wire, without the serf layer.
 *
 * Serf rides inside memberlist: tags in the node Meta, its gossip in
 * memberlist user messages, its full state in the push/pull user state and
 * its coordinate in the ack payload. A memberlist-only node must therefore
 * decide what to offer for each, and the answers come from reading Serf
 * 0.9.4 and watching the real agent:
 *
 *   - Meta: 0xFF + msgpack map of the tags (serf protocol >= 3), the same
 *     bytes Serf's agent sends, so `serf members` shows our tags. Encoded
 *     once, sorted by key (Go's map order is random; receivers only compare
 *     bytes to raise an update).
 *   - push/pull user state: empty (UserStateLen 0). memberlist 0.2.2 calls
 *     the delegate's MergeRemoteState only when the state is non-empty, so
 *     Serf merges nothing and logs nothing.
 *   - ack payload: nil. Serf's ping delegate returns early on an empty
 *     payload: no coordinate is recorded for us, and no error is logged.
 *   - Serf user messages (join/leave intents, events, queries) are counted
 *     by type and dropped: we neither act on them nor re-gossip them.
 *
 * Consequences for Serf (docs/AGENT.md): we appear alive with our tags;
 * our graceful leave (memberlist dead-from-self) shows as *failed* in
 * `serf members`, because Serf decides left vs failed from its own leave
 * intent, which belongs to the serf layer we do not have yet.
 *
 * Events: memberlist's join notification becomes member-join, a meta
 * change member-update, and a leave notification member-leave when the
 * node left (dead from itself) or member-failed when others declared it
 * dead.
 */
#include "cairn/agent.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/buf.h"
#include "cairn/keyring.h"
#include "base/utf8.h"
#include "wire/msg.h"

#define AGENT_LOG "agent"
/* Index of serf_by_type that counts types outside 0..9. */
#define AGENT_SERF_OTHER 10
/* Largest tag encoding we build before checking it against the 512-byte
 * Meta limit (so an oversized set is reported with its size). */
#define AGENT_TAGS_SCRATCH (1024 * 1024)

struct cairn_agent {
    cairn_loop *loop;
    cairn_memberlist *ml;
    cairn_logger log;
    cairn_agent_event_cb events;
    void *userdata;
    /* Our Meta (0xFF + msgpack tags). */
    uint8_t meta[CAIRN_ML_META_MAX];
    size_t meta_len;
    cairn_keyring *keyring;
    uint64_t serf_msgs;
    uint64_t serf_by_type[AGENT_SERF_OTHER + 1];
    /* Pending completions (one join and one leave at a time is enough for
     * the CLI; more are refused with CAIRN_EBUSY). */
    cairn_agent_done_cb join_done, leave_done;
    void *join_ud, *leave_ud;
};

/* ---- memberlist delegate ---- */

static size_t node_meta(void *ud, uint8_t *buf, size_t limit)
{
    cairn_agent *a = ud;
    size_t n = a->meta_len < limit ? a->meta_len : limit;
    memcpy(buf, a->meta, n);
    return n;
}

static void notify_msg(void *ud, const uint8_t *msg, size_t len)
{
    cairn_agent *a = ud;
    if (len == 0)
        return;
    a->serf_msgs++;
    a->serf_by_type[msg[0] < AGENT_SERF_OTHER ? msg[0] : AGENT_SERF_OTHER]++;
    cairn_logf(&a->log, CAIRN_LOG_TRACE, AGENT_LOG,
               "ignoring serf message type %u (%zu bytes): no serf layer yet", msg[0], len);
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

static void emit(cairn_agent *a, int type, const cairn_ml_node *node)
{
    if (!a->events)
        return;
    cairn_agent_member_buf buf;
    cairn_member m;
    bool bad;
    cairn_agent_node_member(node, &buf, &m, &bad);
    if (bad)
        cairn_logf(&a->log, CAIRN_LOG_DEBUG, AGENT_LOG,
                   "node %s: Meta of %zu bytes is not serf tags; reporting no tags", node->name,
                   node->meta_len);
    cairn_event ev = {.type = type, .members = &m, .nmembers = 1};
    a->events(a, &ev, node, a->userdata);
}

static void notify_join(void *ud, const cairn_ml_node *node)
{
    emit(ud, CAIRN_EVENT_MEMBER_JOIN, node);
}

static void notify_update(void *ud, const cairn_ml_node *node)
{
    emit(ud, CAIRN_EVENT_MEMBER_UPDATE, node);
}

static void notify_leave(void *ud, const cairn_ml_node *node)
{
    emit(ud, node->state == CAIRN_ML_LEFT ? CAIRN_EVENT_MEMBER_LEAVE : CAIRN_EVENT_MEMBER_FAILED,
         node);
}

/* ---- configuration ---- */

static int encode_tags(cairn_agent *a, const cairn_agent_config *cfg, cairn_diag *diag)
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
    if (rc == 0) {
        memcpy(a->meta, b.data, b.len);
        a->meta_len = b.len;
    }
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

static int make_ml_config(const cairn_agent_config *cfg, cairn_memberlist_config *mc,
                          cairn_diag *diag)
{
    const char *profile = cfg->profile ? cfg->profile : "lan";
    if (cairn_memberlist_config_profile(profile, mc) < 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "profile: \"%s\" is not lan, wan or local",
                              profile);
    mc->name = cfg->node;
    mc->bind = cfg->bind;
    mc->advertise = cfg->advertise;
    mc->enable_compression = !cfg->disable_compression;
    mc->seed = cfg->seed;
    return 0;
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
    if (cfg->key_len && !cairn_keyring_valid_key_len(cfg->key_len))
        return cairn_diag_set(diag, CAIRN_EINVAL, "encrypt: key is %zu bytes, need 16, 24 or 32",
                              cfg->key_len);
    cairn_memberlist_config mc;
    rc = make_ml_config(cfg, &mc, diag);
    if (rc < 0)
        return rc;
    cairn_agent *a = cairn_calloc(1, sizeof(*a));
    if (!a)
        return CAIRN_ENOMEM;
    a->loop = loop;
    a->events = events;
    a->userdata = userdata;
    if (logger)
        a->log = *logger;
    if ((rc = encode_tags(a, cfg, diag)) < 0)
        goto fail;
    if (cfg->key_len && (rc = cairn_keyring_new(cfg->key, cfg->key_len, &a->keyring)) < 0)
        goto fail;
    cairn_memberlist_delegate d = {
        .node_meta = node_meta,
        .notify_msg = notify_msg,
        .notify_join = notify_join,
        .notify_leave = notify_leave,
        .notify_update = notify_update,
        .userdata = a,
    };
    rc = cairn_memberlist_new(loop, &mc, &d, logger, a->keyring, &a->ml);
    if (rc < 0) {
        char addr[CAIRN_ADDR_STRLEN];
        cairn_diag_set(diag, rc, "bind: cannot bind %s: %s",
                       cairn_addr_format(&cfg->bind, true, addr, sizeof(addr)), cairn_strerror(rc));
        goto fail;
    }
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
    /* Cancelled completions run from memberlist_delete; they may not
     * delete the agent again, so clear ours first. */
    cairn_memberlist *ml = agent->ml;
    agent->ml = NULL;
    cairn_memberlist_delete(ml);
    cairn_keyring_delete(agent->keyring);
    cairn_free(agent);
}

/* ---- join and leave ---- */

static void on_joined(cairn_memberlist *ml, int status, int count, void *ud)
{
    cairn_agent *a = ud;
    (void)ml;
    cairn_agent_done_cb done = a->join_done;
    a->join_done = NULL;
    if (done && a->ml)
        done(a, status, count, a->join_ud);
}

int cairn_agent_join(cairn_agent *agent, const cairn_addr *addrs, size_t n,
                     cairn_agent_done_cb done, void *userdata)
{
    if (!agent || !addrs || n == 0)
        return CAIRN_EINVAL;
    if (agent->join_done)
        return CAIRN_EBUSY;
    agent->join_done = done;
    agent->join_ud = userdata;
    int rc = cairn_memberlist_join(agent->ml, addrs, n, on_joined, agent);
    if (rc < 0)
        agent->join_done = NULL;
    return rc;
}

static void on_left(cairn_memberlist *ml, int status, int count, void *ud)
{
    cairn_agent *a = ud;
    (void)ml;
    (void)count;
    cairn_agent_done_cb done = a->leave_done;
    a->leave_done = NULL;
    if (done && a->ml)
        done(a, status, 0, a->leave_ud);
}

int cairn_agent_leave(cairn_agent *agent, cairn_time timeout, cairn_agent_done_cb done,
                      void *userdata)
{
    if (!agent)
        return CAIRN_EINVAL;
    if (agent->leave_done)
        return CAIRN_EBUSY;
    agent->leave_done = done;
    agent->leave_ud = userdata;
    int rc = cairn_memberlist_leave(agent->ml, timeout > 0 ? timeout : CAIRN_AGENT_LEAVE_TIMEOUT,
                                    on_left, agent);
    if (rc < 0)
        agent->leave_done = NULL;
    return rc;
}

/* ---- queries ---- */

cairn_memberlist *cairn_agent_memberlist(cairn_agent *agent)
{
    return agent ? agent->ml : NULL;
}

static bool count_node(const cairn_ml_node *n, void *ud)
{
    cairn_agent_stats *s = ud;
    if (n->state == CAIRN_ML_LEFT)
        s->left++;
    else if (n->state == CAIRN_ML_DEAD)
        s->failed++;
    else
        s->alive++;
    return true;
}

void cairn_agent_get_stats(const cairn_agent *agent, cairn_agent_stats *ret_stats)
{
    memset(ret_stats, 0, sizeof(*ret_stats));
    cairn_memberlist_get_stats(agent->ml, &ret_stats->ml);
    ret_stats->serf_msgs = agent->serf_msgs;
    memcpy(ret_stats->serf_by_type, agent->serf_by_type, sizeof(agent->serf_by_type));
    cairn_memberlist_for_each(agent->ml, count_node, ret_stats);
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
    int len = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return CAIRN_EINVAL;
    /* EVP_DecodeBlock counts padding as zero bytes. */
    for (size_t k = n; k > n - 2 && b64[k - 1] == '='; k--)
        len--;
    if (!cairn_keyring_valid_key_len((size_t)len))
        return CAIRN_EINVAL;
    memcpy(out, tmp, (size_t)len);
    *ret_len = (size_t)len;
    return 0;
}
