import Gust

/// A small JSON API on Gust: create, read, list and delete items, with validation errors, an
/// actor for shared state, a middleware (a bearer token for changes), and an offloaded
/// computation (a proof-of-work stamp, CPU-heavy, on the blocking-work pool).
///
///     POST   /items               {"name": "...", "priceCents": 1200, "tags": ["a"]}   201, the item
///     GET    /items?after=&limit= the items in id order                                200
///     GET    /items/:id           one item                                             200 / 404
///     DELETE /items/:id           removes it                                           204 / 404
///     GET    /items/:id/stamp?bits=N  a nonce whose hash with the item has N leading zero bits (offloaded)
///
/// Changes (POST, DELETE) need `Authorization: Bearer <token>`.
public enum ItemsApp {
    public static func makeRouter(store: ItemStore = ItemStore(), token: String = "let-me-in") -> Router {
        let router = Router()
        router.use(RequestIDMiddleware())
        let items = router.group("/items", middleware: [BearerToken(token: token, methods: [.post, .delete])])

        items.post("/") { req in
            let new = try req.decode(as: NewItem.self).validated()
            let item = await store.add(new)
            var response = Response.json(item, status: .created)
            response.headerFields[.location] = "/items/\(item.id)"
            return response
        }
        items.get("/") { req in
            let after = try query(req, "after", default: 0, range: 0...Int.max)
            let limit = try query(req, "limit", default: 50, range: 1...500)
            return .json(await store.list(after: after, limit: limit))
        }
        items.get("/:id") { req in
            guard let item = await store.item(try id(req)) else { throw HTTPError(.notFound, "no item \(try id(req))") }
            return .json(item)
        }
        items.delete("/:id") { req in
            guard await store.remove(try id(req)) else { throw HTTPError(.notFound, "no item \(try id(req))") }
            return Response(status: .noContent)
        }
        items.get("/:id/stamp") { req in
            guard let item = await store.item(try id(req)) else { throw HTTPError(.notFound, "no item \(try id(req))") }
            let bits = try query(req, "bits", default: 12, range: 1...24)
            let nonce = try await offload { Stamp.find(for: "\(item.id):\(item.name)", bits: bits) }
            return .json(Stamp(item: item.id, bits: bits, nonce: nonce))
        }
        return router
    }

    static func id(_ req: AsyncRequest) throws -> Int {
        guard let id = req.parameter("id").flatMap(Int.init), id > 0 else { throw HTTPError(.badRequest, "the id must be a positive integer") }
        return id
    }

    static func query(_ req: AsyncRequest, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard req.query(name) != nil else { return value }
        guard let number = req.queryInt(name), range.contains(number) else {
            throw HTTPError(.badRequest, "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }
}

/// Requires `Authorization: Bearer <token>` for the given methods (401 otherwise).
public struct BearerToken: Middleware {
    let expected: String
    let methods: Set<HTTPMethod>

    public init(token: String, methods: Set<HTTPMethod>) {
        expected = "Bearer " + token
        self.methods = methods
    }

    func check(_ method: HTTPMethod, _ authorization: String?) throws {
        guard methods.contains(method) else { return }
        guard authorization == expected else {
            throw HTTPError(.unauthorized, "a bearer token is required", headerFields: [.wwwAuthenticate: "Bearer"])
        }
    }

    public func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        try check(request.method, request.header("Authorization"))
        try next(request, &response)
    }

    public func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        try check(request.httpMethod, request.header("Authorization"))
        return try await next(request)
    }
}

/// A proof-of-work stamp: CPU work worth taking off the reactor.
public struct Stamp: Codable, Sendable {
    public var item: Int
    public var bits: Int
    public var nonce: UInt64

    /// The first nonce whose FNV-1a hash with `text` has `bits` leading zero bits.
    public static func find(for text: String, bits: Int) -> UInt64 {
        var nonce: UInt64 = 0
        while hash(text, nonce).leadingZeroBitCount < bits { nonce += 1 }
        return nonce
    }

    public static func hash(_ text: String, _ nonce: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        for shift in stride(from: 0, to: 64, by: 8) { h = (h ^ ((nonce >> UInt64(shift)) & 0xff)) &* 0x100_0000_01b3 }
        return h
    }
}
