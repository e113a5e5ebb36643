/* memberlist/strmap.h: a string-keyed hash map (module-internal).
 *
 * Open addressing with linear probing and backward-shift deletion, so there
 * are no tombstones. Keys are borrowed: the map stores the caller's key
 * pointer, which must stay valid and unchanged while the entry exists (the
 * node table and the broadcast queue key entries by a name the value owns).
 * The table has a hard cap on entries fixed at init.
 */
#ifndef CAIRN_ML_STRMAP_H
#define CAIRN_ML_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_strmap_slot {
    /* Borrowed key; NULL marks an empty slot. */
    const char *key;
    /* The stored value: a pointer (get/put) or a number (get_u64/put_u64);
     * one map uses one kind. */
    union {
        void *value;
        uint64_t u64;
    };
};

struct ml_strmap {
    /* Slots; a power of two in number, NULL until the first insert. */
    struct ml_strmap_slot *slots;
    /* Number of slots (0 or a power of two). */
    size_t nslots;
    /* Entries in use. */
    size_t len;
    /* Most entries allowed. */
    size_t cap;
    /* Embedded keys (cairn__ml_strmap_init_embedded): each value holds its
     * key at key_offset, so a slot is one word, `words` instead of
     * `slots` (nslots of them, 0 = empty): the key pointer in the low 48
     * bits and the top 16 bits of its hash above, which spares the key's
     * cache miss on most probes past other keys. A key pointer that does
     * not fit 48 bits turns the map `untagged` for good (words are then
     * plain pointers). */
    bool embedded, untagged;
    size_t key_offset;
    uint64_t *words;
};

/* cairn__ml_strmap_init prepares an empty map holding at most cap entries. */
void cairn__ml_strmap_init(struct ml_strmap *m, size_t cap);

/* cairn__ml_strmap_init_embedded prepares a map whose values contain their
 * keys: value == key - key_offset (the node table: a node's name is in its
 * block). put ignores its value argument and get derives it; slots keep
 * 8 bytes instead of 16 and a tag of their key's hash, so probes past
 * other keys do not read them (a cache miss each in big tables; the
 * simulator holds N such tables of N names). get_u64/put_u64 must not be
 * used. */
void cairn__ml_strmap_init_embedded(struct ml_strmap *m, size_t cap, size_t key_offset);

/* cairn__ml_strmap_destroy frees the slots (not keys or values). */
void cairn__ml_strmap_destroy(struct ml_strmap *m);

/* cairn__ml_strmap_get returns the value stored under key, or NULL. */
void *cairn__ml_strmap_get(const struct ml_strmap *m, const char *key);

/* cairn__ml_strmap_put stores value under key (replacing an existing value; the
 * stored key pointer is then replaced too). 0, CAIRN_ENOMEM or CAIRN_ELIMIT. */
int cairn__ml_strmap_put(struct ml_strmap *m, const char *key, void *value);

/* cairn__ml_strmap_get_u64 stores the number under key in *ret and
 * returns 1, or returns 0 if key is absent. */
int cairn__ml_strmap_get_u64(const struct ml_strmap *m, const char *key, uint64_t *ret);

/* cairn__ml_strmap_put_u64: cairn__ml_strmap_put with a number. */
int cairn__ml_strmap_put_u64(struct ml_strmap *m, const char *key, uint64_t value);

/* cairn__ml_strmap_reserve makes sure `extra` more new keys can be put without
 * failing. 0, CAIRN_ENOMEM or CAIRN_ELIMIT. */
int cairn__ml_strmap_reserve(struct ml_strmap *m, size_t extra);

/* cairn__ml_strmap_hash: the hash a map uses for the key made of the len
 * bytes at key (no NUL among them): what the prefetch calls take. */
uint64_t cairn__ml_strmap_hash(const void *key, size_t len);

/* Prefetching, for a caller about to look up many keys at once (the
 * names of a received compound's messages): each lookup in the big,
 * cold tables of the simulator costs a cache miss for the slot and one
 * for the key's block; issuing them all first overlaps the misses.
 * cairn__ml_strmap_prefetch_slot asks for the slot line of hash h;
 * cairn__ml_strmap_prefetch_value then reads that slot (best issued once
 * every slot was asked for) and asks for the first tag-matching entry's
 * key and value blocks (embedded maps; a no-op otherwise). Hints only:
 * nothing changes, any map state is fine. */
void cairn__ml_strmap_prefetch_slot(const struct ml_strmap *m, uint64_t h);
void cairn__ml_strmap_prefetch_value(const struct ml_strmap *m, uint64_t h);

/* cairn__ml_strmap_del removes key; returns the old value or NULL. */
void *cairn__ml_strmap_del(struct ml_strmap *m, const char *key);

#endif
