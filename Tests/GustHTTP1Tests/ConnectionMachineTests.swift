@_spi(GustInternal) import GustHTTP1
import Testing

func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)\r\n" }

/// The connection state machine, driven by byte scripts and a manual clock (`MachineScript`):
/// every transition and every timeout, no sockets, no sleeping.
@Suite struct ConnectionMachineRequestTests {
    @Test func pipelinedRequestsAreHandledInOrderAcrossReads() {
        let s = MachineScript()
        s.receive(get("/a") + get("/b") + "GET /c HT")
        s.advance(seconds: 1)
        s.receive("TP/1.1\r\nHost: x\r\n\r\n")
        // The timer stays at the header deadline (11 s): the later idle deadline is found when it fires.
        #expect(s.log == ["timer @11s", "invoke /a", "invoke /b", "need more (9 kept)", "invoke /c", "consumed"])
        s.advance(seconds: 10)
        #expect(s.log.last == "timer @62s")
        #expect(s.written == ["/a", "/b", "/c"])
        #expect(s.machine.state == .idle && s.machine.requests == 3 && s.kept.isEmpty)
    }

    @Test func keepAliveTrafficLeavesTheTimerAlone() {
        // The timer is re-armed lazily: a later deadline is found when it fires.
        let s = MachineScript()
        for k in 0..<5 {
            s.receive(get("/\(k)"))
            s.advance(seconds: 1)
        }
        #expect(s.log.filter { $0.hasPrefix("timer") } == ["timer @11s"], "\(s.log)")
        s.advance(seconds: 58)  // at 11 s it fires and moves to 65 s: 60 s after the last request
        #expect(s.log.last == "timer @65s" && !s.closed)
        s.advance(seconds: 2)
        #expect(s.log.suffix(2) == ["timeout idle", "close"])
    }

    @Test func theTurnEndsAfterMaxPipelinedRequests() {
        let s = MachineScript(rules: ConnectionRules(maxPipelinedRequests: 2))
        s.receive(get("/1") + get("/2") + get("/3"))
        #expect(s.log == ["timer @11s", "invoke /1", "invoke /2", "yield"])
        #expect(String(decoding: s.kept, as: UTF8.self) == get("/3"))
        s.runPass()  // the next turn
        #expect(s.written == ["/1", "/2", "/3"] && s.kept.isEmpty)
    }

    @Test func theLastRequestAllowedClosesTheConnection() {
        let s = MachineScript(rules: ConnectionRules(maxRequestsPerConnection: 2))
        s.receive(get("/1") + get("/2") + get("/3"))
        #expect(s.log == ["timer @11s", "invoke /1", "invoke /2 (close)", "stop: closing", "linger", "timer @3s"])
        #expect(s.written == ["/1", "/2"], "nothing after the last request is served")
        #expect(s.lingering, "unread requests: the close lingers")
    }

