#!/usr/bin/env bash
# The client-side proxy (`cairn agent --proxy LISTEN=DC`, docs/PROXY.md) on
# the routing agent's own Router, on 127.0.0.1, cairn agents only:
#
#   dc2: servers s1, s2 (`--server`), each with an echo service
#        (tools/demo_echo.py) on its --server-port;
#   dc1: client c1 with --proxy 127.0.0.1:PX=dc2 and the HTTP API,
#        WAN-joined to s1.dc2. Both pools use the `lan` profile (the test
#        needs no fast failure detection, and lan's longer timeouts keep a
#        loaded machine from failing live members).
#
# Checks, R being c1's route to dc2 and O the other dc2 server:
#  1. connections opened through the proxy reach R (answers name it);
#  2. R stops accepting (its echo closes the listener, SIGUSR1; open
#     connections keep working): the next connection is answered by O, the
#     refused connect is logged (`proxy` record "connect to R ... failed")
#     and moved the route (/v1/cairn/route/dc2 = O), proxy counters
#     connect_failures = failovers = 1 (/v1/agent/metrics);
#  3. with a connection held open on each server (A on R, B on O), kill -9
#     of the routed one (O; agent and echo): 20 connections opened once
#     the kill has taken effect (its port refuses a direct connect; polled
#     every 5 ms by the process that killed, then the connections, one after
#     the other) ALL succeed, on the survivor,
#     the first within 2 s (bound: a refused connect fails at once and the
#     proxy retries on the rotated route; 2 s is one connect deadline,
#     CAIRN_PROXY_CONNECT_TIMEOUT); connect_failures = failovers = 2;
#     c1 logs the refused connect and a `route` record back on the
#     survivor; B reads EOF within 5 s (the killed server's kernel closes
#     it) while A keeps answering: a server dying mid-connection closes its
#     connections only.
# Waits: start-up 30 s for both dc2 servers in c1's WAN manager. Serf
# cannot declare O failed before check 3's first connection: the lan
# profile's suspicion alone lasts >= 4 s (4 x 1 s probe interval), the
# connections start a few ms after the kill. Every process is stopped by
# PID in the EXIT trap.
set -u
BUILD=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}
CAIRN_BIN=${CAIRN_BIN:-$BUILD/cairn}
SRC=${CAIRN_SOURCE_DIR:-$(dirname "$0")/../..}
ECHO_SVC=$SRC/tools/demo_echo.py
# Debian's python3 first (a pyenv shim on PATH costs a second per start).
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3) || { echo "SKIP: no python3"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init agent-proxy
T0=$(date +%s.%N)
ok() { printf 'ok - [%5.1f s] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$*"; }

B=$(pick_block 23000 40) || { echo "no free port block in 23000-23399"; exit 1; }
E=$(pick_block 23400 20) || { echo "no free port block in 23400-23599"; exit 1; }
L1=$B; W1=$((B + 1)); P1=$((B + 2)); L2=$((B + 3)); W2=$((B + 4)); P2=$((B + 5))
LC=$((B + 6)); WC=$((B + 7)); HTTP=127.0.0.1:$((B + 8)); PX=$((B + 9))

# The test's client side: px.py conns PORT N [KPORT PID...] (kill -9 the
# PIDs and wait until KPORT refuses connects, then N sequential connections
# through PORT, one line each: server name and ms, or ERR:reason), hold PORT FILE (one connection, a line every 0.2 s, each
# answer's server appended to FILE, "END reason" at its end), route (c1's
# route to dc2: a server name or none), metric NAME... (Prometheus values,
# joined by "/").
cat >"$D/px.py" <<'PY'
import json, os, signal, socket, sys, time, urllib.request
HTTP = os.environ["HTTP"]
def get(path):
    with urllib.request.urlopen("http://" + HTTP + path, timeout=5) as r:
        return r.read().decode()
cmd = sys.argv[1]
if cmd == "conns":
    port, n = int(sys.argv[2]), int(sys.argv[3])
    if len(sys.argv) > 4:
        # kill -9, then wait until the kernel has closed the killed echo's
        # listener (a connect it would still accept dies with the process).
        for p in sys.argv[5:]:
            os.kill(int(p), signal.SIGKILL)
        t = time.monotonic()
        while time.monotonic() - t < 10:
            try:
                socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=1).close()
                time.sleep(0.005)
            except OSError:
                break
    for i in range(n):
        t = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"req %d\n" % i)
                buf = b""
                while not buf.endswith(b"\n"):
                    c = s.recv(256)
                    if not c:
                        raise EOFError("eof")
                    buf += c
            name, _, rest = buf.decode().partition(" ")
            print(name if rest == "req %d\n" % i else "ERR:garbled", int((time.monotonic() - t) * 1000))
        except (OSError, EOFError) as e:
            print("ERR:" + type(e).__name__, int((time.monotonic() - t) * 1000))
