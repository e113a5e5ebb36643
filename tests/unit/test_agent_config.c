/* The serf agent configuration files (src/agent/config.h): every key
 * type, Serf's MergeConfig order (later files override scalars, tags merge
 * key by key, lists append), directories read in lexical order, unknown
 * keys, bad values and unsupported keys named with the file, the tags
 * file and the keyring file both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cairn/alloc.h"
#include "agent/config.h"

static int parse(cairn_agent_file_config *fc, const char *json, const char *src, char *why,
                 size_t wl)
{
    return cairn__agent_config_parse(fc, json, strlen(json), src, why, wl);
}

static const char *tag(const cairn_agent_file_config *fc, const char *key)
{
    for (size_t i = 0; i < fc->n_tags; i++)
        if (strcmp(fc->tags[i].key, key) == 0)
            return fc->tags[i].value;
    return NULL;
}

static void test_every_key_type(void **state)
{
    (void)state;
    cairn_agent_file_config fc;
    char why[512];
    cairn__agent_config_init(&fc);
    const char *doc =
        "{\"node_name\":\"n1\",\"role\":\"web\",\"disable_coordinates\":true,"
        "\"tags\":{\"dc\":\"x\"},\"tags_file\":\"/tmp/t.json\",\"bind\":\"127.0.0.1:7000\","
        "\"advertise\":\"10.0.0.1\",\"encrypt_key\":\"cg8StVXbQJ0gPvMd9o7yrg==\","
        "\"keyring_file\":\"/tmp/k.json\",\"log_level\":\"DEBUG\",\"rpc_addr\":\"127.0.0.1:7373\","
        "\"rpc_auth\":\"s3cret\",\"protocol\":4,\"replay_on_join\":true,"
        "\"query_response_size_limit\":2048,\"query_size_limit\":4096,"
        "\"user_event_size_limit\":1024,\"start_join\":[\"a:1\",\"b\"],"
        "\"event_handlers\":[\"user=echo\"],\"profile\":\"wan\",\"snapshot_path\":\"/tmp/s\","
        "\"leave_on_terminate\":false,\"skip_leave_on_interrupt\":true,"
        "\"reconnect_interval\":\"10s\",\"reconnect_timeout\":\"1h30m\","
        "\"tombstone_timeout\":\"2h\",\"disable_name_resolution\":true,"
        "\"retry_join\":[\"c:2\"],\"retry_max_attempts\":3,\"retry_interval\":\"5s\","
        "\"rejoin_after_leave\":true,\"enable_compression\":false,"
        "\"broadcast_timeout\":\"500ms\",\"enable_syslog\":false,\"discover\":\"\"}";
    assert_int_equal(parse(&fc, doc, "a.json", why, sizeof(why)), 0);
    assert_string_equal(fc.node_name, "n1");
    assert_string_equal(fc.role, "web");
    assert_true(fc.disable_coordinates);
    assert_string_equal(tag(&fc, "dc"), "x");
    assert_string_equal(fc.tags_file, "/tmp/t.json");
    assert_string_equal(fc.bind, "127.0.0.1:7000");
    assert_string_equal(fc.advertise, "10.0.0.1");
    assert_string_equal(fc.encrypt_key, "cg8StVXbQJ0gPvMd9o7yrg==");
    assert_string_equal(fc.keyring_file, "/tmp/k.json");
    assert_string_equal(fc.log_level, "DEBUG");
    assert_string_equal(fc.rpc_addr, "127.0.0.1:7373");
    assert_string_equal(fc.rpc_auth, "s3cret");
    assert_int_equal(fc.protocol, 4);
    assert_true(fc.replay_on_join);
    assert_int_equal(fc.query_response_size_limit, 2048);
    assert_int_equal(fc.query_size_limit, 4096);
    assert_int_equal(fc.user_event_size_limit, 1024);
    assert_int_equal(fc.n_start_join, 2);
    assert_string_equal(fc.start_join[1].value, "b");
    assert_string_equal(fc.start_join[1].source, "a.json");
    assert_int_equal(fc.n_event_handlers, 1);
    assert_string_equal(fc.profile, "wan");
    assert_string_equal(fc.snapshot_path, "/tmp/s");
    assert_int_equal(fc.leave_on_terminate, -1);
    assert_true(fc.skip_leave_on_interrupt);
    assert_int_equal(fc.reconnect_interval, 10 * CAIRN_SEC);
    assert_int_equal(fc.reconnect_timeout, 90 * CAIRN_MIN);
    assert_int_equal(fc.tombstone_timeout, 2 * CAIRN_HOUR);
    assert_true(fc.disable_name_resolution);
    assert_int_equal(fc.n_retry_join, 1);
    assert_int_equal(fc.retry_max, 3);
    assert_int_equal(fc.retry_interval, 5 * CAIRN_SEC);
    assert_true(fc.rejoin_after_leave);
    assert_true(fc.disable_compression);
    assert_int_equal(fc.broadcast_timeout, 500 * CAIRN_MSEC);
    assert_int_equal(fc.n_files, 1);
    cairn__agent_config_destroy(&fc);
}

static void test_merge_order(void **state)
{
    (void)state;
    cairn_agent_file_config fc;
    char why[512];
    cairn__agent_config_init(&fc);
    assert_int_equal(parse(&fc,
                           "{\"node_name\":\"a\",\"log_level\":\"info\",\"tags\":{\"x\":\"1\","
                           "\"y\":\"2\"},\"start_join\":[\"h1\"],\"retry_join\":[\"r1\"],"
                           "\"event_handlers\":[\"e1\"],\"protocol\":4,\"replay_on_join\":true}",
                           "1.json", why, sizeof(why)),
                     0);
    /* Serf: "" and 0 and false are "not set" and do not override. */
    assert_int_equal(parse(&fc,
                           "{\"node_name\":\"b\",\"log_level\":\"\",\"tags\":{\"y\":\"3\","
                           "\"z\":\"4\"},\"start_join\":[\"h2\"],\"retry_join\":[\"r2\"],"
                           "\"event_handlers\":[\"e2\"],\"protocol\":0,\"replay_on_join\":false}",
                           "2.json", why, sizeof(why)),
                     0);
    assert_string_equal(fc.node_name, "b");
    assert_string_equal(fc.log_level, "info");
    assert_int_equal(fc.protocol, 4);
    assert_true(fc.replay_on_join);
    assert_int_equal(fc.n_tags, 3);
    assert_string_equal(tag(&fc, "x"), "1");
    assert_string_equal(tag(&fc, "y"), "3");
    assert_string_equal(tag(&fc, "z"), "4");
    assert_int_equal(fc.n_start_join, 2);
    assert_string_equal(fc.start_join[0].value, "h1");
    assert_string_equal(fc.start_join[1].value, "h2");
    assert_string_equal(fc.start_join[1].source, "2.json");
    assert_string_equal(fc.retry_join[1].value, "r2");
    assert_string_equal(fc.event_handlers[0].value, "e1");
    assert_string_equal(fc.event_handlers[1].value, "e2");
    assert_int_equal(fc.n_files, 2);
    /* "" is "not set" for every string key, node_name included. */
    assert_int_equal(
        parse(&fc, "{\"node_name\":\"\",\"tags_file\":\"\"}", "3.json", why, sizeof(why)), 0);
    assert_string_equal(fc.node_name, "b");
    assert_null(fc.tags_file);
    cairn__agent_config_destroy(&fc);
}

