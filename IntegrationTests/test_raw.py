"""The server over raw sockets: pipelining, malformed input, clients that misbehave."""
import socket
import time

import pytest

from conftest import RawReader, connect, get


def test_pipelined_requests_all_answered_in_order(server):
    sock = connect(server.port)
    paths = ["/plaintext", "/json", "/"] * 40
    sock.sendall(b"".join(get(p) for p in paths))
    reader = RawReader(sock)
    for p in paths:
        r = reader.response()
        assert r.status == 200
        if p == "/plaintext":
            assert r.body == b"Hello, World!"
        elif p == "/json":
            assert r.body == b'{"message":"Hello, World!"}'


def test_pipelined_responses_arrive_together(server):
    """Responses to one batch go out in one write: the first recv holds all of them."""
    sock = connect(server.port)
    sock.sendall(get("/plaintext") * 16)
    time.sleep(0.3)
    first = sock.recv(1 << 20)
    assert first.count(b"Hello, World!") == 16


def test_requests_split_across_packets(server):
    sock = connect(server.port)
    data = get("/plaintext") + b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789" + get("/json")
    for i in range(0, len(data), 3):
        sock.sendall(data[i:i + 3])
        time.sleep(0.002)
    reader = RawReader(sock)
    assert reader.response().body == b"Hello, World!"
    assert reader.response().body == b"0123456789"
    assert reader.response().body == b'{"message":"Hello, World!"}'


BAD = [
    ("malformed request line", b"GET /plaintext\r\nHost: t\r\n\r\n", 400),
    ("lowercase protocol", b"GET / http/1.1\r\nHost: t\r\n\r\n", 400),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("bare LF line endings", b"GET / HTTP/1.1\nHost: t\n\n", 400),
    ("header without colon", b"GET / HTTP/1.1\r\nHost: t\r\nBroken\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    ("obsolete line folding", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n\r\n", 400),
    ("NUL in a header value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
    ("missing Host", b"GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400),
    ("duplicate Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("Content-Length and Transfer-Encoding", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two Content-Lengths", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd", 400),
    ("negative Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -4\r\n\r\n", 400),
    ("gzip before chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("final coding not chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
    ("bad chunk size", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4x\r\nabcd\r\n0\r\n\r\n", 400),
    ("URI too long", b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    ("header section too large", b"GET / HTTP/1.1\r\nHost: t\r\nCookie: " + b"c" * 600 + b"\r\n\r\n", 431),
    ("too many headers", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(12)) + b"\r\n", 431),
    ("body too large", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413),
]


@pytest.mark.parametrize("name,data,status", BAD, ids=[b[0] for b in BAD])
def test_bad_input_answered_and_closed(small_limits_server, name, data, status):
    bystander = connect(small_limits_server.port)
    bystander_reader = RawReader(bystander)
    sock = connect(small_limits_server.port)
    sock.sendall(data + get("/plaintext"))
    reader = RawReader(sock)
    r = reader.response()
    assert r.status == status, f"{name}: {r.status} {r.body!r}"
    assert r.header("Connection") == "close"
    rest = reader.until_closed()
    assert b"Hello, World!" not in rest, "nothing after the bad bytes is handled"
    bystander.sendall(get("/plaintext"))
    assert bystander_reader.response().body == b"Hello, World!", "other clients are unaffected"


def test_vanishing_clients_leave_the_server_serving(server):
    for partial in [b"GET /plaintext HTTP/1.1\r\nHo", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc",
                    get("/delay?ms=2000"), b"\x16\x03\x01\x02\x00"]:
        s = connect(server.port)
        s.sendall(partial)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # reset
    sock = connect(server.port)
    sock.sendall(get("/plaintext"))
    assert RawReader(sock).response().body == b"Hello, World!"


def test_client_that_stops_reading_does_not_stall_others(server):
    hog = connect(server.port)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"z" * 1000000)
    other = connect(server.port)
    reader = RawReader(other)
    for _ in range(50):
        other.sendall(get("/json"))
        assert reader.response().status == 200
    got = RawReader(hog).response()
    assert got.body == b"z" * 1000000


def test_many_idle_connections_then_traffic(server):
    idle = [connect(server.port) for _ in range(1000)]
    for s in idle[::10]:
        s.sendall(get("/plaintext"))
    for s in idle[::10]:
        assert RawReader(s).response().body == b"Hello, World!"
    sock = connect(server.port)
    sock.sendall(get("/json"))
    assert RawReader(sock).response().status == 200
    for s in idle:
        s.close()
