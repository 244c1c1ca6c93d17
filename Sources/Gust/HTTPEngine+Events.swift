@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    // MARK: ReactorDelegate

    /// A descriptor is ready: the listener (accept), a descriptor handed to another protocol,
    /// or a connection, which is read, written, or closed as its machine's state says.
    func reactor(_ reactor: Reactor, ready token: UInt64, events: Events) {
        if token >= Self.lowestListenerToken && token <= Self.listenerToken {
            return acceptConnections(from: listeners[Int(Self.listenerToken - token)])
        }
        if token & Self.handoffBit != 0 { return handoffReady(token, events) }
        let id = SlotID(packed: token)
        guard let c = connections.pointer(to: id) else { return }  // closed earlier in this batch
        updateDate()
        if events.contains(.writable) {
            return writeReady(id, c)  // level-triggered: anything else is reported again
        }
        switch c.pointee.machine.state {
        case .idle, .readingHead, .readingBody:
            readAndServe(id, c)
        case .streamingBody:
            readAndStream(id, c)
        case .lingering:
            readAndDiscard(id, c)
        case .bodyPaused, .awaitingResponse, .streamingResponse:
            // Watching only for the peer leaving. A reset or a full hang-up: it is gone. A
            // half-close: it may still be reading, so its answer is delivered first.
            if events.contains(.error) || events.contains(.hangup) { return close(id) }
            switch c.pointee.machine.peerHalfClosed() {
            case .close: close(id)
            case .keep:
                if !asyncTasks.isEmpty { cancelAsyncTask(id) }
                settle(id, c)
            }
        case .closing, .upgraded, .closed:
            close(id)
        }
    }

    /// A timer fired: a connection's (its wait may have run out), or nothing of ours.
    func reactor(_ reactor: Reactor, timerFired payload: UInt64) {
        if payload & WebSocketEngine.timerBit != 0 { return webSocketsIfAny?.timerFired(payload) ?? () }
        // Connection timers carry the slot index and its generation (30 bits).
        guard let id = connections.id(atIndex: Int(payload & 0xffff_ffff)),
            UInt64(id.generation & 0x3fff_ffff) == payload >> 32,
            let c = connections.pointer(to: id)
        else { return }
        c.pointee.timer = .none
        updateDate()
        var action = c.pointee.machine.timerFired(now: nowNanoseconds, rules)
        if case .measureDelivery = action {
            // What the client really received (a big send buffer takes much it never reads).
            let delivered = System.bytesAcknowledged(c.pointee.fd) ?? 0
            action = c.pointee.machine.deliveryMeasured(delivered, now: nowNanoseconds, rules)
        }
        switch action {
        case .rearm(let change):
            apply(change, id, c)
        case .measureDelivery:
            preconditionFailure("deliveryMeasured decides")
        case .close(let wait):
            if wait != .linger { counters.timeouts += 1 }
            if wait == .slowRead { counters.slowClients += 1 }
            // A client that does not read: reset, so that the kernel drops what it still holds
            // for it too (a plain close would keep sending it, as an orphan, for minutes).
            close(id, reset: wait == .write || wait == .slowRead)
        case .requestTimeout(let why):
            counters.timeouts += 1
            var abort = BodyAbort.timedOut
            if case .bodyTooSlow = why {
                counters.slowClients += 1
                abort = .tooSlow
            }
            let mark = output.pointee.writerIndex
            if let stream = c.pointee.input?.pointee.stream {
                c.pointee.input!.pointee.stream = nil
                deliverAbort(stream, abort)  // application code: `c` is looked up again below
            }
            guard let c = connections.pointer(to: id) else { return }
            respond(to: why, id)
            dropInput(c)
            finishPass(id, mark)
        }
    }

    /// The reactor stops: every connection is closed (a body handler hears `.shutdown`), every
    /// descriptor handed off is closed.
    func reactorWillStop(_ reactor: Reactor) {
        connections.forEachID { id in close(id, reason: .shutdown) }
        closeHandoffs()
        webSocketsIfAny?.stop()
        if !draining { for listener in listeners { reactor.deregister(listener.fd) } }
        performWork()  // the loop will not turn again: body handlers hear `.shutdown` now
    }
}
