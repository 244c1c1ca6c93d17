@_spi(GustInternal) import GustCore
@_spi(GustInternal) @testable import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Waits (polling) until `condition` holds or `seconds` pass; returns whether it held.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let end = System.monotonicNow().nanoseconds + Int64(seconds * 1e9)
    while System.monotonicNow().nanoseconds < end {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}

final class Tally: Sendable {
    let count = Atomic<Int>(0)
    let threads = Mutex<Set<UInt>>([])
    let order = Mutex<[String]>([])
    func hit(_ label: String? = nil) {
        threads.withLock { _ = $0.insert(OSThread.currentID) }
        if let label { order.withLock { $0.append(label) } }
        count.add(1, ordering: .relaxed)
    }
    var value: Int { count.load(ordering: .relaxed) }
}

@Suite("Blocking-work pool")
struct WorkPoolTests {
    func pool(min: Int, max: Int, configure: (inout WorkPool.Configuration) -> Void = { _ in }) -> WorkPool {
        var configuration = WorkPool.Configuration(minimumWorkers: min, maximumWorkers: max)
        configuration.name = "test-pool"
        configure(&configuration)
        return WorkPool(configuration: configuration)
    }

    @Test("every job runs once, submitted from several threads and from jobs themselves")
    func runsEverything() {
        let pool = pool(min: 2, max: 4)
        defer { pool.shutdown() }
        let tally = Tally()
        let submitters = (0..<4).map { _ in
            OSThread.spawn(name: "submitter") {
                for _ in 0..<5_000 {
                    pool.submit {
                        tally.hit()
                        pool.submit { tally.hit() }  // from a worker: its own deque
                    }
                }
            }
        }
        for thread in submitters { thread.join() }
        #expect(eventually { tally.value == 40_000 })
        #expect(eventually { pool.stats().completed == 40_000 })
        let stats = pool.stats()
        #expect(stats.submitted == 40_000)
        #expect(stats.queued == 0)
    }

    @Test("blocking jobs that make work wait add workers, up to the maximum")
    func grows() {
        let pool = pool(min: 1, max: 6) { $0.growthThreshold = .milliseconds(2) }
        defer { pool.shutdown() }
        let tally = Tally()
        for _ in 0..<24 {
            pool.submit {
                usleep(30_000)
                tally.hit()
            }
        }
        #expect(eventually { tally.value == 24 })
        let stats = pool.stats()
        #expect(stats.workersAdded > 1)
        #expect(stats.workers <= 6)
        #expect(tally.threads.withLock { $0.count } > 1)
    }

    @Test("workers idle past the timeout retire, down to the minimum")
    func shrinks() {
        let pool = pool(min: 1, max: 6) {
            $0.growthThreshold = .milliseconds(1)
            $0.idleTimeout = .milliseconds(100)
        }
        defer { pool.shutdown() }
        let tally = Tally()
        for _ in 0..<12 {
            pool.submit {
                usleep(20_000)
                tally.hit()
            }
        }
        #expect(eventually { tally.value == 12 })
        #expect(pool.stats().workersAdded > 1)
        #expect(eventually { pool.stats().workers == 1 })
        #expect(pool.stats().workersRetired >= 1)
        // Retired workers' threads are detached and forgotten (one never joined keeps its
        // stack): what is left to join is the one worker and the monitor.
        #expect(eventually { pool.threads.withLock { $0.count } == 2 })
    }

    @Test("an old local job runs before newer ones once it has aged (new work cannot starve it)")
    func aging() {
        let pool = pool(min: 1, max: 1) { $0.agingThreshold = .milliseconds(5) }
        defer { pool.shutdown() }
        let tally = Tally()
        let chainEnded = Atomic<Int64>(0)
        let oldRan = Atomic<Int64>(0)
        // One job that queues an "old" job, then a chain of new jobs, each queueing the next:
        // newest-first alone would run the old job only after the whole chain.
        @Sendable func link(_ k: Int) {
            usleep(1_000)
            if k < 150 {
                pool.submit { link(k + 1) }
            } else {
                chainEnded.store(System.monotonicNow().nanoseconds, ordering: .relaxed)
                tally.hit()
            }
        }
        pool.submit {
            pool.submit {
                oldRan.store(System.monotonicNow().nanoseconds, ordering: .relaxed)
                tally.hit()
            }
            pool.submit { link(0) }
        }
        #expect(eventually { tally.value == 2 })
        let old = oldRan.load(ordering: .relaxed), end = chainEnded.load(ordering: .relaxed)
        #expect(old < end - 50_000_000, "old job ran \(Double(end - old) / 1e6) ms before the chain's end")
    }

    @Test("an idle worker steals from a busy one's deque")
    func steals() {
        let pool = pool(min: 2, max: 2)
        defer { pool.shutdown() }
        let tally = Tally()
        pool.submit {
            // Ten blocking jobs on this worker's own deque; this worker then blocks too. (Half a
            // second of work: the idle worker has time to wake even on a loaded machine.)
            for _ in 0..<10 {
                pool.submit {
                    usleep(50_000)
                    tally.hit()
                }
            }
            usleep(50_000)
        }
        #expect(eventually { tally.value == 10 })
        #expect(tally.threads.withLock { $0.count } == 2)
    }

    @Test("the stats report waits and the queue")
    func stats() {
        let pool = pool(min: 1, max: 1)
        defer { pool.shutdown() }
        let gate = Atomic<Bool>(false)
        pool.submit { while !gate.load(ordering: .relaxed) { usleep(1_000) } }
        for _ in 0..<5 { pool.submit {} }
        usleep(30_000)
        let waiting = pool.stats()
        #expect(waiting.queued == 5)
        #expect(waiting.oldestWait >= .milliseconds(20))
        gate.store(true, ordering: .relaxed)
        #expect(eventually { pool.stats().completed == 6 })
        let done = pool.stats()
        #expect(done.maximumWait >= .milliseconds(20))
        #expect(done.meanWait > .zero)
        #expect(done.queued == 0)
    }
}
