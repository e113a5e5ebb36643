/* Shared between the libuv backend's files: uv.c (time, timers, post) and
 * uv_net.c (packets and streams), uv_resolve.c (names). */
#ifndef CAIRN_LOOP_UV_INTERNAL_H
#define CAIRN_LOOP_UV_INTERNAL_H

#include <uv.h>

#include "cairn/loop.h"
#include "loop/loop_internal.h"
#include "loop/post_queue.h"

struct uv_backend {
    struct cairn_loop base;
    uv_loop_t *uv;
    uv_async_t async;
    struct cairn_post_queue posted;
    /* One receive buffer for every socket of this loop: libuv calls
     * alloc, recv and the read callback back to back on this thread, so a
     * buffer is never in use twice. Allocated on first use. */
    uint8_t *rxbuf;
};

int cairn__uv_udp_bind(cairn_loop *loop, const cairn_addr *addr, cairn_udp **ret_udp);
int cairn__uv_udp_send(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len);
int cairn__uv_udp_local(cairn_udp *udp, cairn_addr *ret_addr);
void cairn__uv_udp_free(cairn_udp *udp);
int cairn__uv_listen(cairn_loop *loop, const cairn_addr *addr, cairn_listener **ret_listener);
int cairn__uv_listener_local(cairn_listener *lst, cairn_addr *ret_addr);
void cairn__uv_listener_free(cairn_listener *lst);
int cairn__uv_stream_dial(cairn_loop *loop, const cairn_addr *addr, cairn_stream **ret_stream);
int cairn__uv_stream_start_read(cairn_stream *stream);
int cairn__uv_stream_write(cairn_stream *stream, const uint8_t *data, size_t len);
int cairn__uv_stream_read_stop(cairn_stream *stream);
int cairn__uv_stream_shutdown(cairn_stream *stream);
int cairn__uv_stream_peer(cairn_stream *stream, cairn_addr *ret_addr);
void cairn__uv_stream_free(cairn_stream *stream);
int cairn__uv_resolve(cairn_resolve *req);
void cairn__uv_resolve_cancel(cairn_resolve *req);
/* Files (uv_file.c). */
int cairn__uv_file_open(cairn_loop *loop, const char *path, bool truncate, void **ret_impl,
                        uint64_t *ret_size);
int cairn__uv_file_write(cairn_loop *loop, void *impl, const uint8_t *data, size_t len);
int cairn__uv_file_sync(cairn_loop *loop, void *impl);
void cairn__uv_file_close(cairn_loop *loop, void *impl);
int cairn__uv_file_read(cairn_loop *loop, const char *path, size_t max, uint8_t **ret_data,
                        size_t *ret_len);
int cairn__uv_file_rename(cairn_loop *loop, const char *from, const char *to);
int cairn__uv_file_remove(cairn_loop *loop, const char *path);

#endif
