import GustCore
import GustHTTP1
import GustIO

/// What a connection is waiting for, each with its own timeout.
enum ConnectionWait: UInt8 {
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
}

/// Timeouts, one timer per connection on the reactor's timer wheel, armed lazily (the
/// approach of nginx and of Go's deadline timers): the connection records in `since` when its
/// current wait started (a plain store on the request path), and its timer is moved only when
/// a wait's deadline comes *earlier* than the timer. When the timer fires, the deadline is
/// worked out again from the connection's state; if it has moved on, the timer is re-armed for
/// it. So keep-alive traffic touches the wheel about once per idle timeout per connection,
/// not once per request, and a million idle connections cost a million wheel entries.
extension HTTPEngine {
    /// What the connection waits for now, and until when (monotonic ns); nil when nothing is
    /// timed (a deferred response or a paused body stream: the handler's business).
    func currentWait(_ c: UnsafeMutablePointer<Connection>) -> (wait: ConnectionWait, deadline: Int64)? {
        let since = c.pointee.since
        if c.pointee.phase == .lingering { return (.linger, since &+ lingerTimeout) }
        if c.pointee.output != nil || c.pointee.file != nil { return (.write, since &+ writeTimeout) }
        switch c.pointee.phase {
        case .awaiting, .closing, .lingering:
            return nil
        case .streamingBody:
            if c.pointee.input?.pointee.stream?.isPaused == true { return nil }
            return (.body, since &+ bodyTimeout)
        case .open:
            if let lease = c.pointee.input {
                if lease.pointee.parser.pointee.isHeadComplete { return (.body, since &+ bodyTimeout) }
                return (.header, since &+ headerTimeout)
            }
            if c.pointee.requests == 0 { return (.header, since &+ headerTimeout) }
            return (.idle, since &+ idleTimeout)
        }
    }

    /// Makes sure the connection's timer fires no later than its current deadline. O(1); on
    /// the keep-alive path, two compares.
    @inline(__always)
    func armTimeout(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        // The keep-alive path: idle after its responses, the timer already armed no later.
        if c.pointee.phase == .open && c.pointee.input == nil && c.pointee.output == nil && c.pointee.file == nil
            && c.pointee.requests > 0 && c.pointee.timer.raw != 0 && c.pointee.timerAt <= c.pointee.since &+ idleTimeout
        {
            return
        }
        guard let (_, deadline) = currentWait(c) else { return }
        if c.pointee.timer == .none {
            c.pointee.timer = reactor.scheduleTimer(at: Instant(nanoseconds: deadline), payload: timerPayload(id))
            c.pointee.timerAt = deadline
        } else if deadline < c.pointee.timerAt {
            reactor.rescheduleTimer(c.pointee.timer, to: Instant(nanoseconds: deadline))
            c.pointee.timerAt = deadline
        }
    }

    /// The connection's timer fired: act on the wait that has run out, or re-arm for the one
    /// it is in now.
    func timeoutFired(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let (wait, deadline) = currentWait(c) else { return }
        if deadline > nowNanoseconds { return armTimeout(id, c) }
        switch wait {
        case .idle, .linger:
            counters.timeouts += wait == .idle ? 1 : 0
            close(id, c)
        case .write:
            counters.timeouts += 1
            close(id, c)  // the client does not read: nothing more can reach it
        case .header, .body:
            counters.timeouts += 1
            if wait == .header && c.pointee.input == nil {
                return close(id, c)  // not one byte of a request: nothing to answer
            }
            if let lease = c.pointee.input { abortStream(lease, .timedOut) }
            let mark = output.pointee.writerIndex
            respondToBadRequest(id, c, .requestTimeout, wait == .header ? "request head not received in time" : "request body not received in time")
            counters.badRequests -= 1  // counted as a timeout, not as bad input
            if let lease = c.pointee.input {
                c.pointee.input = nil
                releaseInputLease(lease)
            }
            finishBatch(id, c, mark)
        }
    }
}
