/* wire/msg.h: memberlist 0.2.2 and serf 0.9.4 message bodies.
 *
 * Every message is `[type byte][msgpack map]`, keys = Go field names sorted
 * ASCII (that is the wire order below), gossip dialect (wire_mp.h). Framing
 * (compound 07, compress 09, encrypt 0a, CRC 0c) is wire_frame.h's job; this
 * header is about what is inside. Spec: serf-wire.md §2.2, §3.2, §3.3, §4.
 *
 * memberlist (type byte, then map; "?" = omitted when zero):
 *   00 ping        {Node str, SeqNo u32, SourceAddr? raw, SourceNode? str,
 *                   SourcePort? u16}
 *   01 indirect    {Nack bool, Node str, Port u16, SeqNo u32, SourceAddr? raw,
 *                   SourceNode? str, SourcePort? u16, Target raw}
 *   02 ack         {Payload raw|nil, SeqNo u32}
 *   03 suspect     {From str, Incarnation u32, Node str}
 *   04 alive       {Addr raw, Incarnation u32, Meta raw<=512, Node str,
 *                   Port u16, Vsn raw 6 bytes}
 *   05 dead        {From str, Incarnation u32, Node str}
 *   06 push-pull   {Join bool, Nodes int, UserStateLen int}
 *                  then Nodes x {Addr raw, Incarnation u32, Meta raw,
 *                   Name str, Port u16, State int, Vsn raw}
 *                  then UserStateLen raw bytes (serf 02 state)
 *   08 user        UDP: raw bytes follow. TCP: {UserMsgLen int} + raw bytes
 *   0b nack        {SeqNo u32}
 *   0d err         {Error str}
 *
 * serf (first byte of a memberlist user payload):
 *   00 leave       {LTime u64, Node str, Prune bool}
 *   01 join        {LTime u64, Node str}
 *   02 push-pull   {EventLTime u64, Events [512 x (nil | {Events: [{Name str,
 *                   Payload raw}], LTime u64})], LTime u64, LeftMembers [str],
 *                   QueryLTime u64, StatusLTimes {str: u64}}
 *   03 user event  {CC bool, LTime u64, Name str, Payload raw}
 *   04 query       {Addr raw, Filters [raw]|nil, Flags u32, ID u32, LTime u64,
 *                   Name str, Payload raw, Port u16, RelayFactor u8,
 *                   SourceNode str, Timeout i64 ns}
 *                  filter = 00 [str...] (node) | 01 {Expr str, Tag str} (tag)
 *   05 response    {Flags u32, From str, ID u32, LTime u64, Payload raw}
 *   06 conflict    nil | Member {Addr raw, DelegateCur u8, DelegateMax u8,
 *                   DelegateMin u8, Name str, Port u16, ProtocolCur u8,
 *                   ProtocolMax u8, ProtocolMin u8, Status int, Tags {str:str}}
 *   07 key request {Key raw}
 *   08 key resp    {Keys [str], Message str, PrimaryKey str, Result bool}
 *   09 relay       {DestAddr {IP raw, Port int, Zone str}, DestName str}
 *                  followed by the inner message's bytes (type + body)
 *   Meta (tags)    ff {str: str}        (non-ff Meta = {"role": Meta})
 *   ack Payload    01 {Adjustment f64, Error f64, Height f64, Vec [f64 x 8]}
 *
 * Conventions for every codec below:
 *   - `*_encode(m, out, diag)` APPENDS `[type][body]` to out (gossip
 *     dialect). It returns 0, CAIRN_EINVAL (a value Go would never send:
 *     Vsn not 0/6 bytes, Meta > 512, NaN coordinate; diag says which) or the
 *     buffer's CAIRN_ELIMIT/CAIRN_ENOMEM; on error out is unchanged.
 *   - `*_decode(msg, len, arena, diag, ret)` takes the full message starting
 *     at its type byte (checked) and ignores trailing bytes, as Go does.
 *     Every struct may arrive as a msgpack map (by field name) or, as
 *     go-msgpack also accepts, an array (by position in the Go declaration
 *     order; extra elements skipped, missing ones zero).
 *     It returns 0 or CAIRN_EPROTO (malformed, wrong type, truncated),
 *     CAIRN_ERANGE (integer overflow), CAIRN_ELIMIT (a named limit below),
 *     CAIRN_ENOMEM (arena); diag names message and field ("alive: Meta is
 *     600 bytes, limit 512"). *ret is written only on success.
 *   - Decoded spans point INTO msg (zero-copy) or into the arena: the
 *     decoded struct is valid while both msg and arena are alive and
 *     unchanged. Decoders without an arena argument never allocate.
 *   - Span nil/empty: see cairn_span. Arrays: pointer NULL with count 0 is
 *     Go's nil (c0); a non-NULL pointer with count 0 is empty (90/80).
 *     Decoders reproduce what they saw, so re-encoding a decoded message
 *     gives the same bytes (map order of StatusLTimes/Tags included, except
 *     Meta tags which are always encoded sorted).
 *   - Nothing here is thread-hostile: no shared state; distinct arenas may
 *     be used from distinct threads.
 */
