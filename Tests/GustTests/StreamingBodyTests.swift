@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Routes that take their bodies as streams, for these tests.
/// - `/upload`: sums the bytes; `?pause=1` pauses after each piece and resumes 1 ms later;
///   `?stall=1` pauses after the first piece for good (to see backpressure);
///   `?reject=1` answers 403 on the first piece.
func streamingRoutes(_ router: Router, aborts: AbortLog) {
    router.post("/upload", options: RouteOptions(maxBodyBytes: 1 << 30, body: .stream)) { req, res in
        let pace = req.query("pause") != nil
        let stall = req.query("stall") != nil
        let reject = req.query("reject") != nil
        var count = 0
        var sum: UInt64 = 0
        res.streamBody { part, res, stream in
            switch part {
            case .data(let bytes):
                if reject { return res.send(.forbidden, "no\n") }
                count += bytes.count
                bytes.forEach { sum = sum &* 31 &+ UInt64($0) }
                if stall {
                    aborts.note(received: count)
                    stream.pause()
                } else if pace {
                    stream.pause()
                    stream.resume(after: .milliseconds(1))
                }
            case .end:
                res.send(.ok, "\(count) \(sum)")
            case .aborted(let reason):
                aborts.note(reason)
            }
        }
    }
    router.post("/small-stream", options: RouteOptions(maxBodyBytes: 100, body: .stream)) { _, res in
        res.streamBody { part, res, _ in
            if case .end = part { res.send("done") }
            if case .aborted(let reason) = part { aborts.note(reason) }
        }
    }
    // `streamBody` on a buffered route: the body arrives in one piece.
    router.post("/buffered-stream") { _, res in
        var pieces = 0
        var count = 0
        res.streamBody { part, res, _ in
            switch part {
            case .data(let bytes):
                pieces += 1
                count += bytes.count
            case .end: res.send(.ok, "\(pieces) \(count)")
            case .aborted: break
            }
        }
    }
    router.post("/tiny", options: RouteOptions(maxBodyBytes: 10)) { req, res in
        res.send(.ok, "\(req.bodyCount)")
    }
}

/// What streaming handlers saw go wrong, readable from the test thread.
final class AbortLog: @unchecked Sendable {
    private let lock = NSLockish()
    private var reasons: [BodyAbort] = []
    private var received = 0
    func note(_ reason: BodyAbort) { lock.with { reasons.append(reason) } }
    func note(received n: Int) { lock.with { received = n } }
    var all: [BodyAbort] { lock.with { reasons } }
    var bytesReceived: Int { lock.with { received } }
}

/// A tiny pthread mutex (Foundation-free).
final class NSLockish: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

/// The checksum `/upload` computes.
func uploadSum(_ bytes: [UInt8]) -> UInt64 {
    var sum: UInt64 = 0
    for b in bytes { sum = sum &* 31 &+ UInt64(b) }
    return sum
}

func chunked(_ body: [UInt8], pieces: Int) -> [UInt8] {
    var out: [UInt8] = []
    let size = max(1, body.count / pieces)
    var i = 0
    while i < body.count {
        let piece = body[i..<min(body.count, i + size)]
        out += Array(String(piece.count, radix: 16).utf8) + [13, 10] + piece + [13, 10]
        i += size
    }
    return out + Array("0\r\n\r\n".utf8)
}

@Suite struct StreamingBodyTests {
    let aborts = AbortLog()

