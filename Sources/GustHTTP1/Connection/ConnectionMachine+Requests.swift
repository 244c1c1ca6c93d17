@_spi(GustInternal) import GustCore
extension ConnectionMachine {
    /// Event: `count` bytes arrived (before the pass over them). A new request's head is timed
    /// from its first byte, except a new connection's first (timed from the accept); more bytes
    /// of a head do not restart the header timeout (slowloris); body bytes restart the body
    /// timeout and earn time against the minimum body rate (whose measure starts with them if
    /// it had not).
    @inlinable @inline(__always) public mutating func bytesArrived(_ count: Int, now: Int64, _ rules: ConnectionRules) {
        switch _state {
        case .idle: if _requests > 0 { _since = now }
        case .readingBody, .streamingBody:
            _since = now
            if let rate = rules.minimumBodyRate, !_flags.contains(.writeBlocked) { bodyBytesArrived(count, now: now, rate) }
        default: break
        }
    }

    @usableFromInline mutating func bodyBytesArrived(_ count: Int, now: Int64, _ rate: DataRate) {
        if _rateDeadline == 0 { _rateDeadline = now.addingSaturating(rate.grace) }
        _rateDeadline = _rateDeadline.addingSaturating(rate.credit(count))
    }

    /// Parses the next request of the pass. State: `idle`, `readingHead` or `readingBody`.
    /// Cost: the parse; nothing else on the fast path.
    @inlinable @inline(__always) public mutating func nextRequest(_ pass: inout RequestPass, _ rules: ConnectionRules) -> RequestStep {
        if pass.isConsumed {
            _state = .idle
            return .consumed
        }
        if pass.served >= rules.maxPipelinedRequests { return .yield }
        let request = pass.rest
        switch pass.parser.pointee.parse(UnsafeRawBufferPointer(request), headers: pass.headers, limits: rules.limits) {
        case .needMore:
            _state = .readingHead
            return .needMore(keep: request.count, sendContinue: false)
        case .invalid(let error):
            return reject(.malformed(error))
        case .complete:
            // RFC 9110 §9.1: a method the server does not recognise gets 501 (routes exist only
            // for the standard methods).
            if case .other = pass.parser.pointee.method { return reject(.methodNotImplemented) }
            return .head
        }
    }

    /// The request at `pass.offset` was routed: reads its body as `policy` says, or has its
    /// handler run now. Cost: a body read in place (none for most requests).
    @inlinable @inline(__always) public mutating func routed(
        _ pass: inout RequestPass, _ policy: BodyPolicy, _ rules: ConnectionRules, now: Int64
    ) -> RequestStep {
        let headLength = pass.parser.pointee.headLength
        if case .none = pass.parser.pointee.bodyFraming {
            return invoke(&pass, body: headLength..<headLength, length: headLength, streaming: false, rules, now: now)
        }
        return routedWithBody(&pass, policy, rules, now: now)
    }

    /// `routed` for a request with a body (kept out of line: most requests have none).
    public mutating func routedWithBody(
        _ pass: inout RequestPass, _ policy: BodyPolicy, _ rules: ConnectionRules, now: Int64
    ) -> RequestStep {
        let parser = pass.parser
        let headLength = parser.pointee.headLength
        let framing = parser.pointee.bodyFraming
        if policy.streams {
            if case .length(let n) = framing, n > Int64(policy.limit) { return reject(.bodyTooLarge(limit: policy.limit)) }
            // The handler runs now; `100 Continue` waits until it asks for the body.
            return invoke(&pass, body: headLength..<headLength, length: headLength, streaming: true, rules, now: now)
        }
        switch parser.pointee.readBody(pass.rest, maxBodyBytes: policy.limit) {
        case .needMore(let keep):
            if _state != .readingBody {
                // The body's measure against the minimum rate starts now (a grace ahead).
                _rateDeadline = rules.minimumBodyRate.map { now.addingSaturating($0.grace) } ?? 0
                _state = .readingBody
            }
            return .needMore(keep: keep, sendContinue: continueIsDue(parser))
        case .tooLarge:
            return reject(.bodyTooLarge(limit: policy.limit))
        case .invalid(let error):
            return reject(.malformedBody(error))
        case .complete(let body, let length):
            return invoke(&pass, body: body, length: length, streaming: false, rules, now: now)
        }
    }