#ifndef CAIRN_WIRE_MSG_H
#define CAIRN_WIRE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/limits.h"
#include "cairn/coord.h"
#include "cairn/error.h"
#include "wire/mp.h"

/* ------------------------------------------------------------ limits */

/* memberlist MetaMaxSize: the agent refuses larger tags, alive checks it. */
#define CAIRN_WIRE_META_MAX CAIRN_META_MAX
/* memberlist maxPushStateNodes (#357): cap before sizing the node array. */
#define CAIRN_WIRE_PUSHPULL_NODES_MAX 1048576u
/* memberlist maxPushStateBytes (#357): cap on a push-pull's user state. */
#define CAIRN_WIRE_USER_STATE_MAX (20u * 1024u * 1024u)
/* memberlist maxUserMsgBytes (#361): cap on a TCP user message. */
#define CAIRN_WIRE_USER_MSG_MAX (20u * 1024u * 1024u)
/* Vsn is exactly [PMin PMax PCur DMin DMax DCur] when present (#368: a
 * short non-empty Vsn panics Go 0.2.2, so we reject it). */
#define CAIRN_WIRE_VSN_LEN 6
/* IP addresses are 4 or 16 raw bytes; anything up to this is passed up
 * (the memberlist layer interprets), longer is rejected. */
#define CAIRN_WIRE_ADDR_MAX 16
/* serf Events/Query ring size: the push-pull Events array has this many
 * slots; decoders accept at most this many. */
#define CAIRN_WIRE_SERF_RING 512
/* Largest AES key (AES-256) for key requests. */
#define CAIRN_WIRE_KEY_MAX 32
/* Default cap on what one decode may allocate from its arena: a maximal
 * push-pull (1,048,576 one-byte node entries) needs about 100 MiB of node
 * structs; 128 MiB bounds that case and nothing legitimate comes close. */
#define CAIRN_WIRE_ARENA_DEFAULT_LIMIT (128u * 1024u * 1024u)

/* ------------------------------------------------------------ arena */

/* Storage for decoded arrays (push-pull nodes, filters, tags, ...) and for
 * []byte values that arrived as arrays of ints. Allocations come from
 * cairn_malloc and are freed together by cairn__wire_arena_destroy; `limit`
 * caps their total so hostile counts cannot exhaust memory. Not
 * thread-safe; one arena per decode or per batch of decodes. */
typedef struct cairn_wire_arena {
    /* Singly linked list of blocks (internal). */
    void *head;
    /* Bytes handed out so far. */
    size_t used;
    /* Largest `used` allowed. */
    size_t limit;
} cairn_wire_arena;

/* cairn__wire_arena_init prepares an empty arena (allocates nothing). */
void cairn__wire_arena_init(cairn_wire_arena *a, size_t limit);
/* cairn__wire_arena_destroy frees everything allocated; the arena is empty
 * and reusable afterwards. Accepts NULL. */
void cairn__wire_arena_destroy(cairn_wire_arena *a);
/* cairn__wire_arena_alloc: n zeroed bytes aligned for any type, or NULL when
 * the limit would be exceeded or allocation fails (n == 0 returns a valid
 * non-NULL pointer). */
