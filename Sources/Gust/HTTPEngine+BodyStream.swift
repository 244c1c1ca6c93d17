import GustCore
import GustHTTP1
import GustIO

/// What handing body bytes to a streaming handler came to.
enum StreamOutcome {
    /// Every byte was body and was handed over; the body goes on.
    case needMore
    /// The handler paused after `consumed` bytes.
    case paused(consumed: Int)
    /// The body ended after `consumed` bytes; what follows is the next request.
    case complete(consumed: Int)
    /// The connection is to close (answered early, malformed, too large).
    case closing
}

extension HTTPEngine {
    /// Moves the stream a handler just started (`ResponseWriter.streamBody`) into the lease.
    func attachPendingStream(_ lease: UnsafeMutablePointer<InputLease>) {
        lease.pointee.stream = pendingStream
        lease.pointee.streamLimit = pendingStreamLimit
        pendingStream = nil
    }

    /// Hands `bytes` (the next bytes of the body, and maybe of what follows it) to the
    /// connection's streaming handler, then keeps whatever it did not take in the lease and
    /// carries on: serves the requests after a complete body, or waits for more.
    /// `fromLease`: `bytes` are the lease's readable bytes (else the shared read buffer's).
    func streamBodyBytes(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ lease: UnsafeMutablePointer<InputLease>,
        _ bytes: UnsafeRawBufferPointer, mark: Int, fromLease: Bool
    ) {
        let outcome = deliverBody(id, c, lease, bytes)
        var taken = 0
        switch outcome {
        case .needMore: taken = bytes.count
        case .paused(let consumed), .complete(let consumed): taken = consumed
        case .closing: taken = bytes.count
        }
        // Keep what was not taken: a paused body's rest, or the requests after the body.
        if fromLease {
            lease.pointee.buffer.readerIndex += taken
        } else if taken < bytes.count {
            lease.pointee.buffer.append(UnsafeRawBufferPointer(rebasing: bytes[taken...]))
        }
        if lease.pointee.buffer.isEmpty { lease.pointee.buffer.clear() }
        switch outcome {
        case .needMore, .paused:
            break
        case .closing:
            if taken < bytes.count || !lease.pointee.buffer.isEmpty { c.pointee.lingerOnClose = true }
            c.pointee.input = nil
            releaseInputLease(lease)
        case .complete:
            if lease.pointee.buffer.isEmpty {
                c.pointee.input = nil
                releaseInputLease(lease)
            } else if c.pointee.phase == .closing {
                c.pointee.lingerOnClose = true  // requests after the body go unanswered: drain them
            } else if c.pointee.phase == .open {
                // Requests pipelined after the body: write the body's response first, then serve them.
                guard emit(id, c, from: mark) else { return }
                if c.pointee.output == nil && c.pointee.file == nil { return serveLease(id, c) }
            }
        }
        finishBatch(id, c, mark)
    }

    /// Runs the body bytes through the parser's body framing, handing each piece to the
    /// handler until it pauses, answers early, or the body ends (then `.end`, and the
    /// connection goes back to serving requests).
    func deliverBody(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ lease: UnsafeMutablePointer<InputLease>,
        _ bytes: UnsafeRawBufferPointer
    ) -> StreamOutcome {
        guard let stream = lease.pointee.stream else { return .closing }
        var answered = false
        let result = lease.pointee.parser.pointee.streamBody(bytes, maxBodyBytes: lease.pointee.streamLimit) { piece in
            answered = deliverPiece(id, c, stream, piece)
            return !answered && !stream.isPaused
        }
        if answered {
            lease.pointee.stream = nil
            c.pointee.lingerOnClose = true  // the rest of the body is still coming: drain it
            return .closing
        }
        switch result {
        case .needMore:
            return .needMore
        case .paused(let consumed):
            return .paused(consumed: consumed)
        case .complete(let consumed):
            endBody(id, c, lease, stream)
            return .complete(consumed: consumed)
        case .tooLarge:
            abortStream(lease, .tooLarge)
            respondToBadRequest(id, c, .contentTooLarge, "body larger than \(lease.pointee.streamLimit) bytes")
            return .closing
        case .invalid(let error):
            abortStream(lease, .malformed)
            respondToBadRequest(id, c, .badRequest, error.description)
            return .closing
        }
    }

