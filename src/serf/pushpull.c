/* Push/pull state (Go: delegate.go LocalState and MergeRemoteState).
 *
 * Serf's half of memberlist's anti-entropy exchange is message type 2: the
 * three clocks, every member's statusLTime, the names of left members and
 * the whole 512-slot user-event ring. Merging witnesses each remote clock
 * minus one (so a fresh node's first stamps are not already "old"), turns
 * each left member into a leave intent at its statusLTime + 1 and every
 * other entry into a join intent at its statusLTime, then replays the
 * remote ring as user events (coalescing flag lost, as in Go). A join that
 * ignores old events first raises eventMinTime to the remote event clock.
 *
 * Departure: none on the wire. The decode is bounded (wire arena limit);
 * a state that does not decode is logged and ignored, as Go does.
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"
#include "wire/msg.h"

/* The event ring as wire slots (arrays allocated here, spans borrowed). */
static int ring_slots(cairn_serf *s, cairn_wire_serf_event_slot *slots,
                      cairn_wire_serf_event_item **ret_items)
{
    size_t total = 0;
    for (size_t i = 0; i < CAIRN_SERF_EVENT_BUFFER; i++)
        total += s->ring[i].n;
    cairn_wire_serf_event_item *items = cairn_calloc(total ? total : 1, sizeof(*items));
    if (items == NULL)
        return CAIRN_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < CAIRN_SERF_EVENT_BUFFER; i++) {
        const struct serf_event_slot *sl = &s->ring[i];
        if (sl->n == 0)
            continue;
        slots[i].present = true;
        slots[i].ltime = sl->ltime;
        slots[i].events = &items[k];
        slots[i].n_events = sl->n;
        for (size_t j = 0; j < sl->n; j++, k++) {
            items[k].name = cairn__span_str(sl->ev[j].name);
            items[k].payload = (cairn_span){sl->ev[j].payload, sl->ev[j].len};
        }
    }
    *ret_items = items;
    return 0;
}

int cairn__serf_local_state(cairn_serf *s, cairn_buf *out)
{
    cairn_wire_serf_pushpull pp = {
        .event_ltime = cairn__serf_clock_time(&s->event_clock),
        .ltime = cairn__serf_clock_time(&s->clock),
        .query_ltime = cairn__serf_clock_time(&s->query_clock),
        .n_events = CAIRN_SERF_EVENT_BUFFER,
    };
    size_t n = s->n_members;
    cairn_wire_serf_event_item *items = NULL;
    pp.events = cairn_calloc(CAIRN_SERF_EVENT_BUFFER, sizeof(*pp.events));
    pp.left_members = cairn_calloc(n ? n : 1, sizeof(*pp.left_members));
    pp.status_ltimes = cairn_calloc(n ? n : 1, sizeof(*pp.status_ltimes));
    int rc = pp.events && pp.left_members && pp.status_ltimes ? 0 : CAIRN_ENOMEM;
    if (rc == 0)
        rc = ring_slots(s, pp.events, &items);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct serf_member *m = s->members[i];
        pp.status_ltimes[pp.n_status_ltimes++] =
            (cairn_wire_serf_status_ltime){cairn__span_str(m->name), m->status_ltime};
        if (m->status == CAIRN_MEMBER_LEFT)
            pp.left_members[pp.n_left_members++] = cairn__span_str(m->name);
    }
    if (rc == 0)
        rc = cairn__wire_serf_pushpull_encode(&pp, out, NULL);
    if (rc < 0)
        cairn__serf_log(s, CAIRN_LOG_ERROR, "failed to encode local state: %s", cairn_strerror(rc));
    cairn_free(items);
    cairn_free(pp.events);
    cairn_free(pp.left_members);
    cairn_free(pp.status_ltimes);
    return rc;
}

