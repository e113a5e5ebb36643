/* The cairn_loop front for packets and streams.
 *
 * Backends (libuv, the simulator) move bytes; this file owns the rules that
 * must be the same everywhere, so protocol code sees one behaviour:
 *
 *   - argument checks, and CAIRN_ENOTSUP for a backend without networking;
 *   - callback lifetime: an object closed inside its own callback is only
 *     marked; it is freed when the outermost callback returns, and after a
 *     close no callback of it runs again (libuv's handle rules, as the
 *     timers' in_callback/delete_pending);
 *   - the stream deadline: one cairn_timer per stream bounds the whole
 *     exchange. A dial arms it; while connecting it fails the dial
 *     (connect_cb gets CAIRN_ETIMEDOUT, then the stream is closed), and
 *     once connected it stays armed, so the read callback gets
 *     CAIRN_ETIMEDOUT at the same deadline: every outbound exchange has a
 *     deadline from dial to last byte without its owner doing anything
 *     (a peer that accepts and goes silent cannot hold a stream). A
 *     long-lived connection disarms or moves it with
 *     cairn_stream_set_timeout. Every backend times out identically, on
 *     its own clock;
 *   - the write queue cap (CAIRN_STREAM_WRITE_MAX): memberlist writes whole
 *     push/pull states to a stream, and an unresponsive peer must not let
 *     that grow without bound.
 */
#include "cairn/loop.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"

/* ---- packets ---- */

int cairn_udp_bind(cairn_loop *loop, const cairn_addr *addr, cairn_udp_recv_cb cb, void *userdata,
                   cairn_udp **ret_udp)
{
    if (loop == NULL || addr == NULL || cb == NULL || ret_udp == NULL ||
        (addr->family != 4 && addr->family != 6))
        return CAIRN_EINVAL;
    if (loop->ops->udp_bind == NULL)
        return CAIRN_ENOTSUP;
    cairn_udp *u;
    int r = loop->ops->udp_bind(loop, addr, &u);
    if (r < 0)
        return r;
    u->loop = loop;
    u->cb = cb;
    u->userdata = userdata;
    *ret_udp = u;
    return 0;
}

int cairn_udp_send(cairn_udp *udp, const cairn_addr *to, const uint8_t *data, size_t len)
{
    if (udp == NULL || to == NULL || (data == NULL && len > 0) ||
        (to->family != 4 && to->family != 6) || to->port == 0)
        return CAIRN_EINVAL;
    if (udp->closing)
        return CAIRN_ESHUTDOWN;
    if (len > CAIRN_UDP_RECV_MAX)
        return CAIRN_EMSGSIZE;
    int r = udp->loop->ops->udp_send(udp, to, data, len);
    if (r < 0) {
        udp->stats.tx_errors++;
        return r;
    }
    udp->stats.tx_packets++;
    udp->stats.tx_bytes += len;
    return 0;
}

int cairn_udp_local(cairn_udp *udp, cairn_addr *ret_addr)
{
    if (udp == NULL || ret_addr == NULL)
        return CAIRN_EINVAL;
    return udp->loop->ops->udp_local(udp, ret_addr);
}

void cairn_udp_get_stats(const cairn_udp *udp, cairn_udp_stats *ret_stats)
{
    *ret_stats = udp->stats;
}

void cairn_udp_close(cairn_udp *udp)
{
    if (udp == NULL || udp->closing)
        return;
    udp->closing = true;
    if (udp->depth == 0)
        udp->loop->ops->udp_free(udp);
}

bool cairn__udp_deliver(cairn_udp *udp, const cairn_addr *from, const uint8_t *data, size_t len)
{
    if (udp->closing)
        return false;
    udp->stats.rx_packets++;
    udp->stats.rx_bytes += len;
    udp->depth++;
    udp->cb(udp, from, data, len, udp->userdata);
    udp->depth--;
    if (udp->closing) {
        if (udp->depth == 0)
            udp->loop->ops->udp_free(udp);
        return false;
    }
    return true;
}

/* ---- listeners ---- */

int cairn_listen(cairn_loop *loop, const cairn_addr *addr, cairn_accept_cb cb, void *userdata,
                 cairn_listener **ret_listener)
{
    if (loop == NULL || addr == NULL || cb == NULL || ret_listener == NULL ||
        (addr->family != 4 && addr->family != 6))
        return CAIRN_EINVAL;
    if (loop->ops->listen == NULL)
        return CAIRN_ENOTSUP;
    cairn_listener *l;
    int r = loop->ops->listen(loop, addr, &l);
    if (r < 0)
        return r;
    l->loop = loop;
    l->cb = cb;
    l->userdata = userdata;
    *ret_listener = l;
    return 0;
}

