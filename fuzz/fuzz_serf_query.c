/* libFuzzer target: arbitrary bytes as a serf message received by a live
 * simulated serf node: queries (ring, filters with POSIX regexps, acks,
 * relays, delivery and the internal _serf_* handlers with a keyring),
 * query responses (matched against a running query of ours) and relays
 * (forwarded). Two nodes on one cairn_sim, kept across inputs; the sim
 * runs a little after each input so replies are sent and received. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "serf/serf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cairn_sim *sim;
static cairn_serf *nodes[2];
static cairn_keyring *ring;

static void on_event(const cairn_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == CAIRN_EVENT_QUERY && ev->respond)
        (void)ev->respond(ev->respond_ctx, ev->query_id, ev->payload, ev->payload_len);
}

static void setup(void)
{
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const char *const names[2] = {"a", "b"};
    if (cairn_sim_new(42, &sim) < 0 || cairn_keyring_new(key, sizeof(key), &ring) < 0)
        abort();
    cairn_addr addr[2];
    for (int i = 0; i < 2; i++) {
        uint8_t ip[4] = {10, 0, 0, (uint8_t)(i + 1)};
        cairn_loop *loop;
        cairn_serf_config c;
        cairn_serf_config_default(&c);
        c.memberlist.name = names[i];
        c.memberlist.seed = (uint64_t)i + 1;
        c.event_cb = on_event;
        cairn_tag t = {"role", "web"};
        c.tags = &t;
        c.ntags = 1;
        if (cairn_addr_from_ip(ip, 4, 7946, &addr[i]) < 0)
            abort();
        c.memberlist.bind = addr[i];
        if (cairn_sim_node_loop(sim, &addr[i], &loop) < 0 ||
            cairn_serf_new(loop, &c, NULL, ring, &nodes[i], NULL) < 0)
            abort();
    }
    if (cairn_serf_join(nodes[1], &addr[0], 1, false, NULL, NULL) < 0)
        abort();
    cairn_sim_run_for(sim, 2 * CAIRN_SEC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sim == NULL)
        setup();
    if (size == 0)
        return 0;
    cairn_serf *s = nodes[1];
    /* A query of ours is running, so responses may match one. */
    cairn_serf_query_params p = {.name = "fz", .request_ack = true, .relay_factor = 1};
    (void)cairn_serf_query(s, &p, NULL, NULL, NULL);
    switch (data[0]) {
    case CAIRN_WIRE_SERF_QUERY:
        (void)cairn__serf_handle_query(s, data, size);
        break;
    case CAIRN_WIRE_SERF_QUERY_RESPONSE:
        cairn__serf_handle_query_response(s, data, size);
        break;
    case CAIRN_WIRE_SERF_RELAY:
        cairn__serf_handle_relay(s, data, size);
        break;
    default:
        (void)cairn__serf_filters_match("b", NULL, 0, &(cairn_span){data, size}, 1);
        break;
    }
    cairn_sim_run_for(sim, 5 * CAIRN_MSEC);
    /* Keys must survive: put the known key back as primary. */
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    (void)cairn_keyring_add(ring, key, sizeof(key));
    (void)cairn_keyring_use(ring, key, sizeof(key));
    return 0;
}
