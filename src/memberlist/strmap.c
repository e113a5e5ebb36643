/* A small string-keyed hash map for the memberlist module.
 *
 * memberlist keeps nodes by name (Go: map[string]*nodeState) and its
 * broadcast queue finds a queued message by node name; both need O(1) lookup
 * once clusters reach thousands of nodes (the simulator runs 1,000 nodes per
 * process). FNV-1a hashing, linear probing, load factor at most 3/4, and
 * backward-shift deletion (no tombstones, so lookups never degrade). A
 * slot is only the key and value pointers (16 bytes): the hash is not
 * cached but recomputed when the table grows or a deletion shifts entries
 * (keys are node names, short), since every simulated member holds two
 * such maps of all the others (its node table and its broadcast queue).
 */
#include "memberlist/strmap.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

/* First table size: small clusters never grow. */
#define ML_STRMAP_MIN_SLOTS 16
/* Most load: 3/4. Linear probing stays short at that load (about 2.5
 * probes per hit), and a table of 10,000 names takes 16,384 slots instead
 * of the 32,768 a 1/2 cap gives: the map is per member and the simulator
 * holds thousands of members. */
#define ML_STRMAP_LOAD_NUM 3
#define ML_STRMAP_LOAD_DEN 4

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void cairn__ml_strmap_init(struct ml_strmap *m, size_t cap)
{
    memset(m, 0, sizeof(*m));
    m->cap = cap;
}

void cairn__ml_strmap_destroy(struct ml_strmap *m)
{
    if (!m)
        return;
    cairn_free(m->slots);
    m->slots = NULL;
    m->nslots = 0;
    m->len = 0;
}

void cairn__ml_strmap_init_embedded(struct ml_strmap *m, size_t cap, size_t key_offset)
{
    cairn__ml_strmap_init(m, cap);
    m->embedded = true;
    m->key_offset = key_offset;
}

/* The hash of the key in slot i. */
static uint64_t slot_hash(const struct ml_strmap *m, size_t i)
{
    return m->embedded ? m->slots[i].u64 : hash_str(m->slots[i].key);
}

static size_t find_slot(const struct ml_strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->nslots - 1;
    size_t i = (size_t)h & mask;
    while (m->slots[i].key) {
        /* Embedded: the stored hash spares the key's cache miss on most
         * probes that are not the key. */
        if ((!m->embedded || m->slots[i].u64 == h) && strcmp(m->slots[i].key, key) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

void *cairn__ml_strmap_get(const struct ml_strmap *m, const char *key)
{
    if (m->nslots == 0)
        return NULL;
    size_t i = find_slot(m, key, hash_str(key));
    if (!m->slots[i].key)
        return NULL;
    return m->embedded ? (void *)(m->slots[i].key - m->key_offset) : m->slots[i].value;
}

int cairn__ml_strmap_get_u64(const struct ml_strmap *m, const char *key, uint64_t *ret)
{
    if (m->nslots == 0)
        return 0;
    size_t i = find_slot(m, key, hash_str(key));
    if (!m->slots[i].key)
        return 0;
    *ret = m->slots[i].u64;
    return 1;
}

static int grow(struct ml_strmap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : ML_STRMAP_MIN_SLOTS;
    struct ml_strmap_slot *slots = cairn_calloc(n, sizeof(*slots));
    if (!slots)
        return CAIRN_ENOMEM;
    struct ml_strmap_slot *old = m->slots;
    size_t oldn = m->nslots;
    m->slots = slots;
    m->nslots = n;
    for (size_t i = 0; i < oldn; i++) {
        if (!old[i].key)
            continue;
        uint64_t h = m->embedded ? old[i].u64 : hash_str(old[i].key);
        size_t j = (size_t)h & (n - 1);
        while (m->slots[j].key)
            j = (j + 1) & (n - 1);
        m->slots[j] = old[i];
    }
    cairn_free(old);
    return 0;
}

int cairn__ml_strmap_reserve(struct ml_strmap *m, size_t extra)
{
    if (m->len + extra > m->cap)
        return CAIRN_ELIMIT;
    while ((m->len + extra) * ML_STRMAP_LOAD_DEN > m->nslots * ML_STRMAP_LOAD_NUM) {
        int rc = grow(m);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Finds or makes key's slot (its key set to key); NULL on error (*rc). */
static struct ml_strmap_slot *put_slot(struct ml_strmap *m, const char *key, int *rc)
{
    uint64_t h = hash_str(key);
    if (m->nslots) {
        size_t i = find_slot(m, key, h);
        if (m->slots[i].key) {
            m->slots[i].key = key;
            return &m->slots[i];
        }
    }
    if ((*rc = cairn__ml_strmap_reserve(m, 1)) < 0)
        return NULL;
    size_t i = find_slot(m, key, h);
    m->slots[i].key = key;
    if (m->embedded)
        m->slots[i].u64 = h;
    m->len++;
    return &m->slots[i];
}

int cairn__ml_strmap_put_u64(struct ml_strmap *m, const char *key, uint64_t value)
{
    int rc = 0;
    struct ml_strmap_slot *s = put_slot(m, key, &rc);
    if (s)
        s->u64 = value;
    return rc;
}

int cairn__ml_strmap_put(struct ml_strmap *m, const char *key, void *value)
{
    int rc = 0;
    struct ml_strmap_slot *s = put_slot(m, key, &rc);
    if (s && !m->embedded)
        s->value = value;
    return rc;
}

void *cairn__ml_strmap_del(struct ml_strmap *m, const char *key)
{
    if (m->nslots == 0)
        return NULL;
    size_t mask = m->nslots - 1;
    size_t i = find_slot(m, key, hash_str(key));
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    /* Backward-shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    size_t j = (i + 1) & mask;
    while (m->slots[j].key) {
        size_t home = (size_t)slot_hash(m, j) & mask;
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int in_range = (hole <= j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
        j = (j + 1) & mask;
    }
    m->slots[hole].key = NULL;
    m->slots[hole].u64 = 0;
    m->slots[hole].value = NULL;
    m->len--;
    return value;
}
