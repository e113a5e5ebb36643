/* wire/lzw.h: the LZW codec of memberlist's `compress` message.
 *
 * memberlist compresses with Go's compress/lzw in LSB order with 8-bit
 * literals (the GIF flavour): codes 0..255 are literals, 256 is clear, 257
 * is end of data, the first free code is 258; codes start 9 bits wide and
 * grow to 12; the encoder emits a clear code and starts over when the next
 * code would be 4095; the decoder stops adding entries once 4096 codes exist
 * until it sees a clear. Bits are packed little-endian. The encoder always
 * starts with a clear and ends with EOF, then flushes the last partial byte
 * zero-padded, so the output is byte-identical to Go 1.19's writer:
 *
 *   "TOBEORNOTTOBEORTOBEORNOT" -> 00 a9 3c 11 52 e4 89 14 27 4f a8 08 24 68
 *                                 70 61 c1 83 09 03 02
 *   ""                         -> 00 03 02
 *
 * The decoder is a streaming state machine with fixed-size state (about
 * 36 KiB) that appends to a bounded cairn_buf: output past the buffer's
 * limit is refused (CAIRN_ELIMIT) before it is stored, so a decompression
 * bomb costs at most `limit` bytes of memory. A stream that ends without the
 * EOF code is an error, as in Go ("unexpected EOF"). Bytes after the EOF
 * code are ignored.
 */
#ifndef CAIRN_WIRE_LZW_H
#define CAIRN_WIRE_LZW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/error.h"

/* memberlist's maxDecompressedBytes (July 2026 hardening, #363): the most
 * bytes one compress message may expand to. */
#define CAIRN_LZW_MAX_DECOMPRESSED ((size_t)40 * 1024 * 1024)

/* cairn__lzw_compress appends the Go-compatible LZW encoding of in[0..len)
 * to out. in may be NULL when len is 0. Returns 0, CAIRN_ELIMIT when out's
 * limit is too small, or CAIRN_ENOMEM (out's length is unchanged on error).
 * Thread-safe (no shared state). */
int cairn__lzw_compress(const uint8_t *in, size_t len, cairn_buf *out);

/* cairn__lzw_compress_bound is an upper bound of the encoded size of len
 * input bytes. */
size_t cairn__lzw_compress_bound(size_t len);

/* A streaming decoder; opaque. */
typedef struct cairn_lzw_dec cairn_lzw_dec;

/* cairn__lzw_dec_new allocates a decoder ready for a new stream: 0 or
 * CAIRN_ENOMEM. */
int cairn__lzw_dec_new(cairn_lzw_dec **ret_dec);

/* cairn__lzw_dec_delete frees dec (NULL is accepted). */
void cairn__lzw_dec_delete(cairn_lzw_dec *dec);

/* cairn__lzw_dec_reset prepares dec for a new stream. */
void cairn__lzw_dec_reset(cairn_lzw_dec *dec);

/* cairn__lzw_dec_feed decodes in[0..len) (any chunking of the stream gives
 * the same result) and appends the output to out. Returns 0, CAIRN_EPROTO
 * for an invalid code, CAIRN_ELIMIT when the output would pass out->limit,
 * or CAIRN_ENOMEM; diag (optional) names the fault. Errors are sticky: later
 * feeds return the same code. Input after the EOF code is ignored. The
 * decoder copies strings from the output it wrote before, as long as the
 * next feed gets the same out at the length the last one left it (any other
 * buffer works, with a slower table walk for the codes defined before); it
 * assumes those bytes are not changed in between. */
int cairn__lzw_dec_feed(cairn_lzw_dec *dec, const uint8_t *in, size_t len, cairn_buf *out,
                        cairn_diag *diag);

/* cairn__lzw_dec_finished says whether the EOF code has been decoded. */
bool cairn__lzw_dec_finished(const cairn_lzw_dec *dec);

/* cairn__lzw_decompress is the one-shot form: decodes the complete stream
 * in[0..len) into out (appending), with at most `limit` output bytes (0
 * means CAIRN_LZW_MAX_DECOMPRESSED; out->limit also applies). Returns 0,
 * CAIRN_EPROTO (invalid code, or no EOF code: "lzw: unexpected EOF"),
 * CAIRN_ELIMIT (output too large) or CAIRN_ENOMEM; on error out's length is
 * restored. Thread-safe. */
int cairn__lzw_decompress(const uint8_t *in, size_t len, size_t limit, cairn_buf *out,
                          cairn_diag *diag);

#endif
