@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// The connection is done: close it now, or linger first (after an error response, or
    /// with unread bytes that a close would turn into a reset).
    func finishClosing(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard c.pointee.machine.closesByLingering else { return close(id) }
        // Lingering close (RFC 9112 §9.6): shut down our side and drain what the client still
        // sends, so that closing with unread bytes does not send a reset that destroys the
        // response before the client reads it.
        System.shutdownWrite(c.pointee.fd)
        c.pointee.machine.startedLingering(now: nowNanoseconds)
        var orphan: BodyStream?
        if let lease = c.pointee.input {
            orphan = lease.pointee.stream
            dropInput(c)
        }
        settle(id, c)
        if let orphan { enqueue(.abort(orphan, .clientGone)) }
    }

    /// Closes connection `id`, if it is still open; closing twice is harmless. The slot is
    /// released first (any later event, timer or queued work for this ID finds nothing), then
    /// everything the connection held, then the descriptor, last and exactly once. A handler
    /// streaming the body hears `reason` afterwards (queued: no application code runs here).
    /// `reset`: an abortive close (RST): the kernel discards unsent output at once.
    func close(_ id: SlotID, reason: BodyAbort = .clientGone, reset: Bool = false) {
        guard let (fd, orphan) = removeRecord(id) else { return }
        counters.closed += 1
        if reset { System.setLingerZero(fd) }
        System.close(fd)
        if let orphan { enqueue(.abort(orphan, reason)) }
    }

    /// Takes connection `id`'s record out of the slab (no later event, timer or queued work
    /// finds it) and gives back everything it held but its descriptor: the timer, the leases,
    /// a file transfer, a response stream (finished), a pending upgrade. Returns the descriptor
    /// and the body stream that was still being fed, or nil when the connection is gone already.
    /// Closing and handing off both start here. `keepPlace`: the descriptor lives on (handed
    /// off), so its place under `maxConnections` stays taken until it closes.
    func removeRecord(_ id: SlotID, keepPlace: Bool = false) -> (fd: Int32, orphan: BodyStream?)? {
        guard var record = connections.remove(id) else { return nil }
        record.machine.closed()
        if record.timer != .none { reactor.cancelTimer(record.timer) }
        var orphan: BodyStream?
        if let lease = record.input {
            orphan = lease.pointee.stream
            lease.pointee.stream = nil
            releaseInputLease(lease)
        }
        if let lease = record.output { releaseOutputLease(lease) }
        if let file = record.file { releaseFile(file) }
        if let stream = responseStreams.removeValue(forKey: id.packed) { stream.connectionClosed() }
        pendingUpgrades.removeValue(forKey: id.packed)
        if !asyncTasks.isEmpty { dropAsyncTask(id) }
        if !keepPlace { connectionSlotFreed() }
        return (record.fd, orphan)
    }

    /// A closing connection still holds bytes of requests that will never be served (behind a
    /// final answer, or a turn cut short by draining): drop them; the close lingers, so that
    /// they do not turn it into a reset.
    func dropUnservedInput(_ c: UnsafeMutablePointer<Connection>) {
        guard c.pointee.machine.state.isClosing, let lease = c.pointee.input, !lease.pointee.buffer.isEmpty else { return }
        c.pointee.machine.unreadInputLeft()
        lease.pointee.buffer.clear()
    }
}
