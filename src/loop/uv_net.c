/* Packets and streams of the libuv backend.
 *
 * Each cairn object embeds its uv handle; closing one calls uv_close and the
 * memory is freed in the close callback, after libuv has run every pending
 * request callback (with UV_ECANCELED, which is ignored here: the front has
 * already stopped all user callbacks of a closing object).
 *
 * UDP: like memberlist's transport, a socket asks for a 2 MiB receive buffer
 * and halves the request until the kernel accepts it. Datagrams are read
 * into one 64 KiB buffer per loop; a datagram the kernel truncated (libuv's
 * UV_UDP_PARTIAL) is dropped and counted. A send is first tried at once
 * (uv_udp_try_send: no copy); only if the socket would block is a copy
 * queued, and the queue is capped by CAIRN_UV_UDP_QUEUE_MAX.
 *
 * TCP: reads go through the same per-loop buffer, so a read callback sees at
 * most 64 KiB at a time. A write with nothing queued first goes straight
 * to the kernel (uv_try_write, no copy); what it does not take, and every
 * write behind queued ones, is copied into one request each. Closing a
 * stream with queued writes shuts the write side down (which flushes them)
 * and closes when that completes, or after CAIRN_UV_LINGER at the latest,
 * so a silent peer cannot pin the memory.
 *
 * libuv errors are negative errno values on Linux: cairn_err_from_errno maps
 * them.
 */
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/sockaddr.h"
#include "loop/uv_internal.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* memberlist's udpRecvBufSize: ask for this much receive buffer. */
#define CAIRN_UV_UDP_RCVBUF (2 * 1024 * 1024)
/* Bytes of datagrams waiting in libuv's send queue before sends fail. */
#define CAIRN_UV_UDP_QUEUE_MAX (4u * 1024 * 1024)
/* Pending connections the kernel keeps for a listener. */
#define CAIRN_UV_BACKLOG 128
/* Longest wait for queued writes to flush on close, in ms. */
#define CAIRN_UV_LINGER 2000

static struct uv_backend *backend_of(cairn_loop *loop)
{
    return (struct uv_backend *)loop;
}

static int map_uv(int r)
{
    return r < 0 ? cairn_err_from_errno(r) : 0;
}

static void alloc_rx(struct uv_backend *b, uv_buf_t *buf)
{
    if (b->rxbuf == NULL)
        b->rxbuf = cairn_malloc(CAIRN_UDP_RECV_MAX);
    buf->base = (char *)b->rxbuf;
    buf->len = b->rxbuf != NULL ? CAIRN_UDP_RECV_MAX : 0;
}

/* ---- UDP ---- */

struct uv_udp_sock {
    /* The common part (first). */
    struct cairn_udp base;
    /* The socket; freed with this struct in its close callback. */
    uv_udp_t h;
    /* The socket is IPv6 (IPv4 destinations are sent IPv4-mapped). */
    bool v6;
    /* Bytes queued in libuv's send queue. */
    size_t queued;
};

/* A queued datagram: the request and a copy of the bytes in one block. */
struct udp_send_req {
    uv_udp_send_t req;
    struct uv_udp_sock *sock;
    size_t len;
    uint8_t data[];
};

static void udp_closed(uv_handle_t *h)
{
    cairn_free(h->data);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct uv_udp_sock *u = h->data;
    alloc_rx(backend_of(u->base.loop), buf);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *sa,
                     unsigned flags)
{
    (void)buf;
    struct uv_udp_sock *u = h->data;
    if (nread < 0) {
        u->base.stats.rx_errors++;
        return;
    }
    if (sa == NULL)
        return; /* nothing more to read now */
    if (flags & UV_UDP_PARTIAL) {
        u->base.stats.rx_truncated++;
        return;
    }
    cairn_addr from;
    if (cairn__addr_from_sockaddr(sa, &from) < 0) {
        u->base.stats.rx_errors++;
        return;
    }
    cairn__udp_deliver(&u->base, &from, (const uint8_t *)buf->base, (size_t)nread);
}

/* Asks for CAIRN_UV_UDP_RCVBUF and halves until the kernel accepts. */
static void udp_set_rcvbuf(uv_udp_t *h)
{
    for (int size = CAIRN_UV_UDP_RCVBUF; size > 0; size /= 2) {
        int v = size;
        if (uv_recv_buffer_size((uv_handle_t *)h, &v) == 0)
            return;
    }
}

