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
        /// The listeners came from another process (or systemd), not from binding.
        var inherited = false
    }

    let running = Mutex<Running?>(nil)
    /// The port a supervisor's workers serve on (the supervisor runs no reactor).
    let supervisedPort = Mutex<Int?>(nil)
    let nextInProcess = Atomic<UInt>(0)
    /// The server's WebSocket topics (one process's).
    let hub = WebSocketHub()

    /// Publishes to this server's WebSocket topics, from any thread or task (see
    /// `WebSocket.subscribe`). Topics span this process: with `processes` > 1 each worker
    /// has its own.
    public var publisher: WebSocketPublisher { WebSocketPublisher(hub: hub) }

    /// Compiles `router` (later changes to it do not reach this server).
    public init(configuration: ServerConfiguration = ServerConfiguration(), router: Router) {
        self.configuration = configuration
        self.routes = router.compile()
    }

    /// The port the server listens on (the real one when configured with 0); nil before `start`.
    public var port: Int? { running.withLock { $0?.port } ?? supervisedPort.withLock { $0 } }

    /// Binds one listener per reactor (or takes the listeners this process was handed: see
    /// `ServerConfiguration.inheritListeners`) and starts the reactor threads. Throws
    /// `ConfigurationError` or `SystemError` (e.g. the address is in use); nothing is left
    /// running on failure. A process started by a reload or a supervisor says it is serving
    /// (or why it is not) before this returns.
    public func start() throws {
        try configuration.validate()
        let control = configuration.inheritListeners ? ControlChannel.inherited() : nil
        do {
            try startReactors(control)
        } catch {
            control?.sendFailed("\(error)")
            control?.close()
            throw error
        }
        if let control {
            // Every reactor watches its listeners once it has run a job: then say so.
            _ = openConnections()
            control.sendReady()
            control.close()
        }
    }

    func startReactors(_ control: ControlChannel?) throws {
        try running.withLock { (running: inout Running?) throws in
            precondition(running == nil, "server already started")
            let configuration = self.configuration
            let (listeners, inherited) = try obtainListeners(control)
            do {
                let group = try ReactorGroup(count: configuration.reactors)
                let routes = self.routes
                let limiter = makeClientLimiter()
                let limit = configuration.maxConnections.map { ConnectionLimit(maximum: $0, handles: group.handles) }
                let reactors = configuration.reactors
                let hub = self.hub
                hub.attach(group.handles)
                group.start { reactor in
                    let mine = Listener.share(of: listeners.count, forReactor: reactor.id, of: reactors).map { listeners[$0] }
                    return HTTPEngine(
                        reactor: reactor, listeners: mine, routes: routes, configuration: configuration, clientLimiter: limiter,
                        connectionLimit: limit, hub: hub)
                }
                running = Running(
                    group: group, listeners: listeners, port: listeners[0].port, watchdog: makeWatchdog(group), inherited: inherited)
            } catch {
                for listener in listeners { listener.close() }
                throw error
            }
        }
    }

    /// The listeners handed over on `control`, or by systemd, or bound now.
    func obtainListeners(_ control: ControlChannel?) throws -> (listeners: [Listener], inherited: Bool) {
        if let control {
            let fds = try control.receiveListeners(timeout: .seconds(10))
            let listeners = fds.compactMap { Listener.inherit($0) }
            guard listeners.count == fds.count else {
                for fd in fds { System.close(fd) }
                throw ConfigurationError("a descriptor handed over is not a listening socket")
            }
            return (listeners, true)
        }
        if configuration.inheritListeners, let activated = Listener.socketActivated() {
            return (activated, true)
        }
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        let bound = try Listener.bindGroup(address, count: configuration.reactors, backlog: Int32(clamping: configuration.backlog))
        return (bound, false)
    }

    /// Whether the listeners were handed over by another process (a reload, a supervisor,
    /// systemd) rather than bound by this one; nil before `start`.
    public var inheritedListeners: Bool? { running.withLock { $0?.inherited } }

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
            let limit = configuration.maxConnections.map { ConnectionLimit(maximum: $0, handles: group.handles) }
            let hub = self.hub
            hub.attach(group.handles)
            group.start { reactor in
                HTTPEngine(
                    reactor: reactor, listeners: [], routes: routes, configuration: configuration, clientLimiter: limiter,
                    connectionLimit: limit, hub: hub)
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
    package func drain(idleGrace: Duration = .zero) {
        guard let handles = running.withLock({ $0?.group.handles }) else { return }
        for handle in handles {
            handle.execute { reactor in (reactor.delegate as? HTTPEngine)?.beginDrain(idleGrace: idleGrace) }
        }
    }

    /// Starts, serves until SIGINT, SIGTERM or SIGHUP, then stops gracefully
    /// (`stopGracefully`): requests in flight finish, a second signal stops at once. On SIGUSR2
    /// (unless `reloadOnSIGUSR2` is off) it reloads: a new process of the current binary takes
    /// over every listener (`handOver`), then this one drains and returns; a reload that fails
    /// leaves this process serving, and reload signals that arrive during one are ignored
    /// (logged). Blocks the calling thread. `onStart` runs once the listeners are bound (e.g. to
    /// print the address); `onReload` after each reload attempt; `onDrain` when the stop
    /// begins, with the connections still open.
    ///
    /// With `processes > 1`, this process becomes a prefork supervisor instead (`Supervisor`):
    /// the workers it starts are this program again, and their `run` serves. Only `run` does
    /// this: `start` (and `Server` as a lifecycle `Service`) always serves in this process.
    @discardableResult
    public func run(
        onStart: (Server) -> Void = { _ in }, onReload: (ReloadOutcome) -> Void = { _ in }, onDrain: (Int) -> Void = { _ in }
    ) throws -> ShutdownReport {
        if configuration.processes > 1 && Supervisor.workerNumber == nil {
            return try supervise(onStart: onStart, onReload: onReload, onDrain: onDrain)
        }
        let worker = Supervisor.workerNumber != nil
        if worker {
            Processes.setParentDeathSignal(Signals.terminate)  // a worker whose supervisor died drains
        }
        Signals.blockTermination()
        let reloads = configuration.reloadOnSIGUSR2
        if reloads { Signals.block([Signals.reload]) }
        try start()
        onStart(self)
        var idleGrace = Duration.zero
        while true {
            let signal = reloads || worker
                ? Signals.wait(for: Signals.termination + [Signals.reload], timeout: nil) : Signals.waitForTermination()
            guard signal == Signals.reload else { break }
            if worker {
                // The supervisor has a new worker serving on these listeners: retire as a lame duck.
                configuration.logger.info("retiring: replaced by a new worker")
                idleGrace = configuration.reloadIdleGrace
                break
            }
            configuration.logger.info("reload: SIGUSR2 received")
            let outcome = handOver()
            var ignored = 0
            while Signals.wait(for: [Signals.reload], timeout: .zero) != nil { ignored += 1 }
            if ignored > 0 { configuration.logger.warning("reload: ignored a reload signal received during the reload", metadata: ["signals": "\(ignored)"]) }
            // A stop signal that came while the reload ran is the *first* one: it asks for a
            // drain (a second one, later, for stopping at once), not for cutting requests short.
            let stopAsked = Signals.wait(for: Signals.termination, timeout: .zero) != nil
            onReload(outcome)
            switch outcome {
            case .handedOver(let pid):
                configuration.logger.info("reload: the new process is serving; draining this one", metadata: ["pid": "\(pid)"])
                idleGrace = configuration.reloadIdleGrace
            case .failed(let why):
                configuration.logger.error("reload failed; this process keeps serving", metadata: ["why": "\(why)"])
                if !stopAsked { continue }
            }
            break
        }
        return stopGracefully(idleGrace: idleGrace, onDrain: onDrain) { timeout in Signals.waitForTermination(timeout: timeout) != nil }
    }

    /// Stops the way an operator expects: no new connection is accepted, idle keep-alive
    /// connections close at once, busy ones finish the exchange under way (deferred, async and
    /// streamed answers included; the answer says `Connection: close`), then everything stops.
    /// Waits at most `configuration.shutdownGracePeriod`; `interrupted(timeout)` waits up to
    /// `timeout` for a reason to stop at once (a second signal) and returns whether one came.
    /// Logged with counts. Callable from any thread but a reactor's.
    @discardableResult
    ///
    /// `idleGrace` makes it a lame duck's drain (after a reload): keep-alive connections
    /// between requests close once idle that long, or after their next request (answered
    /// with `Connection: close`), instead of at once.
    public func stopGracefully(
        idleGrace: Duration = .zero, onDrain: (Int) -> Void = { _ in }, interrupted: ((Duration) -> Bool)? = nil
    ) -> ShutdownReport {
        let started = ContinuousClock.now
        drain(idleGrace: idleGrace)
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
                let n = (reactor.delegate as? HTTPEngine)?.openConnections ?? 0
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

extension Server {
    /// `run` as a prefork supervisor: binds `processes × reactors` listeners, starts the
    /// workers, supervises them until a stop signal, forwards it, and returns once they have
    /// all exited.
    func supervise(
        onStart: (Server) -> Void, onReload: (ReloadOutcome) -> Void, onDrain: (Int) -> Void
    ) throws -> ShutdownReport {
        try configuration.validate()
        Signals.blockTermination()
        Signals.block([Signals.reload, Signals.childExited])
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        let listeners = try Listener.bindGroup(
            address, count: configuration.processes * configuration.reactors, backlog: Int32(clamping: configuration.backlog))
        let supervisor = Supervisor(configuration: configuration, listeners: listeners)
        do {
            try supervisor.startAll()
        } catch {
            for listener in listeners { listener.close() }
            throw error
        }
        supervisedPort.withLock { $0 = supervisor.port }
        onStart(self)
        let started = ContinuousClock.now
        var stopping: ContinuousClock.Instant?
        var workers = 0
        supervisor.run(onReload: onReload) { live in
            stopping = ContinuousClock.now
            workers = live
            onDrain(live)
        }
        supervisedPort.withLock { $0 = nil }
        return ShutdownReport(
            openAtSignal: 0, closedUnfinished: 0, duration: ContinuousClock.now - (stopping ?? started), interrupted: false,
            workersStopped: workers)
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
    /// For a prefork supervisor: the worker processes that stopped (each drained its own
    /// connections and logged its own report); nil for a server.
    public var workersStopped: Int?

    public init(openAtSignal: Int, closedUnfinished: Int, duration: Duration, interrupted: Bool, workersStopped: Int? = nil) {
        self.openAtSignal = openAtSignal
        self.closedUnfinished = closedUnfinished
        self.duration = duration
        self.interrupted = interrupted
        self.workersStopped = workersStopped
    }

    public var description: String {
        if let workersStopped { return "\(workersStopped) worker process(es) stopped in \(duration)" }
        return closedUnfinished == 0
            ? "\(openAtSignal) connection(s) finished in \(duration)"
            : "\(openAtSignal - closedUnfinished) of \(openAtSignal) connection(s) finished; \(closedUnfinished) closed "
                + (interrupted ? "at the second signal" : "at the end of the grace period")
    }
}