    /// Hands one piece of body to the handler. Returns true if the handler answered (the
    /// response is in the output; the stream is over and the connection closes after it).
    func deliverPiece(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ stream: BodyStream, _ piece: UnsafeRawBufferPointer) -> Bool {
        stream.bytesReceived += Int64(piece.count)
        // A response sent before the body ends closes the connection after it.
        var writer = ResponseWriter(
            engine: self, connection: id, keepAlive: false, isHead: c.pointee.deferredIsHead, version: c.pointee.deferredVersion,
            canDefer: false)
        handlerDepth += 1
        stream.handler(.data(piece), &writer, stream)
        handlerDepth -= 1
        guard writer.state == .sent else {
            output.pointee.writerIndex = writer.start  // headers added without sending
            return false
        }
        stream.isFinished = true
        c.pointee.phase = .closing
        takeFile(c, &writer)
        return true
    }

    /// The body is complete: the handler answers (or defers), and the connection serves again.
    func deliverEnd(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ stream: BodyStream) {
        stream.isFinished = true
        answerLater(id, c, canDefer: true) { stream.handler(.end, &$0, stream) }
    }

    /// A streamed body ended on the connection's lease.
    func endBody(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ lease: UnsafeMutablePointer<InputLease>, _ stream: BodyStream) {
        lease.pointee.stream = nil
        lease.pointee.parser.pointee.reset()
        lease.pointee.sentContinue = false
        deliverEnd(id, c, stream)
    }

    /// `streamBody` was called on a route whose body was buffered: hand the whole body over at
    /// once, then `.end`.
    func finishBufferedStream(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ body: UnsafeRawBufferPointer) {
        guard let stream = pendingStream else { return }
        pendingStream = nil
        if !body.isEmpty && deliverPiece(id, c, stream, body) { return }
        deliverEnd(id, c, stream)
    }

    /// Tells the handler its body will not complete.
    func abortStream(_ lease: UnsafeMutablePointer<InputLease>, _ reason: BodyAbort) {
        guard let stream = lease.pointee.stream else { return }
        lease.pointee.stream = nil
        guard !stream.isFinished else { return }
        stream.isFinished = true
        var writer = ResponseWriter.finished(engine: self, connection: stream.connection)
        handlerDepth += 1
        stream.handler(.aborted(reason), &writer, stream)
        handlerDepth -= 1
        output.pointee.writerIndex = writer.start
    }

    /// The streaming handler called `resume()`: deliver what is buffered, then read again.
    func resumeBody(_ stream: BodyStream) {
        if handlerDepth > 0 {
            reactor.runSoon { [unowned self] in resumeBody(stream) }
            return
        }
        guard let c = connections.pointer(to: stream.connection), c.pointee.phase == .streamingBody,
            let lease = c.pointee.input, lease.pointee.stream === stream, !stream.isPaused
        else { return }
        dateCache.pointee.update(epochSeconds: clock.pointee.wallClockSeconds)
        c.pointee.since = nowNanoseconds
        let mark = output.pointee.writerIndex
        if lease.pointee.buffer.isEmpty { return finishBatch(stream.connection, c, mark) }
        streamBodyBytes(stream.connection, c, lease, UnsafeRawBufferPointer(lease.pointee.buffer.readable), mark: mark, fromLease: true)
    }

    /// Reads body bytes for a streaming handler (into the shared read buffer: no copy unless
    /// the handler pauses part-way).
    func readAndStream(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let lease = c.pointee.input, let stream = lease.pointee.stream else { return close(id, c) }
        if stream.isPaused { return }
        if !lease.pointee.buffer.isEmpty {
            // Delivered first (after a resume); reading waits for the next readiness report.
            return streamBodyBytes(id, c, lease, UnsafeRawBufferPointer(lease.pointee.buffer.readable), mark: output.pointee.writerIndex, fromLease: true)
        }
        guard let n = readOnce(id, c, into: readBuffer, count: readBufferSize), n > 0 else { return }
        c.pointee.since = nowNanoseconds
        streamBodyBytes(id, c, lease, UnsafeRawBufferPointer(start: readBuffer, count: n), mark: output.pointee.writerIndex, fromLease: false)
    }
}
