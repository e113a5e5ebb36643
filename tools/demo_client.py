#!/usr/bin/env python3
"""The request loop of `make demo`: one request every ~100 ms through the
client agent's proxy, each on a new connection ("req N\\n", one line back
naming the server that answered), and kill -9 of the routed dc2 server
(its agent and its echo service) KILL_AT seconds in.

    demo_client.py PROXY_PORT VICTIM KILL_AT AFTER PID...

Prints one line per second of outcomes (the answering server's name,
or ERR:reason), then the failover time: from the kill until the first
request answered by another server. After the kill it sends nothing until
the killed processes have exited (a few ms: until then the dying echo's
listener still accepts connections, which then die with it). Exit 0 when requests went to VICTIM
before the kill and every request started after the failover succeeded;
1 otherwise (with the reason). With $DEMO_KILL_FILE set, the kill's wall
clock time (seconds since the epoch) is written there. Standard library
only.
"""
import os
import signal
import socket
import sys
import time

port, victim, kill_at, after = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
pids = [int(p) for p in sys.argv[5:]]


def gone(pid):
    """The process has exited (its sockets are closed): no such process, or
    a zombie not reaped yet."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def request(n):
    """One request: (ok, server name or error reason, ms)."""
    t = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"req %d\n" % n)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    return False, "eof", (time.monotonic() - t) * 1000
                buf += chunk
        name, _, rest = buf.decode().partition(" ")
        if rest.strip() != "req %d" % n:
            return False, "garbled", (time.monotonic() - t) * 1000
        return True, name, (time.monotonic() - t) * 1000
    except OSError as e:
        return False, type(e).__name__, (time.monotonic() - t) * 1000


t0 = time.monotonic()
killed = None       # monotonic time of the kill
failover = None     # completion time of the first answer from another server
failed_after = []   # requests started after the failover that failed
before_victim = 0
line, line_start = [], 0
n = 0
while True:
    now = time.monotonic() - t0
    if killed is None and now >= kill_at:
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed = time.monotonic()
        if os.environ.get("DEMO_KILL_FILE"):
            with open(os.environ["DEMO_KILL_FILE"], "w") as f:
                f.write("%.3f\n" % time.time())
        # kill -9 is not instant: until the processes have exited, the
        # dying echo's listener still accepts (and the connection then
        # dies with it). Wait for that (at most 2 s) before the next request.
        while time.monotonic() - killed < 2 and not all(gone(p) for p in pids):
            time.sleep(0.001)
        line.append("|kill -9 %s: exited in %.0f ms|" % (victim, (time.monotonic() - killed) * 1000))
    if killed is not None and time.monotonic() - killed >= after:
        break
    n += 1
    start = time.monotonic()
    ok, who, ms = request(n)
    end = time.monotonic()
    if ok and killed is None and who == victim:
        before_victim += 1
    if killed is not None and failover is not None and start > failover and not ok:
        failed_after.append("req %d: %s" % (n, who))
    if ok and killed is not None and failover is None and who != victim:
        failover = end
    line.append(who if ok else "ERR:" + who)
    if end - t0 >= line_start + 1:
        print("  [%4.1f s] %s" % (line_start, " ".join(line)), flush=True)
        line, line_start = [], int(end - t0)
    time.sleep(max(0.0, 0.1 - (time.monotonic() - start)))
if line:
    print("  [%4.1f s] %s" % (line_start, " ".join(line)), flush=True)

print("requests: %d in all" % n)
if before_victim == 0:
    print("demo: FAIL: no request reached %s before the kill" % victim)
    sys.exit(1)
if failover is None:
    print("demo: FAIL: no request reached another server after the kill")
    sys.exit(1)
print("failover time: %.0f ms (from kill -9 of %s until a request was answered by another dc2 server)"
      % ((failover - killed) * 1000, victim))
if failed_after:
    print("demo: FAIL: requests failed after the failover: " + ", ".join(failed_after))
    sys.exit(1)
print("every request after the failover succeeded")
