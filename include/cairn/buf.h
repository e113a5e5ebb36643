/* cairn/buf.h: a growable byte buffer with a hard cap.
 *
 * Every buffer that grows from untrusted input has a limit fixed at
 * creation; an append past it fails with CAIRN_ELIMIT and leaves the buffer
 * unchanged, so hostile input cannot grow memory without bound.
 */
#ifndef CAIRN_BUF_H
#define CAIRN_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A byte buffer the caller embeds; its fields are read-only for callers. */
typedef struct cairn_buf {
    /* The bytes; NULL until the first append. Owned by the buffer. */
    uint8_t *data;
    /* Bytes in use. */
    size_t len;
    /* Bytes allocated. */
    size_t cap;
    /* Largest len ever allowed. */
    size_t limit;
} cairn_buf;

/* cairn_buf_init prepares an empty buffer in caller memory with the given
 * limit; it allocates nothing. */
void cairn_buf_init(cairn_buf *b, size_t limit);
/* cairn_buf_destroy frees the bytes; the buffer is empty afterwards. */
void cairn_buf_destroy(cairn_buf *b);
/* cairn_buf_reserve makes room for n more bytes: 0, CAIRN_ELIMIT or
 * CAIRN_ENOMEM. */
int cairn_buf_reserve(cairn_buf *b, size_t n);
/* cairn_buf_append copies n bytes to the end: 0, CAIRN_ELIMIT or
 * CAIRN_ENOMEM (buffer unchanged on error). */
int cairn_buf_append(cairn_buf *b, const void *p, size_t n);
/* cairn_buf_consume drops the first n bytes (n <= len). */
void cairn_buf_consume(cairn_buf *b, size_t n);
/* cairn_buf_reset empties the buffer, keeping its memory. */
void cairn_buf_reset(cairn_buf *b);

#endif
