#!/bin/sh
# `cairn wire decode` on captured serf vectors and spec hex: JSON layer by
# layer, exit 1 with a reason for undecodable input, exit 2 for bad usage.
# Needs no running agent (only the committed vectors under tests/vectors).
set -eu
BIN=${CAIRN_BIN:?}
SRC=${CAIRN_SOURCE_DIR:?}
V=$SRC/tests/vectors
KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

# Spec §2.3 ping (run2 capture): fields decoded.
"$BIN" wire decode 0085a44e6f6465a161a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a162aa536f75726365506f7274cd1f0b |
    json "b=d['layers'][0]['body']; assert d['layers'][0]['type']=='ping'; assert b=={'Node':'a','SeqNo':1,'SourceAddr':'127.0.0.1','SourceNode':'b','SourcePort':7947}, b" ||
    fail "spec ping"

# CRC + compound of two alives with tags (spec §2.3).
"$BIN" wire decode "0c4643c5ae0702004400430486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461abff81a4726f6c65a3776562a44e6f6465a161a4506f7274cd1f0aa356736ea60105020205050486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461aaff81a4726f6c65a26462a44e6f6465a162a4506f7274cd1f0ba356736ea6010502020505" |
    json "L=d['layers']; assert L[0]['layer']=='crc' and L[0]['ok']; assert L[1]['count']==2; assert L[1]['parts'][1][0]['body']['Meta']['tags']=={'role':'db'}" ||
    fail "spec alive compound"

# Every captured packet of every run decodes (encrypted run with the key).
for run in nocomp plain encrypt; do
    k=""
    [ $run = encrypt ] && k="--key $KEY"
    n=0
    for f in "$V/$run"/udp-*.bin; do
        # shellcheck disable=SC2086
        "$BIN" wire decode $k - <"$f" >/dev/null || fail "$f"
        n=$((n + 1))
    done
    for f in "$V/$run"/tcp-*.bin; do
        # shellcheck disable=SC2086
        "$BIN" wire decode $k --stream - <"$f" |
            json "L=d['layers']; m=L[-1]; assert m['type']=='push-pull', m; assert m['user_state']['type']=='push-pull'" ||
            fail "$f"
        n=$((n + 1))
    done
    echo "# $run: $n inputs decoded"
done

# The encrypted run without the key cannot be decoded: exit 1, reason given.
f=$(ls "$V"/encrypt/tcp-*.bin | head -1)
set +e
"$BIN" wire decode --stream - <"$f" >/dev/null 2>/tmp/cairn-wire-decode.$$
rc=$?
set -e
[ $rc -eq 1 ] || fail "encrypted stream without key: rc $rc"
grep -q "give --key" /tmp/cairn-wire-decode.$$ || fail "no reason printed"
rm -f /tmp/cairn-wire-decode.$$

# Bad CRC and a short Vsn (#368): exit 1 naming the layer/field.
set +e
out=$("$BIN" wire decode 0c00000000ff 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "crc: mismatch" || fail "bad crc: $rc $out"
out=$("$BIN" wire decode 0482a44e6f6465a161a356736ea3010502 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "alive: Vsn is 3 bytes" || fail "short vsn: $rc $out"
# Usage errors: exit 2.
"$BIN" wire decode --bogus 00 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad flag"
"$BIN" wire decode xyz >/dev/null 2>&1; [ $? -eq 2 ] || fail "not hex"
"$BIN" wire decode --key notbase64 00 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad key"
"$BIN" nosuchcommand >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command"
set -e
echo "ok"
