import GustCore
import GustHTTP1
import GustIO

/// The HTTP/1.1 server side of one reactor: accepts on the reactor's listener, owns its
/// connections, reads into one shared read buffer, serves every complete request in a read in
/// order, encodes all their responses into one output buffer and writes them with one `write`.
///
/// Memory: per connection, an 80-byte slab record and one timer-wheel entry; a connection leases an input buffer only while
/// it holds a partial request (or requests queued behind a deferred response) and an output
/// buffer only while the socket will not take its responses. Both go back to small per-reactor
/// pools as soon as they are empty.
///
/// Threading: everything here runs on the reactor's thread; nothing is shared with other
/// reactors except the immutable route table.
final class HTTPEngine: ReactorDelegate {
    unowned let reactor: Reactor
    /// The reactor's clock, read on the request path without touching the reactor object.
    let clock: UnsafePointer<ReactorClock>
    let routes: RouteTable
    let limits: RequestLimits
    let listener: Listener
    let connections: Slab<Connection>
    let readBuffer: UnsafeMutableRawPointer
    let readBufferSize: Int
    /// Responses being gathered for the current batch; written from a mark, then truncated.
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
    let maxPipelinedRequests: Int
    let maxRequestsPerConnection: Int
    /// Timeouts in nanoseconds (see HTTPEngine+Timeouts.swift).
    let headerTimeout: Int64
    let bodyTimeout: Int64
    let idleTimeout: Int64
    let writeTimeout: Int64
    let lingerTimeout: Int64
    var freeInputLeases: [UnsafeMutablePointer<InputLease>] = []
    var freeOutputLeases: [UnsafeMutablePointer<ByteBuffer>] = []
    var freeFileLeases: [UnsafeMutablePointer<FileTransfer>] = []
    var acceptPaused = false
    /// Handlers running now (a deferred response completed from inside one waits until after).
    // Touched on every request, by this reactor's thread only: no dynamic exclusivity checks.
    @exclusivity(unchecked) var handlerDepth = 0
    @exclusivity(unchecked) var counters = EngineCounters()
    /// Bytes of buffers freed (not cached) since the heap was last trimmed, and whether a trim
    /// is scheduled: after a burst of connections goes away, memory returns to the kernel.
    var freedSinceTrim = 0
    var trimScheduled = false
    /// Connections that used up their turn of pipelined requests, to be served again after the
    /// other ready connections (`serveYielded`, made once).
    var yielded: [SlotID] = []
    lazy var resumeYielded: () -> Void = { [unowned self] in serveYielded() }
    /// Streamed responses under way, by connection (`ResponseStream`).
    var responseStreams: [UInt64: ResponseStream] = [:]
    /// The body stream a handler just started, until its connection's lease takes it.
    var pendingStream: BodyStream?
    var pendingStreamLimit = 0

    static let listenerToken = UInt64.max - 1
    static let maximumCachedLeases = 256
    /// Leases kept cached after a burst is over.
    static let warmCachedLeases = 16
    /// The most bytes a lingering connection may send before it is closed outright.
    static let lingerByteBudget = 1 << 20

