@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

/// Runs a benchmark from the command line: starts a `BenchSession`, waits (reporting progress
/// once a second) until the run ends or SIGINT/SIGTERM cuts it short, and returns the merged
/// result.
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

    /// Runs `configuration` to the end. `progress`, when given, gets a snapshot once a second.
    public static func run(_ configuration: BenchConfiguration, progress: ((Progress) -> Void)? = nil) throws(Failure) -> BenchResult {
        Signals.blockTermination()
        let session = try BenchSession.start(configuration)
        var lastRequests = 0
        var lastTime = System.monotonicNow().nanoseconds
        while !session.isFinished {
            // Short waits, so the end of the run is noticed within 10 ms.
            if let signal = Signals.waitForTermination(timeout: .milliseconds(10)) {
                session.interrupt(signal: signal)
                break
            }
            let t = System.monotonicNow().nanoseconds
            guard let progress, t - lastTime >= 1_000_000_000, !session.isFinished else { continue }
            let snapshot = session.progress()
            let recent = Double(snapshot.requests - lastRequests) / (Double(t - lastTime) / 1e9)
            lastRequests = snapshot.requests
            lastTime = t
            progress(Progress(elapsedSeconds: Double(t - session.startTime) / 1e9, stats: snapshot, recentRate: max(0, recent)))
        }
        return session.wait()
    }
}
