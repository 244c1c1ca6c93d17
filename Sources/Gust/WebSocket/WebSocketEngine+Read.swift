@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

extension WebSocketEngine {
    /// The descriptor is ready. A connection with output pending is watched for writing only
    /// (a client that does not read is not read either); otherwise it is read once (the
    /// reactor is level-triggered: bytes left are reported again, after other connections).
    func ready(_ token: UInt64, _ events: Events) {
        let id = SlotID(packed: token & ~HTTPEngine.handoffBit)
        guard let r = records.pointer(to: id) else { return }
        http.updateDate()
        if r.pointee.output != nil {
            guard writeOutput(id, r) else { return }
            return afterWrite(id)
        }
        if r.pointee.flags.contains(.paused) {
            // Watched for the client leaving only: an error, a hang-up, or its FIN.
            if events.contains(.error) || events.contains(.hangup) || events.contains(.readHangup) {
                peerGone(id, reason: "the client left while its messages waited for the handler")
            }
            return
        }
        read(id, r)
    }

    /// Reads into the reactor's read buffer, behind the connection's partial frame if it has
    /// one, and makes the machine's steps of it.
    func read(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>) {
        let buffer = http.readBuffer
        var kept = 0
        if let input = r.pointee.input, !input.pointee.tail.isEmpty {
            kept = input.pointee.tail.readableBytes
            input.pointee.tail.withUnsafeReadableBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: kept) }
        }
        let n: Int
        do {
            switch try System.read(r.pointee.fd, into: buffer + kept, count: http.readBufferSize - kept) {
            case .wouldBlock: return
            case .processed(let count): n = count
            }
        } catch {
            return peerGone(id, reason: "connection reset by the client")
        }
        if n == 0 { return peerGone(id, reason: "the client closed TCP without a close frame") }
        if kept > 0 { r.pointee.input!.pointee.tail.clear() }
        r.pointee.machine.heard(now: now)
        r.pointee.flags.remove(.sentSinceHeard)
        if r.pointee.flags.contains(.lingering) { return }  // failed: what the client still sends is dropped
        process(id, UnsafeMutableRawBufferPointer(start: buffer, count: kept + n))
    }

    /// Makes the machine's steps of `bytes` (which it unmasks in place), calling the handler
    /// for each message, answering pings and closes; keeps a partial frame's bytes; writes
    /// what all of it produced once.
    func process(_ id: SlotID, _ bytes: UnsafeMutableRawBufferPointer) {
        serve(id) {
            var offset = 0
            while true {
                guard let r = records.pointer(to: id) else { return }
                var consumed = 0
                let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
                let step = r.pointee.machine.next(rest, limits: r.pointee.route.limits, consumed: &consumed)
                offset += consumed
                switch step {
                case .needMore:
                    return keep(r, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                case .data(let opcode, let piece, let last):
                    take(id, r, opcode == .text ? .text : .binary, piece, last: last)
                case .ping(let payload):
                    appendFrame(id, r, .pong, payload)
                case .pong, .ignored:
                    break
                case .closeReceived(let code, let reason):
                    // §5.5.1: answer with a close frame (echoing the code), then close TCP.
                    appendClose(id, r, code: code, reason: "")
                    r.pointee.flags.insert(.closeWhenFlushed)
                    finish(id, code: code ?? .noStatusReceived, reason: reason)
                case .closeAcknowledged(let code):
                    r.pointee.flags.insert(.closeWhenFlushed)
                    finish(id, code: code ?? .noStatusReceived, reason: "")
                case .fail(let code, let why):
                    // §7.1.7: fail the connection: our close frame, then FIN, then drop what
                    // comes until the client closes (or closeTimeout).
                    counters.protocolErrors += 1
                    appendClose(id, r, code: code, reason: why)
                    r.pointee.flags.insert(.lingerWhenFlushed)
                    armTimer(id, r, at: now + r.pointee.route.heartbeat.closeTimeout)
                    finish(id, code: code, reason: why)
                }
            }
        }
    }

    /// A piece of a data message: a whole message straight from the bytes read, else joined
    /// in the connection's message lease until its last piece.
    func take(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>, _ kind: WebSocketMessage.Kind, _ piece: UnsafeRawBufferPointer, last: Bool) {
        if last && (r.pointee.input.map { $0.pointee.message.isEmpty } ?? true) {
            counters.messagesIn += 1
            return deliver(id, r, kind, piece)
        }
        let lease = inputLease(r)
        lease.pointee.message.append(piece)
        guard last else { return }
        counters.messagesIn += 1
        deliver(id, r, kind, lease.pointee.message.unsafeReadable)
        lease.pointee.message.clear()
    }

    /// Calls the handler with a message (application code: nothing is held across it but the
    /// bytes, which only the driver can release).
    func deliver(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>, _ kind: WebSocketMessage.Kind, _ payload: UnsafeRawBufferPointer) {
        guard !r.pointee.flags.contains(.finished) else { return }
        let route = r.pointee.route
        route.message(self, id, WebSocketMessage(kind: kind, payload: payload))
    }

    /// Keeps bytes not understood yet (a partial header or control frame), or gives the input
    /// lease back when nothing is part-way through.
    func keep(_ r: UnsafeMutablePointer<WebSocketRecord>, _ rest: UnsafeRawBufferPointer) {
        if !rest.isEmpty {
            inputLease(r).pointee.tail.append(rest)
        } else if let lease = r.pointee.input, lease.pointee.message.isEmpty, r.pointee.machine.assembler.isIdle {
            r.pointee.input = nil
            releaseInputLease(lease)
        }
    }

    func inputLease(_ r: UnsafeMutablePointer<WebSocketRecord>) -> UnsafeMutablePointer<WebSocketInput> {
        if let lease = r.pointee.input { return lease }
        let lease = inputLeases.take { WebSocketInput() }
        r.pointee.input = lease
        return lease
    }

    func releaseInputLease(_ lease: UnsafeMutablePointer<WebSocketInput>) {
        let freedBytes = lease.pointee.message.capacity + lease.pointee.tail.capacity
        let freed = inputLeases.give(lease) { input in
            input.tail.clear()
            input.message.clear()
            if input.message.capacity > 64 * 1024 { input.message.shrink(to: 4096) }
        }
        if freed { http.noteFreed(freedBytes) }
    }
}
