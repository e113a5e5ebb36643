/* The transmit-limited broadcast queue (Go: queue.go TransmitLimitedQueue).
 *
 * Upstream keeps the queue in a B-tree ordered by (transmits ascending,
 * length descending, id descending) and asks it, per transmit level, for the
 * first entry whose length fits the free space. We keep the same order in a
 * sorted array of pointers: a binary search finds that entry directly, and
 * insertion/removal is a memmove of pointers, cheap for the queue sizes the
 * cap allows. Named entries are also indexed by name for O(1) replacement.
 *
 * Departures: upstream lets a Broadcast decide what it invalidates; here only
 * names do (memberlist's own broadcasts are named; serf's invalidate nothing,
 * which is what Serf 0.9.4 does). The queue has a hard cap at creation.
 */
#include "memberlist/broadcast.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "memberlist/strmap.h"
#include "memberlist/util.h"

/* Items and slots are packed (32-bit length next to the transmit count):
 * a simulated member can hold one queued alive per other member, so their
 * sizes are multiplied by N^2 in the simulator. */
struct bcast_item {
    /* Submission order; larger is newer. */
    int64_t id;
    /* Replacement key (points into this block), NULL if unnamed. */
    char *name;
    cairn_bcast_finished_cb finished;
    void *userdata;
    /* Link for the items set aside during one cairn__bcast_queue_get. */
    struct bcast_item *next;
    /* Message length. */
    uint32_t len;
    /* Times sent so far. */
    int transmits;
    /* The message bytes, then the name, in this block. */
    uint8_t msg[];
};

/* An array entry: the sort key is kept inline so that binary searches do
 * not touch the items themselves (one cache miss each, thousands of items
 * per node in big simulated clusters). */
struct bcast_slot {
    int64_t id;
    uint32_t len;
    int transmits;
    struct bcast_item *it;
};

struct cairn_bcast_queue {
    int retransmit_mult;
    size_t max_items;
    /* Items sorted by the upstream order; len used of cap. */
    struct bcast_slot *items;
    size_t len, cap;
    /* name -> item for named entries. */
    struct ml_strmap names;
    /* Last id handed out. */
    int64_t id_gen;
};

int cairn__bcast_queue_retransmit_limit(int retransmit_mult, int num_nodes)
{
    return cairn__ml_retransmit_limit(retransmit_mult, num_nodes);
}

/* The upstream B-tree order: fewer transmits, then longer, then newer. */
static bool key_less(int ta, size_t la, int64_t ia, int tb, size_t lb, int64_t ib)
{
    if (ta != tb)
        return ta < tb;
    if (la != lb)
        return la > lb;
    return ia > ib;
}

/* Index of the first item not less than the key (t, l, id). */
static size_t lower_bound(const cairn_bcast_queue *q, int t, size_t l, int64_t id)
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

/* Position of an item known to be in the array. */
static size_t index_of(const cairn_bcast_queue *q, const struct bcast_item *it)
{
    return lower_bound(q, it->transmits, it->len, it->id);
}

/* Inserts into the sorted array; room must have been reserved. */
static void insert_sorted(cairn_bcast_queue *q, struct bcast_item *it)
{
    size_t i = lower_bound(q, it->transmits, it->len, it->id);
    memmove(&q->items[i + 1], &q->items[i], (q->len - i) * sizeof(*q->items));
    q->items[i] = (struct bcast_slot){it->id, it->len, it->transmits, it};
    q->len++;
}

/* Unindexes, reports and frees an item already out of the array. */
static void finish(cairn_bcast_queue *q, struct bcast_item *it)
{
    if (it->name && cairn__ml_strmap_get(&q->names, it->name) == it)
        cairn__ml_strmap_del(&q->names, it->name);
    if (it->finished)
        it->finished(it->userdata);
    cairn_free(it);
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

void cairn__bcast_queue_delete(cairn_bcast_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->len; i++)
        cairn_free(q->items[i].it);
    cairn_free(q->items);
    cairn__ml_strmap_destroy(&q->names);
    cairn_free(q);
}

