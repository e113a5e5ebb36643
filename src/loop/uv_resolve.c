/* Name resolution on libuv: getaddrinfo on libuv's thread pool.
 *
 * A lookup in flight cannot be stopped once a pool thread runs it (the
 * system resolver has no cancellation), so the lookup is a separate object
 * from the request: cancelling (or the front's deadline) detaches the
 * request, and the lookup frees itself when getaddrinfo returns, touching
 * nothing else. A lookup still queued is taken back with uv_cancel.
 */
#include "loop/uv_internal.h"
#include "cairn/alloc.h"
#include "cairn/error.h"
#include "loop/sockaddr.h"

#include <netdb.h>
#include <string.h>

struct uv_lookup {
    uv_getaddrinfo_t gai;
    /* The request it serves; NULL once detached. */
    cairn_resolve *req;
};

static int map_gai_error(int status)
{
    switch (status) {
    case UV_EAI_NONAME:
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY:
        return CAIRN_ENOHOST;
    case UV_EAI_AGAIN:
        return CAIRN_EAGAIN;
    case UV_EAI_MEMORY:
        return CAIRN_ENOMEM;
    case UV_ECANCELED:
    case UV_EAI_CANCELED:
        return CAIRN_ECANCELED;
    default:
        return CAIRN_EIO;
    }
}

static void on_resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
    struct uv_lookup *lk = gai->data;
    cairn_resolve *req = lk->req;
    if (req != NULL) {
        cairn_addr addrs[CAIRN_RESOLVE_MAX_ADDRS];
        size_t n = 0;
        for (struct addrinfo *ai = res; status == 0 && ai != NULL && n < CAIRN_RESOLVE_MAX_ADDRS;
             ai = ai->ai_next) {
            /* getaddrinfo lists an address once per socket type unless
             * hinted; the hint asks for datagrams only, so no duplicates. */
            if (cairn__addr_from_sockaddr(ai->ai_addr, &addrs[n]) == 0)
                n++;
        }
        req->impl = NULL;
        cairn__resolve_done(req, status == 0 ? 0 : map_gai_error(status), addrs, n);
    }
    uv_freeaddrinfo(res);
    cairn_free(lk);
}

int cairn__uv_resolve(cairn_resolve *req)
{
    struct uv_backend *b = (struct uv_backend *)req->loop;
    struct uv_lookup *lk = cairn_calloc(1, sizeof(*lk));
    if (lk == NULL)
        return CAIRN_ENOMEM;
    lk->req = req;
    lk->gai.data = lk;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    int r = uv_getaddrinfo(b->uv, &lk->gai, on_resolved, req->host, NULL, &hints);
    if (r < 0) {
        cairn_free(lk);
        return map_gai_error(r);
    }
    req->impl = lk;
    return 0;
}

void cairn__uv_resolve_cancel(cairn_resolve *req)
{
    struct uv_lookup *lk = req->impl;
    if (lk == NULL)
        return;
    /* Detach; on_resolved still runs (with UV_EAI_CANCELED when uv_cancel
     * took it back before a thread started it) and frees the lookup. */
    lk->req = NULL;
    req->impl = NULL;
    uv_cancel((uv_req_t *)&lk->gai);
}
