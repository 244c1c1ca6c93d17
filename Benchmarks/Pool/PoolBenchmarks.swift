import Benchmark
@_spi(GustInternal) import GustIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// The blocking-work pool (GustIO WorkPool): how many jobs it runs per second when the jobs
// themselves cost nothing (the pool's own overhead: submit, queue, hand-off, run), submitted
// from one thread as a reactor would. Throughput is in jobs per second (kilo-scaled
// iterations); the malloc counter covers submitters and workers.

/// A pool with one worker per core, made once.
let pool: WorkPool = {
    var configuration = WorkPool.Configuration(minimumWorkers: System.availableCPUs(), maximumWorkers: System.availableCPUs())
    configuration.name = "bench-pool"
    return WorkPool(configuration: configuration)
}()

/// Waits until the pool has completed `count` jobs in all.
func waitForCompleted(_ count: Int) {
    while pool.stats().completed < count { sched_yield() }
}

nonisolated(unsafe) let benchmarks: () -> Void = {
    Benchmark(
        "Pool.emptyJobs",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3),
            thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])
    ) { benchmark in
        let start = pool.stats().submitted
        for _ in benchmark.scaledIterations {
            pool.submit {}
        }
        waitForCompleted(start + benchmark.scaledIterations.count)
    }

    Benchmark(
        "Pool.offloadRoundTrip",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3))
    ) { benchmark in
        // One job at a time, its result handed back to the submitting thread: the latency of a
        // hand-off and a wake-up each way, as `offload` pays it.
        let done = Atomic<Int>(0)
        for i in benchmark.scaledIterations {
            pool.submit { done.store(i + 1, ordering: .releasing) }
            while done.load(ordering: .acquiring) != i + 1 {}
        }
    }
}
