/// A task executor (SE-0417) bound to one reactor: tasks that prefer it run their
/// nonisolated code on the reactor's own thread, between the loop's events, so an async
/// handler serves its connection without a thread hop. Work the task awaits elsewhere (an
/// actor, the blocking pool) comes back here when it resumes.
///
/// Threading: `enqueue` may be called from any thread. From the reactor's thread it is an array
/// append (the job runs later in the same loop iteration, never nested in the caller); from
/// another thread it goes through the reactor's job queue and wakes the loop (one lock, one
/// `write(2)` when the queue was empty). Once the reactor has stopped, jobs go to the global
/// concurrent executor, so that a task still under way finishes (its answers find no
/// connection and are dropped).
@_spi(GustInternal) public final class ReactorExecutor: TaskExecutor, @unchecked Sendable {
    // The handle owns this executor and outlives it; set once, as the handle is made.
    unowned(unsafe) var handle: ReactorHandle! = nil
    /// Jobs enqueued on the reactor's own thread. Reactor thread only.
    @exclusivity(unchecked) var local: [UnownedJob] = []

    init() {
        local.reserveCapacity(64)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if handle.isCurrentThread {
            local.append(job)
        } else if !handle.enqueueTask(job) {
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        }
    }

    /// Whether jobs wait to run on the reactor's thread. Reactor thread only.
    var hasLocalJobs: Bool { !local.isEmpty }

    /// Runs the jobs enqueued on the reactor's thread, including those they enqueue, in order.
    /// Reactor thread only.
    func runLocalJobs() {
        while !local.isEmpty {
            let batch = local
            local.removeAll(keepingCapacity: true)
            for job in batch { run(job) }
        }
    }

    /// Runs one job here. Reactor thread only.
    @inline(__always) func run(_ job: UnownedJob) {
        job.runSynchronously(on: asUnownedTaskExecutor())
    }
}
