@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Foundation

/// A `gust bench ws` run too big for one process's descriptors: split over several processes
/// of the same program (each a slice of the connections, all starting at the same monotonic
/// instant, one of them publishing), whose results, written to files as JSON, are merged.
///
/// Threading: blocks the calling thread until every process has ended.
public enum WebSocketBenchProcesses {
    /// One process's part, for the command line to turn into arguments.
    public struct Part: Sendable {
        public let index: Int
        public let firstConnection: Int
        public let connections: Int
        public let publishes: Bool
        public let startAt: Int64
        public let resultFile: String
    }

    /// How many processes `connections` need with this process's descriptor limit.
    public static func needed(connections: Int, reactors: Int) -> Int {
        let room = max(1000, System.fileDescriptorLimit() - BenchSession.descriptorsBesideConnections(reactors: reactors) - 100)
        return (connections + room - 1) / room
    }

    public static func run(
        _ configuration: WebSocketBenchConfiguration, processes: Int, executable: String, arguments: (Part) -> [String]
    ) throws(BenchRun.Failure) -> WebSocketBenchResult {
        try configuration.validate()
        // The children connect after a common instant, so that their schedules line up.
        let startAt = System.monotonicNow().nanoseconds + 1_000_000_000
        var pids: [Int32] = []
        var files: [String] = []
        let base = configuration.connections / processes
        var first = 0
        Signals.blockTermination()
        for k in 0..<processes {
            let count = base + (k < configuration.connections % processes ? 1 : 0)
            let file = "/tmp/gust-bench-ws-\(getpid())-\(k).json"
            let part = Part(index: k, firstConnection: first, connections: count, publishes: k == 0, startAt: startAt, resultFile: file)
            first += count
            do {
                let pid = try Processes.spawn(path: executable, arguments: arguments(part), environment: Processes.currentEnvironment(), control: nil)
                pids.append(pid)
                files.append(file)
            } catch {
                for pid in pids { _ = Processes.kill(pid, SIGTERM) }
                throw BenchRun.Failure(description: "cannot start process \(k): \(error)")
            }
        }
        var interrupted = false
        var running = Set(pids)
        while !running.isEmpty {
            if Signals.waitForTermination(timeout: .milliseconds(20)) != nil {
                interrupted = true
                for pid in running { _ = Processes.kill(pid, SIGINT) }  // each reports what it measured
            }
            while let exit = Processes.reap() { running.remove(exit.pid) }
        }
        var merged = WebSocketBenchStats()
        var missing = 0
        for file in files {
            defer { unlink(file) }
            guard let bytes = System.readFile(file), let stats = try? JSONDecoder().decode(WebSocketBenchStats.self, from: Data(bytes)) else {
                missing += 1
                continue
            }
            merged.merge(stats)
        }
        if missing == processes { throw BenchRun.Failure(description: "no process reported a result") }
        return WebSocketBenchResult(
            stats: merged, mode: configuration.mode, url: configuration.url, connections: configuration.connections,
            durationSeconds: Double(configuration.duration.nanoseconds) / 1e9, processes: processes, interrupted: interrupted || missing > 0)
    }

    /// A worker's result, for its parent.
    public static func write(_ stats: WebSocketBenchStats, to file: String) throws {
        let data = try JSONEncoder().encode(stats)
        try System.writeFile(file, [UInt8](data))
    }
}
