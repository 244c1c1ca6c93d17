@_spi(GustInternal) import GustCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Threads for blocking or CPU-heavy work, so that reactors never wait on it: `submit` a closure,
/// a worker runs it.
///
/// - **Queues**: jobs submitted from outside the pool (reactor threads) go to a shared FIFO
///   queue; each worker takes them in small batches (a fair share, at most 8) into its own
///   deque, which is kept in submission order. Jobs a worker submits (work
///   that splits itself) go to that worker's deque. A worker runs its newest local job first
///   (it is likely related to what just ran), unless its oldest has waited longer than
///   `agingThreshold` (then the oldest goes first: new work cannot starve old work).
/// - **Stealing**: a worker with nothing to do takes half of the oldest jobs of the busiest
///   other worker before it sleeps.
/// - **Elastic size**: between `minimumWorkers` and `maximumWorkers`. A worker is added when a
///   job has waited longer than `growthThreshold` and no worker is idle, so blocking jobs cannot
///   hold the queue for long. A monitor thread checks every `growthThreshold` while every worker
///   is busy and work waits (and sleeps otherwise); a worker idle for `idleTimeout` exits while
///   there are more than `minimumWorkers`.
///
/// Threading: `submit` and `stats` from any thread. Cost of `submit`: one clock read, one
/// uncontended lock and, when a worker sleeps, one wake-up. Nothing is allocated per job beyond
/// the closure's context.
@_spi(GustInternal) public final class WorkPool: Sendable {
    public struct Configuration: Sendable {
        public var minimumWorkers: Int
        public var maximumWorkers: Int
        /// A job waiting longer than this (and no idle worker) adds a worker. Default 5 ms.
        public var growthThreshold: Duration = .milliseconds(5)
        /// A worker idle this long exits (above the minimum). Default 10 s.
        public var idleTimeout: Duration = .seconds(10)
        /// A local job waiting longer than this runs before newer ones. Default 10 ms.
        public var agingThreshold: Duration = .milliseconds(10)
        public var name: String = "gust-pool"

        public init(minimumWorkers: Int = System.availableCPUs(), maximumWorkers: Int = 256) {
            precondition(minimumWorkers >= 1 && maximumWorkers >= minimumWorkers, "1 <= minimumWorkers <= maximumWorkers")
            self.minimumWorkers = minimumWorkers
            self.maximumWorkers = maximumWorkers
        }
    }

    public typealias Stats = WorkPoolStats

    /// One job: the closure and when it was submitted (monotonic nanoseconds).
    public struct Job: Sendable {
        let body: @Sendable () -> Void
        let submitted: Int64
    }

    struct Shared {
        var queue = JobRing(capacity: 1024)
        var workers: [Worker] = []
        /// Workers asleep, most recent last (woken first: its cache is the warmest).
        var idle: [Worker] = []
        var nextWorkerID = 0
        var added = 0
        var retired = 0
        var stopping = false
        /// Counters of retired workers.
        var retiredCompleted = 0
        var retiredWaitTotal: Int64 = 0
        var retiredWaitMaximum: Int64 = 0
    }

