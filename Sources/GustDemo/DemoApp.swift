import Gust
#if canImport(Glibc)
import Glibc
#endif

/// The app `gust serve` runs: the routes of the TechEmpower-style benchmarks plus a few that
/// exercise bodies and deferred responses.
public enum DemoApp {
    /// The longest `/delay` allowed, in milliseconds.
    public static let maximumDelayMilliseconds = 60_000

    /// Every demo route, one line each: the `/` page and `gust serve --help` print this list.
    public static let routeList = """
        GET  /                   this list
        GET  /plaintext          Hello, World! as text/plain
        GET  /json               {"message":"Hello, World!"} as application/json
        POST /echo               the request body back (Content-Length or chunked, up to --max-body)
        GET  /delay?ms=N         answers after N milliseconds (0...60000), without blocking its reactor
        GET  /stream?n=N&ms=M    a chunked response: N lines (0...10000, default 5), one every M ms (default 100)
        POST /upload             streams the body (up to 1 GiB, any framing) and answers its size and FNV-1a hash
        GET  /static/...         with --static-dir DIR: the files under DIR (sendfile, ETag, ranges)
        GET  /async/plaintext    Hello, World! from an async handler
        GET  /async/json         {"message":"Hello, World!"} encoded from a value by an async handler
        POST /async/json         decodes {"name": String, "count": Int}, answers them with "doubled": count*2
        GET  /async/delay?ms=N   answers after N ms (0...60000) from an async handler (past --handler-deadline: 503)
        GET  /async/error        a handler that throws: 500 naming the request id (the error is logged with it)
        GET  /offload/hash?n=N   N rounds (1...10000000) of a 64-bit hash on the blocking-work pool
        GET  /offload/sleep?ms=N blocks a pool worker for N ms (1...10000), as a slow driver call would
        GET  /whoami             the serving process's PID (which process answered, across reloads and workers)
        WS   /ws/echo            WebSocket: every message back as it came (text or binary)
        WS   /ws/topic/NAME      WebSocket: subscribes to topic NAME; each message is published to all its subscribers
        WS   /ws/async/echo      WebSocket, async handler: every message back (after ?delay=MS milliseconds, 0...10000)
        """

    static let index = "Gust demo\n" + routeList + "\n"

