@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO
import Logging

/// The HTTP/1.1 server side of one reactor: the driver of its connections' state machines.
///
/// Each connection's protocol logic is a `ConnectionMachine` (GustHTTP1, pure); this class
/// carries out what the machines decide: it accepts, reads into one shared read buffer, runs
/// the handlers of every complete request in a read, encodes their responses into one output
/// buffer and writes them with one `write`, arms timers, closes. Where the parts are:
///
/// - `HTTPEngine+Events.swift`: readiness and timers from the reactor, to the machines.
/// - `HTTPEngine+Read.swift`: reads, and what a pass over the bytes leaves behind.
/// - `HTTPEngine+Pass.swift`: one pass of a machine over the bytes (requests, bodies).
/// - `HTTPEngine+Handlers.swift`: the only place application code is called from.
/// - `HTTPEngine+Write.swift`, `+Files.swift`: output, `sendfile`, watching and timing.
/// - `HTTPEngine+Close.swift`: closing (idempotent) and lingering.
/// - `HTTPEngine+Work.swift`: what application code asks for later (answers, stream writes).
/// - `HTTPEngine+Drain.swift`, `+Upgrade.swift`: draining, and handing connections off.
///
/// The rule that keeps it simple: application code never runs inside an I/O method, and I/O
/// never runs inside application code. Handlers and callbacks are called from `+Handlers.swift`
/// with no connection pointer held; afterwards the connection is looked up again by slot and
/// generation. What application code asks of a connection (an answer, a stream write, a resume)
/// is queued and carried out by `+Work.swift` once the code has returned.
///
/// Memory: per connection, an 88-byte slab record and one timer-wheel entry; leases only while
/// bytes are in flight. Threading: everything here runs on the reactor's thread; nothing is
/// shared with other reactors except the immutable route table.
final class HTTPEngine: ReactorDelegate {
    unowned let reactor: Reactor
    /// The reactor's number (kept here: reading it through the unowned reference costs a
    /// reference-count check per access).
    let reactorID: Int
    /// The reactor's handle (its job queue, its task executor), likewise kept.
    let handle: ReactorHandle
    /// The reactor's clock, read on the request path without touching the reactor object.
    let clock: UnsafePointer<ReactorClock>
    let routes: RouteTable
    let rules: ConnectionRules
    var limits: RequestLimits { rules.limits }
    /// The listeners this reactor accepts from (usually one of its own; several, or one shared
    /// with other reactors, when they were inherited); none for a server that takes
    /// connections in process only.
    let listeners: [Listener]
    let connections: Slab<Connection>
    let readBuffer: UnsafeMutableRawPointer
    let readBufferSize: Int
    /// Responses being gathered for the current pass; written from a mark, then truncated.
    let output: UnsafeMutablePointer<ByteBuffer>
    /// Parser and header table for requests parsed straight from the read buffer.
    let scratchParser: UnsafeMutablePointer<RequestParser>
    let scratchHeaders: UnsafeMutablePointer<HeaderSlot>
    let dateCache: UnsafeMutablePointer<DateCache>
    let serverLine: UnsafeBufferPointer<UInt8>
    let inputLeaseSize: Int
    let outputLeaseSize: Int
    let flushThreshold: Int
    /// The largest body any route accepts (sizes how far an input lease may grow).
    let maximumBodyBytes: Int
    var inputLeases = LeasePool<InputLease>(maximumCached: HTTPEngine.maximumCachedLeases, warmCount: HTTPEngine.warmCachedLeases)
    var outputLeases = LeasePool<ByteBuffer>(maximumCached: HTTPEngine.maximumCachedLeases, warmCount: HTTPEngine.warmCachedLeases)
    var fileLeases = LeasePool<FileTransfer>(maximumCached: HTTPEngine.maximumCachedLeases, warmCount: HTTPEngine.warmCachedLeases)
    /// Why accepting is paused (`HTTPEngine+Admission`); the listener is watched only when none.
    var acceptBlocks: AcceptBlocks = []
    /// Connection limits, rates and their logging (`HTTPEngine+Admission`).
    var admission: Admission
    /// Each connection's client, by slot index: kept only when a per-client rate is set.
    let clientKeys: UnsafeMutablePointer<ClientKey>?
    /// How long the client of the request being answered 429 must wait (nanoseconds).
    var rateLimitedWait: Int64 = 0
    /// Draining: not accepting; every connection closes after its exchange under way.
    var draining = false
    // Touched on every request, by this reactor's thread only: no dynamic exclusivity checks.
    @exclusivity(unchecked) var counters = EngineCounters()
    /// Bytes of buffers freed (not cached) since the heap was last trimmed, and whether a trim
    /// is scheduled: after a burst of connections goes away, memory returns to the kernel.
    var freedSinceTrim = 0
    var trimScheduled = false
    /// Connections that used up their turn of pipelined requests, to be served again after the
    /// other ready connections (`serveYielded`, made once).
    var yielded: [SlotID] = []
    lazy var resumeYielded: () -> Void = { [unowned self] in serveYielded() }
    /// What application code asked for, carried out once it has returned (`HTTPEngine+Work`).
    var work: [EngineWork] = []
    var workScheduled = false
    lazy var runWork: () -> Void = { [unowned self] in performWork() }
    /// The connection whose deferred answer is running (its packed ID), else 0.
    var answering: UInt64 = 0
    /// Streamed responses under way, by connection.
    var responseStreams: [UInt64: ResponseStream] = [:]
    /// Protocols that connections switch to once their `101` is written, by connection.
    var pendingUpgrades: [UInt64: any UpgradeHandler] = [:]
    /// Descriptors handed to other protocols (`HTTPEngine+Upgrade`), by token.
    var handoffs: [UInt64: UpgradedConnection] = [:]
    var nextHandoffToken: UInt64 = 0
    /// The reactor's WebSocket connections (`WebSocketEngine`), once it has had one.
    var webSocketsIfAny: WebSocketEngine?
    /// The server's topics, shared by its reactors.
    let hub: WebSocketHub
    /// Async handlers' tasks that suspended, by connection (`HTTPEngine+Async`).
    var asyncTasks: [UInt64: AsyncTaskRecord] = [:]
    /// The task being started (a token), and the writer of its request while it starts (nil
    /// once it has answered).
    var startingAsync: UInt64 = 0
    var asyncStarts: UInt64 = 0
    var startingWriter: UnsafeMutablePointer<ResponseWriter>?
    let handlerDeadline: Duration?
    let deadlineStatus: HTTPStatus
    let logger: Logger
    let logging: LoggerBox
    /// Published for the watchdog: the route each handler call runs (`ReactorWatch.tag`).
    let watch: ReactorWatch

