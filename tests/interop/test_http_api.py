#!/usr/bin/python3
"""Interop: Consul's HTTP API of `cairn agent` under the real python3-consul client.

A real `serf agent` (s1) and two cairn agents (c1 with the API under test,
c2 a peer) on 127.0.0.1, ports from one free block. Checked:

  * python-consul's catalog.datacenters(), coordinate.datacenters(),
    coordinate.nodes() (index from X-Consul-Index; a blocking call with
    a future index returns after its wait, one with the current index as
    soon as a coordinate moves), agent.members(), agent.self(),
    agent.join() (c1 joins c2 through the API; GET, as python-consul sends
    it) and agent.force_leave() (c2 killed, failed, then left, also in
    `serf members`);
  * bad requests: unknown path 404 with an empty body, bad method 405 with
    Allow, bad blocking parameters 400, huge headers 431, the connection
    cap (the 530th connection waits until others close), and a slowloris
    client (one header byte every 0.5 s) cut off by the header deadline
    while another client keeps being served promptly;
  * PUT /v1/agent/leave answers 200, the agent exits 0 and Serf shows it left.

Every process started here is stopped here, by PID (also on failure).
Env: CAIRN_BIN (the cairn program).
"""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import consul

CAIRN = os.environ.get("CAIRN_BIN") or os.path.join(
    os.environ.get("CAIRN_BINARY_DIR", "build"), "cairn")
NPORTS = 10
T0 = time.monotonic()
PROCS = []
FAILURES = []
LOG = tempfile.mkdtemp(prefix="cairn-http-")


def log(msg):
    print("[%6.2f] %s" % (time.monotonic() - T0, msg), flush=True)


def check(cond, what):
    if cond:
        log("ok   " + what)
    else:
        log("FAIL " + what)
        FAILURES.append(what)
    return cond


def ports_free(base):
    for port in range(base, base + NPORTS):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def pick_base():
    bases = list(range(19100, 19900, 20))
    random.shuffle(bases)
    for b in bases:
        if ports_free(b):
            return b
    raise RuntimeError("no free port block in 19100-19899")


def spawn(name, args):
    out = open(os.path.join(LOG, name + ".log"), "w")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    PROCS.append(p)
    return p


