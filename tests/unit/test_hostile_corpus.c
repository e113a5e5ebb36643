/* Replays the fuzz corpora (including the hostile inputs of issue 8: LZW
 * bombs, compounds of bombs, nested compression, maximum sizes, truncated
 * streams, huge declared lengths) against a running memberlist node on the
 * simulator while a good peer keeps probing it, and checks the node stays
 * healthy: both still see each other alive, every bad input was counted,
 * the bytes held by its streams stayed under the cap, every stream was
 * closed by its deadline, and the log stayed short.
 *
 * Corpora replayed (files of fuzz/corpus/<target>/, in each target's
 * format): packet ([mode][datagram]: the datagram is sent), memberlist
 * ([advance u8][len u16 BE][bytes] records: each record is a datagram),
 * memberlist_stream ([ctrl][bytes], ctrl bit 0 clear: the bytes are sent on
 * a stream to the node, which is then left open). The packets are sent
 * again every 500 ms for ten seconds, so the probe loop runs under the
 * flood.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/memberlist.h"
#include "cairn/sim.h"
#include "memberlist/ml_internal.h"

#define MAX_FILES 256

struct file {
    uint8_t *data;
    size_t len;
};

struct corpus {
    struct file f[MAX_FILES];
    size_t n;
};

static void load_dir(struct corpus *c, const char *target)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", CAIRN_SOURCE_DIR, target);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && c->n < MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        long len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        struct file *f = &c->f[c->n++];
        f->len = (size_t)len;
        f->data = malloc(f->len + 1);
        assert_int_equal(fread(f->data, 1, f->len, fp), f->len);
        fclose(fp);
    }
    closedir(d);
}

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->f[i].data);
}

struct node {
    cairn_loop *loop;
    cairn_memberlist *ml;
    cairn_addr addr;
    int log_lines;
};

static void count_log(int level, const char *module, const char *msg, void *ud)
{
    (void)level;
    ((struct node *)ud)->log_lines++;
    if (getenv("HOSTILE_LOG"))
        fprintf(stderr, "LOG %s: %s\n", module, msg);
}

static void node_new(cairn_sim *sim, struct node *n, const char *name, uint8_t last)
{
    const uint8_t ip[4] = {10, 0, 0, last};
    assert_int_equal(cairn_addr_from_ip(ip, 4, 7946, &n->addr), 0);
    assert_int_equal(cairn_sim_node_loop(sim, &n->addr, &n->loop), 0);
    cairn_memberlist_config c;
    cairn_memberlist_config_lan(&c);
    c.name = name;
    c.bind = n->addr;
    c.seed = last;
    cairn_logger lg = {.cb = count_log, .userdata = n, .level = CAIRN_LOG_WARN};
    assert_int_equal(cairn_memberlist_new(n->loop, &c, NULL, &lg, NULL, &n->ml), 0);
}

static bool sees_alive(const struct node *n, const char *name)
{
    cairn_ml_node v;
    return cairn_memberlist_get_node(n->ml, name, &v) == 0 && v.state == CAIRN_ML_ALIVE;
}

/* Streams the attacker opened, left open after writing. */
struct conns {
    cairn_stream *s[MAX_FILES];
    const struct file *f[MAX_FILES];
    size_t n;
    size_t ended;
};

static void att_read(cairn_stream *s, const uint8_t *d, size_t n, int status, void *ud)
{
    struct conns *cs = ud;
    (void)d, (void)n;
    if (status < 0) {
        for (size_t i = 0; i < cs->n; i++)
            if (cs->s[i] == s)
                cs->s[i] = NULL;
        cs->ended++;
        cairn_stream_close(s);
    }
}

static void att_connected(cairn_stream *s, int status, void *ud)
{
    struct conns *cs = ud;
    size_t i = 0;
    while (i < cs->n && cs->s[i] != s)
        i++;
    assert_true(i < cs->n);
    if (status < 0) {
        cs->s[i] = NULL;
        cs->ended++;
        return;
    }
    cairn_stream_set_timeout(s, 0); /* the node must be the one to close */
    const struct file *f = cs->f[i];
    assert_int_equal(cairn_stream_write(s, f->data + 1, f->len - 1), 0);
    assert_int_equal(cairn_stream_start_read(s, att_read, cs), 0);
}

static void drop_udp(cairn_udp *u, const cairn_addr *from, const uint8_t *d, size_t n, void *ud)
{
    (void)u, (void)from, (void)d, (void)n, (void)ud;
}

