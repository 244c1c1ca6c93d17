@_spi(GustInternal) import GustHTTP1

/// A compiled router: a trie of path segments flattened into plain arrays of records, so a lookup
/// walks raw memory: no allocation, no reference counting, no hashing.
///
/// Threading: immutable after construction; shared by every reactor.
/// Cost of `match`: one compare per candidate edge per segment; backtracking is bounded by the
/// depth of the deepest pattern.
@_spi(GustInternal) public final class RouteTable: @unchecked Sendable {
    struct Node {
        var firstEdge: Int32 = 0
        var edgeCount: Int32 = 0
        var paramChild: Int32 = -1
        var wildcardChild: Int32 = -1
        var hasRoutes = false
    }

    struct Edge {
        var labelOffset: Int32
        var labelLength: Int32
        var child: Int32
    }

    static let methodCount = HTTPMethod.allCases.count

    let nodes: UnsafeMutableBufferPointer<Node>
    let edges: UnsafeMutableBufferPointer<Edge>
    let labels: UnsafeMutableBufferPointer<UInt8>
    /// `nodes.count × methodCount` route indices; -1 where a node has no handler for a method.
    let methodTable: UnsafeMutableBufferPointer<Int32>
    let handlers: [Handler]
    /// Per route: its options.
    let options: [RouteOptions]
    /// Capture names per route, in capture order (`*` for a wildcard).
    let parameterNames: [[String]]
    let patterns: [String]
    let methods: [HTTPMethod]
    /// Per node, the `Allow` value for a 405 ("GET, HEAD").
    let allowValues: [String]
    /// Answers requests no route takes (404, or 405 with `Allow`), inside the router's middleware.
    let fallback: Handler
    /// The coder of `decode(as:)` and `Response.json`.
    let jsonCoding: any JSONCoding

    /// A route, compiled: its handler is final (middleware and the async adapter included).
    struct Entry {
        var method: HTTPMethod
        var pattern: String
        var options: RouteOptions
        var handler: Handler
    }

    init(routes: [Entry], fallback: @escaping Handler, jsonCoding: any JSONCoding = FoundationJSONCoding()) {
        self.jsonCoding = jsonCoding
        self.fallback = fallback
        // Build a pointer-y tree first, then flatten it breadth-first.
        final class BuildNode {
            var statics: [(label: [UInt8], node: BuildNode)] = []
            var param: BuildNode?
            var wildcard: BuildNode?
            var routes = [Int32](repeating: -1, count: RouteTable.methodCount)
        }
        let root = BuildNode()
        var names: [[String]] = []
        for (index, route) in routes.enumerated() {
            var node = root
            var captured: [String] = []
            for segment in route.pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
                if segment == "*" {
                    if node.wildcard == nil { node.wildcard = BuildNode() }
                    node = node.wildcard!
                    captured.append("*")
                } else if segment.hasPrefix(":") {
                    if node.param == nil { node.param = BuildNode() }
                    node = node.param!
                    captured.append(String(segment.dropFirst()))
                } else {
                    let label = Array(segment.utf8)
                    if let existing = node.statics.first(where: { $0.label == label }) {
                        node = existing.node
                    } else {
                        let child = BuildNode()
                        node.statics.append((label, child))
                        node = child
                    }
                }
            }
            node.routes[Int(route.method.rawValue)] = Int32(index)
            names.append(captured)
        }

        var order: [BuildNode] = [root]
        var indexOf: [ObjectIdentifier: Int32] = [ObjectIdentifier(root): 0]
        var cursor = 0
        while cursor < order.count {
            let node = order[cursor]
            cursor += 1
            for child in node.statics.map(\.node) + [node.param, node.wildcard].compactMap({ $0 }) {
                indexOf[ObjectIdentifier(child)] = Int32(order.count)
                order.append(child)
            }
        }

        var flatNodes: [Node] = []
        var flatEdges: [Edge] = []
        var flatLabels: [UInt8] = []
        var table: [Int32] = []
        var allow: [String] = []
        for node in order {
            var record = Node()
            record.firstEdge = Int32(flatEdges.count)
            record.edgeCount = Int32(node.statics.count)
            for (label, child) in node.statics {
                flatEdges.append(Edge(labelOffset: Int32(flatLabels.count), labelLength: Int32(label.count), child: indexOf[ObjectIdentifier(child)]!))
                flatLabels.append(contentsOf: label)
            }
            record.paramChild = node.param.map { indexOf[ObjectIdentifier($0)]! } ?? -1
            record.wildcardChild = node.wildcard.map { indexOf[ObjectIdentifier($0)]! } ?? -1
            record.hasRoutes = node.routes.contains { $0 >= 0 }
            flatNodes.append(record)
            table.append(contentsOf: node.routes)
            var allowed = HTTPMethod.allCases.filter { node.routes[Int($0.rawValue)] >= 0 }
            if allowed.contains(.get) && !allowed.contains(.head) { allowed.insert(.head, at: allowed.firstIndex(of: .get)! + 1) }
            allow.append(allowed.map(\.description).joined(separator: ", "))
        }

