@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
import Testing

/// Regression tests (review round 10) for the minimum body rate.
@Suite struct MinimumRateRegression10Tests {
    /// 100 bytes/s after 2 s; a body timeout far longer.
    static let rules = ConnectionRules(
        bodyTimeout: .seconds(30), writeTimeout: .seconds(30),
        minimumBodyRate: DataRate(bytesPerSecond: 100, grace: .seconds(2)),
        minimumResponseRate: DataRate(bytesPerSecond: 100, grace: .seconds(2)))

    /// A streamed body whose handler pauses after each piece and resumes shortly after (a
    /// handler that writes each piece somewhere before taking the next, i.e. ordinary
    /// backpressure): `bodyResumed` sets `_rateDeadline = 0`, so every resume starts a fresh
    /// grace period and the trickle is never measured. Only the paused time should be excused.
    /// Here the client sends 1 byte every 20 s for 400 s (0.05 B/s against a minimum of
    /// 100 B/s after 2 s): it must be cut long before the end.
    @Test func aTrickleIsCutEvenIfTheHandlerPausesAndResumesBetweenPieces() {
        let s = MachineScript(rules: Self.rules)
        s.policy = { _ in BodyPolicy(limit: 1 << 20, streams: true) }
        s.handler = { _, _ in .takingBody }
        s.onPiece = { _ in (answered: false, paused: true) }
        s.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
        for _ in 0..<20 where !s.closed && s.written.isEmpty {
            s.advance(seconds: 0.01)
            s.resume()  // the handler took the piece: 10 ms of pause
            s.advance(seconds: 19.99)
            if s.closed || !s.written.isEmpty { break }
            s.receive("x")
        }
        #expect(s.written == ["408"] || s.closed, "a 0.05 B/s body was never cut: \(s.log.suffix(6))")
    }

    /// `DataRate.credit` guards `(n / rate) * 1e9` against overflow but not the remainder term
    /// `(n % rate) * 1_000_000_000`: with a rate above ~9.2e9 B/s (an absurd but accepted
    /// `--min-response-rate`, e.g. 1e12) and more than ~9.2e9 bytes credited at once, that
    /// product traps. On TCP the credit is what the client acknowledged between two
    /// measurements (`deliveryMeasured`, `Int(clamping: progress)`): a fast local client
    /// reading a large file during one blocked stretch gets there. The reactor thread traps:
    /// the whole process dies.
    @Test func aHugeCreditDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            let rate = DataRate(bytesPerSecond: 1_000_000_000_000, grace: .seconds(5))
            _ = rate.credit(10_000_000_000)
        }
    }

    /// The same through the machine, as the driver plays it: a blocked response on TCP, 10 GB
    /// acknowledged by the time the rate deadline comes due.
    @Test func aFastReaderOfAHugeResponseDoesNotTrapTheMachine() async {
        await #expect(processExitsWith: .success) {
            let rules = ConnectionRules(
                writeTimeout: .seconds(30),
                minimumResponseRate: DataRate(bytesPerSecond: 1_000_000_000_000, grace: .seconds(5)))
            var m = ConnectionMachine(acceptedAt: 1_000_000_000)
            m.writeBlocked(now: 1_000_000_000, rules, delivered: 0)
            _ = m.timerFired(now: 6_000_000_000, rules)
            _ = m.deliveryMeasured(10_000_000_000, now: 6_000_000_000, rules)
        }
    }
}
