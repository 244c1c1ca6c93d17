@testable import Gust
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Collects log records, for tests that check what the server logs.
final class LogRecords: Sendable {
    let records = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    var all: [(Logger.Level, String, Logger.Metadata)] { records.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in CapturingLogHandler(records: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let more = event.metadata { all.merge(more) { $1 } }
        records.records.withLock { $0.append((event.level, "\(event.message)", all)) }
    }
}

struct Boom: Error {}

/// Whether the calling thread is a reactor's (reactor threads are named "gust-r<N>").
func onReactorThread() -> Bool {
    guard let file = fopen("/proc/thread-self/comm", "r") else { return false }
    defer { fclose(file) }
    var name = [UInt8](repeating: 0, count: 32)
    guard fgets(&name, 32, file) != nil else { return false }
    return String(decoding: name.prefix { $0 != 0 }, as: UTF8.self).hasPrefix("gust-r")
}

@Suite("Async handlers")
struct AsyncHandlerTests {
    static func server(
        logs: LogRecords? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }, routes: (Router) -> Void = { _ in }
    ) throws -> TestServer {
        try TestServer(
            routes: { router in
                router.get("/a/sleep") { req in
                    let ms = req.queryInt("ms") ?? 10
                    let before = onReactorThread()
                    try await Task.sleep(for: .milliseconds(ms))
                    return .text("slept \(ms) \(before) \(onReactorThread())")
                }
                router.get("/a/http-error") { _ in throw HTTPError(.notFound, "no such item", headerFields: [.init("X-Why")!: "gone"]) }
                router.get("/a/boom") { _ in throw Boom() }
                router.get("/a/boom-later") { _ in
                    try await Task.sleep(for: .milliseconds(5))
                    throw Boom()
                }
                router.get("/i/boom") { _, _ in throw Boom() }
                router.get("/i/http-error") { _, res in
                    res.header("X-Dropped", "1")
                    throw HTTPError(.conflict, "taken")
                }
                router.get("/a/context") { req in
                    let context = RequestContext.current
                    return .text("\(context?.requestID == req.id) \(context?.deadline != nil) \(req.id)")
                }
                router.get("/a/params/:name") { req in
                    .text("\(req.parameter("name") ?? "-") \(req.query("q") ?? "-") \(req.header("x-thing") ?? "-") \(req.head.path ?? "-") \(req.headerFields[.init("X-Thing")!] ?? "-")")
                }
                router.post("/a/echo", options: RouteOptions(maxBodyBytes: 64)) { req in
                    .bytes(req.body)
                }
                routes(router)
            },
            configure: { config in
                if let logs { config.logger = logs.logger }
                configure(&config)
            })
    }

