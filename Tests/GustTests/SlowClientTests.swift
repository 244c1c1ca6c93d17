@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The minimum data rates on real sockets: a body that trickles in faster than the body timeout
/// but slower than the rate gets 408; a client that reads a few bytes at a time is dropped and
/// its output freed. Rates and graces are scaled down so the tests stay short.
@Suite struct SlowClientTests {
    let aborts = AbortLog()

    func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        let log = aborts
        return try TestServer(routes: { streamingRoutes($0, aborts: log) }) { config in
            config.bodyTimeout = .seconds(5)
            config.writeTimeout = .seconds(5)
            config.minimumBodyRate = MinimumDataRate(bytesPerSecond: 1000, grace: .milliseconds(300))
            config.minimumResponseRate = MinimumDataRate(bytesPerSecond: 100_000, grace: .milliseconds(300))
            configure(&config)
        }
    }

    /// Sends `count` bytes a few at a time until the server answers; the seconds it took.
    func trickle(_ c: TestClient, bytesEvery50ms: Int, upTo count: Int) throws -> Double {
        let start = monotonicSeconds()
        var sent = 0
        while sent < count && !c.hasDataNow() && monotonicSeconds() - start < 4 {
            try c.send(Array(repeating: UInt8(ascii: "x"), count: bytesEvery50ms))
            sent += bytesEvery50ms
            usleep(50_000)
        }
        return monotonicSeconds() - start
    }

    @Test func aTricklingBodyGets408() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        // 10 bytes every 50 ms: 200 bytes/s, never a pause near the 5 s body timeout.
        let seconds = try trickle(c, bytesEvery50ms: 10, upTo: 100_000)
        let r = try c.readResponse()
        #expect(r.status == 408)
        #expect(r.text.contains("slower than 1000 bytes/s"), "\(r.text)")
        #expect(seconds < 3.5, "cut after \(seconds) s (the body timeout alone never would)")
        _ = try c.readUntilClosed()
        let stats = await s.waitUntilIdle()
        #expect(stats.slowClients == 1 && stats.timeouts == 1 && stats.badRequests == 0 && stats.inputLeases == 0)
    }

    @Test func aTricklingStreamedBodyIsAbortedAsTooSlow() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        _ = try trickle(c, bytesEvery50ms: 10, upTo: 100_000)
        #expect(try c.readResponse().status == 408)
        _ = try c.readUntilClosed()
        #expect(aborts.all == [.tooSlow])
    }

    @Test func aBodyFasterThanTheRateIsServed() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n")
        // 200 bytes every 50 ms: 4000 bytes/s, four times the minimum.
        for _ in 0..<10 {
            try c.send(Array(repeating: UInt8(ascii: "y"), count: 200))
            usleep(50_000)
        }
        let r = try c.readResponse()
        #expect(r.status == 200 && r.body.count == 2000)
    }

    @Test func aClientReadingTooSlowlyIsDroppedAndFreed() async throws {
        let s = try server()
        let c = try s.client(receiveBuffer: 4096)
        try c.send(get("/big?n=\(4 << 20)"))
        // 1 KiB every 50 ms for 3 s: 20 KB/s, under the 100 KB/s minimum, though progress
        // never stops (the 5 s write timeout alone would keep it). On a thread of its own: a
        // loaded test runner must not stretch the reads out further.
        let client = UncheckedBox(c)
        try await onOwnThread {
            let start = monotonicSeconds()
            while monotonicSeconds() - start < 3 {
                guard (try? client.value.readSome(max: 1024)) ?? nil != nil else { break }
                usleep(50_000)
            }
        }
        let stats = await s.waitUntilIdle()
        #expect(stats.slowClients == 1 && stats.connections == 0 && stats.outputLeases == 0, "\(stats)")
    }

    @Test func withoutMinimumRatesATricklingBodyIsServed() async throws {
        let s = try server {
            $0.minimumBodyRate = nil
        }
        let c = try s.client()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200\r\n\r\n")
        _ = try trickle(c, bytesEvery50ms: 10, upTo: 200)
        let r = try c.readResponse()
        #expect(r.status == 200 && r.body.count == 200)
    }
}