void *cairn__wire_arena_alloc(cairn_wire_arena *a, size_t n);

/* ------------------------------------------------------------ memberlist */

typedef enum cairn_wire_type {
    CAIRN_WIRE_PING = 0,
    CAIRN_WIRE_INDIRECT_PING = 1,
    CAIRN_WIRE_ACK = 2,
    CAIRN_WIRE_SUSPECT = 3,
    CAIRN_WIRE_ALIVE = 4,
    CAIRN_WIRE_DEAD = 5,
    CAIRN_WIRE_PUSHPULL = 6,
    CAIRN_WIRE_COMPOUND = 7,
    CAIRN_WIRE_USER = 8,
    CAIRN_WIRE_COMPRESS = 9,
    CAIRN_WIRE_ENCRYPT = 10,
    CAIRN_WIRE_NACK = 11,
    CAIRN_WIRE_HAS_CRC = 12,
    CAIRN_WIRE_ERR = 13,
} cairn_wire_type;

/* cairn__wire_type_name: "ping", "alive", ... ("unknown" otherwise). */
const char *cairn__wire_type_name(int type);

/* ping (00). Source* are omitted from the wire when empty/zero. */
typedef struct cairn_wire_ping {
    /* Target's name; receivers drop pings for another name. */
    cairn_span node;
    /* Prober's sequence number. */
    uint32_t seq_no;
    /* Where to send the ack: raw IP (4/16 bytes), or empty. */
    cairn_span source_addr;
    /* Prober's name, or empty. */
    cairn_span source_node;
    /* Ack port, or 0. */
    uint16_t source_port;
} cairn_wire_ping;

/* indirectPingReq (01). */
typedef struct cairn_wire_indirect_ping {
    /* Requester wants a nack if the target does not answer. */
    bool nack;
    /* Target's name. */
    cairn_span node;
    /* Target's port. */
    uint16_t port;
    /* Requester's probe sequence number. */
    uint32_t seq_no;
    /* Requester's address for the ack (omitted when empty). */
    cairn_span source_addr;
    /* Requester's name (omitted when empty). */
    cairn_span source_node;
    /* Requester's port (omitted when 0). */
    uint16_t source_port;
    /* Target's raw IP. */
    cairn_span target;
} cairn_wire_indirect_ping;

/* ackResp (02). */
typedef struct cairn_wire_ack {
    /* Ping delegate payload (serf: coordinate, see cairn_wire_coord_*);
     * nil on relayed and TCP acks. */
    cairn_span payload;
    /* Sequence number being acknowledged. */
    uint32_t seq_no;
} cairn_wire_ack;

/* nackResp (0b). */
typedef struct cairn_wire_nack {
    /* Requester's sequence number. */
    uint32_t seq_no;
} cairn_wire_nack;

/* errResp (0d). */
typedef struct cairn_wire_err {
    /* Error text. */
    cairn_span error;
} cairn_wire_err;

/* suspect (03) and dead (05) share a layout. */
typedef struct cairn_wire_suspect {
    /* Accuser's name (dead: From == Node means a graceful leave). */
    cairn_span from;
    /* Accused's incarnation. */
    uint32_t incarnation;
    /* Accused's name. */
    cairn_span node;
} cairn_wire_suspect;
typedef cairn_wire_suspect cairn_wire_dead;

/* alive (04). */
typedef struct cairn_wire_alive {
    /* Raw IP, 4 or 16 bytes (<= CAIRN_WIRE_ADDR_MAX). */
    cairn_span addr;
    /* Incarnation (starts at 1). */
    uint32_t incarnation;
    /* Delegate meta (serf tags), <= CAIRN_WIRE_META_MAX bytes. */
    cairn_span meta;
    /* Node name. */
    cairn_span node;
    /* Gossip port (0 = receiver's own). */
    uint16_t port;
    /* Empty or exactly CAIRN_WIRE_VSN_LEN bytes. */
    cairn_span vsn;
} cairn_wire_alive;