    @Test func connectionCloseAndHTTP10() {
        let s = MachineScript()
        s.receive(get("/bye", "Connection: close\r\n"))
        #expect(s.log == ["timer @11s", "invoke /bye (close)", "stop: closing", "close"])
        let old = MachineScript()
        old.receive("GET /old HTTP/1.0\r\n\r\n")
        #expect(old.log.contains("invoke /old (close)") && old.closed)
        let kept = MachineScript()
        kept.receive("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.log.contains("invoke /old") && !kept.closed)
    }

    @Test func aHandlerThatDoesNotAnswerGetsA500ForIt() {
        let s = MachineScript()
        s.handler = { path, _ in path == "/silent" ? .nothing : .responded(keepAlive: true) }
        s.receive(get("/silent") + get("/next"))
        #expect(s.log == ["timer @11s", "invoke /silent", "500 for the handler", "invoke /next", "consumed"])
        #expect(s.written == ["500", "/next"])
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n\r\n", 400),  // no Host
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n", 414),
        ("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ])
    func badRequestsAreAnsweredAndTheCloseLingers(_ input: String, _ status: Int) {
        let s = MachineScript()
        s.receive(input + get("/after"))
        #expect(s.written == ["\(status)"], "\(s.log)")
        #expect(s.lingering && s.machine.state == .lingering)
        #expect(!s.log.contains("invoke /after"), "nothing after a bad request is served")
        s.advance(seconds: 2)
        #expect(s.closed && s.log.last == "close")
    }

    @Test func aLingeringClientThatKeepsSendingIsCutOff() {
        let s = MachineScript(rules: ConnectionRules(lingerByteBudget: 100))
        s.receive("NOT HTTP\r\n\r\n")
        #expect(s.lingering)
        s.receive([UInt8](repeating: 0x61, count: 60))
        #expect(!s.closed)
        s.receive([UInt8](repeating: 0x61, count: 60))
        #expect(s.closed && s.log.suffix(3) == ["discard 60", "discard 60", "close"])
    }
}

@Suite struct ConnectionMachineTimeoutTests {
    @Test func aNewConnectionThatSendsNothingIsClosedQuietlyAtTheHeaderTimeout() {
        let s = MachineScript()
        s.advance(seconds: 10)
        #expect(s.log == ["timer @11s", "timeout header", "close"])
        #expect(s.written.isEmpty)
    }

    @Test func aSlowHeadGets408AtTheHeaderTimeoutWhateverItDrips() {
        let s = MachineScript()
        s.receive("GET /a HTTP/1.1\r\nHo")
        s.advance(seconds: 5)
        s.receive("st: x\r\nX-Slow: 1")
        s.advance(seconds: 5)
        #expect(s.log == ["timer @11s", "need more (19 kept)", "need more (35 kept)", "timeout: answer 408", "linger", "timer @13s"])
        s.advance(seconds: 2)
        #expect(s.log.suffix(2) == ["timeout linger", "close"])
    }

    @Test func theNextRequestsHeadIsTimedFromItsFirstByte() {
        let s = MachineScript()
        s.receive(get("/a"))
        s.advance(seconds: 30)
        s.receive("GET /b HTTP/1.1\r\n")  // at 31 s: its head is due by 41 s
        s.advance(seconds: 9.9)
        #expect(!s.log.contains("timeout: answer 408"))
        s.advance(seconds: 0.2)
        #expect(s.log.contains("timeout: answer 408"), "\(s.log)")
    }

    @Test func aStalledBodyGets408AtTheBodyTimeoutAndBytesRestartIt() {
        let s = MachineScript()
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(s.machine.state == .readingBody)
        s.advance(seconds: 20)
        s.receive("def")  // at 21 s: the body timeout runs from here
        s.advance(seconds: 29)
        #expect(!s.log.contains("timeout: answer 408"))
        s.advance(seconds: 2)
        #expect(s.log.contains("timeout: answer 408") && s.written == ["408"], "\(s.log)")
    }

    @Test func aClientThatDoesNotReadIsDroppedAtTheWriteTimeout() {
        let s = MachineScript()
        s.receive(get("/big"))
        s.socketFull()
        #expect(s.machine.interest() == .write)
        s.advance(seconds: 20)
        s.socketTookSome()  // progress: the write timeout starts again
        s.advance(seconds: 29)
        #expect(!s.closed)
        s.advance(seconds: 2)
        #expect(s.closed && s.log.suffix(2) == ["timeout write", "close"])
    }

    @Test func noTimeoutWhileAHandlerOwesAnAnswer() {
        let s = MachineScript()
        s.handler = { _, _ in .deferred(keepAlive: true) }
        s.receive(get("/slow"))
        #expect(s.machine.state == .awaitingResponse && s.machine.interest() == .hangup)
        s.advance(seconds: 600)
        #expect(!s.closed && !s.log.contains { $0.hasPrefix("timeout") })
        s.answerLate(.responded(keepAlive: true))
        #expect(s.machine.state == .idle)
        s.advance(seconds: 59)
        #expect(!s.closed)
        s.advance(seconds: 2)
        #expect(s.closed, "the idle timeout runs from the answer")
    }
}

@Suite struct ConnectionMachineBodyTests {
    @Test func aBufferedBodyInvitesContinueOnceAndWaits() {
        let s = MachineScript()
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        s.receive("he")
        s.receive("llo")
        #expect(s.log == ["timer @11s", "100 Continue", "need more (71 kept)", "need more (73 kept)", "invoke /up", "consumed"])
    }

    @Test func aBodyOverTheLimitIs413BeforeItArrives() {
        let s = MachineScript()
        s.policy = { _ in BodyPolicy(limit: 4, streams: false) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(s.written == ["413"] && s.lingering)
        let streamed = MachineScript()
        streamed.policy = { _ in BodyPolicy(limit: 4, streams: true) }
        streamed.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        #expect(streamed.written == ["413"] && !streamed.log.contains { $0.hasPrefix("invoke") })
    }

    @Test func aStreamedBodyGoesPieceByPieceAndContinueWaitsForTheHandler() {
        let s = MachineScript()
        s.policy = { _ in BodyPolicy(limit: 100, streams: true) }
        s.handler = { path, inv in
            guard path == "/up" else { return .responded(keepAlive: inv.answer.keepAlive) }
            #expect(inv.streaming && !inv.answer.keepAlive, "answering before taking the body would close")
            return .takingBody
        }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        #expect(s.log == ["timer @11s", "invoke /up (close) streaming", "100 Continue", "take body"])
        s.receive("5\r\nhello\r\n")
        s.receive("6\r\n world\r\n0\r\n\r\n" + get("/next"))
        #expect(s.log.suffix(5) == ["piece hello", "piece  world", "end", "invoke /next", "consumed"], "\(s.log)")
        #expect(s.written == ["100", "end answer", "/next"])
    }

    @Test func aPausedBodyStopsReadingAndIsNotTimedUntilResumed() {
        let s = MachineScript()
        s.policy = { _ in BodyPolicy(limit: 100, streams: true) }
        s.handler = { _, _ in .takingBody }
        s.onPiece = { _ in (answered: false, paused: true) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        #expect(s.log.suffix(4) == ["take body", "piece hello", "paused", "watch hangup"])
        #expect(s.machine.state == .bodyPaused && s.machine.interest() == .hangup)
        s.receive("world")  // not read while paused: kept for after the resume
        s.advance(seconds: 100)
        #expect(!s.closed)
        s.onPiece = { _ in (false, false) }
        s.resume()
        #expect(s.log.suffix(6) == ["resumed", "piece world (last)", "end", "consumed", "timer @161s", "watch read"], "\(s.log)")
        #expect(s.machine.state == .idle && s.written == ["end answer"])
    }

    @Test func aHalfCloseWhilePausedKeepsTheRestForTheResume() {
        let s = MachineScript()
        s.policy = { _ in BodyPolicy(limit: 100, streams: true) }
        s.handler = { _, _ in .takingBody }
        s.onPiece = { _ in (answered: false, paused: true) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        s.peerHalfCloses()  // the client sent everything, then shut its side
        #expect(s.log.suffix(2) == ["half-close: keep", "watch none"], "\(s.log)")
        s.receive("world")
        s.onPiece = { _ in (false, false) }
        s.resume()
        #expect(s.machine.state == .idle && s.written == ["end answer"] && s.watching == .read)
    }

    @Test func anAnswerBeforeTheEndClosesAndDrainsTheRest() {
        let s = MachineScript()
        s.policy = { _ in BodyPolicy(limit: 100, streams: true) }
        s.handler = { _, _ in .takingBody }
        s.onPiece = { _ in (answered: true, paused: false) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        #expect(s.written == ["answer mid-body"] && s.lingering)
    }

    @Test func aStreamingRouteAnsweredWithoutTakingTheBodyNeverInvitesIt() {
        let s = MachineScript()
        s.policy = { _ in BodyPolicy(limit: 100, streams: true) }
        s.handler = { _, inv in .responded(keepAlive: inv.answer.keepAlive) }  // 401, say
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        #expect(!s.log.contains("100 Continue"))
        #expect(s.log.contains("invoke /up (close) streaming") && s.lingering)
    }

    @Test func malformedAndOversizedStreamedBodiesAreAbortedAndAnswered() {
        let bad = MachineScript()
        bad.policy = { _ in BodyPolicy(limit: 100, streams: true) }
        bad.handler = { _, _ in .takingBody }
        bad.receive("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        #expect(bad.log.contains("abort body; answer 400") && bad.lingering)
        let big = MachineScript()
        big.policy = { _ in BodyPolicy(limit: 4, streams: true) }
        big.handler = { _, _ in .takingBody }
        big.receive("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        #expect(big.log.contains("abort body; answer 413") && big.lingering)
    }

    @Test func takingTheBodyOnABufferedRouteGetsItWholeThenTheEnd() {
        let s = MachineScript()
        s.handler = { path, inv in path == "/up" ? .takingBody : .responded(keepAlive: inv.answer.keepAlive) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get("/next"))
        #expect(s.log == ["timer @11s", "invoke /up", "whole body hello", "end", "invoke /next", "consumed"])
    }
}

@Suite struct ConnectionMachineAnswerTests {
    @Test func requestsQueuedBehindADeferredAnswerWaitForIt() {
        let s = MachineScript()
        s.handler = { path, inv in path == "/slow" ? .deferred(keepAlive: true) : .responded(keepAlive: inv.answer.keepAlive) }
        s.receive(get("/slow") + get("/fast"))
        #expect(s.log == ["timer @11s", "invoke /slow", "stop: awaitingResponse", "watch hangup"])
        #expect(String(decoding: s.kept, as: UTF8.self) == get("/fast"))
        let sequence = s.machine.sequence
        s.answerLate(.responded(keepAlive: true), sequence: sequence &- 1)  // a stale answer
        #expect(s.log.last == "late answer \(sequence &- 1) dropped")
        s.answerLate(.responded(keepAlive: true))
        #expect(s.written == ["late", "/fast"] && s.machine.state == .idle)
        s.answerLate(.responded(keepAlive: true), sequence: sequence)  // a second answer
        #expect(s.log.last == "late answer \(sequence) dropped")
    }

    @Test func aHalfCloseWhileAnAnswerIsOwedWaitsForTheAnswer() {
        let s = MachineScript()
        s.handler = { _, _ in .deferred(keepAlive: true) }
        s.receive(get("/slow"))
        s.peerHalfCloses()
        #expect(!s.closed && s.machine.interest() == .none)
        s.answerLate(.responded(keepAlive: true))
        #expect(s.written == ["late"] && s.watching == .read, "reading resumes, and will meet the end")
        let idle = MachineScript()
        idle.receive(get("/a"))
        idle.peerHalfCloses()
        #expect(idle.closed, "a connection that reads sees the end itself; told otherwise, it closes")
    }

    @Test func aDeferredAnswerThatClosesDropsWhatQueuedAndLingers() {
        let s = MachineScript()
        s.handler = { _, _ in .deferred(keepAlive: false) }
        s.receive(get("/slow") + get("/never"))
        s.answerLate(.responded(keepAlive: false))
        #expect(s.log.contains("late answer: close") && s.lingering)
    }

    @Test func aLateAnswerMayStartAStreamThatHoldsTheQueueUntilItFinishes() {
        let s = MachineScript()
        s.handler = { path, inv in path == "/slow" ? .deferred(keepAlive: true) : .responded(keepAlive: inv.answer.keepAlive) }
        s.receive(get("/slow") + get("/next"))
        let sequence = s.machine.sequence
        #expect(s.machine.pendingAnswer.sequence == sequence, "a late answer (and a stream it starts) carries the awaited sequence")
        s.answerLate(.streamingResponse(keepAlive: true))
        #expect(s.log.last == "late answer: streaming")
        #expect(s.machine.state == .streamingResponse && s.machine.isStreamingResponse(sequence))
        #expect(s.written == ["late"], "the request behind waits for the stream")
        s.finishStream()
        #expect(s.written == ["late", "/next"] && s.machine.state == .idle)
        // A stream that must close the connection (an HTTP/1.0 client) closes it at its end.
        let closing = MachineScript()
        closing.handler = { _, _ in .deferred(keepAlive: true) }
        closing.receive(get("/slow"))
        closing.answerLate(.streamingResponse(keepAlive: false))
        closing.finishStream()
        #expect(closing.log.suffix(2) == ["stream finished: close", "close"] && closing.closed)
    }

    @Test func aLateAnswerThatForgetsToAnswerIs500() {
        let s = MachineScript()
        s.handler = { _, _ in .deferred(keepAlive: true) }
        s.receive(get("/slow"))
        s.answerLate(.nothing)
        #expect(s.log.contains("500 for the handler") && s.machine.state == .idle)
    }

    @Test func aStreamedResponseHoldsTheConnectionUntilItFinishes() {
        let s = MachineScript()
        s.handler = { path, inv in path == "/stream" ? .streamingResponse(keepAlive: true) : .responded(keepAlive: inv.answer.keepAlive) }
        s.receive(get("/stream") + get("/next"))
        #expect(s.machine.state == .streamingResponse && s.machine.isStreamingResponse(s.machine.sequence))
        s.finishStream()
        #expect(s.written == ["/next"] && s.machine.state == .idle)
        // A close-delimited stream (HTTP/1.0) closes when it ends.
        let old = MachineScript()
        old.handler = { _, _ in .streamingResponse(keepAlive: false) }
        old.receive("GET /stream HTTP/1.0\r\n\r\n")
        old.finishStream()
        #expect(old.closed)
    }

    @Test func anUpgradeHandsOffWithTheBytesAfterTheRequest() {
        let s = MachineScript()
        s.handler = { _, _ in .upgrading }
        s.receive(get("/ws", "Upgrade: echo\r\nConnection: upgrade\r\n") + "hello, new protocol")
        #expect(s.log.suffix(3) == ["upgrade", "unread: hello, new protocol", "watch none"])
        #expect(s.machine.state == .upgraded && s.machine.interest() == .none)
    }
}

@Suite struct ConnectionMachineDrainTests {
    @Test func anIdleConnectionClosesAtOnce() {
        let s = MachineScript()
        s.receive(get("/a"))
        s.drain()
        #expect(s.log.suffix(2) == ["drain: close now", "close"])
    }

    @Test func aBusyConnectionSaysCloseOnItsNextAnswerAndTakesNoMoreRequests() {
        let s = MachineScript()
        s.handler = { path, inv in path == "/slow" ? .deferred(keepAlive: inv.answer.keepAlive) : .responded(keepAlive: inv.answer.keepAlive) }
        s.receive(get("/slow") + get("/after"))
        s.drain()
        #expect(s.machine.pendingAnswer.keepAlive == false, "the answer says Connection: close")
        s.answerLate(.responded(keepAlive: false))
        #expect(s.log.contains("late answer: close") && s.lingering && !s.written.contains("/after"))
    }

    @Test func aHalfSentRequestIsServedButClosesAfter() {
        let s = MachineScript()
        s.receive("GET /a HTTP/1.1\r\n")
        s.drain()
        #expect(!s.closed)
        s.receive("Host: x\r\n\r\n")
        #expect(s.log.contains("invoke /a (close)") && s.closed)
    }

    @Test func aLameDucksIdleConnectionAnswersItsNextRequestWithCloseOrClosesWhenIdle() {
        // Its next request comes within the grace: answered, `Connection: close`, closed after.
        let busy = MachineScript()
        busy.receive(get("/a"))
        busy.advance(seconds: 0.3)
        busy.drain(idleGrace: 1)
        #expect(busy.log.suffix(2) == ["drain: close when idle", "timer @2s"], "\(busy.log)")
        #expect(!busy.closed)
        busy.advance(seconds: 0.5)
        busy.receive(get("/b"))
        #expect(busy.log.contains("invoke /b (close)") && busy.closed, "\(busy.log)")
        // None comes: closed once idle for the grace, counted from its last request.
        let quiet = MachineScript()
        quiet.receive(get("/a"))
        quiet.advance(seconds: 0.3)
        quiet.drain(idleGrace: 1)
        quiet.advance(seconds: 0.6)
        #expect(!quiet.closed)
        quiet.advance(seconds: 0.2)
        #expect(quiet.closed && quiet.log.suffix(2) == ["timeout idle", "close"], "\(quiet.log)")
        // Idle for longer than the grace already: closed at once.
        let old = MachineScript()
        old.receive(get("/a"))
        old.advance(seconds: 5)
        old.drain(idleGrace: 1)
        #expect(old.closed)
        // Just accepted, its first request on the way: answered (with close) if it comes
        // within the grace from the accept, closed quietly if not.
        let fresh = MachineScript()
        fresh.advance(seconds: 0.2)
        fresh.drain(idleGrace: 1)
        #expect(!fresh.closed)
        fresh.receive(get("/first"))
        #expect(fresh.log.contains("invoke /first (close)") && fresh.closed, "\(fresh.log)")
        let silent = MachineScript()
        silent.drain(idleGrace: 1)
        silent.advance(seconds: 1.1)
        #expect(silent.closed && silent.written.isEmpty, "\(silent.log)")
    }

    @Test func aConnectionStillWritingClosesOnceItsOutputIsOut() {
        let s = MachineScript()
        s.receive(get("/big"))
        s.socketFull()
        s.drain()
        #expect(!s.closed && s.machine.state == .closing)
        s.socketDrained()
        #expect(s.closed)
    }
}
