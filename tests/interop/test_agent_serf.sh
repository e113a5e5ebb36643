#!/usr/bin/env bash
# `cairn agent` on the serf layer, with real Serf 0.9.4 agents on 127.0.0.1
# (a free block of 10 ports in 20000-20399):
#   - a Serf agent and a cairn agent join; `serf members` lists the cairn
#     agent alive, and `serf rtt` finds its coordinate;
#   - `serf event` from the Serf agent runs the cairn agent's
#     --event-handler exactly once, with Serf's environment and the payload
#     on stdin; a non-matching handler does not run;
#   - a user event sent by a native cairn node (tools/serf_peer) reaches
#     the Serf agent's -event-handler exactly once (and the cairn agent's);
#   - SIGINT on the cairn agent is the serf leave: `serf members` shows it
#     "left", never "failed", and it exits 0.
# Every process is stopped by PID in the EXIT trap.
set -u
BUILD=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}
CAIRN_BIN=${CAIRN_BIN:-$BUILD/cairn}
PEER_BIN=$BUILD/serf_peer
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }
[ -x "$PEER_BIN" ] || { echo "serf_peer not found at $PEER_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init agent-serf

B=$(pick_block 20000 40) || { echo "no free port block in 20000-20399"; exit 1; }
P_S1=$B; R_S1=$((B + 1)); P_C1=$((B + 2)); P_PEER=$((B + 3))
RPC=-rpc-addr=127.0.0.1:$R_S1
serf_status() { serf members $RPC 2>/dev/null | awk -v n="$1" '$1 == n { print $3 }'; }
serf_is() { [ "$(serf_status "$1")" = "$2" ]; }

serf agent -node=s1 -bind=127.0.0.1:$P_S1 $RPC -tag role=serf \
    -event-handler "user:hello=cat >> $D/s1.hello" >"$D/s1.log" 2>&1 &
PIDS+=($!)
wait_for 10 serf members $RPC >/dev/null 2>&1 || fail "serf s1 did not start"

"$CAIRN_BIN" agent --node c1 --bind 127.0.0.1:$P_C1 --rpc-addr 127.0.0.1:$((B + 4)) --join 127.0.0.1:$P_S1 --log-json \
    --tag role=web --tag my-key=v \
    --event-handler "user:deploy=echo \"\$SERF_EVENT \$SERF_USER_EVENT \$SERF_SELF_NAME \$SERF_SELF_ROLE \$SERF_TAG_MY_KEY\" >> $D/c1.deploy; cat >> $D/c1.deploy" \
    --event-handler "user:hello=cat >> $D/c1.hello" \
    --event-handler "member-failed=echo failed >> $D/c1.wrong" \
    --stats-on-exit >"$D/c1.log" 2>"$D/c1.err" &
PID_C1=$!
PIDS+=($PID_C1)
check "serf lists cairn c1 alive" wait_for 15 serf_is c1 alive
check "serf has a coordinate for c1 (serf rtt)" \
    wait_for 15 sh -c "serf rtt $RPC c1 2>&1 | grep -q 'Estimated c1 <-> s1 rtt'"

serf event $RPC deploy v1.2.3 >/dev/null
check "serf event ran c1's handler" wait_for 10 test -s "$D/c1.deploy"
sleep 4 # re-gossip and coalescing windows: a second run would show by now
check "c1's handler ran exactly once (env + stdin)" \
    sh -c "[ \"\$(cat $D/c1.deploy)\" = \"\$(printf 'user deploy c1 web v\nv1.2.3')\" ]"
check "c1 logged the user-event record" \
    grep -q '"event":"user-event","name":"deploy","ltime":[0-9]*,"coalesce":true,"payload":"v1.2.3"' "$D/c1.log"
check "a non-matching handler did not run" test ! -e "$D/c1.wrong"

"$PEER_BIN" cairn-peer $P_PEER $P_C1 8 >"$D/peer.log" 2>&1 &
PID_PEER=$!
PIDS+=($PID_PEER)
check "cairn's user event reached serf's handler" wait_for 15 test -s "$D/s1.hello"
sleep 4
check "serf's handler ran exactly once for it" \
    sh -c "[ \"\$(cat $D/s1.hello)\" = from-cairn ]"
check "and the cairn agent's handler once" sh -c "[ \"\$(cat $D/c1.hello)\" = from-cairn ]"
wait $PID_PEER
check "serf_peer left cleanly" test $? -eq 0

kill -INT $PID_C1
wait $PID_C1
RC=$?
check "c1 exits 0 after SIGINT" test "$RC" -eq 0
check "serf shows c1 left" wait_for 10 serf_is c1 left
check "serf never saw c1 failed" sh -c "! grep -qiE 'EventMemberFailed: c1|marking c1 as failed' '$D/s1.log'"
check "c1 logged its stats with serf counters" grep -q '"event":"stats".*"member_time"' "$D/c1.log"
check "c1's stats count 2 handler runs (deploy, hello), none failed" \
    sh -c "grep '\"event\":\"stats\"' '$D/c1.log' | grep '\"handler_started\":2,' | grep -q '\"handler_failed\":0,'"
[ "$FAILS" -eq 0 ] && echo PASS
exit $((FAILS > 0))