/* pushPullHeader (06). */
typedef struct cairn_wire_pushpull_header {
    /* True for a join-initiated exchange (echoed by the responder). */
    bool join;
    /* Number of node states that follow (<= CAIRN_WIRE_PUSHPULL_NODES_MAX). */
    uint32_t nodes;
    /* Raw user-state bytes after the nodes (<= CAIRN_WIRE_USER_STATE_MAX). */
    uint32_t user_state_len;
} cairn_wire_pushpull_header;

/* pushNodeState (no type byte; follows the header). */
typedef struct cairn_wire_push_node {
    /* Raw IP. */
    cairn_span addr;
    /* Incarnation. */
    uint32_t incarnation;
    /* Delegate meta (<= CAIRN_WIRE_META_MAX). */
    cairn_span meta;
    /* Node name. */
    cairn_span name;
    /* Port. */
    uint16_t port;
    /* 0 alive, 1 suspect, 2 dead, 3 left (other values passed up as is). */
    int32_t state;
    /* Empty or exactly CAIRN_WIRE_VSN_LEN bytes. */
    cairn_span vsn;
} cairn_wire_push_node;

/* A whole push-pull message as one buffer. */
typedef struct cairn_wire_pushpull {
    /* The header; header.nodes == n_nodes and header.user_state_len ==
     * user_state.len after decoding (the encoder derives both). */
    cairn_wire_pushpull_header header;
    /* Node states (arena memory after decoding). */
    cairn_wire_push_node *nodes;
    /* Number of node states. */
    size_t n_nodes;
    /* Delegate (serf) state bytes. */
    cairn_span user_state;
} cairn_wire_pushpull;

/* userMsgHeader (TCP user message, after 08). */
typedef struct cairn_wire_user_msg_header {
    /* Raw bytes that follow (<= CAIRN_WIRE_USER_MSG_MAX). */
    uint32_t user_msg_len;
} cairn_wire_user_msg_header;

/* Decoders with an arena argument have []byte fields: a []byte that
 * arrives as an array of ints (legal, never sent by Go) is copied into the
 * arena; with a NULL arena that form is rejected (CAIRN_ENOTSUP) and
 * nothing is ever allocated. Decoders of messages with arrays (push-pull,
 * filters, tags, keys) need a non-NULL arena. */
int cairn__wire_ping_encode(const cairn_wire_ping *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_ping_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                            cairn_diag *diag, cairn_wire_ping *ret);
int cairn__wire_indirect_ping_encode(const cairn_wire_indirect_ping *m, cairn_buf *out,
                                     cairn_diag *diag);
