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
        guard !draining else { return }
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
            guard let (id, c) = connections.insert(Connection(fd: fd, now: nowNanoseconds)) else {
                System.close(fd)
                counters.rejected += 1
                pauseAccepting()
                return
            }
            do {
                try reactor.register(fd, interest: .readable, token: id.packed)
            } catch {
                System.close(fd)
                connections.remove(id)
                continue
            }
            counters.accepted += 1
            // The first request's head is due within the header timeout.
            apply(c.pointee.machine.timerChange(rules), id, c)
        }
    }

    func pauseAccepting() {
        guard !acceptPaused else { return }
        acceptPaused = true
        try? reactor.modify(listener.fd, interest: [], token: Self.listenerToken)
        reactor.schedule(after: .milliseconds(100)) { [unowned self] in
            acceptPaused = false
            guard !draining else { return }
            try? reactor.modify(listener.fd, interest: .readable, token: Self.listenerToken)
        }
    }
}
