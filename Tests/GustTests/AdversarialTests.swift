@testable import Gust
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Adversarial scenarios: API misuse, answers from other threads, hostile bytes, absurd limits.
// After each: a fresh client is served, the server goes idle, closed == accepted.

/// A fresh client is served; once clients are gone nothing is held; closed == accepted.
func expectHealthy(_ s: TestServer, upgraded: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    do {
        let c = try s.client()
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().text == "Hello, World!", sourceLocation: sourceLocation)
    }
    let stats = await s.waitUntilIdle()
    #expect(stats.connections == 0 && stats.inputLeases == 0 && stats.outputLeases == 0, "\(stats)", sourceLocation: sourceLocation)
    let accepted = stats.reactors.reduce(0) { $0 + $1.accepted }
    let closed = stats.reactors.reduce(0) { $0 + $1.closed }
    #expect(closed + upgraded == accepted, "closed \(closed) accepted \(accepted)", sourceLocation: sourceLocation)
}

/// Thread-safe log of strings, for what handlers saw.
final class Log: @unchecked Sendable {
    private let lock = NSLockish()
    private var items: [String] = []
    func add(_ s: String) { lock.with { items.append(s) } }
    var all: [String] { lock.with { items } }
    func wait(for predicate: ([String]) -> Bool, seconds: Double = 3) -> Bool {
        let start = monotonicSeconds()
        while monotonicSeconds() - start < seconds {
            if predicate(all) { return true }
            usleep(5_000)
        }
        return predicate(all)
    }
}

/// A box for a deferred response, handed between handlers on the same reactor.
final class DeferredBox: @unchecked Sendable {
    private let lock = NSLockish()
    private var items: [DeferredResponse] = []
    func put(_ d: DeferredResponse) { lock.with { items.append(d) } }
    func take() -> DeferredResponse? { lock.with { items.isEmpty ? nil : items.removeFirst() } }
    var count: Int { lock.with { items.count } }
    var all: [DeferredResponse] { lock.with { items } }
}

@Suite struct AdversarialTests {

    // MARK: Response streams

    /// The natural "write, then continue when drained" pump, started inside the handler. Inside
    /// the handler `pendingBytes` is 0, so `onDrain` runs its waiter at once, nested: the pump
    /// recurses once per piece and everything is buffered before anything is sent.
    @Test func onDrainPumpStartedInTheHandlerDoesNotRecurse() async throws {
        let depth = Mutex<(now: Int, max: Int)>((0, 0))
        let s = try TestServer(routes: { router in
            router.get("/pump") { _, res in
                let stream = res.startStream(.ok, contentType: .octetStream)
                var sent = 0
                func pump() {
                    depth.withLock { $0.now += 1; $0.max = max($0.max, $0.now) }
                    defer { depth.withLock { $0.now -= 1 } }
                    guard sent < 2000 else { return stream.finish() }
                    sent += 1
                    stream.write([UInt8](repeating: 0x61, count: 100))
                    stream.onDrain(pump)
                }
                pump()
            }
        })
        let c = try s.client()
        try c.send(get("/pump", "Connection: close\r\n"))
        let all = try c.readUntilClosed()
        #expect(all.count > 200_000)
        let maxDepth = depth.withLock { $0.max }
        #expect(maxDepth < 10, "onDrain pump nested \(maxDepth) deep")
        try await expectHealthy(s)
    }

