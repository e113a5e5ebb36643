/* Files, the front: argument checks, the size ceiling and line splitting.
 *
 * Backends only move bytes (libuv: POSIX calls on the loop thread,
 * uv_file.c; the simulator: its in-memory filesystem, sim_file.c); the
 * front keeps the handle's size, refuses writes past CAIRN_FILE_SIZE_MAX,
 * and turns a whole-file read into lines, so every backend splits lines the
 * same way: a line longer than line_max is cut and flagged, a last line
 * without its newline is flagged as torn, and nothing is allocated beyond
 * the one size_max-bounded buffer the backend returns.
 */
#include "cairn/loop.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"

#include <string.h>

struct cairn_file {
    cairn_loop *loop;
    void *impl;
    uint64_t size;
};

static bool path_ok(const char *path)
{
    return path != NULL && path[0] != '\0' && strlen(path) <= CAIRN_FILE_PATH_MAX;
}

int cairn_file_open(cairn_loop *loop, const char *path, bool truncate, cairn_file **ret_file)
{
    if (loop == NULL || !path_ok(path) || ret_file == NULL)
        return CAIRN_EINVAL;
    if (loop->ops->file_open == NULL)
        return CAIRN_ENOTSUP;
    cairn_file *f = cairn_calloc(1, sizeof(*f));
    if (f == NULL)
        return CAIRN_ENOMEM;
    f->loop = loop;
    int r = loop->ops->file_open(loop, path, truncate, &f->impl, &f->size);
    if (r < 0) {
        cairn_free(f);
        return r;
    }
    *ret_file = f;
    return 0;
}

int cairn_file_write(cairn_file *f, const void *data, size_t len)
{
    if (f == NULL || (data == NULL && len > 0))
        return CAIRN_EINVAL;
    if (len == 0)
        return 0;
    if (f->size + len > CAIRN_FILE_SIZE_MAX)
        return CAIRN_ENOSPC;
    int r = f->loop->ops->file_write(f->loop, f->impl, data, len);
    if (r == 0)
        f->size += len;
    return r;
}

int cairn_file_sync(cairn_file *f)
{
    if (f == NULL)
        return CAIRN_EINVAL;
    return f->loop->ops->file_sync(f->loop, f->impl);
}

uint64_t cairn_file_size(const cairn_file *f)
{
    return f != NULL ? f->size : 0;
}

void cairn_file_close(cairn_file *f)
{
    if (f == NULL)
        return;
    f->loop->ops->file_close(f->loop, f->impl);
    cairn_free(f);
}

int cairn_file_read_lines(cairn_loop *loop, const char *path, size_t line_max, size_t size_max,
                          cairn_file_line_cb cb, void *userdata)
{
    if (loop == NULL || !path_ok(path) || cb == NULL || line_max == 0)
        return CAIRN_EINVAL;
    if (loop->ops->file_read == NULL)
        return CAIRN_ENOTSUP;
    uint8_t *data = NULL;
    size_t len = 0;
    int r = loop->ops->file_read(loop, path, size_max, &data, &len);
    if (r < 0)
        return r;
    char *line = cairn_malloc(line_max + 1);
    if (line == NULL) {
        cairn_free(data);
        return CAIRN_ENOMEM;
    }
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        const uint8_t *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : len;
        size_t n = end - pos;
        int status = nl == NULL ? CAIRN_EOF : 0;
        if (n > line_max) {
            n = line_max;
            status = CAIRN_ELIMIT;
        }
        memcpy(line, data + pos, n);
        line[n] = '\0';
        cb(line, n, ++lineno, status, userdata);
        pos = nl != NULL ? end + 1 : len;
    }
    cairn_free(line);
    cairn_free(data);
    return 0;
}

int cairn_file_rename(cairn_loop *loop, const char *from, const char *to)
{
    if (loop == NULL || !path_ok(from) || !path_ok(to))
        return CAIRN_EINVAL;
    if (loop->ops->file_rename == NULL)
        return CAIRN_ENOTSUP;
    return loop->ops->file_rename(loop, from, to);
}

int cairn_file_remove(cairn_loop *loop, const char *path)
{
    if (loop == NULL || !path_ok(path))
        return CAIRN_EINVAL;
    if (loop->ops->file_remove == NULL)
        return CAIRN_ENOTSUP;
    return loop->ops->file_remove(loop, path);
}
