#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz corpora (docs/fuzzing.md).

    tools/fuzz_seeds.py [--out DIR] [TARGET...]   (default: every target below)

Each seed is written to DIR/<target>/seed-<what> (DIR defaults to fuzz/corpus;
files are overwritten): inputs that reach what random mutation finds slowly
(valid snapshot files with writer scripts, every Serf RPC request field,
every configuration key with good and wrong values, hostile query filters,
HTTP requests to every endpoint, compress payloads made with a small
Go-compatible LZW encoder). The large agent_config family (400 files) is
only written to a scratch DIR and merged into the corpus with libFuzzer,
which keeps only those that add coverage:

    tools/fuzz_seeds.py --out /tmp/seeds agent_config
    build-asan/fuzz_agent_config -merge=1 fuzz/corpus/agent_config /tmp/seeds/agent_config

Then `make coverage` shows the effect; commit what raised it.
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = {}
# Families merged from a scratch directory, never written to the corpus.
SCRATCH_ONLY = {"agent_config"}


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


# ---- agent_config: every key with a good value and with wrong ones ----

CONFIG_KEYS = {
    "node_name": "n1", "role": "web", "disable_coordinates": True, "tags": {"a": "b"},
    "tags_file": "/t.json", "bind": "127.0.0.1:7946", "advertise": "[::1]:7946",
    "encrypt_key": "AAAAAAAAAAAAAAAAAAAAAA==", "keyring_file": "/k.json", "log_level": "ERR",
    "rpc_addr": "127.0.0.1:7373", "rpc_auth": "s", "protocol": 4, "replay_on_join": True,
    "query_response_size_limit": 1024, "query_size_limit": 1024, "user_event_size_limit": 512,
    "start_join": ["a:1", "b"], "event_handlers": ["user:x=echo"], "profile": "wan",
    "snapshot_path": "/s", "leave_on_terminate": False, "skip_leave_on_interrupt": True,
    "discover": "x", "interface": "eth0", "reconnect_interval": "1m30s",
    "reconnect_timeout": "24h", "tombstone_timeout": "0", "disable_name_resolution": True,
    "enable_syslog": True, "syslog_facility": "LOCAL0", "retry_join": ["c"],
    "retry_max_attempts": 3, "retry_interval": "30s", "rejoin_after_leave": True,
    "enable_compression": False, "disable_compression": True, "statsite_addr": "x",
    "statsd_addr": "y", "broadcast_timeout": "5s",
}
seed("agent_config", "every-key", json.dumps(CONFIG_KEYS))
BAD = {"real": 1.5, "array": [], "object": {}, "null": None, "true": True, "int": 7,
       "empty": "", "str": "nope", "big": 1 << 62, "neg": -1}
for k, good in CONFIG_KEYS.items():
    for what, v in BAD.items():
        if type(v) is type(good) and what not in ("empty", "str", "big", "neg"):
            continue
        seed("agent_config", f"bad-{k}-{what}", json.dumps({k: v}))
seed("agent_config", "list-bad-entries", json.dumps({"start_join": ["a", 1]}))
seed("agent_config", "list-empty-entry", json.dumps({"event_handlers": ["a", ""]}))
seed("agent_config", "list-too-many", json.dumps({"start_join": [f"h{i}" for i in range(70)]}))
seed("agent_config", "tags-too-many", json.dumps({"tags": {f"t{i}": "v" for i in range(130)}}))
seed("agent_config", "tags-not-string", json.dumps({"tags": {"a": 1}}))
seed("agent_config", "tags-nul", '{"tags": {"a\\u0000b": "v\\u0000"}}')
seed("agent_config", "string-nul", '{"node_name": "a\\u0000b"}')
seed("agent_config", "file-newline", '{"node_name":"a","tags":{"x":"y"}}\n')
seed("agent_config", "profile-local", json.dumps({"profile": "local"}))
seed("agent_config", "profile-lan", json.dumps({"profile": "lan"}))
seed("agent_config", "keyring-too-many", json.dumps(["AAAAAAAAAAAAAAAAAAAAAA=="] * 300))
seed("agent_config", "keyring-bad-key", json.dumps(["AAAAAAAAAAAAAAAAAAAAAA==", "x"]))
seed("agent_config", "keyring-dup", json.dumps(["AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA==",
                                                "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="]))
