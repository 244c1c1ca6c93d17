@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

/// A delegate with nothing registered: the tests drive the reactor through jobs.
final class QuietDelegate: ReactorDelegate {
    func reactor(_ reactor: Reactor, ready token: UInt64, events: Events) {}
    func reactor(_ reactor: Reactor, timerFired payload: UInt64) {}
    func reactorWillStop(_ reactor: Reactor) {}
}

/// Runs one reactor thread for a test; `run` sends it a job and waits for the job's answer.
final class RunningReactor: Sendable {
    let group: ReactorGroup

    init() throws {
        group = try ReactorGroup(count: 1)
        group.start(name: "test") { _ in QuietDelegate() }
    }

    deinit {
        group.stop()
        group.join()
    }

    /// Sends `job` to the reactor; it calls `done` (from the reactor thread, at once or later).
    func run<T: Sendable>(_ job: @escaping @Sendable (Reactor, @escaping @Sendable (T) -> Void) -> Void) async -> T {
        await withCheckedContinuation { (k: CheckedContinuation<T, Never>) in
            let queued = group.handles[0].execute { reactor in job(reactor) { k.resume(returning: $0) } }
            precondition(queued)
        }
    }
}

@Suite struct ReactorScheduleTests {
    @Test func aZeroDelayRunsInTheSameLoopTurnNotAtTheNextTick() async throws {
        let r = try RunningReactor()
        // (iteration when scheduled, iteration when run) for zero and negative delays.
        let turns: [UInt64] = await r.run { reactor, done in
            let scheduledAt = reactor.iterations
            reactor.schedule(after: .zero) {
                let first = reactor.iterations
                reactor.schedule(after: .milliseconds(-5)) { done([scheduledAt, first, reactor.iterations]) }
            }
        }
        #expect(turns[1] == turns[0], "a zero delay waited for a later loop iteration")
        #expect(turns[2] == turns[0])
    }

    @Test func aZeroDelayClosureCanBeCancelled() async throws {
        let r = try RunningReactor()
        let ran: [String] = await r.run { reactor, done in
            let log = Mutex<[String]>([])
            let cancelled = reactor.schedule(after: .zero) { log.withLock { $0.append("cancelled one ran") } }
            reactor.schedule(after: .zero) { log.withLock { $0.append("kept") } }
            #expect(reactor.cancelTimer(cancelled))
            #expect(!reactor.cancelTimer(cancelled))
            reactor.schedule(after: .milliseconds(5)) { done(log.withLock { $0 }) }
        }
        #expect(ran == ["kept"])
    }
}
