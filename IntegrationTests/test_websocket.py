"""The WebSocket gateway with real peers: Python's `websockets` (asyncio) and `websocket-client`
(threads) for echo, fragments, ping/pong, close and topics; curl for refused handshakes; raw
sockets for every protocol error of RFC 6455 (each answered with the close code §7.4.1 names,
the connection then closed, the server still serving everyone else)."""
import asyncio
import socket
import struct
import subprocess
import threading
import time

import pytest
import websocket  # websocket-client
import websockets

from conftest import GustServer
from wsraw import close_payload, expect_close, frame, handshake, read_frame

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


@pytest.fixture(scope="module")
def ws_server():
    s = GustServer("--reactors", "2", "--ws-max-message", "65536").start()
    yield s
    s.stop()


def url(s, path="/ws/echo"):
    return f"ws://127.0.0.1:{s.port}{path}"


# --- Real peers -------------------------------------------------------------------------------

def test_websockets_echoes_text_binary_large_and_fragmented_messages(ws_server):
    async def run():
        async with websockets.connect(url(ws_server), max_size=None) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xffbinary")
            assert await ws.recv() == b"\x00\xffbinary"
            big = "x" * 60000
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send(["frag", "mented ", "ünicode"])  # three frames, one message
            assert await ws.recv() == "fragmented ünicode"
            await ws.send("")
            assert await ws.recv() == ""
            latency = await ws.ping(b"are you there")
            await asyncio.wait_for(latency, 5)
            await ws.close(code=4001, reason="done here")
            assert ws.close_code == 4001, "the server echoes the client's close code"
    asyncio.run(run())


def test_websocket_client_echo_fragments_ping_and_close(ws_server):
    ws = websocket.create_connection(url(ws_server), timeout=10)
    try:
        ws.send("from websocket-client")
        assert ws.recv() == "from websocket-client"
        ws.send_binary(b"\x01\x02\x03")
        assert ws.recv() == b"\x01\x02\x03"
        ws.send_frame(websocket.ABNF.create_frame("par", websocket.ABNF.OPCODE_TEXT, fin=0))
        ws.ping("in between")  # a control frame between the fragments of a message (§5.4)
        ws.send_frame(websocket.ABNF.create_frame("ts", websocket.ABNF.OPCODE_CONT, fin=1))
        opcode, data = ws.recv_data_frame(control_frame=True)
        assert (opcode, data.data) == (websocket.ABNF.OPCODE_PONG, b"in between")
        opcode, data = ws.recv_data_frame(control_frame=True)
        assert (opcode, data.data) == (websocket.ABNF.OPCODE_TEXT, b"parts")
        ws.send_close(status=1000, reason=b"bye")
        opcode, data = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert struct.unpack("!H", data.data[:2])[0] == 1000
    finally:
        ws.close()


def test_topics_reach_every_subscriber_and_only_them(ws_server):
    async def run():
        subs = [await websockets.connect(url(ws_server, "/ws/topic/news")) for _ in range(5)]
        other = await websockets.connect(url(ws_server, "/ws/topic/sports"))
        await asyncio.sleep(0.2)  # subscribed on open; let every reactor see its first one
        await subs[0].send("extra extra")
        for ws in subs:
            assert await asyncio.wait_for(ws.recv(), 5) == "extra extra"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(other.recv(), 0.3)
        await other.send("goal")
        assert await asyncio.wait_for(other.recv(), 5) == "goal"
        for ws in subs + [other]:
            await ws.close()
    asyncio.run(run())


def test_websocket_client_sees_topics_too(ws_server):
    a = websocket.create_connection(url(ws_server, "/ws/topic/wsc"), timeout=10)
    b = websocket.create_connection(url(ws_server, "/ws/topic/wsc"), timeout=10)
    try:
        time.sleep(0.2)
        b.send_binary(b"\x00binary news")
        assert a.recv() == b"\x00binary news"
        assert b.recv() == b"\x00binary news"
    finally:
        a.close()
        b.close()


# --- Handshake refusals ----------------------------------------------------------------------

def curl_status(port, *headers):
    args = ["curl", "-s", "--max-time", "2", "-o", "/dev/null", "-D", "-", f"http://127.0.0.1:{port}/ws/echo"]
    for h in headers:
        args += ["-H", h]
    return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout


