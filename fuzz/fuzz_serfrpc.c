/* libFuzzer target for the Serf agent RPC reply decoders.
 *
 * The input is treated as the byte stream an agent sends: it is split into
 * msgpack objects with cairn__ipc_object_len (the client's framing), the first of
 * each pair is decoded as a response header, and the next object is fed to
 * every body decoder (members, join, get-coordinate, stats, stream record,
 * key reply, query record, monitor record, stats section names),
 * each into a fresh arena that is destroyed afterwards; the framing's
 * declared-size bound (cairn__ipc_min_len) is checked against each
 * object's real length. Seeds are real
 * replies captured from serf 0.9.4 by tools/capture_serfrpc.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/serfrpc.h"
#include "serfrpc/decode.h"
#include "serfrpc/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_bodies(const uint8_t *p, size_t n)
{
    cairn_wire_arena a;
    cairn_diag diag;
    cairn_member *ms;
    size_t nms;
    int32_t num;
    bool ok;
    cairn_coord co;
    cairn_serfrpc_stat *st;
    size_t nst;
    cairn_event ev;
    cairn_serfrpc_keys keys;
    cairn_serfrpc_query_record qr;
    const char *line;

    cairn__wire_arena_init(&a, 8 * n + 256 * 1024);
    cairn_diag_clear(&diag);
    if (cairn__serfrpc_decode_members(p, n, &a, &ms, &nms, &diag) == 0)
        for (size_t i = 0; i < nms; i++)
            (void)strlen(ms[i].name);
    cairn__wire_arena_destroy(&a);
    (void)cairn__serfrpc_decode_join(p, n, &num, &diag);
    (void)cairn__serfrpc_decode_coord(p, n, &ok, &co, &diag);
    if (cairn__serfrpc_decode_stats(p, n, &a, &st, &nst, &diag) == 0)
        for (size_t i = 0; i < nst; i++)
            (void)strlen(st[i].value);
    cairn__wire_arena_destroy(&a);
    if (cairn__serfrpc_decode_record(p, n, &a, &ev, &diag) == 0)
        for (size_t i = 0; i < ev.nmembers; i++)
            for (size_t t = 0; t < ev.members[i].ntags; t++)
                (void)strlen(ev.members[i].tags[t].value);
    cairn__wire_arena_destroy(&a);
    if (cairn__serfrpc_decode_keys(p, n, &a, &keys, &diag) == 0) {
        for (size_t i = 0; i < keys.nkeys; i++)
            (void)strlen(keys.keys[i].key);
        for (size_t i = 0; i < keys.nmessages; i++)
            (void)strlen(keys.messages[i].message);
    }
    cairn__wire_arena_destroy(&a);
    if (cairn__serfrpc_decode_query_record(p, n, &a, &qr, &diag) == 0) {
        if (strlen(qr.from) > CAIRN_NAME_MAX)
            abort();
        if (qr.payload_len > 0)
            (void)*(volatile const uint8_t *)&qr.payload[qr.payload_len - 1];
    }
    cairn__wire_arena_destroy(&a);
    const char **sections;
    size_t nsections;
    if (cairn__serfrpc_decode_stat_sections(p, n, &a, &sections, &nsections, &diag) == 0)
        for (size_t i = 0; i < nsections; i++)
            (void)strlen(sections[i]);
    cairn__wire_arena_destroy(&a);
    if (cairn__serfrpc_decode_log(p, n, &a, &line, &diag) == 0)
        (void)strlen(line);
    cairn__wire_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        size_t len;
        if (cairn__ipc_object_len(data + off, size - off, CAIRN_SERFRPC_MAX_RECORD, &len) != 0)
            break;
        /* The declared-size bound is exact for a whole object and never
         * more than the object for a prefix (or the client would refuse a
         * reply that fits). */
        if (cairn__ipc_min_len(data + off, len) != len ||
            cairn__ipc_min_len(data + off, len / 2) > len)
            abort();
        cairn_wire_arena a;
        serfrpc_header h;
        cairn__wire_arena_init(&a, 64 * 1024);
        (void)cairn__serfrpc_decode_header(data + off, len, &a, &h, NULL);
        cairn__wire_arena_destroy(&a);
        decode_bodies(data + off, len);
        off += len;
    }
    return 0;
}
