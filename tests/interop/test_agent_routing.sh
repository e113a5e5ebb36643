#!/usr/bin/env bash
# The routing agent (issue 12) in mixed pools with real Serf 0.9.4 agents
# on 127.0.0.1 (two free blocks of 10 ports in 20400-20999):
#
#   WAN pool: serf agents a1.dc1, a1.dc2, a2.dc2 tagged as Consul servers
#             (role=consul, dc, port, vsn, build), cairn servers s1.dc1
#             and s1.dc3 (`cairn agent --server`);
#   dc1 LAN:  serf agent a1 (the LAN half of a1.dc1, with wan_join_port),
#             cairn server s1, cairn client c1.
#   Every server has a TCP listener on its server port (the pingers').
#
# Checks: the cairn agents' routes (their JSON log: `route` changes and the
# SIGUSR1 `route-current` listing) agree with what today's
# `cairn route --serf-rpc` computes through a1.dc1's RPC: the same
# datacenters, and for each a live server of that datacenter (the same
# server where only one is live: dc3, and dc2 after `kill -9` of a2.dc2
# and its listener); the cairn servers carry Consul's server tags as Serf
# sees them; the SIGUSR1 listing shows the WAN members.
# Every process is stopped by PID in the EXIT trap.
set -u
BUILD=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}
CAIRN_BIN=${CAIRN_BIN:-$BUILD/cairn}
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init agent-routing
T0=$(date +%s.%N)
ok() { printf 'ok - [%5.1f s] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }

B=$(pick_block 20400 30) || { echo "no free port block in 20400-20699"; exit 1; }
C=$(pick_block 20700 30) || { echo "no free port block in 20700-20999"; exit 1; }
[ "$B" != "$C" ] || { echo "port blocks overlap"; exit 1; }
# Each cairn agent's Serf RPC address (--rpc-addr), from a third block.
E=$(pick_block 21000 20) || { echo "no free port block in 21000-21199"; exit 1; }
NEXT_RPC=$E
# Serf agents: gossip port and RPC port each.
W_A1=$B; R_A1=$((B + 1)); L_A1=$((B + 2)); R_L1=$((B + 3))
W_A12=$((B + 4)); R_A12=$((B + 5)); W_A22=$((B + 6)); R_A22=$((B + 7))
# cairn agents: LAN and WAN gossip ports.
L_S1=$((B + 8)); W_S1=$((B + 9)); L_S3=$C; W_S3=$((C + 1)); L_C1=$((C + 2))
# Server (RPC) ports, one listener each.
P_A1=$((C + 3)); P_A12=$((C + 4)); P_A22=$((C + 5)); P_S1=$((C + 6)); P_S3=$((C + 7))
RPC=127.0.0.1:$R_A1

listen() {
    python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $1)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
" >/dev/null 2>&1 &
    PIDS+=($!)
    LAST=$!
}

# serf_server NAME DC GOSSIP RPC PORT [extra serf flags]
serf_server() {
    local name=$1 dc=$2 gossip=$3 rpc=$4 port=$5
    shift 5
    serf agent -node="$name" -bind=127.0.0.1:"$gossip" -rpc-addr=127.0.0.1:"$rpc" -profile=local \
        -tag role=consul -tag dc="$dc" -tag port="$port" -tag vsn=2 -tag build=1.9.1:serf "$@" \
        >"$D/$name.log" 2>&1 &
    PIDS+=($!)
    LAST=$!
}

cairn_agent() {
    local name=$1
    shift
    "$CAIRN_BIN" agent --profile local --profile-wan local --log-json \
        --rpc-addr 127.0.0.1:"$NEXT_RPC" "$@" >"$D/$name.log" 2>"$D/$name.err" &
    NEXT_RPC=$((NEXT_RPC + 1))
    PIDS+=($!)
    LAST=$!
}

for p in $P_A1 $P_A12 $P_S1 $P_S3; do listen "$p"; done
listen "$P_A22"; PID_L22=$LAST

