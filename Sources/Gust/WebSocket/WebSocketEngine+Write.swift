@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

extension WebSocketEngine {
    /// A message from the application (a callback, a handle, the async tier).
    func send(_ id: SlotID, _ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        guard let r = records.pointer(to: id), r.pointee.machine.phase == .open, !r.pointee.flags.contains(.finished) else { return }
        counters.messagesOut += 1
        appendFrame(id, r, opcode, payload)
    }

    /// Frames `payload` into the connection's output: the shared buffer while the connection
    /// is being served and has nothing pending (written when its callbacks return), else its
    /// output lease, queued for a flush. A message that would take the lease past
    /// `maxQueuedBytes` marks the connection a slow consumer, closed at that flush; control
    /// frames (pings, pongs, close: small, and bounded by the protocol's pace) always go.
    func appendFrame(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>, _ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        if current == id.packed && r.pointee.output == nil {
            return Self.frame(opcode, payload, into: &http.output.pointee)
        }
        guard !r.pointee.flags.contains(.overflowed) else { return }
        if let lease = r.pointee.output {
            guard opcode.isControl || lease.pointee.readableBytes + payload.count <= r.pointee.route.options.maxQueuedBytes else {
                r.pointee.flags.insert(.overflowed)
                return enqueue(id, r)
            }
            return Self.frame(opcode, payload, into: &lease.pointee)  // written when the socket takes more
        }
        let lease = http.takeOutputLease(copying: UnsafeRawBufferPointer(start: nil, count: 0))
        Self.frame(opcode, payload, into: &lease.pointee)
        r.pointee.output = lease
        enqueue(id, r)
    }

    static func frame(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        out.reserveWritable(FrameCodec.maxServerHeaderLength + payload.count)
        out.writerIndex += FrameCodec.writeServerHeader(fin: true, opcode: opcode, payloadLength: payload.count, into: out.unsafeWritePointer)
        out.append(payload)
    }

    /// A close frame: the code (none for a close that carried none) and a reason.
    func appendClose(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>, code: CloseCode?, reason: String) {
        guard let code else { return appendFrame(id, r, .close, UnsafeRawBufferPointer(start: nil, count: 0)) }
        withUnsafeTemporaryAllocation(byteCount: 125, alignment: 1) { space in
            let n = ClosePayload.write(code: code, reason: reason, into: space)
            appendFrame(id, r, .close, UnsafeRawBufferPointer(rebasing: space[0..<n]))
        }
    }

    func enqueue(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>) {
        guard !r.pointee.flags.contains(.queued) else { return }
        r.pointee.flags.insert(.queued)
        queued.append(id)
        if !flushScheduled {
            flushScheduled = true
            reactor.runSoon(runFlush)
        }
    }

    /// Writes the output of the connection just served (from `mark` in the shared buffer);
    /// what the socket does not take goes to an output lease, and the connection is watched
    /// for writing instead of reading.
    func flushServed(_ id: SlotID, from mark: Int) {
        guard let r = records.pointer(to: id) else { return }
        let output = http.output
        let count = output.pointee.writerIndex - mark
        if count > 0 {
            r.pointee.flags.insert(.sentSinceHeard)
            let bytes = UnsafeRawBufferPointer(start: output.pointee.unsafeBase + mark, count: count)
            if let lease = r.pointee.output {
                lease.pointee.append(bytes)
            } else {
                do {
                    switch try System.write(r.pointee.fd, from: bytes.baseAddress!, count: count) {
                    case .processed(let n) where n == count:
                        break
                    case .processed(let n):
                        holdOutput(id, r, UnsafeRawBufferPointer(rebasing: bytes[n...]))
                    case .wouldBlock:
                        holdOutput(id, r, bytes)
                    }
                } catch {
                    return peerGone(id, reason: "connection reset by the client")
                }
            }
        }
        afterWrite(id)
    }

    /// Output the socket would not take: kept in a lease, written when it is writable.
    func holdOutput(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>, _ rest: UnsafeRawBufferPointer) {
        r.pointee.output = http.takeOutputLease(copying: rest)
        updateInterest(id, r)
    }

