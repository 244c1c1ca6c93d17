import Histogram

/// The outcome of a run: merged statistics plus what the run was asked to do.
public struct BenchResult: Sendable {
    public let stats: BenchStats
    /// The measured window in seconds (from the end of the warm-up to the last response, or the
    /// configured duration).
    public let durationSeconds: Double
    /// Open loop: the requested rate.
    public let requestedRate: Int?
    public let connections: Int
    public let reactors: Int
    public let pipeline: Int
    public let url: String
    /// The run was cut short (SIGINT/SIGTERM, or `BenchSession.interrupt()`).
    public let interrupted: Bool
    /// The signal that cut it short; 0 when none did.
    public let interruptSignal: Int32

    public init(
        stats: BenchStats, durationSeconds: Double, requestedRate: Int?, connections: Int, reactors: Int, pipeline: Int,
        url: String, interrupted: Bool, interruptSignal: Int32 = 0
    ) {
        self.stats = stats
        self.durationSeconds = durationSeconds
        self.requestedRate = requestedRate
        self.connections = connections
        self.reactors = reactors
        self.pipeline = pipeline
        self.url = url
        self.interrupted = interrupted
        self.interruptSignal = interruptSignal
    }

    public var requests: Int { stats.requests }
    public var rps: Double { durationSeconds > 0 ? Double(stats.requests) / durationSeconds : 0 }
    public var isOpenLoop: Bool { requestedRate != nil }

    /// Latency summary in microseconds.
    public struct Latency: Sendable {
        public let p50, p75, p90, p99, p99_9, p99_99, max, mean, stdev: Double
        init(_ h: Histogram<UInt64>) {
            func us(_ ns: UInt64) -> Double { Double(ns) / 1000 }
            let empty = h.totalCount == 0
            p50 = empty ? 0 : us(h.valueAtPercentile(50))
            p75 = empty ? 0 : us(h.valueAtPercentile(75))
            p90 = empty ? 0 : us(h.valueAtPercentile(90))
            p99 = empty ? 0 : us(h.valueAtPercentile(99))
            p99_9 = empty ? 0 : us(h.valueAtPercentile(99.9))
            p99_99 = empty ? 0 : us(h.valueAtPercentile(99.99))
            max = empty ? 0 : us(h.max)
            mean = empty ? 0 : h.mean / 1000
            stdev = empty ? 0 : h.stdDeviation / 1000
        }
    }

    public var latency: Latency { Latency(stats.corrected) }
    public var uncorrectedLatency: Latency { Latency(stats.uncorrected) }
}
