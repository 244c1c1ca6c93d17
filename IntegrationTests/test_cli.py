"""`gust` as a command: signals, usage errors, an address in use."""
import signal
import socket
import subprocess

from conftest import GUST, GustServer, RawReader, connect, get


def test_sigint_stops_cleanly():
    s = GustServer("--reactors", "3").start()
    sock = connect(s.port)
    sock.sendall(get("/plaintext"))
    assert RawReader(sock).response().status == 200
    s.stop(signal.SIGINT)


def test_address_in_use_is_a_clear_error():
    # A second gust on the same port must not silently share it through SO_REUSEPORT.
    s = GustServer("--reactors", "2").start()
    try:
        r = subprocess.run([GUST, "serve", "--port", str(s.port)], capture_output=True, text=True, timeout=20)
        assert r.returncode == 1
        assert f"cannot serve on 127.0.0.1:{s.port}" in r.stderr and "in use" in r.stderr
    finally:
        s.stop()
    # Nor a port some other program holds.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    r = subprocess.run([GUST, "serve", "--port", str(port)], capture_output=True, text=True, timeout=20)
    blocker.close()
    assert r.returncode == 1 and "in use" in r.stderr


def test_usage_errors():
    for args in (["serve", "--reactors", "0"], ["serve", "--port", "70000"], ["serve", "--bogus"], ["nope"]):
        r = subprocess.run([GUST, *args], capture_output=True, text=True, timeout=20)
        assert r.returncode == 64, (args, r.returncode, r.stderr)
        assert "Error" in r.stderr or "error" in r.stderr


def test_help_lists_serve():
    r = subprocess.run([GUST, "--help"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "serve" in r.stdout


def test_unresolvable_host():
    r = subprocess.run([GUST, "serve", "--host", "no-such-host.invalid", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot serve" in r.stderr


def test_unresolvable_host_reports_the_resolver_error():
    # The resolver's own words (gai_strerror), not an errno it never set ("No route to host").
    r = subprocess.run([GUST, "serve", "--host", "example.invalid", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "No route to host" not in r.stderr
    assert "example.invalid" in r.stderr and "getaddrinfo" in r.stderr
    assert any(words in r.stderr for words in (
        "Name or service not known", "Temporary failure in name resolution", "No address associated", "not known")), r.stderr


def test_absurd_durations_are_usage_errors():
    for args in (["serve", "--idle-timeout", "1e10h"], ["serve", "--header-timeout", "1e300s"],
                 ["serve", "--write-timeout", "inf"], ["bench", "http://127.0.0.1:1/", "-d", "1e300s"],
                 ["bench", "http://127.0.0.1:1/", "--timeout", "99999999999h"], ["bench", "http://127.0.0.1:1/", "--warmup", "1e20s"]):
        r = subprocess.run([GUST, *args], capture_output=True, text=True, timeout=20)
        assert r.returncode == 64, (args, r.returncode, r.stderr)
        assert "Error:" in r.stderr, (args, r.stderr)


def test_app_tier_options_take_none_and_refuse_what_cannot_work():
    for args, message in ((["--blocked-reactor-warning", "1ms"], "--blocked-reactor-warning must be at least 2ms"),
                          (["--handler-deadline", "0s"], "--handler-deadline must be positive"),
                          (["--handler-deadline", "soon"], "--handler-deadline"),
                          (["--shutdown-grace", "later"], "--shutdown-grace")):
        r = subprocess.run([GUST, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=20)
        assert r.returncode == 64 and message in r.stderr, (args, r.returncode, r.stderr)
    s = GustServer("--reactors", "1", "--handler-deadline", "none", "--blocked-reactor-warning", "none").start()
    s.stop()


def test_help_and_index_page_list_every_demo_route():
    routes = ["/plaintext", "/json", "/echo", "/upload", "/stream", "/delay", "/static/"]
    r = subprocess.run([GUST, "serve", "--help"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0
    for route in routes:
        assert route in r.stdout, (route, r.stdout)
    s = GustServer("--reactors", "1").start()
    try:
        sock = connect(s.port)
        sock.sendall(get("/"))
        page = RawReader(sock).response().body.decode()
    finally:
        s.stop()
    for route in routes:
        assert route in page, (route, page)
