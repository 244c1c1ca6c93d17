@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO
import Synchronization

/// An HTTP/1.1 server: N reactor threads, each with its own SO_REUSEPORT listener, serving one
/// immutable route table.
///
///     let router = Router()
///     router.get("/plaintext") { _, res in res.send("Hello, World!") }
///     let server = Server(configuration: config, router: router)
///     try server.run()  // until SIGINT or SIGTERM
///
/// Threading: `start`, `shutdown` and `stats` may be called from any thread.
public final class Server: Sendable {
    public let configuration: ServerConfiguration
    let routes: RouteTable

    struct Running {
        var group: ReactorGroup
        var listeners: [Listener]
        var port: Int
        var watchdog: ReactorWatchdog?
    }

    let running = Mutex<Running?>(nil)
    let nextInProcess = Atomic<UInt>(0)

    /// Compiles `router` (later changes to it do not reach this server).
    public init(configuration: ServerConfiguration = ServerConfiguration(), router: Router) {
        self.configuration = configuration
        self.routes = router.compile()
    }

    /// The port the server listens on (the real one when configured with 0); nil before `start`.
    public var port: Int? { running.withLock { $0?.port } }

    /// Binds one listener per reactor and starts the reactor threads. Throws `ConfigurationError`
    /// or `SystemError` (e.g. the address is in use); nothing is left running on failure.
    public func start() throws {
        try configuration.validate()
        try running.withLock { (running: inout Running?) throws in
            precondition(running == nil, "server already started")
            let configuration = self.configuration
            let address = try SocketAddress(host: configuration.host, port: configuration.port)
            let listeners = try Listener.bindGroup(address, count: configuration.reactors, backlog: Int32(clamping: configuration.backlog))
            do {
                let group = try ReactorGroup(count: configuration.reactors)
                let routes = self.routes
                let bound = listeners
                let limiter = makeClientLimiter()
                group.start { reactor in
                    HTTPEngine(
                        reactor: reactor, listener: bound[reactor.id], routes: routes, configuration: configuration,
                        clientLimiter: limiter)
                }
                running = Running(group: group, listeners: listeners, port: listeners[0].port, watchdog: makeWatchdog(group))
            } catch {
                for listener in listeners { listener.close() }
                throw error
            }
        }
    }

    /// The per-client request-rate table the reactors share, if a rate is set.
    func makeClientLimiter() -> ClientRateLimiter? {
        configuration.requestRatePerClient.map { ClientRateLimiter(limit: $0, clients: configuration.rateLimitedClients) }
    }

    func makeWatchdog(_ group: ReactorGroup) -> ReactorWatchdog? {
        configuration.blockedReactorWarning.map {
            ReactorWatchdog(handles: group.handles, routes: routes, threshold: $0, logger: configuration.logger)
        }
    }

    /// Starts the reactors without listening anywhere: connections come only from
    /// `connectInProcess` (the in-process test harness). Nothing is left running on failure.
    @_spi(GustInternal) public func startInProcess() throws {
        try configuration.validate()
        try running.withLock { (running: inout Running?) throws in
            precondition(running == nil, "server already started")
            let configuration = self.configuration
            let group = try ReactorGroup(count: configuration.reactors)
            let routes = self.routes
            let limiter = makeClientLimiter()
            group.start { reactor in
                HTTPEngine(reactor: reactor, listener: nil, routes: routes, configuration: configuration, clientLimiter: limiter)
            }
            running = Running(group: group, listeners: [], port: 0, watchdog: makeWatchdog(group))
        }
    }

    /// A new connection to this server inside the process: a socket pair whose one end the
    /// server serves (on the reactors in turn) and whose other end, blocking, is returned (the
    /// caller closes it). No network, no port.
    @_spi(GustInternal) public func connectInProcess() throws -> Int32 {
        guard let handles = running.withLock({ $0?.group.handles }), !handles.isEmpty else {
            throw ConfigurationError("the server is not running")
        }
        let (ours, theirs) = try System.socketPair()
        try System.setBlocking(theirs, false)
        let handle = handles[Int(nextInProcess.add(1, ordering: .relaxed).oldValue) % handles.count]
        let handed = handle.execute { reactor in
            guard let engine = reactor.delegate as? HTTPEngine else { return System.close(theirs) }
            engine.adopt(theirs)
        }
        if !handed {
            System.close(theirs)
            System.close(ours)
            throw ConfigurationError("the server has stopped")
        }
        return ours
    }

    /// Stops every reactor (open connections are closed, not drained), waits for their threads
    /// and closes the listeners. Safe to call more than once.
    public func shutdown() {
        guard let stopped = running.withLock({ r -> Running? in
            let was = r
            r = nil
            return was
        }) else { return }
        stopped.watchdog?.stop()
        stopped.group.stop()
        stopped.group.join()
        for listener in stopped.listeners { listener.close() }
    }

    /// Drain mode, on every reactor: stop accepting, close idle keep-alive connections at once,
    /// and close every other connection after its exchange under way (its answer says
    /// `Connection: close`). Returns at once; the reactors drain on their own threads. The
    /// seam that graceful shutdown and reload are built on.
    package func drain() {
        guard let handles = running.withLock({ $0?.group.handles }) else { return }
        for handle in handles {
            handle.execute { reactor in (reactor.delegate as? HTTPEngine)?.beginDrain() }
        }
    }

