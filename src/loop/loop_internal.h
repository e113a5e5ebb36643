/* Internal contract between the cairn_loop front (loop.c) and its backends.
 *
 * A backend embeds `struct cairn_loop` first in its own struct and fills the
 * ops table. Later layers (packets, streams, the simulator) extend the table;
 * a backend that lacks an operation leaves it NULL and the front returns
 * CAIRN_ENOTSUP.
 */
#ifndef CAIRN_LOOP_INTERNAL_H
#define CAIRN_LOOP_INTERNAL_H

#include "cairn/loop.h"

struct cairn_loop_ops {
    cairn_time (*now)(cairn_loop *loop);
    void (*destroy)(cairn_loop *loop);
    int (*post)(cairn_loop *loop, cairn_post_cb cb, void *userdata);
    int (*timer_new)(cairn_loop *loop, cairn_timer *timer);
    void (*timer_start)(cairn_timer *timer, cairn_time delay);
    void (*timer_stop)(cairn_timer *timer);
    void (*timer_free)(cairn_timer *timer);

    /* Packets. udp_bind allocates the backend's object (whose first member
     * is struct cairn_udp) and starts receiving; the front fills the common
     * fields before any callback can run. udp_free stops delivery at once
     * and frees the object (at once or later, as the backend needs). */
    int (*udp_bind)(cairn_loop *loop, const cairn_addr *addr, cairn_udp **ret_udp);
    int (*udp_send)(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len);
    int (*udp_local)(cairn_udp *udp, cairn_addr *ret_addr);
    void (*udp_free)(cairn_udp *udp);

    /* Streams. Same pattern: the backend allocates objects whose first
     * member is the common struct; *_free stops callbacks and frees. */
    int (*listen)(cairn_loop *loop, const cairn_addr *addr, cairn_listener **ret_listener);
    int (*listener_local)(cairn_listener *lst, cairn_addr *ret_addr);
    void (*listener_free)(cairn_listener *lst);
    /* Starts connecting; the outcome is reported through
     * cairn__stream_connect_done (never from inside stream_dial). */
    int (*stream_dial)(cairn_loop *loop, const cairn_addr *addr, cairn_stream **ret_stream);
    int (*stream_start_read)(cairn_stream *stream);
    /* Queues a copy; the backend adds len to write_queued and subtracts it
     * when the bytes have left (or failed). */
    int (*stream_write)(cairn_stream *stream, const uint8_t *data, size_t len);
    int (*stream_peer)(cairn_stream *stream, cairn_addr *ret_addr);
    /* Pauses reading (start_read resumes it). */
    int (*stream_read_stop)(cairn_stream *stream);
    /* Half-close: FIN after the queued bytes; reading goes on. */
    int (*stream_shutdown)(cairn_stream *stream);
    void (*stream_free)(cairn_stream *stream);

    /* Names. resolve starts resolving req->host (never an IP literal: the
     * front answers those) and reports through cairn__resolve_done, never
     * from inside resolve. resolve_cancel guarantees no later done call for
     * req and releases what the backend holds for it (a lookup already
     * running may finish on its own; it must then not touch req). NULL
     * resolve: the loop resolves no names (CAIRN_ENOTSUP). */
    int (*resolve)(cairn_resolve *req);
    void (*resolve_cancel)(cairn_resolve *req);

    /* Files (loop/file.c is the front; all synchronous). file_open returns
     * the backend's handle and the file's size; file_read returns the
     * whole file in a cairn_malloc'd buffer (CAIRN_ELIMIT past max). NULL
     * file_open: no files (CAIRN_ENOTSUP). */
    int (*file_open)(cairn_loop *loop, const char *path, bool truncate, void **ret_impl,
                     uint64_t *ret_size);
    int (*file_write)(cairn_loop *loop, void *impl, const uint8_t *data, size_t len);
    int (*file_sync)(cairn_loop *loop, void *impl);
    void (*file_close)(cairn_loop *loop, void *impl);
    int (*file_read)(cairn_loop *loop, const char *path, size_t max, uint8_t **ret_data,
                     size_t *ret_len);
    int (*file_rename)(cairn_loop *loop, const char *from, const char *to);
    int (*file_remove)(cairn_loop *loop, const char *path);
};

struct cairn_loop {
    const struct cairn_loop_ops *ops;
};

/* The front owns the common part of a timer; backends hang their data off
 * `impl`. */
