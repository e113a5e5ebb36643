/* Benchmark of serf-layer dissemination on the deterministic simulator
 * (cairn/sim.h): how long a user event and a query take to reach the
 * members of an N-node cluster, next to the figure of Serf's own
 * convergence model (spec/anchors.md, "serf convergence simulator"):
 *
 *   converged(r) = 1 / (1 + (N+1) e^(-c N r)),  c = fanout/N (1-loss) 0.5
 *
 * solved for 99.99 %: r = ln((N+1) 9999) / (fanout (1-loss) 0.5) rounds of
 * the 200 ms gossip interval (2.2 s at 1,000 and 0 % loss).
 *
 * Cluster: N serf nodes with Serf's library defaults over the LAN profile
 * (gossip 200 ms to 3 nodes, probe 1 s), no coalescing, compression off,
 * links of 1 ms latency. Three seeds join each other, then every other
 * node joins the three seeds, one every 2 ms (a rolling start); the run
 * waits until every node counts N members, then until the join storm's
 * gossip backlog has drained everywhere (serf_join_storm reports both
 * times), then 5 s more.
 *
 * For each datagram loss rate (0 %, 10 %, 50 %; set after convergence):
 *   - serf_event: a user event (coalesce off) from a random member;
 *     virtual seconds until 99.99 % of the members (ceil(0.9999 N), i.e.
 *     all of them below 10,000) and until every member delivered it,
 *     and deliveries beyond the first at any member (must be 0); waits up
 *     to 150 s, so at high loss push/pull repair shows in s_all;
 *   - serf_query: a query with RequestAck from a random member, answered
 *     by every member; seconds until 99.99 % and all received it, and until
 *     the origin holds acks and responses from 99.99 % / all.
 * One JSON object per figure on stdout; progress on stderr. Sizes are the
 * arguments (default 1000); a size stops with an "error" object when the
 * process's RSS passes BENCH_SERF_RSS_GB (default 14): every node holds
 * every member, so memory grows with N^2 (a 10,000-node rolling start is
 * beyond this machine, as for bench_memberlist_sim).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "cairn/serf.h"
#include "cairn/sim.h"

#define SEEDS    3
#define JOIN_GAP (2 * CAIRN_MSEC)
#define FANOUT   3
#define GOSSIP_S 0.2

struct node {
    struct world *w;
    cairn_loop *loop;
    cairn_serf *serf;
    cairn_addr addr;
    char name[24];
    cairn_time got_event, got_query;
    uint32_t events, queries;
};

struct world {
    cairn_sim *sim;
    size_t n;
    struct node *nodes;
    uint32_t round; /* which event/query name is current */
    /* Query origin's tallies. */
    size_t acks, responses;
    cairn_time t_acks, t_resp, t_acks_all, t_resp_all;
};

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_serf_sim: %s: %s\n", what, cairn_strerror(r));
    exit(1);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_gb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, res = 0;
    int got = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return got == 2 ? (double)res * (double)sysconf(_SC_PAGESIZE) / 1e9 : 0;
}

static bool over_cap(size_t n, const char *phase, size_t progress)
{
    const char *e = getenv("BENCH_SERF_RSS_GB");
    double cap = e != NULL && atof(e) > 0 ? atof(e) : 14.0, gb = rss_gb();
    if (gb <= cap)
        return false;
    printf("{\"name\":\"serf_event\",\"n\":%zu,\"error\":\"stopped: RSS %.1f GB over the %.1f GB "
           "cap (BENCH_SERF_RSS_GB) during %s at %zu\"}\n",
           n, gb, cap, phase, progress);
    fflush(stdout);
    return true;
}

static size_t target(size_t n)
{
    return (size_t)ceil(0.9999 * (double)n);
}

/* Serf's model: seconds to 99.99 % at this loss. */
static double model_s(size_t n, double loss)
{
    return log(((double)n + 1) * 9999.0) / (FANOUT * (1 - loss) * 0.5) * GOSSIP_S;
}

