import GustCore

/// A response whose body is written piece by piece after the handler returns
/// (`ResponseWriter.startStream`): chunked for HTTP/1.1 clients, delimited by closing the
/// connection for HTTP/1.0 ones. Requests pipelined behind it wait until `finish()`.
///
/// Backpressure: `write` never blocks; what the socket does not take waits in the connection's
/// output buffer (`pendingBytes`); `onDrain` runs once it has all gone out. A client that does
/// not read is dropped after the server's write timeout.
///
/// Threading: the reactor thread of the connection (from a timer, a deferred job, another
/// handler, or a job sent to that reactor). Cost per write: one chunk header, one copy into the
/// output buffer, one `send`.
public final class ResponseStream {
    unowned let engine: HTTPEngine
    let connection: SlotID
    let sequence: UInt32
    let delimiter: StreamDelimiter
    let isHead: Bool
    var drainHandler: (() -> Void)?
    /// `finish()` was called, or the connection is gone.
    public internal(set) var isFinished = false

    enum StreamDelimiter { case chunked, close }

    init(engine: HTTPEngine, connection: SlotID, sequence: UInt32, delimiter: StreamDelimiter, isHead: Bool) {
        self.engine = engine
        self.connection = connection
        self.sequence = sequence
        self.delimiter = delimiter
        self.isHead = isHead
    }

    /// Whether the client is still there and the stream not finished.
    public var isOpen: Bool { !isFinished && engine.isAwaiting(connection, sequence) }

    /// Bytes written but not yet taken by the socket. (Writes made inside the handler that
    /// started the stream join that handler's batch and are not counted until it is written.)
    public var pendingBytes: Int { engine.pendingOutput(connection) }

    /// Sends `bytes` as the next piece of the body. Returns false if the client is gone or the
    /// stream finished (nothing is sent).
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        engine.streamWrite(self, bytes)
    }

    @discardableResult
    public func write(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Runs `body` once everything written so far has gone to the socket (at once if nothing
    /// is pending). One waiter at a time; a later call replaces it.
    public func onDrain(_ body: @escaping () -> Void) {
        guard isOpen else { return }
        if pendingBytes == 0 { return body() }
        drainHandler = body
    }

    /// Runs `body` on this stream's reactor after `delay` (a timer; allocates it), e.g. to
    /// send the next event of a server-sent stream. Nothing runs if the stream has finished
    /// or the client left by then.
    public func after(_ delay: Duration, _ body: @escaping (ResponseStream) -> Void) {
        engine.reactor.schedule(after: delay) { [self] in
            if isOpen { body(self) }
        }
    }

    /// Ends the body (the last chunk, then `trailers` as "Name: value" pairs for a chunked
    /// stream) and lets the connection serve its next request.
    public func finish(trailers: [(String, String)] = []) {
        engine.streamFinish(self, trailers: trailers)
    }
}