int cairn_listener_local(cairn_listener *lst, cairn_addr *ret_addr)
{
    if (lst == NULL || ret_addr == NULL)
        return CAIRN_EINVAL;
    return lst->loop->ops->listener_local(lst, ret_addr);
}

void cairn_listener_close(cairn_listener *lst)
{
    if (lst == NULL || lst->closing)
        return;
    lst->closing = true;
    if (lst->depth == 0)
        lst->loop->ops->listener_free(lst);
}

/* ---- streams ---- */

static void stream_free_now(cairn_stream *s)
{
    cairn_timer_delete(s->timer);
    s->timer = NULL;
    s->loop->ops->stream_free(s);
}

/* After a callback: free a stream closed inside it. Returns false when
 * the stream is closing. */
static bool stream_leave(cairn_stream *s)
{
    s->depth--;
    if (!s->closing)
        return true;
    if (s->depth == 0)
        stream_free_now(s);
    return false;
}

static void call_read(cairn_stream *s, const uint8_t *data, size_t len, int status)
{
    s->depth++;
    s->read_cb(s, data, len, status, s->read_ud);
    stream_leave(s);
}

static void on_stream_deadline(cairn_timer *t, void *userdata)
{
    (void)t;
    cairn_stream *s = userdata;
    if (s->connecting) {
        cairn__stream_connect_done(s, CAIRN_ETIMEDOUT);
    } else if (s->pending_end < 0 && s->read_cb != NULL && !s->paused) {
        /* An end that came before reading began (see start_read). */
        int status = s->pending_end;
        s->pending_end = 0;
        call_read(s, NULL, 0, status);
    } else {
        cairn__stream_deliver(s, NULL, 0, CAIRN_ETIMEDOUT);
    }
}

/* Common setup of a new stream object made by the backend. */
static int stream_setup(cairn_loop *loop, cairn_stream *s)
{
    s->loop = loop;
    return cairn_timer_new(loop, on_stream_deadline, s, &s->timer);
}

bool cairn__listener_accept(cairn_listener *lst, cairn_stream *stream)
{
    if (lst->closing || stream_setup(lst->loop, stream) < 0) {
        stream->loop = lst->loop;
        stream->closing = true;
        stream_free_now(stream);
        return !lst->closing;
    }
    stream->connected = true;
    lst->depth++;
    lst->cb(lst, stream, lst->userdata);
    lst->depth--;
    if (lst->closing) {
        if (lst->depth == 0)
            lst->loop->ops->listener_free(lst);
        return false;
    }
    return true;
}

int cairn_stream_dial(cairn_loop *loop, const cairn_addr *addr, cairn_time timeout,
                      cairn_connect_cb cb, void *userdata, cairn_stream **ret_stream)
{
    if (loop == NULL || addr == NULL || cb == NULL || ret_stream == NULL || timeout <= 0 ||
        (addr->family != 4 && addr->family != 6) || addr->port == 0)
        return CAIRN_EINVAL;
    if (loop->ops->stream_dial == NULL)
        return CAIRN_ENOTSUP;
    cairn_stream *s;
    int r = loop->ops->stream_dial(loop, addr, &s);
    if (r < 0)
        return r;
    r = stream_setup(loop, s);
    if (r < 0) {
        s->closing = true;
        stream_free_now(s);
        return r;
    }
    s->connect_cb = cb;
    s->connect_ud = userdata;
    s->connecting = true;
    cairn_timer_start(s->timer, timeout);
    *ret_stream = s;
    return 0;
}

bool cairn__stream_connect_done(cairn_stream *s, int status)
{
    if (s->closing || !s->connecting)
        return !s->closing;
    s->connecting = false;
    /* Connected: the dial's deadline stays armed for the exchange. */
    if (status == 0)
        s->connected = true;
    else
        cairn_timer_stop(s->timer);
    s->depth++;
    s->connect_cb(s, status, s->connect_ud);
    if (status < 0 && !s->closing)
        s->closing = true;
    return stream_leave(s);
}

