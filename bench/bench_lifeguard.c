/* Lifeguard on versus off under CPU-starved members, over many seeds, on
 * the deterministic simulator (issue 13, item 2; docs/memberlist-sim.md).
 *
 * Each seed runs the stalls scenario of tests/support/ml_stalls.c twice,
 * with the very same stall schedule and kills: Lifeguard on (memberlist's
 * LAN defaults) and off (awareness_max_multiplier 1,
 * suspicion_max_timeout_mult 1). Seeds 1..30 by default; N members
 * (default 64), `slow` of them (default 6) starved for `seconds` (default
 * 600): frozen 1..3 s, then a 0.5..4 ms slice, over and over (one freeze
 * = one stall event); `kills` other members (default 3) are killed at
 * evenly spread known times.
 *
 * Figures, summed over seeds:
 *   - false suspicions ("suspect X has failed" about a healthy member) and
 *     false dead declarations ("marking X as failed" about one), off / on,
 *     with two 95 % intervals for the ratio off/on: a percentile bootstrap
 *     over seeds (10,000 resamples of whole seeds: events within a seed are
 *     correlated, so this is the honest one), and the exact Poisson
 *     rate-ratio interval (Clopper-Pearson on on/(on+off); both settings
 *     see the same exposure), which assumes independent events;
 *   - detection of the killed members, per setting: first suspicion, first
 *     dead declaration, all healthy members and all live members (starved
 *     ones included) see it dead; mean with a 95 % bootstrap interval over
 *     seeds, and the on - off difference of the means with its interval.
 * One JSON object per figure on stdout, readable lines starting with '#'.
 *
 * usage: bench_lifeguard [--seeds S] [--first-seed F] [--n N] [--slow K]
 *                        [--seconds T] [--kills M] [--quiet]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/rng.h"
#include "ml_stalls.h"

#define BOOT      10000
#define MAX_SEEDS 10000

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile of a sorted array (nearest rank). */
static double pct(const double *v, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Bootstrap over seeds of sum(off) / sum(on): [lo, hi] at 95 %. A resample
 * with sum(on) == 0 gives +inf (Lifeguard none at all). */
static void boot_ratio(const uint64_t *off, const uint64_t *on, size_t s, double *lo, double *hi)
{
    static double v[BOOT];
    cairn_rng rng;
    cairn_rng_init(&rng, 0xb007);
    for (size_t b = 0; b < BOOT; b++) {
        uint64_t so = 0, sn = 0;
        for (size_t i = 0; i < s; i++) {
            size_t j = (size_t)cairn_rng_below(&rng, s);
            so += off[j];
            sn += on[j];
        }
        v[b] = sn ? (double)so / (double)sn : (so ? INFINITY : NAN);
    }
    /* NaN (0 / 0) resamples say nothing about the ratio: dropped. */
    size_t m = 0;
    for (size_t b = 0; b < BOOT; b++)
        if (!isnan(v[b]))
            v[m++] = v[b];
    if (m == 0) {
        *lo = *hi = NAN;
        return;
    }
    qsort(v, m, sizeof(*v), cmp_double);
    *lo = pct(v, m, 0.025);
    *hi = pct(v, m, 0.975);
}

/* P(X <= x) for X ~ Binomial(n, p), 0 < p < 1. */
static double binom_cdf(uint64_t x, uint64_t n, double p)
{
    double s = 0, lp = log(p), lq = log1p(-p), ln1 = lgamma((double)n + 1);
    for (uint64_t k = 0; k <= x; k++)
        s += exp(ln1 - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) + (double)k * lp +
                 (double)(n - k) * lq);
    return s;
}

/* Exact (Clopper-Pearson) 95 % interval of a binomial proportion x / n. */
static void clopper_pearson(uint64_t x, uint64_t n, double *plo, double *phi)
{
    *plo = 0;
    *phi = 1;
    if (x > 0) { /* P(X >= x | p) = 0.025 */
        double a = 0, b = 1;
        for (int it = 0; it < 60; it++) {
            double m = (a + b) / 2;
            if (1 - binom_cdf(x - 1, n, m) < 0.025)
                a = m;
            else
                b = m;
        }
        *plo = a;
    }
    if (x < n) { /* P(X <= x | p) = 0.025 */
        double a = 0, b = 1;
        for (int it = 0; it < 60; it++) {
            double m = (a + b) / 2;
            if (binom_cdf(x, n, m) > 0.025)
                a = m;
            else
                b = m;
        }
        *phi = b;
    }
}

