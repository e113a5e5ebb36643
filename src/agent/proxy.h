/* The agent's client-side TCP proxy (`cairn agent --proxy LISTEN=DC`).
 *
 * One cairn_proxy listens on one address and connects every accepted
 * connection to the server the Router picks for its datacenter at that
 * moment, then splices bytes both ways. Internal to the library (agent
 * layer); the CLI and the HTTP metrics endpoint use it. Loop thread only.
 * docs/PROXY.md describes the semantics and limits.
 */
#ifndef CAIRN_AGENT_PROXY_H
#define CAIRN_AGENT_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/log.h"
#include "cairn/loop.h"
#include "cairn/router.h"
#include "cairn/server.h"
#include "cairn/time.h"

/* Defaults (a zero config field takes them). */
/* Connect deadline per attempt: a refused connect fails at once, a
 * black-holed server (dead host, partition) after this long. */
#define CAIRN_PROXY_CONNECT_TIMEOUT (2 * CAIRN_SEC)
/* Connect attempts per client connection (the first plus two retries, each
 * on the route the Router gives after notify_failed rotated the last). */
#define CAIRN_PROXY_ATTEMPTS 3
/* A connection with no byte either way for this long is closed. */
#define CAIRN_PROXY_IDLE_TIMEOUT (5 * CAIRN_MIN)
/* Connections open at once per proxy; more are accepted and closed. */
#define CAIRN_PROXY_MAX_CONNS 1024
/* Back-pressure bound: a side's reading stops while the other side's
 * write queue holds more than this, and resumes at half of it. */
#define CAIRN_PROXY_BUFFER_MAX (256u * 1024)

/* Opaque: one listening proxy. */
typedef struct cairn_proxy cairn_proxy;

/* What a proxy needs; strings are copied. */
typedef struct cairn_proxy_config {
    /* Where to listen (port 0 picks one). */
    cairn_addr listen;
    /* The datacenter whose servers connections go to. */
    const char *dc;
    /* Routes come from here (borrowed; must outlive the proxy). NULL: no
     * routing yet, every connection is closed at once (counted no_route). */
    cairn_router *router;
    /* Zero: the CAIRN_PROXY_* defaults. */
    cairn_time connect_timeout;
    unsigned attempts;
    cairn_time idle_timeout;
    size_t max_conns;
    size_t buffer_max;
} cairn_proxy_config;

/* Counters of one proxy (for the stats record and the metrics endpoint). */
typedef struct cairn_proxy_stats {
    /* Connections accepted (including those refused by the cap). */
    uint64_t accepted;
    /* Connections open now (connecting or splicing). */
    uint64_t active;
    /* Connect attempts that failed (refused, timed out, unreachable). */
    uint64_t connect_failures;
    /* Attempts made after a failed one. */
    uint64_t retries;
    /* Connections that reached a server only after a failed attempt. */
    uint64_t failovers;
    /* Bytes client->server and server->client. */
    uint64_t bytes_up, bytes_down;
    /* Connections closed by an error: every attempt failed, no route, a
     * read or write error on either side. */
    uint64_t closed_error;
    /* Of those: no route (no router, unknown datacenter, none reachable). */
    uint64_t no_route;
    /* Connections closed because the cap was reached. */
    uint64_t refused_cap;
    /* Connections closed by the idle timeout. */
    uint64_t idle_closed;
    /* Times a side's reading was paused for back-pressure. */
    uint64_t paused;
} cairn_proxy_stats;

/* cairn__proxy_new listens on cfg->listen. 0, CAIRN_EINVAL (no dc),
 * CAIRN_ENOMEM, or the listen error (CAIRN_EADDRINUSE ...). logger may be
 * NULL (copied). */
int cairn__proxy_new(cairn_loop *loop, const cairn_proxy_config *cfg, const cairn_logger *logger,
                     cairn_proxy **ret_proxy);

/* cairn__proxy_delete closes the listener and every connection. NULL ok. */
void cairn__proxy_delete(cairn_proxy *p);

/* cairn__proxy_set_router replaces the router new connections use (NULL:
 * none). Connections already splicing are not touched. */
void cairn__proxy_set_router(cairn_proxy *p, cairn_router *router);

/* cairn__proxy_stats copies the counters. */
void cairn__proxy_stats(const cairn_proxy *p, cairn_proxy_stats *ret_stats);

/* cairn__proxy_local: the bound address. */
int cairn__proxy_local(cairn_proxy *p, cairn_addr *ret_addr);

/* cairn__proxy_dc: the datacenter (owned by p). */
const char *cairn__proxy_dc(const cairn_proxy *p);

/* cairn__proxy_parse_spec splits "LISTEN=DC" (LISTEN is IP:PORT or
 * [IPv6]:PORT, port 1-65535; DC non-empty, at most CAIRN_SERVER_DC_MAX-1
 * bytes) into *ret_addr and dc (a buffer of dc_cap bytes). 0, or
 * CAIRN_EINVAL with why (a sentence for the flag's message). */
int cairn__proxy_parse_spec(const char *spec, cairn_addr *ret_addr, char *dc, size_t dc_cap,
                            char *why, size_t why_cap);

#endif