def test_handshakes_that_are_refused(ws_server):
    key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
    up = ["Upgrade: websocket", "Connection: Upgrade"]
    plain = curl_status(ws_server.port)
    assert plain.startswith("HTTP/1.1 426") and "Upgrade: websocket" in plain
    old = curl_status(ws_server.port, *up, key, "Sec-WebSocket-Version: 8")
    assert old.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in old
    assert curl_status(ws_server.port, *up, "Sec-WebSocket-Version: 13").startswith("HTTP/1.1 400"), "no key"
    assert curl_status(ws_server.port, *up, "Sec-WebSocket-Key: c2hvcnQ=", "Sec-WebSocket-Version: 13").startswith("HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", ws_server.port), timeout=10) as raw:
        raw.sendall(("GET /ws/echo HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(up) + "\r\n" + key
                     + "\r\nSec-WebSocket-Version: 13\r\nContent-Length: 5\r\n\r\nhello").encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 400"), "an upgrade request with a body"
    ok = curl_status(ws_server.port, *up, key, "Sec-WebSocket-Version: 13")  # curl then waits: 2 s
    assert ok.startswith("HTTP/1.1 101") and "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in ok


def test_a_topic_name_is_checked_before_the_upgrade(ws_server):
    long = "t" * 300
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Upgrade: websocket", "-H", "Connection: Upgrade",
                          "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "Sec-WebSocket-Version: 13",
                          f"http://127.0.0.1:{ws_server.port}/ws/topic/{long}"], capture_output=True, text=True, timeout=10).stdout
    assert out == "400"


# --- Protocol errors, each with the code RFC 6455 names --------------------------------------

BAD = {
    "unmasked client frame": (frame(TEXT, "hi", mask=False), 1002),
    "RSV1 without an extension": (frame(TEXT, "hi", rsv=4), 1002),
    "RSV3": (frame(BINARY, b"x", rsv=1), 1002),
    "reserved data opcode 3": (frame(0x3, b"x"), 1002),
    "reserved control opcode 0xB": (frame(0xB, b""), 1002),
    "ping over 125 bytes": (frame(PING, b"p" * 126), 1002),
    "fragmented ping": (frame(PING, b"p", fin=False), 1002),
    "fragmented close": (frame(CLOSE, close_payload(1000), fin=False), 1002),
    "continuation with nothing to continue": (frame(CONT, "x"), 1002),
    "a new message inside a fragmented one": (frame(TEXT, "a", fin=False) + frame(TEXT, "b"), 1002),
    "64-bit length with its top bit set": (frame(BINARY, b"", length=1 << 63), 1002),
    "invalid UTF-8 text": (frame(TEXT, b"\xc0\xaf"), 1007),
    "a surrogate in text": (frame(TEXT, b"\xed\xa0\x80"), 1007),
    "invalid UTF-8 across fragments": (frame(TEXT, b"\xce", fin=False) + frame(CONT, b"\x28"), 1007),
    "text ending inside a character": (frame(TEXT, b"ab\xe2\x82"), 1007),
    "close with a one-byte payload": (frame(CLOSE, b"\x03"), 1002),
    "close code 1005 (never sent)": (frame(CLOSE, close_payload(1005)), 1002),
    "close code 1004 (reserved)": (frame(CLOSE, close_payload(1004)), 1002),
    "close code 999": (frame(CLOSE, close_payload(999)), 1002),
    "close code 5000": (frame(CLOSE, close_payload(5000)), 1002),
    "close reason not UTF-8": (frame(CLOSE, close_payload(1000, b"\xff")), 1007),
    "a frame over the limit": (frame(BINARY, b"z" * 70000), 1009),
    "a message over the limit in fragments": (frame(BINARY, b"z" * 40000, fin=False) + frame(CONT, b"z" * 40000), 1009),
}


@pytest.mark.parametrize("case", list(BAD))
def test_protocol_errors_get_their_close_code(ws_server, case):
    data, code = BAD[case]
    s, _ = handshake(ws_server.port)
    try:
        s.sendall(frame(TEXT, "before") + data)
        fin, opcode, payload = read_frame(s)
        assert (opcode, payload) == (TEXT, b"before"), "what came before the error is served"
        expect_close(s, code)
    finally:
        s.close()
    # The server carries on for everyone else.
    ws = websocket.create_connection(url(ws_server), timeout=10)
    ws.send("still here")
    assert ws.recv() == "still here"
    ws.close()


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999])
def test_valid_close_codes_are_echoed(ws_server, code):
    s, _ = handshake(ws_server.port)
    s.sendall(frame(CLOSE, close_payload(code, b"reason")))
    expect_close(s, code)
    s.close()


