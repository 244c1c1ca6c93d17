import FoundationEssentials
import HTTPTypes

/// What an async handler answers: a head (swift-http-types' status and header fields, also
/// readable as an `HTTPResponse`) and a body.
///
///     router.get("/hello") { _ in "Hello, World!" }                      // text/plain
///     router.get("/items/:id") { req in try .json(store.item(req.parameter("id"))) }
///     router.delete("/items/:id") { req in Response(status: .noContent) }
///
/// Framing (`Content-Length`, `Transfer-Encoding`) and `Date` and `Server` are the server's;
/// fields with those names are dropped. `Connection: close` closes the connection after.
///
/// Cost: a value; a body held as a `String` or a byte array is copied once, into the output.
public struct Response: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ResponseBody
    /// The `Content-Type`, as a precomputed line (no header field is added for it, so setting
    /// it allocates nothing). A `Content-Type` field in `headerFields` takes precedence.
    public var contentType: ContentType?

    public init(status: HTTPResponse.Status = .ok, headerFields: HTTPFields = [:], contentType: ContentType? = nil, body: ResponseBody = .empty) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
        self.contentType = contentType
    }

    public init(head: HTTPResponse, contentType: ContentType? = nil, body: ResponseBody = .empty) {
        self.init(status: head.status, headerFields: head.headerFields, contentType: contentType, body: body)
    }

    /// The head as swift-http-types' `HTTPResponse` (built on access: it allocates, where the
    /// status and fields held apart do not).
    public var head: HTTPResponse {
        get { HTTPResponse(status: status, headerFields: headerFields) }
        set {
            status = newValue.status
            headerFields = newValue.headerFields
        }
    }

    /// `text` as `text/plain; charset=utf-8`.
    public static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, contentType: .plainTextUTF8, body: .string(text))
    }

    /// `value` encoded as JSON (`application/json`) by the router's JSON coder, once the handler
    /// has returned. An encoding failure becomes a 500 that names the request.
    public static func json<Value: Encodable & Sendable>(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, contentType: .json, body: ResponseBody(json: value))
    }

    /// `bytes` as `application/octet-stream` (or the type given).
    public static func bytes(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, contentType: ContentType = .octetStream) -> Response {
        Response(status: status, contentType: contentType, body: .bytes(bytes))
    }
}

extension Response: ExpressibleByStringLiteral {
    /// A literal is a `text/plain` body with status 200.
    public init(stringLiteral text: String) {
        self.init(status: .ok, contentType: .plainText, body: .string(text))
    }
}

/// The body of a `Response`.
public struct ResponseBody: Sendable {
    enum Storage: Sendable {
        case empty
        case string(String)
        case bytes([UInt8])
        case data(Data)
        case json(JSONValue)
        case stream(@Sendable (ResponseBodyWriter) async throws -> Void)
    }

    /// A value to encode, behind one reference (keeps `Response` small: it lives in the async
    /// frames of every request's task).
    final class JSONValue: Sendable {
        let value: any Encodable & Sendable
        init(_ value: any Encodable & Sendable) { self.value = value }
    }

    let storage: Storage

    /// No body (`Content-Length: 0`).
    public static let empty = ResponseBody(storage: .empty)

    /// `text`'s UTF-8 bytes.
    public static func string(_ text: String) -> ResponseBody { ResponseBody(storage: .string(text)) }

    public static func bytes(_ bytes: [UInt8]) -> ResponseBody { ResponseBody(storage: .bytes(bytes)) }

    public static func data(_ data: Data) -> ResponseBody { ResponseBody(storage: .data(data)) }

    /// A body written piece by piece after the head has gone out (chunked; for an HTTP/1.0
    /// client, up to the close), with backpressure: each `write` waits while the client is
    /// behind. `body` runs in the handler's task, on its reactor; the stream ends when it
    /// returns. If it throws, the connection is closed (the client sees a truncated body).
    ///
    ///     return Response(contentType: .plainTextUTF8, body: .stream { writer in
    ///         for event in events { try await writer.write("data: \(event)\n\n") }
    ///     })
    public static func stream(_ body: @escaping @Sendable (ResponseBodyWriter) async throws -> Void) -> ResponseBody {
        ResponseBody(storage: .stream(body))
    }

    /// `value`, encoded by the router's JSON coder once the handler has returned.
    public init<Value: Encodable & Sendable>(json value: Value) { storage = .json(JSONValue(value)) }

    init(storage: Storage) { self.storage = storage }
}
