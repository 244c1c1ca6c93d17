@_spi(GustInternal) import GustCore

/// One WebSocket connection, in its reactor's slab: the protocol state, the descriptor, the
/// timer, and pointers to leases held only while bytes are in flight (a partial frame or
/// message in; output the client has not taken). An idle connection holds no buffer.
///
/// Threading: its reactor's thread only.
struct WebSocketRecord {
    var machine: WebSocketMachine
    let fd: Int32
    var flags: WebSocketFlags = []
    var timer: TimerID = .none
    /// A partial frame header or control frame, and a message being joined; nil when idle.
    var input: UnsafeMutablePointer<WebSocketInput>?
    /// Output the socket did not take yet (the connection is then not read).
    var output: UnsafeMutablePointer<ByteBuffer>?
    let route: AnyWebSocketRoute
    /// The handler's per-connection value (boxed), or the async tier's bridge; nil for `Void`.
    var context: AnyObject?
    /// The topics it is subscribed to (on this reactor).
    var topics: [String] = []
    /// A ping that went out behind data the client had not taken yet: what the client had
    /// acknowledged then (TCP_INFO; 0: not measured), and what it will have acknowledged once
    /// the ping itself has reached it.
    var ackedAtPing: UInt64 = 0
    var pingDeliveredAt: UInt64 = 0
}

struct WebSocketFlags: OptionSet {
    var rawValue: UInt16
    /// Close TCP once the output is written (the close handshake is over).
    static let closeWhenFlushed = WebSocketFlags(rawValue: 1 << 0)
    /// Send FIN once the output is written, then read and drop until the client closes too
    /// (after failing the connection: its close frame must not be lost to a reset).
    static let lingerWhenFlushed = WebSocketFlags(rawValue: 1 << 1)
    static let lingering = WebSocketFlags(rawValue: 1 << 2)
    /// Queued for a flush after the application code that wrote to it returns.
    static let queued = WebSocketFlags(rawValue: 1 << 3)
    /// Its queue went over `maxQueuedBytes`: closed at the next flush.
    static let overflowed = WebSocketFlags(rawValue: 1 << 4)
    /// `onClose` has been called: nothing more is sent or delivered.
    static let finished = WebSocketFlags(rawValue: 1 << 5)
    /// Watched for writing (output pending), not reading.
    static let watchingWrites = WebSocketFlags(rawValue: 1 << 6)
    /// Not read for now (its async handler's queue is full); watched for nothing then.
    static let paused = WebSocketFlags(rawValue: 1 << 7)
    static let watchingNothing = WebSocketFlags(rawValue: 1 << 8)
    /// Bytes went out since the client was last heard: a ping may wait behind them.
    static let sentSinceHeard = WebSocketFlags(rawValue: 1 << 9)
}

/// What a connection keeps only while a frame or a message is part-way through.
struct WebSocketInput: ~Copyable {
    /// Bytes not yet understood: a partial frame header, or a partial control frame (at most
    /// 139 bytes).
    var tail = ByteBuffer(capacity: 256)
    /// The message joined so far (fragments, or a frame spread over reads).
    var message = ByteBuffer(capacity: 4096)
}
