#!/usr/bin/env bash
# bench_agents_scale: whole clusters of cairn agents next to whole clusters
# of real Serf 0.9.4 agents (issue 15 item 3, issue 10 item 7).
#
# For each size N: N cairn agents only, then (same run) N serf agents only,
# profile lan, all on 127.0.0.1 with distinct gossip and RPC ports (cairn
# agents with --http-addr ""). The first agent is started alone; once its RPC
# answers, the other N-1 are started at once, each joining the first.
#
# Figures (one JSON line each: {"name":...,"n":N,"cairn":...,"serf":...,
# "ratio":cairn/serf,"goal":...,"met":...}):
#  - convergence_s: from launching the N-1 joiners until every agent lists N
#    alive members. Polled over each agent's Serf RPC with `cairn members
#    --status alive` (the same C client for both sides), all pending agents
#    at once, a round every 0.1 s; an agent that has listed N once is not
#    polled again. Resolution: one polling round (~0.1-0.3 s here).
#  - cpu_ms_per_agent_min: on-CPU time of all threads (schedstat, ns) per
#    agent per minute over a steady window that starts SETTLE s after
#    convergence (utime+stime ticks from /proc/PID/stat in cpu_ticks_...).
#  - rss_kib / anon_kib: VmRSS and RssAnon (/proc/PID/status) per agent,
#    mean over the agents at the end of the window.
#  - wire_bytes_per_agent_s: bytes on the wire per agent per second over the
#    window, for BOTH sides from nftables counters (a table this script adds
#    and deletes): every IPv4 UDP packet whose source port is one of the
#    cluster's gossip ports and every TCP packet with either port one of
#    them, counted once on the output hook (IP length: headers included);
#    on loopback that is what the agents send and what they receive. For
#    cairn the agents' own counters (SIGUSR1 `stats` record, UDP payload:
#    tx_bytes) are printed too (cairn_udp_payload), and each side's split
#    per agent per second (udp/tcp bytes and packets). Without nft (or
#    without root) the wire figure is null.
#
# usage: bench/bench_agents_scale.sh [--quick] [--cairn PATH] [--before PATH] [SIZES...]
#   SIZES default "10 50 100"; --quick: size 5, 5 s window (smoke run).
#   --before PATH: another cairn binary (e.g. built from an older commit)
#   measured too, in the same run, before the cairn side, on the same
#   ports; each figure then also has "before" and "after_over_before".
#   env BENCH_SCALE_WINDOW (s, default 30), BENCH_SCALE_SETTLE (s, default
#   5), BENCH_SCALE_TIMEOUT (convergence timeout, s, default 120),
#   BENCH_SCALE_KEEP=DIR keeps the logs and raw figures, BENCH_SCALE_PERF=FILE
#   records `perf record -g` of the cairn agents over each window in FILE.N.
# Ports: a free block of 4*max(N) ports in 21000-29999 (interop uses
# 19000-19799, bench_agent 19800-19959).
set -u
CAIRN_BIN=${CAIRN_BIN:-$(dirname "$0")/../build/cairn}
BEFORE_BIN=
SIZES=()
QUICK=0
WINDOW=${BENCH_SCALE_WINDOW:-30}
SETTLE=${BENCH_SCALE_SETTLE:-5}
TIMEOUT=${BENCH_SCALE_TIMEOUT:-120}
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --cairn) CAIRN_BIN=$2; shift ;;
    --cairn=*) CAIRN_BIN=${1#--cairn=} ;;
    --before) BEFORE_BIN=$(readlink -f "$2"); shift ;;
    -h | --help) sed -n '2,40p' "$0"; exit 0 ;;
    *[!0-9\ ]*) echo "bench_agents_scale: bad argument \"$1\"" >&2; exit 2 ;;
    *) for s in $1; do SIZES+=("$s"); done ;;
    esac
    shift
