@_spi(GustInternal) import GustCore
/// The protocol logic of one server-side HTTP/1.1 connection, as a pure state machine: no
/// syscalls, no clock, no allocation, no user code. The driver (Gust's `HTTPEngine`) tells it
/// what happened (an *event*: bytes arrived, a handler answered, a write blocked, a timer fired,
/// the peer left, a drain was asked for) and carries out what it answers (an *action*: run this
/// handler, write, watch for this, arm the timer, close, linger). Every decision about the
/// protocol is made here; every syscall and every call into application code is made there.
///
/// The states (what the connection waits for):
///
/// | state               | waiting for                                   | timeout  |
/// |---------------------|-----------------------------------------------|----------|
/// | `idle`              | the next request (or a new connection's first)| idle / header |
/// | `readingHead`       | the rest of a request head                    | header   |
/// | `readingBody`       | the rest of a body the handler gets whole     | body     |
/// | `streamingBody`     | body pieces for a handler that takes them     | body     |
/// | `bodyPaused`        | the handler to resume a paused body           | —        |
/// | `awaitingResponse`  | a handler that deferred its answer            | —        |
/// | `streamingResponse` | a handler writing its response in pieces      | —        |
/// | `closing`           | its last response to be written, then close   | write    |
/// | `lingering`         | the client to close after our side shut down  | linger   |
/// | `upgraded`          | its hand-off to another protocol              | write    |
/// | `closed`            | nothing: the record is gone                   | —        |
///
/// Output the socket would not take (`writeBlocked`) adds the write timeout to any state.
/// Draining (for shutdown or reload) is a mode, not a state: `draining` makes the next response
/// the last one.
///
/// Reading requests goes through a `RequestPass` (bytes and a parser, owned by the driver):
/// `nextRequest` parses, `routed` decides how the body is read, `handled` takes the handler's
/// answer; a body taken piece by piece goes through `nextBodyPiece` and `pieceDelivered`.
///
/// Threading: a value inside the connection's record, touched by its reactor only.
/// Cost: 48 bytes; every method is a few compares and stores (parsing aside).
@_spi(GustInternal) public struct ConnectionMachine: Sendable {
    public enum State: UInt8, Sendable {
        case idle, readingHead, readingBody, streamingBody, bodyPaused
        case awaitingResponse, streamingResponse
        case closing, lingering, upgraded, closed
    }

    public struct Flags: OptionSet, Sendable {
        public var rawValue: UInt16
        @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// Close by lingering (shut down our side, drain the client) rather than at once: after
        /// an error response, or when unread bytes would otherwise turn the close into a reset.
        @inlinable public static var lingerOnClose: Flags { Flags(rawValue: 1) }
        /// The answer being waited for (deferred, streamed, or at the end of a streamed body)
        /// keeps the connection open.
        @inlinable public static var answerKeepAlive: Flags { Flags(rawValue: 2) }
        /// That answer is to a HEAD request.
        @inlinable public static var answerIsHead: Flags { Flags(rawValue: 4) }
        /// That answer is to an HTTP/1.0 request.
        @inlinable public static var answerIsHTTP10: Flags { Flags(rawValue: 8) }
        /// The current request's `100 Continue` went out.
        @inlinable public static var continueSent: Flags { Flags(rawValue: 16) }
        /// Output is waiting for the socket to take it.
        @inlinable public static var writeBlocked: Flags { Flags(rawValue: 32) }
        /// Draining: no request after the current one; the next response says `Connection: close`.
        @inlinable public static var draining: Flags { Flags(rawValue: 64) }
        /// The connection's timer is armed, for `timerAt`.
        @inlinable public static var timerArmed: Flags { Flags(rawValue: 128) }
        /// The client shut down its sending side (a half-close) while the connection was not
        /// reading: what it sent is still to be read; it is not watched for reading meanwhile.
        @inlinable public static var peerFinished: Flags { Flags(rawValue: 256) }
        /// Blocked output is timed by what the client acknowledged (TCP), not by what the kernel
        /// took: a large send buffer would otherwise count as read by a client that reads nothing.
        @inlinable public static var deliveryMeasured: Flags { Flags(rawValue: 512) }
    }

