"""Prefork: `gust serve --processes N` runs N worker processes under a supervisor that replaces
a worker killed with SIGKILL at once, forwards stop signals (workers drain), reloads the workers
one at a time on SIGUSR2 (`gust reload`), and logs every worker exit."""
import http.client
import subprocess
import threading
import time

import requests

from conftest import GUST, GustServer, RequestLoop, children


def fresh_whoami(port):
    """Asks on a new connection (the kernel picks the worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/whoami", headers={"Connection": "close"})
    return conn.getresponse().read().decode().strip()


def test_workers_share_the_port_and_a_killed_one_is_replaced_at_once():
    s = GustServer("--processes", "3", "--reactors", "1").start()
    try:
        workers = children(s.proc.pid)
        assert len(workers) == 3
        seen = {fresh_whoami(s.port) for _ in range(60)}
        assert len(seen) >= 2, f"60 new connections all went to {seen}"
        assert seen <= {f"pid {w}" for w in workers}
        victim = workers[0]
        killed = time.monotonic()
        subprocess.run(["kill", "-9", str(victim)], check=True)
        replaced = None
        while time.monotonic() - killed < 5:
            now = children(s.proc.pid)
            if victim not in now and len(now) == 3:
                replaced = time.monotonic() - killed
                break
            time.sleep(0.01)
        assert replaced is not None and replaced < 1.0, f"replaced after {replaced} s"
        # Everyone is served, by the survivors and the replacement.
        for _ in range(30):
            assert fresh_whoami(s.port).startswith("pid ")
    finally:
        _, err = s.stop()
    assert f"pid={victim}" in err and "killed by signal 9" in err and "worker exited unexpectedly" in err, err


def test_a_stop_is_forwarded_and_workers_finish_what_is_under_way():
    s = GustServer("--processes", "2", "--reactors", "1").start()
    workers = children(s.proc.pid)
    results = []

    def slow():
        try:
            results.append(requests.get(s.url + "/delay?ms=800", timeout=10).text)
        except Exception as e:  # noqa: BLE001
            results.append(repr(e))

    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    out, err = s.stop()
    for t in threads:
        t.join()
    assert [r.strip() for r in results] == ["waited 800 ms"] * 4, results
    assert "2 worker process(es) stopped" in out
    for w in workers:
        try:
            open(f"/proc/{w}/status")
            assert False, f"worker {w} outlived its supervisor"
        except FileNotFoundError:
            pass


def test_a_rolling_reload_replaces_every_worker_without_a_failed_request(tmp_path):
    pid_file = tmp_path / "gust.pid"
    s = GustServer("--processes", "2", "--reactors", "1", "--pid-file", str(pid_file)).start()
    try:
        before = set(children(s.proc.pid))
        with RequestLoop(s.port, clients=4) as load:
            time.sleep(1)
            r = subprocess.run([GUST, "reload", "--pid-file", str(pid_file)], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            time.sleep(1.5)
        after = set(children(s.proc.pid))
        assert len(after) == 2 and not (after & before), (before, after)
        assert load.failures == [], load.failures[:5]
        assert load.ok > 50
        assert int(pid_file.read_text()) == s.proc.pid, "the supervisor stays"
    finally:
        out, err = s.stop()
    assert "every worker replaced" in out
    assert "old worker exited" in err


def test_a_worker_that_cannot_start_stops_the_supervisor_with_the_reason():
    # Port 1 as a non-root user, or a bad host: here, a host that does not resolve.
    r = subprocess.run([GUST, "serve", "--processes", "2", "--host", "example.invalid", "--port", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "cannot serve" in r.stderr


def test_a_worker_that_keeps_dying_is_restarted_with_a_growing_backoff():
    s = GustServer("--processes", "2", "--reactors", "1").start()
    try:
        # Kill the newest worker three times in a row (the same slot: its replacement is the
        # newest), each as soon as it has been replaced: back at once, then after 100 ms, 200 ms.
        for _ in range(3):
            before = children(s.proc.pid)
            victim = max(before)
            subprocess.run(["kill", "-9", str(victim)], check=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                now = children(s.proc.pid)
                if victim not in now and len(now) == 2:
                    break
                time.sleep(0.01)
            assert len(children(s.proc.pid)) == 2
            time.sleep(0.5)  # the replacement is up and serving before it is killed in turn
        assert fresh_whoami(s.port).startswith("pid ")
    finally:
        _, err = s.stop()
    delays = [line.split("restart-in=")[1].split()[0] for line in err.splitlines() if "restart-in=" in line]
    assert [float(d) for d in delays] == [0.0, 0.1, 0.2], err