    /// Writes the output lease; true unless the connection is gone. An emptied lease is given
    /// back and the connection is read again; one still holding bytes is watched for writing.
    func writeOutput(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>) -> Bool {
        guard let lease = r.pointee.output else { return true }
        while !lease.pointee.isEmpty {
            do {
                let result = try lease.pointee.withUnsafeReadableBytes { bytes throws(SystemError) in
                    try System.write(r.pointee.fd, from: bytes.baseAddress!, count: bytes.count)
                }
                switch result {
                case .processed(let n):
                    lease.pointee.readerIndex += n
                    // Taking output is a sign of life: the connection is not read meanwhile, so
                    // its pongs wait unread (a slow download must not look like a dead peer).
                    if n > 0 { r.pointee.machine.heard(now: now) }
                    r.pointee.flags.insert(.sentSinceHeard)
                case .wouldBlock:
                    updateInterest(id, r)
                    return true
                }
            } catch {
                peerGone(id, reason: "connection reset by the client")
                return false
            }
        }
        r.pointee.output = nil
        http.releaseOutputLease(lease)
        updateInterest(id, r)
        return true
    }

    /// Watches the descriptor for what the connection waits for: writing while output is
    /// pending (a client that does not read is not read either), nothing while its async
    /// handler has a full queue (errors and hang-ups are reported regardless), else reading.
    /// A no-op when nothing changes.
    func updateInterest(_ id: SlotID, _ r: UnsafeMutablePointer<WebSocketRecord>) {
        let writing = r.pointee.output != nil
        let idle = !writing && r.pointee.flags.contains(.paused)
        guard writing != r.pointee.flags.contains(.watchingWrites) || idle != r.pointee.flags.contains(.watchingNothing) else { return }
        if writing { r.pointee.flags.insert(.watchingWrites) } else { r.pointee.flags.remove(.watchingWrites) }
        if idle { r.pointee.flags.insert(.watchingNothing) } else { r.pointee.flags.remove(.watchingNothing) }
        // Paused: watched for the client leaving only (a FIN), not for its messages.
        try? reactor.modify(r.pointee.fd, interest: writing ? .writable : idle ? .readHangup : .readable, token: Self.token(id))
    }

    /// The async handler's queue is full: stop reading until it catches up.
    func pauseReading(_ id: SlotID) {
        guard let r = records.pointer(to: id), !r.pointee.flags.contains(.lingering) else { return }
        r.pointee.flags.insert(.paused)
        counters.readPauses += 1
        updateInterest(id, r)
    }

    func resumeReading(_ id: SlotID) {
        guard let r = records.pointer(to: id), r.pointee.flags.contains(.paused) else { return }
        r.pointee.flags.remove(.paused)
        updateInterest(id, r)
    }

    /// Once output is all written: the close handshake's end closes TCP; a failed
    /// connection sends FIN and lingers.
    func afterWrite(_ id: SlotID) {
        guard let r = records.pointer(to: id), r.pointee.output == nil else { return }
        if r.pointee.flags.contains(.closeWhenFlushed) {
            end(id, reset: false)
        } else if r.pointee.flags.contains(.lingerWhenFlushed) && !r.pointee.flags.contains(.lingering) {
            r.pointee.flags.insert(.lingering)
            System.shutdownWrite(r.pointee.fd)
        }
    }

    /// Writes what application code queued (for connections other than the one served, from
    /// timers, handles and publications), and closes slow consumers.
    func flushQueued() {
        flushScheduled = false
        while !queued.isEmpty {
            let batch = queued
            queued.removeAll(keepingCapacity: true)
            for id in batch {
                guard let r = records.pointer(to: id) else { continue }
                r.pointee.flags.remove(.queued)
                if r.pointee.flags.contains(.overflowed) {
                    counters.slowConsumers += 1
                    finish(id, code: .abnormalClosure, reason: "a slow consumer: over \(r.pointee.route.options.maxQueuedBytes) bytes queued")
                    end(id, reset: true)
                    continue
                }
                if writeOutput(id, r) { afterWrite(id) }
            }
        }
    }
}