serf_server a1.dc1 dc1 "$W_A1" "$R_A1" "$P_A1"
wait_for 10 serf members -rpc-addr="$RPC" >/dev/null 2>&1 || fail "serf a1.dc1 did not start"
serf_server a1 dc1 "$L_A1" "$R_L1" "$P_A1" -tag wan_join_port="$W_A1"
serf_server a1.dc2 dc2 "$W_A12" "$R_A12" "$P_A12" -join=127.0.0.1:"$W_A1"
serf_server a2.dc2 dc2 "$W_A22" "$R_A22" "$P_A22" -join=127.0.0.1:"$W_A1"
PID_A22=$LAST
wait_for 10 serf members -rpc-addr=127.0.0.1:"$R_L1" >/dev/null 2>&1 || fail "serf a1 did not start"

cairn_agent s1.dc1 --node s1 --dc dc1 --server --server-port "$P_S1" --bind 127.0.0.1:"$L_S1" \
    --bind-wan 127.0.0.1:"$W_S1" --join 127.0.0.1:"$L_A1" --join-wan 127.0.0.1:"$W_A1"
PID_S1=$LAST
cairn_agent s1.dc3 --node s1 --dc dc3 --server --server-port "$P_S3" --bind 127.0.0.1:"$L_S3" \
    --bind-wan 127.0.0.1:"$W_S3" --join-wan 127.0.0.1:"$W_A1"
wait_for 10 grep -q '"event":"agent-start"' "$D/s1.dc1.log" || fail "cairn s1.dc1 did not start"
cairn_agent c1.dc1 --node c1 --dc dc1 --bind 127.0.0.1:"$L_C1" --join 127.0.0.1:"$L_S1"
PID_C1=$LAST

serf_members() { serf members -rpc-addr="$RPC" -status=alive 2>/dev/null; }
wan_has() { serf_members | awk '{print $1}' | grep -qx "$1"; }
check "serf sees cairn s1.dc1 and s1.dc3 in the WAN" wait_for 20 sh -c \
    "serf members -rpc-addr=$RPC -status=alive | grep -q '^s1.dc1 ' && serf members -rpc-addr=$RPC -status=alive | grep -q '^s1.dc3 '"
check "serf reads s1.dc1's tags as a Consul server's" sh -c \
    "serf members -rpc-addr=$RPC -format=json | python3 -c '
