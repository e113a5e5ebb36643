#!/usr/bin/env bash
# make demo: three datacenters of cairn agents on loopback, no Serf binary.
#
#   dc1: servers s1, s2 and a client agent c1 (HTTP API, --proxy to dc2)
#   dc2: servers s1, s2          dc3: servers s1, s2
#
# Every server (`cairn agent --dc DC --server`) has a tiny TCP echo service
# (tools/demo_echo.py) on its --server-port; all agents use the `local`
# timing profile for both pools, on 127.0.0.1, ports from a free block of
# 40 in 17000-19999. The demo shows the LAN and WAN pools (`cairn members`,
# the real `serf members` against a cairn agent when serf is installed, and
# /v1/agent/members?wan=1), the client's datacenters and route to dc2 over
# its HTTP API, then a request every ~100 ms through the client's proxy to
# dc2 while the dc2 server it routes to is killed with kill -9 (agent and
# echo service), the failover time (tools/demo_client.py), the killed
# server marked failed in the WAN, the new route and the proxy counters of
# /v1/agent/metrics. Exit 0 on success, 1 with a message naming the failed
# step (logs kept in /tmp/cairn-demo.*); every process is killed on exit.
set -u
BUILD=${1:-build}
CAIRN="$BUILD/cairn"
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d /tmp/cairn-demo.XXXXXX)
PIDS=()
T0=$(date +%s.%N)
OK=0

# Background processes are disowned (bash then prints no "Killed" notice
# for those kill -9 ends); cleanup waits until every one is gone.
bg() { PIDS+=($!); LAST=$!; disown "$!"; }
cleanup() {
    local p n
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for n in $(seq 50); do
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && { sleep 0.1; continue 2; }; done
        break
    done
    rmdir "$DIR" 2>/dev/null # nothing started yet
    if [ "$OK" = 1 ]; then rm -rf "$DIR"; elif [ -d "$DIR" ]; then echo "demo: logs kept in $DIR" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "demo: FAIL: $*" >&2; exit 1; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step() { printf '\n== [%4s s] %s\n' "$(elapsed)" "$*"; }
wait_for() { local n=$(($1 * 10)); shift; while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }

[ -x "$CAIRN" ] || die "no $CAIRN (run make build first)"
# Debian's python3 first (a pyenv shim on PATH costs a second per start).
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3) || die "python3 is not installed (make deps)"
for t in curl ss; do command -v $t >/dev/null || die "$t is not installed (make deps)"; done

# A block of 40 ports with nothing bound on them (one ss listing).
pick_block() {
    local try base used
    used=$(ss -Htuan 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }' | sort -un)
    for try in $(seq 30); do
        base=$((17000 + 40 * (RANDOM % 75)))
        echo "$used" | awk -v lo="$base" -v hi=$((base + 39)) '$1 >= lo && $1 <= hi { f = 1 } END { exit f }' &&
            { echo "$base"; return 0; }
    done
    return 1
}
B=$(pick_block) || die "no free block of 40 ports in 17000-19999"

# Server i (0..5) of the six: LAN B+4i, WAN +1, RPC +2, server port +3.
# The client: LAN B+24, WAN +25, RPC +26, HTTP +27, proxy +28.
declare -A AGENT_PID ECHO_PID PORT_OF
lan() { echo $((B + 4 * $1)); }
SERVERS=()
server() { # server NAME DC INDEX
    local name=$1 dc=$2 i=$3 l
    l=$(lan "$i")
    local port=$((l + 3)) join=()
    [ "$i" -gt 0 ] && join+=(--join-wan "127.0.0.1:$((B + 1))")
    [ $((i % 2)) = 1 ] && join+=(--join "127.0.0.1:$(lan $((i - 1)))")
    $PY "$HERE/demo_echo.py" "$port" "$name.$dc" >"$DIR/echo-$name.$dc.log" 2>&1 &
    bg
    ECHO_PID[$name.$dc]=$LAST
    "$CAIRN" agent --node "$name" --dc "$dc" --server --server-port "$port" \
        --bind "127.0.0.1:$l" --bind-wan "127.0.0.1:$((l + 1))" --rpc-addr "127.0.0.1:$((l + 2))" \
        --http-addr "" --profile local --profile-wan local --log-json "${join[@]}" \
        >"$DIR/$name.$dc.log" 2>&1 &
    bg
    AGENT_PID[$name.$dc]=$LAST
    PORT_OF[$name.$dc]=$port
    SERVERS+=("$name.$dc")
}

