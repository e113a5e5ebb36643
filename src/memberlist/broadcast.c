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
 * message: 16 bytes. */
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

/* Slots per block. */
#define BLK 64

/* A run of the sorted sequence. */
struct bcast_block {
    /* Slots used (1..BLK while in the directory). */
    uint32_t n;
    struct bcast_slot s[BLK];
};

/* A place in the sequence: block b, slot i. */
struct pos {
    size_t b, i;
};

struct cairn_bcast_queue {
    int retransmit_mult;
    size_t max_items;
    /* The slots in the upstream order, in blocks of at most BLK (a sorted
     * array would memmove the whole queue per message sent: the lowest
     * level, where messages are taken, is at its front). */
    struct bcast_block **blocks;
    size_t nblocks, cap_blocks;
    /* Slots queued. */
    size_t len;
    /* Spare blocks (a free list through s[0].m), so that putting back
     * the slots sent by a get, which may split blocks, cannot fail. */
    struct bcast_block *spare;
    size_t n_spare;
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

static bool slot_less(const struct bcast_slot *a, unsigned t, size_t l, uint32_t id)
{
    return key_less(a->transmits, a->len, a->id, t, l, id);
}

static struct bcast_slot *at(const cairn_bcast_queue *q, struct pos p)
{
    return &q->blocks[p.b]->s[p.i];
}

static const struct bcast_slot *first(const cairn_bcast_queue *q)
{
    return &q->blocks[0]->s[0];
}

static const struct bcast_slot *last(const cairn_bcast_queue *q)
{
    const struct bcast_block *b = q->blocks[q->nblocks - 1];
    return &b->s[b->n - 1];
}

/* The first slot not less than the key (t, l, id); {nblocks, 0} if none. */
static struct pos lower_bound(const cairn_bcast_queue *q, unsigned t, size_t l, uint32_t id)
{
    size_t lo = 0, hi = q->nblocks;
    while (lo < hi) { /* first block whose last slot is not less */
        size_t mid = lo + (hi - lo) / 2;
        const struct bcast_block *b = q->blocks[mid];
        if (slot_less(&b->s[b->n - 1], t, l, id))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == q->nblocks)
        return (struct pos){lo, 0};
    const struct bcast_block *b = q->blocks[lo];
    size_t a = 0, z = b->n;
    while (a < z) {
        size_t mid = a + (z - a) / 2;
        if (slot_less(&b->s[mid], t, l, id))
            a = mid + 1;
        else
            z = mid;
    }
    return (struct pos){lo, a};
}

static bool pos_valid(const cairn_bcast_queue *q, struct pos p)
{
    return p.b < q->nblocks;
}

static void spare_put(cairn_bcast_queue *q, struct bcast_block *b)
{
    b->s[0].m = (struct bcast_msg *)q->spare;
    q->spare = b;
    q->n_spare++;
}

static struct bcast_block *spare_take(cairn_bcast_queue *q)
{
    struct bcast_block *b = q->spare;
    q->spare = (struct bcast_block *)b->s[0].m;
    q->n_spare--;
    b->n = 0;
    return b;
}

/* Makes sure `blocks` spare blocks and directory room for them exist. */
static int reserve_blocks(cairn_bcast_queue *q, size_t blocks)
{
    while (q->n_spare < blocks) {
        struct bcast_block *b = cairn_malloc(sizeof(*b));
        if (!b)
            return CAIRN_ENOMEM;
        spare_put(q, b);
    }
    size_t need = q->nblocks + blocks;
    if (need > q->cap_blocks) {
        size_t ncap = q->cap_blocks ? q->cap_blocks * 2 : 4;
        if (ncap < need)
            ncap = need;
        struct bcast_block **d = cairn_reallocarray(q->blocks, ncap, sizeof(*d));
        if (!d)
            return CAIRN_ENOMEM;
        q->blocks = d;
        q->cap_blocks = ncap;
    }
    return 0;
}

/* Frees spare blocks beyond `keep`. */
static void trim_spares(cairn_bcast_queue *q, size_t keep)
{
    while (q->n_spare > keep)
        cairn_free(spare_take(q));
}

/* Removes the slot at p from the sequence only (the name index is the
 * caller's); an emptied block becomes a spare. */
static void remove_at(cairn_bcast_queue *q, struct pos p)
{
    struct bcast_block *b = q->blocks[p.b];
    memmove(&b->s[p.i], &b->s[p.i + 1], (b->n - p.i - 1) * sizeof(b->s[0]));
    b->n--;
    q->len--;
    if (b->n == 0) {
        memmove(&q->blocks[p.b], &q->blocks[p.b + 1], (q->nblocks - p.b - 1) * sizeof(*q->blocks));
        q->nblocks--;
        spare_put(q, b);
    }
}

/* Inserts into the sequence; a spare block and directory room for it must
 * have been reserved. */
static void insert_sorted(cairn_bcast_queue *q, struct bcast_slot s)
{
    if (q->nblocks == 0) {
        q->blocks[q->nblocks++] = spare_take(q);
        q->blocks[0]->s[0] = s;
        q->blocks[0]->n = 1;
        q->len++;
        return;
    }
    struct pos p = lower_bound(q, s.transmits, s.len, s.id);
    if (p.b == q->nblocks) { /* after everything: the end of the last block */
        p.b = q->nblocks - 1;
        p.i = q->blocks[p.b]->n;
    }
    struct bcast_block *b = q->blocks[p.b];
    if (b->n == BLK) {
        /* Full: a new block before or after it for an insertion at its
         * front or end (new messages go to the front of the sequence, so
         * blocks stay full), else split it in halves. */
        struct bcast_block *nb = spare_take(q);
        size_t at_b = p.i == 0 ? p.b : p.b + 1;
        memmove(&q->blocks[at_b + 1], &q->blocks[at_b], (q->nblocks - at_b) * sizeof(*q->blocks));
        q->blocks[at_b] = nb;
        q->nblocks++;
        if (p.i == 0 || p.i == BLK) {
            p = (struct pos){at_b, 0};
            b = nb;
        } else {
            nb->n = BLK / 2;
            memcpy(nb->s, &b->s[BLK / 2], (BLK / 2) * sizeof(b->s[0]));
            b->n = BLK / 2;
            if (p.i > BLK / 2) {
                p = (struct pos){p.b + 1, p.i - BLK / 2};
                b = nb;
            }
        }
    }
    memmove(&b->s[p.i + 1], &b->s[p.i], (b->n - p.i) * sizeof(b->s[0]));
    b->s[p.i] = s;
    b->n++;
    q->len++;
}

/* The queued slot with this id and length (its transmit count unknown:
 * one search per level); invalid if none. */
static struct pos find_id(const cairn_bcast_queue *q, uint32_t id, size_t len)
{
    if (q->len == 0)
        return (struct pos){q->nblocks, 0};
    for (unsigned t = first(q)->transmits; t <= last(q)->transmits; t++) {
        struct pos p = lower_bound(q, t, len, id);
        if (pos_valid(q, p) && at(q, p)->id == id && at(q, p)->len == len)
            return p;
    }
    return (struct pos){q->nblocks, 0};
}

/* The name index's value for a slot: its id, and its length (to find it). */
static uint64_t slot_key(const struct bcast_slot *s)
{
    return (uint64_t)s->id | (uint64_t)s->len << 32;
}

/* Unindexes, reports and releases a slot already out of the sequence. */
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
    for (size_t b = 0; b < q->nblocks; b++) {
        for (size_t i = 0; i < q->blocks[b]->n; i++)
            msg_release(q->blocks[b]->s[i].m);
        cairn_free(q->blocks[b]);
    }
    while (q->fins) {
        struct bcast_fin *f = q->fins;
        q->fins = f->next;
        cairn_free(f);
    }
    trim_spares(q, 0);
    cairn_free(q->blocks);
    cairn_free(q->aside);
    cairn__ml_strmap_destroy(&q->names);
    cairn_free(q);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The ids ran out (2^32 pushes without the queue ever emptying):
 * renumber 1..len in the same order (names and finished callbacks follow;
 * the order of the sequence does not change). */
static int renumber(cairn_bcast_queue *q)
{
    uint32_t *ids = cairn_reallocarray(NULL, q->len ? q->len : 1, sizeof(*ids));
    if (!ids)
        return CAIRN_ENOMEM;
    size_t k = 0;
    for (size_t b = 0; b < q->nblocks; b++)
        for (size_t i = 0; i < q->blocks[b]->n; i++)
            ids[k++] = q->blocks[b]->s[i].id;
    qsort(ids, k, sizeof(*ids), cmp_u32);
    for (size_t b = 0; b < q->nblocks; b++) {
        for (size_t i = 0; i < q->blocks[b]->n; i++) {
            struct bcast_slot *s = &q->blocks[b]->s[i];
            const uint32_t *r = bsearch(&s->id, ids, k, sizeof(*ids), cmp_u32);
            uint32_t nid = (uint32_t)(r - ids) + 1;
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
    }
    cairn_free(ids);
    q->id_gen = (uint32_t)k;
    return 0;
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
    /* Ids restart only when the queue is truly empty (upstream resets in
     * deleteItem, which can also happen mid-GetBroadcasts and hand out an
     * id still held by an item set aside; unique ids keep the order
     * total). */
    if (q->len == 0)
        q->id_gen = 0;
    /* Replacing an entry reuses its name slot, so only a new name can fail. */
    if (reserve_blocks(q, 1) < 0 ||
        (name && !has_old && cairn__ml_strmap_reserve(&q->names, 1) < 0) ||
        (q->id_gen == UINT32_MAX && renumber(q) < 0)) {
        msg_release(m);
        cairn_free(fin);
        return CAIRN_ENOMEM;
    }
    if (has_old)
        (void)cairn__ml_strmap_get_u64(&q->names, name, &old_v); /* renumbered? */
    struct bcast_slot s = {.m = m, .id = ++q->id_gen, .len = (uint16_t)len, .notify = fin != NULL};
    if (fin) {
        *fin = (struct bcast_fin){q->fins, s.id, finished, userdata};
        q->fins = fin;
    }
    struct bcast_slot old = {0};
    if (has_old) {
        struct pos p = find_id(q, (uint32_t)old_v, (size_t)(old_v >> 32));
        old = *at(q, p); /* found: the index and the sequence agree */
        remove_at(q, p);
    }
    insert_sorted(q, s);
    if (name)
        (void)cairn__ml_strmap_put_u64(&q->names, name, slot_key(&s)); /* reserved */
    if (has_old)
        finish(q, old);
    if (q->len > q->max_items)
        cairn__bcast_queue_prune(q, q->max_items);
    trim_spares(q, 1);
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
    unsigned min_tr = first(q)->transmits, max_tr = last(q)->transmits;
    /* Slots sent this round stay out of the sequence until the end, as
     * upstream does, so a message goes at most once per packet. */
    size_t n_aside = 0, sent = 0;
    long used = 0;
    /* Where the last message of level t was taken, once one was: the
     * next one of that level is at or after it (see below). */
    struct pos from = {0, 0};
    bool have_from = false;
    for (unsigned t = min_tr; t <= max_tr && q->len > 0;) {
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
        /* Putting each one back may split a block. */
        if (reserve_blocks(q, n_aside + 1) < 0)
            break;
        /* The largest (then newest) slot of level t that fits: the first
         * of level t whose length is at most free_bytes. Once a slot of
         * level t was taken at `from`, every slot of level t before it
         * was already too long for more room than is left now (lengths
         * descend within a level), so the answer is at or after `from`:
         * usually `from` itself. A short forward walk finds it (the
         * binary search costs cache misses across the queue's blocks);
         * past the walk's end, the search. */
        struct pos p;
        if (have_from) {
            p = from;
            for (int k = 0;; k++) {
                if (pos_valid(q, p) && p.i >= q->blocks[p.b]->n)
                    p = (struct pos){p.b + 1, 0};
                if (!pos_valid(q, p) || at(q, p)->transmits != t ||
                    at(q, p)->len <= (size_t)free_bytes)
                    break;
                if (k == 8) {
                    p = lower_bound(q, t, (size_t)free_bytes, UINT32_MAX);
                    break;
                }
                p.i++;
            }
        } else {
            p = lower_bound(q, t, (size_t)free_bytes, UINT32_MAX);
        }
        if (!pos_valid(q, p) || at(q, p)->transmits != t) {
            t++;
            have_from = false;
            continue;
        }
        struct bcast_slot s = *at(q, p);
        remove_at(q, p);
        from = p; /* now the slot after it (or past its block's end) */
        have_from = true;
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
        insert_sorted(q, q->aside[k]); /* spares reserved above */
    trim_spares(q, 1);
    return sent;
}

size_t cairn__bcast_queue_len(const cairn_bcast_queue *q)
{
    return q ? q->len : 0;
}

void cairn__bcast_queue_prune(cairn_bcast_queue *q, size_t max_retain)
{
    while (q->len > max_retain) {
        struct pos p = {q->nblocks - 1, q->blocks[q->nblocks - 1]->n - 1};
        struct bcast_slot s = *at(q, p);
        remove_at(q, p);
        finish(q, s);
    }
    trim_spares(q, 1);
}

void cairn__bcast_queue_reset(cairn_bcast_queue *q)
{
    cairn__bcast_queue_prune(q, 0);
    q->id_gen = 0;
}
