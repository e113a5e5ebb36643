#!/bin/bash
# The Serf agent RPC server of `cairn agent` (issue 11) against the real
# `serf` CLI: every command runs once against a cairn agent and once against
# a real Serf agent of the same (encrypted) cluster, and the exit statuses
# and the meaning of the outputs (names, statuses, tags, counts) must agree.
#
#   s1 serf agent (role=serf)      c1 cairn agent (role=web)
#   c2 cairn agent (the force-leave victim)
#   s2 serf agent with rpc_auth    c3 cairn agent with --rpc-auth (standalone)
#
# Covers members (-status, -name, -tag, -role, -detailed, -format json),
# join, event [-coalesce], query (-node, -tag, -no-ack, -timeout,
# -format json, responses from handlers), reachability, monitor, tags
# -set/-delete, info, rtt, keys -list/-install/-use/-remove, force-leave
# [-prune], leave, auth (right, wrong, missing), and protocol errors
# (unknown command, command before the handshake). About 40 s.
set -u
CAIRN_BIN=${CAIRN_BIN:-$(dirname "$0")/../../build/cairn}
command -v serf >/dev/null || { echo "serf not installed: skipped"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "no cairn binary at $CAIRN_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init rpc-server

B=$(pick_block 30000 40) || { echo "no free port block in 30000-30399"; exit 1; }
P_S1=$B; R_S1=$((B + 1)); P_C1=$((B + 2)); R_C1=$((B + 3)); P_C2=$((B + 4)); R_C2=$((B + 5))
P_S2=$((B + 6)); R_S2=$((B + 7)); P_C3=$((B + 8)); R_C3=$((B + 9))
KEY=$(serf keygen)
KEY2=$(serf keygen)
S=-rpc-addr=127.0.0.1:$R_S1
C=-rpc-addr=127.0.0.1:$R_C1
sc() { timeout 20 serf "$@"; }

serf agent -node=s1 -bind=127.0.0.1:$P_S1 $S -encrypt="$KEY" -tag role=serf \
    -event-handler "query:echo=echo from-s1" >"$D/s1.log" 2>&1 &
PIDS+=($!)
wait_for 10 sc members $S >/dev/null 2>&1 || fail "serf s1 did not start"
"$CAIRN_BIN" agent --node c1 --bind 127.0.0.1:$P_C1 --rpc-addr 127.0.0.1:$R_C1 --encrypt "$KEY" \
    --tag role=web --event-handler "query:echo=echo from-c1" --log-level debug \
    >"$D/c1.log" 2>"$D/c1.err" &
PID_C1=$!
PIDS+=($PID_C1)
"$CAIRN_BIN" agent --node c2 --bind 127.0.0.1:$P_C2 --rpc-addr 127.0.0.1:$R_C2 --encrypt "$KEY" \
    --join 127.0.0.1:$P_S1 >"$D/c2.log" 2>"$D/c2.err" &
PID_C2=$!
PIDS+=($PID_C2)
wait_for 10 sc members $C >/dev/null 2>&1 || fail "cairn c1 RPC did not start"

# A second agent on a taken RPC address exits 1 with a clear message.
timeout 10 "$CAIRN_BIN" agent --node dup --bind 127.0.0.1:$((B + 10)) --rpc-addr 127.0.0.1:$R_C1 \
    >/dev/null 2>"$D/dup.err"
rc=$?
check "an RPC address in use exits 1 ($rc: $(head -1 "$D/dup.err"))" \
    eval "[ $rc = 1 ] && grep -q -- '--rpc-addr: cannot listen on 127.0.0.1:$R_C1' '$D/dup.err'"

# both NAME NORMALIZER ARGS...: serf ARGS against s1 and against c1; equal
# exit status and equal normalized output (NORMALIZER reads stdin).
both() {
    local what=$1 norm=$2; shift 2
    local rs rc
    # Go's flag package stops at the first argument: flags go first.
    local cmd=$1; shift
    sc "$cmd" $S "$@" >"$D/out.s" 2>&1; rs=$?
    sc "$cmd" $C "$@" >"$D/out.c" 2>&1; rc=$?
    local ns nc
    ns=$($norm <"$D/out.s"); nc=$($norm <"$D/out.c")
    if [ $rs = $rc ] && [ "$ns" = "$nc" ]; then
        ok "$what (exit $rs)"
    else
        fail "$what: serf exit $rs [$ns] / cairn exit $rc [$nc]"
        sed 's/^/#   serf: /' "$D/out.s" | head -8
        sed 's/^/#  cairn: /' "$D/out.c" | head -8
    fi
}
# Normalizers.
members_norm() { while read -r n _ st t; do [ -n "$n" ] && echo "$n $st $(echo "$t" | tr ',' '\n' | sort | paste -sd,)"; done | sort; }
names_status() { awk '{ print $1, $3 }' | sort; }
json_members() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted((m["name"], m["status"], sorted(m["tags"].items()), m["protocol"]["version"]) for m in d["members"]))'; }
detailed() { awk '{ print $1, $3, ($0 ~ /Protocol Version: 5  Available Protocol Range: \[2, 5\]/) }' | sort; }
rc_only() { :; }
first_line() { head -1; }
acks() { grep -E '^Total (Acks|Responses)'; }
acks_from() { grep -Eo "^(Ack|Response) from '[^']*'(: .*)?" | sort; }
query_json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d["Acks"] or []), sorted(d["Responses"].items()))'; }
reach_norm() { grep -E 'Total members|Successfully'; }
no_time() { sed -E 's/[0-9]+\.[0-9]+ ms/X ms/'; }
info_keys() { awk '/^[a-z_]+:$/ { sec = $1 } /=/ { print sec, $1, $3 }' | grep -v -e '^runtime' -e '^tags' -e '^agent' | sed -E 's/^(serf [a-z_]+) .*/\1/; s/from-(s1|c1)/from-X/' | sort; }
status_only() { awk '{ print $3 }'; }
keys_norm() { grep -Eo '\[[0-9]+/[0-9]+\]|Failed.*|Success.*' | sort; }

