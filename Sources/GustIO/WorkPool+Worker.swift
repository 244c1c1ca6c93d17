@_spi(GustInternal) import GustCore
import CGustSystem
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension WorkPool {
    /// One worker thread: its deque, its sleep, its counters.
    ///
    /// Threading: `run` on the worker's own thread; the deque under its own lock (thieves take
    /// from it); the counters are atomics written by the worker only.
    final class Worker: Sendable {
        let pool: WorkPool  // strong: a running worker keeps its pool alive
        let id: Int
        let parker = Parker()
        let local = Mutex(JobRing())
        let localCount = Atomic<Int>(0)
        let completed = Atomic<Int>(0)
        let waitTotal = Atomic<Int>(0)
        let waitMaximum = Atomic<Int>(0)

        /// The worker running on this thread, if any (a thread-local pointer).
        static var current: Worker? {
            cgust_thread_context().map { Unmanaged<Worker>.fromOpaque($0).takeUnretainedValue() }
        }

        init(pool: WorkPool, id: Int) {
            self.pool = pool
            self.id = id
        }

        /// Submission time of the oldest local job.
        var oldestLocal: Int64? { local.withLock { $0.first?.submitted } }

        func pushLocal(_ job: Job) {
            local.withLock { ring in
                ring.pushBack(job)
                localCount.store(ring.count, ordering: .relaxed)
            }
        }

        /// The next local job: the newest, or the oldest once it has aged.
        func popLocal(now: Int64) -> Job? {
            guard localCount.load(ordering: .relaxed) > 0 else { return nil }
            let aging = pool.configuration.agingThreshold.nanoseconds
            return local.withLock { ring in
                defer { localCount.store(ring.count, ordering: .relaxed) }
                if let oldest = ring.first, now - oldest.submitted > aging { return ring.popFront() }
                return ring.popBack()
            }
        }

        /// Moves the older half of `victim`'s jobs (at most `batchLimit`) into this deque and
        /// returns the oldest. The two deques are never locked together (two thieves robbing
        /// each other cannot deadlock): the jobs pass through a small buffer on the stack.
        func steal(from victim: Worker) -> Job? {
            withUnsafeTemporaryAllocation(of: Job.self, capacity: WorkPool.batchLimit) { buffer -> Job? in
                let taken = victim.local.withLock { ring -> Int in
                    defer { victim.localCount.store(ring.count, ordering: .relaxed) }
                    let n = min(WorkPool.batchLimit, (ring.count + 1) / 2)
                    for i in 0..<n { (buffer.baseAddress! + i).initialize(to: ring.popFront()!) }
                    return n
                }
                guard taken > 0 else { return nil }
                let first = buffer.baseAddress!.move()
                if taken > 1 {
                    local.withLock { ring in
                        for i in 1..<taken { ring.pushBack((buffer.baseAddress! + i).move()) }
                        localCount.store(ring.count, ordering: .relaxed)
                    }
                }
                return first
            }
        }

        /// The worker's loop: local jobs, then the shared queue (checked first every 61st job, so
        /// a worker fed by its own jobs does not starve submissions), then stealing, then sleep.
        func run() {
            cgust_set_thread_context(Unmanaged.passUnretained(self).toOpaque())
            defer { cgust_set_thread_context(nil) }
            do {
                var ticks = 0
                while true {
                    ticks &+= 1
                    let now = System.monotonicNow().nanoseconds
                    var job: Job?
                    if ticks % 61 == 0 { job = takeBatch() }
                    if job == nil { job = popLocal(now: now) }
                    if job == nil { job = takeBatch() }
                    if job == nil { job = stealBatch() }
                    if job == nil { job = spinForWork() }
                    guard let job else {
                        if pool.sleep(self) { continue }
                        return
                    }
                    let waited = now - job.submitted
                    job.body()
                    // Written by this worker only: loads and stores, no read-modify-write.
                    completed.store(completed.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
                    waitTotal.store(waitTotal.load(ordering: .relaxed) &+ Int(max(0, waited)), ordering: .relaxed)
                    if waited > waitMaximum.load(ordering: .relaxed) { waitMaximum.store(Int(waited), ordering: .relaxed) }
                }
            }
        }

        /// A share of the shared queue: the first to run, the rest kept.
        func takeBatch() -> Job? { pool.takeShare(for: self) }

        /// Jobs stolen from the busiest other worker.
        func stealBatch() -> Job? {
            guard let victim = pool.victim(for: self) else { return nil }
            return steal(from: victim)
        }

        /// Looks again a few times before sleeping (a wake-up costs microseconds; a job often
        /// follows the last one closely).
        func spinForWork() -> Job? {
            let until = System.monotonicNow().nanoseconds &+ Self.spin
            repeat {
                for _ in 0..<64 where pool.sharedCount.load(ordering: .relaxed) > 0 {
                    if let job = takeBatch() { return job }
                }
                if let job = stealBatch() { return job }  // jobs other workers queued for themselves
                sched_yield()
            } while System.monotonicNow().nanoseconds < until
            return nil
        }

        /// How long a worker out of work keeps looking before it sleeps: a wake-up (a futex
        /// call, a context switch) costs more than a job that arrives meanwhile.
        static let spin: Int64 = 50_000
    }
}
