"""Fixtures: a real `gust serve` process on a free port, and small helpers for raw HTTP."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUST = os.environ.get("GUST_BIN", os.path.join(ROOT, ".build", "debug", "gust"))


class GustServer:
    """A `gust serve` process. Start with `start()`; `stop()` sends SIGTERM and checks a clean exit."""

    def __init__(self, *args):
        self.args = list(args)
        self.proc = None
        self.port = None

    def start(self):
        assert os.path.exists(GUST), f"build gust first: {GUST} is missing"
        self.proc = subprocess.Popen(
            [GUST, "serve", "--port", "0", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, f"unexpected first line: {line!r} (stderr: {self.proc.stderr.read() if self.proc.poll() is not None else ''})"
        self.port = int(match.group(1))
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}: {err}"
        assert "gust: stopped" in out
        return out, err


@pytest.fixture
def server():
    s = GustServer("--reactors", "2").start()
    yield s
    s.stop()


@pytest.fixture
def small_limits_server():
    s = GustServer("--reactors", "1", "--max-request-line", "256", "--max-header-bytes", "512",
                   "--max-headers", "10", "--max-body", "1000").start()
    yield s
    s.stop()


def connect(port, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason, self.headers, self.body = version, status, reason, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class RawReader:
    """Reads Content-Length framed responses off a socket, keeping any extra bytes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed with {len(self.buf)} unread bytes")
        self.buf += chunk

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        r = Response(version, int(status), reason, headers, b"")
        length = r.header("Content-Length")
        if not head_only and length is not None and int(status) >= 200 and int(status) not in (204, 304):
            n = int(length)
            while len(self.buf) < n:
                self._fill()
            r.body, self.buf = self.buf[:n], self.buf[n:]
        return r

    def until_closed(self):
        data = self.buf
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def wait_exit(pid, seconds=20):
    """Waits for a process that is not our child (a reload's new process, say) to be gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def stop_pid(pid):
    os.kill(pid, signal.SIGTERM)
    assert wait_exit(pid), f"PID {pid} did not stop"


def children(pid):
    """The PIDs of a process's children (a prefork supervisor's workers, say)."""
    return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]


class RequestLoop:
    """`clients` keep-alive clients (requests sessions) sending GET `path` in a loop while in a
    `with` block; counts the 200s in `ok` and keeps every other outcome in `failures`."""

    def __init__(self, port, clients=8, path="/plaintext"):
        self.port, self.path = port, path
        self.ok, self.failures = 0, []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self):
        session = requests.Session()
        while not self.stop.is_set():
            try:
                r = session.get(f"http://127.0.0.1:{self.port}{self.path}", timeout=10)
                with self.lock:
                    if r.status_code == 200:
                        self.ok += 1
                    else:
                        self.failures.append(r.status_code)
            except Exception as e:  # noqa: BLE001 - a failed request is what the tests count
                with self.lock:
                    self.failures.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()
