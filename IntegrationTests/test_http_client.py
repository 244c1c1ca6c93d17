"""The server against Python's http.client."""
import http.client
import os


def test_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sockets = set()
    for i in range(200):
        path = ["/plaintext", "/json", "/"][i % 3]
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200 and body
        sockets.add(id(conn.sock))
    assert len(sockets) == 1, "one connection carried every request"
    conn.close()


def test_echo_large_body(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    body = os.urandom(1024 * 1024)
    conn.request("POST", "/echo", body=body, headers={"Content-Type": "application/x-test"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "application/x-test"
    assert r.read() == body
    conn.request("POST", "/echo", body=b"")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b""


def test_body_over_the_limit_is_413(small_limits_server):
    conn = http.client.HTTPConnection("127.0.0.1", small_limits_server.port, timeout=10)
    conn.request("POST", "/echo", body=b"x" * 1001)
    r = conn.getresponse()
    assert r.status == 413 and r.getheader("Connection") == "close"
    r.read()


def test_chunked_request_body_is_decoded(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/echo", body=iter([b"abc", b"def", b"x" * 5000]), encode_chunked=True,
                 headers={"Content-Type": "text/plain"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.read() == b"abcdef" + b"x" * 5000
    # The connection stays usable.
    conn.request("GET", "/plaintext")
    assert conn.getresponse().read() == b"Hello, World!"


def test_unsupported_transfer_coding_is_501_and_closes(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/echo")
    conn.putheader("Transfer-Encoding", "gzip, chunked")
    conn.endheaders()
    conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    assert r.status == 501
    assert r.getheader("Connection") == "close"
    assert b"unsupported transfer coding" in r.read()


def test_unknown_route_and_method(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/nope")
    r = conn.getresponse()
    assert r.status == 404
    r.read()
    conn.request("PUT", "/json", body=b"{}")
    r = conn.getresponse()
    assert r.status == 405 and r.getheader("Allow") == "GET, HEAD"
    r.read()
    conn.request("GET", "/plaintext")
    assert conn.getresponse().read() == b"Hello, World!"
