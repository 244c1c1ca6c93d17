@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// A WebSocket route, its handler's type erased: what the engine calls. One per route, shared
/// by every reactor (immutable).
class AnyWebSocketRoute: @unchecked Sendable {
    let options: WebSocketOptions
    let limits: MessageLimits
    let heartbeat: HeartbeatRules

    init(options: WebSocketOptions) {
        self.options = options
        limits = options.limits
        heartbeat = options.heartbeat
    }

    /// Makes the connection's context from the upgrade request (boxed; nil for none).
    func accept(_ request: borrowing Request) throws -> AnyObject? { nil }
    func open(_ engine: WebSocketEngine, _ id: SlotID) {}
    func message(_ engine: WebSocketEngine, _ id: SlotID, _ message: borrowing WebSocketMessage) {}
    func close(_ engine: WebSocketEngine, _ id: SlotID, _ code: CloseCode, _ reason: String) {}
}

/// Holds a connection's context value.
final class ContextBox<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

final class WebSocketRoute<H: WebSocketHandler>: AnyWebSocketRoute, @unchecked Sendable {
    let handler: H

    init(handler: H, options: WebSocketOptions) {
        self.handler = handler
        super.init(options: options)
    }

    override func accept(_ request: borrowing Request) throws -> AnyObject? {
        let context = try handler.accept(request)
        return H.Context.self == Void.self ? nil : ContextBox(context)
    }

    override func open(_ engine: WebSocketEngine, _ id: SlotID) {
        handler.onOpen(WebSocket(engine: engine, id: id))
    }

    override func message(_ engine: WebSocketEngine, _ id: SlotID, _ message: borrowing WebSocketMessage) {
        handler.onMessage(WebSocket(engine: engine, id: id), message)
    }

    override func close(_ engine: WebSocketEngine, _ id: SlotID, _ code: CloseCode, _ reason: String) {
        handler.onClose(WebSocket(engine: engine, id: id), code: code, reason: reason)
    }
}

/// What a handshake leaves for the hand-off: the route and the connection's context.
final class WebSocketUpgrade: UpgradeHandler {
    let route: AnyWebSocketRoute
    let context: AnyObject?

    init(route: AnyWebSocketRoute, context: AnyObject?) {
        self.route = route
        self.context = context
    }

    // The engine adopts WebSocket connections itself (`HTTPEngine.handOff`); these are not used.
    func takeOver(_ connection: UpgradedConnection, unread: UnsafeRawBufferPointer) { connection.close() }
    func ready(_ connection: UpgradedConnection, events: Events) { connection.close() }
}

extension AnyWebSocketRoute {
    /// The route's HTTP handler: checks the opening handshake (RFC 6455 §4.2.1), the origin,
    /// and the application's `accept`, then answers `101` with `Sec-WebSocket-Accept` (and the
    /// agreed subprotocol). Refusals: 426 (not a WebSocket request, or not version 13, with
    /// the headers that say what is spoken), 400 (a bad key, or a body), 403 (origin), or the
    /// application's `HTTPError`. Reactor thread, inline.
    func handshake(_ req: borrowing Request, _ res: inout ResponseWriter) throws {
        // §4.1: the method is GET (a GET route answers HEAD too: that is no handshake).
        let check =
            req.method != .get
            ? .failure(.notWebSocket)
            : WebSocketHandshake.check(
                upgrade: req.headers(named: "Upgrade"), connection: req.headers(named: "Connection"),
                version: req.headers(named: "Sec-WebSocket-Version"), key: req.headers(named: "Sec-WebSocket-Key"))
        let key: String
        switch check {
        case .success(let k):
            key = k
        case .failure(let failure):
            switch failure {
            case .notWebSocket:
                res.header("Upgrade", "websocket")
                res.header("Connection", "Upgrade")
            case .unsupportedVersion:
                res.header("Sec-WebSocket-Version", WebSocketHandshake.version)
            case .badKey:
                break
            }
            return res.send(failure.status == 426 ? .upgradeRequired : .badRequest, failure.message)
        }
        // §4.1: an HTTP/1.1 request (there is no 101 for HTTP/1.0: `upgrade` requires 1.1).
        guard req.version == .http1_1 else {
            return res.send(.badRequest, "a WebSocket handshake needs HTTP/1.1\n")
        }
        guard req.header("Content-Length").map({ $0 == "0" }) ?? true, req.header("Transfer-Encoding") == nil else {
            return res.send(.badRequest, "an upgrade request has no body\n")
        }
        if let allow = options.allowOrigin, !allow(req.header("Origin")) {
            return res.send(.forbidden, "origin not allowed\n")
        }
        let context = try accept(req)
        res.header("Sec-WebSocket-Accept", WebSocketHandshake.accept(key: key))
        if let chosen = WebSocketHandshake.selectSubprotocol(
            offered: req.headers(named: "Sec-WebSocket-Protocol"), supported: options.subprotocols)
        {
            res.header("Sec-WebSocket-Protocol", chosen)
        }
        res.upgrade(to: "websocket", handler: WebSocketUpgrade(route: self, context: context))
    }
}

extension RouteBuilder {
    /// A WebSocket endpoint at `pattern` (a GET route): the handshake, then `handler`'s
    /// callbacks on the connection's reactor thread.
    public func webSocket<H: WebSocketHandler>(_ pattern: String, options: WebSocketOptions = WebSocketOptions(), handler: H) {
        let route = WebSocketRoute(handler: handler, options: options)
        get(pattern) { req, res in try route.handshake(req, &res) }
    }

    /// A WebSocket endpoint whose messages go to `onMessage` (inline tier: the reactor thread).
    public func webSocket(
        _ pattern: String, options: WebSocketOptions = WebSocketOptions(),
        onOpen: (@Sendable (WebSocket<Void>) -> Void)? = nil,
        onClose: (@Sendable (WebSocket<Void>, CloseCode, String) -> Void)? = nil,
        onMessage: @escaping @Sendable (WebSocket<Void>, borrowing WebSocketMessage) -> Void
    ) {
        webSocket(pattern, options: options, handler: WebSocketCallbacks(onOpen: onOpen, onMessage: onMessage, onClose: onClose))
    }
}
