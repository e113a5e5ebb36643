/* User events (Go: serf.go UserEvent's receiving side, handleUserEvent and
 * the eventBuffer).
 *
 * A user event is stamped with the event clock and gossiped. Every receiver
 * witnesses the stamp, then decides by the 512-slot ring indexed by
 * LTime mod 512: an event is new unless the slot already holds that LTime
 * with the same name and payload. Events older than the clock minus 512
 * cannot be deduplicated any more and are dropped (counted); so are those
 * before eventMinTime (set by a join that ignores old events). New events
 * are delivered and re-gossiped.
 *
 * Departures: a slot holds at most SERF_EVENTS_PER_SLOT_MAX distinct events
 * and a received event larger than CAIRN_SERF_USER_EVENT_SIZE_MAX is
 * dropped (Go accepts any size from the wire and any number per slot);
 * both are counted in events_dropped.
 */
#include "serf/serf_internal.h"

#include <string.h>

#include "cairn/alloc.h"
#include "cairn/error.h"

static void slot_clear(struct serf_event_slot *sl)
{
    for (size_t i = 0; i < sl->n; i++) {
        cairn_free(sl->ev[i].name);
        cairn_free(sl->ev[i].payload);
    }
    sl->n = 0;
}

static bool slot_has(const struct serf_event_slot *sl, const uint8_t *name, size_t name_len,
                     const uint8_t *payload, size_t len)
{
    for (size_t i = 0; i < sl->n; i++) {
        const struct serf_user_event *e = &sl->ev[i];
        if (strlen(e->name) == name_len &&
            (name_len == 0 || memcmp(e->name, name, name_len) == 0) && e->len == len &&
            (len == 0 || memcmp(e->payload, payload, len) == 0))
            return true;
    }
    return false;
}

/* Stores an event in a slot: the stored copy, or NULL (no room/memory). */
static struct serf_user_event *slot_add(struct serf_event_slot *sl, const uint8_t *name,
                                        size_t name_len, const uint8_t *payload, size_t len)
{
    if (sl->n == SERF_EVENTS_PER_SLOT_MAX)
        return NULL;
    if (sl->n == sl->cap) {
        size_t cap = sl->cap ? 2 * sl->cap : 2;
        struct serf_user_event *ev = cairn_realloc(sl->ev, cap * sizeof(*ev));
        if (ev == NULL)
            return NULL;
        sl->ev = ev;
        sl->cap = cap;
    }
    struct serf_user_event *e = &sl->ev[sl->n];
    e->name = cairn_malloc(name_len + 1);
    e->payload = cairn_malloc(len ? len : 1);
    if (e->name == NULL || e->payload == NULL) {
        cairn_free(e->name);
        cairn_free(e->payload);
        return NULL;
    }
    if (name_len)
        memcpy(e->name, name, name_len);
    e->name[name_len] = 0;
    if (len)
        memcpy(e->payload, payload, len);
    e->len = len;
    sl->n++;
    return e;
}

bool cairn__serf_handle_user_event(cairn_serf *s, const uint8_t *name, size_t name_len,
                                   const uint8_t *payload, size_t len, uint64_t ltime, bool cc)
{
    cairn__serf_clock_witness(&s->event_clock, ltime);
    if (ltime < s->event_min_time) {
        s->stats.events_before_min++;
        return false;
    }
    uint64_t cur = cairn__serf_clock_time(&s->event_clock);
    if (cur > CAIRN_SERF_EVENT_BUFFER && ltime < cur - CAIRN_SERF_EVENT_BUFFER) {
        cairn__serf_log(s, CAIRN_LOG_WARN, "received old event from time %llu (current: %llu)",
                        (unsigned long long)ltime, (unsigned long long)cur);
        s->stats.events_too_old++;
        return false;
    }
    if (name_len + len > CAIRN_SERF_USER_EVENT_SIZE_MAX ||
        (name_len && memchr(name, 0, name_len))) {
        s->stats.events_dropped++;
        return false;
    }
    struct serf_event_slot *sl = &s->ring[ltime % CAIRN_SERF_EVENT_BUFFER];
    if (sl->n > 0 && sl->ltime == ltime) {
        if (slot_has(sl, name, name_len, payload, len))
            return false;
    } else {
        slot_clear(sl);
        sl->ltime = ltime;
    }
    struct serf_user_event *e = slot_add(sl, name, name_len, payload, len);
    if (e == NULL) {
        s->stats.events_dropped++;
        return false;
    }
    cairn__serf_emit_user(s, e->name, e->payload, e->len, ltime, cc);
    return true;
}

int cairn__serf_events_init(cairn_serf *s)
{
    s->ring = cairn_calloc(CAIRN_SERF_EVENT_BUFFER, sizeof(*s->ring));
    return s->ring ? 0 : CAIRN_ENOMEM;
}

void cairn__serf_events_destroy(cairn_serf *s)
{
    if (s->ring == NULL)
        return;
    for (size_t i = 0; i < CAIRN_SERF_EVENT_BUFFER; i++) {
        slot_clear(&s->ring[i]);
        cairn_free(s->ring[i].ev);
    }
    cairn_free(s->ring);
    s->ring = NULL;
}