    @Test("an async handler that never suspends answers in its request's turn, pipelined in order")
    func immediate() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/async/plaintext") + get("/plaintext") + get("/async/json") + get("/async/plaintext"))
        let bodies = try (0..<4).map { _ in try client.readResponse().text }
        #expect(bodies == ["Hello, World!", "Hello, World!", #"{"message":"Hello, World!"}"#, "Hello, World!"])
    }

    @Test("a handler that suspends runs on its reactor's thread before and after, and pipelined answers stay in order")
    func suspending() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/a/sleep?ms=30") + get("/plaintext") + get("/a/sleep?ms=1") + get("/async/plaintext"))
        let bodies = try (0..<4).map { _ in try client.readResponse().text }
        #expect(bodies == ["slept 30 true true", "Hello, World!", "slept 1 true true", "Hello, World!"])
    }

    @Test("many connections with suspended handlers at once, on two reactors")
    func concurrent() async throws {
        let server = try TestServer(reactors: 2, routes: { router in
            router.get("/a/sleep") { req in
                try await Task.sleep(for: .milliseconds(req.queryInt("ms") ?? 10))
                return .text("ok \(req.queryInt("k") ?? -1)")
            }
        })
        let clients = try (0..<40).map { _ in try server.client() }
        for (k, client) in clients.enumerated() { try client.send(get("/a/sleep?ms=\(20 + k % 7)&k=\(k)")) }
        for (k, client) in clients.enumerated() { #expect(try client.readResponse().text == "ok \(k)") }
        let stats = await server.server.stats()
        #expect(stats.asyncTasks == 0)
    }

    @Test("an HTTPError thrown by an async handler is its answer")
    func httpError() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/a/http-error"))
        let response = try client.readResponse()
        #expect(response.status == 404)
        #expect(response.text == "no such item\n")
        #expect(response.header("X-Why") == "gone")
        #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
    }

    @Test("any other error is a 500 naming the request, logged with its id, and the connection goes on")
    func otherError() async throws {
        let logs = LogRecords()
        let server = try Self.server(logs: logs)
        let client = try server.client()
        for path in ["/a/boom", "/a/boom-later", "/i/boom"] {
            try client.send(get(path))
            let response = try client.readResponse()
            #expect(response.status == 500)
            #expect(response.text.hasPrefix("Internal Server Error (request "))
            let id = response.text.dropFirst("Internal Server Error (request ".count).dropLast(2)
            let logged = logs.all.filter { $0.0 == .error && $0.2["request-id"]?.description == String(id) }
            #expect(logged.count == 1, "\(path): \(logs.all)")
            #expect(logged.first?.2["error"]?.description.contains("Boom") == true)
        }
        try client.send(get("/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
        #expect(await server.server.stats().handlerErrors == 3)
    }

    @Test("an inline handler that throws an HTTPError: its answer, without the headers it had added")
    func inlineHTTPError() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/i/http-error"))
        let response = try client.readResponse()
        #expect(response.status == 409)
        #expect(response.text == "taken\n")
        #expect(response.header("X-Dropped") == nil)
    }

    @Test("the request context reaches the handler's callees: its id and deadline")
    func context() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/a/context"))
        let text = try client.readResponse().text
        #expect(text.hasPrefix("true true "))
        #expect(text.split(separator: "-").count == 3)
    }

    @Test("route parameters, query, headers, and the swift-http-types views")
    func accessors() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send(get("/a/params/caf%C3%A9?q=a+b", "X-Thing: 42\r\n"))
        #expect(try client.readResponse().text == "café a b 42 /a/params/caf%C3%A9?q=a+b 42")
    }

    @Test("the body is collected under the route's limit; past it, 413 before the handler runs")
    func body() throws {
        let server = try Self.server()
        let client = try server.client()
        try client.send("POST /a/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try client.readResponse().text == "hello")
        try client.send("POST /a/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(try client.readResponse().text == "abcde")
        try client.send("POST /a/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65\r\n\r\n" + String(repeating: "x", count: 65))
        #expect(try client.readResponse().status == 413)
    }

    @Test("a handler past its deadline is cancelled and answered 503; the connection goes on")
    func deadline() async throws {
        let cancelled = Counter()
        let logs = LogRecords()
        let server = try Self.server(logs: logs, routes: { router in
            router.get("/a/forever", options: RouteOptions(deadline: .milliseconds(100))) { _ in
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    cancelled.add()
                    throw error
                }
                return "too late"
            }
        })
        let client = try server.client()
        try client.send(get("/a/forever"))
        let response = try client.readResponse()
        #expect(response.status == 503)
        #expect(response.text.contains("no answer within"))
        try client.send(get("/async/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
        for _ in 0..<200 where cancelled.count == 0 { usleep(5_000) }
        #expect(cancelled.count == 1)
        let stats = await server.server.stats()
        #expect(stats.deadlinesMissed == 1)
        #expect(stats.asyncTasks == 0)
        #expect(logs.all.contains { $0.0 == .warning && $0.1.contains("deadline") })
    }

    @Test("the server's deadline applies when the route has none, with the status configured")
    func serverDeadline() throws {
        let server = try Self.server(configure: {
            $0.handlerDeadline = .milliseconds(50)
            $0.deadlineStatus = .gatewayTimeout
        })
        let client = try server.client()
        try client.send(get("/a/sleep?ms=5000"))
        #expect(try client.readResponse().status == 504)
    }

    @Test("a client that leaves cancels its handler's task (reset, close, or half-close)")
    func clientGone() async throws {
        let cancelled = Counter()
        let finished = Counter()
        let server = try Self.server(configure: { $0.handlerDeadline = nil }, routes: { router in
            router.get("/a/wait") { _ in
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    cancelled.add()
                    throw error
                }
                finished.add()
                return "done"
            }
        })
        let reset = try server.client()
        try reset.send(get("/a/wait"))
        let closed = try server.client()
        try closed.send(get("/a/wait"))
        let half = try server.client()
        try half.send(get("/a/wait"))
        usleep(50_000)
        #expect(await server.server.stats().asyncTasks == 3)
        reset.abort()
        closed.shutdownWrite()
        _ = closed
        half.shutdownWrite()
        for _ in 0..<400 where cancelled.count < 3 { usleep(5_000) }
        #expect(cancelled.count == 3)
        #expect(finished.count == 0)
        // The half-closed client still gets the answer the cancelled handler gives (503).
        #expect(try half.readResponse().status == 503)
        let stats = await server.waitUntilIdle()
        #expect(stats.asyncTasks == 0)
    }

    @Test("a handler that answers after its client left: dropped, nothing leaks, the server goes on")
    func answerAfterClientLeft() async throws {
        let server = try Self.server(configure: { $0.handlerDeadline = nil }, routes: { router in
            router.get("/a/stubborn") { _ in
                // Ignores cancellation: sleeps on, then answers.
                let clock = ContinuousClock()
                let end = clock.now + .milliseconds(150)
                while clock.now < end { try? await Task.sleep(for: .milliseconds(10)) }
                return "late"
            }
        })
        for _ in 0..<5 {
            let client = try server.client()
            try client.send(get("/a/stubborn"))
            client.abort()
        }
        usleep(400_000)
        let stats = await server.waitUntilIdle()
        #expect(stats.connections == 0)
        #expect(stats.asyncTasks == 0)
        let client = try server.client()
        try client.send(get("/async/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test("JSON bodies: decoded, or 415 / 400 naming what is wrong / 413, with real framing")
    func json() throws {
        let server = try Self.server()
        let client = try server.client()
        func post(_ body: String, type: String? = "application/json") throws -> TestClient.Response {
            let typeLine = type.map { "Content-Type: \($0)\r\n" } ?? ""
            try client.send("POST /async/json HTTP/1.1\r\nHost: t\r\n\(typeLine)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            return try client.readResponse()
        }
        let ok = try post(#"{"name":"gust","count":21}"#)
        #expect(ok.status == 200)
        #expect(ok.header("Content-Type") == "application/json")
        #expect(ok.text.contains(#""doubled":42"#) && ok.text.contains(#""name":"gust""#))
        #expect(try post(#"{"name":"gust","count":21}"#, type: "application/vnd.api+json; charset=utf-8").status == 200)
        #expect(try post(#"{"name":"gust","count":21}"#, type: "text/plain").status == 415)
        #expect(try post(#"{"name":"gust","count":21}"#, type: nil).status == 415)
        let malformed = try post(#"{"name":"gust","#)
        #expect(malformed.status == 400)
        #expect(malformed.text == "invalid JSON body: malformed JSON\n")
        let mismatch = try post(#"{"name":"gust","count":"many"}"#)
        #expect(mismatch.status == 400)
        #expect(mismatch.text == "invalid JSON body: count: expected Int\n")
        #expect(try post(#"{"name":"gust"}"#).text == "invalid JSON body: missing key \"count\"\n")
        #expect(try post(#"{"name":"gust","count":9223372036854775807}"#).status == 400)
        // The connection survived every error.
        try client.send(get("/async/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test("an inline handler sending a JSON or streamed Response writes its header fields once")
    func inlineResponseFieldsOnce() throws {
        let server = try Self.server(routes: { router in
            router.get("/i/json") { _, res in
                var response = Response.json(["a": 1])
                response.headerFields[.init("X-Once")!] = "1"
                res.send(response)
            }
            router.get("/i/stream") { _, res in
                var response = Response(body: .stream { writer in try await writer.write("s") })
                response.headerFields[.init("X-Once")!] = "1"
                res.send(response)
            }
        })
        let client = try server.client()
        for path in ["/i/json", "/i/stream"] {
            try client.send(get(path) + get("/plaintext"))
            let response = try client.readResponse(head: path == "/i/stream")
            #expect(response.headers.filter { $0.0 == "X-Once" }.count == 1, "\(path): \(response.headers)")
            if path == "/i/stream" { #expect(try readChunkedBody(client) == ("s", true)) }
            #expect(try client.readResponse().text == "Hello, World!")
        }
    }

    @Test("Response: custom status and reason, header fields, Content-Type from a field, framing fields dropped")
    func responseShape() throws {
        let server = try Self.server(routes: { router in
            router.get("/a/shape") { _ in
                var response = Response(status: .init(code: 299, reasonPhrase: "Fine\r\nX-Evil: 1"), body: .string("{}"))
                response.headerFields[.contentType] = "application/problem+json"
                response.headerFields[.contentLength] = "999"
                response.headerFields[.init("X-Extra")!] = "yes"
                return response
            }
            router.get("/a/empty") { _ in Response(status: .noContent) }
        })
        let client = try server.client()
        try client.send(get("/a/shape"))
        let response = try client.readResponse()
        #expect(response.status == 299)
        #expect(response.reason == "Fine  X-Evil: 1")  // swift-http-types turns control characters into spaces
        #expect(response.header("Content-Type") == "application/problem+json")
        #expect(response.header("Content-Length") == "2")
        #expect(response.header("X-Extra") == "yes")
        #expect(response.header("X-Evil") == nil)
        try client.send(get("/a/empty"))
        let empty = try client.readResponse()
        #expect(empty.status == 204)
        #expect(empty.body.isEmpty)
    }
}