stable() { [ "$(sc members $S | grep -c alive)" = 3 ] && [ "$(sc members $C | grep -c alive)" = 3 ]; }
echo "# joining c1 through its RPC (the serf CLI's join)"
out=$(sc join $C 127.0.0.1:$P_S1); rc=$?
check "serf join to cairn: exit $rc, '$out'" eval "[ $rc = 0 ] && [ '$out' = 'Successfully joined cluster by contacting 1 nodes.' ]"
wait_for 30 stable || fail "the cluster did not converge"
both "join an address already in the cluster" first_line join 127.0.0.1:$P_C2
both "join a dead address fails" rc_only join 127.0.0.1:1

echo "# members"
both "members" members_norm members
both "members -status alive" members_norm members -status alive
both "members -status 'al.*'" members_norm members -status 'al.*'
both "members -status ali (anchored)" members_norm members -status ali
both "members -name 'c.*'" members_norm members -name 'c.*'
both "members -name c (anchored)" members_norm members -name c
both "members -tag role=web" members_norm members -tag role=web
both "members -tag role=w (anchored)" members_norm members -tag role=w
both "members -tag nosuch= (absent tag matches empty)" members_norm members -tag nosuch=
both "members -role 'web|serf'" members_norm members -role 'web|serf'
both "members -detailed" detailed members -detailed
both "members -format json" json_members members -format json
both "members -name '(' (bad regexp)" rc_only members -name '('

echo "# events and queries"
both "event deploy v1" cat event deploy v1
both "event -coalesce=false hello world" cat event -coalesce=false hello world
big=$(head -c 600 /dev/zero | tr '\0' x)
both "event over 512 bytes fails" cat event big "$big"
both "query -timeout=2s echo (acks, handler responses)" acks_from query -timeout=2s echo
both "query counts" acks query -timeout=500ms echo
both "query -node c1" acks_from query -timeout=500ms -node c1 echo
both "query -tag role=web" acks_from query -timeout=500ms -tag role=web echo
both "query -no-ack" acks query -timeout=500ms -no-ack echo
both "query -format json" query_json query -timeout=500ms -format json echo
both "query named _serf_x fails" cat query -timeout=500ms _serf_x
both "reachability" reach_norm reachability

echo "# monitor, tags, info, rtt"
timeout -s INT 2 serf monitor $C -log-level=debug >"$D/mon.c" 2>&1; rmc=$?
timeout -s INT 2 serf monitor $S -log-level=debug >"$D/mon.s" 2>&1; rms=$?
check "monitor: exit $rms/$rmc, $(lines "$D/mon.s")/$(lines "$D/mon.c") lines" \
    eval "[ $rms = $rmc ] && [ $(lines "$D/mon.c") -gt 2 ] && grep -q 'agent.ipc: Accepted client' '$D/mon.c'"
check "monitor replays c1's start-up lines" grep -q 'agent-start' "$D/mon.c"
both "monitor -log-level=bogus fails" rc_only monitor -log-level=bogus
both "tags -set foo=bar" cat tags -set foo=bar
wait_for 10 eval "sc members $S | grep -q 'c1 .*foo=bar'" || true
check "the tag reached serf's view" eval "sc members $S | grep -q 'c1 .*foo=bar'"
both "tags -delete foo" cat tags -delete foo
wait_for 10 eval "! sc members $S | grep -q 'foo=bar'" || true
check "the deleted tags are gone" eval "! sc members $S | grep -q foo=bar"
both "info (sections and serf keys)" info_keys info
check "info names c1" eval "sc info $C | grep -q 'name = c1'"
sleep 2
both "rtt c1 s1" no_time rtt c1 s1
both "rtt zz (unknown) fails" cat rtt zz

