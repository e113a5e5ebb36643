/* cairn/loop.h: the only door between protocol code and the world.
 *
 * Protocol code (memberlist, serf, servers) asks a cairn_loop for the time,
 * one-shot timers, UDP packets, TCP streams, name resolution and files. It never calls a clock,
 * socket or libuv function itself. Backends:
 *
 *   - libuv (cairn/loop_uv.h): real time and real sockets (IPv4 and IPv6);
 *   - manual (this header): a clock that only moves when a test advances it,
 *     firing due timers in order; no networking (CAIRN_ENOTSUP) and no name
 *     resolution beyond IP literals;
 *   - the simulator (cairn/sim.h): one loop per simulated node, on virtual
 *     time, with packets and streams through an in-memory network.
 *
 * Lifetime rules, the same for every backend: an object (timer, udp,
 * listener, stream) closed or deleted inside its own callback is freed when
 * that callback returns; after close no callback of it runs; no callback
 * ever runs from inside the call that caused it (dial, send, write,
 * start_read, post): always later, from the loop.
 *
 * Threading: every function here except cairn_loop_post must be called on the
 * loop's own thread (for the manual loop: the thread that advances it).
 * Callbacks run on that thread. cairn_loop_post is the one thread-safe entry:
 * it queues work for the loop thread.
 */
#ifndef CAIRN_LOOP_H
#define CAIRN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"
#include "cairn/time.h"

/* Opaque: a loop (libuv, simulator or manual backend), and its timers. */
typedef struct cairn_loop cairn_loop;
typedef struct cairn_timer cairn_timer;

/* A timer fired. The timer is inactive again when this runs; the callback
 * may restart, stop or delete it (deletion is deferred until it returns). */
typedef void (*cairn_timer_cb)(cairn_timer *timer, void *userdata);

/* Work posted from another thread. */
typedef void (*cairn_post_cb)(void *userdata);

/* cairn_loop_now: the loop's monotonic time in nanoseconds. */
cairn_time cairn_loop_now(cairn_loop *loop);

/* cairn_loop_delete destroys a loop. All timers, sockets (udp, listeners,
 * streams) and resolve requests made on it must have been closed first. Accepts
 * NULL. */
void cairn_loop_delete(cairn_loop *loop);

/* cairn_loop_post queues cb(userdata) to run on the loop thread soon. Safe to
 * call from any thread, including the loop's own. Returns 0, CAIRN_ENOMEM or
 * CAIRN_ESHUTDOWN (loop being deleted). Posted work still queued when the
 * loop is deleted is dropped without running. */
int cairn_loop_post(cairn_loop *loop, cairn_post_cb cb, void *userdata);

/* cairn_timer_new creates an inactive one-shot timer. 0, CAIRN_EINVAL or
 * CAIRN_ENOMEM; *ret_timer is owned by the caller (cairn_timer_delete). */
int cairn_timer_new(cairn_loop *loop, cairn_timer_cb cb, void *userdata, cairn_timer **ret_timer);

/* cairn_timer_start (re)arms timer to fire once after delay ns (negative
 * counts as 0). Restarting an active timer replaces its deadline. */
void cairn_timer_start(cairn_timer *timer, cairn_time delay);

/* cairn_timer_stop disarms timer; a no-op when inactive. */
void cairn_timer_stop(cairn_timer *timer);

/* cairn_timer_active: true between start and fire/stop. */
bool cairn_timer_active(const cairn_timer *timer);

/* cairn_timer_deadline: absolute fire time of an active timer (loop time),
 * or -1 when inactive. */
cairn_time cairn_timer_deadline(const cairn_timer *timer);

/* cairn_timer_delete stops and frees timer. Accepts NULL. Safe inside the
 * timer's own callback. */
void cairn_timer_delete(cairn_timer *timer);

/* ---- packets (UDP) ----
 *
 * A cairn_udp is a bound datagram socket. Received datagrams are delivered
 * whole (up to CAIRN_UDP_RECV_MAX bytes; larger ones are truncated by the OS
 * and dropped and counted by the backend). Sends copy the bytes and never
 * block; a send that cannot be queued returns an error. A socket bound to
 * an IPv6 address (including ::) also sends to IPv4 addresses (as
 * IPv4-mapped); a peer's IPv4-mapped address is reported as IPv4. */

#include "cairn/addr.h"

/* Size of the receive buffer: the largest datagram a UDP socket receives. */
#define CAIRN_UDP_RECV_MAX 65536

/* Opaque: a bound UDP socket on a loop. */
typedef struct cairn_udp cairn_udp;