done
if [ $QUICK = 1 ]; then
    [ ${#SIZES[@]} = 0 ] && SIZES=(5)
    WINDOW=${BENCH_SCALE_WINDOW:-5}
    SETTLE=${BENCH_SCALE_SETTLE:-1}
fi
[ ${#SIZES[@]} = 0 ] && SIZES=(10 50 100)
command -v serf >/dev/null || { echo '{"name":"scale","skipped":"serf not installed"}'; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "bench_agents_scale: no cairn binary at $CAIRN_BIN" >&2; exit 1; }
CAIRN_BIN=$(readlink -f "$CAIRN_BIN")

D=${BENCH_SCALE_KEEP:-$(mktemp -d /tmp/cairn-bench-scale.XXXXXX)}
mkdir -p "$D"
NFT_TABLE=cairnbench$$
NFT=0
PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
}
cleanup() {
    stop_all
    [ $NFT = 1 ] && nft delete table ip "$NFT_TABLE" 2>/dev/null
    [ -z "${BENCH_SCALE_KEEP:-}" ] && rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

max=0
for n in "${SIZES[@]}"; do [ "$n" -gt $max ] && max=$n; done
[ $max -ge 2 ] || { echo "bench_agents_scale: sizes must be >= 2" >&2; exit 2; }
SPAN=$((4 * max))
pick_block() {
    local try base used
    used=$(ss -Htuan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n]; n = split($5, a, ":"); print a[n] }' | sort -un)
    for try in $(seq 40); do
        base=$((21000 + 100 * (RANDOM % ((9000 - SPAN) / 100))))
        if ! echo "$used" | awk -v lo=$base -v hi=$((base + SPAN - 1)) '$1 >= lo && $1 <= hi { f = 1 } END { exit !f }'; then
            echo "$base"
            return 0
        fi
    done
    return 1
}
B=$(pick_block) || { echo "bench_agents_scale: no free port block" >&2; exit 1; }
# Ports: cairn gossip B.., cairn RPC B+max.., serf gossip B+2max.., serf RPC B+3max..

if command -v nft >/dev/null && nft add table ip "$NFT_TABLE" 2>/dev/null; then
    NFT=1
    nft add chain ip "$NFT_TABLE" out '{ type filter hook output priority 0; policy accept; }'
    for side in cairn serf; do
        if [ $side = cairn ]; then lo=$B; else lo=$((B + 2 * max)); fi
        hi=$((lo + max - 1))
        nft add rule ip "$NFT_TABLE" out udp sport $lo-$hi counter comment "\"${side}_udp\""
        nft add rule ip "$NFT_TABLE" out tcp sport $lo-$hi counter comment "\"${side}_tcp\""
        nft add rule ip "$NFT_TABLE" out tcp dport $lo-$hi counter comment "\"${side}_tcp\""
    done
fi
# Counted so far for a side: "udp_bytes udp_packets tcp_bytes tcp_packets".
wire_bytes() {
    [ $NFT = 1 ] || { echo 0 0 0 0; return; }
    local side=$1
    [ $side = before ] && side=cairn # same ports
    nft list chain ip "$NFT_TABLE" out | awk -v u="\"${side}_udp" -v t="\"${side}_tcp" '
        { k = index($0, u) ? "u" : (index($0, t) ? "t" : "") }
        k != "" { for (i = 1; i < NF; i++) { if ($i == "bytes") b[k] += $(i + 1); if ($i == "packets") p[k] += $(i + 1) } }
        END { printf "%d %d %d %d", b["u"], p["u"], b["t"], p["t"] }'
}

HZ=$(getconf CLK_TCK)
ticks() {
    local p
    for p in "$@"; do cat /proc/"$p"/stat 2>/dev/null; done | awk '{ s += $14 + $15 } END { printf "%.0f", s }'
}
runns() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f", s }'
}
mem() { # mean VmRSS and RssAnon (KiB) over the pids
    local p
    for p in "$@"; do cat /proc/"$p"/status; done | awk '
        $1 == "VmRSS:" { r += $2; n++ } $1 == "RssAnon:" { a += $2 } END { printf "%.0f %.0f", r / n, a / n }'
}
alive_at() { "$CAIRN_BIN" members --rpc-addr "127.0.0.1:$1" --status alive --timeout 2 2>/dev/null | grep -c .; }
now() { date +%s.%N; }

start_agent() { # side i gossip_port rpc_port join_port(or "")
    local side=$1 i=$2 gp=$3 rp=$4 jp=$5
    if [ $side != serf ]; then
        local bin=$CAIRN_BIN
        [ $side = before ] && bin=$BEFORE_BIN
        "$bin" agent --node "c$i" --bind "127.0.0.1:$gp" --rpc-addr "127.0.0.1:$rp" \
            --http-addr "" --profile lan --log-json ${jp:+--join 127.0.0.1:$jp} >"$D/$side-$i.log" 2>&1 &
    else
        serf agent -node="s$i" -bind="127.0.0.1:$gp" -rpc-addr="127.0.0.1:$rp" -profile=lan \
            ${jp:+-join=127.0.0.1:$jp} >"$D/$side-$i.log" 2>&1 &
    fi
    PIDS+=($!)
}

# run_side SIDE N (run in this shell, not a subshell): prints "conv_s ticks_per_agent_min ns_per_agent_min rss anon wire_B_per_agent_s udp_payload_B_per_agent_s window"
run_side() {
    local side=$1 n=$2 g r i t0 t1 pending left conv w0 w1 k0 k1 n0 n1 ws0 ws1
    if [ $side != serf ]; then g=$B; r=$((B + max)); else g=$((B + 2 * max)); r=$((B + 3 * max)); fi
    start_agent $side 0 $g $r ""
    for _ in $(seq 100); do [ "$(alive_at $r)" -ge 1 ] 2>/dev/null && break; sleep 0.1; done
    t0=$(now)
    for i in $(seq 1 $((n - 1))); do start_agent $side $i $((g + i)) $((r + i)) $g; done
    pending=$(seq 0 $((n - 1)))
    conv=null
    while :; do
        # One round: every pending agent asked at once (one client each).
        pending=$(for i in $pending; do
            ([ "$(alive_at $((r + i)))" -ge "$n" ] 2>/dev/null || echo $i) &
        done; wait)
        t1=$(now)
        if [ -z "$pending" ]; then conv=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }'); break; fi
        awk -v a=$t0 -v b=$t1 -v t=$TIMEOUT 'BEGIN { exit !(b - a > t) }' && break
        sleep 0.1
    done
    [ "$conv" = null ] && echo "bench_agents_scale: $side N=$n: not converged after ${TIMEOUT}s ($(echo $pending | wc -w) agents short)" >&2
    for i in $(seq 0 $((n - 1))); do kill -0 "${PIDS[$i]}" 2>/dev/null ||
        echo "bench_agents_scale: $side agent $i died (log $D/$side-$i.log)" >&2; done
    sleep "$SETTLE"
    [ $side != serf ] && kill -USR1 "${PIDS[@]}" 2>/dev/null
    w0=$(wire_bytes $side); k0=$(ticks "${PIDS[@]}"); n0=$(runns "${PIDS[@]}"); ws0=$(now)
    if [ $side = cairn ] && [ -n "${BENCH_SCALE_PERF:-}" ]; then
        perf record -q -F 4999 -g -o "$BENCH_SCALE_PERF.$n" -p "$(IFS=,; echo "${PIDS[*]}")" \
            -- sleep "$WINDOW" >/dev/null 2>&1
    else
        sleep "$WINDOW"
    fi
    w1=$(wire_bytes $side); k1=$(ticks "${PIDS[@]}"); n1=$(runns "${PIDS[@]}"); ws1=$(now)
    [ $side != serf ] && kill -USR1 "${PIDS[@]}" 2>/dev/null
    read -r rss anon <<<"$(mem "${PIDS[@]}")"
    local udp=null
    if [ $side != serf ]; then
        sleep 0.5
        udp=$(for i in $(seq 0 $((n - 1))); do
            grep '"tx_bytes"' "$D/$side-$i.log" | tail -2 | jq -s 'if length == 2 then .[1].tx_bytes - .[0].tx_bytes else empty end'
        done | awk '{ s += $1 } END { printf "%.0f", s }')
    fi
    stop_all
    awk -v n=$n -v conv=$conv -v k=$((k1 - k0)) -v ns=$((n1 - n0)) -v hz=$HZ -v a=$ws0 -v b=$ws1 \
        -v rss=$rss -v anon=$anon -v w0="$w0" -v w1="$w1" -v nft=$NFT -v udp=$udp 'BEGIN {
        win = b - a
        split(w0, x); split(w1, y)
        ub = y[1] - x[1]; up = y[2] - x[2]; tb = y[3] - x[3]; tp = y[4] - x[4]
        printf "%s %.1f %.1f %s %s %s %s %.1f %s\n", conv, k * 1000 / hz / n * 60 / win, ns / 1e6 / n * 60 / win,
            rss, anon, (nft ? sprintf("%.1f", (ub + tb) / n / win) : "null"),
            (udp == "null" ? "null" : sprintf("%.1f", udp / n / win)), win,
            sprintf("{\"udp_bytes\":%.1f,\"udp_packets\":%.2f,\"tcp_bytes\":%.1f,\"tcp_packets\":%.2f}",
                ub / n / win, up / n / win, tb / n / win, tp / n / win)
    }'
}

