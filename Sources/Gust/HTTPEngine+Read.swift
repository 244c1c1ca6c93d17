@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// How a pass of a connection's machine over bytes ended (`runPass`).
enum PassEnd: Equatable {
    /// Every byte was served.
    case consumed
    /// The bytes from `pass.offset` hold a partial request (or the connection is part-way
    /// through a streamed body); only the first `keep` of them matter.
    case needMore(keep: Int)
    /// The turn's share of pipelined requests was served; the rest waits for the next turn.
    case yielded
    /// The connection waits (for its answer, its stream, its close); the rest waits too.
    case waiting
    /// The socket would not take more output; the rest waits for it.
    case blocked
    /// A body handler paused; the rest of the pass waits for it to resume.
    case paused
    /// The connection goes to another protocol with the rest of the pass.
    case handOff
    /// The connection is closed: touch nothing of it.
    case closed
}

extension HTTPEngine {
    // MARK: Reading

    /// The connection is readable: read once (level-triggered epoll reports it again if more is
    /// waiting) and serve what arrived. A connection holding a partial request reads into its
    /// lease (a request's bytes must be contiguous); any other into the shared read buffer.
    func readAndServe(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if let lease = c.pointee.input {
            makeRoomToRead(lease)
            guard let n = readOnce(id, c, into: lease.pointee.buffer.unsafeWritePointer, count: lease.pointee.buffer.writableBytes),
                n > 0
            else { return }
            lease.pointee.buffer.writerIndex += n
            c.pointee.machine.bytesArrived(n, now: nowNanoseconds, rules)
            serveLease(id, c)
        } else {
            guard let n = readOnce(id, c, into: readBuffer, count: readBufferSize), n > 0 else { return }
            c.pointee.machine.bytesArrived(n, now: nowNanoseconds, rules)
            serveReadBuffer(id, c, count: n)
        }
    }

    /// Reads body bytes for a handler taking them piece by piece: into the shared read buffer
    /// (no copy unless the handler pauses part-way), parsed with the lease's parser.
    func readAndStream(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let lease = c.pointee.input, lease.pointee.stream != nil else { return close(id) }
        if !lease.pointee.buffer.isEmpty { return serveLease(id, c) }  // what was kept goes first
        guard let n = readOnce(id, c, into: readBuffer, count: readBufferSize), n > 0 else { return }
        c.pointee.machine.bytesArrived(n, now: nowNanoseconds, rules)
        serveReadBuffer(id, c, count: n)
    }

    /// One `read` into `buffer`: the byte count, or nil when there was nothing to read. An
    /// error or the end of the stream (the client left) closes the connection and gives 0.
    @inline(__always)
    func readOnce(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, into buffer: UnsafeMutableRawPointer, count: Int) -> Int? {
        do {
            switch try System.read(c.pointee.fd, into: buffer, count: count) {
            case .processed(let n):
                if n == 0 { close(id) }
                return n
            case .wouldBlock:
                return nil
            }
        } catch {
            close(id)
            return 0
        }
    }

    /// Ensures the lease has room for a useful read: compacts it, and grows it by doubling
    /// (never past a declared body's end, nor past the request limits plus one read buffer). A
    /// lease with 512 bytes free is not grown: a slow client's partial head stays in its first
    /// 1 KiB. The sizes saturate: limits may be `Int.max`.
    func makeRoomToRead(_ lease: UnsafeMutablePointer<InputLease>) {
        let minimum = 512
        if lease.pointee.buffer.writableBytes >= minimum { return }
        if lease.pointee.buffer.readerIndex > 0 { lease.pointee.buffer.discardReadBytes() }
        let readable = lease.pointee.buffer.readableBytes
        var wanted = readable.saturatingAdd(max(minimum, readable))
        let parser = lease.pointee.parser
        if parser.pointee.isHeadComplete, case .length(let n) = parser.pointee.bodyFraming {
            // The request ends there (what follows it is read into the room left after).
            let end = parser.pointee.headLength.saturatingAdd(Int(clamping: n)).saturatingAdd(minimum)
            wanted = max(readable + minimum, min(wanted, end))
        }
        let ceiling = limits.maxHeadBytes.saturatingAdd(maximumBodyBytes).saturatingAdd(readBufferSize)
        wanted = min(wanted, ceiling, Int.max / 4)
        if lease.pointee.buffer.capacity < wanted { lease.pointee.buffer.grow(minimumCapacity: wanted) }
    }

    /// Reads and throws away what a lingering client sends, until it closes or sends too much.
    func readAndDiscard(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let n = readOnce(id, c, into: readBuffer, count: readBufferSize), n > 0 else { return }
        if c.pointee.machine.discardedWhileLingering(n, rules) { close(id) }
    }

    // MARK: Passes

    /// Serves bytes that landed in the shared read buffer: requests straight from it (with the
    /// scratch parser), or body pieces for a handler taking them (with the lease's parser).
    /// What a pass leaves that still matters moves into the connection's lease.
    func serveReadBuffer(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, count: Int) {
        let streaming = c.pointee.input
        let parser = streaming?.pointee.parser ?? scratchParser
        let headers = streaming?.pointee.headers ?? scratchHeaders
        var pass = RequestPass(bytes: UnsafeMutableRawBufferPointer(start: readBuffer, count: count), parser: parser, headers: headers)
        let mark = output.pointee.writerIndex
        var c = c
        let end = runPass(id, &c, &pass, mark)
        if case .consumed = end, streaming == nil, c.pointee.input == nil {
            return finishPass(id, c, mark)  // the keep-alive path: nothing to keep
        }
        // The scratch parser is fresh after a consumed pass (each request resets it); after any
        // other end its state moves into the lease (below) and it is reset for the next pass.
        defer { if parser == scratchParser { scratchParser.pointee.reset() } }
        switch end {
        case .closed:
            output.pointee.writerIndex = mark
        case .handOff:
            handOff(id, c, unread: UnsafeRawBufferPointer(pass.rest), mark: mark)
        default:
            keep(id, pass, end, c, movingParser: parser == scratchParser)
            finishPass(id, c, mark)
        }
    }

