@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Logging
import Synchronization

/// Watches a server's reactors from a thread of its own: a loop iteration that has run longer
/// than the threshold means something blocked the reactor (every connection on it waits). It is
/// logged once per stall, as a warning naming the route that ran last.
///
/// Cost: the reactors publish with relaxed stores (`ReactorWatch`); this thread wakes every half
/// threshold and reads them.
final class ReactorWatchdog: Sendable {
    /// The tag of a 404/405 answer (no route).
    static let fallbackTag = -1

    let handles: [ReactorHandle]
    let routes: RouteTable
    let threshold: Duration
    let logger: Logger
    let parker = Parker()
    let stopped = Atomic<Bool>(false)
    let stalls = Atomic<Int>(0)
    let thread = Mutex<OSThread?>(nil)

    init(handles: [ReactorHandle], routes: RouteTable, threshold: Duration, logger: Logger) {
        self.handles = handles
        self.routes = routes
        self.threshold = threshold
        self.logger = logger
        let spawned = OSThread.spawn(name: "gust-watchdog") { [self] in run() }
        thread.withLock { $0 = spawned }
    }

    func run() {
        while !stopped.load(ordering: .relaxed) {
            parker.park(timeout: threshold / 2)
            check(now: System.monotonicNow().nanoseconds)
        }
    }

    /// Reports every reactor whose iteration started more than the threshold before `now`.
    func check(now: Int64) {
        for handle in handles {
            let watch = handle.watch
            let start = watch.iterationStart.load(ordering: .relaxed)
            guard start != 0, now - start > threshold.nanoseconds, watch.reported.load(ordering: .relaxed) != start else { continue }
            watch.reported.store(start, ordering: .relaxed)
            stalls.add(1, ordering: .relaxed)
            let what = describe(watch.tag.load(ordering: .relaxed))
            logger.warning(
                "reactor \(handle.id) blocked for \((now - start) / 1_000_000) ms, last running \(what): blocking work belongs in offload { } (or an async handler that awaits it)",
                metadata: ["reactor": "\(handle.id)", "route": "\(what)", "blocked-ms": "\((now - start) / 1_000_000)"])
        }
    }

    func describe(_ tag: Int) -> String {
        switch tag {
        case 0..<routes.count: "\(routes.methods[tag]) \(routes.patterns[tag])"
        case Self.fallbackTag: "the 404/405 answer (not-found handler)"
        case ReactorWatch.taskTag: "an async handler's task, resumed"
        default: "the engine"
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        parker.unpark()
        thread.withLock { $0.take() }?.join()
    }
}
