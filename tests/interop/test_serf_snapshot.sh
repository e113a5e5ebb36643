#!/usr/bin/env bash
# Serf's snapshot file between cairn (tools/serf_peer with SNAPSHOT) and
# real Serf 0.9.4 agents on 127.0.0.1 (ports in a random block of
# 19600-19799):
#   - go2 runs with -snapshot and is stopped by SIGTERM (no leave); cairn1
#     starts from a copy of that file with no join address: it prints the
#     restored clocks, re-joins go1 from the remembered members, is listed
#     alive by `serf members`, and does not re-deliver go1's old event;
#   - cairn1 exits without leaving; a new agent go3 starts from a copy of
#     cairn1's snapshot with no -join, re-joins through it (go1 lists it
#     alive) and does not re-deliver cairn1's old event.
# Every process is stopped by PID in the EXIT trap.
set -u
BIN=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}/serf_peer
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$BIN" ] || { echo "serf_peer not found at $BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init serf-snap

P=$((19600 + (RANDOM % 40) * 5))
serf agent -node=go1 -bind=127.0.0.1:$P -rpc-addr=127.0.0.1:$((P + 1)) >"$D/go1.log" 2>&1 &
PIDS+=($!)
sleep 1
serf agent -node=go2 -bind=127.0.0.1:$((P + 2)) -rpc-addr=127.0.0.1:$((P + 3)) \
    -join=127.0.0.1:$P -snapshot="$D/go2.snap" >"$D/go2.log" 2>&1 &
G2=$!
PIDS+=($G2)
sleep 2
serf event -rpc-addr=127.0.0.1:$((P + 1)) old-go payload >/dev/null
sleep 1.5
kill -TERM $G2
wait $G2 2>/dev/null
check "serf agent wrote a snapshot naming go1" grep -q "^alive: go1 127.0.0.1:$P\$" "$D/go2.snap"
check "serf agent's snapshot has an event clock" grep -q '^event-clock: [1-9]' "$D/go2.snap"

# cairn restarts from Serf's snapshot.
cp "$D/go2.snap" "$D/cairn.snap"
"$BIN" cairn1 $((P + 4)) 0 -5 "$D/cairn.snap" >"$D/cairn.log" 2>&1 &
CPID=$!
PIDS+=($CPID)
sleep 3
check "cairn restored its event clock past Serf's" \
    grep -Eq '^START member_time=[2-9].* event_time=[2-9].* skipped=0' "$D/cairn.log"
check "cairn re-joined go1 from Serf's snapshot" \
    grep -q 're-joined to previously known node: go1' "$D/cairn.log"
check "serf lists cairn1 alive" \
    sh -c "serf members -rpc-addr=127.0.0.1:$((P + 1)) | grep -q 'cairn1 .* alive'"
wait $CPID
RC=$?
check "serf_peer exited 0 without leaving" test "$RC" -eq 0
check "cairn did not re-deliver the old Serf event" sh -c "! grep -q 'EVENT user old-go' '$D/cairn.log'"
check "cairn's snapshot has no leave" sh -c "! grep -q '^leave' '$D/cairn.snap'"

# A real agent restarts from cairn's snapshot.
cp "$D/cairn.snap" "$D/go3.snap"
serf agent -node=go3 -bind=127.0.0.1:$((P + 6)) -rpc-addr=127.0.0.1:$((P + 7)) \
    -snapshot="$D/go3.snap" >"$D/go3.log" 2>&1 &
PIDS+=($!)
sleep 3
check "serf agent re-joined from cairn's snapshot" grep -q 'Re-joined to previously known node' "$D/go3.log"
check "go1 lists go3 alive" \
    sh -c "serf members -rpc-addr=127.0.0.1:$((P + 1)) | grep -q 'go3 .* alive'"
check "serf agent did not re-deliver cairn's old event" sh -c "! grep -q 'user-event: hello' '$D/go3.log'"
[ "$FAILS" -eq 0 ] && echo "PASS" || { echo "FAILED: $FAILS"; exit 1; }
