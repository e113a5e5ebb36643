/* wire/frame.h: memberlist framing layers (everything but message
 * bodies): CRC, the compress wrapper, compound packets, the UDP packet
 * pipeline and the TCP stream framing.
 *
 * Packet (UDP) layout, outermost first; each layer is optional:
 *
 *   encrypted  [01][nonce 12][AES-GCM(ct ‖ tag 16)]        no type byte, no AAD
 *   crc        [0c][crc32-IEEE BE u32 of the rest][rest]   outermost only
 *   compress   [09] msgpack map {"Algo": uint 0, "Buf": raw LZW}
 *   compound   [07][n: u8][n × BE u16 length][part 0][part 1]…
 *   message    [type][msgpack body]   types 0 1 2 3 4 5 8 11
 *
 * Send order: build message or compound → compress (only if strictly
 * shorter) → CRC (peers with PMax ≥ 5) → encrypt. Receive order: decrypt →
 * CRC → compress/compound recursively. The compress wrapper in old-spec
 * msgpack (go-msgpack 0.5.5 MsgpackHandle{}):
 *
 *   09 82 a4 "Algo" <uint>  a3 "Buf" <fixstr|str16 da|str32 db>
 *   e.g. 09 82 a4 416c676f 00 a3 427566 b5 00a93c11…0302
 *
 * Decoders accept any map order, unknown keys (skipped), any integer width
 * for Algo, nil for either field, and str8/bin8/16/32 for Buf.
 *
 * Stream (TCP) layout: [0a][BE u32 n][n bytes: encrypted payload, v1] with
 * the 5 header bytes as GCM AAD, n ≤ 20 MiB; inside (or directly when not
 * encrypted) an optional compress wrapper (always used by senders with
 * compression on); inside that the message: [type][msgpack header]… and,
 * for push-pull and user messages, raw bytes whose length the header gives.
 * There is no outer length without encryption, so the stream reader is
 * driven by the caller, which knows the message shapes (see
 * cairn_stream_rd below).
 */
#ifndef CAIRN_WIRE_FRAME_H
#define CAIRN_WIRE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/error.h"
#include "cairn/keyring.h"
#include "wire/lzw.h"

/* Type bytes that belong to the framing layers. */
#define CAIRN_FRAME_COMPOUND 7
#define CAIRN_FRAME_COMPRESS 9
#define CAIRN_FRAME_ENCRYPT  10
#define CAIRN_FRAME_CRC      12

/* Receive buffer per datagram (memberlist udpPacketBufSize). */
#define CAIRN_PACKET_MAX_RECV 65536
/* Gossip packet size budget (UDPBufferSize). */
#define CAIRN_PACKET_UDP_BUDGET 1400
/* Compound header and per-entry overhead (compoundHeaderOverhead,
 * compoundOverhead). */
#define CAIRN_COMPOUND_HEADER         2
#define CAIRN_COMPOUND_ENTRY_OVERHEAD 2
/* Parts per compound: the count is a u8. */
#define CAIRN_COMPOUND_MAX_PARTS 255
/* Nesting of compress/compound layers a decoder follows (Go sends at most
 * compress(compound(message)); deeper is hostile). */
#define CAIRN_PACKET_MAX_DEPTH 6
/* Decompressed bytes one UDP packet may produce, summed over all its
 * compress layers and parts and counting parts that fail: what a UDP
 * message can legitimately expand to. Compression is optional for the
 * sender (EnableCompression, and only when it makes the message shorter),
 * so every message a peer sends compressed it could have sent plain, in one
 * datagram of at most 65,507 bytes; memberlist builds them within
 * UDPBufferSize (1,400) anyway. Go allows 40 MiB per part (#363). */
#define CAIRN_PACKET_MAX_DECOMPRESSED ((size_t)CAIRN_PACKET_MAX_RECV)
/* Largest encrypted stream frame (maxPushStateBytes). */
#define CAIRN_STREAM_MAX_ENCRYPTED ((size_t)20 * 1024 * 1024)
/* Largest raw tail a stream message may declare (maxPushStateBytes /
 * maxUserMsgBytes). */
#define CAIRN_STREAM_MAX_RAW ((size_t)20 * 1024 * 1024)
/* Most unconsumed stream bytes buffered: one frame plus its header. */
#define CAIRN_STREAM_MAX_BUFFER (CAIRN_STREAM_MAX_ENCRYPTED + 64 * 1024)

