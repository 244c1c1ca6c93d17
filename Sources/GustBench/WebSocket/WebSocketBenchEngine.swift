@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import GustWebSocket

/// One reactor's side of `gust bench ws`: opens its share of the connections (paced), upgrades
/// them, then holds them with pings, echoes messages, or takes part in a broadcast, and
/// records what it measures in its own histograms.
///
/// Threading: its reactor's thread only; results leave through a `RunControl`.
/// Memory per connection: a small record (`Client`); a buffer only while a frame is partial or
/// output is pending.
final class WebSocketBenchEngine: ReactorDelegate {
    enum Phase: UInt8 { case idle, connecting, handshaking, open, closed }

    struct Client {
        var fd: Int32 = -1
        var phase = Phase.idle
        var generation: UInt32 = 0
        let number: Int
        var connectStart: Int64 = 0
        /// Bytes of a partial frame (or handshake response).
        var input: [UInt8] = []
        /// Output the socket has not taken.
        var output: [UInt8] = []
        /// Echo: messages in flight. Hold: when the outstanding ping went (0: none).
        var inFlight = 0
        var pingSent: Int64 = 0
        var lastSend: Int64 = 0
    }

    unowned let reactor: Reactor
    let configuration: WebSocketBenchConfiguration
    let control: RunControl<WebSocketBenchStats>
    let address: SocketAddress
    var clients: [Client]
    var stats = WebSocketBenchStats()
    let readBuffer: UnsafeMutableRawPointer
    let readBufferSize = 256 * 1024
    var scratch: [UInt8] = []
    let request: [UInt8]
    let expectedAccept: [UInt8]
    let startTime: Int64
    let endTime: Int64
    let timeout: Int64
    let connectInterval: Int64
    var nextConnect = 0
    var nextConnectTime: Int64 = 0
    var ending = false
    var finished = false
    var random: SplitMix64
    // Open-loop echo and broadcast publishing.
    var sentOnSchedule = 0
    var roundRobin = 0
    var publishSequence: UInt64 = 0
    /// The schedule's clock (open-loop echo, publishing): a timerfd, for nanosecond precision.
    var timerFD: Int32 = -1
    static let timerFDToken = UInt64.max - 1

    // Timer payloads: a connection's ping carries `pingBit`, its generation (22 bits, from 32)
    // and its index; the others are constants without that bit.
    static let connectPayload: UInt64 = 1 << 56
    static let endPayload: UInt64 = 2 << 56
    static let tickPayload: UInt64 = 3 << 56
    static let sweepPayload: UInt64 = 4 << 56
    static let pingBit: UInt64 = 1 << 62
    static let tick: Int64 = 1_000_000
    /// The key every connection sends (a load generator's; the accept is checked all the same).
    static let key = "Z3VzdC1iZW5jaC13cy0xNg=="

    init(reactor: Reactor, configuration: WebSocketBenchConfiguration, share: [Int], address: SocketAddress, startTime: Int64, control: RunControl<WebSocketBenchStats>) {
        self.reactor = reactor
        self.configuration = configuration
        self.control = control
        self.address = address
        clients = share.map { Client(number: $0) }
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 64)
        request = Array(
            ("GET \(configuration.path) HTTP/1.1\r\nHost: \(configuration.host):\(configuration.port)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: \(Self.key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
        expectedAccept = Array(WebSocketHandshake.accept(key: Self.key).utf8)
        self.startTime = startTime
        endTime = startTime + configuration.duration.nanoseconds
        timeout = configuration.timeout.nanoseconds
        let reactors = Int64(configuration.reactors)
        connectInterval = configuration.connectRate.map { reactors * 1_000_000_000 / Int64($0) } ?? 0
        random = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15 &* UInt64(reactor.id + 1) &+ UInt64(configuration.firstConnection))
    }

    deinit { readBuffer.deallocate() }

    /// Masking keys and ping spread.
    func nextRandom() -> UInt64 { random.next() }

    var now: Int64 { System.monotonicNow().nanoseconds }

    func token(_ k: Int) -> UInt64 { UInt64(clients[k].generation) << 32 | UInt64(k) }

