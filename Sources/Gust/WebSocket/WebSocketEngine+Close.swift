@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

extension WebSocketEngine {
    /// The application closes (`ws.close`, a handle, shutdown): a close frame now, TCP when
    /// the client answers or after `closeTimeout`. A no-op once closing.
    func close(_ id: SlotID, code: CloseCode, reason: String) {
        guard let r = records.pointer(to: id), !r.pointee.flags.contains(.finished), r.pointee.machine.close() else { return }
        // §7.4.1: 1005, 1006, 1015 and non-codes never go on the wire: a close frame without a code.
        appendClose(id, r, code: code.isValidOnTheWire ? code : nil, reason: reason)
        armTimer(id, r, at: now + r.pointee.route.heartbeat.closeTimeout)
        // Not read while its async handler was behind: read again, for the client's close
        // frame (messages are dropped from now on, so nothing more waits for the handler).
        if r.pointee.flags.contains(.paused) {
            r.pointee.flags.remove(.paused)
            updateInterest(id, r)
        }
    }

    /// Calls `onClose` once (application code); afterwards nothing is sent or delivered.
    func finish(_ id: SlotID, code: CloseCode, reason: String) {
        guard let r = records.pointer(to: id), !r.pointee.flags.contains(.finished) else { return }
        r.pointee.flags.insert(.finished)
        counters.closed += 1
        let route = r.pointee.route
        route.close(self, id, code, reason)
    }

    /// TCP ended under the connection (EOF, reset, a failed write).
    func peerGone(_ id: SlotID, reason: String) {
        finish(id, code: .abnormalClosure, reason: reason)
        end(id, reset: false)
    }

    /// Removes the connection: its topics, timer and leases go, the descriptor is closed
    /// (`reset`: abortively, dropping what the kernel still holds for it) and its place under
    /// `maxConnections` is free. Driver code only; idempotent.
    func end(_ id: SlotID, reset: Bool) {
        finish(id, code: .abnormalClosure, reason: "closed")  // if nobody said why yet
        guard let r = records.pointer(to: id) else { return }
        for topic in r.pointee.topics { removeSubscriber(id, topic) }
        guard let record = records.remove(id) else { return }
        if record.timer != .none { _ = reactor.cancelTimer(record.timer) }
        if let lease = record.input { releaseInputLease(lease) }
        if let lease = record.output { http.releaseOutputLease(lease) }
        if reset { System.setLingerZero(record.fd) }
        System.close(record.fd)
        http.connectionSlotFreed()
    }

    func armTimer(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>, at deadline: Int64) {
        let at = Instant(nanoseconds: deadline)
        if r.pointee.timer != .none && reactor.rescheduleTimer(r.pointee.timer, to: at) { return }
        r.pointee.timer = reactor.scheduleTimer(at: at, payload: timerPayload(id))
    }

    /// A connection's timer fired: a heartbeat (ping, wait, or give up on a silent peer), or
    /// the end of a close handshake or lingering.
    func timerFired(_ payload: UInt64) {
        guard let id = records.id(atIndex: Int(payload & 0xffff_ffff)),
            UInt64(id.generation & 0x3fff_ffff) == (payload >> 32) & 0x3fff_ffff,
            let r = records.pointer(to: id)
        else { return }
        r.pointee.timer = .none
        http.updateDate()
        switch r.pointee.machine.timerFired(now: now, rules: r.pointee.route.heartbeat, random: nextRandom()) {
        case .ping(let deadline):
            counters.pingsSent += 1
            armTimer(id, r, at: deadline)
            // A ping behind data the client has not read yet (in our lease, or in the kernel's
            // send buffer) is answered only once that is read: what the client acknowledges
            // meanwhile tells a slow reader from a dead one. Idle connections skip the syscall.
            r.pointee.ackedAtPing = 0
            if r.pointee.output != nil || r.pointee.flags.contains(.sentSinceHeard),
                let acked = System.bytesAcknowledged(r.pointee.fd), let queued = System.sendQueueBytes(r.pointee.fd)
            {
                // The ping (2 bytes) goes behind the kernel's queue and our lease.
                r.pointee.ackedAtPing = acked
                r.pointee.pingDeliveredAt = acked + queued + UInt64(r.pointee.output?.pointee.readableBytes ?? 0) + 2
            }
            serve(id) {
                guard let r = records.pointer(to: id) else { return }
                appendFrame(id, r, .ping, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        case .wait(let until):
            armTimer(id, r, at: until)
        case .idle:
            break
        case .dead where isSlowReader(r):
            // Not dead: still reading what was queued ahead of the ping.
            r.pointee.machine.heard(now: now)
            armTimer(id, r, at: now + r.pointee.route.heartbeat.timeout)
        case .dead where r.pointee.flags.contains(.paused):
            // Not read because its async handler is behind: its answer may be waiting unread.
            r.pointee.machine.heard(now: now)
            armTimer(id, r, at: now + r.pointee.route.heartbeat.timeout)
        case .dead:
            counters.heartbeatTimeouts += 1
            finish(id, code: .abnormalClosure, reason: "no answer to a ping")
            end(id, reset: true)
        case .closeNow:
            finish(id, code: .abnormalClosure, reason: "no close frame from the client")
            end(id, reset: false)
        }
    }

    /// A ping went unanswered, but it was queued behind data the client was still taking:
    /// since the ping (or the last look) it acknowledged more, and at that time the data ahead
    /// of the ping was not all acknowledged yet. Each look grants one more `pongTimeout`; once
    /// everything up to the ping has been acknowledged, one last one lets the client read what
    /// its own buffer holds. A client whose kernel took the ping at once and that stays silent
    /// is dead to us, however alive its kernel. Costs a TCP_INFO read, only for pings that
    /// went out behind data.
    func isSlowReader(_ r: UnsafeMutablePointer<WebSocketRecord>) -> Bool {
        guard r.pointee.ackedAtPing != 0, r.pointee.ackedAtPing + 2 < r.pointee.pingDeliveredAt,
            let acked = System.bytesAcknowledged(r.pointee.fd), acked > r.pointee.ackedAtPing
        else { return false }
        r.pointee.ackedAtPing = acked
        return true
    }

    /// Shutdown or reload: every connection is closed with 1001 (going away); the reactor
    /// stops once they have answered (or `closeTimeout` passed).
    func drain() {
        records.forEachID { id in close(id, code: .goingAway, reason: "server shutting down") }
        flushQueued()
    }

    /// The reactor stops: whatever is still open is closed.
    func stop() {
        records.forEachID { id in
            finish(id, code: .goingAway, reason: "server stopped")
            end(id, reset: false)
        }
    }
}
