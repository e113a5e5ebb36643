/* Network coordinates (Go: ping_delegate.go and the coordinate cache).
 *
 * Every ack we send carries our Vivaldi coordinate as `[01][msgpack
 * Coordinate]`. When one of our direct probes completes, memberlist hands
 * us the RTT and the ack's payload: we fold both into our coordinate client
 * and cache the peer's coordinate (and our own, under our name). Payloads
 * with another version byte, undecodable ones and those the client rejects
 * are ignored (counted).
 *
 * Departure: Go keeps the cache in a separate map that only a reap or an
 * erase empties; cairn keeps the entry inside the member itself, so the
 * cache is bounded by the member table and an erased member takes its
 * entry with it. A peer that is not (or no longer) a member is not cached.
 */
#include "serf/serf_internal.h"

#include "wire/msg.h"

void cairn__serf_coord_ack_payload(cairn_serf *s, cairn_buf *out)
{
    if (s->coord == NULL)
        return;
    cairn_coord c;
    if (cairn_coord_client_get(s->coord, &c) == 0)
        (void)cairn__wire_coord_encode(&c, out, NULL);
}

void cairn__serf_coord_ping_complete(cairn_serf *s, const char *node, cairn_time rtt,
                                     const uint8_t *payload, size_t len)
{
    if (s->coord == NULL || payload == NULL || len == 0)
        return;
    cairn_coord other;
    cairn_diag d = {0};
    if (cairn__wire_coord_decode(payload, len, &d, &other) < 0) {
        cairn__serf_log(s, CAIRN_LOG_DEBUG, "ping payload from %s ignored: %s", node, d.msg);
        s->stats.coordinate_rejected++;
        return;
    }
    if (cairn_coord_client_update(s->coord, node, &other, rtt) < 0) {
        s->stats.coordinate_rejected++;
        return;
    }
    struct serf_member *m = cairn__ml_strmap_get(&s->member_map, node);
    if (m) {
        m->coord = other;
        m->has_coord = true;
    }
    struct serf_member *self = cairn__ml_strmap_get(&s->member_map, s->cfg.memberlist.name);
    if (self && cairn_coord_client_get(s->coord, &self->coord) == 0)
        self->has_coord = true;
}

void cairn__serf_coord_forget(cairn_serf *s, struct serf_member *m)
{
    m->has_coord = false;
    if (s->coord)
        cairn_coord_client_forget_node(s->coord, m->name);
}
