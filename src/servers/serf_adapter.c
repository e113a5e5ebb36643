/* The Serf event adapter (Go: agent/router.HandleSerfEvents and
 * handleMemberEvent, spec consul-servers §3).
 *
 * Go runs a goroutine that reads a channel of serf events until a shutdown
 * channel closes. cairn delivers events through a callback on the cluster's
 * thread, so the adapter is just that callback plus the area it feeds: it
 * parses each member with cairn_server_from_member (Go: IsConsulServer) and
 * calls the router writer that the event type maps to. The mapping is the
 * one after PR #5317: update events re-add (so changed addresses and tags
 * refresh; identity is the name) and reap events remove (so servers reaped
 * by Serf do not linger). Failed members are only rotated away (WAN soft
 * fail, PR #2801). Log lines and levels follow Go's.
 */
#include "cairn/serf_adapter.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/server.h"

struct cairn_serf_adapter {
    cairn_router *router;
    char *area_id;
    cairn_logger logger;
    cairn_membership_notify_cb notify;
    void *notify_userdata;
};

#define adapter_log(a, level, ...) cairn_logf(&(a)->logger, (level), "router", __VA_ARGS__)

int cairn_serf_adapter_new(const cairn_serf_adapter_config *cfg, cairn_serf_adapter **ret_adapter)
{
    if (cfg == NULL || cfg->router == NULL || cfg->area_id == NULL || ret_adapter == NULL)
        return CAIRN_EINVAL;
    cairn_serf_adapter *a = cairn_calloc(1, sizeof(*a));
    if (a == NULL)
        return CAIRN_ENOMEM;
    a->area_id = cairn_strdup(cfg->area_id);
    if (a->area_id == NULL) {
        cairn_free(a);
        return CAIRN_ENOMEM;
    }
    a->router = cfg->router;
    if (cfg->logger != NULL)
        a->logger = *cfg->logger;
    else
        a->logger.level = CAIRN_LOG_OFF;
    a->notify = cfg->notify;
    a->notify_userdata = cfg->notify_userdata;
    *ret_adapter = a;
    return 0;
}

void cairn_serf_adapter_delete(cairn_serf_adapter *a)
{
    if (a == NULL)
        return;
    cairn_free(a->area_id);
    cairn_free(a);
}

typedef int (*router_op)(cairn_router *r, const char *area_id, cairn_server *s, cairn_diag *diag);

/* Adapters from the const-taking router writers to one signature. */
static int op_add(cairn_router *r, const char *area_id, cairn_server *s, cairn_diag *diag)
{
    return cairn_router_add_server(r, area_id, s, diag);
}

static int op_remove(cairn_router *r, const char *area_id, cairn_server *s, cairn_diag *diag)
{
    return cairn_router_remove_server(r, area_id, s, diag);
}

static int op_fail(cairn_router *r, const char *area_id, cairn_server *s, cairn_diag *diag)
{
    return cairn_router_fail_server(r, area_id, s, diag);
}

/* handle_member_event: Go's handleMemberEvent. */
static void handle_member_event(cairn_serf_adapter *a, router_op op, const cairn_event *ev)
{
    const char *type = cairn_event_type_name(ev->type);
    for (size_t i = 0; i < ev->nmembers; i++) {
        const cairn_member *m = &ev->members[i];
        cairn_server *s;
        cairn_diag diag;
        cairn_diag_clear(&diag);
        int rc = cairn_server_from_member(m, &s, &diag);
        if (rc == CAIRN_ENOMEM) {
            adapter_log(a, CAIRN_LOG_ERROR,
                        "Failed to process %s event for server %s in area %s: %s", type, m->name,
                        a->area_id, cairn_strerror(rc));
            continue;
        }
        if (rc != 0) {
            adapter_log(a, CAIRN_LOG_WARN, "Non-server \"%s\" in server-only area \"%s\"", m->name,
                        a->area_id);
            continue;
        }
        cairn_diag_clear(&diag);
        rc = op(a->router, a->area_id, s, &diag);
        if (rc != 0)
            adapter_log(a, CAIRN_LOG_ERROR,
                        "Failed to process %s event for server %s in area %s: %s", type, s->name,
                        a->area_id, diag.msg[0] ? diag.msg : cairn_strerror(rc));
        else
            adapter_log(a, CAIRN_LOG_INFO, "Handled %s event for server %s in area %s", type,
                        s->name, a->area_id);
        cairn_server_unref(s);
    }
}

void cairn_serf_adapter_handle(const cairn_event *ev, void *userdata)
{
    cairn_serf_adapter *a = userdata;
    if (a == NULL || ev == NULL)
        return;
    router_op op;
    switch (ev->type) {
    case CAIRN_EVENT_MEMBER_JOIN:
    case CAIRN_EVENT_MEMBER_UPDATE:
        op = op_add;
        break;
    case CAIRN_EVENT_MEMBER_LEAVE:
    case CAIRN_EVENT_MEMBER_REAP:
        op = op_remove;
        break;
    case CAIRN_EVENT_MEMBER_FAILED:
        op = op_fail;
        break;
    case CAIRN_EVENT_USER:
    case CAIRN_EVENT_QUERY:
        return;
    default:
        adapter_log(a, CAIRN_LOG_WARN, "Unhandled Serf Event: type %d (%s)", ev->type,
                    cairn_event_type_name(ev->type));
        return;
    }
    handle_member_event(a, op, ev);
    if (a->notify != NULL)
        a->notify(a->notify_userdata);
}