/* Makes room for one more item in the array. */
static int reserve(cairn_bcast_queue *q)
{
    if (q->len < q->cap)
        return 0;
    size_t ncap = q->cap ? q->cap * 2 : 16;
    if (ncap > q->max_items + 1)
        ncap = q->max_items + 1;
    struct bcast_slot *items = cairn_reallocarray(q->items, ncap, sizeof(*items));
    if (!items)
        return CAIRN_ENOMEM;
    q->items = items;
    q->cap = ncap;
    return 0;
}

int cairn__bcast_queue_push(cairn_bcast_queue *q, const char *name, const uint8_t *msg, size_t len,
                            cairn_bcast_finished_cb finished, void *userdata)
{
    if (!q || !msg || len == 0)
        return CAIRN_EINVAL;
    if (len > UINT32_MAX)
        return CAIRN_ELIMIT;
    size_t nlen = name ? strlen(name) + 1 : 0;
    struct bcast_item *it = cairn_malloc(sizeof(*it) + len + nlen);
    if (!it)
        return CAIRN_ENOMEM;
    *it = (struct bcast_item){.len = (uint32_t)len, .finished = finished, .userdata = userdata};
    memcpy(it->msg, msg, len);
    if (name) {
        it->name = (char *)it->msg + len;
        memcpy(it->name, name, nlen);
    }
    struct bcast_item *old = name ? cairn__ml_strmap_get(&q->names, name) : NULL;
    /* Replacing an entry reuses its name slot, so only a new name can fail. */
    if (reserve(q) < 0 || (it->name && !old && cairn__ml_strmap_reserve(&q->names, 1) < 0)) {
        cairn_free(it);
        return CAIRN_ENOMEM;
    }
    if (it->name)
        cairn__ml_strmap_put(&q->names, it->name, it); /* cannot fail now */
    /* Ids restart only when the queue is truly empty (upstream resets in
     * deleteItem, which can also happen mid-GetBroadcasts and hand out an
     * id still held by an item set aside; unique ids keep the order
     * total). */
    if (q->len == 0)
        q->id_gen = 0;
    it->id = q->id_gen == INT64_MAX ? 1 : q->id_gen + 1;
    q->id_gen = it->id;
    if (old)
        remove_at(q, index_of(q, old));
    insert_sorted(q, it);
    if (old)
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
    int min_tr = q->items[0].transmits, max_tr = q->items[q->len - 1].transmits;
    /* Items sent this round stay out of the array until the end, as
     * upstream does, so a message goes at most once per packet. */
    struct bcast_item *aside = NULL;
    size_t sent = 0;
    long used = 0;
    for (int t = min_tr; t <= max_tr;) {
        long free_bytes = (long)limit - used - overhead;
        if (free_bytes <= 0)
            break;
        /* The largest (then newest) item of level t that fits. */
        size_t i = lower_bound(q, t, (size_t)free_bytes, INT64_MAX);
        if (i >= q->len || q->items[i].transmits != t) {
            t++;
            continue;
        }
        struct bcast_item *it = q->items[i].it;
        remove_at(q, i);
        emit(it->msg, it->len, userdata);
        sent++;
        used += overhead + (long)it->len;
        if (it->transmits + 1 >= transmit_limit) {
            finish(q, it);
        } else {
            it->transmits++;
            it->next = aside;
            aside = it;
        }
    }
    while (aside) {
        struct bcast_item *it = aside;
        aside = it->next;
        insert_sorted(q, it); /* room: each came out of the array */
    }
    return sent;
}

size_t cairn__bcast_queue_len(const cairn_bcast_queue *q)
{
    return q ? q->len : 0;
}

void cairn__bcast_queue_prune(cairn_bcast_queue *q, size_t max_retain)
{
    while (q->len > max_retain) {
        struct bcast_item *it = q->items[q->len - 1].it;
        remove_at(q, q->len - 1);
        finish(q, it);
    }
}

void cairn__bcast_queue_reset(cairn_bcast_queue *q)
{
    cairn__bcast_queue_prune(q, 0);
    q->id_gen = 0;
}