int cairn__uv_udp_bind(cairn_loop *loop, const cairn_addr *addr, cairn_udp **ret_udp)
{
    struct uv_backend *b = backend_of(loop);
    struct sockaddr_storage ss;
    if (cairn__sockaddr_from_addr(addr, false, &ss) < 0)
        return CAIRN_EINVAL;
    struct uv_udp_sock *u = cairn_calloc(1, sizeof(*u));
    if (u == NULL)
        return CAIRN_ENOMEM;
    u->v6 = addr->family == 6;
    int r = uv_udp_init(b->uv, &u->h);
    if (r < 0) {
        cairn_free(u);
        return map_uv(r);
    }
    u->h.data = u;
    u->base.loop = loop;
    r = uv_udp_bind(&u->h, (const struct sockaddr *)&ss, 0);
    if (r == 0) {
        udp_set_rcvbuf(&u->h);
        r = uv_udp_recv_start(&u->h, udp_alloc, udp_recv);
    }
    if (r < 0) {
        uv_close((uv_handle_t *)&u->h, udp_closed);
        return map_uv(r);
    }
    *ret_udp = &u->base;
    return 0;
}

static void udp_sent(uv_udp_send_t *req, int status)
{
    struct udp_send_req *sr = (struct udp_send_req *)req;
    struct uv_udp_sock *u = sr->sock;
    u->queued -= sr->len;
    if (status < 0 && status != UV_ECANCELED)
        u->base.stats.tx_errors++;
    cairn_free(sr);
}

int cairn__uv_udp_send(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len)
{
    struct uv_udp_sock *u = (struct uv_udp_sock *)udp;
    if (to->family == 6 && !u->v6)
        return CAIRN_EINVAL;
    struct sockaddr_storage ss;
    if (cairn__sockaddr_from_addr(to, u->v6, &ss) < 0)
        return CAIRN_EINVAL;
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_udp_try_send(&u->h, &buf, 1, (const struct sockaddr *)&ss);
    if (r >= 0)
        return 0;
    if (r != UV_EAGAIN && r != UV_ENOSYS)
        return map_uv(r);
    if (u->queued + len > CAIRN_UV_UDP_QUEUE_MAX)
        return CAIRN_ELIMIT;
    struct udp_send_req *sr = cairn_malloc(sizeof(*sr) + len);
    if (sr == NULL)
        return CAIRN_ENOMEM;
    sr->sock = u;
    sr->len = len;
    if (len > 0)
        memcpy(sr->data, data, len);
    buf = uv_buf_init((char *)sr->data, (unsigned)len);
    r = uv_udp_send(&sr->req, &u->h, &buf, 1, (const struct sockaddr *)&ss, udp_sent);
    if (r < 0) {
        cairn_free(sr);
        return map_uv(r);
    }
    u->queued += len;
    return 0;
}

