@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

/// The WebSocket side of one reactor: the driver of its WebSocket connections' machines
/// (`WebSocketMachine`, pure). Connections arrive from the HTTP engine after their `101`
/// (`adopt`); their records live in a slab of their own, found by the epoll token
/// (`HTTPEngine.handoffBit` | slot) and by timer payloads (`timerBit`).
///
/// - `WebSocketEngine+Read.swift`: reading, and turning bytes into callbacks.
/// - `WebSocketEngine+Write.swift`: framing into output, writing, the slow-consumer bound.
/// - `WebSocketEngine+Close.swift`: the close handshake, timers, heartbeats, ending.
/// - `WebSocketEngine+Topics.swift`: subscriptions and delivery of publications.
///
/// The HTTP engine's rule holds here too: application code (`onOpen`, `onMessage`,
/// `onClose`) is called with no record pointer held, and I/O never runs inside it: what a
/// callback sends is framed into output (the shared output buffer for the connection being
/// served, else the connection's output lease) and written once it returns.
///
/// Memory: a record (`WebSocketRecord`, 128 bytes) and one timer entry per connection;
/// input and output leases only while bytes are in flight; reads land in the HTTP engine's
/// read buffer. Threading: the reactor's thread only.
final class WebSocketEngine {
    unowned let http: HTTPEngine
    let hub: WebSocketHub
    let records: Slab<WebSocketRecord>
    var inputLeases = LeasePool<WebSocketInput>(maximumCached: HTTPEngine.maximumCachedLeases, warmCount: HTTPEngine.warmCachedLeases)
    /// Counted by this reactor (`open`, `inputLeases` and `recordBytes` filled in by `snapshot`).
    @exclusivity(unchecked) var counters = ServerStats.WebSockets()
    /// The connection being served (its packed ID; 0: none): what its callbacks send goes
    /// into the shared output buffer, written when they return.
    var current: UInt64 = 0
    /// Connections with output queued by application code, to be written when it returns.
    var queued: [SlotID] = []
    var flushScheduled = false
    lazy var runFlush: () -> Void = { [unowned self] in flushQueued() }
    /// Local subscribers of each topic (packed IDs).
    var subscribers: [String: Set<UInt64>] = [:]
    var random: SplitMix64

    /// Timer payloads of WebSocket connections carry this bit (HTTP's never do: their
    /// generations are cut to 30 bits).
    static let timerBit: UInt64 = 1 << 62

    init(http: HTTPEngine, hub: WebSocketHub, capacity: Int) {
        self.http = http
        self.hub = hub
        records = Slab(maximumCount: capacity)
        random = SplitMix64(seed: UInt64(http.reactorID) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(bitPattern: http.nowNanoseconds))
    }

    var reactor: Reactor { http.reactor }
    @inline(__always) var now: Int64 { http.nowNanoseconds }
    /// Open connections.
    var count: Int { records.count }

    static func token(_ id: SlotID) -> UInt64 { HTTPEngine.handoffBit | id.packed }

    func timerPayload(_ id: SlotID) -> UInt64 {
        Self.timerBit | UInt64(id.generation & 0x3fff_ffff) << 32 | UInt64(id.index)
    }

    /// Spreads heartbeats (jitter).
    func nextRandom() -> UInt64 { random.next() }

    /// Takes over a connection whose `101` is written: a record, the descriptor watched under
    /// the record's token, the first heartbeat timer; then `onOpen`, then the bytes the
    /// client sent after its request. The connection keeps its place under `maxConnections`.
    func adopt(fd: Int32, upgrade: WebSocketUpgrade, unread: inout [UInt8]) {
        let record = WebSocketRecord(machine: WebSocketMachine(now: now), fd: fd, route: upgrade.route, context: upgrade.context)
        guard let (id, r) = records.insert(record) else {
            System.close(fd)
            return http.connectionSlotFreed()
        }
        do {
            try reactor.modify(fd, interest: .readable, token: Self.token(id))
        } catch {
            _ = records.remove(id)
            System.close(fd)
            return http.connectionSlotFreed()
        }
        counters.opened += 1
        if let first = WebSocketMachine.firstDeadline(now: now, rules: upgrade.route.heartbeat, random: nextRandom()) {
            r.pointee.timer = reactor.scheduleTimer(at: Instant(nanoseconds: first), payload: timerPayload(id))
        }
        serve(id) { upgrade.route.open(self, id) }  // application code
        if !unread.isEmpty {
            unread.withUnsafeMutableBytes { bytes in process(id, bytes) }
        }
        // Upgraded while the reactor drains (its 101 was on its way): it goes away too.
        if http.draining { close(id, code: .goingAway, reason: "server shutting down") }
    }

    /// Runs `body` (which may call application code) with `id` as the connection being
    /// served, then writes what it sent, and whatever it queued for others.
    func serve(_ id: SlotID, _ body: () -> Void) {
        let output = http.output
        let mark = output.pointee.writerIndex
        current = id.packed
        body()
        current = 0
        flushServed(id, from: mark)
        output.pointee.writerIndex = mark
        if !queued.isEmpty { flushQueued() }
    }

    // MARK: Lookups for the application's view

    func isOpen(_ id: SlotID) -> Bool {
        guard let r = records.pointer(to: id) else { return false }
        return r.pointee.machine.phase == .open && !r.pointee.flags.contains(.finished)
    }

    func context(of id: SlotID) -> AnyObject? { records.pointer(to: id)?.pointee.context }

    func topics(of id: SlotID) -> [String] { records.pointer(to: id)?.pointee.topics ?? [] }
}

extension HTTPEngine {
    /// This reactor's WebSocket engine, made when its first connection arrives.
    var webSockets: WebSocketEngine {
        if let engine = webSocketsIfAny { return engine }
        let engine = WebSocketEngine(http: self, hub: hub, capacity: connections.maximumCount)
        webSocketsIfAny = engine
        return engine
    }
}

extension WebSocketEngine {
    func snapshot() -> ServerStats.WebSockets {
        var s = counters
        s.open = records.count
        s.inputLeases = inputLeases.leased
        s.recordBytes = MemoryLayout<WebSocketRecord>.stride
        return s
    }
}
