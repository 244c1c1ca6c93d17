@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
import Testing

/// Plays the driver for one `ConnectionMachine` on byte scripts, with a manual clock: no
/// sockets, no threads, no sleeping. It carries out the machine's actions the way `HTTPEngine`
/// does (keeps the bytes it is told to keep, runs "handlers" that answer as the test says,
/// watches, arms its one timer) and writes down every action in `log`, so a test reads like
/// the conversation between the machine and its driver.
final class MachineScript {
    var machine: ConnectionMachine
    let rules: ConnectionRules
    /// The manual clock, in nanoseconds.
    var now: Int64
    /// Bytes the driver holds for the connection (a partial request, requests queued behind an
    /// answer, a paused body's rest), with the parser state that goes with them.
    var kept: [UInt8] = []
    let parser: UnsafeMutablePointer<RequestParser>
    let headers: UnsafeMutablePointer<HeaderSlot>
    var log: [String] = []
    /// The armed timer's deadline.
    var timer: Int64?
    var watching: Interest = .read
    /// Output "written": the answers' summaries, in order.
    var written: [String] = []
    /// Output the socket "did not take".
    var blocked = false
    var closed = false
    var lingering = false
    /// What the "kernel" says the client has acknowledged (nil: not a TCP socket).
    var acked: UInt64?

    /// How each path is routed (body policy) and what its handler does.
    var policy: (String) -> BodyPolicy = { _ in BodyPolicy(limit: 1 << 20, streams: false) }
    var handler: (String, Invocation) -> HandlerAnswer = { _, inv in .responded(keepAlive: inv.answer.keepAlive) }
    /// For a body taken piece by piece: what the handler does with each piece and at the end.
    var onPiece: (String) -> (answered: Bool, paused: Bool) = { _ in (false, false) }
    var onEnd: (AnswerContext) -> HandlerAnswer = { ctx in .responded(keepAlive: ctx.keepAlive) }
    var bodyLimit = 1 << 20

    static let second: Int64 = 1_000_000_000

    init(rules: ConnectionRules = ConnectionRules(), acceptedAt: Int64 = MachineScript.second) {
        self.rules = rules
        now = acceptedAt
        machine = ConnectionMachine(acceptedAt: acceptedAt)
        parser = .allocate(capacity: 1)
        parser.initialize(to: RequestParser())
        headers = .allocate(capacity: rules.limits.maxHeaderCount)
        settle()
    }

    deinit {
        parser.deallocate()
        headers.deallocate()
    }

    /// The clock in seconds since the script's origin, for the log.
    func at(_ t: Int64) -> String {
        let ms = Double(t) / 1e6
        return ms.truncatingRemainder(dividingBy: 1000) == 0 ? "\(Int(ms / 1000))s" : "\(ms / 1000)s"
    }

    // MARK: Events the script plays

    /// Bytes arrive from the client.
    func receive(_ text: String) {
        receive(Array(text.utf8))
    }

    func receive(_ bytes: [UInt8]) {
        precondition(!closed, "the connection is closed")
        if lingering {
            log.append("discard \(bytes.count)")
            if machine.discardedWhileLingering(bytes.count, rules) { close("lingering client sent too much") }
            return
        }
        machine.bytesArrived(bytes.count, now: now, rules)
        switch machine.state {
        case .idle, .readingHead, .readingBody, .streamingBody:
            kept += bytes
            runPass()
        default:
            kept += bytes  // not read now (watching for the hang-up only); served later
        }
    }

    /// Moves the clock, firing the timer at its deadline (and again if it is re-armed within
    /// the time advanced).
    func advance(by nanoseconds: Int64) {
        let target = now + nanoseconds
        while let deadline = timer, deadline <= target, !closed {
            now = deadline
            fireTimer()
        }
        now = target
    }

    func fireTimer() {
        timer = nil
        var action = machine.timerFired(now: now, rules)
        if case .measureDelivery = action {
            log.append("measure delivery: \(acked ?? 0)")
            action = machine.deliveryMeasured(acked ?? 0, now: now, rules)
        }
        switch action {
        case .measureDelivery:
            Issue.record("deliveryMeasured must decide")
        case .rearm(let change):
            apply(change)
        case .close(let wait):
            log.append("timeout \(wait)")
            close("\(wait) timeout")
        case .requestTimeout(let why):
            log.append("timeout: answer \(why.status)")
            written.append("\(why.status)")
            kept = []
            parser.pointee.reset()
            settle()
        }
    }

