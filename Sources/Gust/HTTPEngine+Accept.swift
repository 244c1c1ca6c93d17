@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// Accepts up to 64 pending connections (the rest wait for the next loop iteration, so one
    /// flood cannot starve the connections already open).
    ///
    /// Out of descriptors (EMFILE, ENFILE) or out of slots, the engine stops accepting for
    /// 100 ms instead of spinning on a listener that stays readable; waiting clients stay in
    /// the kernel's backlog meanwhile.
    func acceptConnections() {
        guard !draining, let listener else { return }
        for _ in 0..<64 {
            let fd: Int32
            do {
                switch try listener.accept() {
                case .processed(let accepted): fd = accepted
                case .wouldBlock: return
                }
            } catch {
                if error.isResourceExhaustion {
                    pauseAccepting()
                    return
                }
                continue  // ECONNABORTED and the like: that client is gone, try the next
            }
            System.setNoDelay(fd)
            if case .full = adopt(fd) {
                pauseAccepting()
                return
            }
        }
    }

    enum Adoption { case adopted, full, failed }

    /// Makes the non-blocking connected socket `fd` one of this engine's connections (from
    /// `accept`, or handed over in process). The descriptor is closed if it cannot be.
    @discardableResult
    func adopt(_ fd: Int32) -> Adoption {
        guard let (id, c) = connections.insert(Connection(fd: fd, now: nowNanoseconds)) else {
            System.close(fd)
            counters.rejected += 1
            return .full
        }
        do {
            try reactor.register(fd, interest: .readable, token: id.packed)
        } catch {
            System.close(fd)
            connections.remove(id)
            return .failed
        }
        counters.accepted += 1
        // The first request's head is due within the header timeout.
        apply(c.pointee.machine.timerChange(rules), id, c)
        return .adopted
    }

    func pauseAccepting() {
        guard !acceptPaused, let listener else { return }
        acceptPaused = true
        try? reactor.modify(listener.fd, interest: [], token: Self.listenerToken)
        reactor.schedule(after: .milliseconds(100)) { [unowned self] in
            acceptPaused = false
            guard !draining else { return }
            try? reactor.modify(listener.fd, interest: .readable, token: Self.listenerToken)
        }
    }
}
