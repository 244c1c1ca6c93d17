import Benchmark
@_spi(GustInternal) import Gust
import GustBench
import GustDemo
@_spi(GustInternal) import GustIO

// `gust bench`'s engine in steady state: a `BenchSession` (one reactor thread) drives `gust
// serve`'s demo app (one reactor thread) in this process. Each sample measures a 50 ms window of
// the running load; the malloc counter sums every thread, so "0 allocations" covers the load
// generator's writes, reads, response framing and histogram records (and the server's side).
// The `responses` metric is how many responses the window carried, so a zero is never the zero
// of an idle run. Progress snapshots (which allocate) are taken outside the window.

/// The server, started once for all benchmarks in this process.
let server: Server = {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.reactors = 1
    let server = Server(configuration: configuration, router: DemoApp.makeRouter())
    do { try server.start() } catch { fatalError("cannot start the benchmark server: \(error)") }
    return server
}()

nonisolated(unsafe) let noAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
    .mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])
]

let responses = BenchmarkMetric.custom("responses", polarity: .prefersLarger, useScalingFactor: false)

nonisolated(unsafe) let benchmarks: () -> Void = {
    let cases: [(name: String, connections: Int, pipeline: Int, rate: Int?)] = [
        ("Client.closedLoop16Connections", 16, 1, nil),
        ("Client.pipelined16", 16, 16, nil),
        ("Client.openLoop20kPerSecond", 16, 1, 20_000),
    ]
    for c in cases {
        nonisolated(unsafe) var session: BenchSession?
        Benchmark(
            c.name,
            configuration: .init(
                metrics: [.mallocCountTotal, responses],
                maxDuration: .seconds(3), maxIterations: 40, thresholds: noAllocations,
                setup: {
                    var configuration = BenchConfiguration(
                        url: try TargetURL("http://127.0.0.1:\(server.port!)/plaintext"),
                        request: try RequestTemplate(method: "GET", url: try TargetURL("http://127.0.0.1:\(server.port!)/plaintext"),
                                                     headers: [], body: nil, keepAlive: true))
                    configuration.connections = c.connections
                    configuration.pipeline = c.pipeline
                    configuration.rate = c.rate
                    configuration.duration = .seconds(3600)
                    let started = try BenchSession.start(configuration)
                    System.sleep(.milliseconds(200))  // connections open, buffers and histograms grown
                    session = started
                },
                teardown: {
                    session?.interrupt()
                    _ = session?.wait()
                    session = nil
                })
        ) { benchmark in
            let running = session!
            let before = running.progress().requests
            benchmark.startMeasurement()
            System.sleep(.milliseconds(50))
            benchmark.stopMeasurement()
            let after = running.progress().requests
            precondition(after > before, "no responses in the window: the load generator is not running")
            benchmark.measurement(responses, after - before)
        }
    }
}
