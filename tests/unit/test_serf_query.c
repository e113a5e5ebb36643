/* Units of serf's query layer:
 *   - filters: node lists, tag regexps with Go's unanchored semantics,
 *     absent tags, broken, RE2-syntax and hostile expressions, unknown and malformed
 *     filters, the spec's hex examples;
 *   - the default timeout formula and the size limits;
 *   - the 512-slot ring: a repeated (LTime, ID) is dropped, the same LTime
 *     with another ID is not, LTimes older than the ring are dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cairn/cairn.h"
#include "serf/serf_internal.h"
#include "serf_world.h"

static const cairn_tag TAGS[] = {{"role", "web"}, {"dc", "east-1"}};

/* Encodes p's filters and matches them for node self with TAGS. */
static bool match(const char *self, const cairn_serf_query_params *p)
{
    cairn_buf b;
    cairn_buf_init(&b, 65536);
    size_t lens[16];
    cairn_span sp[16];
    assert_int_equal(cairn__serf_filters_encode(p, &b, lens, 16), 0);
    size_t n = p->n_filter_tags + (p->n_filter_nodes > 0), off = 0;
    for (size_t i = 0; i < n; i++) {
        sp[i] = (cairn_span){b.data + off, lens[i]};
        off += lens[i];
    }
    bool ok = cairn__serf_filters_match(self, TAGS, 2, sp, n);
    cairn_buf_destroy(&b);
    return ok;
}

static bool tag_match(const char *tag, const char *expr)
{
    cairn_tag t = {tag, expr};
    cairn_serf_query_params p = {.name = "q", .filter_tags = &t, .n_filter_tags = 1};
    return match("me", &p);
}

static void test_node_filter(void **state)
{
    (void)state;
    const char *names[] = {"a", "me", "b"};
    cairn_serf_query_params p = {.name = "q", .filter_nodes = names, .n_filter_nodes = 3};
    assert_true(match("me", &p));
    assert_false(match("m", &p));
    assert_false(match("mee", &p));
    p.n_filter_nodes = 1;
    assert_false(match("me", &p));
    /* No filters: everyone. */
    cairn_serf_query_params none = {.name = "q"};
    assert_true(match("anyone", &none));
    /* An empty name cannot be encoded. */
    const char *bad[] = {""};
    cairn_serf_query_params pb = {.name = "q", .filter_nodes = bad, .n_filter_nodes = 1};
    cairn_buf b;
    cairn_buf_init(&b, 1024);
    size_t lens[2];
    assert_int_equal(cairn__serf_filters_encode(&pb, &b, lens, 2), CAIRN_EINVAL);
    cairn_buf_destroy(&b);
}

static void test_tag_filter_unanchored(void **state)
{
    (void)state;
    assert_true(tag_match("role", "web"));
    assert_true(tag_match("role", "eb")); /* unanchored, as Go's MatchString */
    assert_true(tag_match("role", "^w"));
    assert_true(tag_match("role", "b$"));
    assert_false(tag_match("role", "^eb"));
    assert_true(tag_match("role", "^(web|db)$"));
    assert_false(tag_match("role", "^(api|db)$"));
    assert_true(tag_match("dc", "east-[0-9]+"));
    assert_true(tag_match("role", ""));
    /* An absent tag is the empty string. */
    assert_true(tag_match("zone", "^$"));
    assert_false(tag_match("zone", "x"));
    /* Broken expressions fail the filter (Go: compile error -> false). */
    assert_false(tag_match("role", "("));
    assert_false(tag_match("role", "[a"));
    /* RE2 syntax works as in Go: \d, (?i). */
    assert_true(tag_match("dc", "^east-\\d$"));
    assert_true(tag_match("role", "(?i)^WEB$"));
    /* A hostile expression (2^36 nodes for glibc's regcomp) fails or
     * matches within regex.h's bounds, and the node goes on. */
    assert_false(tag_match("role", "web++++++++++++++++++++++++++++++++++++x"));
    /* Two filters: both must pass. */
    cairn_tag two[] = {{"role", "web"}, {"dc", "^west"}};
    cairn_serf_query_params p = {.name = "q", .filter_tags = two, .n_filter_tags = 2};
    assert_false(match("me", &p));
    two[1].value = "^east";
    assert_true(match("me", &p));
}