    public static func makeRouter(webSocket: WebSocketOptions = WebSocketOptions()) -> Router {
        let router = Router()
        router.get("/") { _, res in
            res.send(.ok, contentType: .plainTextUTF8, index)
        }
        router.get("/plaintext") { _, res in
            res.send(.ok, contentType: .plainText, "Hello, World!")
        }
        router.get("/json") { _, res in
            res.send(.ok, contentType: .json, #"{"message":"Hello, World!"}"#)
        }
        router.post("/echo") { req, res in
            if let type = req.header("Content-Type") { res.header("Content-Type", type) }
            req.withUnsafeBody { body in
                res.send(.ok, contentType: req.header("Content-Type") == nil ? .octetStream : nil, unsafeBytes: body)
            }
        }
        router.get("/delay") { req, res in
            guard let ms = req.queryInt("ms"), (0...maximumDelayMilliseconds).contains(ms) else {
                return res.send(.badRequest, "ms must be an integer from 0 to \(maximumDelayMilliseconds)\n")
            }
            res.respond(after: .milliseconds(ms)) { res in
                res.send(.ok, "waited \(ms) ms\n")
            }
        }
        router.get("/stream") { req, res in
            // Absent parameters take their defaults; present ones must be numbers in range.
            let n = req.query("n") == nil ? 5 : req.queryInt("n") ?? -1
            let ms = req.query("ms") == nil ? 100 : req.queryInt("ms") ?? -1
            guard (0...10_000).contains(n), (0...10_000).contains(ms) else {
                return res.send(.badRequest, "n and ms must be integers from 0 to 10000\n")
            }
            let stream = res.startStream(.ok, contentType: .plainTextUTF8)
            func tick(_ k: Int, _ stream: ResponseStream) {
                guard k < n else { return stream.finish() }
                stream.write("tick \(k + 1) of \(n)\n")
                stream.after(.milliseconds(ms)) { tick(k + 1, $0) }
            }
            tick(0, stream)
        }
        router.post("/upload", options: RouteOptions(maxBodyBytes: 1 << 30, body: .stream)) { _, res in
            var count = 0
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, 64-bit
            res.streamBody { part, res, _ in
                switch part {
                case .data(let piece):
                    count += piece.count
                    piece.forEach { hash = (hash ^ UInt64($0)) &* 0x100_0000_01b3 }
                case .end:
                    res.send(.ok, "received \(count) bytes, fnv1a64 \(String(hash, radix: 16))\n")
                case .aborted:
                    break
                }
            }
        }
        router.get("/async/plaintext") { _ in
            "Hello, World!"
        }
        router.get("/async/json") { _ in
            .json(Message(message: "Hello, World!"))
        }
        router.post("/async/json") { req in
            let input = try req.decode(as: Counted.self)
            let (doubled, overflow) = input.count.multipliedReportingOverflow(by: 2)
            guard !overflow else { throw HTTPError(.badRequest, "count is too large to double") }
            return .json(Doubled(name: input.name, count: input.count, doubled: doubled))
        }
        router.get("/async/delay") { req in
            guard let ms = req.queryInt("ms"), (0...maximumDelayMilliseconds).contains(ms) else {
                throw HTTPError(.badRequest, "ms must be an integer from 0 to \(maximumDelayMilliseconds)")
            }
            try await Task.sleep(for: .milliseconds(ms))
            return .text("waited \(ms) ms\n")
        }
        router.get("/async/error") { _ in
            throw DemoFailure()
        }
        router.get("/offload/hash") { req in
            guard let n = req.queryInt("n"), (1...maximumHashRounds).contains(n) else {
                throw HTTPError(.badRequest, "n must be an integer from 1 to \(maximumHashRounds)")
            }
            let digest = try await offload { hashRounds(n) }
            return .text("\(n) rounds: \(String(digest, radix: 16))\n")
        }
        router.get("/offload/sleep") { req in
            guard let ms = req.queryInt("ms"), (1...10_000).contains(ms) else {
                throw HTTPError(.badRequest, "ms must be an integer from 1 to 10000")
            }
            try await offload { usleep(UInt32(ms) * 1000) }
            return .text("slept \(ms) ms on the pool\n")
        }
        router.webSocket("/ws/echo", options: webSocket) { ws, message in ws.send(message) }
        router.webSocket("/ws/topic/:name", options: webSocket, handler: TopicRelay())
        router.webSocket("/ws/async/echo", options: webSocket) { ws in
            let delay = min(max(Int(ws.request.query("delay") ?? "") ?? 0, 0), 10_000)
            for await message in ws.messages {
                if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                ws.send(message)
            }
        }
        let whoami = "pid \(getpid())\n"
        router.get("/whoami") { _, res in
            res.send(.ok, contentType: .plainText, whoami)
        }
        return router
    }

    /// The most rounds `/offload/hash` runs.
    public static let maximumHashRounds = 10_000_000

    /// `n` rounds of a 64-bit mix (splitmix64's finalizer), chained: CPU work that cannot be
    /// skipped or folded by the optimizer.
    public static func hashRounds(_ n: Int) -> UInt64 {
        var x: UInt64 = 0x9e37_79b9_7f4a_7c15
        for _ in 0..<n {
            x = (x ^ (x >> 30)) &* 0xbf58_476d_1ce4_e5b9
            x = (x ^ (x >> 27)) &* 0x94d0_49bb_1331_11eb
            x ^= x >> 31
        }
        return x
    }

    /// What `/async/error` throws: not an `HTTPError`, so it is answered 500.
    struct DemoFailure: Error, CustomStringConvertible {
        var description: String { "the demo's /async/error route failed on purpose" }
    }

    struct Message: Codable, Sendable {
        var message: String
    }

    struct Counted: Codable, Sendable {
        var name: String
        var count: Int
    }

    struct Doubled: Codable, Sendable {
        var name: String
        var count: Int
        var doubled: Int
    }
}

/// `/ws/topic/:name`: a connection subscribes to its topic on open and publishes what it
/// sends to every subscriber (itself included).
struct TopicRelay: WebSocketHandler {
    func accept(_ request: borrowing Request) throws -> String {
        guard let name = request.parameter("name"), !name.isEmpty, name.utf8.count <= 200 else {
            throw HTTPError(.badRequest, "a topic name of 1 to 200 bytes, please")
        }
        return name
    }

    func onOpen(_ ws: WebSocket<String>) { ws.subscribe(ws.context) }

    func onMessage(_ ws: WebSocket<String>, _ message: borrowing WebSocketMessage) { ws.publish(ws.context, message) }
}
