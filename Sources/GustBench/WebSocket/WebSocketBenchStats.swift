import Histogram

/// The kinds of failure `gust bench ws` counts.
public enum WebSocketBenchError: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// TCP could not be established.
    case connect
    /// The server did not answer the upgrade with a valid `101` (or not within the timeout).
    case handshake
    /// An open connection was closed by the server (a close frame, end of stream or a reset)
    /// before the run's end.
    case closed
    /// A ping or echo was not answered within the timeout.
    case timeout
    /// The server sent something that is not WebSocket.
    case protocolError

    public var description: String {
        switch self {
        case .connect: "connect"
        case .handshake: "handshake"
        case .closed: "closed"
        case .timeout: "timeout"
        case .protocolError: "protocol"
        }
    }
}

/// What one reactor (or process) measured; merged at the end. Latencies in nanoseconds.
public struct WebSocketBenchStats: Sendable, Codable {
    /// From starting the TCP connect to the `101`.
    public var handshake: Histogram<UInt64>
    /// Ping round trips (`hold`).
    public var ping: Histogram<UInt64>
    /// Echo latency from each message's intended send time, and from when it was written.
    public var echo: Histogram<UInt64>
    public var echoUncorrected: Histogram<UInt64>
    /// `broadcast`: publication to delivery, every delivery.
    public var delivery: Histogram<UInt64>
    /// `broadcast`: per publication (its sequence number), the latest delivery seen.
    public var lastDelivery: [UInt64: Int64] = [:]
    public var attempted = 0
    public var opened = 0
    /// Open when the run ended.
    public var openAtEnd = 0
    public var messagesSent = 0
    public var messagesReceived = 0
    public var pingsSent = 0
    public var pongsReceived = 0
    /// Pings the server sent (its heartbeat), each answered.
    public var serverPings = 0
    public var published = 0
    public var errors = [Int](repeating: 0, count: WebSocketBenchError.allCases.count)
    /// Monotonic times of the first and last `101`.
    public var firstOpen: Int64 = 0
    public var lastOpen: Int64 = 0

    public init() {
        handshake = Histogram(lowestDiscernibleValue: 1, highestTrackableValue: BenchStats.highestLatency, numberOfSignificantValueDigits: .three)
        ping = handshake
        echo = handshake
        echoUncorrected = handshake
        delivery = handshake
    }

    public func errors(_ kind: WebSocketBenchError) -> Int { errors[kind.rawValue] }
    public var totalErrors: Int { errors.reduce(0, +) }
    mutating func count(_ kind: WebSocketBenchError) { errors[kind.rawValue] += 1 }

    public mutating func merge(_ o: WebSocketBenchStats) {
        handshake.add(o.handshake)
        ping.add(o.ping)
        echo.add(o.echo)
        echoUncorrected.add(o.echoUncorrected)
        delivery.add(o.delivery)
        for (seq, t) in o.lastDelivery { lastDelivery[seq] = max(lastDelivery[seq] ?? 0, t) }
        attempted += o.attempted
        opened += o.opened
        openAtEnd += o.openAtEnd
        messagesSent += o.messagesSent
        messagesReceived += o.messagesReceived
        pingsSent += o.pingsSent
        pongsReceived += o.pongsReceived
        serverPings += o.serverPings
        published += o.published
        for i in errors.indices { errors[i] += o.errors[i] }
        firstOpen = firstOpen == 0 ? o.firstOpen : (o.firstOpen == 0 ? firstOpen : min(firstOpen, o.firstOpen))
        lastOpen = max(lastOpen, o.lastOpen)
    }

    /// Per publication, the time until its last subscriber had it.
    public var lastDeliveryHistogram: Histogram<UInt64> {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: BenchStats.highestLatency, numberOfSignificantValueDigits: .three)
        for t in lastDelivery.values { _ = h.record(UInt64(clamping: max(t, 1))) }
        return h
    }
}
