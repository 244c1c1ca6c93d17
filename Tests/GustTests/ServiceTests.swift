@testable import Gust
import GustDemo
import Logging
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A service that does nothing but wait for the group's graceful shutdown.
struct Idle: Service {
    let stopped: Counter
    func run() async throws {
        try? await gracefulShutdown()
        stopped.add()
    }
}

@Suite("The server as a swift-service-lifecycle Service")
struct ServiceTests {
    /// The demo app on a free port, one reactor, not started.
    static func demoServer() -> Server {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.reactors = 1
        return Server(configuration: configuration, router: DemoApp.makeRouter())
    }

    @Test("in a ServiceGroup: serves, and on the group's graceful shutdown lets requests under way finish, with the other services")
    func serviceGroup() async throws {
        let server = Self.demoServer()
        let stopped = Counter()
        let group = ServiceGroup(configuration: .init(services: [server, Idle(stopped: stopped)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        var port: Int?
        for _ in 0..<500 where port == nil {
            port = server.port
            if port == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let bound = try #require(port)
        let slow = try await onOwnThread { () throws -> UncheckedBox<TestClient> in
            let client = try TestClient(port: bound, timeoutSeconds: 20)
            try client.send(get("/delay?ms=400"))
            return UncheckedBox(client)
        }
        try await Task.sleep(for: .milliseconds(100))
        await group.triggerGracefulShutdown()
        let answer = try await onOwnThread { try slow.value.readResponse().text }
        #expect(answer == "waited 400 ms\n")
        try await running.value
        #expect(stopped.count == 1)
        #expect(server.port == nil, "stopped")
    }

    @Test("a server started before it joins the group is run, not started twice")
    func alreadyStarted() async throws {
        let server = Self.demoServer()
        try server.start()
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(server.port != nil)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(server.port == nil)
    }

    @Test("cancelled: it stops at once")
    func cancelled() async throws {
        let server = Self.demoServer()
        let running = Task { try await server.run() }
        for _ in 0..<500 where server.port == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(server.port != nil)
        running.cancel()
        _ = await running.result
        #expect(server.port == nil)
    }
}
