@testable import GustBench
@_spi(GustInternal) import GustIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The engine's event dispatch, driven by hand on a reactor that is not running.
@Suite struct BenchEngineDispatchTests {
    /// A listener whose accept queue is full, so that a further connect to it stays in progress.
    struct FullListener {
        let listener: Listener
        var fillers: [Int32] = []

        init() throws {
            listener = try Listener.bind(try SocketAddress(host: "127.0.0.1", port: 0), backlog: 0, reusePort: false)
            let address = try SocketAddress(host: "127.0.0.1", port: listener.port)
            for _ in 0..<3 {
                let fd = try System.socket(domain: address.family)
                _ = try? address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
                fillers.append(fd)
            }
            usleep(50_000)  // let the handshakes land in the queue
        }

        func close() {
            for fd in fillers { System.close(fd) }
            listener.close()
        }
    }

    func makeEngine(port: Int) throws -> (Reactor, BenchEngine) {
        let url = try TargetURL("http://127.0.0.1:\(port)/")
        let config = BenchConfiguration(url: url, request: try RequestTemplate(method: "GET", url: url, headers: [], body: nil, keepAlive: true))
        let plan = ReactorPlan(
            connections: [0], startTime: 0, measureStart: 0, endTime: .max, budget: nil, schedule: nil, connectInterval: 0)
        let reactor = Reactor(handle: try ReactorHandle(id: 0))
        let engine = BenchEngine(
            reactor: reactor, configuration: config, plan: plan, address: try SocketAddress(host: "127.0.0.1", port: port),
            control: RunControl<BenchStats>(expected: 1))
        return (reactor, engine)
    }

    @Test func anEventForAReplacedSocketDoesNotReachItsSuccessor() throws {
        let full = try FullListener()
        defer { full.close() }
        let (reactor, engine) = try makeEngine(port: full.listener.port)
        defer { engine.reactorWillStop(reactor) }

        engine.startConnect(0)
        try #require(engine.connections[0].phase == .connecting)
        let first = engine.token(0)
        // The first socket is given up on and replaced (a timeout, say); its successor is still
        // connecting when an event read for the first one in the same batch is dispatched.
        engine.reconnect(0)
        try #require(engine.connections[0].phase == .connecting)
        #expect(engine.token(0) != first)
        engine.reactor(reactor, ready: first, events: .writable)
        #expect(engine.connections[0].phase == .connecting, "a stale writable event finished the new socket's connect")
        #expect(engine.stats.connectionsOpened == 0)
    }
}
