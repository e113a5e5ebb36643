/* serfrpc/decode.h: decoders of agent replies, module-internal.
 *
 * Each decoder takes exactly one complete msgpack object (cairn__ipc_object_len
 * found its end) and produces plain values whose strings and arrays live in
 * wire's arena (cairn_wire_arena), so one cairn__wire_arena_destroy frees a whole reply. The caps
 * below bound every count and length before anything is allocated; an
 * object that exceeds one is rejected with CAIRN_ELIMIT and a diagnostic.
 */
#ifndef CAIRN_SERFRPC_DECODE_H
#define CAIRN_SERFRPC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/serfrpc.h"
#include "wire/msg.h"

/* A response header. */
typedef struct serfrpc_header {
    /* The agent's Error string, NUL-terminated in the arena ("" for none). */
    const char *error;
    /* The Seq it answers. */
    uint64_t seq;
} serfrpc_header;

int cairn__serfrpc_decode_header(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                 serfrpc_header *ret, cairn_diag *diag);
/* {Members: [...]} (members, members-filtered). */
int cairn__serfrpc_decode_members(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                  cairn_member **ret_members, size_t *ret_n, cairn_diag *diag);
/* {Num} (join). */
int cairn__serfrpc_decode_join(const uint8_t *p, size_t n, int32_t *ret_num, cairn_diag *diag);
/* {Coord, Ok} (get-coordinate). dim 0 when Vec is nil. */
int cairn__serfrpc_decode_coord(const uint8_t *p, size_t n, bool *ret_ok, cairn_coord *ret_coord,
                                cairn_diag *diag);
/* map[string]map[string]string (stats), flattened. */
int cairn__serfrpc_decode_stats(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                cairn_serfrpc_stat **ret, size_t *ret_n, cairn_diag *diag);
/* The section names of a stats reply (also the empty ones). */
int cairn__serfrpc_decode_stat_sections(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                        const char ***ret, size_t *ret_n, cairn_diag *diag);
/* One stream record as a cairn_event (members in the arena): the Event
 * name through cairn_event_type_parse, user events' LTime and Coalesce,
 * queries' LTime and ID (the agent's handle for `respond`; the stream
 * carries no flags, source or deadline, and respond stays NULL). */
int cairn__serfrpc_decode_record(const uint8_t *p, size_t n, cairn_wire_arena *a, cairn_event *ret,
                                 cairn_diag *diag);

/* keyResponse {Keys, Messages, NumErr, NumNodes, NumResp} (install-key,
 * use-key, remove-key, list-keys); strings and arrays in the arena. */
int cairn__serfrpc_decode_keys(const uint8_t *p, size_t n, cairn_wire_arena *a,
                               cairn_serfrpc_keys *ret, cairn_diag *diag);
/* One query stream record {From, Payload, Type}. */
int cairn__serfrpc_decode_query_record(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                       cairn_serfrpc_query_record *ret, cairn_diag *diag);
/* One monitor record {Log}: the line, NUL-terminated in the arena. */
int cairn__serfrpc_decode_log(const uint8_t *p, size_t n, cairn_wire_arena *a,
                              const char **ret_line, cairn_diag *diag);

#endif
