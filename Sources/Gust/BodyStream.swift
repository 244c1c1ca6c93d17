@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

/// What a streaming-body handler is given, piece by piece.
public enum BodyPart {
    /// Body bytes, readable during the call only (they lie in the connection's input).
    case data(BodyChunk)
    /// The body is complete: send the response now (or defer it).
    case end
    /// The body will not complete: the client left, the body was malformed or too large (the
    /// server answers those itself), or it timed out. Release what the upload held; the writer
    /// can no longer send.
    case aborted(BodyAbort)
}

/// One piece of a request body, handed to a body handler. Its bytes lie in the connection's
/// input and are valid only during the call that received the piece: read them there, with
/// `withUnsafeBytes`, or copy them out (`bytes`, `forEach`). No copy is made to hand it over.
public struct BodyChunk {
    let storage: UnsafeRawBufferPointer

    init(_ storage: UnsafeRawBufferPointer) { self.storage = storage }

    /// Bytes in this piece.
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    /// The bytes in place, valid inside `body` only, and only during the body handler's call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(storage)
    }

    /// A copy of the bytes.
    public var bytes: [UInt8] { Array(storage) }

    /// Calls `body` with each byte, in order (no copy).
    @inlinable public func forEach(_ body: (UInt8) throws -> Void) rethrows {
        try withUnsafeBytes { for byte in $0 { try body(byte) } }
    }
}

/// Why a streamed body was abandoned.
public enum BodyAbort: Sendable, Equatable, CustomStringConvertible {
    case clientGone
    case malformed
    case tooLarge
    case timedOut
    /// The body arrived slower than the minimum body rate.
    case tooSlow
    /// The server is shutting down.
    case shutdown

    public var description: String {
        switch self {
        case .clientGone: "the client closed the connection"
        case .malformed: "malformed chunked body"
        case .tooLarge: "body larger than the limit"
        case .timedOut: "no body bytes within the body timeout"
        case .tooSlow: "the body arrived slower than the minimum rate"
        case .shutdown: "the server is shutting down"
        }
    }
}

/// Takes a request body piece by piece: the handler passed to `ResponseWriter.streamBody`.
///
/// Called on the reactor thread, once per piece as it arrives (no copy), then once with `.end`
/// (or `.aborted`). From a piece the writer can only send: a response sent before `.end` closes
/// the connection after it (the rest of the body is read and discarded). Deferring the answer
/// or streaming it is for `.end` (doing so from a piece is a programming error and traps).
/// Cost: one closure call per piece.
public typealias BodyHandler = (BodyPart, inout ResponseWriter, BodyStream) -> Void

/// One request body being streamed to a handler, with backpressure: `pause()` stops delivery
/// (and reading from the socket, so the client is slowed by TCP flow control) until `resume()`.
///
/// Threading: the reactor thread that serves the connection (from the body handler, a timer,
/// a deferred answer, or a job sent to that reactor). `resume()` takes effect once the calling
/// code has returned.
public final class BodyStream {
    unowned let engine: HTTPEngine
    let connection: SlotID
    let handler: BodyHandler
    /// Whether delivery is paused.
    public private(set) var isPaused = false
    /// Body bytes handed over so far.
    public internal(set) var bytesReceived: Int64 = 0
    /// `.end` or `.aborted` was delivered (or the handler answered before the end).
    public internal(set) var isFinished = false
    /// A piece is being handed to the handler right now.
    var delivering = false
    /// `Expect: 100-continue` waits until the handler reads (an async handler that suspended
    /// on something else first may still refuse the body without having invited it).
    var holdsContinue = false
    /// The interim 100 is due and held: sent at the first read (`BodyChannel.next`).
    var continueOwed = false

    init(engine: HTTPEngine, connection: SlotID, handler: @escaping BodyHandler) {
        self.engine = engine
        self.connection = connection
        self.handler = handler
    }

    /// Stops delivery after the current piece; the connection stops reading.
    public func pause() {
        guard !isFinished, !isPaused else { return }
        isPaused = true
        if !delivering { engine.enqueue(.pauseBody(connection, self)) }
    }

    /// Goes on delivering (what is already buffered first, then what the socket brings), once
    /// the calling code has returned.
    public func resume() {
        guard isPaused, !isFinished else { return }
        isPaused = false
        engine.enqueue(.resumeBody(connection, self))
    }

    /// Resumes after `delay` (a reactor timer; allocates it): pacing an upload, for instance.
    public func resume(after delay: Duration) {
        engine.reactor.schedule(after: delay) { [self] in resume() }
    }
}
