#!/usr/bin/env python3
"""Makes COUNT connection attempts to 127.0.0.1:PORT as fast as it can (non-blocking connects
from source addresses 127.0.0.FIRST and up, 10,000 each), sends a request on each that
connects, holds them HOLD seconds, then closes them all and reports what happened:

    flood.py PORT COUNT [HOLD] [FIRST]

Prints one line: attempts, connected (as far as the client's kernel knows), answered, and
refused/failed. Used by scripts/admission.sh to push a server past its connection limit."""
import errno
import selectors
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
hold = float(sys.argv[3]) if len(sys.argv) > 3 else 5
first = int(sys.argv[4]) if len(sys.argv) > 4 else 10
request = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
selector = selectors.DefaultSelector()
sockets, failed = [], 0
start = time.monotonic()
for i in range(count):
    s = socket.socket()
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
    s.bind((f"127.0.0.{first + i // 10000}", 0))
    rc = s.connect_ex(("127.0.0.1", port))
    if rc not in (0, errno.EINPROGRESS):
        failed += 1
        s.close()
        continue
    selector.register(s, selectors.EVENT_WRITE, "connecting")
    sockets.append(s)
connected = answered = 0
end = time.monotonic() + hold
while time.monotonic() < end:
    for key, events in selector.select(timeout=0.2):
        s = key.fileobj
        if key.data == "connecting":
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                failed += 1
                selector.unregister(s)
                continue
            connected += 1
            try:
                s.send(request)
            except OSError:
                pass
            selector.modify(s, selectors.EVENT_READ, "waiting")
        else:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 "):
                answered += 1
            selector.unregister(s)
for s in sockets:
    s.close()
print(f"attempts {count} connected {connected} answered {answered} failed {failed} "
      f"in {time.monotonic() - start:.1f} s", flush=True)
