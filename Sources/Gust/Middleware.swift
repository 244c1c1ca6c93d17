/// Code around handlers: it sees the request first, may answer itself (`next` is then not
/// called), and sees or changes the answer afterwards. An ordered chain: the router's
/// middleware (`Router.use`) outermost, then each enclosing group's, then the handler.
///
/// Both tiers go through the same middleware: inline routes through `handle(_:_:next:)`, async
/// routes through `handle(_:next:)`. A middleware implements both (an authentication check
/// that guarded only one tier would leave the other open).
///
///     struct APIKey: Middleware {
///         func handle(_ req: borrowing Request, _ res: inout ResponseWriter, next: InlineNext) throws {
///             guard req.header("X-API-Key") == "secret" else { throw HTTPError(.unauthorized) }
///             try next(req, &res)
///         }
///         func handle(_ req: AsyncRequest, next: AsyncNext) async throws -> Response {
///             guard req.header("X-API-Key") == "secret" else { throw HTTPError(.unauthorized) }
///             return try await next(req)
///         }
///     }
///
/// Cost: chains are composed once, when the server starts; a route with no middleware calls its
/// handler directly (it pays nothing). Each middleware is one closure call per request.
/// Threading: called on reactor threads, concurrently: middleware must be `Sendable`.
public protocol Middleware: Sendable {
    /// The inline tier: call `next` to run the rest of the chain (before answering; headers
    /// added before it go on the response), or answer with `response` instead.
    func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws

    /// The async tier: return `next`'s response (changed or not), or answer instead.
    func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response

    /// Adjusts the options of each route it applies to, once, as the server starts (e.g. a
    /// deadline). Default: nothing.
    func configure(_ options: inout RouteOptions)
}

extension Middleware {
    public func configure(_ options: inout RouteOptions) {}
}

/// The rest of an inline chain.
public typealias InlineNext = (borrowing Request, inout ResponseWriter) throws -> Void
/// The rest of an async chain.
public typealias AsyncNext = (AsyncRequest) async throws -> Response

enum MiddlewareChain {
    /// `handler` inside `middleware` (outermost first). No middleware: `handler` itself.
    static func inline(_ middleware: [any Middleware], _ handler: @escaping Handler) -> Handler {
        var next = handler
        for m in middleware.reversed() {
            let inner = next
            next = { request, response in try m.handle(request, &response, next: inner) }
        }
        return next
    }

    static func async(_ middleware: [any Middleware], _ handler: @escaping AsyncHandler) -> AsyncHandler {
        var next = handler
        for m in middleware.reversed() {
            let inner = next
            next = { request in try await m.handle(request, next: inner) }
        }
        return next
    }
}