static void expect_error(const char *doc, int rc, const char *needle)
{
    cairn_agent_file_config fc;
    char why[512] = "";
    cairn__agent_config_init(&fc);
    assert_int_equal(parse(&fc, doc, "bad.json", why, sizeof(why)), rc);
    if (!strstr(why, needle) || !strstr(why, "bad.json"))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", doc, why, needle);
    cairn__agent_config_destroy(&fc);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"nodename\":\"x\"}", CAIRN_EINVAL, "unknown key \"nodename\"");
    expect_error("{\"bind\":5}", CAIRN_EINVAL, "\"bind\" is an integer");
    expect_error("{\"bind\":\"127.0.0.1:99999\"}", CAIRN_EINVAL, "\"bind\"");
    expect_error("{\"retry_interval\":\"3x\"}", CAIRN_EINVAL, "\"retry_interval\": \"3x\"");
    expect_error("{\"reconnect_timeout\":30}", CAIRN_EINVAL, "\"reconnect_timeout\"");
    expect_error("{\"encrypt_key\":\"abc\"}", CAIRN_EINVAL, "\"encrypt_key\"");
    expect_error("{\"log_level\":\"loud\"}", CAIRN_EINVAL, "\"log_level\"");
    expect_error("{\"profile\":\"fast\"}", CAIRN_EINVAL, "\"profile\"");
    expect_error("{\"protocol\":2}", CAIRN_EINVAL, "\"protocol\"");
    expect_error("{\"protocol\":\"4\"}", CAIRN_EINVAL, "\"protocol\" is a string");
    expect_error("{\"replay_on_join\":\"yes\"}", CAIRN_EINVAL, "\"replay_on_join\"");
    expect_error("{\"tags\":{\"a\":1}}", CAIRN_EINVAL, "\"tags\": \"a\"");
    expect_error("{\"tags\":[\"a\"]}", CAIRN_EINVAL, "\"tags\" is an array");
    expect_error("{\"start_join\":\"h\"}", CAIRN_EINVAL, "\"start_join\" is a string");
    expect_error("{\"retry_join\":[1]}", CAIRN_EINVAL, "\"retry_join\": entry 1");
    expect_error("{\"event_handlers\":[\"\"]}", CAIRN_EINVAL,
                 "\"event_handlers\": entry 1 is empty");
    expect_error("{\"statsd_addr\":\"127.0.0.1:8125\"}", CAIRN_EINVAL,
                 "\"statsd_addr\" is not supported by cairn");
    expect_error("{\"enable_syslog\":true}", CAIRN_EINVAL,
                 "\"enable_syslog\" is not supported by cairn");
    expect_error("{\"interface\":\"eth0\"}", CAIRN_EINVAL, "\"interface\" is not supported");
    expect_error("[1]", CAIRN_EINVAL, "want a JSON object");
    expect_error("{\"node_name\":", CAIRN_EINVAL, "not JSON");
    /* Bounded lists. */
    char big[4096] = "{\"start_join\":[";
    for (int i = 0; i <= CAIRN_AGENT_CONFIG_JOINS_MAX; i++)
        strcat(big, i ? ",\"h\"" : "\"h\"");
    strcat(big, "]}");
    expect_error(big, CAIRN_ELIMIT, "\"start_join\": more than 64");
}