for d in ("1.5h", "5us", "3\u00b5s", "300ms", ".5s", "1.s", "9999999999h", "5", "s", "1x",
          "+2m", "1" * 70 + "s"):
    seed("agent_config", "duration-" + d.replace("\\", "").replace("/", ""),
         '{"retry_interval": "%s"}' % d)


# ---- http_api: "METHOD PATH?QUERY" then member names, one per line; the
# harness gives a router to inputs whose size is not a multiple of 3, so
# each request is written with one, two and three names, of sizes that make
# every remainder ----
HTTP_REQS = [
    "GET /v1/catalog/datacenters", "GET /v1/coordinate/datacenters", "GET /v1/coordinate/nodes",
    "GET /v1/coordinate/nodes?index=3&wait=10s", "GET /v1/coordinate/nodes?index=3&wait=99h",
    "GET /v1/coordinate/nodes?index=x", "GET /v1/coordinate/nodes?segment=",
    "GET /v1/agent/members", "GET /v1/agent/members?wan", "GET /v1/agent/members?wan=1&segment=x",
    "GET /v1/agent/self", "PUT /v1/agent/join/127.0.0.1:8301?wan=1",
    "PUT /v1/agent/join/" + "a" * 300, "PUT /v1/agent/force-leave/n1?prune",
    "PUT /v1/agent/force-leave/", "PUT /v1/agent/leave", "GET /v1/agent/leave",
    "GET /v1/agent/metrics", "GET /v1/agent/metrics?format=prometheus",
    "GET /v1/status/leader", "GET /v1/status/peers", "GET /v1/cairn/route/dc0", "GET /v1/cairn/route/dc1",
    "GET /v1/cairn/route/dc2", "GET /v1/cairn/route/dc4", "GET /v1/cairn/route/dc9",
    "GET /v1/cairn/route/", "GET /v1/cairn/routes", "OPTIONS /v1/cairn/routes",
    "OPTIONS /v1/agent/join/x", "DELETE /v1/agent/members", "GET /v1/nope", "GET /v1/agent/",
]
for i, r in enumerate(HTTP_REQS):
    for k in (1, 2, 3):
        names = ["n%d" % j if j else "s\"\x01\xff" for j in range(k)]
        names[-1] += "x" * k
        seed("http_api", "req%02d-%d" % (i, k), r + "\n" + "\n".join(names))

for path in ("/v1/coordinate/nodes", "/v1/coordinate/datacenters"):
    for pad in ("", "x", "xx"):
        seed("http_api", "nocoord" + path.replace("/", "-") + pad, "GET " + path + "?" + pad + "\n-")


# ---- coord: no whole 97-byte record, only a configuration tail:
# [dim % 12][filter % 300][window % 300][max_peers % 8] + 5 doubles ----
def coord_cfg(name, b4, ds):
    seed("coord", "config-" + name, bytes(b4) + struct.pack("<5d", *ds))


GOOD = [1.5, 0.25, 0.25, 10e-6, 150.0]
coord_cfg("default", [8, 3, 20, 4], GOOD)
coord_cfg("dim0", [0, 3, 20, 4], GOOD)
coord_cfg("dim-big", [11, 3, 20, 4], GOOD)
coord_cfg("filter0", [8, 0, 20, 4], GOOD)
coord_cfg("peers0", [8, 3, 20, 0], GOOD)
coord_cfg("segments", [9, 3, 21, 5], GOOD)
coord_cfg("segments2", [8, 2, 20, 5], GOOD)
coord_cfg("nan-error", [8, 3, 20, 4], [float("nan")] + GOOD[1:])
coord_cfg("neg-ce", [8, 3, 20, 4], [1.5, -1, 0.25, 1e-5, 150])
coord_cfg("rho0", [8, 3, 20, 4], [1.5, 0.25, 0.25, 1e-5, 0])
coord_cfg("rho-inf", [8, 3, 20, 4], [1.5, 0.25, 0.25, 1e-5, float("inf")])


# ---- packet: mode byte 0 (plaintext), then a compress message (type 9)
# whose map and Algo come in every msgpack width; Buf is LZW of nothing ----
def compress_msg(maphdr, algo, buf=b"\xc4\x01\x00"):
    return b"\x00\x09" + maphdr + mp("Algo") + algo + mp("Buf") + buf


for name, hdr in (("fixmap", b"\x82"), ("map16", b"\xde\x00\x02"),
                  ("map32", b"\xdf\x00\x00\x00\x02")):
    seed("packet", "compress-" + name, compress_msg(hdr, b"\x00"))