    /// Same pump, unbounded (`while the stream is open`), as an SSE producer would be: crashes.
    @Test func unboundedOnDrainPumpInTheHandlerDoesNotCrash() async {
        await #expect(processExitsWith: .success) {
            let s = try TestServer(routes: { router in
                router.get("/pump") { _, res in
                    let stream = res.startStream(.ok, contentType: .octetStream)
                    func pump() {
                        guard stream.isOpen else { return }
                        stream.write("data: tick\n\n")
                        stream.onDrain(pump)
                    }
                    pump()
                }
            })
            let c = try s.client()
            try c.send(get("/pump"))
            _ = try c.readSome()
            c.abort()
            usleep(100_000)
            let d = try s.client()
            try d.send(get("/plaintext"))
            #expect(try d.readResponse().text == "Hello, World!")
        }
    }

    @Test func finishTwiceWriteAfterFinishOnDrainFinish() async throws {
        let log = Log()
        let s = try TestServer(routes: { router in
            router.get("/misuse") { _, res in
                let stream = res.startStream(.ok, contentType: .plainText)
                stream.write("a")
                stream.onDrain { stream.write("b"); stream.finish() }  // runs after the handler: finished by then
                stream.finish()
                log.add("write after finish: \(stream.write("c"))")
                stream.onDrain { log.add("drain after finish") }
                stream.after(.zero) { s in log.add("after ran open=\(s.isOpen)"); s.write("d"); s.finish() }
            }
            router.get("/late-misuse") { _, res in
                let stream = res.startStream(.ok, contentType: .plainText)
                stream.after(.milliseconds(2)) { s in
                    s.write(String(repeating: "x", count: 3 << 20))
                    s.onDrain {
                        s.finish()
                        s.finish()
                        log.add("late write after finish: \(s.write("y"))")
                        s.onDrain { s.finish() }
                    }
                }
            }
        })
        do {
        let c = try s.client()
        try c.send(get("/misuse") + get("/plaintext"))
        let r = try c.readResponse()
        #expect(r.status == 200)
        // chunked body: read until the terminating chunk
        let body = try readChunked(c).data
        let text = String(decoding: body, as: UTF8.self)
        #expect(text == "a", "\(text.debugDescription)")  // the waiter's write came after finish()
        #expect(try c.readResponse().text == "Hello, World!")
        #expect(log.wait { $0.contains("write after finish: false") })

        let d = try s.client()
        try d.send(get("/late-misuse") + get("/plaintext"))
        #expect(try d.readResponse().status == 200)
        let got = try readChunked(d).data
        #expect(got.count == 3 << 20)
        #expect(try d.readResponse().text == "Hello, World!")
        #expect(log.wait { $0.contains("late write after finish: false") })
        }
        try await expectHealthy(s)
    }

    /// A stream that is never finished, on a client that never reads: the write timeout frees it.
    @Test func clientThatNeverReadsAStreamIsDroppedAfterTheWriteTimeout() async throws {
        let log = Log()
        let s = try TestServer(routes: { router in
            router.get("/flood") { _, res in
                let stream = res.startStream(.ok, contentType: .octetStream)
                func tick(_ s: ResponseStream) {
                    guard s.write([UInt8](repeating: 0x62, count: 256 << 10)) else { return log.add("refused") }
                    s.after(.milliseconds(5), tick)
                }
                stream.after(.zero, tick)
            }
        }, configure: { $0.writeTimeout = .milliseconds(300) })
        let c = try s.client(receiveBuffer: 4096)
        try c.send(get("/flood"))
        usleep(100_000)
        var stats = await s.server.stats()
        let start = monotonicSeconds()
        while stats.connections > 0 && monotonicSeconds() - start < 5 {
            usleep(20_000)
            stats = await s.server.stats()
        }
        #expect(stats.connections == 0, "a client that never reads is still held after \(monotonicSeconds() - start) s: \(stats)")
        c.abort()
        try await expectHealthy(s)
    }

    // MARK: Deferred answers

    @Test func respondInsideRespondAndDeferThenSend() async throws {
        let s = try TestServer(routes: { router in
            router.get("/nested") { _, res in
                let d = res.deferResponse()
                d.respond { res in
                    let again = d.respond { res in res.send("second") }
                    res.send(.ok, "first \(again)")
                }
            }
            router.get("/defer-then-send") { _, res in
                let d = res.deferResponse()
                res.send("sent after deferring")  // ignored: the response is deferred
                res.header("X-Late", "1")
                d.respond { res in res.send("late") }
            }
        })
        do {
            let c = try s.client()
            try c.send(get("/nested") + get("/defer-then-send") + get("/plaintext"))
            #expect(try c.readResponse().text == "first false")
            let late = try c.readResponse()
            #expect(late.text == "late" && late.header("X-Late") == nil)
            #expect(try c.readResponse().text == "Hello, World!")
        }
        try await expectHealthy(s)
    }

    /// Connection A defers; connection B's handler answers A's deferral (same reactor).
    @Test func answeringAnotherConnectionsDeferralFromAHandler() async throws {
        let box = DeferredBox()
        let s = try TestServer(routes: { router in
            router.get("/park") { _, res in box.put(res.deferResponse()) }
            router.get("/release") { _, res in
                var n = 0
                while let d = box.take() {
                    n += 1
                    d.respond { res in res.send("released") }
                }
                res.send(.ok, "released \(n)")
            }
        })
        do {
            let a = try s.client()
            try a.send(get("/park") + get("/plaintext"))
            let gone = try s.client()
            try gone.send(get("/park"))
            for _ in 0..<200 where box.count < 2 { usleep(5_000) }
            gone.abort()
            usleep(50_000)
            let b = try s.client()
            try b.send(get("/release"))
            #expect(try b.readResponse().text == "released 2")
            #expect(try a.readResponse().text == "released")
            #expect(try a.readResponse().text == "Hello, World!")
        }
        try await expectHealthy(s)
    }

    /// Many threads answering many deferred requests at once, several times each, shuffled.
    @Test func manyThreadsAnswerManyDeferralsAtOnce() async throws {
        let box = DeferredBox()
        let s = try TestServer(reactors: 2, routes: { router in
            router.get("/later") { req, res in
                let id = req.queryInt("id") ?? -1
                let d = res.deferResponse()
                box.put(d)
                // Also keep the id with it: answered by whichever thread gets there first.
                pending.withLock { $0.append((d, id)) }
            }
        })
        var clients = try (0..<16).map { _ in try s.client() }
        for (k, c) in clients.enumerated() {
            try c.send((0..<40).map { get("/later?id=\(k * 1000 + $0)") }.joined())
        }
        let stop = Atomic<Bool>(false)
        var threads: [OSThread] = []
        for t in 0..<6 {
            threads.append(OSThread.spawn(name: "answer\(t)") {
                while !stop.load(ordering: .relaxed) {
                    let batch = pending.withLock { $0 }
                    for (d, id) in batch.shuffled().prefix(50) {
                        d.respond { res in res.send(.ok, "answer \(id)") }
                    }
                    usleep(UInt32.random(in: 50...500))
                }
            })
        }
        var bad = 0
        for (k, c) in clients.enumerated() {
            for n in 0..<40 {
                let r = try c.readResponse()
                if !(r.status == 200 && r.text == "answer \(k * 1000 + n)") { bad += 1 }
            }
        }
        stop.store(true, ordering: .relaxed)
        #expect(bad == 0)
        _ = threads
        clients.removeAll()
        pending.withLock { $0.removeAll() }
        try await expectHealthy(s)
    }

    /// Answers from another thread after the client left and after the server shut down.
    @Test func answersAfterTheClientLeftAndAfterShutdown() async {
        await #expect(processExitsWith: .success) {
            let box = DeferredBox()
            var s: TestServer? = try TestServer(routes: { router in
                router.get("/park") { _, res in box.put(res.deferResponse()) }
            })
            for _ in 0..<10 {
                let c = try s!.client()
                try c.send(get("/park"))
                for _ in 0..<200 where box.count == 0 { usleep(2_000) }
                c.abort()
            }
            let still = try s!.client()
            try still.send(get("/park"))
            for _ in 0..<200 where box.count < 11 { usleep(2_000) }
            s!.server.shutdown()
            s = nil  // the engine is gone
            let results = Mutex<[Bool]>([])
            let threads = (0..<4).map { t in
                OSThread.spawn(name: "late\(t)") {
                    for d in box.all {
                        let r = d.respond { res in res.send("too late") }
                        results.withLock { $0.append(r) }
                    }
                }
            }
            _ = threads
            for _ in 0..<500 where results.withLock({ $0.count }) < 44 { usleep(2_000) }
            #expect(results.withLock { $0.allSatisfy { !$0 } })
            #expect(try still.readUntilClosed().isEmpty)
        }
    }

    /// A client sends a request and half-closes (SHUT_WR) at once; the handler defers. A plain
    /// answer survives a half-close (BadInputTests.halfClosingClientStillGetsItsAnswer); does a
    /// deferred one?
    @Test func halfCloseWhileDeferredStillGetsTheAnswer() async throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/delay?ms=50"))
        c.shutdownWrite()
        let all = try c.readUntilClosed()
        #expect(String(decoding: all, as: UTF8.self).contains("waited 50 ms"), "got \(all.count) bytes")
        try await expectHealthy(s)
    }

    @Test func halfCloseWhileStreamingStillGetsTheStream() async throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/stream?n=3&ms=20"))
        c.shutdownWrite()
        let all = try c.readUntilClosed()
        #expect(String(decoding: all, as: UTF8.self).contains("tick 3 of 3"), "got \(all.count) bytes")
        try await expectHealthy(s)
    }

    /// A client sends a whole body, then half-closes, while the handler has the body paused
    /// (pacing with resume(after:)): the upload is still answered.
    @Test func halfCloseWhileABodyIsPausedStillGetsTheAnswer() async throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { streamingRoutes($0, aborts: aborts) })
        do {
            let c = try s.client()
            let body = [UInt8](repeating: 0x42, count: 400_000)
            try c.send("POST /upload?pause=1 HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n")
            try c.send(body)
            c.shutdownWrite()
            let all = String(decoding: try c.readUntilClosed(), as: UTF8.self)
            #expect(all.contains("\(body.count) \(uploadSum(body))"), "got \(all.debugDescription); aborts \(aborts.all)")
        }
        try await expectHealthy(s)
    }


    // MARK: Streamed request bodies

    @Test func shutdownTellsBodyHandlersTheyWereAborted() async throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { streamingRoutes($0, aborts: aborts) })
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        try c.send([UInt8](repeating: 1, count: 1000))
        let p = try s.client()
        try p.send("POST /upload?stall=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        try p.send([UInt8](repeating: 1, count: 1000))
        usleep(100_000)
        s.server.shutdown()
        #expect(aborts.all.filter { $0 == .shutdown }.count == 2, "aborts heard: \(aborts.all)")
    }

    @Test func pauseFromATimerResumeTwiceResumeAfterAbort() async throws {
        let log = Log()
        let s = try TestServer(routes: { router in
            router.post("/paced", options: RouteOptions(maxBodyBytes: .max, body: .stream)) { _, res in
                var count = 0
                res.streamBody { part, res, stream in
                    switch part {
                    case .data(let bytes):
                        count += bytes.count
                        stream.resume()  // not paused: nothing
                        stream.pause()
                        stream.resume(after: .milliseconds(1))
                        stream.resume(after: .milliseconds(1))
                        stream.resume(after: .zero)
                    case .end:
                        res.send(.ok, "\(count)")
                        stream.resume()
                        stream.pause()
                    case .aborted(let why):
                        log.add("aborted \(why)")
                        stream.resume()
                        stream.pause()
                        stream.resume()
                    }
                }
            }
            router.post("/timer-paused", options: RouteOptions(maxBodyBytes: .max, body: .stream)) { _, res in
                var count = 0
                let stream = res.streamBody { part, res, stream in
                    switch part {
                    case .data(let bytes): count += bytes.count
                    case .end: res.send(.ok, "\(count)")
                    case .aborted(let why): log.add("timer-paused aborted \(why)")
                    }
                }
                func cycle(_ k: Int) {
                    guard k < 40, !stream.isFinished else { return }
                    stream.pause()
                    stream.pause()
                    stream.resume(after: .milliseconds(1))
                    stream.resume(after: .milliseconds(2))
                    stream.resume(after: .milliseconds(2))
                    Self.timer(s: stream) { cycle(k + 1) }
                }
                cycle(0)
            }
        })
        let body = [UInt8](repeating: 0x41, count: 200_000)
        for path in ["/paced", "/timer-paused"] {
            let c = try s.client()
            try c.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n")
            for k in stride(from: 0, to: body.count, by: 7000) {
                try c.send(Array(body[k..<min(body.count, k + 7000)]))
                usleep(500)
            }
            #expect(try c.readResponse().text == "\(body.count)", "\(path)")
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().text == "Hello, World!", "\(path)")
        }
        // aborted while a timer resume is pending
        let gone = try s.client()
        try gone.send("POST /timer-paused HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        try gone.send([UInt8](repeating: 1, count: 5000))
        usleep(20_000)
        gone.abort()
        #expect(log.wait { $0.contains("timer-paused aborted the client closed the connection") })
        try await expectHealthy(s)
    }

    /// A reactor timer from a body stream's engine (the stream has no `after`): via resume(after:).
    static func timer(s stream: BodyStream, _ body: @escaping () -> Void) {
        stream.engine.reactor.schedule(after: .milliseconds(3), body)
    }

    @Test func answerFromAPieceThenMorePiecesArrive() async throws {
        let log = Log()
        let s = try TestServer(routes: { router in
            router.post("/early", options: RouteOptions(maxBodyBytes: .max, body: .stream)) { _, res in
                var pieces = 0
                res.streamBody { part, res, stream in
                    switch part {
                    case .data:
                        pieces += 1
                        if pieces == 1 {
                            res.send(.accepted, "enough")
                            stream.pause()
                            stream.resume()
                        } else {
                            log.add("piece after answer")
                        }
                    case .end: log.add("end after answer")
                    case .aborted(let why): log.add("aborted \(why)")
                    }
                }
            }
        })
        let c = try s.client()
        try c.send("POST /early HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        try c.send("5\r\nhello\r\n")
        let r = try c.readResponse()
        #expect(r.status == 202 && r.header("Connection") == "close")
        for _ in 0..<20 { try? c.send("5\r\nworld\r\n") }
        try? c.send("0\r\n\r\n" + get("/plaintext"))
        _ = try? c.readUntilClosed()
        usleep(50_000)
        #expect(log.all.isEmpty, "\(log.all)")
        try await expectHealthy(s)
    }

    /// A chunked body split at every byte, with a pipelined request behind it.
    @Test func chunkedBodyOneByteAtATimeThenPipelined() async throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { streamingRoutes($0, aborts: aborts) })
        let body = Array("the quick brown fox jumps over the lazy dog".utf8)
        // (Built in steps: one long `+` chain takes the type checker too long.)
        var wire: [UInt8] = Array("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n".utf8)
        wire += Array("3;ext=1\r\n".utf8)
        wire += body[0..<3]
        wire += Array("\r\n".utf8)
        wire += chunked(Array(body[3...]), pieces: 7).dropLast(2)
        wire += Array("X-Trailer: y\r\n\r\n".utf8)
        wire += Array(get("/json").utf8)
        do {
            let c = try s.client()
            for b in wire {
                try c.send([b])
                usleep(200)
            }
            let first = try c.readResponse()
            #expect(first.status == 100)
            #expect(try c.readResponse().text == "\(body.count) \(uploadSum(body))")
            #expect(try c.readResponse().text == #"{"message":"Hello, World!"}"#)
        }
        #expect(aborts.all.isEmpty)
        try await expectHealthy(s)
    }

    /// Bodies that are shorter than declared (then half-close), longer (the rest is a bad
    /// request), or half-closed mid-body.
    @Test func bodiesShorterLongerAndHalfClosed() async throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { streamingRoutes($0, aborts: aborts) })
        // longer than declared: the extra bytes are a (bad) next request
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloEXTRA GARBAGE\r\n\r\n")
        #expect(try c.readResponse().text == "5 \(uploadSum(Array("hello".utf8)))")
        #expect(try c.readResponse().status == 400)
        _ = try c.readUntilClosed()
        // shorter, then SHUT_WR
        let d = try s.client()
        try d.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nhello")
        usleep(20_000)
        d.shutdownWrite()
        _ = try d.readUntilClosed()
        // buffered route, half-closed mid body
        let e = try s.client()
        try e.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nhello")
        e.shutdownWrite()
        _ = try e.readUntilClosed()
        usleep(50_000)
        #expect(aborts.all == [.clientGone])
        try await expectHealthy(s)
    }

    // MARK: Absurd limits and timeouts

    @Test func unlimitedBodiesAndAbsurdLengths() async {
        await #expect(processExitsWith: .success) {
            let aborts = AbortLog()
            let s = try TestServer(limits: RequestLimits(maxBodyBytes: .max), routes: { router in
                streamingRoutes(router, aborts: aborts)
                router.post("/any", options: RouteOptions(maxBodyBytes: .max, body: .stream)) { _, res in
                    var n = 0
                    res.streamBody { part, res, _ in
                        if case .data(let b) = part { n += b.count }
                        if case .end = part { res.send(.ok, "\(n)") }
                    }
                }
            })
            let lengths = ["9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
                           "99999999999999999999999999999", "-1", "+5", "0x10", "5, 5", "5,6", " 5", "1e3"]
            for path in ["/any", "/count", "/echo"] {
                for length in lengths {
                    let c = try s.client()
                    try c.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(length)\r\n\r\nabc")
                    c.shutdownWrite()
                    _ = try c.readUntilClosed()
                }
                for size in ["ffffffffffffffff", "7fffffffffffffff", "10000000000000000", "8000000000000000", "fffffffffffffffffffff"] {
                    let c = try s.client()
                    try c.send("POST \(path) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc")
                    c.shutdownWrite()
                    _ = try c.readUntilClosed()
                    let d = try s.client()
                    try d.send("POST \(path) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n\(size)\r\nabc\r\n")
                    _ = try? d.readResponse()
                }
            }
            let c = try s.client()
            try c.send(get("/plaintext"))
            #expect(try c.readResponse().text == "Hello, World!")
        }
    }

    @Test func allTimeoutsAbsurd() async {
        await #expect(processExitsWith: .success) {
            let s = try TestServer(routes: { router in
                router.get("/s") { _, res in
                    let st = res.startStream()
                    st.write("x")
                    st.after(.seconds(Int64.max)) { $0.finish() }
                    st.after(.milliseconds(10)) { $0.finish() }
                }
                router.get("/d") { _, res in res.respond(after: .seconds(Int64.max)) { $0.send("never") } }
            }, configure: { config in
                config.idleTimeout = .seconds(Int64.max)
                config.headerTimeout = .seconds(Int64.max)
                config.bodyTimeout = .seconds(Int64.max)
                config.writeTimeout = .seconds(Int64.max)
                config.lingerTimeout = .seconds(Int64.max)
            })
            let c = try s.client()
            try c.send(get("/plaintext") + get("/s") + get("/plaintext"))
            #expect(try c.readResponse().text == "Hello, World!")
            _ = try c.readResponse()
            try c.fill(5)
            let d = try s.client()
            try d.send(get("/d"))
            usleep(50_000)
            d.abort()
            let e = try s.client()
            try e.send("BAD\r\n\r\n")
            #expect(try e.readResponse().status == 400)
            e.shutdownWrite()
            _ = try e.readUntilClosed()
            let f = try s.client()
            try f.send(get("/plaintext"))
            #expect(try f.readResponse().text == "Hello, World!")
        }
    }

    @Test func allTimeoutsOneMillisecond() async throws {
        let s = try TestServer(configure: { config in
            config.idleTimeout = .milliseconds(1)
            config.headerTimeout = .milliseconds(1)
            config.bodyTimeout = .milliseconds(1)
            config.writeTimeout = .milliseconds(1)
            config.lingerTimeout = .milliseconds(1)
        })
        var statuses: [Int: Int] = [:]
        for k in 0..<40 {
            guard let c = try? s.client() else { continue }
            switch k % 5 {
            case 0: try? c.send(get("/plaintext"))
            case 1: try? c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab")
            case 2: try? c.send("GET /plain")
            case 3: try? c.send(get("/big?n=3000000"))
            default: try? c.send(get("/stream?n=3&ms=5"))
            }
            usleep(3_000)
            if let r = try? c.readResponse() { statuses[r.status, default: 0] += 1 }
            _ = try? c.readUntilClosed()
        }
        // The server survives; the defaults come back for a fresh server check:
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.inputLeases == 0 && stats.outputLeases == 0, "\(stats) \(statuses)")
        #expect(stats.reactors.reduce(0) { $0 + $1.closed } == stats.reactors.reduce(0) { $0 + $1.accepted })
    }

    // MARK: Hostile bytes

    @Test func hostileBytesGetTheRightStatusAndOthersAreUnaffected() async throws {
        let s = try TestServer()
        let bystander = try s.client()
        let cases: [(String, [UInt8], Int?)] = [
            ("nul in method", Array("G\0T / HTTP/1.1\r\nHost: t\r\n\r\n".utf8), 400),
            ("nul in header value", Array("GET / HTTP/1.1\r\nHost: t\0x\r\n\r\n".utf8), 400),
            ("bare LF", Array("GET /plaintext HTTP/1.1\nHost: t\n\n".utf8), nil),
            ("bare CR", Array("GET /plaintext HTTP/1.1\rHost: t\r\r".utf8), 400),
            ("garbage", (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }, 400),
            ("all 0xff", [UInt8](repeating: 0xff, count: 100) + Array("\r\n\r\n".utf8), 400),
            ("HTTP/2 preface", Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), nil),
            ("version 1.2", Array("GET / HTTP/1.2\r\nHost: t\r\n\r\n".utf8), nil),
            ("version 9.9", Array("GET / HTTP/9.9\r\nHost: t\r\n\r\n".utf8), 505),
            ("TE gzip", Array("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".utf8), 400),
            ("TE gzip, chunked", Array("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".utf8), 501),
            ("CL and TE", Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8), 400),
            ("two CL", Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".utf8), 400),
            ("space before colon", Array("GET / HTTP/1.1\r\nHost : t\r\n\r\n".utf8), 400),
            ("obs-fold", Array("GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n".utf8), 400),
            ("long uri", Array(("GET /" + String(repeating: "a", count: 20000) + " HTTP/1.1\r\nHost: t\r\n\r\n").utf8), 414),
            ("huge header", Array(("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "a", count: 70000) + "\r\n\r\n").utf8), 431),
            ("empty lines first", Array("\r\n\r\n\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n".utf8), nil),
            ("no host", Array("GET /plaintext HTTP/1.1\r\n\r\n".utf8), nil),
            ("absolute form", Array("GET http://x/plaintext HTTP/1.1\r\nHost: x\r\n\r\n".utf8), nil),
        ]
        var report: [String] = []
        for (name, bytes, status) in cases {
            let c = try s.client()
            try? c.send(bytes)
            c.shutdownWrite()
            let all = (try? c.readUntilClosed()) ?? []
            let text = String(decoding: all.prefix(40), as: UTF8.self)
            report.append("\(name): \(text.split(separator: "\r\n").first ?? "<nothing>")")
            if let status {
                #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(name): \(text.debugDescription)")
            }
        }
        print(report.joined(separator: "\n"))
        try bystander.send(get("/plaintext"))
        #expect(try bystander.readResponse().text == "Hello, World!")
        bystander.abort()
        try await expectHealthy(s)
    }

    /// Half-closes and resets at every byte of a request, on every kind of route.
    @Test func halfCloseAndResetAtEveryStage() async throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { streamingRoutes($0, aborts: aborts) })
        let requests = [
            get("/plaintext"),
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789",
            "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            get("/delay?ms=5"),
            get("/stream?n=2&ms=5"),
        ]
        for request in requests {
            let bytes = Array(request.utf8)
            for cut in stride(from: 1, through: bytes.count, by: max(1, bytes.count / 12)) {
                let c = try s.client()
                try c.send(Array(bytes[0..<cut]))
                if cut % 2 == 0 {
                    c.shutdownWrite()
                    _ = try c.readUntilClosed()
                } else {
                    c.abort()
                }
            }
        }
        try await expectHealthy(s)
    }

    // MARK: Drain and upgrade

    @Test func drainWhileDeferredStreamingAndUploading() async throws {
        let aborts = AbortLog()
        let s = try TestServer(routes: { streamingRoutes($0, aborts: aborts) })
        let deferred = try s.client()
        try deferred.send(get("/delay?ms=200") + get("/plaintext"))
        let streaming = try s.client()
        try streaming.send(get("/stream?n=5&ms=40") + get("/plaintext"))
        let uploading = try s.client()
        try uploading.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        let partial = try s.client()
        try partial.send("GET /plain")
        usleep(50_000)
        s.server.drain()
        s.server.drain()
        usleep(20_000)
        try uploading.send("defghij")
        let up = try uploading.readResponse()
        #expect(up.status == 200 && up.header("Connection") == "close")
        let d = try deferred.readResponse()
        #expect(d.text == "waited 200 ms\n" && d.header("Connection") == "close")
        #expect(try deferred.readUntilClosed().isEmpty)
        let all = String(decoding: try streaming.readUntilClosed(), as: UTF8.self)
        #expect(all.contains("tick 5 of 5") && !all.contains("Hello, World!"))
        _ = try? partial.readUntilClosed()
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.inputLeases == 0 && stats.outputLeases == 0, "\(stats)")
        #expect(stats.reactors.reduce(0) { $0 + $1.closed } == stats.reactors.reduce(0) { $0 + $1.accepted })
    }

    // MARK: More misuse

    /// `deferResponse()` from a body piece is documented misuse (`BodyHandler`: defer or stream
    /// at `.end`): a precondition, whose message now says so, stops the process.
    @Test func deferringFromABodyPieceIsADocumentedTrap() async {
        await #expect(processExitsWith: .failure) {
            let s = try TestServer(routes: { router in
                router.post("/up", options: RouteOptions(body: .stream)) { _, res in
                    res.streamBody { part, res, _ in
                        if case .data = part { res.respond(after: .milliseconds(1)) { $0.send(.ok, "later") } }
                        if case .end = part { res.send(.ok, "end") }
                    }
                }
            })
            let c = try s.client()
            try c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
            _ = try c.readResponse()
        }
    }

    /// Streams with bodyless statuses, HEAD, and HTTP/1.0, each followed by a pipelined request.
    @Test func streamsWithBodylessStatusesHeadAndHTTP10() async throws {
        let s = try TestServer(routes: { router in
            router.get("/s204") { _, res in
                let st = res.startStream(.noContent)
                st.write("not sent")
                st.finish(trailers: [("X-T", "1")])
            }
            router.get("/s304") { _, res in
                let st = res.startStream(.notModified)
                st.after(.milliseconds(2)) { $0.write("nope"); $0.finish() }
            }
            router.get("/s") { _, res in
                let st = res.startStream(.ok, contentType: .plainText)
                st.write("abc")
                st.after(.milliseconds(2)) { $0.write("def"); $0.finish() }
            }
        })
        do {
            let c = try s.client()
            try c.send(get("/s204") + get("/s304") + "HEAD /s HTTP/1.1\r\nHost: t\r\n\r\n" + get("/plaintext"))
            let a = try c.readResponse()
            #expect(a.status == 204 && a.header("Transfer-Encoding") == nil && a.header("Content-Length") == nil, "\(a.headers)")
            let b = try c.readResponse()
            #expect(b.status == 304 && b.header("Transfer-Encoding") == nil, "\(b.headers)")
            let h = try c.readResponse(head: true)
            #expect(h.status == 200)
            let p = try c.readResponse()
            #expect(p.text == "Hello, World!", "\(p.status) \(p.text.debugDescription) pending \(String(decoding: c.pending, as: UTF8.self).debugDescription)")
        }
        do {
            let c = try s.client()
            try c.send("GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "GET /plaintext HTTP/1.0\r\n\r\n")
            let all = String(decoding: try c.readUntilClosed(), as: UTF8.self)
            #expect(all.hasSuffix("\r\n\r\nabcdef") && !all.contains("Hello"), "\(all.debugDescription)")
        }
        try await expectHealthy(s)
    }

    /// Deferred answers to HEAD requests and for HTTP/1.0 clients, pipelined.
    @Test func deferredHeadAndHTTP10() async throws {
        let s = try TestServer()
        do {
            let c = try s.client()
            try c.send("HEAD /delay?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n" + get("/plaintext"))
            let h = try c.readResponse(head: true)
            #expect(h.status == 200 && h.header("Content-Length") == "12")
            #expect(try c.readResponse().text == "Hello, World!")
        }
        do {
            let c = try s.client()
            try c.send("GET /delay?ms=5 HTTP/1.0\r\n\r\n" + get("/plaintext"))
            let r = try c.readResponse()
            #expect(r.text == "waited 5 ms\n")
            #expect(try c.readUntilClosed().isEmpty)
        }
        try await expectHealthy(s)
    }

    /// Deferrals answered across reactors: a handler on one reactor answers deferrals parked by
    /// connections that may live on another.
    @Test func answersAcrossReactors() async throws {
        let box = DeferredBox()
        let s = try TestServer(reactors: 2, routes: { router in
            router.get("/park") { _, res in box.put(res.deferResponse()) }
            router.get("/release") { _, res in
                var n = 0
                while let d = box.take() {
                    if d.respond({ res in res.send(.ok, "released") }) { n += 1 }
                    _ = d.respond { res in res.send(.ok, "twice") }
                }
                res.send(.ok, "\(n)")
            }
        })
        do {
            let parked = try (0..<12).map { _ in try s.client() }
            for c in parked { try c.send(get("/park") + get("/plaintext")) }
            for _ in 0..<400 where box.count < 12 { usleep(5_000) }
            for _ in 0..<3 {
                let r = try s.client()
                try r.send(get("/release"))
                _ = try r.readResponse()
            }
            for c in parked {
                #expect(try c.readResponse().text == "released")
                #expect(try c.readResponse().text == "Hello, World!")
            }
        }
        try await expectHealthy(s)
    }

    /// A deferral that is never answered, by a client that stays: held without a timeout (by
    /// design: "none"); a drain does not free it either.
    @Test func neverAnsweredDeferralAndDrain() async throws {
        let s = try TestServer(routes: { router in
            router.get("/forget") { _, res in _ = res.deferResponse() }
        }, configure: { $0.idleTimeout = .milliseconds(100); $0.writeTimeout = .milliseconds(100) })
        let c = try s.client()
        try c.send(get("/forget"))
        usleep(400_000)
        let held = await s.server.stats()
        #expect(held.connections == 1, "held without a timeout (by design)")
        c.abort()
        try await expectHealthy(s)
    }

    /// 200 pipelined requests (past the 64-per-turn share) with a stream and a deferral in the
    /// middle, read slowly.
    @Test func longPipelineWithStreamAndDeferralInTheMiddle() async throws {
        let s = try TestServer(configure: { $0.maxPipelinedRequests = 7 })
        do {
            let c = try s.client(receiveBuffer: 4096)
            var reqs: [String] = []
            for k in 0..<200 {
                switch k {
                case 50: reqs.append(get("/stream?n=3&ms=1"))
                case 120: reqs.append(get("/delay?ms=3"))
                case 160: reqs.append(get("/big?n=300000"))
                default: reqs.append(get("/plaintext"))
                }
            }
            try c.send(reqs.joined())
            for k in 0..<200 {
                if k % 20 == 0 { usleep(2_000) }
                let r = try c.readResponse()
                switch k {
                case 50:
                    #expect(r.status == 200)
                    let body = try readChunked(c).data
                    #expect(String(decoding: body, as: UTF8.self).contains("tick 3 of 3"))
                case 120: #expect(r.text == "waited 3 ms\n")
                case 160: #expect(r.body.count == 300000)
                default: #expect(r.text == "Hello, World!", "request \(k)")
                }
            }
        }
        try await expectHealthy(s)
    }

    @Test func upgradeMisuse() async throws {
        let echo = EchoProtocol()
        let closer = CloserProtocol()
        let s = try TestServer(routes: { router in
            router.get("/echo") { _, res in res.upgrade(to: "echo", handler: echo) }
            router.get("/closer") { _, res in res.upgrade(to: "closer", handler: closer) }
            router.post("/echo-body") { _, res in res.upgrade(to: "echo", handler: echo) }
        })
        // pipelined request after the upgrade: goes to the protocol as bytes
        let a = try s.client()
        try a.send(get("/echo") + get("/plaintext"))
        #expect(try a.readResponse(head: true).status == 101)
        try a.fill(get("/plaintext").utf8.count)
        #expect(String(decoding: a.pending, as: UTF8.self) == get("/plaintext"))
        a.pending = []
        try a.send("bye")
        _ = try a.readUntilClosed()
        // a protocol that closes as it takes over
        let b = try s.client()
        try b.send(get("/closer") + "junk")
        #expect(try b.readResponse(head: true).status == 101)
        #expect(try b.readUntilClosed().isEmpty)
        // upgrade with a body
        let c = try s.client()
        try c.send("POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcXYZ")
        #expect(try c.readResponse(head: true).status == 101)
        try c.fill(3)
        #expect(String(decoding: c.pending, as: UTF8.self) == "XYZ")
        c.abort()
        // a client that resets right after asking
        for _ in 0..<5 {
            let d = try s.client()
            try d.send(get("/echo"))
            d.abort()
        }
        usleep(100_000)
        let upgraded = echo.taken.load(ordering: .relaxed) + closer.taken.load(ordering: .relaxed)
        #expect(upgraded >= 3)
        try await expectHealthy(s, upgraded: upgraded)
    }
}

/// Closes every connection it takes, at once.
final class CloserProtocol: UpgradeHandler, @unchecked Sendable {
    let taken = Atomic<Int>(0)
    func takeOver(_ connection: UpgradedConnection, unread: UnsafeRawBufferPointer) {
        taken.add(1, ordering: .relaxed)
        connection.close()
    }
    func ready(_ connection: UpgradedConnection, events: Events) { connection.close() }
}

/// Deferred answers with their ids, shared by the answering threads.
let pending = Mutex<[(DeferredResponse, Int)]>([])

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
