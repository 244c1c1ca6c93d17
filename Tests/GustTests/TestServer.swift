@_spi(GustInternal) import Gust
import GustDemo
@_spi(GustInternal) import GustHTTP1
import Testing
@_spi(GustInternal) import GustIO

#if canImport(Glibc)
import Glibc
#endif

/// A real server on a free port, running the demo app plus a few routes that exist for tests.
final class TestServer {
    let server: Server
    let port: Int

    /// Bytes `/big?n=` serves from (a repeating alphabet, so corruption shows).
    static let pattern: [UInt8] = (0..<(4 << 20)).map { UInt8(97 + $0 % 26) }

    init(
        reactors: Int = 1, limits: RequestLimits = RequestLimits(), routes: (Router) -> Void = { _ in },
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws {
        let router = DemoApp.makeRouter()
        routes(router)
        router.get("/big") { req, res in
            let n = min(req.queryInt("n") ?? 0, TestServer.pattern.count)
            TestServer.pattern.withUnsafeBytes { res.send(.ok, contentType: .octetStream, unsafeBytes: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        router.get("/silent") { _, _ in }
        router.get("/headers") { _, res in
            res.header("X-One", "1")
            res.header("X-Evil", "a\r\nSet-Cookie: injected=1")
            res.header("Bad Name", "x")
            res.header("Content-Length", "999")
            res.header("X-Two", "two")
            res.send("ok")
        }
        router.get("/close") { _, res in
            res.closeConnection()
            res.send("bye")
        }
        router.get("/twice") { _, res in
            res.send("first")
            res.send("second")
        }
        router.get("/defer-now") { _, res in
            let later = res.deferResponse()
            later.respond { res in res.send("answered from the handler") }
        }
        router.get("/p/*") { req, res in
            res.send(.ok, "\(req.path)|\(req.parameter("*") ?? "-")|\(req.query("a") ?? "-")")
        }
        router.get("/users/:id") { req, res in
            res.send(.ok, "user \(req.parameter("id") ?? "?")")
        }
        router.post("/count") { req, res in
            res.send(.ok, "\(req.bodyCount) \(req.header("content-type") ?? "-")")
        }
        var config = ServerConfiguration()
        config.port = 0
        config.reactors = reactors
        config.limits = limits
        config.lingerTimeout = .milliseconds(300)
        configure(&config)
        server = Server(configuration: config, router: router)
        try server.start()
        port = server.port!
    }

    deinit { server.shutdown() }

    func client(receiveBuffer: Int32? = nil, source: String? = nil) throws -> TestClient {
        try TestClient(port: port, receiveBuffer: receiveBuffer, source: source)
    }

    /// Polls the reactors until no connection and no lease is left (or 5 s pass).
    @discardableResult
    func waitUntilIdle() async -> ServerStats {
        var stats = await server.stats()
        for _ in 0..<500 {
            if stats.connections == 0 && stats.inputLeases == 0 && stats.outputLeases == 0 { break }
            usleep(10_000)
            stats = await server.stats()
        }
        return stats
    }
}

/// `GET path` with a Host header.
func get(_ path: String, _ extra: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: test\r\n\(extra)\r\n"
}

/// Runs `body` (blocking socket I/O) on a thread of its own and awaits it, so that the test's
/// blocking reads do not hold one of the cooperative pool's few threads: for tests whose server
/// side needs the global executor (detached tasks, actors) to make progress.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        _ = OSThread.spawn(name: "test-io") { continuation.resume(with: Result { try body() }) }
    }
}

/// Carries a value that is not `Sendable` out of `onOwnThread` (it is used by one thread at a
/// time: the I/O thread, then the test).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
