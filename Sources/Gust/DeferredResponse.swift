@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

/// A response a handler put off (`ResponseWriter.deferResponse()`), to be sent later: from a
/// timer or another handler on the same reactor, or from any other thread (a database driver's,
/// a `Task`'s). The answer always runs on the connection's own reactor: from another thread it
/// travels there through the reactor's job queue.
///
/// Harmless when stale: if the client went away meanwhile, or the response was already sent,
/// `respond` does nothing. Only the first answer counts.
///
/// Threading: `Sendable`; `respond` may be called from any thread. `isPending` reads the
/// connection's state and is for the reactor's own thread.
public struct DeferredResponse: @unchecked Sendable {
    // The engine is touched only on its reactor's thread (checked, or reached through a job).
    unowned(unsafe) let engine: HTTPEngine
    let handle: ReactorHandle
    let connection: SlotID
    let sequence: UInt32

    init(engine: HTTPEngine, connection: SlotID, sequence: UInt32) {
        self.engine = engine
        handle = engine.handle
        self.connection = connection
        self.sequence = sequence
    }

    /// Whether the connection is still there and waiting for this response. Reactor thread only.
    public var isPending: Bool {
        precondition(handle.isCurrentThread, "DeferredResponse.isPending is for the reactor's own thread")
        return engine.isAwaiting(connection, sequence)
    }

    /// Answers with `body`, which runs on the connection's reactor with a writer for this
    /// response; then the connection resumes (requests pipelined behind this one are served
    /// next). From the reactor's own thread, returns false if nobody waits any more (the
    /// answer is dropped); from another thread, returns whether the answer was handed to a
    /// running reactor (it is dropped there if nobody waits any more). Either way the answer is
    /// written after the calling code returns, never inside it.
    @discardableResult
    public func respond(_ body: @escaping @Sendable (inout ResponseWriter) -> Void) -> Bool {
        if handle.isCurrentThread { return engine.queueAnswer(connection, sequence, body) }
        let connection = self.connection, sequence = self.sequence
        return handle.execute { reactor in
            _ = (reactor.delegate as? HTTPEngine)?.queueAnswer(connection, sequence, body)
        }
    }
}