bool cairn__stream_deliver(cairn_stream *s, const uint8_t *data, size_t len, int status)
{
    if (s->closing || s->ended)
        return !s->closing;
    if (status < 0) {
        s->ended = true;
        cairn_timer_stop(s->timer);
        /* An end before reading began, or while paused (a deadline, a
         * write error), waits for start_read. */
        if (s->read_cb == NULL || s->paused) {
            s->pending_end = status;
            return true;
        }
    }
    if (s->read_cb == NULL || s->paused)
        return true; /* backends only deliver bytes while reading */
    s->depth++;
    s->read_cb(s, data, len, status, s->read_ud);
    return stream_leave(s);
}

int cairn_stream_start_read(cairn_stream *s, cairn_read_cb cb, void *userdata)
{
    if (s == NULL || cb == NULL)
        return CAIRN_EINVAL;
    if (s->closing)
        return CAIRN_ESHUTDOWN;
    if (!s->connected)
        return CAIRN_ENOTCONN;
    bool first = s->read_cb == NULL;
    s->read_cb = cb;
    s->read_ud = userdata;
    if (!first) {
        if (!s->paused)
            return 0;
        s->paused = false;
        if (s->pending_end < 0) {
            cairn_timer_start(s->timer, 0);
            return 0;
        }
        return s->ended ? 0 : s->loop->ops->stream_start_read(s);
    }
    if (s->pending_end < 0) {
        /* An end (say a timeout) came before reading began: report it as
         * the first event, from the loop like every callback. */
        cairn_timer_start(s->timer, 0);
        return 0;
    }
    if (s->ended)
        return 0;
    return s->loop->ops->stream_start_read(s);
}

int cairn_stream_write(cairn_stream *s, const uint8_t *data, size_t len)
{
    if (s == NULL || (data == NULL && len > 0))
        return CAIRN_EINVAL;
    if (s->closing || s->write_shut)
        return CAIRN_ESHUTDOWN;
    if (!s->connected)
        return CAIRN_ENOTCONN;
    if (len == 0)
        return 0;
    if (len > CAIRN_STREAM_WRITE_MAX || s->write_queued > CAIRN_STREAM_WRITE_MAX - len)
        return CAIRN_ELIMIT;
    return s->loop->ops->stream_write(s, data, len);
}

int cairn_stream_read_stop(cairn_stream *s)
{
    if (s == NULL)
        return CAIRN_EINVAL;
    if (s->closing)
        return CAIRN_ESHUTDOWN;
    if (s->paused || s->read_cb == NULL || s->ended)
        return 0;
    s->paused = true;
    return s->loop->ops->stream_read_stop(s);
}

int cairn_stream_shutdown(cairn_stream *s)
{
    if (s == NULL)
        return CAIRN_EINVAL;
    if (s->closing || s->write_shut)
        return CAIRN_ESHUTDOWN;
    if (!s->connected)
        return CAIRN_ENOTCONN;
    s->write_shut = true;
    return s->loop->ops->stream_shutdown(s);
}

void cairn_stream_set_written_cb(cairn_stream *s, cairn_written_cb cb, void *userdata)
{
    if (s == NULL)
        return;
    s->written_cb = cb;
    s->written_ud = userdata;
}

void cairn__stream_written(cairn_stream *s)
{
    if (s->closing || s->written_cb == NULL)
        return;
    s->depth++;
    s->written_cb(s, s->write_queued, s->written_ud);
    stream_leave(s);
}

size_t cairn_stream_write_queued(const cairn_stream *s)
{
    return s->write_queued;
}

void cairn_stream_set_timeout(cairn_stream *s, cairn_time timeout)
{
    if (s == NULL || s->closing || s->ended)
        return;
    if (s->connecting && timeout <= 0)
        return; /* a dial always has a deadline */
    if (timeout <= 0)
        cairn_timer_stop(s->timer);
    else
        cairn_timer_start(s->timer, timeout);
}

int cairn_stream_peer(cairn_stream *s, cairn_addr *ret_addr)
{
    if (s == NULL || ret_addr == NULL)
        return CAIRN_EINVAL;
    return s->loop->ops->stream_peer(s, ret_addr);
}

void cairn_stream_close(cairn_stream *s)
{
    if (s == NULL || s->closing)
        return;
    s->closing = true;
    cairn_timer_stop(s->timer);
    if (s->depth == 0)
        stream_free_now(s);
}

uint64_t cairn_listener_rejected(const cairn_listener *lst)
{
    return lst->rejected;
}

uint64_t cairn_listener_accept_paused(const cairn_listener *lst)
{
    return lst->accept_paused;
}
