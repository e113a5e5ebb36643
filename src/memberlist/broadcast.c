/* The transmit-limited broadcast queue (Go: queue.go TransmitLimitedQueue)
 * and the message pool its queues may share.
 *
 * Upstream keeps the queue in a B-tree ordered by (transmits ascending,
 * length descending, id descending) and asks it, per transmit level, for the
 * first entry whose length fits the free space. We keep the same order in a
 * sorted array of 16-byte slots: a binary search finds that entry directly,
 * and insertion/removal is a memmove, cheap for the queue sizes the cap
 * allows. Named entries are also indexed by name (name -> id) for O(1)
 * replacement.
 *
 * Memory: in the simulator every member holds one queued alive per other
 * member, so a slot's size is multiplied by N^2 (10,000 members: 10^8
 * slots). A slot is the sort key (id, length, transmits) and a pointer to
 * an immutable, reference-counted message (bytes and name); the rare
 * finished callbacks live in a side list. Queues given the same pool
 * (cairn_ml_pool, the simulator world's) share one copy of identical
 * messages: an alive about node X is the same bytes at every member.
 *
 * Departures: upstream lets a Broadcast decide what it invalidates; here only
 * names do (memberlist's own broadcasts are named; serf's invalidate nothing,
 * which is what Serf 0.9.4 does). The queue has a hard cap at creation.
 */
#include "memberlist/broadcast.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "memberlist/strmap.h"
#include "memberlist/util.h"

/* Highest transmit count a slot holds (15 bits); the retransmit limit is
 * clamped to it (retransmit_mult would have to exceed 3,000). */
#define BCAST_MAX_TRANSMITS 0x7fff
/* First pool table size. */
#define POOL_MIN_SLOTS 64

/* An immutable message, shared by every queue slot (of every queue using
 * the same pool) that holds the same bytes under the same name. */
struct bcast_msg {
    /* The pool indexing it (NULL: private, or its pool was deleted). */
    cairn_ml_pool *pool;
    /* Hash of the bytes and name (pool index). */
    uint64_t hash;
    /* Slots holding it. */
    uint32_t refs;
    /* Length of the message bytes. */
    uint16_t len;
    /* strlen(name) + 1, or 0 if unnamed. */
    uint16_t name_size;
    /* The message bytes, then the NUL-terminated name. */
    uint8_t data[];
};

struct cairn_ml_pool {
    /* Open addressing (linear probing, backward-shift deletion), a power
     * of two in number, NULL until the first message. */
    struct bcast_msg **tab;
    size_t nslots, len;
};

/* Sort key inline (binary searches never touch the messages), then the
 * message. */
struct bcast_slot {
    struct bcast_msg *m;
    /* Submission order; larger is newer (restarts when the queue empties). */
    uint32_t id;
    /* Message length (copy of m->len). */
    uint16_t len;
    /* Times sent so far. */
    uint16_t transmits : 15;
    /* A finished callback waits in the queue's fins list under this id. */
    uint16_t notify : 1;
};

/* A finished callback of a queued message. */
struct bcast_fin {
    struct bcast_fin *next;
    uint32_t id;
    cairn_bcast_finished_cb finished;
    void *userdata;
};

struct cairn_bcast_queue {
    int retransmit_mult;
    size_t max_items;
    /* Slots sorted by the upstream order; len used of cap. */
    struct bcast_slot *items;
    size_t len, cap;
    /* Scratch for the slots sent during one get (aside_cap of them). */
    struct bcast_slot *aside;
    size_t aside_cap;
    /* name -> slot_key() for named entries; keys are the messages' names. */
    struct ml_strmap names;
    /* Finished callbacks of queued messages. */
    struct bcast_fin *fins;
    /* Message pool (may be NULL). */
    cairn_ml_pool *pool;
    /* Last id handed out. */
    uint32_t id_gen;
};

int cairn__bcast_queue_retransmit_limit(int retransmit_mult, int num_nodes)
{
    return cairn__ml_retransmit_limit(retransmit_mult, num_nodes);
}

