@_spi(GustInternal) import GustIO
import Logging

/// Prefork: `ServerConfiguration.processes` worker processes, each a whole server (its own
/// reactors) on listeners the supervisor bound once, under a small supervisor process that
/// runs no application code. A worker that dies (a trap in a handler, SIGKILL, the OOM killer)
/// is replaced at once, then with a growing backoff if it keeps dying; the connections waiting
/// in its listeners' queues wait for the replacement instead of being lost, since the
/// supervisor keeps the sockets. SIGTERM/SIGINT/SIGHUP are forwarded (workers drain; a second
/// signal stops them at once); SIGUSR2 reloads the workers one at a time, each new one serving
/// before the old one drains. Every worker exit is logged.
///
/// Workers are the same binary with the same arguments, started with `GUST_WORKER=k` and a
/// `ControlChannel` (listeners over SCM_RIGHTS, `READY` back); worker `k` gets its own
/// SO_REUSEPORT listeners (one per reactor), so the kernel spreads connections over workers.
/// The supervisor itself is not replaced by a reload: its code is this small loop.
///
/// Threading: runs on the calling thread, which it blocks; single-threaded.
final class Supervisor {
    struct Slot {
        var pid: Int32?
        var startedAt = ContinuousClock.now
        /// Deaths in a row without running `healthyAfter`: drives the backoff.
        var failures = 0
        var restartAt: ContinuousClock.Instant?
    }

    let configuration: ServerConfiguration
    let logger: Logger
    let listeners: [Listener]
    let perWorker: Int
    var slots: [Slot]
    /// Old workers draining after a reload or a stop (not restarted when they exit).
    var retiring: Set<Int32> = []
    var stopping = false
    static let variable = ControlChannel.workerVariable
    static let healthyAfter: Duration = .seconds(10)
    static let maximumBackoff: Duration = .seconds(10)

    /// Whether this process is a worker started by a supervisor (worker number), or nil.
    static var workerNumber: Int? { Processes.environment(variable).flatMap { Int($0) } }

    init(configuration: ServerConfiguration, listeners: [Listener]) {
        self.configuration = configuration
        logger = configuration.logger
        self.listeners = listeners
        perWorker = configuration.reactors
        slots = Array(repeating: Slot(), count: configuration.processes)
    }

    var port: Int { listeners[0].port }

    // MARK: Workers

    /// Starts worker `k` on its listeners and waits for it to serve; its PID, or why not.
    func spawn(_ k: Int) -> Result<Int32, ReloadFailure> {
        let fds = listeners[(k * perWorker)..<((k + 1) * perWorker)].map(\.fd)
        switch ControlChannel.startTakingOver(Array(fds), environment: ["\(Self.variable)=\(k)"], timeout: configuration.reloadTimeout) {
        case .serving(let pid): return .success(pid)
        case .failed(let why): return .failure(ReloadFailure("worker \(k): \(why)"))
        }
    }

    /// Starts every worker; throws if one cannot start (the others are stopped).
    func startAll() throws {
        for k in slots.indices {
            switch spawn(k) {
            case .success(let pid):
                slots[k] = Slot(pid: pid)
                logger.info("worker started", metadata: ["worker": "\(k)", "pid": "\(pid)"])
            case .failure(let failure):
                for slot in slots { if let pid = slot.pid { Processes.kill(pid, Signals.kill) } }
                while Processes.reap(block: true) != nil {}
                throw ConfigurationError("a worker could not start: \(failure.why)")
            }
        }
    }

    /// Reaps every worker that has exited: logs it, and schedules a replacement unless it was
    /// retiring or the supervisor is stopping.
    func reapExited() {
        while let exit = Processes.reap() {
            if retiring.remove(exit.pid) != nil {
                logger.info("old worker exited", metadata: ["pid": "\(exit.pid)", "how": "\(exit)"])
                continue
            }
            guard let k = slots.firstIndex(where: { $0.pid == exit.pid }) else { continue }
            slots[k].pid = nil
            if stopping {
                logger.info("worker exited", metadata: ["worker": "\(k)", "pid": "\(exit.pid)", "how": "\(exit)"])
                continue
            }
            let ran = ContinuousClock.now - slots[k].startedAt
            if ran >= Self.healthyAfter { slots[k].failures = 0 }
            let delay = backoff(slots[k].failures)
            slots[k].failures += 1
            slots[k].restartAt = ContinuousClock.now + delay
            logger.error(
                "worker exited unexpectedly; restarting it",
                metadata: ["worker": "\(k)", "pid": "\(exit.pid)", "how": "\(exit)", "ran": "\(ran)", "restart-in": "\(delay)"])
        }
    }

