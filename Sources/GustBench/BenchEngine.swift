@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// The times and shares one reactor's part of a run is built from.
struct ReactorPlan: Sendable {
    /// Global indices of this reactor's connections (ascending).
    var connections: [Int]
    var startTime: Int64
    var measureStart: Int64
    /// When sending stops (duration runs); Int64.max for a request count.
    var endTime: Int64
    /// Closed loop with -n: the requests this reactor sends after `measureStart`.
    var budget: Int?
    var schedule: OpenLoopSchedule?
    /// Nanoseconds between two connection attempts on this reactor (0: no pacing).
    var connectInterval: Int64
}

/// One reactor's side of a benchmark: opens its connections, writes requests (a closed loop
/// keeping `pipeline` in flight, or an open loop following the schedule), reads and frames the
/// responses, and records latencies in its own histograms.
///
/// Threading: its reactor's thread only; results leave through `RunControl`.
/// Cost per response: one parse of the head, one histogram record, no allocation.
final class BenchEngine: ReactorDelegate {
    unowned let reactor: Reactor
    let configuration: BenchConfiguration
    let plan: ReactorPlan
    let control: RunControl<BenchStats>
    var connections: [ClientConnection]
    let depth: Int
    let requestLength: Int
    let batch: UnsafeMutableRawBufferPointer
    let readBuffer: UnsafeMutableRawPointer
    let readBufferSize = 64 * 1024
    /// Per connection, `depth` (intended, actual) send times.
    let ring: UnsafeMutablePointer<Int64>
    var stats = BenchStats()
    var parser = ResponseParser()
    var address: SocketAddress
    let timeoutNanoseconds: Int64

    // Connection pacing.
    var pendingConnects: [Int] = []
    var nextConnectTime: Int64 = 0
    var connectTimerArmed = false

    // Open loop.
    var timerFD: Int32 = -1
    var cursor = 0
    var cycle: Int64 = 0

    var sentInWindow = 0
    var sendingStopped = false
    var stoppedAt: Int64 = 0
    var finished = false

    static let timerFDToken = UInt64.max - 1
    static let sweepPayload: UInt64 = 1 << 40
    static let connectPayload: UInt64 = 2 << 40
    static let retryFlag: UInt64 = 4 << 40
    static let sweepInterval: Duration = .milliseconds(10)
    static let retryDelay: Duration = .milliseconds(50)

