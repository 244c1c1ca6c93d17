/// How a server keeps watch over a connection's peer (RFC 6455 §5.5.2-§5.5.3) and ends it.
public struct HeartbeatRules: Sendable {
    /// A connection silent this long is pinged; 0: never.
    public var interval: Int64
    /// A ping unanswered this long (nothing at all heard since it went) ends the connection.
    public var timeout: Int64
    /// Each wait is shortened by up to this fraction of `interval`, at random, so that
    /// connections opened together do not ping together.
    public var jitter: Double
    /// How long to wait for the peer's close frame after sending ours (then the TCP
    /// connection is closed regardless).
    public var closeTimeout: Int64

    /// All in nanoseconds.
    public init(interval: Int64, timeout: Int64, jitter: Double = 0.1, closeTimeout: Int64) {
        precondition(interval >= 0 && timeout > 0 && closeTimeout > 0 && jitter >= 0 && jitter < 1)
        self.interval = interval
        self.timeout = timeout
        self.jitter = jitter
        self.closeTimeout = closeTimeout
    }

    /// `interval` less its jitter, for a random value `random` (any 64 bits).
    func jittered(_ random: UInt64) -> Int64 {
        let fraction = Double(random >> 11) / Double(1 << 53)  // [0, 1)
        return interval - Int64(Double(interval) * jitter * fraction)
    }
}

/// A server connection's WebSocket protocol state, after the handshake: messages in (through
/// `MessageAssembler`), the close handshake (§7), and heartbeats. Pure: bytes and a clock in,
/// steps and timer actions out; the driver (Gust's engine) does the I/O and calls the
/// application.
///
/// Phases: `open` → (we close) `closeSent` → `closed`; `open` → (peer closes) `closed`;
/// `open` → (peer breaks the protocol) `failed`. Once not `open`, data is dropped; in
/// `closeSent` the peer's close frame is still looked for.
///
/// Threading: a value in a connection's record, used by its reactor only.
public struct WebSocketMachine: Sendable {
    public enum Phase: UInt8, Sendable {
        case open, closeSent, closed, failed
    }

    public var assembler = MessageAssembler()
    public private(set) var phase: Phase = .open
    /// When the peer last sent anything (nanoseconds, the driver's clock).
    public private(set) var lastHeard: Int64
    /// When the unanswered ping went out; 0: none is.
    public private(set) var pingSentAt: Int64 = 0

    public init(now: Int64) { lastHeard = now }

    /// When the first timer is due: a jittered interval from now (no heartbeat: nil).
    public static func firstDeadline(now: Int64, rules: HeartbeatRules, random: UInt64) -> Int64? {
        rules.interval > 0 ? now + rules.jittered(random) : nil
    }

    /// Bytes arrived from the peer (any: a talking peer needs no ping).
    @inline(__always) public mutating func heard(now: Int64) { lastHeard = now }

    /// The next step from the bytes the peer sent (`consumed` set as for `MessageAssembler`).
    public mutating func next(_ bytes: UnsafeMutableRawBufferPointer, limits: MessageLimits, consumed: inout Int) -> SessionStep {
        switch phase {
        case .closed, .failed:
            consumed = bytes.count  // the conversation is over: nothing more is read
            return .needMore
        case .open, .closeSent:
            break
        }
        let step = assembler.next(bytes, limits: limits, consumed: &consumed)
        switch step {
        case .needMore:
            return .needMore
        case .fail(let code, let why):
            if phase == .closeSent {
                // Our close is out; a peer that breaks the protocol now is simply done.
                phase = .closed
                return .closeAcknowledged(nil)
            }
            phase = .failed
            return .fail(code, why)
        case .data(let kind, let piece, let last):
            return phase == .open ? .data(kind, piece, last: last) : .ignored
        case .control(let opcode, let payload):
            switch opcode {
            case .ping:
                return phase == .open ? .ping(payload) : .ignored
            case .pong:
                return .pong(payload)
            case .close:
                guard case .success(let parsed) = ClosePayload.parse(payload) else { preconditionFailure("checked by the assembler") }
                if phase == .closeSent {
                    phase = .closed
                    return .closeAcknowledged(parsed.code)
                }
                phase = .closed
                return .closeReceived(parsed.code, parsed.reason)
            default:
                preconditionFailure("only control opcodes")
            }
        }
    }

    /// The application (or the server) closes: true if a close frame should go out now (the
    /// driver then waits `closeTimeout` for the peer's); false if closing already.
    public mutating func close() -> Bool {
        guard phase == .open else { return false }
        phase = .closeSent
        return true
    }

    /// The connection's timer fired at `now`: what to do, and when it is due next.
    public mutating func timerFired(now: Int64, rules: HeartbeatRules, random: UInt64) -> TimerStep {
        switch phase {
        case .closeSent, .closed, .failed:
            return .closeNow  // the close handshake, or the lingering after a failure, ran out
        case .open:
            break
        }
        guard rules.interval > 0 else { return .idle }
        if pingSentAt != 0 {
            guard lastHeard >= pingSentAt else { return .dead }
            pingSentAt = 0
        }
        let due = lastHeard + rules.jittered(random)
        if now < due { return .wait(until: due) }
        pingSentAt = now
        return .ping(deadline: now + rules.timeout)
    }
}

/// What the machine made of the peer's bytes.
public enum SessionStep {
    case needMore
    /// A piece of a message (see `AssemblerStep.data`).
    case data(WebSocketOpcode, UnsafeRawBufferPointer, last: Bool)
    /// Answer with a pong carrying the same payload (§5.5.3).
    case ping(UnsafeRawBufferPointer)
    /// A pong (answer or unsolicited): nothing to do beyond having heard the peer.
    case pong(UnsafeRawBufferPointer)
    /// The peer closes: send a close frame back (its code, or none) and close the TCP
    /// connection once that is written (§5.5.1, §7.1.1: the server closes first).
    case closeReceived(CloseCode?, String)
    /// The peer answered our close (with this code): close the TCP connection.
    case closeAcknowledged(CloseCode?)
    /// A frame after the conversation ended, or data while closing: dropped.
    case ignored
    /// The peer broke the protocol: send a close frame with this code, then close (§7.1.7).
    case fail(CloseCode, String)
}

/// What a connection's timer firing calls for.
public enum TimerStep: Equatable, Sendable {
    /// Send a ping; the timer is due again at `deadline` (the pong's).
    case ping(deadline: Int64)
    /// Nothing yet: re-arm for `until`.
    case wait(until: Int64)
    /// No heartbeat is kept.
    case idle
    /// The ping went unanswered: the peer is gone.
    case dead
    /// The close handshake or the lingering ran out: close the TCP connection.
    case closeNow
}
