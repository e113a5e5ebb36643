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

uint64_t cairn__ml_strmap_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
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
    cairn_free(m->words);
    m->slots = NULL;
    m->words = NULL;
    m->nslots = 0;
    m->len = 0;
}

void cairn__ml_strmap_init_embedded(struct ml_strmap *m, size_t cap, size_t key_offset)
{
    cairn__ml_strmap_init(m, cap);
    m->embedded = true;
    m->key_offset = key_offset;
}

/* ---- embedded maps: one word per slot ---- */

#define EMB_PTR_BITS 48
#define EMB_PTR_MASK ((UINT64_C(1) << EMB_PTR_BITS) - 1)

static const char *emb_key(const struct ml_strmap *m, uint64_t w)
{
    return (const char *)(uintptr_t)(m->untagged ? w : w & EMB_PTR_MASK);
}

static uint64_t emb_word(const struct ml_strmap *m, const char *key, uint64_t h)
{
    uint64_t p = (uint64_t)(uintptr_t)key;
    return m->untagged ? p : p | (h >> EMB_PTR_BITS) << EMB_PTR_BITS;
}

/* Slot of key, or the empty slot where it belongs. */
static size_t emb_find(const struct ml_strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    uint64_t tag = (h >> EMB_PTR_BITS) << EMB_PTR_BITS;
    for (; m->words[i]; i = (i + 1) & mask) {
        uint64_t w = m->words[i];
        if ((m->untagged || (w & ~EMB_PTR_MASK) == tag) && strcmp(emb_key(m, w), key) == 0)
            return i;
    }
    return i;
}

static int emb_grow(struct ml_strmap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : ML_STRMAP_MIN_SLOTS;
    uint64_t *words = cairn_calloc(n, sizeof(*words));
    if (!words)
        return CAIRN_ENOMEM;
    for (size_t i = 0; i < m->nslots; i++) {
        if (!m->words[i])
            continue;
        size_t j = (size_t)hash_str(emb_key(m, m->words[i])) & (n - 1);
        while (words[j])
            j = (j + 1) & (n - 1);
        words[j] = m->words[i];
    }
    cairn_free(m->words);
    m->words = words;
    m->nslots = n;
    return 0;
}

static int emb_put(struct ml_strmap *m, const char *key)
{
    if (!m->untagged && ((uint64_t)(uintptr_t)key & ~EMB_PTR_MASK)) {
        for (size_t i = 0; i < m->nslots; i++) /* strip the tags */
            m->words[i] &= EMB_PTR_MASK;
        m->untagged = true;
    }
    uint64_t h = hash_str(key);
    if (m->nslots) {
        size_t i = emb_find(m, key, h);
        if (m->words[i]) {
            m->words[i] = emb_word(m, key, h);
            return 0;
        }
    }
    int rc = cairn__ml_strmap_reserve(m, 1);
    if (rc < 0)
        return rc;
    m->words[emb_find(m, key, h)] = emb_word(m, key, h);
    m->len++;
    return 0;
}

static void *emb_del(struct ml_strmap *m, const char *key)
{
    if (m->nslots == 0)
        return NULL;
    size_t mask = m->nslots - 1, i = emb_find(m, key, hash_str(key));
    if (!m->words[i])
        return NULL;
    void *value = (void *)(emb_key(m, m->words[i]) - m->key_offset);
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->words[j]; j = (j + 1) & mask) {
        size_t home = (size_t)hash_str(emb_key(m, m->words[j])) & mask;
        int in_range = (hole <= j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->words[hole] = m->words[j];
            hole = j;
        }
    }
    m->words[hole] = 0;
    m->len--;
    return value;
}

void cairn__ml_strmap_prefetch_slot(const struct ml_strmap *m, uint64_t h)
{
    if (m->nslots == 0)
        return;
    size_t i = (size_t)h & (m->nslots - 1);
    if (m->embedded)
        __builtin_prefetch(&m->words[i]);
    else
        __builtin_prefetch(&m->slots[i]);
}

void cairn__ml_strmap_prefetch_value(const struct ml_strmap *m, uint64_t h)
{
    if (m->nslots == 0 || !m->embedded)
        return;
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    uint64_t tag = (h >> EMB_PTR_BITS) << EMB_PTR_BITS;
    /* A few probes at most: a hint need not find a far entry. */
    for (int k = 0; k < 4 && m->words[i]; k++, i = (i + 1) & mask) {
        uint64_t w = m->words[i];
        if (m->untagged || (w & ~EMB_PTR_MASK) == tag) {
            const char *key = emb_key(m, w);
            __builtin_prefetch(key);
            __builtin_prefetch(key - m->key_offset);
            return;
        }
    }
}

/* The hash of the key in slot i. */
static uint64_t slot_hash(const struct ml_strmap *m, size_t i)
{
    return hash_str(m->slots[i].key);
}

static size_t find_slot(const struct ml_strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->nslots - 1;
    size_t i = (size_t)h & mask;
    while (m->slots[i].key) {
        if (strcmp(m->slots[i].key, key) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

void *cairn__ml_strmap_get(const struct ml_strmap *m, const char *key)
{
    if (m->nslots == 0)
        return NULL;
    if (m->embedded) {
        uint64_t w = m->words[emb_find(m, key, hash_str(key))];
        return w ? (void *)(emb_key(m, w) - m->key_offset) : NULL;
    }
    size_t i = find_slot(m, key, hash_str(key));
    return m->slots[i].key ? m->slots[i].value : NULL;
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
        uint64_t h = hash_str(old[i].key);
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
        int rc = m->embedded ? emb_grow(m) : grow(m);
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
    if (m->embedded)
        return emb_put(m, key);
    struct ml_strmap_slot *s = put_slot(m, key, &rc);
    if (s)
        s->value = value;
    return rc;
}

void *cairn__ml_strmap_del(struct ml_strmap *m, const char *key)
{
    if (m->embedded)
        return emb_del(m, key);
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