static void test_filter_wire(void **state)
{
    (void)state;
    /* serf-wire.md §3.2 examples: node filter [a, b], tag filter role=web. */
    static const uint8_t node[] = {0x00, 0x92, 0xa1, 'a', 0xa1, 'b'};
    static const uint8_t tag[] = {0x01, 0x82, 0xa4, 'E', 'x', 'p',  'r', 0xa3, 'w', 'e',
                                  'b',  0xa3, 'T',  'a', 'g', 0xa4, 'r', 'o',  'l', 'e'};
    cairn_span f[2] = {{node, sizeof(node)}, {tag, sizeof(tag)}};
    assert_true(cairn__serf_filters_match("a", TAGS, 2, f, 2));
    assert_false(cairn__serf_filters_match("c", TAGS, 2, f, 2));
    const char *names[] = {"a", "b"};
    cairn_tag t = {"role", "web"};
    cairn_serf_query_params p = {.name = "q",
                                 .filter_nodes = names,
                                 .n_filter_nodes = 2,
                                 .filter_tags = &t,
                                 .n_filter_tags = 1};
    cairn_buf b;
    cairn_buf_init(&b, 1024);
    size_t lens[2];
    assert_int_equal(cairn__serf_filters_encode(&p, &b, lens, 2), 0);
    assert_int_equal(lens[0], sizeof(node));
    assert_memory_equal(b.data, node, sizeof(node));
    assert_int_equal(lens[1], sizeof(tag));
    assert_memory_equal(b.data + lens[0], tag, sizeof(tag));
    cairn_buf_destroy(&b);
    /* Unknown type, malformed, empty: fail. */
    static const uint8_t unknown[] = {0x07, 0x90};
    static const uint8_t broken[] = {0x00, 0x92, 0xa1};
    cairn_span u[] = {{unknown, sizeof(unknown)}};
    cairn_span m[] = {{broken, sizeof(broken)}};
    cairn_span e[] = {{broken, 0}};
    assert_false(cairn__serf_filters_match("a", TAGS, 2, u, 1));
    assert_false(cairn__serf_filters_match("a", TAGS, 2, m, 1));
    assert_false(cairn__serf_filters_match("a", TAGS, 2, e, 1));
}

/* ---- on a small simulated world ---- */

static serf_world W;

static void two_nodes(size_t n)
{
    assert_int_equal(serf_world_init(&W, 77, n), 0);
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
}

static void test_default_timeout_and_limits(void **state)
{
    (void)state;
    two_nodes(4);
    /* 200 ms x 16 x ceil(log10(4 + 1)) = 3.2 s (Serf's observed value). */
    assert_int_equal(cairn_serf_default_query_timeout(W.nodes[0].serf), 3200 * CAIRN_MSEC);
    cairn_serf *s = W.nodes[0].serf;
    static uint8_t payload[1024];
    cairn_serf_query_params p = {.name = "q", .payload = payload, .payload_len = 900};
    assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), 0);
    p.payload_len = 1000; /* + header > QuerySizeLimit 1024 */
    assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), CAIRN_ELIMIT);
    p.payload_len = 0;
    p.name = NULL;
    assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), CAIRN_EINVAL);
    p.name = "q";
    p.timeout = -1;
    assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), CAIRN_EINVAL);
    serf_world_destroy(&W);
}

