#!/usr/bin/env bash
# Issue 13: the real `cairn agent` out of file descriptors.
#
# The agent runs under `prlimit --nofile=128`. A client opens 300
# connections and holds them silent: the agent takes descriptors until
# accept() fails with EMFILE, and the rest wait in the listen backlog. Then
# one HTTP client connects and sends a request: it waits in the backlog
# too. Done twice: the 300 connections to the RPC port, then to the HTTP
# port itself. Checked each time:
#   1. no busy loop: the agent's CPU over 2 s of EMFILE stays under 0.3 s
#      (a listener that spins on accept() burns the whole 2 s; the HTTP
#      listener, when it was libmicrohttpd's, burnt 0.45 s);
#   2. no crash, and it recovers: once the client lets go, the waiting HTTP
#      client is answered and a new HTTP request too (within 5 s each);
#      after the first, `cairn members` over RPC answers within 5 s; at the
#      end gossip still works (a second agent joins).
# The silent connections are let go within the RPC handshake and HTTP
# header deadlines (10 s).
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

# flood PORT HTTP_PORT OUT: 300 silent connections to PORT; once the agent
# is out of descriptors, one HTTP client connects to HTTP_PORT and sends a
# request (it waits in the backlog); the agent's descriptors and its CPU
# over 2 s are printed; then the flood lets go, and the waiting client's
# answer and a fresh request's are awaited (at most 5 s each).
flood() {
    python3 - "$1" "$2" $A "$HZ" >"$3" <<'PY'
import os, socket, sys, time
port, hport, pid, hz = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
REQ = b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
def answer(c):
    c.settimeout(5)
    try:
        return c.recv(64).split(b"\r\n")[0].decode()
    except OSError as e:
        return "error " + type(e).__name__
held = []
for _ in range(300):
    c = socket.socket(); c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.5)  # the agent takes what it can
w = socket.create_connection(("127.0.0.1", hport))
w.sendall(REQ)
time.sleep(0.2)
print(f"fds {len(os.listdir(f'/proc/{pid}/fd'))}", flush=True)
t0 = ticks(); time.sleep(2); t1 = ticks()
print(f"cpu {(t1 - t0) / hz:.2f}", flush=True)
for c in held:
    c.close()
print("released", flush=True)
print(f"waiting {answer(w)}", flush=True)
f = socket.create_connection(("127.0.0.1", hport))
f.sendall(REQ)
print(f"fresh {answer(f)}", flush=True)
PY
}

# phase NAME PORT: the flood on PORT and the checks.
phase() {
    flood "$2" $P_HTTP "$D/flood-$1.out" &
    FLOOD=$!; PIDS+=($FLOOD)
    wait "$FLOOD"
    local out="$D/flood-$1.out" cpu fds
    cpu=$(awk '/^cpu/ { print $2 }' "$out")
    fds=$(awk '/^fds/ { print $2 }' "$out")
    echo "# $1: agent CPU over 2 s out of descriptors (${fds:-?} open of 128), one HTTP client waiting: ${cpu:-?} s"
    [ "${fds:-0}" -ge 126 ] && ok "$1: the agent ran out of descriptors ($fds open)" || fail "$1: descriptors open: ${fds:-?}"
    awk -v c="${cpu:-9}" 'BEGIN { exit !(c < 0.3) }' && ok "$1: no busy loop on EMFILE (${cpu} s CPU in 2 s)" ||
        fail "$1: agent CPU on EMFILE: ${cpu:-unknown} s in 2 s"
    check "$1: agent alive after EMFILE" kill -0 $A
    grep -q '^waiting HTTP/1.1 200' "$out" && ok "$1: the HTTP client that waited is answered once descriptors are free" ||
        fail "$1: waiting HTTP client: $(grep '^waiting' "$out")"
    grep -q '^fresh HTTP/1.1 200' "$out" && ok "$1: a new HTTP request is answered" ||
        fail "$1: new HTTP request: $(grep '^fresh' "$out")"
}

# 1. Descriptors taken by RPC connections (no HTTP connection open).
phase rpc $P_RPC
wait_for 5 sh -c "'$CAIRN_BIN' members --rpc-addr 127.0.0.1:$P_RPC 2>/dev/null | grep -q '^a '" &&
    ok "RPC answers again once descriptors are free" || fail "RPC does not answer after EMFILE"
# 2. Descriptors taken by HTTP connections themselves (silent ones, cut by
#    the header deadline if they stayed 10 s).
phase http $P_HTTP

"$CAIRN_BIN" agent --node j --bind 127.0.0.1:$P_J --rpc-addr 127.0.0.1:$P_JRPC --http-addr 127.0.0.1:$P_JHTTP \
    --join 127.0.0.1:$P_A >"$D/j.log" 2>"$D/j.err" &
PIDS+=($!)
wait_for 30 sh -c "'$CAIRN_BIN' members --rpc-addr 127.0.0.1:$P_RPC 2>/dev/null | grep -q '^j .*alive'" &&
    ok "gossip TCP accepts again: a second agent joins" || fail "join after EMFILE failed"

[ "$FAILS" -eq 0 ] || { echo "# $FAILS failures"; tail -n 5 "$D/a.err" "$D/a.log"; exit 1; }
echo "# all passed"
