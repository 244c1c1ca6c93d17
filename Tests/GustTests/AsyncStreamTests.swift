@testable import Gust
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Reads a chunked body off `client` after a response head; returns the body and whether it
/// ended properly (the last chunk) rather than with the connection closing.
func readChunkedBody(_ client: TestClient) throws -> (body: String, complete: Bool) {
    var body: [UInt8] = []
    while true {
        guard let line = try readLine(client) else { return (String(decoding: body, as: UTF8.self), false) }
        guard let size = Int(line, radix: 16) else { throw TestClient.Failure(description: "bad chunk size \(line)") }
        if size == 0 {
            _ = try readLine(client)
            return (String(decoding: body, as: UTF8.self), true)
        }
        while client.pending.count < size + 2 {
            guard let more = try client.readSome() else { return (String(decoding: body, as: UTF8.self), false) }
            client.pending += more
        }
        body += client.pending[0..<size]
        client.pending.removeFirst(size + 2)
    }
}

func readLine(_ client: TestClient) throws -> String? {
    while true {
        if let i = client.pending.firstIndex(of: 10) {
            let line = String(decoding: client.pending[0..<i], as: UTF8.self).trimmingCharacters(in: "\r")
            client.pending.removeFirst(i + 1)
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        guard let more = try client.readSome() else { return nil }
        client.pending += more
    }
}

@Suite("Async streamed responses")
struct AsyncStreamTests {
    static func server(configure: (inout ServerConfiguration) -> Void = { _ in }, routes: (Router) -> Void = { _ in }) throws -> TestServer {
        try TestServer(
            routes: { router in
                router.get("/s/now") { _ in
                    Response(contentType: .plainTextUTF8, body: .stream { writer in
                        for k in 1...3 { try await writer.write("line \(k)\n") }
                    })
                }
                router.get("/s/later") { _ in
                    try await Task.sleep(for: .milliseconds(20))
                    return Response(body: .stream { writer in
                        for k in 1...3 {
                            try await Task.sleep(for: .milliseconds(5))
                            try await writer.write("tick \(k)\n")
                        }
                    })
                }
                router.get("/s/fails") { _ in
                    Response(body: .stream { writer in
                        try await writer.write("partial\n")
                        try await Task.sleep(for: .milliseconds(10))
                        throw Boom()
                    })
                }
                router.get("/s/inline") { _, res in
                    res.send(Response(body: .stream { writer in try await writer.write("from an inline handler") }))
                }
                router.get("/s/deferred") { _, res in
                    let later = res.deferResponse()
                    later.respond { res in
                        let stream = res.startStream(.ok, contentType: .plainTextUTF8)
                        stream.write("deferred stream")
                        stream.finish()
                    }
                }
                routes(router)
            }, configure: configure)
    }

    @Test("a stream from a handler that never suspends, then the next pipelined request")
    func immediate() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/s/now") + get("/plaintext"))
        let head = try client.readResponse(head: true)
        #expect(head.header("Transfer-Encoding") == "chunked")
        #expect(try readChunkedBody(client) == ("line 1\nline 2\nline 3\n", true))
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test("a stream from a handler that suspended first, written with pauses")
    func later() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/s/later") + get("/async/plaintext"))
        _ = try client.readResponse(head: true)
        #expect(try readChunkedBody(client) == ("tick 1\ntick 2\ntick 3\n", true))
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test("inline handlers may send a streamed Response, and deferred answers may stream")
    func otherTiers() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/s/inline") + get("/s/deferred"))
        _ = try client.readResponse(head: true)
        #expect(try readChunkedBody(client) == ("from an inline handler", true))
        _ = try client.readResponse(head: true)
        #expect(try readChunkedBody(client) == ("deferred stream", true))
    }

    @Test("a body that fails midway closes the connection: the client sees a truncated body")
    func failure() async throws {
        let logs = LogRecords()
        let server = try Self.server(configure: { $0.logger = logs.logger })
        let client = try server.client()
        try client.send(get("/s/fails"))
        _ = try client.readResponse(head: true)
        let (body, complete) = try readChunkedBody(client)
        #expect(body == "partial\n" && !complete)
        #expect(logs.all.contains { $0.1 == "streamed body failed" && $0.2["request-id"] != nil })
        let stats = await server.waitUntilIdle()
        #expect(stats.asyncTasks == 0)
    }

    @Test("backpressure: a slow reader holds the writer at the high-water mark, and gets every byte")
    func backpressure() async throws {
        let most = Atomic<Int>(0)
        let total = 4 << 20
        let server = try Self.server(routes: { router in
            router.get("/s/big") { _ in
                Response(contentType: .octetStream, body: .stream { writer in
                    writer.highWaterMark = 128 * 1024
                    let piece = [UInt8](repeating: 0x61, count: 16 * 1024)
                    for _ in 0..<(total / piece.count) {
                        try await writer.write(piece)
                        let pending = writer.pendingBytes
                        if pending > most.load(ordering: .relaxed) { most.store(pending, ordering: .relaxed) }
                    }
                })
            }
        })
        let client = try server.client(receiveBuffer: 16 * 1024)
        try client.send(get("/s/big"))
        _ = try client.readResponse(head: true)
        usleep(200_000)  // the writer fills the socket and its high-water mark, then waits
        let (body, complete) = try readChunkedBody(client)
        #expect(complete && body.utf8.count == total && body.utf8.allSatisfy { $0 == 0x61 })
        #expect(most.load(ordering: .relaxed) <= 128 * 1024 + 16 * 1024 + 64, "pending reached \(most.load(ordering: .relaxed)) bytes")
    }

    @Test("a client that leaves mid-stream cancels the writing task; nothing is left behind")
    func clientLeaves() async throws {
        let ended = Counter()
        let server = try Self.server(routes: { router in
            router.get("/s/forever") { _ in
                Response(body: .stream { writer in
                    defer { ended.add() }
                    while true {
                        try await writer.write("event\n")
                        try await Task.sleep(for: .milliseconds(5))
                    }
                })
            }
        })
        for leave in [true, false] {
            let client = try server.client()
            try client.send(get("/s/forever"))
            _ = try client.readResponse(head: true)
            _ = try readLine(client)
            if leave { client.abort() } else { client.shutdownWrite() }
            if !leave { client.abort() }
        }
        for _ in 0..<400 where ended.count < 2 { usleep(5_000) }
        #expect(ended.count == 2)
        let stats = await server.waitUntilIdle()
        #expect(stats.asyncTasks == 0 && stats.connections == 0)
    }
}
