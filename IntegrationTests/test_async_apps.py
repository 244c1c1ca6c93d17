"""The async tier, errors, JSON and the blocking-work pool with real clients (http.client,
requests, curl, raw sockets) against `gust serve`; the Examples/ItemsAPI server likewise."""
import concurrent.futures
import http.client
import json
import os
import re
import select
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import ROOT, RawReader, connect, get

ITEMS_API = os.path.join(os.path.dirname(os.environ.get("GUST_BIN", os.path.join(ROOT, ".build", "debug", "gust"))), "items-api")


def hash_rounds(n):
    """DemoApp.hashRounds: n rounds of splitmix64's finalizer, chained."""
    mask = (1 << 64) - 1
    x = 0x9E3779B97F4A7C15
    for _ in range(n):
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        x ^= x >> 31
    return x


def test_async_plaintext_and_json_with_http_client(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(3):  # one kept-alive connection
        conn.request("GET", "/async/plaintext")
        r = conn.getresponse()
        assert (r.status, r.getheader("Content-Type"), r.read()) == (200, "text/plain", b"Hello, World!")
        conn.request("GET", "/async/json")
        r = conn.getresponse()
        assert r.getheader("Content-Type") == "application/json"
        assert json.loads(r.read()) == {"message": "Hello, World!"}
    conn.close()


def test_async_requests_pipelined_in_order_with_inline_ones(server):
    sock = connect(server.port)
    sock.sendall(get("/async/plaintext") + get("/json") + get("/async/json") + get("/offload/hash?n=10") + get("/plaintext"))
    reader = RawReader(sock)
    bodies = [reader.response().body for _ in range(5)]
    assert bodies[0] == b"Hello, World!" and bodies[4] == b"Hello, World!"
    assert json.loads(bodies[1]) == json.loads(bodies[2]) == {"message": "Hello, World!"}
    assert bodies[3] == f"10 rounds: {hash_rounds(10):x}\n".encode()
    sock.close()


def test_post_json_decodes_and_encodes(server):
    r = requests.post(f"{server.url}/async/json", json={"name": "gust", "count": 21}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"name": "gust", "count": 21, "doubled": 42}
    r = requests.post(f"{server.url}/async/json", data='{"name":"é","count":-4}',
                      headers={"Content-Type": "application/json; charset=utf-8"}, timeout=10)
    assert r.json() == {"name": "é", "count": -4, "doubled": -8}


@pytest.mark.parametrize("body,content_type,status,message", [
    ('{"name":"gust","count":21}', None, 415, "the body must be JSON"),
    ('{"name":"gust","count":21}', "text/plain", 415, "the body must be JSON"),
    ('{"name":"gust",', "application/json", 400, "invalid JSON body: malformed JSON"),
    ('{"name":"gust","count":"many"}', "application/json", 400, "invalid JSON body: count: expected Int"),
    ('{"name":"gust"}', "application/json", 400, 'invalid JSON body: missing key "count"'),
    ('[1, 2]', "application/json", 400, "invalid JSON body"),
    ('{"name":"gust","count":9223372036854775807}', "application/json", 400, "count is too large to double"),
])
def test_bad_json_gets_a_clear_answer_and_the_connection_goes_on(server, body, content_type, status, message):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Content-Type": content_type} if content_type else {}
    conn.request("POST", "/async/json", body=body.encode(), headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    assert r.status == status and message in text, text
    conn.request("GET", "/async/plaintext")
    assert conn.getresponse().read() == b"Hello, World!"
    conn.close()


def test_curl_default_form_type_is_415(server):
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-d", '{"name":"a","count":1}',
                        f"{server.url}/async/json"], capture_output=True, text=True, timeout=30)
    assert r.stdout == "415"
    r = subprocess.run(["curl", "-sS", "-H", "Content-Type: application/json", "-d", '{"name":"a","count":1}',
                        f"{server.url}/async/json"], capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout) == {"name": "a", "count": 1, "doubled": 2}