int cairn__uv_udp_local(cairn_udp *udp, cairn_addr *ret_addr)
{
    struct uv_udp_sock *u = (struct uv_udp_sock *)udp;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int r = uv_udp_getsockname(&u->h, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return map_uv(r);
    return cairn__addr_from_sockaddr((const struct sockaddr *)&ss, ret_addr);
}

void cairn__uv_udp_free(cairn_udp *udp)
{
    struct uv_udp_sock *u = (struct uv_udp_sock *)udp;
    uv_udp_recv_stop(&u->h);
    uv_close((uv_handle_t *)&u->h, udp_closed);
}

/* ---- TCP streams ---- */

struct uv_stream_impl {
    /* The common part (first). */
    struct cairn_stream base;
    /* The connection and its dial and shutdown requests. */
    uv_tcp_t h;
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    /* The half-close of cairn_stream_shutdown, and whether it is pending
     * and a close waits for it. */
    uv_shutdown_t user_shutdown;
    bool user_shut_pending;
    bool close_after_shutdown;
    /* Bounds the flush on close; initialised only then. */
    uv_timer_t linger;
    /* Handles still open (tcp, and linger once used); freed at zero. */
    int open_handles;
    /* uv_close was called on the handles. */
    bool handles_closing;
};

/* A queued write: the request and a copy of the bytes in one block. */
struct stream_write_req {
    uv_write_t req;
    size_t len;
    uint8_t data[];
};

static void stream_handle_closed(uv_handle_t *h)
{
    struct uv_stream_impl *s = h->data;
    if (--s->open_handles == 0)
        cairn_free(s);
}

static void stream_close_handles(struct uv_stream_impl *s)
{
    if (s->handles_closing)
        return;
    s->handles_closing = true;
    uv_close((uv_handle_t *)&s->h, stream_handle_closed);
    if (s->open_handles == 2)
        uv_close((uv_handle_t *)&s->linger, stream_handle_closed);
}

static struct uv_stream_impl *stream_alloc(struct uv_backend *b)
{
    struct uv_stream_impl *s = cairn_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (uv_tcp_init(b->uv, &s->h) < 0) {
        cairn_free(s);
        return NULL;
    }
    s->h.data = s;
    s->connect.data = s;
    s->shutdown.data = s;
    s->user_shutdown.data = s;
    s->linger.data = s;
    s->open_handles = 1;
    s->base.loop = &b->base;
    return s;
}

static void stream_connected(uv_connect_t *req, int status)
{
    struct uv_stream_impl *s = req->data;
    if (status == UV_ECANCELED)
        return; /* closed while connecting */
    if (status == 0)
        uv_tcp_nodelay(&s->h, 1);
    cairn__stream_connect_done(&s->base, map_uv(status));
}

int cairn__uv_stream_dial(cairn_loop *loop, const cairn_addr *addr, cairn_stream **ret_stream)
{
    struct sockaddr_storage ss;
    if (cairn__sockaddr_from_addr(addr, false, &ss) < 0)
        return CAIRN_EINVAL;
    struct uv_stream_impl *s = stream_alloc(backend_of(loop));
    if (s == NULL)
        return CAIRN_ENOMEM;
    int r = uv_tcp_connect(&s->connect, &s->h, (const struct sockaddr *)&ss, stream_connected);
    if (r < 0) {
        stream_close_handles(s);
        return map_uv(r);
    }
    *ret_stream = &s->base;
    return 0;
}

static void stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct uv_stream_impl *s = h->data;
    alloc_rx(backend_of(s->base.loop), buf);
}

static void stream_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    struct uv_stream_impl *s = h->data;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread > 0) {
        cairn__stream_deliver(&s->base, (const uint8_t *)buf->base, (size_t)nread, 0);
        return;
    }
    uv_read_stop(h);
    int status = nread == UV_EOF ? CAIRN_EOF : map_uv((int)nread);
    cairn__stream_deliver(&s->base, NULL, 0, status);
}

int cairn__uv_stream_start_read(cairn_stream *stream)
{
    struct uv_stream_impl *s = (struct uv_stream_impl *)stream;
    return map_uv(uv_read_start((uv_stream_t *)&s->h, stream_alloc_cb, stream_read));
}

static void stream_written(uv_write_t *req, int status)
{
    struct stream_write_req *wr = (struct stream_write_req *)req;
    struct uv_stream_impl *s = req->handle->data;
    s->base.write_queued -= wr->len;
    cairn_free(wr);
    if (status < 0 && status != UV_ECANCELED)
        cairn__stream_deliver(&s->base, NULL, 0, map_uv(status));
    else if (status == 0)
        cairn__stream_written(&s->base);
}

int cairn__uv_stream_read_stop(cairn_stream *stream)
{
    struct uv_stream_impl *s = (struct uv_stream_impl *)stream;
    return map_uv(uv_read_stop((uv_stream_t *)&s->h));
}

static void stream_user_shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status; /* a failure shows up on the reads and writes */
    struct uv_stream_impl *s = req->data;
    s->user_shut_pending = false;
    if (s->close_after_shutdown)
        stream_close_handles(s);
}

int cairn__uv_stream_shutdown(cairn_stream *stream)
{
    struct uv_stream_impl *s = (struct uv_stream_impl *)stream;
    int r = uv_shutdown(&s->user_shutdown, (uv_stream_t *)&s->h, stream_user_shutdown_done);
    if (r == 0)
        s->user_shut_pending = true;
    return map_uv(r);
}