int cairn__wire_indirect_ping_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                     cairn_diag *diag, cairn_wire_indirect_ping *ret);
int cairn__wire_ack_encode(const cairn_wire_ack *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_ack_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                           cairn_diag *diag, cairn_wire_ack *ret);
int cairn__wire_nack_encode(const cairn_wire_nack *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_nack_decode(const uint8_t *msg, size_t len, cairn_diag *diag, cairn_wire_nack *ret);
int cairn__wire_err_encode(const cairn_wire_err *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_err_decode(const uint8_t *msg, size_t len, cairn_diag *diag, cairn_wire_err *ret);
int cairn__wire_suspect_encode(const cairn_wire_suspect *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_suspect_decode(const uint8_t *msg, size_t len, cairn_diag *diag,
                               cairn_wire_suspect *ret);
int cairn__wire_dead_encode(const cairn_wire_dead *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_dead_decode(const uint8_t *msg, size_t len, cairn_diag *diag, cairn_wire_dead *ret);
int cairn__wire_alive_encode(const cairn_wire_alive *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_alive_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                             cairn_diag *diag, cairn_wire_alive *ret);

/* Stream pieces. These work on a prefix of a TCP stream: *ret_used is the
 * number of bytes consumed. CAIRN_EAGAIN means "not enough bytes yet" (read
 * more and call again); nothing is consumed then. */
int cairn__wire_pushpull_header_encode(const cairn_wire_pushpull_header *m, cairn_buf *out,
                                       cairn_diag *diag);
/* p starts at the 06 type byte. Enforces both caps on the header values. */
int cairn__wire_pushpull_header_decode(const uint8_t *p, size_t len, cairn_diag *diag,
                                       cairn_wire_pushpull_header *ret, size_t *ret_used);
/* Appends one pushNodeState map (no type byte). */
int cairn__wire_push_node_encode(const cairn_wire_push_node *m, cairn_buf *out, cairn_diag *diag);
/* p starts at the node's map. */
int cairn__wire_push_node_decode(const uint8_t *p, size_t len, cairn_wire_arena *arena,
                                 cairn_diag *diag, cairn_wire_push_node *ret, size_t *ret_used);
/* Whole push-pull: 06 + header + nodes + user state. The encoder writes
 * header.nodes = n_nodes and header.user_state_len = user_state.len. The
 * decoder checks Nodes against CAIRN_WIRE_PUSHPULL_NODES_MAX *and* the
 * bytes left, UserStateLen against CAIRN_WIRE_USER_STATE_MAX and the bytes
 * left, before allocating the node array in the arena. */
int cairn__wire_pushpull_encode(const cairn_wire_pushpull *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_pushpull_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                cairn_diag *diag, cairn_wire_pushpull *ret);
/* TCP user message: 08 + {UserMsgLen} (+ caller appends the bytes). */
int cairn__wire_user_msg_header_encode(const cairn_wire_user_msg_header *m, cairn_buf *out,
                                       cairn_diag *diag);
/* p starts at the 08 type byte; UserMsgLen capped by CAIRN_WIRE_USER_MSG_MAX. */
int cairn__wire_user_msg_header_decode(const uint8_t *p, size_t len, cairn_diag *diag,
                                       cairn_wire_user_msg_header *ret, size_t *ret_used);
/* UDP user message: appends 08 + payload. */
int cairn__wire_user_encode(cairn_span payload, cairn_buf *out, cairn_diag *diag);

/* Any single memberlist message (not a framing layer). */
typedef struct cairn_wire_msg {
    /* The type byte (cairn_wire_type). */
    uint8_t type;
    union {
        cairn_wire_ping ping;
        cairn_wire_indirect_ping indirect_ping;
        cairn_wire_ack ack;
        cairn_wire_nack nack;
        cairn_wire_err err;
        cairn_wire_suspect suspect;
        cairn_wire_alive alive;
        cairn_wire_dead dead;
        /* TCP push-pull as one buffer. */
        cairn_wire_pushpull pushpull;
        /* UDP user message: the bytes after 08 (serf message). */
        cairn_span user;
    } u;
} cairn_wire_msg;

/* cairn__wire_msg_decode dispatches on msg[0]. Framing types (07, 09, 0a,
 * 0c) and unknown types return CAIRN_ENOTSUP with a diag; decode those with
 * wire_frame.h first. */
int cairn__wire_msg_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                           cairn_diag *diag, cairn_wire_msg *ret);

/* ------------------------------------------------------------ serf */

typedef enum cairn_wire_serf_type {
    CAIRN_WIRE_SERF_LEAVE = 0,
    CAIRN_WIRE_SERF_JOIN = 1,
    CAIRN_WIRE_SERF_PUSHPULL = 2,
    CAIRN_WIRE_SERF_USER_EVENT = 3,
    CAIRN_WIRE_SERF_QUERY = 4,
    CAIRN_WIRE_SERF_QUERY_RESPONSE = 5,
    CAIRN_WIRE_SERF_CONFLICT_RESPONSE = 6,
    CAIRN_WIRE_SERF_KEY_REQUEST = 7,
    CAIRN_WIRE_SERF_KEY_RESPONSE = 8,
    CAIRN_WIRE_SERF_RELAY = 9,
} cairn_wire_serf_type;

/* Query flags. */
#define CAIRN_WIRE_SERF_QUERY_ACK          1u
#define CAIRN_WIRE_SERF_QUERY_NO_BROADCAST 2u
/* Query filter type bytes. */
#define CAIRN_WIRE_SERF_FILTER_NODE 0
#define CAIRN_WIRE_SERF_FILTER_TAG  1

/* cairn__wire_serf_type_name returns a static name for a serf type byte
 * ("leave", "query", ...), "unknown" for others. Thread-safe. */
const char *cairn__wire_serf_type_name(int type);

/* A tag (serf Meta map entry, Member.Tags entry). */
typedef struct cairn_wire_tag {
    cairn_span key;
    cairn_span value;
} cairn_wire_tag;

/* leave intent (00). */
typedef struct cairn_wire_serf_leave {
    /* Member clock. */
    uint64_t ltime;
    /* Leaving node. */
    cairn_span node;
    /* Erase the member at once (force-leave -prune). */
    bool prune;
} cairn_wire_serf_leave;

/* join intent (01). */
typedef struct cairn_wire_serf_join {
    /* Member clock. */
    uint64_t ltime;
    /* Joining node. */
    cairn_span node;
} cairn_wire_serf_join;

/* One event inside a push-pull Events slot (Go userEvent). */
typedef struct cairn_wire_serf_event_item {
    cairn_span name;
    cairn_span payload;
} cairn_wire_serf_event_item;

/* One slot of the push-pull Events ring (Go *userEvents). */
typedef struct cairn_wire_serf_event_slot {
    /* False for a nil slot (c0); the other fields are then unused. */
    bool present;
    /* Events in the slot (arena memory; NULL+0 = nil). */
    cairn_wire_serf_event_item *events;
    /* Number of events. */
    size_t n_events;
    /* Event clock of the slot. */
    uint64_t ltime;
} cairn_wire_serf_event_slot;

/* StatusLTimes entry. */
typedef struct cairn_wire_serf_status_ltime {
    cairn_span name;
    uint64_t ltime;
} cairn_wire_serf_status_ltime;

/* push-pull state (02), the memberlist push-pull user state. */
typedef struct cairn_wire_serf_pushpull {
    /* Event clock. */
    uint64_t event_ltime;
    /* Event ring, normally CAIRN_WIRE_SERF_RING slots (<= that decoded). */
    cairn_wire_serf_event_slot *events;
    size_t n_events;
    /* Member clock. */
    uint64_t ltime;
    /* Names of left members (Go sends [] not nil). */
    cairn_span *left_members;
    size_t n_left_members;
    /* Query clock. */
    uint64_t query_ltime;
    /* Member status clocks, in wire order. */
    cairn_wire_serf_status_ltime *status_ltimes;
    size_t n_status_ltimes;
} cairn_wire_serf_pushpull;

/* user event (03). */
typedef struct cairn_wire_serf_user_event {
    /* May be coalesced. */
    bool cc;
    /* Event clock. */
    uint64_t ltime;
    /* Event name. */
    cairn_span name;
    /* Payload. */
    cairn_span payload;
} cairn_wire_serf_user_event;

/* query (04). */
typedef struct cairn_wire_serf_query {
    /* Originator's raw IP for responses. */
    cairn_span addr;
    /* Encoded filters (each `[type][msgpack]`, see cairn_wire_serf_filter);
     * NULL+0 = nil (c0). */
    cairn_span *filters;
    size_t n_filters;
    /* CAIRN_WIRE_SERF_QUERY_* bits. */
    uint32_t flags;
    /* Random query id. */
    uint32_t id;
    /* Query clock. */
    uint64_t ltime;
    /* Query name. */
    cairn_span name;
    /* Payload. */
    cairn_span payload;
    /* Originator's port for responses. */
    uint16_t port;
    /* Number of relays for each response. */
    uint8_t relay_factor;
    /* Originator's name. */
    cairn_span source_node;
    /* Timeout in nanoseconds. */
    int64_t timeout;
} cairn_wire_serf_query;

/* A decoded query filter. */
typedef struct cairn_wire_serf_filter {
    /* CAIRN_WIRE_SERF_FILTER_NODE or _TAG. */
    uint8_t type;
    /* Node filter: names (arena memory after decoding). */
    cairn_span *nodes;
    size_t n_nodes;
    /* Tag filter: regexp and tag name. */
    cairn_span expr;
    cairn_span tag;
} cairn_wire_serf_filter;

/* query response or ack (05). */
typedef struct cairn_wire_serf_query_response {
    /* 1 = ack, 0 = response. */
    uint32_t flags;
    /* Responder. */
    cairn_span from;
    /* Query id. */
    uint32_t id;
    /* Query clock of the query. */
    uint64_t ltime;
    /* Response payload (nil for acks). */
    cairn_span payload;
} cairn_wire_serf_query_response;

/* serf Member as sent in a conflict response (06). */
typedef struct cairn_wire_serf_member {
    cairn_span addr;
    uint8_t delegate_cur, delegate_max, delegate_min;
    cairn_span name;
    uint16_t port;
    uint8_t protocol_cur, protocol_max, protocol_min;
    /* 0 none, 1 alive, 2 leaving, 3 left, 4 failed. */
    int32_t status;
    /* Tags (arena memory after decoding; encoded sorted by key). */
    cairn_wire_tag *tags;
    size_t n_tags;
} cairn_wire_serf_member;

typedef struct cairn_wire_serf_conflict_response {
    /* False when the responder does not know the node (06 c0). */
    bool present;
    cairn_wire_serf_member member;
} cairn_wire_serf_conflict_response;

/* key request (07). */
typedef struct cairn_wire_serf_key_request {
    /* Raw key bytes (empty for list-keys), <= CAIRN_WIRE_KEY_MAX. */
    cairn_span key;
} cairn_wire_serf_key_request;

/* key response (08). */
typedef struct cairn_wire_serf_key_response {
    /* Base64 keys (arena memory after decoding). */
    cairn_span *keys;
    size_t n_keys;
    cairn_span message;
    cairn_span primary_key;
    bool result;
} cairn_wire_serf_key_response;

/* relay (09): header, then the inner message bytes. */
typedef struct cairn_wire_serf_relay {
    /* DestAddr.IP, raw. */
    cairn_span dest_ip;
    /* DestAddr.Port. */
    uint16_t dest_port;
    /* DestAddr.Zone (IPv6 zone; usually empty). */
    cairn_span dest_zone;
    /* DestName. */
    cairn_span dest_name;
    /* The inner serf message (type + body) to forward. */
    cairn_span inner;
} cairn_wire_serf_relay;

/* serf codecs: the *_encode / *_decode contract at the top of this file;
 * the encoders write the serf type byte, not memberlist's 08. */
int cairn__wire_serf_leave_encode(const cairn_wire_serf_leave *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_serf_leave_decode(const uint8_t *msg, size_t len, cairn_diag *diag,
                                  cairn_wire_serf_leave *ret);
int cairn__wire_serf_join_encode(const cairn_wire_serf_join *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_serf_join_decode(const uint8_t *msg, size_t len, cairn_diag *diag,
                                 cairn_wire_serf_join *ret);
int cairn__wire_serf_pushpull_encode(const cairn_wire_serf_pushpull *m, cairn_buf *out,
                                     cairn_diag *diag);
int cairn__wire_serf_pushpull_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                     cairn_diag *diag, cairn_wire_serf_pushpull *ret);
int cairn__wire_serf_user_event_encode(const cairn_wire_serf_user_event *m, cairn_buf *out,
                                       cairn_diag *diag);
int cairn__wire_serf_user_event_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                       cairn_diag *diag, cairn_wire_serf_user_event *ret);
int cairn__wire_serf_query_encode(const cairn_wire_serf_query *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_serf_query_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                  cairn_diag *diag, cairn_wire_serf_query *ret);
/* Filters: encode appends `[type][msgpack]`; decode parses one filter
 * (e.g. a query's filters[i]). Unknown filter types: CAIRN_ENOTSUP. */
int cairn__wire_serf_filter_encode(const cairn_wire_serf_filter *f, cairn_buf *out,
                                   cairn_diag *diag);
int cairn__wire_serf_filter_decode(const uint8_t *p, size_t len, cairn_wire_arena *arena,
                                   cairn_diag *diag, cairn_wire_serf_filter *ret);
int cairn__wire_serf_query_response_encode(const cairn_wire_serf_query_response *m, cairn_buf *out,
                                           cairn_diag *diag);
int cairn__wire_serf_query_response_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                           cairn_diag *diag, cairn_wire_serf_query_response *ret);
int cairn__wire_serf_conflict_response_encode(const cairn_wire_serf_conflict_response *m,
                                              cairn_buf *out, cairn_diag *diag);
int cairn__wire_serf_conflict_response_decode(const uint8_t *msg, size_t len,
                                              cairn_wire_arena *arena, cairn_diag *diag,
                                              cairn_wire_serf_conflict_response *ret);
int cairn__wire_serf_key_request_encode(const cairn_wire_serf_key_request *m, cairn_buf *out,
                                        cairn_diag *diag);
int cairn__wire_serf_key_request_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                        cairn_diag *diag, cairn_wire_serf_key_request *ret);
int cairn__wire_serf_key_response_encode(const cairn_wire_serf_key_response *m, cairn_buf *out,
                                         cairn_diag *diag);
int cairn__wire_serf_key_response_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                         cairn_diag *diag, cairn_wire_serf_key_response *ret);
/* Relay encode writes 09 + header + inner bytes; decode returns the header
 * and `inner` = every byte after the header (checked non-empty). */