    /// Serves the bytes the connection's lease holds (after more arrived, after its answer was
    /// sent, after a paused body resumed, or on its next turn).
    func serveLease(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let held = c.pointee.input else { return finishPass(id, output.pointee.writerIndex) }
        var pass = RequestPass(bytes: held.pointee.buffer.unsafeMutableReadable, parser: held.pointee.parser, headers: held.pointee.headers)
        let mark = output.pointee.writerIndex
        var c = c
        let end = runPass(id, &c, &pass, mark)
        if case .closed = end {
            output.pointee.writerIndex = mark
            return
        }
        // (Nothing gives the lease back during a pass over its bytes.)
        guard let lease = c.pointee.input else { preconditionFailure("the lease went away during a pass over it") }
        if case .handOff = end {
            // The unread bytes move out of the lease before it goes back.
            let unread = [UInt8](UnsafeRawBufferPointer(pass.rest))
            c.pointee.input = nil
            releaseInputLease(lease)
            return unread.withUnsafeBytes { handOff(id, c, unread: $0, mark: mark) }
        }
        lease.pointee.buffer.readerIndex += pass.offset
        if case .needMore(let keep) = end {
            lease.pointee.buffer.writerIndex = lease.pointee.buffer.readerIndex + keep  // framing already decoded
        }
        dropUnservedInput(c)
        if case .yielded = end { yieldTurn(id) }
        releaseInputIfDone(c)
        finishPass(id, c, mark)
    }

    /// After a pass over the shared read buffer: keeps the bytes that still matter (a partial
    /// request, requests queued behind an answer or a turn, a paused body's rest) in the
    /// connection's lease, with the parser state when the pass stopped inside a request.
    func keep(_ id: SlotID, _ pass: RequestPass, _ end: PassEnd, _ c: UnsafeMutablePointer<Connection>, movingParser: Bool) {
        let rest = UnsafeRawBufferPointer(pass.rest)
        var kept: UnsafeRawBufferPointer
        switch end {
        case .needMore(let keep): kept = UnsafeRawBufferPointer(rebasing: rest[..<keep])
        case .consumed, .closed, .handOff: kept = UnsafeRawBufferPointer(start: nil, count: 0)
        case .yielded, .waiting, .blocked, .paused: kept = rest
        }
        let state = c.pointee.machine.state
        if state.isClosing {
            if !rest.isEmpty { c.pointee.machine.unreadInputLeft() }  // never to be served: drained by lingering
            kept = UnsafeRawBufferPointer(start: nil, count: 0)
        }
        if kept.isEmpty && !state.isInRequest { return releaseInputIfDone(c) }
        let lease = c.pointee.input ?? takeInputLease(capacity: kept.count)
        c.pointee.input = lease
        lease.pointee.buffer.append(kept)
        if state.isInRequest && movingParser {
            lease.pointee.parser.pointee = scratchParser.pointee
            switch state {
            case .readingHead, .readingBody:
                lease.pointee.headers.update(from: scratchHeaders, count: scratchParser.pointee.headerCount)
            default:
                break
            }
        }
        if case .yielded = end { yieldTurn(id) }
    }

    /// Gives the input lease back once it holds nothing that matters: no bytes, no request
    /// under way, no body stream.
    func releaseInputIfDone(_ c: UnsafeMutablePointer<Connection>) {
        guard let lease = c.pointee.input, lease.pointee.buffer.isEmpty, lease.pointee.stream == nil,
            !c.pointee.machine.state.isInRequest
        else { return }
        c.pointee.input = nil
        releaseInputLease(lease)
    }

    /// Drops the bytes and state of a request that will not be served (it is answered and the
    /// connection closes).
    func dropInput(_ c: UnsafeMutablePointer<Connection>) {
        guard let lease = c.pointee.input else { return }
        c.pointee.input = nil
        lease.pointee.stream = nil
        releaseInputLease(lease)
    }

    // MARK: Turns

    /// `id` served its share of pipelined requests: serve the rest after the other connections
    /// ready in this loop iteration.
    func yieldTurn(_ id: SlotID) {
        yielded.append(id)
        if yielded.count == 1 { reactor.runSoon(resumeYielded) }
    }

    /// Gives each connection that yielded its next turn (those still serving, with nothing
    /// unsent: a connection waiting to write resumes when the socket drains).
    func serveYielded() {
        let turn = yielded
        yielded.removeAll(keepingCapacity: true)
        for id in turn {
            guard let c = connections.pointer(to: id), c.pointee.machine.state.isIdle, c.pointee.output == nil,
                c.pointee.file == nil, c.pointee.input != nil
            else { continue }
            updateDate()
            serveLease(id, c)
        }
    }
}

extension Int {
    /// `self + other`, or `Int.max` where that overflows (sizes from limits that may be `.max`).
    @inline(__always) func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
