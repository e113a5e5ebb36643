/* Name resolution, the front: one request type for every backend.
 *
 * The front owns the request, its deadline and IP literals; a backend only
 * turns a name into addresses (libuv: getaddrinfo on its thread pool,
 * uv_resolve.c; the simulator: its host table, sim_resolve.c). The deadline
 * is a loop timer, so a resolver that never answers (a DNS server gone
 * silent) costs the caller `timeout` and no more: the request ends with
 * CAIRN_ETIMEDOUT and the backend is told to drop it. An IP literal never
 * reaches the backend: the same timer, armed at zero delay, delivers it, so
 * the callback still runs from the loop and never from inside
 * cairn_resolve_start.
 */
#include "cairn/loop.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/loop_internal.h"

#include <string.h>

static void resolve_free(cairn_resolve *req)
{
    cairn_timer_delete(req->timer);
    cairn_free(req);
}

void cairn__resolve_done(cairn_resolve *req, int status, const cairn_addr *addrs, size_t n)
{
    cairn_addr out[CAIRN_RESOLVE_MAX_ADDRS];
    if (status == 0 && n == 0)
        status = CAIRN_ENOHOST;
    if (status < 0)
        n = 0;
    if (n > CAIRN_RESOLVE_MAX_ADDRS)
        n = CAIRN_RESOLVE_MAX_ADDRS;
    for (size_t i = 0; i < n; i++) {
        out[i] = addrs[i];
        out[i].port = req->port;
    }
    cairn_timer_stop(req->timer);
    req->cb(req, status, n > 0 ? out : NULL, n, req->userdata);
    resolve_free(req);
}

static void on_timer(cairn_timer *timer, void *userdata)
{
    cairn_resolve *req = userdata;
    (void)timer;
    if (req->is_literal) {
        cairn__resolve_done(req, 0, &req->literal, 1);
        return;
    }
    if (req->loop->ops->resolve_cancel != NULL)
        req->loop->ops->resolve_cancel(req);
    cairn__resolve_done(req, CAIRN_ETIMEDOUT, NULL, 0);
}

int cairn_resolve_start(cairn_loop *loop, const char *host, uint16_t port, cairn_time timeout,
                        cairn_resolve_cb cb, void *userdata, cairn_resolve **ret_req)
{
    if (loop == NULL || host == NULL || cb == NULL || timeout <= 0)
        return CAIRN_EINVAL;
    size_t len = strlen(host);
    if (len == 0 || len > CAIRN_RESOLVE_HOST_MAX)
        return CAIRN_EINVAL;
    cairn_resolve *req = cairn_calloc(1, sizeof(*req));
    if (req == NULL)
        return CAIRN_ENOMEM;
    req->loop = loop;
    req->cb = cb;
    req->userdata = userdata;
    req->port = port;
    memcpy(req->host, host, len + 1);
    int r = cairn_timer_new(loop, on_timer, req, &req->timer);
    if (r < 0) {
        cairn_free(req);
        return r;
    }
    req->is_literal = cairn_addr_parse_ip(host, port, &req->literal) == 0;
    if (req->is_literal) {
        cairn_timer_start(req->timer, 0);
    } else {
        r = loop->ops->resolve != NULL ? loop->ops->resolve(req) : CAIRN_ENOTSUP;
        if (r < 0) {
            resolve_free(req);
            return r;
        }
        cairn_timer_start(req->timer, timeout);
    }
    if (ret_req != NULL)
        *ret_req = req;
    return 0;
}

void cairn_resolve_cancel(cairn_resolve *req)
{
    if (req == NULL)
        return;
    if (!req->is_literal && req->loop->ops->resolve_cancel != NULL)
        req->loop->ops->resolve_cancel(req);
    resolve_free(req);
}

/* ---- several hosts ---- */

struct hosts_item {
    cairn_resolve_hosts *parent;
    cairn_resolve *req;
    /* Filled when done: status and addresses. */
    int status;
    size_t n;
    cairn_addr addrs[CAIRN_RESOLVE_MAX_ADDRS];
    char host[CAIRN_RESOLVE_HOST_MAX + 1];
    uint16_t port;
};

