/* The server Manager (Go: agent/router.Manager), spec §1.
 *
 * What it does. A manager keeps the ordered list of one datacenter's
 * servers; position 0 is the server for the next RPC. add_server replaces a
 * record of the same name in place or appends; remove_server drops by name;
 * notify_failed_server rotates a failed front server to the back; and a
 * periodic rebalance shuffles the list and pings from the front until one
 * server answers, so that load spreads and the new front is reachable.
 *
 * Snapshots and RCU (DESIGN.md, Concurrency). The list is an immutable
 * cairn_server_list published through one atomic pointer. Readers
 * (find_server, num_servers, check_servers) enter an urcu-bp read-side
 * section, load the pointer (acquire) and read the list and its records;
 * find_server copies the answer into the caller's cairn_server_info. They
 * take no lock and write no shared memory: urcu-bp's read lock touches only
 * the calling thread's own reader slot. Writers serialise on a mutex, build a
 * new list (copy-on-write; records are shared and reference counted, never
 * copied), publish it with a release store, drop the mutex and retire the
 * old list with call_rcu (servers/rcu.h): liburcu's call_rcu thread drops
 * its references once a grace period has passed, i.e. once every read-side
 * section that might have seen the old pointer has ended. A writer
 * therefore never waits for readers (it used to wait in synchronize_rcu, a
 * sys_membarrier grace period per write, which held a writer to ~60 writes
 * per second with two busy readers; call_rcu batches many retirements into
 * one grace period). The rcu_head lives in the list, so retiring cannot
 * fail. Deleting a manager stops it at once and defers its memory the same
 * way; cairn_manager_delete then waits (rcu_barrier) until everything is
 * returned, so allocation tests still see every block back when it returns,
 * while the Router's deletes (cairn__manager_retire) do not wait. Why copy
 * into caller storage rather than hand out a reference: a reference count
 * is a shared cache line every lookup would write, exactly the contention
 * the snapshot design avoids; find_server_ref exists for callers that need
 * the whole record. The copy is cheap: records keep their request strings
 * in padded blocks (server.c), copied 16 bytes at a time with known
 * lengths. The fields readers touch (list pointer, offline flag) sit at the
 * front of the manager, at least a cache line away from the mutex and the
 * other writer-side fields, so a writer's lock and unlock do not steal the
 * readers' cache line.
 *
 * Rebalance, asynchronously. Go pings inline in the manager's goroutine; we
 * must never block the loop thread, so the probe is a small state machine
 * driven by the pinger seam: copy the published list (spec §1.16 b: never
 * shuffle the shared array), shuffle the copy, ping copy[0]; on failure
 * rotate the copy (the #3463 fix: the rotation is kept) and ping the new
 * front, at most n times. The self name counts as healthy with no ping (the
 * #8401 fix: it sets the found flag). A pinger may complete inside ping()
 * (the fakes do), so completion sets a flag that the probe loop consumes
 * instead of recursing. Then reconcile (§1.12) under the mutex with whatever
 * add/remove happened while the pings were in flight, and publish.
 *
 * Timer. start() arms it at exactly 2 min; each fire calls the rebalancer
 * hook, starts a rebalance and, when it completes, re-arms with the delayer
 * (post-rebalance server count, cluster num_nodes, fresh jitter).
 *
 * Departures from Go, deliberate: reconcile appends servers added during a
 * rebalance in the published list's order (Go: map order); a ping that
 * cannot be started counts as a failed ping; allocation failures leave the
 * list as it was and are returned or logged; delete replaces shutdownCh.
 */
#include "cairn/manager.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "servers/manager_internal.h"
#include "servers/rcu.h"

#define LOG_MODULE "manager"

/* State of the one rebalance that may be in flight (loop thread only). */
struct rebalance {
    /* A rebalance is in progress. */
    bool active;
    /* A ping of work->servers[0] was started and has not completed. */
    bool waiting;
    /* We are inside pinger->ping(): a completion only records its result. */
    bool in_ping;
    /* A completion arrived and was not consumed yet; its outcome. */
    bool result_ready;
    bool result_ok;
    int result_err;
    /* Re-arm the timer when this rebalance completes (timer-driven). */
    bool rearm;
    /* 0 or the error of the last completion (returned when synchronous). */
    int last_err;
    /* Servers tried so far (at most work->n). */
    size_t tried;
    /* The private, shuffled working copy; never published. */
    cairn_server_list *work;
};

