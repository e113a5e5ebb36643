/* The TCP pinger: "is the server there" as a non-blocking TCP connect.
 *
 * Consul's rebalance pings a server with a Status.Ping RPC over its pooled
 * connection; cairn has no Consul RPC, so the closest honest check is that
 * the server accepts a connection on its RPC port within a timeout. Each
 * ping is one cairn_stream_dial; completion closes the stream and calls
 * done exactly once. Pings are kept on a list so that cancel(token) and
 * delete can close the dials still in flight; the loop promises no connect
 * callback after a close, which is what makes cancellation exact.
 */
#include "cairn/pinger_tcp.h"

#include "cairn/alloc.h"
#include "cairn/error.h"

struct ping {
    struct ping *next, *prev;
    struct cairn_pinger_tcp *owner;
    cairn_stream *stream;
    cairn_ping_done_cb done;
    void *token;
};

struct cairn_pinger_tcp {
    cairn_loop *loop;
    cairn_time timeout;
    /* Pings in flight (sentinel list). */
    struct ping list;
    size_t inflight;
};

static void unlink_ping(struct ping *pg)
{
    pg->prev->next = pg->next;
    pg->next->prev = pg->prev;
    pg->owner->inflight--;
}

static void on_connect(cairn_stream *s, int status, void *ud)
{
    struct ping *pg = ud;
    unlink_ping(pg);
    if (status == 0)
        cairn_stream_close(s);
    cairn_ping_done_cb done = pg->done;
    void *token = pg->token;
    cairn_free(pg);
    done(status == 0, status, token);
}

static int op_ping(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                   cairn_ping_done_cb done, void *token)
{
    cairn_pinger_tcp *p = impl;
    if (addr == NULL || done == NULL || addr->family == 0 || addr->port == 0)
        return CAIRN_EINVAL;
    if (p->inflight >= CAIRN_PINGER_TCP_MAX_INFLIGHT)
        return CAIRN_ELIMIT;
    struct ping *pg = cairn_calloc(1, sizeof *pg);
    if (pg == NULL)
        return CAIRN_ENOMEM;
    pg->owner = p;
    pg->done = done;
    pg->token = token;
    pg->prev = p->list.prev;
    pg->next = &p->list;
    p->list.prev->next = pg;
    p->list.prev = pg;
    p->inflight++;
    int rc = cairn_stream_dial(p->loop, addr, p->timeout, on_connect, pg, &pg->stream);
    if (rc != 0) {
        unlink_ping(pg);
        cairn_free(pg);
        return rc;
    }
    return 0;
}

static void op_cancel(void *impl, void *token)
{
    cairn_pinger_tcp *p = impl;
    struct ping *pg = p->list.next;
    while (pg != &p->list) {
        struct ping *next = pg->next;
        if (pg->token == token) {
            unlink_ping(pg);
            cairn_stream_close(pg->stream);
            cairn_free(pg);
        }
        pg = next;
    }
}

static const cairn_pinger_ops tcp_ops = {.ping = op_ping, .cancel = op_cancel};

int cairn_pinger_tcp_new(cairn_loop *loop, cairn_time timeout, cairn_pinger_tcp **ret_p)
{
    if (loop == NULL || ret_p == NULL)
        return CAIRN_EINVAL;
    cairn_pinger_tcp *p = cairn_calloc(1, sizeof *p);
    if (p == NULL)
        return CAIRN_ENOMEM;
    p->loop = loop;
    p->timeout = timeout > 0 ? timeout : CAIRN_PINGER_TCP_DEFAULT_TIMEOUT;
    p->list.next = p->list.prev = &p->list;
    *ret_p = p;
    return 0;
}

void cairn_pinger_tcp_delete(cairn_pinger_tcp *p)
{
    if (p == NULL)
        return;
    while (p->list.next != &p->list) {
        struct ping *pg = p->list.next;
        unlink_ping(pg);
        cairn_stream_close(pg->stream);
        cairn_free(pg);
    }
    cairn_free(p);
}

cairn_pinger cairn_pinger_tcp_get(cairn_pinger_tcp *p)
{
    cairn_pinger pg = {.ops = &tcp_ops, .impl = p};
    return pg;
}

size_t cairn_pinger_tcp_inflight(const cairn_pinger_tcp *p)
{
    return p->inflight;
}