    init(reactor: Reactor, listener: Listener, routes: RouteTable, configuration: ServerConfiguration) {
        self.reactor = reactor
        clock = UnsafePointer(reactor.clock)
        self.routes = routes
        self.listener = listener
        limits = configuration.limits
        connections = Slab(maximumCount: configuration.maxConnectionsPerReactor)
        readBufferSize = configuration.readBufferSize
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 64)
        output = .allocate(capacity: 1)
        output.initialize(to: ByteBuffer(capacity: 64 * 1024))
        scratchParser = .allocate(capacity: 1)
        scratchParser.initialize(to: RequestParser())
        scratchHeaders = .allocate(capacity: limits.maxHeaderCount)
        dateCache = .allocate(capacity: 1)
        dateCache.initialize(to: DateCache(epochSeconds: reactor.wallClockSeconds))
        serverLine = InternedBytes.intern("Server: \(configuration.serverName)\r\n")
        inputLeaseSize = configuration.inputLeaseSize
        outputLeaseSize = 16 * 1024
        flushThreshold = configuration.flushThreshold
        maximumBodyBytes = routes.options.reduce(configuration.limits.maxBodyBytes) { max($0, $1.maxBodyBytes ?? 0) }
        maxPipelinedRequests = configuration.maxPipelinedRequests
        maxRequestsPerConnection = configuration.maxRequestsPerConnection
        headerTimeout = configuration.headerTimeout.nanoseconds
        bodyTimeout = configuration.bodyTimeout.nanoseconds
        idleTimeout = configuration.idleTimeout.nanoseconds
        writeTimeout = configuration.writeTimeout.nanoseconds
        lingerTimeout = configuration.lingerTimeout.nanoseconds
        do {
            try reactor.register(listener.fd, interest: .readable, token: Self.listenerToken)
        } catch {
            fatalError("reactor \(reactor.id): cannot watch the listener: \(error)")
        }
    }

    deinit {
        readBuffer.deallocate()
        output.deinitialize(count: 1)
        output.deallocate()
        scratchParser.deallocate()
        scratchHeaders.deallocate()
        dateCache.deinitialize(count: 1)
        dateCache.deallocate()
        for lease in freeInputLeases {
            lease.deinitialize(count: 1)
            lease.deallocate()
        }
        for lease in freeOutputLeases {
            lease.deinitialize(count: 1)
            lease.deallocate()
        }
        for lease in freeFileLeases { lease.deallocate() }
    }

    /// Monotonic nanoseconds at the start of this loop iteration. A plain load.
    @inline(__always) var nowNanoseconds: Int64 { clock.pointee.now.nanoseconds }

    // MARK: ReactorDelegate

    func reactor(_ reactor: Reactor, ready token: UInt64, events: Events) {
        if token == Self.listenerToken {
            acceptConnections()
            return
        }
        let id = SlotID(packed: token)
        guard let c = connections.pointer(to: id) else { return }  // closed earlier in this batch
        dateCache.pointee.update(epochSeconds: clock.pointee.wallClockSeconds)
        if events.contains(.writable) {
            writeReady(id, c)
            return  // level-triggered: anything else is reported again
        }
        switch c.pointee.phase {
        case .open:
            readAndServe(id, c)
        case .streamingBody:
            if c.pointee.input?.pointee.stream?.isPaused == true { return close(id, c) }  // only a hang-up is watched
            readAndStream(id, c)
        case .lingering:
            readAndDiscard(id, c)
        case .awaiting, .closing:
            // Watching only for the peer leaving (read hang-up, hang-up or error).
            close(id, c)
        }
    }

    func reactor(_ reactor: Reactor, timerFired payload: UInt64) {
        // Connection timers carry the slot index and the low 31 bits of its generation.
        guard let id = connections.id(atIndex: Int(payload & 0xffff_ffff)),
            UInt64(id.generation & 0x7fff_ffff) == payload >> 32,
            let c = connections.pointer(to: id)
        else { return }
        c.pointee.timer = .none
        dateCache.pointee.update(epochSeconds: clock.pointee.wallClockSeconds)
        timeoutFired(id, c)
    }

    func reactorWillStop(_ reactor: Reactor) {
        connections.forEachID { id in
            if let c = connections.pointer(to: id) { close(id, c, reason: .shutdown) }
        }
        reactor.deregister(listener.fd)
    }

    /// The payload for a timer that belongs to connection `id`.
    func timerPayload(_ id: SlotID) -> UInt64 {
        UInt64(id.generation & 0x7fff_ffff) << 32 | UInt64(id.index)
    }

    // MARK: Leases

    /// An input lease with room for at least `capacity` bytes.
    func takeInputLease(capacity: Int) -> UnsafeMutablePointer<InputLease> {
        let lease: UnsafeMutablePointer<InputLease>
        if let cached = freeInputLeases.popLast() {
            lease = cached
        } else {
            lease = .allocate(capacity: 1)
            lease.initialize(to: InputLease(capacity: inputLeaseSize, headerCapacity: limits.maxHeaderCount))
        }
        if lease.pointee.buffer.capacity < capacity { lease.pointee.buffer.grow(minimumCapacity: capacity) }
        counters.inputLeases += 1
        return lease
    }

    func releaseInputLease(_ lease: UnsafeMutablePointer<InputLease>) {
        counters.inputLeases -= 1
        if freeInputLeases.count >= Self.maximumCachedLeases {
            noteFreed(lease.pointee.buffer.capacity + lease.pointee.headerCapacity * MemoryLayout<HeaderSlot>.stride)
            lease.deinitialize(count: 1)
            lease.deallocate()
            return
        }
        if lease.pointee.buffer.capacity > inputLeaseSize {
            lease.pointee.buffer.shrink(to: inputLeaseSize)
        }
        lease.pointee.buffer.clear()
        lease.pointee.parser.pointee.reset()
        lease.pointee.sentContinue = false
        lease.pointee.stream = nil
        freeInputLeases.append(lease)
    }

    /// An output lease holding a copy of `bytes`.
    func takeOutputLease(copying bytes: UnsafeRawBufferPointer) -> UnsafeMutablePointer<ByteBuffer> {
        let lease: UnsafeMutablePointer<ByteBuffer>
        if let cached = freeOutputLeases.popLast() {
            lease = cached
        } else {
            lease = .allocate(capacity: 1)
            lease.initialize(to: ByteBuffer(capacity: outputLeaseSize))
        }
        lease.pointee.append(bytes)
        counters.outputLeases += 1
        return lease
    }

    func releaseOutputLease(_ lease: UnsafeMutablePointer<ByteBuffer>) {
        counters.outputLeases -= 1
        if freeOutputLeases.count >= Self.maximumCachedLeases {
            noteFreed(lease.pointee.capacity)
            lease.deinitialize(count: 1)
            lease.deallocate()
            return
        }
        if lease.pointee.capacity > outputLeaseSize {
            lease.pointee.shrink(to: outputLeaseSize)
        }
        lease.pointee.clear()
        freeOutputLeases.append(lease)
    }

    /// Counts freed buffer bytes; past 1 MiB (a burst of connections went away), a second
    /// later the lease caches shrink to a warm few and the heap is trimmed, so memory goes
    /// back to the kernel instead of staying at the burst's high-water mark.
    func noteFreed(_ bytes: Int) {
        freedSinceTrim += bytes
        guard freedSinceTrim >= 1 << 20, !trimScheduled else { return }
        trimScheduled = true
        reactor.schedule(after: .seconds(1)) { [unowned self] in
            trimScheduled = false
            freedSinceTrim = 0
            while freeInputLeases.count > Self.warmCachedLeases, let lease = freeInputLeases.popLast() {
                lease.deinitialize(count: 1)
                lease.deallocate()
            }
            while freeOutputLeases.count > Self.warmCachedLeases, let lease = freeOutputLeases.popLast() {
                lease.deinitialize(count: 1)
                lease.deallocate()
            }
            System.releaseFreeMemory()
        }
    }

    // MARK: Stats

    func snapshot() -> ServerStats.Reactor {
        ServerStats.Reactor(
            id: reactor.id, connections: connections.count, accepted: counters.accepted,
            closed: counters.closed, rejected: counters.rejected, requests: counters.requests,
            badRequests: counters.badRequests, timeouts: counters.timeouts, inputLeases: counters.inputLeases,
            outputLeases: counters.outputLeases, cachedLeases: freeInputLeases.count + freeOutputLeases.count,
            connectionRecordBytes: MemoryLayout<Connection>.stride, pendingTimers: reactor.pendingTimers)
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
    var inputLeases = 0
    var outputLeases = 0
}
