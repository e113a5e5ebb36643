/* CRC-32 (IEEE) for memberlist's hasCrc wrapper, via zlib, and the framing
 * configuration defaults (memberlist DefaultLANConfig). */
#include "wire/frame.h"

#include <zlib.h>

uint32_t cairn__crc32(const uint8_t *p, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths; feed large buffers in pieces. */
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}

void cairn__frame_cfg_default(cairn_frame_cfg *cfg)
{
    cfg->keyring = NULL;
    cfg->verify_incoming = true;
    cfg->verify_outgoing = true;
    cfg->compress = true;
    cfg->enc_version = 1;
    cfg->max_decompressed = 0;
}

bool cairn__frame_encrypting(const cairn_frame_cfg *cfg)
{
    return cfg->keyring != NULL && cairn_keyring_count(cfg->keyring) > 0 && cfg->verify_outgoing;
}
