"""Zero-downtime reload: SIGUSR2 (or `gust reload --pid-file`) starts a new process of the
binary, hands it every listening socket over SCM_RIGHTS (connections waiting in the accept
queues included) and drains the old one as a lame duck; a broken binary, a stale pid file and a
second reload during one are survived; systemd socket activation (LISTEN_FDS)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import requests

from conftest import GUST, GustServer, RawReader, RequestLoop, children, connect, get, stop_pid


def reload(pid_file, timeout="30s"):
    return subprocess.run([GUST, "reload", "--pid-file", str(pid_file), "--timeout", timeout],
                          capture_output=True, text=True, timeout=90)


def read_pid(pid_file):
    return int(open(pid_file).read())


def whoami(port):
    return requests.get(f"http://127.0.0.1:{port}/whoami", timeout=5).text.strip()


def test_reload_hands_over_under_load_without_a_failed_request(tmp_path):
    pid_file = tmp_path / "gust.pid"
    s = GustServer("--reactors", "2", "--pid-file", str(pid_file)).start()
    old = s.proc.pid
    assert read_pid(pid_file) == old
    bench = subprocess.Popen([GUST, "bench", s.url + "/plaintext", "-c", "16", "--rate", "2000", "-d", "4s", "--json", "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with RequestLoop(s.port) as load:
        time.sleep(1.5)
        r = reload(pid_file)
        assert r.returncode == 0, r.stdout + r.stderr
        new = read_pid(pid_file)
        assert new != old and f"PID {new} is serving" in r.stdout
        time.sleep(1.5)
    out, err = bench.communicate(timeout=60)
    report = json.loads(out)
    try:
        assert load.failures == [], load.failures[:5]
        assert load.ok > 100
        assert report["errors"]["total"] == 0 and report["requests"] > 5000, report["errors"]
        assert whoami(s.port) == f"pid {new}"
        # The old process drained and exited by itself, cleanly, and left the pid file alone.
        s.proc.wait(timeout=20)
        assert s.proc.returncode == 0
        assert read_pid(pid_file) == new
    finally:
        stop_pid(new)
    assert not pid_file.exists(), "the last process removes the pid file it owns"


def test_connections_waiting_in_the_accept_queue_are_not_lost(tmp_path):
    # The old process holds its 2 connections and takes no more: the next 20 wait in the
    # listeners' accept queues. The reload hands the same sockets over; the new process
    # accepts every one of them.
    pid_file = tmp_path / "gust.pid"
    s = GustServer("--reactors", "1", "--max-connections", "2", "--pid-file", str(pid_file)).start()
    held = []
    for _ in range(2):
        c = connect(s.port)
        c.sendall(get("/plaintext"))
        assert RawReader(c).response().status == 200
        held.append(c)
    queued = []
    for _ in range(20):
        c = connect(s.port)
        c.sendall(b"GET /whoami HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        queued.append(c)
    time.sleep(0.3)
    r = reload(pid_file)
    assert r.returncode == 0, r.stdout + r.stderr
    new = read_pid(pid_file)
    try:
        answers = []
        for c in queued:
            c.settimeout(10)
            answers.append(RawReader(c).response())
        assert [a.status for a in answers] == [200] * 20
        assert {a.body.decode().strip() for a in answers} == {f"pid {new}"}
        s.proc.wait(timeout=20)
        assert s.proc.returncode == 0
    finally:
        stop_pid(new)


def fake_binary(path, script):
    """Installs `script` at `path` the way a deploy would: a new file renamed over the old."""
    tmp = str(path) + ".new"
    with open(tmp, "w") as f:
        f.write(script)
    os.chmod(tmp, 0o755)
    os.rename(tmp, path)


def test_a_broken_binary_leaves_the_old_process_serving_and_says_why(tmp_path):
    binary = tmp_path / "gust"
    shutil.copy(GUST, binary)
    pid_file = tmp_path / "gust.pid"
    proc = subprocess.Popen([str(binary), "serve", "--port", "0", "--pid-file", str(pid_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    port = int(line.split("http://127.0.0.1:")[1].split()[0])
    try:
        fake_binary(binary, "#!/bin/sh\necho 'this build is broken' >&2\nexit 3\n")
        r = reload(pid_file)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "keeps serving" in r.stderr
        assert read_pid(pid_file) == proc.pid
        assert whoami(port) == f"pid {proc.pid}"
        # A fixed build, installed the same way, is taken.
        os.remove(binary)
        shutil.copy(GUST, binary)
        r = reload(pid_file)
        assert r.returncode == 0, r.stdout + r.stderr
        new = read_pid(pid_file)
        assert new != proc.pid and whoami(port) == f"pid {new}"
        proc.wait(timeout=20)
        stop_pid(new)  # it holds the same stderr: read it once both are gone
        err = proc.stderr.read()
        assert "this build is broken" in err, err
        assert "reload failed" in err and "exited with status 3" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_second_reload_during_one_is_ignored_and_logged(tmp_path):
    binary = tmp_path / "gust"
    shutil.copy(GUST, binary)
    real = tmp_path / "gust-real"
    shutil.copy(GUST, real)
    pid_file = tmp_path / "gust.pid"
    proc = subprocess.Popen([str(binary), "serve", "--port", "0", "--pid-file", str(pid_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    try:
        # A new build that takes a second to come up.
        fake_binary(binary, f"#!/bin/sh\nsleep 1\nexec {real} \"$@\"\n")
        os.kill(proc.pid, signal.SIGUSR2)
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGUSR2)  # while the first is under way
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and read_pid(pid_file) == proc.pid:
            time.sleep(0.05)
        new = read_pid(pid_file)
        assert new != proc.pid
        proc.wait(timeout=20)
        time.sleep(0.5)
        assert children(new) == [], "the second signal started no other process"
        stop_pid(new)  # it holds the same stderr: read it once both are gone
        err = proc.stderr.read()
        assert "ignored a reload signal received during the reload" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stale_and_foreign_pid_files(tmp_path):
    pid_file = tmp_path / "gust.pid"
    gone = subprocess.Popen(["true"])
    gone.wait()
    pid_file.write_text(f"{gone.pid}\n")
    r = reload(pid_file)
    assert r.returncode == 1 and "stale pid file" in r.stderr
    # A live process that is not a gust server is not signalled.
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pid_file.write_text(f"{sleeper.pid}\n")
        r = reload(pid_file)
        assert r.returncode == 1 and "not a gust server" in r.stderr
        assert sleeper.poll() is None, "the unrelated process was signalled"
    finally:
        sleeper.kill()
        sleeper.wait()
    r = reload(tmp_path / "missing.pid")
    assert r.returncode == 1 and "no PID" in r.stderr
    # gust serve replaces a stale pid file, and refuses one naming a running server.
    pid_file.write_text(f"{gone.pid}\n")
    s = GustServer("--pid-file", str(pid_file)).start()
    try:
        assert read_pid(pid_file) == s.proc.pid
        second = subprocess.run([GUST, "serve", "--port", "0", "--pid-file", str(pid_file)],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1 and f"already running as PID {s.proc.pid}" in second.stderr
    finally:
        _, err = s.stop()
    assert "stale pid file" in err


def test_systemd_socket_activation(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]

    fd = listener.fileno()
    # As systemd does: the socket as descriptor 3, LISTEN_FDS=1, LISTEN_PID naming the server.
    proc = subprocess.Popen(
        ["bash", "-c", f'export LISTEN_PID=$$ LISTEN_FDS=1; exec {GUST} serve --port 1 --reactors 2'
         + ("" if fd == 3 else f" 3<&{fd} {fd}<&-")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(fd,))
    listener.close()
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line and "listeners handed over" in line, (line, proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
        for _ in range(5):
            assert requests.get(f"http://127.0.0.1:{port}/plaintext", timeout=5).text == "Hello, World!"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
