@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Timeouts on the timer wheel, with short values so the tests stay short. Every test checks
/// what the client sees (408 then close, or a quiet close) and that the server let go.
@Suite struct TimeoutTests {
    let aborts = AbortLog()

    func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        let log = aborts
        return try TestServer(routes: { streamingRoutes($0, aborts: log) }) { config in
            config.headerTimeout = .milliseconds(300)
            config.bodyTimeout = .milliseconds(300)
            config.idleTimeout = .milliseconds(400)
            config.writeTimeout = .milliseconds(300)
            configure(&config)
        }
    }

    /// Reads until the server closes; the seconds that took, and the bytes.
    func timeClose(_ c: TestClient) throws -> (seconds: Double, bytes: [UInt8]) {
        let start = monotonicSeconds()
        let bytes = try c.readUntilClosed()
        return (monotonicSeconds() - start, bytes)
    }

    @Test func aPartialHeadGets408() async throws {
        let s = try server()
        let c = try s.client()
        let start = monotonicSeconds()
        try c.send("GET /plaintext HTTP/1.1\r\nHo")
        let r = try c.readResponse()
        let waited = monotonicSeconds() - start
        #expect(r.status == 408)
        #expect(r.header("Connection") == "close")
        #expect(waited >= 0.29, "answered after \(waited) s")
        _ = try c.readUntilClosed()
        let stats = await s.waitUntilIdle()
        #expect(stats.timeouts == 1 && stats.badRequests == 0 && stats.inputLeases == 0)
    }

    @Test func drippingOneByteAtATimeDoesNotExtendTheHeaderTimeout() async throws {
        let s = try server()
        let c = try s.client()
        let head = Array(get("/plaintext", "X-Padding: " + String(repeating: "p", count: 200) + "\r\n").utf8)
        let start = monotonicSeconds()
        var sent = 0
        // One byte every 20 ms would take over 4 s; the head must be refused at ~300 ms.
        while sent < head.count && !c.hasDataNow() {
            try c.send([head[sent]])
            sent += 1
            usleep(20_000)
        }
        let r = try c.readResponse()
        #expect(r.status == 408)
        #expect(monotonicSeconds() - start < 1.5)
        #expect(sent < head.count)
    }

    @Test func aSilentNewConnectionIsClosedQuietly() async throws {
        let s = try server()
        let c = try s.client()
        let (seconds, bytes) = try timeClose(c)
        #expect(bytes.isEmpty, "nothing is sent to a connection that never asked anything")
        #expect(seconds >= 0.25 && seconds < 2)
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.timeouts == 1)
    }

    @Test func anIdleKeepAliveConnectionIsClosedQuietly() async throws {
        let s = try server()
        let c = try s.client()
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().status == 200)
        let (seconds, bytes) = try timeClose(c)
        #expect(bytes.isEmpty)
        #expect(seconds >= 0.35 && seconds < 2, "closed after \(seconds) s")
    }

    @Test func aBusyConnectionOutlivesEveryTimeout() async throws {
        let s = try server()
        let c = try s.client()
        // 1.2 s of requests 100 ms apart: longer than the header and idle timeouts together.
        for _ in 0..<12 {
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().status == 200)
            usleep(100_000)
        }
        let stats = await s.server.stats()
        #expect(stats.timeouts == 0 && stats.connections == 1)
    }

    @Test func aStalledBodyGets408() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
        let r = try c.readResponse()
        #expect(r.status == 408)
        #expect(r.text.contains("body"))
        _ = try c.readUntilClosed()
    }

    @Test func aSlowButSteadyBodyIsNotCutOff() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
        // 10 bytes, 100 ms apart: 1 s in all, but never 300 ms without a byte.
        for k in 0..<10 {
            usleep(100_000)
            try c.send([UInt8(48 + k)])
        }
        #expect(try c.readResponse().text == "0123456789")
    }

    @Test func aStalledStreamedBodyIsAbortedWith408() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        let r = try c.readResponse()
        #expect(r.status == 408)
        _ = try c.readUntilClosed()
        #expect(aborts.all == [.timedOut])
    }

    @Test func aClientThatDoesNotReadIsCutOffAndFreed() async throws {
        let s = try server()
        let c = try s.client(receiveBuffer: 4096)
        try c.send(get("/big?n=\(4 << 20)"))
        usleep(100_000)
        var stats = await s.server.stats()
        #expect(stats.outputLeases == 1, "the response waits in an output lease")
        // Nothing is read: the write timeout closes the connection and frees the lease.
        usleep(600_000)
        stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.outputLeases == 0)
        #expect(stats.timeouts == 1)
    }

    @Test func aSlowReaderThatKeepsReadingIsNotCutOff() async throws {
        let s = try server()
        let c = try s.client(receiveBuffer: 16384)
        try c.send(get("/big?n=\(2 << 20)"))
        // A read every 50 ms for 1.2 s (four times the write timeout), progress every time...
        let start = monotonicSeconds()
        while monotonicSeconds() - start < 1.2 {
            guard let more = try c.readSome(max: 16384) else { break }
            c.pending += more
            usleep(50_000)
        }
        // ... then the rest at full speed: all of it arrives.
        let r = try c.readResponse()
        #expect(r.status == 200 && r.body.count == 2 << 20)
        #expect(r.body == Array(TestServer.pattern[0..<(2 << 20)]))
    }
}

@Suite struct ConnectionLimitTests {
    @Test func requestsPerConnectionAreCapped() async throws {
        let s = try TestServer(configure: { $0.maxRequestsPerConnection = 3 })
        let c = try s.client()
        for k in 1...3 {
            try c.send(get("/plaintext"))
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.header("Connection") == (k == 3 ? "close" : nil))
        }
        #expect(try c.readUntilClosed().isEmpty)
    }

    @Test func longPipelinesTakeTurnsAndStayInOrder() async throws {
        let s = try TestServer(configure: { $0.maxPipelinedRequests = 4 })
        let c = try s.client()
        let other = try s.client()
        var batch = ""
        for k in 0..<50 { batch += get("/users/\(k)") }
        try c.send(batch)
        try other.send(get("/plaintext"))
        #expect(try other.readResponse().text == "Hello, World!")
        for k in 0..<50 {
            #expect(try c.readResponse().text == "user \(k)")
        }
        let stats = await s.waitUntilIdle()
        #expect(stats.inputLeases == 0 || stats.connections == 2)
    }
}