def test_close_frames_byte_by_byte_and_data_after_close_is_ignored(ws_server):
    s, _ = handshake(ws_server.port)
    for b in frame(TEXT, "slow") + frame(CLOSE, b"") + frame(TEXT, "after close"):
        s.sendall(bytes([b]))
    assert read_frame(s) == (True, TEXT, b"slow")
    fin, opcode, payload = read_frame(s)
    assert (opcode, payload) == (CLOSE, b""), "an empty close is answered with an empty close"
    s.settimeout(5)
    assert s.recv(100) == b"", "nothing after the close: the text sent after it was not echoed"
    s.close()


def test_pings_pongs_and_control_frames_between_fragments(ws_server):
    s, _ = handshake(ws_server.port)
    s.sendall(frame(PING, b"p" * 125))
    assert read_frame(s) == (True, PONG, b"p" * 125), "a pong carries the ping's payload"
    s.sendall(frame(PONG, b"unsolicited"))  # ignored (§5.5.3)
    s.sendall(frame(TEXT, "a", fin=False) + frame(PING, b"1") + frame(CONT, "b", fin=False) + frame(PING, b"2") + frame(CONT, "c"))
    assert read_frame(s) == (True, PONG, b"1")
    assert read_frame(s) == (True, PONG, b"2")
    assert read_frame(s) == (True, TEXT, b"abc")
    s.sendall(frame(CLOSE, close_payload(1000)))
    expect_close(s, 1000)
    s.close()


# --- Heartbeats and slow consumers -----------------------------------------------------------

