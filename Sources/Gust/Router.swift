@_spi(GustInternal) import GustHTTP1

/// Collects routes: a method and a path pattern per handler, inline or async, with middleware.
///
/// Patterns are split on `/`. A segment is literal text, `:name` (one segment, captured as
/// `name`), or a final `*` (the rest of the path, zero or more segments, captured as `*`).
/// Literal segments win over `:name`, which wins over `*`; matching backtracks when a more
/// specific branch dead-ends. Trailing slashes matter (`/a` and `/a/` are different routes).
/// A path that matches but has no handler for the method gets 405 with `Allow`; HEAD falls back
/// to the GET handler (the body is not sent).
///
/// Build the router before starting the server; the server compiles it into an immutable table
/// (middleware chains included).
///
///     let router = Router()
///     router.use(RequestIDMiddleware())
///     router.get("/plaintext") { _, res in res.send("Hello, World!") }     // inline
///     router.get("/users/:id") { req in .text(req.parameter("id") ?? "") } // async
///     let api = router.group("/api", middleware: [APIKey()])
public final class Router: RouteBuilder {
    /// A route as added: its handler in either tier, and the group it was added through.
    struct Route {
        enum Body {
            case inline(Handler)
            case async(AsyncHandler)
        }

        var method: HTTPMethod
        var pattern: String
        var options: RouteOptions
        var body: Body
        var group: RouteGroup?
    }

    var routes: [Route] = []
    var notFoundHandler: Handler?
    /// Middleware around every route (and around the 404 and 405 answers), outermost first.
    var middleware: [any Middleware] = []
    /// The JSON coder of `decode(as:)` and `Response.json` on this router's routes.
    public var jsonCoding: any JSONCoding = FoundationJSONCoding()

    /// The most `:name` and `*` captures one pattern may have.
    public static let maximumParameters = 8  // RouteMatch.capacity

    public init() {}

    /// Adds middleware around every route, after what is there (inside it).
    public func use(_ middleware: any Middleware...) { self.middleware += middleware }

    /// Routes under `prefix` with middleware of their own (inside the router's).
    public func group(_ prefix: String, middleware: [any Middleware] = []) -> RouteGroup {
        RouteGroup(router: self, parent: nil, prefix: prefix, middleware: middleware)
    }

    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, _ handler: @escaping Handler) {
        add(method, pattern, options, .inline(handler), group: nil)
    }

    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, _ handler: @escaping AsyncHandler) {
        add(method, pattern, options, .async(handler), group: nil)
    }

    func add(_ method: HTTPMethod, _ pattern: String, _ options: RouteOptions, _ body: Route.Body, group: RouteGroup?) {
        precondition(method != .other, "routes need a specific method")
        precondition(pattern.hasPrefix("/"), "route patterns start with /: \(pattern)")
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let captures = segments.filter { $0.hasPrefix(":") || $0 == "*" }.count
        precondition(captures <= Self.maximumParameters, "at most \(Self.maximumParameters) parameters: \(pattern)")
        for (i, s) in segments.enumerated() where s.contains("*") {
            precondition(s == "*" && i == segments.count - 1, "* must be a whole, final segment: \(pattern)")
        }
        routes.removeAll { $0.method == method && $0.pattern == pattern }
        routes.append(Route(method: method, pattern: pattern, options: options, body: body, group: group))
    }

    /// Answers requests no route matches (instead of the default 404).
    public func notFound(_ handler: @escaping Handler) { notFoundHandler = handler }

    /// The immutable, shareable table the reactors route with: every route's handler inside its
    /// middleware chain, an async handler behind the adapter that starts its task.
    @_spi(GustInternal) public func compile() -> RouteTable {
        let compiled = routes.map { route -> RouteTable.Entry in
            let chain = middleware + (route.group?.chain ?? [])
            var options = route.options
            for m in chain { m.configure(&options) }
            let handler: Handler
            switch route.body {
            case .inline(let inline):
                handler = MiddlewareChain.inline(chain, inline)
            case .async(let async):
                let composed = MiddlewareChain.async(chain, async)
                let deadline = options.deadline
                let streaming = options.body == .stream
                handler = { request, response in response.runAsync(request, composed, routeDeadline: deadline, streamingBody: streaming) }
            }
            return RouteTable.Entry(method: route.method, pattern: route.pattern, options: options, handler: handler)
        }
        let notFound = notFoundHandler
        let fallback = MiddlewareChain.inline(middleware) { request, response in
            switch request.match.pointee.outcome {
            case .methodNotAllowed(let node):
                response.header("Allow", request.routes.allowValues[node])
                response.send(.methodNotAllowed, "Method Not Allowed\n")
            case .notFound, .route, .overRate:
                if let notFound {
                    try notFound(request, &response)
                } else {
                    response.send(.notFound, "Not Found\n")
                }
            }
        }
        return RouteTable(routes: compiled, fallback: fallback, jsonCoding: jsonCoding)
    }
}
