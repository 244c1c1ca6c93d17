"""Request bodies (Content-Length, chunked, 100-continue, streamed uploads) and static files
(sendfile, validators, ranges, traversal) against real clients: curl, http.client, requests."""
import hashlib
import http.client
import os
import subprocess

import pytest
import requests

from conftest import GustServer, RawReader, connect, get


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return format(h, "x")


PAYLOAD = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(3 * 1024 * 1024 + 5))
PAYLOAD_HASH = fnv1a64(PAYLOAD[:200_000])  # hashing 3 MiB in Python is slow; uploads below use slices


def curl(*args, timeout=60, **kw):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("files")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (base / "outside.txt").write_text("top secret\n")
    (root / "index.html").write_text("<h1>home</h1>\n")
    (root / "a.txt").write_text("alpha\n")
    (root / "big.bin").write_bytes(PAYLOAD)
    (root / "sub" / "index.html").write_text("<p>sub</p>\n")
    os.symlink("../outside.txt", root / "escape.txt")
    os.symlink("a.txt", root / "link.txt")
    return root


@pytest.fixture
def files_server(tree):
    s = GustServer("--reactors", "1", "--static-dir", str(tree)).start()
    yield s
    s.stop()


# Bodies

def test_curl_uploads_with_expect_100_continue(server, tmp_path):
    body = PAYLOAD[:900_000]
    f = tmp_path / "body.bin"
    f.write_bytes(body)
    # curl waits for the 100 before it sends the body (up to its 1 s expect timeout).
    r = curl("-v", "--data-binary", f"@{f}", "-H", "Content-Type: application/octet-stream", "-H", "Expect: 100-continue",
             f"{server.url}/echo", "--max-time", "20")
    assert r.returncode == 0, r.stderr
    assert b"Expect: 100-continue" in r.stderr and b"HTTP/1.1 100 Continue" in r.stderr
    assert r.stdout == body
    assert b"Time-out" not in r.stderr


def test_curl_chunked_upload_is_streamed(server, tmp_path):
    body = PAYLOAD[:200_000]
    f = tmp_path / "body.bin"
    f.write_bytes(body)
    r = curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f}", f"{server.url}/upload")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"received {len(body)} bytes, fnv1a64 {PAYLOAD_HASH}\n"


