/* agent/handlers.h (internal): Serf's event handlers for `cairn agent`.
 *
 * `serf agent -event-handler [FILTER=]SCRIPT` runs SCRIPT with /bin/sh -c
 * for every event that FILTER lets through. The filter is a comma list of
 * member-join, member-leave, member-failed, member-update, member-reap,
 * user, user:NAME, query, query:NAME or * (no filter: *); each entry of
 * the list is one handler, as in Serf (so "*,user" runs SCRIPT twice for a
 * user event). The script gets Serf's environment (SERF_EVENT,
 * SERF_SELF_NAME, SERF_SELF_ROLE, SERF_TAG_<KEY> with the key upper-cased
 * and every character outside A-Z0-9_ written _, SERF_USER_EVENT and
 * SERF_USER_LTIME, SERF_QUERY_NAME and SERF_QUERY_LTIME) and on stdin the
 * members, one "name\taddr\trole\ttags" line each (tabs and newlines in
 * name, role and tags written \t and \n; tags k=v joined by ','), or the
 * payload with a newline added when it lacks one.
 *
 * Departures from Serf, because the loop must never wait for a script:
 * handlers run concurrently (Serf runs them one after the other on its
 * event goroutine), spawned with uv_spawn and fed and drained through
 * pipes; at most max_procs run at once (an event over the cap is not run
 * for that handler, and counted); stdout and stderr are captured together
 * up to max_output bytes (the rest counted); a query handler is killed at
 * the query's deadline, others after timeout. A query handler that exits
 * 0 with output answers the query with that output (its first
 * response_limit bytes) through ev->respond; when the event has no
 * respond, that is logged. Warnings are rate-limited to one per second.
 *
 * Threading: the loop thread only (the uv loop of the cairn_loop).
 */
#ifndef CAIRN_AGENT_HANDLERS_H
#define CAIRN_AGENT_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/loop.h"
#include "cairn/time.h"
#include "agent/log_sink.h"

/* The handlers of one agent (opaque). */
typedef struct cairn_handlers cairn_handlers;

/* Most handler entries (after splitting filter lists). */
#define CAIRN_HANDLERS_MAX 64
/* Defaults: processes at once, captured output (Serf's circbuf is 8 KiB),
 * the cap on a non-query handler's run time, and the query response size
 * (Serf's QueryResponseSizeLimit). */
#define CAIRN_HANDLERS_MAX_PROCS     16
#define CAIRN_HANDLERS_MAX_OUTPUT    (8 * 1024)
#define CAIRN_HANDLERS_TIMEOUT       (5 * CAIRN_MIN)
#define CAIRN_HANDLERS_RESPONSE_SIZE 1024

/* Limits; zero fields take the defaults above. */
typedef struct cairn_handlers_limits {
    /* Handler processes running at once. */
    size_t max_procs;
    /* Bytes of stdout + stderr kept per run. */
    size_t max_output;
    /* A non-query handler is killed after this long. */
    cairn_time timeout;
    /* A query response is cut to this many bytes. */
    size_t response_limit;
} cairn_handlers_limits;

/* Counters. */
typedef struct cairn_handlers_stats {
    /* Runs started, finished with status 0, finished otherwise (non-zero
     * exit, signal, spawn failure). */
    uint64_t started, succeeded, failed;
    /* Runs not started because max_procs were running. */
    uint64_t over_cap;
    /* Runs killed at their deadline. */
    uint64_t killed;
    /* Output bytes dropped over max_output. */
    uint64_t output_truncated;
    /* Queries answered, and answers refused or impossible (no respond). */
    uint64_t responses, responses_failed;
    /* Handler processes running now. */
    size_t running;
} cairn_handlers_stats;

/* A run finished (for tests and the log): handler script, exit status
 * (negative: killed by that signal; or a CAIRN_E* spawn error), output. */
typedef void (*cairn_handlers_done_cb)(const char *script, int status, const uint8_t *out,
                                       size_t len, void *userdata);

/* cairn__handlers_new: no handlers yet, on loop (a libuv-backed
 * cairn_loop: processes need its uv loop), logging to sink (borrowed; may
 * be NULL). limits may be NULL. 0, CAIRN_EINVAL (not a libuv loop) or
 * CAIRN_ENOMEM. */
int cairn__handlers_new(cairn_loop *loop, const cairn_handlers_limits *limits,
                        const cairn_log_sink *sink, cairn_handlers **ret);

/* cairn__handlers_add parses "[FILTER=]SCRIPT" and adds its entries. 0,
 * or CAIRN_EINVAL / CAIRN_ELIMIT with a sentence in why. */
int cairn__handlers_add(cairn_handlers *h, const char *spec, char *why, size_t why_len);

/* cairn__handlers_replace swaps every entry for those of specs[0..n)
 * (Serf's UpdateScripts on SIGHUP); running handlers go on. 0, or the
 * error of cairn__handlers_add for specs[*ret_bad] with the old entries
 * kept. */
int cairn__handlers_replace(cairn_handlers *h, const char *const *specs, size_t n, size_t *ret_bad,
                            char *why, size_t why_len);

/* cairn__handlers_count: entries added. */
size_t cairn__handlers_count(const cairn_handlers *h);

/* cairn__handlers_set_done sets a callback for finished runs. */
void cairn__handlers_set_done(cairn_handlers *h, cairn_handlers_done_cb cb, void *userdata);

/* cairn__handlers_dispatch runs every matching handler for ev; self is our
 * own member (name and tags for the environment; may be NULL). Returns at
 * once; the query's respond_ctx is kept until the handler finishes. */
void cairn__handlers_dispatch(cairn_handlers *h, const cairn_event *ev, const cairn_member *self);

/* cairn__handlers_get_stats copies the counters. */
void cairn__handlers_get_stats(const cairn_handlers *h, cairn_handlers_stats *ret);

/* cairn__handlers_delete kills the running handlers (SIGKILL) and frees
 * everything once their handles have closed (the uv loop must run once
 * more after this, as for any uv_close). Accepts NULL. */
void cairn__handlers_delete(cairn_handlers *h);

#endif
