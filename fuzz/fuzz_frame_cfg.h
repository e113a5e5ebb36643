/* Shared by the framing fuzz targets (fuzz_packet.c, fuzz_stream.c): the
 * fixed test key and the configuration picked by the input's mode byte.
 * Header-only because each fuzz target is built from its one .c file. */
#ifndef CAIRN_FUZZ_FRAME_CFG_H
#define CAIRN_FUZZ_FRAME_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/keyring.h"
#include "wire/frame.h"

static const uint8_t fuzz_key[32] = "cairn-fuzz-key-0123456789abcdef";

/* fuzz_frame_setup makes a keyring holding fuzz_key and a frame config for
 * `mode`: bits 0..1 nonzero = the keyring is configured, bit 2 =
 * verify_incoming off; decompression capped at 4 MiB to keep runs fast.
 * Returns 0, or nonzero when the keyring cannot be made (skip the input).
 * The caller deletes *ret_ring. */
static inline int fuzz_frame_setup(uint8_t mode, cairn_keyring **ret_ring, cairn_frame_cfg *ret_cfg)
{
    cairn_keyring *ring = NULL;
    if (cairn_keyring_new(fuzz_key, sizeof fuzz_key, &ring) != 0)
        return -1;
    cairn__frame_cfg_default(ret_cfg);
    ret_cfg->max_decompressed = (size_t)4 << 20;
    ret_cfg->keyring = (mode & 3) ? ring : NULL;
    ret_cfg->verify_incoming = !(mode & 4);
    *ret_ring = ring;
    return 0;
}

#endif
