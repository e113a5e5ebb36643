#!/usr/bin/env bash
# Issue 8 against the real `cairn agent` binary on 127.0.0.1:
#
#   1. --join to a peer that accepts and never answers: exit 1 after
#      memberlist's TCP timeout (10 s) with a clear error (it hung before);
#   2. --join to a peer that closes at once: "peer closed the connection",
#      not "malformed message";
#   3. the stream flood of the issue (60 connections announcing 20 MB user
#      messages, 2 MB sent on each): peak RSS of the agent stays bounded
#      (1.25 GB before the caps) and the flood is released;
#   4. the hostile corpus (fuzz/corpus/packet, memberlist_stream) replayed
#      against a running agent five times while a second agent gossips with
#      it: both stay alive to each other, the bad input is counted, and the
#      log stays short.
#
# Every process is stopped by PID in the EXIT trap.
set -u
CAIRN_BIN=${CAIRN_BIN:-$(dirname "$0")/../../build/cairn}
SRC=${CAIRN_SOURCE_DIR:-$(dirname "$0")/../..}
[ -x "$CAIRN_BIN" ] || { echo "cairn binary not found at $CAIRN_BIN"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 0; }

. "$(dirname "$0")/lib.sh"
interop_init hostile
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

B=$(pick_block 19800 20) || { echo "no free port block"; exit 1; }
P_PEER=$B; P_J=$((B + 1)); P_C1=$((B + 2)); P_C2=$((B + 3))

# peer MODE PORT SECONDS: a TCP peer that holds (silent) or closes (close)
# every connection; prints "ready" once listening.
peer() {
    python3 - "$@" <<'EOF' &
import socket, sys, time
mode, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16); s.settimeout(0.2)
print("ready", flush=True)
held, end = [], time.time() + secs
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    if mode == "close":
        # Read what the joiner sent first: closing with unread bytes would
        # make the kernel answer with a reset instead of a FIN.
        c.settimeout(0.5)
        try:
            while c.recv(65536):
                pass
        except socket.timeout:
            pass
        c.close()
    else:
        held.append(c)
EOF
    PIDS+=($!)
}

wait_port() {
    local i
    for i in $(seq 50); do
        [ -n "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

echo "# 1. join a silent peer"
peer silent $P_PEER 30 >/dev/null
wait_port $P_PEER || fail "silent peer did not listen"
t0=$(now)
timeout 60 "$CAIRN_BIN" agent --node j --bind 127.0.0.1:$P_J --rpc-addr 127.0.0.1:$((B + 4)) --join 127.0.0.1:$P_PEER \
    >"$D/j1.log" 2>"$D/j1.err"
rc=$?
took=$(sub "$(now)" "$t0")
echo "# silent join: exit $rc after $took s: $(tail -1 "$D/j1.err")"
[ $rc = 1 ] && ok "silent join exits 1" || fail "silent join exit status $rc"
awk -v t="$took" 'BEGIN { exit !(t >= 9.5 && t < 13) }' && ok "after the 10 s TCP timeout ($took s)" ||
    fail "silent join took $took s"
grep -q "timed out (push/pull: no complete reply within the TCP timeout (10.0 s) from=127.0.0.1:$P_PEER)" \
    "$D/j1.err" && ok "clear error" || fail "error text: $(cat "$D/j1.err")"
kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null

echo "# 2. join a peer that closes at once"
peer close $P_PEER 30 >/dev/null
wait_port $P_PEER || fail "closing peer did not listen"
timeout 30 "$CAIRN_BIN" agent --node j --bind 127.0.0.1:$P_J --rpc-addr 127.0.0.1:$((B + 4)) --join 127.0.0.1:$P_PEER \
    >"$D/j2.log" 2>"$D/j2.err"
rc=$?
[ $rc = 1 ] && ok "closing peer: exit 1" || fail "closing peer: exit status $rc"
grep -q "peer closed the connection without replying from=127.0.0.1:$P_PEER" "$D/j2.err" &&
    ! grep -q malformed "$D/j2.err" "$D/j2.log" && ok "reported as a close" ||
    fail "closing peer reported as: $(cat "$D/j2.err")"
kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null

echo "# 3. the stream flood"
"$CAIRN_BIN" agent --node c1 --bind 127.0.0.1:$P_C1 --rpc-addr 127.0.0.1:$((B + 5)) --stats-on-exit >"$D/c1.log" 2>"$D/c1.err" &
C1=$!; PIDS+=($C1)
wait_port $P_C1 || fail "c1 did not start"
"$CAIRN_BIN" agent --node c2 --bind 127.0.0.1:$P_C2 --rpc-addr 127.0.0.1:$((B + 6)) --join 127.0.0.1:$P_C1 >"$D/c2.log" 2>"$D/c2.err" &
C2=$!; PIDS+=($C2)
wait_port $P_C2 || fail "c2 did not start"
sleep 1
rss0=$(awk '/VmHWM/ { print $2 }' /proc/$C1/status)
python3 - $P_C1 <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
# 08 {"UserMsgLen": 20,000,000}
hdr = b"\x08\x81\xaaUserMsgLen\xce" + struct.pack(">I", 20_000_000)
conns = []
for _ in range(60):
    c = socket.create_connection(("127.0.0.1", port)); c.setblocking(False)
    conns.append([c, hdr + b"u" * (2 << 20)])
# Within the agent's 10 s stream deadline (counted from accept).
end = time.time() + 9
while time.time() < end and any(b for _, b in conns):
    moved = 0
    for cb in conns:
        if not cb[1]:
            continue
        try:
            n = cb[0].send(cb[1][:1 << 20]); cb[1] = cb[1][n:]; moved += n
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            cb[1] = b""  # closed by the agent: refused
    if not moved:
        time.sleep(0.001)
left = sum(len(b) for _, b in conns)
print(f"# flood: {60 * (2 << 20) - left} bytes delivered")
EOF
# The agent may still be reading what the kernel buffered for it.
for i in $(seq 150); do grep -q "stream buffers full" "$D/c1.log" && break; sleep 0.1; done
grep -q "stream buffers full" "$D/c1.log" && ok "buffer cap warned" || fail "no buffer cap warning"
rss1=$(awk '/VmHWM/ { print $2 }' /proc/$C1/status)
echo "# stream flood: agent peak RSS ${rss0} kB before, ${rss1} kB after (60 x 2 MB offered)"
[ "$rss1" -lt 300000 ] && ok "peak RSS under the flood ${rss1} kB < 300 MB" ||
    fail "peak RSS under the flood ${rss1} kB"

echo "# 4. replay the hostile corpus"
lines0=$(wc -l <"$D/c1.log")
python3 - $P_C1 "$SRC/fuzz/corpus" <<'EOF'
import os, socket, sys, time
port, root = int(sys.argv[1]), sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def files(t):
    d = os.path.join(root, t)
    return [open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))]
