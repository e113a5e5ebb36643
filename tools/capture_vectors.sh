#!/bin/sh
# capture_vectors.sh: record real serf 0.9.4 gossip on loopback as test vectors.
#
# Runs three `serf agent` processes (a, b, c) on 127.0.0.1 ports 18000-18099,
# joins them, fires a user event, a query and `serf keys -list`, then makes b
# leave gracefully and kills c with SIGKILL, while tcpdump records lo. The
# capture is split into one file per UDP payload and one file per TCP stream
# direction under tests/vectors/<run>/ by tools/split_pcap.py.
#
# Runs: plain (compression on, the agent default), nocomp
# (-disable-compression), encrypt (-encrypt with the fixed test key below).
# Usage: tools/capture_vectors.sh [outdir]   (needs root for tcpdump)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../tests/vectors}
# Fixed, public test key (base64 of bytes 0x00..0x1f). Never use it for real.
KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
WORK=$(mktemp -d /tmp/cairn-vectors.XXXXXX)
PIDS=""

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}
trap 'cleanup; rm -rf "$WORK"' EXIT INT TERM

# run NAME BASEPORT EXTRA_FLAGS...
run() {
    name=$1; base=$2; shift 2
    gp_a=$base; gp_b=$((base + 1)); gp_c=$((base + 2))
    rp_a=$((base + 10)); rp_b=$((base + 11)); rp_c=$((base + 12))
    pcap=$WORK/$name.pcap
    tcpdump -i lo -U -s 0 -w "$pcap" \
        "host 127.0.0.1 and (portrange $gp_a-$gp_c)" 2>"$WORK/$name.tcpdump.log" &
    tpid=$!
    PIDS="$PIDS $tpid"
    sleep 1
    serf agent -node=a -bind=127.0.0.1:$gp_a -rpc-addr=127.0.0.1:$rp_a \
        -tag role=web -tag dc=lab "$@" >"$WORK/$name.a.log" 2>&1 &
    pa=$!
    serf agent -node=b -bind=127.0.0.1:$gp_b -rpc-addr=127.0.0.1:$rp_b \
        -tag role=db -tag dc=lab "$@" >"$WORK/$name.b.log" 2>&1 &
    pb=$!
    serf agent -node=c -bind=127.0.0.1:$gp_c -rpc-addr=127.0.0.1:$rp_c \
        -tag role=cache "$@" >"$WORK/$name.c.log" 2>&1 &
    pc=$!
    PIDS="$PIDS $pa $pb $pc"
    sleep 1
    serf join -rpc-addr=127.0.0.1:$rp_b 127.0.0.1:$gp_a >/dev/null
    serf join -rpc-addr=127.0.0.1:$rp_c 127.0.0.1:$gp_a >/dev/null
    sleep 3
    serf event -rpc-addr=127.0.0.1:$rp_a deploy v1 >/dev/null
    serf event -rpc-addr=127.0.0.1:$rp_b -coalesce=false hello world >/dev/null
    serf query -rpc-addr=127.0.0.1:$rp_a -timeout=1s uptime ping >/dev/null || true
    serf query -rpc-addr=127.0.0.1:$rp_a -timeout=1s -node=b -tag role=db who >/dev/null || true
    if [ -n "${ENCRYPTED:-}" ]; then
        serf keys -rpc-addr=127.0.0.1:$rp_a -list >/dev/null || true
    fi
    sleep 2
    serf leave -rpc-addr=127.0.0.1:$rp_b >/dev/null || true
    kill -9 "$pc"
    sleep 8
    kill -TERM "$pa" 2>/dev/null || true
    wait "$pa" 2>/dev/null || true
    wait "$pb" 2>/dev/null || true
    wait "$pc" 2>/dev/null || true
    sleep 1
    kill -TERM "$tpid"
    wait "$tpid" 2>/dev/null || true
    PIDS=""
    rm -rf "${OUT:?}/$name"
    mkdir -p "$OUT/$name"
    python3 "$HERE/split_pcap.py" "$pcap" "$OUT/$name" \
        "a=$gp_a,b=$gp_b,c=$gp_c" ${KEYNOTE:+"$KEYNOTE"}
}

run plain 18000
run nocomp 18020 -disable-compression
ENCRYPTED=1 KEYNOTE="key=$KEY" run encrypt 18040 -encrypt=$KEY
echo "vectors written under $OUT"