struct cairn_timer {
    cairn_loop *loop;
    cairn_timer_cb cb;
    void *userdata;
    /* Absolute deadline while active, -1 when inactive. */
    cairn_time deadline;
    /* Set while the callback runs, so a delete inside it is deferred. */
    bool in_callback;
    bool delete_pending;
    /* Backend data. */
    void *impl;
    /* Manual loop: heap index while active; start sequence for ties. */
    size_t heap_index;
    uint64_t seq;
};

/* The common part of a datagram socket; backends embed it first. */
struct cairn_udp {
    cairn_loop *loop;
    cairn_udp_recv_cb cb;
    void *userdata;
    /* Callbacks of this socket currently running (a close inside one of
     * them is deferred until the outermost returns). */
    int depth;
    /* Close requested: no more callbacks. */
    bool closing;
    /* Counters; rx_* except rx_truncated/rx_errors kept by the front. */
    cairn_udp_stats stats;
};

/* The common part of a listener. */
struct cairn_listener {
    cairn_loop *loop;
    cairn_accept_cb cb;
    void *userdata;
    int depth;
    bool closing;
    /* Connections refused because no stream could be allocated. */
    uint64_t rejected;
    /* Times accepting paused because accept() found no free descriptor. */
    uint64_t accept_paused;
};

/* The common part of a stream. */
struct cairn_stream {
    cairn_loop *loop;
    /* One timer for both the dial deadline and set_timeout's deadline. */
    cairn_timer *timer;
    cairn_connect_cb connect_cb;
    void *connect_ud;
    cairn_read_cb read_cb;
    void *read_ud;
    /* Bytes handed to stream_write and not yet sent (or failed). */
    size_t write_queued;
    int depth;
    /* Dial in progress (connect_cb still owed). */
    bool connecting;
    /* Connected (dialled and succeeded, or accepted). */
    bool connected;
    /* An end status (EOF, error, timeout) was delivered or is owed. */
    bool ended;
    /* End status owed to a read callback not yet set (0 = none). */
    int pending_end;
    bool closing;
    /* Reading paused by cairn_stream_read_stop. */
    bool paused;
    /* cairn_stream_shutdown was called: writes refused. */
    bool write_shut;
    /* Told when queued bytes leave (cairn_stream_set_written_cb). */
    cairn_written_cb written_cb;
    void *written_ud;
};

/* A name resolution request (loop/resolve.c). */
struct cairn_resolve {
    cairn_loop *loop;
    cairn_resolve_cb cb;
    void *userdata;
    /* The deadline; for an IP literal, also the zero-delay delivery. */
    cairn_timer *timer;
    /* The literal's address, when host is one. */
    cairn_addr literal;
    bool is_literal;
    uint16_t port;
    char host[CAIRN_RESOLVE_HOST_MAX + 1];
    /* Backend data (the backend's lookup in flight). */
    void *impl;
};

/* The backend finished req: status 0 with n addresses (ports as the
 * backend found them; the front sets req->port), or a CAIRN_E* code. Runs
 * the callback and frees req. */
void cairn__resolve_done(cairn_resolve *req, int status, const cairn_addr *addrs, size_t n);

/* Backend -> front delivery helpers. Each runs the user's callback with the
 * deferred-close protocol and returns false when the object was closed
 * (it may be freed already: the backend must not touch it again). */
bool cairn__udp_deliver(cairn_udp *udp, const cairn_addr *from, const uint8_t *data, size_t len);
/* A new inbound stream (connected) on lst: sets up its common part and calls
 * the accept callback; on setup failure the stream is freed. Returns false
 * when the listener was closed. */
bool cairn__listener_accept(cairn_listener *lst, cairn_stream *stream);
/* The dial finished with status (0 or CAIRN_E*). On failure the stream is
 * closed after the callback. Returns false when the stream was closed. */
bool cairn__stream_connect_done(cairn_stream *stream, int status);
/* Bytes (status 0) or an end status arrived. Returns false when the
 * stream was closed. */
bool cairn__stream_deliver(cairn_stream *stream, const uint8_t *data, size_t len, int status);

/* Queued bytes of the stream left (the backend already lowered
 * write_queued): runs the written callback, if any, from the loop. */
void cairn__stream_written(cairn_stream *stream);

/* Runs a timer's callback with the deferred-delete protocol. Backends call it
 * after marking the timer inactive. */
void cairn__timer_fire(cairn_timer *timer);

#endif
