@_spi(GustInternal) import GustCore
/// What a connection wants its descriptor watched for.
@_spi(GustInternal) public enum Interest: UInt8, Sendable {
    /// Requests, body bytes, or a lingering client's last bytes.
    case read
    /// Room to write the output the socket would not take.
    case write
    /// Only the peer leaving (while it waits on its handler, or while a body is paused).
    case hangup
    /// Nothing (it is about to close).
    case none
}

/// What to do with the connection's timer so that it fires no later than the current deadline.
@_spi(GustInternal) public enum TimerChange: Sendable, Equatable {
    /// It already does (or nothing is timed).
    case keep
    /// Arm it for this deadline.
    case arm(at: Int64)
    /// Move it earlier, to this deadline.
    case moveTo(Int64)
}

/// What a connection is waiting for, each with its own timeout.
@_spi(GustInternal) public enum ConnectionWait: UInt8, Sendable {
    /// The rest of a request head (or a new connection's first request). 408, then close.
    case header
    /// More of a request body. 408, then close.
    case body
    /// A keep-alive connection between requests. Closed quietly.
    case idle
    /// A client to take output it is not reading. Closed, everything freed.
    case write
    /// A lingering close to finish. Closed.
    case linger
    /// A request body arriving slower than the minimum body rate. 408, then close.
    case slowBody
    /// A client reading the output slower than the minimum response rate. Closed, everything
    /// freed.
    case slowRead
}

/// What a fired timer comes to.
@_spi(GustInternal) public enum TimeoutAction: Sendable, Equatable {
    /// The wait it was armed for has moved on: nothing, or it was re-armed (`TimerChange`).
    case rearm(TimerChange)
    /// Close at once (idle, write stall, linger, or no byte of a request ever came).
    case close(ConnectionWait)
    /// Answer 408 (after telling a body handler its body was aborted), then close.
    case requestTimeout(Rejection)
    /// A wait on blocked output ran out by the last reading of what the client acknowledged:
    /// read the count again and tell `deliveryMeasured` (it decides).
    case measureDelivery
}

/// What a drain request comes to for one connection.
@_spi(GustInternal) public enum DrainAction: Sendable, Equatable {
    /// Nothing is under way: close now.
    case closeNow
    /// A keep-alive connection between requests (or a new one before its first), in a
    /// lame-duck drain: it closes when it has been idle for the drain's idle grace (apply the
    /// timer change), or after its next request, answered with `Connection: close`, whichever
    /// comes first.
    case closeWhenIdle(TimerChange)
    /// It closes after the exchange under way (its answer says `Connection: close`).
    case closeAfterExchange
}

extension ConnectionMachine {
    // MARK: Output

    /// Event: output stayed behind (the socket is full); the write timeout runs from `now`, and
    /// the client's reading is timed against the minimum response rate (from the first block).
    /// `delivered`: on a TCP socket, the bytes the client has acknowledged so far (then the
    /// rate is measured by what it acknowledges, `deliveryMeasured`); nil otherwise (then by
    /// what the socket takes, `writeProgressed`).
    public mutating func writeBlocked(now: Int64, _ rules: ConnectionRules, delivered: UInt64? = nil) {
        if !_flags.contains(.writeBlocked), let rate = rules.minimumResponseRate {
            _rateDeadline = now.addingSaturating(rate.grace)
            if let delivered {
                _deliveredMark = delivered
                _flags.insert(.deliveryMeasured)
            } else {
                _flags.remove(.deliveryMeasured)
            }
        }
        _flags.insert(.writeBlocked)
        _since = now
    }

    /// Event: `count` bytes of the output went out; the write timeout starts again, and a
    /// blocked transfer not measured by acknowledgements earns time at the minimum rate.
    public mutating func writeProgressed(_ count: Int, now: Int64, _ rules: ConnectionRules) {
        _since = now
        if _flags.contains(.writeBlocked), !_flags.contains(.deliveryMeasured), let rate = rules.minimumResponseRate {
            _rateDeadline = _rateDeadline.addingSaturating(rate.credit(count))
        }
    }

    /// Event: every pending byte is out.
    public mutating func writeDrained() {
        _flags.remove([.writeBlocked, .deliveryMeasured])
        _rateDeadline = 0  // a body being read starts its own measure with its next bytes
    }

