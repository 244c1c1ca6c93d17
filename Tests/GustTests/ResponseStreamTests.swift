@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the streaming routes saw, readable from the test thread.
final class StreamLog: @unchecked Sendable {
    private let lock = NSLockish()
    private var maxPending = 0
    private var writesRefused = 0
    func notePending(_ n: Int) { lock.with { maxPending = max(maxPending, n) } }
    func noteRefused() { lock.with { writesRefused += 1 } }
    var largestPending: Int { lock.with { maxPending } }
    var refused: Int { lock.with { writesRefused } }
}

func streamRoutes(_ router: Router, _ log: StreamLog) {
    // 16 MiB (the 4 MiB test pattern four times: more than any socket buffer holds) in 64 KiB
    // chunks, never more than ~256 KiB waiting.
    router.get("/firehose") { _, res in
        let stream = res.startStream(.ok, contentType: .octetStream)
        let total = 16 << 20
        func pump(_ sent: Int) {
            var sent = sent
            while sent < total {
                let n = min(65536, total - sent)
                let at = sent % TestServer.pattern.count
                TestServer.pattern.withUnsafeBytes { _ = stream.write(unsafeBytes: UnsafeRawBufferPointer(rebasing: $0[at..<at + n])) }
                sent += n
                log.notePending(stream.pendingBytes)
                if stream.pendingBytes > 256 << 10 {
                    let resumeAt = sent
                    return stream.onDrain { pump(resumeAt) }
                }
            }
            stream.finish()
        }
        stream.after(.zero) { _ in pump(0) }  // after the handler: its head is out, writes go straight to the socket
    }
    router.get("/trailers") { _, res in
        let stream = res.startStream(.ok, contentType: .plainText)
        stream.write("abc")
        stream.after(.milliseconds(5)) { s in
            s.write("def")
            s.finish(trailers: [("X-Checksum", "42"), ("Content-Length", "999"), ("Bad Name", "x"), ("X-Evil", "a\r\nb")])
        }
    }
    // Writes a line every 10 ms for as long as anyone listens.
    router.get("/forever") { _, res in
        let stream = res.startStream(.ok, contentType: .plainText)
        func tick(_ s: ResponseStream) {
            if !s.write("tick\n") { return log.noteRefused() }
            s.after(.milliseconds(10), tick)
        }
        tick(stream)
    }
}

/// Reads a chunked body off the client: the data and the trailer section's text.
func readChunked(_ c: TestClient) throws -> (data: [UInt8], trailers: String) {
    var data: [UInt8] = []
    func line() throws -> String {
        while true {
            if let i = c.pending.firstIndex(of: 10), i > 0, c.pending[i - 1] == 13 {
                let text = String(decoding: c.pending[0..<(i - 1)], as: UTF8.self)
                c.pending.removeFirst(i + 1)
                return text
            }
            guard let more = try c.readSome() else { throw TestClient.Failure(description: "closed mid-chunk") }
            c.pending += more
        }
    }
    while true {
        let size = Int(try line(), radix: 16)!
        if size == 0 { break }
        try c.fill(size + 2)
        data += c.pending[0..<size]
        c.pending.removeFirst(size + 2)
    }
    var trailers = ""
    while case let l = try line(), !l.isEmpty { trailers += l + "\n" }
    return (data, trailers)
}

@Suite struct ResponseStreamTests {
    let log = StreamLog()

    func server() throws -> TestServer {
        let log = self.log
        return try TestServer(routes: { streamRoutes($0, log) })
    }

    @Test func chunksArriveInOrderAndPipelinedRequestsWait() throws {
        let s = try server()
        let c = try s.client()
        try c.send(get("/stream?n=4&ms=5") + get("/plaintext"))
        let head = try c.readResponse(head: true)
        #expect(head.status == 200 && head.header("Transfer-Encoding") == "chunked" && head.header("Content-Length") == nil)
        let body = try readChunked(c)
        #expect(String(decoding: body.data, as: UTF8.self) == "tick 1 of 4\ntick 2 of 4\ntick 3 of 4\ntick 4 of 4\n")
        #expect(try c.readResponse().text == "Hello, World!")
    }

    @Test func aSlowReaderPushesBackAndGetsEverything() async throws {
        let s = try server()
        let c = try s.client(receiveBuffer: 16384)
        try c.send(get("/firehose"))
        usleep(200_000)  // let the server fill what it may
        _ = try c.readResponse(head: true)
        let body = try readChunked(c)
        #expect(body.data.count == 16 << 20)
        for k in 0..<4 {
            #expect(body.data[(k << 22)..<((k + 1) << 22)].elementsEqual(TestServer.pattern), "copy \(k) of the pattern")
        }
        #expect(log.largestPending > 0, "the socket pushed back")
        #expect(log.largestPending < 512 << 10, "the stream waited for the socket: at most \(log.largestPending) bytes pending")
    }

    @Test func trailersAreSentAndUnsafeOnesDropped() throws {
        let s = try server()
        let c = try s.client()
        try c.send(get("/trailers"))
        _ = try c.readResponse(head: true)
        let body = try readChunked(c)
        #expect(String(decoding: body.data, as: UTF8.self) == "abcdef")
        #expect(body.trailers == "X-Checksum: 42\n")
    }

    @Test func http10GetsABodyEndedByTheClose() throws {
        let s = try server()
        let c = try s.client()
        try c.send("GET /stream?n=2&ms=1 HTTP/1.0\r\n\r\n")
        let head = try c.readResponse(head: true)
        #expect(head.header("Transfer-Encoding") == nil && head.header("Connection") == "close")
        #expect(String(decoding: try c.readUntilClosed(), as: UTF8.self) == "tick 1 of 2\ntick 2 of 2\n")
    }

    @Test func aListenerLeavingStopsTheStream() async throws {
        let s = try server()
        do {
            let c = try s.client()
            try c.send(get("/forever"))
            _ = try c.readResponse(head: true)
            usleep(50_000)
        }
        usleep(100_000)
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.outputLeases == 0)
        #expect(log.refused <= 1, "after the client left, the stream's timer stops (write refused at most once)")
    }
}
