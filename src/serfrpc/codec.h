/* serfrpc/codec.h: the server side of the agent RPC codec, module-internal.
 *
 * Requests are decoded with the same IPC cursor as the client's replies
 * (serfrpc/ipc.h) and replies are encoded with wire's IPC writer, so one
 * dialect definition serves both directions (the client's decoders in
 * serfrpc/decode.h read exactly what these encoders write; the unit test
 * round-trips them).
 *
 *   header  {Command str, Seq uint}
 *   bodies  handshake {Version}            auth {AuthKey}
 *           members-filtered {Name, Status, Tags {str: str}}
 *           join {Existing [str], Replay}  force-leave {Node, Prune}
 *           event {Coalesce, Name, Payload bin}
 *           tags {DeleteTags [str], Tags {str: str}}
 *           stream {Type}   monitor {LogLevel}   stop {Stop}
 *           query {FilterNodes [str], FilterTags {str: str}, Name,
 *                  Payload, RelayFactor, RequestAck, Timeout int ns}
 *           respond {ID, Payload}   *-key {Key}   get-coordinate {Node}
 *
 * One decoder reads every body: the key names do not collide in meaning
 * (Tags and FilterTags fill the same map, Existing/DeleteTags/FilterNodes
 * the same list), unknown keys are skipped and nil is the zero value, as in
 * Go. A wrong type is an error (Go's decoder fails, and the agent closes the
 * connection).
 */
#ifndef CAIRN_SERFRPC_CODEC_H
#define CAIRN_SERFRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "cairn/serfrpc.h"
#include "cairn/serfrpc_server.h"
#include "wire/mp.h"
#include "wire/msg.h"

/* Longest command name kept (longer ones are unknown commands). */
#define SERFRPC_COMMAND_MAX 32
/* Entries of a request's tag map or string list. */
#define SERFRPC_REQ_MAX_LIST 1024u

/* A request header. */
typedef struct serfrpc_req_header {
    /* The command, NUL-terminated (truncated names are unknown). */
    char command[SERFRPC_COMMAND_MAX + 1];
    /* The Seq to echo. */
    uint64_t seq;
} serfrpc_req_header;

/* Any request body; strings NUL-terminated in the arena (NULL if absent). */
typedef struct serfrpc_req_body {
    uint64_t version, stop, id, relay_factor;
    int64_t timeout;
    const char *auth_key, *name, *status, *node, *type, *log_level, *key;
    bool replay, prune, coalesce, request_ack;
    /* Payload; payload == NULL for nil. */
    const uint8_t *payload;
    size_t payload_len;
    /* Tags / FilterTags. */
    cairn_tag *tags;
    size_t ntags;
    /* Existing / DeleteTags / FilterNodes. */
    const char **list;
    size_t nlist;
} serfrpc_req_body;

/* cairn__serfrpc_decode_req_header decodes into *ret, which holds the
 * previous header on entry: like Go's agent, which decodes every header into
 * one variable, keys that are absent keep their previous values (a body
 * read as a header repeats the last Command and Seq). */
int cairn__serfrpc_decode_req_header(const uint8_t *p, size_t n, serfrpc_req_header *ret,
                                     cairn_diag *diag);
int cairn__serfrpc_decode_req_body(const uint8_t *p, size_t n, cairn_wire_arena *a,
                                   serfrpc_req_body *ret, cairn_diag *diag);

/* Encoders append to w (IPC dialect). */
void cairn__serfrpc_encode_resp_header(cairn_mp_writer *w, const char *error, uint64_t seq);
void cairn__serfrpc_encode_member(cairn_mp_writer *w, const cairn_member *m);
/* {Members: [...]}. */
void cairn__serfrpc_encode_members(cairn_mp_writer *w, const cairn_member *ms, size_t n);
/* {Num}. */
void cairn__serfrpc_encode_join(cairn_mp_writer *w, int64_t num);
/* {Coord, Ok}: unknown gives the zero coordinate with Vec nil. */
void cairn__serfrpc_encode_coord(cairn_mp_writer *w, bool ok, const cairn_coord *co);
/* stats map from flattened, section-grouped entries. */
void cairn__serfrpc_encode_stats(cairn_mp_writer *w, const cairn_serfrpc_stat *st, size_t n);
/* keyResponse; list: Keys is a map (else nil). */
void cairn__serfrpc_encode_keys(cairn_mp_writer *w, const cairn_serfrpc_key_result *r, bool list);
/* Stream records: member events, user events, queries (ID per connection). */
void cairn__serfrpc_encode_event(cairn_mp_writer *w, const cairn_event *ev, uint64_t id);
/* {From, Payload, Type}. */
void cairn__serfrpc_encode_query_record(cairn_mp_writer *w, const char *type, const char *from,
                                        const uint8_t *payload, size_t len);
/* {Log}. */
void cairn__serfrpc_encode_log(cairn_mp_writer *w, const char *line);

#endif
