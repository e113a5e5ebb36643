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
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
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