struct cairn_resolve_hosts {
    cairn_resolve_hosts_cb cb;
    void *userdata;
    size_t n, pending;
    struct hosts_item items[];
};

static void hosts_finish(cairn_resolve_hosts *h)
{
    size_t total = 0, failed = 0;
    for (size_t i = 0; i < h->n; i++)
        total += h->items[i].status < 0 ? 0 : h->items[i].n;
    cairn_addr *all = total > 0 ? cairn_calloc(total, sizeof(*all)) : NULL;
    if (total > 0 && all == NULL) {
        h->cb(h, CAIRN_ENOMEM, NULL, 0, 0, NULL, 0, h->userdata);
        cairn_free(h);
        return;
    }
    total = 0;
    const char *first_failed = NULL;
    int first_err = 0;
    for (size_t i = 0; i < h->n; i++) {
        struct hosts_item *it = &h->items[i];
        if (it->status < 0) {
            if (failed++ == 0) {
                first_failed = it->host;
                first_err = it->status;
            }
            continue;
        }
        for (size_t j = 0; j < it->n; j++)
            all[total++] = it->addrs[j];
    }
    int status = total > 0 ? 0 : first_err;
    h->cb(h, status, all, total, failed, first_failed, first_err, h->userdata);
    cairn_free(all);
    cairn_free(h);
}

static void on_host(cairn_resolve *req, int status, const cairn_addr *addrs, size_t n,
                    void *userdata)
{
    struct hosts_item *it = userdata;
    (void)req;
    it->req = NULL;
    it->status = status;
    it->n = n;
    for (size_t i = 0; i < n; i++)
        it->addrs[i] = addrs[i];
    if (--it->parent->pending == 0)
        hosts_finish(it->parent);
}

int cairn_resolve_hosts_start(cairn_loop *loop, const char *const *hosts, size_t n,
                              uint16_t default_port, cairn_time timeout, cairn_resolve_hosts_cb cb,
                              void *userdata, cairn_resolve_hosts **ret_req, cairn_diag *diag)
{
    if (loop == NULL || hosts == NULL || n == 0 || cb == NULL || timeout <= 0)
        return CAIRN_EINVAL;
    if (n > CAIRN_RESOLVE_HOSTS_MAX)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "%zu hosts, limit %d", n,
                              CAIRN_RESOLVE_HOSTS_MAX);
    cairn_resolve_hosts *h = cairn_calloc(1, sizeof(*h) + n * sizeof(h->items[0]));
    if (h == NULL)
        return CAIRN_ENOMEM;
    h->cb = cb;
    h->userdata = userdata;
    h->n = n;
    for (size_t i = 0; i < n; i++) {
        struct hosts_item *it = &h->items[i];
        cairn_diag why = {0};
        int r = cairn_addr_split_host(hosts[i], default_port, it->host, sizeof(it->host), &it->port,
                                      &why);
        if (r < 0) {
            cairn_free(h);
            return cairn_diag_set(diag, r, "\"%.300s\": %s", hosts[i], why.msg);
        }
        it->parent = h;
    }
    for (size_t i = 0; i < n; i++) {
        struct hosts_item *it = &h->items[i];
        int r = cairn_resolve_start(loop, it->host, it->port, timeout, on_host, it, &it->req);
        if (r < 0) {
            for (size_t j = 0; j < i; j++)
                cairn_resolve_cancel(h->items[j].req);
            cairn_free(h);
            return r;
        }
        h->pending++;
    }
    if (ret_req != NULL)
        *ret_req = h;
    return 0;
}

void cairn_resolve_hosts_cancel(cairn_resolve_hosts *req)
{
    if (req == NULL)
        return;
    for (size_t i = 0; i < req->n; i++)
        cairn_resolve_cancel(req->items[i].req);
    cairn_free(req);
}