    func begin() {
        _ = reactor.scheduleTimer(at: Instant(nanoseconds: endTime), payload: Self.endPayload)
        _ = reactor.scheduleTimer(at: Instant(nanoseconds: startTime), payload: Self.connectPayload)
        _ = reactor.scheduleTimer(at: Instant(nanoseconds: startTime + 1_000_000_000), payload: Self.sweepPayload)
        if configuration.mode == .echo && configuration.rate != nil || configuration.mode == .broadcast && configuration.publishes && reactor.id == 0 {
            let first = configuration.mode == .broadcast ? startTime + configuration.publishAfter.nanoseconds : startTime
            do {
                timerFD = try System.timerfdCreate()
                try reactor.register(timerFD, interest: .readable, token: Self.timerFDToken)
                System.timerfdSet(timerFD, at: Instant(nanoseconds: first))
            } catch {
                _ = reactor.scheduleTimer(at: Instant(nanoseconds: first), payload: Self.tickPayload)  // 1 ms ticks, then
            }
        }
    }

    // MARK: ReactorDelegate

    func reactor(_ reactor: Reactor, ready token: UInt64, events: Events) {
        if token == Self.timerFDToken {
            System.eventfdDrain(timerFD)  // a timerfd drains like an eventfd
            return tick()
        }
        let k = Int(token & 0xffff_ffff)
        guard k < clients.count, clients[k].generation == UInt32(truncatingIfNeeded: token >> 32) else { return }
        switch clients[k].phase {
        case .connecting:
            finishConnect(k)
        case .handshaking, .open:
            if events.contains(.writable) && !clients[k].output.isEmpty { flush(k) }
            if clients[k].phase != .closed && (events.contains(.readable) || events.contains(.hangup) || events.contains(.error)) { read(k) }
        case .idle, .closed:
            break
        }
    }

    func reactor(_ reactor: Reactor, timerFired payload: UInt64) {
        if payload == Self.endPayload { return end() }
        if payload == Self.connectPayload { return connectSome() }
        if payload == Self.tickPayload { return tick() }
        if payload == Self.sweepPayload { return sweep() }
        if payload & Self.pingBit != 0 {
            let k = Int(payload & 0xffff_ffff)
            guard k < clients.count, clients[k].generation == UInt32(truncatingIfNeeded: (payload >> 32) & 0x3f_ffff), clients[k].phase == .open else { return }
            return pingDue(k)
        }
    }

    func reactorWillStop(_ reactor: Reactor) {
        for k in clients.indices where clients[k].fd >= 0 { System.close(clients[k].fd) }
        if timerFD >= 0 { System.close(timerFD) }
    }

    // MARK: Connecting

    func connectSome() {
        guard !ending else { return }
        let t = now
        while nextConnect < clients.count {
            if connectInterval > 0 {
                guard t >= nextConnectTime else {
                    _ = reactor.scheduleTimer(at: Instant(nanoseconds: nextConnectTime), payload: Self.connectPayload)
                    return
                }
                // Timers fire on 1 ms ticks: a tick's worth of connections may go at once, no more.
                nextConnectTime = max(nextConnectTime, t - max(connectInterval, 2_000_000)) + connectInterval
            }
            startConnect(nextConnect)
            nextConnect += 1
        }
    }

    func startConnect(_ k: Int) {
        stats.attempted += 1
        clients[k].generation = max(1, (clients[k].generation &+ 1) & 0x3f_ffff)
        clients[k].connectStart = now
        let fd: Int32
        do {
            fd = try System.socket(domain: address.family)
        } catch {
            return failConnect(k, .connect)
        }
        clients[k].fd = fd
        clients[k].phase = .connecting
        do {
            System.setNoDelay(fd)
            if !configuration.sources.isEmpty {
                try System.bindSource(fd, address: configuration.sources[clients[k].number % configuration.sources.count])
            }
            let connected = try address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
            try reactor.register(fd, interest: [.readable, .writable], token: token(k))
            if connected { finishConnect(k) }
        } catch {
            failConnect(k, .connect)
        }
    }

    func finishConnect(_ k: Int) {
        let fd = clients[k].fd
        guard System.socketError(fd) == 0 else { return failConnect(k, .connect) }
        clients[k].phase = .handshaking
        do {
            try reactor.modify(fd, interest: .readable, token: token(k))
        } catch {
            return failConnect(k, .connect)
        }
        request.withUnsafeBytes { send(k, $0) }
    }

