/// What to do once an answer given after the handler returned is in the output (a deferred
/// response, or the last chunk of a streamed one).
@_spi(GustInternal) public enum AfterLateAnswer: Sendable, Equatable {
    /// Write it; the connection goes back to serving: serve the requests that queued up
    /// behind the answer, if any.
    case resume
    /// Write it, then close (lingering if the flags say so).
    case close
    /// The handler answering late did not answer: send a 500 for it, then report again.
    case answerForHandler(keepAlive: Bool)
    /// The late answer started a streamed response: write its head; the body follows, and
    /// `responseStreamFinished` ends it.
    case streaming
}

extension ConnectionMachine {
    /// Event: a deferred answer (sequence checked by the caller with `isAnswering`) is in the
    /// output, or its handler did `answer` with it.
    public mutating func answeredLate(_ answer: HandlerAnswer, now: Int64) -> AfterLateAnswer {
        switch answer {
        case .nothing:
            return .answerForHandler(keepAlive: pendingAnswer.keepAlive)
        case .responded(let keepAlive):
            return finishAnswer(keepAlive: keepAlive && pendingAnswer.keepAlive, now: now)
        case .streamingResponse(let keepAlive) where _state == .awaitingResponse:
            // An async handler's stream: the deferred answer goes on as a response stream, under
            // the same sequence.
            if !keepAlive { _flags.remove(.answerKeepAlive) }
            _state = .streamingResponse
            return .streaming
        default:
            // A late answer cannot defer again or upgrade (its writer refuses).
            return finishAnswer(keepAlive: false, now: now)
        }
    }

    /// Event: the response stream named by `sequence` wrote its last chunk (or, delimited by
    /// the close, ended).
    public mutating func responseStreamFinished(now: Int64) -> AfterLateAnswer {
        finishAnswer(keepAlive: pendingAnswer.keepAlive, now: now)
    }

    /// The exchange is over at `now`: the idle wait (however long the answer took) starts here.
    mutating func finishAnswer(keepAlive: Bool, now: Int64) -> AfterLateAnswer {
        _since = now
        _flags.remove(.peerFinished)  // reading resumes (requests sent before the half-close, then its end)
        guard keepAlive else {
            _state = .closing
            return .close
        }
        _state = .idle
        return .resume
    }
}
