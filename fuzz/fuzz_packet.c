/* libFuzzer target for the UDP packet pipeline (src/wire/packet.c and the
 * layers under it). Byte 0 picks the configuration:
 *   bit 0: encrypt the rest with the fixed test key first, so the fuzzer
 *          reaches the layers inside encryption;
 *   bit 1: a keyring is configured (else plaintext only);
 *   bit 2: verify_incoming off (undecryptable packets taken as plaintext).
 * The decoder must never crash, must deliver spans inside its buffers and
 * must account for every packet. A re-encode of each delivered message must
 * decode back to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_frame_cfg.h"
#include "wire/keyring_internal.h"

typedef struct sink {
    size_t count;
    size_t bytes;
} sink;

static void on_msg(uint8_t type, const uint8_t *body, size_t len, void *ud)
{
    sink *s = ud;
    s->count++;
    /* touch every byte so ASan checks the span */
    for (size_t i = 0; i < len; i++)
        s->bytes += body[i];
    s->bytes += type;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    cairn_keyring *ring;
    cairn_frame_cfg cfg;
    if (fuzz_frame_setup(mode, &ring, &cfg) != 0)
        return 0;
    cairn_buf pkt;
    cairn_buf_init(&pkt, (size_t)1 << 20);
    const uint8_t *p = data;
    size_t n = size;
    if (mode & 1) {
        if (cairn__keyring_encrypt(ring, 1, NULL, 0, data, size, &pkt) != 0)
            abort();
        p = pkt.data;
        n = pkt.len;
    }
    cairn_packet_stats st = {0};
    sink s = {0, 0};
    cairn_diag d;
    cairn_diag_clear(&d);
    int r = cairn__packet_decode(&cfg, p, n, on_msg, &s, &st, &d);
    if (st.packets != 1 || st.delivered != s.count)
        abort();
    if (r != 0 && d.err == 0)
        abort();
    /* the encoder's output for the whole input always decodes */
    if (size > 0 && size < 2000) {
        cairn_buf out;
        cairn_buf_init(&out, (size_t)1 << 20);
        uint8_t *m = malloc(size);
        memcpy(m, data, size);
        m[0] = 4; /* alive */
        if (cairn__packet_encode(&cfg, mode & 8, m, size, &out) == 0) {
            cairn_packet_stats st2 = {0};
            sink s2 = {0, 0};
            cfg.verify_incoming = true;
            if (cairn__packet_decode(&cfg, out.data, out.len, on_msg, &s2, &st2, NULL) != 0 ||
                s2.count != 1)
                abort();
        }
        free(m);
        cairn_buf_destroy(&out);
    }
    cairn_buf_destroy(&pkt);
    cairn_keyring_delete(ring);
    return 0;
}
