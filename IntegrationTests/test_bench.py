"""`gust bench` against a real `gust serve`: counts, JSON, open loop and its correction, errors."""
import json
import signal
import socket
import subprocess
import threading
import time

from conftest import GUST, GustServer


def bench(*args, timeout=60):
    return subprocess.run([GUST, "bench", *args], capture_output=True, text=True, timeout=timeout)


def bench_json(*args):
    r = bench(*args, "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_request_count_is_exact(server):
    report = bench_json(f"{server.url}/plaintext", "-c", "8", "-t", "2", "-n", "2000")
    assert report["requests"] == 2000
    assert report["status"] == {"200": 2000}
    assert report["errors"]["total"] == 0
    assert report["connections_opened"] == 8
    for key in ("p50", "p90", "p99", "p99_9", "p99_99", "max", "mean"):
        assert report["latency_us"][key] > 0
    assert report["latency_us"]["p50"] <= report["latency_us"]["p99"] <= report["latency_us"]["max"]
    # Every byte of every response was read: 2000 × the size of one /plaintext response.
    assert report["bytes_in"] % 2000 == 0


def test_request_count_waits_for_slow_responses(server):
    # Sending stops at the count while responses are still on their way (each takes 100 ms):
    # the run waits for them, and the wait's deadline is computed from when sending stopped
    # (a count run has no end time to add the timeout to).
    report = bench_json(f"{server.url}/delay?ms=100", "-c", "4", "-t", "2", "-n", "8")
    assert report["requests"] == 8
    assert report["status"] == {"200": 8}
    assert report["errors"]["total"] == 0
    assert report["latency_us"]["p50"] >= 100_000


def test_pipelined_duration_run(server):
    report = bench_json(f"{server.url}/json", "-c", "4", "--pipeline", "8", "-d", "1s")
    assert report["requests"] > 1000
    assert report["errors"]["total"] == 0
    assert set(report["status"]) == {"200"}
    assert 0.9 < report["duration_s"] < 1.1
    assert abs(report["rps"] - report["requests"] / report["duration_s"]) < 1


def test_no_keepalive_opens_a_connection_per_request(server):
    report = bench_json(f"{server.url}/plaintext", "-c", "2", "-n", "300", "--no-keepalive")
    assert report["requests"] == 300
    assert report["errors"]["total"] == 0
    assert 300 <= report["connections_opened"] <= 302


def test_post_body_and_headers_reach_the_server(server, tmp_path):
    body = tmp_path / "body.json"
    body.write_bytes(b'{"k": "v"}')
    report = bench_json(f"{server.url}/echo", "-m", "POST", "-H", "Content-Type: application/json",
                        "--body", f"@{body}", "-c", "2", "-n", "100")
    assert report["status"] == {"200": 100}
    assert report["bytes_out"] > 100 * len(b'{"k": "v"}')


def test_not_found_is_counted_by_status(server):
    report = bench_json(f"{server.url}/missing", "-c", "2", "-n", "50")
    assert report["status"] == {"404": 50}


def test_open_loop_keeps_the_rate(server):
    report = bench_json(f"{server.url}/plaintext", "-c", "10", "--rate", "2000", "-d", "2s")
    assert report["requested_rate"] == 2000
    assert abs(report["requests"] - 4000) <= 40, report
    assert "uncorrected_latency_us" in report


def test_a_stalling_server_shows_in_corrected_latency_only():
    # /delay answers after 100 ms: 2 connections carry at most 20 requests/s. Asking for 60/s
    # queues requests behind each other: latency from the intended send time grows with the
    # queue, while latency from the actual send stays at the server's 100 ms.
    s = GustServer("--reactors", "1").start()
    try:
        report = bench_json(f"{s.url}/delay?ms=100", "-c", "2", "--rate", "60", "-d", "3s")
    finally:
        s.stop()
    corrected, uncorrected = report["latency_us"], report["uncorrected_latency_us"]
    assert uncorrected["p99"] < 200_000, uncorrected
    assert corrected["p99"] > 1_000_000, corrected
    assert report["achieved_rate"] < 0.5 * report["requested_rate"]


def test_refused_target_is_one_clear_error():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    r = bench(f"http://127.0.0.1:{port}/", "-d", "1s", timeout=20)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("gust bench: cannot connect to 127.0.0.1:")
    assert "refused" in r.stderr.lower()


def test_usage_errors():
    for args in (["https://example.com/"], ["not-a-url"], ["http://127.0.0.1:1/", "-n", "5", "-d", "1s"],
                 ["http://127.0.0.1:1/", "--rate", "10", "-n", "5"], ["http://127.0.0.1:1/", "-c", "1", "-t", "2"],
                 ["http://127.0.0.1:1/", "--pipeline", "4", "--no-keepalive"], ["http://127.0.0.1:1/", "-d", "soon"],
                 ["http://127.0.0.1:1/", "--unknown-flag"]):
        r = bench(*args, timeout=20)
        assert r.returncode == 64, (args, r.returncode, r.stderr)
        assert "Error:" in r.stderr


def test_thresholds_pass_and_fail_with_distinct_exit_codes(server):
    ok = bench(f"{server.url}/plaintext", "-c", "2", "-n", "200", "--quiet", "--json",
               "--fail-if", "errors>0", "--fail-if", "non2xx>0", "--fail-if", "p99>30s")
    assert ok.returncode == 0, ok.stderr
    verdicts = json.loads(ok.stdout)["thresholds"]
    assert [v["condition"] for v in verdicts] == ["errors>0", "non2xx>0", "p99>30s"]
    assert not any(v["breached"] for v in verdicts)

    # /missing answers 404: non2xx breaks, errors does not; an impossible rate breaks too.
    bad = bench(f"{server.url}/missing", "-c", "2", "-n", "100", "--quiet",
                "--fail-if", "errors>0", "--fail-if", "non2xx>0", "--fail-if", "rps<1000M")
    assert bad.returncode == 2, bad.stderr
    lines = [l for l in bad.stderr.splitlines() if "threshold breached" in l]
    assert lines == ["gust bench: threshold breached: non2xx>0 (measured 100)",
                     f"gust bench: threshold breached: rps<1000M (measured {lines[1].split('measured ')[1]}"]
    assert "requests   100" in bad.stdout  # the report is still printed


def test_a_bad_threshold_is_a_usage_error():
    r = bench("http://127.0.0.1:1/", "--fail-if", "p99>10", timeout=20)
    assert r.returncode == 64
    assert "--fail-if 'p99>10': '10' is not a latency" in r.stderr


def test_plot_is_an_svg_with_both_curves_in_open_loop(server, tmp_path):
    import xml.etree.ElementTree as ET
    path = tmp_path / "latency.svg"
    report = bench_json(f"{server.url}/plaintext", "-c", "4", "--rate", "500", "-d", "1s", "--plot", str(path))
    assert report["requests"] > 400
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    curves = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "curve"]
    assert [c.find("{http://www.w3.org/2000/svg}title").text for c in curves] == [
        "corrected (from intended send time)", "uncorrected (from actual send)"]
    for c in curves:
        assert len(c.get("d").split("L")) > 50