    // The state is the machine's own: read through the getters below, written only by its
    // methods (stored `@usableFromInline` so that the hot methods can be inlined into the driver).
    @usableFromInline var _state: State = .idle
    @usableFromInline var _flags: Flags = []
    @usableFromInline var _requests: UInt32 = 0
    @usableFromInline var _sequence: UInt32 = 0
    @usableFromInline var _discarded: UInt32 = 0
    @usableFromInline var _since: Int64
    @usableFromInline var _timerAt: Int64 = 0
    /// The minimum-data-rate deadline of the transfer under way (0: none started): while output
    /// is blocked, the instant by which the client must have read what it was sent at the
    /// minimum response rate; while a body arrives, likewise for the body. It starts a grace
    /// period ahead and each byte that moves pushes it later by 1/rate seconds.
    @usableFromInline var _rateDeadline: Int64 = 0
    /// While output is blocked on a TCP socket: the bytes the client had acknowledged when the
    /// rate deadline was last brought up to date (the kernel's count, `deliveryMeasured`).
    @usableFromInline var _deliveredMark: UInt64 = 0

    public var state: State { _state }
    public var flags: Flags { _flags }
    /// Requests handed to a handler so far.
    public var requests: UInt32 { _requests }
    /// Names the current deferred answer or response stream; bumped when one starts, so a late
    /// answer for an earlier one is recognised.
    public var sequence: UInt32 { _sequence }
    /// Bytes read and thrown away while lingering.
    public var discarded: UInt32 { _discarded }
    /// When the current wait started (monotonic ns): the accept, the first byte of a request
    /// head, the last body bytes, the last write progress, the start of lingering.
    public var since: Int64 { _since }
    /// When the armed timer fires (meaningful with `.timerArmed`).
    public var timerAt: Int64 { _timerAt }
    /// The minimum-data-rate deadline of the body or the blocked output under way (0: none).
    public var rateDeadline: Int64 { _rateDeadline }

    /// A new connection, accepted at `now`: its first request's head is due within the header
    /// timeout from the accept.
    public init(acceptedAt now: Int64) {
        _since = now
    }

    /// Whether the connection waits for the answer named `sequence` (deferred, or streamed).
    public func isAnswering(_ sequence: UInt32) -> Bool {
        (_state == .awaitingResponse || _state == .streamingResponse) && _sequence == sequence
    }

    /// Whether the connection waits for the deferred answer named `sequence`.
    public func isAwaiting(_ sequence: UInt32) -> Bool {
        _state == .awaitingResponse && _sequence == sequence
    }

    public func isStreamingResponse(_ sequence: UInt32) -> Bool {
        _state == .streamingResponse && _sequence == sequence
    }

    /// The facts an answer given after the handler returned is encoded with. Its sequence is
    /// the awaited one for a deferred answer (or a stream it starts), and the next one for an
    /// answer from a body's piece or end (the request's own turn, not yet counted).
    public var pendingAnswer: AnswerContext {
        let awaited = _state == .awaitingResponse || _state == .streamingResponse
        return AnswerContext(
            keepAlive: _flags.contains(.answerKeepAlive) && !_flags.contains(.draining),
            isHead: _flags.contains(.answerIsHead), version: _flags.contains(.answerIsHTTP10) ? .http1_0 : .http1_1,
            sequence: awaited ? _sequence : _sequence &+ 1)
    }

    @inlinable public mutating func setAnswer(_ context: AnswerContext) {
        _flags.remove([.answerKeepAlive, .answerIsHead, .answerIsHTTP10])
        if context.keepAlive { _flags.insert(.answerKeepAlive) }
        if context.isHead { _flags.insert(.answerIsHead) }
        if case .http1_0 = context.version { _flags.insert(.answerIsHTTP10) }
    }


}

/// What a response is encoded with: whether the connection stays open after it, whether it
/// answers a HEAD request, the request's version, and the sequence a deferral or a response
/// stream started by its handler will carry.
@_spi(GustInternal) public struct AnswerContext: Sendable, Equatable {
    public var keepAlive: Bool
    public var isHead: Bool
    public var version: HTTPVersion
    public var sequence: UInt32

