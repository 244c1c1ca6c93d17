@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// Accepts up to 64 pending connections (the rest wait for the next loop iteration, so one
    /// flood cannot starve the connections already open), within the admission limits
    /// (`HTTPEngine+Admission`: past them, accepting pauses and clients wait in the backlog).
    ///
    /// Out of descriptors (EMFILE, ENFILE) or out of slots, the engine stops accepting for
    /// 100 ms instead of spinning on a listener that stays readable; waiting clients stay in
    /// the kernel's backlog meanwhile.
    func acceptConnections(from listener: Listener) {
        guard !draining else { return }
        for _ in 0..<64 {
            guard mayAccept() else { return }
            let fd: Int32
            var client = ClientKey.local
            do {
                let result = clientKeys == nil ? try listener.accept() : try System.accept(listener.fd, peer: &client)
                switch result {
                case .processed(let accepted): fd = accepted
                case .wouldBlock:
                    placeUnused()
                    return
                }
            } catch {
                placeUnused()
                if error.isResourceExhaustion {
                    pauseAccepting()
                    return
                }
                continue  // ECONNABORTED and the like: that client is gone, try the next
            }
            System.setNoDelay(fd)
            if case .full = adopt(fd, client: client, counted: true) {
                pauseAccepting()
                return
            }
        }
    }

    enum Adoption { case adopted, full, failed }

    /// Makes the non-blocking connected socket `fd` one of this engine's connections (from
    /// `accept`, or handed over in process). The descriptor is closed if it cannot be.
    /// `counted`: its place under `maxConnections` is already taken (`mayAccept`); otherwise
    /// it is counted here. Either way it is given back when the record goes.
    @discardableResult
    func adopt(_ fd: Int32, client: ClientKey = .local, counted: Bool = false) -> Adoption {
        if !counted { admission.limit?.takeAnyway() }
        guard let (id, c) = connections.insert(Connection(fd: fd, now: nowNanoseconds)) else {
            System.close(fd)
            counters.rejected += 1
            placeUnused()
            return .full
        }
        do {
            try reactor.register(fd, interest: .readable, token: id.packed)
        } catch {
            System.close(fd)
            connections.remove(id)
            placeUnused()
            return .failed
        }
        clientKeys?[Int(id.index)] = client
        counters.accepted += 1
        // The first request's head is due within the header timeout.
        apply(c.pointee.machine.timerChange(rules), id, c)
        return .adopted
    }
}
