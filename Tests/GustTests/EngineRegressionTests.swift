@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bugs found in the engine, each with the test that showed it.
@Suite struct EngineRegressionTests {
    /// A streamed response finished from its `onDrain` callback on a `Connection: close` request
    /// closed the same descriptor twice (closed=2 for accepted=1; with several reactors the
    /// second close could hit a connection another reactor had just accepted on that number).
    @Test func finishingFromOnDrainClosesOnce() async throws {
        let s = try TestServer { router in
            router.get("/drain-finish") { _, res in
                let stream = res.startStream(.ok, contentType: .octetStream)
                stream.after(.zero) { stream in
                    // More than the socket takes at once, so the drain waiter really waits.
                    let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
                    for _ in 0..<8 { stream.write(chunk) }
                    stream.onDrain { stream.finish() }
                }
            }
        }
        for _ in 0..<3 {
            let c = try s.client()
            try c.send(get("/drain-finish", "Connection: close\r\n"))
            let all = try c.readUntilClosed()
            #expect(all.count > 8 << 20)
        }
        let stats = await s.waitUntilIdle()
        #expect(stats.accepted == 3)
        #expect(stats.reactors.reduce(0) { $0 + $1.closed } == 3, "every connection closed exactly once")
    }

    /// `100 Continue` went out before a streaming handler ran, so a handler that refused the
    /// upload (401 here) still invited the client to send it.
    @Test func continueIsSentOnlyWhenTheHandlerAsksForTheBody() throws {
        let s = try TestServer { router in
            router.post("/guarded", options: RouteOptions(body: .stream)) { req, res in
                guard req.header("Authorization") != nil else { return res.send(.unauthorized, "who are you?\n") }
                res.streamBody { part, res, _ in
                    if case .end = part { res.send("thanks\n") }
                }
            }
        }
        let refused = try s.client()
        try refused.send("POST /guarded HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let answer = try refused.readResponse()
        #expect(answer.status == 401, "the first answer is the refusal, not 100 Continue")
        #expect(answer.header("Connection") == "close")

        let welcome = try s.client()
        try welcome.send("POST /guarded HTTP/1.1\r\nHost: t\r\nAuthorization: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try welcome.readResponse()
        #expect(interim.status == 100)
        try welcome.send("hello")
        #expect(try welcome.readResponse().text == "thanks\n")
    }
}

/// A body handler whose upload is under way when the server shuts down hears `.shutdown`. (The
/// notice is queued work like any other; the reactor runs the queue one last time as it stops.)
@Suite struct ShutdownNoticeTests {
    @Test func anUploadInProgressHearsShutdown() throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { router in
            streamingRoutes(router, aborts: aborts)
        })
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 1000))
        usleep(100_000)
        s.server.shutdown()
        #expect(aborts.all == [.shutdown])
    }
}

/// Traps that used to end the process. Each runs in a child process (an exit test), so a trap
/// fails the test instead of the whole suite.
@Suite struct ArithmeticTrapTests {
    /// A route accepting any body size, and a client holding a partial head past 512 bytes: the
    /// lease's growth ceiling overflowed.
    @Test func unlimitedRouteBodyWithALongPartialHead() async {
        await #expect(processExitsWith: .success) {
            let s = try TestServer { router in
                router.post("/any", options: RouteOptions(maxBodyBytes: .max)) { req, res in res.send(.ok, "\(req.bodyCount)") }
            }
            let c = try s.client()
            try c.send("POST /any HTTP/1.1\r\nHost: t\r\nX-Pad: " + String(repeating: "a", count: 700))
            usleep(50_000)
            try c.send("\r\nContent-Length: 3\r\n\r\nabc")
            #expect(try c.readResponse().text == "3")
        }
    }

    @Test func unlimitedServerBodyWithALongPartialHead() async {
        await #expect(processExitsWith: .success) {
            let s = try TestServer(limits: RequestLimits(maxBodyBytes: .max))
            let c = try s.client()
            try c.send("POST /count HTTP/1.1\r\nHost: t\r\nX-Pad: " + String(repeating: "b", count: 900))
            usleep(50_000)
            try c.send("\r\nContent-Length: 2\r\n\r\nhi")
            #expect(try c.readResponse().text == "2 -")
        }
    }

    /// A Content-Length beyond Int64 under an unlimited body limit: the end of the body
    /// overflowed. (Answered 413: no memory holds that body.)
    @Test func hugeContentLengthUnderAnUnlimitedLimit() async {
        await #expect(processExitsWith: .success) {
            let s = try TestServer(limits: RequestLimits(maxBodyBytes: .max))
            let c = try s.client()
            try c.send("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\nabc")
            let r = try c.readResponse()
            #expect(r.status == 413)
            let other = try s.client()
            try other.send(get("/plaintext"))
            #expect(try other.readResponse().text == "Hello, World!")
        }
    }

    /// A timeout past what a 64-bit nanosecond clock holds: deadlines wrapped negative and
    /// every connection timed out at once.
    @Test func absurdTimeoutsAreClampedNotWrapped() async {
        await #expect(processExitsWith: .success) {
            let s = try TestServer(configure: { config in
                config.idleTimeout = .seconds(Int64.max)
                config.headerTimeout = .seconds(Int64.max / 2)
            })
            let c = try s.client()
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().text == "Hello, World!")
            usleep(100_000)
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().text == "Hello, World!")
        }
    }
}

/// SIGPIPE must not kill a process that started the server with `start()` (which, unlike
/// `run()`, does not touch the process's signal dispositions).
@Suite struct SignalSafetyTests {
    @Test func aClientLeavingMidDownloadDoesNotRaiseSIGPIPE() async {
        await #expect(processExitsWith: .success) {
            // The default disposition, as in a program that never heard of SIGPIPE.
            signal(SIGPIPE, SIG_DFL)
            let dir = "/tmp/gust-sigpipe-\(getpid())"
            mkdir(dir, 0o755)
            let big = [UInt8](repeating: 0x7a, count: 32 << 20)
            let f = fopen(dir + "/big.bin", "w")!
            _ = big.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            fclose(f)
            let s = try TestServer(routes: { try! $0.files("/files", directory: dir) })
            for _ in 0..<3 {
                let c = try s.client(receiveBuffer: 4096)
                try c.send(get("/files/big.bin"))
                _ = try c.readSome(max: 1024)
                c.shutdownWrite()
                usleep(20_000)
                c.abort()  // unread data: the server's next sendfile meets a reset connection
            }
            usleep(200_000)
            let c = try s.client()
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().text == "Hello, World!")
            unlink(dir + "/big.bin")
            rmdir(dir)
        }
    }
}
