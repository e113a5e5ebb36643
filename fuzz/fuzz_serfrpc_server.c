/* libFuzzer target for the Serf agent RPC server's request decoding.
 *
 * The input is the byte stream a client sends. It is framed as the server
 * frames it (cairn__ipc_object_len with CAIRN_SERFRPC_SERVER_MAX_REQUEST),
 * each header is decoded with cairn__serfrpc_decode_req_header, and the
 * object after it with the one body decoder every command shares
 * (cairn__serfrpc_decode_req_body, into a fresh arena). What a body decoded
 * to is encoded back with every reply encoder (tags as a member, stats and
 * key messages, the list as names and keys, the payload as a user event, a
 * query and a query record, numbers as a coordinate and a join count), so
 * every string the decoder hands out is read to its end. Seeds: the bytes the real `serf` CLI
 * sends, captured by tools/capture_serfrpc_requests.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cairn/serfrpc_server.h"
#include "serfrpc/codec.h"
#include "serfrpc/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(const serfrpc_req_body *b)
{
    cairn_buf out;
    cairn_mp_writer w;
    cairn_buf_init(&out, 1u << 24);
    cairn__mp_writer_init(&w, &out, CAIRN_MP_IPC);
    cairn_member m = {.name = b->name ? b->name : "", .tags = b->tags, .ntags = b->ntags};
    cairn__serfrpc_encode_members(&w, &m, 1);
    for (size_t i = 0; i < b->nlist; i++)
        cairn__mp_write_cstr(&w, b->list[i]);
    cairn_event ev = {.type = CAIRN_EVENT_USER,
                      .name = b->node ? b->node : "",
                      .payload = b->payload,
                      .payload_len = b->payload_len};
    cairn__serfrpc_encode_event(&w, &ev, b->id);
    /* The other replies, fed from what was decoded. */
    cairn__serfrpc_encode_resp_header(&w, b->status ? b->status : "", b->id);
    cairn__serfrpc_encode_join(&w, b->timeout);
    cairn_coord co = {.dim = (unsigned)(b->relay_factor % (CAIRN_COORD_MAX_DIM + 1)),
                      .error = (double)b->timeout,
                      .height = (double)b->id};
    cairn__serfrpc_encode_coord(&w, b->coalesce, &co);
    ev.type = b->replay ? CAIRN_EVENT_QUERY : CAIRN_EVENT_MEMBER_JOIN;
    ev.members = &m;
    ev.nmembers = 1;
    cairn__serfrpc_encode_event(&w, &ev, b->id);
    cairn__serfrpc_encode_query_record(&w, b->type ? b->type : "ack", b->node ? b->node : "",
                                       b->payload, b->payload_len);
    /* Tags as stats (sections from the keys) and as key-command messages,
     * the list as keys. */
    cairn_serfrpc_stat st[8];
    size_t nst = 0;
    for (size_t i = 0; i < b->ntags && nst < 8; i++)
        st[nst++] = (cairn_serfrpc_stat){
            .section = b->tags[i].key, .key = i & 1 ? "" : b->tags[i].value, .value = "v"};
    cairn__serfrpc_encode_stats(&w, st, nst);
    int64_t counts[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cairn_serfrpc_key_result kr = {.error = "",
                                   .num_nodes = (int64_t)b->nlist,
                                   .messages = b->tags,
                                   .n_messages = b->ntags,
                                   .keys = b->list,
                                   .key_counts = counts,
                                   .n_keys = b->nlist < 8 ? b->nlist : 8};
    cairn__serfrpc_encode_keys(&w, &kr, b->prune);
    const char *strs[] = {b->auth_key, b->status, b->type, b->log_level, b->key};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i])
            cairn__serfrpc_encode_log(&w, strs[i]);
    (void)cairn__mp_writer_finish(&w);
    cairn_buf_destroy(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    bool header = true;
    while (off < size) {
        size_t len;
        if (cairn__ipc_object_len(data + off, size - off, CAIRN_SERFRPC_SERVER_MAX_REQUEST, &len) !=
            0)
            break;
        if (header) {
            serfrpc_req_header h;
            cairn_diag d = {0};
            memset(&h, 0, sizeof h);
            if (cairn__serfrpc_decode_req_header(data + off, len, &h, &d) == 0)
                (void)strlen(h.command);
        } else {
            cairn_wire_arena a;
            serfrpc_req_body b;
            cairn_diag d = {0};
            cairn__wire_arena_init(&a, 8 * CAIRN_SERFRPC_SERVER_MAX_REQUEST);
            if (cairn__serfrpc_decode_req_body(data + off, len, &a, &b, &d) == 0)
                reencode(&b);
            cairn__wire_arena_destroy(&a);
        }
        header = !header;
        off += len;
    }
    return 0;
}
