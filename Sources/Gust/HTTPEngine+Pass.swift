@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// One step of a pass: go on (with the connection's record, looked up again after any
/// application code), or stop with how the pass ended.
enum PassStep {
    case again(UnsafeMutablePointer<Connection>)
    case end(PassEnd)
}

extension HTTPEngine {
    /// One pass of connection `id`'s machine over `pass`: every complete request in order (each
    /// routed, its body read as its route says, its handler run, its answer appended to the
    /// output from `mark`), and body pieces for a handler that takes them. Stops when the bytes
    /// run out, the connection must wait (an answer, a stream, a paused body, a close), its
    /// turn is used up, or the socket will not take more output.
    ///
    /// Runs application code (through `HTTPEngine+Handlers`) and looks the connection up again
    /// after each call into it. Cost per request: a parse, a route lookup, the handler, the
    /// encoding, and a few calls into the machine.
    /// `c` is the connection's record on entry; on return, unless the pass ended `.closed`, it
    /// is the record as looked up after the last application code that ran.
    func runPass(_ id: SlotID, _ c: inout UnsafeMutablePointer<Connection>, _ pass: inout RequestPass, _ mark: Int) -> PassEnd {
        while true {
            let step = c.pointee.machine.state.isStreamingBody ? streamBody(id, c, &pass, mark) : serveRequest(id, c, &pass, mark)
            switch step {
            case .again(let record): c = record
            case .end(let end): return end
            }
        }
    }

    /// The next request of the pass: parse, route, read its body, run its handler.
    func serveRequest(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ pass: inout RequestPass, _ mark: Int) -> PassStep {
        switch c.pointee.machine.nextRequest(&pass, rules) {
        case .head: break
        case .consumed: return .end(.consumed)
        case .yield: return .end(.yielded)
        case .needMore(let keep, _): return .end(.needMore(keep: keep))
        case .reject(let why):
            respond(to: why, id)
            return .end(.waiting)
        case .invoke: preconditionFailure("nextRequest does not invoke")
        }
        let parser = pass.parser
        let pathRange = parser.pointee.pathRange
        var match = routes.match(
            method: parser.pointee.method, path: UnsafeBufferPointer(start: pass.requestBase + pathRange.lowerBound, count: pathRange.count),
            pathOffset: pathRange.lowerBound)
        var policy = BodyPolicy(limit: limits.maxBodyBytes, streams: false)
        if case .route(let index) = match.outcome {
            let options = routes.options[index]
            policy = BodyPolicy(limit: options.maxBodyBytes ?? policy.limit, streams: options.body == .stream)
        }
        if let wait = clientOverRate(id) {
            // Answered at the head, before any handler; a body is not read (the answer closes).
            rateLimitedWait = wait
            match.outcome = .overRate
            policy = BodyPolicy(limit: Int.max, streams: true)
        }
        let invocation: Invocation
        switch c.pointee.machine.routed(&pass, policy, rules, now: nowNanoseconds) {
        case .invoke(let i):
            invocation = i
        case .needMore(let keep, let sendContinue):
            if sendContinue { appendContinue() }
            return .end(.needMore(keep: keep))
        case .reject(let why):
            respond(to: why, id)
            return .end(.waiting)
        case .head, .consumed, .yield:
            preconditionFailure("routed ends in an invocation, a wait or a rejection")
        }
        counters.requests += 1
        var result = callHandler(id, pass, invocation, &match)  // application code
        guard let c = connections.pointer(to: id) else {
            discard(result)
            return .end(.closed)
        }
        // The common case, kept short: a whole response, nothing left for the connection.
        if case .responded(let keepAlive) = result.answer, result.file == nil, result.attachment.isEmpty {
            switch c.pointee.machine.handled(.responded(keepAlive: keepAlive), &pass) {
            case .next: return flushIfBig(id, c, mark)
            default: return .end(.waiting)  // (closing: the only other outcome of a response)
            }
        }
        return afterAnswer(id, c, &pass, &result, invocation.answer, mark, bodyLimit: policy.limit)
    }

    /// Between requests of a pass: a big batch, or a file after a head, is written now; a full
    /// socket ends the pass.
    @inline(__always)
    func flushIfBig(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ mark: Int) -> PassStep {
        if output.pointee.writerIndex - mark >= flushThreshold || c.pointee.file != nil {
            guard emit(id, c, from: mark) else { return .end(.closed) }
            if c.pointee.output != nil || c.pointee.file != nil { return .end(.blocked) }
        }
        return .again(c)
    }

