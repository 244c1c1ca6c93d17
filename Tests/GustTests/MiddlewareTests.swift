@testable import Gust
import Logging
import Synchronization
import Testing

/// Records the order middleware runs in, per tier.
struct Trace: Middleware {
    let name: String
    let log: Mutex<[String]>.Box

    func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        log.append("\(name)>")
        try next(request, &response)
        log.append("<\(name)")
    }

    func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        log.append("\(name)>")
        var response = try await next(request)
        response.headerFields[.init("X-\(name)")!] = "seen"
        log.append("<\(name)")
        return response
    }
}

extension Mutex where Value == [String] {
    /// A shared, appendable log of strings.
    final class Box: Sendable {
        let entries = Mutex<[String]>([])
        func append(_ entry: String) { entries.withLock { $0.append(entry) } }
        func take() -> [String] {
            entries.withLock { entries in
                defer { entries.removeAll() }
                return entries
            }
        }
    }
}

struct APIKey: Middleware {
    func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        guard request.header("X-API-Key") == "secret" else { throw HTTPError(.unauthorized, "no key") }
        try next(request, &response)
    }

    func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        guard request.header("X-API-Key") == "secret" else { throw HTTPError(.unauthorized, "no key") }
        return try await next(request)
    }
}

@Suite("Middleware and route groups")
struct MiddlewareTests {
    @Test("chains run outermost first around both tiers: router, group, nested group, handler")
    func order() throws {
        let log = Mutex<[String]>.Box()
        let server = try TestServer(routes: { router in
            router.use(Trace(name: "R", log: log))
            let api = router.group("/api", middleware: [Trace(name: "G", log: log)])
            let inner = api.group("/v1")
            inner.use(Trace(name: "N", log: log))  // added after the group was made: still applies
            inner.get("/inline") { _, res in
                log.append("inline")
                res.send("inline")
            }
            inner.get("/async") { _ in
                log.append("async")
                return "async"
            }
            api.get("/") { _ in "api root" }
        })
        let client = try server.client()
        try client.send(get("/api/v1/inline"))
        #expect(try client.readResponse().text == "inline")
        #expect(log.take() == ["R>", "G>", "N>", "inline", "<N", "<G", "<R"])
        try client.send(get("/api/v1/async"))
        let response = try client.readResponse()
        #expect(response.text == "async")
        #expect(response.header("X-R") == "seen" && response.header("X-G") == "seen" && response.header("X-N") == "seen")
        #expect(log.take() == ["R>", "G>", "N>", "async", "<N", "<G", "<R"])
        try client.send(get("/api"))
        #expect(try client.readResponse().text == "api root")
        _ = log.take()
        // Routes outside the groups see only the router's middleware.
        try client.send(get("/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
        #expect(log.take() == ["R>", "<R"])
    }

    @Test("a middleware that answers stops the chain, in both tiers")
    func shortCircuit() throws {
        let server = try TestServer(routes: { router in
            let secured = router.group("/secure", middleware: [APIKey()])
            secured.get("/inline") { _, res in res.send("inline secret") }
            secured.get("/async") { _ in "async secret" }
        })
        let client = try server.client()
        for path in ["/secure/inline", "/secure/async"] {
            try client.send(get(path))
            let refused = try client.readResponse()
            #expect(refused.status == 401, "\(path)")
            #expect(refused.text == "no key\n")
            try client.send(get(path, "X-API-Key: secret\r\n"))
            #expect(try client.readResponse().text.hasSuffix("secret"))
        }
    }

    @Test("the router's middleware also runs around 404 and 405 answers")
    func fallback() throws {
        let server = try TestServer(routes: { router in router.use(RequestIDMiddleware()) })
        let client = try server.client()
        try client.send(get("/nowhere"))
        let missing = try client.readResponse()
        #expect(missing.status == 404)
        #expect(missing.header("X-Request-Id") != nil)
        try client.send("DELETE /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        let wrong = try client.readResponse()
        #expect(wrong.status == 405)
        #expect(wrong.header("Allow") == "GET, HEAD")
        #expect(wrong.header("X-Request-Id") != nil)
    }

    @Test("request ids: the server's own, or a plain one the client sent")
    func requestID() throws {
        let server = try TestServer(routes: { router in router.use(RequestIDMiddleware()) })
        let client = try server.client()
        for path in ["/plaintext", "/async/plaintext"] {
            try client.send(get(path))
            let own = try client.readResponse().header("X-Request-Id") ?? ""
            #expect(own.split(separator: "-").count == 3, "\(path): \(own)")
            try client.send(get(path, "X-Request-Id: abc-123\r\n"))
            #expect(try client.readResponse().header("X-Request-Id") == "abc-123")
            try client.send(get(path, "X-Request-Id: \(String(repeating: "x", count: 200))\r\n"))
            #expect(try client.readResponse().header("X-Request-Id")?.count != 200)
        }
    }

    @Test("the access log writes one sampled line per request with status and request id")
    func accessLog() throws {
        let logs = LogRecords()
        let server = try TestServer(routes: { router in router.use(AccessLogMiddleware(logger: logs.logger)) })
        let client = try server.client()
        try client.send(get("/plaintext") + get("/async/json") + get("/nowhere"))
        for _ in 0..<3 { _ = try client.readResponse() }
        let lines = logs.all.map(\.1)
        #expect(lines.count == 3)
        #expect(lines.contains { $0.hasPrefix("GET /plaintext 200 ") })
        #expect(lines.contains { $0.hasPrefix("GET /async/json 200 ") })
        #expect(lines.contains { $0.hasPrefix("GET /nowhere 404 ") })
        #expect(logs.all.allSatisfy { $0.2["request-id"] != nil })

        let sampled = LogRecords()
        let halfServer = try TestServer(routes: { router in router.use(AccessLogMiddleware(logger: sampled.logger, sampling: 2)) })
        let halfClient = try halfServer.client()
        for _ in 0..<10 {
            try halfClient.send(get("/plaintext"))
            _ = try halfClient.readResponse()
        }
        #expect(sampled.all.count == 5)
    }

    @Test("CORS: preflights answered for any path, allowed origins marked, others left alone")
    func cors() throws {
        let server = try TestServer(routes: { router in
            router.use(CORSMiddleware(origins: .only(["https://app.example"]), exposedHeaders: ["X-Total"]))
        })
        let client = try server.client()
        try client.send(
            "OPTIONS /async/json HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n")
        let preflight = try client.readResponse()
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == "https://app.example")
        #expect(preflight.header("Access-Control-Allow-Methods")?.contains("POST") == true)
        #expect(preflight.header("Access-Control-Max-Age") == "600")
        for path in ["/plaintext", "/async/plaintext"] {
            try client.send(get(path, "Origin: https://app.example\r\n"))
            let allowed = try client.readResponse()
            #expect(allowed.header("Access-Control-Allow-Origin") == "https://app.example", "\(path)")
            #expect(allowed.header("Access-Control-Expose-Headers") == "X-Total")
            #expect(allowed.header("Vary") == "Origin")
            try client.send(get(path, "Origin: https://evil.example\r\n"))
            let other = try client.readResponse()
            #expect(other.status == 200)
            #expect(other.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test("a group's timeout is its async routes' deadline (503)")
    func timeout() throws {
        let server = try TestServer(routes: { router in
            let slow = router.group("/slow", middleware: [TimeoutMiddleware(.milliseconds(80))])
            slow.get("/sleep") { _ in
                try await Task.sleep(for: .seconds(10))
                return "woke"
            }
        })
        let client = try server.client()
        try client.send(get("/slow/sleep"))
        #expect(try client.readResponse().status == 503)
    }
}
