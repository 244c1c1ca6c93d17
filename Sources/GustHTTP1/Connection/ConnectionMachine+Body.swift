@_spi(GustInternal) import GustCore
/// What the machine asks for while a handler takes a body piece by piece.
@_spi(GustInternal) public enum BodyStep {
    /// Hand this piece (pointing into the pass's bytes) to the handler, then call
    /// `pieceDelivered`. `last`: the body ends with it.
    case piece(UnsafeRawBufferPointer, last: Bool)
    /// The body is complete: hand the handler its end (it answers), then call `handled`.
    case end
    /// Every byte of the pass was body: read more.
    case needMore
    /// The body is malformed or too large: tell the handler it was aborted, answer this
    /// yourself, close after.
    case reject(Rejection)
}

/// What to do after a piece was handed over.
@_spi(GustInternal) public enum AfterPiece: Sendable, Equatable {
    /// The next piece (`nextBodyPiece`).
    case more
    /// The body is complete: hand the handler its end.
    case end
    /// The handler paused: keep the rest of the pass for `resumed`, stop reading.
    case paused
    /// The handler answered before the end: the connection closes after the answer, draining
    /// the rest of the body.
    case stop
}

extension ConnectionMachine {
    /// The next piece of the body being streamed (state `streamingBody`), from `pass.offset`.
    /// Cost: the framing only; the piece is not copied.
    public mutating func nextBodyPiece(_ pass: inout RequestPass, limit: Int) -> BodyStep {
        var piece: UnsafeRawBufferPointer?
        let result = pass.parser.pointee.streamBody(UnsafeRawBufferPointer(pass.rest), maxBodyBytes: limit) { p in
            piece = p
            return false  // one piece per step
        }
        switch result {
        case .needMore:
            pass.offset = pass.bytes.count
            return piece.map { .piece($0, last: false) } ?? .needMore
        case .paused(let consumed):
            pass.offset += consumed
            return .piece(piece!, last: false)
        case .complete(let consumed):
            pass.offset += consumed
            return piece.map { .piece($0, last: true) } ?? .end
        case .tooLarge:
            _state = .closing
            _flags.insert(.lingerOnClose)
            return .reject(.bodyTooLarge(limit: limit))
        case .invalid(let error):
            _state = .closing
            _flags.insert(.lingerOnClose)
            return .reject(.malformedBody(error))
        }
    }

    /// Event: a piece was handed over; the handler `answered` (a response is in the output) and
    /// / or `paused` (at `now`).
    public mutating func pieceDelivered(answered: Bool, paused: Bool, last: Bool, now: Int64) -> AfterPiece {
        if answered {
            _state = .closing
            _flags.remove(.answerKeepAlive)
            _flags.insert(.lingerOnClose)
            return .stop
        }
        if last { return .end }
        if paused {
            _state = .bodyPaused
            holdRateDeadline(now: now)
            return .paused
        }
        return .more
    }

    /// Event: the handler paused the body outside a piece's delivery (from a timer, say).
    public mutating func bodyPaused(now: Int64) {
        if _state == .streamingBody {
            _state = .bodyPaused
            holdRateDeadline(now: now)
        }
    }

    /// While a body is paused its minimum-rate deadline is kept as the time it had left
    /// (relative; 0 stays "not started"), so that the pause does not count, and neither does a
    /// resume grant a fresh grace period (pausing after every piece would otherwise switch the
    /// rate off).
    mutating func holdRateDeadline(now: Int64) {
        guard _rateDeadline != 0 else { return }
        let left = _rateDeadline &- now
        _rateDeadline = left == 0 ? -1 : left
    }

    /// Event: the handler resumed a paused body; true when delivery goes on (the driver then
    /// hands over what it kept, and reads again). The time it was paused does not count
    /// against the client: the minimum-rate deadline resumes with the time it had left.
    public mutating func bodyResumed(now: Int64) -> Bool {
        guard _state == .bodyPaused else { return false }
        _flags.remove(.peerFinished)  // reading resumes, and will meet the end of the stream
        _state = .streamingBody
        _since = now
        if _rateDeadline != 0 { _rateDeadline = now.addingSaturating(_rateDeadline) }
        return true
    }
}
