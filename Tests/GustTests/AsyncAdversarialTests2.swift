@testable import Gust
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Second adversarial pass over the async tier: streamed request bodies, middleware, groups.
@Suite("Async tier, adversarial (2)")
struct AsyncAdversarialTests2 {
    static let streamed = RouteOptions(maxBodyBytes: 1 << 20, body: .stream)

    static func server(routes: (Router) -> Void = { _ in }) throws -> TestServer {
        try TestServer(routes: { router in
            router.post("/s/count", options: streamed) { req in
                var size = 0
                for try await chunk in req.bodyStream { size += chunk.count }
                return .text("\(size)")
            }
            router.post("/s/ignore-now", options: streamed) { _ in "ignored" }
            router.post("/s/ignore-later", options: streamed) { _ in
                try await Task.sleep(for: .milliseconds(20))
                return "ignored later"
            }
            routes(router)
        })
    }

    static func expectIdle(_ server: TestServer, _ comment: Comment? = nil) async {
        let stats = await server.waitUntilIdle()
        for _ in 0..<200 where await server.server.stats().asyncTasks != 0 { usleep(10_000) }
        let after = await server.server.stats()
        #expect(stats.connections == 0, comment)
        #expect(after.asyncTasks == 0, comment)
    }

    // MARK: Streamed request bodies

