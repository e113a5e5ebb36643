/* Files on the simulator: one in-memory filesystem per world.
 *
 * A file is a byte array under a path, shared by every node of the world
 * and kept until the world is deleted, so a test can delete a node (a
 * crash) and start a new one from what the old one wrote. Each file also
 * remembers how much of it was synced: cairn_sim_file_crash drops the rest
 * (the page cache a power cut loses), keeping as many unsynced bytes as the
 * test asks, which makes torn last lines. cairn_sim_file_fail_sync makes
 * the next syncs fail. An open handle keeps its file alive when it is
 * renamed over or removed, as a descriptor does. Calls take no virtual
 * time: the disk is infinitely fast here.
 */
#include "cairn/sim.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"
#include "loop/sim_internal.h"

#include <string.h>

struct sim_file {
    char *path;
    uint8_t *data;
    size_t len, cap;
    /* Bytes known durable (cairn_file_sync). */
    size_t synced;
    /* Open handles, and whether a path still names it. */
    int refs;
    bool linked;
};

static cairn_sim *sim_of(cairn_loop *loop)
{
    return ((struct sim_node *)loop)->sim;
}

static size_t find_index(const cairn_sim *sim, const char *path)
{
    for (size_t i = 0; i < sim->files_len; i++)
        if (strcmp(sim->files[i]->path, path) == 0)
            return i;
    return SIZE_MAX;
}

static struct sim_file *find(const cairn_sim *sim, const char *path)
{
    size_t i = find_index(sim, path);
    return i == SIZE_MAX ? NULL : sim->files[i];
}

static void file_free(struct sim_file *f)
{
    cairn_free(f->path);
    cairn_free(f->data);
    cairn_free(f);
}

/* Takes f's path off the table; frees it when no handle holds it. */
static void unlink_at(cairn_sim *sim, size_t i)
{
    struct sim_file *f = sim->files[i];
    sim->files[i] = sim->files[--sim->files_len];
    f->linked = false;
    if (f->refs == 0)
        file_free(f);
}

static int create(cairn_sim *sim, const char *path, struct sim_file **ret)
{
    if (sim->files_len == sim->files_cap) {
        size_t cap = sim->files_cap ? sim->files_cap * 2 : 8;
        struct sim_file **a = cairn_reallocarray(sim->files, cap, sizeof(*a));
        if (a == NULL)
            return CAIRN_ENOMEM;
        sim->files = a;
        sim->files_cap = cap;
    }
    struct sim_file *f = cairn_calloc(1, sizeof(*f));
    size_t n = strlen(path) + 1;
    char *p = cairn_malloc(n);
    if (f == NULL || p == NULL) {
        cairn_free(f);
        cairn_free(p);
        return CAIRN_ENOMEM;
    }
    memcpy(p, path, n);
    f->path = p;
    f->linked = true;
    sim->files[sim->files_len++] = f;
    *ret = f;
    return 0;
}

static int append(struct sim_file *f, const uint8_t *data, size_t len)
{
    if (f->len + len > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + len)
            cap *= 2;
        uint8_t *d = cairn_realloc(f->data, cap);
        if (d == NULL)
            return CAIRN_ENOMEM;
        f->data = d;
        f->cap = cap;
    }
    memcpy(f->data + f->len, data, len);
    f->len += len;
    return 0;
}

int cairn__sim_file_open(cairn_loop *loop, const char *path, bool truncate, void **ret_impl,
                         uint64_t *ret_size)
{
    cairn_sim *sim = sim_of(loop);
    struct sim_file *f = find(sim, path);
    if (f == NULL) {
        int r = create(sim, path, &f);
        if (r < 0)
            return r;
    }
    if (truncate)
        f->len = f->synced = 0;
    f->refs++;
    *ret_impl = f;
    *ret_size = f->len;
    return 0;
}

int cairn__sim_file_write(cairn_loop *loop, void *impl, const uint8_t *data, size_t len)
{
    (void)loop;
    return append(impl, data, len);
}

int cairn__sim_file_sync(cairn_loop *loop, void *impl)
{
    cairn_sim *sim = sim_of(loop);
    struct sim_file *f = impl;
    if (sim->fail_syncs > 0) {
        sim->fail_syncs--;
        return CAIRN_EIO;
    }
    f->synced = f->len;
    return 0;
}

