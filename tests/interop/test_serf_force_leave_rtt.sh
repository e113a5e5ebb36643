#!/usr/bin/env bash
# Two real Serf 0.9.4 agents and three cairn agents on 127.0.0.1 (a free
# block of 10 ports in 22000-22399):
#   - `serf rtt` between a Serf agent and a cairn agent, and between two
#     cairn agents (both coordinates known to Serf only through gossip),
#     agrees with `serf rtt` between the two Serf agents. On loopback every
#     pair is a fraction of a millisecond apart, but after a dozen probe
#     rounds Serf's own estimate is a few ms (Vivaldi's initial error and
#     height), and tens of ms on a machine loaded enough to delay acks:
#     each estimate must be below 500 ms and within a factor of 10 (or
#     20 ms) of the Serf<->Serf one — a unit or encoding mistake would be
#     off by 10^3 or more;
#   - `serf force-leave` of a cairn agent killed with -9: Serf shows it
#     "left", and the other cairn agent records member-leave for it;
#   - `serf force-leave -prune` of another killed cairn agent: Serf forgets
#     it, and the cairn agent reaps it (member-reap) instead of waiting for
#     the reconnect timeout.
# Every process is stopped by PID in the EXIT trap.
set -u
BUILD=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}
CAIRN_BIN=${CAIRN_BIN:-$BUILD/cairn}
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init force-leave-rtt

B=$(pick_block 22000 40) || { echo "no free port block in 22000-22399"; exit 1; }
P_S1=$B; R_S1=$((B + 1)); P_S2=$((B + 2)); R_S2=$((B + 3))
P_C1=$((B + 4)); P_C2=$((B + 5)); P_C3=$((B + 6))
RPC=-rpc-addr=127.0.0.1:$R_S1
serf_status() { serf members $RPC 2>/dev/null | awk -v n="$1" '$1 == n { print $3 }'; }
serf_is() { [ "$(serf_status "$1")" = "$2" ]; }
serf_gone() { [ -z "$(serf_status "$1")" ]; }
# rtt_ms A B: Serf's estimate in ms ("Estimated A <-> B rtt: 0.123 ms ...").
rtt_ms() {
    serf rtt $RPC "$1" "$2" 2>/dev/null |
        awk '/Estimated/ { v = $6; u = $7; if (u == "s") v *= 1000; else if (u == "µs" || u == "us") v /= 1000; print v }'
}
cairn_has() { grep -q "\"event\":\"$2\",\"node\":\"$3\"" "$D/$1.log"; }

serf agent -node=s1 -bind=127.0.0.1:$P_S1 $RPC >"$D/s1.log" 2>&1 &
PIDS+=($!)
wait_for 10 serf members $RPC >/dev/null 2>&1 || fail "serf s1 did not start"
serf agent -node=s2 -bind=127.0.0.1:$P_S2 -rpc-addr=127.0.0.1:$R_S2 \
    -join=127.0.0.1:$P_S1 >"$D/s2.log" 2>&1 &
PIDS+=($!)

start_cairn() { # NAME PORT (its RPC on PORT + 3)
    "$CAIRN_BIN" agent --node "$1" --bind 127.0.0.1:"$2" --rpc-addr 127.0.0.1:$(($2 + 3)) \
        --join 127.0.0.1:$P_S1 --log-json \
        --reconnect-timeout 1h >"$D/$1.log" 2>"$D/$1.err" &
    PIDS+=($!)
    eval "PID_$1=$!"
    disown $!   # no "Killed" notice from the shell after kill -9
}
start_cairn c1 $P_C1
start_cairn c2 $P_C2
start_cairn c3 $P_C3
for n in s2 c1 c2 c3; do
    check "serf lists $n alive" wait_for 30 serf_is $n alive
done

# Coordinates: every agent pings every other within a few probe rounds (5
# members, 1 s probe interval); wait until Serf has all of them, then give
# Vivaldi a few more rounds.
has_rtt() { [ -n "$(rtt_ms "$1" "$2")" ]; }
for n in s2 c1 c2; do
    check "serf has a coordinate for $n" wait_for 30 has_rtt s1 $n
done
check "serf estimates c1 <-> c2 (two cairn coordinates)" wait_for 30 has_rtt c1 c2
sleep 8
base=$(rtt_ms s1 s2); sc=$(rtt_ms s1 c1); cc=$(rtt_ms c1 c2)
echo "# serf rtt: s1<->s2 ${base} ms  s1<->c1 ${sc} ms  c1<->c2 ${cc} ms"
echo "{\"name\":\"serf_rtt_loopback_ms\",\"serf_serf\":$base,\"serf_cairn\":$sc,\"cairn_cairn\":$cc}"
agree() {
    awk -v b="$1" -v x="$2" 'BEGIN { d = x - b; if (d < 0) d = -d
        exit !(b > 0 && x > 0 && x < 500 && (d <= 20.0 || (x <= 10 * b && b <= 10 * x))) }'
}
check "s1<->c1 estimate agrees with s1<->s2 (< 500 ms, within x10 or 20 ms)" agree "$base" "$sc"
check "c1<->c2 estimate agrees with s1<->s2 (< 500 ms, within x10 or 20 ms)" agree "$base" "$cc"

# force-leave of a dead cairn agent.
kill -9 "$PID_c2"
check "serf sees c2 failed after kill -9" wait_for 30 serf_is c2 failed
check "serf force-leave c2 succeeds" serf force-leave $RPC c2
check "serf shows c2 left" wait_for 10 serf_is c2 left
check "cairn c1 records c2's member-leave" wait_for 30 cairn_has c1 member-leave c2
check "cairn c1 never reaped c2 (no prune)" sh -c "! grep -q '\"event\":\"member-reap\",\"node\":\"c2\"' '$D/c1.log'"

# force-leave -prune of another.
kill -9 "$PID_c3"
check "serf sees c3 failed after kill -9" wait_for 30 serf_is c3 failed
check "serf force-leave -prune c3 succeeds" serf force-leave $RPC -prune c3
check "serf forgets c3" wait_for 10 serf_gone c3
check "cairn c1 reaps c3 at once (member-reap)" wait_for 30 cairn_has c1 member-reap c3
check "c1 is still alive in serf" serf_is c1 alive
[ "$FAILS" -eq 0 ] && echo PASS
exit $((FAILS > 0))