/* Poisson rate ratio off/on (equal exposure), exact conditional interval. */
static void poisson_ratio(uint64_t off, uint64_t on, double *lo, double *hi)
{
    uint64_t n = off + on;
    if (n == 0) {
        *lo = *hi = NAN;
        return;
    }
    double plo, phi;
    clopper_pearson(on, n, &plo, &phi);
    *lo = (1 - phi) / phi;
    *hi = plo > 0 ? (1 - plo) / plo : INFINITY;
}

static void jnum(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "null");
    else if (isinf(v))
        snprintf(buf, len, "\"inf\"");
    else
        snprintf(buf, len, "%.3f", v);
}

static void report_ratio(const char *figure, const char *what, const uint64_t *off,
                         const uint64_t *on, size_t s)
{
    uint64_t so = 0, sn = 0;
    for (size_t i = 0; i < s; i++) {
        so += off[i];
        sn += on[i];
    }
    double r = sn ? (double)so / (double)sn : (so ? INFINITY : NAN);
    double blo, bhi, plo, phi;
    boot_ratio(off, on, s, &blo, &bhi);
    poisson_ratio(so, sn, &plo, &phi);
    printf("# %s: Lifeguard off %llu, on %llu; ratio off/on %.2f, 95 %% CI %.2f-%.2f (bootstrap "
           "over %zu seeds), %.2f-%.2f (Poisson rate ratio, assumes independence)\n",
           what, (unsigned long long)so, (unsigned long long)sn, r, blo, bhi, s, plo, phi);
    char jr[32], j1[32], j2[32], j3[32], j4[32];
    jnum(jr, sizeof(jr), r);
    jnum(j1, sizeof(j1), blo);
    jnum(j2, sizeof(j2), bhi);
    jnum(j3, sizeof(j3), plo);
    jnum(j4, sizeof(j4), phi);
    printf("{\"figure\":\"%s\",\"seeds\":%zu,\"off\":%llu,\"on\":%llu,\"ratio\":%s,"
           "\"ci95_bootstrap\":[%s,%s],\"ci95_poisson\":[%s,%s]}\n",
           figure, s, (unsigned long long)so, (unsigned long long)sn, jr, j1, j2, j3, j4);
}

/* Per seed: sum and count of one detection measure (values < 0 = not
 * seen within the run, counted apart). */
struct det {
    double sum[MAX_SEEDS];
    unsigned cnt[MAX_SEEDS];
    unsigned missed;
};

static void det_add(struct det *d, size_t seed_i, double v)
{
    if (v < 0) {
        d->missed++;
        return;
    }
    d->sum[seed_i] += v;
    d->cnt[seed_i]++;
}

static double det_mean(const struct det *d, size_t s)
{
    double t = 0;
    unsigned c = 0;
    for (size_t i = 0; i < s; i++) {
        t += d->sum[i];
        c += d->cnt[i];
    }
    return c ? t / c : NAN;
}

/* Bootstrap over seeds of mean(a) - (b ? mean(b) : 0). */
static void det_boot(const struct det *a, const struct det *b, size_t s, double *lo, double *hi)
{
    static double v[BOOT];
    cairn_rng rng;
    cairn_rng_init(&rng, 0xde7);
    size_t m = 0;
    for (size_t k = 0; k < BOOT; k++) {
        double ta = 0, tb = 0;
        unsigned ca = 0, cb = 0;
        for (size_t i = 0; i < s; i++) {
            size_t j = (size_t)cairn_rng_below(&rng, s);
            ta += a->sum[j];
            ca += a->cnt[j];
            if (b) {
                tb += b->sum[j];
                cb += b->cnt[j];
            }
        }
        if (ca == 0 || (b && cb == 0))
            continue;
        v[m++] = ta / ca - (b ? tb / cb : 0);
    }
    if (m == 0) {
        *lo = *hi = NAN;
        return;
    }
    qsort(v, m, sizeof(*v), cmp_double);
    *lo = pct(v, m, 0.025);
    *hi = pct(v, m, 0.975);
}