    /// Event: the driver read how many bytes the client has acknowledged (`.measureDelivery`):
    /// what it acknowledged since the last reading earns time at the minimum rate; then the
    /// connection closes if a wait has still run out. (The write timeout stays with what the
    /// socket takes: a receiving kernel that compacts its queue acknowledges a trickle for a
    /// client that reads nothing.)
    public mutating func deliveryMeasured(_ delivered: UInt64, now: Int64, _ rules: ConnectionRules) -> TimeoutAction {
        if delivered > _deliveredMark {
            let progress = delivered - _deliveredMark
            _deliveredMark = delivered
            if let rate = rules.minimumResponseRate {
                _rateDeadline = _rateDeadline.addingSaturating(rate.credit(Int(clamping: progress)))
            }
        }
        guard let (wait, deadline) = currentWait(rules) else { return .rearm(.keep) }
        if deadline > now { return .rearm(slowTimerChange(rules)) }
        return .close(wait)
    }

    // MARK: Watching and timing

    /// What the descriptor should be watched for now.
    @inlinable @inline(__always) public func interest() -> Interest {
        if _flags.contains(.writeBlocked) { return .write }
        switch _state {
        case .idle, .readingHead, .readingBody, .streamingBody, .lingering: return .read
        case .bodyPaused, .awaitingResponse, .streamingResponse:
            // Watching for the peer leaving; once it has half-closed, only for a reset or a
            // full hang-up (which epoll reports whatever is asked).
            return _flags.contains(.peerFinished) ? .none : .hangup
        case .closing, .upgraded, .closed: return .none
        }
    }

    /// What the connection waits for now, and until when; nil when nothing is timed (a deferred
    /// answer or a paused body: the handler's business; issue-level deadlines come later).
    /// `requestsBuffered`: the driver holds bytes of requests not served yet.
    public func currentWait(_ rules: ConnectionRules) -> (wait: ConnectionWait, deadline: Int64)? {
        if _state == .lingering { return (.linger, _since &+ rules.lingerTimeout) }
        if _flags.contains(.writeBlocked) {
            let stall = _since &+ rules.writeTimeout
            if rules.minimumResponseRate != nil, _rateDeadline != 0, _rateDeadline < stall { return (.slowRead, _rateDeadline) }
            return (.write, stall)
        }
        switch _state {
        case .idle:
            let lameDuck = _flags.contains(.draining) && _rateDeadline != 0
            if _requests == 0 {
                let due = _since &+ rules.headerTimeout
                return (.header, lameDuck ? min(_rateDeadline, due) : due)
            }
            if lameDuck { return (.idle, min(_rateDeadline, _since &+ rules.idleTimeout)) }
            return (.idle, _since &+ rules.idleTimeout)
        case .readingHead: return (.header, _since &+ rules.headerTimeout)
        case .readingBody, .streamingBody:
            let stall = _since &+ rules.bodyTimeout
            if rules.minimumBodyRate != nil, _rateDeadline != 0, _rateDeadline < stall { return (.slowBody, _rateDeadline) }
            return (.body, stall)
        default: return nil
        }
    }

    /// Makes the timer fire no later than the current deadline (timers are re-armed lazily:
    /// only a deadline *earlier* than the armed one moves it; a later one is found when it
    /// fires). On the keep-alive path: a few compares, `.keep`.
    @inlinable @inline(__always) public mutating func timerChange(_ rules: ConnectionRules) -> TimerChange {
        if case .idle = _state, _flags.contains(.timerArmed), _requests > 0, !_flags.contains(.writeBlocked),
            _timerAt <= _since &+ rules.idleTimeout
        {
            return .keep
        }
        return slowTimerChange(rules)
    }

    @usableFromInline mutating func slowTimerChange(_ rules: ConnectionRules) -> TimerChange {
        guard let (_, deadline) = currentWait(rules) else { return .keep }
        if !_flags.contains(.timerArmed) {
            _flags.insert(.timerArmed)
            _timerAt = deadline
            return .arm(at: deadline)
        }
        if deadline < _timerAt {
            _timerAt = deadline
            return .moveTo(deadline)
        }
        return .keep
    }

