#!/usr/bin/env bash
# Queries and key rotation between cairn's native serf (tools/serf_peer)
# and two real Serf 0.9.4 agents, all encrypted with one gossip key, on
# 127.0.0.1 (ports in a random block of 19600-19799):
#   - `serf query` from a Go agent gets cairn's ack and response, and the
#     -node and -tag filters (unanchored regexp) are honoured by cairn; with
#     -relay-factor=1 cairn also relays its ack and response through a Go
#     agent, which forwards them (the CLI shows one response);
#   - cairn's query is acked by both Go agents and answered by the one with
#     a query handler;
#   - `serf keys -install/-use/-remove/-list` on a Go agent rotates the key
#     on the cairn node too, and nobody is lost: cairn still receives a Go
#     user event afterwards and is listed alive.
# Every process is stopped by PID in the EXIT trap.
set -u
BIN=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}/serf_peer
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$BIN" ] || { echo "serf_peer not found at $BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init serf-query

K1=$(printf '%032d' 1 | base64)
K2=$(printf '%032d' 2 | base64)
P=$((19600 + (RANDOM % 40) * 5))
RPC=127.0.0.1:$((P + 1))
serf agent -node=go1 -bind=127.0.0.1:$P -rpc-addr=$RPC -tag role=go -encrypt="$K1" \
    -event-handler 'query:cq=echo go-answer' >"$D/go1.log" 2>&1 &
PIDS+=($!)
sleep 1
serf agent -node=go2 -bind=127.0.0.1:$((P + 2)) -rpc-addr=127.0.0.1:$((P + 3)) -tag role=db \
    -encrypt="$K1" -join=127.0.0.1:$P >"$D/go2.log" 2>&1 &
PIDS+=($!)
sleep 1
CAIRN_PEER_KEY="$K1" CAIRN_PEER_QUERY_AT=4 "$BIN" cairn1 $((P + 4)) $P 24 >"$D/cairn.log" 2>&1 &
CPID=$!
PIDS+=($CPID)
sleep 2
check "serf lists cairn1 alive (encrypted)" \
    sh -c "serf members -rpc-addr=$RPC | grep -q 'cairn1 .* alive'"

serf query -rpc-addr=$RPC -timeout=2s q1 hello >"$D/q1.out" 2>&1
check "serf query: ack from cairn1" grep -q "Ack from 'cairn1'" "$D/q1.out"
check "serf query: response from cairn1" grep -q "Response from 'cairn1': cairn-answer:hello" "$D/q1.out"
check "cairn delivered the query" grep -q 'EVENT query q1 hello respond=OK' "$D/cairn.log"

serf query -rpc-addr=$RPC -timeout=2s -node=cairn1 q2 n >"$D/q2.out" 2>&1
check "-node=cairn1: cairn1 acks" grep -q "Ack from 'cairn1'" "$D/q2.out"
check "-node=cairn1: go2 does not" sh -c "! grep -q \"Ack from 'go2'\" '$D/q2.out'"

serf query -rpc-addr=$RPC -timeout=2s -tag role=air q3 t >"$D/q3.out" 2>&1
check "-tag role=air (unanchored) matches cairn1" grep -q "Response from 'cairn1'" "$D/q3.out"
check "-tag role=air excludes go2" sh -c "! grep -q \"Ack from 'go2'\" '$D/q3.out'"
serf query -rpc-addr=$RPC -timeout=2s -tag 'role=^go$' q4 t >"$D/q4.out" 2>&1
check "-tag role=^go\$ excludes cairn1" sh -c "! grep -q \"cairn1\" '$D/q4.out'"
check "cairn never delivered q4" sh -c "! grep -q 'EVENT query q4' '$D/cairn.log'"

serf query -rpc-addr=$RPC -timeout=2s -relay-factor=1 q5 r >"$D/q5.out" 2>&1
check "-relay-factor=1: one response from cairn1 (relayed copy deduplicated)" \
    sh -c "test \$(grep -c \"Response from 'cairn1'\" '$D/q5.out') -eq 1"

sleep 2
check "cairn's query acked by go1" grep -q 'QACK go1' "$D/cairn.log"
check "cairn's query acked by go2" grep -q 'QACK go2' "$D/cairn.log"
check "cairn's query answered by go1's handler" grep -q 'QRESP go1 go-answer' "$D/cairn.log"

serf keys -rpc-addr=$RPC -install="$K2" >"$D/k1.out" 2>&1
check "keys -install succeeds on all nodes" test $? -eq 0
serf keys -rpc-addr=$RPC -use="$K2" >"$D/k2.out" 2>&1
check "keys -use succeeds on all nodes" test $? -eq 0
serf keys -rpc-addr=$RPC -remove="$K1" >"$D/k3.out" 2>&1
check "keys -remove succeeds on all nodes" test $? -eq 0
serf keys -rpc-addr=$RPC -list >"$D/k4.out" 2>&1
check "keys -list: only the new key, on 3/3 nodes" \
    sh -c "grep -q '$K2 *\\[3/3\\]' '$D/k4.out' && ! grep -q '$K1' '$D/k4.out'"
sleep 2
serf event -rpc-addr=$RPC after-rotate x >/dev/null
sleep 3
check "cairn receives a user event under the new key" grep -q 'EVENT user after-rotate x' "$D/cairn.log"
check "cairn1 still alive after the rotation" \
    sh -c "serf members -rpc-addr=$RPC | grep -q 'cairn1 .* alive'"
check "no member failed in cairn's view" sh -c "! grep -q 'member-failed' '$D/cairn.log'"
wait $CPID
check "serf_peer exited 0" test $? -eq 0
check "cairn relayed its answers to -relay-factor=1 through a Go agent" \
    sh -c "grep -q 'relays_sent=[1-9]' '$D/cairn.log'"
check "Go forwarded cairn's relays without errors" \
    sh -c "! grep -qi 'relay' '$D/go1.log' '$D/go2.log'"
check "cairn's keyring is the new key alone" grep -q "KEYRING 1 $K2" "$D/cairn.log"
for f in q1 k4; do sed 's/^/# /' "$D/$f.out"; done
[ "$FAILS" -eq 0 ] && echo "all passed" || { echo "$FAILS failed"; exit 1; }