static struct det det_on[4], det_off[4];
static uint64_t fs_on[MAX_SEEDS], fs_off[MAX_SEEDS], fd_on[MAX_SEEDS], fd_off[MAX_SEEDS];
static uint64_t ep_on[MAX_SEEDS], ep_off[MAX_SEEDS], sd_on[MAX_SEEDS], sd_off[MAX_SEEDS];

static void usage(const char *flag, const char *why)
{
    if (flag)
        fprintf(stderr, "bench_lifeguard: %s %s\n", why, flag);
    fprintf(stderr, "usage: bench_lifeguard [--seeds S] [--first-seed F] [--n N] [--slow K] "
                    "[--seconds T] [--kills M] [--quiet]\n");
    exit(2);
}

static long flag_value(int argc, char **argv, int *i, long min, long max)
{
    if (*i + 1 >= argc)
        usage(argv[*i], "missing value for");
    char *end;
    long v = strtol(argv[*i + 1], &end, 10);
    if (*end != '\0' || end == argv[*i + 1] || v < min || v > max)
        usage(argv[*i], "bad value for");
    (*i)++;
    return v;
}

int main(int argc, char **argv)
{
    long seeds = 30, first = 1, n = 64, slow = 6, secs = 600, kills = 3;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0)
            seeds = flag_value(argc, argv, &i, 1, MAX_SEEDS);
        else if (strcmp(argv[i], "--first-seed") == 0)
            first = flag_value(argc, argv, &i, 0, 1L << 40);
        else if (strcmp(argv[i], "--n") == 0)
            n = flag_value(argc, argv, &i, 4, ML_STALLS_MAX_N);
        else if (strcmp(argv[i], "--slow") == 0)
            slow = flag_value(argc, argv, &i, 0, ML_STALLS_MAX_N);
        else if (strcmp(argv[i], "--seconds") == 0)
            secs = flag_value(argc, argv, &i, 1, 1000000);
        else if (strcmp(argv[i], "--kills") == 0)
            kills = flag_value(argc, argv, &i, 0, ML_STALLS_MAX_KILLS);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else
            usage(argv[i], "unknown flag");
    }
    if (slow + kills >= n) {
        fprintf(stderr, "bench_lifeguard: --slow + --kills must be below --n\n");
        return 2;
    }
    printf("# bench_lifeguard: %ld seeds (%ld..%ld), N=%ld, %ld starved (frozen 1-3 s, then "
           "0.5-4 ms of CPU, over and over) for %ld virtual s, %ld healthy members killed per "
           "seed; Lifeguard on vs off (awareness_max_multiplier 1, "
           "suspicion_max_timeout_mult 1), same schedule\n",
           seeds, first, first + seeds - 1, n, slow, secs, kills);
    fflush(stdout);
    double t0 = wall_now();
    uint64_t stalls = 0;
    for (long si = 0; si < seeds; si++) {
        uint64_t seed = (uint64_t)(first + si);
        ml_stalls_params p = {
            .n = (size_t)n, .slow = (size_t)slow, .kills = (size_t)kills, .seconds = (int)secs};
        ml_stalls_result on, off;
        p.lifeguard = true;
        int e1 = ml_stalls_run(seed, &p, &on);
        p.lifeguard = false;
        int e2 = e1 < 0 ? e1 : ml_stalls_run(seed, &p, &off);
        if (e1 < 0 || e2 < 0) {
            printf("{\"figure\":\"error\",\"seed\":%llu,\"code\":%d}\n", (unsigned long long)seed,
                   e1 < 0 ? e1 : e2);
            return 1;
        }
        if (on.stall_events != off.stall_events || on.dead_total != on.declared_dead ||
            off.dead_total != off.declared_dead) {
            printf("{\"figure\":\"error\",\"seed\":%llu,\"what\":\"schedule or log count "
                   "mismatch\"}\n",
                   (unsigned long long)seed);
            return 1;
        }
        stalls += on.stall_events;
        fs_on[si] = ml_stalls_false_suspect(&on);
        fs_off[si] = ml_stalls_false_suspect(&off);
        fd_on[si] = ml_stalls_false_dead(&on);
        fd_off[si] = ml_stalls_false_dead(&off);
        ep_on[si] = on.episodes_healthy;
        ep_off[si] = off.episodes_healthy;
        sd_on[si] = on.dead_slow;
        sd_off[si] = off.dead_slow;
        for (size_t k = 0; k < on.kills; k++) {
            det_add(&det_on[0], (size_t)si, on.kill[k].first_suspect);
            det_add(&det_on[1], (size_t)si, on.kill[k].first_dead);
            det_add(&det_on[2], (size_t)si, on.kill[k].all_healthy_dead);
            det_add(&det_on[3], (size_t)si, on.kill[k].all_dead);
            det_add(&det_off[0], (size_t)si, off.kill[k].first_suspect);
            det_add(&det_off[1], (size_t)si, off.kill[k].first_dead);
            det_add(&det_off[2], (size_t)si, off.kill[k].all_healthy_dead);
            det_add(&det_off[3], (size_t)si, off.kill[k].all_dead);
        }
        if (!quiet)
            fprintf(stderr,
                    "# seed %llu: %llu stalls; false suspicions off/on %llu/%llu, false dead "
                    "%llu/%llu (%.0f s wall so far)\n",
                    (unsigned long long)seed, (unsigned long long)on.stall_events,
                    (unsigned long long)fs_off[si], (unsigned long long)fs_on[si],
                    (unsigned long long)fd_off[si], (unsigned long long)fd_on[si], wall_now() - t0);
    }
    size_t s = (size_t)seeds;
    printf("# stall events: %llu in all (%.0f per seed, the same in both settings); healthy "
           "members: %ld per seed\n",
           (unsigned long long)stalls, (double)stalls / (double)s, n - slow - kills);
    printf("{\"figure\":\"lifeguard_stall_events\",\"seeds\":%zu,\"n\":%ld,\"slow\":%ld,"
           "\"seconds\":%ld,\"kills_per_seed\":%ld,\"stall_events\":%llu}\n",
           s, n, slow, secs, kills, (unsigned long long)stalls);
    report_ratio("lifeguard_false_suspicions", "false suspicions of healthy members", fs_off, fs_on,
                 s);
    report_ratio("lifeguard_false_dead", "false dead declarations of healthy members", fd_off,
                 fd_on, s);
    report_ratio("lifeguard_false_dead_episodes",
                 "false-dead episodes (healthy member seen dead by >= 1)", ep_off, ep_on, s);
    report_ratio("lifeguard_starved_declared_dead", "dead declarations of starved members (true)",
                 sd_off, sd_on, s);
    static const char *const names[4] = {"first_suspect", "first_dead", "all_healthy_dead",
                                         "all_dead"};
    for (int m = 0; m < 4 && kills > 0; m++) {
        double mon = det_mean(&det_on[m], s), moff = det_mean(&det_off[m], s);
        double lon, hon, loff, hoff, ld, hd;
        det_boot(&det_on[m], NULL, s, &lon, &hon);
        det_boot(&det_off[m], NULL, s, &loff, &hoff);
        det_boot(&det_on[m], &det_off[m], s, &ld, &hd);
        printf("# detection of killed members, %s: Lifeguard on %.2f s (95 %% CI %.2f-%.2f), "
               "off %.2f s (%.2f-%.2f); on - off %+.2f s (%.2f..%.2f); not seen: on %u, off %u "
               "of %zu\n",
               names[m], mon, lon, hon, moff, loff, hoff, mon - moff, ld, hd, det_on[m].missed,
               det_off[m].missed, s * (size_t)kills);
        printf("{\"figure\":\"lifeguard_detect_%s\",\"kills\":%zu,\"on_s\":%.3f,"
               "\"on_ci95\":[%.3f,%.3f],\"off_s\":%.3f,\"off_ci95\":[%.3f,%.3f],"
               "\"diff_s\":%.3f,\"diff_ci95\":[%.3f,%.3f],\"missed_on\":%u,\"missed_off\":%u}\n",
               names[m], s * (size_t)kills, mon, lon, hon, moff, loff, hoff, mon - moff, ld, hd,
               det_on[m].missed, det_off[m].missed);
    }
    printf("# wall %.1f s\n", wall_now() - t0);
    return 0;
}
