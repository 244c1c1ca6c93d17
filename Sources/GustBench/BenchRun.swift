import GustCore
import GustIO
import Synchronization

/// Runs a benchmark: checks the target answers, starts one reactor per `-t`, waits (printing
/// progress once a second) until the run ends or SIGINT/SIGTERM cuts it short, and merges what
/// the reactors measured.
///
/// Threading: `run` blocks the calling thread (the main thread, which takes the termination
/// signals); the work happens on the reactor threads.
public enum BenchRun {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// A snapshot for the progress line.
    public struct Progress: Sendable {
        public let elapsedSeconds: Double
        public let stats: BenchStats
        /// Requests per second over the last interval.
        public let recentRate: Double
    }

    public static func run(_ configuration: BenchConfiguration, progress: (Progress) -> Void = { _ in }) throws -> BenchResult {
        do {
            try configuration.validate()
        } catch {
            throw Failure(description: error.description)
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(host: configuration.url.host, port: configuration.url.port)
        } catch {
            throw Failure(description: "cannot resolve \(configuration.url.host): \(error)")
        }
        try probe(address, sources: configuration.sources)

        Signals.blockTermination()
        let reactors = configuration.reactors
        let now = System.monotonicNow().nanoseconds
        let start = now + 20_000_000  // let every reactor get going first
        let measureStart = start + configuration.warmup.nanoseconds
        let endTime = configuration.duration.map { measureStart + $0.nanoseconds } ?? Int64.max
        let schedule = configuration.rate.map { OpenLoopSchedule(rate: $0, connections: configuration.connections, start: start) }
        let connectInterval: Int64 = configuration.connectRate.map { Int64(reactors) * 1_000_000_000 / Int64($0) } ?? 0
        var plans: [ReactorPlan] = []
        for r in 0..<reactors {
            let mine = Array(stride(from: r, to: configuration.connections, by: reactors))
            var budget: Int?
            if let n = configuration.requestCount { budget = n / reactors + (r < n % reactors ? 1 : 0) }
            plans.append(ReactorPlan(
                connections: mine, startTime: start, measureStart: measureStart, endTime: endTime,
                budget: budget, schedule: schedule, connectInterval: connectInterval))
        }

        let control = RunControl(expected: reactors)
        let group: ReactorGroup
        do {
            group = try ReactorGroup(count: reactors)
        } catch {
            throw Failure(description: "cannot start reactors: \(error)")
        }
        let frozenPlans = plans
        group.start(name: "gust-bench") { reactor in
            let engine = BenchEngine(
                reactor: reactor, configuration: configuration, plan: frozenPlans[reactor.id], address: address, control: control)
            reactor.runSoon { engine.begin() }
            return engine
        }

        var interrupted = false
        var lastRequests = 0
        var lastTime = System.monotonicNow().nanoseconds
        while control.results == nil {
            if Signals.waitForTermination(timeout: .seconds(1)) != nil {
                interrupted = true
                for handle in group.handles {
                    _ = handle.execute { reactor in
                        guard let engine = reactor.delegate as? BenchEngine else { return }
                        engine.stopSending()
                        engine.finish(now: System.monotonicNow().nanoseconds)
                    }
                }
                continue
            }
            if control.results != nil { break }
            let snapshot = collectProgress(group)
            let t = System.monotonicNow().nanoseconds
            let recent = Double(snapshot.requests - lastRequests) / (Double(t - lastTime) / 1e9)
            lastRequests = snapshot.requests
            lastTime = t
            progress(Progress(elapsedSeconds: Double(t - start) / 1e9, stats: snapshot, recentRate: max(0, recent)))
        }
        group.stop()
        group.join()

        var merged = BenchStats()
        for stats in control.results ?? [] { merged.merge(stats) }
        let finishedAt = System.monotonicNow().nanoseconds
        var duration: Double
        if let d = configuration.duration, !interrupted {
            duration = Double(d.nanoseconds) / 1e9
        } else {
            let last = merged.lastResponse > 0 ? merged.lastResponse : finishedAt
            duration = Double(max(last - measureStart, 1)) / 1e9
        }
        if let d = configuration.duration, interrupted { duration = min(duration, Double(d.nanoseconds) / 1e9) }
        return BenchResult(
            stats: merged, durationSeconds: duration, requestedRate: configuration.rate,
            connections: configuration.connections, reactors: reactors, pipeline: configuration.pipeline,
            url: configuration.url.description, interrupted: interrupted)
    }

    /// One blocking connection attempt (3 s at most), so that a refusing or unreachable target
    /// is one clear error before anything starts.
    static func probe(_ address: SocketAddress, sources: [SocketAddress]) throws {
        do {
            let fd = try System.socket(domain: address.family)
            defer { System.close(fd) }
            try System.setBlocking(fd, true)
            try System.setSendTimeout(fd, .seconds(3))
            if let source = sources.first { try System.bindSource(fd, address: source) }
            _ = try address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
        } catch {
            let reason = error.isInProgress ? "timed out after 3 s" : error.description
            throw Failure(description: "cannot connect to \(address): \(reason)")
        }
    }

    /// Every reactor's counters and histograms so far, merged (one job per reactor, waited for).
    static func collectProgress(_ group: ReactorGroup) -> BenchStats {
        let box = ProgressBox(expected: group.count)
        for handle in group.handles {
            let queued = handle.execute { reactor in
                box.add((reactor.delegate as? BenchEngine)?.stats)
            }
            if !queued { box.add(nil) }
        }
        return box.wait()
    }
}

/// Collects one answer per reactor for a progress snapshot; the main thread waits for them.
final class ProgressBox: Sendable {
    let expected: Int
    let answers = Mutex<(count: Int, stats: BenchStats)>((0, BenchStats()))

    init(expected: Int) { self.expected = expected }

    func add(_ stats: BenchStats?) {
        answers.withLock { state in
            if let stats { state.stats.merge(stats) }
            state.count += 1
        }
    }

    /// Waits (up to half a second) for every reactor's answer; returns what arrived.
    func wait() -> BenchStats {
        for _ in 0..<500 {
            if let done = answers.withLock({ $0.count == expected ? $0.stats : nil }) { return done }
            System.sleep(.milliseconds(1))
        }
        return answers.withLock { $0.stats }
    }
}