static size_t send_packets(cairn_udp *u, const cairn_addr *to, const struct corpus *pk,
                           const struct corpus *ml)
{
    size_t sent = 0;
    for (size_t i = 0; i < pk->n; i++)
        if (pk->f[i].len > 1 && cairn_udp_send(u, to, pk->f[i].data + 1, pk->f[i].len - 1) == 0)
            sent++;
    for (size_t i = 0; i < ml->n; i++) {
        const uint8_t *p = ml->f[i].data;
        size_t left = ml->f[i].len;
        while (left >= 3) {
            size_t len = (size_t)p[1] << 8 | p[2];
            if (len > left - 3)
                break;
            if (len > 0 && cairn_udp_send(u, to, p + 3, len) == 0)
                sent++;
            p += 3 + len;
            left -= 3 + len;
        }
    }
    return sent;
}

static void test_replay_corpus(void **state)
{
    (void)state;
    static struct corpus pk, mlc, st;
    load_dir(&pk, "packet");
    load_dir(&mlc, "memberlist");
    load_dir(&st, "memberlist_stream");
    assert_true(pk.n >= 8 && st.n >= 12);

    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(88, &sim), 0);
    struct node a = {0}, b = {0};
    node_new(sim, &a, "a", 1);
    node_new(sim, &b, "b", 2);
    assert_int_equal(cairn_memberlist_join(b.ml, &a.addr, 1, NULL, NULL), 0);
    cairn_sim_run_for(sim, 5 * CAIRN_SEC);
    assert_true(sees_alive(&a, "b") && sees_alive(&b, "a"));
    cairn_ml_stats a0, b0;
    cairn_memberlist_get_stats(a.ml, &a0);
    cairn_memberlist_get_stats(b.ml, &b0);
    int lines0 = a.log_lines;

    cairn_loop *x;
    const uint8_t xip[4] = {10, 0, 0, 66};
    cairn_addr xa;
    assert_int_equal(cairn_addr_from_ip(xip, 4, 4000, &xa), 0);
    assert_int_equal(cairn_sim_node_loop(sim, &xa, &x), 0);
    cairn_udp *u;
    assert_int_equal(cairn_udp_bind(x, &xa, drop_udp, NULL, &u), 0);

    /* Every stream input once, left open; every packet every 500 ms. */
    static struct conns cs;
    for (size_t i = 0; i < st.n; i++) {
        if (st.f[i].len < 2 || (st.f[i].data[0] & 1))
            continue;
        cs.f[cs.n] = &st.f[i];
        size_t k = cs.n++;
        assert_int_equal(
            cairn_stream_dial(x, &a.addr, 60 * CAIRN_SEC, att_connected, &cs, &cs.s[k]), 0);
    }
    size_t sent = 0;
    for (int round = 0; round < 20; round++) {
        sent += send_packets(u, &a.addr, &pk, &mlc);
        cairn_sim_run_for(sim, 500 * CAIRN_MSEC);
        assert_true(sees_alive(&b, "a"));
    }
    cairn_sim_run_for(sim, 5 * CAIRN_SEC);

    cairn_ml_stats as, bs;
    cairn_memberlist_get_stats(a.ml, &as);
    cairn_memberlist_get_stats(b.ml, &bs);
    /* Healthy: both alive to each other, b sees a alive at every
     * 500 ms step of the flood (above) and after it. */
    assert_true(sees_alive(&a, "b") && sees_alive(&b, "a"));
    /* (b's failed probes are of members the corpus made up.) */
    assert_true(bs.probes > b0.probes + 5);
    /* The corpus accuses "a" (the fuzz targets' node name) of being
     * suspect or dead: a refutes, and b believes it. */
    assert_true(as.refutes > a0.refutes);
    /* Every datagram reached a and the bad ones were counted. */
    assert_int_equal(as.rx_packets - a0.rx_packets >= sent, true);
    assert_true(as.rx_dropped - a0.rx_dropped >= 20 * 8);
    /* Streams: bounded memory, all closed by the node (error or deadline). */
    assert_true(as.stream_mem_peak <= CAIRN_ML_STREAM_MEM_MAX);
    assert_int_equal(cs.ended, cs.n);
    assert_int_equal(as.stream_mem, 0);
    assert_int_equal(a.ml->inbound_streams, 0);
    /* The log: a few lines per second, not one per bad input. */
    int lines = a.log_lines - lines0;
    print_message("replayed %zu datagrams and %zu streams: %llu dropped, %d log lines, "
                  "%llu suppressed, stream peak %llu bytes\n",
                  sent, cs.n, (unsigned long long)(as.rx_dropped - a0.rx_dropped), lines,
                  (unsigned long long)as.log_suppressed, (unsigned long long)as.stream_mem_peak);
    assert_true(lines < 40);
    assert_true(as.log_suppressed > 0);

    cairn_udp_close(u);
    cairn_memberlist_delete(a.ml);
    cairn_memberlist_delete(b.ml);
    cairn_loop_delete(a.loop);
    cairn_loop_delete(b.loop);
    cairn_loop_delete(x);
    cairn_sim_delete(sim);
    corpus_free(&pk);
    corpus_free(&mlc);
    corpus_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
