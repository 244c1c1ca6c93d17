#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on each and reads its
answer, then holds them all open and idle until stdin closes (or SECONDS pass).

    hold.py PORT N [SECONDS] [PATH]

Prints "held N" once every connection has its answer (scripts/compare.sh waits for that line
to measure the server's memory per idle connection). Connections come from 127.0.0.2 and up,
20,000 per source address, so counts past one address's ports work."""
import selectors
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3600
path = sys.argv[4] if len(sys.argv) > 4 else "/"
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
selector = selectors.DefaultSelector()
sockets = []
for i in range(count):
    s = socket.socket()
    # IP_BIND_ADDRESS_NO_PORT (24): the port is picked at connect, per destination, so earlier
    # runs' TIME_WAIT sockets on the same source address do not exhaust the ephemeral range.
    s.setsockopt(socket.IPPROTO_IP, 24, 1)
    s.bind((f"127.0.0.{2 + i // 20000}", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(request)
    s.setblocking(False)
    selector.register(s, selectors.EVENT_READ, bytearray())
    sockets.append(s)
waiting = set(sockets)
deadline = time.monotonic() + 60
while waiting and time.monotonic() < deadline:
    for key, _ in selector.select(timeout=1):
        data = key.fileobj.recv(65536)
        key.data.extend(data)
        if b"\r\n\r\n" in key.data and key.fileobj in waiting:
            waiting.discard(key.fileobj)
            selector.unregister(key.fileobj)
print(f"held {count - len(waiting)}", flush=True)
end = time.monotonic() + seconds
selector.register(sys.stdin, selectors.EVENT_READ)
while time.monotonic() < end:
    if selector.select(timeout=1) and not sys.stdin.read(1):
        break