fig() { # name n cairn serf goal(max ratio or "") [extra] [before]
    awk -v name=$1 -v n=$2 -v c=$3 -v s=$4 -v goal="$5" -v extra="${6:-}" -v bf="${7:-}" 'BEGIN {
        r = (c != "null" && s != "null" && s + 0 > 0) ? sprintf("%.3f", c / s) : "null"
        if (bf != "")
            extra = extra sprintf(",\"before\":%s,\"after_over_before\":%s", bf,
                (c != "null" && bf != "null" && bf + 0 > 0) ? sprintf("%.3f", c / bf) : "null")
        m = (goal == "" || r == "null") ? "" : sprintf(",\"goal\":%s,\"met\":%s", goal, (r + 0 <= goal + 0 ? "true" : "false"))
        printf "{\"name\":\"%s\",\"n\":%d,\"cairn\":%s,\"serf\":%s,\"ratio\":%s%s%s}\n", name, n, c, s, r, m, extra
    }'
}

for n in "${SIZES[@]}"; do
    # Not in $(...): the agents' pids stay in this shell's PIDS for cleanup.
    bc= bt= bn= br= ba= bw= bu= bwin= bsplit=
    if [ -n "$BEFORE_BIN" ]; then
        run_side before "$n" >"$D/res.before"
        read -r bc bt bn br ba bw bu bwin bsplit <"$D/res.before"
        echo "$n before $bc $bt $bn $br $ba $bw $bu $bwin $bsplit" >>"$D/raw.txt"
    fi
    run_side cairn "$n" >"$D/res.cairn"
    run_side serf "$n" >"$D/res.serf"
    read -r cc ct cn cr ca cw cu cwin csplit <"$D/res.cairn"
    read -r sc st sn sr sa sw su swin ssplit <"$D/res.serf"
    echo "$n cairn $cc $ct $cn $cr $ca $cw $cu $cwin $csplit serf $sc $st $sn $sr $sa $sw $su $swin $ssplit" >>"$D/raw.txt"
    fig scale_convergence_s "$n" "$cc" "$sc" 1 "" "$bc"
    fig scale_cpu_ms_per_agent_min "$n" "$cn" "$sn" 0.2 ",\"window_s\":$cwin,\"source\":\"schedstat\"" "$bn"
    fig scale_cpu_ticks_ms_per_agent_min "$n" "$ct" "$st" 0.2 ",\"source\":\"utime+stime\"" "$bt"
    fig scale_anon_kib "$n" "$ca" "$sa" 0.1 "" "$ba"
    fig scale_rss_kib "$n" "$cr" "$sr" 0.333 "" "$br"
    fig scale_wire_bytes_per_agent_s "$n" "$cw" "$sw" 1 ",\"source\":\"nftables\",\"cairn_udp_payload\":$cu,\"cairn_split\":$csplit,\"serf_split\":$ssplit${bsplit:+,\"before_split\":$bsplit}" "$bw"
done
