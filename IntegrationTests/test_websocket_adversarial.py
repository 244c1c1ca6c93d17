"""Hostile upgrade requests and frames against `gust serve`: each must be refused or answered
as RFC 6455 says, and the server must keep serving (never crash)."""
import signal
import socket
import time

import pytest

from conftest import GustServer
from wsraw import expect_close, frame, handshake, read_frame

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


@pytest.fixture
def ws_server():
    s = GustServer("--reactors", "1").start()
    yield s
    s.stop()  # checks a clean exit: a crash fails the test here


def raw_exchange(port, request, timeout=3):
    """Sends `request`; returns what comes back until the server closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(request)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    s.close()
    return got


def assert_still_serving(server):
    s, _ = handshake(server.port)
    s.sendall(frame(TEXT, "still here"))
    assert read_frame(s) == (True, TEXT, b"still here")
    s.close()


def test_an_http_1_0_upgrade_request_is_refused_not_a_crash(ws_server):
    got = raw_exchange(ws_server.port, (
        "GET /ws/echo HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert got.startswith(b"HTTP/1.") and b" 101 " not in got.split(b"\r\n")[0], got[:200]
    assert ws_server.proc.poll() is None, "the server crashed"
    assert_still_serving(ws_server)


def test_every_byte_alone_with_pings_between_fragments_and_data_after_close(ws_server):
    s, _ = handshake(ws_server.port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    text = "añ€😀".encode()  # a character split across fragments, and across reads
    stream = (frame(TEXT, text[:2], fin=False) + frame(PING, b"p1") + frame(CONT, text[2:5], fin=False)
              + frame(PONG, b"") + frame(PING, b"") + frame(CONT, text[5:], fin=True))
    for b in stream:
        s.sendall(bytes([b]))
    got = [read_frame(s) for _ in range(3)]
    assert got == [(True, PONG, b"p1"), (True, PONG, b""), (True, TEXT, text)], got
    s.sendall(frame(CLOSE, b"\x03\xe8") + frame(TEXT, "after close") + frame(PING, b"x"))
    assert read_frame(s) == (True, CLOSE, b"\x03\xe8"), "nothing answered after the close frame"
    s.settimeout(3)
    try:
        assert s.recv(100) == b""
    except ConnectionResetError:
        pass  # what came after the close frame may be left unread: a reset, nothing answered
    s.close()
    assert_still_serving(ws_server)


def test_graceful_shutdown_with_websockets_in_every_state():
    """Open, a non-reading subscriber with output backed up, an async handler behind with its
    connection paused, a connection failed and lingering, one mid-frame, one whose close we
    sent and the client ignores: the server stops within its closeTimeout, cleanly."""
    server = GustServer("--reactors", "2", "--ws-max-queued", "10000000").start()
    port = server.port
    socks = []
    try:
        idle, _ = handshake(port)
        socks.append(idle)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", port))
        slow.sendall(f"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        time.sleep(0.2)
        for _ in range(40):  # echoes it never reads: the server's output backs up
            slow.sendall(frame(BINARY, b"z" * 60000))
        socks.append(slow)
        paused, _ = handshake(port, "/ws/async/echo?delay=10000")
        for _ in range(100):
            paused.sendall(frame(TEXT, "wait"))
        socks.append(paused)
        failed, _ = handshake(port)
        failed.sendall(frame(TEXT, "x", mask=False))  # 1002, then it lingers: we never close
        socks.append(failed)
        partial, _ = handshake(port)
        partial.sendall(frame(TEXT, "half a frame")[:7])
        socks.append(partial)
        time.sleep(0.3)
        start = time.time()
        server.proc.send_signal(signal.SIGTERM)
        out, err = server.proc.communicate(timeout=20)
        assert server.proc.returncode == 0, err
        assert "gust: stopped" in out
        assert time.time() - start < 10, "closeTimeout is 5 s"
    finally:
        for s in socks:
            s.close()
        if server.proc.poll() is None:
            server.proc.kill()
