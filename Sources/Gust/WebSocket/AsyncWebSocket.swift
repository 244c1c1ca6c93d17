@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Logging
import Synchronization

/// A WebSocket connection as an async handler sees it: its messages as an `AsyncSequence`
/// (ending when the connection closes), and sending, closing, topics. The handler's task
/// runs on the connection's reactor (its executor), so awaiting between messages costs no
/// thread hop; it may await anything before replying. When it returns, the connection is
/// closed (1000; 1011 if it threw); when the connection closes, the task is cancelled.
///
/// Flow: received messages wait in a queue of up to 64 (or 1 MiB); past that the connection
/// is not read until the handler catches up.
///
/// Threading: `Sendable`; any thread or task. Cost: each message is copied out of the read
/// buffer; each send is a job on the reactor's queue.
public struct AsyncWebSocket: Sendable {
    let handle: WebSocketHandle
    let bridge: AsyncWebSocketBridge
    let hub: WebSocketHub
    /// The upgrade request.
    public let request: WebSocketRequest

    /// The messages, in order, until the connection closes (the sequence then ends).
    public var messages: WebSocketMessages { WebSocketMessages(bridge: bridge) }

    public func send(_ text: String) { handle.send(.text(text)) }
    public func send(binary: [UInt8]) { handle.send(.binary(binary)) }
    public func send(_ data: WebSocketData) { handle.send(data) }

    /// Starts the close handshake (see `WebSocket.close`).
    public func close(_ code: CloseCode = .normalClosure, reason: String = "") { handle.close(code, reason: reason) }

    public func subscribe(_ topic: String) {
        let id = handle.id
        handle.reactor.execute { reactor in (reactor.delegate as? HTTPEngine)?.webSocketsIfAny?.subscribe(id, topic) }
    }

    public func unsubscribe(_ topic: String) {
        let id = handle.id
        handle.reactor.execute { reactor in (reactor.delegate as? HTTPEngine)?.webSocketsIfAny?.unsubscribe(id, topic) }
    }

    public func publish(_ topic: String, _ data: WebSocketData) { hub.publish(topic, data) }
    public func publish(_ topic: String, _ text: String) { hub.publish(topic, .text(text)) }

    /// The close code and reason, once the connection has closed (nil before).
    public var closeStatus: (code: CloseCode, reason: String)? { bridge.state.withLock { $0.closed } }
}

/// The messages of an `AsyncWebSocket`.
public struct WebSocketMessages: AsyncSequence, Sendable {
    public typealias Element = WebSocketData
    let bridge: AsyncWebSocketBridge

    public struct AsyncIterator: AsyncIteratorProtocol {
        let bridge: AsyncWebSocketBridge
        public mutating func next() async -> WebSocketData? { await bridge.next() }
        public mutating func next(isolation actor: isolated (any Actor)?) async -> WebSocketData? { await bridge.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bridge: bridge) }
}

/// Between a connection's reactor (which delivers messages and the close) and its handler's
/// task (which takes them). A connection's context in the async tier.
///
/// Threading: any; its state is behind a lock (the task usually runs on the reactor, but a
/// handler may iterate from elsewhere).
final class AsyncWebSocketBridge: Sendable {
    struct State {
        var queue: [WebSocketData] = []
        var head = 0
        var queuedBytes = 0
        /// Tasks waiting for the next message, first come first served (usually one: a
        /// handler may iterate from several tasks).
        var waiters: [CheckedContinuation<WebSocketData?, Never>] = []
        var closed: (code: CloseCode, reason: String)?
        var paused = false
        var task: Task<Void, Never>?
        /// The connection, to ask its reactor to read again after a pause.
        var connection: WebSocketHandle?
    }

    let state = Mutex(State())
    let request: WebSocketRequest
    static let pauseCount = 64
    static let pauseBytes = 1 << 20

    init(request: WebSocketRequest) { self.request = request }

    /// A message arrived (reactor thread). Returns true when the connection should stop being
    /// read until the handler catches up.
    func deliver(_ data: WebSocketData) -> Bool {
        let size: Int
        switch data {
        case .text(let s): size = s.utf8.count
        case .binary(let b): size = b.count
        }
        let (waiter, pause) = state.withLock { s -> (CheckedContinuation<WebSocketData?, Never>?, Bool) in
            if !s.waiters.isEmpty { return (s.waiters.removeFirst(), false) }
            s.queue.append(data)
            s.queuedBytes += size
            let pause = s.queue.count - s.head >= Self.pauseCount || s.queuedBytes >= Self.pauseBytes
            if pause { s.paused = true }
            return (nil, pause)
        }
        waiter?.resume(returning: data)
        return pause
    }