static void on_event(const cairn_event *ev, void *ud)
{
    struct node *nd = ud;
    struct world *w = nd->w;
    char want[32];
    if (ev->type == CAIRN_EVENT_USER) {
        snprintf(want, sizeof want, "ev%u", w->round);
        if (ev->name != NULL && strcmp(ev->name, want) == 0 && nd->events++ == 0)
            nd->got_event = cairn_loop_now(nd->loop);
    } else if (ev->type == CAIRN_EVENT_QUERY) {
        snprintf(want, sizeof want, "q%u", w->round);
        if (ev->name == NULL || strcmp(ev->name, want) != 0)
            return;
        if (nd->queries++ == 0)
            nd->got_query = cairn_loop_now(nd->loop);
        if (ev->respond)
            (void)ev->respond(ev->respond_ctx, ev->query_id, (const uint8_t *)"ok", 2);
    }
}

static void on_query(cairn_serf_query_handle *q, const cairn_serf_query_result *r, void *ud)
{
    (void)q;
    struct world *w = ud;
    cairn_time now = cairn_sim_now(w->sim);
    size_t want = target(w->n);
    if (r->kind == CAIRN_SERF_QUERY_ACK) {
        if (++w->acks == want)
            w->t_acks = now;
        if (w->acks == w->n)
            w->t_acks_all = now;
    } else if (r->kind == CAIRN_SERF_QUERY_RESPONSE) {
        if (++w->responses == want)
            w->t_resp = now;
        if (w->responses == w->n)
            w->t_resp_all = now;
    }
}

