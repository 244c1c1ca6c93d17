import Synchronization

/// Work sent to a reactor from another thread; runs on the reactor's thread.
@_spi(GustInternal) public typealias ReactorJob = @Sendable (Reactor) -> Void

/// The face a reactor shows to other threads: its descriptors and a job queue. The only
/// thread-safe part of a reactor; everything else is confined to the reactor's thread.
///
/// Cost of `execute`: one uncontended lock, an array append, and one `write(2)` to the eventfd
/// when the queue was empty (a reactor already woken is not woken twice).
@_spi(GustInternal) public final class ReactorHandle: Sendable {
    public let id: Int
    /// The reactor's epoll descriptor (made here so creation errors surface on the caller's thread).
    public let epollFD: Int32
    /// Written to wake the reactor; registered in its epoll set.
    public let wakeFD: Int32
    let jobs = Mutex<(queue: [ReactorJob], tasks: [UnownedJob], open: Bool)>(([], [], true))
    /// The task executor that runs tasks on this reactor's thread (`ReactorExecutor`).
    public let executor = ReactorExecutor()
    /// What the loop is doing, for a watchdog on another thread (`ReactorWatch`).
    public let watch = ReactorWatch()
    /// The running loop's thread (`pthread_self`), or 0 when no loop runs.
    let thread = Atomic<UInt>(0)

    public init(id: Int) throws(SystemError) {
        self.id = id
        epollFD = try System.epollCreate()
        do {
            wakeFD = try System.eventfd()
        } catch {
            System.close(epollFD)
            throw error
        }
        executor.handle = self
    }

    deinit {
        System.close(wakeFD)
        System.close(epollFD)
    }

    /// Whether the calling thread is the one running this reactor's loop. Cost: one atomic load
    /// and `pthread_self`.
    public var isCurrentThread: Bool {
        thread.load(ordering: .relaxed) == OSThread.currentID
    }

    /// Runs `job` on the reactor's thread, soon. Callable from any thread. Returns false (and
    /// drops the job) when the reactor has stopped; jobs queued before it stopped still run.
    @discardableResult
    public func execute(_ job: @escaping ReactorJob) -> Bool {
        push { $0.queue.append(job) }
    }

    /// Queues a job of a task that prefers this reactor's executor, from another thread; false
    /// when the reactor has stopped (the job is not taken).
    func enqueueTask(_ job: UnownedJob) -> Bool {
        push { $0.tasks.append(job) }
    }

    /// Adds to the queue under its lock, and wakes the loop if the queue was empty.
    private func push(_ add: (inout (queue: [ReactorJob], tasks: [UnownedJob], open: Bool)) -> Void) -> Bool {
        let (accepted, wasEmpty) = jobs.withLock { state -> (Bool, Bool) in
            guard state.open else { return (false, false) }
            add(&state)
            return (true, state.queue.count + state.tasks.count == 1)
        }
        if wasEmpty { System.eventfdSignal(wakeFD) }
        return accepted
    }

    /// Takes every queued job: closures, and jobs of tasks. Reactor thread only.
    func takeJobs() -> (jobs: [ReactorJob], tasks: [UnownedJob]) {
        System.eventfdDrain(wakeFD)
        return jobs.withLock { state in
            let taken = (state.queue, state.tasks)
            state.queue.removeAll(keepingCapacity: true)
            state.tasks.removeAll(keepingCapacity: true)
            return taken
        }
    }

    /// Refuses further jobs and takes the ones still queued. Reactor thread only, once, as the
    /// loop ends.
    func close() -> (jobs: [ReactorJob], tasks: [UnownedJob]) {
        jobs.withLock { state in
            state.open = false
            let taken = (state.queue, state.tasks)
            state.queue.removeAll()
            state.tasks.removeAll()
            return taken
        }
    }
}

/// What a reactor's loop is doing, published for a watchdog thread: when the current iteration
/// started (0 while the loop waits in `epoll_wait`), and a tag the protocol layer sets before
/// running application code (the HTTP engine: the route). An iteration that runs long means
/// something blocked the reactor; the tag says what ran last.
///
/// Cost: relaxed atomic stores (plain moves on x86): two per loop iteration, one per tag.
@_spi(GustInternal) public final class ReactorWatch: Sendable {
    /// Monotonic nanoseconds at the start of the running iteration, or 0 while waiting.
    public let iterationStart = Atomic<Int64>(0)
    /// Set by the protocol layer (e.g. the route about to run); meaning is theirs.
    public let tag = Atomic<Int>(0)
    /// The iteration start last reported as blocked (so one stall is reported once).
    public let reported = Atomic<Int64>(0)

    /// The tag of tasks' jobs (continuations of async code) run by the reactor's executor.
    public static let taskTag = -2

    public init() {}
}

