/* libFuzzer target for memberlist's TCP side on the simulator: hostile
 * bytes on an inbound stream (push/pull, TCP ping, user message, anything)
 * and as the peer's answer to our own join push/pull. Exercises the
 * incremental stream parsing, the push/pull size caps, the version check,
 * the merge into the state machine and the err responses.
 *
 * Byte 0: bit 0 picks the direction (0: a peer connects to us and sends the
 * bytes; 1: we join the peer, which answers with the bytes), bits 1..7 the
 * stream segment size (1..128) so partial reads are covered. Invariants:
 * no crash, no leak, our node stays alive, the table within its cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "cairn/memberlist.h"
#include "cairn/sim.h"

struct peer {
    const uint8_t *data;
    size_t len;
    cairn_stream *stream;
    cairn_listener *lst;
};

static void on_read(cairn_stream *s, const uint8_t *data, size_t len, int status, void *ud)
{
    (void)s;
    (void)data;
    (void)len;
    (void)status;
    (void)ud;
}

static void on_connect(cairn_stream *s, int status, void *ud)
{
    struct peer *p = ud;
    if (status < 0) {
        p->stream = NULL;
        return;
    }
    (void)cairn_stream_start_read(s, on_read, p);
    (void)cairn_stream_write(s, p->data, p->len);
}

static void on_accept(cairn_listener *lst, cairn_stream *s, void *ud)
{
    struct peer *p = ud;
    (void)lst;
    if (p->stream) {
        cairn_stream_close(s);
        return;
    }
    p->stream = s;
    (void)cairn_stream_start_read(s, on_read, p);
    (void)cairn_stream_write(s, p->data, p->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool outbound = data[0] & 1;
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    struct peer p = {.data = data + 1, .len = size - 1};
    cairn_sim *sim;
    if (cairn_sim_new(1, &sim) < 0)
        return 0;
    cairn_sim_set_stream_chunk(sim, chunk);
    cairn_addr a, b;
    (void)cairn_addr_parse("10.0.0.1:7946", 0, &a);
    (void)cairn_addr_parse("10.0.0.2:7946", 0, &b);
    cairn_loop *la = NULL, *lb = NULL;
    cairn_memberlist *ml = NULL;
    if (cairn_sim_node_loop(sim, &a, &la) < 0 || cairn_sim_node_loop(sim, &b, &lb) < 0)
        goto out;
    cairn_memberlist_config c;
    cairn_memberlist_config_lan(&c);
    c.name = "me";
    c.bind = a;
    c.seed = 1;
    c.max_nodes = 64;
    c.max_broadcasts = 64;
    if (cairn_memberlist_new(la, &c, NULL, NULL, NULL, &ml) < 0)
        goto out;
    if (outbound) {
        if (cairn_listen(lb, &b, on_accept, &p, &p.lst) < 0)
            goto out;
        (void)cairn_memberlist_join(ml, &b, 1, NULL, NULL);
    } else {
        (void)cairn_stream_dial(lb, &a, CAIRN_SEC, on_connect, &p, &p.stream);
    }
    cairn_sim_run_for(sim, 15 * CAIRN_SEC);
    cairn_ml_node me;
    cairn_memberlist_local_node(ml, &me);
    if (me.state != CAIRN_ML_ALIVE || cairn_memberlist_num_nodes(ml) > c.max_nodes)
        abort();
out:
    cairn_stream_close(p.stream);
    cairn_listener_close(p.lst);
    cairn_memberlist_delete(ml);
    cairn_loop_delete(lb);
    cairn_loop_delete(la);
    cairn_sim_delete(sim);
    return 0;
}
