/* The `cairn` program: a dispatcher over a table of commands.
 *
 * `cairn COMMAND [options]` looks COMMAND up in the table below and hands it
 * the remaining arguments. Commands live in their own files (cmd_*.c) and
 * declare themselves in commands.h; adding one means one table line here.
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const cairn_cli_command commands[] = {
    {"members", "list the members a Serf agent knows (name, addr, port, status, tags)",
     cairn_cmd_members},
    {"join", "tell a Serf agent to join a cluster", cairn_cmd_join},
    {"leave", "make a Serf agent leave its cluster gracefully and shut down", cairn_cmd_leave},
    {"force-leave", "force a failed member into the left state", cairn_cmd_force_leave},
    {"event", "send a custom user event through the cluster", cairn_cmd_event},
    {"query", "send a query and print the acks and responses", cairn_cmd_query},
    {"reachability", "check that every live member answers a ping query", cairn_cmd_reachability},
    {"monitor", "stream a Serf agent's log and events", cairn_cmd_monitor},
    {"tags", "set or delete tags of a Serf agent's own node", cairn_cmd_tags},
    {"info", "print a Serf agent's statistics", cairn_cmd_info},
    {"rtt", "estimate the round trip time between two nodes", cairn_cmd_rtt},
    {"keys", "list, install, use or remove the cluster's encryption keys", cairn_cmd_keys},
    {"keygen", "print a new random encryption key", cairn_cmd_keygen},
    {"dcs", "list the Consul server datacenters by estimated RTT, local first", cairn_cmd_dcs},
    {"route", "the server a client would use now for a datacenter (after a ping)", cairn_cmd_route},
    {"dc-maps", "JSON of Consul's /v1/coordinate/datacenters", cairn_cmd_dc_maps},
    {"watch", "live routes of every datacenter as members join, fail and leave", cairn_cmd_watch},
    {"agent", "run a gossip node that joins Serf clusters (memberlist only, for now)",
     cairn_cmd_agent},
    {"wire", "decode a captured serf/memberlist packet or stream as JSON (wire decode)",
     cairn_cmd_wire},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `cairn COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cairn: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
