@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// Why a reactor is not accepting: it watches its listener only while none holds.
struct AcceptBlocks: OptionSet {
    var rawValue: UInt8
    /// Out of descriptors or slots: retried after 100 ms.
    static let exhausted = AcceptBlocks(rawValue: 1)
    /// The process holds `maxConnections`: until a connection closes (on any reactor).
    static let atLimit = AcceptBlocks(rawValue: 2)
    /// Out of new-connection tokens (`connectionRate`): until the next is due.
    static let rate = AcceptBlocks(rawValue: 4)
}

/// Admission limits the operator sets, as one reactor applies them.
struct Admission {
    /// `maxConnections`, shared by every reactor of the process.
    var limit: ConnectionLimit?
    /// This reactor's share of `connectionRate`, and its bucket's arrival time.
    var connectionRate: GCRA?
    var connectionTAT: Int64 = 0
    /// Per-client request rate, shared by every reactor of the process.
    var clients: ClientRateLimiter?
    /// Warnings, one throttle per kind: pauses at the limit, pauses for the rate, 429s.
    var limitLog = LogThrottle()
    var rateLog = LogThrottle()
    var overRateLog = LogThrottle()

    init(_ configuration: ServerConfiguration, clients: ClientRateLimiter?, limit: ConnectionLimit?) {
        let reactors = configuration.reactors
        /// An even share, rounded up (and no overflow for `Int.max`).
        func share(_ n: Int) -> Int { n / reactors + (n % reactors == 0 ? 0 : 1) }
        self.limit = limit
        if let rate = configuration.connectionRate {
            connectionRate = GCRA(perSecond: max(rate.perSecond / Double(reactors), 1e-9), burst: share(rate.burst))
        }
        self.clients = clients
    }
}

/// A warning logged at most once every 10 s; the events in between are counted, and the count
/// goes with the next warning.
struct LogThrottle {
    static let interval: Int64 = 10_000_000_000
    var last = Int64.min
    var unlogged = 0

    /// One more event at `now`: the number of events the warning logged now stands for, or nil
    /// if it is not time to log.
    mutating func note(now: Int64) -> Int? {
        unlogged += 1
        guard last == Int64.min || now - last >= Self.interval else { return nil }
        last = now
        defer { unlogged = 0 }
        return unlogged
    }
}

extension HTTPEngine {
    // MARK: Watching the listener

    /// Stops watching the listener for `reason` (the backlog holds new clients meanwhile).
    func blockAccepting(_ reason: AcceptBlocks) {
        let wasOpen = acceptBlocks.isEmpty
        acceptBlocks.insert(reason)
        guard wasOpen, !draining else { return }
        for (k, listener) in listeners.enumerated() {
            try? reactor.modify(listener.fd, interest: [], token: Self.listenerToken - UInt64(k))
        }
    }

    /// `reason` no longer holds: watch the listener again if nothing else blocks it.
    func unblockAccepting(_ reason: AcceptBlocks) {
        guard acceptBlocks.contains(reason) else { return }
        acceptBlocks.remove(reason)
        guard acceptBlocks.isEmpty, !draining else { return }
        for (k, listener) in listeners.enumerated() {
            try? reactor.modify(listener.fd, interest: .readable, token: Self.listenerToken - UInt64(k))
        }
    }

    /// Out of descriptors or slots: stop accepting for 100 ms instead of spinning on a
    /// listener that stays readable.
    func pauseAccepting() {
        guard !acceptBlocks.contains(.exhausted) else { return }
        blockAccepting(.exhausted)
        reactor.schedule(after: .milliseconds(100)) { [unowned self] in unblockAccepting(.exhausted) }
    }

    // MARK: Connection limits

    /// Whether another connection may be accepted now (a place under `maxConnections` is then
    /// taken: give it back with `placeUnused` if no connection comes of it); if not, accepting
    /// pauses, and resumes on its own. Called before each `accept`.
    @inline(__always)
    func mayAccept() -> Bool {
        if let limit = admission.limit, !limit.takeOrWait(reactor: reactorID) {
            blockAccepting(.atLimit)  // listed: the next place freed, on any reactor, wakes it
            noteAcceptPause(limit: true)
            return false
        }
        return mayAcceptAtRate(admission.limit)
    }

    @inline(__always)
    func mayAcceptAtRate(_ limit: ConnectionLimit?) -> Bool {
        if let rate = admission.connectionRate, let wait = rate.admit(&admission.connectionTAT, now: nowNanoseconds) {
            limit?.release()
            blockAccepting(.rate)
            noteAcceptPause(limit: false)
            reactor.schedule(after: .nanoseconds(wait)) { [unowned self] in unblockAccepting(.rate) }
            return false
        }
        return true
    }

    /// The place `mayAccept` took was not used (nothing to accept, or the accept failed).
    @inline(__always)
    func placeUnused() {
        admission.limit?.release()
    }

    /// A connection's record is gone: its place under `maxConnections` is free.
    @inline(__always)
    func connectionSlotFreed() {
        admission.limit?.release()
    }

    func noteAcceptPause(limit: Bool) {
        counters.acceptPauses += 1
        let due = limit ? admission.limitLog.note(now: nowNanoseconds) : admission.rateLog.note(now: nowNanoseconds)
        guard let pauses = due else { return }
        logger.warning(
            limit
                ? "connection limit reached: not accepting until a connection closes; new clients wait in the listen backlog"
                : "new-connection rate reached: accepting paused until the next token; new clients wait in the listen backlog",
            metadata: [
                "reactor": "\(reactorID)", "open-here": "\(connections.count)",
                "open": admission.limit.map { "\($0.open.load(ordering: .relaxed))" } ?? "-",
                "limit": admission.limit.map { "\($0.maximum)" } ?? "none",
                "pauses": "\(pauses)",
            ])
    }

    // MARK: Per-client request rate

    /// Takes a token for a request on connection `id`: nil when admitted, else the
    /// nanoseconds until its client may try again. Cost when no limit is set: a nil check.
    @inline(__always)
    func clientOverRate(_ id: SlotID) -> Int64? {
        guard let limiter = admission.clients, let keys = clientKeys else { return nil }
        return limiter.admit(keys[Int(id.index)], now: nowNanoseconds)
    }

    /// The answer to a request over its client's rate: 429 with `Retry-After` (whole seconds,
    /// rounded up). Runs instead of the route's handler (and its middleware).
    func answerOverRate(_ writer: inout ResponseWriter, _ request: borrowing Request, client: ClientKey) {
        let wait = rateLimitedWait
        let seconds = max(1, (wait + 999_999_999) / 1_000_000_000)
        counters.rateLimited += 1
        if let count = admission.overRateLog.note(now: nowNanoseconds) {
            logger.warning(
                "client over its request rate: answered 429",
                metadata: ["client": "\(client)", "request-id": "\(request.id)", "reactor": "\(reactorID)", "answered429": "\(count)"])
        }
        let limit = admission.clients?.limit.perSecond ?? 0
        writer.header("Retry-After", String(seconds))
        writer.send(.tooManyRequests, "Too Many Requests: over \(formatRate(limit)) requests/s from this address; retry after \(seconds) s\n")
    }

    func formatRate(_ r: Double) -> String {
        r == r.rounded() && r < 1e15 ? String(Int64(r)) : String(r)
    }
}