static void node_start(struct world *w, size_t i)
{
    struct node *nd = &w->nodes[i];
    nd->w = w;
    snprintf(nd->name, sizeof nd->name, "n%zu", i);
    char ip[32];
    snprintf(ip, sizeof ip, "10.%zu.%zu.%zu:7946", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    int r;
    if ((r = cairn_addr_parse(ip, 0, &nd->addr)) < 0 ||
        (r = cairn_sim_node_loop(w->sim, &nd->addr, &nd->loop)) < 0)
        die("node", r);
    cairn_serf_config c;
    cairn_serf_config_default(&c);
    c.memberlist.name = nd->name;
    c.memberlist.bind = nd->addr;
    c.memberlist.seed = 1000 + i;
    c.memberlist.enable_compression = false;
    c.event_cb = on_event;
    c.event_userdata = nd;
    if ((r = cairn_serf_new(nd->loop, &c, NULL, NULL, &nd->serf, NULL)) < 0)
        die("serf", r);
}

static bool converged(struct world *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (cairn_serf_num_members(w->nodes[i].serf) != w->n)
            return false;
    return true;
}

/* Messages queued for gossip across all nodes (memberlist's own, serf's
 * intents, events and queries). */
static size_t backlog(struct world *w)
{
    size_t q = 0;
    for (size_t i = 0; i < w->n; i++) {
        cairn_serf_stats st;
        cairn_ml_stats ms;
        cairn_serf_get_stats(w->nodes[i].serf, &st);
        cairn_memberlist_get_stats(cairn_serf_memberlist(w->nodes[i].serf), &ms);
        q += st.intent_queue + st.event_queue + st.query_queue + ms.broadcast_queue;
    }
    return q;
}

static double secs(cairn_time t)
{
    return (double)t / (double)CAIRN_SEC;
}

static void print_time(const char *key, cairn_time t, cairn_time t0, bool comma)
{
    if (t)
        printf("\"%s\":%.3f%s", key, secs(t - t0), comma ? "," : "");
    else
        printf("\"%s\":null%s", key, comma ? "," : "");
}

/* Time by which k nodes had the thing (times sorted), or 0. */
static int cmp_time(const void *a, const void *b)
{
    cairn_time x = *(const cairn_time *)a, y = *(const cairn_time *)b;
    return x < y ? -1 : x > y;
}

static cairn_time kth(struct world *w, bool query, size_t k, cairn_time *buf)
{
    size_t m = 0;
    for (size_t i = 0; i < w->n; i++) {
        cairn_time t = query ? w->nodes[i].got_query : w->nodes[i].got_event;
        if (t)
            buf[m++] = t;
    }
    if (m < k)
        return 0;
    qsort(buf, m, sizeof *buf, cmp_time);
    return buf[k - 1];
}

static void run_size(size_t n, uint64_t seed)
{
    struct world w = {.n = n};
    int r;
    if ((r = cairn_sim_new(seed, &w.sim)) < 0)
        die("sim", r);
    cairn_sim_link link = {.latency = CAIRN_MSEC};
    (void)cairn_sim_set_default_link(w.sim, &link);
    w.nodes = calloc(n, sizeof *w.nodes);
    cairn_time *buf = calloc(n, sizeof *buf);
    if (w.nodes == NULL || buf == NULL)
        die("calloc", CAIRN_ENOMEM);
    double t_start = wall();
    cairn_addr seeds[SEEDS];
    for (size_t i = 0; i < n; i++) {
        node_start(&w, i);
        if (i < SEEDS)
            seeds[i] = w.nodes[i].addr;
        if (i > 0)
            (void)cairn_serf_join(w.nodes[i].serf, seeds, i < SEEDS ? i : SEEDS, false, NULL, NULL);
        cairn_sim_run_for(w.sim, JOIN_GAP);
        if (i % 100 == 99 && over_cap(n, "the rolling start", i + 1))
            goto out;
    }
    cairn_time t_joined = cairn_sim_now(w.sim);
    while (!converged(&w)) {
        cairn_sim_run_for(w.sim, CAIRN_SEC);
        if (over_cap(n, "convergence", 0))
            goto out;
        if (cairn_sim_now(w.sim) - t_joined > 600 * CAIRN_SEC) {
            printf("{\"name\":\"serf_event\",\"n\":%zu,\"error\":\"no convergence in 600 s\"}\n",
                   n);
            goto out;
        }
    }
    cairn_time t_conv = cairn_sim_now(w.sim);
    fprintf(stderr,
            "bench_serf_sim: %zu nodes converged %.1f s after the last join (wall %.1f s)\n", n,
            secs(t_conv - t_joined), wall() - t_start);
    /* The join storm leaves every member with a backlog of alive messages
     * and join intents, sent before any user event (memberlist's own
     * broadcasts first, then serf's intents, queries, events, as in Go):
     * measure dissemination once it has drained. */
    while (backlog(&w) > 0 && cairn_sim_now(w.sim) - t_conv < 900 * CAIRN_SEC)
        cairn_sim_run_for(w.sim, CAIRN_SEC);
    printf("{\"name\":\"serf_join_storm\",\"n\":%zu,\"converged_s\":%.1f,"
           "\"backlog_drained_s\":%.1f,\"backlog_left\":%zu,\"wall_s\":%.1f}\n",
           n, secs(t_conv - t_joined), secs(cairn_sim_now(w.sim) - t_joined), backlog(&w),
           wall() - t_start);
    fflush(stdout);
    cairn_sim_run_for(w.sim, 5 * CAIRN_SEC);

    const double losses[] = {0, 0.10, 0.50};
    cairn_rng rng;
    cairn_rng_init(&rng, seed);
    for (size_t li = 0; li < sizeof losses / sizeof *losses; li++) {
        double loss = losses[li];
        link.loss = loss;
        (void)cairn_sim_set_default_link(w.sim, &link);
        w.round++;
        for (size_t i = 0; i < n; i++) {
            w.nodes[i].got_event = w.nodes[i].got_query = 0;
            w.nodes[i].events = w.nodes[i].queries = 0;
        }
        /* The user event. */
        size_t from = (size_t)cairn_rng_below(&rng, n);
        char name[32];
        snprintf(name, sizeof name, "ev%u", w.round);
        double t_wall = wall();
        cairn_time t0 = cairn_sim_now(w.sim);
        if ((r = cairn_serf_user_event(w.nodes[from].serf, name, (const uint8_t *)"x", 1, false,
                                       NULL)) < 0)
            die("user event", r);
        for (int s = 0; s < 1500 && kth(&w, false, n, buf) == 0; s++)
            cairn_sim_run_for(w.sim, 100 * CAIRN_MSEC);
        uint64_t dups = 0;
        size_t got = 0;
        for (size_t i = 0; i < n; i++) {
            dups += w.nodes[i].events > 1 ? w.nodes[i].events - 1 : 0;
            got += w.nodes[i].events > 0;
        }
        cairn_time t9 = kth(&w, false, target(n), buf), tall = kth(&w, false, n, buf);
        printf("{\"name\":\"serf_event\",\"n\":%zu,\"loss\":%.2f,", n, loss);
        print_time("s_99_99", t9, t0, true);
        print_time("s_all", tall, t0, true);
        printf("\"rounds_99_99\":%.1f,\"serf_model_s\":%.2f,\"ratio_to_model\":%.3f,"
               "\"delivered\":%zu,\"duplicates\":%llu,\"wall_s\":%.1f}\n",
               t9 ? secs(t9 - t0) / GOSSIP_S : 0.0, model_s(n, loss),
               t9 ? secs(t9 - t0) / model_s(n, loss) : 0.0, got, (unsigned long long)dups,
               wall() - t_wall);
        fflush(stdout);

        /* The query. */
        from = (size_t)cairn_rng_below(&rng, n);
        snprintf(name, sizeof name, "q%u", w.round);
        w.acks = w.responses = 0;
        w.t_acks = w.t_resp = w.t_acks_all = w.t_resp_all = 0;
        t_wall = wall();
        t0 = cairn_sim_now(w.sim);
        cairn_serf_query_params q = {.name = name, .request_ack = true};
        cairn_time timeout = cairn_serf_default_query_timeout(w.nodes[from].serf);
        if ((r = cairn_serf_query(w.nodes[from].serf, &q, on_query, &w, NULL)) < 0)
            die("query", r);
        cairn_sim_run_for(w.sim, timeout + CAIRN_SEC);
        dups = 0;
        got = 0;
        for (size_t i = 0; i < n; i++) {
            dups += w.nodes[i].queries > 1 ? w.nodes[i].queries - 1 : 0;
            got += w.nodes[i].queries > 0;
        }
        t9 = kth(&w, true, target(n), buf);
        tall = kth(&w, true, n, buf);
        printf("{\"name\":\"serf_query\",\"n\":%zu,\"loss\":%.2f,", n, loss);
        print_time("s_99_99", t9, t0, true);
        print_time("s_all", tall, t0, true);
        print_time("acks_s_99_99", w.t_acks, t0, true);
        print_time("responses_s_99_99", w.t_resp, t0, true);
        print_time("responses_s_all", w.t_resp_all, t0, true);
        printf("\"received\":%zu,\"acks\":%zu,\"responses\":%zu,\"timeout_s\":%.1f,\"serf_model_"
               "s\":%.2f,"
               "\"duplicates\":%llu,\"wall_s\":%.1f}\n",
               got, w.acks, w.responses, secs(timeout), model_s(n, loss), (unsigned long long)dups,
               wall() - t_wall);
        fflush(stdout);
    }
out:
    for (size_t i = 0; i < n; i++) {
        cairn_serf_delete(w.nodes[i].serf);
        cairn_loop_delete(w.nodes[i].loop);
    }
    cairn_sim_delete(w.sim);
    free(w.nodes);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        run_size(1000, 1);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        char *end;
        unsigned long n = strtoul(argv[i], &end, 10);
        if (*end || n < SEEDS + 1 || n > 100000) {
            fprintf(stderr, "usage: bench_serf_sim [N...]   (N from 4 to 100000)\n");
            return 2;
        }
        run_size(n, 1);
    }
    return 0;
}
