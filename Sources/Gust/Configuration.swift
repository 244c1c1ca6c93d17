@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO
import Logging

/// Everything a `Server` needs to know before it starts. Defaults suit a production server on
/// a small machine; every limit is documented where it is enforced.
public struct ServerConfiguration: Sendable {
    /// Address to listen on: an IPv4 or IPv6 literal or a host name. Default 127.0.0.1.
    public var host: String = "127.0.0.1"
    /// Port to listen on; 0 picks a free port (see `Server.port`). Default 8080.
    public var port: Int = 8080
    /// Reactor threads, each with its own SO_REUSEPORT listener. Default: one per available CPU.
    public var reactors: Int = System.availableCPUs()
    /// Worker processes `Server.run` starts under a supervisor (prefork; see `Supervisor`):
    /// each is this program again, serving with its own `reactors` on listeners the supervisor
    /// bound; one that dies is replaced. 1 (default): no supervisor, this process serves.
    /// Only `Server.run` honours it.
    public var processes = 1
    /// Take the listening sockets this process was handed instead of binding `host:port`: by a
    /// reloading Gust server or a prefork supervisor (`GUST_CONTROL_FD`), or by systemd socket
    /// activation (`LISTEN_FDS`). Default true.
    public var inheritListeners = true
    /// `Server.run` starts a new process of the current binary on SIGUSR2, hands it every
    /// listening socket, and drains once it is serving (zero-downtime reload). Default true.
    public var reloadOnSIGUSR2 = true
    /// After a reload, the old process drains as a lame duck: its keep-alive connections close
    /// once idle this long, or after their next request (answered with `Connection: close`), so
    /// that a client about to reuse one is answered rather than meeting a close. Default 1 s.
    public var reloadIdleGrace: Duration = .seconds(1)
    /// How long a reload waits for the new process to say it is serving before giving up on it
    /// (it is killed, this process keeps serving). Default 30 s.
    public var reloadTimeout: Duration = .seconds(30)
    /// Listen backlog (capped by the kernel at net.core.somaxconn). Default 4096.
    public var backlog: Int = 4096
    /// Request size limits (414, 431, 413).
    public var limits = RequestLimits()
    /// The most connections one reactor holds; past it, new connections are closed at once.
    /// Default: the process's descriptor limit.
    public var maxConnectionsPerReactor: Int = System.fileDescriptorLimit()
    /// The most connections the process holds open (one count shared by its reactors). At the
    /// limit the reactors stop accepting until a connection closes: new clients wait in the kernel's listen backlog
    /// (connected as far as TCP goes, not yet read), and once that is full the kernel drops
    /// their SYNs and they retry. Nobody is refused or reset; memory stays bounded by the
    /// backlog. Logged at most every 10 s per reactor; counted in `ServerStats.acceptPauses`.
    /// nil (default): only `maxConnectionsPerReactor` and the descriptor limit bound it.
    public var maxConnections: Int? = nil
    /// New connections accepted per second (a token bucket shared evenly by the reactors).
    /// Past it, accepting pauses until the next token is due; clients wait in the backlog as
    /// above. nil (default): no limit.
    public var connectionRate: RateLimit? = nil
    /// Requests per second from one client address (an IPv4 address, or an IPv6 /64), over all
    /// its connections and reactors. Past it, the request is answered `429 Too Many Requests`
    /// with `Retry-After` (seconds until a token is due) before any handler runs; a request
    /// with a body is answered at its head and the connection closes after (the body is not
    /// read). nil (default): no limit.
    public var requestRatePerClient: RateLimit? = nil
    /// Client addresses `requestRatePerClient` keeps track of at once (16 bytes each, fixed
    /// at start). A client whose bucket has refilled needs no entry; when a neighbourhood of
    /// the table is full, the client closest to a full bucket is forgotten. Default 65,536.
    public var rateLimitedClients: Int = 65536
    /// Bytes of the per-reactor read buffer that every read lands in. Default 64 KiB.
    public var readBufferSize: Int = 64 * 1024
    /// Initial size of the buffer a connection leases while it holds a partial request; it grows
    /// (up to the request limits) only for larger requests. Default 1 KiB (nginx's
    /// client_header_buffer_size): a slow client's partial head costs little.
    public var inputLeaseSize: Int = 1024
    /// Output bytes gathered from one batch of pipelined requests before they are written
    /// without waiting for the batch to end. Default 256 KiB.
    public var flushThreshold: Int = 256 * 1024
    /// How long a connection closed after an error keeps reading (and discarding) what the
    /// client still sends, so that the error response is not destroyed by a TCP reset. Default 2 s.
    public var lingerTimeout: Duration = .seconds(2)
    /// Time a client has to send a whole request head, from its first byte (from the accept
    /// for a connection's first request); past it, 408 and close. Slowloris defense. Default 10 s.
    public var headerTimeout: Duration = .seconds(10)
    /// Longest wait for the next bytes of a request body; past it, 408 and close. Default 30 s.
    public var bodyTimeout: Duration = .seconds(30)
    /// How long a keep-alive connection may sit between requests before it is closed (quietly).
    /// Default 60 s.
    public var idleTimeout: Duration = .seconds(60)
    /// How long output may wait on a client that does not read (no byte written) before the
    /// connection is closed and everything it holds freed. Default 30 s.
    public var writeTimeout: Duration = .seconds(30)
    /// The slowest a request body may arrive: on average over the body so far, once its grace
    /// period is over; below it, 408 and close (a streaming body handler hears `.tooSlow`).
    /// Time the handler keeps the body paused does not count. Trickling clients (slowhttptest's
    /// slow-body mode) cannot hold a connection: the body timeout alone restarts with every
    /// byte. Default 240 bytes/s after 5 s (Kestrel's); nil for no minimum.
    public var minimumBodyRate: MinimumDataRate? = MinimumDataRate(bytesPerSecond: 240, grace: .seconds(5))
    /// The slowest a client may read output the server holds for it (the socket would not
    /// take it): on average over the time the output has been waiting, once the grace period is
    /// over; below it, the connection is closed and its buffers freed (slowhttptest's slow-read
    /// mode). Output the socket takes at once is never timed. Default 240 bytes/s after 5 s;
    /// nil for no minimum.
    public var minimumResponseRate: MinimumDataRate? = MinimumDataRate(bytesPerSecond: 240, grace: .seconds(5))
    /// Requests served on one connection before the server closes it (`Connection: close` on the
    /// last one); 0 for no limit. Default 0.
    public var maxRequestsPerConnection: Int = 0
    /// Pipelined requests served from one connection in one turn; the rest wait until the other
    /// connections ready in the same loop iteration have had theirs. Default 64.
    public var maxPipelinedRequests: Int = 64
    /// How long a graceful stop (`Server.run` on SIGTERM/SIGINT, `stopGracefully`) waits for
    /// the exchanges under way to finish before closing what is left. Default 30 s.
    public var shutdownGracePeriod: Duration = .seconds(30)
    /// The `Server` header value. Default "Gust".
    public var serverName: String = "Gust"
    /// How long an async handler may take before it is cancelled and answered with
    /// `deadlineStatus` (a route's `RouteOptions.deadline` overrides it); nil for no deadline.
    /// Default 60 s.
    public var handlerDeadline: Duration? = .seconds(60)
    /// The answer to a request whose async handler missed its deadline. Default 503.
    public var deadlineStatus: HTTPStatus = .serviceUnavailable
    /// A reactor loop iteration running longer than this is logged as a warning naming the
    /// route that ran last (a handler blocking its reactor by mistake: blocking work belongs in
    /// `offload` or an async handler). Checked by a watchdog thread; nil turns it off.
    /// Default 100 ms.
    public var blockedReactorWarning: Duration? = .milliseconds(100)
    /// Where the server logs: handler errors (with the request id), deadlines missed.
    /// Default: swift-log's bootstrapped handler, label "gust".
    public var logger = Logger(label: "gust")