def wait_for(what, fn, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:   # not up yet
            pass
        time.sleep(0.2)
    check(False, what + " (timed out)")
    return None


def raw(port, data, timeout=5.0):
    """Sends data, returns (status, headers text, body) of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0] else 0
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                for l in lines[1:] if ":" in l}
        n = int(hdrs.get("content-length", "0"))
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, hdrs, body
    finally:
        s.close()


def serf_members(rpc):
    r = subprocess.run(["serf", "members", "-rpc-addr=127.0.0.1:%d" % rpc],
                       capture_output=True, text=True, timeout=10)
    return {l.split()[0]: l.split()[2] for l in r.stdout.splitlines() if l.strip()}


def member_status(c, name):
    for m in c.agent.members():
        if m["Name"] == name:
            return m["Status"]
    return None


def slowloris(port, result):
    """Trickles header bytes (never an empty line), one every 0.25 s;
    records when the connection was cut off and whether anything came back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    start = time.monotonic()
    stream = b"X-Slow: " + b"a" * 20 + b"\r\n"
    result["answered"] = False
    try:
        s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\n")
        for i in range(240):
            s.sendall(stream[i % len(stream):i % len(stream) + 1])
            s.settimeout(0.25)
            try:
                data = s.recv(1024)
                if data == b"":
                    break
                result["answered"] = True
            except socket.timeout:
                pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        result["cut_after"] = time.monotonic() - start
        s.close()


def main():
    base = pick_base()
    s1_bind, s1_rpc = base, base + 1
    c1_bind, c1_http, c2_bind, c2_http = base + 2, base + 3, base + 4, base + 5
    log("ports %d-%d, logs in %s" % (base, base + NPORTS - 1, LOG))
    spawn("s1", ["serf", "agent", "-node=s1", "-bind=127.0.0.1:%d" % s1_bind,
                 "-rpc-addr=127.0.0.1:%d" % s1_rpc])
    wait_for("serf agent up", lambda: serf_members(s1_rpc).get("s1") == "alive", 15)
    # A build whose agent also serves RPC gets a distinct port per agent.
    helptext = subprocess.run([CAIRN, "agent", "--help"], capture_output=True, text=True).stdout
    rpc = (lambda p: ["--rpc-addr", "127.0.0.1:%d" % p]) if "--rpc-addr" in helptext else \
        (lambda p: [])
    c1 = spawn("c1", [CAIRN, "agent", "--node", "c1", "--bind", "127.0.0.1:%d" % c1_bind,
                      "--http-addr", "127.0.0.1:%d" % c1_http,
                      "--join", "127.0.0.1:%d" % s1_bind] + rpc(base + 6))
    c2 = spawn("c2", [CAIRN, "agent", "--node", "c2", "--bind", "127.0.0.1:%d" % c2_bind,
                      "--http-addr", "127.0.0.1:%d" % c2_http] + rpc(base + 7))
    c = consul.Consul(host="127.0.0.1", port=c1_http)
    me = wait_for("agent.self()", lambda: c.agent.self(), 15)
    if not me:
        return
    check(me["Config"]["NodeName"] == "c1", "agent.self(): NodeName c1")
    check(me["Member"]["Name"] == "c1" and me["Member"]["Status"] == 1,
          "agent.self(): Member alive")
    check(len(me["Coord"]["Vec"]) == 8, "agent.self(): an 8-d Coord")
    dc = me["Config"]["Datacenter"]

    dcs = c.catalog.datacenters()
    check(isinstance(dcs, list) and dcs and dcs[0] == dc,
          "catalog.datacenters(): local first %r" % dcs)
    check(isinstance(c.coordinate.datacenters(), list), "coordinate.datacenters(): a list")

    wait_for("agent.members(): s1 and c1 alive",
             lambda: member_status(c, "s1") == 1 and member_status(c, "c1") == 1)
    m = [x for x in c.agent.members() if x["Name"] == "s1"][0]
    check(m["Addr"] == "127.0.0.1" and m["Port"] == s1_bind and m["DelegateCur"] >= 4,
          "agent.members(): s1 as Serf announces it")

    # c1 joins c2 through the API (python-consul sends GET).
    wait_for("c2 up", lambda: consul.Consul(host="127.0.0.1", port=c2_http).agent.self(), 15)
    check(c.agent.join("127.0.0.1:%d" % c2_bind) is True, "agent.join() -> True")
    wait_for("agent.members(): c2 alive after the join", lambda: member_status(c, "c2") == 1)
    wait_for("serf members: c2 alive", lambda: serf_members(s1_rpc).get("c2") == "alive")
    try:
        c.agent.join("127.0.0.1:%d" % (base + 9))
        check(False, "agent.join() of a dead address raises")
    except consul.ConsulException as e:
        check(str(e).startswith("500 "), "agent.join() of a dead address: %s" % e)

    idx, nodes = c.coordinate.nodes()
    check(int(idx) >= 1 and any(n["Node"] == "c1" for n in nodes),
          "coordinate.nodes(): index %s, c1 among %d" % (idx, len(nodes)))
    t = time.monotonic()
    idx2, _ = c.coordinate.nodes(index=2 ** 40, wait="2s")
    took = time.monotonic() - t
    check(1.9 <= took < 6, "blocking coordinate.nodes(index, wait=2s) took %.2f s" % took)
    # Coordinates move with every probe (Vivaldi): a query blocked on the
    # current index is released by the change, long before its wait.
    idx, _ = c.coordinate.nodes()
    t = time.monotonic()
    idx3, _ = c.coordinate.nodes(index=idx, wait="25s")
    took = time.monotonic() - t
    check(int(idx3) > int(idx) and took < 20,
          "blocking coordinate.nodes(index=%s) released at index %s after %.2f s"
          % (idx, idx3, took))

    # force-leave: c2 dies, is failed, then left (also for Serf).
    c2.send_signal(signal.SIGKILL)
    c2.wait()
    wait_for("c2 failed", lambda: member_status(c, "c2") == 4)
    check(c.agent.force_leave("c2") is True, "agent.force_leave() -> True")
    wait_for("agent.members(): c2 left", lambda: member_status(c, "c2") == 3)
    wait_for("serf members: c2 left", lambda: serf_members(s1_rpc).get("c2") == "left")

    # Bad requests.
    st, h, body = raw(c1_http, b"GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n")
    check(st == 404 and body == b"" and h.get("x-consul-index"), "unknown path: 404, empty, index")
    st, h, body = raw(c1_http, b"DELETE /v1/agent/members HTTP/1.1\r\nHost: x\r\n\r\n")
    check(st == 405 and body == b"method DELETE not allowed" and h.get("allow") == "OPTIONS,GET",
          "bad method: 405 %r" % body)
    st, _, body = raw(c1_http, b"GET /v1/coordinate/nodes?index=x HTTP/1.1\r\nHost: x\r\n\r\n")
    check(st == 400 and body == b"Invalid index", "bad index: 400 %r" % body)
    check(c.catalog.datacenters() is not None and c.agent.self() is not None,
          "still serving after the bad requests")
    st, _, _ = raw(c1_http, b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nX-Big: " +
                   b"a" * 100000 + b"\r\n\r\n")
    check(st == 431, "huge headers: %d" % st)

    # Connection cap (512): past it MHD stops accepting; a connection waits
    # in the listen backlog until one closes, then it is served.
    socks = []
    try:
        for _ in range(530):
            socks.append(socket.create_connection(("127.0.0.1", c1_http), timeout=5))
        last = socks[-1]
        last.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\n\r\n")
        last.settimeout(1.0)
        try:
            early = last.recv(12)
        except socket.timeout:
            early = b""
        check(early == b"", "connection cap: the 530th connection waits (%r)" % early)
        for k in socks[:100]:
            k.close()
        last.settimeout(5.0)
        try:
            late = last.recv(12)
        except socket.timeout:
            late = b""
        check(late.startswith(b"HTTP/1.1 200"), "connection cap: served once others closed")
    finally:
        for k in socks:
            k.close()
    check(wait_for("served again after the cap", lambda: c.agent.self(), 10) is not None,
          "served again once the connections closed")

    result = {}
    th = threading.Thread(target=slowloris, args=(c1_http, result))
    th.start()
    worst = 0.0
    while th.is_alive() and time.monotonic() - T0 < 120:
        t = time.monotonic()
        ok = c.agent.members() is not None
        worst = max(worst, time.monotonic() - t)
        if not ok:
            break
        time.sleep(0.2)
    th.join()
    cut = result.get("cut_after", 99)
    check(9 < cut < 16 and not result["answered"],
          "slowloris cut off after %.1f s (header deadline 10 s)" % cut)
    check(worst < 1.0, "another client served meanwhile, slowest answer %.3f s" % worst)

    # Leave through the API: 200, exit 0, Serf shows c1 left.
    st, _, _ = raw(c1_http, b"PUT /v1/agent/leave HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                   timeout=20)
    check(st == 200, "PUT /v1/agent/leave: %d" % st)
    try:
        rc = c1.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "c1 exits 0 after the leave (%r)" % rc)
    wait_for("serf members: c1 left", lambda: serf_members(s1_rpc).get("c1") == "left")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:   # report, then clean up
        import traceback
        traceback.print_exc()
        FAILURES.append("exception: %r" % e)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
    log("%s (%.1f s)" % ("FAIL: " + "; ".join(FAILURES) if FAILURES else "PASS",
                         time.monotonic() - T0))
    if FAILURES:
        print("logs in " + LOG)
    sys.exit(1 if FAILURES else 0)