    @Test func badChunkedFramingMidBody() async throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /s/count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        usleep(30_000)
        try client.send("ZZ\r\nnot hex\r\n")
        let response = try client.readResponse()
        #expect(response.status == 400)
        #expect(try client.readUntilClosed().isEmpty)
        await Self.expectIdle(server)
    }

    @Test func contentLengthOverRouteLimit() async throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /s/count HTTP/1.1\r\nHost: t\r\nContent-Length: \(2 << 20)\r\n\r\nabc")
        #expect(try client.readResponse().status == 413)
        await Self.expectIdle(server)
    }

    @Test func chunkedOverLimitHandlerNotReading() async throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /s/ignore-later HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        let piece = "10000\r\n" + String(repeating: "z", count: 0x10000) + "\r\n"
        for _ in 0..<20 { _ = try? client.send(piece) }
        let response = try client.readResponse()
        #expect(response.status == 413 || response.text == "ignored later")
        client.abort()
        await Self.expectIdle(server)
    }

    @Test func expectContinueNeverSentToHandlerThatAnswersAtOnce() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /s/ignore-now HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "ignored")
    }

    /// Was: 100 Continue went out as soon as the handler suspended, before it asked for the body.
    @Test func expectContinueNeverSentToHandlerThatAnswersLater() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /s/ignore-later HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200, "got \(response.status) first")
    }

    @Test func pipelinedBehindStreamedBody() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /s/count HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello" + get("/plaintext")
            + "POST /s/count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + get("/plaintext"))
        #expect(try client.readResponse().text == "5")
        #expect(try client.readResponse().text == "Hello, World!")
        #expect(try client.readResponse().text == "3")
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test func bodyIsNeverParsedAsRequestsAfterAnEarlyAnswer() async throws {
        let server = try Self.server()
        for path in ["/s/ignore-now", "/s/ignore-later"] {
            let client = try server.client()
            let smuggled = get("/users/smuggled")
            try client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n" + smuggled + get("/plaintext"))
            let first = try client.readResponse()
            #expect(first.text.hasPrefix("ignored"), "\(path)")
            if first.header("Connection") != "close" {
                // The body was read whole (the answer came after it): the next request is the GET.
                #expect(try client.readResponse().text == "Hello, World!", "\(path)")
                client.shutdownWrite()
            }
            let rest = String(decoding: try client.readUntilClosed(), as: UTF8.self)
            #expect(!rest.contains("smuggled"), "\(path): \(rest)")
        }
        await Self.expectIdle(server)
    }

    /// Was: a read from a `Task {}` or `Task.detached` spun forever (BodyChannel.next recursed
    /// without ever reaching the reactor), starving the cooperative pool.
    @Test func iteratingTwiceAndFromOtherTasks() async throws {
        let server = try Self.server(routes: { router in
            router.post("/s/twice", options: Self.streamed) { req in
                let a = try await req.bodyStream.collect().count
                let b = try await req.bodyStream.collect().count
                return .text("\(a) \(b)")
            }
            router.post("/s/task", options: Self.streamed) { req in
                let n = try await Task { try await req.bodyStream.collect().count }.value
                return .text("\(n)")
            }
            router.post("/s/detached", options: Self.streamed) { req in
                let n = try await Task.detached { try await req.bodyStream.collect().count }.value
                return .text("\(n)")
            }
            router.post("/b/twice") { req in
                let a = try await req.bodyStream.collect().count
                let b = try await req.bodyStream.collect().count
                return .text("\(a) \(b)")
            }
        })
        let body = String(repeating: "w", count: 300_000)
        let port = server.port
        // The client's blocking I/O on a thread of its own: the detached readers need the
        // cooperative pool, which blocked test threads could otherwise fill.
        // (The kept-alive connection is opened right before its first request: opened earlier,
        // the header timeout could close it while detached readers wait for a pool thread.)
        let kept = try await onOwnThread { () throws -> UncheckedBox<TestClient> in
            var keptClient: TestClient?
            for path in ["/s/task", "/s/detached", "/s/twice", "/b/twice", "/s/count", "/s/task", "/s/count", "/s/detached"] {
                if path == "/s/count" && keptClient == nil { keptClient = try TestClient(port: port, timeoutSeconds: 30) }
                let client = path == "/s/count" ? keptClient! : try TestClient(port: port, timeoutSeconds: 30)
                try client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
                let text = try client.readResponse().text
                #expect(text == (path.hasSuffix("twice") ? "300000 \(path == "/b/twice" ? 300000 : 0)" : "300000"), "\(path)")
            }
            for path in ["/s/task", "/s/detached"] {  // on a kept-alive connection, too
                try keptClient!.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
                #expect(try keptClient!.readResponse().text == "300000", "\(path)")
            }
            return UncheckedBox(keptClient!)
        }
        kept.value.abort()
        await Self.expectIdle(server)
    }

    /// Was: the second reader's continuation replaced the first's, which was never resumed.
    @Test func twoConcurrentReaders() async throws {
        let server = try Self.server(routes: { router in
            router.post("/s/two", options: Self.streamed) { req in
                async let a = req.bodyStream.collect().count
                async let b = req.bodyStream.collect().count
                let total = try await a + b
                return .text("\(total)")
            }
        })
        let client = try server.client()
        try client.send("POST /s/two HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n")
        usleep(50_000)
        try client.send(String(repeating: "v", count: 200_000))
        #expect(try client.readResponse().text == "200000")
        client.abort()
        await Self.expectIdle(server)
    }

    @Test func throwsAfterReadingHalf() async throws {
        struct Boom: Error {}
        let server = try Self.server(routes: { router in
            router.post("/s/half", options: Self.streamed) { req in
                var size = 0
                for try await chunk in req.bodyStream {
                    size += chunk.count
                    if size >= 1000 { throw Boom() }
                }
                return "never"
            }
        })
        let client = try server.client()
        try client.send("POST /s/half HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "h", count: 2000))
        let response = try client.readResponse()
        #expect(response.status == 500)
        #expect(response.header("Connection") == "close")
        _ = try? client.send(String(repeating: "h", count: 98_000) + get("/plaintext"))
        let rest = String(decoding: try client.readUntilClosed(), as: UTF8.self)
        #expect(!rest.contains("Hello"))
        await Self.expectIdle(server)
    }

    @Test func deadlineWhilePausedByBackpressure() async throws {
        let server = try Self.server(routes: { router in
            router.post("/s/stall", options: RouteOptions(maxBodyBytes: 64 << 20, body: .stream, deadline: .milliseconds(300))) { req in
                var iterator = req.bodyStream.makeAsyncIterator()
                _ = try await iterator.next()
                try await Task.sleep(for: .seconds(60))
                return "never"
            }
        })
        let client = try server.client()
        try client.send("POST /s/stall HTTP/1.1\r\nHost: t\r\nContent-Length: \(32 << 20)\r\n\r\n")
        client.setNonBlocking()
        let piece = [UInt8](repeating: 0x70, count: 64 * 1024)
        var sent = 0
        for _ in 0..<200 {
            let n = client.trySend(piece)
            if n > 0 { sent += n } else { usleep(5_000) }
        }
        #expect(sent < 32 << 20)
        var got: [UInt8] = []
        for _ in 0..<1000 {
            if let more = try? client.readSome() { got += more } else { usleep(5_000) }
            if String(decoding: got, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        let text = String(decoding: got, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 503"), "\(text.prefix(200))")
        client.abort()
        await Self.expectIdle(server)
    }

    @Test func clientAbortsWhilePaused() async throws {
        let server = try Self.server(routes: { router in
            router.post("/s/slow", options: RouteOptions(maxBodyBytes: 64 << 20, body: .stream)) { req in
                for try await _ in req.bodyStream { try await Task.sleep(for: .milliseconds(50)) }
                return "done"
            }
        })
        let client = try server.client()
        try client.send("POST /s/slow HTTP/1.1\r\nHost: t\r\nContent-Length: \(32 << 20)\r\n\r\n")
        client.setNonBlocking()
        let piece = [UInt8](repeating: 0x70, count: 64 * 1024)
        for _ in 0..<100 where client.trySend(piece) > 0 {}
        usleep(100_000)
        client.abort()
        await Self.expectIdle(server)
    }
}


struct Swallow: Middleware {
    func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {}
    func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response { "swallowed" }
}

struct Twice: Middleware {
    func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        try next(request, &response)
        try next(request, &response)
    }
    func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        _ = try await next(request)
        return try await next(request)
    }
}

@Suite("Middleware and groups, adversarial (2)")
struct MiddlewareAdversarialTests2 {
    @Test func middlewareMisuse() async throws {
        let server = try TestServer(routes: { router in
            let swallow = router.group("/swallow", middleware: [Swallow()])
            swallow.get("/i") { _, res in res.send("inline") }
            swallow.get("/a") { _ in "async" }
            let twice = router.group("/twice", middleware: [Twice()])
            twice.get("/i") { _, res in res.send("inline") }
            twice.post("/a", options: RouteOptions(maxBodyBytes: 1000, body: .stream)) { req in
                .text("\(try await req.bodyStream.collect().count)")
            }
            let users = router.group("/users/:id")
            let posts = users.group("/posts/:post")
            posts.get("/") { req in .text("\(req.parameter("id") ?? "-") \(req.parameter("post") ?? "-")") }
            users.get("/") { req in .text("user \(req.parameter("id") ?? "-")") }
        })
        let client = try server.client()
        try client.send(get("/swallow/i"))
        let swallowed = try client.readResponse()
        #expect(swallowed.status == 500)
        #expect(swallowed.text.contains("no response"))
        try client.send(get("/swallow/a") + get("/twice/i") + "POST /twice/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + get("/users/7/posts/9") + get("/users/7"))
        #expect(try client.readResponse().text == "swallowed")
        #expect(try client.readResponse().text == "inline")
        #expect(try client.readResponse().text == "0")  // the second pass finds the body read
        #expect(try client.readResponse().text == "7 9")
        #expect(try client.readResponse().text == "user 7")
        try client.send(get("/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test func corsAndRequestIDsWithOddInput() throws {
        let server = try TestServer(routes: { router in
            router.use(CORSMiddleware(origins: .any, allowCredentials: true), RequestIDMiddleware())
            router.options("/opt") { _, res in res.send("route") }
            router.get("/a") { _ in "a" }
        })
        let client = try server.client()
        try client.send("OPTIONS /opt HTTP/1.1\r\nHost: t\r\nOrigin: null\r\nAccess-Control-Request-Method: \r\n\r\n")
        let pre = try client.readResponse()
        #expect(pre.status == 204)
        #expect(pre.header("Access-Control-Allow-Origin") == "null")
        try client.send("OPTIONS /opt HTTP/1.1\r\nHost: t\r\nOrigin: https://x\r\n\r\n")
        #expect(try client.readResponse().text == "route")
        let long = String(repeating: "i", count: 129)
        try client.send(get("/a", "X-Request-Id: \(long)\r\nOrigin: https://x\r\n") + get("/a", "X-Request-Id:\r\n"))
        let a = try client.readResponse()
        #expect(a.header("X-Request-Id") != long && a.header("X-Request-Id")?.isEmpty == false)
        #expect(a.header("Access-Control-Allow-Origin") == "https://x")
        #expect(try client.readResponse().header("X-Request-Id")?.isEmpty == false)
    }
}
