/* Helpers for the wire framing tests: hex, vector files, Go's generator. */
#ifndef CAIRN_TEST_WIRE_FRAME_VEC_H
#define CAIRN_TEST_WIRE_FRAME_VEC_H

#include <stddef.h>
#include <stdint.h>

/* wfv_hex decodes hex ("-" is empty) into a malloc'd buffer (at least one
 * byte allocated); returns the length or -1 on bad hex. */
long wfv_hex(const char *hex, uint8_t **ret);

/* wfv_gen fills out[0..n) exactly like the Go vector generator:
 * xorshift32 (13, 17, 5) from seed, byte = (x >> 8) % k. */
void wfv_gen(uint32_t seed, size_t n, uint32_t k, uint8_t *out);

/* wfv_sha256_hex writes the lowercase hex SHA-256 of p (65 bytes). */
void wfv_sha256_hex(const uint8_t *p, size_t n, char out[65]);

/* wfv_path returns CAIRN_SOURCE_DIR "/tests/vectors/wire_frame/" name in a
 * static buffer (test use only). */
const char *wfv_path(const char *source_dir, const char *name);

/* wfv_field finds "key=" in line and decodes the hex after it. */
long wfv_field(const char *line, const char *key, uint8_t **ret);

#endif
