#!/usr/bin/env python3
"""Capture real Serf agent RPC replies as seed corpus / test vectors.

Starts two `serf agent` processes on 127.0.0.1 (ports 17900-17911), joins
them, then speaks the IPC protocol by hand (a tiny msgpack encoder, no
third-party modules) and writes the raw bytes the agent sent back for each
request to OUTDIR/<name>.bin:

  handshake, members, members-filtered, stats, get-coordinate (known and
  unknown node), join, stream (ack + a member-join/user records), stop,
  auth-required (agent with rpc_auth, no auth sent; also after a request
  with a body, which the agent answers twice), bad-auth.

Usage: tools/capture_serfrpc.py OUTDIR
Every process it starts is stopped by PID before it exits.
"""
import os, signal, socket, struct, subprocess, sys, tempfile, time

def enc(v):
    if v is None: return b'\xc0'
    if v is True: return b'\xc3'
    if v is False: return b'\xc2'
    if isinstance(v, int):
        if v < 128: return bytes([v])
        if v < 256: return b'\xcc' + bytes([v])
        if v < 65536: return b'\xcd' + struct.pack('>H', v)
        return b'\xcf' + struct.pack('>Q', v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32: return bytes([0xa0 | len(b)]) + b
        return b'\xd9' + bytes([len(b)]) + b
    if isinstance(v, bytes): return b'\xc4' + bytes([len(v)]) + v
    if isinstance(v, list): return bytes([0x90 | len(v)]) + b''.join(enc(x) for x in v)
    if isinstance(v, dict):
        out = bytes([0x80 | len(v)])
        for k in sorted(v): out += enc(k) + enc(v[k])
        return out
    raise TypeError(v)

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=5)
        self.seq = 0
    def send(self, cmd, body=None):
        self.seq += 1
        data = enc({'Command': cmd, 'Seq': self.seq})
        if body is not None: data += enc(body)
        self.s.sendall(data)
        return self.seq
    def drain(self, wait=0.5):
        self.s.settimeout(wait)
        out = b''
        try:
            while True:
                b = self.s.recv(65536)
                if not b: break
                out += b
        except socket.timeout:
            pass
        return out

def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp()
    procs = []
    def agent(name, bind, rpc, *extra):
        p = subprocess.Popen(['serf', 'agent', '-node=' + name, '-bind=127.0.0.1:%d' % bind,
                              '-rpc-addr=127.0.0.1:%d' % rpc, '-profile=local',
                              '-tag', 'role=consul', '-tag', 'dc=dc1', '-tag', 'port=%d' % (bind + 100),
                              '-tag', 'vsn=2', '-tag', 'build=1.2.3:abc'] + list(extra),
                             stdout=open(os.path.join(tmp, name + '.log'), 'w'), stderr=subprocess.STDOUT)
        procs.append(p)
        return p
    try:
        agent('s1.dc1', 17900, 17901)
        agent('s2.dc1', 17902, 17903, '-join=127.0.0.1:17900')
        # The agent has no -rpc-auth flag: the key comes from a config file.
        cfg = os.path.join(tmp, 'auth.json')
        with open(cfg, 'w') as f: f.write('{"rpc_auth": "sekrit"}')
        agent('auth.dc1', 17904, 17905, '-config-file=' + cfg)
        time.sleep(2.5)
        def save(name, data):
            with open(os.path.join(outdir, name + '.bin'), 'wb') as f: f.write(data)
            print('%-22s %5d bytes' % (name, len(data)))
        c = Conn(17901)
        c.send('handshake', {'Version': 1}); save('handshake', c.drain(0.3))
        c.send('members'); save('members', c.drain())
        c.send('members-filtered', {'Name': 's2.*', 'Status': '', 'Tags': {'role': 'consul'}})
        save('members_filtered', c.drain())
        c.send('stats'); save('stats', c.drain())
        c.send('get-coordinate', {'Node': 's2.dc1'}); save('coordinate', c.drain())
        c.send('get-coordinate', {'Node': 'nope'}); save('coordinate_unknown', c.drain())
        c.send('join', {'Existing': ['127.0.0.1:17902', '127.0.0.1:1'], 'Replay': False})
        save('join', c.drain(3.0))
        sseq = c.send('stream', {'Type': 'member-join,member-leave,member-failed,member-update,member-reap,user'})
        ack = c.drain(0.3)
        agent('s3.dc1', 17906, 17907, '-join=127.0.0.1:17900')
        time.sleep(2.0)
        subprocess.run(['serf', 'event', '-rpc-addr=127.0.0.1:17901', 'deploy', 'v1'], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(['serf', 'tags', '-rpc-addr=127.0.0.1:17907', '-set', 'extra=1'], check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(2.0)
        procs[-1].send_signal(signal.SIGKILL)
        time.sleep(5.0)
        save('stream', ack + c.drain(1.0))
        c.send('stop', {'Stop': sseq}); save('stop', c.drain(0.3))
        a = Conn(17905)
        a.send('handshake', {'Version': 1}); a.send('members'); save('auth_required', a.drain())
        # A request with a body before auth is answered twice (the agent
        # leaves the body unread and decodes it as the next header).
        a.send('get-coordinate', {'Node': 'x'}); save('auth_required_body', a.drain())
        a.send('auth', {'AuthKey': 'wrong'}); save('auth_bad', a.drain())
        n = Conn(17901)
        n.send('members'); save('handshake_required', n.drain())
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()

if __name__ == '__main__':
    main()