    /// Listener `k`'s token is `listenerToken - k` (k < 1024).
    static let listenerToken = UInt64.max - 1
    static let lowestListenerToken = listenerToken - 1023
    /// Tokens with this bit name descriptors handed off to another protocol (a connection's
    /// packed `SlotID` never has it: slab generations use 31 bits).
    static let handoffBit: UInt64 = 1 << 63
    static let maximumCachedLeases = 256
    /// Leases kept cached after a burst is over.
    static let warmCachedLeases = 16

    init(
        reactor: Reactor, listeners: [Listener], routes: RouteTable, configuration: ServerConfiguration,
        clientLimiter: ClientRateLimiter? = nil, connectionLimit: ConnectionLimit? = nil, hub: WebSocketHub = WebSocketHub()
    ) {
        self.hub = hub
        self.reactor = reactor
        reactorID = reactor.id
        handle = reactor.handle
        clock = UnsafePointer(reactor.unsafeClock)
        self.routes = routes
        precondition(listeners.count <= 1024, "at most 1024 listeners per reactor")
        self.listeners = listeners
        rules = configuration.connectionRules
        connections = Slab(maximumCount: configuration.maxConnectionsPerReactor)
        readBufferSize = configuration.readBufferSize
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 64)
        output = .allocate(capacity: 1)
        output.initialize(to: ByteBuffer(capacity: 64 * 1024))
        scratchParser = .allocate(capacity: 1)
        scratchParser.initialize(to: RequestParser())
        scratchHeaders = .allocate(capacity: configuration.limits.maxHeaderCount)
        dateCache = .allocate(capacity: 1)
        dateCache.initialize(to: DateCache(epochSeconds: reactor.wallClockSeconds))
        serverLine = InternedBytes.intern("Server: \(configuration.serverName)\r\n")
        inputLeaseSize = configuration.inputLeaseSize
        outputLeaseSize = 16 * 1024
        flushThreshold = configuration.flushThreshold
        handlerDeadline = configuration.handlerDeadline
        deadlineStatus = configuration.deadlineStatus
        logger = configuration.logger
        logging = LoggerBox(configuration.logger)
        watch = reactor.handle.watch
        admission = Admission(configuration, clients: clientLimiter, limit: connectionLimit)
        if clientLimiter != nil {
            // Virtual memory for every slot; pages are touched only as slots are used.
            let keys = UnsafeMutablePointer<ClientKey>.allocate(capacity: configuration.maxConnectionsPerReactor)
            clientKeys = keys
        } else {
            clientKeys = nil
        }
        maximumBodyBytes = routes.options.reduce(configuration.limits.maxBodyBytes) { max($0, $1.maxBodyBytes ?? 0) }
        for (k, listener) in listeners.enumerated() {
            do {
                try reactor.register(listener.fd, interest: .readable, token: Self.listenerToken - UInt64(k))
            } catch {
                fatalError("reactor \(reactor.id): cannot watch listener \(listener.fd): \(error)")
            }
        }
    }

    deinit {
        clientKeys?.deallocate()
        readBuffer.deallocate()
        output.deinitialize(count: 1)
        output.deallocate()
        scratchParser.deallocate()
        scratchHeaders.deallocate()
        dateCache.deinitialize(count: 1)
        dateCache.deallocate()
    }

    /// Monotonic nanoseconds at the start of this loop iteration. A plain load.
    @inline(__always) var nowNanoseconds: Int64 { clock.pointee.now.nanoseconds }

    /// Brings the cached `Date` line up to this loop iteration's second.
    @inline(__always) func updateDate() {
        dateCache.pointee.update(epochSeconds: clock.pointee.wallClockSeconds)
    }

    /// The payload for a timer that belongs to connection `id`: the slot index and the
    /// generation, cut to 30 bits (payloads with bit 62 set are the WebSocket engine's).
    func timerPayload(_ id: SlotID) -> UInt64 {
        UInt64(id.generation & 0x3fff_ffff) << 32 | UInt64(id.index)
    }

    /// Connections open on this reactor: HTTP ones, and those upgraded to WebSocket or
    /// another protocol.
    var openConnections: Int { connections.count + (webSocketsIfAny?.count ?? 0) + handoffs.count }

    // MARK: Stats

    func snapshot() -> ServerStats.Reactor {
        ServerStats.Reactor(
            id: reactor.id, connections: connections.count, accepted: counters.accepted,
            closed: counters.closed, rejected: counters.rejected, requests: counters.requests,
            badRequests: counters.badRequests, timeouts: counters.timeouts, inputLeases: inputLeases.leased,
            outputLeases: outputLeases.leased, cachedLeases: inputLeases.cachedCount + outputLeases.cachedCount,
            connectionRecordBytes: MemoryLayout<Connection>.stride, pendingTimers: reactor.pendingTimers,
            asyncTasks: asyncTasks.count, handlerErrors: counters.handlerErrors, deadlinesMissed: counters.deadlinesMissed,
            slowClients: counters.slowClients, rateLimited: counters.rateLimited, acceptPauses: counters.acceptPauses,
            webSockets: webSocketsIfAny?.snapshot() ?? ServerStats.WebSockets())
    }
}

