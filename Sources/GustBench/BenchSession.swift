@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Synchronization

/// A benchmark under way: its reactor threads, their plans, and where their results land.
/// `BenchRun.run` drives one from the command line; a program (or a benchmark of the load
/// generator itself) can start one, look at its progress, interrupt it, and collect the result.
///
/// Threading: every method may be called from any thread; the work runs on the reactor threads.
public final class BenchSession: Sendable {
    public let configuration: BenchConfiguration
    let group: ReactorGroup
    let control: RunControl<BenchStats>
    /// Monotonic nanoseconds: when sending starts, and when measuring starts (after the warm-up).
    public let startTime: Int64
    let measureStart: Int64
    let wasInterrupted = Atomic<Bool>(false)
    /// The signal that cut the run short (0: none, or `interrupt()` called without one).
    let interruptSignal = Atomic<Int32>(0)

    /// Validates the configuration, checks the target answers (one blocking connect, at most
    /// 3 s), and starts one reactor thread per `configuration.reactors`. Throws
    /// `BenchRun.Failure` with a one-line reason.
    public static func start(_ configuration: BenchConfiguration) throws(BenchRun.Failure) -> BenchSession {
        do {
            try configuration.validate()
        } catch {
            throw BenchRun.Failure(description: error.description)
        }
        try checkDescriptorLimit(configuration)
        let address: SocketAddress
        do {
            address = try SocketAddress(host: configuration.url.host, port: configuration.url.port)
        } catch {
            throw BenchRun.Failure(description: "cannot resolve \(configuration.url.host): \(error)")
        }
        try probe(address, sources: configuration.sources)
        let group: ReactorGroup
        do {
            group = try ReactorGroup(count: configuration.reactors)
        } catch {
            throw BenchRun.Failure(description: "cannot start reactors: \(error)")
        }
        return BenchSession(configuration, address, group)
    }

    init(_ configuration: BenchConfiguration, _ address: SocketAddress, _ group: ReactorGroup) {
        self.configuration = configuration
        self.group = group
        let reactors = configuration.reactors
        control = RunControl(expected: reactors)
        startTime = System.monotonicNow().nanoseconds + 20_000_000  // let every reactor get going first
        measureStart = startTime + configuration.warmup.nanoseconds
        let endTime = configuration.duration.map { measureStart + $0.nanoseconds } ?? Int64.max
        let schedule = configuration.rate.map { OpenLoopSchedule(rate: $0, connections: configuration.connections, start: startTime) }
        let connectInterval: Int64 = configuration.connectRate.map { Int64(reactors) * 1_000_000_000 / Int64($0) } ?? 0
        var plans: [ReactorPlan] = []
        for r in 0..<reactors {
            let mine = Array(stride(from: r, to: configuration.connections, by: reactors))
            var budget: Int?
            if let n = configuration.requestCount { budget = n / reactors + (r < n % reactors ? 1 : 0) }
            plans.append(ReactorPlan(
                connections: mine, startTime: startTime, measureStart: measureStart, endTime: endTime,
                budget: budget, schedule: schedule, connectInterval: connectInterval))
        }
        let frozenPlans = plans
        let control = self.control
        group.start(name: "gust-bench") { reactor in
            let engine = BenchEngine(
                reactor: reactor, configuration: configuration, plan: frozenPlans[reactor.id], address: address, control: control)
            reactor.runSoon { engine.begin() }
            return engine
        }
    }

    /// Whether every reactor has finished its part (the run's time or count is reached).
    public var isFinished: Bool { control.results != nil }

    /// Every reactor's counters and histograms so far, merged (one job per reactor, waited for
    /// up to half a second). Allocates: for progress displays, not for hot loops.
    public func progress() -> BenchStats {
        ProgressBox<BenchStats>.collect(group) { ($0.delegate as? BenchEngine)?.stats }
    }

    /// Cuts the run short: every reactor stops sending and hands in what it measured. `signal`
    /// names the signal that asked for it, if one did (it ends up in `BenchResult`).
    public func interrupt(signal: Int32? = nil) {
        if let signal { interruptSignal.store(signal, ordering: .relaxed) }
        wasInterrupted.store(true, ordering: .relaxed)
        for handle in group.handles {
            _ = handle.execute { reactor in
                guard let engine = reactor.delegate as? BenchEngine else { return }
                engine.stopSending()
                engine.finish(now: System.monotonicNow().nanoseconds)
            }
        }
    }