    func advance(seconds: Double) { advance(by: Int64(seconds * 1e9)) }

    /// The handler of the awaited answer answers now.
    func answerLate(_ answer: HandlerAnswer, sequence: UInt32? = nil) {
        let expected = sequence ?? machine.sequence
        guard machine.isAnswering(expected) else {
            log.append("late answer \(expected) dropped")
            return
        }
        var after = machine.answeredLate(answer, now: now)
        if case .answerForHandler(let keepAlive) = after {
            log.append("500 for the handler")
            after = machine.answeredLate(.responded(keepAlive: keepAlive), now: now)
        }
        written.append("late")
        log.append("late answer: \(after)")
        if after == .close, !kept.isEmpty {
            machine.unreadInputLeft()
            kept = []
        }
        if after == .resume && !kept.isEmpty && !blocked { return runPass() }
        settle()
    }

    /// The response stream writes its last chunk.
    func finishStream() {
        let after = machine.responseStreamFinished(now: now)
        log.append("stream finished: \(after)")
        if after == .resume && !kept.isEmpty && !blocked { return runPass() }
        settle()
    }

    /// The socket would not take all of the output.
    func socketFull() {
        blocked = true
        machine.writeBlocked(now: now, rules, delivered: machine.flags.contains(.writeBlocked) ? nil : acked)
        settle()
    }

    /// The socket took some (`count` bytes) of the pending output.
    func socketTookSome(_ count: Int = 1) {
        machine.writeProgressed(count, now: now, rules)
        settle()
    }

    /// The socket took all of the pending output.
    func socketDrained() {
        blocked = false
        machine.writeDrained()
        if machine.state == .idle && !kept.isEmpty { return runPass() }
        if machine.state == .upgraded {
            log.append("hand off")
            return
        }
        settle()
    }

    /// The handler resumes a paused body.
    func resume() {
        guard machine.bodyResumed(now: now) else { return log.append("resume ignored") }
        log.append("resumed")
        if kept.isEmpty { return settle() }
        runPass()
    }

    /// The client shuts down its sending side while the connection is not reading.
    func peerHalfCloses() {
        switch machine.peerHalfClosed() {
        case .close:
            log.append("half-close: close")
            close("half-closed")
        case .keep:
            log.append("half-close: keep")
            settle()
        }
    }

    /// The server drains (a lame duck's drain with `idleGrace` seconds).
    func drain(idleGrace: Double = 0) {
        switch machine.drain(requestsBuffered: !kept.isEmpty && machine.state == .idle, idleGrace: Int64(idleGrace * 1e9), now: now) {
        case .closeNow:
            log.append("drain: close now")
            close("drained")
        case .closeWhenIdle(let change):
            log.append("drain: close when idle")
            apply(change)
        case .closeAfterExchange:
            log.append("drain: after the exchange")
            if machine.state == .closing { kept = [] }
            settle()
        }
    }

    // MARK: The driver's part

    func runPass() {
        var bytes = kept
        kept = []
        bytes.withUnsafeMutableBytes { raw in
            var pass = RequestPass(bytes: raw, parser: parser, headers: headers)
            let end = passLoop(&pass)
            let rest = Array(UnsafeRawBufferPointer(pass.rest))
            switch end {
            case .needMore(let keep): kept = Array(rest[..<keep])
            case .consumed, .handOff: break
            default: kept = rest
            }
            if case .handOff = end { log.append("unread: \(String(decoding: rest, as: UTF8.self))") }
        }
        if machine.state == .closing && !kept.isEmpty {
            machine.unreadInputLeft()
            kept = []
        }
        settle()
    }

    enum End { case consumed, needMore(keep: Int), yielded, waiting, paused, handOff }