/* Sends a hand-made query from node 0 to node 1 by UDP. */
static void send_query(uint64_t ltime, uint32_t id)
{
    cairn_wire_serf_query q = {.addr = {W.nodes[0].addr.ip, 4},
                               .id = id,
                               .ltime = ltime,
                               .name = CAIRN_SPAN_LIT("x"),
                               .port = 7946,
                               .source_node = CAIRN_SPAN_LIT("n0"),
                               .timeout = CAIRN_SEC};
    cairn_buf b;
    cairn_buf_init(&b, 4096);
    assert_int_equal(cairn__wire_serf_query_encode(&q, &b, NULL), 0);
    assert_int_equal(cairn_memberlist_send_to_address(cairn_serf_memberlist(W.nodes[0].serf),
                                                      &W.nodes[1].addr, b.data, b.len),
                     0);
    cairn_buf_destroy(&b);
    cairn_sim_run_for(W.sim, 100 * CAIRN_MSEC);
}

static void test_ring_dedup(void **state)
{
    (void)state;
    two_nodes(2);
    cairn_serf_stats st;
    send_query(1000, 7);
    send_query(1000, 7);
    send_query(1000, 8);
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_int_equal(st.queries_received, 2);
    assert_int_equal(st.queries_duplicate, 1);
    assert_true(st.query_time > 1000);
    /* Older than the clock minus the 512-slot ring. */
    send_query(1000 - 600, 9);
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_int_equal(st.queries_too_old, 1);
    assert_int_equal(st.queries_received, 2);
    /* A slot reused by a newer LTime forgets the old IDs. */
    send_query(1000 + 512, 7);
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_int_equal(st.queries_received, 3);
    serf_world_destroy(&W);
}

/* Past the caps: at most max_queries of our own queries run at once (the
 * next is CAIRN_ELIMIT until one ends), and at most max_pending_responses
 * received queries are answerable (the next is still delivered, counted in
 * pending_overflow; the table frees itself at the deadlines). */
static void test_query_caps(void **state)
{
    (void)state;
    assert_int_equal(serf_world_init(&W, 78, 2), 0);
    W.cfg.max_queries = 3;
    W.cfg.max_pending_responses = 2;
    assert_int_equal(serf_world_start_all(&W), 0);
    assert_int_equal(serf_world_join_all(&W), 0);
    cairn_sim_run_for(W.sim, 5 * CAIRN_SEC);
    cairn_serf *s = W.nodes[0].serf;
    cairn_serf_query_params p = {.name = "q", .timeout = 2 * CAIRN_SEC};
    for (int i = 0; i < 3; i++)
        assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), CAIRN_ELIMIT);
    cairn_sim_run_for(W.sim, 2100 * CAIRN_MSEC);
    assert_int_equal(cairn_serf_query(s, &p, NULL, NULL, NULL), 0);
    cairn_sim_run_for(W.sim, 2100 * CAIRN_MSEC);
    /* Node 1: hand-made queries, 1 s deadline each. */
    cairn_serf_stats st0, st;
    cairn_serf_get_stats(W.nodes[1].serf, &st0);
    for (uint32_t i = 0; i < 10; i++)
        send_query(5000 + i, 100 + i);
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_int_equal(st.queries_received - st0.queries_received, 10);
    assert_true(st.pending_overflow - st0.pending_overflow >= 7);
    /* Deadlines passed: answerable again. */
    cairn_sim_run_for(W.sim, 1100 * CAIRN_MSEC);
    cairn_serf_get_stats(W.nodes[1].serf, &st0);
    send_query(6000, 200);
    cairn_serf_get_stats(W.nodes[1].serf, &st);
    assert_int_equal(st.queries_received - st0.queries_received, 1);
    assert_int_equal(st.pending_overflow, st0.pending_overflow);
    serf_world_destroy(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_filter), cmocka_unit_test(test_tag_filter_unanchored),
        cmocka_unit_test(test_filter_wire), cmocka_unit_test(test_default_timeout_and_limits),
        cmocka_unit_test(test_ring_dedup),  cmocka_unit_test(test_query_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
