import CGustSystem
@_spi(GustInternal) import GustCore

/// What a reactor calls back into: the protocol layer above GustIO (the HTTP server, the load
/// generator). All calls arrive on the reactor's thread.
@_spi(GustInternal) public protocol ReactorDelegate: AnyObject {
    /// A registered descriptor is ready. `token` is what it was registered with.
    func reactor(_ reactor: Reactor, ready token: UInt64, events: Events)
    /// A timer scheduled with `scheduleTimer(at:payload:)` expired.
    func reactor(_ reactor: Reactor, timerFired payload: UInt64)
    /// The reactor is stopping: close every descriptor and release every buffer.
    func reactorWillStop(_ reactor: Reactor)
}

/// What a reactor's clock read at the start of its current loop iteration.
@_spi(GustInternal) public struct ReactorClock: Sendable {
    public var now: Instant
    public var wallClockSeconds: Int64
}

/// One event loop on one thread: an epoll set, an eventfd for wake-ups, a job queue, and a hashed
/// timer wheel. Shared-nothing: a reactor's state is touched only by its own thread; other
/// threads reach it through its `ReactorHandle`.
///
/// Each loop iteration: one `epoll_wait` (timeout from the timer wheel), one monotonic-clock read,
/// the ready events in order, then the expired timers. Level-triggered, so a delegate may leave
/// unread data for the next iteration.
@_spi(GustInternal) public final class Reactor {
    public let handle: ReactorHandle
    public var id: Int { handle.id }
    /// The task executor bound to this reactor (tasks that prefer it run on this thread).
    public var executor: ReactorExecutor { handle.executor }
    /// What the loop waits on (`ReactorBackend`): epoll today. A concrete type, so that the
    /// calls on the hot path are direct.
    @usableFromInline let backend: EpollBackend
    var timers: TimerWheel
    var callbacks: [UInt64: () -> Void] = [:]
    var nextCallbackKey: UInt64 = 0
    var soon: [() -> Void] = []
    /// Keys of closures scheduled with no delay: run at the end of this loop iteration, not at
    /// the wheel's next tick.
    var immediate: [UInt64] = []
    var running = false

    /// The delegate the loop is running with (nil before `run`).
    public private(set) var delegate: (any ReactorDelegate)?

    /// The loop's clock readings, in memory of their own: protocol code reads them on every
    /// request through `unsafeClock` (a plain load, where a class property read from another module
    /// costs a dynamic exclusivity check). Written only by the loop, on the reactor's thread.
    public let unsafeClock: UnsafeMutablePointer<ReactorClock>

    /// The monotonic time at the start of this loop iteration.
    @inlinable public var now: Instant { unsafeClock.pointee.now }
    /// Wall-clock seconds since the epoch at the start of this loop iteration.
    @inlinable public var wallClockSeconds: Int64 { unsafeClock.pointee.wallClockSeconds }
    /// Number of loop iterations so far.
    public private(set) var iterations: UInt64 = 0

    static let wakeToken = UInt64.max
    /// Timer payloads with this bit set are the reactor's own closure timers.
    static let callbackBit: UInt64 = 1 << 63
    /// `TimerID`s with this bit set name a closure scheduled with no delay (not on the wheel).
    static let immediateBit: UInt64 = 1 << 63

    /// Makes the reactor for `handle`; call on the thread that will run it.
    public init(handle: ReactorHandle, maxEventsPerWait: Int = 512) {
        self.handle = handle
        backend = EpollBackend(epollFD: handle.epollFD, maxEvents: maxEventsPerWait)
        unsafeClock = .allocate(capacity: 1)
        unsafeClock.initialize(to: ReactorClock(now: System.monotonicNow(), wallClockSeconds: System.wallClockSeconds()))
        timers = TimerWheel(now: unsafeClock.pointee.now)
    }

    deinit {
        unsafeClock.deallocate()
    }

    // MARK: Descriptors

    /// Adds `fd` to the epoll set; its readiness is reported with `token` (not `UInt64.max`).
    @inlinable public func register(_ fd: Int32, interest: Events, token: UInt64) throws(SystemError) {
        try backend.register(fd, interest: interest, token: token)
    }

    /// Changes what `fd` is watched for.
    @inlinable public func modify(_ fd: Int32, interest: Events, token: UInt64) throws(SystemError) {
        try backend.modify(fd, interest: interest, token: token)
    }

    /// Stops watching `fd` (closing it does so too).
    public func deregister(_ fd: Int32) {
        backend.deregister(fd)
    }

    // MARK: Timers

    /// Schedules a delegate timer: `reactor(_:timerFired:)` gets `payload` (< 2^63) at `deadline`.
    /// Cost: O(1), no allocation once the wheel has grown to the number of live timers.
    public func scheduleTimer(at deadline: Instant, payload: UInt64) -> TimerID {
        precondition(payload & Self.callbackBit == 0, "timer payloads use the low 63 bits")
        return timers.schedule(at: deadline, payload: payload)
    }

    /// Moves a timer to a new deadline; false if it already fired or was cancelled.
    @discardableResult
    public func rescheduleTimer(_ id: TimerID, to deadline: Instant) -> Bool {
        timers.reschedule(id, to: deadline)
    }