/// Counters one engine keeps; plain integers, touched only by its reactor.
struct EngineCounters {
    var accepted = 0
    var closed = 0
    var rejected = 0
    var requests = 0
    var badRequests = 0
    /// Connections closed (or answered 408) because a wait ran out.
    var timeouts = 0
    /// Connections handed to another protocol after an upgrade.
    var upgraded = 0
    /// Handlers that threw something other than an `HTTPError` (answered 500).
    var handlerErrors = 0
    /// Async handlers cancelled and answered at their deadline.
    var deadlinesMissed = 0
    /// Connections closed for sending a body, or reading output, below the minimum rate.
    var slowClients = 0
    /// Requests answered 429 (client over its request rate).
    var rateLimited = 0
    /// Times accepting paused at the connection limit or rate.
    var acceptPauses = 0
}

extension ServerConfiguration {
    /// The rules the connections' state machines follow.
    var connectionRules: ConnectionRules {
        ConnectionRules(
            limits: limits, headerTimeout: headerTimeout, bodyTimeout: bodyTimeout, idleTimeout: idleTimeout,
            writeTimeout: writeTimeout, lingerTimeout: lingerTimeout, maxPipelinedRequests: maxPipelinedRequests,
            maxRequestsPerConnection: maxRequestsPerConnection,
            minimumBodyRate: minimumBodyRate.map { DataRate(bytesPerSecond: $0.bytesPerSecond, grace: $0.grace) },
            minimumResponseRate: minimumResponseRate.map { DataRate(bytesPerSecond: $0.bytesPerSecond, grace: $0.grace) })
    }
}
