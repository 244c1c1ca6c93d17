@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// A protocol a connection switches to after `101 Switching Protocols` (WebSocket, ...), spoken
/// on the reactor that served the upgrade request. The engine gives it the connection's
/// descriptor and the bytes the client sent after its request, then forwards the descriptor's
/// readiness to it. A handler typically serves many connections (one per reactor is the model:
/// shared-nothing, like the HTTP engine).
///
/// Threading: every call arrives on the reactor thread of the connection.
package protocol UpgradeHandler: AnyObject {
    /// The connection is this handler's now: `connection.fd` is watched for reading under
    /// `connection.token`; `unread` holds the bytes that followed the upgrade request (valid
    /// during the call only).
    func takeOver(_ connection: UpgradedConnection, unread: UnsafeRawBufferPointer)
    /// The descriptor is ready (`events` as epoll reports them).
    func ready(_ connection: UpgradedConnection, events: Events)
}

/// A descriptor handed off after an upgrade: what the new protocol needs to drive it on its
/// reactor. `close()` releases it (the engine closes whatever is left when the reactor stops).
///
/// Threading: its reactor's thread only.
package final class UpgradedConnection {
    package let fd: Int32
    package let token: UInt64
    package let handler: any UpgradeHandler
    unowned let engine: HTTPEngine
    package private(set) var isClosed = false

    init(fd: Int32, token: UInt64, handler: any UpgradeHandler, engine: HTTPEngine) {
        self.fd = fd
        self.token = token
        self.handler = handler
        self.engine = engine
    }

    /// The reactor the connection lives on (for timers).
    package var reactor: Reactor { engine.reactor }

    /// Changes what the descriptor is watched for; false if it could not be (the connection is
    /// then best closed).
    @discardableResult
    package func watch(_ interest: Events) -> Bool {
        guard !isClosed else { return false }
        do {
            try engine.reactor.modify(fd, interest: interest, token: token)
            return true
        } catch {
            return false
        }
    }

    /// Closes the descriptor and forgets the connection (its place under `maxConnections` is
    /// free again). Closing twice is harmless.
    package func close() {
        guard !isClosed else { return }
        isClosed = true
        engine.handoffs.removeValue(forKey: token)
        System.close(fd)
        engine.connectionSlotFreed()
    }
}

extension HTTPEngine {
    /// Hands connection `id` to the protocol its handler upgraded it to, once its `101` is out:
    /// the record goes (timer, leases), the descriptor stays open, re-registered under a token
    /// of the hand-off's own, and the new protocol takes it with the bytes not read as HTTP.
    func handOff(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, unread: UnsafeRawBufferPointer, mark: Int) {
        guard emit(id, c, from: mark) else { return }
        if c.pointee.output != nil || c.pointee.file != nil {
            // The 101 is not all out yet: keep the unread bytes until it is (`outputDrained`).
            if !unread.isEmpty {
                let lease = c.pointee.input ?? takeInputLease(capacity: unread.count)
                c.pointee.input = lease
                lease.pointee.buffer.append(unread)
            }
            return settle(id, c)
        }
        guard let handler = pendingUpgrades.removeValue(forKey: id.packed) else { return close(id) }
        var bytes: [UInt8] = []
        if let lease = c.pointee.input { bytes.append(contentsOf: lease.pointee.buffer.unsafeReadable) }
        bytes.append(contentsOf: unread)
        guard let (fd, _) = removeRecord(id, keepPlace: true) else { return }
        counters.upgraded += 1
        if let upgrade = handler as? WebSocketUpgrade {
            return webSockets.adopt(fd: fd, upgrade: upgrade, unread: &bytes)  // application code, last
        }
        // Generic hand-offs' tokens have a zero generation field (WebSocket slots never do).
        let token = Self.handoffBit | (nextHandoffToken & 0xffff_ffff)
        nextHandoffToken &+= 1
        do {
            try reactor.modify(fd, interest: .readable, token: token)
        } catch {
            counters.closed += 1
            connectionSlotFreed()
            return System.close(fd)
        }
        let connection = UpgradedConnection(fd: fd, token: token, handler: handler, engine: self)
        handoffs[token] = connection
        bytes.withUnsafeBytes { handler.takeOver(connection, unread: $0) }  // application code, last
    }

    /// Readiness of a descriptor handed off: to its protocol.
    func handoffReady(_ token: UInt64, _ events: Events) {
        if token & 0x7fff_ffff_0000_0000 != 0 { return webSocketsIfAny?.ready(token, events) ?? () }
        guard let connection = handoffs[token] else { return }
        connection.handler.ready(connection, events: events)
    }

    /// The reactor stops: descriptors handed off and still open are closed.
    func closeHandoffs() {
        for connection in Array(handoffs.values) { connection.close() }
    }
}
