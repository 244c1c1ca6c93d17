@_spi(GustInternal) import GustIO
import Synchronization

/// Runs blocking or CPU-heavy `work` on the blocking-work pool and returns its result, without
/// blocking the reactor: the calling task suspends (its reactor serves other connections) and
/// resumes on its reactor's thread when the work is done.
///
///     router.get("/report") { req in
///         let pdf = try await offload { try renderReport(for: req.parameter("id")) }
///         return .bytes(pdf, contentType: ContentType("application/pdf"))
///     }
///
/// A task cancelled before its work starts (its client left, its deadline passed) does not run
/// it: `offload` throws `CancellationError`. Work that has started runs to its end (it is
/// blocking code: it cannot be interrupted), and its result is dropped.
///
/// Threading: `work` runs on a pool worker. Cost: the closure, one small state object, one
/// submission (`WorkPool`), and the resumption's hop back to the reactor.
@discardableResult
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await offload(on: WorkPool.shared, work)
}

/// `offload` on a pool of one's own (for work that must not queue behind the rest).
@discardableResult
@_spi(GustInternal) public func offload<T: Sendable>(on pool: WorkPool, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    let state = OffloadState()
    return try await withTaskCancellationHandler {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
            pool.submit {
                guard state.start() else { return continuation.resume(throwing: CancellationError()) }
                continuation.resume(with: Result { try work() })
            }
        }
    } onCancel: {
        state.cancel()
    }
}

/// Whether an offloaded job may still start: cancelling before it starts skips it.
final class OffloadState: Sendable {
    // 0: waiting, 1: started, 2: cancelled before it started.
    let phase = Atomic<UInt8>(0)

    func start() -> Bool {
        phase.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged
    }

    func cancel() {
        _ = phase.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing)
    }
}

/// What the process's blocking-work pool is doing: workers, queue length, waits.
public func offloadStats() -> WorkPoolStats { WorkPool.shared.stats() }

extension ResponseWriter {
    /// The inline tier's `offload`: defers the response, runs `work` on the blocking-work pool,
    /// then `answer` on this connection's reactor with its result. If the client has left by
    /// then, `answer` does not run.
    ///
    ///     router.get("/thumbnail") { req, res in
    ///         let name = req.query("name") ?? ""
    ///         res.offload { renderThumbnail(name) } then: { png, res in res.send(.ok, contentType: .png, bytes: png) }
    ///     }
    public mutating func offload<T: Sendable>(
        _ work: @escaping @Sendable () -> T, then answer: @escaping @Sendable (T, inout ResponseWriter) -> Void
    ) {
        let deferred = deferResponse()
        WorkPool.shared.submit {
            let value = work()
            deferred.respond { answer(value, &$0) }
        }
    }
}
