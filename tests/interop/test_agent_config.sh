#!/usr/bin/env bash
# `cairn agent` configured the serf agent way, with a real Serf 0.9.4 agent
# on 127.0.0.1 (a free block of 10 ports in 21200-21599), in one encrypted
# cluster:
#   - c1 starts from a --config-dir of two files (the second overriding the
#     first, tags merged key by key) and flags overriding both; its
#     retry_join names s1, which starts 2 s later: the retry is exercised
#     and c1 joins; Serf lists c1 with the merged tags;
#   - a bad file exits 2 naming the file and the key;
#   - SIGHUP re-reads the files: the log level drops from warn to info and
#     a second event handler runs; a broken file on reload is logged and
#     the old configuration kept;
#   - `serf keys -install/-use/-remove` on s1 rewrite c1's keyring file; c1
#     restarted from that file (the old key gone) rejoins;
#   - c2 starts with a tags file: Serf lists its tags;
#   - --retry-max: attempts run out, exit 1.
# Every process is stopped by PID in the EXIT trap.
set -u
BUILD=${CAIRN_BINARY_DIR:-$(dirname "$0")/../../build}
CAIRN_BIN=${CAIRN_BIN:-$BUILD/cairn}
command -v serf >/dev/null || { echo "SKIP: serf not installed"; exit 0; }
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }

. "$(dirname "$0")/lib.sh"
interop_init agent-config

B=$(pick_block 21200 40) || { echo "no free port block in 21200-21599"; exit 1; }
P_S1=$B; R_S1=$((B + 1)); P_C1=$((B + 2)); P_C2=$((B + 3))
RPC=-rpc-addr=127.0.0.1:$R_S1
K1=$(serf keygen); K2=$(serf keygen)
serf_status() { serf members $RPC 2>/dev/null | awk -v n="$1" '$1 == n { print $3 }'; }
serf_is() { [ "$(serf_status "$1")" = "$2" ]; }
# serf_tags NODE: its tags as k=v lines, sorted.
serf_tags() {
    serf members $RPC -format=json 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    if m["name"] == sys.argv[1]:
        for k, v in sorted(m["tags"].items()): print(k + "=" + v)' "$1"
}
keyring_is() { # FILE KEY...: the file lists exactly these keys, in order
    python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != sys.argv[2:])' "$@" 2>/dev/null
}

mkdir -p "$D/conf"
printf '["%s"]\n' "$K1" >"$D/keyring.json"
cat >"$D/conf/01-base.json" <<EOF
{"node_name": "not-this-one", "bind": "127.0.0.1:$P_C1", "log_level": "INFO",
 "rpc_addr": "127.0.0.1:$((B + 6))",
 "tags": {"role": "web", "dc": "a"}, "keyring_file": "$D/keyring.json",
 "retry_join": ["127.0.0.1:$P_S1"], "retry_interval": "1s", "retry_max_attempts": 30,
 "event_handlers": ["user:ping=echo one >> $D/h1.out"]}
EOF
cat >"$D/conf/02-override.json" <<EOF
{"tags": {"dc": "b"}, "log_level": "warn"}
EOF

start_c1() {
    "$CAIRN_BIN" agent --config-dir "$D/conf" --node c1 --tag extra=1 --log-json \
        >"$D/$1" 2>"$D/$1.err" &
    PID_C1=$!
    PIDS+=($PID_C1)
}
start_c1 c1.log
sleep 2
serf agent -node=s1 -bind=127.0.0.1:$P_S1 $RPC -encrypt="$K1" >"$D/s1.log" 2>&1 &
PIDS+=($!)
wait_for 10 serf members $RPC >/dev/null 2>&1 || fail "serf s1 did not start"

check "c1 retried its retry_join while s1 was down" grep -q '"event":"join","error":.*"attempt":1,"retry_in"' "$D/c1.log"
check "c1 joins s1 through retry_join (flag --node over node_name)" wait_for 20 serf_is c1 alive
check "c1 serves Serf RPC on the file's rpc_addr" \
    wait_for 10 sh -c "serf members -rpc-addr=127.0.0.1:$((B + 6)) 2>/dev/null | grep -q '^c1 '"
check "Serf lists c1's tags merged: files key by key, then --tag" \
    test "$(serf_tags c1 | tr '\n' ' ')" = "dc=b extra=1 role=web "
check "log level warn from the second file: no info records" \
    sh -c "! grep -q '\"level\":\"info\"' '$D/c1.log'"

# A bad file: exit 2 naming the file and the key (no agent started).
echo '{"retry_interval": "soon"}' >"$D/bad.json"
"$CAIRN_BIN" agent --config-file "$D/bad.json" --bind 127.0.0.1:0 >/dev/null 2>"$D/bad.err"
rc=$?
check "a bad config file exits 2" test $rc = 2
check "the message names the file and the key" \
    grep -q "bad.json: \"retry_interval\": \"soon\" is not a duration" "$D/bad.err"

