@_spi(GustInternal) import GustCore
@_exported import GustWebSocket

/// How a WebSocket route treats its connections. Every limit has a default a public server
/// can live with.
public struct WebSocketOptions: Sendable {
    /// The largest frame a client may send (its payload); past it, close with 1009.
    public var maxFrameSize: Int = 1 << 20
    /// The largest message (all its fragments); past it, close with 1009.
    public var maxMessageSize: Int = 1 << 20
    /// Ping a connection that has been silent this long; nil: never (then dead peers are
    /// noticed only when TCP gives up on them).
    public var pingInterval: Duration? = .seconds(30)
    /// How long an unanswered ping waits (nothing heard since it went) before the connection
    /// is closed as dead.
    public var pongTimeout: Duration = .seconds(10)
    /// Each wait is shortened by up to this fraction of `pingInterval`, at random, so that
    /// connections opened together ping at different times. 0 to 0.9.
    public var pingJitter: Double = 0.1
    /// After sending a close frame, how long to wait for the client's before closing TCP.
    public var closeTimeout: Duration = .seconds(5)
    /// The most output a connection may have queued (unread by a slow client); past it the
    /// connection is closed (a reset: its queue is dropped), so that no subscriber holds
    /// memory hostage. Counted in `ServerStats`.
    public var maxQueuedBytes: Int = 1 << 20
    /// Subprotocols this route speaks, preferred in the client's order (`Sec-WebSocket-Protocol`);
    /// empty: none is agreed to.
    public var subprotocols: [String] = []
    /// Decides on the `Origin` header (nil when absent): false answers 403. nil accepts any
    /// (browsers send Origin; other clients usually do not).
    public var allowOrigin: (@Sendable (String?) -> Bool)?

    public init() {}

    public init(
        maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 1 << 20, pingInterval: Duration? = .seconds(30),
        pongTimeout: Duration = .seconds(10), pingJitter: Double = 0.1, closeTimeout: Duration = .seconds(5),
        maxQueuedBytes: Int = 1 << 20, subprotocols: [String] = [], allowOrigin: (@Sendable (String?) -> Bool)? = nil
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.pongTimeout = pongTimeout
        self.pingJitter = pingJitter
        self.closeTimeout = closeTimeout
        self.maxQueuedBytes = maxQueuedBytes
        self.subprotocols = subprotocols
        self.allowOrigin = allowOrigin
    }

    var limits: MessageLimits {
        MessageLimits(maxFrame: max(0, maxFrameSize), maxMessage: max(0, maxMessageSize))
    }

    var heartbeat: HeartbeatRules {
        HeartbeatRules(
            interval: pingInterval.map { $0.clampedNanoseconds } ?? 0, timeout: max(1, pongTimeout.clampedNanoseconds),
            jitter: min(0.9, max(0, pingJitter)), closeTimeout: max(1, closeTimeout.clampedNanoseconds))
    }
}

extension Duration {
    /// Nanoseconds, between 0 and a century: a duration of years means "forever", and
    /// `now + it` must not overflow.
    var clampedNanoseconds: Int64 { min(max(0, nanoseconds), 100 * 365 * 86_400 * 1_000_000_000) }
}