int cairn__uv_stream_write(cairn_stream *stream, const uint8_t *data, size_t len)
{
    struct uv_stream_impl *s = (struct uv_stream_impl *)stream;
    if (len > UINT32_MAX)
        return CAIRN_ELIMIT;
    if (stream->write_queued == 0) {
        /* Nothing queued: hand the kernel what it takes now, without a
         * copy, and queue only the rest (order is kept: the queue is
         * empty). */
        uv_buf_t now = uv_buf_init((char *)data, (unsigned)len);
        int w = uv_try_write((uv_stream_t *)&s->h, &now, 1);
        if (w > 0) {
            data += w;
            len -= (size_t)w;
            if (len == 0)
                return 0;
        } else if (w != UV_EAGAIN && w != UV_ENOSYS) {
            return map_uv(w);
        }
    }
    struct stream_write_req *wr = cairn_malloc(sizeof(*wr) + len);
    if (wr == NULL)
        return CAIRN_ENOMEM;
    wr->len = len;
    memcpy(wr->data, data, len);
    uv_buf_t buf = uv_buf_init((char *)wr->data, (unsigned)len);
    int r = uv_write(&wr->req, (uv_stream_t *)&s->h, &buf, 1, stream_written);
    if (r < 0) {
        cairn_free(wr);
        return map_uv(r);
    }
    s->base.write_queued += len;
    return 0;
}

int cairn__uv_stream_peer(cairn_stream *stream, cairn_addr *ret_addr)
{
    struct uv_stream_impl *s = (struct uv_stream_impl *)stream;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int r = uv_tcp_getpeername(&s->h, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return map_uv(r);
    return cairn__addr_from_sockaddr((const struct sockaddr *)&ss, ret_addr);
}

static void stream_shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status;
    stream_close_handles(req->data);
}

static void stream_linger_done(uv_timer_t *t)
{
    stream_close_handles(t->data);
}

void cairn__uv_stream_free(cairn_stream *stream)
{
    struct uv_stream_impl *s = (struct uv_stream_impl *)stream;
    struct uv_backend *b = backend_of(stream->loop);
    uv_read_stop((uv_stream_t *)&s->h);
    if (stream->connected && stream->write_queued > 0 && uv_timer_init(b->uv, &s->linger) == 0) {
        s->open_handles = 2;
        if (s->user_shut_pending) {
            /* The half-close already flushes: close when it is done. */
            s->close_after_shutdown = true;
            uv_timer_start(&s->linger, stream_linger_done, CAIRN_UV_LINGER, 0);
            return;
        }
        if (uv_shutdown(&s->shutdown, (uv_stream_t *)&s->h, stream_shutdown_done) == 0) {
            uv_timer_start(&s->linger, stream_linger_done, CAIRN_UV_LINGER, 0);
            return;
        }
    }
    stream_close_handles(s);
}

/* ---- listeners ----
 *
 * A listener is a socket of our own watched with a uv_poll_t, not a
 * uv_tcp_t: libuv has no way to stop a listening handle, and when accept()
 * fails for lack of descriptors (EMFILE, ENFILE) it either drops every
 * pending connection (its reserve-descriptor trick) or, once that reserve
 * is lost to another thread, calls back on every loop iteration: a busy
 * loop. Here the listener stops watching instead, counts the pause, and
 * looks again after CAIRN_UV_ACCEPT_RETRY_MIN, doubling up to
 * CAIRN_UV_ACCEPT_RETRY_MAX: the connections wait in the backlog and are
 * served once descriptors are free. At most CAIRN_UV_ACCEPT_BATCH
 * connections are taken per wakeup so timers keep running. */

/* First and longest wait before retrying accept() after EMFILE, in ms. */
#define CAIRN_UV_ACCEPT_RETRY_MIN 50
#define CAIRN_UV_ACCEPT_RETRY_MAX 1000
/* Connections accepted per readiness callback. */
#define CAIRN_UV_ACCEPT_BATCH 64

struct uv_listener {
    /* The common part (first), the listening socket and its watcher. */
    struct cairn_listener base;
    int fd;
    uv_poll_t poll;
    /* Retry timer while accepting is paused; the current wait in ms. */
    uv_timer_t retry;
    uint64_t backoff;
    /* Open libuv handles; the listener is freed when the last one closes. */
    int handles;
};

static void listener_closed(uv_handle_t *h)
{
    struct uv_listener *l = h->data;
    if (--l->handles == 0) {
        if (l->fd >= 0)
            close(l->fd);
        cairn_free(l);
    }
}

static void listener_poll(uv_poll_t *h, int status, int events);

