/// Something routes are added to: the `Router`, or a `RouteGroup` of it. Each method has an
/// inline form (`{ req, res in ... }`) and an async one (`{ req in ... }`).
public protocol RouteBuilder: AnyObject {
    /// Adds an inline route. Re-adding the same method and pattern replaces the earlier route.
    func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, _ handler: @escaping Handler)
    /// Adds an async route. Re-adding the same method and pattern replaces the earlier route.
    func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, _ handler: @escaping AsyncHandler)
}

extension RouteBuilder {
    public func on(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping Handler) {
        on(method, pattern, options: RouteOptions(), handler)
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

    public func on(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping AsyncHandler) {
        on(method, pattern, options: RouteOptions(), handler)
    }
    public func get(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.get, pattern, options: options, handler)
    }
    public func head(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.head, pattern, options: options, handler)
    }
    public func post(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.post, pattern, options: options, handler)
    }
    public func put(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.put, pattern, options: options, handler)
    }
    public func delete(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.delete, pattern, options: options, handler)
    }
    public func patch(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.patch, pattern, options: options, handler)
    }
    public func options(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.options, pattern, options: options, handler)
    }
}

/// Routes under a common path prefix with middleware of their own (around the router's):
///
///     let api = router.group("/api", middleware: [APIKey()])
///     api.get("/items") { req in .json(items) }          // GET /api/items
///     let admin = api.group("/admin")                     // /api/admin/..., APIKey too
///
/// Middleware added to a group later (`use`) still applies to its routes: chains are composed
/// when the server starts.
public final class RouteGroup: RouteBuilder {
    unowned let router: Router
    let parent: RouteGroup?
    let prefix: String
    var middleware: [any Middleware]

    init(router: Router, parent: RouteGroup?, prefix: String, middleware: [any Middleware]) {
        precondition(prefix.hasPrefix("/") && !prefix.hasSuffix("/"), "a group prefix starts with / and does not end with one: \(prefix)")
        self.router = router
        self.parent = parent
        self.prefix = prefix
        self.middleware = middleware
    }

    /// Adds middleware to this group's chain (after what it has).
    public func use(_ middleware: any Middleware...) { self.middleware += middleware }

    /// A group inside this one: its prefix follows this one's, its middleware runs inside this one's.
    public func group(_ prefix: String, middleware: [any Middleware] = []) -> RouteGroup {
        RouteGroup(router: router, parent: self, prefix: prefix, middleware: middleware)
    }

    /// The full pattern of `pattern` in this group.
    func full(_ pattern: String) -> String {
        precondition(pattern.hasPrefix("/"), "route patterns start with /: \(pattern)")
        return (parent.map { $0.full(prefix) } ?? prefix) + (pattern == "/" ? "" : pattern)
    }

    /// This group's middleware with its ancestors', outermost first.
    var chain: [any Middleware] { (parent?.chain ?? []) + middleware }

    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, _ handler: @escaping Handler) {
        router.add(method, full(pattern), options, .inline(handler), group: self)
    }

    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions, _ handler: @escaping AsyncHandler) {
        router.add(method, full(pattern), options, .async(handler), group: self)
    }
}
