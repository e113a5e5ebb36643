/* Measuring msgpack objects without decoding them.
 *
 * The TCP stream carries self-delimiting msgpack with no length prefix, so
 * the stream reader must know where an object ends before a message decoder
 * sees it, and the compress decoder must skip unknown map values. Both need
 * only the sizes of msgpack items, which the first byte (and a length field)
 * determine. Instead of recursing into containers we keep a count of items
 * still to measure: a container adds its element count (twice for maps).
 * That bounds the stack whatever the nesting, and a count larger than the
 * bytes that could possibly follow is rejected at once, so a header that
 * claims four billion elements costs nothing. The scan is resumable: the
 * stream reader keeps the offset and count between feeds, so a large object
 * arriving in small chunks is measured in linear time.
 */
#include "wire/frame.h"
#include "frame_internal.h"

void cairn__frame_mp_scan_init(frame_mp_scan *s)
{
    s->off = 0;
    s->pending = 1;
}

/* item_size: header length, payload length and children of the item whose
 * first byte is p[0], reading length fields from p[1..avail). Returns 0,
 * CAIRN_EAGAIN (length field incomplete) or CAIRN_EPROTO. */
static int item_size(const uint8_t *p, size_t avail, uint64_t *ret_size, uint64_t *ret_children)
{
    uint8_t b = p[0];
    size_t hdr = 1;
    uint64_t data = 0, kids = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        /* fixint, nil, bool */
    } else if (b <= 0x8f) {
        kids = 2u * (b & 0x0f);
    } else if (b <= 0x9f) {
        kids = b & 0x0f;
    } else if (b <= 0xbf) {
        data = b & 0x1f;
    } else {
        static const uint8_t fixed[] = {
            [0xca - 0xc0] = 4, [0xcb - 0xc0] = 8, [0xcc - 0xc0] = 1,  [0xcd - 0xc0] = 2,
            [0xce - 0xc0] = 4, [0xcf - 0xc0] = 8, [0xd0 - 0xc0] = 1,  [0xd1 - 0xc0] = 2,
            [0xd2 - 0xc0] = 4, [0xd3 - 0xc0] = 8, [0xd4 - 0xc0] = 2,  [0xd5 - 0xc0] = 3,
            [0xd6 - 0xc0] = 5, [0xd7 - 0xc0] = 9, [0xd8 - 0xc0] = 17,
        };
        size_t lenbytes = 0;
        int extra = 0, mult = 0; /* extra: ext type byte; mult: 0 data, 1 array, 2 map */
        switch (b) {
        case 0xc1:
            return CAIRN_EPROTO;
        case 0xc4:
        case 0xd9:
            lenbytes = 1;
            break;
        case 0xc5:
        case 0xda:
            lenbytes = 2;
            break;
        case 0xc6:
        case 0xdb:
            lenbytes = 4;
            break;
        case 0xc7:
            lenbytes = 1;
            extra = 1;
            break;
        case 0xc8:
            lenbytes = 2;
            extra = 1;
            break;
        case 0xc9:
            lenbytes = 4;
            extra = 1;
            break;
        case 0xdc:
            lenbytes = 2;
            mult = 1;
            break;
        case 0xdd:
            lenbytes = 4;
            mult = 1;
            break;
        case 0xde:
            lenbytes = 2;
            mult = 2;
            break;
        case 0xdf:
            lenbytes = 4;
            mult = 2;
            break;
        default:
            data = fixed[b - 0xc0];
            break;
        }
        if (lenbytes) {
            if (avail < 1 + lenbytes)
                return CAIRN_EAGAIN;
            uint64_t n = lenbytes == 1   ? p[1]
                         : lenbytes == 2 ? frame_be16(p + 1)
                                         : frame_be32(p + 1);
            hdr = 1 + lenbytes + (size_t)extra;
            if (mult)
                kids = n * (uint64_t)mult;
            else
                data = n;
        }
    }
    *ret_size = hdr + data;
    *ret_children = kids;
    return 0;
}

int cairn__frame_mp_scan_run(frame_mp_scan *s, const uint8_t *p, size_t len, size_t cap)
{
    while (s->pending > 0) {
        if (s->off >= len)
            return s->off + s->pending > cap ? CAIRN_ELIMIT : CAIRN_EAGAIN;
        uint64_t size, kids;
        int r = item_size(p + s->off, len - s->off, &size, &kids);
        if (r < 0)
            return r;
        if (size > cap || s->off + size > cap)
            return CAIRN_ELIMIT;
        if (s->off + size > len)
            return CAIRN_EAGAIN;
        s->off += (size_t)size;
        s->pending = s->pending - 1 + kids;
        /* Every pending item needs at least one more byte. */
        if (s->pending > cap - s->off)
            return CAIRN_ELIMIT;
    }
    return 0;
}

int cairn__frame_mp_object_len(const uint8_t *p, size_t len, size_t *ret_len)
{
    if (p == NULL && len > 0)
        return CAIRN_EINVAL;
    frame_mp_scan s;
    cairn__frame_mp_scan_init(&s);
    int r = cairn__frame_mp_scan_run(&s, p, len, SIZE_MAX);
    if (r < 0)
        return r;
    if (ret_len)
        *ret_len = s.off;
    return 0;
}