# SIGHUP: log level info, a second handler appended.
cat >"$D/conf/02-override.json" <<EOF
{"tags": {"dc": "b"}, "log_level": "info",
 "event_handlers": ["user:ping=echo two >> $D/h2.out"]}
EOF
kill -HUP "$PID_C1"
check "SIGHUP reloads: log level info, two handlers" \
    wait_for 5 grep -q '"event":"reload".*"log_level":"info".*"event_handlers":2' "$D/c1.log"
serf event $RPC ping hello >/dev/null
check "the handler from before the reload runs" wait_for 15 grep -qs one "$D/h1.out"
check "the handler added by the reload runs" wait_for 15 grep -qs two "$D/h2.out"
check "info records after the reload" grep -q '"event":"user-event"' "$D/c1.log"
echo '{"log_level": ' >"$D/conf/02-override.json"
kill -HUP "$PID_C1"
check "a broken file on reload is logged, the old configuration kept" \
    wait_for 5 grep -q '"event":"reload","error":".*02-override.json: not JSON' "$D/c1.log"
check "c1 still runs after the failed reload" kill -0 "$PID_C1"
echo '{"tags": {"dc": "b"}}' >"$D/conf/02-override.json"

# Key rotation through Serf: c1's keyring file follows.
serf keys $RPC -install="$K2" >"$D/keys.out" 2>&1
check "install: c1's keyring file holds both keys, K1 primary" \
    wait_for 5 keyring_is "$D/keyring.json" "$K1" "$K2"
serf keys $RPC -use="$K2" >>"$D/keys.out" 2>&1
check "use: K2 first (primary)" wait_for 5 keyring_is "$D/keyring.json" "$K2" "$K1"
serf keys $RPC -remove="$K1" >>"$D/keys.out" 2>&1
check "remove: K2 alone" wait_for 5 keyring_is "$D/keyring.json" "$K2"
check "the keyring file is mode 0600, as Serf writes it" \
    test "$(stat -c %a "$D/keyring.json")" = 600

kill -INT "$PID_C1"
wait "$PID_C1"
check "c1 leaves gracefully (exit 0)" test $? = 0
check "Serf shows c1 left" wait_for 15 serf_is c1 left
start_c1 c1-restart.log
check "c1 restarted from the rewritten keyring file rejoins with K2" \
    wait_for 20 serf_is c1 alive
check "it says so: keyring restored (one key), joined through retry_join" \
    wait_for 10 sh -c "grep -q '\"event\":\"keyring\".*\"keys\":1' '$D/c1-restart.log' &&
        grep -q '\"contacted\":1,\"retry_join\":true' '$D/c1-restart.log'"

# A tags file (no tags config with it, as in Serf).
printf '{"from": "file", "n": "2"}' >"$D/tags.json"
printf '["%s"]' "$K2" >"$D/keyring2.json"
"$CAIRN_BIN" agent --node c2 --bind 127.0.0.1:$P_C2 --rpc-addr 127.0.0.1:$((B + 7)) --tags-file "$D/tags.json" \
    --keyring-file "$D/keyring2.json" --join 127.0.0.1:$P_S1 >"$D/c2.log" 2>&1 &
PID_C2=$!
PIDS+=($PID_C2)
check "c2 joins with the tags from its tags file" \
    wait_for 20 sh -c "test \"\$(serf members $RPC -format=json | python3 -c 'import json,sys; print(sorted([m[\"tags\"] for m in json.load(sys.stdin)[\"members\"] if m[\"name\"] == \"c2\"][0].items()))')\" = \"[('from', 'file'), ('n', '2')]\""
"$CAIRN_BIN" agent --node c3 --bind 127.0.0.1:0 --tags-file "$D/tags.json" --tag x=1 \
    >/dev/null 2>"$D/c3.err"
check "a tags file with --tag exits 2" test $? = 2

# --retry-max: when the attempts run out the agent exits 1, as Serf.
"$CAIRN_BIN" agent --node c4 --bind 127.0.0.1:$((B + 4)) --rpc-addr 127.0.0.1:$((B + 8)) \
    --retry-join 127.0.0.1:$((B + 5)) \
    --retry-interval 1s --retry-max 1 >"$D/c4.log" 2>"$D/c4.err"
check "--retry-max 1: two failed attempts, then exit 1" test $? = 1
check "with Serf's message" grep -q 'maximum retry join attempts made (2)' "$D/c4.err"

[ "$FAILS" -eq 0 ] && echo "all checks passed" || echo "$FAILS check(s) failed"
exit $((FAILS > 0))