    func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        let log = aborts
        return try TestServer(routes: { streamingRoutes($0, aborts: log) }, configure: configure)
    }

    static let body: [UInt8] = (0..<(1 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }

    @Test func contentLengthBodyStreamsThrough() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(Self.body.count)\r\n\r\n")
        try c.send(Self.body)
        let r = try c.readResponse()
        #expect(r.text == "\(Self.body.count) \(uploadSum(Self.body))")
        // The connection serves on.
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().text == "Hello, World!")
    }

    @Test func chunkedBodyStreamsThroughWithAPipelinedRequestBehind() async throws {
        let s = try server()
        let c = try s.client()
        try c.send(Array("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            + chunked(Self.body, pieces: 37) + Array(get("/json").utf8))
        #expect(try c.readResponse().text == "\(Self.body.count) \(uploadSum(Self.body))")
        #expect(try c.readResponse().text == #"{"message":"Hello, World!"}"#)
    }

    @Test func pausingAndResumingLosesNothing() async throws {
        let s = try server()
        let c = try s.client()
        let body = Array(Self.body[0..<300_000])
        try c.send("POST /upload?pause=1 HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n")
        try c.send(body)
        #expect(try c.readResponse().text == "\(body.count) \(uploadSum(body))")
    }

    @Test func aPausedBodyStopsTheReading() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /upload?stall=1 HTTP/1.1\r\nHost: t\r\nContent-Length: \(256 << 20)\r\n\r\n")
        // Push as much as the connection takes without blocking, for half a second.
        c.setNonBlocking()
        var pushed = 0
        let chunk = [UInt8](repeating: 0x61, count: 65536)
        let start = monotonicSeconds()
        while monotonicSeconds() - start < 0.5 {
            let n = c.trySend(chunk)
            if n > 0 { pushed += n } else { usleep(5_000) }
        }
        // Kernel buffers hold a few MB at most; the handler saw only what arrived before it paused.
        #expect(pushed < 32 << 20, "pushed \(pushed) bytes into a paused upload")
        #expect(aborts.bytesReceived <= 1 << 20)
        let stats = await s.server.stats()
        #expect(stats.reactors[0].inputLeases == 1, "\(stats)")
    }

    @Test func anEarlyAnswerClosesAfterIt() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /upload?reject=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        try c.send(Array(Self.body[0..<100_000]))
        let r = try c.readResponse()
        #expect(r.status == 403)
        #expect(r.header("Connection") == "close")
        _ = try c.readUntilClosed()
    }

    @Test func overTheRouteLimitIs413AndTheHandlerIsTold() async throws {
        let s = try server()
        let c = try s.client()
        try c.send(Array("POST /small-stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            + chunked(Array(Self.body[0..<500]), pieces: 10))
        let r = try c.readResponse()
        #expect(r.status == 413)
        #expect(r.header("Connection") == "close")
        _ = try c.readUntilClosed()
        #expect(aborts.all == [.tooLarge])
        // A declared length over the limit is refused before the handler runs.
        let d = try s.client()
        try d.send("POST /small-stream HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")
        #expect(try d.readResponse().status == 413)
        #expect(aborts.all == [.tooLarge])
    }

    @Test func malformedChunkingAbortsTheStream() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nxyz\r\n")
        let r = try c.readResponse()
        #expect(r.status == 400)
        _ = try c.readUntilClosed()
        #expect(aborts.all == [.malformed])
    }

    @Test func aClientLeavingMidBodyAbortsTheStreamAndFreesEverything() async throws {
        let s = try server()
        do {
            let c = try s.client()
            try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            try c.send(Array(Self.body[0..<5000]))
            usleep(50_000)
        }  // closed here
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.inputLeases == 0)
        #expect(aborts.all == [.clientGone])
    }

    @Test func streamBodyOnABufferedRouteGetsOnePiece() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /buffered-stream HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n\r\n")
        try c.send(Array(Self.body[0..<3000]))
        #expect(try c.readResponse().text == "1 3000")
        try c.send("POST /buffered-stream HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().text == "0 0")
    }

    @Test func perRouteBodyLimitOnABufferedRoute() async throws {
        let s = try server()
        let c = try s.client()
        try c.send("POST /tiny HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
        #expect(try c.readResponse().text == "10")
        try c.send(Array("POST /tiny HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + chunked(Array(repeating: 65, count: 11), pieces: 2))
        #expect(try c.readResponse().status == 413)
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
