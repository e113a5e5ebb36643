#!/usr/bin/env python3
"""Capture what the real `serf` CLI sends to an agent's RPC port, as the
seed corpus of fuzz/fuzz_serfrpc_server.c.

Usage: tools/capture_serfrpc_requests.py OUTDIR AGENT_RPC_PORT

Listens on a free loopback port, forwards every connection to the agent at
127.0.0.1:AGENT_RPC_PORT, and runs one `serf` command per seed through it
(members with filters, join, event, query, reachability, monitor (2 s,
SIGINT), tags, info, rtt, keys, force-leave, with an auth key); the bytes
the CLI sent on each connection are written to OUTDIR/<name>.bin.
Start any agent first (a cairn agent with --rpc-auth sekrit or a Serf agent
with rpc_auth "sekrit"). Nothing is left running.
"""
import os, signal, socket, subprocess, sys, threading

out, agent_port = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(16)
port = lst.getsockname()[1]
captured = []


def pump(src, dst, record):
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            if record is not None:
                record.append(d)
            dst.sendall(d)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve():
    while True:
        try:
            c, _ = lst.accept()
        except OSError:
            return
        a = socket.create_connection(("127.0.0.1", agent_port))
        rec = []
        captured.append(rec)
        threading.Thread(target=pump, args=(c, a, rec), daemon=True).start()
        threading.Thread(target=pump, args=(a, c, None), daemon=True).start()


threading.Thread(target=serve, daemon=True).start()
A = ["-rpc-addr=127.0.0.1:%d" % port, "-rpc-auth=sekrit"]
cmds = {
    "cli_members": ["members"],
    "cli_members_filtered": ["members", "-status=alive", "-name=c.*", "-tag", "role=web"],
    "cli_members_detailed": ["members", "-detailed", "-format=json"],
    "cli_join": ["join", "-replay", "127.0.0.1:1", "127.0.0.1:2"],
    "cli_event": ["event", "-coalesce=false", "deploy", "v1"],
    "cli_query": ["query", "-timeout=500ms", "-node=a", "-tag", "role=x", "-format=json",
                  "uptime", "p"],
    "cli_query_noack": ["query", "-timeout=500ms", "-no-ack", "uptime"],
    "cli_reachability": ["reachability"],
    "cli_tags": ["tags", "-set", "a=b", "-delete", "c"],
    "cli_info": ["info"],
    "cli_rtt": ["rtt", "x"],
    "cli_keys_list": ["keys", "-list"],
    "cli_keys_install": ["keys", "-install", "yMCY+b6BRo6wZ+KdWGnbyeT2GRH9IxLQS4zSBW2xows="],
    "cli_keys_use": ["keys", "-use", "yMCY+b6BRo6wZ+KdWGnbyeT2GRH9IxLQS4zSBW2xows="],
    "cli_keys_remove": ["keys", "-remove", "yMCY+b6BRo6wZ+KdWGnbyeT2GRH9IxLQS4zSBW2xows="],
    "cli_force_leave": ["force-leave", "-prune", "nosuch"],
}
for name, args in cmds.items():
    before = len(captured)
    subprocess.run(["serf", args[0]] + A + args[1:], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=20)
    for i, rec in enumerate(captured[before:]):
        with open(os.path.join(out, "%s%s.bin" % (name, "_%d" % i if i else "")), "wb") as f:
            f.write(b"".join(rec))
before = len(captured)
p = subprocess.Popen(["serf", "monitor"] + A + ["-log-level=debug"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
try:
    p.wait(timeout=2)
except subprocess.TimeoutExpired:
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)
for rec in captured[before:]:
    with open(os.path.join(out, "cli_monitor.bin"), "wb") as f:
        f.write(b"".join(rec))
lst.close()
