@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Histogram
import Synchronization

/// Where a run's reactors leave their results.
final class WebSocketRunControl: Sendable {
    let expected: Int
    let finished = Mutex<[Int: WebSocketBenchStats]>([:])

    init(expected: Int) { self.expected = expected }

    func reactorFinished(_ id: Int, _ stats: WebSocketBenchStats) { finished.withLock { $0[id] = stats } }

    var results: [WebSocketBenchStats]? {
        finished.withLock { done in done.count == expected ? done.keys.sorted().map { done[$0]! } : nil }
    }
}

/// The outcome of a `gust bench ws` run (one process's, or several merged).
public struct WebSocketBenchResult: Sendable {
    public var stats: WebSocketBenchStats
    public let mode: WebSocketBenchConfiguration.Mode
    public let url: String
    public let connections: Int
    public let durationSeconds: Double
    public let processes: Int
    public var interrupted: Bool

    public init(
        stats: WebSocketBenchStats, mode: WebSocketBenchConfiguration.Mode, url: String, connections: Int, durationSeconds: Double,
        processes: Int, interrupted: Bool
    ) {
        self.stats = stats
        self.mode = mode
        self.url = url
        self.connections = connections
        self.durationSeconds = durationSeconds
        self.processes = processes
        self.interrupted = interrupted
    }

    /// Connections opened per second, from the first `101` to the last.
    public var connectRate: Double {
        let span = Double(stats.lastOpen - stats.firstOpen) / 1e9
        return span > 0 ? Double(stats.opened) / span : Double(stats.opened)
    }

    /// Messages received per second over the run.
    public var messagesPerSecond: Double { durationSeconds > 0 ? Double(stats.messagesReceived) / durationSeconds : 0 }
}

/// Runs `gust bench ws` in this process: one reactor thread per `reactors`, each with its
/// share of the connections, until the duration ends or SIGINT/SIGTERM cuts it short.
///
/// Threading: `run` blocks the calling thread (the main thread, which takes the signals).
public enum WebSocketBenchRun {
    public static func run(
        _ configuration: WebSocketBenchConfiguration, progress: ((WebSocketBenchStats, Double) -> Void)? = nil
    ) throws(BenchRun.Failure) -> WebSocketBenchResult {
        try configuration.validate()
        let needed = configuration.connections + BenchSession.descriptorsBesideConnections(reactors: configuration.reactors)
        let limit = System.fileDescriptorLimit()
        guard needed <= limit else {
            throw BenchRun.Failure(description: "-c \(configuration.connections) needs about \(needed) file descriptors and this process may open \(limit): use --processes")
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(host: configuration.host, port: configuration.port)
        } catch {
            throw BenchRun.Failure(description: "cannot resolve \(configuration.host): \(error)")
        }
        try BenchSession.probe(address, sources: configuration.sources)
        Signals.blockTermination()
        let group: ReactorGroup
        do {
            group = try ReactorGroup(count: configuration.reactors)
        } catch {
            throw BenchRun.Failure(description: "cannot start reactors: \(error)")
        }
        let control = WebSocketRunControl(expected: configuration.reactors)
        let start = configuration.startAt ?? System.monotonicNow().nanoseconds + 20_000_000
        let reactors = configuration.reactors
        let first = configuration.firstConnection
        group.start(name: "gust-bench-ws") { reactor in
            let share = Array(stride(from: reactor.id, to: configuration.connections, by: reactors)).map { first + $0 }
            let engine = WebSocketBenchEngine(
                reactor: reactor, configuration: configuration, share: share, address: address, startTime: start, control: control)
            reactor.runSoon { engine.begin() }
            return engine
        }
        var interrupted = false
        var lastProgress = System.monotonicNow().nanoseconds
        while control.results == nil {
            if Signals.waitForTermination(timeout: .milliseconds(10)) != nil {
                interrupted = true
                for handle in group.handles {
                    handle.execute { reactor in (reactor.delegate as? WebSocketBenchEngine)?.end() }
                }
                while control.results == nil { System.sleep(.milliseconds(5)) }
                break
            }
            let t = System.monotonicNow().nanoseconds
            if let progress, t - lastProgress >= 1_000_000_000 {
                lastProgress = t
                progress(snapshot(group), Double(t - start) / 1e9)
            }
        }
        group.stop()
        group.join()
        var merged = WebSocketBenchStats()
        for s in control.results ?? [] { merged.merge(s) }
        let elapsed = Double(System.monotonicNow().nanoseconds - start) / 1e9
        let duration = interrupted ? elapsed : Double(configuration.duration.nanoseconds) / 1e9
        return WebSocketBenchResult(
            stats: merged, mode: configuration.mode, url: configuration.url, connections: configuration.connections,
            durationSeconds: duration, processes: 1, interrupted: interrupted)
    }

    /// Every reactor's counters so far (histograms left out: a progress line needs counts).
    static func snapshot(_ group: ReactorGroup) -> WebSocketBenchStats {
        let box = Mutex<(Int, WebSocketBenchStats)>((0, WebSocketBenchStats()))
        for handle in group.handles {
            let queued = handle.execute { reactor in
                let s = (reactor.delegate as? WebSocketBenchEngine)?.stats
                box.withLock { state in
                    state.0 += 1
                    if let s {
                        state.1.opened += s.opened
                        state.1.attempted += s.attempted
                        state.1.messagesReceived += s.messagesReceived
                        state.1.pongsReceived += s.pongsReceived
                        for i in s.errors.indices { state.1.errors[i] += s.errors[i] }
                    }
                }
            }
            if !queued { box.withLock { $0.0 += 1 } }
        }
        for _ in 0..<500 where box.withLock({ $0.0 }) < group.count { System.sleep(.milliseconds(1)) }
        return box.withLock { $0.1 }
    }
}