/* Bytes between the readers' fields and the writers' (see the essay): one
 * cache line, so they never share one whatever the allocation's alignment. */
#define READER_PAD 64

struct cairn_manager {
    /* Readers' fields, read-mostly. The published list; never NULL. Read
     * under RCU, written under lock. */
    _Atomic(cairn_server_list *) list;
    /* 1 when offline (Go: offline). */
    atomic_int offline;
    /* Keeps the writers' fields off the readers' cache line. */
    char pad[READER_PAD];
    /* Deferred free after delete (servers/rcu.h). */
    struct rcu_head rcu;
    /* NotifyFailedServer try-lock (Go: notifyFailedBarrier). */
    atomic_int notify_barrier;
    /* Serialises writers (Go: listLock). */
    pthread_mutex_t lock;
    /* Borrowed loop, and our timer on it. */
    cairn_loop *loop;
    cairn_timer *timer;
    /* Seams, copied by value. */
    cairn_cluster cluster;
    cairn_pinger pinger;
    /* Own server name or NULL (Go: serverName). */
    char *server_name;
    /* Timer-tick hook (Go: rebalancer). */
    cairn_rebalancer_cb rebalancer;
    void *rebalancer_userdata;
    /* Log sink; read-only after new, so any thread may log. */
    cairn_logger logger;
    /* Shuffles and jitter; loop thread only. */
    cairn_rng rng;
    /* The in-flight rebalance; loop thread only. */
    struct rebalance rb;
};

/* ---- lists ---- */

cairn_server_list *cairn__server_list_new(size_t n)
{
    cairn_server_list *l = cairn_malloc(sizeof(*l) + n * sizeof(l->servers[0]));
    if (l == NULL)
        return NULL;
    l->n = n;
    for (size_t i = 0; i < n; i++)
        l->servers[i] = NULL;
    return l;
}

void cairn__server_list_free(cairn_server_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        cairn_server_unref(l->servers[i]);
    cairn_free(l);
}

cairn_server_list *cairn__server_list_copy(const cairn_server_list *l, size_t extra)
{
    cairn_server_list *c = cairn__server_list_new(l->n + extra);
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        c->servers[i] = cairn_server_ref(l->servers[i]);
    return c;
}

cairn_server_list *cairn__server_list_cycle(const cairn_server_list *l)
{
    size_t n = l->n < 2 ? 0 : l->n;
    cairn_server_list *c = cairn__server_list_new(n);
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        c->servers[i] = cairn_server_ref(l->servers[(i + 1) % n]);
    return c;
}