/* A datagram arrived from `from`; data is valid only during the call. */
typedef void (*cairn_udp_recv_cb)(cairn_udp *udp, const cairn_addr *from, const uint8_t *data,
                                  size_t len, void *userdata);

/* cairn_udp_bind binds addr (port 0 picks one) and starts receiving.
 * 0, CAIRN_EINVAL, CAIRN_EADDRINUSE, CAIRN_EADDRNOTAVAIL, CAIRN_ENOMEM,
 * CAIRN_ENOTSUP (backend without packets). */
int cairn_udp_bind(cairn_loop *loop, const cairn_addr *addr, cairn_udp_recv_cb cb, void *userdata,
                   cairn_udp **ret_udp);

/* cairn_udp_send queues one datagram to `to` (the bytes are copied).
 * 0, CAIRN_EINVAL (bad address, or IPv6 from an IPv4 socket),
 * CAIRN_EMSGSIZE (len > CAIRN_UDP_RECV_MAX), CAIRN_ESHUTDOWN (closing),
 * CAIRN_ELIMIT (backend send queue full), CAIRN_ENOMEM, or an OS error;
 * delivery is never guaranteed. */
int cairn_udp_send(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len);

/* cairn_udp_local: the bound address (with the chosen port). */
int cairn_udp_local(cairn_udp *udp, cairn_addr *ret_addr);

/* Counters of one socket, for monitoring and tests. */
typedef struct cairn_udp_stats {
    /* Datagrams (and their bytes) delivered to the callback. */
    uint64_t rx_packets;
    uint64_t rx_bytes;
    /* Datagrams larger than CAIRN_UDP_RECV_MAX, dropped. */
    uint64_t rx_truncated;
    /* Receive errors reported by the OS (the socket keeps receiving). */
    uint64_t rx_errors;
    /* Datagrams (and bytes) accepted by cairn_udp_send. */
    uint64_t tx_packets;
    uint64_t tx_bytes;
    /* Sends that failed, at once or later in the backend. */
    uint64_t tx_errors;
} cairn_udp_stats;

/* cairn_udp_get_stats copies udp's counters into *ret_stats. */
void cairn_udp_get_stats(const cairn_udp *udp, cairn_udp_stats *ret_stats);

/* cairn_udp_close stops receiving and frees the socket (deferred if called
 * from its own callback). Accepts NULL. */
void cairn_udp_close(cairn_udp *udp);

/* ---- streams (TCP) ----
 *
 * A cairn_stream is one connected TCP stream; a cairn_listener accepts them.
 * Reads are pushed to a callback as they arrive (partial reads are normal:
 * protocol code parses incrementally); writes copy and are queued. Closing
 * is idempotent and deferred if done inside the stream's own callback. */

/* Opaque: a TCP stream and a TCP listener on a loop. */
typedef struct cairn_stream cairn_stream;
typedef struct cairn_listener cairn_listener;

/* A new inbound stream. The callee owns it (must close it eventually) and
 * should call cairn_stream_start_read. */
typedef void (*cairn_accept_cb)(cairn_listener *lst, cairn_stream *stream, void *userdata);

/* The outcome of cairn_stream_dial: status 0 (connected), or CAIRN_ETIMEDOUT,
 * CAIRN_ECONNREFUSED, CAIRN_EHOSTUNREACH ... On failure the stream is already
 * closed by the loop; do not use it further. */
typedef void (*cairn_connect_cb)(cairn_stream *stream, int status, void *userdata);

/* Bytes arrived (status 0, len > 0), or the stream ended: status CAIRN_EOF
 * (peer closed its side) or another CAIRN_E* (error, including
 * CAIRN_ETIMEDOUT from cairn_stream_set_timeout). data is valid only during
 * the call. After an end status no more reads are delivered. */
typedef void (*cairn_read_cb)(cairn_stream *stream, const uint8_t *data, size_t len, int status,
                              void *userdata);

/* cairn_listen binds addr (port 0 picks one) and accepts streams.
 * 0 or a CAIRN_E* code. */
int cairn_listen(cairn_loop *loop, const cairn_addr *addr, cairn_accept_cb cb, void *userdata,
                 cairn_listener **ret_listener);

/* cairn_listener_local: the bound address (with the chosen port). */
int cairn_listener_local(cairn_listener *lst, cairn_addr *ret_addr);

/* cairn_listener_rejected: inbound connections closed at once because no
 * stream could be allocated for them (the listener keeps accepting). */
uint64_t cairn_listener_rejected(const cairn_listener *lst);

/* cairn_listener_accept_paused: times accept() found no free descriptor
 * (EMFILE, ENFILE) and the listener stopped accepting for a while (50 ms,
 * doubling up to 1 s, reset by the next accepted connection); the
 * connections meanwhile wait in the kernel's backlog. */
