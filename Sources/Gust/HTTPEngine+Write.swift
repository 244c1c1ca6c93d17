import GustCore
import GustIO

extension HTTPEngine {
    /// Writes `output[mark...]` to the connection with one `write` (or queues it behind output
    /// already pending), then truncates `output` back to `mark`; then sends the connection's
    /// file, if a response ends with one. What the socket does not take moves to an output
    /// lease. Returns false if the write failed and the connection is closed.
    func emit(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, from mark: Int) -> Bool {
        let count = output.pointee.writerIndex - mark
        if count > 0 {
            defer { output.pointee.writerIndex = mark }
            let bytes = UnsafeRawBufferPointer(start: output.pointee.base + mark, count: count)
            if let pending = c.pointee.output {
                pending.pointee.append(bytes)
                return true
            }
            do {
                // A head followed by a file: MSG_MORE lets the kernel send them together.
                let result = c.pointee.file == nil
                    ? try System.write(c.pointee.fd, from: bytes.baseAddress!, count: count)
                    : try System.writeMore(c.pointee.fd, from: bytes.baseAddress!, count: count)
                switch result {
                case .processed(let written):
                    if written < count {
                        c.pointee.output = takeOutputLease(copying: UnsafeRawBufferPointer(rebasing: bytes[written...]))
                        c.pointee.since = nowNanoseconds  // the write timeout counts from here
                    }
                case .wouldBlock:
                    c.pointee.output = takeOutputLease(copying: bytes)
                    c.pointee.since = nowNanoseconds
                }
            } catch {
                close(id, c)
                return false
            }
        }
        if c.pointee.file != nil && c.pointee.output == nil {
            return sendFile(id, c) != .closed
        }
        return true
    }

    /// Ends a batch: writes its responses, gives back an oversized output buffer, and brings the
    /// connection's phase and epoll interest up to date.
    func finishBatch(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ mark: Int) {
        guard emit(id, c, from: mark) else { return }
        if output.pointee.writerIndex == 0 && output.pointee.capacity > 4 << 20 {
            output.pointee.shrink(to: 64 * 1024)
        }
        settleConnection(id, c)
    }

    /// Closes a connection whose last response is out, or updates what epoll watches for it.
    func settleConnection(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if c.pointee.phase == .closing && c.pointee.output == nil && c.pointee.file == nil {
            return finishClosing(id, c)
        }
        updateInterest(id, c)
    }

    /// Watches for exactly what the connection waits for: room to write while output is
    /// pending; requests while open; body bytes while a handler streams them (only the peer
    /// leaving while it is paused, or while a response is deferred). Costs an `epoll_ctl` only
    /// when that changes, which keep-alive traffic never does. Then makes sure the connection's
    /// timer covers what it now waits for.
    func updateInterest(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        let wanted: Events
        if c.pointee.output != nil || c.pointee.file != nil {
            wanted = .writable
        } else {
            switch c.pointee.phase {
            case .open, .lingering: wanted = .readable
            case .streamingBody: wanted = c.pointee.input?.pointee.stream?.isPaused == true ? .readHangup : .readable
            case .awaiting: wanted = .readHangup
            case .closing: wanted = []
            }
        }
        armTimeout(id, c)
        guard wanted != c.pointee.interest else { return }
        do {
            try reactor.modify(c.pointee.fd, interest: wanted, token: id.packed)
            c.pointee.interest = wanted
        } catch {
            close(id, c)
        }
    }

    /// The socket has room: write pending output; once it is all out, carry on where the
    /// connection stopped (close, or serve requests that queued up meanwhile).
    func writeReady(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if let pending = c.pointee.output {
            do {
                let readable = pending.pointee.readable
                switch try System.write(c.pointee.fd, from: readable.baseAddress!, count: readable.count) {
                case .processed(let written):
                    pending.pointee.readerIndex += written
                    c.pointee.since = nowNanoseconds  // progress: the write timeout starts again
                case .wouldBlock: return
                }
            } catch {
                return close(id, c)
            }
            guard pending.pointee.isEmpty else { return }
            c.pointee.output = nil
            releaseOutputLease(pending)
            if c.pointee.phase == .awaiting && !responseStreams.isEmpty { streamDrained(id) }
        }
        if c.pointee.file != nil {
            guard sendFile(id, c) == .done else { return }  // closed, or more to send when writable
        }
        if c.pointee.phase == .open && c.pointee.input != nil {
            serveLease(id, c)
        } else {
            settleConnection(id, c)
        }
    }

    /// The connection is done: close it now, or linger first after an error.
    func finishClosing(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard c.pointee.lingerOnClose else { return close(id, c) }
        // Lingering close (RFC 9112 §9.6): shut down our side and drain what the client still
        // sends, so that closing with unread bytes does not send a reset that destroys the
        // response before the client reads it.
        System.shutdownWrite(c.pointee.fd)
        c.pointee.phase = .lingering
        c.pointee.since = nowNanoseconds
        if let lease = c.pointee.input {
            c.pointee.input = nil
            abortStream(lease, .clientGone)
            releaseInputLease(lease)
        }
        updateInterest(id, c)
    }

    /// Reads and throws away what a lingering client sends, until it closes or sends too much.
    func readAndDiscard(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let n = readOnce(id, c, into: readBuffer, count: readBufferSize), n > 0 else { return }
        c.pointee.discarded &+= UInt32(n)
        if Int(c.pointee.discarded) > Self.lingerByteBudget { close(id, c) }
    }


    /// Closes the descriptor and frees everything the connection held. Its slot is reused; any
    /// later event, timer or deferred response for the old ID is ignored. A handler streaming
    /// the body is told it was aborted (`reason`).
    func close(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, reason: BodyAbort = .clientGone) {
        System.close(c.pointee.fd)
        if let lease = c.pointee.input {
            c.pointee.input = nil
            abortStream(lease, reason)
            releaseInputLease(lease)
        }
        if let lease = c.pointee.output { releaseOutputLease(lease) }
        if let file = c.pointee.file { releaseFile(file) }
        if c.pointee.phase == .awaiting, let stream = responseStreams.removeValue(forKey: id.packed) {
            stream.isFinished = true
            stream.drainHandler = nil
        }
        if c.pointee.timer != .none { reactor.cancelTimer(c.pointee.timer) }
        connections.remove(id)
        counters.closed += 1
    }
}
