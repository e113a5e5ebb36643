/* The simulator's hash map: open addressing with linear probing over
 * fixed-size keys (an address, an address and port, or an unordered pair of
 * addresses), deletion by backward shift so no tombstones accumulate. With
 * thousands of nodes every packet costs a few lookups, so this is the
 * simulator's other hot path after the event heap. Iteration order is never
 * used, so the hash need not be stable across versions to keep runs
 * reproducible. */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/sim_internal.h"

#include <string.h>

static void key_put_ip(uint8_t *p, const cairn_addr *a)
{
    p[0] = a->family;
    memcpy(p + 1, a->ip, a->family == 4 ? 4 : 16);
}

void cairn__sim_key_ip(struct sim_key *k, const cairn_addr *a)
{
    memset(k, 0, sizeof(*k));
    key_put_ip((uint8_t *)k->w, a);
}

void cairn__sim_key_ip_port(struct sim_key *k, const cairn_addr *a, uint16_t port)
{
    cairn__sim_key_ip(k, a);
    uint8_t *p = (uint8_t *)k->w;
    p[17] = (uint8_t)(port >> 8);
    p[18] = (uint8_t)port;
}

void cairn__sim_key_pair(struct sim_key *k, const cairn_addr *a, const cairn_addr *b)
{
    struct sim_key ka, kb;
    cairn__sim_key_ip(&ka, a);
    cairn__sim_key_ip(&kb, b);
    if (memcmp(&ka, &kb, 17) > 0) {
        struct sim_key t = ka;
        ka = kb;
        kb = t;
    }
    memset(k, 0, sizeof(*k));
    uint8_t *p = (uint8_t *)k->w;
    memcpy(p, ka.w, 17);
    memcpy(p + 17, kb.w, 17);
}

static uint64_t key_hash(const struct sim_key *k)
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 5; i++) {
        h ^= k->w[i];
        h *= 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
    }
    return h;
}

static bool key_eq(const struct sim_key *a, const struct sim_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

void *cairn__sim_map_get(const struct sim_map *m, const struct sim_key *k)
{
    if (m->len == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
        const struct sim_map_slot *s = &m->slots[i];
        if (s->value == NULL)
            return NULL;
        if (key_eq(&s->key, k))
            return s->value;
    }
}

static void insert_slot(struct sim_map_slot *slots, size_t cap, const struct sim_key *k,
                        void *value)
{
    size_t mask = cap - 1;
    size_t i = key_hash(k) & mask;
    while (slots[i].value != NULL)
        i = (i + 1) & mask;
    slots[i].key = *k;
    slots[i].value = value;
}

static int grow(struct sim_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct sim_map_slot *slots = cairn_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return CAIRN_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].value != NULL)
            insert_slot(slots, cap, &m->slots[i].key, m->slots[i].value);
    cairn_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int cairn__sim_map_put(struct sim_map *m, const struct sim_key *k, void *value)
{
    if (m->len > 0) {
        size_t mask = m->cap - 1;
        for (size_t i = key_hash(k) & mask; m->slots[i].value != NULL; i = (i + 1) & mask) {
            if (key_eq(&m->slots[i].key, k)) {
                m->slots[i].value = value;
                return 0;
            }
        }
    }
    /* Keep the load under 3/4. */
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return CAIRN_ENOMEM;
    insert_slot(m->slots, m->cap, k, value);
    m->len++;
    return 0;
}

void *cairn__sim_map_del(struct sim_map *m, const struct sim_key *k)
{
    if (m->len == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = key_hash(k) & mask;
    while (m->slots[i].value != NULL && !key_eq(&m->slots[i].key, k))
        i = (i + 1) & mask;
    void *old = m->slots[i].value;
    if (old == NULL)
        return NULL;
    /* Backward shift: pull later members of the cluster into the hole when
     * their home slot does not lie strictly after it (cyclically). */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].value != NULL; j = (j + 1) & mask) {
        size_t home = key_hash(&m->slots[j].key) & mask;
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].value = NULL;
    m->len--;
    return old;
}

void cairn__sim_map_destroy(struct sim_map *m)
{
    cairn_free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}