uint64_t cairn_listener_accept_paused(const cairn_listener *lst);

/* cairn_listener_close stops accepting and frees the listener. NULL ok. */
void cairn_listener_close(cairn_listener *lst);

/* cairn_stream_dial starts connecting to addr; cb reports the outcome within
 * `timeout` (> 0) ns. *ret_stream is valid at once (it may be closed before
 * the connection completes; cb is then not called). The timeout is the
 * deadline of the whole exchange, dial to last byte: once connected it stays
 * armed, and when it passes the read callback gets CAIRN_ETIMEDOUT (as with
 * cairn_stream_set_timeout). A long-lived connection must disarm or move it
 * with cairn_stream_set_timeout after connecting. */
int cairn_stream_dial(cairn_loop *loop, const cairn_addr *addr, cairn_time timeout,
                      cairn_connect_cb cb, void *userdata, cairn_stream **ret_stream);

/* cairn_stream_start_read sets the read callback and starts reading (on a
 * connected stream; calling it again replaces the callback, and resumes
 * reading paused by cairn_stream_read_stop).
 * 0, CAIRN_EINVAL, CAIRN_ENOTCONN, CAIRN_ESHUTDOWN, or an OS error. */
int cairn_stream_start_read(cairn_stream *stream, cairn_read_cb cb, void *userdata);

/* cairn_stream_write queues a copy of data. 0, CAIRN_ENOMEM, CAIRN_ENOTCONN,
 * CAIRN_ESHUTDOWN (closing), CAIRN_ELIMIT when more than
 * CAIRN_STREAM_WRITE_MAX bytes would be queued, or an OS error. A failure
 * of queued bytes later reaches the read callback as an end status. */
#define CAIRN_STREAM_WRITE_MAX (64u * 1024 * 1024)
int cairn_stream_write(cairn_stream *stream, const uint8_t *data, size_t len);

/* cairn_stream_write_queued: bytes written and not yet handed to the
 * network (for back-pressure decisions). */
size_t cairn_stream_write_queued(const cairn_stream *stream);

/* cairn_stream_set_timeout arms a deadline `timeout` ns from now for the
 * whole exchange (memberlist's TCPTimeout): when it passes, the read
 * callback gets CAIRN_ETIMEDOUT (as soon as reading starts, if it has not).
 * 0 disarms. While dialling it replaces the dial's deadline, which then
 * also bounds the connect (0 is ignored there: a dial always has one).
 * Ignored after an end status. The stream stays open until closed. */
void cairn_stream_set_timeout(cairn_stream *stream, cairn_time timeout);

/* cairn_stream_read_stop pauses reading (back-pressure): no read callback
 * runs, bytes or end status, until cairn_stream_start_read is called again,
 * which resumes delivery in order. Meanwhile the peer's bytes wait (on
 * libuv in the kernel, whose TCP window then stops the sender; in the
 * simulator at this end). 0, CAIRN_EINVAL or CAIRN_ESHUTDOWN (closing). */
int cairn_stream_read_stop(cairn_stream *stream);

/* cairn_stream_shutdown half-closes the stream: once the bytes already
 * queued have gone out, the peer reads CAIRN_EOF; this end keeps reading
 * until its own end status. Later writes fail with CAIRN_ESHUTDOWN.
 * 0, CAIRN_EINVAL, CAIRN_ENOTCONN, CAIRN_ESHUTDOWN (closing or already
 * shut down) or an OS error. */
int cairn_stream_shutdown(cairn_stream *stream);

/* Queued bytes left the stream (cairn_stream_write_queued went down);
 * queued is what is still queued. For resuming a paused reader on the
 * other side of a splice. May write, pause, resume or close streams. */
typedef void (*cairn_written_cb)(cairn_stream *stream, size_t queued, void *userdata);

/* cairn_stream_set_written_cb sets (cb NULL: removes) the callback that
 * runs from the loop after queued bytes have left: on libuv when the
 * kernel took them, in the simulator when the peer's reader got them
 * (the simulated stream has no socket buffer). Several departures may be
 * reported by one call. */
void cairn_stream_set_written_cb(cairn_stream *stream, cairn_written_cb cb, void *userdata);

/* cairn_stream_peer: the remote address. */
int cairn_stream_peer(cairn_stream *stream, cairn_addr *ret_addr);

/* cairn_stream_close closes (after queued writes are flushed, best effort)
 * and frees the stream. Idempotent; NULL ok; no callbacks after it. */
void cairn_stream_close(cairn_stream *stream);

