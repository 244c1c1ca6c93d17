"""Differential test: our request parser (through the running server) against llhttp, the
parser of Node.js (through Python's `httptools`), over a corpus of valid requests, smuggling
vectors and deterministic mutations of both. Every disagreement must be one of the explained
kinds below, where we are deliberately stricter than llhttp (RFC 9112 lets a server reject
these; leniency there is what request smuggling feeds on). Anything else fails the test."""
import random
import socket

import httptools
import pytest

from conftest import GustServer

VALID = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /plaintext?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nUser-Agent: t/1\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    b"PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://a/json HTTP/1.1\r\nHost: a\r\n\r\n",
    b"DELETE /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
]

SMUGGLING = [
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b c\r\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX\x00: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
]

# How we differ from llhttp, on purpose. Each entry: a name, the reason, and a predicate over
# (request bytes, our verdict, llhttp's verdict) recognizing the case.
def lower(b):
    return b.lower()


def head_of(req):
    return req.split(b"\r\n\r\n")[0]


def request_line(req):
    return req.split(b"\r\n")[0]


HOST_BYTES = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]")


def bad_host_value(req):
    """A Host field whose value is not uri-host [":" port] bytes (RFC 9110 §7.2)."""
    for line in head_of(req).split(b"\r\n")[1:]:
        if line.lower().startswith(b"host:") and any(c not in HOST_BYTES for c in line[5:].strip(b" \t")):
            return True
    return False


EXPLAINED = [
    ("Host required, unique and well-formed",
     "RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host or with more "
     "than one; RFC 9110 §7.2: its value is uri-host [\":\" port]. llhttp leaves Host to the "
     "application.",
     lambda req, ours, theirs: ours == "reject" and (
         b"\r\nhost:" not in head_of(req).lower() or head_of(req).lower().count(b"\r\nhost:") > 1
         or bad_host_value(req))),
    ("request line: one SP between parts, a target of a known form",
     "RFC 9112 §3: method SP request-target SP HTTP-version, without autocorrection; §3.2: only "
     "origin-, absolute-, authority- (CONNECT) and asterisk-form (OPTIONS), visible ASCII. llhttp "
     "tolerates extra spaces and takes any non-space target with any method.",
     lambda req, ours, theirs: ours == "reject" and (
         b"  " in request_line(req) or request_line(req).count(b" ") != 2
         or not request_line(req).split(b" ")[1].startswith((b"/", b"http://"))
         or any(c >= 0x7f for c in request_line(req)))),
    ("Transfer-Encoding policy",
     "RFC 9112 §6.1/§6.3: we reject a final coding other than chunked (400), chunked twice, "
     "Transfer-Encoding in HTTP/1.0, and codings we do not decode (501); llhttp reads some of "
     "these as a body delimited by the connection's close.",
     lambda req, ours, theirs: ours == "reject" and b"transfer-encoding" in head_of(req).lower()),
    ("strict chunk lines",
     "RFC 9112 §7.1: chunk sizes without whitespace, chunk extensions by the grammar (token or "
     "quoted-string values); llhttp accepts looser extension text and trailing whitespace.",
     lambda req, ours, theirs: ours == "reject" and b"transfer-encoding: chunked" in head_of(req).lower()),
    ("Content-Length is digits only",
     "RFC 9110 §8.6: 1*DIGIT; a list of equal values (\"5, 5\") is rejected rather than merged.",
     lambda req, ours, theirs: ours == "reject" and b"content-length:" in head_of(req).lower()),
    ("controls in field values, bare CR",
     "RFC 9110 §5.5 and RFC 9112 §2.2: no CR, LF or NUL in values, no bare CR anywhere; we reject.",
     lambda req, ours, theirs: ours == "reject" and (
         any(c < 0x20 and c not in (9, 10, 13) for c in head_of(req))
         or b"\r" in head_of(req).replace(b"\r\n", b""))),
    ("whitespace around \"=\" in a chunk extension (we accept)",
     "RFC 9112 §7.1.1 allows BWS on both sides of \"=\" in chunk-ext; llhttp refuses it. The only "
     "case where we accept what llhttp rejects, and the RFC's grammar is on our side.",
     lambda req, ours, theirs: ours == "accept" and theirs == "reject"
     and any(b"= " in l or b" =" in l or b"=\t" in l for l in req.split(b"\r\n\r\n", 1)[1].split(b"\r\n") if b";" in l)),
    ("HTTP version",
     "We answer 505 to any major version but 1 (llhttp parses HTTP/2.0 request lines).",
     lambda req, ours, theirs: ours == "reject" and b" HTTP/1." not in request_line(req)),
]