static void test_durations(void **state)
{
    (void)state;
    cairn_time t;
    assert_int_equal(cairn__agent_parse_duration("1h30m", &t), 0);
    assert_int_equal(t, 90 * CAIRN_MIN);
    assert_int_equal(cairn__agent_parse_duration("250ms", &t), 0);
    assert_int_equal(t, 250 * CAIRN_MSEC);
    assert_int_equal(cairn__agent_parse_duration("1.5s", &t), 0);
    assert_int_equal(t, 1500 * CAIRN_MSEC);
    assert_int_equal(cairn__agent_parse_duration("", &t), CAIRN_EINVAL);
    assert_int_equal(cairn__agent_parse_duration("5", &t), CAIRN_EINVAL);
    assert_int_equal(cairn__agent_parse_duration("-5s", &t), CAIRN_EINVAL);
    assert_int_equal(cairn__agent_parse_duration("0s", &t), CAIRN_EINVAL);
    assert_int_equal(cairn__agent_parse_duration("100000h", &t), CAIRN_EINVAL);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_dir_in_lexical_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn_cfg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof(p), "%s/b.json", dir);
    write_text(p, "{\"node_name\":\"from-b\",\"start_join\":[\"b\"]}");
    snprintf(p, sizeof(p), "%s/a.json", dir);
    write_text(p, "{\"node_name\":\"from-a\",\"start_join\":[\"a\"]}");
    snprintf(p, sizeof(p), "%s/c.txt", dir);
    write_text(p, "not json, not read");
    snprintf(p, sizeof(p), "%s/sub.json", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    cairn_agent_file_config fc;
    char why[512];
    cairn__agent_config_init(&fc);
    assert_int_equal(cairn__agent_config_read_path(&fc, dir, why, sizeof(why)), 0);
    assert_string_equal(fc.node_name, "from-b");
    assert_int_equal(fc.n_start_join, 2);
    assert_string_equal(fc.start_join[0].value, "a");
    assert_int_equal(fc.n_files, 2);
    /* A bad file in it names the file. */
    snprintf(p, sizeof(p), "%s/c.json", dir);
    write_text(p, "{\"bogus\":1}");
    assert_int_equal(cairn__agent_config_read_path(&fc, dir, why, sizeof(why)), CAIRN_EINVAL);
    assert_non_null(strstr(why, "c.json"));
    assert_non_null(strstr(why, "bogus"));
    cairn__agent_config_destroy(&fc);
    /* Missing and oversized files. */
    cairn__agent_config_init(&fc);
    snprintf(p, sizeof(p), "%s/none.json", dir);
    assert_int_equal(cairn__agent_config_read_path(&fc, p, why, sizeof(why)), CAIRN_ENOENT);
    snprintf(p, sizeof(p), "%s/huge.json", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < CAIRN_AGENT_CONFIG_FILE_MAX / 8 + 1; i++)
        fputs("        ", f);
    fclose(f);
    assert_int_equal(cairn__agent_config_read_path(&fc, p, why, sizeof(why)), CAIRN_ELIMIT);
    cairn__agent_config_destroy(&fc);
    /* The reader grows its buffer: files of 0, 1, 4095..4097 and 100000
     * bytes read whole, exactly max bytes is accepted and max + 1 is not. */
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 100000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        snprintf(p, sizeof(p), "%s/size.txt", dir);
        f = fopen(p, "w");
        assert_non_null(f);
        for (size_t i = 0; i < sizes[k]; i++)
            fputc('a' + (int)(i % 26), f);
        fclose(f);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(cairn__agent_read_file(p, 1 << 20, &text, &len, why, sizeof(why)), 0);
        assert_int_equal(len, sizes[k]);
        assert_int_equal(strlen(text), sizes[k]);
        if (len > 0)
            assert_int_equal(text[len - 1], 'a' + (int)((len - 1) % 26));
        cairn_free(text);
        assert_int_equal(cairn__agent_read_file(p, sizes[k], &text, &len, why, sizeof(why)), 0);
        assert_int_equal(len, sizes[k]);
        cairn_free(text);
        if (sizes[k] > 0)
            assert_int_equal(cairn__agent_read_file(p, sizes[k] - 1, &text, &len, why, sizeof(why)),
                             CAIRN_ELIMIT);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_tags_file(void **state)
{
    (void)state;
    cairn_tag tags[8], back[8];
    size_t n;
    char why[256];
    const char *text = "{\"role\":\"web\",\"dc\":\"eu\"}";
    assert_int_equal(cairn__agent_tags_parse(text, strlen(text), tags, 8, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 2);
    char *out = cairn__agent_tags_encode(tags, n);
    assert_non_null(out);
    size_t m;
    assert_int_equal(cairn__agent_tags_parse(out, strlen(out), back, 8, &m, why, sizeof(why)), 0);
    assert_int_equal(m, 2);
    for (size_t i = 0; i < m; i++) {
        size_t k = 0;
        while (k < n && strcmp(tags[k].key, back[i].key))
            k++;
        assert_true(k < n);
        assert_string_equal(tags[k].value, back[i].value);
    }
    cairn_free(out);
    cairn__agent_tags_free(tags, n);
    cairn__agent_tags_free(back, m);
    assert_int_equal(cairn__agent_tags_parse("[]", 2, tags, 8, &n, why, sizeof(why)), CAIRN_EINVAL);
    assert_int_equal(cairn__agent_tags_parse("{\"a\":2}", 7, tags, 8, &n, why, sizeof(why)),
                     CAIRN_EINVAL);
    assert_int_equal(
        cairn__agent_tags_parse("{\"a\":\"1\",\"b\":\"2\"}", 17, tags, 1, &n, why, sizeof(why)),
        CAIRN_ELIMIT);
}

static void test_keyring_file(void **state)
{
    (void)state;
    /* As Serf writes it: the primary first. */
    const char *text = "[\n  \"cg8StVXbQJ0gPvMd9o7yrg==\",\n  \"4ZkBP0hKhSgfJF0GIaGd5w==\"\n]";
    cairn_keyring *ring;
    char why[256];
    assert_int_equal(cairn__agent_keyring_parse(text, strlen(text), &ring, why, sizeof(why)), 0);
    assert_int_equal(cairn_keyring_count(ring), 2);
    char *out = cairn__agent_keyring_encode(ring);
    assert_non_null(out);
    assert_string_equal(out, text);
    /* use the second key: it comes first in the file. */
    const uint8_t *k;
    size_t len;
    assert_int_equal(cairn_keyring_key(ring, 1, &k, &len), 0);
    uint8_t second[32];
    memcpy(second, k, len);
    assert_int_equal(cairn_keyring_use(ring, second, len), 0);
    cairn_free(out);
    out = cairn__agent_keyring_encode(ring);
    assert_true(strncmp(out, "[\n  \"4ZkBP0hKhSgfJF0GIaGd5w==\"", 30) == 0);
    cairn_free(out);
    cairn_keyring_delete(ring);
    assert_int_equal(cairn__agent_keyring_parse("[]", 2, &ring, why, sizeof(why)), CAIRN_EINVAL);
    assert_non_null(strstr(why, "no keys"));
    assert_int_equal(cairn__agent_keyring_parse("[\"abc\"]", 7, &ring, why, sizeof(why)),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__agent_keyring_parse("{}", 2, &ring, why, sizeof(why)), CAIRN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_type),
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_dir_in_lexical_order),
        cmocka_unit_test(test_tags_file),
        cmocka_unit_test(test_keyring_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