/* Configuration of the framing layers (memberlist Config fields). */
typedef struct cairn_frame_cfg {
    /* Keys; NULL or empty disables encryption. Borrowed, must outlive use. */
    cairn_keyring *keyring;
    /* GossipVerifyIncoming: drop undecryptable packets / plaintext streams
     * (when false they are processed as plaintext). */
    bool verify_incoming;
    /* GossipVerifyOutgoing: encrypt what we send (when keys exist). */
    bool verify_outgoing;
    /* EnableCompression: compress what we send. */
    bool compress;
    /* Encryption version to send: 1 (protocol >= 2, serf) or 0. */
    uint8_t enc_version;
    /* Decompression cap per stream message (0 means
     * CAIRN_LZW_MAX_DECOMPRESSED); per packet it may only lower
     * CAIRN_PACKET_MAX_DECOMPRESSED. */
    size_t max_decompressed;
} cairn_frame_cfg;

/* cairn__frame_cfg_default: no keyring, verify both ways, compression on,
 * encryption version 1 (memberlist DefaultLANConfig). */
void cairn__frame_cfg_default(cairn_frame_cfg *cfg);

/* cairn__frame_encrypting says whether cfg encrypts outgoing data. */
bool cairn__frame_encrypting(const cairn_frame_cfg *cfg);

/* ---- CRC ---- */

/* cairn__crc32 is CRC-32/IEEE (zlib crc32, Go hash/crc32.ChecksumIEEE). */
uint32_t cairn__crc32(const uint8_t *p, size_t len);

/* ---- compress wrapper ---- */

/* cairn__compress_wrap appends [09]{Algo:0, Buf:lzw(msg)} to out. 0,
 * CAIRN_ELIMIT or CAIRN_ENOMEM (out unchanged on error). */
int cairn__compress_wrap(const uint8_t *msg, size_t len, cairn_buf *out);

/* cairn__compress_decode_body parses the msgpack body of a compress message
 * (the bytes after the 09 type byte; trailing bytes are ignored) and gives
 * Algo and the Buf span (pointing into body). Returns 0 or CAIRN_EPROTO
 * with diag ("compress: Buf is not raw bytes"). */
int cairn__compress_decode_body(const uint8_t *body, size_t len, uint8_t *ret_algo,
                                const uint8_t **ret_buf, size_t *ret_buf_len, cairn_diag *diag);

/* cairn__compress_unwrap decodes a compress body and appends the
 * decompressed message (at most `limit` bytes; 0 = default) to out.
 * Rejects Algo != 0 ("compress: Algo 3 unknown"), bad LZW, and an empty
 * result ("compress: decompressed buffer is empty", memberlist #369).
 * 0, CAIRN_EPROTO, CAIRN_ELIMIT or CAIRN_ENOMEM. */
int cairn__compress_unwrap(const uint8_t *body, size_t len, size_t limit, cairn_buf *out,
                           cairn_diag *diag);

/* ---- compound ---- */

/* A compound packer: gathers messages up to a byte budget and writes a
 * compound (or the single message alone). Messages are borrowed. */
typedef struct cairn_compound {
    /* The parts (borrowed) and their lengths. */
    const uint8_t *part[CAIRN_COMPOUND_MAX_PARTS];
    uint16_t len[CAIRN_COMPOUND_MAX_PARTS];
    /* Number of parts. */
    size_t count;
    /* Bytes charged so far: header + sum(len + 2). */
    size_t used;
    /* Most bytes that may be charged. */
    size_t budget;
} cairn_compound;

/* cairn__compound_init starts an empty packer with a byte budget for the
 * whole compound (use cairn__packet_budget()). */
void cairn__compound_init(cairn_compound *c, size_t budget);

/* cairn__compound_add appends msg if it fits: 0, or CAIRN_ENOSPC (budget or
 * 255 parts reached), or CAIRN_EMSGSIZE (len > 65535). */
int cairn__compound_add(cairn_compound *c, const uint8_t *msg, size_t len);

/* cairn__compound_fits says whether a message of len bytes would fit. */
bool cairn__compound_fits(const cairn_compound *c, size_t len);

/* cairn__compound_write appends the packed messages to out: a single part
 * alone when `single_bare` and count == 1 (as memberlist's gossip()),
 * otherwise the 07 compound. 0, CAIRN_EINVAL (empty), CAIRN_ELIMIT,
 * CAIRN_ENOMEM. */