    /// A connection that never opened: counted, and not retried (a hold test counts what it
    /// could open).
    func failConnect(_ k: Int, _ kind: WebSocketBenchError) {
        stats.count(kind)
        drop(k)
    }

    func drop(_ k: Int) {
        if clients[k].fd >= 0 { System.close(clients[k].fd) }
        clients[k].fd = -1
        clients[k].phase = .closed
        clients[k].input = []
        clients[k].output = []
    }

    // MARK: Writing

    func send(_ k: Int, _ bytes: UnsafeRawBufferPointer) {
        guard clients[k].fd >= 0 else { return }
        if !clients[k].output.isEmpty {
            clients[k].output.append(contentsOf: bytes)
            return
        }
        var written = 0
        do {
            if case .processed(let n) = try System.write(clients[k].fd, from: bytes.baseAddress!, count: bytes.count) { written = n }
        } catch {
            return lost(k)
        }
        guard written < bytes.count else { return }
        clients[k].output.append(contentsOf: bytes[written...])
        try? reactor.modify(clients[k].fd, interest: [.readable, .writable], token: token(k))
    }

    func flush(_ k: Int) {
        var written = 0
        do {
            let result = try clients[k].output.withUnsafeBytes { b throws(SystemError) in try System.write(clients[k].fd, from: b.baseAddress!, count: b.count) }
            if case .processed(let n) = result { written = n }
        } catch {
            return lost(k)
        }
        clients[k].output.removeFirst(written)
        if clients[k].output.isEmpty { try? reactor.modify(clients[k].fd, interest: .readable, token: token(k)) }
    }

    /// Sends a masked frame (RFC 6455 §5.3: every client frame is masked).
    func sendFrame(_ k: Int, _ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        let n = payload.count
        scratch.removeAll(keepingCapacity: true)
        scratch.append(0x80 | opcode.rawValue)
        if n < 126 {
            scratch.append(0x80 | UInt8(n))
        } else if n <= 0xFFFF {
            scratch += [0x80 | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
        } else {
            scratch.append(0x80 | 127)
            for s in stride(from: 56, through: 0, by: -8) { scratch.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(s))) }
        }
        let key = UInt32(truncatingIfNeeded: nextRandom())
        scratch += [UInt8(key >> 24), UInt8(key >> 16 & 0xFF), UInt8(key >> 8 & 0xFF), UInt8(key & 0xFF)]
        let start = scratch.count
        scratch.append(contentsOf: payload)
        scratch.withUnsafeMutableBytes { FrameCodec.applyMask(key, to: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
        scratch.withUnsafeBytes { send(k, $0) }
    }

    /// A message whose first 16 bytes are two timestamps (or a sequence number and a time).
    func sendStamped(_ k: Int, _ first: Int64, _ second: Int64) {
        withUnsafeTemporaryAllocation(byteCount: configuration.messageSize, alignment: 8) { b in
            b.initializeMemory(as: UInt8.self, repeating: 0x61)
            b.storeBytes(of: first, toByteOffset: 0, as: Int64.self)
            b.storeBytes(of: second, toByteOffset: 8, as: Int64.self)
            sendFrame(k, .binary, UnsafeRawBufferPointer(b))
        }
        stats.messagesSent += 1
    }

    // MARK: Reading

    func read(_ k: Int) {
        let n: Int
        do {
            switch try System.read(clients[k].fd, into: readBuffer, count: readBufferSize) {
            case .processed(let count): n = count
            case .wouldBlock: return
            }
        } catch {
            return lost(k)
        }
        if n == 0 { return lost(k) }
        let t = now
        if clients[k].input.isEmpty {
            let used = consume(k, UnsafeRawBufferPointer(start: readBuffer, count: n), now: t)
            if used < n, clients[k].phase != .closed { clients[k].input.append(contentsOf: UnsafeRawBufferPointer(start: readBuffer + used, count: n - used)) }
        } else {
            clients[k].input.append(contentsOf: UnsafeRawBufferPointer(start: readBuffer, count: n))
            let bytes = clients[k].input
            let used = bytes.withUnsafeBytes { consume(k, $0, now: t) }
            if clients[k].phase != .closed { clients[k].input.removeFirst(used) }
        }
    }

    /// Makes what it can of `bytes`; returns how many it used.
    func consume(_ k: Int, _ bytes: UnsafeRawBufferPointer, now t: Int64) -> Int {
        var offset = 0
        if clients[k].phase == .handshaking {
            guard let end = headEnd(bytes) else { return 0 }
            guard handshakeAccepted(UnsafeRawBufferPointer(rebasing: bytes[..<end])) else {
                failConnect(k, .handshake)
                return bytes.count
            }
            opened(k, now: t)
            offset = end + 4
        }
        while clients[k].phase == .open {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            guard rest.count >= 2 else { break }
            let b0 = rest[0], b1 = rest[1]
            guard b1 & 0x80 == 0, b0 & 0x70 == 0 else {
                stats.count(.protocolError)
                drop(k)
                return bytes.count
            }
            var length = Int(b1 & 0x7F)
            var header = 2
            if length == 126 {
                guard rest.count >= 4 else { break }
                length = Int(rest[2]) << 8 | Int(rest[3])
                header = 4
            } else if length == 127 {
                guard rest.count >= 10 else { break }
                length = (2..<10).reduce(0) { $0 << 8 | Int(rest[$1]) }
                header = 10
            }
            guard rest.count >= header + length else { break }
            offset += header + length
            frame(k, b0 & 0x0F, UnsafeRawBufferPointer(rebasing: rest[header..<(header + length)]), now: t)
        }
        return offset
    }

    func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
        return nil
    }