        func copy<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
            _ = buffer.initialize(from: array)
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<array.count])
        }
        nodes = copy(flatNodes)
        edges = copy(flatEdges)
        labels = copy(flatLabels)
        methodTable = copy(table)
        handlers = routes.map(\.handler)
        options = routes.map(\.options)
        parameterNames = names
        patterns = routes.map(\.pattern)
        methods = routes.map(\.method)
        allowValues = allow
    }

    deinit {
        nodes.baseAddress?.deallocate()
        edges.baseAddress?.deallocate()
        labels.baseAddress?.deallocate()
        methodTable.baseAddress?.deallocate()
    }

    /// Number of routes.
    public var count: Int { handlers.count }

    /// Routes a request. `path` is the request's path bytes (without the query), which start at
    /// `pathOffset` in the request; capture offsets are reported relative to the request.
    public func match(method: HTTPMethod, path: UnsafeBufferPointer<UInt8>, pathOffset: Int) -> RouteMatch {
        var result = RouteMatch()
        // An empty path (absolute-form without one) is "/" (RFC 9110 §4.2.3).
        guard path.count > 0 else {
            let slash: StaticString = "/"
            return match(method: method, path: UnsafeBufferPointer(start: slash.utf8Start, count: 1), pathOffset: pathOffset)
        }
        guard path[0] == 0x2f else { return result }  // "*" (OPTIONS) or authority-form: no route
        let node = descend(0, path, 1, pathOffset, &result)
        guard node >= 0 else { return result }
        let row = Int(node) * Self.methodCount
        var route = methodTable[row + Int(method.rawValue)]
        if route < 0 && method == .head { route = methodTable[row + Int(HTTPMethod.get.rawValue)] }
        result.outcome = route >= 0 ? .route(Int(route)) : .methodNotAllowed(node: Int(node))
        return result
    }

    /// Matches the segment starting at `position` (just past a "/") and everything after it,
    /// from `nodeIndex`; returns the node the path ends at, or -1.
    private func descend(_ nodeIndex: Int32, _ path: UnsafeBufferPointer<UInt8>, _ position: Int, _ pathOffset: Int, _ m: inout RouteMatch) -> Int32 {
        let node = nodes[Int(nodeIndex)]
        var end = position
        while end < path.count && path[end] != 0x2f { end += 1 }
        let isLast = end == path.count
        let length = end - position

        // 1. Literal segments.
        var e = Int(node.firstEdge)
        let lastEdge = e + Int(node.edgeCount)
        while e < lastEdge {
            let edge = edges[e]
            e += 1
            guard Int(edge.labelLength) == length,
                labelEquals(Int(edge.labelOffset), path, position, length)
            else { continue }
            let found = isLast ? terminal(edge.child, path, pathOffset, &m) : descend(edge.child, path, end + 1, pathOffset, &m)
            if found >= 0 { return found }
            break  // labels are unique per node
        }
        // 2. A `:name` segment (never empty).
        if node.paramChild >= 0 && length > 0 && m.captureCount < RouteMatch.capacity {
            m.setCapture(m.captureCount, offset: pathOffset + position, length: length)
            m.captureCount += 1
            let found = isLast ? terminal(node.paramChild, path, pathOffset, &m) : descend(node.paramChild, path, end + 1, pathOffset, &m)
            if found >= 0 { return found }
            m.captureCount -= 1
        }
        // 3. `*`: the rest of the path.
        if node.wildcardChild >= 0 && m.captureCount < RouteMatch.capacity {
            m.setCapture(m.captureCount, offset: pathOffset + position, length: path.count - position)
            m.captureCount += 1
            return node.wildcardChild
        }
        return -1
    }

    /// The path ended at `nodeIndex`: it matches if the node has routes, or a `*` below it
    /// (which then captures nothing).
    private func terminal(_ nodeIndex: Int32, _ path: UnsafeBufferPointer<UInt8>, _ pathOffset: Int, _ m: inout RouteMatch) -> Int32 {
        let node = nodes[Int(nodeIndex)]
        if node.hasRoutes { return nodeIndex }
        if node.wildcardChild >= 0 && m.captureCount < RouteMatch.capacity {
            m.setCapture(m.captureCount, offset: pathOffset + path.count, length: 0)
            m.captureCount += 1
            return node.wildcardChild
        }
        return -1
    }

    @inline(__always)
    private func labelEquals(_ offset: Int, _ path: UnsafeBufferPointer<UInt8>, _ position: Int, _ length: Int) -> Bool {
        var k = 0
        while k < length {
            if labels[offset + k] != path[position + k] { return false }
            k += 1
        }
        return true
    }

    /// The handler for route `index`.
    @inline(__always) func handler(_ index: Int) -> Handler { handlers[index] }

    /// The pattern route `index` was registered with.
    public func pattern(of index: Int) -> String { patterns[index] }
}
