#!/usr/bin/env python3
"""split_pcap.py PCAP OUTDIR a=PORT,b=PORT,... [key=BASE64]

Splits a tcpdump capture of serf gossip on loopback into test vectors:
one file per UDP payload (udp-NNNN-<from>-<to>.bin, capture order) and one
file per TCP connection direction (tcp-NN-<from>-<to>.bin, the reassembled
byte stream), plus README.md describing the run. Only the standard library.
"""
import os
import struct
import sys

MAX_UDP = 150  # keep the first packets only: enough variety, small tree


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = '<'
    else:
        e = '>'
    linktype = struct.unpack(e + 'I', data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + 'IIII', data[off:off + 16])
        off += 16
        yield linktype, data[off:off + incl]
        off += incl


def ip_payload(linktype, frame):
    if linktype == 1:  # ethernet
        if struct.unpack('>H', frame[12:14])[0] != 0x0800:
            return None
        return frame[14:]
    if linktype == 113:  # linux cooked
        return frame[16:]
    if linktype == 101:  # raw ip
        return frame
    return None


def main():
    pcap, outdir, ports = sys.argv[1], sys.argv[2], sys.argv[3]
    note = sys.argv[4] if len(sys.argv) > 4 else ''
    names = {}
    for item in ports.split(','):
        n, p = item.split('=')
        names[int(p)] = n
    udp_n = 0
    udp_total = 0
    streams = {}  # (sport, dport, conn) -> {isn, segs}
    conn_ids = {}
    next_conn = 0
    for linktype, frame in read_pcap(pcap):
        ip = ip_payload(linktype, frame)
        if ip is None or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack('>H', ip[2:4])[0]
        proto = ip[9]
        seg = ip[ihl:total]
        if proto == 17:
            sport, dport = struct.unpack('>HH', seg[:4])
            payload = seg[8:]
            if sport not in names or dport not in names:
                continue
            udp_total += 1
            if udp_n >= MAX_UDP:
                continue
            fn = 'udp-%04d-%s-%s.bin' % (udp_n, names[sport], names[dport])
            with open(os.path.join(outdir, fn), 'wb') as f:
                f.write(payload)
            udp_n += 1
        elif proto == 6:
            sport, dport, seq = struct.unpack('>HHI', seg[:8])
            doff = (seg[12] >> 4) * 4
            flags = seg[13]
            payload = seg[doff:]
            conn = (min(sport, dport), max(sport, dport))
            if flags & 0x02 and not flags & 0x10:  # SYN: new connection
                conn_ids[conn] = next_conn
                next_conn += 1
            key = (sport, dport, conn_ids.get(conn, -1))
            st = streams.setdefault(key, {'isn': None, 'segs': {}})
            if flags & 0x02:
                st['isn'] = seq + 1
                continue
            if payload:
                st['segs'][seq] = payload
    # number connections in order of first appearance
    order = []
    for (sport, dport, cid) in streams:
        c = (min(sport, dport), max(sport, dport), cid)
        if c not in order:
            order.append(c)
    tcp_files = 0
    for (sport, dport, cid), st in streams.items():
        if not st['segs'] or st['isn'] is None:
            continue
        buf = bytearray()
        nxt = st['isn']
        for s in sorted(st['segs']):
            p = st['segs'][s]
            rel = (s - nxt) & 0xffffffff
            if rel > 0x7fffffff:  # retransmission overlapping what we have
                over = (nxt - s) & 0xffffffff
                p = p[over:]
            elif rel:
                break  # gap: stop at the hole
            buf += p
            nxt = (nxt + len(p)) & 0xffffffff
        lo_port = min(sport, dport)
        idx = order.index((min(sport, dport), max(sport, dport), cid))
        frm = names.get(sport, 'eph')
        to = names.get(dport, 'eph')
        fn = 'tcp-%02d-%s-%s.bin' % (idx, frm, to)
        with open(os.path.join(outdir, fn), 'wb') as f:
            f.write(bytes(buf))
        tcp_files += 1
    run = os.path.basename(os.path.normpath(outdir))
    with open(os.path.join(outdir, 'README.md'), 'w') as f:
        f.write('# serf 0.9.4 vectors: run `%s`\n\n' % run)
        f.write('Produced by `tools/capture_vectors.sh` (tcpdump on lo, split by\n'
                '`tools/split_pcap.py`). Three real `serf agent` processes a, b, c on\n'
                '127.0.0.1 (gossip ports %s), tags role=web/db/cache; joins, two user\n'
                'events (`deploy v1` coalescing, `hello world`), queries `uptime` and\n'
                '`who` (node + tag filter), then `serf leave` of b and SIGKILL of c.\n\n'
                % ', '.join('%s=%d' % (n, p) for p, n in sorted(names.items())))
        f.write('- `udp-NNNN-<from>-<to>.bin`: one UDP payload each, capture order '
                '(%d kept of %d seen).\n' % (udp_n, udp_total))
        f.write('- `tcp-NN-<from>-<to>.bin`: one reassembled TCP stream direction each '
                '(NN = connection; `eph` = the dialer\'s ephemeral port): %d files.\n'
                % tcp_files)
        if note.startswith('key='):
            f.write('\nEncrypted with the fixed public test key `%s` (base64; bytes\n'
                    '00..1f, AES-256-GCM). Never use it for anything real.\n' % note[4:])
    print('%s: %d udp (of %d), %d tcp' % (run, udp_n, udp_total, tcp_files))


if __name__ == '__main__':
    main()