import json, sys
m = {x[\"name\"]: x[\"tags\"] for x in json.load(sys.stdin)[\"members\"]}
t = m[\"s1.dc1\"]
assert t[\"role\"] == \"consul\" and t[\"dc\"] == \"dc1\" and t[\"port\"] == \"$P_S1\", t
assert t[\"vsn\"] == \"2\" and t[\"raft_vsn\"] == \"3\" and t[\"build\"].startswith(\"1.\") and t[\"id\"], t
'"
check "serf a1 sees cairn s1 in the LAN with wan_join_port=$W_S1" wait_for 10 sh -c \
    "serf members -rpc-addr=127.0.0.1:$R_L1 | grep '^s1 ' | grep -q 'wan_join_port=$W_S1'"

# The address of the last `route` record for DC in an agent's log (its
# records are single lines with a fixed key order), "" when none or lost.
last_route() {
    grep "\"event\":\"route\",\"datacenter\":\"$2\"" "$D/$1.log" | tail -1 |
        sed -n 's/.*"addr":"\([^"]*\)".*/\1/p'
}
# `cairn route` through a1.dc1's RPC: "name addr:port" or "none".
serf_route() {
    "$CAIRN_BIN" route --serf-rpc "$RPC" "$1" 2>/dev/null | awk '{ print $2, $3 } END { if (!NR) print "none" }'
}
port_of() { echo "${1##*:}"; }
# route_in DC ROUTE: the route's server port is one of DC's live servers.
declare -A LIVE=([dc1]="$P_A1 $P_S1" [dc2]="$P_A12 $P_A22" [dc3]="$P_S3")
route_in() { [ -n "$2" ] && [ "$2" != none ] && echo " ${LIVE[$1]} " | grep -q " $(port_of "$2") "; }
agent_routes_ok() {
    local a dc
    for a in c1.dc1 s1.dc1 s1.dc3; do
        for dc in dc1 dc2 dc3; do route_in "$dc" "$(last_route "$a" "$dc")" || return 1; done
    done
}
check "every cairn agent routes dc1, dc2, dc3 to a live server of each" wait_for 20 agent_routes_ok
check "cairn dcs --serf-rpc lists the same datacenters" sh -c \
    "[ \"\$('$CAIRN_BIN' dcs --serf-rpc $RPC --format json)\" != '' ] && \
     '$CAIRN_BIN' dcs --serf-rpc $RPC --format json | python3 -c '
import json, sys; assert sorted(json.load(sys.stdin)) == [\"dc1\", \"dc2\", \"dc3\"]'"
for dc in dc1 dc2 dc3; do
    r=$(serf_route $dc)
    check "cairn route --serf-rpc $dc ($r) is a live $dc server, as the agents' routes" route_in $dc "$r"
done
r3=$(serf_route dc3)
check "dc3 (one server): serf's route is s1.dc3" [ "${r3%% *}" = s1.dc3 ]
check "dc3: c1's route is s1.dc3's address" [ "$(port_of "$(last_route c1.dc1 dc3)")" = "$P_S3" ]

# SIGUSR1: WAN members and current routes in the log.
kill -USR1 "$PID_C1"
check "SIGUSR1 lists c1's WAN members (a1.dc2 among them)" wait_for 5 \
    grep -q '"event":"wan-member","node":"a1.dc2"' "$D/c1.dc1.log"
check "SIGUSR1 lists the current route of dc2" wait_for 5 \
    grep -q '"event":"route-current","datacenter":"dc2"' "$D/c1.dc1.log"

# kill -9 a2.dc2 and its listener: everyone routes dc2 to a1.dc2.
kill -9 "$PID_A22" "$PID_L22"
both_on_a12() {
    [ "$(port_of "$(last_route c1.dc1 dc2)")" = "$P_A12" ] &&
        [ "$(port_of "$(last_route s1.dc1 dc2)")" = "$P_A12" ] &&
        [ "$(port_of "$(last_route s1.dc3 dc2)")" = "$P_A12" ]
}
check "after kill -9 a2.dc2 the cairn agents route dc2 to a1.dc2" wait_for 30 both_on_a12
r2=$(serf_route dc2)
check "cairn route --serf-rpc dc2 agrees: a1.dc2 ($r2)" [ "${r2%% *}" = a1.dc2 ]
check "the servers saw a2.dc2 fail in the WAN (server-fail record)" wait_for 30 \
    grep -q '"event":"server-fail","area":"wan","datacenter":"dc2","server":"a2.dc2"' "$D/s1.dc1.log"

# Graceful leave of the cairn server s1.dc1: it leaves the WAN and the LAN.
kill -INT "$PID_S1"
check "s1.dc1 exits 0 after its leave" wait "$PID_S1"
check "serf shows s1.dc1 left in the WAN" wait_for 10 sh -c \
    "serf members -rpc-addr=$RPC | grep -q '^s1.dc1 .* left'"
check "c1 removes s1 from its LAN manager (server-remove record)" wait_for 10 \
    grep -q '"event":"server-remove","area":"lan","datacenter":"dc1","server":"s1"' "$D/c1.dc1.log"
check "c1 routes dc1 to a1 (the one server left)" wait_for 10 sh -c \
    "[ \"\$(grep '\"event\":\"route\",\"datacenter\":\"dc1\"' $D/c1.dc1.log | tail -1 | grep -c ':$P_A1')\" = 1 ]"

echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
