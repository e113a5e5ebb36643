/* memberlist compound packets: [07][n: u8][n × BE u16 length][parts].
 *
 * The packer mirrors memberlist's accounting: a gossip datagram may hold
 * UDPBufferSize (1400) bytes less the encryption overhead; the compound
 * header costs 2 bytes and every packed message its length plus 2 (the
 * compoundOverhead charged by getBroadcasts). The count is a u8, so at most
 * 255 parts; a part is at most 65535 bytes. Like memberlist's gossip(), a
 * caller may send a lone message bare instead of as a one-part compound.
 *
 * Splitting (cairn_compound_split, internal) follows decodeCompoundMessage:
 * a missing count byte or a short length table is an error; a part whose
 * length overruns the buffer ends the packet and the parts from there on
 * are counted as truncated, while earlier parts are still delivered.
 */
#include "wire/frame.h"

#include <string.h>

#include "frame_internal.h"

void cairn__compound_init(cairn_compound *c, size_t budget)
{
    c->count = 0;
    c->used = CAIRN_COMPOUND_HEADER;
    c->budget = budget;
}

bool cairn__compound_fits(const cairn_compound *c, size_t len)
{
    return c->count < CAIRN_COMPOUND_MAX_PARTS && len <= 0xffff && c->used <= c->budget &&
           len + CAIRN_COMPOUND_ENTRY_OVERHEAD <= c->budget - c->used;
}

int cairn__compound_add(cairn_compound *c, const uint8_t *msg, size_t len)
{
    if (c == NULL || (msg == NULL && len > 0))
        return CAIRN_EINVAL;
    if (len > 0xffff)
        return CAIRN_EMSGSIZE;
    if (!cairn__compound_fits(c, len))
        return CAIRN_ENOSPC;
    c->part[c->count] = msg;
    c->len[c->count] = (uint16_t)len;
    c->count++;
    c->used += len + CAIRN_COMPOUND_ENTRY_OVERHEAD;
    return 0;
}

int cairn__compound_write(const cairn_compound *c, bool single_bare, cairn_buf *out)
{
    if (c == NULL || out == NULL || c->count == 0)
        return CAIRN_EINVAL;
    if (single_bare && c->count == 1)
        return cairn_buf_append(out, c->part[0], c->len[0]);
    size_t total = 2 + 2 * c->count;
    for (size_t i = 0; i < c->count; i++)
        total += c->len[i];
    int r = cairn_buf_reserve(out, total);
    if (r < 0)
        return r;
    uint8_t *p = out->data + out->len;
    *p++ = CAIRN_FRAME_COMPOUND;
    *p++ = (uint8_t)c->count;
    for (size_t i = 0; i < c->count; i++) {
        *p++ = (uint8_t)(c->len[i] >> 8);
        *p++ = (uint8_t)c->len[i];
    }
    for (size_t i = 0; i < c->count; i++) {
        if (c->len[i])
            memcpy(p, c->part[i], c->len[i]);
        p += c->len[i];
    }
    out->len += total;
    return 0;
}

size_t cairn__packet_budget(const cairn_frame_cfg *cfg)
{
    size_t b = CAIRN_PACKET_UDP_BUDGET;
    if (cfg != NULL && cairn__frame_encrypting(cfg))
        b -= cfg->enc_version == 0 ? CAIRN_KEYRING_OVERHEAD_V0 : CAIRN_KEYRING_OVERHEAD_V1;
    return b;
}
