#!/usr/bin/env python3
"""Stalls on real processes: the same SIGSTOP/SIGCONT schedule against K real
Serf 0.9.4 agents and K real cairn agents (issue 13, item 2;
docs/memberlist-sim.md, "Real processes").

Two clusters on loopback, side by side: `serf agent` s0..s{K-1} and
`cairn agent` c0..c{K-1}, each with its own gossip, RPC (and for cairn HTTP)
port, LAN profile (the default of both).  Slot i of both sides is stopped
and continued at the same instants: the seeded schedule picks `--stalled`
slots (default 4 of K = 10; never slot 0, the join target) and, for each,
episodes separated by 2-5 s of normal running: 75 % starved bursts of
5-15 s (frozen 0.2-3 s, then a 2-20 ms slice of running, over and over, as
the simulator's starved members: each freeze is a short stall, long enough
for failed probes and accusations, shorter than the 4 s suspicion minimum
at K <= 10), 25 % one long stall of 8-20 s (past the suspicion timeout:
such a member is expected to be declared failed).

Counted from each agent's own log, from the start of the schedule until
`--settle` seconds after its end:
  - false failures: member-failed events (Serf "EventMemberFailed: X",
    cairn {"event":"member-failed","node":X}) about never-stopped members,
    seen by never-stopped observers and by stopped ones;
  - first-hand suspicions ("Suspect X has failed") and first-hand dead
    declarations ("Marking X as failed") about never-stopped members;
  - the same member-failed events about stopped members (expected for the
    long stalls), seen by never-stopped observers.
One JSON object per run on stdout, readable lines starting with '#'.

usage: bench_lifeguard_real.py [--cairn PATH] [--k K] [--stalled M]
       [--seconds T] [--seed S] [--settle SECS] [--keep]
Exit 0 also when serf is missing (prints why); 1 when the clusters did not
form.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(msg, flush=True)


def free_block(n):
    """A base port with n consecutive loopback ports free for TCP and UDP."""
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(20000, 32700 - n)  # below the ephemeral range
        ok = True
        socks = []
        try:
            for p in range(base, base + n):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    try:
                        s.bind(("127.0.0.1", p))
                    except OSError:
                        ok = False
                        break
                if not ok:
                    break
        finally:
            for s in socks:
                s.close()
        if ok:
            return base
    raise RuntimeError("no free block of %d loopback ports" % n)


class Agent:
    def __init__(self, kind, slot, port, rpc, http, d):
        self.kind, self.slot = kind, slot
        self.name = ("s%d" if kind == "serf" else "c%d") % slot
        self.port, self.rpc, self.http = port, rpc, http
        self.path = os.path.join(d, self.name + ".log")
        self.proc = None
        self.offset = 0

    def start(self, cairn, join):
        if self.kind == "serf":
            cmd = ["serf", "agent", "-node=" + self.name, "-bind=127.0.0.1:%d" % self.port,
                   "-rpc-addr=127.0.0.1:%d" % self.rpc, "-log-level=info"]
            if join:
                cmd.append("-join=127.0.0.1:%d" % join)
        else:
            cmd = [cairn, "agent", "--node", self.name, "--bind", "127.0.0.1:%d" % self.port,
                   "--rpc-addr", "127.0.0.1:%d" % self.rpc, "--http-addr",
                   "127.0.0.1:%d" % self.http, "--log-json"]
            if join:
                cmd += ["--join", "127.0.0.1:%d" % join]
        self.logf = open(self.path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def text(self, since=0):
        with open(self.path, errors="replace") as f:
            f.seek(since)
            return f.read()

    def started(self):
        t = self.text()
        return ("Serf agent running!" in t) if self.kind == "serf" else ('"agent-start"' in t)

    def joined(self):
        t = self.text()
        if self.kind == "serf":
            return len(set(re.findall(r"EventMemberJoin: (\S+)", t)))
        return len(set(re.findall(r'"event":"member-join","node":"([^"]+)"', t)))

    def events(self):
        """(kind, subject) verdicts in the log since self.offset."""
        out = []
        for line in self.text(self.offset).splitlines():
            if self.kind == "serf":
                m = re.search(r"EventMemberFailed: (\S+)", line)
                if m:
                    out.append(("failed", m.group(1)))
                    continue
                m = re.search(r"memberlist: Suspect (\S+) has failed", line)
                if m:
                    out.append(("suspect", m.group(1)))
                    continue
                m = re.search(r"memberlist: Marking (\S+) as failed", line)
                if m:
                    out.append(("dead", m.group(1)))
            else:
                if not line.startswith("{"):
                    continue
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("event") == "member-failed":
                    out.append(("failed", o.get("node", "?")))
                elif o.get("event") == "log" and o.get("module") == "memberlist":
                    m = re.match(r"suspect (\S+) has failed", o.get("msg", ""))
                    if m:
                        out.append(("suspect", m.group(1)))
                        continue
                    m = re.match(r"marking ([^,\s]+) as failed", o.get("msg", ""))
                    if m:
                        out.append(("dead", m.group(1)))
        return out

    def signal(self, sig):
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass


def schedule(rng, k, stalled, seconds):
    """[(t, 'stop'|'cont', slot, length)], and the stalls [(slot, t, length)].

    Each stalled slot goes through episodes separated by 2-5 s of normal
    running: 75 % a starved burst of 5-15 s (frozen 0.2-3 s, then running
    for a 2-20 ms slice, over and over, as the simulator's starved members),
    25 % one long stall of 8-20 s."""
    slots = rng.sample(range(1, k), stalled)
    ev, stalls = [], []

    def add(s, t, d):
        ev.append((t, "stop", s, d))
        ev.append((t + d, "cont", s, d))
        stalls.append((s, t, d))

    for s in slots:
        t = rng.uniform(0, 3)
        done = False
        while not done:
            if rng.random() < 0.75:
                end = t + rng.uniform(5, 15)
                while t < end:
                    d = rng.uniform(0.2, 3.0)
                    if t + d > seconds:
                        done = True
                        break
                    add(s, t, d)
                    t += d + rng.uniform(0.002, 0.020)
            else:
                d = rng.uniform(8, 20)
                if t + d > seconds:
                    break
                add(s, t, d)
                t += d
            t += rng.uniform(2, 5)
            done = done or t >= seconds
    ev.sort(key=lambda e: (e[0], e[1] == "stop"))
    return sorted(slots), ev, stalls


def count(side, stalled):
    """Verdicts of one side, split by subject and observer."""
    prefix = "s" if side[0].kind == "serf" else "c"
    stopped = {prefix + str(s) for s in stalled}
    names = {a.name for a in side}
    c = {"false_failed_by_healthy": 0, "false_failed_by_stopped": 0, "false_suspect": 0,
         "false_suspect_by_stopped": 0, "false_dead": 0, "false_dead_by_stopped": 0,
         "stopped_failed_by_healthy": 0, "stopped_suspect": 0, "stopped_dead": 0,
         "false_failed_subjects": []}
    for a in side:
        obs_stopped = a.name in stopped
        for kind, who in a.events():
            if who not in names:
                continue
            if who in stopped:
                if kind == "failed" and not obs_stopped:
                    c["stopped_failed_by_healthy"] += 1
                elif kind in ("suspect", "dead"):
                    c["stopped_" + kind] += 1
                continue
            if kind == "failed":
                c["false_failed_by_stopped" if obs_stopped else "false_failed_by_healthy"] += 1
                c["false_failed_subjects"].append("%s>%s" % (a.name, who))
            elif kind == "suspect":
                c["false_suspect"] += 1
                c["false_suspect_by_stopped"] += obs_stopped
            elif kind == "dead":
                c["false_dead"] += 1
                c["false_dead_by_stopped"] += obs_stopped
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cairn", default=os.path.join(HERE, "..", "build", "cairn"))
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--stalled", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--settle", type=float, default=25)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not 2 <= a.k <= 40 or not 1 <= a.stalled < a.k:
        ap.error("--k must be 2..40 and --stalled 1..k-1")
    if shutil.which("serf") is None:
        log("# bench_lifeguard_real: serf not installed, skipped")
        return 0
    if not os.access(a.cairn, os.X_OK):
        log("# bench_lifeguard_real: no cairn binary at %s, skipped" % a.cairn)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # runs the cleanup below
    d = tempfile.mkdtemp(prefix="cairn-lifeguard-real.")
    base = free_block(5 * a.k)
    serf = [Agent("serf", i, base + 2 * i, base + 2 * i + 1, 0, d) for i in range(a.k)]
    cb = base + 2 * a.k
    cairn = [Agent("cairn", i, cb + 3 * i, cb + 3 * i + 1, cb + 3 * i + 2, d) for i in range(a.k)]
    everyone = serf + cairn
    rc = 1
    try:
        for side in (serf, cairn):
            side[0].start(a.cairn, None)
        t0 = time.monotonic()
        while not (serf[0].started() and cairn[0].started()):
            if time.monotonic() - t0 > 15:
                raise RuntimeError("slot 0 did not start (logs in %s)" % d)
            time.sleep(0.1)
        for i in range(1, a.k):
            serf[i].start(a.cairn, serf[0].port)
            cairn[i].start(a.cairn, cairn[0].port)
            time.sleep(0.1)
        t0 = time.monotonic()
        while any(x.joined() < a.k for x in everyone):
            if time.monotonic() - t0 > 30:
                raise RuntimeError("clusters did not form in 30 s: %s (logs in %s)" % (
                    [(x.name, x.joined()) for x in everyone if x.joined() < a.k], d))
            time.sleep(0.2)
        log("# clusters formed: %d Serf and %d cairn agents (%.1f s); load %s" % (
            a.k, a.k, time.monotonic() - t0, os.getloadavg()))
        time.sleep(3)
        for x in everyone:
            x.offset = os.path.getsize(x.path)
        slots, ev, stalls = schedule(random.Random(a.seed), a.k, a.stalled, a.seconds)
        short = sum(1 for s in stalls if s[2] < 5)
        log("# seed %d: slots %s stalled, %d stall events (%d short 0.2-3 s in starved bursts, %d long 8-20 s) "
            "over %.0f s, applied to s<i> and c<i> at the same instants" % (
                a.seed, slots, len(stalls), short, len(stalls) - short, a.seconds))
        t0 = time.monotonic()
        lag = 0.0
        for t, what, slot, _ in ev:
            wait = t0 + t - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                lag = max(lag, -wait)
            sig = signal.SIGSTOP if what == "stop" else signal.SIGCONT
            # Alternate which side goes first: neither gets a systematic head start.
            pair = (serf[slot], cairn[slot]) if int(t * 1000) % 2 else (cairn[slot], serf[slot])
            for x in pair:
                x.signal(sig)
        for x in everyone:
            x.signal(signal.SIGCONT)
        time.sleep(a.settle)
        res = {"serf": count(serf, slots), "cairn": count(cairn, slots)}
        log("# %-44s %8s %8s" % ("(never-stopped members unless said)", "Serf", "cairn"))
        rows = [("false failed, seen by never-stopped", "false_failed_by_healthy"),
                ("false failed, seen by stopped", "false_failed_by_stopped"),
                ("false suspicions (first-hand)", "false_suspect"),
                ("  of which by stopped members", "false_suspect_by_stopped"),
                ("false dead declarations (first-hand)", "false_dead"),
                ("  of which by stopped members", "false_dead_by_stopped"),
                ("stopped members failed (never-stopped obs.)", "stopped_failed_by_healthy"),
                ("stopped members suspected (first-hand)", "stopped_suspect"),
                ("stopped members declared dead (first-hand)", "stopped_dead")]
        for label, key in rows:
            log("# %-44s %8d %8d" % (label, res["serf"][key], res["cairn"][key]))
        for side in ("serf", "cairn"):
            if res[side]["false_failed_subjects"]:
                log("#   %s false failures (observer>subject): %s" % (
                    side, " ".join(res[side]["false_failed_subjects"])))
        if lag > 0.05:
            log("# the driver ran up to %.2f s late on some signals (loaded machine)" % lag)
        print(json.dumps({"figure": "lifeguard_real", "seed": a.seed, "k": a.k,
                          "stalled_slots": slots, "stall_events": len(stalls), "short": short,
                          "long": len(stalls) - short, "seconds": a.seconds,
                          "load": os.getloadavg()[0], "serf": res["serf"],
                          "cairn": res["cairn"]}), flush=True)
        rc = 0
    except RuntimeError as e:
        log("# bench_lifeguard_real: %s" % e)
        a.keep = True
    finally:
        for x in everyone:
            if x.proc is not None:
                x.signal(signal.SIGCONT)
                x.signal(signal.SIGKILL)
        for x in everyone:
            if x.proc is not None:
                x.proc.wait()
                x.logf.close()
        if a.keep:
            log("# logs kept in %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
