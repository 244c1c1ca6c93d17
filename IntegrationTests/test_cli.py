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