int cairn__compound_write(const cairn_compound *c, bool single_bare, cairn_buf *out);

/* cairn__packet_budget is the compound budget of one gossip datagram:
 * UDP budget minus the encryption overhead when cfg encrypts. Each message
 * then costs its length + 2 (cairn__compound_add charges that). */
size_t cairn__packet_budget(const cairn_frame_cfg *cfg);

/* ---- packet pipeline ---- */

/* cairn__packet_encode turns a message (or compound) into a datagram in out:
 * compress if cfg->compress and strictly shorter, CRC if `crc`, encrypt if
 * cfg encrypts. 0, CAIRN_EINVAL, CAIRN_ELIMIT, CAIRN_ENOMEM, CAIRN_EIO. */
int cairn__packet_encode(const cairn_frame_cfg *cfg, bool crc, const uint8_t *msg, size_t len,
                         cairn_buf *out);

/* Counters of a packet decoder: messages delivered and drops by reason.
 * The caller owns it and may sum it over many packets. */
typedef struct cairn_packet_stats {
    uint64_t packets;          /* packets given to cairn__packet_decode */
    uint64_t delivered;        /* messages handed to the callback */
    uint64_t too_big;          /* packet over CAIRN_PACKET_MAX_RECV */
    uint64_t decrypt;          /* decryption failed while verifying */
    uint64_t plaintext;        /* undecryptable, processed as plaintext */
    uint64_t crc;              /* CRC mismatch */
    uint64_t empty;            /* empty packet, part or decompressed buffer */
    uint64_t compound;         /* malformed compound header */
    uint64_t truncated;        /* compound parts lost to a short buffer */
    uint64_t compress;         /* malformed compress message or LZW data */
    uint64_t decompress_limit; /* decompression over the cap */
    uint64_t depth;            /* nesting deeper than CAIRN_PACKET_MAX_DEPTH */
    uint64_t unsupported;      /* types 6, 10, 12, 13 inside a packet */
    uint64_t unknown;          /* any other unknown type byte */
    uint64_t nomem;            /* allocation failures */
} cairn_packet_stats;

/* Called once per message found in a packet: type byte and body (after the
 * type byte). The span is valid during the call only. Must not call
 * cairn__packet_decode on the same stats concurrently. */
typedef void cairn_packet_msg_cb(uint8_t type, const uint8_t *body, size_t body_len,
                                 void *userdata);

/* cairn__packet_decode peels a received datagram and calls cb for each
 * message it contains, in order. Drops are counted in stats (required) and
 * the first one is described in diag (optional). Returns 0 when nothing was
 * dropped, else the first drop's error (messages before and after it may
 * still have been delivered). Never reads outside pkt; memory is bounded by
 * the decompression cap. Thread-safe for distinct stats. */
int cairn__packet_decode(const cairn_frame_cfg *cfg, const uint8_t *pkt, size_t len,
                         cairn_packet_msg_cb *cb, void *userdata, cairn_packet_stats *stats,
                         cairn_diag *diag);

/* ---- stream framing ---- */

/* cairn__stream_encode appends one outgoing stream message to out: wrapped
 * in compress when cfg->compress (always, no size test), then in an
 * encrypted frame [0a][BE u32 n][payload] with the header as AAD when cfg
 * encrypts. 0, CAIRN_EMSGSIZE (frame over 20 MiB), CAIRN_ELIMIT,
 * CAIRN_ENOMEM, CAIRN_EIO. */
int cairn__stream_encode(const cairn_frame_cfg *cfg, const uint8_t *msg, size_t len,
                         cairn_buf *out);

