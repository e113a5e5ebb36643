#!/usr/bin/env python3
"""A tiny TCP echo service for `make demo` and the proxy interop test.

    demo_echo.py PORT NAME

Listens on 127.0.0.1:PORT; every line a client sends comes back prefixed
with NAME ("s1.dc2 req 7"), so the client sees which server answered. A
connection that sends "hold" gets "NAME hold" and stays open (for a test
of a server dying mid-connection). Standard library only.
"""
import socketserver
import sys

PORT, NAME = int(sys.argv[1]), sys.argv[2].encode()


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(NAME + b" " + line)
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64


Server(("127.0.0.1", PORT), Echo).serve_forever()