    /// Event: the connection's timer fired at `now` (it is no longer armed).
    public mutating func timerFired(now: Int64, _ rules: ConnectionRules) -> TimeoutAction {
        _flags.remove(.timerArmed)
        guard let (wait, deadline) = currentWait(rules) else { return .rearm(.keep) }
        if deadline > now { return .rearm(slowTimerChange(rules)) }
        if wait == .slowRead && _flags.contains(.deliveryMeasured) { return .measureDelivery }
        switch wait {
        case .idle, .linger, .write, .slowRead:
            return .close(wait)
        case .header where _state == .idle:
            return .close(.header)  // not one byte of a request: nothing to answer
        case .header, .body:
            _state = .closing
            _flags.insert(.lingerOnClose)
            return .requestTimeout(.timedOut(head: wait == .header))
        case .slowBody:
            _state = .closing
            _flags.insert(.lingerOnClose)
            return .requestTimeout(.bodyTooSlow(bytesPerSecond: Int(rules.minimumBodyRate?.bytesPerSecond ?? 0)))
        }
    }

    // MARK: The peer

    /// What the client shutting down its sending side comes to.
    public enum HalfCloseAction: Sendable, Equatable {
        /// It is gone as far as this connection is concerned: close.
        case close
        /// Keep the connection: the answer under way (or the paused body's rest, still in the
        /// socket) is delivered first; reading resumes after it and meets the end then.
        case keep
    }

    /// Event: the client half-closed (a read hang-up) while the connection was not reading
    /// (paused body, deferred or streamed answer). A client that sends its whole request and
    /// then shuts down its side still gets its answer: that is how a half-close reads.
    public mutating func peerHalfClosed() -> HalfCloseAction {
        switch _state {
        case .bodyPaused, .awaitingResponse, .streamingResponse:
            _flags.insert(.peerFinished)
            return .keep
        default:
            return .close
        }
    }

    // MARK: Closing

    /// Whether a close now should linger (shut down our side, read and discard until the client
    /// closes) rather than close at once.
    public var closesByLingering: Bool { _flags.contains(.lingerOnClose) }

    /// Event: bytes that will never be served are left (requests behind a final answer): the
    /// close lingers so that they do not turn it into a reset.
    public mutating func unreadInputLeft() {
        _flags.insert(.lingerOnClose)
    }

    /// Event: our side is shut down; lingering starts at `now`.
    public mutating func startedLingering(now: Int64) {
        _state = .lingering
        _since = now
    }

    /// Event: a lingering client sent `count` more bytes; true when it has sent too much and the
    /// connection should be closed outright.
    public mutating func discardedWhileLingering(_ count: Int, _ rules: ConnectionRules) -> Bool {
        _discarded = UInt32(clamping: Int(_discarded) + count)
        return Int(_discarded) > rules.lingerByteBudget
    }

    /// Event: the record is being released.
    public mutating func closed() {
        _state = .closed
    }

    // MARK: Draining

    /// Event: the server drains (shutdown or reload): take no request after the current one.
    /// `requestsBuffered`: the driver holds bytes of requests not served yet. `idleGrace`
    /// (nanoseconds; 0: none) is a lame duck's: a keep-alive connection between requests is
    /// kept until it has been idle that long, so that a client about to send its next request
    /// gets it answered (with `Connection: close`) instead of meeting a close it must retry.
    public mutating func drain(requestsBuffered: Bool, idleGrace: Int64 = 0, now: Int64 = 0) -> DrainAction {
        _flags.insert(.draining)
        _flags.remove(.answerKeepAlive)
        switch _state {
        case .idle:
            if _flags.contains(.writeBlocked) || requestsBuffered {
                // Its last responses are still going out (or a turn's requests wait): close
                // once they are written; requests not served are dropped, lingering.
                _state = .closing
                if requestsBuffered { _flags.insert(.lingerOnClose) }
                return .closeAfterExchange
            }
            let closesAt = _since.addingSaturating(idleGrace)
            // (A new connection gets the grace too, from its accept: its first request may be
            // on the way, and a client does not retry a request on a connection it just made.)
            if idleGrace > 0 && closesAt > now {
                _rateDeadline = closesAt  // (unused while idle: it holds the lame duck's deadline)
                if !_flags.contains(.timerArmed) {
                    _flags.insert(.timerArmed)
                    _timerAt = closesAt
                    return .closeWhenIdle(.arm(at: closesAt))
                }
                if closesAt < _timerAt {
                    _timerAt = closesAt
                    return .closeWhenIdle(.moveTo(closesAt))
                }
                return .closeWhenIdle(.keep)
            }
            return .closeNow
        case .closing, .lingering, .upgraded, .closed:
            return .closeAfterExchange
        default:
            return .closeAfterExchange
        }
    }

    /// Whether the connection drains.
    public var isDraining: Bool { _flags.contains(.draining) }
}