    /// Takes a handler's answer (to a request, or to the end of its body) and carries on as the
    /// machine says.
    func afterAnswer(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ pass: inout RequestPass, _ result: inout HandlerResult,
        _ context: AnswerContext, _ mark: Int, bodyLimit: Int
    ) -> PassStep {
        var bodyStream: BodyStream?
        if !result.attachment.isEmpty || result.file != nil {
            bodyStream = result.attachment.body
            adopt(&result, id, c, bodyLimit: bodyLimit)
        }
        var after = c.pointee.machine.handled(result.answer, &pass)
        if case .answerForHandler(let keepAlive) = after {
            bodyStream?.isFinished = true
            answerForHandler(id, keepAlive: keepAlive, context)
            after = c.pointee.machine.handled(.responded(keepAlive: keepAlive), &pass)
        }
        switch after {
        case .next:
            return flushIfBig(id, c, mark)
        case .stop:
            return .end(.waiting)
        case .takeBody(let sendContinue):
            if sendContinue {
                if let stream = bodyStream, stream.holdsContinue {
                    stream.continueOwed = true  // sent when the handler first reads
                } else {
                    appendContinue()
                }
            }
            return .again(c)  // the machine streams the body now
        case .deliverWholeBody(let body):
            guard let stream = bodyStream else { return .end(.waiting) }
            return deliverWholeBody(id, &pass, body, stream, mark)
        case .handOff:
            return .end(.handOff)
        case .answerForHandler:
            preconditionFailure("answered above")
        }
    }

    /// `streamBody` on a route whose body was read whole: the body goes over as one piece, then
    /// the end.
    func deliverWholeBody(_ id: SlotID, _ pass: inout RequestPass, _ body: Range<Int>, _ stream: BodyStream, _ mark: Int) -> PassStep {
        guard let c = connections.pointer(to: id) else { return .end(.closed) }
        let context = c.pointee.machine.pendingAnswer
        if !body.isEmpty {
            let piece = UnsafeRawBufferPointer(rebasing: pass.bytes[(pass.offset + body.lowerBound)..<(pass.offset + body.upperBound)])
            var result = deliverPiece(id, stream, piece, context)  // application code
            guard let c = connections.pointer(to: id) else {
                discard(result)
                return .end(.closed)
            }
            if case .responded = result.answer {
                // Answered from the piece: that answer closes the connection.
                adopt(&result, id, c, bodyLimit: 0)
                _ = c.pointee.machine.handled(.responded(keepAlive: false), &pass)
                return .end(.waiting)
            }
        }
        var result = deliverEnd(id, stream, context)  // application code
        guard let c = connections.pointer(to: id) else {
            discard(result)
            return .end(.closed)
        }
        return afterAnswer(id, c, &pass, &result, context, mark, bodyLimit: 0)
    }

    /// The next piece of a body a handler takes piece by piece (state `streamingBody`).
    func streamBody(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ pass: inout RequestPass, _ mark: Int) -> PassStep {
        guard let lease = c.pointee.input, let stream = lease.pointee.stream else {
            preconditionFailure("a body streams only with its stream in the input lease")
        }
        if stream.isPaused {  // paused outside a delivery (from a timer, say)
            c.pointee.machine.bodyPaused(now: nowNanoseconds)
            return .end(.paused)
        }
        switch c.pointee.machine.nextBodyPiece(&pass, limit: lease.pointee.streamLimit) {
        case .needMore:
            return .end(.needMore(keep: 0))
        case .reject(let why):
            lease.pointee.stream = nil
            if case .bodyTooLarge = why { deliverAbort(stream, .tooLarge) } else { deliverAbort(stream, .malformed) }
            guard connections.pointer(to: id) != nil else { return .end(.closed) }
            respond(to: why, id)
            return .end(.waiting)
        case .end:
            return endOfBody(id, &pass, stream, mark)
        case .piece(let piece, let last):
            let context = c.pointee.machine.pendingAnswer
            var result = deliverPiece(id, stream, piece, context)  // application code
            guard let c = connections.pointer(to: id) else {
                discard(result)
                return .end(.closed)
            }
            var answered = false
            if case .responded = result.answer {
                answered = true
                adopt(&result, id, c, bodyLimit: 0)
            }
            switch c.pointee.machine.pieceDelivered(answered: answered, paused: stream.isPaused, last: last, now: nowNanoseconds) {
            case .more:
                return .again(c)
            case .end:
                return endOfBody(id, &pass, stream, mark)
            case .paused:
                return .end(.paused)
            case .stop:
                c.pointee.input?.pointee.stream = nil
                return .end(.waiting)
            }
        }
    }

    /// A streamed body ended: its handler answers, and the pass goes on with what follows.
    func endOfBody(_ id: SlotID, _ pass: inout RequestPass, _ stream: BodyStream, _ mark: Int) -> PassStep {
        guard let c = connections.pointer(to: id) else { return .end(.closed) }
        c.pointee.input?.pointee.stream = nil
        let context = c.pointee.machine.pendingAnswer
        var result = deliverEnd(id, stream, context)  // application code
        guard let c = connections.pointer(to: id) else {
            discard(result)
            return .end(.closed)
        }
        return afterAnswer(id, c, &pass, &result, context, mark, bodyLimit: 0)
    }
}
