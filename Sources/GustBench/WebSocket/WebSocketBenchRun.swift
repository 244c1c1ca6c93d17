@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Histogram

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
        let control = RunControl<WebSocketBenchStats>(expected: configuration.reactors)
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

    /// Every reactor's statistics so far, merged.
    static func snapshot(_ group: ReactorGroup) -> WebSocketBenchStats {
        ProgressBox<WebSocketBenchStats>.collect(group) { ($0.delegate as? WebSocketBenchEngine)?.stats }
    }
}