static ptrdiff_t list_index(const cairn_server_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->servers[i]->name, name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

/* Rotates a private list left by one, in place. */
static void list_rotate(cairn_server_list *l)
{
    if (l->n < 2)
        return;
    cairn_server *first = l->servers[0];
    memmove(&l->servers[0], &l->servers[1], (l->n - 1) * sizeof(l->servers[0]));
    l->servers[l->n - 1] = first;
}

/* Fisher-Yates from the last index down to 1, j uniform in [0, i]. */
static void list_shuffle(cairn_server_list *l, cairn_rng *rng)
{
    for (size_t i = l->n; i-- > 1;) {
        size_t j = (size_t)cairn_rng_below(rng, (uint64_t)i + 1);
        cairn_server *t = l->servers[i];
        l->servers[i] = l->servers[j];
        l->servers[j] = t;
    }
}

/* ---- publication ---- */

/* The published list. Readers call it inside a read-side section, writers
 * under the lock. atomic_load needs a non-const object in C11. */
static cairn_server_list *load_list(const cairn_manager *m)
{
    return atomic_load_explicit(&((cairn_manager *)(uintptr_t)m)->list, memory_order_acquire);
}

/* Publishes next (under the lock) and returns the list it replaced, which
 * the caller retires after dropping the lock. */
static cairn_server_list *publish_locked(cairn_manager *m, cairn_server_list *next)
{
    return atomic_exchange_explicit(&m->list, next, memory_order_acq_rel);
}

static void list_free_cb(struct rcu_head *head)
{
    cairn_rcu_callback_begin(head);
    cairn__server_list_free(caa_container_of(head, cairn_server_list, rcu));
    cairn_rcu_callback_end();
}

void cairn__server_list_retire(cairn_server_list *l)
{
    if (l != NULL)
        cairn_rcu_call(&l->rcu, list_free_cb);
}

/* Frees an unpublished list once no reader can still see it, without
 * waiting (servers/rcu.h). */
static void retire(cairn_server_list *old)
{
    cairn__server_list_retire(old);
}

/* ---- lifecycle ---- */

static void on_timer(cairn_timer *t, void *userdata);

int cairn_manager_new(const cairn_manager_config *cfg, cairn_manager **ret_manager)
{
    if (cfg == NULL || ret_manager == NULL || cfg->loop == NULL || cfg->cluster == NULL ||
        cfg->cluster->ops == NULL || cfg->pinger == NULL || cfg->pinger->ops == NULL ||
        cfg->pinger->ops->ping == NULL || cfg->pinger->ops->cancel == NULL)
        return CAIRN_EINVAL;
    if (cfg->server_name != NULL && strlen(cfg->server_name) >= CAIRN_SERVER_NAME_MAX)
        return CAIRN_EINVAL;
    cairn_manager *m = cairn_calloc(1, sizeof(*m));
    if (m == NULL)
        return CAIRN_ENOMEM;
    int rc = pthread_mutex_init(&m->lock, NULL);
    if (rc != 0) {
        cairn_free(m);
        return cairn_err_from_errno(rc);
    }
    m->loop = cfg->loop;
    m->cluster = *cfg->cluster;
    m->pinger = *cfg->pinger;
    m->rebalancer = cfg->rebalancer;
    m->rebalancer_userdata = cfg->rebalancer_userdata;
    if (cfg->logger != NULL)
        m->logger = *cfg->logger;
    cairn_rng_init(&m->rng, cfg->seed);
    atomic_init(&m->offline, 1);
    atomic_init(&m->notify_barrier, 0);
    /* An empty, non-NULL list (TestManagerInternal_getServerList). */
    cairn_server_list *empty = cairn__server_list_new(0);
    atomic_init(&m->list, empty);
    rc = CAIRN_ENOMEM;
    if (empty == NULL)
        goto fail;
    if (cfg->server_name != NULL && cfg->server_name[0] != '\0' &&
        (m->server_name = cairn_strdup(cfg->server_name)) == NULL)
        goto fail;
    if ((rc = cairn_timer_new(m->loop, on_timer, m, &m->timer)) < 0)
        goto fail;
    *ret_manager = m;
    return 0;
fail:
    cairn_manager_delete(m);
    return rc;
}

/* The deferred half of a delete: no reader can see m any more. */
static void manager_free_cb(struct rcu_head *head)
{
    cairn_rcu_callback_begin(head);
    cairn_manager *m = caa_container_of(head, cairn_manager, rcu);
    cairn__server_list_free(atomic_load_explicit(&m->list, memory_order_relaxed));
    pthread_mutex_destroy(&m->lock);
    cairn_free(m->server_name);
    cairn_free(m);
    cairn_rcu_callback_end();
}

void cairn__manager_retire(cairn_manager *m)
{
    if (m == NULL)
        return;
    cairn_logf(&m->logger, CAIRN_LOG_INFO, LOG_MODULE, "shutting down");
    if (m->rb.active) {
        if (m->rb.waiting)
            m->pinger.ops->cancel(m->pinger.impl, m);
        cairn__server_list_free(m->rb.work);
        m->rb = (struct rebalance){0};
    }
    cairn_timer_delete(m->timer);
    m->timer = NULL;
    /* Readers that reached this manager through a structure the owner has
     * already unpublished may still be inside a section: free it, and the
     * published list, after a grace period. */
    cairn_rcu_call(&m->rcu, manager_free_cb);
}

void cairn_manager_delete(cairn_manager *m)
{
    if (m == NULL)
        return;
    cairn__manager_retire(m);
    cairn_rcu_barrier();
}

void cairn_manager_start(cairn_manager *m)
{
    if (m != NULL)
        cairn_timer_start(m->timer, CAIRN_REBALANCE_MIN_DELAY);
}

void cairn_manager_reset_rebalance_timer(cairn_manager *m)
{
    if (m == NULL)
        return;
    /* Go takes listLock here; the timer is loop-thread state, so no lock. */
    cairn_timer_start(m->timer, CAIRN_REBALANCE_MIN_DELAY);
}

cairn_time cairn_manager_next_rebalance(const cairn_manager *m)
{
    return m == NULL ? -1 : cairn_timer_deadline(m->timer);
}

/* ---- writers ---- */

int cairn_manager_add_server(cairn_manager *m, cairn_server *s)
{
    if (m == NULL || s == NULL)
        return CAIRN_EINVAL;
    pthread_mutex_lock(&m->lock);
    cairn_server_list *cur = load_list(m);
    ptrdiff_t at = list_index(cur, s->name);
    cairn_server_list *next = cairn__server_list_copy(cur, at < 0 ? 1 : 0);
    if (next == NULL) {
        pthread_mutex_unlock(&m->lock);
        return CAIRN_ENOMEM;
    }
    size_t slot = at < 0 ? cur->n : (size_t)at;
    cairn_server_unref(next->servers[slot]); /* NULL when appending */
    next->servers[slot] = cairn_server_ref(s);
    atomic_store_explicit(&m->offline, 0, memory_order_release);
    cairn_server_list *old = publish_locked(m, next);
    pthread_mutex_unlock(&m->lock);
    retire(old);
    return 0;
}

int cairn_manager_remove_server(cairn_manager *m, const char *name)
{
    if (m == NULL || name == NULL)
        return CAIRN_EINVAL;
    pthread_mutex_lock(&m->lock);
    cairn_server_list *cur = load_list(m);
    ptrdiff_t at = list_index(cur, name);
    if (at < 0) {
        pthread_mutex_unlock(&m->lock);
        return 0;
    }
    cairn_server_list *next = cairn__server_list_new(cur->n - 1);
    if (next == NULL) {
        pthread_mutex_unlock(&m->lock);
        return CAIRN_ENOMEM;
    }
    for (size_t i = 0, j = 0; i < cur->n; i++)
        if (i != (size_t)at)
            next->servers[j++] = cairn_server_ref(cur->servers[i]);
    cairn_server_list *old = publish_locked(m, next);
    pthread_mutex_unlock(&m->lock);
    retire(old);
    return 0;
}

/* (a) more than one server and (b) the front is `name`. */
static bool front_is(const cairn_server_list *l, const char *name)
{
    return l->n > 1 && strcmp(l->servers[0]->name, name) == 0;
}

int cairn_manager_notify_failed_server(cairn_manager *m, const char *name)
{
    if (m == NULL || name == NULL)
        return CAIRN_EINVAL;
    cairn_rcu_read_lock();
    bool candidate = front_is(load_list(m), name);
    cairn_rcu_read_unlock();
    int expected = 0;
    if (!candidate || !atomic_compare_exchange_strong(&m->notify_barrier, &expected, 1))
        return 0;
    int rc = 0;
    cairn_server_list *old = NULL;
    pthread_mutex_lock(&m->lock);
    cairn_server_list *cur = load_list(m);
    if (front_is(cur, name)) { /* re-test under the lock */
        cairn_server_list *next = cairn__server_list_cycle(cur);
        if (next == NULL) {
            rc = CAIRN_ENOMEM;
        } else {
            old = publish_locked(m, next);
            cairn_logf(&m->logger, CAIRN_LOG_DEBUG, LOG_MODULE, "cycled away from server: %s",
                       name);
        }
    }
    pthread_mutex_unlock(&m->lock);
    atomic_store(&m->notify_barrier, 0);
    retire(old);
    return rc;
}

int cairn_manager_update_tls(cairn_manager *m, bool use_tls)
{
    if (m == NULL)
        return CAIRN_EINVAL;
    pthread_mutex_lock(&m->lock);
    cairn_server_list *cur = load_list(m);
    cairn_server_list *next = cairn__server_list_new(cur->n);
    int rc = next == NULL ? CAIRN_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < cur->n; i++) {
        cairn_server fields = *cur->servers[i];
        fields.use_tls = use_tls;
        rc = cairn_server_new(&fields, &next->servers[i]);
    }
    cairn_server_list *old = NULL;
    if (rc == 0)
        old = publish_locked(m, next);
    pthread_mutex_unlock(&m->lock);
    if (rc < 0)
        cairn__server_list_free(next);
    retire(old);
    return rc;
}