static void listener_retry(uv_timer_t *t)
{
    struct uv_listener *l = t->data;
    if (!l->base.closing)
        uv_poll_start(&l->poll, UV_READABLE, listener_poll);
}

/* Out of descriptors: stop watching the socket for a while. */
static void listener_pause(struct uv_listener *l)
{
    l->base.accept_paused++;
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->retry, listener_retry, l->backoff, 0);
    l->backoff *= 2;
    if (l->backoff > CAIRN_UV_ACCEPT_RETRY_MAX)
        l->backoff = CAIRN_UV_ACCEPT_RETRY_MAX;
}

static void listener_poll(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct uv_listener *l = h->data;
    if (status < 0) {
        /* libuv stopped the watcher on a socket error: look again later
         * rather than never. */
        if (!l->base.closing)
            listener_pause(l);
        return;
    }
    for (int i = 0; i < CAIRN_UV_ACCEPT_BATCH && !l->base.closing; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                listener_pause(l);
                return;
            }
            /* EINTR, ECONNABORTED, and the network errors Linux reports
             * for one pending connection (which it consumes): the next. */
            continue;
        }
        l->backoff = CAIRN_UV_ACCEPT_RETRY_MIN;
        struct uv_stream_impl *s = stream_alloc(backend_of(l->base.loop));
        if (s == NULL) {
            /* No memory for it: closed at once, the peer sees EOF. */
            close(fd);
            l->base.rejected++;
            continue;
        }
        if (uv_tcp_open(&s->h, fd) < 0) {
            close(fd);
            stream_close_handles(s);
            continue;
        }
        uv_tcp_nodelay(&s->h, 1);
        if (!cairn__listener_accept(&l->base, &s->base))
            return;
    }
}

int cairn__uv_listen(cairn_loop *loop, const cairn_addr *addr, cairn_listener **ret_listener)
{
    struct uv_backend *b = backend_of(loop);
    struct sockaddr_storage ss;
    if (cairn__sockaddr_from_addr(addr, false, &ss) < 0)
        return CAIRN_EINVAL;
    socklen_t sslen =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cairn_err_from_errno(-errno);
    int one = 1;
    int zero = 0;
    if (ss.ss_family == AF_INET6) /* both families, as uv_tcp_bind without IPV6ONLY */
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)&ss, sslen) < 0 || listen(fd, CAIRN_UV_BACKLOG) < 0) {
        int r = cairn_err_from_errno(-errno);
        close(fd);
        return r;
    }
    struct uv_listener *l = cairn_calloc(1, sizeof(*l));
    if (l == NULL) {
        close(fd);
        return CAIRN_ENOMEM;
    }
    l->fd = fd;
    l->base.loop = loop;
    l->backoff = CAIRN_UV_ACCEPT_RETRY_MIN;
    int r = uv_poll_init_socket(b->uv, &l->poll, fd);
    if (r < 0) {
        close(fd);
        cairn_free(l);
        return map_uv(r);
    }
    l->poll.data = l;
    l->handles = 1;
    r = uv_timer_init(b->uv, &l->retry);
    if (r == 0) {
        l->retry.data = l;
        l->handles++;
        r = uv_poll_start(&l->poll, UV_READABLE, listener_poll);
        if (r < 0)
            uv_close((uv_handle_t *)&l->retry, listener_closed);
    }
    if (r < 0) {
        uv_close((uv_handle_t *)&l->poll, listener_closed);
        return map_uv(r);
    }
    *ret_listener = &l->base;
    return 0;
}

int cairn__uv_listener_local(cairn_listener *lst, cairn_addr *ret_addr)
{
    struct uv_listener *l = (struct uv_listener *)lst;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0)
        return cairn_err_from_errno(-errno);
    return cairn__addr_from_sockaddr((const struct sockaddr *)&ss, ret_addr);
}

void cairn__uv_listener_free(cairn_listener *lst)
{
    struct uv_listener *l = (struct uv_listener *)lst;
    /* uv_close stops and forgets the watcher at once, so the socket can
     * close now: nothing listens on the port when this returns, as with
     * a uv_tcp_t. */
    uv_close((uv_handle_t *)&l->poll, listener_closed);
    uv_close((uv_handle_t *)&l->retry, listener_closed);
    close(l->fd);
    l->fd = -1;
}
