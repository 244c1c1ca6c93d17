@_spi(GustInternal) import GustIO

/// What `gust bench ws` is asked to do.
///
/// - `hold`: open the connections (paced), keep them open for the run with a ping every
///   `pingInterval` from each (the round trip is measured), and count what closes.
/// - `echo`: each connection sends a message and waits for it to come back (closed loop), or
///   messages go out at `rate` per second over all connections (open loop, latency from each
///   message's intended send time).
/// - `broadcast`: every connection subscribes (the URL names a topic route, e.g. Gust's
///   `/ws/topic/NAME`); one connection publishes `rate` messages per second; each delivery's
///   latency is measured, and per publication the time until its last subscriber had it.
public struct WebSocketBenchConfiguration: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case hold, echo, broadcast }

    public var host: String
    public var port: Int
    /// The request target, e.g. "/ws/echo".
    public var path: String
    public var mode: Mode = .hold
    public var connections = 100
    public var reactors = 1
    public var duration: Duration = .seconds(10)
    /// New connections per second (this process's share; nil: all at once).
    public var connectRate: Int?
    public var sources: [SocketAddress] = []
    /// `hold`: a ping from each connection this often (nil: none).
    public var pingInterval: Duration? = .seconds(1)
    /// Bytes per message (at least 16: the timestamps).
    public var messageSize = 32
    /// `echo`: messages per second (open loop; nil: closed loop). `broadcast`: publications per
    /// second.
    public var rate: Int?
    /// A handshake, ping or echo unanswered this long counts as a timeout.
    public var timeout: Duration = .seconds(10)
    /// `broadcast`: when publishing starts, after the start (subscribers connect first).
    public var publishAfter: Duration = .seconds(1)
    /// This process's first connection's number among all processes' (workers of a run split
    /// over processes), and whether it is the one that publishes.
    public var firstConnection = 0
    public var publishes = true
    /// When the run starts (monotonic nanoseconds; shared by the processes of one run).
    public var startAt: Int64?

    public init(url: String) throws(BenchRun.Failure) {
        guard url.hasPrefix("ws://") else { throw BenchRun.Failure(description: "the URL must start with ws:// (wss is not supported)") }
        let rest = url.dropFirst(5)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw BenchRun.Failure(description: "bad port in \(url)")
            }
            port = p
        } else {
            host = String(authority)
            port = 80
        }
        guard !host.isEmpty else { throw BenchRun.Failure(description: "no host in \(url)") }
        if host == "localhost" { host = "127.0.0.1" }
    }

    public var url: String { "ws://\(host):\(port)\(path)" }

    public func validate() throws(BenchRun.Failure) {
        guard connections >= 1 else { throw BenchRun.Failure(description: "-c must be at least 1") }
        guard reactors >= 1 && reactors <= 256 else { throw BenchRun.Failure(description: "-t must be 1...256") }
        guard messageSize >= 16 && messageSize <= 16 << 20 else { throw BenchRun.Failure(description: "--size must be 16 bytes ... 16 MiB") }
        if let rate, rate < 1 { throw BenchRun.Failure(description: "--rate must be positive") }
        if let connectRate, connectRate < 1 { throw BenchRun.Failure(description: "--connect-rate must be positive") }
        guard duration > .zero else { throw BenchRun.Failure(description: "-d must be positive") }
    }
}