elif cmd == "hold":
    port, path = int(sys.argv[2]), sys.argv[3]
    with open(path, "a", buffering=1) as f:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            r = s.makefile("rb")
            while True:
                s.sendall(b"ping\n")
                line = r.readline()
                if not line:
                    f.write("END eof\n")
                    break
                f.write(line.decode().split(" ")[0] + "\n")
                time.sleep(0.2)
        except OSError as e:
            f.write("END " + type(e).__name__ + "\n")
elif cmd == "route":
    try:
        print(json.loads(get("/v1/cairn/route/dc2"))["Server"]["Name"])
    except Exception:
        print("none")
elif cmd == "metric":
    m = dict(l.split(" ", 1) for l in get("/v1/agent/metrics?format=prometheus").splitlines()
             if l and not l.startswith("#"))
    print("/".join(m.get(n, "none") for n in sys.argv[2:]))
PY
export HTTP
px() { $PY "$D/px.py" "$@"; }

declare -A APID EPID PORT
NEXT_RPC=$E
echo_svc() {
    $PY "$ECHO_SVC" "$2" "$1" >"$D/echo-$1.log" 2>&1 &
    PIDS+=($!)
    EPID[$1]=$!
    disown $! # no "Killed" notice from bash for the ones kill -9 ends
    PORT[$1]=$2
}
cairn_agent() {
    local name=$1
    shift
    "$CAIRN_BIN" agent --profile lan --profile-wan lan --log-json \
        --rpc-addr 127.0.0.1:"$NEXT_RPC" "$@" >"$D/$name.log" 2>"$D/$name.err" &
    NEXT_RPC=$((NEXT_RPC + 1))
    PIDS+=($!)
    APID[$name]=$!
    disown $!
}

echo_svc s1.dc2 "$P1"
echo_svc s2.dc2 "$P2"
cairn_agent s1.dc2 --node s1 --dc dc2 --server --server-port "$P1" --bind 127.0.0.1:"$L1" \
    --bind-wan 127.0.0.1:"$W1" --http-addr ""
# s1.dc2 is what the others join: bound before they start.
check "s1.dc2 started" wait_for 20 grep -qs '"event":"agent-start"' "$D/s1.dc2.log"
cairn_agent s2.dc2 --node s2 --dc dc2 --server --server-port "$P2" --bind 127.0.0.1:"$L2" \
    --bind-wan 127.0.0.1:"$W2" --http-addr "" --join 127.0.0.1:"$L1" --join-wan 127.0.0.1:"$W1"
cairn_agent c1.dc1 --node c1 --dc dc1 --bind 127.0.0.1:"$LC" --bind-wan 127.0.0.1:"$WC" \
    --http-addr "$HTTP" --proxy 127.0.0.1:"$PX"=dc2 --join-wan 127.0.0.1:"$W1"

added() { grep '"event":"server-add"' "$D/c1.dc1.log" | grep '"area":"wan"' | grep -q "\"server\":\"$1\""; }
ready() { added s1.dc2 && added s2.dc2 && [ "$(px route)" != none ]; }
check "c1's WAN manager holds s1.dc2 and s2.dc2, and c1 routes dc2" wait_for 30 ready
check "c1 logged its proxy" grep -q '"event":"proxy-start"' "$D/c1.dc1.log"