/* ---- readers (hot path) ---- */

int cairn_manager_find_server(const cairn_manager *m, cairn_server_info *ret_info)
{
    if (m == NULL || ret_info == NULL)
        return CAIRN_EINVAL;
    cairn_rcu_read_lock();
    const cairn_server_list *l = load_list(m);
    bool empty = l->n == 0;
    if (!empty)
        cairn_server_info_fill(l->servers[0], ret_info);
    cairn_rcu_read_unlock();
    if (empty) {
        cairn_logf(&m->logger, CAIRN_LOG_WARN, LOG_MODULE, "No servers available");
        return CAIRN_ENOSERVERS;
    }
    return 0;
}

const cairn_server *cairn__manager_front(const cairn_manager *m)
{
    if (cairn_manager_is_offline(m))
        return NULL;
    const cairn_server_list *l = load_list(m);
    if (l->n == 0) {
        cairn_logf(&m->logger, CAIRN_LOG_WARN, LOG_MODULE, "No servers available");
        return NULL;
    }
    return l->servers[0];
}

int cairn_manager_find_server_ref(const cairn_manager *m, cairn_server **ret_server)
{
    if (m == NULL || ret_server == NULL)
        return CAIRN_EINVAL;
    cairn_rcu_read_lock();
    const cairn_server_list *l = load_list(m);
    /* The list holds a reference until a grace period after it is
     * replaced, so taking one inside the section is safe. */
    cairn_server *s = l->n == 0 ? NULL : cairn_server_ref(l->servers[0]);
    cairn_rcu_read_unlock();
    if (s == NULL) {
        cairn_logf(&m->logger, CAIRN_LOG_WARN, LOG_MODULE, "No servers available");
        return CAIRN_ENOSERVERS;
    }
    *ret_server = s;
    return 0;
}

