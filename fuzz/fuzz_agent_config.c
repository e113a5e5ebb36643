/* libFuzzer target: bytes as a serf agent configuration file, merged twice
 * into one configuration (so merges of every key meet), as a tags file
 * (encoded back and decoded again: the same tags) and as a keyring file
 * (encoded back and decoded again: the same keys, primary first). These
 * are local files, not peer input, but the agent reads them at start and
 * on every SIGHUP. Then, when they end in a newline, the bytes are read
 * the way -config-file and -config-dir read them: written to a.json in a
 * private directory that also holds b.json ("{}"), a directory named
 * d.json and x.txt (both skipped), the directory is read, then a.json
 * alone, then a missing path (and once a file and a directory over the
 * reading limits). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/alloc.h"
#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

static char dir[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_dir(void)
{
    (void)nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void read_paths(const uint8_t *data, size_t size)
{
    static char a[96];
    if (!dir[0]) {
        char b[96], d[96], x[96];
        snprintf(dir, sizeof(dir), "/tmp/fuzz_agent_config.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
        snprintf(a, sizeof(a), "%s/a.json", dir);
        snprintf(b, sizeof(b), "%s/b.json", dir);
        snprintf(d, sizeof(d), "%s/d.json", dir);
        snprintf(x, sizeof(x), "%s/x.txt", dir);
        write_file(b, "{}", 2);
        write_file(x, "{", 1);
        if (mkdir(d, 0700) < 0)
            abort();
        /* Once: the limits of reading, a file one byte over
         * CAIRN_AGENT_CONFIG_FILE_MAX and a directory of one .json file
         * too many. */
        char big[96], many[96], one[128], why[512];
        snprintf(big, sizeof(big), "%s/big", dir);
        FILE *f = fopen(big, "wb");
        if (!f || ftruncate(fileno(f), CAIRN_AGENT_CONFIG_FILE_MAX + 1) < 0 || fclose(f) != 0)
            abort();
        snprintf(many, sizeof(many), "%s/many", dir);
        if (mkdir(many, 0700) < 0)
            abort();
        for (int i = 0; i <= CAIRN_AGENT_CONFIG_DIR_MAX; i++) {
            snprintf(one, sizeof(one), "%s/%03d.json", many, i);
            write_file(one, "{}", 2);
        }
        const char *limits[] = {big, many};
        for (size_t i = 0; i < 2; i++) {
            cairn_agent_file_config *fc = malloc(sizeof(*fc));
            if (!fc)
                abort();
            cairn__agent_config_init(fc);
            if (cairn__agent_config_read_path(fc, limits[i], why, sizeof(why)) != CAIRN_ELIMIT)
                abort();
            cairn__agent_config_destroy(fc);
            free(fc);
        }
    }
    write_file(a, data, size);
    char why[512];
    const char *paths[] = {dir, a, "/nonexistent/fuzz_agent_config.json"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        cairn_agent_file_config *fc = malloc(sizeof(*fc));
        if (!fc)
            return;
        cairn__agent_config_init(fc);
        (void)cairn__agent_config_read_path(fc, paths[i], why, sizeof(why));
        cairn__agent_config_destroy(fc);
        free(fc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char why[512];
    cairn_agent_file_config *fc = malloc(sizeof(*fc));
    if (!fc)
        return 0;
    cairn__agent_config_init(fc);
    for (int i = 0; i < 2; i++)
        if (cairn__agent_config_parse(fc, text, size, "fuzz.json", why, sizeof(why)) < 0)
            break;
    if (fc->n_tags > CAIRN_AGENT_MAX_TAGS || fc->n_start_join > CAIRN_AGENT_CONFIG_JOINS_MAX)
        abort();
    cairn__agent_config_destroy(fc);
    free(fc);

    cairn_tag tags[16], back[16];
    size_t n, m;
    if (cairn__agent_tags_parse(text, size, tags, 16, &n, why, sizeof(why)) == 0) {
        char *enc = cairn__agent_tags_encode(tags, n);
        if (enc) {
            if (cairn__agent_tags_parse(enc, strlen(enc), back, 16, &m, why, sizeof(why)) < 0 ||
                m != n)
                abort();
            cairn__agent_tags_free(back, m);
            cairn_free(enc);
        }
        cairn__agent_tags_free(tags, n);
    }

    cairn_keyring *ring, *again;
    if (cairn__agent_keyring_parse(text, size, &ring, why, sizeof(why)) == 0) {
        char *enc = cairn__agent_keyring_encode(ring);
        if (enc) {
            if (cairn__agent_keyring_parse(enc, strlen(enc), &again, why, sizeof(why)) < 0)
                abort();
            if (cairn_keyring_count(again) != cairn_keyring_count(ring))
                abort();
            const uint8_t *a, *b;
            size_t la, lb;
            if (cairn_keyring_key(ring, 0, &a, &la) < 0 ||
                cairn_keyring_key(again, 0, &b, &lb) < 0 || la != lb || memcmp(a, b, la) != 0)
                abort();
            cairn_keyring_delete(again);
            cairn_free(enc);
        }
        cairn_keyring_delete(ring);
    }
    /* File system calls are slow next to parsing: only inputs ending in a
     * newline go through the files. */
    if (size > 0 && data[size - 1] == '\n')
        read_paths(data, size);
    return 0;
}