    /// RFC 9110 §10.1.1: invite the body of an HTTP/1.1 request that asked, once per request.
    @inlinable public mutating func continueIsDue(_ parser: UnsafeMutablePointer<RequestParser>) -> Bool {
        guard parser.pointee.expectsContinue, case .http1_1 = parser.pointee.version, !_flags.contains(.continueSent) else {
            return false
        }
        _flags.insert(.continueSent)
        return true
    }

    @inlinable @inline(__always) public mutating func invoke(
        _ pass: inout RequestPass, body: Range<Int>, length: Int, streaming: Bool, _ rules: ConnectionRules, now: Int64
    ) -> RequestStep {
        _requests &+= 1
        _since = now
        pass.pendingLength = length
        pass.pendingBody = body
        let parser = pass.parser
        var keepAlive = parser.pointee.keepAlive && !_flags.contains(.draining)
        if rules.maxRequestsPerConnection > 0 && Int(_requests) >= rules.maxRequestsPerConnection { keepAlive = false }
        var isHead = false
        if case .head = parser.pointee.method { isHead = true }
        let answer = AnswerContext(keepAlive: keepAlive, isHead: isHead, version: parser.pointee.version, sequence: _sequence &+ 1)
        setAnswer(answer)
        // A handler that answers before taking a streamed body closes the connection after its
        // answer (the body is still coming): its writer starts with keep-alive off. The answer
        // at the end of a body it takes is encoded with the request's own (kept above).
        var immediate = answer
        if streaming { immediate.keepAlive = false }
        return .invoke(Invocation(body: body, streaming: streaming, answer: immediate))
    }

    /// The server answers the request itself and closes after it (lingering, so the answer is
    /// not lost to a reset).
    @inlinable public mutating func reject(_ why: Rejection) -> RequestStep {
        _state = .closing
        _flags.insert(.lingerOnClose)
        return .reject(why)
    }

    /// Event: the handler of the request at `pass.offset` (or of the end of its streamed body)
    /// returned, having done `answer`.
    @inlinable @inline(__always) public mutating func handled(_ answer: HandlerAnswer, _ pass: inout RequestPass) -> AfterAnswer {
        let parser = pass.parser
        // A body that is still (partly) on its way: the connection closes after this answer,
        // reading and discarding what comes meanwhile.
        var bodyUnread = false
        switch parser.pointee.bodyFraming {
        case .none: break
        default: bodyUnread = parser.pointee.isHeadComplete && !parser.pointee.isBodyComplete
        }
        switch answer {
        case .nothing:
            return .answerForHandler(keepAlive: _flags.contains(.answerKeepAlive) && !_flags.contains(.draining) && !bodyUnread)
        case .takingBody:
            if case .streamingBody = _state { return .answerForHandler(keepAlive: false) }  // not at a body's end
            if bodyUnread { return takeBody(&pass) }
            return .deliverWholeBody(pass.pendingBody)
        default:
            break
        }
        pass.offset += pass.pendingLength
        pass.pendingLength = 0
        pass.served += 1
        _flags.remove(.continueSent)
        if bodyUnread {
            _flags.remove(.answerKeepAlive)
            _flags.insert(.lingerOnClose)
        }
        parser.pointee.reset()
        switch answer {
        case .responded(let keepAlive):
            guard keepAlive && !bodyUnread else {
                _state = .closing
                if !pass.isConsumed { _flags.insert(.lingerOnClose) }  // unread requests: drain them, no reset
                return .stop
            }
            _state = .idle
            return .next
        case .deferred(let keepAlive), .streamingResponse(let keepAlive):
            if !keepAlive { _flags.remove(.answerKeepAlive) }
            _sequence &+= 1
            if case .deferred = answer { _state = .awaitingResponse } else { _state = .streamingResponse }
            return .stop
        case .upgrading:
            _state = .upgraded
            return .handOff
        case .nothing, .takingBody:
            preconditionFailure("handled above")
        }
    }

    /// The handler takes the body of a streaming route: the head is consumed, the body starts
    /// at the new offset, and its pieces are fed through `nextBodyPiece`.
    @inlinable public mutating func takeBody(_ pass: inout RequestPass) -> AfterAnswer {
        pass.offset += pass.pendingLength
        pass.pendingLength = 0
        _state = .streamingBody
        _rateDeadline = 0  // measured from the body's first bytes
        return .takeBody(sendContinue: continueIsDue(pass.parser))
    }
}