    /// Cancels a timer (a delegate timer or a closure timer); false if it already fired or was
    /// cancelled.
    @discardableResult
    public func cancelTimer(_ id: TimerID) -> Bool {
        if id.raw & Self.immediateBit != 0 { return callbacks.removeValue(forKey: id.raw & ~Self.immediateBit) != nil }
        guard let payload = timers.payload(of: id), timers.cancel(id) else { return false }
        if payload & Self.callbackBit != 0 { callbacks.removeValue(forKey: payload & ~Self.callbackBit) }
        return true
    }

    /// Runs `body` on this reactor after `delay`. Allocates the closure: for occasional work,
    /// not per-request timeouts (use `scheduleTimer` for those). Cancel with `cancelTimer`.
    /// A zero (or negative) delay means the next turn of the loop: `body` runs at the end of the
    /// current iteration, after the ready events and timers, without waiting for the timer
    /// wheel's next tick (which is up to a millisecond away).
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> TimerID {
        let key = nextCallbackKey
        nextCallbackKey &+= 1
        callbacks[key] = body
        if delay <= .zero {
            immediate.append(key)
            return TimerID(raw: Self.immediateBit | key)
        }
        return timers.schedule(at: now + delay, payload: Self.callbackBit | key)
    }

    /// Runs `body` on this reactor later in the current loop iteration, after the ready events and
    /// expired timers, never nested inside whatever is running now. Allocates the closure.
    public func runSoon(_ body: @escaping () -> Void) {
        soon.append(body)
    }

    /// Number of timers pending (delegate and closure timers).
    public var pendingTimers: Int { timers.count }

    // MARK: Loop

    /// Runs the loop on the calling thread until `stop()`; then asks the delegate to release
    /// everything. The delegate is held strongly for the duration.
    public func run(delegate: any ReactorDelegate) {
        running = true
        self.delegate = delegate
        handle.thread.store(OSThread.currentID, ordering: .relaxed)
        defer { handle.thread.store(0, ordering: .relaxed) }
        do {
            try register(handle.wakeFD, interest: .readable, token: Self.wakeToken)
        } catch {
            fatalError("reactor \(id): cannot watch its eventfd: \(error)")
        }
        while running {
            var timeout: Int32 = -1
            if !soon.isEmpty || !immediate.isEmpty || handle.executor.hasLocalJobs {
                timeout = 0
            } else if let deadline = timers.nextDeadline() {
                let ns = deadline.nanoseconds &- now.nanoseconds
                timeout = ns <= 0 ? 0 : Int32(clamping: (ns + 999_999) / 1_000_000)
            }
            // The clock is read once per iteration, right after the wait (before the first
            // event, or after an empty wait).
            var started = false
            handle.watch.iterationStart.store(0, ordering: .relaxed)
            do {
                _ = try backend.wait(timeoutMilliseconds: timeout) { token, events in
                    if !started {
                        started = true
                        startIteration()
                    }
                    if token == Self.wakeToken {
                        let (jobs, tasks) = handle.takeJobs()
                        for job in jobs { job(self) }
                        if !tasks.isEmpty { handle.watch.tag.store(ReactorWatch.taskTag, ordering: .relaxed) }
                        for task in tasks { handle.executor.run(task) }
                    } else {
                        delegate.reactor(self, ready: token, events: events)
                    }
                }
            } catch {
                fatalError("reactor \(id): \(error)")
            }
            if !started { startIteration() }
            if timers.count > 0 {
                timers.advance(to: now)
                while let payload = timers.popExpired() {
                    if payload & Self.callbackBit != 0 {
                        callbacks.removeValue(forKey: payload & ~Self.callbackBit)?()
                    } else {
                        delegate.reactor(self, timerFired: payload)
                    }
                }
            }
            let executor = handle.executor
            while !soon.isEmpty || !immediate.isEmpty || executor.hasLocalJobs {
                if executor.hasLocalJobs {
                    handle.watch.tag.store(ReactorWatch.taskTag, ordering: .relaxed)
                    executor.runLocalJobs()
                }
                if !immediate.isEmpty {
                    let keys = immediate
                    immediate.removeAll(keepingCapacity: true)
                    for key in keys { callbacks.removeValue(forKey: key)?() }
                }
                let batch = soon
                soon.removeAll(keepingCapacity: true)
                for body in batch { body() }
            }
        }
        delegate.reactorWillStop(self)
        // Tasks woken by the delegate's closing (cancelled handlers) finish their turn here;
        // jobs that come later go to the global executor (`ReactorExecutor`).
        handle.executor.runLocalJobs()
        let (jobs, tasks) = handle.close()
        for job in jobs { job(self) }
        for task in tasks { handle.executor.run(task) }
        handle.executor.runLocalJobs()
        self.delegate = nil
        callbacks.removeAll()
        soon.removeAll()
        immediate.removeAll()
        deregister(handle.wakeFD)
    }

    @inline(__always) func startIteration() {
        unsafeClock.pointee = ReactorClock(now: System.monotonicNow(), wallClockSeconds: System.wallClockSeconds())
        handle.watch.iterationStart.store(unsafeClock.pointee.now.nanoseconds, ordering: .relaxed)
        iterations &+= 1
    }

    /// Ends the loop after the current iteration. Reactor thread only (from another thread:
    /// `handle.execute { $0.stop() }`).
    public func stop() { running = false }

    /// Whether the loop is running.
    public var isRunning: Bool { running }
}
