@testable import Gust
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Async handlers reading streamed bodies")
struct AsyncBodyStreamTests {
    static let streamed = RouteOptions(maxBodyBytes: 16 << 20, body: .stream)

    static func server(routes: (Router) -> Void = { _ in }, configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        try TestServer(
            routes: { router in
                router.post("/b/count", options: streamed) { req in
                    var size = 0
                    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                    for try await chunk in req.bodyStream {
                        size += chunk.count
                        for byte in chunk { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                    }
                    return .text("\(size) \(String(hash, radix: 16))")
                }
                router.post("/b/reject-first", options: streamed) { req in
                    var iterator = req.bodyStream.makeAsyncIterator()
                    let first = try await iterator.next() ?? []
                    throw HTTPError(.unprocessableContent, "first piece had \(first.count) bytes: no thanks")
                }
                router.post("/b/ignore", options: streamed) { _ in "not reading it" }
                router.post("/b/buffered") { req in .text("\(try await req.bodyStream.collect().count)") }
                routes(router)
            }, configure: configure)
    }

    static func fnv(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }

    @Test("a body read piece by piece, Content-Length and chunked, on a kept-alive connection")
    func reads() throws {
        let server = try Self.server()
        let client = try server.client()
        let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try client.send(Array("POST /b/count HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        #expect(try client.readResponse().text == "\(body.count) \(Self.fnv(body))")
        var chunked = Array("POST /b/count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for start in stride(from: 0, to: 100_000, by: 7_000) {
            let piece = body[start..<min(start + 7_000, 100_000)]
            chunked += Array("\(String(piece.count, radix: 16))\r\n".utf8) + piece + Array("\r\n".utf8)
        }
        chunked += Array("0\r\n\r\n".utf8)
        try client.send(chunked)
        #expect(try client.readResponse().text == "100000 \(Self.fnv(Array(body[0..<100_000])))")
        try client.send(Array("POST /b/buffered HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello".utf8))
        #expect(try client.readResponse().text == "5")
    }

    @Test("backpressure: a slow reader keeps what waits for it under the high-water mark")
    func backpressure() throws {
        let most = Atomic<Int>(0)
        let server = try Self.server(routes: { router in
            router.post("/b/slow", options: Self.streamed) { req in
                let channel = req.storage.field { $0.pointee.start.body }!
                var size = 0
                for try await chunk in req.bodyStream {
                    size += chunk.count
                    if channel.buffered > most.load(ordering: .relaxed) { most.store(channel.buffered, ordering: .relaxed) }
                    try await Task.sleep(for: .microseconds(300))
                }
                return .text("\(size)")
            }
        })
        let client = try server.client()
        let total = 8 << 20
        try client.send(Array("POST /b/slow HTTP/1.1\r\nHost: t\r\nContent-Length: \(total)\r\n\r\n".utf8))
        let piece = [UInt8](repeating: 0x62, count: 64 * 1024)
        for _ in 0..<(total / piece.count) { try client.send(piece) }
        #expect(try client.readResponse().text == "\(total)")
        #expect(most.load(ordering: .relaxed) <= BodyChannel.highWater + 128 * 1024, "buffered up to \(most.load(ordering: .relaxed))")
    }

    @Test("an answer before the body ends goes out, and the connection closes after it")
    func earlyAnswer() throws {
        let server = try Self.server()
        for path in ["/b/reject-first", "/b/ignore"] {
            let client = try server.client()
            try client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + String(repeating: "x", count: 5000))
            let response = try client.readResponse()
            if path == "/b/ignore" {
                #expect(response.text == "not reading it")
            } else {
                #expect(response.status == 422)
                #expect(response.text.hasSuffix("no thanks\n"))
            }
            #expect(response.header("Connection") == "close", "\(path)")
        }
    }

    @Test("Expect: 100-continue is answered when the handler waits for the body")
    func expectContinue() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /b/count HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse()
        #expect(interim.status == 100)
        try client.send("abcd")
        #expect(try client.readResponse().text == "4 \(Self.fnv(Array("abcd".utf8)))")
    }

    @Test("100-continue for a handler that awaits something else first: sent when it reads, never if it refuses")
    func continueWhenTheHandlerReads() throws {
        let server = try Self.server(routes: { router in
            router.post("/b/think-then-read", options: Self.streamed) { req in
                try await Task.sleep(for: .milliseconds(30))
                if req.header("X-Refuse") != nil { throw HTTPError(.forbidden, "no") }
                return .text("\(try await req.bodyStream.collect().count)")
            }
        })
        let reading = try server.client()
        try reading.send("POST /b/think-then-read HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
        #expect(try reading.readResponse().status == 100)
        try reading.send("abcdef")
        #expect(try reading.readResponse().text == "6")
        let refused = try server.client()
        try refused.send("POST /b/think-then-read HTTP/1.1\r\nHost: t\r\nX-Refuse: 1\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
        #expect(try refused.readResponse().status == 403, "no 100 before the refusal")
    }

    @Test("a body that does not complete: the handler hears why; too large is 413")
    func incomplete() async throws {
        let heard = Mutex<[String]>([])
        let server = try Self.server(routes: { router in
            router.post("/b/watch", options: RouteOptions(maxBodyBytes: 10_000, body: .stream)) { req in
                do {
                    for try await _ in req.bodyStream {}
                } catch {
                    heard.withLock { $0.append("\(error)") }
                    throw error
                }
                return "complete"
            }
        })
        let leaving = try server.client()
        try leaving.send("POST /b/watch HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "y", count: 100))
        usleep(50_000)
        leaving.abort()
        let big = try server.client()
        try big.send("POST /b/watch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + "2710\r\n" + String(repeating: "z", count: 10_000) + "\r\n5\r\nmore!\r\n")
        #expect(try big.readResponse().status == 413)
        for _ in 0..<400 where heard.withLock({ $0.count }) < 2 { usleep(5_000) }
        let reasons = heard.withLock { $0 }.sorted()
        #expect(reasons.count == 2)
        #expect(reasons.contains { $0.contains("closed the connection") || $0.contains("cancel") || $0.contains("Cancellation") })
        #expect(reasons.contains { $0.contains("larger than the limit") })
        let stats = await server.waitUntilIdle()
        #expect(stats.asyncTasks == 0)
    }

    @Test("a deadline while the body is still coming answers 503 and closes")
    func deadline() throws {
        let server = try Self.server(routes: { router in
            router.post("/b/stuck", options: RouteOptions(maxBodyBytes: 1 << 20, body: .stream, deadline: .milliseconds(100))) { req in
                for try await _ in req.bodyStream {}
                return "complete"
            }
        })
        let client = try server.client()
        try client.send("POST /b/stuck HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "s", count: 10))
        usleep(200_000)
        try client.send(String(repeating: "s", count: 10))
        let response = try client.readResponse()
        #expect(response.status == 503)
        #expect(response.header("Connection") == "close")
    }
}

@Suite("Async handlers: streamed answers to streamed bodies")
struct AsyncStreamedAnswerToStreamedBodyTests {
    @Test("a streamed answer given before the body is read follows the whole request")
    func streamBeforeBody() throws {
        let server = try TestServer(routes: { router in
            router.post("/b/stream-early", options: RouteOptions(maxBodyBytes: 1 << 20, body: .stream)) { _ in
                try await Task.sleep(for: .milliseconds(5))
                return Response(body: .stream { writer in try await writer.write("answered") })
            }
        })
        let client = try server.client()
        try client.send("POST /b/stream-early HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n" + String(repeating: "q", count: 1000))
        usleep(50_000)
        try client.send(String(repeating: "q", count: 19_000))
        _ = try client.readResponse(head: true)
        #expect(try readChunkedBody(client) == ("answered", true))
        try client.send(get("/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
    }
}
