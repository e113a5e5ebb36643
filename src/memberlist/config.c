/* memberlist configuration profiles (Go: config.go DefaultLANConfig,
 * DefaultWANConfig, DefaultLocalConfig).
 *
 * Every number is the upstream default from the spec's table. cairn adds two
 * caps that upstream does not have (the node table and the broadcast queue
 * are bounded, as every cairn table is), sized well above the clusters the
 * spec describes.
 */
#include "cairn/memberlist.h"

#include <string.h>
#include <strings.h>

#include "cairn/error.h"

/* Node table cap: an order of magnitude above the largest recommended Consul
 * datacenter (about 5,000 agents). */
#define ML_DEFAULT_MAX_NODES 65536
/* Own broadcast queue cap: enough for one message per node of a large
 * cluster while it churns. */
#define ML_DEFAULT_MAX_BROADCASTS 16384
#define ML_DEFAULT_PORT           7946

const char *cairn_ml_state_name(int state)
{
    switch (state) {
    case CAIRN_ML_ALIVE:
        return "alive";
    case CAIRN_ML_SUSPECT:
        return "suspect";
    case CAIRN_ML_DEAD:
        return "dead";
    case CAIRN_ML_LEFT:
        return "left";
    default:
        return "unknown";
    }
}

void cairn_memberlist_config_lan(cairn_memberlist_config *c)
{
    memset(c, 0, sizeof(*c));
    c->bind.port = ML_DEFAULT_PORT;
    c->protocol_version = CAIRN_ML_PROTOCOL_DEFAULT;
    /* The serf agent's delegate versions (Vsn 01 05 02 02 05 05). */
    c->delegate_protocol_min = 2;
    c->delegate_protocol_max = 5;
    c->delegate_protocol_version = 5;
    c->tcp_timeout = 10 * CAIRN_SEC;
    c->indirect_checks = 3;
    c->retransmit_mult = 4;
    c->suspicion_mult = 4;
    c->suspicion_max_timeout_mult = 6;
    c->push_pull_interval = 30 * CAIRN_SEC;
    c->probe_timeout = 500 * CAIRN_MSEC;
    c->probe_interval = 1 * CAIRN_SEC;
    c->disable_tcp_pings = false;
    c->awareness_max_multiplier = 8;
    c->gossip_nodes = 3;
    c->gossip_interval = 200 * CAIRN_MSEC;
    c->gossip_to_the_dead_time = 30 * CAIRN_SEC;
    c->gossip_verify_incoming = true;
    c->gossip_verify_outgoing = true;
    c->enable_compression = true;
    c->handoff_queue_depth = 1024;
    c->udp_buffer_size = 1400;
    c->dead_node_reclaim_time = 0;
    c->max_nodes = ML_DEFAULT_MAX_NODES;
    c->max_broadcasts = ML_DEFAULT_MAX_BROADCASTS;
}

void cairn_memberlist_config_wan(cairn_memberlist_config *c)
{
    cairn_memberlist_config_lan(c);
    c->tcp_timeout = 30 * CAIRN_SEC;
    c->suspicion_mult = 6;
    c->push_pull_interval = 60 * CAIRN_SEC;
    c->probe_timeout = 3 * CAIRN_SEC;
    c->probe_interval = 5 * CAIRN_SEC;
    c->gossip_nodes = 4;
    c->gossip_interval = 500 * CAIRN_MSEC;
    c->gossip_to_the_dead_time = 60 * CAIRN_SEC;
}

void cairn_memberlist_config_local(cairn_memberlist_config *c)
{
    cairn_memberlist_config_lan(c);
    c->tcp_timeout = 1 * CAIRN_SEC;
    c->indirect_checks = 1;
    c->retransmit_mult = 2;
    c->suspicion_mult = 3;
    c->push_pull_interval = 15 * CAIRN_SEC;
    c->probe_timeout = 200 * CAIRN_MSEC;
    c->probe_interval = 1 * CAIRN_SEC;
    c->gossip_interval = 100 * CAIRN_MSEC;
    c->gossip_to_the_dead_time = 15 * CAIRN_SEC;
}

int cairn_memberlist_config_profile(const char *profile, cairn_memberlist_config *c)
{
    if (!profile || !c)
        return CAIRN_EINVAL;
    if (strcasecmp(profile, "lan") == 0)
        cairn_memberlist_config_lan(c);
    else if (strcasecmp(profile, "wan") == 0)
        cairn_memberlist_config_wan(c);
    else if (strcasecmp(profile, "local") == 0)
        cairn_memberlist_config_local(c);
    else
        return CAIRN_EINVAL;
    return 0;
}

int cairn_memberlist_config_check(const cairn_memberlist_config *c)
{
    if (!c || !c->name || !c->name[0])
        return CAIRN_EINVAL;
    if (c->protocol_version < CAIRN_ML_PROTOCOL_MIN || c->protocol_version > CAIRN_ML_PROTOCOL_MAX)
        return CAIRN_EINVAL;
    if (c->delegate_protocol_min > c->delegate_protocol_version ||
        c->delegate_protocol_version > c->delegate_protocol_max || c->delegate_protocol_min == 0)
        return CAIRN_EINVAL;
    if (c->tcp_timeout <= 0 || c->probe_timeout <= 0 || c->probe_interval < 0 ||
        c->gossip_interval < 0 || c->push_pull_interval < 0 || c->gossip_to_the_dead_time < 0)
        return CAIRN_EINVAL;
    if (c->indirect_checks < 0 || c->retransmit_mult < 1 || c->suspicion_mult < 1 ||
        c->suspicion_max_timeout_mult < 1 || c->awareness_max_multiplier < 1 ||
        c->gossip_nodes < 0 || c->handoff_queue_depth < 1)
        return CAIRN_EINVAL;
    /* A packet must hold at least a compound header and one small message. */
    if (c->udp_buffer_size < 64 || c->udp_buffer_size > 65507)
        return CAIRN_EINVAL;
    if (c->max_nodes < 1 || c->max_broadcasts < 1)
        return CAIRN_EINVAL;
    return 0;
}
