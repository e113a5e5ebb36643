#!/usr/bin/env bash
# cairn's native serf layer (src/serf, driven by tools/serf_peer) in one
# cluster with two real Serf 0.9.4 agents on 127.0.0.1 (ports in a random
# free-ish block of 19800-19999):
#   - the cairn node joins; `serf members` lists it alive with role=cairn,
#     then role=cairn2 after its tag update;
#   - its user event reaches Serf ("user-event: hello" in the agent log),
#     and a Serf user event reaches cairn;
#   - a Serf agent's graceful leave is a member-leave (left) in cairn;
#   - cairn's graceful leave shows as "left" in `serf members` (not failed).
# Every process is stopped by PID in the EXIT trap.
set -u
BIN=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}/serf_peer
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$BIN" ] || { echo "serf_peer not found at $BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init serf-native

P=$((19800 + (RANDOM % 40) * 5))
serf agent -node=go1 -bind=127.0.0.1:$P -rpc-addr=127.0.0.1:$((P + 1)) -tag role=go \
    >"$D/go1.log" 2>&1 &
PIDS+=($!)
sleep 1
serf agent -node=go2 -bind=127.0.0.1:$((P + 2)) -rpc-addr=127.0.0.1:$((P + 3)) \
    -join=127.0.0.1:$P >"$D/go2.log" 2>&1 &
PIDS+=($!)
sleep 1
"$BIN" cairn1 $((P + 4)) $P 10 >"$D/cairn.log" 2>&1 &
CPID=$!
PIDS+=($CPID)
sleep 1.5
check "serf lists cairn1 alive with its tag" \
    sh -c "serf members -rpc-addr=127.0.0.1:$((P + 1)) | grep -q 'cairn1 .* alive .*role=cairn'"
sleep 2
check "serf sees cairn1's tag update" \
    sh -c "serf members -rpc-addr=127.0.0.1:$((P + 1)) | grep -q 'role=cairn2'"
check "serf received cairn's user event" grep -q 'user-event: hello' "$D/go1.log"
serf event -rpc-addr=127.0.0.1:$((P + 1)) from-go payload-go >/dev/null
sleep 1
serf leave -rpc-addr=127.0.0.1:$((P + 3)) >/dev/null
sleep 2
check "cairn received serf's user event" grep -q 'EVENT user from-go payload-go' "$D/cairn.log"
check "cairn sees go2's graceful leave as member-leave" \
    grep -q 'EVENT member-leave go2 left' "$D/cairn.log"
check "cairn never saw go2 failed" sh -c "! grep -q 'member-failed go2' '$D/cairn.log'"
wait $CPID
RC=$?
check "serf_peer exited 0 after its graceful leave" test "$RC" -eq 0
sleep 1
check "serf shows cairn1 left (not failed)" \
    sh -c "serf members -rpc-addr=127.0.0.1:$((P + 1)) | grep -q 'cairn1 .* left'"
check "cairn learned go1's coordinate" grep -q 'COORD go1' "$D/cairn.log"
grep -E 'COORD|STATS' "$D/cairn.log" | sed 's/^/# /'
[ "$FAILS" -eq 0 ] && echo "all passed" || { echo "$FAILS failed"; exit 1; }
