"""Graceful shutdown of `gust serve` on SIGTERM/SIGINT: requests under way finish (inline,
deferred, async and streamed), new connections are refused, idle ones close at once, a second
signal or the grace period ends the wait."""
import http.client
import signal
import socket
import threading
import time

import pytest

from conftest import GustServer, RawReader, connect, get


def fetch(port, path, results, key):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("GET", path)
        r = conn.getresponse()
        results[key] = (r.status, r.read())
    except Exception as e:  # noqa: BLE001 - the test looks at what happened
        results[key] = ("error", repr(e))


def start_requests(port, paths):
    results = {}
    threads = [threading.Thread(target=fetch, args=(port, p, results, p)) for p in paths]
    for t in threads:
        t.start()
    time.sleep(0.3)  # all under way
    return results, threads


def test_sigterm_lets_requests_under_way_finish_and_refuses_new_ones():
    s = GustServer("--reactors", "2").start()
    paths = ["/delay?ms=1500", "/async/delay?ms=1200", "/stream?n=5&ms=200", "/offload/sleep?ms=800"]
    results, threads = start_requests(s.port, paths)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", s.port), timeout=2)
    for t in threads:
        t.join(timeout=20)
    out, err = s.proc.communicate(timeout=20)
    assert s.proc.returncode == 0
    assert results["/delay?ms=1500"] == (200, b"waited 1500 ms\n")
    assert results["/async/delay?ms=1200"] == (200, b"waited 1200 ms\n")
    assert results["/offload/sleep?ms=800"] == (200, b"slept 800 ms on the pool\n")
    status, body = results["/stream?n=5&ms=200"]
    assert status == 200 and body.count(b"tick") == 5
    assert "gust: stopping: 4 connection(s) open" in out
    assert "4 connection(s) finished" in out and "gust: stopped" in out


def test_idle_keep_alive_connections_close_at_once():
    s = GustServer("--reactors", "1").start()
    sock = connect(s.port)
    sock.sendall(get("/plaintext"))
    assert RawReader(sock).response().body == b"Hello, World!"
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    sock.settimeout(5)
    assert sock.recv(100) == b""  # closed by the server, no wait
    out, _ = s.proc.communicate(timeout=20)
    assert s.proc.returncode == 0 and time.monotonic() - start < 3
    assert "0 connection(s) finished" in out


def test_a_second_signal_stops_at_once():
    s = GustServer("--reactors", "1").start()
    results, threads = start_requests(s.port, ["/delay?ms=8000"])
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    start = time.monotonic()
    s.proc.send_signal(signal.SIGINT)
    out, _ = s.proc.communicate(timeout=20)
    assert s.proc.returncode == 0 and time.monotonic() - start < 3
    assert "1 closed at the second signal" in out
    for t in threads:
        t.join(timeout=10)
    assert results["/delay?ms=8000"][0] == "error"


def test_the_grace_period_bounds_the_wait():
    s = GustServer("--reactors", "1", "--shutdown-grace", "300ms").start()
    results, threads = start_requests(s.port, ["/async/delay?ms=8000"])
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    out, _ = s.proc.communicate(timeout=20)
    assert s.proc.returncode == 0 and time.monotonic() - start < 3
    assert "1 closed at the end of the grace period" in out
    for t in threads:
        t.join(timeout=10)
