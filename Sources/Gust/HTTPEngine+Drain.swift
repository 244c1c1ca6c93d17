@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// Drain mode for this reactor (shutdown, reload): it stops accepting, closes idle
    /// keep-alive connections at once, and every other connection closes after the exchange
    /// under way, whose answer says `Connection: close` (a streamed response already under way
    /// ends, then the connection closes). Requests that arrive on a draining connection after
    /// its current one are not served. Reactor thread; idempotent.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        if let listener { reactor.deregister(listener.fd) }
        connections.forEachID { id in drain(id) }
    }

    /// Drain mode for one connection.
    func drain(_ id: SlotID) {
        guard let c = connections.pointer(to: id) else { return }
        let buffered = c.pointee.input.map { !$0.pointee.buffer.isEmpty } ?? false
        switch c.pointee.machine.drain(requestsBuffered: buffered) {
        case .closeNow:
            close(id)
        case .closeAfterExchange:
            dropUnservedInput(c)  // a turn's requests that will not be served now
            releaseInputIfDone(c)
            settle(id, c)
        }
    }
}