/* The stream reader: an incremental parser of one connection's incoming
 * bytes, fed in chunks of any size, and pulled by the caller.
 *
 * Usage (one message):
 *
 *   feed(r, bytes) whenever bytes arrive, then retry the pending call:
 *   cairn__stream_rd_type(r, &t)        the message type, after peeling an
 *                                      encrypted frame and a compress wrapper
 *   cairn__stream_rd_object(r, &p, &n)  the next complete msgpack object
 *                                      (decode it with the message decoders)
 *   cairn__stream_rd_raw(r, len, &p)    the next len raw bytes (UserStateLen,
 *                                      UserMsgLen tails)
 *   cairn__stream_rd_end(r)             message done; the next may begin
 *
 * Each pull returns 0 with its result, CAIRN_EAGAIN when more bytes must be
 * fed first (retry the same call after the next feed; if the peer closed
 * the connection instead, the message is truncated), or an error, which is
 * sticky: CAIRN_EPROTO (malformed framing, or a framed message that ends
 * early), CAIRN_EAUTH (no key decrypts), CAIRN_ELIMIT (over a size cap),
 * CAIRN_ENOMEM. Spans point into the reader and stay valid until the next
 * call on it (including feed).
 *
 * A push-pull is: type 6, object (header: Nodes, UserStateLen, Join),
 * Nodes × object (pushNodeState), raw(UserStateLen). A user message: type
 * 8, object (userMsgHeader), raw(UserMsgLen). Ping/ack/err: type, object.
 * When the message came in an encrypted frame or compressed, all of it is
 * already buffered and pulls never return EAGAIN; bytes of the frame left
 * over at cairn__stream_rd_end are discarded (Go ignores them too).
 */
typedef struct cairn_stream_rd cairn_stream_rd;

/* cairn__stream_rd_new creates a reader using cfg (copied; the keyring is
 * borrowed). 0 or CAIRN_ENOMEM. */
int cairn__stream_rd_new(const cairn_frame_cfg *cfg, cairn_stream_rd **ret_rd);

/* cairn__stream_rd_delete frees rd (NULL accepted). */
void cairn__stream_rd_delete(cairn_stream_rd *rd);

/* cairn__stream_rd_feed copies len bytes into the reader. 0, CAIRN_ELIMIT
 * (more than CAIRN_STREAM_MAX_BUFFER unconsumed bytes), CAIRN_ENOMEM, or the
 * sticky error. */
int cairn__stream_rd_feed(cairn_stream_rd *rd, const uint8_t *data, size_t len);

/* cairn__stream_rd_type: the type byte of the current message. Also valid
 * to call again (returns the same type). */
int cairn__stream_rd_type(cairn_stream_rd *rd, uint8_t *ret_type, cairn_diag *diag);

/* cairn__stream_rd_object: the next complete msgpack object of the message
 * body (nesting is not limited, size is, by the buffer cap). */
int cairn__stream_rd_object(cairn_stream_rd *rd, const uint8_t **ret_p, size_t *ret_len,
                            cairn_diag *diag);

/* cairn__stream_rd_raw: the next len raw bytes (len <= CAIRN_STREAM_MAX_RAW,
 * else CAIRN_ELIMIT). len 0 gives an empty span. */
int cairn__stream_rd_raw(cairn_stream_rd *rd, size_t len, const uint8_t **ret_p, cairn_diag *diag);

/* cairn__stream_rd_end finishes the current message; unread bytes of a
 * framed message are dropped, plain bytes already fed stay for the next. */
void cairn__stream_rd_end(cairn_stream_rd *rd);

/* cairn__wire_rd_mem: bytes the reader holds allocated (input buffer,
 * decrypted or decompressed message), for callers that cap the memory of
 * many streams together. */
size_t cairn__wire_rd_mem(const cairn_stream_rd *rd);

/* cairn__wire_rd_inflated: LZW output bytes this reader has cost so far:
 * what each compress message produced, or its cap when it failed (a failed
 * decode may have run up to the cap). For callers that budget CPU. */
uint64_t cairn__wire_rd_inflated(const cairn_stream_rd *rd);

/* cairn__wire_rd_set_max_decompressed lowers (or restores) the most bytes
 * the next compress message may expand to (0 means the configured cap):
 * a caller sharing one memory budget across streams gives each reader what
 * is left of it. */
void cairn__wire_rd_set_max_decompressed(cairn_stream_rd *rd, size_t limit);

/* cairn__stream_rd_framed says whether the current message arrived in an
 * encrypted frame or compressed (valid after rd_type succeeded). */
bool cairn__stream_rd_framed(const cairn_stream_rd *rd);

/* cairn__stream_rd_encrypted says whether it arrived encrypted. */
bool cairn__stream_rd_encrypted(const cairn_stream_rd *rd);

/* cairn__frame_mp_object_len measures the first complete msgpack object of
 * p[0..len): 0 and its length, CAIRN_EAGAIN if p ends inside it, or
 * CAIRN_EPROTO (reserved byte 0xc1). Iterative, no recursion. */
int cairn__frame_mp_object_len(const uint8_t *p, size_t len, size_t *ret_len);

#endif
