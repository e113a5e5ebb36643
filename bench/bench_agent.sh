#!/usr/bin/env bash
# bench_agent: memory and CPU of a cairn agent next to a real Serf 0.9.4
# agent, in the same 3-node loopback cluster (serf s1, cairn c1, cairn c2;
# profile lan, compression on, info logging), over the same window.
#
# RSS: `ps -o rss` at the end of the window (KiB). CPU: utime+stime from
# /proc/<pid>/stat over the window, in ms (10 ms ticks), and as % of one
# core; and the on-CPU time of all threads from /proc/<pid>/task/*/schedstat
# (ns resolution), which separates the two when both round to few ticks.
# Prints one JSON object per figure:
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
PS=$((B + 1)); RPC=$((B + 2)); PC1=$((B + 11)); PC2=$((B + 12))

serf agent -node=s1 -bind=127.0.0.1:$PS -rpc-addr=127.0.0.1:$RPC >"$D/s1.log" 2>&1 &
S1=$!; PIDS+=($S1)
for _ in $(seq 50); do serf members -rpc-addr=127.0.0.1:$RPC >/dev/null 2>&1 && break; sleep 0.1; done
"$CAIRN_BIN" agent --node c1 --bind 127.0.0.1:$PC1 --rpc-addr 127.0.0.1:$((B + 13)) --join 127.0.0.1:$PS >"$D/c1.log" 2>&1 &
C1=$!; PIDS+=($C1)
"$CAIRN_BIN" agent --node c2 --bind 127.0.0.1:$PC2 --rpc-addr 127.0.0.1:$((B + 14)) --join 127.0.0.1:$PS >"$D/c2.log" 2>&1 &
C2=$!; PIDS+=($C2)
for _ in $(seq 50); do
    [ "$(serf members -rpc-addr=127.0.0.1:$RPC | grep -c alive)" = 3 ] && break
    sleep 0.1
done
if [ "$(serf members -rpc-addr=127.0.0.1:$RPC | grep -c alive)" != 3 ]; then
    echo "bench_agent: the 3-node cluster did not form" >&2
    exit 1
fi
sleep 2 # settle: joins, first push/pulls

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# On-CPU nanoseconds of every thread (finer than the 10 ms ticks of stat).
runns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }
HZ=$(getconf CLK_TCK)
c0=$(ticks $C1); s0=$(ticks $S1); cn0=$(runns $C1); sn0=$(runns $S1); t0=$(date +%s.%N)
sleep "$SECS"
c1=$(ticks $C1); s1=$(ticks $S1); cn1=$(runns $C1); sn1=$(runns $S1); t1=$(date +%s.%N)
rss_c=$(ps -o rss= -p $C1 | tr -d ' ')
rss_s=$(ps -o rss= -p $S1 | tr -d ' ')
thr_c=$(ps -o nlwp= -p $C1 | tr -d ' ')
thr_s=$(ps -o nlwp= -p $S1 | tr -d ' ')
alive=$(serf members -rpc-addr=127.0.0.1:$RPC | grep -c alive)

awk -v rc="$rss_c" -v rs="$rss_s" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" \
    -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v tc="$thr_c" -v ts="$thr_s" -v alive="$alive" \
    -v cn="$((cn1 - cn0))" -v sn="$((sn1 - sn0))" 'BEGIN {
    w = t1 - t0
    cm = (c1 - c0) * 1000 / hz; sm = (s1 - s0) * 1000 / hz
    printf "{\"name\":\"agent_rss_kib\",\"cairn\":%d,\"serf\":%d,\"ratio\":%.3f}\n", rc, rs, rc / rs
    printf "{\"name\":\"agent_cpu_ms\",\"window_s\":%.1f,\"cairn\":%d,\"serf\":%d,\"ratio\":%s}\n", \
        w, cm, sm, (sm > 0 ? sprintf("%.3f", cm / sm) : "null")
    printf "{\"name\":\"agent_cpu_percent\",\"cairn\":%.3f,\"serf\":%.3f,\"ratio\":%s}\n", \
        cm / 10 / w, sm / 10 / w, (sm > 0 ? sprintf("%.3f", cm / sm) : "null")
    if (sn > 0)
        printf "{\"name\":\"agent_cpu_ms_schedstat\",\"cairn\":%.3f,\"serf\":%.3f,\"ratio\":%.4f}\n", \
            cn / 1e6, sn / 1e6, cn / sn
    printf "{\"name\":\"agent_threads\",\"cairn\":%d,\"serf\":%d,\"ratio\":%.3f,\"alive_members\":%d}\n", \
        tc, ts, tc / ts, alive
}'