for name, algo in (("u8", b"\xcc\x00"), ("u16", b"\xcd\x00\x00"), ("i16", b"\xd1\x00\x00"),
                   ("u32", b"\xce\x00\x00\x00\x00"), ("i32", b"\xd2\x00\x00\x00\x00"),
                   ("u64", b"\xcf" + b"\x00" * 8), ("neg", b"\xd0\xff"),
                   ("big", b"\xcd\x01\x00"), ("nil", b"\xc0"), ("unknown", b"\x07"),
                   ("str", b"\xa1a")):
    seed("packet", "compress-algo-" + name, compress_msg(b"\x82", algo))
seed("packet", "compress-algo-truncated", b"\x00\x09\x82" + mp("Algo"))
seed("packet", "compress-algo-truncated-u16", b"\x00\x09\x82" + mp("Algo") + b"\xcd\x00")
seed("packet", "compress-extra-field", b"\x00\x09\x83" + mp("X") + mp([1, 2]) + mp("Algo") +
     b"\x00" + mp("Buf") + b"\xc4\x01\x00")
seed("packet", "compress-empty-buf", compress_msg(b"\x82", b"\x00", b"\xc0"))


def lzw(data):
    """Go's compress/lzw writer (LSB, 8-bit literals) for short inputs."""
    out, bits, nbits, width, hi, overflow = bytearray(), 0, 0, 9, 257, 512
    table = {}

    def put(code):
        nonlocal bits, nbits
        bits |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8

    def inc_hi():
        nonlocal hi, width, overflow
        hi += 1
        if hi == overflow:
            width += 1
            overflow <<= 1
        assert hi < 4095, "input too long for this encoder"

    put(256)
    if data:
        code = data[0]
        for x in data[1:]:
            if (code, x) in table:
                code = table[(code, x)]
                continue
            put(code)
            inc_hi()
            table[(code, x)] = hi
            code = x
        put(code)
        inc_hi()
    put(257)
    if nbits:
        out.append(bits & 0xFF)
    return bytes(out)


def nest_compress(inner, depth):
    for _ in range(depth):
        inner = b"\x09" + mp({"Algo": 0, "Buf": lzw(inner)})
    return inner


ALIVE = b"\x04" + mp({"Incarnation": 1, "Node": "n", "Addr": b"\x7f\x00\x00\x01", "Port": 7946})
seed("packet", "compress-alive", b"\x00" + nest_compress(ALIVE, 1))
seed("packet", "compress-nested-7", b"\x00" + nest_compress(ALIVE, 7))
# stream: mode 0, two chunk-size bytes, then a compress inside a compress
seed("stream", "compress-in-compress", b"\x00\x01\x01" + nest_compress(ALIVE, 2))
seed("stream", "compress-alive", b"\x00\x07\x03" + nest_compress(ALIVE, 1) + ALIVE)
seed("packet", "compress-empty-output", compress_msg(b"\x82", b"\x00", mp(lzw(b""))))



# ---- lzw: 6 KiB of pseudo-random bytes: the encoder's round trip fills
# its 4096-code table and must start a new one (clear code) ----
def prng_bytes(n, x=0x9E3779B9):
    out = bytearray()
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out.append(x >> 16 & 0xFF)
    return bytes(out)


seed("lzw", "encoder-table-full", prng_bytes(6144))

for name, v in (("inf", float("inf")), ("nan", float("nan")), ("0.1", 0.1)):
    seed("http_api", "float-" + name, struct.pack("<d", v))

# ---- decrypt: byte 0 = flags (ring changes, see fuzz_decrypt.c), payload ----
for b in (0, 2, 4, 8, 16, 31):
    seed("decrypt", "ops-%d" % b, bytes([b]) + b"hello-keyring" * 3)


def main(argv):
    out = os.path.join(ROOT, "fuzz", "corpus")
    args = argv[1:]
    if args[:1] == ["--out"]:
        out, args = args[1], args[2:]
    targets = args or sorted(SEEDS)
    for t in targets:
        if t in SCRATCH_ONLY and out == os.path.join(ROOT, "fuzz", "corpus"):
            print(f"{t}: skipped (write it with --out DIR and merge, see above)")
            continue
        d = os.path.join(out, t)
        os.makedirs(d, exist_ok=True)
        for name, data in SEEDS.get(t, []):
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
        print(f"{t}: {len(SEEDS.get(t, []))} seeds")


if __name__ == "__main__":
    main(sys.argv)
