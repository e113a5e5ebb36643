#!/usr/bin/env bash
# `cairn agent --snapshot` with a real Serf 0.9.4 agent on 127.0.0.1 (a free
# block of 10 ports in 20400-20799):
#   - a cairn agent with --snapshot joins a Serf agent, is killed with
#     kill -9, and restarted from its snapshot WITHOUT --join: it rejoins
#     (Serf lists it alive again, and it logs s1's member-join);
#   - after a graceful leave (SIGINT) a restart from the same snapshot stays
#     alone; with --rejoin it rejoins;
#   - the snapshot is Serf's format (alive: lines naming s1).
# Every process is stopped by PID in the EXIT trap.
set -u
BUILD=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}
CAIRN_BIN=${CAIRN_BIN:-$BUILD/cairn}
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init agent-snap

B=$(pick_block 20400 40) || { echo "no free port block in 20400-20799"; exit 1; }
P_S1=$B; R_S1=$((B + 1)); P_C1=$((B + 2))
RPC=-rpc-addr=127.0.0.1:$R_S1
serf_status() { serf members $RPC 2>/dev/null | awk -v n="$1" '$1 == n { print $3 }'; }
serf_is() { [ "$(serf_status "$1")" = "$2" ]; }
SNAP=$D/c1.snapshot

serf agent -node=s1 -bind=127.0.0.1:$P_S1 $RPC >"$D/s1.log" 2>&1 &
PIDS+=($!)
wait_for 10 serf members $RPC >/dev/null 2>&1 || fail "serf s1 did not start"

# start_c1 LOG [flags...]: a cairn agent c1 with the snapshot; sets PID_C1.
start_c1() {
    local log=$1; shift
    "$CAIRN_BIN" agent --node c1 --bind 127.0.0.1:$P_C1 --rpc-addr 127.0.0.1:$((B + 3)) --snapshot "$SNAP" --log-json "$@" \
        >"$D/$log" 2>"$D/$log.err" &
    PID_C1=$!
    PIDS+=($PID_C1)
}
joined() { grep -q '"event":"member-join","node":"s1"' "$D/$1"; }

start_c1 run1.log --join 127.0.0.1:$P_S1
check "serf lists c1 alive" wait_for 15 serf_is c1 alive
sleep 1.5 # the snapshot is flushed every 500 ms
kill -9 "$PID_C1"; wait "$PID_C1" 2>/dev/null
check "the snapshot is Serf's format (an alive: line for s1)" \
    grep -qE "^alive: s1 127\.0\.0\.1:$P_S1\$" "$SNAP"
check "serf sees c1 fail after kill -9" wait_for 30 serf_is c1 failed

start_c1 run2.log
check "restarted from the snapshot without --join, c1 rejoins s1" wait_for 20 joined run2.log
check "serf lists the restarted c1 alive" wait_for 20 serf_is c1 alive

kill -INT "$PID_C1"; wait "$PID_C1" 2>/dev/null
check "serf shows c1 left after SIGINT" wait_for 15 serf_is c1 left
check "the snapshot ends with the leave" sh -c "tail -n 3 '$SNAP' | grep -qx leave"

start_c1 run3.log
sleep 4
check "after a graceful leave a restart stays alone" sh -c "! grep -q '\"node\":\"s1\"' '$D/run3.log'"
kill -INT "$PID_C1"; wait "$PID_C1" 2>/dev/null

start_c1 run4.log --rejoin
check "with --rejoin it rejoins from the snapshot" wait_for 20 joined run4.log
check "serf lists c1 alive again" wait_for 20 serf_is c1 alive
kill -INT "$PID_C1"; wait "$PID_C1" 2>/dev/null

[ "$FAILS" -eq 0 ] && echo "all checks passed" || echo "$FAILS check(s) failed"
exit $((FAILS > 0))
