#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz corpora (docs/fuzzing.md).

    tools/fuzz_seeds.py [TARGET...]     (default: every target below)

Each seed is written to fuzz/corpus/<target>/seed-<what> (overwritten), so the
corpus keeps inputs that reach what random mutation finds slowly: valid
snapshot files with writer scripts, ... Run it, then `make coverage`, then
commit the seeds that raised the coverage.
"""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = {}


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    SEEDS.setdefault(target, []).append((name, data))


# ---- snapshot: file, NUL, writer script of [op][arg] records ----
SNAP_FILE = ("alive: a 10.0.0.2:7946\nalive: b c [::1]:7946\nalive: me 10.0.0.1:7946\n"
             "not-alive: a\nclock: 12\nevent-clock: 7\nquery-clock: 3\n"
             "coordinate: {\"Vec\":[0]}\n# comment\nalive: a 10.0.0.2:7946\n")


def script(*ops):
    return bytes(b for op in ops for b in op)


JOIN, LEAVE, USER, QUERY, RUN, FAILSYNC, BYE, FILL = range(8)
seed("snapshot", "writer-basic", SNAP_FILE.encode() + b"\0" + script(
    (JOIN, 1), (JOIN, 2), (JOIN | 8, 3), (LEAVE, 1), (LEAVE | 8, 2), (USER, 9), (USER, 1),
    (QUERY, 5), (QUERY, 0), (RUN, 20), (RUN, 5), (JOIN, 4), (RUN, 3), (BYE, 0), (JOIN, 5),
    (USER, 30)))
seed("snapshot", "writer-rejoin", SNAP_FILE.encode() + b"\0" + script(
    (JOIN | 0x80, 1), (JOIN, 17), (RUN, 1), (BYE | 8, 0), (RUN, 2)))
seed("snapshot", "writer-compact", b"clock: 5\n\0" + script(
    (JOIN, 1), (FILL, 3), (FILL, 3), (FILL, 3), (RUN, 15), (FILL, 3), (FILL, 3), (BYE, 0)))
seed("snapshot", "writer-failsync", b"leave\n\0" + script(
    (FAILSYNC, 2), (JOIN, 1), (FILL, 3), (FILL, 3), (FILL, 3), (RUN, 1), (FAILSYNC, 1),
    (FILL, 3), (FILL, 3), (FILL, 3), (FAILSYNC, 2), (BYE, 0)))
seed("snapshot", "writer-empty-file", b"\0" + script((RUN, 4), (JOIN, 1), (RUN, 9)))


# ---- msgpack helpers ----
def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 1 << 32:
            return b"\xce" + struct.pack(">I", v)
        if v < 0 and v >= -32:
            return struct.pack("b", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        v = v.encode()
        if len(v) < 32:
            return bytes([0xA0 | len(v)]) + v
        return b"\xd9" + bytes([len(v)]) + v if len(v) < 256 else b"\xda" + struct.pack(">H", len(v)) + v
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v)
        return (b"\xc4" + bytes([len(v)]) if len(v) < 256 else b"\xc5" + struct.pack(">H", len(v))) + v
    if isinstance(v, (list, tuple)):
        assert len(v) < 16
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        assert len(v) < 16
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


# ---- serf_query: raw filters (first byte not a query/response/relay type) ----
seed("serf_query", "filter-tag-nul-expr", b"\x01" + mp({"Expr": "a\0b", "Tag": "role"}))
seed("serf_query", "filter-tag-nul-tag", b"\x01" + mp({"Expr": "a", "Tag": "ro\0le"}))
seed("serf_query", "filter-tag-bad-regex", b"\x01" + mp({"Expr": "(", "Tag": "role"}))
seed("serf_query", "filter-tag-match", b"\x01" + mp({"Expr": "^$", "Tag": "role"}))
seed("serf_query", "filter-node-miss", b"\x00" + mp(["a", "c"]))
seed("serf_query", "filter-node-hit", b"\x00" + mp(["a", "b"]))


# ---- serf_node: records [op][len lo][len hi][body] ----
def rec(op, body=b""):
    if isinstance(body, str):
        body = body.encode()
    return bytes([op, len(body) & 255, len(body) >> 8]) + body


seed("serf_node", "query-filters", rec(71, "^s") + rec(4, b"\x05") + rec(83) + rec(4, b"\x05") +
     rec(95, "(") + rec(4, b"\x05") + rec(77, "x") + rec(4, b"\x09"))


# ---- serfrpc_server: header, body, header, body ... ----
def rpc(cmd, seq, body=None):
    out = mp({"Command": cmd, "Seq": seq})
    return out + (mp(body) if body is not None else b"")


seed("serfrpc_server", "respond-all-fields", rpc("respond", 1, {
    "ID": 5, "Payload": b"x", "Coalesce": True, "RelayFactor": 3, "Prune": True, "Replay": True,
    "Tags": {"a": "b", "c": "d", "e": ""}, "Existing": ["k1", "k2", "k3"], "Node": "n1",
    "Type": "response", "Timeout": 1000000000}))
seed("serfrpc_server", "query-filters", rpc("query", 2, {
    "FilterNodes": ["a", "b"], "FilterTags": {"role": "^w"}, "RequestAck": True, "Timeout": 5,
    "Name": "q", "Payload": b"p"}))


def main(argv):
    targets = argv[1:] or sorted(SEEDS)
    for t in targets:
        d = os.path.join(ROOT, "fuzz", "corpus", t)
        os.makedirs(d, exist_ok=True)
        for name, data in SEEDS.get(t, []):
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
        print(f"{t}: {len(SEEDS.get(t, []))} seeds")


if __name__ == "__main__":
    main(sys.argv)
