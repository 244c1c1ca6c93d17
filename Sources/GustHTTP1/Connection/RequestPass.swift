/// One pass of a connection's state machine over bytes that arrived: the bytes (the reactor's
/// read buffer, or the connection's input lease), the parser state and header slots that go
/// with them, and how far the pass has got. Owned by the driver, lent to the machine's reading
/// methods; it lives on the driver's stack for the length of one pass.
///
/// `offset` is where the current request starts (or, while a body streams, the next body byte);
/// bytes before it are done with. A request handed to a handler is consumed when the handler's
/// answer is taken (`ConnectionMachine.handled`), so the handler sees it in place.
@_spi(GustInternal) public struct RequestPass {
    public let bytes: UnsafeMutableRawBufferPointer
    public let parser: UnsafeMutablePointer<RequestParser>
    public let headers: UnsafeMutablePointer<HeaderSlot>
    public var offset = 0
    /// Requests answered in this pass (for the pipelining turn).
    public var served = 0
    /// Bytes of the request being handled, consumed once its answer is taken.
    public var pendingLength = 0
    /// Where that request's body lies (read whole), from its first byte.
    public var pendingBody: Range<Int> = 0..<0

    @inlinable public init(bytes: UnsafeMutableRawBufferPointer, parser: UnsafeMutablePointer<RequestParser>, headers: UnsafeMutablePointer<HeaderSlot>) {
        self.bytes = bytes
        self.parser = parser
        self.headers = headers
    }

    /// The bytes from `offset` on.
    @inlinable @inline(__always) public var rest: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: bytes[offset...]) }

    /// Whether every byte has been consumed.
    @inlinable @inline(__always) public var isConsumed: Bool { offset >= bytes.count }

    /// The first byte of the current request.
    @inlinable @inline(__always) public var requestBase: UnsafePointer<UInt8> {
        UnsafePointer(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset)
    }
}

/// How the body of a routed request is to be read.
@_spi(GustInternal) public struct BodyPolicy: Sendable, Equatable {
    /// The largest body accepted (413 beyond it).
    public var limit: Int
    /// The handler runs as soon as the head is in, and takes the body piece by piece.
    public var streams: Bool

    @inlinable public init(limit: Int, streams: Bool) {
        self.limit = limit
        self.streams = streams
    }
}

/// A request the server answers itself, and closes after: why, and with what status.
@_spi(GustInternal) public enum Rejection: Sendable, Equatable {
    /// The head is malformed or over a limit (its own status: 400, 414, 431, 501, 505).
    case malformed(HTTPParseError)
    /// A method the server does not recognise (RFC 9110 §9.1): 501.
    case methodNotImplemented
    /// A body larger than `limit`: 413.
    case bodyTooLarge(limit: Int)
    /// A malformed chunked body: 400.
    case malformedBody(ChunkedError)
    /// The head or the body did not arrive in time: 408.
    case timedOut(head: Bool)
    /// The body arrived slower than the minimum rate: 408.
    case bodyTooSlow(bytesPerSecond: Int)

    public var status: Int {
        switch self {
        case .malformed(let e): e.status
        case .methodNotImplemented: 501
        case .bodyTooLarge: 413
        case .malformedBody: 400
        case .timedOut, .bodyTooSlow: 408
        }
    }

    public var detail: String {
        switch self {
        case .malformed(let e): e.description
        case .methodNotImplemented: "method not implemented"
        case .bodyTooLarge(let limit): "body larger than \(limit) bytes"
        case .malformedBody(let e): e.description
        case .timedOut(let head): head ? "request head not received in time" : "request body not received in time"
        case .bodyTooSlow(let rate): "request body arrived slower than \(rate) bytes/s"
        }
    }
}

/// What the machine asks for while reading requests.
@_spi(GustInternal) public enum RequestStep: Sendable, Equatable {
    /// A whole head at `pass.offset`: route it, then call `routed`.
    case head
    /// Run the handler: the body (if it is read whole) is at `body`, offsets from the
    /// request's first byte; `streaming`: the handler may take the body piece by piece.
    case invoke(Invocation)
    /// Answer this yourself (the response closes the connection), then end the pass.
    case reject(Rejection)
    /// The bytes from `pass.offset` hold a partial request, of which only the first `keep`
    /// matter; keep them for the next read. `sendContinue`: write `100 Continue` first.
    case needMore(keep: Int, sendContinue: Bool)
    /// Every byte was consumed.
    case consumed
    /// The turn's share of pipelined requests was served: keep the rest for the next turn.
    case yield
}

/// A request to hand to its handler.
@_spi(GustInternal) public struct Invocation: Sendable, Equatable {
    /// Where the body lies, from the request's first byte (empty when it streams or is absent).
    public var body: Range<Int>
    /// The handler runs before the body is read: it may take the body piece by piece.
    public var streaming: Bool
    /// What the handler's response is encoded with.
    public var answer: AnswerContext

    @inlinable public init(body: Range<Int>, streaming: Bool, answer: AnswerContext) {
        self.body = body
        self.streaming = streaming
        self.answer = answer
    }
}

/// What a handler did with a request (or with the end of a streamed body, or a deferred answer).
@_spi(GustInternal) public enum HandlerAnswer: Sendable, Equatable {
    /// A whole response is in the output; `keepAlive` as it was finally encoded.
    case responded(keepAlive: Bool)
    /// The response comes later (`deferResponse`); `keepAlive` as the handler left it.
    case deferred(keepAlive: Bool)
    /// The head is in the output; the body follows in pieces.
    case streamingResponse(keepAlive: Bool)
    /// The handler takes the request body piece by piece.
    case takingBody
    /// A `101 Switching Protocols` is in the output; the connection goes to another protocol.
    case upgrading
    /// Nothing: the handler neither answered nor deferred.
    case nothing
}

/// What to do after a handler's answer was taken.
@_spi(GustInternal) public enum AfterAnswer: Sendable, Equatable {
    /// Go on with the pass: the next request.
    case next
    /// The pass ends here; the connection waits (for its answer, its stream, its close, ...).
    case stop
    /// The handler did not answer: send a 500 for it (keep-alive as given), then report
    /// `.responded`.
    case answerForHandler(keepAlive: Bool)
    /// The handler takes the body: write `100 Continue` first if `sendContinue`, then feed it
    /// with `nextBodyPiece`.
    case takeBody(sendContinue: Bool)
    /// A buffered body goes to a handler that asked for pieces: hand it `body` (offsets from
    /// the request's first byte) as one piece, then the end.
    case deliverWholeBody(Range<Int>)
    /// The connection leaves HTTP: once its output is written, hand the descriptor and the
    /// bytes from `pass.offset` on to the new protocol.
    case handOff
}
