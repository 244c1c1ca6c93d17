@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustIO
import HTTPTypes

/// Tests an app's routes with real requests through the real engine (parser, state machine,
/// middleware, both handler tiers), without a network:
///
///     let app = try TestApp(router: makeRouter())             // in process: no port
///     let response = try await app.execute(.get, "/items/1")
///     #expect(response.status == .ok)
///     #expect(try response.decode(as: Item.self).name == "gust")
///
/// `.inProcess` serves each connection over a socket pair inside the process: no listener, no
/// port, no TCP. `.live` binds an ephemeral loopback port (`port`), for real clients (curl,
/// a browser, another process) and the same `execute` over TCP.
///
/// Threading: `execute` may be called from any task; its blocking I/O runs on a thread of the
/// harness's own, never on the cooperative pool. Requests on one `TestApp` may run concurrently,
/// each on a connection of its own.
public final class TestApp: Sendable {
    public enum Transport: Sendable {
        case inProcess
        case live
    }

    public let server: Server
    public let transport: Transport
    let io: WorkPool

    /// Starts `router`'s server (one reactor unless configured otherwise).
    public init(router: Router, transport: Transport = .inProcess, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.reactors = 1
        configure(&configuration)
        server = Server(configuration: configuration, router: router)
        self.transport = transport
        var pool = WorkPool.Configuration(minimumWorkers: 1, maximumWorkers: 16)
        pool.name = "gust-test-io"
        pool.growthThreshold = .milliseconds(1)
        io = WorkPool(configuration: pool)
        switch transport {
        case .inProcess: try server.startInProcess()
        case .live: try server.start()
        }
    }

    deinit { shutdown() }

    /// The port of a `.live` app (nil in process).
    public var port: Int? { transport == .live ? server.port : nil }

    /// Stops the server and the harness's threads. Safe to call more than once.
    public func shutdown() {
        server.shutdown()
        io.shutdown()
    }

    /// A new connection to the app (keep-alive: several requests, or raw bytes). Blocking I/O:
    /// use it from a test's own thread, or through `execute`.
    public func connect(timeout: Duration = .seconds(10)) throws -> TestConnection {
        try Connector(server: server, transport: transport).connect(timeout: timeout)
    }

    /// What the I/O closures need, without the app itself: a closure that held the app could
    /// be the last to release it, on a harness thread, whose `deinit` would then wait for that
    /// very thread.
    struct Connector: Sendable {
        let server: Server
        let transport: Transport

        func connect(timeout: Duration = .seconds(10)) throws -> TestConnection {
            switch transport {
            case .inProcess: return TestConnection(fd: try server.connectInProcess(), timeout: timeout)
            case .live: return try TestConnection(port: server.port!, timeout: timeout)
            }
        }
    }

    /// Sends one request on a new connection and returns the response.
    public func execute(
        _ method: HTTPRequest.Method, _ path: String, headerFields: HTTPFields = [:], body: [UInt8] = []
    ) async throws -> TestResponse {
        let request = TestConnection.encode(method, path, headerFields, body)
        let head = method == .head
        let connector = Connector(server: server, transport: transport)
        return try await offload(on: io) {
            let connection = try connector.connect()
            try connection.send(request)
            return try connection.readResponse(head: head)
        }
    }

    /// Sends one request whose body is `text` (`text/plain; charset=utf-8` unless a content
    /// type is given).
    public func execute(
        _ method: HTTPRequest.Method, _ path: String, headerFields: HTTPFields = [:], text: String
    ) async throws -> TestResponse {
        var fields = headerFields
        if fields[.contentType] == nil { fields[.contentType] = "text/plain; charset=utf-8" }
        return try await execute(method, path, headerFields: fields, body: Array(text.utf8))
    }

    /// Sends raw bytes on a new connection and returns every response that comes back before
    /// the server closes it or `responses` have arrived (for malformed input, pipelining).
    public func execute(raw bytes: [UInt8], responses: Int = 1) async throws -> [TestResponse] {
        let connector = Connector(server: server, transport: transport)
        return try await offload(on: io) {
            let connection = try connector.connect()
            try connection.send(bytes)
            var all: [TestResponse] = []
            while all.count < responses, let response = try connection.readResponseIfAny() { all.append(response) }
            return all
        }
    }
}