int cairn__wire_serf_relay_encode(const cairn_wire_serf_relay *m, cairn_buf *out, cairn_diag *diag);
int cairn__wire_serf_relay_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                  cairn_diag *diag, cairn_wire_serf_relay *ret);

/* Any serf message (first byte = serf type). */
typedef struct cairn_wire_serf_msg {
    uint8_t type;
    union {
        cairn_wire_serf_leave leave;
        cairn_wire_serf_join join;
        cairn_wire_serf_pushpull pushpull;
        cairn_wire_serf_user_event user_event;
        cairn_wire_serf_query query;
        cairn_wire_serf_query_response query_response;
        cairn_wire_serf_conflict_response conflict_response;
        cairn_wire_serf_key_request key_request;
        cairn_wire_serf_key_response key_response;
        cairn_wire_serf_relay relay;
    } u;
} cairn_wire_serf_msg;

/* cairn__wire_serf_msg_decode dispatches on msg[0] (CAIRN_ENOTSUP for
 * unknown types). */
int cairn__wire_serf_msg_decode(const uint8_t *msg, size_t len, cairn_wire_arena *arena,
                                cairn_diag *diag, cairn_wire_serf_msg *ret);

/* ------------------------------------------------------------ tags, coord */

/* cairn__wire_tags_encode appends Meta = ff + {key: value} with keys sorted
 * byte-wise (deterministic, unlike Go's random map order). Duplicate keys:
 * CAIRN_EINVAL. Result > CAIRN_WIRE_META_MAX bytes: CAIRN_ELIMIT with diag
 * ("tags: Meta is 600 bytes, limit 512"); out unchanged on error. */