size_t cairn_manager_num_servers(const cairn_manager *m)
{
    if (m == NULL)
        return 0;
    cairn_rcu_read_lock();
    size_t n = load_list(m)->n;
    cairn_rcu_read_unlock();
    return n;
}

bool cairn_manager_is_offline(const cairn_manager *m)
{
    if (m == NULL)
        return true;
    return atomic_load_explicit(&((cairn_manager *)(uintptr_t)m)->offline, memory_order_acquire) ==
           1;
}

bool cairn_manager_check_servers(const cairn_manager *m, cairn_server_cb fn, void *userdata)
{
    if (m == NULL || fn == NULL)
        return true;
    bool ok = true;
    cairn_rcu_read_lock();
    const cairn_server_list *l = load_list(m);
    for (size_t i = 0; ok && i < l->n; i++)
        ok = fn(l->servers[i], userdata);
    cairn_rcu_read_unlock();
    return ok;
}

/* ---- internal helpers (manager_internal.h) ---- */

int cairn__manager_get_list(cairn_manager *m, cairn_server_list **ret_list)
{
    pthread_mutex_lock(&m->lock);
    cairn_server_list *c = cairn__server_list_copy(load_list(m), 0);
    pthread_mutex_unlock(&m->lock);
    if (c == NULL)
        return CAIRN_ENOMEM;
    *ret_list = c;
    return 0;
}

int cairn__manager_save_list(cairn_manager *m, const cairn_server_list *l)
{
    cairn_server_list *c = cairn__server_list_copy(l, 0);
    if (c == NULL)
        return CAIRN_ENOMEM;
    pthread_mutex_lock(&m->lock);
    cairn_server_list *old = publish_locked(m, c);
    pthread_mutex_unlock(&m->lock);
    retire(old);
    return 0;
}

/* Spec §1.12 under the lock: states 'o' (only in l: removed meanwhile), 'b'
 * (both: keep l's record and position), 'n' (only in cur: added meanwhile,
 * appended in cur's order). Returns 1 with *ret_next, 0 for "false", or
 * CAIRN_ENOMEM. Quadratic in the list length, which is a datacenter's
 * server count (a handful; the tests go to 100). */
