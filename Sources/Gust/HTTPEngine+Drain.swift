@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// Drain mode for this reactor (shutdown, reload): it stops accepting, closes idle
    /// keep-alive connections at once, and every other connection closes after the exchange
    /// under way, whose answer says `Connection: close` (a streamed response already under way
    /// ends, then the connection closes). Requests that arrive on a draining connection after
    /// its current one are not served. Reactor thread; idempotent.
    ///
    /// `idleGrace`: a lame duck's (a reload's): keep-alive connections between requests close
    /// once idle that long, or after their next request, whichever comes first, so that a
    /// client about to reuse one is answered instead of meeting a close it must retry.
    func beginDrain(idleGrace: Duration = .zero) {
        guard !draining else { return }
        draining = true
        for listener in listeners { reactor.deregister(listener.fd) }
        let grace = idleGrace.nanoseconds
        connections.forEachID { id in drain(id, idleGrace: grace) }
        webSocketsIfAny?.drain()
    }

    /// Drain mode for one connection.
    func drain(_ id: SlotID, idleGrace: Int64) {
        guard let c = connections.pointer(to: id) else { return }
        let buffered = c.pointee.input.map { !$0.pointee.buffer.isEmpty } ?? false
        switch c.pointee.machine.drain(requestsBuffered: buffered, idleGrace: idleGrace, now: nowNanoseconds) {
        case .closeNow:
            close(id)
        case .closeWhenIdle(let change):
            apply(change, id, c)
        case .closeAfterExchange:
            dropUnservedInput(c)  // a turn's requests that will not be served now
            releaseInputIfDone(c)
            settle(id, c)
        }
    }
}