def test_a_silent_peer_is_pinged_and_closed_when_it_does_not_answer():
    s = GustServer("--reactors", "1", "--ws-ping-interval", "300ms", "--ws-pong-timeout", "300ms").start()
    try:
        dead, _ = handshake(s.port)  # answers nothing
        alive = websocket.create_connection(url(s), timeout=10)  # websocket-client answers pings itself
        pings = []

        def keep_reading():  # the live client reads all along, so it answers every ping in time
            while True:
                opcode, data = alive.recv_data_frame(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_PING:
                    pings.append(time.monotonic())
                elif opcode == websocket.ABNF.OPCODE_TEXT:
                    pings.append(data.data)
                    return
        reader = threading.Thread(target=keep_reading)
        reader.start()
        start = time.monotonic()
        dead.settimeout(5)
        fin, opcode, payload = read_frame(dead)
        assert opcode == PING
        with pytest.raises((EOFError, ConnectionResetError)):
            read_frame(dead)
        took = time.monotonic() - start
        assert took < 4, f"closed after {took:.1f}s"
        dead.close()
        time.sleep(1.5)  # well past several intervals and timeouts
        alive.send("alive")
        reader.join(10)
        assert pings and pings[-1] == b"alive", "the live client is still served"
        assert len(pings) >= 4, f"pinged {len(pings) - 1} times in ~2 s"
        alive.close()
    finally:
        s.stop()


def test_a_subscriber_that_does_not_read_is_cut_off_and_the_others_are_served():
    s = GustServer("--reactors", "1", "--ws-max-queued", "65536").start()
    try:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(10)
        slow.connect(("127.0.0.1", s.port))
        import base64, os
        key = base64.b64encode(os.urandom(16)).decode()
        slow.sendall(f"GET /ws/topic/firehose HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += slow.recv(1)
        reader = websocket.create_connection(url(s, "/ws/topic/firehose"), timeout=10)
        publisher = websocket.create_connection(url(s, "/ws/topic/firehose"), timeout=10)
        time.sleep(0.2)
        message = "m" * 8000
        for k in range(400):  # 3.2 MB: far past what the slow one's buffers and queue hold
            publisher.send(message)
            assert reader.recv() == message
            assert publisher.recv() == message
        # The slow subscriber was closed with a reset once its queue passed 64 KiB.
        total = 0
        with pytest.raises((ConnectionResetError, EOFError)):
            while True:
                chunk = slow.recv(65536)
                if not chunk:
                    raise EOFError
                total += len(chunk)
        assert total < 2_000_000
        reader.close()
        publisher.close()
    finally:
        s.stop()


def test_the_async_tier_with_websockets_and_websocket_client(ws_server):
    async def run():
        async with websockets.connect(url(ws_server, "/ws/async/echo?delay=20")) as ws:
            for k in range(5):
                await ws.send(f"m{k}")
            assert [await ws.recv() for _ in range(5)] == [f"m{k}" for k in range(5)], "in order, each after its delay"
            await ws.send(["frag", "ments"])
            assert await ws.recv() == "fragments"
    asyncio.run(run())
    ws = websocket.create_connection(url(ws_server, "/ws/async/echo"), timeout=10)
    ws.send_binary(b"\x00" * 50000)
    assert ws.recv() == b"\x00" * 50000
    ws.close()


# --- gust bench ws, against Gust and against a server it did not write -----------------------

def bench_ws(*args, timeout=120):
    from conftest import GUST
    out = subprocess.run([GUST, "bench", "ws", *args, "--json", "--quiet"], capture_output=True, text=True, timeout=timeout)
    import json
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else None), out.stderr


def test_bench_ws_holds_echoes_and_times_a_broadcast(ws_server):
    code, r, err = bench_ws(url(ws_server), "-c", "200", "-d", "3s", "--ping-interval", "200ms", "--connect-rate", "2000")
    assert code == 0, err
    assert r["opened"] == 200 and r["open_at_end"] == 200 and r["errors"]["total"] == 0
    assert r["pongs"] > 200 * 5 and r["ping_us"]["count"] == r["pongs"]
    code, r, err = bench_ws(url(ws_server), "--mode", "echo", "-c", "10", "-d", "2s")
    assert code == 0, err
    assert r["messages_received"] > 1000 and r["echo_us"]["count"] == r["messages_received"]
    code, r, err = bench_ws(url(ws_server), "--mode", "echo", "--rate", "500", "-c", "10", "-d", "2s")
    assert code == 0, err
    assert 900 <= r["messages_received"] <= 1000, "an open loop sends what its schedule says"
    code, r, err = bench_ws(url(ws_server, "/ws/topic/bench"), "--mode", "broadcast", "-c", "100", "-d", "3s",
                            "--publish-after", "1s", "--rate", "20", "--fail-if", "errors>0")
    assert code == 0, err
    assert r["publications"] >= 30 and r["delivery_us"]["count"] >= 100 * (r["publications"] - 2)
    assert r["last_delivery_us"]["count"] == r["publications"]


def test_bench_ws_over_several_processes_merges_their_results(ws_server):
    code, r, err = bench_ws(url(ws_server), "-c", "90", "-d", "2s", "--processes", "3", "--source", "127.0.0.2-127.0.0.4")
    assert code == 0, err
    assert r["processes"] == 3 and r["opened"] == 90 and r["open_at_end"] == 90 and r["pongs"] >= 90


def test_bench_ws_counts_refusals_and_fails_thresholds(ws_server):
    code, r, err = bench_ws(f"ws://127.0.0.1:{ws_server.port}/plaintext", "-c", "5", "-d", "1s", "--fail-if", "errors.handshake>0")
    assert code == 2 and r["errors"]["handshake"] == 5 and r["opened"] == 0
    assert "threshold breached" in err


ECHO_SERVER = """
import asyncio, sys, websockets
count = 0
async def echo(ws):
    global count
    async for m in ws:
        count += 1
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        print(count, flush=True)
asyncio.run(main())
"""


def test_bench_ws_against_the_websockets_library_counts_what_it_echoed():
    peer = subprocess.Popen(["python3", "-c", ECHO_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(peer.stdout.readline())
        code, r, err = bench_ws(f"ws://127.0.0.1:{port}/", "--mode", "echo", "-c", "4", "-d", "2s")
        assert code == 0, err
        assert r["errors"]["total"] == 0 and r["opened"] == 4
        peer.stdin.write("\n")
        peer.stdin.flush()
        echoed = int(peer.stdout.readline())
        # Every message the bench counts came back from the peer; at most the 4 in flight at
        # the end were echoed and not counted.
        assert r["messages_received"] <= echoed <= r["messages_received"] + 4
        assert r["messages_sent"] >= echoed
    finally:
        peer.kill()