/* Copies a span into a NUL-terminated name (false when it cannot be one). */
static bool span_name(cairn_span sp, char *buf, size_t size)
{
    if (sp.len == 0 || sp.len >= size || memchr(sp.p, 0, sp.len))
        return false;
    memcpy(buf, sp.p, sp.len);
    buf[sp.len] = 0;
    return true;
}

static bool is_left(const cairn_wire_serf_pushpull *pp, cairn_span name)
{
    for (size_t i = 0; i < pp->n_left_members; i++)
        if (cairn__span_eq(pp->left_members[i], name))
            return true;
    return false;
}

/* Go's mergeRemoteState intents. cairn, beyond Go: when a peer's
 * LeftMembers turns a member we had alive into leaving, that leave intent
 * is gossiped (Go only applies it), so that the member, if it is in fact
 * alive (it left, came back, and its new join intent did not beat the
 * leave time peers inflate by one at each push/pull), hears it and
 * refutes; otherwise it stays "leaving" here while memberlist keeps it
 * alive (soak seed 27, docs/soak.md). */
static void merge_intents(cairn_serf *s, const cairn_wire_serf_pushpull *pp)
{
    char name[CAIRN_NAME_MAX + 1];
    for (size_t i = 0; i < pp->n_left_members; i++) {
        uint64_t lt = 0;
        for (size_t k = 0; k < pp->n_status_ltimes; k++)
            if (cairn__span_eq(pp->status_ltimes[k].name, pp->left_members[i]))
                lt = pp->status_ltimes[k].ltime;
        if (!span_name(pp->left_members[i], name, sizeof(name)))
            continue;
        const struct serf_member *m = cairn__serf_find(s, name);
        bool was_alive = m != NULL && m->status == CAIRN_MEMBER_ALIVE;
        if (cairn__serf_leave_intent(s, name, lt + 1, false) && was_alive &&
            strcmp(name, s->cfg.memberlist.name) != 0)
            cairn__serf_gossip_leave(s, name, lt + 1); /* cairn: see below */
    }
    for (size_t k = 0; k < pp->n_status_ltimes; k++) {
        const cairn_wire_serf_status_ltime *st = &pp->status_ltimes[k];
        if (!is_left(pp, st->name) && span_name(st->name, name, sizeof(name)))
            (void)cairn__serf_join_intent(s, name, st->ltime);
    }
}

void cairn__serf_merge_remote_state(cairn_serf *s, const uint8_t *buf, size_t len, bool join)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, CAIRN_WIRE_ARENA_DEFAULT_LIMIT);
    cairn_wire_serf_pushpull pp;
    cairn_diag d = {0};
    if (len == 0 || cairn__wire_serf_pushpull_decode(buf, len, &a, &d, &pp) < 0) {
        cairn__serf_log(s, CAIRN_LOG_ERROR, "failed to decode remote state: %s", d.msg);
        s->stats.msgs_malformed++;
        cairn__wire_arena_destroy(&a);
        return;
    }
    if (pp.ltime > 0)
        cairn__serf_clock_witness(&s->clock, pp.ltime - 1);
    if (pp.event_ltime > 0)
        cairn__serf_clock_witness(&s->event_clock, pp.event_ltime - 1);
    if (pp.query_ltime > 0)
        cairn__serf_clock_witness(&s->query_clock, pp.query_ltime - 1);
    merge_intents(s, &pp);
    if (join && s->ignore_old_joins > 0 && pp.event_ltime > s->event_min_time)
        s->event_min_time = pp.event_ltime;
    for (size_t i = 0; i < pp.n_events; i++) {
        const cairn_wire_serf_event_slot *sl = &pp.events[i];
        for (size_t j = 0; sl->present && j < sl->n_events; j++)
            (void)cairn__serf_handle_user_event(s, sl->events[j].name.p, sl->events[j].name.len,
                                                sl->events[j].payload.p, sl->events[j].payload.len,
                                                sl->ltime, false);
    }
    cairn__wire_arena_destroy(&a);
}
