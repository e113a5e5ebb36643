#!/usr/bin/env bash
# `cairn` has the serf CLI's commands: each one is run as `cairn CMD ARGS`
# and as `serf CMD ARGS` (the same words: cairn takes Serf's -flag=value
# spelling) against the same real Serf 0.9.4 agents, and the two must agree:
# same exit status, same meaning (names, statuses, tags, counts, query
# acks and responses, key lists, per-node key failures, error sentences).
#
# Agents on 127.0.0.1 (a random block of 19800-19999):
#   a, b  one cluster, gossip encrypted with K1; b answers query "echo";
#   c     alone, unencrypted, with an RPC auth key (rpc_auth in its config);
#   d     joins a and b, then is killed (force-leave).
#   e     a cairn agent that joins a and b after the key rotation.
# compare_commands RPC (below) is the agent-independent part: it only needs
# an RPC address of a cluster with at least two live members; it runs
# against Serf agent a and again against cairn agent e's RPC server.
set -u
CAIRN=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}/cairn
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$CAIRN" ] || { echo "cairn not found at $CAIRN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init cli-serf

# both CMD ARGS...: runs cairn and serf with the same arguments; outputs in
# $D/{c,s}.{out,err}, exit statuses in CRC and SRC.
both() {
    "$CAIRN" "$@" >"$D/c.out" 2>"$D/c.err" </dev/null
    CRC=$?
    timeout 60 serf "$@" >"$D/s.out" 2>"$D/s.err" </dev/null
    SRC=$?
}
same_rc() { [ "$CRC" = "$SRC" ] || { echo "  exit status: cairn $CRC, serf $SRC"; return 1; }; }
# norm FILE: lines with runs of blanks squeezed, tag lists sorted, sorted
# (Go prints maps in random order).
norm() {
    sed -e 's/[[:space:]]\+/ /g' -e 's/ $//' "$1" | awk '{
        if (NF >= 4 && $4 ~ /=/) { n = split($4, t, ","); s = "";
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
            for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") t[i]; $4 = s }
        print }' | sort
}
same_out() { diff <(norm "$D/c.out") <(norm "$D/s.out") >"$D/diff" || { sed 's/^/  /' "$D/diff"; return 1; }; }
# serf prints its errors on stdout, cairn on stderr: messages are compared
# over both streams. same_err: the same lines; same_err_prefix: the same
# lines up to their first ':' (transport failures, which cairn words
# differently: "cannot reach serf agent at A: connection refused").
# cairn's own hints ("cairn: pass --rpc-auth KEY") are left out.
all_out() { cat "$D/$1.out" "$D/$1.err" | grep -v '^cairn: ' >"$D/$1.all"; norm "$D/$1.all"; }
same_err() { diff <(all_out c) <(all_out s) >"$D/diff" || { sed 's/^/  /' "$D/diff"; return 1; }; }
same_err_prefix() {
    diff <(all_out c | cut -d: -f1) <(all_out s | cut -d: -f1) >"$D/diff" || { sed 's/^/  /' "$D/diff"; return 1; }
}
same() { same_rc && same_out; }
# agree WHAT CMD ARGS...: same exit status and the same output.
agree() { local what=$1; shift; both "$@"; check "$what" same; }
# agree_fail WHAT CMD ARGS...: both fail (exit 1) with the same message;
# agree_fail_prefix: the same message up to its first ':'.
agree_fail() {
    local what=$1; shift; both "$@"
    check "$what" sh -c "[ $CRC = 1 ] && [ $SRC = 1 ]" && check "$what: same message" same_err
}
agree_fail_prefix() {
    local what=$1; shift; both "$@"
    check "$what" sh -c "[ $CRC = 1 ] && [ $SRC = 1 ]" && check "$what: same message" same_err_prefix
}