    /// Starts, serves until SIGINT, SIGTERM or SIGHUP, then stops gracefully
    /// (`stopGracefully`): requests in flight finish, a second signal stops at once. Blocks the
    /// calling thread. `onStart` runs once the listeners are bound (e.g. to print the address);
    /// `onDrain` when the first signal has arrived, with the connections still open.
    @discardableResult
    public func run(onStart: (Server) -> Void = { _ in }, onDrain: (Int) -> Void = { _ in }) throws -> ShutdownReport {
        Signals.blockTermination()
        try start()
        onStart(self)
        _ = Signals.waitForTermination()
        return stopGracefully(onDrain: onDrain) { timeout in Signals.waitForTermination(timeout: timeout) != nil }
    }

    /// Stops the way an operator expects: no new connection is accepted, idle keep-alive
    /// connections close at once, busy ones finish the exchange under way (deferred, async and
    /// streamed answers included; the answer says `Connection: close`), then everything stops.
    /// Waits at most `configuration.shutdownGracePeriod`; `interrupted(timeout)` waits up to
    /// `timeout` for a reason to stop at once (a second signal) and returns whether one came.
    /// Logged with counts. Callable from any thread but a reactor's.
    @discardableResult
    public func stopGracefully(
        onDrain: (Int) -> Void = { _ in }, interrupted: ((Duration) -> Bool)? = nil
    ) -> ShutdownReport {
        let started = ContinuousClock.now
        drain()
        // Counting goes through every reactor's queue behind its drain job: once counted, no
        // reactor watches its listener any more, and the listeners can close (a new client is
        // refused at once instead of waiting in a backlog nobody takes from).
        let open = openConnections()
        closeListeners()
        onDrain(open)
        configuration.logger.info("draining", metadata: ["connections": "\(open)", "grace": "\(configuration.shutdownGracePeriod)"])
        var remaining = open
        var forced = false
        let deadline = started + configuration.shutdownGracePeriod
        while remaining > 0 {
            let now = ContinuousClock.now
            guard now < deadline else { break }
            let step = min(.milliseconds(50), deadline - now)
            if let interrupted {
                if interrupted(step) {
                    forced = true
                    break
                }
            } else {
                Parker().park(timeout: step)
            }
            remaining = openConnections()
        }
        let report = ShutdownReport(
            openAtSignal: open, closedUnfinished: remaining, duration: ContinuousClock.now - started, interrupted: forced)
        if remaining > 0 {
            configuration.logger.warning(
                forced ? "second signal: closing the connections still open" : "grace period over: closing the connections still open",
                metadata: ["connections": "\(remaining)"])
        } else {
            configuration.logger.info("drained", metadata: ["connections": "\(open)", "duration": "\(report.duration)"])
        }
        shutdown()
        return report
    }

    /// Closes the listeners (after every reactor has stopped watching them), once.
    func closeListeners() {
        let listeners = running.withLock { r -> [Listener] in
            guard r != nil else { return [] }
            defer { r!.listeners = [] }
            return r!.listeners
        }
        for listener in listeners { listener.close() }
    }

    /// Connections open on every reactor now, each counted on its own thread (0 when stopped).
    func openConnections() -> Int {
        guard let handles = running.withLock({ $0?.group.handles }) else { return 0 }
        let counted = Mutex<(total: Int, reported: Int)>((0, 0))
        let parker = Parker()
        for handle in handles {
            let queued = handle.execute { reactor in
                let n = (reactor.delegate as? HTTPEngine)?.connections.count ?? 0
                counted.withLock { $0.total += n; $0.reported += 1 }
                parker.unpark()
            }
            if !queued { counted.withLock { $0.reported += 1 } }
        }
        while counted.withLock({ $0.reported }) < handles.count {
            if !parker.park(timeout: .seconds(1)) { break }  // a reactor that does not answer: counted as none
        }
        return counted.withLock { $0.total }
    }

    /// A snapshot of every reactor's counters, each read on its own thread.
    public func stats() async -> ServerStats {
        guard let (handles, watchdog) = running.withLock({ r in r.map { ($0.group.handles, $0.watchdog) } }) else {
            return ServerStats(reactors: [])
        }
        let stalls = watchdog?.stalls.load(ordering: .relaxed) ?? 0
        let collected = Mutex<[ServerStats.Reactor]>([])
        return await withCheckedContinuation { (done: CheckedContinuation<ServerStats, Never>) in
            // Every reactor contributes exactly once: a snapshot, or nothing if it has stopped.
            @Sendable func contribute(_ snapshot: ServerStats.Reactor?) {
                let all = collected.withLock { list -> [ServerStats.Reactor]? in
                    list.append(snapshot ?? ServerStats.Reactor.stopped)
                    return list.count == handles.count ? list : nil
                }
                if let all {
                    let live = all.filter { $0.id >= 0 }.sorted { $0.id < $1.id }
                    done.resume(returning: ServerStats(reactors: live, reactorStalls: stalls))
                }
            }
            for handle in handles {
                let queued = handle.execute { reactor in
                    contribute((reactor.delegate as? HTTPEngine)?.snapshot())
                }
                if !queued { contribute(nil) }
            }
        }
    }
}

/// How a graceful stop went.
public struct ShutdownReport: Sendable, CustomStringConvertible {
    /// Connections open when the stop began.
    public var openAtSignal: Int
    /// Connections still open when the wait ended (closed without finishing).
    public var closedUnfinished: Int
    public var duration: Duration
    /// A second signal (or the caller) cut the wait short.
    public var interrupted: Bool

    public var description: String {
        closedUnfinished == 0
            ? "\(openAtSignal) connection(s) finished in \(duration)"
            : "\(openAtSignal - closedUnfinished) of \(openAtSignal) connection(s) finished; \(closedUnfinished) closed "
                + (interrupted ? "at the second signal" : "at the end of the grace period")
    }
}
