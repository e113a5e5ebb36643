#!/usr/bin/env bash
# Issue 13: the real `cairn agent` out of file descriptors.
#
# The agent runs under `prlimit --nofile=128`. A client opens 300
# connections to its RPC port and holds them silent: the agent takes
# descriptors until accept() fails with EMFILE, and the rest wait in the
# listen backlog. Checked:
#   1. no busy loop: the agent's CPU over 2 s of EMFILE stays under 0.3 s
#      (a listener that spins on accept() burns the whole 2 s);
#   2. no crash, and it recovers: once the client lets go, `cairn members`
#      over RPC answers within 5 s and gossip still works (a second agent
#      joins it).
# The silent connections are let go within the RPC handshake deadline (10 s).
#
# Every process is stopped by PID in the EXIT trap.
set -u
CAIRN_BIN=${CAIRN_BIN:-$(dirname "$0")/../../build/cairn}
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 0; }
command -v prlimit >/dev/null || { echo "SKIP: prlimit not installed"; exit 0; }

. "$(dirname "$0")/lib.sh"
interop_init fdlimit

B=$(pick_block 21400 20) || { echo "no free port block"; exit 1; }
P_A=$B; P_RPC=$((B + 1)); P_HTTP=$((B + 2)); P_J=$((B + 3)); P_JRPC=$((B + 4)); P_JHTTP=$((B + 5))

wait_port() {
    local i
    for i in $(seq 50); do
        [ -n "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

prlimit --nofile=128:128 "$CAIRN_BIN" agent --node a --bind 127.0.0.1:$P_A --rpc-addr 127.0.0.1:$P_RPC \
    --http-addr 127.0.0.1:$P_HTTP >"$D/a.log" 2>"$D/a.err" &
A=$!; PIDS+=($A)
wait_port $P_RPC || fail "agent did not listen"
HZ=$(getconf CLK_TCK)

python3 - $P_RPC $A "$HZ" >"$D/flood.out" <<'EOF' &
import socket, sys, time
port, pid, hz = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
held = []
for _ in range(300):
    c = socket.socket(); c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.5)  # the agent takes what it can
import os
print(f"fds {len(os.listdir(f'/proc/{pid}/fd'))}", flush=True)
t0 = ticks(); time.sleep(2); t1 = ticks()
print(f"cpu {(t1 - t0) / hz:.2f}", flush=True)
for c in held:
    c.close()
print("released", flush=True)
EOF
FLOOD=$!; PIDS+=($FLOOD)
wait "$FLOOD"
cpu=$(awk '/^cpu/ { print $2 }' "$D/flood.out")
fds=$(awk '/^fds/ { print $2 }' "$D/flood.out")
echo "# agent CPU over 2 s out of descriptors (${fds:-?} open of 128): ${cpu:-?} s"
[ "${fds:-0}" -ge 126 ] && ok "the agent ran out of descriptors ($fds open)" || fail "descriptors open: ${fds:-?}"
awk -v c="${cpu:-9}" 'BEGIN { exit !(c < 0.3) }' && ok "no busy loop on EMFILE (${cpu} s CPU in 2 s)" ||
    fail "agent CPU on EMFILE: ${cpu:-unknown} s in 2 s"
check "agent alive after EMFILE" kill -0 $A
wait_for 5 sh -c "'$CAIRN_BIN' members --rpc-addr 127.0.0.1:$P_RPC 2>/dev/null | grep -q '^a '" &&
    ok "RPC answers again once descriptors are free" || fail "RPC does not answer after EMFILE"

"$CAIRN_BIN" agent --node j --bind 127.0.0.1:$P_J --rpc-addr 127.0.0.1:$P_JRPC --http-addr 127.0.0.1:$P_JHTTP \
    --join 127.0.0.1:$P_A >"$D/j.log" 2>"$D/j.err" &
PIDS+=($!)
wait_for 30 sh -c "'$CAIRN_BIN' members --rpc-addr 127.0.0.1:$P_RPC 2>/dev/null | grep -q '^j .*alive'" &&
    ok "gossip TCP accepts again: a second agent joins" || fail "join after EMFILE failed"

[ "$FAILS" -eq 0 ] || { echo "# $FAILS failures"; tail -n 5 "$D/a.err" "$D/a.log"; exit 1; }
echo "# all passed"