int cairn__wire_tags_encode(const cairn_wire_tag *tags, size_t n, cairn_buf *out, cairn_diag *diag);
/* cairn__wire_tags_decode parses Meta. Meta longer than CAIRN_WIRE_META_MAX:
 * CAIRN_ELIMIT. Empty Meta or first byte != ff: one tag {"role": Meta}
 * (none when Meta is empty). Tags live in the arena (array) and in meta
 * (strings). */
int cairn__wire_tags_decode(cairn_span meta, cairn_wire_arena *arena, cairn_diag *diag,
                            cairn_wire_tag **ret_tags, size_t *ret_n);

/* Version byte of serf's ping (ack) payload. */
#define CAIRN_WIRE_COORD_PAYLOAD_VERSION 1

/* cairn__wire_coord_encode appends 01 + {Adjustment, Error, Height, Vec}.
 * c->dim must be <= CAIRN_COORD_MAX_DIM (dim 0 encodes Vec as nil) and every
 * number finite; otherwise CAIRN_EINVAL with diag. */
int cairn__wire_coord_encode(const cairn_coord *c, cairn_buf *out, cairn_diag *diag);
/* cairn__wire_coord_decode parses an ack payload. Version byte != 1:
 * CAIRN_ENOTSUP (serf ignores such payloads). More than CAIRN_COORD_MAX_DIM
 * components: CAIRN_ELIMIT. NaN/Inf anywhere: CAIRN_ERANGE. No allocation. */
int cairn__wire_coord_decode(const uint8_t *p, size_t len, cairn_diag *diag, cairn_coord *ret);

#endif