# compare_commands RPC: every read-mostly command against one agent.
compare_commands() {
    local R=-rpc-addr=$1
    local self other
    self=$(serf info "$R" | awk '$1 == "name" { print $3; exit }')
    other=$(serf members "$R" -status=alive | awk -v s="$self" '$1 != s { print $1; exit }')

    agree "members" members "$R"
    agree "members -detailed" members "$R" -detailed
    agree "members -status=alive -name=$other" members "$R" -status=alive -name="$other"
    agree "members -tag role=.*" members "$R" -tag 'role=.*'
    agree "members -role=nomatch (deprecation line)" members "$R" -role=nomatch
    agree_fail_prefix "members -name=[ (bad regexp: the agent hangs up)" members "$R" -name='['
    both members "$R" -format=json
    check "members -format=json: same names, statuses, tags, ports" sh -c "[ $CRC = $SRC ] && python3 -c '
import json, sys
c = {m[\"name\"]: (m[\"status\"], m[\"tags\"], m[\"port\"]) for m in json.load(open(sys.argv[1]))}
s = {m[\"name\"]: (m[\"status\"], m[\"tags\"], m[\"port\"]) for m in json.load(open(sys.argv[2]))[\"members\"]}
sys.exit(0 if c == s else 1)' '$D/c.out' '$D/s.out'"

    both info "$R"
    check "info: same sections and agent name" bash -c \
        "[ $CRC = $SRC ] && diff <(grep -E '^[a-z_]+:\$|^.name = ' '$D/c.out') <(grep -E '^[a-z_]+:\$|^.name = ' '$D/s.out')"
    both info "$R" -format=json
    check "info -format=json: same keys" sh -c "[ $CRC = $SRC ] && python3 -c '
import json, sys
c, s = (json.load(open(sys.argv[i])) for i in (1, 2))
sys.exit(0 if {k: sorted(v) for k, v in c.items()} == {k: sorted(v) for k, v in s.items()} else 1)' '$D/c.out' '$D/s.out'"

    wait_for 30 serf rtt "$R" "$self" "$other" >/dev/null 2>&1
    both rtt "$R" "$self" "$other"
    check "rtt $self $other: both answer" sh -c "[ $CRC = 0 ] && [ $SRC = 0 ]"
    check "rtt: the same estimate (within 2 ms: coordinates move)" awk -v c="$(awk '{ print $(NF-1) }' "$D/c.out")" \
        -v s="$(awk '{ print $(NF-1) }' "$D/s.out")" 'BEGIN { d = c - s; exit !(c > 0 && s > 0 && d < 2 && d > -2) }'
    both rtt "$R" "$other"
    check "rtt $other (against the agent's own node)" bash -c \
        "[ $CRC = 0 ] && [ $SRC = 0 ] && diff <(cut -d: -f1 '$D/c.out') <(cut -d: -f1 '$D/s.out')"
    agree_fail "rtt of an unknown node" rtt "$R" nosuchnode

    agree "event deploy v1" event "$R" deploy v1
    agree "event -coalesce=false hello" event "$R" -coalesce=false hello
    agree_fail "event over the size limit" event "$R" big "$(head -c 600 /dev/zero | tr '\0' x)"

    agree "query -timeout=500ms echo hi (acks, responses, counts)" query "$R" -timeout=500ms echo hi
    agree "query -no-ack -node=$other" query "$R" -timeout=500ms -no-ack -node="$other" echo hi
    agree "query -tag role=nomatch (nobody)" query "$R" -timeout=500ms -tag role=nomatch echo hi
    agree "query -relay-factor=1" query "$R" -timeout=500ms -relay-factor=1 echo hi
    both query "$R" -timeout=500ms -format=json echo hi
    check "query -format=json: same acks and responses" sh -c "[ $CRC = $SRC ] && python3 -c '
import json, sys
c, s = (json.load(open(sys.argv[i])) for i in (1, 2))
sys.exit(0 if sorted(c[\"Acks\"] or []) == sorted(s[\"Acks\"] or []) and c[\"Responses\"] == s[\"Responses\"] else 1)' '$D/c.out' '$D/s.out'"
    agree_fail "query named _serf_x" query "$R" _serf_x

    agree "reachability" reachability "$R"
    "$CAIRN" reachability "$R" -verbose >"$D/c.out" 2>&1
    CRC=$?
    grep -o "Ack from '.*'" "$D/c.out" | sort >"$D/c.acks"
    serf members "$R" -status=alive | awk '{ printf "Ack from '\''%s'\''\n", $1 }' | sort >"$D/s.acks"
    check "reachability -verbose: an ack from every live member" sh -c "[ $CRC = 0 ] && diff '$D/c.acks' '$D/s.acks'"

    agree "tags -set cli=1 -set x=2" tags "$R" -set cli=1 -set x=2
    agree "members after tags -set" members "$R" -name="$self"
    agree "tags -delete x" tags "$R" -delete x
    check "the tag is gone" sh -c "serf members $R -name=$self | grep -q 'cli=1' && ! serf members $R -name=$self | grep -q 'x=2'"

    agree_fail "monitor -log-level=bogus" monitor "$R" -log-level=bogus
    "$CAIRN" monitor "$R" -log-level=debug >"$D/cmon.out" 2>&1 &
    local cm=$!
    serf monitor "$R" -log-level=debug >"$D/smon.out" 2>&1 &
    local sm=$!
    PIDS+=($cm $sm)
    sleep 0.5
    serf event "$R" mon1 payload >/dev/null
    wait_for 10 grep -q 'user-event: mon1' "$D/cmon.out"
    wait_for 10 grep -q 'user-event: mon1' "$D/smon.out"
    kill -INT $cm $sm
    wait $cm; local cmrc=$?
    wait $sm; local smrc=$?
    check "monitor: both stream the event's log line" sh -c \
        "grep -q 'user-event: mon1' '$D/cmon.out' && grep -q 'user-event: mon1' '$D/smon.out'"
    check "monitor: both show the event record" sh -c \
        "grep -q 'Event Info:' '$D/cmon.out' && grep -q 'Event Info:' '$D/smon.out'"
    check "monitor: Ctrl-C exits $smrc like serf" [ "$cmrc" = "$smrc" ]
}

K1=$(printf '%032d' 1 | base64)
K2=$(printf '%032d' 2 | base64)
P=$(pick_block 19800 20) || { echo "no free port block"; exit 1; }
RA=127.0.0.1:$((P + 1)) RB=127.0.0.1:$((P + 3)) RC=127.0.0.1:$((P + 5)) RD=127.0.0.1:$((P + 7))
echo '{"rpc_auth": "sekrit"}' >"$D/c.json"
serf agent -node=a -bind=127.0.0.1:$P -rpc-addr=$RA -tag role=web -encrypt="$K1" >"$D/a.log" 2>&1 &
PIDS+=($!)
serf agent -node=b -bind=127.0.0.1:$((P + 2)) -rpc-addr=$RB -tag role=db -encrypt="$K1" \
    -event-handler 'query:echo=echo answer' >"$D/b.log" 2>&1 &
PIDS+=($!)
serf agent -node=c -bind=127.0.0.1:$((P + 4)) -rpc-addr=$RC -config-file="$D/c.json" >"$D/c.log" 2>&1 &
PIDS+=($!)
serf agent -node=d -bind=127.0.0.1:$((P + 6)) -rpc-addr=$RD -encrypt="$K1" >"$D/d.log" 2>&1 &
DPID=$!
PIDS+=($DPID)
wait_for 10 serf members -rpc-addr=$RA >/dev/null 2>&1 || fail "serf a did not start"
wait_for 10 serf members -rpc-addr=$RD >/dev/null 2>&1 || fail "serf d did not start"

agree "join a to b" join -rpc-addr=$RA 127.0.0.1:$((P + 2))
agree "join -replay" join -rpc-addr=$RA -replay 127.0.0.1:$((P + 2))
agree_fail "join to a closed port" join -rpc-addr=$RA 127.0.0.1:1
serf join -rpc-addr=$RD 127.0.0.1:$P >/dev/null
wait_for 10 sh -c "[ \$(serf members -rpc-addr=$RA -status=alive | wc -l) = 3 ]" || fail "a b d did not converge"

compare_commands "$RA"

# Environment: SERF_RPC_ADDR and SERF_RPC_AUTH, as serf honours them.
SERF_RPC_ADDR=$RA agree "SERF_RPC_ADDR" members
SERF_RPC_ADDR=$RC agree_fail "RPC auth required (no key)" members
SERF_RPC_ADDR=$RC SERF_RPC_AUTH=sekrit agree "SERF_RPC_AUTH" members
agree "-rpc-auth=sekrit" members -rpc-addr=$RC -rpc-auth=sekrit
agree_fail_prefix "-rpc-auth=wrong" members -rpc-addr=$RC -rpc-auth=wrong
both members -rpc-addr=127.0.0.1:1
check "agent unreachable: both exit 1" sh -c "[ $CRC = 1 ] && [ $SRC = 1 ]"
check "agent unreachable: same message" same_err_prefix

# Keys: every step is run by cairn first, then by serf on the state cairn
# left (install and use are idempotent; removing an absent key succeeds).
agree "keys -list" keys -rpc-addr=$RA -list
agree "keys -install K2" keys -rpc-addr=$RA -install "$K2"
agree "keys -list: two keys on three nodes" keys -rpc-addr=$RA -list
check "keys -list shows [3/3] twice" sh -c "[ \$(grep -c '\[3/3\]' '$D/c.out') = 2 ]"
agree "keys -use K2" keys -rpc-addr=$RA -use "$K2"
agree "keys -remove K1" keys -rpc-addr=$RA -remove "$K1"
agree_fail "keys -remove the primary (per-node failures)" keys -rpc-addr=$RA -remove "$K2"
check "the failures name every node" sh -c "[ \$(grep -c '^failed:' '$D/c.err') = 3 ]"
agree_fail "keys -install bad base64" keys -rpc-addr=$RA -install 'bad!'
SERF_RPC_AUTH=sekrit agree_fail "keys -list without encryption" keys -rpc-addr=$RC -list
both keygen
check "keygen: 32 random bytes in base64" sh -c \
    "[ $CRC = 0 ] && [ \$(base64 -d '$D/c.out' | wc -c) = 32 ] && [ \$(base64 -d '$D/s.out' | wc -c) = 32 ]"

# force-leave: d is killed; it fails, is forced to left, then pruned.
kill -9 "$DPID"
wait_for 30 sh -c "serf members -rpc-addr=$RA -name=d | grep -q failed" || fail "d never failed"
agree "force-leave of an unknown node" force-leave -rpc-addr=$RA nosuchnode
"$CAIRN" force-leave -rpc-addr=$RA d
check "cairn force-leave d: exit 0" [ $? = 0 ]
check "d is left" wait_for 10 sh -c "serf members -rpc-addr=$RA -name=d | grep -q left"
"$CAIRN" force-leave -rpc-addr=$RA -prune d
check "cairn force-leave -prune d: exit 0" [ $? = 0 ]
check "d is pruned" wait_for 10 sh -c "! serf members -rpc-addr=$RA | grep -q '^d '"

# The same commands against a cairn agent's RPC server: the cairn CLI (and
# the serf CLI) drive a Serf agent or a cairn agent alike.
RE=127.0.0.1:$((P + 9))
"$CAIRN" agent --node e --bind 127.0.0.1:$((P + 8)) --rpc-addr $RE --encrypt "$K2" \
    --tag role=cairn --join 127.0.0.1:$P >"$D/e.log" 2>&1 &
PIDS+=($!)
check "cairn agent e joins a and b" \
    wait_for 30 sh -c "[ \$(serf members -rpc-addr=$RE -status=alive 2>/dev/null | wc -l) = 3 ]"
compare_commands "$RE"

# Usage errors: cairn exits 2 (serf 1), naming the flag.
"$CAIRN" members -rpc-addr=$RA -nosuchflag >/dev/null 2>"$D/c.err"
check "bad flag: exit 2 naming it" sh -c "[ $? = 2 ] && grep -q nosuchflag '$D/c.err'"
"$CAIRN" query -rpc-addr=$RA -timeout=soon x >/dev/null 2>"$D/c.err"
check "bad duration: exit 2" sh -c "[ $? = 2 ] && grep -q -- --timeout '$D/c.err'"

# leave: cairn on b, serf on c (each agent leaves once).
SERF_RPC_AUTH=sekrit timeout 60 serf leave -rpc-addr=$RC >"$D/s.out" 2>"$D/s.err" &
SL=$!
"$CAIRN" leave -rpc-addr=$RB >"$D/c.out" 2>"$D/c.err"
CRC=$?
wait $SL
SRC=$?
check "leave: same output" same
check "b is left" wait_for 10 sh -c "serf members -rpc-addr=$RA -name=b | grep -q left"
agree_fail_prefix "leave of a gone agent" leave -rpc-addr=$RB

echo "$FAILS failures"
[ "$FAILS" -eq 0 ]