    /// No wait for a first death; then 100 ms doubling up to `maximumBackoff`.
    func backoff(_ failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        return min(.milliseconds(100) * (1 << min(failures - 1, 16)), Self.maximumBackoff)
    }

    /// Restarts the workers whose time has come.
    func restartDue() {
        let now = ContinuousClock.now
        for k in slots.indices where slots[k].pid == nil && !stopping {
            guard let at = slots[k].restartAt, at <= now else { continue }
            slots[k].restartAt = nil
            slots[k].startedAt = ContinuousClock.now
            switch spawn(k) {
            case .success(let pid):
                slots[k].pid = pid
                logger.info("worker replaced", metadata: ["worker": "\(k)", "pid": "\(pid)"])
            case .failure(let failure):
                let delay = backoff(slots[k].failures)
                slots[k].failures += 1
                slots[k].restartAt = ContinuousClock.now + max(delay, .milliseconds(100))
                logger.error(
                    "worker could not be restarted",
                    metadata: ["worker": "\(k)", "why": "\(failure.why)", "retry-in": "\(slots[k].restartAt! - ContinuousClock.now)"])
            }
        }
    }

    /// Reloads the workers one at a time: a new one on the same listeners, serving, then the
    /// old one drains. Stops at the first that cannot start (the rest keep their old workers).
    func rollingReload() -> ReloadOutcome {
        var replaced: [Int32] = []
        for k in slots.indices {
            switch spawn(k) {
            case .success(let pid):
                if let old = slots[k].pid {
                    retiring.insert(old)
                    Processes.kill(old, Signals.reload)  // to a worker: drain as a lame duck
                }
                slots[k] = Slot(pid: pid)
                replaced.append(pid)
                logger.info("reload: worker replaced", metadata: ["worker": "\(k)", "pid": "\(pid)"])
            case .failure(let failure):
                return .failed("\(failure.why) (workers reloaded before it: \(replaced.count) of \(slots.count))")
            }
            reapExited()
        }
        return .handedOver(pid: replaced.last ?? 0)
    }

    // MARK: The loop

    /// Supervises until stopped by a signal; returns once every worker has exited.
    func run(onReload: (ReloadOutcome) -> Void, onStop: (Int) -> Void) {
        let watched = Signals.termination + [Signals.reload, Signals.childExited]
        var stopSignals = 0
        while true {
            reapExited()
            if stopping && slots.allSatisfy({ $0.pid == nil }) && retiring.isEmpty { break }
            restartDue()
            let next = slots.compactMap(\.restartAt).min()
            let timeout = next.map { max(.zero, $0 - ContinuousClock.now) } ?? (stopping ? .milliseconds(200) : nil)
            guard let signal = Signals.wait(for: watched, timeout: timeout) else { continue }
            switch signal {
            case Signals.childExited:
                continue
            case Signals.reload:
                guard !stopping else { continue }
                logger.info("reload: SIGUSR2 received; replacing the workers one at a time")
                let outcome = rollingReload()
                var ignored = 0
                while Signals.wait(for: [Signals.reload], timeout: .zero) != nil { ignored += 1 }
                if ignored > 0 { logger.warning("reload: ignored a reload signal received during the reload", metadata: ["signals": "\(ignored)"]) }
                if case .failed(let why) = outcome { logger.error("reload failed", metadata: ["why": "\(why)"]) }
                onReload(outcome)
            default:
                stopSignals += 1
                let serving = slots.compactMap(\.pid)
                if !stopping {
                    stopping = true
                    onStop(serving.count + retiring.count)
                    logger.info("stopping: forwarding the signal to the workers", metadata: ["workers": "\(serving.count)"])
                }
                // The workers' own rule: the first signal drains, a second stops at once. Old
                // workers retiring after a reload drain already (their first signal was the
                // reload's): only a second stop signal reaches them, to stop at once.
                for pid in serving { Processes.kill(pid, Signals.terminate) }
                if stopSignals > 1 { for pid in retiring { Processes.kill(pid, Signals.terminate) } }
                if stopSignals > 1 { logger.warning("second signal: the workers stop at once") }
            }
        }
        for listener in listeners { listener.close() }
    }
}

/// Why a worker or a new process did not come up.
struct ReloadFailure: Error {
    let why: String
    init(_ why: String) { self.why = why }
}