def test_json_body_past_the_limit_is_413(small_limits_server):
    body = json.dumps({"name": "x" * 2000, "count": 1}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", small_limits_server.port, timeout=10)
    conn.request("POST", "/async/json", body=body, headers={"Content-Type": "application/json"})
    assert conn.getresponse().status == 413


def test_offload_hash(server):
    for n in (1, 1000, 200_000):
        r = requests.get(f"{server.url}/offload/hash", params={"n": n}, timeout=30)
        assert r.status_code == 200 and r.text == f"{n} rounds: {hash_rounds(n):x}\n"
    for bad in ("0", "10000001", "-1", "x", ""):
        assert requests.get(f"{server.url}/offload/hash?n={bad}", timeout=10).status_code == 400


def test_many_clients_mixing_tiers_and_the_pool(server):
    def one(k):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        paths = ["/async/plaintext", f"/offload/hash?n={1000 + k}", "/plaintext", "/async/json"]
        out = []
        for path in paths:
            conn.request("GET", path)
            r = conn.getresponse()
            out.append((r.status, r.read()))
        conn.close()
        return k, out

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        for k, out in pool.map(one, range(64)):
            assert [s for s, _ in out] == [200, 200, 200, 200]
            assert out[1][1] == f"{1000 + k} rounds: {hash_rounds(1000 + k):x}\n".encode()


class ItemsAPI:
    def __init__(self):
        assert os.path.exists(ITEMS_API), f"build the example first: {ITEMS_API} is missing"
        self.proc = subprocess.Popen([ITEMS_API, "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "items-api did not say where it serves within 30 s"
        line = self.proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, f"unexpected first line {line!r}"
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0


@pytest.fixture
def items():
    api = ItemsAPI()
    yield api
    api.stop()


AUTH = {"Authorization": "Bearer let-me-in"}


def test_items_api_with_requests(items):
    session = requests.Session()
    r = session.post(f"{items.url}/items", json={"name": "lamp", "priceCents": 1999, "tags": ["home"]}, headers=AUTH, timeout=10)
    assert r.status_code == 201 and r.headers["Location"] == "/items/1" and "X-Request-Id" in r.headers
    assert r.json() == {"id": 1, "name": "lamp", "priceCents": 1999, "tags": ["home"]}
    session.post(f"{items.url}/items", json={"name": "desk", "priceCents": 25000}, headers=AUTH, timeout=10)
    assert [i["name"] for i in session.get(f"{items.url}/items", timeout=10).json()] == ["lamp", "desk"]
    assert session.get(f"{items.url}/items/2", timeout=10).json()["priceCents"] == 25000
    stamp = session.get(f"{items.url}/items/1/stamp", params={"bits": 8}, timeout=30).json()
    assert stamp["item"] == 1 and stamp["bits"] == 8
    assert session.delete(f"{items.url}/items/1", headers=AUTH, timeout=10).status_code == 204
    assert session.get(f"{items.url}/items/1", timeout=10).status_code == 404


def test_items_api_bad_input(items):
    r = requests.post(f"{items.url}/items", json={"name": "", "priceCents": -1}, headers=AUTH, timeout=10)
    assert r.status_code == 422 and r.text == "name must not be empty; priceCents must not be negative\n"
    r = requests.post(f"{items.url}/items", json={"name": "x", "priceCents": 1}, timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    r = requests.post(f"{items.url}/items", data="{", headers={**AUTH, "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert requests.get(f"{items.url}/items/abc", timeout=10).status_code == 400
    assert requests.get(f"{items.url}/items?limit=100000", timeout=10).status_code == 400


def test_items_api_with_curl(items):
    r = subprocess.run(["curl", "-sS", "-H", "Authorization: Bearer let-me-in", "-H", "Content-Type: application/json",
                        "-d", '{"name":"curl item","priceCents":5}', f"{items.url}/items"],
                       capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout)["name"] == "curl item"


def test_async_handler_error_is_500_naming_the_request(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/async/error")
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 500 and re.fullmatch(r"Internal Server Error \(request [0-9a-f]{8}-\d+-\d+\)\n", body), body
    conn.request("GET", "/async/plaintext")  # the connection goes on
    assert conn.getresponse().read() == b"Hello, World!"
    conn.close()


def test_async_deadline_answers_503_and_the_server_goes_on():
    from conftest import GustServer
    s = GustServer("--reactors", "1", "--handler-deadline", "200ms").start()
    try:
        start = time.monotonic()
        r = requests.get(f"{s.url}/async/delay", params={"ms": 5000}, timeout=10)
        assert r.status_code == 503 and "no answer within" in r.text
        assert time.monotonic() - start < 4
        assert requests.get(f"{s.url}/async/delay", params={"ms": 10}, timeout=10).text == "waited 10 ms\n"
    finally:
        s.stop()


def test_clients_leaving_async_handlers_cost_nothing(server):
    # Many clients ask for a slow async answer and leave at once; the server keeps answering.
    for _ in range(50):
        sock = connect(server.port)
        sock.sendall(get("/async/delay?ms=300"))
        sock.close()
    assert requests.get(f"{server.url}/async/plaintext", timeout=10).text == "Hello, World!"
    r = subprocess.run(["curl", "-sS", "-m", "5", f"{server.url}/async/delay?ms=50"], capture_output=True, text=True, timeout=30)
    assert r.stdout == "waited 50 ms\n"


def test_head_to_async_routes_sends_no_body(server):
    sock = connect(server.port)
    sock.sendall(b"HEAD /async/json HTTP/1.1\r\nHost: t\r\n\r\n" + get("/async/plaintext"))
    reader = RawReader(sock)
    head = reader.response(head_only=True)
    assert head.status == 200 and head.header("Content-Length") == "27"
    assert reader.response().body == b"Hello, World!"
    sock.close()


def test_offload_sleep_blocks_a_pool_worker_not_the_reactor(server):
    results = {}

    def slow(k):
        results[k] = requests.get(f"{server.url}/offload/sleep", params={"ms": 400}, timeout=10).text

    threads = [threading.Thread(target=slow, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert requests.get(f"{server.url}/plaintext", timeout=10).text == "Hello, World!"
    assert not results  # answered while all four still sleep on the pool
    for t in threads:
        t.join()
    assert all(v == "slept 400 ms on the pool\n" for v in results.values()) and len(results) == 4
    for bad in ("0", "10001", "x"):
        assert requests.get(f"{server.url}/offload/sleep?ms={bad}", timeout=10).status_code == 400
