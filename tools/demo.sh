#!/bin/sh
# make demo: cairn routing on a real Serf cluster, on loopback.
#
# Starts serf agents (ports 17200-17299) as WAN servers of three datacenters
# (tags role=consul, dc, port, vsn, build; names <node>.<dc>), each with a
# TCP listener on its server port, plus one non-server agent that cairn talks
# to. Then runs `cairn watch` to show every datacenter's route, kills -9 the
# server dc2 is routed to, shows the failover, and tears everything down.
#
# Fallback: when the cluster cannot start (no `serf` binary, no python3, or
# the ports are taken), it says why and runs the in-memory router demo
# (build/demo_router) instead, so `make demo` still shows routing.
set -u
BUILD=${1:-build}
CAIRN="$BUILD/cairn"
BASE=17200
DIR=$(mktemp -d /tmp/cairn-demo.XXXXXX)
PIDS=""

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

fallback() {
    echo "demo: the Serf cluster cannot start ($1); running the in-memory router demo instead."
    cleanup
    trap - EXIT INT TERM
    exec "$BUILD/demo_router"
}

command -v serf >/dev/null 2>&1 || fallback "no serf binary (apt-get install serf)"
command -v python3 >/dev/null 2>&1 || fallback "no python3"
[ -x "$CAIRN" ] || fallback "no $CAIRN (build first)"

# agent NAME DC INDEX ROLE: gossip on BASE+3i, RPC on +1, server port on +2.
agent() {
    bind=$((BASE + 3 * $3)); rpc=$((bind + 1)); port=$((bind + 2))
    join=""
    [ "$3" -gt 0 ] && join="-join=127.0.0.1:$BASE"
    tags="-tag role=$4 -tag dc=$2 -tag vsn=2 -tag build=1.9.1:demo"
    [ "$4" = consul ] && tags="$tags -tag port=$port"
    # shellcheck disable=SC2086
    serf agent -node="$1" -bind="127.0.0.1:$bind" -rpc-addr="127.0.0.1:$rpc" \
        -profile=local $tags $join >"$DIR/$1.log" 2>&1 &
    PIDS="$PIDS $!"
    eval "PID_$(echo "$1" | tr . _)=$!"
    if [ "$4" = consul ]; then
        python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
" >/dev/null 2>&1 &
        PIDS="$PIDS $!"
        eval "LPID_$(echo "$1" | tr . _)=$!"
    fi
}

echo "== starting a Serf cluster on loopback: dc1, dc2, dc3 servers + one client agent"
agent s1.dc1 dc1 0 consul
sleep 0.5
agent s2.dc1 dc1 1 consul
agent s1.dc2 dc2 2 consul
agent s2.dc2 dc2 3 consul
agent s3.dc2 dc2 4 consul
agent s1.dc3 dc3 5 consul
agent c1.dc1 dc1 6 node
RPC="127.0.0.1:$((BASE + 19))"

i=0
until "$CAIRN" members --serf-rpc "$RPC" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 50 ] && fallback "the agents did not come up (see the logs above)"
    sleep 0.2
done
# Let the agents probe each other until every datacenter has a coordinate.
i=0
while "$CAIRN" dcs --serf-rpc "$RPC" | grep -q "no coordinate" && [ $i -lt 40 ]; do
    i=$((i + 1)); sleep 0.25
done

echo
echo "== cairn members --serf-rpc $RPC"
"$CAIRN" members --serf-rpc "$RPC"
echo
echo "== cairn dcs (nearest first, local dc1 first)"
"$CAIRN" dcs --serf-rpc "$RPC"
echo
echo "== cairn route dc2 (after pinging; each call may pick another live server)"
"$CAIRN" route dc2 --serf-rpc "$RPC"

echo
echo "== cairn watch for 16 s; in 3 s the server it routes dc2 to gets kill -9"
"$CAIRN" watch --serf-rpc "$RPC" --duration 16 | tee "$DIR/watch.out" &
WATCH=$!
PIDS="$PIDS $WATCH"
sleep 3
victim=$(sed -n 's/.* route dc2 \([^ ]*\) .*/\1/p' "$DIR/watch.out" | tail -1)
[ -n "$victim" ] || fallback "cairn watch showed no route for dc2"
v=$(echo "$victim" | tr . _)
eval "vp=\$PID_$v; lp=\$LPID_$v"
echo "$(date -u +%T.%3N) demo: kill -9 $victim (agent and its server port)"
kill -9 "$lp" "$vp" 2>/dev/null
wait "$WATCH"
echo
echo "== cairn members after the failure"
"$CAIRN" members --serf-rpc "$RPC"
echo
echo "== tearing down"
exit 0