R=$(px route)
case $R in s1.dc2) O=s2.dc2 ;; s2.dc2) O=s1.dc2 ;; *) fail "route to dc2 is '$R'"; exit 1 ;; esac
out=$(px conns "$PX" 5)
check "5 connections through the proxy reach the route $R" [ "$(echo "$out" | awk '{print $1}' | sort -u)" = "$R" ]
check "proxy counters: accepted = 5, no connect failure" \
    [ "$(px metric cairn_proxy_accepted cairn_proxy_connect_failures)" = 5/0 ]

# 2. R stops accepting; a connection held on it keeps working.
px hold "$PX" "$D/hold-A" &
PIDS+=($!)
disown $!
check "connection A held on $R" wait_for 10 grep -qsx "$R" "$D/hold-A"
kill -USR1 "${EPID[$R]}"
accepts() { $PY -c "import socket; socket.create_connection(('127.0.0.1', $1), timeout=1)" 2>/dev/null; }
refused() { ! accepts "$1"; }
check "$R's echo refuses new connects" wait_for 10 refused "${PORT[$R]}"
out=$(px conns "$PX" 1)
check "the next connection is answered by $O ($out)" [ "${out%% *}" = "$O" ]
check "c1 logged the refused connect to $R" grep -q \
    "\"module\":\"proxy\".*connect to $R (127.0.0.1:${PORT[$R]}) failed" "$D/c1.dc1.log"
check "the refused connect moved c1's route to $O" [ "$(px route)" = "$O" ]
check "proxy counters: connect_failures = failovers = 1" \
    [ "$(px metric cairn_proxy_connect_failures cairn_proxy_failovers)" = 1/1 ]
px hold "$PX" "$D/hold-B" &
PIDS+=($!)
disown $!
check "connection B held on $O" wait_for 10 grep -qsx "$O" "$D/hold-B"
kill -USR1 "${EPID[$R]}"
check "$R's echo accepts again" wait_for 10 accepts "${PORT[$R]}"
check "A still answered by $R" sh -c "[ \$(tail -1 '$D/hold-A') = '$R' ]"

# 3. kill -9 of the routed server K ($O unless a rebalance moved it back;
# both hold a connection, so the checks are the same either way).
K=$(px route)
case $K in "$R") S=$O ;; "$O") S=$R ;; *) fail "route to dc2 is '$K'"; exit 1 ;; esac
declare -A HOLD=([$R]=$D/hold-A [$O]=$D/hold-B)
ns=$(lines "${HOLD[$S]}")
out=$(px conns "$PX" 20 "${PORT[$K]}" "${APID[$K]}" "${EPID[$K]}")
echo "$out" | tr '\n' ' ' | sed 's/^/# after kill -9 of '"$K"' (server, ms): /; s/$/\n/'
check "20 connections opened after the kill all answered by $S" \
    [ "$(echo "$out" | awk '{print $1}' | sort | uniq -c | awk '{print $1, $2}')" = "20 $S" ]
first_ms=$(echo "$out" | head -1 | awk '{print $2}')
check "the first one within 2 s ($first_ms ms)" [ "${first_ms:-9999}" -lt 2000 ]
check "proxy counters: connect_failures = failovers = 2" \
    [ "$(px metric cairn_proxy_connect_failures cairn_proxy_failovers)" = 2/2 ]
check "c1 logged the refused connect to $K" grep -q \
    "\"module\":\"proxy\".*connect to $K (127.0.0.1:${PORT[$K]}) failed" "$D/c1.dc1.log"
check "c1 logged a route record for dc2 on $S" wait_for 5 sh -c \
    "grep '\"event\":\"route\",\"datacenter\":\"dc2\"' '$D/c1.dc1.log' | tail -1 | grep -q '127.0.0.1:${PORT[$S]}'"
check "the connection held on the killed $K read EOF" wait_for 5 grep -qsx "END eof" "${HOLD[$K]}"
grow() { [ "$(lines "${HOLD[$S]}")" -ge $((ns + 5)) ]; }
check "the connection held on $S kept answering" wait_for 5 grow
check "the connection held on $S never ended" sh -c "! grep -q END '${HOLD[$S]}'"
check "proxy counters: 5 + 1 + 1 + 1 + 20 accepted, 1 open" \
    [ "$(px metric cairn_proxy_accepted cairn_proxy_active)" = 28/1 ]

[ "$FAILS" -eq 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all checks passed"
