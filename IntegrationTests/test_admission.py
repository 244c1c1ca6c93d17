"""Admission control and slow clients with real peers: the connection limit (clients wait in
the backlog, then are served), the new-connection rate, 429 with Retry-After per client
address, and slowhttptest's slow-body and slow-read attacks cut within the grace period plus
the rate window while normal clients are served."""
import http.client
import os
import socket
import subprocess
import threading
import time

import requests

from conftest import GustServer, RawReader, connect, get


def open_sockets(pid):
    """Sockets the server process holds (listeners included)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def test_past_the_connection_limit_clients_wait_in_the_backlog_and_are_then_served():
    s = GustServer("--reactors", "1", "--max-connections", "4").start()
    try:
        held = []
        for _ in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            conn.request("GET", "/plaintext")
            assert conn.getresponse().read() == b"Hello, World!"
            held.append(conn)
        waiting = connect(s.port)  # the kernel completes the handshake: it waits in the backlog
        waiting.sendall(get("/plaintext"))
        waiting.settimeout(0.5)
        try:
            data = waiting.recv(100)
            assert False, f"served past the limit: {data!r}"
        except socket.timeout:
            pass
        held[0].close()
        waiting.settimeout(10)
        r = RawReader(waiting).response()
        assert r.status == 200 and r.body == b"Hello, World!"
        # The others are still served, the process is alive, and it logged the limit.
        held[1].request("GET", "/plaintext")
        assert held[1].getresponse().status == 200
    finally:
        _, err = s.stop()
    assert "connection limit reached" in err


def test_the_new_connection_rate_spaces_accepts_out():
    s = GustServer("--reactors", "1", "--connection-rate", "10:2").start()
    try:
        start = time.monotonic()
        for _ in range(6):
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            conn.request("GET", "/plaintext")
            assert conn.getresponse().status == 200
            conn.close()
        elapsed = time.monotonic() - start
        assert elapsed >= 0.35, f"6 connections in {elapsed:.3f} s at 10/s with a burst of 2"
    finally:
        s.stop()


def test_a_client_over_its_request_rate_gets_429_and_others_do_not():
    s = GustServer("--reactors", "2", "--client-request-rate", "1:5").start()
    try:
        session = requests.Session()
        statuses = [session.get(s.url + "/plaintext").status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:], statuses
        r = session.get(s.url + "/json")
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert "Too Many Requests" in r.text
        # Another address is a different client.
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=("127.0.0.2", 0))
        conn.request("GET", "/plaintext")
        assert conn.getresponse().status == 200
        # curl from the first address shares its bucket.
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", s.url + "/plaintext"],
                             capture_output=True, text=True, timeout=10)
        assert out.stdout == "429"
    finally:
        _, err = s.stop()
    assert "client over its request rate" in err and "127.0.0.1" in err


def test_a_trickling_body_gets_408_naming_the_rate():
    s = GustServer("--reactors", "1", "--min-body-rate", "1000", "--min-rate-grace", "500ms").start()
    try:
        sock = connect(s.port)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        sock.setblocking(False)
        start = time.monotonic()
        got = b""
        while time.monotonic() - start < 5 and not got:
            try:
                sock.send(b"x" * 10)  # 200 bytes/s
            except OSError:
                pass
            time.sleep(0.05)
            try:
                got = sock.recv(4096)
            except BlockingIOError:
                pass
        elapsed = time.monotonic() - start
        assert got.startswith(b"HTTP/1.1 408"), got
        assert b"slower than 1000 bytes/s" in got
        assert elapsed < 3, f"cut after {elapsed:.2f} s"
    finally:
        s.stop()


def slowhttptest(args, seconds):
    return subprocess.Popen(["slowhttptest", *args, "-l", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def watch_connections(pid, baseline, seconds):
    """Samples the server's sockets beyond `baseline` every 0.2 s: (peak, seconds until back
    to at most 1 beyond it, once the attack had got going: 50 or more)."""
    peak, start, back = 0, time.monotonic(), None
    while time.monotonic() - start < seconds:
        extra = open_sockets(pid) - baseline
        peak = max(peak, extra)
        if peak >= 50 and extra <= 1 and back is None:
            back = time.monotonic() - start
            break
        time.sleep(0.2)
    return peak, back


def test_slowhttptest_slow_bodies_are_cut_and_normal_clients_served():
    s = GustServer("--reactors", "2", "--min-rate-grace", "1s").start()
    try:
        baseline = open_sockets(s.proc.pid)
        attack = slowhttptest(["-B", "-c", "200", "-r", "200", "-i", "1", "-s", "100000", "-t", "POST",
                               "-u", s.url + "/echo", "-x", "10"], seconds=20)
        try:
            ok = []
            t = threading.Thread(target=lambda: ok.extend(
                requests.get(s.url + "/plaintext", timeout=5).status_code for _ in range(20)))
            t.start()
            peak, back = watch_connections(s.proc.pid, baseline, seconds=12)
            t.join()
        finally:
            attack.kill()
            attack.wait()
        print(f"peak {peak} connections, back to baseline after {back} s")
        assert peak >= 50, f"the attack never got going: peak {peak} connections"
        # 200 connections opened over ~1 s, each cut 1 s grace + its trickle's credit later.
        assert back is not None and back < 8, f"slow bodies still held after 12 s (peak {peak})"
        assert ok == [200] * 20
    finally:
        s.stop()


def test_slowhttptest_slow_readers_are_cut_and_freed(tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(4 << 20))
    s = GustServer("--reactors", "2", "--min-rate-grace", "1s", "--static-dir", str(tmp_path)).start()
    try:
        baseline = open_sockets(s.proc.pid)
        attack = slowhttptest(["-X", "-c", "200", "-r", "200", "-w", "512", "-y", "1024", "-n", "5", "-z", "32",
                               "-k", "3", "-u", s.url + "/static/big.bin"], seconds=20)
        try:
            peak, back = watch_connections(s.proc.pid, baseline, seconds=12)
            assert requests.get(s.url + "/plaintext", timeout=5).status_code == 200
        finally:
            attack.kill()
            attack.wait()
        print(f"peak {peak} connections, back to baseline after {back} s")
        assert peak >= 50, f"the attack never got going: peak {peak} connections"
        assert back is not None and back < 8, f"slow readers still held after 12 s (peak {peak})"
    finally:
        s.stop()
