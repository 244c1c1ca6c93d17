@_spi(GustInternal) import GustHTTP1
import HTTPTypes

/// The request an async handler gets: owned, `Sendable`, kept as long as the handler likes.
/// It holds a copy of the request's bytes (head and buffered body) and the parse of them, in one
/// allocation; the accessors read from that copy. `head` and `headerFields` build
/// swift-http-types values on demand (the ecosystem's vocabulary; they allocate), the other
/// accessors answer without building them.
///
/// Threading: immutable; any thread. (`@unchecked`: the storage is a `ManagedBuffer`, which
/// the compiler cannot see is written only while it is made, before it is shared.)
public struct AsyncRequest: @unchecked Sendable {
    let storage: RequestStorage

    /// Copies `request` (its bytes up to the end of its body), with what its task needs. Reactor
    /// thread, inside the handler call. Cost: one allocation, one copy.
    init(copying request: borrowing Request, start: AsyncStart) {
        storage = RequestStorage.make(copying: request, start: start)
    }

    /// Runs `body` with a borrowed view of the copy (the inline tier's accessors).
    @inline(__always) func withRequest<R>(_ body: (borrowing Request) throws -> R) rethrows -> R {
        try storage.withRequest(body)
    }

    // MARK: Request line

    public var id: RequestID { storage.field { $0.pointee.id } }
    /// The method as swift-http-types spells it.
    public var method: HTTPRequest.Method { HTTPRequest.Method(withRequest { $0.methodName })! }
    /// The method; `.other` for methods outside `HTTPMethod`.
    public var httpMethod: HTTPMethod { storage.field { $0.pointee.parser.method } }
    public var methodName: String { withRequest { $0.methodName } }
    public var version: HTTPVersion { storage.field { $0.pointee.parser.version } }
    /// The request target as sent, e.g. "/search?q=gust".
    public var target: String { withRequest { $0.target } }
    /// The path, as sent (still percent-encoded). "/" when the target had none.
    public var path: String { withRequest { $0.path } }
    public var queryString: String? { withRequest { $0.queryString } }
    /// The pattern of the route that matched, e.g. "/users/:id".
    public var routePattern: String? { withRequest { $0.routePattern } }

    // MARK: Parameters and query

    /// The percent-decoded route parameter `name` (`:name` in the pattern, `*` for a wildcard).
    public func parameter(_ name: String) -> String? { withRequest { $0.parameter(name) } }
    /// The percent-decoded value of the first query parameter `name`; "" for a bare `name`.
    public func query(_ name: String) -> String? { withRequest { $0.query(name) } }
    /// The first query parameter `name` as a decimal integer, or nil.
    public func queryInt(_ name: String) -> Int? { withRequest { $0.queryInt(name) } }

    // MARK: Headers

    /// The value of the first header field named `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? { withRequest { $0.header(name) } }
    /// The values of every header field named `name`, in order.
    public func headers(named name: String) -> [String] { withRequest { $0.headers(named: name) } }
    public var headerCount: Int { storage.field { $0.pointee.parser.headerCount } }

    /// The header fields as swift-http-types' `HTTPFields` (built on each access).
    public var headerFields: HTTPFields {
        withRequest { request in
            var fields = HTTPFields()
            request.forEachHeader { name, value in
                if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
            }
            return fields
        }
    }

    /// The request as swift-http-types' `HTTPRequest` (built on each access): method, scheme
    /// "http", authority from `Host`, path with query, header fields.
    public var head: HTTPRequest {
        withRequest { request in
            let target = request.target
            var path = target
            if !target.hasPrefix("/") && target != "*" {
                path = request.path + (request.queryString.map { "?" + $0 } ?? "")
            }
            return HTTPRequest(
                method: HTTPRequest.Method(request.methodName)!, scheme: "http", authority: request.header("Host"),
                path: path, headerFields: headerFields)
        }
    }

    // MARK: Body

