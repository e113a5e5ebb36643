/* Files through the loop (cairn_file_*): the same script on the libuv
 * backend (a temporary directory) and the simulator (its in-memory
 * filesystem: append, sync, read lines with caps, torn and overlong lines,
 * compaction by write + rename, remove), the simulator's hooks (crash drops
 * unsynced bytes, failing syncs, files outliving their node), and the
 * manual loop refusing every call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "cairn/loop_uv.h"
#include "cairn/sim.h"
#include "uv_env.h"

struct lines {
    size_t n;
    char text[16][64];
    int status[16];
    size_t lineno[16];
};

static void on_line(const char *line, size_t len, size_t lineno, int status, void *userdata)
{
    struct lines *l = userdata;
    assert_int_equal(strlen(line), len);
    assert_true(l->n < 16);
    snprintf(l->text[l->n], sizeof(l->text[0]), "%s", line);
    l->status[l->n] = status;
    l->lineno[l->n] = lineno;
    l->n++;
}

/* The shared script; dir is a prefix for paths. */
static void script(cairn_loop *loop, const char *dir)
{
    char path[256], tmp[256];
    snprintf(path, sizeof(path), "%s/snap", dir);
    snprintf(tmp, sizeof(tmp), "%s/snap.compact", dir);
    struct lines l = {0};
    assert_int_equal(cairn_file_read_lines(loop, path, 32, 1024, on_line, &l), CAIRN_ENOENT);

    cairn_file *f;
    assert_int_equal(cairn_file_open(loop, path, false, &f), 0);
    assert_int_equal(cairn_file_size(f), 0);
    assert_int_equal(cairn_file_write(f, "alive: a 1.2.3.4:5\n", 19), 0);
    assert_int_equal(cairn_file_write(f, "clock: 7\n", 9), 0);
    assert_int_equal(cairn_file_sync(f), 0);
    assert_int_equal(cairn_file_write(f, "0123456789abcdef0123456789abcdef0123456789\n", 43), 0);
    assert_int_equal(cairn_file_write(f, "torn", 4), 0);
    assert_int_equal(cairn_file_size(f), 19 + 9 + 43 + 4);
    cairn_file_close(f);

    /* Reopening appends after what is there. */
    assert_int_equal(cairn_file_open(loop, path, false, &f), 0);
    assert_int_equal(cairn_file_size(f), 75);
    cairn_file_close(f);

    assert_int_equal(cairn_file_read_lines(loop, path, 32, 1024, on_line, &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.text[0], "alive: a 1.2.3.4:5");
    assert_int_equal(l.status[0], 0);
    assert_string_equal(l.text[1], "clock: 7");
    assert_int_equal(l.status[2], CAIRN_ELIMIT);
    assert_int_equal(strlen(l.text[2]), 32);
    assert_string_equal(l.text[3], "torn");
    assert_int_equal(l.status[3], CAIRN_EOF);
    assert_int_equal(l.lineno[3], 4);

    /* The size cap: nothing delivered. */
    memset(&l, 0, sizeof(l));
    assert_int_equal(cairn_file_read_lines(loop, path, 32, 74, on_line, &l), CAIRN_ELIMIT);
    assert_int_equal(l.n, 0);

    /* Compaction: write the new file, sync, rename over the old one. */
    assert_int_equal(cairn_file_open(loop, tmp, true, &f), 0);
    assert_int_equal(cairn_file_write(f, "clock: 9\n", 9), 0);
    assert_int_equal(cairn_file_sync(f), 0);
    cairn_file_close(f);
    assert_int_equal(cairn_file_rename(loop, tmp, path), 0);
    assert_int_equal(cairn_file_rename(loop, tmp, path), CAIRN_ENOENT);
    assert_int_equal(cairn_file_read_lines(loop, path, 32, 1024, on_line, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.text[0], "clock: 9");

    /* Truncating open. */
    assert_int_equal(cairn_file_open(loop, path, true, &f), 0);
    assert_int_equal(cairn_file_size(f), 0);
    cairn_file_close(f);

    assert_int_equal(cairn_file_remove(loop, path), 0);
    assert_int_equal(cairn_file_remove(loop, path), CAIRN_ENOENT);
    assert_int_equal(cairn_file_open(loop, "", false, &f), CAIRN_EINVAL);
    assert_int_equal(cairn_file_read_lines(loop, path, 0, 10, on_line, &l), CAIRN_EINVAL);
}

static void test_uv_files(void **state)
{
    struct uv_env *e = *state;
    char dir[] = "/tmp/cairn-file-XXXXXX";
    assert_non_null(mkdtemp(dir));
    script(e->loop, dir);
    cairn_file *f;
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/no/such/dir", dir);
    assert_int_equal(cairn_file_open(e->loop, bad, false, &f), CAIRN_ENOENT);
    assert_int_equal(rmdir(dir), 0);
}

static void test_sim_files(void **state)
{
    (void)state;
    cairn_sim *sim;
    assert_int_equal(cairn_sim_new(1, &sim), 0);
    cairn_addr a;
    assert_int_equal(cairn_addr_parse_ip("10.0.0.1", 0, &a), 0);
    cairn_loop *loop;
    assert_int_equal(cairn_sim_node_loop(sim, &a, &loop), 0);
    script(loop, "/sim");

    /* Crash: unsynced bytes go, except the kept (torn) ones. */
    cairn_file *f;
    assert_int_equal(cairn_file_open(loop, "/s", false, &f), 0);
    assert_int_equal(cairn_file_write(f, "one\n", 4), 0);
    assert_int_equal(cairn_file_sync(f), 0);
    assert_int_equal(cairn_file_write(f, "two\nthree\n", 10), 0);
    cairn_sim_file_fail_sync(sim, 1);
    assert_int_equal(cairn_file_sync(f), CAIRN_EIO);
    cairn_file_close(f);
    assert_int_equal(cairn_sim_file_crash(sim, "/s", 6), 0);
    const uint8_t *data;
    size_t len;
    assert_int_equal(cairn_sim_file_get(sim, "/s", &data, &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "one\ntwo\nth", 10);

    /* Files outlive the node; a handle outlives a rename over its file. */
    assert_int_equal(cairn_file_open(loop, "/s", false, &f), 0);
    assert_int_equal(cairn_sim_file_set(sim, "/t", "x\n", 2), 0);
    assert_int_equal(cairn_file_rename(loop, "/t", "/s"), 0);
    assert_int_equal(cairn_file_write(f, "y", 1), 0);
    cairn_file_close(f);
    cairn_loop_delete(loop);
    cairn_addr b;
    assert_int_equal(cairn_addr_parse_ip("10.0.0.2", 0, &b), 0);
    assert_int_equal(cairn_sim_node_loop(sim, &b, &loop), 0);
    struct lines l = {0};
    assert_int_equal(cairn_file_read_lines(loop, "/s", 32, 100, on_line, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.text[0], "x");
    cairn_loop_delete(loop);
    cairn_sim_delete(sim);
}

static void test_manual_files(void **state)
{
    (void)state;
    cairn_loop *loop;
    assert_int_equal(cairn_loop_new_manual(0, &loop), 0);
    cairn_file *f;
    struct lines l = {0};
    assert_int_equal(cairn_file_open(loop, "/x", false, &f), CAIRN_ENOTSUP);
    assert_int_equal(cairn_file_read_lines(loop, "/x", 8, 8, on_line, &l), CAIRN_ENOTSUP);
    assert_int_equal(cairn_file_rename(loop, "/x", "/y"), CAIRN_ENOTSUP);
    assert_int_equal(cairn_file_remove(loop, "/x"), CAIRN_ENOTSUP);
    cairn_loop_delete(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uv_files, uv_env_setup, uv_env_teardown),
        cmocka_unit_test(test_sim_files),
        cmocka_unit_test(test_manual_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
