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

    /// Answers a request whose head is gone (a deferred response, or the end of a streamed
    /// body) from the facts its connection kept, runs `body` as a handler with that writer,
    /// and settles the connection (open again, parked again, or closing).
    func answerLater(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, canDefer: Bool, _ body: (inout ResponseWriter) -> Void) {
        let isHead = c.pointee.deferredIsHead
        let version = c.pointee.deferredVersion
        var writer = ResponseWriter(
            engine: self, connection: id, keepAlive: c.pointee.deferredKeepAlive, isHead: isHead, version: version,
            canDefer: canDefer, canStream: false)
        c.pointee.phase = .open
        handlerDepth += 1
        body(&writer)
        handlerDepth -= 1
        settle(id, c, &writer, isHead: isHead, version: version)
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
        answerLater(id, c, canDefer: false, body)
        guard emit(id, c, from: mark) else { return true }
        if c.pointee.phase == .open && c.pointee.output == nil && c.pointee.file == nil && c.pointee.input != nil {
            serveLease(id, c)
        } else {
            settleConnection(id, c)
        }
        return true
    }
}