/* ---- messages and the pool ---- */

static const char *msg_name(const struct bcast_msg *m)
{
    return m->name_size ? (const char *)m->data + m->len : NULL;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int cairn_ml_pool_new(cairn_ml_pool **ret_pool)
{
    if (!ret_pool)
        return CAIRN_EINVAL;
    cairn_ml_pool *p = cairn_calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_ENOMEM;
    *ret_pool = p;
    return 0;
}

void cairn_ml_pool_delete(cairn_ml_pool *p)
{
    if (!p)
        return;
    /* Messages still held by queues become private. */
    for (size_t i = 0; i < p->nslots; i++)
        if (p->tab[i])
            p->tab[i]->pool = NULL;
    cairn_free(p->tab);
    cairn_free(p);
}

/* Slot of m's equal in p, or the empty slot where it belongs. */
static size_t pool_find(const cairn_ml_pool *p, uint64_t h, const uint8_t *bytes, size_t len,
                        size_t name_size)
{
    size_t mask = p->nslots - 1, i = (size_t)h & mask;
    for (; p->tab[i]; i = (i + 1) & mask) {
        const struct bcast_msg *o = p->tab[i];
        if (o->hash == h && o->len == len && o->name_size == name_size &&
            memcmp(o->data, bytes, len + name_size) == 0)
            return i;
    }
    return i;
}

/* Makes room for one more message; false if the table cannot grow. */
static bool pool_reserve(cairn_ml_pool *p)
{
    if ((p->len + 1) * 4 <= p->nslots * 3)
        return true;
    size_t n = p->nslots ? p->nslots * 2 : POOL_MIN_SLOTS;
    struct bcast_msg **tab = cairn_calloc(n, sizeof(*tab));
    if (!tab)
        return false;
    for (size_t i = 0; i < p->nslots; i++) {
        struct bcast_msg *m = p->tab[i];
        if (!m)
            continue;
        size_t j = (size_t)m->hash & (n - 1);
        while (tab[j])
            j = (j + 1) & (n - 1);
        tab[j] = m;
    }
    cairn_free(p->tab);
    p->tab = tab;
    p->nslots = n;
    return true;
}

static void pool_remove(cairn_ml_pool *p, const struct bcast_msg *m)
{
    size_t mask = p->nslots - 1, i = (size_t)m->hash & mask;
    while (p->tab[i] != m)
        i = (i + 1) & mask;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; p->tab[j]; j = (j + 1) & mask) {
        size_t home = (size_t)p->tab[j]->hash & mask;
        bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            p->tab[hole] = p->tab[j];
            hole = j;
        }
    }
    p->tab[hole] = NULL;
    p->len--;
}

/* A reference to a message with these bytes and name: an equal one from
 * the pool, or a new one (pooled if the pool has room). NULL: no memory. */
static struct bcast_msg *msg_get(cairn_ml_pool *p, const char *name, const uint8_t *bytes,
                                 size_t len)
{
    size_t name_size = name ? strlen(name) + 1 : 0;
    struct bcast_msg *m = cairn_malloc(sizeof(*m) + len + name_size);
    if (!m)
        return NULL;
    *m = (struct bcast_msg){.refs = 1, .len = (uint16_t)len, .name_size = (uint16_t)name_size};
    memcpy(m->data, bytes, len);
    if (name)
        memcpy(m->data + len, name, name_size);
    if (!p)
        return m;
    m->hash = hash_bytes(m->data, len + name_size, 1469598103934665603ULL);
    if (p->nslots) {
        size_t i = pool_find(p, m->hash, m->data, len, name_size);
        if (p->tab[i] && p->tab[i]->refs < UINT32_MAX) {
            cairn_free(m);
            p->tab[i]->refs++;
            return p->tab[i];
        }
        if (p->tab[i])
            return m; /* saturated: a private copy */
    }
    if (!pool_reserve(p))
        return m;
    p->tab[pool_find(p, m->hash, m->data, len, name_size)] = m;
    p->len++;
    m->pool = p;
    return m;
}

