@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
@_spi(GustInternal) import GustHTTP1

/// A response whose body is written piece by piece after the handler returns
/// (`ResponseWriter.startStream`): chunked for HTTP/1.1 clients, delimited by closing the
/// connection for HTTP/1.0 ones. Requests pipelined behind it wait until `finish()`.
///
/// Backpressure: `write` never blocks; what the socket does not take waits in the connection's
/// output (`pendingBytes`); `onDrain` runs once it has all gone out. A client that does not
/// read is dropped after the server's write timeout.
///
/// Threading: the reactor thread of the connection (from a timer, a deferred answer, another
/// handler, or a job sent to that reactor). Writes made inside the handler that started the
/// stream join that handler's output; later ones are written at the end of the loop turn.
/// Cost per write: one chunk header and one copy into the output; one `send` per turn.
public final class ResponseStream {
    unowned let engine: HTTPEngine
    let connection: SlotID
    let sequence: UInt32
    let delimiter: StreamDelimiter
    let isHead: Bool
    var drainHandler: (() -> Void)?
    /// An async writer waiting for the output to drain (`ResponseBodyWriter`): resumed when it
    /// has, or with an error when the connection goes.
    var drainWaiter: CheckedContinuation<Void, any Error>?
    /// The handler that started the stream has returned and its connection writes the pieces.
    var isAttached = false
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
    public var isOpen: Bool { !isFinished && (!isAttached || engine.isStreaming(connection, sequence)) }

    /// Bytes written but not yet taken by the socket. (Writes made inside the handler that
    /// started the stream are counted once that handler's output is written.)
    public var pendingBytes: Int { isAttached ? engine.pendingOutput(connection) : 0 }

    /// Sends a copy of `bytes` as the next piece of the body. Returns false if the client is
    /// gone or the stream finished (nothing is sent).
    @discardableResult
    public func write(unsafeBytes bytes: UnsafeRawBufferPointer) -> Bool {
        engine.streamWrite(self, bytes)
    }

    @discardableResult
    public func write(_ text: String) -> Bool {
        text.withUTF8Bytes { write(unsafeBytes: UnsafeRawBufferPointer($0)) }
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write(unsafeBytes: $0) }
    }

    /// Runs `body` once everything written so far has gone to the socket: later in this loop
    /// turn if nothing is pending, never nested inside the calling code (so a pump that writes
    /// and waits again, `func pump() { s.write(x); s.onDrain(pump) }`, does not recurse). One
    /// waiter at a time; a later call replaces it.
    public func onDrain(_ body: @escaping () -> Void) {
        guard isOpen else { return }
        drainHandler = body
        if !isAttached || pendingBytes == 0 { engine.enqueue(.drainCheck(connection, sequence)) }
    }

    /// Runs `body` on this stream's reactor after `delay` (a timer; allocates it; a zero delay
    /// runs later in this loop turn), e.g. to send the next event of a server-sent stream.
    /// Nothing runs if the stream has finished or the client left by then.
    public func after(_ delay: Duration, _ body: @escaping (ResponseStream) -> Void) {
        engine.reactor.schedule(after: delay) { [self] in
            if isOpen { body(self) }
        }
    }

    /// Ends the body (the last chunk, then `trailers` as "Name: value" pairs for a chunked
    /// stream; unsafe ones are dropped) and lets the connection serve its next request, once
    /// the calling code has returned. Later writes are refused.
    public func finish(trailers: [(String, String)] = []) {
        guard !isFinished else { return }
        isFinished = true
        var lines = ""
        for (name, value) in trailers where Self.isTrailerSafe(name, value) { lines += "\(name): \(value)\r\n" }
        engine.enqueue(.finishStream(connection, sequence, lines))
    }

    /// Waits until everything written has gone to the socket (returns at once if it has). Throws
    /// `ResponseBodyWriter.ClientGone` if the client leaves first. Reactor thread only.
    func drained() async throws {
        guard isOpen else { throw ResponseBodyWriter.ClientGone() }
        guard pendingBytes > 0 || !isAttached else { return }
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            drainWaiter = waiter
            onDrain { [self] in
                if let waiter = drainWaiter {
                    drainWaiter = nil
                    waiter.resume()
                }
            }
        }
    }

    /// Ends the stream without its proper end: the connection is closed, so that the client
    /// sees a truncated body rather than a complete wrong one (after a failure midway).
    func abort() {
        guard !isFinished else { return }
        isFinished = true
        engine.enqueue(.abortStream(connection, sequence))
    }

    /// The connection is gone: an async writer waiting for the drain hears it.
    func connectionClosed() {
        isFinished = true
        drainHandler = nil
        if let waiter = drainWaiter {
            drainWaiter = nil
            waiter.resume(throwing: ResponseBodyWriter.ClientGone())  // schedules the task; runs nothing here
        }
    }

    /// Appends `bytes` as a piece of this stream's body (a chunk, or raw before a close).
    func append(_ bytes: UnsafeRawBufferPointer, to buffer: inout ByteBuffer) {
        switch delimiter {
        case .chunked: ChunkEncoder.appendChunk(bytes, to: &buffer)
        case .close: buffer.append(bytes)
        }
    }

    /// Trailer fields must be tokens with safe values, and not framing or routing fields.
    static func isTrailerSafe(_ name: String, _ value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(ResponseWriter.isToken) && value.utf8.allSatisfy(ResponseWriter.isFieldByte)
            && !["content-length", "transfer-encoding", "host", "connection", "trailer"].contains(name.lowercased())
    }
}
