@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One kind of bad input and the answer it must get.
struct BadInput: Sendable, CustomStringConvertible {
    let name: String
    let bytes: [UInt8]
    let status: Int
    var description: String { name }

    init(_ name: String, _ text: String, _ status: Int) {
        self.name = name
        bytes = Array(text.utf8)
        self.status = status
    }

    init(_ name: String, bytes: [UInt8], _ status: Int) {
        self.name = name
        self.bytes = bytes
        self.status = status
    }
}

/// The limits the bad-input server runs with (small, so tests stay small).
let badInputLimits = RequestLimits(maxRequestLineBytes: 256, maxHeaderBytes: 512, maxHeaderCount: 10, maxBodyBytes: 1000)

let badInputs: [BadInput] = [
    BadInput("garbage", "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n", 400),
    BadInput("malformed request line", "GET/HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    BadInput("bad version", "GET / HTTP/1.x\r\nHost: t\r\n\r\n", 400),
    BadInput("unsupported major version", "GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
    BadInput("bare LF", "GET / HTTP/1.1\nHost: t\n\n", 400),
    BadInput("malformed header", "GET / HTTP/1.1\r\nHost: t\r\nNo-Colon\r\n\r\n", 400),
    BadInput("space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    BadInput("obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400),
    BadInput("control character in a value", "GET / HTTP/1.1\r\nHost: t\r\nX: \u{07}\r\n\r\n", 400),
    BadInput("missing Host", "GET / HTTP/1.1\r\n\r\n", 400),
    BadInput("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    BadInput("bad Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1e3\r\n\r\n", 400),
    BadInput("conflicting Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    BadInput(
        "Content-Length and Transfer-Encoding",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
    BadInput("final coding not chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    BadInput("chunked, then gzip", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    BadInput("chunked twice", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    BadInput("Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
    BadInput("unsupported coding", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    BadInput("chunk size not hex", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    BadInput("chunk size overflow", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
    BadInput("chunk data longer than its size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400),
    BadInput("bare LF in chunked framing", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", 400),
    BadInput("malformed chunk extension", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b c\r\nabc\r\n0\r\n\r\n", 400),
    BadInput("chunked body too large", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + String(repeating: "x", count: 1001) + "\r\n0\r\n\r\n", 413),
    BadInput("request line too long", "GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    BadInput("header section too large", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "b", count: 600) + "\r\n\r\n", 431),
    BadInput("too many headers", "GET / HTTP/1.1\r\nHost: t\r\n" + (1...10).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
    BadInput("body too large", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n", 413),
    BadInput("absurd body length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413),
    BadInput("unknown method", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    BadInput("lower-case method", "get /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    BadInput("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    BadInput("non-ASCII target", bytes: Array("GET /\u{e9} HTTP/1.1\r\nHost: t\r\n\r\n".utf8), 400),
]

@Suite struct BadInputTests {
    /// Sends the bad bytes and, in the same write, a valid request that must never be served.
    @Test(arguments: badInputs)
    func answersAndCloses(_ input: BadInput) async throws {
        let s = try TestServer(limits: badInputLimits)
        let bystander = try s.client()
        try bystander.send(get("/plaintext"))
        #expect(try bystander.readResponse().status == 200)

        let c = try s.client()
        try c.send(input.bytes + Array(get("/plaintext").utf8))
        let r = try c.readResponse()
        #expect(r.status == input.status, "\(input.name): \(r.status) \(r.text)")
        #expect(r.header("Connection") == "close")
        let rest = try c.readUntilClosed()
        #expect(!String(decoding: rest, as: UTF8.self).contains("Hello, World!"), "\(input.name): nothing after the bad bytes is served")

        try bystander.send(get("/plaintext"))
        #expect(try bystander.readResponse().text == "Hello, World!", "other clients are unaffected")
        let stats = await s.server.stats()
        #expect(stats.badRequests == 1)
    }

    /// The same bad input, a byte at a time: the verdict must not depend on how it arrives.
    @Test(arguments: badInputs.filter { $0.bytes.count < 200 })
    func answersTheSameWhenDripped(_ input: BadInput) throws {
        let s = try TestServer(limits: badInputLimits)
        let c = try s.client()
        for byte in input.bytes {
            try c.send([byte])
            if c.hasDataNow() { break }  // answered early (e.g. at the first bad byte)
        }
        let r = try c.readResponse()
        #expect(r.status == input.status, "\(input.name)")
        _ = try c.readUntilClosed()
    }

    @Test func clientVanishingMidRequestFreesItsSlotAndBuffers() async throws {
        // (Long waits: on a loaded machine the stats below can take longer than the default
        // header timeout to come back, and the partial request must not time out meanwhile.)
        let s = try TestServer(configure: { $0.headerTimeout = .seconds(300); $0.bodyTimeout = .seconds(300) })
        for partial in ["GET /plaintext HTTP/1.1\r\nHo", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf"] {
            let c = try s.client()
            try c.send(partial)
            // (The previous client's reset may take a moment to be seen on a loaded machine.)
            var holding = await s.server.stats()
            for _ in 0..<200 where !(holding.connections == 1 && holding.inputLeases == 1) {
                usleep(10_000)
                holding = await s.server.stats()
            }
            #expect(holding.connections == 1 && holding.inputLeases == 1, "a partial request leases a buffer: \(holding)")
            c.abort()
        }
        let after = await s.waitUntilIdle()
        #expect(after.connections == 0 && after.inputLeases == 0 && after.outputLeases == 0)
    }

    @Test func clientVanishingMidResponseFreesItsSlotAndBuffers() async throws {
        let s = try TestServer()
        let c = try s.client(receiveBuffer: 4096)
        try c.send(get("/big?n=4000000"))
        _ = try c.readSome(max: 1000)
        usleep(50_000)
        let holding = await s.server.stats()
        #expect(holding.outputLeases == 1)
        c.abort()
        let after = await s.waitUntilIdle()
        #expect(after.connections == 0 && after.outputLeases == 0)
    }

    @Test func clientVanishingWhileAResponseIsDeferred() async throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/delay?ms=3000") + get("/plaintext"))
        usleep(100_000)
        c.abort()
        let after = await s.waitUntilIdle()
        #expect(after.connections == 0 && after.inputLeases == 0, "freed at once, not when the delay ends")
    }

    @Test func halfClosingClientStillGetsItsAnswer() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/plaintext") + get("/json"))
        c.shutdownWrite()
        #expect(try c.readResponse().text == "Hello, World!")
        #expect(try c.readResponse().status == 200)
        #expect(try c.readUntilClosed().isEmpty)
    }

    @Test func errorsAfterGoodPipelinedRequests() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/plaintext") + get("/json") + "BAD\r\n\r\n" + get("/plaintext"))
        #expect(try c.readResponse().status == 200)
        #expect(try c.readResponse().status == 200)
        #expect(try c.readResponse().status == 400)
        #expect(try c.readUntilClosed().isEmpty)
    }

    @Test func lingeringCloseLetsTheClientReadTheErrorWhileStillSending() throws {
        // The client keeps sending after a rejected request; the server drains instead of
        // resetting, so the 413 is readable.
        let s = try TestServer(limits: badInputLimits)
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        try c.send([UInt8](repeating: 120, count: 5000))
        let r = try c.readResponse()
        #expect(r.status == 413)
        _ = try c.readUntilClosed()
    }
}