static void msg_release(struct bcast_msg *m)
{
    if (--m->refs > 0)
        return;
    if (m->pool)
        pool_remove(m->pool, m);
    cairn_free(m);
}

/* ---- the queue ---- */

/* The upstream B-tree order: fewer transmits, then longer, then newer. */
static bool key_less(unsigned ta, size_t la, uint32_t ia, unsigned tb, size_t lb, uint32_t ib)
{
    if (ta != tb)
        return ta < tb;
    if (la != lb)
        return la > lb;
    return ia > ib;
}

/* Index of the first slot not less than the key (t, l, id). */
static size_t lower_bound(const cairn_bcast_queue *q, unsigned t, size_t l, uint32_t id)
{
    size_t lo = 0, hi = q->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct bcast_slot *m = &q->items[mid];
        if (key_less(m->transmits, m->len, m->id, t, l, id))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Removes items[i] from the array only (the name index is the caller's). */
static void remove_at(cairn_bcast_queue *q, size_t i)
{
    memmove(&q->items[i], &q->items[i + 1], (q->len - i - 1) * sizeof(*q->items));
    q->len--;
}

/* Position of the queued slot with this id and length (its transmit count
 * unknown: one binary search per level), or q->len. */
static size_t index_of_id(const cairn_bcast_queue *q, uint32_t id, size_t len)
{
    if (q->len == 0)
        return q->len;
    for (unsigned t = q->items[0].transmits; t <= q->items[q->len - 1].transmits; t++) {
        size_t i = lower_bound(q, t, len, id);
        if (i < q->len && q->items[i].id == id && q->items[i].len == len)
            return i;
    }
    return q->len;
}

/* Inserts into the sorted array; room must have been reserved. */
static void insert_sorted(cairn_bcast_queue *q, struct bcast_slot s)
{
    size_t i = lower_bound(q, s.transmits, s.len, s.id);
    memmove(&q->items[i + 1], &q->items[i], (q->len - i) * sizeof(*q->items));
    q->items[i] = s;
    q->len++;
}

/* The name index's value for a slot: its id, and its length (to find it). */
static uint64_t slot_key(const struct bcast_slot *s)
{
    return (uint64_t)s->id | (uint64_t)s->len << 32;
}

/* Unindexes, reports and releases a slot already out of the array. */
static void finish(cairn_bcast_queue *q, struct bcast_slot s)
{
    const char *name = msg_name(s.m);
    uint64_t v;
    if (name && cairn__ml_strmap_get_u64(&q->names, name, &v) && (uint32_t)v == s.id)
        cairn__ml_strmap_del(&q->names, name);
    msg_release(s.m);
    if (!s.notify)
        return;
    for (struct bcast_fin **pp = &q->fins; *pp; pp = &(*pp)->next) {
        struct bcast_fin *f = *pp;
        if (f->id != s.id)
            continue;
        *pp = f->next;
        cairn_bcast_finished_cb cb = f->finished;
        void *ud = f->userdata;
        cairn_free(f);
        cb(ud);
        return;
    }
}

/* Gives back array room once a queue has drained (a member's queue of a
 * big cluster's join burst would otherwise keep its peak size). */
static void shrink(cairn_bcast_queue *q)
{
    if (q->cap <= 64 || q->len >= q->cap / 4)
        return;
    size_t ncap = q->cap / 2;
    struct bcast_slot *items = cairn_reallocarray(q->items, ncap, sizeof(*items));
    if (items) {
        q->items = items;
        q->cap = ncap;
    }
}

int cairn__bcast_queue_new(int retransmit_mult, size_t max_items, cairn_bcast_queue **ret_queue)
{
    if (retransmit_mult < 1 || max_items < 1 || !ret_queue)
        return CAIRN_EINVAL;
    cairn_bcast_queue *q = cairn_calloc(1, sizeof(*q));
    if (!q)
        return CAIRN_ENOMEM;
    q->retransmit_mult = retransmit_mult;
    q->max_items = max_items;
    /* One spare: the newest item is inserted before the oldest is pruned. */
    cairn__ml_strmap_init(&q->names, max_items + 1);
    *ret_queue = q;
    return 0;
}

void cairn__bcast_queue_set_pool(cairn_bcast_queue *q, cairn_ml_pool *pool)
{
    if (q && q->len == 0)
        q->pool = pool;
}

void cairn__bcast_queue_delete(cairn_bcast_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->len; i++)
        msg_release(q->items[i].m);
    while (q->fins) {
        struct bcast_fin *f = q->fins;
        q->fins = f->next;
        cairn_free(f);
    }
    cairn_free(q->items);
    cairn_free(q->aside);
    cairn__ml_strmap_destroy(&q->names);
    cairn_free(q);
}

/* Makes room for one more slot in the array (growing by half: the slack
 * of a full queue is multiplied by N^2 in the simulator too). */
static int reserve(cairn_bcast_queue *q)
{
    if (q->len < q->cap)
        return 0;
    size_t ncap = q->cap ? q->cap + q->cap / 2 : 16;
    if (ncap > q->max_items + 1)
        ncap = q->max_items + 1;
    struct bcast_slot *items = cairn_reallocarray(q->items, ncap, sizeof(*items));
    if (!items)
        return CAIRN_ENOMEM;
    q->items = items;
    q->cap = ncap;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    uint32_t x = ((const struct bcast_slot *)a)->id, y = ((const struct bcast_slot *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_key(const void *a, const void *b)
{
    const struct bcast_slot *x = a, *y = b;
    if (key_less(x->transmits, x->len, x->id, y->transmits, y->len, y->id))
        return -1;
    return key_less(y->transmits, y->len, y->id, x->transmits, x->len, x->id);
}

/* The ids ran out (2^32 pushes without the queue ever emptying):
 * renumber 1..len in the same order (names and finished callbacks follow). */
static void renumber(cairn_bcast_queue *q)
{
    qsort(q->items, q->len, sizeof(*q->items), cmp_id);
    for (size_t i = 0; i < q->len; i++) {
        struct bcast_slot *s = &q->items[i];
        uint32_t nid = (uint32_t)i + 1;
        const char *name = msg_name(s->m);
        uint64_t v;
        if (name && cairn__ml_strmap_get_u64(&q->names, name, &v) && (uint32_t)v == s->id)
            (void)cairn__ml_strmap_put_u64(&q->names, name, (uint64_t)nid | (v >> 32) << 32);
        if (s->notify)
            for (struct bcast_fin *f = q->fins; f; f = f->next)
                if (f->id == s->id) {
                    f->id = nid;
                    break;
                }
        s->id = nid;
    }
    qsort(q->items, q->len, sizeof(*q->items), cmp_key);
    q->id_gen = (uint32_t)q->len;
}

int cairn__bcast_queue_push(cairn_bcast_queue *q, const char *name, const uint8_t *msg, size_t len,
                            cairn_bcast_finished_cb finished, void *userdata)
{
    if (!q || !msg || len == 0)
        return CAIRN_EINVAL;
    if (len > CAIRN_BCAST_MSG_MAX || (name && strlen(name) >= UINT16_MAX))
        return CAIRN_ELIMIT;
    struct bcast_fin *fin = NULL;
    if (finished && !(fin = cairn_malloc(sizeof(*fin))))
        return CAIRN_ENOMEM;
    struct bcast_msg *m = msg_get(q->pool, name, msg, len);
    if (!m) {
        cairn_free(fin);
        return CAIRN_ENOMEM;
    }
    name = msg_name(m);
    uint64_t old_v = 0;
    bool has_old = name && cairn__ml_strmap_get_u64(&q->names, name, &old_v);
    /* Replacing an entry reuses its name slot, so only a new name can fail. */
    if (reserve(q) < 0 || (name && !has_old && cairn__ml_strmap_reserve(&q->names, 1) < 0)) {
        msg_release(m);
        cairn_free(fin);
        return CAIRN_ENOMEM;
    }
    /* Ids restart only when the queue is truly empty (upstream resets in
     * deleteItem, which can also happen mid-GetBroadcasts and hand out an
     * id still held by an item set aside; unique ids keep the order
     * total). */
    if (q->len == 0)
        q->id_gen = 0;
    if (q->id_gen == UINT32_MAX) {
        renumber(q);
        if (has_old)
            (void)cairn__ml_strmap_get_u64(&q->names, name, &old_v);
    }
    struct bcast_slot s = {.m = m, .id = ++q->id_gen, .len = (uint16_t)len, .notify = fin != NULL};
    if (fin) {
        *fin = (struct bcast_fin){q->fins, s.id, finished, userdata};
        q->fins = fin;
    }
    struct bcast_slot old = {0};
    if (has_old) {
        size_t i = index_of_id(q, (uint32_t)old_v, (size_t)(old_v >> 32));
        old = q->items[i]; /* found: the index and the array agree */
        remove_at(q, i);
    }
    insert_sorted(q, s);
    if (name)
        (void)cairn__ml_strmap_put_u64(&q->names, name, slot_key(&s)); /* reserved */
    if (has_old)
        finish(q, old);
    if (q->len > q->max_items)
        cairn__bcast_queue_prune(q, q->max_items);
    return 0;
}

size_t cairn__bcast_queue_get(cairn_bcast_queue *q, int overhead, int limit, int num_nodes,
                              cairn_bcast_emit_cb emit, void *userdata)
{
    if (!q || q->len == 0 || !emit)
        return 0;
    int transmit_limit = cairn__ml_retransmit_limit(q->retransmit_mult, num_nodes);
    if (transmit_limit > BCAST_MAX_TRANSMITS)
        transmit_limit = BCAST_MAX_TRANSMITS;
    unsigned min_tr = q->items[0].transmits, max_tr = q->items[q->len - 1].transmits;
    /* Slots sent this round stay out of the array until the end, as
     * upstream does, so a message goes at most once per packet. */
    size_t n_aside = 0, sent = 0;
    long used = 0;
    for (unsigned t = min_tr; t <= max_tr;) {
        long free_bytes = (long)limit - used - overhead;
        if (free_bytes <= 0)
            break;
        if (n_aside == q->aside_cap) {
            size_t ncap = q->aside_cap ? 2 * q->aside_cap : 32;
            struct bcast_slot *a = cairn_reallocarray(q->aside, ncap, sizeof(*a));
            if (!a)
                break; /* no room to set more aside: this packet is full */
            q->aside = a;
            q->aside_cap = ncap;
        }
        /* The largest (then newest) slot of level t that fits. */
        size_t i = lower_bound(q, t, (size_t)free_bytes, UINT32_MAX);
        if (i >= q->len || q->items[i].transmits != t) {
            t++;
            continue;
        }
        struct bcast_slot s = q->items[i];
        remove_at(q, i);
        emit(s.m->data, s.len, userdata);
        sent++;
        used += overhead + (long)s.len;
        if ((int)s.transmits + 1 >= transmit_limit) {
            finish(q, s);
        } else {
            s.transmits++;
            q->aside[n_aside++] = s;
        }
    }
    for (size_t k = 0; k < n_aside; k++)
        insert_sorted(q, q->aside[k]); /* room: each came out of the array */
    shrink(q);
    return sent;
}

size_t cairn__bcast_queue_len(const cairn_bcast_queue *q)
{
    return q ? q->len : 0;
}

void cairn__bcast_queue_prune(cairn_bcast_queue *q, size_t max_retain)
{
    while (q->len > max_retain) {
        struct bcast_slot s = q->items[q->len - 1];
        remove_at(q, q->len - 1);
        finish(q, s);
    }
    shrink(q);
}

void cairn__bcast_queue_reset(cairn_bcast_queue *q)
{
    cairn__bcast_queue_prune(q, 0);
    q->id_gen = 0;
}
