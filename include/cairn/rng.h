/* cairn/rng.h: a small seeded PRNG, one per instance.
 *
 * xoshiro256** seeded through splitmix64. Every randomised decision in cairn
 * (shuffles, jitter, gossip targets, simulator links) draws from an rng owned
 * by the object making it, so a run is reproducible from its seed. Not
 * cryptographic: nonces for AES-GCM come from OpenSSL.
 */
#ifndef CAIRN_RNG_H
#define CAIRN_RNG_H

#include <stdint.h>

/* A generator, embedded by its owner; not thread-safe. */
typedef struct cairn_rng {
    /* Generator state; never all zero after cairn_rng_init. */
    uint64_t s[4];
} cairn_rng;

/* cairn_rng_init seeds rng deterministically from seed. */
void cairn_rng_init(cairn_rng *rng, uint64_t seed);
/* cairn_rng_seed_random seeds from the OS entropy source (getrandom);
 * returns 0 or a CAIRN_E* code. */
int cairn_rng_seed_random(cairn_rng *rng);
/* cairn_rng_u64: 64 uniform bits. */
uint64_t cairn_rng_u64(cairn_rng *rng);
/* cairn_rng_below: uniform in [0, n) without modulo bias; 0 when n == 0. */
uint64_t cairn_rng_below(cairn_rng *rng, uint64_t n);
/* cairn_rng_double: uniform in [0, 1) with 53 bits of precision. */
double cairn_rng_double(cairn_rng *rng);
/* cairn_rng_normal: standard normal deviate (Box-Muller, polar form). */
double cairn_rng_normal(cairn_rng *rng);
/* cairn_rng_split: seeds child from rng's stream (for per-node generators). */
void cairn_rng_split(cairn_rng *rng, cairn_rng *child);

#endif