def llhttp_verdict(data):
    """What llhttp makes of the first request in `data`: 'accept' (with its body) once the
    message is complete, whatever follows it (the server, too, answers the first request before
    it looks at the next); 'reject' if it fails before; else 'incomplete'."""
    done = {"complete": False, "body": b""}

    class P:
        def on_body(self, body):
            if not done["complete"]:
                done["body"] += body

        def on_message_complete(self):
            done["complete"] = True

    parser = httptools.HttpRequestParser(P())
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        return "accept", done["body"]
    except httptools.HttpParserError:
        return ("accept", done["body"]) if done["complete"] else ("reject", None)
    return ("accept" if done["complete"] else "incomplete"), done["body"]


def our_verdict(port, data):
    """What the server makes of the request: 'reject' (a 4xx/5xx parse answer that closes),
    'accept' (routed and answered), or 'incomplete' (it waits for more)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(0.5)
    try:
        sock.sendall(data)
        response = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                response += chunk
                if b"\r\n\r\n" in response:
                    head, _, rest = response.partition(b"\r\n\r\n")
                    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if length and len(rest) >= length[0]:
                        break
        except socket.timeout:
            pass
    finally:
        sock.close()
    if not response:
        return "incomplete", None
    head, _, body = response.partition(b"\r\n\r\n")
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    body = body[:length[0]] if length else body  # the first response only
    status = int(head.split(b" ")[1])
    reason = head.split(b"\r\n")[0].split(b" ", 2)[2]
    # The server's parse rejections say "<reason>: <detail>" and close.
    if status in (400, 413, 414, 431, 501, 505) and body.startswith(reason + b": ") and b"Connection: close" in head:
        return "reject", None
    return "accept", body


def mutations(seed, count):
    rng = random.Random(seed)
    specials = [b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b";", b",", b"\x00", b"\x7f", b"0", b"5", b"-", b"\"", b"=", b"a"]
    out = []
    for _ in range(count):
        base = bytearray(rng.choice(VALID + SMUGGLING))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(base) + 1)
            op = rng.random()
            if op < 0.4:
                base[pos:pos] = rng.choice(specials)
            elif op < 0.7 and pos < len(base):
                del base[pos]
            elif pos < len(base):
                base[pos] = rng.choice(specials)[0]
        out.append(bytes(base))
    return out


@pytest.fixture(scope="module")
def diff_server():
    s = GustServer("--reactors", "1", "--header-timeout", "1s", "--body-timeout", "1s").start()
    yield s
    s.stop()


def classify(req, ours, theirs):
    for name, _, matches in EXPLAINED:
        if matches(req, ours, theirs):
            return name
    return None


def test_corpus_agrees_with_llhttp_or_the_difference_is_explained(diff_server):
    corpus = VALID + SMUGGLING + mutations(seed=2026, count=2000)
    unexplained = []
    counts = {}
    for req in corpus:
        ours, our_body = our_verdict(diff_server.port, req)
        theirs, their_body = llhttp_verdict(req)
        if "incomplete" in (ours, theirs):
            continue  # one waits for more bytes: no verdict to compare
        if ours == theirs:
            if ours == "accept" and request_line(req).startswith(b"POST /echo HTTP/") and our_body is not None:
                # Both accepted a body: it must be the same bytes.
                assert our_body == their_body, (req, our_body, their_body)
            continue
        kind = classify(req, ours, theirs)
        counts[kind] = counts.get(kind, 0) + 1
        if kind is None:
            unexplained.append((req, ours, theirs))
    print("explained disagreements:", counts)
    assert not unexplained, "\n".join(f"{r!r}: ours {o}, llhttp {t}" for r, o, t in unexplained[:20])


def test_every_valid_request_is_accepted_by_both(diff_server):
    for req in VALID:
        assert our_verdict(diff_server.port, req)[0] == "accept", req
        assert llhttp_verdict(req)[0] == "accept", req


def test_every_smuggling_vector_is_rejected_by_us(diff_server):
    for req in SMUGGLING:
        assert our_verdict(diff_server.port, req)[0] == "reject", req
