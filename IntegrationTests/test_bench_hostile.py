"""`gust bench` against servers that misbehave: it measures them (counts the error, reconnects,
times out) and always finishes on time with a report, never hangs or crashes."""
import json
import socket
import threading
import time

from test_bench import bench


class RawServer:
    """A TCP server on 127.0.0.1 whose per-connection behaviour is `handle(conn)` (one thread each)."""

    def __init__(self, handle):
        self.handle = handle
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopped = False
        threading.Thread(target=self.loop, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/x"

    def loop(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.run, args=(conn,), daemon=True).start()

    def run(self, conn):
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopped = True
        self.sock.close()


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data


def timed_bench(*args, budget):
    started = time.monotonic()
    r = bench(*args, "--json", "--quiet", timeout=budget + 20)
    elapsed = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert elapsed < budget, f"took {elapsed:.1f}s"
    return json.loads(r.stdout)


def test_garbage_responses_count_as_malformed_and_reconnect():
    def garbage(conn):
        while read_request(conn):
            conn.sendall(b"SMTP ready, not HTTP\r\n\r\n")
    s = RawServer(garbage)
    try:
        report = timed_bench(s.url, "-c", "2", "-d", "1s", budget=10)
    finally:
        s.close()
    assert report["requests"] == 0
    assert report["errors"]["malformed"] > 10
    assert report["errors"]["malformed"] == report["errors"]["total"]
    assert report["connections_opened"] > 10  # a connection that spoke garbage is not reused


def test_stalled_requests_time_out_and_the_run_ends_on_time():
    def stall(conn):
        read_request(conn)
        time.sleep(30)
    s = RawServer(stall)
    try:
        report = timed_bench(s.url, "-c", "3", "-d", "1s", "--timeout", "200ms", budget=6)
    finally:
        s.close()
    assert report["requests"] == 0
    # Each connection times out every ~200 ms (sweeps every 10 ms) and is opened again.
    assert report["errors"]["timeout"] >= 3 * 3
    assert report["connections_opened"] >= 3 * 3


def test_a_server_that_closes_after_each_response_is_followed():
    def one_and_close(conn):
        if read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    s = RawServer(one_and_close)
    try:
        report = timed_bench(s.url, "-c", "2", "-n", "200", budget=20)
    finally:
        s.close()
    assert report["requests"] == 200
    assert report["status"] == {"200": 200}
    assert report["errors"]["total"] == 0
    assert 200 <= report["connections_opened"] <= 202


def test_a_server_that_hangs_up_without_answering_is_a_read_error():
    def hang_up(conn):
        read_request(conn)
    s = RawServer(hang_up)
    try:
        report = timed_bench(s.url, "-c", "2", "-d", "1s", budget=10)
    finally:
        s.close()
    assert report["requests"] == 0
    assert report["errors"]["read"] > 10
    assert report["errors"]["read"] == report["errors"]["total"]


def test_a_response_split_byte_by_byte_is_framed():
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: " + b"p" * 100 + b"\r\n\r\nhello"

    def dribble(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while read_request(conn):
            for k in range(len(response)):
                conn.sendall(response[k:k + 1])
    s = RawServer(dribble)
    try:
        report = timed_bench(s.url, "-c", "2", "-n", "20", budget=20)
    finally:
        s.close()
    assert report["requests"] == 20
    assert report["errors"]["total"] == 0
    assert report["bytes_in"] == 20 * len(response)


def python_http_server(protocol, with_length):
    """Python's own http.server in a thread: HTTP/1.0 (a connection per request) or HTTP/1.1."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def do_GET(self):
            body = b"hello from http.server\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if with_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_against_python_http_server_keep_alive():
    httpd = python_http_server("HTTP/1.1", with_length=True)
    try:
        report = timed_bench(f"http://127.0.0.1:{httpd.server_port}/", "-c", "4", "-n", "400", budget=30)
    finally:
        httpd.shutdown()
    assert report["requests"] == 400
    assert report["status"] == {"200": 400}
    assert report["errors"]["total"] == 0
    assert report["connections_opened"] == 4


def test_against_python_http_server_http10_body_until_close():
    # HTTP/1.0 responses without Content-Length: the body runs until the server closes.
    httpd = python_http_server("HTTP/1.0", with_length=False)
    try:
        report = timed_bench(f"http://127.0.0.1:{httpd.server_port}/", "-c", "2", "-n", "100", budget=30)
    finally:
        httpd.shutdown()
    assert report["requests"] == 100
    assert report["status"] == {"200": 100}
    assert report["errors"]["total"] == 0
    assert 100 <= report["connections_opened"] <= 102


class CountingServer(RawServer):
    """Keep-alive HTTP/1.1 server that records each connection's peer address and accept time,
    and counts the requests it answers."""

    def __init__(self):
        self.peers = []
        self.accept_times = []
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__(self.serve)

    def loop(self):
        while not self.stopped:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.peers.append(peer[0])
                self.accept_times.append(time.monotonic())
            threading.Thread(target=self.run, args=(conn,), daemon=True).start()

    def serve(self, conn):
        while read_request(conn):
            with self.lock:
                self.requests += 1
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_source_addresses_are_used_round_robin():
    s = CountingServer()
    try:
        report = timed_bench(s.url, "-c", "6", "-n", "60", "--source", "127.0.0.2-127.0.0.4", budget=20)
    finally:
        s.close()
    assert report["requests"] == 60
    # Two connections per source, plus the reachability probe made before the run (from the first).
    assert sorted(s.peers) == ["127.0.0.2"] * 3 + ["127.0.0.3"] * 2 + ["127.0.0.4"] * 2


def test_connect_rate_paces_connection_setup():
    s = CountingServer()
    try:
        # 10 connections at 20 per second: the last one opens about 450 ms after the first.
        report = timed_bench(s.url, "-c", "10", "-d", "1s", "--connect-rate", "20", budget=10)
    finally:
        s.close()
    assert report["connections_opened"] == 10
    spread = s.accept_times[-1] - s.accept_times[0]
    assert 0.35 < spread < 0.9, spread


def test_warmup_is_not_counted():
    s = CountingServer()
    try:
        report = timed_bench(s.url, "-c", "2", "-d", "1s", "--warmup", "1s", budget=10)
    finally:
        s.close()
    assert report["duration_s"] == 1
    assert report["requests"] > 0
    # The server answered the warm-up's requests too; the report holds only the measured second.
    assert s.requests > report["requests"] * 1.3, (s.requests, report["requests"])