static int reconcile_locked(cairn_manager *m, const cairn_server_list *l,
                            cairn_server_list **ret_next)
{
    const cairn_server_list *cur = load_list(m);
    if (cur->n == 0 || l->n == 0)
        return 0;
    if (list_index(cur, l->servers[0]->name) < 0)
        return 0; /* the verified server was removed meanwhile */
    size_t keep = 0, added = 0;
    for (size_t i = 0; i < l->n; i++)
        keep += list_index(cur, l->servers[i]->name) >= 0;
    for (size_t i = 0; i < cur->n; i++)
        added += list_index(l, cur->servers[i]->name) < 0;
    cairn_server_list *next = cairn__server_list_new(keep + added);
    if (next == NULL)
        return CAIRN_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < l->n; i++)
        if (list_index(cur, l->servers[i]->name) >= 0)
            next->servers[j++] = cairn_server_ref(l->servers[i]);
    for (size_t i = 0; i < cur->n; i++)
        if (list_index(l, cur->servers[i]->name) < 0)
            next->servers[j++] = cairn_server_ref(cur->servers[i]);
    *ret_next = next;
    return 1;
}

int cairn__manager_reconcile(cairn_manager *m, const cairn_server_list *l)
{
    cairn_server_list *next = NULL, *old = NULL;
    pthread_mutex_lock(&m->lock);
    int rc = reconcile_locked(m, l, &next);
    if (rc == 1)
        old = publish_locked(m, next);
    pthread_mutex_unlock(&m->lock);
    retire(old);
    return rc;
}

cairn_time cairn__manager_refresh_rebalance_timer(cairn_manager *m)
{
    size_t servers = cairn_manager_num_servers(m);
    size_t nodes =
        m->cluster.ops->num_nodes != NULL ? m->cluster.ops->num_nodes(m->cluster.impl) : 0;
    cairn_time jitter = cairn_random_stagger(&m->rng, CAIRN_REBALANCE_MAX_JITTER);
    cairn_time d = cairn_rebalance_delay(servers, nodes, jitter);
    cairn_timer_start(m->timer, d);
    return d;
}

/* ---- rebalance ---- */

static void probe(cairn_manager *m);

/* Ends the in-flight rebalance: offline flag, reconcile, publish, re-arm. */
static void finish(cairn_manager *m, bool found)
{
    cairn_server_list *work = m->rb.work;
    m->rb.work = NULL;
    m->rb.active = false;
    m->rb.waiting = false;
    m->rb.last_err = 0;
    if (!found) {
        atomic_store(&m->offline, 1);
        cairn_logf(&m->logger, CAIRN_LOG_DEBUG, LOG_MODULE,
                   "No healthy servers during rebalance, aborting");
    } else {
        atomic_store(&m->offline, 0);
        int rc = cairn__manager_reconcile(m, work);
        if (rc == 1)
            cairn_logf(&m->logger, CAIRN_LOG_DEBUG, LOG_MODULE,
                       "Rebalanced servers, new active server: number_of_servers=%zu "
                       "active_server=%s",
                       cairn_manager_num_servers(m), work->servers[0]->name);
        else if (rc < 0)
            cairn_logf(&m->logger, CAIRN_LOG_WARN, LOG_MODULE,
                       "rebalance: cannot reconcile the server list: %s", cairn_strerror(rc));
        m->rb.last_err = rc < 0 ? rc : 0;
    }
    cairn__server_list_free(work);
    if (m->rb.rearm) {
        m->rb.rearm = false;
        cairn__manager_refresh_rebalance_timer(m);
    }
}

/* Consumes a ping result. Returns true when the rebalance finished. */
static bool consume_result(cairn_manager *m)
{
    m->rb.result_ready = false;
    if (m->rb.result_ok) {
        finish(m, true);
        return true;
    }
    const cairn_server *s = m->rb.work->servers[0];
    cairn_logf(&m->logger, CAIRN_LOG_DEBUG, LOG_MODULE, "pinging server failed: server=%s error=%s",
               s->name, cairn_strerror(m->rb.result_err));
    list_rotate(m->rb.work); /* #3463: keep the rotation */
    m->rb.tried++;
    return false;
}

