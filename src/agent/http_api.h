/* agent/http_api.h (internal): the endpoint logic of the agent's HTTP API,
 * Consul's shapes, as pure functions from a request to a response.
 *
 * A request (method, unescaped path, query parameters) and a view of the
 * agent (datacenter, node name, router, LAN and WAN cluster seams,
 * counters) go in; a status, Consul's headers (X-Consul-Index,
 * X-Consul-KnownLeader, X-Consul-LastContact) and a body come out. No
 * socket, no clock, no loop: the MHD adapter (agent/http.h) owns those, and
 * the unit tests call these functions directly with a router over mock
 * clusters.
 *
 * Three kinds of work come out of cairn__http_api_handle:
 *  - an answer (status + body), for every read endpoint and every error;
 *  - an action the caller must carry out and then answer (join, force
 *    leave, leave), validated and parsed here: resp->action says which;
 *  - a blocking query (coordinate/nodes with index=): resp->block_index
 *    and resp->block_wait say how long the caller may hold the answer
 *    while the index stays at or below block_index.
 *
 * Threading: cairn__http_api_is_fast(req) requests (cairn's route lookups)
 * read only the router, whose lookups are thread-safe, and may be handled
 * on any thread; every other request reads cluster seams (loop-thread
 * state) and must be handled on the loop thread.
 */
#ifndef CAIRN_AGENT_HTTP_API_H
#define CAIRN_AGENT_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/memberlist.h"
#include "cairn/router.h"
#include "cairn/serf.h"
#include "cairn/time.h"

/* Most query parameters kept per request (the rest are ignored). */
#define CAIRN_HTTP_MAX_PARAMS 16
/* Longest join address or force-leave node name accepted in a path. */
#define CAIRN_HTTP_TARGET_MAX 256
/* Blocking queries: Consul's default and maximum wait (agent/http.go
 * parseWait caps at 10 minutes), and its jitter divisor (wait/16 added). */
#define CAIRN_HTTP_WAIT_DEFAULT (5 * CAIRN_MIN)
#define CAIRN_HTTP_WAIT_MAX     (10 * CAIRN_MIN)
#define CAIRN_HTTP_WAIT_JITTER  16

/* One query parameter; value is NULL for "?prune" (no '='). */
typedef struct cairn_http_param {
    /* Name and value, NUL-terminated, borrowed. */
    const char *key;
    const char *value;
} cairn_http_param;

/* A request as the adapter hands it over. */
typedef struct cairn_http_req {
    /* "GET", "PUT" ... (borrowed). */
    const char *method;
    /* The path, percent-decoded, without the query ("/v1/agent/members"). */
    const char *path;
    /* Query parameters in arrival order. */
    cairn_http_param params[CAIRN_HTTP_MAX_PARAMS];
    size_t n_params;
} cairn_http_req;

/* Actions the caller performs (then answers 200 or 500). */
enum cairn_http_action {
    CAIRN_HTTP_ACT_NONE = 0,
    /* Join resp->target (an address, host[:port]) on LAN or WAN (resp->wan). */
    CAIRN_HTTP_ACT_JOIN,
    /* Force-leave member resp->target (resp->prune, resp->wan). */
    CAIRN_HTTP_ACT_FORCE_LEAVE,
    /* Gracefully leave and shut down. */
    CAIRN_HTTP_ACT_LEAVE,
};

/* Extra counters a component exposes through /v1/agent/metrics (the hook
 * for the proxy's and the router's counters). */
typedef struct cairn_http_counter {
    /* Metric name without prefix ("proxy_connections"); borrowed. */
    const char *name;
    /* One-line help for the Prometheus format; borrowed. */
    const char *help;
    /* Value. */
    double value;
    /* true: a gauge (goes up and down); false: a counter. */
    bool gauge;
} cairn_http_counter;

/* What the metrics and self endpoints report; filled by the caller. */
typedef struct cairn_http_stats {
    /* LAN memberlist and serf counters. */
    cairn_ml_stats ml_lan;
    cairn_serf_stats serf_lan;
    /* WAN ones, valid when has_wan. */
    bool has_wan;
    cairn_ml_stats ml_wan;
    cairn_serf_stats serf_wan;
    /* HTTP server counters: requests answered, rejected by a limit
     * (connection cap, 431, slow clients cut off), blocking queries now
     * parked, route lookups and those that found no server. */
    uint64_t http_requests, http_rejected, http_blocking;
    uint64_t route_lookups, route_misses;
    /* Extra counters (proxy, router): n_extra entries, borrowed. */
    const cairn_http_counter *extra;
    size_t n_extra;
} cairn_http_stats;