def test_plot_to_an_unwritable_path_fails_before_the_run(server):
    r = bench(f"{server.url}/plaintext", "-c", "1", "-d", "60s", "--quiet", "--plot", "/nonexistent-dir/x.svg", timeout=10)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("gust bench: cannot write the plot to /nonexistent-dir/x.svg: open:")


def test_an_interrupted_run_reports_and_exits_130(server):
    # Cut short by SIGINT: the report covers what was measured, and the exit status says the
    # run did not complete (128 + the signal), so a script cannot mistake it for a full run.
    p = subprocess.Popen([GUST, "bench", f"{server.url}/plaintext", "-c", "2", "-d", "60s", "--json", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130, (p.returncode, err)
    report = json.loads(out)
    assert report["interrupted"] is True and report["requests"] > 0


def test_more_connections_than_descriptors_is_one_clear_error():
    r = bench("http://127.0.0.1:1/", "-c", "100000", "-d", "1s", timeout=20)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr  # one line, not thousands of connect errors
    assert "file descriptors" in r.stderr and "ulimit -n" in r.stderr and "--source" in r.stderr


def test_connections_opened_counts_only_connections_that_opened():
    # The listener takes the probe, then goes away: every later attempt is refused. None of them
    # opened a connection, so none is counted as one (they are connect errors).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def take_probe_then_close():
        conn, _ = listener.accept()
        conn.close()
        listener.close()
    threading.Thread(target=take_probe_then_close, daemon=True).start()
    report = bench_json(f"http://127.0.0.1:{port}/", "-c", "4", "-d", "1s")
    assert report["errors"]["connect"] > 0
    assert report["connections_opened"] == 0, report