static void on_ping_done(bool ok, int err, void *token)
{
    cairn_manager *m = token;
    if (!m->rb.active || !m->rb.waiting)
        return; /* stray completion */
    m->rb.waiting = false;
    m->rb.result_ready = true;
    m->rb.result_ok = ok;
    m->rb.result_err = ok ? 0 : (err < 0 ? err : CAIRN_EIO);
    if (m->rb.in_ping)
        return; /* probe() consumes it when ping() returns */
    if (!consume_result(m))
        probe(m);
}

static bool is_self(const cairn_manager *m, const cairn_server *s)
{
    return m->server_name != NULL && strcmp(m->server_name, s->name) == 0;
}

/* Tests work[0]; loops while results arrive synchronously. */
static void probe(cairn_manager *m)
{
    for (;;) {
        if (m->rb.tried >= m->rb.work->n) {
            finish(m, false);
            return;
        }
        cairn_server *s = m->rb.work->servers[0];
        if (is_self(m, s)) { /* #8401: self counts as healthy */
            finish(m, true);
            return;
        }
        m->rb.waiting = true;
        m->rb.in_ping = true;
        int rc = m->pinger.ops->ping(m->pinger.impl, s->datacenter, s->short_name, &s->addr,
                                     on_ping_done, m);
        m->rb.in_ping = false;
        if (rc < 0) {
            m->rb.waiting = false;
            m->rb.result_ready = true;
            m->rb.result_ok = false;
            m->rb.result_err = rc;
        }
        if (!m->rb.result_ready)
            return; /* the completion drives the next step */
        if (consume_result(m))
            return;
    }
}

int cairn_manager_rebalance(cairn_manager *m)
{
    if (m == NULL)
        return CAIRN_EINVAL;
    if (m->rb.active)
        return CAIRN_EBUSY;
    cairn_server_list *work;
    int rc = cairn__manager_get_list(m, &work);
    if (rc < 0)
        return rc;
    list_shuffle(work, &m->rng);
    m->rb.active = true;
    m->rb.waiting = false;
    m->rb.result_ready = false;
    m->rb.tried = 0;
    m->rb.last_err = 0;
    m->rb.work = work;
    probe(m);
    return m->rb.active ? 0 : m->rb.last_err;
}

bool cairn_manager_rebalancing(const cairn_manager *m)
{
    return m != NULL && m->rb.active;
}

static void on_timer(cairn_timer *t, void *userdata)
{
    (void)t;
    cairn_manager *m = userdata;
    if (m->rebalancer != NULL)
        m->rebalancer(m->rebalancer_userdata);
    m->rb.rearm = true;
    if (!m->rb.active)
        (void)cairn_manager_rebalance(m); /* errors are logged by finish */
    /* Not started (allocation failure): re-arm now. A rebalance in flight
     * (started by hand before the tick) re-arms when it completes. */
    if (!m->rb.active && m->rb.rearm) {
        m->rb.rearm = false;
        cairn__manager_refresh_rebalance_timer(m);
    }
}

/* ---- delays ---- */

cairn_time cairn_rebalance_delay(size_t servers, size_t nodes, cairn_time jitter)
{
    cairn_time min = CAIRN_REBALANCE_MIN_DELAY + jitter;
    if (servers == 0)
        return min;
    double d = (double)nodes * (double)CAIRN_REBALANCE_DELAY_PER_NODE / (double)servers;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    cairn_time delay = (cairn_time)d; /* truncation, as Go's Duration(float) */
    return delay < min ? min : delay;
}

cairn_time cairn_rate_scaled_interval(double rate, cairn_time min, size_t n)
{
    const double min_rate = 1.0 / 86400.0; /* once a day */
    if (!(rate > min_rate))
        return min; /* also catches NaN */
    double interval = (double)CAIRN_SEC * (double)n / rate;
    if (interval >= 9223372036854775807.0)
        return INT64_MAX;
    cairn_time d = (cairn_time)interval;
    return d < min ? min : d;
}

cairn_time cairn_random_stagger(cairn_rng *rng, cairn_time d)
{
    if (d <= 0)
        return 0;
    return (cairn_time)cairn_rng_below(rng, (uint64_t)d);
}
