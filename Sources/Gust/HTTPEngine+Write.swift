@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// Writes `output[mark...]` to the connection with one `send` (or queues it behind output
    /// already pending), then truncates `output` back to `mark`; then sends the connection's
    /// file, if a response ends with one. What the socket does not take moves to an output
    /// lease, and the machine hears the write blocked. Returns false if the write failed and
    /// the connection is closed.
    func emit(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, from mark: Int) -> Bool {
        let count = output.pointee.writerIndex - mark
        if count > 0 {
            defer { output.pointee.writerIndex = mark }
            let bytes = UnsafeRawBufferPointer(start: output.pointee.unsafeBase + mark, count: count)
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
                        noteWriteBlocked(c)
                    }
                case .wouldBlock:
                    c.pointee.output = takeOutputLease(copying: bytes)
                    noteWriteBlocked(c)
                }
            } catch {
                close(id)
                return false
            }
        }
        if c.pointee.file != nil && c.pointee.output == nil {
            return sendFile(id, c) != .closed
        }
        return true
    }

    /// Ends a pass (or any batch of output for one connection): writes it, gives back an
    /// oversized output buffer, and settles the connection.
    func finishPass(_ id: SlotID, _ mark: Int) {
        guard let c = connections.pointer(to: id) else {
            output.pointee.writerIndex = mark
            return
        }
        finishPass(id, c, mark)
    }

    func finishPass(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ mark: Int) {
        guard emit(id, c, from: mark) else { return }
        if output.pointee.writerIndex == 0 && output.pointee.capacity > 4 << 20 {
            output.pointee.shrink(to: 64 * 1024)
        }
        settle(id, c)
    }

    /// Brings the descriptor's watch and the timer up to date with the machine, or finishes a
    /// close whose last response is out. Costs an `epoll_ctl` only when the watch changes
    /// (keep-alive traffic never does) and a timer operation only when a deadline comes earlier.
    func settle(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if c.pointee.machine.state.isClosing && c.pointee.output == nil && c.pointee.file == nil {
            return finishClosing(id, c)
        }
        apply(c.pointee.machine.timerChange(rules), id, c)
        let wanted = c.pointee.machine.interest()
        guard wanted != c.pointee.interest else { return }
        do {
            try reactor.modify(c.pointee.fd, interest: wanted.events, token: id.packed)
            c.pointee.interest = wanted
        } catch {
            close(id)
        }
    }

    /// Carries out a timer change the machine asked for.
    @inline(__always)
    func apply(_ change: TimerChange, _ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        switch change {
        case .keep:
            break
        case .arm(let deadline):
            c.pointee.timer = reactor.scheduleTimer(at: Instant(nanoseconds: deadline), payload: timerPayload(id))
        case .moveTo(let deadline):
            if !reactor.rescheduleTimer(c.pointee.timer, to: Instant(nanoseconds: deadline)) {
                c.pointee.timer = reactor.scheduleTimer(at: Instant(nanoseconds: deadline), payload: timerPayload(id))
            }
        }
    }

    /// The socket has room (or a response stream has pieces to write): write what is pending;
    /// once it is all out, carry on where the connection stopped.
    func writeReady(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if let pending = c.pointee.output {
            do {
                let readable = pending.pointee.unsafeReadable
                switch try System.write(c.pointee.fd, from: readable.baseAddress!, count: readable.count) {
                case .processed(let written):
                    pending.pointee.readerIndex += written
                    if written > 0 { c.pointee.machine.writeProgressed(written, now: nowNanoseconds, rules) }
                case .wouldBlock:
                    break
                }
            } catch {
                return close(id)
            }
            guard pending.pointee.isEmpty else { return stillBlocked(id, c) }
            c.pointee.output = nil
            releaseOutputLease(pending)
        }
        if c.pointee.file != nil {
            switch sendFile(id, c) {
            case .done: break
            case .blocked: return stillBlocked(id, c)
            case .closed: return
            }
        }
        c.pointee.machine.writeDrained()
        outputDrained(id, c)
    }

    /// Tells the machine output stayed behind; on the first block, with a minimum response
    /// rate, what the client has acknowledged so far (one `getsockopt`, not on the fast path).
    @inline(__always)
    func noteWriteBlocked(_ c: UnsafeMutablePointer<Connection>) {
        var delivered: UInt64?
        if rules.minimumResponseRate != nil && !c.pointee.machine.flags.contains(.writeBlocked) {
            delivered = System.bytesAcknowledged(c.pointee.fd)
        }
        c.pointee.machine.writeBlocked(now: nowNanoseconds, rules, delivered: delivered)
    }

    /// Output is still waiting on the socket: watch for room (the write timeout runs).
    func stillBlocked(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if !c.pointee.machine.flags.contains(.writeBlocked) { noteWriteBlocked(c) }
        settle(id, c)
    }

    /// Every pending byte is out: serve requests that queued up meanwhile, hand an upgraded
    /// connection off, close a closing one, or tell a response stream's writer.
    func outputDrained(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        switch c.pointee.machine.state {
        case .idle where c.pointee.input != nil:
            serveLease(id, c)
        case .upgraded:
            handOff(id, c, unread: UnsafeRawBufferPointer(start: nil, count: 0), mark: output.pointee.writerIndex)
        case .streamingResponse:
            settle(id, c)
            notifyDrained(id)  // application code, last
        default:
            settle(id, c)
        }
    }
}
