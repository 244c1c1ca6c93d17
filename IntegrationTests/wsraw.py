"""A raw WebSocket client on a socket, for sending what a real client never would: frames
built byte by byte (RFC 6455 §5.2), read back the same way."""
import base64
import os
import socket
import struct


def handshake(port, path="/ws/echo", extra="", timeout=10):
    """Opens a connection and upgrades it; returns the socket and the response head."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)  # byte by byte: nothing after the head is taken
        assert chunk, f"closed during the handshake: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return s, head.decode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, key=b"\x11\x22\x33\x44", length=None):
    """A frame; `length` overrides the length field (to lie about it)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    out = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        out += bytes([m | n])
    elif n <= 0xFFFF:
        out += bytes([m | 126]) + struct.pack("!H", n)
    else:
        out += bytes([m | 127]) + struct.pack("!Q", n)
    if mask:
        out += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return out + payload


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(s):
    """(fin, opcode, payload) of the next frame from the server (never masked)."""
    b0, b1 = recv_exactly(s, 2)
    assert b1 & 0x80 == 0, "a server frame must not be masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exactly(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exactly(s, 8))[0]
    return bool(b0 & 0x80), b0 & 0x0F, recv_exactly(s, n)


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def expect_close(s, code):
    """Reads until a close frame, checks its code, then expects the server to close TCP."""
    while True:
        fin, opcode, payload = read_frame(s)
        if opcode == 0x8:
            break
        assert opcode in (0x1, 0x2, 0x9, 0xA), f"unexpected opcode {opcode}"
    got = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    assert got == code, f"close code {got}, expected {code} ({payload[2:]!r})"
    s.settimeout(10)
    rest = b""
    while True:  # the server closes (after a failure, once we close too: it lingers)
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        rest += chunk
    return payload[2:]
