@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ServerTests {
    @Test func demoRoutes() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/plaintext"))
        let plain = try c.readResponse()
        #expect(plain.status == 200 && plain.text == "Hello, World!")
        #expect(plain.header("Content-Type") == "text/plain" && plain.header("Server") == "Gust")
        #expect(plain.header("Date")?.hasSuffix(" GMT") == true && plain.header("Content-Length") == "13")
        try c.send(get("/json"))
        let json = try c.readResponse()
        #expect(json.text == #"{"message":"Hello, World!"}"# && json.header("Content-Type") == "application/json")
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nContent-Length: 6\r\n\r\nabc123")
        let echo = try c.readResponse()
        #expect(echo.text == "abc123" && echo.header("Content-Type") == "text/x-test")
        try c.send(get("/"))
        #expect(try c.readResponse().text.contains("/delay?ms=N"))
        try c.send(get("/nope"))
        #expect(try c.readResponse().status == 404)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderInOneRead() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send((1...50).map { get("/p/\($0)") }.joined())
        for i in 1...50 {
            let r = try c.readResponse()
            #expect(r.status == 200 && r.text == "/p/\(i)|\(i)|-")
        }
    }

    @Test func requestsSplitAnywhere() async throws {
        let s = try TestServer()
        let c = try s.client()
        let bytes = Array(((1...5).map { get("/p/\($0)?a=x%20y") }.joined() + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world").utf8)
        var i = 0
        var size = 1
        while i < bytes.count {
            let end = min(bytes.count, i + size)
            try c.send(Array(bytes[i..<end]))
            usleep(2_000)
            i = end
            size = size % 7 + 1
        }
        for k in 1...5 { #expect(try c.readResponse().text == "/p/\(k)|\(k)|x y") }
        #expect(try c.readResponse().text == "hello world")
        let stats = await s.server.stats()
        #expect(stats.inputLeases == 0, "the lease goes back once the request is complete")
    }

    @Test func largeBodiesAndLargeResponses() throws {
        let s = try TestServer()
        let c = try s.client()
        let body = (0..<900_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try c.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let echoed = try c.readResponse()
        #expect(echoed.body == body)
        try c.send(get("/big?n=3000000"))
        let big = try c.readResponse()
        #expect(big.body.count == 3_000_000 && big.body == Array(TestServer.pattern[0..<3_000_000]))
    }

    @Test func slowReaderGetsEverythingIntact() async throws {
        // No minimum response rate: on a loaded test runner this client may not get to read for
        // longer than the rate's grace period (SlowClientTests covers the rate).
        let s = try TestServer(configure: { $0.minimumResponseRate = nil })
        let c = try s.client(receiveBuffer: 4096)
        // Ask for far more than the socket buffers hold, pipelined; read slowly.
        try c.send((1...8).map { get("/big?n=\($0 * 100_000)") }.joined())
        usleep(200_000)
        let blocked = await s.server.stats()
        #expect(blocked.outputLeases == 1, "unsent output sits in a lease while the client does not read")
        for k in 1...8 {
            let r = try c.readResponse()
            #expect(r.body.count == k * 100_000 && r.body == Array(TestServer.pattern[0..<(k * 100_000)]))
        }
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().text == "Hello, World!")
        let after = await s.server.stats()
        #expect(after.outputLeases == 0)
    }

    @Test func deferredResponsesKeepPipelineOrderAndDoNotBlockTheReactor() throws {
        let s = try TestServer()
        let slow = try s.client()
        try slow.send(get("/delay?ms=1500") + get("/plaintext") + get("/delay?ms=0"))
        usleep(100_000)
        let other = try s.client()
        for _ in 0..<20 {
            try other.send(get("/plaintext"))
            #expect(try other.readResponse().status == 200)
        }
        #expect(!slow.hasDataNow(), "the delayed response is still pending while others are served")
        #expect(try slow.readResponse().text == "waited 1500 ms\n")
        #expect(try slow.readResponse().text == "Hello, World!")
        #expect(try slow.readResponse().text == "waited 0 ms\n")
    }

    @Test func deferredAndAnsweredInsideTheHandler() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/defer-now") + get("/plaintext"))
        #expect(try c.readResponse().text == "answered from the handler")
        #expect(try c.readResponse().text == "Hello, World!")
    }

    @Test func delayRejectsNonsense() throws {
        let s = try TestServer()
        let c = try s.client()
        for query in ["", "?ms=", "?ms=abc", "?ms=-1", "?ms=60001", "?ms=99999999999999999999"] {
            try c.send(get("/delay\(query)"))
            #expect(try c.readResponse().status == 400, "/delay\(query)")
        }
    }

    @Test func handlerRules() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/silent"))
        #expect(try c.readResponse().status == 500)
        try c.send(get("/twice"))
        #expect(try c.readResponse().text == "first")
        try c.send(get("/headers"))
        let h = try c.readResponse()
        #expect(h.text == "ok" && h.header("X-One") == "1" && h.header("X-Two") == "two")
        #expect(h.header("X-Evil") == nil && h.header("Set-Cookie") == nil, "a value with CRLF is not sent")
        #expect(h.header("Content-Length") == "2", "framing stays the server's")
        try c.send("POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        let notAllowed = try c.readResponse()
        #expect(notAllowed.status == 405 && notAllowed.header("Allow") == "GET, HEAD")
        try c.send(get("/users/a%20b"))
        #expect(try c.readResponse().text == "user a b")
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().status == 200, "the connection survived all of it")
    }

    @Test func headResponsesHaveNoBody() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send("HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n" + get("/json"))
        let head = try c.readResponse(head: true)
        #expect(head.status == 200 && head.header("Content-Length") == "13" && head.body.isEmpty)
        #expect(try c.readResponse().text == #"{"message":"Hello, World!"}"#, "the next response starts right after the head")
    }

    @Test func connectionManagement() throws {
        let s = try TestServer()
        // HTTP/1.0 closes by default.
        let a = try s.client()
        try a.send("GET /plaintext HTTP/1.0\r\n\r\n")
        let r10 = try a.readResponse()
        #expect(r10.status == 200 && r10.header("Connection") == "close")
        #expect(try a.readUntilClosed().isEmpty)
        // HTTP/1.0 keep-alive stays open and says so.
        let b = try s.client()
        try b.send("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try b.readResponse().header("Connection") == "keep-alive")
        try b.send("GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try b.readResponse().status == 200)
        // Connection: close from the client; requests after it are not served.
        let c = try s.client()
        try c.send(get("/plaintext", "Connection: close\r\n") + get("/json"))
        #expect(try c.readResponse().header("Connection") == "close")
        #expect(try c.readUntilClosed().isEmpty, "nothing after the close request is answered")
        // The server decides to close.
        let d = try s.client()
        try d.send(get("/close"))
        let bye = try d.readResponse()
        #expect(bye.text == "bye" && bye.header("Connection") == "close")
        #expect(try d.readUntilClosed().isEmpty)
    }

    @Test func expectContinue() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        let interim = try c.readResponse()
        #expect(interim.status == 100)
        try c.send("hello")
        #expect(try c.readResponse().text == "hello")
    }

    @Test func manyConnectionsAtOnce() async throws {
        let s = try TestServer(reactors: 2)
        var clients: [TestClient] = []
        for _ in 0..<600 { clients.append(try s.client()) }
        for c in clients { try c.send(get("/plaintext")) }
        for c in clients { #expect(try c.readResponse().text == "Hello, World!") }
        let open = await s.server.stats()
        #expect(open.connections == 600 && open.reactors.count == 2)
        #expect(open.inputLeases == 0 && open.outputLeases == 0, "idle connections hold no buffer")
        clients.removeAll()
        let idle = await s.waitUntilIdle()
        #expect(idle.connections == 0 && idle.accepted == 600)
    }

    @Test func statsAfterShutdownDoNotHang() async throws {
        let s = try TestServer(reactors: 2)
        s.server.shutdown()
        let stats = await s.server.stats()
        #expect(stats.reactors.isEmpty)
    }

    @Test func serverShutdownWithOpenConnections() throws {
        let s = try TestServer(reactors: 2)
        let c = try s.client()
        try c.send(get("/plaintext"))
        _ = try c.readResponse()
        try c.send("GET /partial HTTP/1.1\r\nHo")
        s.server.shutdown()
        #expect(try c.readUntilClosed().isEmpty, "open connections are closed")
    }
}
