/* Internal to the src/wire framing files (frame_mp.c, frame_compress.c,
 * compound.c, packet.c, stream.c). */
#ifndef CAIRN_WIRE_FRAME_INTERNAL_H
#define CAIRN_WIRE_FRAME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Resumable measurement of one msgpack object. Start with
 * cairn__frame_mp_scan_init; cairn__frame_mp_scan_run consumes whole items from p[off..)
 * and returns 0 when the object is complete (its length is s->off),
 * CAIRN_EAGAIN when p ends first (call again with a longer p, same start),
 * CAIRN_EPROTO for 0xc1, CAIRN_ELIMIT when the object cannot fit in `cap`
 * bytes. */
typedef struct frame_mp_scan {
    size_t off;       /* bytes of the object measured so far */
    uint64_t pending; /* items still to measure */
} frame_mp_scan;

void cairn__frame_mp_scan_init(frame_mp_scan *s);
int cairn__frame_mp_scan_run(frame_mp_scan *s, const uint8_t *p, size_t len, size_t cap);

/* Big-endian loads. */
static inline uint32_t frame_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t frame_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void frame_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
