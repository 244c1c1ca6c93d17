@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

/// A WebSocket connection, as its handler's callbacks see it: send, close, subscribe,
/// publish, and its context. Usable on the connection's reactor thread (in callbacks, or later
/// on that thread); once the connection is gone every call is a harmless no-op. From other
/// threads or tasks use `handle`.
///
/// What a callback sends is framed into the connection's output at once and written when the
/// callback returns, with everything else the same read produced (one `write`).
///
/// Threading: not `Sendable`; the reactor's thread. Cost: a slab lookup per call.
public struct WebSocket<Context> {
    unowned let engine: WebSocketEngine
    let id: SlotID
    /// The connection's context box, kept here so that a `WebSocket` stored past its
    /// connection's close still reads (and writes, harmlessly) its last value.
    let box: AnyObject?

    init(engine: WebSocketEngine, id: SlotID) {
        self.engine = engine
        self.id = id
        box = Context.self == Void.self ? nil : engine.context(of: id)
    }

    /// Whether the connection is open (no close frame sent or received yet).
    public var isOpen: Bool { engine.isOpen(id) }

    /// Sends a text message.
    public func send(_ text: String) {
        var text = text
        text.withUTF8 { engine.send(id, .text, UnsafeRawBufferPointer($0)) }
    }

    /// Sends a binary message.
    public func send(binary bytes: [UInt8]) {
        bytes.withUnsafeBytes { engine.send(id, .binary, $0) }
    }

    /// Sends a binary message from bytes valid for the call.
    public func send(unsafeBinary bytes: UnsafeRawBufferPointer) { engine.send(id, .binary, bytes) }

    /// Sends a message as it arrived (text stays text): an echo costs one copy into the output.
    public func send(_ message: borrowing WebSocketMessage) {
        engine.send(id, message.kind == .text ? .text : .binary, message.payload)
    }

    public func send(_ data: WebSocketData) {
        data.withPayload { engine.send(id, data.opcode, $0) }
    }

    /// Starts the close handshake (RFC 6455 §7.1.2): a close frame with `code` and `reason`
    /// (cut to fit 123 bytes), then TCP closes when the client answers, or after
    /// `closeTimeout`. Messages that arrive meanwhile are dropped. Closing twice is harmless.
    public func close(_ code: CloseCode = .normalClosure, reason: String = "") {
        engine.close(id, code: code, reason: reason)
    }

    /// The value `accept` made for this connection (after it closed: its last value).
    public var context: Context {
        get {
            if Context.self == Void.self { return () as! Context }
            guard let box else { preconditionFailure("the connection was gone before its callback") }
            return unsafeDowncast(box, to: ContextBox<Context>.self).value
        }
        nonmutating set {
            if Context.self == Void.self { return }
            guard let box else { return }
            unsafeDowncast(box, to: ContextBox<Context>.self).value = newValue
        }
    }

    /// Subscribes to `topic` (named by any string): messages published to it are sent to
    /// this connection, until it unsubscribes or closes.
    public func subscribe(_ topic: String) { engine.subscribe(id, topic) }

    public func unsubscribe(_ topic: String) { engine.unsubscribe(id, topic) }

    /// The topics it is subscribed to.
    public var topics: [String] { engine.topics(of: id) }

    /// Publishes a text message to every subscriber of `topic` in this process (this
    /// connection too, if subscribed): framed once, written to each after this callback.
    public func publish(_ topic: String, _ text: String) { engine.hub.publish(topic, .text(text)) }

    /// Publishes a message as it arrived.
    public func publish(_ topic: String, _ message: borrowing WebSocketMessage) {
        engine.hub.publish(topic, opcode: message.kind == .text ? .text : .binary, payload: message.payload)
    }

    /// For sending to this connection from other threads and tasks.
    public var handle: WebSocketHandle { WebSocketHandle(reactor: engine.http.handle, id: id) }

    /// Publishes from anywhere (other threads, tasks, other connections' callbacks).
    public var publisher: WebSocketPublisher { WebSocketPublisher(hub: engine.hub) }
}

/// A connection as other threads and tasks see it: what they ask goes through its reactor's
/// job queue, in order, and is a no-op if the connection has closed meanwhile.
///
/// Threading: `Sendable`, any thread. Cost: a job on the reactor's queue per call.
public struct WebSocketHandle: Sendable, Hashable {
    let reactor: ReactorHandle
    let id: SlotID

    public static func == (a: Self, b: Self) -> Bool { a.reactor === b.reactor && a.id == b.id }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(reactor))
        hasher.combine(id)
    }

    /// Sends `data`; false if the server has stopped (not whether it arrived: that only the
    /// client can say).
    @discardableResult
    public func send(_ data: WebSocketData) -> Bool {
        let id = self.id
        return reactor.execute { reactor in
            guard let engine = (reactor.delegate as? HTTPEngine)?.webSocketsIfAny else { return }
            data.withPayload { engine.send(id, data.opcode, $0) }
            engine.flushQueued()
        }
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(.text(text)) }

    @discardableResult
    public func close(_ code: CloseCode = .normalClosure, reason: String = "") -> Bool {
        let id = self.id
        return reactor.execute { reactor in
            guard let engine = (reactor.delegate as? HTTPEngine)?.webSocketsIfAny else { return }
            engine.close(id, code: code, reason: reason)
            engine.flushQueued()
        }
    }
}