    /// Waits for the run to finish (polling every `poll`), stops the reactor threads and merges
    /// what they measured.
    public func wait(poll: Duration = .milliseconds(5)) -> BenchResult {
        while !isFinished { System.sleep(poll) }
        group.stop()
        group.join()
        var merged = BenchStats()
        for stats in control.results ?? [] { merged.merge(stats) }
        let interrupted = wasInterrupted.load(ordering: .relaxed)
        var duration: Double
        if let d = configuration.duration, !interrupted {
            duration = Double(d.nanoseconds) / 1e9
        } else {
            let last = merged.lastResponse > 0 ? merged.lastResponse : System.monotonicNow().nanoseconds
            duration = Double(max(last - measureStart, 1)) / 1e9
        }
        if let d = configuration.duration, interrupted { duration = min(duration, Double(d.nanoseconds) / 1e9) }
        return BenchResult(
            stats: merged, durationSeconds: duration, requestedRate: configuration.rate,
            connections: configuration.connections, reactors: configuration.reactors, pipeline: configuration.pipeline,
            url: configuration.url.description, interrupted: interrupted,
            interruptSignal: interrupted ? interruptSignal.load(ordering: .relaxed) : 0)
    }

    /// Descriptors a run needs beside its connections: standard streams, the probe, and per
    /// reactor an epoll set, an eventfd and a timerfd.
    static func descriptorsBesideConnections(reactors: Int) -> Int { 16 + 3 * reactors }

    /// Fails before anything starts when the process may not open a descriptor per connection:
    /// otherwise every connection past the limit fails to open, over and over, as a connect error.
    static func checkDescriptorLimit(_ configuration: BenchConfiguration, limit: Int = System.fileDescriptorLimit()) throws(BenchRun.Failure) {
        let needed = configuration.connections + descriptorsBesideConnections(reactors: configuration.reactors)
        guard needed > limit else { return }
        throw BenchRun.Failure(description: """
            -c \(configuration.connections) needs about \(needed) file descriptors, but this process may open \(limit) \
            (ulimit -n): raise the limit, or split the connections over several gust bench processes \
            (each with its own --source range of addresses, e.g. 127.0.0.2-127.0.0.40)
            """)
    }

    /// One blocking connection attempt (3 s at most), so that a refusing or unreachable target
    /// is one clear error before anything starts.
    static func probe(_ address: SocketAddress, sources: [SocketAddress]) throws(BenchRun.Failure) {
        do {
            let fd = try System.socket(domain: address.family)
            defer { System.close(fd) }
            try System.setBlocking(fd, true)
            try System.setSendTimeout(fd, .seconds(3))
            if let source = sources.first { try System.bindSource(fd, address: source) }
            _ = try address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
        } catch {
            let reason = error.isInProgress ? "timed out after 3 s" : error.description
            throw BenchRun.Failure(description: "cannot connect to \(address): \(reason)")
        }
    }
}

/// A reactor's statistics, merged over reactors (and processes).
protocol MergeableStats: Sendable {
    init()
    mutating func merge(_ other: Self)
}

extension BenchStats: MergeableStats {}
extension WebSocketBenchStats: MergeableStats {}

/// Collects one answer per reactor for a progress snapshot; the asking thread waits for them.
final class ProgressBox<Stats: MergeableStats>: Sendable {
    let expected: Int
    let answers = Mutex<(count: Int, stats: Stats)>((0, Stats()))

    init(expected: Int) { self.expected = expected }

    /// Every reactor's statistics so far, each read on its own thread by `read` (one job per
    /// reactor, waited for up to half a second), merged. Allocates: for progress displays.
    static func collect(_ group: ReactorGroup, _ read: @escaping @Sendable (Reactor) -> Stats?) -> Stats {
        let box = ProgressBox(expected: group.count)
        for handle in group.handles {
            let queued = handle.execute { reactor in box.add(read(reactor)) }
            if !queued { box.add(nil) }
        }
        return box.wait()
    }

    func add(_ stats: Stats?) {
        answers.withLock { state in
            if let stats { state.stats.merge(stats) }
            state.count += 1
        }
    }

    /// Waits (up to half a second) for every reactor's answer; returns what arrived.
    func wait() -> Stats {
        for _ in 0..<500 {
            if let done = answers.withLock({ $0.count == expected ? $0.stats : nil }) { return done }
            System.sleep(.milliseconds(1))
        }
        return answers.withLock { $0.stats }
    }
}
