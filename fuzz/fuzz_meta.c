/* libFuzzer target: serf tags in memberlist Meta; decoded tag sets that
 * have no duplicate keys re-encode within the 512-byte limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_wire_arena a;
    cairn__wire_arena_init(&a, 1u << 20);
    cairn_wire_tag *t;
    size_t n;
    cairn_diag d;
    cairn_diag_clear(&d);
    int e = cairn__wire_tags_decode((cairn_span){size ? data : NULL, size}, &a, &d, &t, &n);
    if (e == 0) {
        cairn_buf out;
        cairn_buf_init(&out, 4096);
        e = cairn__wire_tags_encode(t, n, &out, NULL);
        if (e == 0) {
            if (out.len > CAIRN_WIRE_META_MAX)
                abort();
            cairn_wire_tag *t2;
            size_t n2;
            if (cairn__wire_tags_decode((cairn_span){out.data, out.len}, &a, NULL, &t2, &n2) != 0 ||
                n2 != n)
                abort();
        }
        cairn_buf_destroy(&out);
    } else if (d.msg[0] == 0 && e != CAIRN_EINVAL) {
        abort();
    }
    cairn__wire_arena_destroy(&a);
    return 0;
}
