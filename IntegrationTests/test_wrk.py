"""The server under load from wrk: every response must be a 200, no socket errors."""
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PIPELINE = os.path.join(HERE, "pipeline.lua")


def run_wrk(*args):
    r = subprocess.run(["wrk", "-t1", "-c32", "-d2s", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    requests = int(re.search(r"(\d+) requests in", r.stdout).group(1))
    return r.stdout, requests


def test_wrk_keep_alive(server):
    out, n = run_wrk(f"{server.url}/plaintext")
    assert n > 1000
    assert "Non-2xx" not in out and "Socket errors" not in out, out


def test_wrk_pipelined(server):
    out, n = run_wrk("-s", PIPELINE, f"{server.url}/json", "--", "16")
    assert n > 1000
    assert "Non-2xx" not in out and "Socket errors" not in out, out
