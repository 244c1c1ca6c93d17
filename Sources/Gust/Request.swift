@_spi(GustInternal) import GustHTTP1

/// A borrowed view of one request, handed to an inline handler. It points into the connection's
/// input bytes, which are only valid during the handler call; the type is non-copyable and
/// passed `borrowing`, so the compiler keeps it from escaping. Copy out what you need to keep
/// (`String`s, `body`).
///
/// Accessors that return `String` copy; strings of up to 15 UTF-8 bytes are stored inline and
/// do not allocate. The `withUnsafe…` accessors hand out the bytes in place.
///
/// It is not `Sendable` either: closures that run later (`respond(after:)`, `DeferredResponse`
/// answers, the pool's `offload`) cannot capture it, and the compiler says so. Copy out what
/// they need, or write an async handler (`router.get(path) { req in ... }`), whose request is
/// owned and can be kept across `await`s.
///
/// Threading: reactor thread only, during the handler call.
public struct Request: ~Copyable {
    let base: UnsafePointer<UInt8>
    let parser: UnsafePointer<RequestParser>
    let slots: UnsafePointer<HeaderSlot>
    let bodyOffset: Int
    let bodyLength: Int
    let match: UnsafePointer<RouteMatch>
    unowned(unsafe) let routes: RouteTable
    /// This request's name in logs and error bodies.
    public let id: RequestID

    init(
        base: UnsafePointer<UInt8>, parser: UnsafePointer<RequestParser>, slots: UnsafePointer<HeaderSlot>,
        bodyOffset: Int, bodyLength: Int, match: UnsafePointer<RouteMatch>, routes: RouteTable, id: RequestID
    ) {
        self.id = id
        self.base = base
        self.parser = parser
        self.slots = slots
        self.bodyOffset = bodyOffset
        self.bodyLength = bodyLength
        self.match = match
        self.routes = routes
    }

    @inline(__always) func bytes(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    // MARK: Request line

    /// The method; `.other` for methods outside `HTTPMethod` (see `methodName`).
    public var method: HTTPMethod { parser.pointee.method }
    /// The method token as sent, e.g. "GET" or "PROPFIND".
    public var methodName: String { String(decoding: bytes(parser.pointee.methodRange), as: UTF8.self) }
    public var version: HTTPVersion { parser.pointee.version }
    /// The request target as sent, e.g. "/search?q=gust".
    public var target: String { String(decoding: bytes(parser.pointee.targetRange), as: UTF8.self) }
    /// The path, as sent (still percent-encoded), e.g. "/users/42". "/" when the target had none.
    public var path: String {
        let range = parser.pointee.pathRange
        return range.isEmpty ? "/" : String(decoding: bytes(range), as: UTF8.self)
    }
    /// The query string after `?`, as sent, or nil when there is no `?`.
    public var queryString: String? {
        parser.pointee.queryRange.map { String(decoding: bytes($0), as: UTF8.self) }
    }
    /// Whether the connection stays open after this request (as the client asked).
    public var keepAlive: Bool { parser.pointee.keepAlive }

    /// The path bytes in place (no copy). Valid only inside `body`.
    public func withUnsafePath<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(bytes(parser.pointee.pathRange))
    }

    // MARK: Route parameters

    /// The pattern of the route that matched, e.g. "/users/:id", or nil for an unmatched request.
    public var routePattern: String? {
        if case .route(let index) = match.pointee.outcome { return routes.pattern(of: index) }
        return nil
    }

    /// The percent-decoded value of route parameter `name` (`:name` in the pattern; `*` for a
    /// wildcard), or nil when the route has no such parameter.
    public func parameter(_ name: String) -> String? {
        guard case .route(let index) = match.pointee.outcome,
            let i = routes.parameterNames[index].firstIndex(of: name), i < match.pointee.captureCount
        else { return nil }
        let (offset, length) = match.pointee.capture(i)
        return PercentDecoding.decode(bytes(offset..<offset + length), plusIsSpace: false)
    }