    /// A `101` carrying the accept value our key calls for (RFC 6455 §4.1, the client's checks).
    func handshakeAccepted(_ head: UnsafeRawBufferPointer) -> Bool {
        let text = String(decoding: head, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 101") else { return false }
        for line in text.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "sec-websocket-accept" else { continue }
            return Array(parts[1].drop { $0 == " " }.utf8) == expectedAccept
        }
        return false
    }

    func opened(_ k: Int, now t: Int64) {
        clients[k].phase = .open
        stats.opened += 1
        if stats.firstOpen == 0 { stats.firstOpen = t }
        stats.lastOpen = t
        _ = stats.handshake.record(UInt64(max(t - clients[k].connectStart, 1)))
        switch configuration.mode {
        case .hold:
            if let interval = configuration.pingInterval?.nanoseconds, interval > 0 {
                let first = t + Int64(nextRandom() % UInt64(interval))  // spread over one interval
                _ = reactor.scheduleTimer(at: Instant(nanoseconds: first), payload: pingPayload(k))
            }
        case .echo:
            if configuration.rate == nil && !ending { sendEcho(k, intended: t) }
        case .broadcast:
            break
        }
    }

    func frame(_ k: Int, _ opcode: UInt8, _ payload: UnsafeRawBufferPointer, now t: Int64) {
        switch opcode {
        case 0x9:  // the server's heartbeat
            stats.serverPings += 1
            sendFrame(k, .pong, payload)
        case 0xA:
            guard payload.count >= 8, clients[k].pingSent != 0 else { return }
            let sent = payload.loadUnaligned(as: Int64.self)
            stats.pongsReceived += 1
            _ = stats.ping.record(UInt64(max(t - sent, 1)))
            clients[k].pingSent = 0
        case 0x8:
            // The server closes: answer, and count it unless the run is ending.
            if !ending { stats.count(.closed) }
            withUnsafeBytes(of: UInt16(1000).bigEndian) { sendFrame(k, .close, $0) }
            drop(k)
        case 0x1, 0x2, 0x0:
            stats.messagesReceived += 1
            guard payload.count >= 16 else { return }
            let a = payload.loadUnaligned(fromByteOffset: 0, as: Int64.self)
            let b = payload.loadUnaligned(fromByteOffset: 8, as: Int64.self)
            switch configuration.mode {
            case .echo:
                clients[k].inFlight -= 1
                _ = stats.echo.record(UInt64(max(t - a, 1)))
                _ = stats.echoUncorrected.record(UInt64(max(t - b, 1)))
                if configuration.rate == nil && !ending { sendEcho(k, intended: t) }
            case .broadcast:
                let latency = t - b
                _ = stats.delivery.record(UInt64(max(latency, 1)))
                let seq = UInt64(bitPattern: a)
                if latency > stats.lastDelivery[seq] ?? 0 { stats.lastDelivery[seq] = latency }
            case .hold:
                break
            }
        default:
            stats.count(.protocolError)
            drop(k)
        }
    }

