@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension BenchEngine {
    // MARK: Writing

    /// Writes as many requests as the loop allows on an open connection with no write pending,
    /// in one `write`: after a read, every response it completed is replaced at once (so a
    /// pipelined connection costs one read and one write per batch, not per response).
    func pump(_ index: Int, now: Int64) {
        guard connections[index].phase == .open, connections[index].writeRemaining == 0, !sendingStopped,
            !connections[index].closeAfterResponse  // the server is closing it (or it carries one request)
        else { return }
        var count = depth - connections[index].inFlight
        if plan.schedule != nil {
            count = min(count, Int(connections[index].dueUpTo - connections[index].nextToSend))
        } else if let budget = plan.budget, now >= plan.measureStart {
            count = min(count, budget - sentInWindow)
        }
        guard count > 0 else { return }
        if !configuration.keepAlive { count = 1 }

        // Record the send times first: the ring slot of each request gets (intended, actual).
        let base = index * depth * 2
        for k in 0..<count {
            let slot = (connections[index].ringHead + connections[index].inFlight + k) % depth
            var intended = now
            if let schedule = plan.schedule {
                let n = connections[index].nextToSend + Int64(k)
                intended = schedule.intendedTime(connection: connections[index].globalIndex, request: n)
                let lag = now - intended
                if intended >= plan.measureStart {
                    if lag > 1_000_000 { stats.lateSends += 1 }
                    if lag > stats.maxLagNanoseconds { stats.maxLagNanoseconds = lag }
                }
            }
            ring[base + slot * 2] = intended
            ring[base + slot * 2 + 1] = now
        }
        if plan.schedule != nil { connections[index].nextToSend += Int64(count) }
        if let budget = plan.budget, now >= plan.measureStart {
            sentInWindow += count
            if sentInWindow >= budget { stopSending() }  // what is in flight still completes
        }
        connections[index].inFlight += count
        if !configuration.keepAlive { connections[index].closeAfterResponse = true }
        connections[index].writeOffset = 0
        connections[index].writeRemaining = count * requestLength
        continueWrite(index)
    }

    /// Writes what the socket takes of the pending bytes; waits for EPOLLOUT for the rest.
    func continueWrite(_ index: Int) {
        let fd = connections[index].fd
        let remaining = connections[index].writeRemaining
        let n: Int
        do {
            switch try System.write(fd, from: batch.baseAddress! + connections[index].writeOffset, count: remaining) {
            case .processed(let written): n = written
            case .wouldBlock: n = 0
            }
        } catch {
            countInFlightAs(.write, index)
            return reconnect(index)
        }
        if reactorNow() >= plan.measureStart { stats.bytesOut += n }
        connections[index].writeOffset += n
        connections[index].writeRemaining -= n
        let wantWritable = connections[index].writeRemaining > 0
        guard wantWritable != connections[index].watchingWritable else { return }
        do {
            let interest: Events = wantWritable ? [.readable, .writable, .readHangup] : [.readable, .readHangup]
            try reactor.modify(fd, interest: interest, token: token(index))
            connections[index].watchingWritable = wantWritable
        } catch {
            countInFlightAs(.write, index)
            return reconnect(index)
        }
    }

    @inline(__always) func reactorNow() -> Int64 { reactor.now.nanoseconds }

    // MARK: Reading

    func readResponses(_ index: Int) {
        let fd = connections[index].fd
        let n: Int
        do {
            switch try System.read(fd, into: readBuffer, count: readBufferSize) {
            case .processed(let count): n = count
            case .wouldBlock: return
            }
        } catch {
            countInFlightAs(.read, index)
            return reconnect(index, resetting: true)
        }
        let now = System.monotonicNow().nanoseconds
        if n == 0 { return endOfStream(index, now: now) }
        if now >= plan.measureStart { stats.bytesIn += n }
        if connections[index].partial.isEmpty {
            process(index, UnsafeRawBufferPointer(start: readBuffer, count: n), now: now)
        } else {
            connections[index].partial.append(contentsOf: UnsafeRawBufferPointer(start: readBuffer, count: n))
            var bytes = connections[index].partial
            connections[index].partial = []
            bytes.withUnsafeBytes { process(index, $0, now: now) }
            if connections[index].partial.isEmpty {
                bytes.removeAll(keepingCapacity: true)
                connections[index].partial = bytes  // keep the capacity for the next split head
            }
        }
        if connections[index].phase == .open { pump(index, now: now) }
    }

    /// The server closed its side.
    func endOfStream(_ index: Int, now: Int64) {
        if connections[index].reading == .untilClose && connections[index].inFlight > 0 {
            completeResponse(index, status: connections[index].status, now: now)
        }
        if connections[index].inFlight > 0 { countInFlightAs(.read, index) }
        reconnect(index)
    }

    /// Frames and completes every response in `bytes`.
    func process(_ index: Int, _ bytes: UnsafeRawBufferPointer, now: Int64) {
        var i = 0
        while i < bytes.count {
            switch connections[index].reading {
            case .head:
                guard connections[index].inFlight > 0 else {
                    stats.count(.malformed)  // bytes nobody asked for
                    return reconnect(index, resetting: true)
                }
                let rest = UnsafeRawBufferPointer(rebasing: bytes[i...])
                switch parser.parse(rest) {
                case .needMore:
                    connections[index].partial.append(contentsOf: rest)
                    return
                case .invalid:
                    countInFlightAs(.malformed, index)
                    return reconnect(index, resetting: true)
                case .complete(let headLength):
                    i += headLength
                    let status = parser.status
                    if status < 200 && status != 101 { continue }  // interim response: the real one follows
                    let keepAlive = parser.keepAlive
                    if !keepAlive { connections[index].closeAfterResponse = true }
                    switch parser.framing(requestWasHead: configuration.request.isHead) {
                    case .none:
                        completeResponse(index, status: status, now: now)
                    case .length(let length):
                        if length == 0 {
                            completeResponse(index, status: status, now: now)
                        } else {
                            connections[index].bodyRemaining = length
                            connections[index].reading = .body
                            connections[index].status = status
                        }
                    case .chunked:
                        connections[index].chunked = ChunkedDecoder()
                        connections[index].reading = .chunked
                        connections[index].status = status
                    case .untilClose:
                        connections[index].reading = .untilClose
                        connections[index].closeAfterResponse = true
                        connections[index].status = status
                    }
                }
            case .body:
                let take = Int(min(Int64(bytes.count - i), connections[index].bodyRemaining))
                i += take
                connections[index].bodyRemaining -= Int64(take)
                if connections[index].bodyRemaining == 0 {
                    connections[index].reading = .head
                    completeResponse(index, status: connections[index].status, now: now)
                }
            case .chunked:
                let rest = UnsafeRawBufferPointer(rebasing: bytes[i...])
                switch connections[index].chunked.decode(rest) {
                case .needMore, .paused:  // (a decode without `until` never pauses)
                    i = bytes.count
                case .done(let consumed):
                    i += consumed
                    connections[index].reading = .head
                    completeResponse(index, status: connections[index].status, now: now)
                case .invalid:
                    countInFlightAs(.malformed, index)
                    return reconnect(index, resetting: true)
                }
            case .untilClose:
                return  // everything until the end of the stream is body
            }
            if connections[index].phase != .open || connections[index].fd < 0 { return }
        }
    }

    /// One response is complete: record it; the read that completed it sends what replaces it.
    func completeResponse(_ index: Int, status code: Int, now: Int64) {
        let base = index * depth * 2
        let slot = connections[index].ringHead
        let intended = ring[base + slot * 2]
        let actual = ring[base + slot * 2 + 1]
        connections[index].ringHead = (slot + 1) % depth
        connections[index].inFlight -= 1
        if intended >= plan.measureStart && actual >= plan.measureStart {
            stats.requests += 1
            stats.statuses[min(max(code, 0), 999)] += 1
            stats.record(corrected: now - intended, uncorrected: now - actual)
            stats.lastResponse = now
        }
        if connections[index].closeAfterResponse && connections[index].inFlight == 0 {
            // Wait for the server to close first, so that TIME_WAIT lands on its side; one that
            // does not is reset by the sweep after a grace period.
            connections[index].awaitingCloseSince = now
        }
    }

    /// Counts every request in flight on a failing connection as an error of `kind`.
    func countInFlightAs(_ kind: BenchErrorKind, _ index: Int) {
        let measuring = reactorNow() >= plan.measureStart
        guard measuring else { return }
        let n = max(connections[index].inFlight, 1)
        for _ in 0..<n { stats.count(kind) }
    }
}
