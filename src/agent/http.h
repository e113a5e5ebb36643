/* agent/http.h (internal): the agent's HTTP server, a thin libmicrohttpd
 * adapter over the endpoint logic of agent/http_api.h.
 *
 * Threads. MHD runs one internal thread (epoll) that accepts, parses and
 * writes. Route lookups (/v1/cairn/route/DC, /v1/cairn/routes) read only
 * the router, whose lookups are lock-free and thread-safe: they are
 * answered on the MHD thread at once. Every other request reads loop-thread
 * state (members, coordinates, counters) or acts on it (join, leave): the
 * MHD thread suspends the connection (MHD_suspend_connection), queues the
 * request and wakes the loop (one cairn_loop_post per batch); the loop
 * answers it and resumes the connection, and the MHD thread writes the
 * answer. Neither thread ever waits for the other, and a blocking query
 * parks a suspended connection on the loop side (no thread held).
 *
 * Limits (docs/limits.md): connections, per-connection memory (which caps
 * the request line and headers: 431 beyond), a deadline for each request's
 * headers counted from the connection's start or its previous answer (a
 * client trickling bytes is cut off), parked blocking queries, the
 * request queue to the loop.
 *
 * The server lives on the loop thread: new and delete there.
 */
#ifndef CAIRN_AGENT_HTTP_H
#define CAIRN_AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/agent.h"
#include "cairn/error.h"
#include "cairn/loop.h"
#include "cairn/time.h"
#include "agent/http_api.h"

/* The server (opaque). */
typedef struct cairn_http cairn_http;

/* Defaults (docs/limits.md). Connections: past the cap MHD stops accepting
 * (more wait in the listen backlog). Memory per connection: MHD's pool for the request line,
 * headers and its buffers; a request whose headers do not fit gets 431.
 * Header deadline: a request's headers must be complete this long after
 * the connection opened or its previous answer went out (it also bounds
 * idle keep-alive connections). Parked blocking queries: more are answered
 * at once. Queue: requests waiting for the loop; more get 503. */
#define CAIRN_HTTP_MAX_CONNS      512
#define CAIRN_HTTP_CONN_MEMORY    (32 * 1024)
#define CAIRN_HTTP_HEADER_TIMEOUT (10 * CAIRN_SEC)
#define CAIRN_HTTP_MAX_BLOCKING   256
#define CAIRN_HTTP_MAX_QUEUED     1024
/* How often parked blocking queries are re-evaluated and slow clients
 * looked for. */
#define CAIRN_HTTP_TICK (500 * CAIRN_MSEC)

/* Fills the extra counters of /v1/agent/metrics (the proxy's, the
 * router's): at most cap entries into out, returns how many. Loop thread;
 * the strings must stay valid until the next call. */
typedef size_t (*cairn_http_extra_cb)(cairn_http_counter *out, size_t cap, void *userdata);

/* Called on the loop thread once the answer to PUT /v1/agent/leave has
 * been sent (the agent has left): the owner shuts down. */
typedef void (*cairn_http_left_cb)(void *userdata);

/* Configuration; zero fields take the defaults above. */
typedef struct cairn_http_config {
    /* Listen address "host:port" (an IP; "[v6]:port"); required. */
    const char *addr;
    /* Limits. */
    size_t max_conns, conn_memory, max_blocking, max_queued;
    cairn_time header_timeout;
    /* The router to serve; NULL: cairn_agent_router(agent). */
    cairn_router *router;
    /* Datacenter to report; NULL: cairn_agent_dc(agent), and "dc1" when
     * that is empty (Consul's default). */
    const char *dc;
    /* Software version for agent/self. */
    const char *version;
    /* Hooks; may be NULL. */
    cairn_http_extra_cb extra;
    void *extra_ud;
    cairn_http_left_cb left;
    void *left_ud;
} cairn_http_config;

/* Server counters. */
typedef struct cairn_http_server_stats {
    /* Requests answered; connections refused or cut off by a limit. */
    uint64_t requests, rejected;
    /* Blocking queries parked now; route lookups and misses. */
    uint64_t blocking, route_lookups, route_misses;
    /* Times accept() found no free descriptor and accepting paused. */
    uint64_t accept_paused;
} cairn_http_server_stats;

/* cairn__http_new starts the server for agent on loop: 0, CAIRN_EINVAL (bad
 * address, diag says why), CAIRN_EADDRINUSE or another start failure
 * (CAIRN_EIO), CAIRN_ENOMEM. The agent must outlive the server. */
int cairn__http_new(cairn_loop *loop, cairn_agent *agent, const cairn_http_config *cfg,
                    cairn_diag *diag, cairn_http **ret_http);

/* cairn__http_port: the bound TCP port (useful with port 0). */
uint16_t cairn__http_port(const cairn_http *h);

/* cairn__http_get_stats copies the counters. Loop thread. */
void cairn__http_get_stats(const cairn_http *h, cairn_http_server_stats *ret);

/* cairn__http_delete stops the server: waiting requests are answered 503,
 * connections closed, the MHD thread joined. NULL ok. Loop thread. Delete
 * it before the agent and without a loop turn in between: a join or leave
 * the API started holds an agent completion that names one of its
 * requests (cairn_agent_delete drops it). A wake-up still queued on the
 * loop keeps the server's memory until it runs. */
void cairn__http_delete(cairn_http *h);

#endif
