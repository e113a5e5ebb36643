#!/usr/bin/env bash
# bench_agent: memory and CPU of a cairn agent next to a real Serf 0.9.4
# agent, in the same 5-node mixed loopback cluster over the same window
# (issue 10 item 7): serf s1 (started first; everyone joins it), serf s2,
# cairn c1, c2, c3; profile lan, compression on, info logging.
#   - agent_*: c1, a plain cairn agent (gossip + Serf RPC server,
#     --http-addr ""), against s2 (a serf agent that joined like it);
#   - agent_allon_*: c2, a cairn agent with everything on (issue 12 item 6):
#     routing (--dc dc1 --server, so a WAN pool too), Consul's HTTP API, a
#     --proxy to dc1, the RPC server; against the same s2.
# s1 is the seed of both; c3 is a plain cairn agent like c1.
#
# RSS and RssAnon: /proc/<pid>/status at the end of the window (KiB). CPU:
# utime+stime from /proc/<pid>/stat over the window, in ms (10 ms ticks),
# and as % of one core; and the on-CPU time of all threads from
# /proc/<pid>/task/*/schedstat (ns resolution), which separates the two when
# both round to few ticks. Prints one JSON object per figure:
#   {"name":"agent_rss_kib","cairn":...,"serf":...,"ratio":...}
# (ratio = cairn / serf). A free block of 40 ports in 19800-19959 on
# 127.0.0.1 (the interop test uses 19000-19799).
#
# usage: bench/bench_agent.sh [path/to/cairn]   (env BENCH_AGENT_SECONDS, default 20)
set -u
CAIRN_BIN=${1:-${CAIRN_BIN:-$(dirname "$0")/../build/cairn}}
SECS=${BENCH_AGENT_SECONDS:-20}
command -v serf >/dev/null || { echo '{"name":"agent_rss_kib","skipped":"serf not installed"}'; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "bench_agent: no cairn binary at $CAIRN_BIN" >&2; exit 1; }

