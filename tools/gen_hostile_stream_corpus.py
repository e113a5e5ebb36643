#!/usr/bin/env python3
"""Writes the hostile TCP-stream inputs of issue 8 into
fuzz/corpus/memberlist_stream/hostile_* (format of fuzz_memberlist_stream:
a control byte -- bit 0 direction, 0 = a peer connects to us; bits 1..7 the
segment size -- then the bytes the peer sends). The UDP ones come from
`bench_packet_budget --dump fuzz/corpus/packet`.

Usage: tools/gen_hostile_stream_corpus.py [SOURCE_DIR]
"""
import os
import struct
import sys


def lzw_bomb(repeats):
    """Go-LZW stream: clear, 'a', then codes 258..4095 each extending a..a,
    then `repeats` times the longest code, then EOF (as tests/support's)."""
    out, bits, nbits, width = bytearray(), 0, 0, 9

    def put(code):
        nonlocal bits, nbits
        bits |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8

    put(256)
    put(ord("a"))
    hi = 258
    while hi < 4096:
        put(hi)
        hi += 1
        if hi < 4096 and hi == (1 << width):
            width += 1
    for _ in range(repeats):
        put(4095)
    put(257)
    if nbits:
        out.append(bits & 0xFF)
    return bytes(out)


def mp_str(s):
    b = s.encode()
    return bytes([0xA0 | len(b)]) + b


def mp_map(items):
    out = bytes([0x80 | len(items)])
    for k, v in items:
        out += mp_str(k) + v
    return out


def u32(n):
    return b"\xce" + struct.pack(">I", n)


def compress(buf):
    return b"\x09" + mp_map([("Algo", b"\x00"), ("Buf", b"\xc6" + struct.pack(">I", len(buf)) + buf)])


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    d = os.path.join(root, "fuzz", "corpus", "memberlist_stream")
    seg = 127 << 1  # large segments; direction 0 (inbound)
    inputs = {
        # A user message announcing 20 MB, then 4 KB of it.
        "user_20mb_truncated": b"\x08" + mp_map([("UserMsgLen", u32(20_000_000))]) + b"u" * 4096,
        # A user message announcing more than memberlist accepts.
        "user_too_long": b"\x08" + mp_map([("UserMsgLen", u32(0xFFFFFFFF))]),
        # A push/pull header announcing 4 billion nodes.
        "pushpull_huge_nodes": b"\x06"
        + mp_map([("Join", b"\xc3"), ("Nodes", u32(0xFFFFFFFF)), ("UserStateLen", b"\x00")]),
        # A push/pull header announcing 20 MB of user state, none sent.
        "pushpull_user_state_20mb": b"\x06"
        + mp_map([("Join", b"\xc2"), ("Nodes", b"\x00"), ("UserStateLen", u32(20_000_000))]),
        # An encrypted frame announcing 20 MiB (we have no keyring).
        "encrypted_20mib_frame": b"\x0a" + struct.pack(">I", 20 * 1024 * 1024) + b"e" * 1024,
        # An encrypted frame announcing more than the cap.
        "encrypted_too_big": b"\x0a" + struct.pack(">I", 0xFFFFFFFF),
        # An LZW bomb expanding past the 20 MiB stream cap (~64 KB of input).
        "compress_bomb_over_cap": compress(lzw_bomb(40000)),
        # A compress inside a compress inside a compress.
        "nested_compress": compress(compress(compress(b"\x08" + mp_map([("UserMsgLen", b"\x01")]) + b"x"))),
        # A msgpack str declaring 4 GiB inside a ping.
        "ping_huge_str": b"\x00" + b"\x81" + mp_str("Node") + b"\xdb\xff\xff\xff\xff",
        # Deeply nested arrays.
        "deep_nesting": b"\x00" + b"\x91" * 5000,
        # Garbage type byte followed by noise.
        "garbage": bytes([0xEE]) + bytes((i * 131 + 17) & 0xFF for i in range(8192)),
        # Nothing after the type byte: the peer closes mid-message.
        "type_only": b"\x06",
    }
    for name, data in inputs.items():
        with open(os.path.join(d, "hostile_" + name), "wb") as f:
            f.write(bytes([seg]) + data)
    print(f"wrote {len(inputs)} files to {d}")


if __name__ == "__main__":
    main()
