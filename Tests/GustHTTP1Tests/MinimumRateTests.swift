@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
import Testing

/// The minimum data rates (issue 10, item 5): a body that trickles, or a client that reads its
/// output a few bytes at a time, is cut once the grace period is over and the average falls
/// below the rate, although every byte restarts the body and write timeouts.
@Suite struct MinimumRateTests {
    /// 100 bytes/s after 2 s, for bodies and for reading; timeouts far longer.
    static let rules = ConnectionRules(
        bodyTimeout: .seconds(30), writeTimeout: .seconds(30),
        minimumBodyRate: DataRate(bytesPerSecond: 100, grace: .seconds(2)),
        minimumResponseRate: DataRate(bytesPerSecond: 100, grace: .seconds(2)))

    @Test func aTricklingBodyGets408OnceItsAverageFallsBelowTheRate() {
        let s = MachineScript(rules: Self.rules)
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n0123456789")
        #expect(s.machine.state == .readingBody)
        // 10 bytes a second: each earns 0.1 s; the deadline starts at 1 s + 2 s grace.
        for _ in 0..<2 {
            s.advance(seconds: 1)
            s.receive("0123456789")
        }
        #expect(!s.log.contains("timeout: answer 408"))
        s.advance(seconds: 0.5)  // 3.5 s: past 3 s + 0.2 s of credit
        #expect(s.log.contains("timeout: answer 408") && s.written == ["408"], "\(s.log)")
        #expect(s.lingering)
    }

    @Test func aBodyAtTheRateIsNeverCut() {
        let s = MachineScript(rules: Self.rules)
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n")
        for _ in 0..<20 {
            s.advance(seconds: 1)
            s.receive(String(repeating: "x", count: 200))
        }
        #expect(s.written == ["/up"] && s.machine.state == .idle, "\(s.log)")
    }

    @Test func aBodyThatStopsIsStillCutByTheBodyTimeoutNotTheRate() {
        // Plenty of credit (a fast start) does not keep a stalled body: the body timeout does.
        let s = MachineScript(rules: Self.rules)
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        s.receive(String(repeating: "x", count: 50000))  // 500 s of credit
        s.advance(seconds: 29)
        #expect(s.written.isEmpty)
        s.advance(seconds: 2)
        #expect(s.written == ["408"], "\(s.log)")
    }

    @Test func timeAStreamedBodyIsPausedByItsHandlerDoesNotCount() {
        let s = MachineScript(rules: Self.rules)
        s.policy = { _ in BodyPolicy(limit: 1 << 20, streams: true) }
        s.handler = { _, _ in .takingBody }
        s.onPiece = { _ in (answered: false, paused: true) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhello")
        #expect(s.machine.state == .bodyPaused)
        s.advance(seconds: 100)
        #expect(!s.closed && s.written.isEmpty)
        s.onPiece = { _ in (false, false) }
        s.resume()
        // Measured afresh from the next bytes: a grace period, then 100 bytes/s.
        s.receive(String(repeating: "x", count: 100))  // at 101 s: deadline 103 s + 1 s
        s.advance(seconds: 2.9)
        #expect(s.written.isEmpty, "\(s.log)")
        s.advance(seconds: 0.2)
        #expect(s.written == ["408"], "\(s.log)")
    }

    @Test func aClientReadingTooSlowlyIsClosed() {
        let s = MachineScript(rules: Self.rules)
        s.receive(get("/big"))
        s.socketFull()  // at 1 s: deadline 3 s
        for _ in 0..<2 {
            s.advance(seconds: 1)
            s.socketTookSome(10)  // 0.1 s each; the write timeout restarts every time
        }
        s.advance(seconds: 0.1)
        #expect(!s.closed)
        s.advance(seconds: 0.2)  // 3.3 s: past 3.2 s
        #expect(s.closed && s.log.suffix(2) == ["timeout slowRead", "close"], "\(s.log)")
    }

    @Test func aClientReadingAtTheRateKeepsItsConnection() {
        let s = MachineScript(rules: Self.rules)
        s.receive(get("/big"))
        s.socketFull()
        for _ in 0..<30 {
            s.advance(seconds: 1)
            s.socketTookSome(150)
        }
        #expect(!s.closed)
        s.socketDrained()
        // Nothing pending: nothing is timed but the idle wait, and the next block starts afresh.
        s.advance(seconds: 30)
        #expect(!s.closed)
        s.receive(get("/big"))
        s.socketFull()
        s.advance(seconds: 1.9)
        #expect(!s.closed)
        s.advance(seconds: 0.2)
        #expect(s.closed && s.log.contains("timeout slowRead"), "\(s.log)")
    }

    @Test func onTCPWhatTheClientAcknowledgesCountsNotWhatTheKernelTook() {
        // A big send buffer takes a megabyte the client never reads: no credit for it.
        let s = MachineScript(rules: Self.rules)
        s.acked = 5000
        s.receive(get("/big"))
        s.socketFull()  // at 1 s: deadline 3 s, 5000 bytes acknowledged so far
        s.advance(seconds: 0.5)
        s.socketTookSome(1_000_000)
        s.acked = 5010  // 10 bytes really read
        s.advance(seconds: 1.6)
        #expect(s.closed && s.log.suffix(3) == ["measure delivery: 5010", "timeout slowRead", "close"], "\(s.log)")
    }

    @Test func onTCPAClientReadingAtTheRateIsKeptWithoutAnyWriteProgress() {
        // 150 bytes/s acknowledged, although the kernel's buffer never frees enough to write
        // more: the rate does not cut it (the write timeout, here 10 minutes, is another matter).
        let s = MachineScript(rules: ConnectionRules(
            bodyTimeout: .seconds(30), writeTimeout: .seconds(600),
            minimumBodyRate: DataRate(bytesPerSecond: 100, grace: .seconds(2)),
            minimumResponseRate: DataRate(bytesPerSecond: 100, grace: .seconds(2))))
        s.acked = 0
        s.receive(get("/big"))
        s.socketFull()
        for _ in 0..<60 {
            s.acked! += 150
            s.advance(seconds: 1)
        }
        #expect(!s.closed, "\(s.log.suffix(4))")
        // It stops reading: the rate's credit runs out, then it is cut.
        s.advance(seconds: 40)
        #expect(s.closed && s.log.contains("timeout slowRead"), "\(s.log.suffix(4))")
    }

    @Test func withoutMinimumRatesOnlyTheTimeoutsApply() {
        let s = MachineScript(rules: ConnectionRules(bodyTimeout: .seconds(30)))
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n")
        for _ in 0..<100 {
            s.advance(seconds: 20)
            s.receive("x")
        }
        #expect(s.written.isEmpty && !s.closed)
    }

    @Test func creditsAndGracesSaturate() {
        let rate = DataRate(bytesPerSecond: 1, grace: .seconds(Int64.max))
        #expect(rate.credit(Int.max) == ConnectionRules.maximumTimeout)
        #expect(rate.grace == ConnectionRules.maximumTimeout)
        #expect(DataRate(bytesPerSecond: 240, grace: .zero).credit(240) == 1_000_000_000)
        #expect(DataRate(bytesPerSecond: 3, grace: .zero).credit(1) == 333_333_333)
        // An absurd grace never fires early.
        let s = MachineScript(rules: ConnectionRules(bodyTimeout: .seconds(30), minimumBodyRate: rate))
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        s.advance(seconds: 10)
        #expect(s.written.isEmpty)
    }
}