    @inlinable public init(keepAlive: Bool, isHead: Bool, version: HTTPVersion, sequence: UInt32) {
        self.keepAlive = keepAlive
        self.isHead = isHead
        self.version = version
        self.sequence = sequence
    }
}

/// The rules every connection of a server follows: request limits, timeouts (nanoseconds,
/// clamped so that no deadline computed from them overflows), pipelining and lingering budgets.
@_spi(GustInternal) public struct ConnectionRules: Sendable {
    public var limits: RequestLimits
    public var headerTimeout: Int64
    public var bodyTimeout: Int64
    public var idleTimeout: Int64
    public var writeTimeout: Int64
    public var lingerTimeout: Int64
    /// Requests served from one connection per turn (the rest wait for the other connections).
    public var maxPipelinedRequests: Int
    /// Requests per connection before it is closed; 0 for no limit.
    public var maxRequestsPerConnection: Int
    /// The most bytes a lingering connection may send before it is closed outright.
    public var lingerByteBudget: Int
    /// The slowest a request body may arrive, on average, once its grace period is over (408
    /// and close below it); nil for no minimum.
    public var minimumBodyRate: DataRate?
    /// The slowest a client may read output the server is holding for it, on average, once its
    /// grace period is over (closed below it); nil for no minimum.
    public var minimumResponseRate: DataRate?

    /// The longest timeout kept (about 73 years): a deadline is `since + timeout`, and `since`
    /// is a monotonic reading far below this.
    public static let maximumTimeout = Int64.max / 4

    public init(
        limits: RequestLimits = RequestLimits(), headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60), writeTimeout: Duration = .seconds(30), lingerTimeout: Duration = .seconds(2),
        maxPipelinedRequests: Int = 64, maxRequestsPerConnection: Int = 0, lingerByteBudget: Int = 1 << 20,
        minimumBodyRate: DataRate? = nil, minimumResponseRate: DataRate? = nil
    ) {
        func clamp(_ d: Duration) -> Int64 { min(max(d.nanoseconds, 1), Self.maximumTimeout) }
        self.limits = limits
        self.headerTimeout = clamp(headerTimeout)
        self.bodyTimeout = clamp(bodyTimeout)
        self.idleTimeout = clamp(idleTimeout)
        self.writeTimeout = clamp(writeTimeout)
        self.lingerTimeout = clamp(lingerTimeout)
        self.maxPipelinedRequests = max(1, maxPipelinedRequests)
        self.maxRequestsPerConnection = max(0, maxRequestsPerConnection)
        self.lingerByteBudget = max(0, lingerByteBudget)
        self.minimumBodyRate = minimumBodyRate
        self.minimumResponseRate = minimumResponseRate
    }
}

/// A minimum data rate: `bytesPerSecond` on average, enforced once `grace` has passed since
/// the transfer began (Kestrel's defaults are 240 bytes/s after 5 s). A transfer is a request
/// body, or a stretch of time during which the socket does not take the server's output.
@_spi(GustInternal) public struct DataRate: Sendable, Equatable {
    public var bytesPerSecond: Int64
    /// Nanoseconds.
    public var grace: Int64

    public init(bytesPerSecond: Int, grace: Duration) {
        self.bytesPerSecond = Int64(max(1, bytesPerSecond))
        self.grace = min(max(grace.nanoseconds, 0), ConnectionRules.maximumTimeout)
    }

    /// How much later the deadline moves for `bytes` more (nanoseconds, saturating).
    @inlinable public func credit(_ bytes: Int) -> Int64 {
        let n = Int64(max(0, bytes))
        let whole = (n / bytesPerSecond).multipliedReportingOverflow(by: 1_000_000_000)
        if whole.overflow { return ConnectionRules.maximumTimeout }
        let rest = n % bytesPerSecond  // < bytesPerSecond, which may be huge: no unchecked product
        let (scaled, overflow) = rest.multipliedReportingOverflow(by: 1_000_000_000)
        let fraction = overflow ? Int64(Double(rest) / Double(bytesPerSecond) * 1e9) : scaled / bytesPerSecond
        return min(whole.partialValue.addingSaturating(fraction), ConnectionRules.maximumTimeout)
    }
}
