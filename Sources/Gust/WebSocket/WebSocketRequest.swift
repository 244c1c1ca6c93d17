/// The upgrade request, kept for an async WebSocket handler: the path, the route's parameters,
/// the query and the headers, copied when the connection opens.
///
/// Threading: immutable, `Sendable`. Cost: a few small allocations per connection.
public struct WebSocketRequest: Sendable {
    /// The request target as sent, e.g. "/chat/lobby?name=ada".
    public let target: String
    /// The path (still percent-encoded).
    public let path: String
    /// The route's pattern, e.g. "/chat/:room".
    public let routePattern: String?
    let parameters: [(name: String, value: String)]
    let queryItems: [(name: String, value: String)]
    /// Every header field, in order.
    public let headers: [(name: String, value: String)]

    init(copying request: borrowing Request) {
        target = request.target
        path = request.path
        routePattern = request.routePattern
        var parameters: [(String, String)] = []
        for segment in (request.routePattern ?? "").split(separator: "/") {
            let name = segment.hasPrefix(":") ? String(segment.dropFirst()) : segment == "*" ? "*" : nil
            if let name, let value = request.parameter(name) { parameters.append((name, value)) }
        }
        self.parameters = parameters
        var query: [(String, String)] = []
        for item in (request.queryString ?? "").split(separator: "&") {
            let name = String(item.split(separator: "=", maxSplits: 1).first ?? "")
            if !name.isEmpty, !query.contains(where: { $0.0 == name }), let value = request.query(name) { query.append((name, value)) }
        }
        queryItems = query
        var headers: [(String, String)] = []
        request.forEachHeader { headers.append(($0, $1)) }
        self.headers = headers
    }

    /// The percent-decoded route parameter `name` (`:name` in the pattern, `*` for a wildcard).
    public func parameter(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
    /// The percent-decoded value of the first query parameter `name`.
    public func query(_ name: String) -> String? { queryItems.first { $0.name == name }?.value }
    /// The first header field named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }
}