D=$(mktemp -d /tmp/cairn-bench-agent.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT

pick_block() {
    local try base p busy
    for try in $(seq 30); do
        base=$((19800 + 40 * (RANDOM % 4)))
        busy=0
        for p in $(seq "$base" $((base + 39))); do
            [ -n "$(ss -Htuan "( sport = :$p )" 2>/dev/null)" ] && { busy=1; break; }
        done
        [ $busy = 0 ] && { echo "$base"; return 0; }
    done
    return 1
}
B=$(pick_block) || { echo "bench_agent: no free port block in 19800-19959" >&2; exit 1; }
PS=$((B + 1)); RPC=$((B + 2)); PS2=$((B + 3)); RPC2=$((B + 4))
PC1=$((B + 11)); PC2=$((B + 12)); PC3=$((B + 13))
HTTP=$((B + 20)); PROXY=$((B + 21)); WAN=$((B + 22)); SRVPORT=$((B + 23))

serf agent -node=s1 -bind=127.0.0.1:$PS -rpc-addr=127.0.0.1:$RPC >"$D/s1.log" 2>&1 &
S1=$!; PIDS+=($S1)
for _ in $(seq 50); do serf members -rpc-addr=127.0.0.1:$RPC >/dev/null 2>&1 && break; sleep 0.1; done
serf agent -node=s2 -bind=127.0.0.1:$PS2 -rpc-addr=127.0.0.1:$RPC2 -join=127.0.0.1:$PS >"$D/s2.log" 2>&1 &
S2=$!; PIDS+=($S2)
"$CAIRN_BIN" agent --node c1 --bind 127.0.0.1:$PC1 --rpc-addr 127.0.0.1:$((B + 14)) --http-addr "" \
    --join 127.0.0.1:$PS >"$D/c1.log" 2>&1 &
C1=$!; PIDS+=($C1)
"$CAIRN_BIN" agent --node c2 --bind 127.0.0.1:$PC2 --rpc-addr 127.0.0.1:$((B + 15)) \
    --http-addr 127.0.0.1:$HTTP --dc dc1 --server --server-port $SRVPORT --bind-wan 127.0.0.1:$WAN \
    --proxy 127.0.0.1:$PROXY=dc1 --join 127.0.0.1:$PS >"$D/c2.log" 2>&1 &
C2=$!; PIDS+=($C2)
"$CAIRN_BIN" agent --node c3 --bind 127.0.0.1:$PC3 --rpc-addr 127.0.0.1:$((B + 16)) --http-addr "" \
    --join 127.0.0.1:$PS >"$D/c3.log" 2>&1 &
C3=$!; PIDS+=($C3)
for _ in $(seq 100); do
    [ "$(serf members -rpc-addr=127.0.0.1:$RPC | grep -c alive)" = 5 ] && break
    sleep 0.1
done
if [ "$(serf members -rpc-addr=127.0.0.1:$RPC | grep -c alive)" != 5 ]; then
    echo "bench_agent: the 5-node cluster did not form" >&2
    exit 1
fi
# Touch what the all-on agent serves: one HTTP request (the route to dc1,
# i.e. c2 itself) and one proxied connection attempt (to c2's server port,
# where nothing listens: a refused connect, counted in its stats).
http_ok=0
for _ in $(seq 30); do
    curl -sf "http://127.0.0.1:$HTTP/v1/agent/members" >/dev/null 2>&1 && { http_ok=1; break; }
    sleep 0.1
done
[ $http_ok = 1 ] || echo "bench_agent: c2's HTTP API did not answer" >&2
(exec 3<>/dev/tcp/127.0.0.1/$PROXY) 2>/dev/null
sleep 2 # settle: joins, first push/pulls

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# On-CPU nanoseconds of every thread (finer than the 10 ms ticks of stat).
runns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
anon() { awk '$1 == "RssAnon:" { print $2 }' "/proc/$1/status"; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
thr() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
c0=$(ticks $C1); a0=$(ticks $C2); s0=$(ticks $S2)
cn0=$(runns $C1); an0=$(runns $C2); sn0=$(runns $S2); t0=$(date +%s.%N)
sleep "$SECS"
c1=$(ticks $C1); a1=$(ticks $C2); s1=$(ticks $S2)
cn1=$(runns $C1); an1=$(runns $C2); sn1=$(runns $S2); t1=$(date +%s.%N)
alive=$(serf members -rpc-addr=127.0.0.1:$RPC | grep -c alive)

# figures PREFIX PID ticks0 ticks1 ns0 ns1 (serf: s2)
figures() {
    awk -v p="$1" -v rc="$(rss "$2")" -v rs="$(rss $S2)" -v ac="$(anon "$2")" -v as="$(anon $S2)" \
        -v c0="$3" -v c1="$4" -v s0="$s0" -v s1="$s1" -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
        -v tc="$(thr "$2")" -v ts="$(thr $S2)" -v alive="$alive" -v cn="$(($6 - $5))" \
        -v sn="$((sn1 - sn0))" 'BEGIN {
    w = t1 - t0
    cm = (c1 - c0) * 1000 / hz; sm = (s1 - s0) * 1000 / hz
    printf "{\"name\":\"%s_rss_kib\",\"cairn\":%d,\"serf\":%d,\"ratio\":%.3f}\n", p, rc, rs, rc / rs
    printf "{\"name\":\"%s_anon_kib\",\"cairn\":%d,\"serf\":%d,\"ratio\":%.3f}\n", p, ac, as, ac / as
    printf "{\"name\":\"%s_cpu_ms\",\"window_s\":%.1f,\"cairn\":%d,\"serf\":%d,\"ratio\":%s}\n", \
        p, w, cm, sm, (sm > 0 ? sprintf("%.3f", cm / sm) : "null")
    printf "{\"name\":\"%s_cpu_percent\",\"cairn\":%.3f,\"serf\":%.3f,\"ratio\":%s}\n", \
        p, cm / 10 / w, sm / 10 / w, (sm > 0 ? sprintf("%.3f", cm / sm) : "null")
    if (sn > 0)
        printf "{\"name\":\"%s_cpu_ms_schedstat\",\"cairn\":%.3f,\"serf\":%.3f,\"ratio\":%.4f}\n", \
            p, cn / 1e6, sn / 1e6, cn / sn
    printf "{\"name\":\"%s_threads\",\"cairn\":%d,\"serf\":%d,\"ratio\":%.3f,\"alive_members\":%d}\n", \
        p, tc, ts, tc / ts, alive
}'
}
figures agent $C1 "$c0" "$c1" "$cn0" "$cn1"
figures agent_allon $C2 "$a0" "$a1" "$an0" "$an1"
