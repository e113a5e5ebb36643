/* xoshiro256** (Blackman and Vigna) seeded by splitmix64.
 *
 * Chosen for speed and a tiny state that lives inside each object; see
 * cairn/rng.h. cairn_rng_below uses Lemire's multiply-and-reject method so
 * that shuffles are exactly uniform.
 */
#include "cairn/rng.h"
#include "cairn/error.h"

#include <math.h>
#include <sys/random.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cairn_rng_init(cairn_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

int cairn_rng_seed_random(cairn_rng *rng)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        return CAIRN_EIO;
    cairn_rng_init(rng, seed);
    return 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cairn_rng_u64(cairn_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cairn_rng_below(cairn_rng *rng, uint64_t n)
{
    if (n == 0)
        return 0;
    unsigned __int128 m = (unsigned __int128)cairn_rng_u64(rng) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)cairn_rng_u64(rng) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double cairn_rng_double(cairn_rng *rng)
{
    return (double)(cairn_rng_u64(rng) >> 11) * 0x1.0p-53;
}

double cairn_rng_normal(cairn_rng *rng)
{
    double u, v, s;
    do {
        u = 2.0 * cairn_rng_double(rng) - 1.0;
        v = 2.0 * cairn_rng_double(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

void cairn_rng_split(cairn_rng *rng, cairn_rng *child)
{
    cairn_rng_init(child, cairn_rng_u64(rng));
}