/* What the endpoints see of the agent. */
typedef struct cairn_http_view {
    /* Local datacenter and node name (required, borrowed). */
    const char *dc;
    const char *node;
    /* Software version reported by agent/self. */
    const char *version;
    /* This agent is a server (agent/self Config.Server). */
    bool server;
    /* The router or NULL (then catalog/datacenters is [dc] and routes are
     * unknown). */
    cairn_router *router;
    /* LAN members; WAN members or NULL (a client agent). Loop thread. */
    const cairn_cluster *lan;
    const cairn_cluster *wan;
    /* Counters for metrics and self; NULL reads as zeros. */
    const cairn_http_stats *stats;
    /* Metrics "Timestamp" (go-metrics: the start of the 10 s interval,
     * "2026-12-07 01:00:00 +0000 UTC"); NULL reads as "". */
    const char *timestamp;
    /* The X-Consul-Index to report (>= 1; kept by the caller, bumped when
     * the coordinate/nodes answer changes). */
    uint64_t index;
} cairn_http_view;

/* A response. body is NUL-terminated and owned by the response
 * (cairn__http_resp_clear). */
typedef struct cairn_http_resp {
    /* HTTP status. */
    int status;
    /* Body bytes (NULL when empty) and length. */
    char *body;
    size_t body_len;
    /* Content-Type (static string). */
    const char *content_type;
    /* Allow header for 405 (static string) or NULL. */
    const char *allow;
    /* X-Consul-Index, and X-Consul-KnownLeader ("true"/"false"). */
    uint64_t index;
    bool known_leader;
    /* enum cairn_http_action and its arguments. */
    int action;
    char target[CAIRN_HTTP_TARGET_MAX];
    bool wan, prune;
    /* A blocking query: hold the answer while the index is <= block_index,
     * at most block_wait (already capped and jittered by the caller's
     * choice: this is the requested wait, capped). */
    bool blocking;
    uint64_t block_index;
    cairn_time block_wait;
} cairn_http_resp;

/* cairn__http_api_is_fast: whether req is a router-only lookup
 * (/v1/cairn/route/DC, /v1/cairn/routes) that any thread may answer. */
bool cairn__http_api_is_fast(const cairn_http_req *req);

/* cairn__http_api_handle answers req from view into *resp (which it
 * initialises). Returns 0, or CAIRN_ENOMEM (resp then holds a 500).
 * Loop thread unless cairn__http_api_is_fast(req). */
int cairn__http_api_handle(const cairn_http_req *req, const cairn_http_view *view,
                           cairn_http_resp *resp);

/* cairn__http_resp_set sets status, a copy of body (text/plain unless
 * json) and clears any action. 0 or CAIRN_ENOMEM. */
int cairn__http_resp_set(cairn_http_resp *resp, int status, const char *body, bool json);

/* cairn__http_resp_clear frees the body. */
void cairn__http_resp_clear(cairn_http_resp *resp);

/* cairn__http_param: the value of parameter key (NULL when absent;
 * *ret_present says whether it was there at all, "?prune" included). */
const char *cairn__http_param(const cairn_http_req *req, const char *key, bool *ret_present);

/* cairn__http_parse_wait parses Consul's wait parameter: a Go duration
 * ("10s", "1m30s", "500ms") or bare digits (seconds would be ambiguous:
 * Consul's time.ParseDuration rejects them, so do we). 0 or CAIRN_EINVAL. */
int cairn__http_parse_wait(const char *text, cairn_time *ret_wait);

/* cairn__http_go_float writes v as Go's encoding/json does (shortest
 * round-trip digits; plain decimal for 1e-6 <= |v| < 1e21, else "1e-7",
 * "1.5e+21"); non-finite values as "0". out needs 32 bytes; returns the
 * length. */
size_t cairn__http_go_float(double v, char *out, size_t cap);

#endif