    /// The connection closed (reactor thread): the sequence ends, the task is cancelled.
    func finish(code: CloseCode, reason: String) {
        let (waiters, task) = state.withLock { s -> ([CheckedContinuation<WebSocketData?, Never>], Task<Void, Never>?) in
            s.closed = (code, reason)
            defer { s.waiters = [] }
            return (s.waiters, s.task)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        task?.cancel()
    }

    /// The next message; nil once closed (messages queued before the close come first).
    func next() async -> WebSocketData? {
        await withCheckedContinuation { (c: CheckedContinuation<WebSocketData?, Never>) in
            let (ready, resume) = state.withLock { s -> (WebSocketData??, WebSocketHandle?) in
                if s.head < s.queue.count {
                    let data = s.queue[s.head]
                    s.head += 1
                    switch data {
                    case .text(let t): s.queuedBytes -= t.utf8.count
                    case .binary(let b): s.queuedBytes -= b.count
                    }
                    if s.head == s.queue.count {
                        s.queue.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    let resume = s.paused && s.queue.count - s.head <= Self.pauseCount / 2 && s.queuedBytes <= Self.pauseBytes / 2
                    if resume { s.paused = false }
                    return (.some(data), resume ? s.connection : nil)
                }
                if s.closed != nil { return (.some(nil), nil) }
                s.waiters.append(c)
                return (nil, nil)
            }
            if let resume {
                let id = resume.id
                resume.reactor.execute { reactor in (reactor.delegate as? HTTPEngine)?.webSocketsIfAny?.resumeReading(id) }
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}

/// An async WebSocket route: the handler runs as a task per connection.
final class AsyncWebSocketRoute: AnyWebSocketRoute, @unchecked Sendable {
    typealias Body = @Sendable (AsyncWebSocket) async throws -> Void
    let body: Body

    init(options: WebSocketOptions, body: @escaping Body) {
        self.body = body
        super.init(options: options)
    }

    override func accept(_ request: borrowing Request) throws -> AnyObject? {
        AsyncWebSocketBridge(request: WebSocketRequest(copying: request))
    }

    override func open(_ engine: WebSocketEngine, _ id: SlotID) {
        guard let bridge = engine.context(of: id) as? AsyncWebSocketBridge else { return }
        let handle = WebSocketHandle(reactor: engine.http.handle, id: id)
        let ws = AsyncWebSocket(handle: handle, bridge: bridge, hub: engine.hub, request: bridge.request)
        let body = self.body
        let logger = engine.http.logger
        let task = Task(executorPreference: engine.http.handle.executor) {
            do {
                try await body(ws)
                ws.close()
            } catch {
                if !(error is CancellationError) {
                    logger.error("WebSocket handler failed", metadata: ["path": "\(ws.request.path)", "error": "\(error)"])
                }
                ws.close(.internalError)
            }
        }
        let closedAlready = bridge.state.withLock { s -> Bool in
            s.task = task
            s.connection = handle
            return s.closed != nil
        }
        if closedAlready { task.cancel() }
    }

    override func message(_ engine: WebSocketEngine, _ id: SlotID, _ message: borrowing WebSocketMessage) {
        guard let bridge = engine.context(of: id) as? AsyncWebSocketBridge else { return }
        if bridge.deliver(message.data) { engine.pauseReading(id) }
    }

    override func close(_ engine: WebSocketEngine, _ id: SlotID, _ code: CloseCode, _ reason: String) {
        (engine.context(of: id) as? AsyncWebSocketBridge)?.finish(code: code, reason: reason)
    }
}

extension RouteBuilder {
    /// An async WebSocket endpoint: `body` runs as a task for each connection, on its reactor,
    /// with the connection's messages and the upgrade request. The connection closes when it
    /// returns.
    public func webSocket(
        _ pattern: String, options: WebSocketOptions = WebSocketOptions(), _ body: @escaping @Sendable (AsyncWebSocket) async throws -> Void
    ) {
        let route = AsyncWebSocketRoute(options: options, body: body)
        get(pattern) { req, res in try route.handshake(req, &res) }
    }
}
