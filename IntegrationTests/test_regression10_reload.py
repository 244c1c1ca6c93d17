"""Regression tests (review round 10): reload and signals."""
import os
import signal
import socket
import time

from conftest import GustServer, wait_exit


def test_a_sigterm_during_a_reload_drains_gracefully_instead_of_cutting_requests(tmp_path):
    """SIGTERM arriving while `handOver` waits for the new process stays pending (it is
    blocked); once the hand-over succeeds, `run` calls `stopGracefully`, whose `interrupted`
    callback finds that pending SIGTERM at once and takes it for the *second* signal: every
    request under way on the old process is cut (`closedUnfinished`, "second signal"),
    although the operator sent one SIGTERM."""
    pid_file = tmp_path / "gust.pid"
    s = GustServer("--reactors", "1", "--pid-file", str(pid_file)).start()
    new_pid = None
    try:
        # A request under way on the old process: 2 s to answer.
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"GET /delay?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGUSR2)
        time.sleep(0.005)  # the new process is starting
        s.proc.send_signal(signal.SIGTERM)  # one stop signal
        c.settimeout(10)
        data = b""
        try:
            while b"waited 2000 ms" not in data:
                more = c.recv(65536)
                if not more:
                    break
                data += more
        except OSError:
            pass
        s.proc.wait(timeout=30)
        try:
            new_pid = int(open(pid_file).read())
        except (OSError, ValueError):
            new_pid = None
        if new_pid and new_pid != s.proc.pid:
            os.kill(new_pid, signal.SIGKILL)  # the new process shares our pipes
            wait_exit(new_pid)
        out, err = s.proc.communicate(timeout=10)
        assert b"200 OK" in data and b"waited 2000 ms" in data, \
            f"the request under way was cut by one SIGTERM during a reload: {data!r}\n{out}\n{err[-1500:]}"
        assert "second signal" not in err, err[-1500:]
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        if new_pid and new_pid != s.proc.pid:
            try:
                os.kill(new_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