    func passLoop(_ pass: inout RequestPass) -> End {
        while true {
            if machine.state == .streamingBody {
                switch machine.nextBodyPiece(&pass, limit: bodyLimit) {
                case .needMore: return .needMore(keep: 0)
                case .reject(let why):
                    log.append("abort body; answer \(why.status)")
                    written.append("\(why.status)")
                    return .waiting
                case .end:
                    if let end = deliverEnd(&pass) { return end }
                    continue
                case .piece(let bytes, let last):
                    let text = String(decoding: bytes, as: UTF8.self)
                    log.append("piece \(text)\(last ? " (last)" : "")")
                    let (answered, paused) = onPiece(text)
                    if answered { written.append("answer mid-body") }
                    switch machine.pieceDelivered(answered: answered, paused: paused, last: last, now: now) {
                    case .more: continue
                    case .end:
                        if let end = deliverEnd(&pass) { return end }
                        continue
                    case .paused:
                        log.append("paused")
                        return .paused
                    case .stop:
                        return .waiting
                    }
                }
            }
            switch machine.nextRequest(&pass, rules) {
            case .consumed:
                log.append("consumed")
                return .consumed
            case .yield:
                log.append("yield")
                return .yielded
            case .needMore(let keep, _):
                log.append("need more (\(keep) kept)")
                return .needMore(keep: keep)
            case .reject(let why):
                log.append("reject \(why.status)")
                written.append("\(why.status)")
                return .waiting
            case .invoke:
                fatalError("nextRequest does not invoke")
            case .head:
                break
            }
            let path = String(
                decoding: UnsafeBufferPointer(start: pass.requestBase + pass.parser.pointee.pathRange.lowerBound, count: pass.parser.pointee.pathRange.count),
                as: UTF8.self)
            let routing = policy(path)
            bodyLimit = routing.limit
            let invocation: Invocation
            switch machine.routed(&pass, routing, rules, now: now) {
            case .invoke(let i): invocation = i
            case .needMore(let keep, let sendContinue):
                if sendContinue {
                    log.append("100 Continue")
                    written.append("100")
                }
                log.append("need more (\(keep) kept)")
                return .needMore(keep: keep)
            case .reject(let why):
                log.append("reject \(why.status)")
                written.append("\(why.status)")
                return .waiting
            default:
                fatalError("routed ends in an invocation, a wait or a rejection")
            }
            log.append("invoke \(path)\(invocation.answer.keepAlive ? "" : " (close)")\(invocation.streaming ? " streaming" : "")")
            var answer = handler(path, invocation)
            if case .responded = answer { written.append(path) }
            var after = machine.handled(answer, &pass)
            if case .answerForHandler(let keepAlive) = after {
                log.append("500 for the handler")
                written.append("500")
                answer = .responded(keepAlive: keepAlive)
                after = machine.handled(answer, &pass)
            }
            switch after {
            case .next: continue
            case .stop:
                log.append("stop: \(machine.state)")
                return .waiting
            case .takeBody(let sendContinue):
                if sendContinue {
                    log.append("100 Continue")
                    written.append("100")
                }
                log.append("take body")
            case .deliverWholeBody(let body):
                let bytes = UnsafeRawBufferPointer(rebasing: pass.bytes[(pass.offset + body.lowerBound)..<(pass.offset + body.upperBound)])
                log.append("whole body \(String(decoding: bytes, as: UTF8.self))")
                if let end = deliverEnd(&pass) { return end }
            case .handOff:
                log.append("upgrade")
                return .handOff
            case .answerForHandler:
                fatalError("answered above")
            }
        }
    }

    /// The body's end goes to the handler; nil when the pass goes on.
    func deliverEnd(_ pass: inout RequestPass) -> End? {
        let context = machine.pendingAnswer
        log.append("end\(context.keepAlive ? "" : " (close)")")
        let answer = onEnd(context)
        if case .responded = answer { written.append("end answer") }
        switch machine.handled(answer, &pass) {
        case .next: return nil
        case .stop:
            log.append("stop: \(machine.state)")
            return .waiting
        default: return .waiting
        }
    }

    /// Watches and times the connection as the machine says; closes a closing one whose
    /// output is out (lingering first if it should).
    func settle() {
        guard !closed else { return }
        if machine.state == .closing && !blocked {
            if machine.closesByLingering {
                log.append("linger")
                lingering = true
                machine.startedLingering(now: now)
            } else {
                return close("closing")
            }
        }
        apply(machine.timerChange(rules))
        let wanted = machine.interest()
        if wanted != watching {
            log.append("watch \(wanted)")
            watching = wanted
        }
    }

    func apply(_ change: TimerChange) {
        switch change {
        case .keep: break
        case .arm(let t):
            timer = t
            log.append("timer @\(at(t))")
        case .moveTo(let t):
            timer = t
            log.append("timer @\(at(t))")
        }
    }

    func close(_ why: String) {
        closed = true
        machine.closed()
        timer = nil
        log.append("close")
    }
}