step "starting 6 cairn servers (dc1, dc2, dc3: s1, s2 each, with an echo service on the server port) and client c1 in dc1"
i=0
for dc in dc1 dc2 dc3; do
    server s1 $dc $i
    # s1.dc1 is what everyone joins: bound before the others start.
    [ $i = 0 ] && { wait_for 20 grep -qs '"event":"agent-start"' "$DIR/s1.dc1.log" ||
        die "s1.dc1 did not start in 20 s (logs in $DIR)"; }
    server s2 $dc $((i + 1))
    i=$((i + 2))
done
C_RPC=127.0.0.1:$((B + 26))
HTTP=127.0.0.1:$((B + 27))
PROXY=127.0.0.1:$((B + 28))
"$CAIRN" agent --node c1 --dc dc1 --bind "127.0.0.1:$((B + 24))" --bind-wan "127.0.0.1:$((B + 25))" \
    --rpc-addr "$C_RPC" --http-addr "$HTTP" --proxy "$PROXY=dc2" --join "127.0.0.1:$B" \
    --join-wan "127.0.0.1:$((B + 1))" --profile local --profile-wan local --log-json \
    >"$DIR/c1.dc1.log" 2>&1 &
bg
echo "ports $B-$((B + 28)); client c1: Serf RPC $C_RPC, HTTP $HTTP, proxy $PROXY -> dc2"