    func sendEcho(_ k: Int, intended: Int64) {
        let t = now
        clients[k].inFlight += 1
        clients[k].lastSend = t
        sendStamped(k, intended, t)
    }

    /// The server closed or reset an open connection (or it failed during the handshake).
    func lost(_ k: Int) {
        if !ending { stats.count(clients[k].phase == .open ? .closed : clients[k].phase == .handshaking ? .handshake : .connect) }
        drop(k)
    }

    // MARK: Timers

    func pingPayload(_ k: Int) -> UInt64 { Self.pingBit | UInt64(clients[k].generation) << 32 | UInt64(k) }

    func pingDue(_ k: Int) {
        guard !ending, let interval = configuration.pingInterval?.nanoseconds else { return }
        let t = now
        if clients[k].pingSent != 0 && t - clients[k].pingSent > timeout {
            stats.count(.timeout)
            clients[k].pingSent = 0
        }
        if clients[k].pingSent == 0 {
            clients[k].pingSent = t
            stats.pingsSent += 1
            withUnsafeBytes(of: t) { sendFrame(k, .ping, $0) }
        }
        _ = reactor.scheduleTimer(at: Instant(nanoseconds: t + interval), payload: pingPayload(k))
    }

    /// Open-loop echo and broadcast publishing: what the schedule says is due goes out now,
    /// stamped with the time it was due.
    func tick() {
        guard !ending, let rate = configuration.rate else { return }
        let t = now
        let share = configuration.mode == .broadcast ? Double(rate) : Double(rate) / Double(configuration.reactors)
        let begin = configuration.mode == .broadcast ? startTime + configuration.publishAfter.nanoseconds : startTime
        // Message k is due at begin + k / share: by t, messages 0 ... floor((t - begin) * share).
        guard t >= begin else { return System.timerfdSet(timerFD, at: Instant(nanoseconds: begin)) }
        let due = Int(Double(t - begin) * share / 1e9) + 1
        while sentOnSchedule < due {
            let intended = begin + Int64(Double(sentOnSchedule) * 1e9 / share)
            sentOnSchedule += 1
            if configuration.mode == .broadcast {
                guard let k = clients.indices.first(where: { clients[$0].phase == .open && clients[$0].number == configuration.firstConnection }) else { continue }
                publishSequence += 1
                stats.published += 1
                sendStamped(k, Int64(bitPattern: publishSequence), t)
                _ = intended
            } else {
                var tries = 0
                while tries < clients.count && clients[roundRobin % clients.count].phase != .open {
                    roundRobin += 1
                    tries += 1
                }
                guard tries < clients.count else { continue }
                let k = roundRobin % clients.count
                roundRobin += 1
                clients[k].inFlight += 1
                sendStamped(k, intended, t)
            }
        }
        if timerFD >= 0 {
            System.timerfdSet(timerFD, at: Instant(nanoseconds: begin + Int64((Double(sentOnSchedule) * 1e9 / share).rounded(.up))))
        } else {
            _ = reactor.scheduleTimer(at: Instant(nanoseconds: t + Self.tick), payload: Self.tickPayload)
        }
    }

    /// Once a second: a connection still connecting or upgrading after `timeout` has failed.
    func sweep() {
        guard !ending else { return }
        let t = now
        for k in clients.indices where t - clients[k].connectStart > timeout {
            switch clients[k].phase {
            case .connecting: failConnect(k, .connect)
            case .handshaking: failConnect(k, .handshake)
            default: break
            }
        }
        _ = reactor.scheduleTimer(at: Instant(nanoseconds: t + 1_000_000_000), payload: Self.sweepPayload)
    }

    /// The run's end: whatever is open is counted, closed with 1000, and the results go.
    func end() {
        guard !finished else { return }
        ending = true
        finished = true
        for k in clients.indices where clients[k].phase == .open {
            stats.openAtEnd += 1
            withUnsafeBytes(of: UInt16(1000).bigEndian) { sendFrame(k, .close, $0) }
            drop(k)
        }
        for k in clients.indices where clients[k].fd >= 0 { drop(k) }
        control.reactorFinished(reactor.id, stats)
    }
}