def test_http_client_chunked_generator_to_a_buffered_route(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    pieces = [PAYLOAD[i:i + 7777] for i in range(0, 100_000, 7777)]
    conn.request("POST", "/echo", body=iter(pieces), encode_chunked=True, headers={"Content-Type": "x/y"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "x/y"
    assert r.read() == b"".join(pieces)


def test_requests_streams_an_upload_from_a_generator(server):
    def gen():
        for i in range(0, 200_000, 10_000):
            yield PAYLOAD[i:i + 10_000]
    r = requests.post(f"{server.url}/upload", data=gen(), timeout=20)  # chunked, as requests does for generators
    assert r.status_code == 200
    assert r.text == f"received 200000 bytes, fnv1a64 {PAYLOAD_HASH}\n"
    r = requests.post(f"{server.url}/upload", data=PAYLOAD[:200_000], timeout=20)  # Content-Length
    assert r.text == f"received 200000 bytes, fnv1a64 {PAYLOAD_HASH}\n"


def test_upload_over_the_route_limit_is_413():
    s = GustServer("--reactors", "1", "--max-body", "1000").start()
    try:
        r = requests.post(f"{s.url}/echo", data=b"x" * 1001, timeout=10)
        assert r.status_code == 413
        # /upload has its own limit (1 GiB): 1001 bytes are fine there.
        r = requests.post(f"{s.url}/upload", data=b"x" * 1001, timeout=10)
        assert r.status_code == 200 and r.text.startswith("received 1001 bytes")
    finally:
        s.stop()


def test_chunked_smuggling_attempt_is_rejected_and_nothing_after_is_served(server):
    sock = connect(server.port)
    # The second request hides in what a lenient parser would take as chunk data.
    attack = (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5;x\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n0\r\n\r\n")
    sock.sendall(attack + get("/json"))
    reader = RawReader(sock)
    r = reader.response()
    assert r.status == 400 and r.header("Connection") == "close"
    rest = reader.until_closed()
    assert b"Hello, World!" not in rest and b"message" not in rest


# Streamed responses

def test_http_client_reads_a_chunked_stream_then_reuses_the_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/stream?n=5&ms=20")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
    assert r.read() == b"".join(f"tick {k} of 5\n".encode() for k in range(1, 6))
    conn.request("GET", "/plaintext")
    assert conn.getresponse().read() == b"Hello, World!"


def test_curl_streams_lines_as_they_come(server):
    r = curl("-N", "--raw", f"{server.url}/stream?n=3&ms=10")
    assert r.stdout == b"c\r\ntick 1 of 3\n\r\nc\r\ntick 2 of 3\n\r\nc\r\ntick 3 of 3\n\r\n0\r\n\r\n"
    r = curl("--http1.0", "-i", f"{server.url}/stream?n=2&ms=1")
    assert b"Transfer-Encoding" not in r.stdout and r.stdout.endswith(b"\r\n\r\ntick 1 of 2\ntick 2 of 2\n")


# Files

def test_curl_gets_a_file_with_validators(files_server, tree):
    r = curl("-i", f"{files_server.url}/static/a.txt")
    head, body = r.stdout.split(b"\r\n\r\n", 1)
    assert body == b"alpha\n"
    assert b"Content-Type: text/plain; charset=utf-8" in head and b"Accept-Ranges: bytes" in head
    assert b"ETag: \"" in head and b"Last-Modified: " in head


def test_curl_downloads_a_large_file_intact(files_server, tmp_path):
    out = tmp_path / "got.bin"
    r = curl("-o", str(out), f"{files_server.url}/static/big.bin")
    assert r.returncode == 0
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(PAYLOAD).digest()


def test_curl_ranges_and_resume(files_server, tmp_path):
    r = curl("-r", "100-199", f"{files_server.url}/static/big.bin")
    assert r.stdout == PAYLOAD[100:200]
    # curl -C - resumes a partial download with a Range request.
    out = tmp_path / "partial.bin"
    out.write_bytes(PAYLOAD[:1_000_000])
    r = curl("-C", "-", "-o", str(out), f"{files_server.url}/static/big.bin")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == PAYLOAD
    r = curl("-i", "-r", "99999999-", f"{files_server.url}/static/a.txt")
    assert r.stdout.startswith(b"HTTP/1.1 416 ") and b"Content-Range: bytes */6" in r.stdout


def test_conditional_requests_with_curl_and_requests(files_server, tree):
    first = requests.get(f"{files_server.url}/static/a.txt", timeout=10)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert requests.get(f"{files_server.url}/static/a.txt", headers={"If-None-Match": etag}, timeout=10).status_code == 304
    # curl -z sends If-Modified-Since.
    r = curl("-i", "-z", modified, f"{files_server.url}/static/a.txt")
    assert r.stdout.startswith(b"HTTP/1.1 304 ")
    r = curl("-I", f"{files_server.url}/static/big.bin")
    assert r.stdout.startswith(b"HTTP/1.1 200 ") and f"Content-Length: {len(PAYLOAD)}".encode() in r.stdout


def test_index_and_directory_redirect(files_server):
    assert requests.get(f"{files_server.url}/static/", timeout=10).text == "<h1>home</h1>\n"
    # The mount point itself without its slash redirects too, as any directory does.
    r = requests.get(f"{files_server.url}/static", timeout=10, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/static/"
    r = requests.get(f"{files_server.url}/static?x=1", timeout=10, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/static/?x=1"
    r = requests.get(f"{files_server.url}/static/sub", timeout=10)  # follows the 301
    assert r.text == "<p>sub</p>\n" and r.history[0].status_code == 301


@pytest.mark.parametrize("path", [
    "/static/../outside.txt", "/static/%2e%2e/outside.txt", "/static/%2E%2E%2Foutside.txt",
    "/static/sub/../../outside.txt", "/static/escape.txt", "/static/..%5coutside.txt",
])
def test_traversal_is_impossible(files_server, path):
    # curl --path-as-is sends the dots as they are (no client-side normalization).
    r = curl("-i", "--path-as-is", f"{files_server.url}{path}")
    assert b"top secret" not in r.stdout
    assert r.stdout.startswith(b"HTTP/1.1 404 ")


def test_symlink_inside_the_root_is_served(files_server):
    assert curl(f"{files_server.url}/static/link.txt").stdout == b"alpha\n"


# Timeouts

def test_slowloris_gets_408_and_close():
    s = GustServer("--reactors", "1", "--header-timeout", "500ms").start()
    try:
        sock = connect(s.port)
        sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n")  # and never the blank line
        reader = RawReader(sock)
        r = reader.response()
        assert r.status == 408 and r.header("Connection") == "close"
        assert reader.until_closed() == b""
        # Other clients are served meanwhile and after.
        assert requests.get(f"{s.url}/plaintext", timeout=5).text == "Hello, World!"
    finally:
        s.stop()


def test_idle_keep_alive_connection_is_closed_quietly():
    s = GustServer("--reactors", "1", "--idle-timeout", "300ms").start()
    try:
        sock = connect(s.port)
        sock.sendall(get("/plaintext"))
        reader = RawReader(sock)
        assert reader.response().status == 200
        assert reader.until_closed() == b""
    finally:
        s.stop()