    public let configuration: Configuration
    let shared = Mutex(Shared())
    /// Jobs in the shared queue, readable without the lock (a hint for sleeping decisions).
    let sharedCount = Atomic<Int>(0)
    let idleCount = Atomic<Int>(0)
    let submittedCount = Atomic<Int>(0)
    let threads = Mutex<[OSThread]>([])
    let monitorParker = Parker()
    /// Whether the monitor sleeps long (every worker was idle): a submit that finds no idle
    /// worker wakes it. While it ticks, nobody needs to (a wake-up costs a system call).
    let monitorResting = Atomic<Bool>(false)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        for _ in 0..<configuration.minimumWorkers { addWorker() }
        let monitor = OSThread.spawn(name: "\(configuration.name)-m") { [self] in monitorLoop() }
        threads.withLock { $0.append(monitor) }
    }

    /// Adds workers while work waits past the growth threshold and none is idle: looks every
    /// `growthThreshold` while any worker is busy, sleeps while all are idle (a submit that
    /// finds no idle worker wakes it).
    func monitorLoop() {
        while true {
            let (stopping, busy) = shared.withLock { ($0.stopping, $0.idle.count < $0.workers.count) }
            if stopping { return }
            guard busy else {
                // Every worker idle: nothing can hold the queue up.
                monitorResting.store(true, ordering: .relaxed)
                monitorParker.park(timeout: .seconds(1))
                monitorResting.store(false, ordering: .relaxed)
                continue
            }
            let now = System.monotonicNow().nanoseconds
            if idleCount.load(ordering: .relaxed) == 0, let oldest = oldestSubmission(),
                now - oldest > configuration.growthThreshold.nanoseconds
            {
                addWorker()
            }
            monitorParker.park(timeout: configuration.growthThreshold)
        }
    }

    /// When the oldest waiting job was submitted.
    func oldestSubmission() -> Int64? {
        let (queued, workers) = shared.withLock { ($0.queue.first?.submitted, $0.workers) }
        var oldest = queued
        for worker in workers {
            if let local = worker.oldestLocal { oldest = min(oldest ?? local, local) }
        }
        return oldest
    }

    /// The pool of the process: made on first use, with the default configuration.
    public static let shared = WorkPool()

    /// Runs `body` on a worker, soon. From a worker, the job goes to that worker's own deque.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        let job = Job(body: body, submitted: System.monotonicNow().nanoseconds)
        submittedCount.add(1, ordering: .relaxed)
        if let worker = Worker.current, worker.pool === self {
            worker.pushLocal(job)
            // Under the lock (not from the relaxed count): an idle worker registers under it and
            // then looks for work to steal, so one of the two always sees the other.
            wakeOne()
            return
        }
        let (wake, grow, stopped) = shared.withLock { state -> (Worker?, Bool, Bool) in
            // After `shutdown` no worker will ever take it: it runs on a thread of its own
            // (queued, it never ran, and an `offload` on this pool waited forever).
            if state.stopping { return (nil, false, true) }
            state.queue.pushBack(job)
            sharedCount.store(state.queue.count, ordering: .relaxed)
            if let worker = state.idle.popLast() {
                idleCount.store(state.idle.count, ordering: .relaxed)
                return (worker, false, false)
            }
            return (nil, needsWorker(&state, now: job.submitted), false)
        }
        if stopped {
            OSThread.spawn(name: "\(configuration.name)-late") { body() }.detach()
            return
        }
        if let wake {
            wake.parker.unpark()
        } else if monitorResting.load(ordering: .relaxed), monitorResting.exchange(false, ordering: .relaxed) {
            monitorParker.unpark()  // every worker is busy: the monitor watches the wait
        }
        if grow { addWorker() }
    }

    /// Whether a job has waited past the growth threshold with no worker idle and room to
    /// grow. Under the lock.
    func needsWorker(_ state: inout Shared, now: Int64) -> Bool {
        guard state.idle.isEmpty, state.workers.count < configuration.maximumWorkers, !state.stopping else { return false }
        guard let oldest = state.queue.first else { return false }
        return now - oldest.submitted > configuration.growthThreshold.nanoseconds
    }

    func wakeOne() {
        let worker = shared.withLock { state -> Worker? in
            defer { idleCount.store(state.idle.count, ordering: .relaxed) }
            return state.idle.popLast()
        }
        worker?.parker.unpark()
    }

    func addWorker() {
        let worker = shared.withLock { state -> Worker? in
            guard state.workers.count < configuration.maximumWorkers, !state.stopping else { return nil }
            let worker = Worker(pool: self, id: state.nextWorkerID)
            state.nextWorkerID += 1
            state.workers.append(worker)
            state.added += 1
            return worker
        }
        guard let worker else { return }
        let thread = OSThread.spawn(name: "\(configuration.name)-\(worker.id)") { worker.run() }
        threads.withLock { $0.append(thread) }
    }

    /// Takes a fair share of the shared queue (at most `batchLimit`) for `worker`: returns the
    /// oldest, and moves the rest into the worker's deque. Locks: the shared lock, then the
    /// worker's (the only order in which both are held).
    func takeShare(for worker: Worker) -> Job? {
        guard sharedCount.load(ordering: .relaxed) > 0 else { return nil }
        return shared.withLock { state -> Job? in
            guard let first = state.queue.popFront() else { return nil }
            let share = min(Self.batchLimit, state.queue.count / max(1, state.workers.count))
            if share > 0 {
                worker.local.withLock { ring in
                    for _ in 0..<share { ring.pushBack(state.queue.popFront()!) }
                    worker.localCount.store(ring.count, ordering: .relaxed)
                }
            }
            sharedCount.store(state.queue.count, ordering: .relaxed)
            return first
        }
    }

    /// The most jobs a worker takes from the shared queue at once.
    static let batchLimit = 8

    /// The worker with the most local jobs, other than `thief`.
    func victim(for thief: Worker) -> Worker? {
        shared.withLock { state -> Worker? in
            var best: Worker?
            var most = 0
            for worker in state.workers where worker !== thief {
                let count = worker.localCount.load(ordering: .relaxed)
                if count > most {
                    most = count
                    best = worker
                }
            }
            return best
        }
    }

    /// `worker` goes to sleep unless work arrived; returns false when it should exit instead
    /// (the pool stops, or it was idle too long with more than the minimum).
    func sleep(_ worker: Worker) -> Bool {
        let registered = shared.withLock { state -> Bool in
            if state.stopping { return false }
            state.idle.append(worker)
            idleCount.store(state.idle.count, ordering: .relaxed)
            return true
        }
        guard registered else { return false }
        // Work that arrived while registering is not missed: submitters wake the idle, and
        // work queued meanwhile (shared, or in another worker's deque to steal) is looked at
        // once more now that this worker is visible as idle.
        if sharedCount.load(ordering: .relaxed) > 0 || victim(for: worker) != nil {
            if unregisterIdle(worker) { return true }
        }
        if worker.parker.park(timeout: configuration.idleTimeout) { return true }
        // Timed out: retire if above the minimum (and nobody is waking this worker right now).
        return shared.withLock { state -> Bool in
            guard let index = state.idle.firstIndex(where: { $0 === worker }) else { return true }  // being woken
            if state.workers.count <= configuration.minimumWorkers && !state.stopping { return true }
            if !state.stopping {
                // Retiring for good: nobody will join this thread, so it frees itself when it
                // ends (an exited thread that is never joined keeps its stack). Done under the
                // lock that `shutdown` sets `stopping` under, so a thread it will join is never
                // detached.
                let me = pthread_self()
                threads.withLock { $0.removeAll { pthread_equal($0.id, me) != 0 } }
                pthread_detach(me)
            }
            state.idle.remove(at: index)
            idleCount.store(state.idle.count, ordering: .relaxed)
            state.workers.removeAll { $0 === worker }
            state.retired += 1
            state.retiredCompleted += worker.completed.load(ordering: .relaxed)
            state.retiredWaitTotal += Int64(worker.waitTotal.load(ordering: .relaxed))
            state.retiredWaitMaximum = max(state.retiredWaitMaximum, Int64(worker.waitMaximum.load(ordering: .relaxed)))
            return false
        }
    }

    /// Takes `worker` off the idle list; false if a submitter already did (and woke it).
    func unregisterIdle(_ worker: Worker) -> Bool {
        shared.withLock { state -> Bool in
            guard let index = state.idle.firstIndex(where: { $0 === worker }) else { return false }
            state.idle.remove(at: index)
            idleCount.store(state.idle.count, ordering: .relaxed)
            return true
        }
    }

    /// A snapshot of the pool's counters.
    public func stats() -> Stats {
        let now = System.monotonicNow().nanoseconds
        return shared.withLock { state in
            var queued = state.queue.count
            var completed = state.retiredCompleted
            var waitTotal = state.retiredWaitTotal
            var waitMaximum = state.retiredWaitMaximum
            var oldest = state.queue.first?.submitted ?? now
            for worker in state.workers {
                queued += worker.localCount.load(ordering: .relaxed)
                oldest = min(oldest, worker.oldestLocal ?? now)
            }
            for worker in state.workers {
                completed += worker.completed.load(ordering: .relaxed)
                waitTotal += Int64(worker.waitTotal.load(ordering: .relaxed))
                waitMaximum = max(waitMaximum, Int64(worker.waitMaximum.load(ordering: .relaxed)))
            }
            return Stats(
                workers: state.workers.count, idleWorkers: state.idle.count, queued: queued,
                submitted: submittedCount.load(ordering: .relaxed), completed: completed,
                meanWait: .nanoseconds(completed > 0 ? waitTotal / Int64(completed) : 0), maximumWait: .nanoseconds(waitMaximum),
                oldestWait: .nanoseconds(now - oldest), workersAdded: state.added, workersRetired: state.retired)
        }
    }

    /// Lets every worker finish what is queued, then stops them and waits. For tests and
    /// orderly exits; `shared` is never stopped.
    public func shutdown() {
        let sleeping = shared.withLock { state -> [Worker] in
            state.stopping = true
            let idle = state.idle
            state.idle.removeAll()
            return idle
        }
        for worker in sleeping { worker.parker.unpark() }
        monitorParker.unpark()
        let all = threads.withLock { t -> [OSThread] in
            defer { t.removeAll() }
            return t
        }
        // Workers still busy see `stopping` when they next look for work.
        for worker in shared.withLock({ $0.workers }) { worker.parker.unpark() }
        for thread in all { thread.join() }
    }
}

/// What a blocking-work pool is doing (`offloadStats()` for the process's pool): its workers,
/// its queue, how long jobs waited.
public struct WorkPoolStats: Sendable, CustomStringConvertible {
    public var workers: Int
    public var idleWorkers: Int
    /// Jobs waiting (shared queue and workers' deques).
    public var queued: Int
    public var submitted: Int
    public var completed: Int
    /// Mean and longest time a job waited before it ran, over every job so far.
    public var meanWait: Duration
    public var maximumWait: Duration
    /// How long the oldest waiting job has waited.
    public var oldestWait: Duration
    public var workersAdded: Int
    public var workersRetired: Int

    public var description: String {
        "workers=\(workers) idle=\(idleWorkers) queued=\(queued) submitted=\(submitted) completed=\(completed) "
            + "meanWait=\(meanWait) maxWait=\(maximumWait) added=\(workersAdded) retired=\(workersRetired)"
    }
}
