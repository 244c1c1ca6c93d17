@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

extension WebSocketEngine {
    /// The application closes (`ws.close`, a handle, shutdown): a close frame now, TCP when
    /// the client answers or after `closeTimeout`. A no-op once closing.
    func close(_ id: SlotID, code: CloseCode, reason: String) {
        guard let r = records.pointer(to: id), !r.pointee.flags.contains(.finished), r.pointee.machine.close() else { return }
        appendClose(id, r, code: code, reason: reason)
        armTimer(id, r, at: now + r.pointee.route.heartbeat.closeTimeout)
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
            serve(id) {
                guard let r = records.pointer(to: id) else { return }
                appendFrame(id, r, .ping, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        case .wait(let until):
            armTimer(id, r, at: until)
        case .idle:
            break
        case .dead:
            counters.heartbeatTimeouts += 1
            finish(id, code: .abnormalClosure, reason: "no answer to a ping")
            end(id, reset: true)
        case .closeNow:
            finish(id, code: .abnormalClosure, reason: "no close frame from the client")
            end(id, reset: false)
        }
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
