@_spi(GustInternal) import GustHTTP1

/// Collects routes: a method and a path pattern per handler.
///
/// Patterns are split on `/`. A segment is literal text, `:name` (one segment, captured as
/// `name`), or a final `*` (the rest of the path, zero or more segments, captured as `*`).
/// Literal segments win over `:name`, which wins over `*`; matching backtracks when a more
/// specific branch dead-ends. Trailing slashes matter (`/a` and `/a/` are different routes).
/// A path that matches but has no handler for the method gets 405 with `Allow`; HEAD falls back
/// to the GET handler (the body is not sent).
///
/// Build the router before starting the server; the server compiles it into an immutable table.
///
///     let router = Router()
///     router.get("/plaintext") { _, res in res.send("Hello, World!") }
///     router.get("/users/:id") { req, res in res.send(req.parameter("id") ?? "") }
public final class Router {
    struct Route {
        var method: HTTPMethod
        var pattern: String
        var options: RouteOptions
        var handler: Handler
    }

    var routes: [Route] = []
    var notFoundHandler: Handler?
    /// The JSON coder of `decode(as:)` and `Response.json` on this router's routes.
    public var jsonCoding: any JSONCoding = FoundationJSONCoding()

    /// The most `:name` and `*` captures one pattern may have.
    public static let maximumParameters = 8  // RouteMatch.capacity

    public init() {}

    /// Adds a route. Re-adding the same method and pattern replaces the earlier handler.
    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        precondition(method != .other, "routes need a specific method")
        precondition(pattern.hasPrefix("/"), "route patterns start with /: \(pattern)")
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let captures = segments.filter { $0.hasPrefix(":") || $0 == "*" }.count
        precondition(captures <= Self.maximumParameters, "at most \(Self.maximumParameters) parameters: \(pattern)")
        for (i, s) in segments.enumerated() where s.contains("*") {
            precondition(s == "*" && i == segments.count - 1, "* must be a whole, final segment: \(pattern)")
        }
        routes.removeAll { $0.method == method && $0.pattern == pattern }
        routes.append(Route(method: method, pattern: pattern, options: options, handler: handler))
    }

    public func get(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.get, pattern, options: options, handler)
    }
    public func head(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.head, pattern, options: options, handler)
    }
    public func post(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.post, pattern, options: options, handler)
    }
    public func put(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.put, pattern, options: options, handler)
    }
    public func delete(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.delete, pattern, options: options, handler)
    }
    public func patch(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.patch, pattern, options: options, handler)
    }
    public func options(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping Handler) {
        on(.options, pattern, options: options, handler)
    }

    /// Answers requests no route matches (instead of the default 404).
    public func notFound(_ handler: @escaping Handler) { notFoundHandler = handler }

    /// The immutable, shareable table the reactors route with.
    @_spi(GustInternal) public func compile() -> RouteTable { RouteTable(routes: routes, notFound: notFoundHandler, jsonCoding: jsonCoding) }
}
