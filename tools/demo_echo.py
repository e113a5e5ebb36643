#!/usr/bin/env python3
"""A tiny TCP echo service for `make demo` and the proxy interop test.

    demo_echo.py PORT NAME

Listens on 127.0.0.1:PORT; every line a client sends comes back prefixed
with NAME ("s1.dc2 req 7"), so the client sees which server answered.
SIGUSR1 toggles accepting: the listener closes (new connects are refused)
while open connections keep being served, and the next SIGUSR1 listens
again. Standard library only.
"""
import signal
import socket
import sys
import threading
import time

PORT, NAME = int(sys.argv[1]), sys.argv[2].encode()
paused = False


def toggle(*_):
    global paused
    paused = not paused


def handle(c):
    with c, c.makefile("rb") as r:
        for line in r:
            c.sendall(NAME + b" " + line)


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", PORT))
    s.listen(64)
    s.settimeout(0.05)
    return s


signal.signal(signal.SIGUSR1, toggle)
ls = listen()
while True:
    if paused and ls is not None:
        ls.close()
        ls = None
    if not paused and ls is None:
        ls = listen()
    if ls is None:
        time.sleep(0.05)
        continue
    try:
        c, _ = ls.accept()
    except (socket.timeout, InterruptedError):
        continue
    c.settimeout(None)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