    /// The raw (still percent-encoded) bytes of the route's `*` capture, empty when the route
    /// has none. Valid only inside `body`.
    func withRawWildcard<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        guard case .route(let index) = match.pointee.outcome,
            let i = routes.parameterNames[index].firstIndex(of: "*"), i < match.pointee.captureCount
        else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        let (offset, length) = match.pointee.capture(i)
        return body(bytes(offset..<offset + length))
    }

    // MARK: Query

    /// The percent-decoded value of the first query parameter `name` (`+` read as a space), ""
    /// for a bare `name`, or nil when absent. No allocation for values of up to 15 bytes.
    public func query(_ name: String) -> String? {
        guard let range = queryValueRange(name) else { return nil }
        return PercentDecoding.decode(bytes(range), plusIsSpace: true)
    }

    /// The first query parameter `name` as a decimal integer (an optional leading "-"), or nil
    /// when absent or not a number. Never allocates.
    public func queryInt(_ name: String) -> Int? {
        guard let range = queryValueRange(name), !range.isEmpty else { return nil }
        let digits = bytes(range)
        var negative = false
        var k = 0
        if digits[0] == 0x2d {
            negative = true
            k = 1
        }
        guard k < digits.count else { return nil }
        var value = 0
        while k < digits.count {
            let d = digits[k] &- 0x30
            guard d < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(d))
            guard !o1 && !o2 else { return nil }
            value = sum
            k += 1
        }
        return negative ? -value : value
    }

    func queryValueRange(_ name: String) -> Range<Int>? {
        guard let query = parser.pointee.queryRange else { return nil }
        return name.withUTF8Bytes { wanted -> Range<Int>? in
            var start = query.lowerBound
            while start <= query.upperBound {
                var end = start
                while end < query.upperBound && base[end] != 0x26 { end += 1 }  // "&"
                var eq = start
                while eq < end && base[eq] != 0x3d { eq += 1 }  // "="
                if PercentDecoding.decodedEquals(bytes(start..<eq), wanted) {
                    return eq < end ? eq + 1..<end : end..<end
                }
                start = end + 1
            }
            return nil
        }
    }

    // MARK: Headers

    var headerView: HeaderView { HeaderView(base: base, slots: slots, count: parser.pointee.headerCount) }

    /// Number of header field lines.
    public var headerCount: Int { parser.pointee.headerCount }

    /// The value of the first header field named `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        let view = headerView
        let index = name.withUTF8Bytes { view.firstIndex(named: $0) }
        return index.map { String(decoding: view.value(at: $0), as: UTF8.self) }
    }

    /// The value of the first header field named `name` in place (nil when absent), without a
    /// copy. Valid only inside `body`.
    public func withUnsafeHeader<R>(_ name: StaticString, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        let view = headerView
        let index = view.firstIndex(named: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        return try body(index.map { view.value(at: $0) })
    }

    /// The values of every header field named `name`, in order.
    public func headers(named name: String) -> [String] {
        let view = headerView
        var values: [String] = []
        name.withUTF8Bytes { wanted in
            var from = 0
            while let i = view.firstIndex(named: wanted, from: from) {
                values.append(String(decoding: view.value(at: i), as: UTF8.self))
                from = i + 1
            }
        }
        return values
    }

    /// Calls `body` with each header field's name and value, in the order received.
    public func forEachHeader(_ body: (_ name: String, _ value: String) -> Void) {
        let view = headerView
        for i in 0..<view.count {
            body(String(decoding: view.name(at: i), as: UTF8.self), String(decoding: view.value(at: i), as: UTF8.self))
        }
    }

    // MARK: Body

    /// Length of the body in bytes.
    public var bodyCount: Int { bodyLength }

    /// A copy of the body.
    public var body: [UInt8] { Array(bytes(bodyOffset..<bodyOffset + bodyLength)) }

    /// The body decoded as UTF-8 (invalid sequences become U+FFFD).
    public var bodyText: String { String(decoding: bytes(bodyOffset..<bodyOffset + bodyLength), as: UTF8.self) }

    /// The body bytes in place (no copy). Valid only inside `body`.
    public func withUnsafeBody<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base + bodyOffset, count: bodyLength))
    }

    /// Decodes the JSON body with the router's coder. Throws an `HTTPError`: 415 unless the
    /// `Content-Type` is JSON, 400 saying what is wrong with a malformed body or a mismatched
    /// type. (A body past the route's limit was answered 413 before the handler ran.)
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try withUnsafeHeader("Content-Type") { contentType in
            try withUnsafeBody { body in
                try JSONBody.decode(type, contentType: contentType, body: body, coding: routes.jsonCoding)
            }
        }
    }
}