echo "# keys (the cluster is encrypted)"
both "keys -list" keys_norm keys -list
both "keys -install" keys_norm keys -install "$KEY2"
both "keys -use" keys_norm keys -use "$KEY2"
both "keys -remove (old primary)" keys_norm keys -remove "$KEY"
both "keys -list after the rotation" keys_norm keys -list
check "only the new key is left" eval "sc keys -list $C | grep -q '$KEY2' && ! sc keys -list $C | grep -q '$KEY'"
both "keys -install bad base64 fails" rc_only keys -install '!!'

echo "# force-leave"
kill -9 $PID_C2
wait $PID_C2 2>/dev/null
wait_for 30 eval "sc members $S -name c2 | grep -q failed" || fail "c2 not seen failed"
wait_for 30 eval "sc members $C -name c2 | grep -q failed" || fail "c2 not seen failed by c1"
both "force-leave c2" cat force-leave c2
wait_for 10 eval "sc members $C -name c2 | grep -q left" || true
check "c2 is left on both" eval "sc members $C -name c2 | grep -q left && sc members $S -name c2 | grep -q left"
both "force-leave -prune c2" cat force-leave -prune c2
wait_for 10 eval "[ -z \"\$(sc members $C -name c2)\" ] && [ -z \"\$(sc members $S -name c2)\" ]" || true
check "c2 is pruned on both" eval "[ -z \"\$(sc members $C -name c2)\" ] && [ -z \"\$(sc members $S -name c2)\" ]"
both "force-leave of an unknown node" cat force-leave nosuch

echo "# protocol errors (raw bytes)"
raw() {
    python3 - "$1" <<'EOF'
import socket, sys
def s(x): b = x.encode(); return bytes([0xa0 | len(b)]) + b
hs = b'\x82' + s('Command') + s('handshake') + s('Seq') + b'\x01' + b'\x81' + s('Version') + b'\x01'
bogus = b'\x82' + s('Command') + s('bogus') + s('Seq') + b'\x02'
out = []
for reqs in ([bogus], [hs, bogus]):
    c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
    c.sendall(b''.join(reqs))
    data = b''
    try:
        while True:
            d = c.recv(4096)
            if not d: break
            data += d
    except socket.timeout:
        data += b'<open>'
    out.append(data)
    c.close()
print(out)
EOF
}
rs=$(raw $R_S1); rcn=$(raw $R_C1)
check "a command before the handshake and an unknown command: same bytes and closes" \
    eval "[ \"\$rs\" = \"\$rcn\" ]"
echo "#   serf: $rs"
echo "#  cairn: $rcn"

echo "# auth"
printf '{"rpc_auth": "sekrit"}\n' >"$D/s2.json"
serf agent -node=s2 -bind=127.0.0.1:$P_S2 -rpc-addr=127.0.0.1:$R_S2 -config-file="$D/s2.json" \
    >"$D/s2.log" 2>&1 &
PIDS+=($!)
"$CAIRN_BIN" agent --node c3 --bind 127.0.0.1:$P_C3 --rpc-addr 127.0.0.1:$R_C3 --rpc-auth sekrit \
    >"$D/c3.log" 2>"$D/c3.err" &
PID_C3=$!
PIDS+=($PID_C3)
wait_for 10 sc members -rpc-addr=127.0.0.1:$R_S2 -rpc-auth=sekrit >/dev/null 2>&1 || fail "s2 did not start"
wait_for 10 sc members -rpc-addr=127.0.0.1:$R_C3 -rpc-auth=sekrit >/dev/null 2>&1 || fail "c3 did not start"
S=-rpc-addr=127.0.0.1:$R_S2
C=-rpc-addr=127.0.0.1:$R_C3
both "members with the right key" status_only members -rpc-auth=sekrit
both "members with a wrong key fails" cat members -rpc-auth=wrong
both "members without a key fails" cat members
both "info with the right key" info_keys info -rpc-auth=sekrit

echo "# leave"
S=-rpc-addr=127.0.0.1:$R_S2
out=$(sc leave $S -rpc-auth=sekrit 2>&1); rs=$?
out2=$(sc leave $C -rpc-auth=sekrit 2>&1); rc=$?
check "leave: exit $rs/$rc, '$out' / '$out2'" eval "[ $rs = $rc ] && [ '$out' = '$out2' ]"
wait_for 10 eval "! kill -0 $PID_C3 2>/dev/null" || true
check "c3 exited after the RPC leave" eval "! kill -0 $PID_C3 2>/dev/null"
wait $PID_C3; rc=$?
check "with status 0 ($rc)" [ $rc = 0 ]
out=$(sc leave -rpc-addr=127.0.0.1:$R_C1 2>&1); rc=$?
check "serf leave against c1: exit $rc, $out" [ $rc = 0 ]
wait_for 10 eval "sc members -rpc-addr=127.0.0.1:$R_S1 -name c1 | grep -q left" || true
check "s1 sees c1 left" eval "sc members -rpc-addr=127.0.0.1:$R_S1 -name c1 | grep -q left"

echo "# $FAILS failure(s)"
[ "$FAILS" = 0 ]
