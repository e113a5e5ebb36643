#!/usr/bin/env python3
"""Interop: cairn routing over a real Serf cluster (serf 0.9.4 agents).

Starts real `serf agent` processes on 127.0.0.1 (a free block of 36 ports
in 17100-17899, so that two runs on one machine do not collide) as WAN
servers of three datacenters (tags role=consul, dc, port, vsn, build; names
<node>.<dc>), each with a TCP listener on its server port, plus agents that
are not servers (role=node), and checks, through the `cairn` program talking
to a non-server agent's RPC:

  * `cairn members` agrees with `serf members` (names, addresses, status, tags);
  * `cairn dcs` lists exactly the server datacenters, local first, in the
    order the agents' coordinates imply (medians of `serf rtt` distances);
  * `cairn route DC` answers a live server of DC; an unknown DC exits 1;
  * after `kill -9` of the routed server's agent, once Serf marks it failed,
    the route moves to another live server of that DC (failover time after
    the kill is printed next to Serf's own detection time);
  * after a graceful `serf leave`, the server shows as left in `members` and
    is gone from routes and dc-maps;
  * a newly joined server (of a new datacenter) appears in dcs and routes;
  * non-servers never appear;
  * `cairn watch` survives a restart of the agent it talks to.

Every process started here is stopped here, by PID (also on failure).
Env: CAIRN_BIN (the cairn program).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CAIRN = os.environ.get("CAIRN_BIN") or os.path.join(
    os.environ.get("CAIRN_BINARY_DIR", "build"), "cairn")
NPORTS = 3 * 12     # three ports per agent, up to 12 agents


def ports_free(base):
    """True when every TCP and UDP port of [base, base + NPORTS) can be bound."""
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
    """A free block in 17100-17899 (another run of this test may hold one)."""
    import random
    bases = list(range(17100, 17900, 100))
    random.shuffle(bases)
    for b in bases:
        if b != 17200 and ports_free(b):   # 17200 is the demo's
            return b
    raise RuntimeError("no free port block in 17100-17899")


BASE = pick_base()
LOG = tempfile.mkdtemp(prefix="cairn-interop-")
PROCS = []          # every Popen we start
LISTENERS = {}      # server name -> listening socket
FAILURES = []


def log(msg):
    print("[%6.2f] %s" % (time.monotonic() - T0, msg), flush=True)


def check(cond, what):
    if cond:
        log("ok   " + what)
    else:
        log("FAIL " + what)
        FAILURES.append(what)
    return cond


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except Exception:
            pass
    for s in LISTENERS.values():
        s.close()


def on_signal(signum, frame):
    cleanup()
    sys.exit(1)


class Agent:
    """One serf agent: name <node>.<dc>, gossip and RPC ports."""

    def __init__(self, node, dc, idx, server=True):
        self.name = "%s.%s" % (node, dc)
        self.dc = dc
        self.bind = BASE + 3 * idx
        self.rpc = BASE + 3 * idx + 1
        self.port = BASE + 3 * idx + 2 if server else 0
        self.server = server
        self.proc = None

    def start(self, join=None, auth=None):
        args = ["serf", "agent", "-node=" + self.name, "-bind=127.0.0.1:%d" % self.bind,
                "-rpc-addr=127.0.0.1:%d" % self.rpc, "-profile=local",
                "-tag", "dc=" + self.dc, "-tag", "vsn=2", "-tag", "build=1.9.1:cairn"]
        if self.server:
            args += ["-tag", "role=consul", "-tag", "port=%d" % self.port]
        else:
            args += ["-tag", "role=node"]
        if join is not None:
            args.append("-join=127.0.0.1:%d" % join.bind)
        if auth is not None:
            # The agent has no -rpc-auth flag; the key comes from a config file.
            cfg = os.path.join(LOG, self.name + ".json")
            with open(cfg, "w") as f:
                json.dump({"rpc_auth": auth}, f)
            args.append("-config-file=" + cfg)
        out = open(os.path.join(LOG, self.name + ".log"), "a")
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        if self.server and self.name not in LISTENERS:
            listen(self)
        wait_port(self.rpc)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def rpc_addr(self):
        return "127.0.0.1:%d" % self.rpc


def listen(agent):
    """A TCP listener on the server's port, accepting and closing."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", agent.port))
    s.listen(64)
    LISTENERS[agent.name] = s

    def loop():
        while True:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                return
    threading.Thread(target=loop, daemon=True).start()


