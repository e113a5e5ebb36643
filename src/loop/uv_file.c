/* Files on the libuv backend: POSIX calls on the loop thread.
 *
 * libuv's own uv_fs_* with a NULL callback is the same system call on the
 * calling thread; with a callback it is the same call on the thread pool,
 * shared with getaddrinfo. A snapshot writes a few KiB at most every 500 ms
 * and syncs only on leave, shutdown and compaction, so the loop is blocked
 * for a page-cache copy per flush and one fsync per rare event; the header
 * (cairn/loop.h) and docs/FILES.md state that cost. Errors map to CAIRN_E*;
 * EINTR is retried.
 */
#include "loop/uv_internal.h"
#include "cairn/alloc.h"
#include "cairn/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int map_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return CAIRN_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return CAIRN_EACCES;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return CAIRN_ENOSPC;
    case ENOMEM:
        return CAIRN_ENOMEM;
    case ENAMETOOLONG:
    case EISDIR:
        return CAIRN_EINVAL;
    default:
        return CAIRN_EIO;
    }
}

int cairn__uv_file_open(cairn_loop *loop, const char *path, bool truncate, void **ret_impl,
                        uint64_t *ret_size)
{
    (void)loop;
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    int fd;
    do
        fd = open(path, flags, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return map_errno(errno);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return map_errno(e);
    }
    *ret_size = (uint64_t)st.st_size;
    *ret_impl = (void *)(intptr_t)(fd + 1);
    return 0;
}

static int fd_of(void *impl)
{
    return (int)(intptr_t)impl - 1;
}

int cairn__uv_file_write(cairn_loop *loop, void *impl, const uint8_t *data, size_t len)
{
    (void)loop;
    int fd = fd_of(impl);
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return map_errno(errno);
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int cairn__uv_file_sync(cairn_loop *loop, void *impl)
{
    (void)loop;
    int r;
    do
        r = fsync(fd_of(impl));
    while (r < 0 && errno == EINTR);
    return r < 0 ? CAIRN_EIO : 0;
}

void cairn__uv_file_close(cairn_loop *loop, void *impl)
{
    (void)loop;
    close(fd_of(impl));
}

int cairn__uv_file_read(cairn_loop *loop, const char *path, size_t max, uint8_t **ret_data,
                        size_t *ret_len)
{
    (void)loop;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return map_errno(errno);
    struct stat st;
    int rc = 0;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) < 0) {
        rc = map_errno(errno);
    } else if ((uint64_t)st.st_size > max) {
        rc = CAIRN_ELIMIT;
    } else {
        size_t want = (size_t)st.st_size;
        buf = cairn_malloc(want + 1);
        if (buf == NULL)
            rc = CAIRN_ENOMEM;
        /* The size fstat saw, no more (bytes appended meanwhile wait). */
        while (rc == 0 && got < want) {
            ssize_t n = read(fd, buf + got, want - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                rc = map_errno(errno);
            else if (n == 0)
                break;
            else
                got += (size_t)n;
        }
    }
    close(fd);
    if (rc < 0) {
        cairn_free(buf);
        return rc;
    }
    *ret_data = buf;
    *ret_len = got;
    return 0;
}

int cairn__uv_file_rename(cairn_loop *loop, const char *from, const char *to)
{
    (void)loop;
    return rename(from, to) < 0 ? map_errno(errno) : 0;
}

int cairn__uv_file_remove(cairn_loop *loop, const char *path)
{
    (void)loop;
    return unlink(path) < 0 ? map_errno(errno) : 0;
}
