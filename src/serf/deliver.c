/* Event delivery (Go: the EventCh every serf handler writes to).
 *
 * Serf hands events to one channel; with coalescing configured the agent
 * puts coalescers in front of it. Here every event goes to the config's
 * one cairn_event_cb, through the member or user coalescer when those are
 * on (library default: off, as Serf's library). Members are lent to the
 * callback as cairn_member views of the table entry: valid for the call.
 */
#include "serf/serf_internal.h"

#include <stdarg.h>
#include <stdio.h>

void cairn__serf_log(const cairn_serf *s, int level, const char *fmt, ...)
{
    if (s->log.cb == NULL || level < s->log.level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->log.cb(level, "serf", line, s->log.userdata);
}

void cairn__serf_member_view(const struct serf_member *m, cairn_member *ret)
{
    *ret = (cairn_member){
        .name = m->name,
        .addr = m->addr,
        .tags = m->tags,
        .ntags = m->ntags,
        .status = m->status,
        .protocol_min = m->pmin,
        .protocol_max = m->pmax,
        .protocol_cur = m->pcur,
        .delegate_min = m->dmin,
        .delegate_max = m->dmax,
        .delegate_cur = m->dcur,
    };
}

static void deliver(cairn_serf *s, serf_coalescer *co, const cairn_event *ev)
{
    if (s->cfg.event_cb == NULL)
        return;
    if (co && cairn__serf_coalesce_add(co, ev))
        return;
    s->cfg.event_cb(ev, s->cfg.event_userdata);
}

void cairn__serf_emit_member(cairn_serf *s, int type, const struct serf_member *m)
{
    cairn_member view;
    cairn__serf_member_view(m, &view);
    cairn__serf_log(s, CAIRN_LOG_INFO, "%s: %s", cairn_event_type_name(type), m->name);
    cairn__serf_snapshot_member(s, type, m);
    cairn_event ev = {.type = type, .members = &view, .nmembers = 1};
    deliver(s, s->member_co, &ev);
}

void cairn__serf_emit_user(cairn_serf *s, const char *name, const uint8_t *payload, size_t len,
                           uint64_t ltime, bool cc)
{
    s->stats.events_delivered++;
    cairn__serf_snapshot_user(s, ltime);
    cairn_event ev = {.type = CAIRN_EVENT_USER,
                      .name = name,
                      .payload = len ? payload : NULL,
                      .payload_len = len,
                      .ltime = ltime,
                      .coalesce = cc};
    deliver(s, s->user_co, &ev);
}
