@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

/// The body of an async handler's request as it arrives: an `AsyncSequence` of byte chunks.
/// On a route with `RouteOptions(body: .stream)` the handler runs as soon as the head is in and
/// reads the body piece by piece, with backpressure (past `BodyChannel.highWater` bytes unread,
/// the connection stops reading until the handler catches up). On a buffered route it yields
/// the whole body once.
///
///     router.post("/upload", options: RouteOptions(maxBodyBytes: 1 << 30, body: .stream)) { req in
///         var size = 0
///         for try await chunk in req.bodyStream { size += chunk.count }
///         return .text("\(size) bytes\n")
///     }
///
/// A body that does not complete (the client left, it was malformed, too large, or too slow)
/// throws `RequestBodyError`; the server has answered those itself or closes the connection.
/// A handler may answer before reading the whole body (the connection then closes after the
/// answer). `Expect: 100-continue` is answered when the handler first reads. Several readers
/// may wait at once (each piece goes to one of them); reading from another task brings the read
/// to the connection's reactor.
public struct RequestBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let request: AsyncRequest

    public struct AsyncIterator: AsyncIteratorProtocol {
        let request: AsyncRequest
        var deliveredWhole = false

        public mutating func next() async throws -> [UInt8]? {
            guard let channel = request.storage.field({ $0.pointee.start.body }) else {
                // A buffered body: all of it, once.
                if deliveredWhole || request.bodyCount == 0 { return nil }
                deliveredWhole = true
                return request.body
            }
            return try await channel.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(request: request) }

    /// The whole body, collected (up to the route's limit, which the server enforces).
    public func collect() async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await chunk in self { all += chunk }
        return all
    }
}

/// Why a streamed request body did not complete.
public struct RequestBodyError: Error, Sendable, CustomStringConvertible {
    public let reason: BodyAbort
    public var description: String { "the request body did not complete: \(reason)" }
}

extension AsyncRequest {
    /// The body as it arrives (see `RequestBodyStream`).
    public var bodyStream: RequestBodyStream { RequestBodyStream(request: self) }
}

/// Pieces of a streamed request body between the connection's body handler (which copies each
/// piece in) and the async handler's task (which takes them out). Both ends run on the
/// connection's reactor. It also carries the task's answer when the task finishes before the
/// body does: the next piece (or the end) sends it.
final class BodyChannel: @unchecked Sendable {
    /// Unread bytes past which the connection stops reading, and under which it reads again.
    static let highWater = 256 * 1024
    static let lowWater = 64 * 1024

    let handle: ReactorHandle
    unowned(unsafe) let engine: HTTPEngine
    let connection: SlotID
    var pieces: [[UInt8]] = []
    var first = 0
    var buffered = 0
    var ended = false
    var failure: BodyAbort?
    var waiters: [(token: UInt64, continuation: UnsafeContinuation<[UInt8]?, any Error>)] = []
    var waiterTokens: UInt64 = 0
    var stream: BodyStream?
    /// The task's answer, waiting for a writer (it finished before the body ended).
    var early: Response?
    /// The body ended while the task was still running: the answer was deferred there.
    var deferred = false

    init(engine: HTTPEngine, connection: SlotID) {
        handle = engine.handle
        self.engine = engine
        self.connection = connection
    }

    // MARK: The connection's side (reactor thread, from the body handler)

    func deliver(_ part: BodyPart, _ writer: inout ResponseWriter, _ stream: BodyStream) {
        self.stream = stream
        if let response = early {
            early = nil
            return writer.send(response)  // before the end: the connection closes after it
        }
        switch part {
        case .data(let chunk):
            pieces.append(chunk.bytes)
            buffered += chunk.count
            if buffered > Self.highWater { stream.pause() }
        case .end:
            ended = true
            deferred = true
            _ = writer.deferResponse()  // the task answers it (`HTTPEngine.asyncHandlerFinished`)
        case .aborted(let reason):
            failure = reason
        }
        wake()
    }

    /// The task finished before the body ended: its answer goes out now (from the work queue),
    /// or with the next piece or the end if one comes first.
    func answerEarly(_ response: Response) {
        early = response
        pieces = []
        first = 0
        buffered = 0
        engine.enqueue(.answerBody(connection, self))
    }

    func wake() {
        while !waiters.isEmpty, first < pieces.count || ended || failure != nil {
            let waiter = waiters.removeFirst().continuation
            do {
                waiter.resume(returning: try take())
            } catch {
                waiter.resume(throwing: error)
            }
        }
    }

    // MARK: The task's side

    /// The next piece; nil at the end. Throws `RequestBodyError` or `CancellationError`.
    func next() async throws -> [UInt8]? {
        guard handle.isCurrentThread else {
            // Read from another task: come to the reactor for it. (The preference alone does not
            // move a task already on a generic executor until it suspends: yield, then check;
            // recursing without it spun forever off the reactor.)
            return try await withTaskExecutorPreference(handle.executor) {
                await Task.yield()
                guard handle.isCurrentThread else { throw RequestBodyError(reason: .shutdown) }  // the reactor stopped
                return try await next()
            }
        }
        if let stream, stream.continueOwed {
            stream.continueOwed = false
            engine.enqueue(.sendContinue(connection, stream))  // the handler asks for its body now
        }
        if let piece = try take() { return piece }
        if ended { return nil }
        try Task.checkCancellation()
        waiterTokens &+= 1
        let token = waiterTokens
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (waiter: UnsafeContinuation<[UInt8]?, any Error>) in
                // Several readers at once (e.g. `async let`) wait in turn; none is dropped.
                self.waiters.append((token, waiter))
            }
        } onCancel: {
            handle.execute { _ in self.cancelWaiter(token) }
        }
    }

    /// A piece if one is buffered, nil at the end or when none is (yet); throws on a failure.
    func take() throws -> [UInt8]? {
        if first < pieces.count {
            let piece = pieces[first]
            first += 1
            if first == pieces.count {
                pieces.removeAll(keepingCapacity: true)
                first = 0
            }
            buffered -= piece.count
            if buffered < Self.lowWater, let stream, stream.isPaused { stream.resume() }
            return piece
        }
        if let failure { throw RequestBodyError(reason: failure) }
        return nil
    }

    func cancelWaiter(_ token: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.token == token }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }
}