def stop_listener(agent):
    s = LISTENERS.pop(agent.name, None)
    if s is not None:
        try:
            s.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        s.close()


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


def cairn(*args, agent=None, timeout=20):
    cmd = [CAIRN] + list(args)
    if agent is not None:
        cmd += ["--serf-rpc", agent.rpc_addr()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def cairn_json(*args, agent=None):
    rc, out, err = cairn(*args, "--format", "json", agent=agent)
    if rc != 0:
        raise RuntimeError("cairn %s failed (%d): %s" % (" ".join(args), rc, err.strip()))
    return json.loads(out)


def serf_members(agent):
    p = subprocess.run(["serf", "members", "-rpc-addr=" + agent.rpc_addr(), "-format=json"],
                       capture_output=True, text=True, timeout=10)
    return {m["name"]: m for m in json.loads(p.stdout)["members"]}


def serf_rtt(agent, a, b):
    p = subprocess.run(["serf", "rtt", "-rpc-addr=" + agent.rpc_addr(), a, b],
                       capture_output=True, text=True, timeout=10)
    # "Estimated a <-> b rtt: 0.614 ms (using LAN coordinates)"
    for word in p.stdout.split():
        try:
            return float(word)
        except ValueError:
            continue
    return float("inf")


def wait_until(cond, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Watch:
    """`cairn watch --format json` in the background; lines with arrival time."""

    def __init__(self, agent, duration):
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([CAIRN, "watch", "--format", "json", "--duration",
                                      str(duration), "--serf-rpc", agent.rpc_addr()],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        PROCS.append(self.proc)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.lines.append((time.monotonic(), obj))

    def find(self, pred, since=0.0):
        with self.lock:
            for t, obj in self.lines:
                if t >= since and pred(obj):
                    return t, obj
        return None

    def route(self, dc):
        """The latest route line of dc."""
        with self.lock:
            for t, obj in reversed(self.lines):
                if obj.get("datacenter") == dc and obj.get("type") in ("route", "gone",
                                                                       "unavailable"):
                    return obj if obj["type"] == "route" else None
        return None


def expected_order(local, via, servers_by_dc):
    """The datacenters ordered as Consul would from `serf rtt` distances."""
    ranked = []
    for dc, names in servers_by_dc.items():
        if dc == local:
            ranked.append((0.0, dc))
            continue
        d = sorted(serf_rtt(via, via.name, n) for n in names)
        ranked.append((d[len(d) // 2], dc))
    ranked.sort(key=lambda x: x[1])
    ranked.sort(key=lambda x: x[0])
    return ranked


def main():
    s11 = Agent("s1", "dc1", 0)
    s21 = Agent("s2", "dc1", 1)
    s12 = Agent("s1", "dc2", 2)
    s22 = Agent("s2", "dc2", 3)
    s32 = Agent("s3", "dc2", 4)
    s13 = Agent("s1", "dc3", 5)
    c1 = Agent("c1", "dc1", 6, server=False)      # cairn talks to this one
    c2 = Agent("c2", "dc2", 7, server=False)
    c9 = Agent("c9", "dc9", 8, server=False)      # a datacenter with no servers
    s14 = Agent("s1", "dc4", 9)                  # joins later
    servers = [s11, s21, s12, s22, s32, s13]
    everyone = servers + [c1, c2, c9]

    # -- start the cluster
    s11.start()
    for a in everyone[1:]:
        a.start(join=s11, auth="sekrit" if a is c9 else None)
    ok = wait_until(lambda: len([m for m in serf_members(c1).values()
                                 if m["status"] == "alive"]) == len(everyone), 60)
    check(ok, "all %d agents alive in serf members" % len(everyone))

    # -- cairn members vs serf members
    cm = {m["name"]: m for m in cairn_json("members", agent=c1)}
    sm = serf_members(c1)
    check(set(cm) == set(sm), "cairn members lists the same names as serf members")
    same = all(cm[n]["status"] == sm[n]["status"] and cm[n]["tags"] == sm[n]["tags"] and
               "%s:%d" % (cm[n]["addr"], cm[n]["port"]) == sm[n]["addr"] for n in sm)
    check(same, "cairn members agrees on status, tags and address:port")

    # -- dcs: exactly the server datacenters, local first, coordinate order.
    # Wait until c1 has probed every server (each node probes one member per
    # second, so with 9 nodes this takes up to ~10 s), so that every
    # datacenter has a finite distance and the order check means something.
    ok = wait_until(lambda: all(serf_rtt(c1, c1.name, a.name) < float("inf") for a in servers),
                    20, 0.5)
    check(ok, "the agent cairn talks to has a coordinate for every server")
    dcs = cairn_json("dcs", agent=c1)
    check(sorted(dcs) == ["dc1", "dc2", "dc3"], "cairn dcs lists exactly dc1, dc2, dc3: %s" % dcs)
    check(dcs and dcs[0] == "dc1", "the local datacenter (dc1) comes first")
    # Coordinates keep moving (every probe updates them), so cairn's read and
    # the `serf rtt` reads can straddle an update: take a few pairs of reads
    # and judge the first pair that agrees, else the last one.
    for attempt in range(5):
        exp = expected_order("dc1", c1, {"dc1": [s11.name, s21.name],
                                          "dc2": [s12.name, s22.name, s32.name],
                                          "dc3": [s13.name]})
        exp_names = [dc for _, dc in exp]
        if dcs == exp_names or attempt == 4:
            break
        time.sleep(1)
        dcs = cairn_json("dcs", agent=c1)
    log("serf rtt medians: " + ", ".join("%s %.3f ms" % (dc, d) for d, dc in exp))
    if dcs == exp_names:
        check(True, "dcs order matches serf rtt medians")
    else:
        # Coordinates keep moving between the two reads on a quiet loopback:
        # accept a swap only between datacenters closer than 0.15 ms.
        rtt = {dc: d for d, dc in exp}
        swaps_ok = all(abs(rtt[a] - rtt[b]) < 0.15e0 for a, b in zip(dcs, exp_names) if a != b)
        check(swaps_ok, "dcs order %s matches serf rtt order %s within 0.15 ms" %
              (dcs, exp_names))

    # -- route
    rc, out, err = cairn("route", "dc2", "--format", "json", agent=c1)
    r = json.loads(out) if rc == 0 else {}
    check(rc == 0 and r.get("datacenter") == "dc2" and
          r.get("name") in (s12.name, s22.name, s32.name), "cairn route dc2 -> %s" % r)
    by_name = {a.name: a for a in everyone}
    check(r.get("port") == by_name.get(r.get("name"), s12).port and r.get("addr") == "127.0.0.1",
          "route carries the server's RPC address and port")
    rc, out, err = cairn("route", "dc9", agent=c1)
    check(rc == 1 and "unknown datacenter" in err,
          "route to a datacenter without servers exits 1: %s" % err.strip())
    rc, out, err = cairn("route", agent=c1)
    check(rc == 2, "route without a datacenter is a usage error (exit 2)")
    rc, out, err = cairn("route", "--help")
    check(rc == 0 and "usage" in out, "route --help")

    # -- watch in the background for the rest of the test
    watch = Watch(c1, 300)
    check(wait_until(lambda: watch.route("dc2"), 10), "cairn watch shows a dc2 route")
    victim_name = watch.route("dc2")["name"]
    victim = by_name[victim_name]

    # -- kill -9 the routed dc2 server
    stop_listener(victim)
    t_kill = time.monotonic()
    victim.kill9()
    log("kill -9 %s (the routed dc2 server)" % victim_name)

    def serf_failed():
        m = serf_members(c1).get(victim_name)
        return m is not None and m["status"] == "failed"
    check(wait_until(serf_failed, 40, 0.1), "serf marks %s failed" % victim_name)
    t_serf = time.monotonic()

    def moved():
        r = watch.route("dc2")
        return r is not None and r["name"] != victim_name
    check(wait_until(moved, 10, 0.05), "cairn watch moves the dc2 route off %s" % victim_name)
    hit = watch.find(lambda o: o.get("type") == "route" and o.get("datacenter") == "dc2" and
                     o.get("name") != victim_name, since=t_kill)
    t_cairn = hit[0] if hit else float("inf")
    log("FAILOVER: serf detected the failure %.2f s after kill -9 (polling serf members "
        "every 0.1 s); cairn watch moved the route %.2f s after kill -9 (to %s)" %
        (t_serf - t_kill, t_cairn - t_kill, hit[1]["name"] if hit else "?"))
    rc, out, err = cairn("route", "dc2", "--format", "json", agent=c1)
    r = json.loads(out) if rc == 0 else {}
    check(rc == 0 and r.get("name") in (s12.name, s22.name, s32.name) and
          r.get("name") != victim_name, "cairn route dc2 now answers a live server: %s" %
          r.get("name"))

    # -- graceful leave of a dc1 server
    leaver = s21
    p = subprocess.run(["serf", "leave", "-rpc-addr=" + leaver.rpc_addr()], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "serf leave %s" % leaver.name)
    leaver.proc.wait(timeout=10)
    stop_listener(leaver)

    # Serf spreads the leave intent by gossip, which can miss c1; c1 then
    # learns of it only after its own failure detection (suspicion up to
    # 6 x 4 s here) and a later intent or push/pull, so c1's serf may take
    # tens of seconds. Wait for c1's serf itself to say "left", then ask that
    # cairn reports the same within a few polls.
    def left_in_serf():
        return serf_members(c1).get(leaver.name, {}).get("status") == "left"
    t_leave = time.monotonic()
    serf_left = wait_until(left_in_serf, 60, 0.2)
    log("c1's serf shows %s left %.1f s after serf leave" %
        (leaver.name, time.monotonic() - t_leave))

    def left_in_cairn():
        m = {x["name"]: x for x in cairn_json("members", agent=c1)}
        return m.get(leaver.name, {}).get("status") == "left"
    check(serf_left and wait_until(left_in_cairn, 2, 0.2),
          "cairn members shows %s left, as serf members does" % leaver.name)
    routes = set()
    for _ in range(3):
        rc, out, err = cairn("route", "dc1", "--format", "json", agent=c1)
        routes.add(json.loads(out)["name"] if rc == 0 else "error")
    check(routes == {s11.name}, "route dc1 never answers the server that left: %s" % routes)
    check(wait_until(lambda: (watch.route("dc1") or {}).get("name") == s11.name, 5),
          "cairn watch routes dc1 to %s after the leave" % s11.name)
    check(wait_until(lambda: watch.find(lambda o: o.get("event") == "member-leave" and
                                        o.get("member") == leaver.name), 5),
          "cairn watch saw the member-leave of %s" % leaver.name)
    maps = cairn_json("dc-maps", agent=c1)
    nodes = {(m["Datacenter"], c["Node"]) for m in maps for c in m["Coordinates"]}
    check(("dc1", "s2") not in nodes and ("dc1", "s1") in nodes,
          "dc-maps drops the server that left: %s" % sorted(nodes))
    check(all(m["AreaID"] == "wan" for m in maps) and
          {m["Datacenter"] for m in maps} <= {"dc1", "dc2", "dc3"},
          "dc-maps holds only server datacenters of area wan")

    # -- a new server of a new datacenter joins
    s14.start(join=s11)
    check(wait_until(lambda: "dc4" in cairn_json("dcs", agent=c1), 15, 0.3),
          "a newly joined server's datacenter dc4 appears in dcs")
    rc, out, err = cairn("route", "dc4", "--format", "json", agent=c1)
    check(rc == 0 and json.loads(out)["name"] == s14.name, "route dc4 -> %s" % s14.name)
    check(wait_until(lambda: (watch.route("dc4") or {}).get("name") == s14.name, 10),
          "cairn watch shows the dc4 route")
    dcs = cairn_json("dcs", agent=c1)
    check("dc9" not in dcs, "non-server datacenter dc9 never appears in dcs: %s" % dcs)
    check(not any(o.get("name") in (c1.name, c2.name, c9.name) for _, o in watch.lines
                  if o.get("type") == "route"), "non-servers never appear as routes")

    # -- restart the agent cairn talks to
    alive_before = len([m for m in serf_members(c1).values() if m["status"] == "alive"])
    t_restart = time.monotonic()
    c1.kill9()
    log("kill -9 %s (the agent cairn watch talks to)" % c1.name)
    check(wait_until(lambda: watch.find(lambda o: o.get("state") == "stale", t_restart), 10),
          "cairn watch notices the agent went away")
    time.sleep(1.0)
    c1.start(join=s11)
    check(wait_until(lambda: watch.find(lambda o: o.get("state") == "synced", t_restart), 20),
          "cairn watch resynchronises with the restarted agent")
    check(watch.proc.poll() is None, "cairn watch is still running")
    wait_until(lambda: len([m for m in serf_members(c1).values() if m["status"] == "alive"]) >=
               alive_before, 15)
    rc, out, err = cairn("route", "dc3", "--format", "json", agent=c1)
    check(rc == 0 and json.loads(out)["name"] == s13.name, "route dc3 after the restart")
    check(wait_until(lambda: (watch.route("dc3") or {}).get("name") == s13.name, 10),
          "watch still routes dc3 after the restart")
    watch.proc.send_signal(signal.SIGTERM)
    check(watch.proc.wait(timeout=10) == 0, "cairn watch exits 0 on SIGTERM")
    with open(os.path.join(LOG, "watch.jsonl"), "w") as f:
        for t, o in watch.lines:
            f.write("%.3f %s\n" % (t - T0, json.dumps(o)))

    # -- an agent with an RPC auth key (c9)
    rc, out, err = cairn("members", "--format", "json", "--rpc-auth", "sekrit", agent=c9)
    check(rc == 0 and len(json.loads(out)) >= len(everyone) - 1,
          "cairn members --rpc-auth works against an agent with rpc_auth")
    rc, out, err = cairn("members", agent=c9)
    check(rc == 1 and "requires an RPC auth key" in err and "--rpc-auth" in err,
          "without the key: %s" % err.strip())
    rc, out, err = cairn("members", "--rpc-auth", "wrong", agent=c9)
    check(rc == 1 and "refused the RPC auth key: Invalid authentication token" in err,
          "with a wrong key: %s" % err.strip())

    # -- unreachable agent
    rc, out, err = cairn("members", "--serf-rpc", "127.0.0.1:%d" % (BASE + NPORTS - 1))
    check(rc == 1 and "cannot reach serf agent at 127.0.0.1:%d: connection refused" %
          (BASE + NPORTS - 1) in err, "unreachable agent: %s" % err.strip())


if __name__ == "__main__":
    T0 = time.monotonic()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        main()
    except Exception as e:  # a crash is a failure, with the logs kept
        FAILURES.append("exception: %r" % e)
        log("FAIL exception %r" % e)
    finally:
        cleanup()
    log("agent logs in " + LOG)
    if FAILURES:
        log("%d check(s) failed" % len(FAILURES))
        sys.exit(1)
    log("all checks passed")
