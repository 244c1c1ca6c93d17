import GustCore

/// A response a handler put off (`ResponseWriter.deferResponse()`), to be sent later from the
/// same reactor's thread: from a timer, a job, or another connection's handler.
///
/// If the client went away meanwhile, `respond` does nothing and returns false. Responding twice
/// is the same: only the first one counts.
///
/// Threading: reactor thread only (the one that ran the handler). Not `Sendable` on purpose: to
/// answer from elsewhere, send a job to that reactor.
public struct DeferredResponse {
    unowned let engine: HTTPEngine
    let connection: SlotID
    let sequence: UInt32

    /// Whether the connection is still there and waiting for this response.
    public var isPending: Bool { engine.isAwaiting(connection, sequence) }

    /// Writes the response with `body` and resumes the connection (pipelined requests that
    /// arrived behind this one are served next). Returns false if nobody is waiting any more.
    /// Called from inside a handler, the response is written right after that handler's batch.
    @discardableResult
    public func respond(_ body: @escaping (inout ResponseWriter) -> Void) -> Bool {
        engine.completeDeferred(connection, sequence, body)
    }
}