for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "a process exited at start (logs in $DIR)"; done
wan_alive() {
    [ "$(curl -s "http://$HTTP/v1/agent/members?wan=1" | $PY -c '
import json, sys; print(sum(1 for m in json.load(sys.stdin) or [] if m["Status"] == 1))' 2>/dev/null)" = 7 ]
}
lan_alive() { [ "$("$CAIRN" members --rpc-addr "$1" -status=alive 2>/dev/null | wc -l)" = "$2" ]; }
three_dcs() { [ "$(curl -s "http://$HTTP/v1/catalog/datacenters" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" = 3 ]; }
wait_for 30 lan_alive "$C_RPC" 3 || die "dc1's LAN did not reach 3 alive members in 30 s"
wait_for 30 wan_alive || die "the WAN pool did not reach 7 alive members (6 servers + c1) in 30 s"
wait_for 30 three_dcs || die "c1's router did not list 3 datacenters in 30 s"
for i in 3 5; do
    wait_for 30 lan_alive "127.0.0.1:$(($(lan "$i") + 2))" 2 || die "a LAN of dc2/dc3 did not reach 2 members"
done

step "LAN pool of dc1: cairn members --rpc-addr $C_RPC (the client agent's Serf RPC)"
"$CAIRN" members --rpc-addr "$C_RPC" || die "cairn members failed"
if command -v serf >/dev/null; then
    step "the same with the real Serf CLI against the cairn agent: serf members -rpc-addr=$C_RPC"
    serf members -rpc-addr="$C_RPC" || die "serf members against c1 failed"
fi
step "LAN pool of dc2: cairn members --rpc-addr 127.0.0.1:$(($(lan 2) + 2)) (s1.dc2)"
"$CAIRN" members --rpc-addr "127.0.0.1:$(($(lan 2) + 2))" || die "cairn members on s1.dc2 failed"
step "WAN pool, as c1 sees it: curl -s http://$HTTP/v1/agent/members?wan=1 (name, addr, status, role)"
curl -s "http://$HTTP/v1/agent/members?wan=1" | $PY -c '
import json, sys
st = {0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed"}
for m in sorted(json.load(sys.stdin), key=lambda m: m["Name"]):
    t = m["Tags"]
    print("%-8s %s:%-6d %-7s role=%s dc=%s%s" % (m["Name"], m["Addr"], m["Port"], st[m["Status"]],
          t.get("role"), t.get("dc"), " port=" + t["port"] if "port" in t else ""))
' || die "the WAN members did not parse"

step "curl -s http://$HTTP/v1/catalog/datacenters (nearest first, local first)"
curl -sf "http://$HTTP/v1/catalog/datacenters" || die "/v1/catalog/datacenters failed"
echo
step "curl -s http://$HTTP/v1/cairn/route/dc2"
# The router learns dc2's servers from the WAN pool's (coalesced) member
# events, a moment after the members list shows them: wait up to 20 s.
ROUTE=
for _ in $(seq 200); do
    ROUTE=$(curl -sf "http://$HTTP/v1/cairn/route/dc2") && break
    ROUTE=
    sleep 0.1
done
[ -n "$ROUTE" ] || die "/v1/cairn/route/dc2 failed"
echo "$ROUTE"
VICTIM=$(echo "$ROUTE" | $PY -c 'import json,sys; print(json.load(sys.stdin)["Server"]["Name"])') ||
    die "no route to dc2"
[ -n "${AGENT_PID[$VICTIM]:-}" ] || die "dc2's route is not one of our servers: $VICTIM"

step "a request every ~100 ms through c1's proxy $PROXY (dc2); kill -9 of $VICTIM (agent and echo) at 2 s"
DEMO_KILL_FILE=$DIR/kill-time $PY "$HERE/demo_client.py" "${PROXY##*:}" "$VICTIM" 2 3 "${AGENT_PID[$VICTIM]}" "${ECHO_PID[$VICTIM]}" ||
    die "requests through the proxy did not fail over (see above)"

step "WAN pool after the kill: serf's failure detector marks $VICTIM failed (soft fail: only rotated away in the WAN manager)"
victim_failed() {
    curl -s "http://$HTTP/v1/agent/members?wan=1" | $PY -c '
import json, sys; sys.exit(not any(m["Name"] == sys.argv[1] and m["Status"] == 4 for m in json.load(sys.stdin)))' "$VICTIM"
}
wait_for 20 victim_failed || die "$VICTIM was not marked failed in c1's WAN view within 20 s"
awk -v k="$(cat "$DIR/kill-time")" -v n="$(date +%s.%N)" -v v="$VICTIM" \
    'BEGIN { printf "%s failed in c1'"'"'s WAN view %.1f s after the kill (profile local; the proxy did not wait for it)\n", v, n - k }'
curl -s "http://$HTTP/v1/agent/members?wan=1" | $PY -c '
import json, sys
st = {0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed"}
for m in sorted(json.load(sys.stdin), key=lambda m: m["Name"]):
    if m["Tags"].get("dc") == "dc2":
        print("%-8s %s:%-6d %s" % (m["Name"], m["Addr"], m["Port"], st[m["Status"]]))
'
step "after the failover: curl -s http://$HTTP/v1/cairn/route/dc2"
curl -sf "http://$HTTP/v1/cairn/route/dc2" || die "/v1/cairn/route/dc2 failed after the kill"
echo
step "c1's proxy counters: curl -s 'http://$HTTP/v1/agent/metrics?format=prometheus' | grep proxy"
curl -sf "http://$HTTP/v1/agent/metrics?format=prometheus" | grep '^cairn_proxy' ||
    die "no proxy counters in /v1/agent/metrics"
step "done: tearing everything down"
OK=1
exit 0