    init(reactor: Reactor, configuration: BenchConfiguration, plan: ReactorPlan, address: SocketAddress, control: RunControl<BenchStats>) {
        self.reactor = reactor
        self.configuration = configuration
        self.plan = plan
        self.control = control
        self.address = address
        depth = configuration.pipeline
        connections = plan.connections.map { ClientConnection(globalIndex: $0) }
        let one = configuration.request.bytes
        requestLength = one.count
        batch = .allocate(byteCount: one.count * depth, alignment: 64)
        for i in 0..<depth {
            UnsafeMutableRawBufferPointer(rebasing: batch[(i * one.count)...]).copyBytes(from: one)
        }
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 64)
        ring = .allocate(capacity: max(1, connections.count * depth * 2))
        timeoutNanoseconds = configuration.timeout.nanoseconds
    }

    deinit {
        batch.deallocate()
        readBuffer.deallocate()
        ring.deallocate()
    }

    /// Called once on the reactor's thread before any event.
    func begin() {
        pendingConnects = Array(connections.indices)
        nextConnectTime = plan.startTime
        connectSome()
        _ = reactor.scheduleTimer(at: reactor.now + Self.sweepInterval, payload: Self.sweepPayload)
        if plan.schedule != nil {
            do {
                timerFD = try System.timerfdCreate()
                try reactor.register(timerFD, interest: .readable, token: Self.timerFDToken)
            } catch {
                fatalError("gust bench: cannot create a timer: \(error)")
            }
            armScheduleTimer()
        }
    }

    // MARK: ReactorDelegate

    func reactor(_ reactor: Reactor, ready token: UInt64, events: Events) {
        if token == Self.timerFDToken {
            System.eventfdDrain(timerFD)  // a timerfd drains like an eventfd: one 8-byte read
            dispatchDue(now: System.monotonicNow().nanoseconds)
            return
        }
        guard let index = connection(for: token) else { return }  // a socket closed since
        switch connections[index].phase {
        case .idle:
            return
        case .connecting:
            finishConnect(index)
        case .open:
            if events.contains(.writable) && connections[index].writeRemaining > 0 {
                continueWrite(index)
                if connections[index].phase != .open { return }
            }
            if events.contains(.readable) || events.contains(.readHangup) || events.contains(.hangup) || events.contains(.error) {
                readResponses(index)
            }
        }
    }

    func reactor(_ reactor: Reactor, timerFired payload: UInt64) {
        if payload == Self.sweepPayload {
            sweep()
            if !finished { _ = reactor.scheduleTimer(at: reactor.now + Self.sweepInterval, payload: Self.sweepPayload) }
        } else if payload == Self.connectPayload {
            connectTimerArmed = false
            connectSome()
        } else if payload & Self.retryFlag != 0 {
            let index = Int(payload & 0xffff_ffff)
            if index < connections.count && connections[index].phase == .idle && !sendingStopped {
                pendingConnects.append(index)
                connectSome()
            }
        }
    }

    func reactorWillStop(_ reactor: Reactor) {
        for i in connections.indices where connections[i].fd >= 0 {
            reactor.deregister(connections[i].fd)
            System.close(connections[i].fd)
            connections[i].fd = -1
        }
        if timerFD >= 0 {
            reactor.deregister(timerFD)
            System.close(timerFD)
        }
    }

    // MARK: Tokens

    /// The epoll token of connection `index`'s current socket: its generation and its index.
    @inline(__always) func token(_ index: Int) -> UInt64 {
        UInt64(connections[index].generation) << 32 | UInt64(index)
    }

    /// The connection an event's token names, or nil when the token is stale (the socket it was
    /// registered for has been closed and replaced: the event was read in the same batch).
    @inline(__always) func connection(for token: UInt64) -> Int? {
        let index = Int(token & 0xffff_ffff)
        guard index < connections.count, connections[index].generation == UInt32(truncatingIfNeeded: token >> 32) else {
            return nil
        }
        return index
    }

    // MARK: Connecting

    /// Starts the pending connections the pacing allows now; arms a timer for the rest.
    func connectSome() {
        let now = System.monotonicNow().nanoseconds
        if now < plan.startTime && !pendingConnects.isEmpty {
            // Nothing starts before the run's start time: a request count is exact.
            if !connectTimerArmed {
                connectTimerArmed = true
                _ = reactor.scheduleTimer(at: Instant(nanoseconds: plan.startTime), payload: Self.connectPayload)
            }
            return
        }
        while !pendingConnects.isEmpty {
            if plan.connectInterval > 0 {
                guard now >= nextConnectTime else {
                    if !connectTimerArmed {
                        connectTimerArmed = true
                        _ = reactor.scheduleTimer(at: Instant(nanoseconds: nextConnectTime), payload: Self.connectPayload)
                    }
                    return
                }
                nextConnectTime = max(nextConnectTime, now - plan.connectInterval) + plan.connectInterval
            }
            let index = pendingConnects.removeFirst()
            startConnect(index)
        }
    }

    func startConnect(_ index: Int) {
        let fd: Int32
        do {
            fd = try System.socket(domain: address.family)
        } catch {
            return connectFailed(index, fd: -1)
        }
        connections[index].fd = fd
        connections[index].phase = .connecting
        connections[index].generation &+= 1
        if connections[index].generation == 0 { connections[index].generation = 1 }
        do {
            System.setNoDelay(fd)
            if !configuration.sources.isEmpty {
                let source = configuration.sources[connections[index].globalIndex % configuration.sources.count]
                try System.bindSource(fd, address: source)
            }
            let connected = try address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
            try reactor.register(fd, interest: [.readable, .writable, .readHangup], token: token(index))
            if connected { finishConnect(index) }
        } catch {
            connectFailed(index, fd: fd)
        }
    }

    func finishConnect(_ index: Int) {
        let fd = connections[index].fd
        guard System.socketError(fd) == 0 else { return connectFailed(index, fd: fd) }
        connections[index].phase = .open
        connections[index].reading = .head
        do {
            try reactor.modify(fd, interest: [.readable, .readHangup], token: token(index))
        } catch {
            return connectFailed(index, fd: fd)
        }
        stats.connectionsOpened += 1
        pump(index, now: System.monotonicNow().nanoseconds)
    }

    func connectFailed(_ index: Int, fd: Int32) {
        if System.monotonicNow().nanoseconds >= plan.measureStart { stats.count(.connect) }
        if fd >= 0 {
            reactor.deregister(fd)
            System.close(fd)
        }
        connections[index].fd = -1
        connections[index].phase = .idle
        if !sendingStopped {
            _ = reactor.scheduleTimer(at: reactor.now + Self.retryDelay, payload: Self.retryFlag | UInt64(index))
        }
    }

    /// Closes a connection, forgets what it had in flight, and opens it again (unless the run
    /// is ending).
    func reconnect(_ index: Int, resetting: Bool = false) {
        let fd = connections[index].fd
        if fd >= 0 {
            if resetting { System.setLingerZero(fd) }
            reactor.deregister(fd)
            System.close(fd)
        }
        // A fresh state that keeps its place in the schedule and its head buffer's capacity.
        var old = connections[index]
        connections[index] = ClientConnection(globalIndex: old.globalIndex)
        connections[index].generation = old.generation
        connections[index].nextToSend = old.nextToSend
        connections[index].dueUpTo = old.dueUpTo
        old.partial.removeAll(keepingCapacity: true)
        connections[index].partial = old.partial
        if !sendingStopped {
            pendingConnects.append(index)
            connectSome()
        }
    }
}