    public init() {}

    /// Checks the values make sense together; the message names the first one that does not.
    public func validate() throws(ConfigurationError) {
        guard (0...65535).contains(port) else { throw ConfigurationError("port must be 0...65535, not \(port)") }
        guard reactors >= 1 && reactors <= 1024 else { throw ConfigurationError("reactors must be 1...1024, not \(reactors)") }
        guard backlog >= 1 else { throw ConfigurationError("backlog must be positive") }
        guard maxConnectionsPerReactor >= 1 else { throw ConfigurationError("maxConnectionsPerReactor must be positive") }
        guard readBufferSize >= 1024 else { throw ConfigurationError("readBufferSize must be at least 1024") }
        guard inputLeaseSize >= 256 else { throw ConfigurationError("inputLeaseSize must be at least 256") }
        guard flushThreshold >= 1024 else { throw ConfigurationError("flushThreshold must be at least 1024") }
        for (name, timeout) in [("headerTimeout", headerTimeout), ("bodyTimeout", bodyTimeout), ("idleTimeout", idleTimeout),
                                ("writeTimeout", writeTimeout), ("lingerTimeout", lingerTimeout)] {
            guard timeout > .zero else { throw ConfigurationError("\(name) must be positive") }
        }
        guard processes >= 1 && processes <= 256 else { throw ConfigurationError("processes must be 1...256, not \(processes)") }
        guard processes * reactors <= 1024 else { throw ConfigurationError("processes × reactors must be at most 1024") }
        guard reloadIdleGrace >= .zero else { throw ConfigurationError("reloadIdleGrace must not be negative") }
        guard reloadTimeout > .zero else { throw ConfigurationError("reloadTimeout must be positive") }
        guard shutdownGracePeriod >= .zero else { throw ConfigurationError("shutdownGracePeriod must not be negative") }
        if let handlerDeadline, handlerDeadline <= .zero { throw ConfigurationError("handlerDeadline must be positive") }
        if let blockedReactorWarning, blockedReactorWarning < .milliseconds(2) {
            throw ConfigurationError("blockedReactorWarning must be at least 2 ms")
        }
        for (name, rate) in [("minimumBodyRate", minimumBodyRate), ("minimumResponseRate", minimumResponseRate)] {
            guard let rate else { continue }
            guard rate.bytesPerSecond >= 1 else { throw ConfigurationError("\(name).bytesPerSecond must be positive") }
            guard rate.grace >= .zero else { throw ConfigurationError("\(name).grace must not be negative") }
        }
        if let maxConnections, maxConnections < 1 { throw ConfigurationError("maxConnections must be positive") }
        for (name, limit) in [("connectionRate", connectionRate), ("requestRatePerClient", requestRatePerClient)] {
            guard let limit else { continue }
            guard limit.perSecond >= 1e-6 && limit.perSecond.isFinite else {
                throw ConfigurationError("\(name).perSecond must be at least 0.000001 (one in 11 days)")
            }
            guard limit.burst >= 1 else { throw ConfigurationError("\(name).burst must be at least 1") }
        }
        guard rateLimitedClients >= 1 && rateLimitedClients <= 1 << 26 else {
            throw ConfigurationError("rateLimitedClients must be 1...\(1 << 26)")
        }
        guard maxRequestsPerConnection >= 0 else { throw ConfigurationError("maxRequestsPerConnection must not be negative") }
        guard maxPipelinedRequests >= 1 else { throw ConfigurationError("maxPipelinedRequests must be at least 1") }
        guard serverName.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7f }) else {
            throw ConfigurationError("serverName must not contain control characters")
        }
    }
}

/// A rate as a token bucket: `perSecond` on average, up to `burst` at once after a quiet spell.
public struct RateLimit: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Int

    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }
}

/// A minimum data rate a client must keep up: `bytesPerSecond` on average, enforced once
/// `grace` has passed since the transfer began.
public struct MinimumDataRate: Sendable, Equatable {
    public var bytesPerSecond: Int
    public var grace: Duration

    public init(bytesPerSecond: Int, grace: Duration) {
        self.bytesPerSecond = bytesPerSecond
        self.grace = grace
    }
}

/// A configuration value that cannot work.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
