/* cli/commands.h: the `cairn` program's command table.
 *
 * Each command is a function taking the arguments after the program name
 * (argv[0] is the command name itself) and returning the exit status:
 * 0 success, 1 failure (message on stderr), 2 usage error. Every command
 * answers --help with its usage on stdout and status 0.
 */
#ifndef CAIRN_CLI_COMMANDS_H
#define CAIRN_CLI_COMMANDS_H

typedef int (*cairn_cli_fn)(int argc, char **argv);

typedef struct cairn_cli_command {
    /* The word after `cairn` ("members", "wire" ...). */
    const char *name;
    /* One line for `cairn --help`. */
    const char *summary;
    cairn_cli_fn run;
} cairn_cli_command;

/* `cairn agent` (src/cli/cmd_agent.c). */
int cairn_cmd_agent(int argc, char **argv);

/* `cairn wire decode` (src/cli/cmd_wire.c). */
int cairn_cmd_wire(int argc, char **argv);

/* The serf CLI's commands over a Serf agent's RPC (src/cli/cmd_rpc.c). */
int cairn_cmd_members(int argc, char **argv);
int cairn_cmd_join(int argc, char **argv);
int cairn_cmd_leave(int argc, char **argv);
int cairn_cmd_force_leave(int argc, char **argv);
int cairn_cmd_event(int argc, char **argv);
int cairn_cmd_query(int argc, char **argv);
int cairn_cmd_reachability(int argc, char **argv);
int cairn_cmd_monitor(int argc, char **argv);
int cairn_cmd_tags(int argc, char **argv);
int cairn_cmd_info(int argc, char **argv);
int cairn_cmd_rtt(int argc, char **argv);
int cairn_cmd_keys(int argc, char **argv);
int cairn_cmd_keygen(int argc, char **argv);

/* Routing over a Serf agent's RPC (src/cli/cmd_serf.c). */
int cairn_cmd_dcs(int argc, char **argv);
int cairn_cmd_route(int argc, char **argv);
int cairn_cmd_dc_maps(int argc, char **argv);
int cairn_cmd_watch(int argc, char **argv);

#endif