    /// Length of the body in bytes (the whole body: buffered routes collect it before the
    /// handler runs, up to the route's limit).
    public var bodyCount: Int { storage.field { $0.pointee.bodyLength } }
    /// A copy of the body.
    public var body: [UInt8] { withRequest { $0.body } }
    /// The body decoded as UTF-8 (invalid sequences become U+FFFD).
    public var bodyText: String { withRequest { $0.bodyText } }
    /// The body in place, valid inside `body` only.
    public func withUnsafeBody<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withRequest { try $0.withUnsafeBody(body) }
    }

    /// Decodes the JSON body with the router's coder. Throws an `HTTPError`: 415 unless the
    /// `Content-Type` is JSON, 400 saying what is wrong with a malformed body or a mismatched
    /// type. (A body past the route's limit was answered 413 before the handler ran.)
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try withRequest { try $0.decode(as: type) }
    }
}

/// The bytes and parse of one owned request, in one allocation: the header holds the parse; the
/// tail holds the header table, then the request's bytes from its first byte to the end of its
/// body (so every offset of the parse still holds).
final class RequestStorage: ManagedBuffer<RequestStorage.Head, UInt32> {
    struct Head {
        var parser: RequestParser
        var match: RouteMatch
        let routes: RouteTable
        let id: RequestID
        let bodyOffset: Int
        let bodyLength: Int
        /// Words of the tail that hold the header table.
        let slotWords: Int
        /// What the request's task needs (kept here, so that the task's closure captures one
        /// reference and needs no context of its own).
        let start: AsyncStart
        /// A streamed answer the handler gave, set once it returned (its task writes it).
        var streamed: StreamedAnswer?
    }

    static func make(copying request: borrowing Request, start: AsyncStart) -> RequestStorage {
        let headerCount = request.parser.pointee.headerCount
        let byteCount = max(request.parser.pointee.headLength, request.bodyOffset + request.bodyLength)
        let slotWords = headerCount * MemoryLayout<HeaderSlot>.stride / 4
        let made = create(minimumCapacity: slotWords + (byteCount + 3) / 4) { _ in
            Head(
                parser: request.parser.pointee, match: request.match.pointee, routes: request.routes, id: request.id,
                bodyOffset: request.bodyOffset, bodyLength: request.bodyLength, slotWords: slotWords, start: start, streamed: nil)
        }
        let storage = unsafeDowncast(made, to: RequestStorage.self)
        storage.withUnsafeMutablePointerToElements { words in
            let raw = UnsafeMutableRawPointer(words)
            raw.bindMemory(to: HeaderSlot.self, capacity: headerCount).initialize(from: request.slots, count: headerCount)
            (raw + slotWords * 4).bindMemory(to: UInt8.self, capacity: byteCount).initialize(from: request.base, count: byteCount)
        }
        return storage
    }

    /// Reads one field of the header in place (`storage.header` would copy all of it).
    @inline(__always) func field<R>(_ read: (UnsafeMutablePointer<Head>) -> R) -> R {
        withUnsafeMutablePointerToHeader(read)
    }

    /// The async handler, read in place and not through `field`: a closure returned through a
    /// generic result is wrapped in a reabstraction thunk, whose async frame pushed every task
    /// into a second allocator slab (an allocation per request). The header does not move and
    /// lives as long as this object, which the caller holds.
    var handler: AsyncHandler {
        let head = withUnsafeMutablePointerToHeader { $0 }
        return head.pointee.start.handler
    }

    func withRequest<R>(_ body: (borrowing Request) throws -> R) rethrows -> R {
        try withUnsafeMutablePointers { head, words in
            let raw = UnsafeMutableRawPointer(words)
            let slots = UnsafePointer(raw.assumingMemoryBound(to: HeaderSlot.self))
            let base = UnsafePointer((raw + head.pointee.slotWords * 4).assumingMemoryBound(to: UInt8.self))
            let parser = UnsafePointer(UnsafeMutableRawPointer(head).advanced(by: MemoryLayout<Head>.offset(of: \.parser)!)
                .assumingMemoryBound(to: RequestParser.self))
            let match = UnsafePointer(UnsafeMutableRawPointer(head).advanced(by: MemoryLayout<Head>.offset(of: \.match)!)
                .assumingMemoryBound(to: RouteMatch.self))
            let request = Request(
                base: base, parser: parser, slots: slots, bodyOffset: head.pointee.bodyOffset,
                bodyLength: head.pointee.bodyLength, match: match, routes: head.pointee.routes, id: head.pointee.id)
            return try body(request)
        }
    }
}