pk, ml, st = files("packet"), files("memberlist"), files("memberlist_stream")
held = []
for data in st:
    if len(data) > 1 and not data[0] & 1:
        c = socket.create_connection(("127.0.0.1", port))
        try:
            c.sendall(data[1:])
        except OSError:
            pass
        held.append(c)
sent = 0
for rnd in range(5):
    for data in pk:
        if 1 < len(data) <= 65508:
            u.sendto(data[1:], ("127.0.0.1", port)); sent += 1
    for data in ml:
        p = 0
        while p + 3 <= len(data):
            n = data[p + 1] << 8 | data[p + 2]
            if p + 3 + n > len(data):
                break
            if n:
                u.sendto(data[p + 3:p + 3 + n], ("127.0.0.1", port)); sent += 1
            p += 3 + n
    time.sleep(1)
print(f"# sent {sent} datagrams and {len(held)} streams")
EOF
sleep 2
kill -0 $C1 2>/dev/null && ok "c1 survived" || fail "c1 died"
# c2's SIGUSR1 listing (the lines it writes from now on; other records
# may follow it, so not just the log's last lines).
n0=$(lines "$D/c2.log")
kill -USR1 $C2; sleep 0.5
tail -n +$((n0 + 1)) "$D/c2.log" | grep -q "member: c1 127.0.0.1:$P_C1 alive" && ok "c2 lists c1 alive" ||
    { grep "c1" "$D/c2.log" | tail -3; fail "c2 does not list c1 alive"; }
lines=$(($(wc -l <"$D/c1.log") - lines0))
echo "# c1 wrote $lines log lines during the replay"
[ "$lines" -lt 100 ] && ok "log stays short ($lines lines)" || fail "c1 wrote $lines lines"
kill -INT $C1
for i in $(seq 50); do kill -0 $C1 2>/dev/null || break; sleep 0.1; done
dropped=$(grep -o 'rx_dropped[=":]*[0-9]*' "$D/c1.log" | tail -1 | grep -o '[0-9]*$')
echo "# c1 rx_dropped=$dropped"
[ "${dropped:-0}" -gt 0 ] && ok "bad packets counted ($dropped)" || fail "rx_dropped not counted"

[ "$FAILS" -eq 0 ] && echo "PASS" || echo "FAILED: $FAILS"
exit $((FAILS > 0))
