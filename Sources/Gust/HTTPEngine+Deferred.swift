import GustCore

extension HTTPEngine {
    /// A handler deferred the response of connection `id`; returns the sequence number that
    /// names this deferral.
    func noteDeferred(_ id: SlotID) -> UInt32 {
        guard let c = connections.pointer(to: id) else { return 0 }
        c.pointee.deferredSequence &+= 1
        return c.pointee.deferredSequence
    }

    func isAwaiting(_ id: SlotID, _ sequence: UInt32) -> Bool {
        guard let c = connections.pointer(to: id) else { return false }
        return c.pointee.phase == .awaiting && c.pointee.deferredSequence == sequence
    }

    /// Sends a deferred response and resumes its connection. Called from inside a handler, it
    /// waits until the reactor is between handlers (`runSoon`), so that no batch is interrupted
    /// half-written.
    func completeDeferred(_ id: SlotID, _ sequence: UInt32, _ body: @escaping (inout ResponseWriter) -> Void) -> Bool {
        if handlerDepth > 0 {
            // The handler that deferred may still be on the stack (its connection is not marked
            // awaiting yet), or another connection's batch is half-written: answer right after.
            guard connections.pointer(to: id)?.pointee.deferredSequence == sequence else { return false }
            reactor.runSoon { [unowned self] in _ = completeDeferred(id, sequence, body) }
            return true
        }
        guard isAwaiting(id, sequence) else { return false }
        let c = connections.pointer(to: id)!
        dateCache.pointee.update(epochSeconds: clock.pointee.wallClockSeconds)
        let mark = output.pointee.writerIndex
        let isHead = c.pointee.deferredIsHead
        let version = c.pointee.deferredVersion
        var writer = ResponseWriter(
            engine: self, connection: id, keepAlive: c.pointee.deferredKeepAlive, isHead: isHead, version: version,
            canDefer: false)
        handlerDepth += 1
        body(&writer)
        handlerDepth -= 1
        c.pointee.phase = .open
        settle(id, c, &writer, isHead: isHead, version: version)
        guard emit(id, c, from: mark) else { return true }
        if c.pointee.phase == .open && c.pointee.output == nil && c.pointee.file == nil && c.pointee.input != nil {
            serveLease(id, c)
        } else {
            settleConnection(id, c)
        }
        return true
    }
}