void cairn__sim_file_close(cairn_loop *loop, void *impl)
{
    (void)loop;
    struct sim_file *f = impl;
    if (--f->refs == 0 && !f->linked)
        file_free(f);
}

int cairn__sim_file_read(cairn_loop *loop, const char *path, size_t max, uint8_t **ret_data,
                         size_t *ret_len)
{
    struct sim_file *f = find(sim_of(loop), path);
    if (f == NULL)
        return CAIRN_ENOENT;
    if (f->len > max)
        return CAIRN_ELIMIT;
    uint8_t *d = cairn_malloc(f->len + 1);
    if (d == NULL)
        return CAIRN_ENOMEM;
    if (f->len > 0)
        memcpy(d, f->data, f->len);
    *ret_data = d;
    *ret_len = f->len;
    return 0;
}

int cairn__sim_file_rename(cairn_loop *loop, const char *from, const char *to)
{
    cairn_sim *sim = sim_of(loop);
    size_t i = find_index(sim, from);
    if (i == SIZE_MAX)
        return CAIRN_ENOENT;
    if (strcmp(from, to) == 0)
        return 0;
    size_t n = strlen(to) + 1;
    char *p = cairn_malloc(n);
    if (p == NULL)
        return CAIRN_ENOMEM;
    memcpy(p, to, n);
    struct sim_file *f = sim->files[i];
    cairn_free(f->path);
    f->path = p;
    size_t j = SIZE_MAX;
    for (size_t k = 0; k < sim->files_len; k++)
        if (k != i && strcmp(sim->files[k]->path, to) == 0)
            j = k;
    if (j != SIZE_MAX)
        unlink_at(sim, j);
    return 0;
}

int cairn__sim_file_remove(cairn_loop *loop, const char *path)
{
    cairn_sim *sim = sim_of(loop);
    size_t i = find_index(sim, path);
    if (i == SIZE_MAX)
        return CAIRN_ENOENT;
    unlink_at(sim, i);
    return 0;
}

void cairn__sim_files_free(cairn_sim *sim)
{
    while (sim->files_len > 0) {
        struct sim_file *f = sim->files[sim->files_len - 1];
        f->refs = 0; /* handles must be closed before the world goes */
        unlink_at(sim, sim->files_len - 1);
    }
    cairn_free(sim->files);
    sim->files = NULL;
    sim->files_cap = 0;
}

/* ---- the test hooks (cairn/sim.h) ---- */

int cairn_sim_file_set(cairn_sim *sim, const char *path, const void *data, size_t len)
{
    if (sim == NULL || path == NULL || path[0] == '\0' || strlen(path) > CAIRN_FILE_PATH_MAX ||
        (data == NULL && len > 0) || len > CAIRN_FILE_SIZE_MAX)
        return CAIRN_EINVAL;
    struct sim_file *f = find(sim, path);
    if (f == NULL) {
        int r = create(sim, path, &f);
        if (r < 0)
            return r;
    }
    f->len = 0;
    int r = len > 0 ? append(f, data, len) : 0;
    f->synced = f->len;
    return r;
}

int cairn_sim_file_get(cairn_sim *sim, const char *path, const uint8_t **ret_data, size_t *ret_len)
{
    if (sim == NULL || path == NULL || ret_data == NULL || ret_len == NULL)
        return CAIRN_EINVAL;
    struct sim_file *f = find(sim, path);
    if (f == NULL)
        return CAIRN_ENOENT;
    *ret_data = f->data;
    *ret_len = f->len;
    return 0;
}

int cairn_sim_file_crash(cairn_sim *sim, const char *path, size_t keep)
{
    if (sim == NULL || path == NULL)
        return CAIRN_EINVAL;
    struct sim_file *f = find(sim, path);
    if (f == NULL)
        return CAIRN_ENOENT;
    size_t len = f->synced + keep;
    if (len < f->len)
        f->len = len;
    f->synced = f->len;
    return 0;
}

void cairn_sim_file_fail_sync(cairn_sim *sim, unsigned n)
{
    if (sim != NULL)
        sim->fail_syncs = n;
}
