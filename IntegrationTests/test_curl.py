"""The server against curl, a real HTTP client."""
import subprocess


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=timeout)


def test_plaintext_and_json(server):
    r = subprocess.run(["curl", "-sS", "-i", f"{server.url}/plaintext"], capture_output=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: text/plain\r\n" in r.stdout and b"Content-Length: 13\r\n" in r.stdout
    assert b"Server: Gust\r\n" in r.stdout and b"\r\nDate: " in r.stdout
    assert r.stdout.endswith(b"\r\n\r\nHello, World!")
    j = curl(f"{server.url}/json")
    assert j.stdout == '{"message":"Hello, World!"}'


def test_keep_alive_reuses_one_connection(server):
    r = curl("-v", f"{server.url}/plaintext", f"{server.url}/json", f"{server.url}/plaintext")
    assert r.returncode == 0
    assert r.stdout == 'Hello, World!{"message":"Hello, World!"}Hello, World!'
    assert r.stderr.count("Connected to") == 1
    assert r.stderr.count("Re-using existing connection") == 2


def test_http10_closes_each_connection(server):
    r = curl("-v", "--http1.0", f"{server.url}/plaintext", f"{server.url}/plaintext")
    assert r.returncode == 0 and r.stdout == "Hello, World!" * 2
    assert r.stderr.count("Connected to") == 2, "HTTP/1.0 without keep-alive gets a new connection per request"
    assert "< Connection: close" in r.stderr


def test_http10_keep_alive_when_asked(server):
    r = curl("-v", "--http1.0", "-H", "Connection: keep-alive", f"{server.url}/plaintext", f"{server.url}/plaintext")
    assert r.returncode == 0
    assert "< Connection: keep-alive" in r.stderr
    assert r.stderr.count("Connected to") == 1


def test_echo_with_expect_continue(server, tmp_path):
    body = bytes(range(256)) * 40
    f = tmp_path / "body.bin"
    f.write_bytes(body)
    r = subprocess.run(["curl", "-sS", "-v", "--expect100-timeout", "20", "-H", "Expect: 100-continue",
                        "--data-binary", f"@{f}", f"{server.url}/echo"], capture_output=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout == body
    assert b"HTTP/1.1 100 Continue" in r.stderr


def test_delay_route(server):
    r = curl(f"{server.url}/delay?ms=150")
    assert r.stdout == "waited 150 ms\n"
    bad = curl("-o", "/dev/null", "-w", "%{http_code}", f"{server.url}/delay?ms=abc")
    assert bad.stdout == "400"


def test_head_and_not_found_and_method_not_allowed(server):
    head = curl("-I", f"{server.url}/plaintext")
    assert "HTTP/1.1 200 OK" in head.stdout and "Content-Length: 13" in head.stdout
    assert curl("-o", "/dev/null", "-w", "%{http_code}", f"{server.url}/missing").stdout == "404"
    r = curl("-i", "-X", "DELETE", f"{server.url}/plaintext")
    assert r.stdout.startswith("HTTP/1.1 405") and "Allow: GET, HEAD" in r.stdout


def test_parallel_transfers(server):
    urls = [f"{server.url}/plaintext"] * 40 + [f"{server.url}/delay?ms=100"] * 10
    r = curl("--parallel", "--parallel-max", "50", *urls, timeout=60)
    assert r.returncode == 0
    assert r.stdout.count("Hello, World!") == 40 and r.stdout.count("waited 100 ms") == 10


def test_stream_rejects_non_numbers_like_delay(server):
    for query in ("n=abc", "ms=abc", "n=5&ms=1x", "n=-1"):
        bad = curl("-o", "/dev/null", "-w", "%{http_code}", f"{server.url}/stream?{query}")
        assert bad.stdout == "400", query
    assert curl(f"{server.url}/stream?n=2&ms=0").stdout == "tick 1 of 2\ntick 2 of 2\n"
