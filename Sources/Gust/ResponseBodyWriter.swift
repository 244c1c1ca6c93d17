/// Writes the body of an async handler's streamed response (`ResponseBody.stream`).
///
/// Backpressure: `write` copies the bytes into the connection's output and returns at once
/// while less than `highWaterMark` bytes wait for the socket; past that, it waits until they
/// have all gone (the client reads). A client that leaves makes `write` throw `ClientGone` (and
/// cancels the task).
///
/// Threading: the handler's task; its methods run on the connection's reactor (they are
/// nonisolated async: the task's executor preference brings them there).
public final class ResponseBodyWriter {
    let stream: ResponseStream
    /// Bytes that may wait for the socket before `write` waits. Default 64 KiB.
    public var highWaterMark = 64 * 1024

    /// The client went away (or the stream was ended) before the body was written.
    public struct ClientGone: Error, CustomStringConvertible {
        public var description: String { "the client is gone" }
    }

    init(_ stream: ResponseStream) { self.stream = stream }

    /// Whether the client is still there.
    public var isOpen: Bool { stream.isOpen }

    /// Bytes written but not yet taken by the socket.
    public var pendingBytes: Int { stream.pendingBytes }

    /// Sends a copy of `bytes` as the next piece of the body.
    public func write(_ bytes: [UInt8]) async throws {
        try await write { bytes.withUnsafeBytes { stream.write(unsafeBytes: $0) } }
    }

    /// Sends `text`'s UTF-8 bytes as the next piece of the body.
    public func write(_ text: String) async throws {
        try await write { stream.write(text) }
    }

    func write(_ send: () -> Bool) async throws {
        guard send() else { throw ClientGone() }
        if stream.pendingBytes > highWaterMark { try await stream.drained() }
    }

    /// Waits until everything written so far has gone to the socket.
    public func flush() async throws {
        try await stream.drained()
    }
}
