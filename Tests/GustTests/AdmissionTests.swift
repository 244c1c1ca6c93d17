@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Admission control (issue 10, item 4): past the connection limit or rate, the server stops
/// accepting and clients wait in the backlog (then are served); past a client's request rate,
/// 429 with Retry-After, while other clients are unaffected.
@Suite struct AdmissionTests {
    /// Whether a response starts arriving within `seconds`.
    func answers(_ c: TestClient, within seconds: Double) -> Bool {
        let start = monotonicSeconds()
        while monotonicSeconds() - start < seconds {
            if c.hasDataNow() { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func pastTheConnectionLimitClientsWaitInTheBacklogThenAreServed() async throws {
        let s = try TestServer(configure: { $0.maxConnections = 3 })
        let held = try (0..<3).map { _ in try s.client() }
        for c in held {
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().status == 200)
        }
        // The fourth connects (the kernel completes the handshake) but is not accepted.
        let waiting = try s.client()
        try waiting.send(get("/plaintext"))
        #expect(!answers(waiting, within: 0.4), "a fourth connection was served past the limit")
        var stats = await s.server.stats()
        #expect(stats.connections == 3 && stats.acceptPauses >= 1)
        // One closes: the waiting client is accepted and served, nothing lost.
        try held[0].send(get("/plaintext", "Connection: close\r\n"))
        _ = try held[0].readResponse()
        let r = try waiting.readResponse()
        #expect(r.status == 200 && r.text == "Hello, World!")
        stats = await s.server.stats()
        #expect(stats.connections <= 3)
    }

    @Test func theLimitIsOneCountForEveryReactor() async throws {
        // 2 reactors, a limit of 3: the process holds 3, whichever reactors the kernel picked.
        let s = try TestServer(reactors: 2, configure: { $0.maxConnections = 3 })
        var clients: [TestClient] = []
        for _ in 0..<8 {
            let c = try s.client()
            try c.send(get("/plaintext"))
            clients.append(c)
        }
        usleep(300_000)
        let stats = await s.server.stats()
        #expect(stats.connections == 3, "\(stats.connections) open")
        // The ones answered are exactly the ones accepted; the rest wait in the backlog.
        var served: [TestClient] = []
        for c in clients where c.hasDataNow() {
            _ = try c.readResponse()
            served.append(c)
        }
        #expect(served.count == stats.connections)
        // Each one closed lets one that waits in, on whichever reactor it waits.
        var waiting = clients.filter { c in !served.contains { $0 === c } }
        for c in served { c.abort() }
        var answered = 0
        let start = monotonicSeconds()
        while !waiting.isEmpty && monotonicSeconds() - start < 5 {
            for c in waiting where c.hasDataNow() {
                if (try? c.readResponse())?.status == 200 { answered += 1 }
                c.abort()
            }
            waiting.removeAll { $0.fd < 0 }
            usleep(10_000)
        }
        #expect(answered == 5, "the 5 that waited are served as places free")
    }

    @Test func theNewConnectionRateSpacesAcceptsOut() async throws {
        let s = try TestServer(configure: { $0.connectionRate = RateLimit(perSecond: 10, burst: 2) })
        let start = monotonicSeconds()
        let clients = try (0..<6).map { _ in try s.client() }
        for c in clients { try c.send(get("/plaintext")) }
        for c in clients { #expect(try c.readResponse().status == 200) }
        // Two at once, then one per 100 ms: the sixth no sooner than ~400 ms after the first.
        let seconds = monotonicSeconds() - start
        #expect(seconds >= 0.35, "6 connections accepted in \(seconds) s at 10/s with a burst of 2")
        let stats = await s.server.stats()
        #expect(stats.acceptPauses >= 1 && stats.accepted == 6)
    }

    @Test func aClientOverItsRequestRateGets429WithRetryAfterAndKeepsItsConnection() async throws {
        let s = try TestServer(reactors: 2, configure: { $0.requestRatePerClient = RateLimit(perSecond: 1, burst: 3) })
        let c = try s.client()
        for _ in 0..<3 {
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().status == 200)
        }
        try c.send(get("/plaintext"))
        let limited = try c.readResponse()
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After") == "1")
        #expect(limited.header("Connection") == nil, "no body: the connection stays open")
        #expect(limited.text.contains("over 1 requests/s"))
        // Another connection from the same address shares the bucket (whichever reactor).
        let same = try s.client()
        try same.send(get("/plaintext"))
        #expect(try same.readResponse().status == 429)
        // Another address is not affected.
        let other = try s.client(source: "127.0.0.2")
        try other.send(get("/plaintext"))
        #expect(try other.readResponse().status == 200)
        // A second later a token is due again, on the same connection.
        usleep(1_050_000)
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().status == 200)
        let stats = await s.server.stats()
        #expect(stats.rateLimited == 2)
    }

    @Test func aRequestWithABodyOverTheRateIsAnsweredAtItsHeadAndTheConnectionCloses() async throws {
        let s = try TestServer(configure: { $0.requestRatePerClient = RateLimit(perSecond: 0.5, burst: 1) })
        let c = try s.client()
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().status == 200)
        // A large upload announced: refused before its body is read.
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 429 && r.header("Connection") == "close")
        #expect(r.header("Retry-After") == "2")
        _ = try c.readUntilClosed()
        let stats = await s.waitUntilIdle()
        #expect(stats.inputLeases == 0 && stats.connections == 0)
    }

    @Test func pipelinedRequestsOverTheRateAreEachAnswered() async throws {
        let s = try TestServer(configure: { $0.requestRatePerClient = RateLimit(perSecond: 1, burst: 5) })
        let c = try s.client()
        try c.send(String(repeating: get("/plaintext"), count: 8))
        var statuses: [Int] = []
        for _ in 0..<8 { statuses.append(try c.readResponse().status) }
        #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
    }

    @Test func absurdLimitsAreRefusedOrHarmless() throws {
        var config = ServerConfiguration()
        config.maxConnections = 0
        #expect(throws: ConfigurationError.self) { try config.validate() }
        config.maxConnections = Int.max  // harmless: no reactor gets anywhere near it
        try config.validate()
        config.connectionRate = RateLimit(perSecond: .infinity, burst: 1)
        #expect(throws: ConfigurationError.self) { try config.validate() }
        config.connectionRate = RateLimit(perSecond: 1e300, burst: Int.max)
        try config.validate()
        config.requestRatePerClient = RateLimit(perSecond: 1, burst: 0)
        #expect(throws: ConfigurationError.self) { try config.validate() }
        config.requestRatePerClient = RateLimit(perSecond: 1, burst: 1)
        config.rateLimitedClients = Int.max
        #expect(throws: ConfigurationError.self) { try config.validate() }
    }

    @Test func hugeLimitsStillServe() async throws {
        let s = try TestServer(reactors: 2, configure: {
            $0.maxConnections = Int.max
            $0.connectionRate = RateLimit(perSecond: 1e300, burst: Int.max)
            $0.requestRatePerClient = RateLimit(perSecond: 1e300, burst: Int.max)
        })
        let c = try s.client()
        for _ in 0..<5 {
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().status == 200)
        }
    }
}