/* ---- name resolution ----
 *
 * Host names become addresses through the loop, never through a blocking
 * call in protocol or agent code: libuv resolves on its thread pool
 * (getaddrinfo), the simulator from its own host table (cairn/sim.h), the
 * manual loop only IP literals. Every request has a deadline. */

/* One name being resolved (opaque; ends with its callback or a cancel). */
typedef struct cairn_resolve cairn_resolve;

/* Most addresses one resolution reports (the first ones getaddrinfo gives). */
#define CAIRN_RESOLVE_MAX_ADDRS 16
/* Longest host name accepted (DNS's limit). */
#define CAIRN_RESOLVE_HOST_MAX 253

/* The outcome of cairn_resolve_start: status 0 with n (1 ..
 * CAIRN_RESOLVE_MAX_ADDRS) addresses, each with the requested port, in the
 * resolver's order; or CAIRN_ENOHOST (no such host), CAIRN_EAGAIN
 * (temporary resolver failure), CAIRN_ETIMEDOUT (the deadline passed) or
 * another CAIRN_E* code, with n == 0. addrs is valid only during the call; the request is freed
 * when the callback returns. */
typedef void (*cairn_resolve_cb)(cairn_resolve *req, int status, const cairn_addr *addrs, size_t n,
                                 void *userdata);

/* cairn_resolve_start resolves host (an IP literal or a name of at most
 * CAIRN_RESOLVE_HOST_MAX bytes) to addresses with the given port; cb runs
 * once, later, from the loop, within `timeout` (> 0) ns. *ret_req (may be
 * NULL) can cancel the request until cb runs. 0, CAIRN_EINVAL (empty or
 * overlong host, timeout <= 0), CAIRN_ENOTSUP (a name on a loop that
 * resolves none) or CAIRN_ENOMEM. */
int cairn_resolve_start(cairn_loop *loop, const char *host, uint16_t port, cairn_time timeout,
                        cairn_resolve_cb cb, void *userdata, cairn_resolve **ret_req);

/* cairn_resolve_cancel abandons a request whose callback has not run: the
 * callback never runs and the request is freed. NULL ok. Must not be called
 * after (or from inside) the request's callback. */
void cairn_resolve_cancel(cairn_resolve *req);

/* Several "host[:port]" strings at once (memberlist's Join([]string) and
 * Serf's -join/-retry-join lists): each resolved as by cairn_resolve_start,
 * all concurrently. */
typedef struct cairn_resolve_hosts cairn_resolve_hosts;

/* The outcome of cairn_resolve_hosts_start: status 0 when at least one
 * host resolved, with every address found (in the order of the hosts, each
 * host's addresses in the resolver's order); otherwise the first host's
 * error, n == 0. failed counts the hosts that did not resolve and
 * first_failed names the first of them (with its error, first_err), or is
 * NULL. Everything is borrowed for the call; the request is freed after. */
typedef void (*cairn_resolve_hosts_cb)(cairn_resolve_hosts *req, int status,
                                       const cairn_addr *addrs, size_t n, size_t failed,
                                       const char *first_failed, int first_err, void *userdata);

/* Most hosts one cairn_resolve_hosts_start takes. */
#define CAIRN_RESOLVE_HOSTS_MAX 64

/* cairn_resolve_hosts_start resolves hosts[0..n) ("host", "host:port",
 * "[v6]:port"; the port defaults to default_port, which must then be
 * non-zero) within timeout each. The strings are checked first: 0, or
 * CAIRN_EINVAL/CAIRN_ERANGE/CAIRN_ELIMIT with diag naming the bad one (then
 * nothing started), CAIRN_ENOTSUP (names on a loop that resolves none) or
 * CAIRN_ENOMEM. */
int cairn_resolve_hosts_start(cairn_loop *loop, const char *const *hosts, size_t n,
                              uint16_t default_port, cairn_time timeout, cairn_resolve_hosts_cb cb,
                              void *userdata, cairn_resolve_hosts **ret_req, cairn_diag *diag);

/* cairn_resolve_hosts_cancel abandons the request (no callback). NULL ok;
 * not after or inside its callback. */
void cairn_resolve_hosts_cancel(cairn_resolve_hosts *req);

