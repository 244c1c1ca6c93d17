/// What a WebSocket route does with its connections: the inline tier, called on the
/// connection's reactor thread (never block in it; hand blocking work to `offload` or use an
/// async WebSocket route). One value serves every connection of the route, on every reactor.
///
/// `Context` is a value kept with each connection (a user, a room, a topic name): made by
/// `accept` from the upgrade request, read and replaced through `ws.context`. A connection
/// with a `Void` context pays nothing for it; any other costs one small allocation.
public protocol WebSocketHandler: Sendable {
    associatedtype Context = Void

    /// The upgrade request, before the `101` (the handshake itself is checked already): make
    /// the connection's context, or throw an `HTTPError` to refuse (401, 403, 404...).
    func accept(_ request: borrowing Request) throws -> Context
    /// The connection is open (after the `101` is written).
    func onOpen(_ ws: WebSocket<Context>)
    /// A whole message (fragments joined, text checked as UTF-8).
    func onMessage(_ ws: WebSocket<Context>, _ message: borrowing WebSocketMessage)
    /// The connection is over: `code` and `reason` from the client's close frame, or ours
    /// (1002/1007/1009 for protocol errors, 1001 at shutdown), or 1006 when TCP ended without
    /// one (a heartbeat timeout, a reset, a slow consumer cut off). Called once; sends are
    /// ignored from here on.
    func onClose(_ ws: WebSocket<Context>, code: CloseCode, reason: String)
}

extension WebSocketHandler {
    public func onOpen(_ ws: WebSocket<Context>) {}
    public func onClose(_ ws: WebSocket<Context>, code: CloseCode, reason: String) {}
}

extension WebSocketHandler where Context == Void {
    public func accept(_ request: borrowing Request) throws {}
}

/// A handler made of closures (`router.webSocket(path) { ws, message in ... }`).
public struct WebSocketCallbacks: WebSocketHandler {
    let open: (@Sendable (WebSocket<Void>) -> Void)?
    let message: @Sendable (WebSocket<Void>, borrowing WebSocketMessage) -> Void
    let close: (@Sendable (WebSocket<Void>, CloseCode, String) -> Void)?

    public init(
        onOpen: (@Sendable (WebSocket<Void>) -> Void)? = nil,
        onMessage: @escaping @Sendable (WebSocket<Void>, borrowing WebSocketMessage) -> Void,
        onClose: (@Sendable (WebSocket<Void>, CloseCode, String) -> Void)? = nil
    ) {
        open = onOpen
        message = onMessage
        close = onClose
    }

    public func onOpen(_ ws: WebSocket<Void>) { open?(ws) }
    public func onMessage(_ ws: WebSocket<Void>, _ message: borrowing WebSocketMessage) { self.message(ws, message) }
    public func onClose(_ ws: WebSocket<Void>, code: CloseCode, reason: String) { close?(ws, code, reason) }
}
