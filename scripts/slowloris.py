#!/usr/bin/env python3
"""Slowloris load for scripts/slowloris.sh: N connections that each send one byte of a request
head per second, never finishing it. Reports how the server ended each connection and when.

usage: slowloris.py PORT N [SOURCES]   (SOURCES: how many 127.0.0.x source addresses to spread over)
Prints one JSON line when every connection has been closed by the server (or after 120 s).
"""
import json
import selectors
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
sources = int(sys.argv[3]) if len(sys.argv) > 3 else 1
HEAD = b"GET /plaintext HTTP/1.1\r\nHost: slow\r\nX-Padding: " + b"p" * 200 + b"\r\n\r\n"

sel = selectors.DefaultSelector()
conns = []
opened = time.monotonic()
for i in range(n):
    s = socket.socket()
    s.bind((f"127.0.0.{2 + i % sources}", 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    c = {"sock": s, "sent": 0, "opened": time.monotonic(), "closed": None, "reply": b""}
    conns.append(c)
    sel.register(s, selectors.EVENT_READ, c)
    if i % 500 == 499:
        time.sleep(0.05)  # pace the connects so the backlog is not the thing measured
print(f"opened {n} in {time.monotonic() - opened:.1f}s", file=sys.stderr, flush=True)

deadline = time.monotonic() + 120
next_drip = time.monotonic()
open_count = n
while open_count and time.monotonic() < deadline:
    now = time.monotonic()
    if now >= next_drip:
        for c in conns:
            if c["closed"] is None and c["sent"] < len(HEAD) - 4:  # never the blank line
                try:
                    c["sock"].send(HEAD[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass  # closed: the read side will report it
        next_drip += 1.0
    for key, _ in sel.select(timeout=max(0.0, min(0.2, next_drip - time.monotonic()))):
        c = key.data
        try:
            data = c["sock"].recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if data:
            c["reply"] += data
            continue
        c["closed"] = time.monotonic()
        sel.unregister(c["sock"])
        c["sock"].close()
        open_count -= 1

lifetimes = sorted(c["closed"] - c["opened"] for c in conns if c["closed"] is not None)
got408 = sum(1 for c in conns if c["reply"].startswith(b"HTTP/1.1 408 "))
print(json.dumps({
    "connections": n,
    "closed_by_server": len(lifetimes),
    "answered_408": got408,
    "bytes_dripped_max": max(c["sent"] for c in conns),
    "lifetime_s": {"min": round(lifetimes[0], 2), "p50": round(lifetimes[len(lifetimes) // 2], 2),
                   "max": round(lifetimes[-1], 2)} if lifetimes else None,
}), flush=True)