/* ---- files ----
 *
 * The few file operations a snapshot (and later a keyring) needs, as a loop
 * service: the libuv backend uses the real filesystem, the simulator an
 * in-memory one per world (cairn/sim.h; files outlive the node that wrote
 * them), the manual loop none (CAIRN_ENOTSUP).
 *
 * Cost: every call is synchronous and returns its result; none runs a
 * callback later. On libuv it is one system call on the loop thread, so its
 * worst case is the disk's: a write of a caller-buffered block (snapshots
 * flush at most every 500 ms, a few KiB) into the page cache takes
 * microseconds; cairn_file_sync waits for the device (milliseconds on an
 * SSD, up to seconds on a saturated disk or network filesystem), which is
 * why callers sync only on leave, shutdown and compaction, never per line;
 * cairn_file_read_lines reads at most size_max bytes once at start-up.
 * docs/FILES.md has the figures and the reasons this is not the thread
 * pool. Paths are at most CAIRN_FILE_PATH_MAX bytes. */

/* An open file, positioned at its end for appending (opaque). */
typedef struct cairn_file cairn_file;

/* Longest path accepted. */
#define CAIRN_FILE_PATH_MAX 4095
/* Largest file a cairn_file grows to (writes past it: CAIRN_ENOSPC). */
#define CAIRN_FILE_SIZE_MAX (256u * 1024 * 1024)

/* cairn_file_open opens path for appending, creating it (mode 0644) when
 * missing; truncate empties it first. 0, CAIRN_EINVAL, CAIRN_ENOTSUP,
 * CAIRN_ENOMEM, CAIRN_EACCES, CAIRN_ENOENT (no such directory), CAIRN_EIO. */
int cairn_file_open(cairn_loop *loop, const char *path, bool truncate, cairn_file **ret_file);

/* cairn_file_write appends len bytes (all of them, or an error): 0,
 * CAIRN_ENOSPC (disk full, or past CAIRN_FILE_SIZE_MAX) or CAIRN_EIO. */
int cairn_file_write(cairn_file *f, const void *data, size_t len);

/* cairn_file_sync makes what was written durable (fsync): 0 or CAIRN_EIO. */
int cairn_file_sync(cairn_file *f);

/* cairn_file_size: the file's size as this handle wrote it (its size at
 * open plus the bytes written). */
uint64_t cairn_file_size(const cairn_file *f);

/* cairn_file_close closes f (no sync). NULL ok. */
void cairn_file_close(cairn_file *f);

/* One line of cairn_file_read_lines: line (without its newline, NUL
 * terminated, valid for the call), its length and 1-based number; status 0,
 * CAIRN_ELIMIT (longer than line_max: line holds its first line_max bytes)
 * or CAIRN_EOF (the last line has no newline: a torn write). */
typedef void (*cairn_file_line_cb)(const char *line, size_t len, size_t lineno, int status,
                                   void *userdata);

/* cairn_file_read_lines reads path and calls cb for each line, in order,
 * before it returns. 0, CAIRN_ENOENT (no such file), CAIRN_ELIMIT (larger
 * than size_max: no line delivered), CAIRN_EINVAL, CAIRN_ENOTSUP,
 * CAIRN_ENOMEM, CAIRN_EACCES or CAIRN_EIO. */
int cairn_file_read_lines(cairn_loop *loop, const char *path, size_t line_max, size_t size_max,
                          cairn_file_line_cb cb, void *userdata);

/* cairn_file_rename atomically replaces `to` with `from` (rename(2)): 0,
 * CAIRN_ENOENT, CAIRN_EINVAL, CAIRN_ENOTSUP, CAIRN_EACCES or CAIRN_EIO. */
int cairn_file_rename(cairn_loop *loop, const char *from, const char *to);

/* cairn_file_remove deletes path: 0, CAIRN_ENOENT, CAIRN_EINVAL,
 * CAIRN_ENOTSUP, CAIRN_EACCES or CAIRN_EIO. */
int cairn_file_remove(cairn_loop *loop, const char *path);

/* ---- the manual (test) clock ---- */

/* cairn_loop_new_manual makes a loop whose time starts at `start` and moves
 * only through cairn_loop_manual_advance. 0 or CAIRN_ENOMEM. */
int cairn_loop_new_manual(cairn_time start, cairn_loop **ret_loop);

/* cairn_loop_manual_advance moves time forward by delta (>= 0), running, in
 * deadline order (ties in start order), every timer due on the way, with now
 * equal to each timer's deadline while it runs; then runs posted work.
 * Returns the number of callbacks run. */
size_t cairn_loop_manual_advance(cairn_loop *loop, cairn_time delta);

/* cairn_loop_manual_run_pending runs posted work and timers already due,
 * without moving time. Returns the number of callbacks run. */
size_t cairn_loop_manual_run_pending(cairn_loop *loop);

/* cairn_loop_manual_next_deadline: the earliest active timer's deadline, or
 * -1 when none is armed. */
cairn_time cairn_loop_manual_next_deadline(cairn_loop *loop);

#endif
