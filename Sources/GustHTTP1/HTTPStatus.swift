/// A response status: its code and its whole status line ("HTTP/1.1 200 OK\r\n"), so encoding
/// one is a single copy. Reason phrases are RFC 9110 §15's.
///
/// The predefined statics point at static bytes; a custom status interns its line once, for the
/// life of the process (statuses are a small, fixed set in any real program).
public struct HTTPStatus: @unchecked Sendable, Hashable, CustomStringConvertible {
    public let code: Int
    @usableFromInline let lineStart: UnsafePointer<UInt8>
    @usableFromInline let lineLength: Int

    /// A status with any three-digit code and a reason phrase.
    public init(code: Int, reason: String) {
        precondition((100...999).contains(code), "status codes have three digits")
        if let known = HTTPStatus.predefined(code), known.reason == reason {
            self = known
            return
        }
        self.code = code
        let line = InternedBytes.intern("HTTP/1.1 \(code) \(reason)\r\n")
        lineStart = line.baseAddress!
        lineLength = line.count
    }

    @usableFromInline init(_ code: Int, _ line: StaticString) {
        self.code = code
        lineStart = line.utf8Start
        lineLength = line.utf8CodeUnitCount
    }

    /// The status line, CRLF included. Valid for the life of the process.
    @_spi(GustInternal) @inlinable public var statusLine: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: lineStart, count: lineLength)
    }

    /// The reason phrase, e.g. "Not Found".
    public var reason: String {
        String(decoding: UnsafeBufferPointer(rebasing: statusLine[13..<(lineLength - 2)]), as: UTF8.self)
    }

    public var description: String { "\(code) \(reason)" }
    public static func == (a: HTTPStatus, b: HTTPStatus) -> Bool {
        a.code == b.code && (a.lineStart == b.lineStart || a.reason == b.reason)
    }
    public func hash(into h: inout Hasher) { h.combine(code) }

    public static let `continue` = HTTPStatus(100, "HTTP/1.1 100 Continue\r\n")
    public static let switchingProtocols = HTTPStatus(101, "HTTP/1.1 101 Switching Protocols\r\n")
    public static let ok = HTTPStatus(200, "HTTP/1.1 200 OK\r\n")
    public static let created = HTTPStatus(201, "HTTP/1.1 201 Created\r\n")
    public static let accepted = HTTPStatus(202, "HTTP/1.1 202 Accepted\r\n")
    public static let noContent = HTTPStatus(204, "HTTP/1.1 204 No Content\r\n")
    public static let partialContent = HTTPStatus(206, "HTTP/1.1 206 Partial Content\r\n")
    public static let movedPermanently = HTTPStatus(301, "HTTP/1.1 301 Moved Permanently\r\n")
    public static let found = HTTPStatus(302, "HTTP/1.1 302 Found\r\n")
    public static let seeOther = HTTPStatus(303, "HTTP/1.1 303 See Other\r\n")
    public static let notModified = HTTPStatus(304, "HTTP/1.1 304 Not Modified\r\n")
    public static let temporaryRedirect = HTTPStatus(307, "HTTP/1.1 307 Temporary Redirect\r\n")
    public static let permanentRedirect = HTTPStatus(308, "HTTP/1.1 308 Permanent Redirect\r\n")
    public static let badRequest = HTTPStatus(400, "HTTP/1.1 400 Bad Request\r\n")
    public static let unauthorized = HTTPStatus(401, "HTTP/1.1 401 Unauthorized\r\n")
    public static let forbidden = HTTPStatus(403, "HTTP/1.1 403 Forbidden\r\n")
    public static let notFound = HTTPStatus(404, "HTTP/1.1 404 Not Found\r\n")
    public static let methodNotAllowed = HTTPStatus(405, "HTTP/1.1 405 Method Not Allowed\r\n")
    public static let notAcceptable = HTTPStatus(406, "HTTP/1.1 406 Not Acceptable\r\n")
    public static let requestTimeout = HTTPStatus(408, "HTTP/1.1 408 Request Timeout\r\n")
    public static let conflict = HTTPStatus(409, "HTTP/1.1 409 Conflict\r\n")
    public static let gone = HTTPStatus(410, "HTTP/1.1 410 Gone\r\n")
    public static let lengthRequired = HTTPStatus(411, "HTTP/1.1 411 Length Required\r\n")
    public static let preconditionFailed = HTTPStatus(412, "HTTP/1.1 412 Precondition Failed\r\n")
    public static let contentTooLarge = HTTPStatus(413, "HTTP/1.1 413 Content Too Large\r\n")
    public static let uriTooLong = HTTPStatus(414, "HTTP/1.1 414 URI Too Long\r\n")
    public static let unsupportedMediaType = HTTPStatus(415, "HTTP/1.1 415 Unsupported Media Type\r\n")
    public static let rangeNotSatisfiable = HTTPStatus(416, "HTTP/1.1 416 Range Not Satisfiable\r\n")
    public static let expectationFailed = HTTPStatus(417, "HTTP/1.1 417 Expectation Failed\r\n")
    public static let misdirectedRequest = HTTPStatus(421, "HTTP/1.1 421 Misdirected Request\r\n")
    public static let unprocessableContent = HTTPStatus(422, "HTTP/1.1 422 Unprocessable Content\r\n")
    public static let upgradeRequired = HTTPStatus(426, "HTTP/1.1 426 Upgrade Required\r\n")
    public static let tooManyRequests = HTTPStatus(429, "HTTP/1.1 429 Too Many Requests\r\n")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(431, "HTTP/1.1 431 Request Header Fields Too Large\r\n")
    public static let internalServerError = HTTPStatus(500, "HTTP/1.1 500 Internal Server Error\r\n")
    public static let notImplemented = HTTPStatus(501, "HTTP/1.1 501 Not Implemented\r\n")
    public static let badGateway = HTTPStatus(502, "HTTP/1.1 502 Bad Gateway\r\n")
    public static let serviceUnavailable = HTTPStatus(503, "HTTP/1.1 503 Service Unavailable\r\n")
    public static let gatewayTimeout = HTTPStatus(504, "HTTP/1.1 504 Gateway Timeout\r\n")
    public static let httpVersionNotSupported = HTTPStatus(505, "HTTP/1.1 505 HTTP Version Not Supported\r\n")

    /// The predefined status for `code`, if there is one.
    public static func predefined(_ code: Int) -> HTTPStatus? {
        switch code {
        case 100: .`continue`
        case 101: .switchingProtocols
        case 200: .ok
        case 201: .created
        case 202: .accepted
        case 204: .noContent
        case 206: .partialContent
        case 301: .movedPermanently
        case 302: .found
        case 303: .seeOther
        case 304: .notModified
        case 307: .temporaryRedirect
        case 308: .permanentRedirect
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 406: .notAcceptable
        case 408: .requestTimeout
        case 409: .conflict
        case 410: .gone
        case 411: .lengthRequired
        case 412: .preconditionFailed
        case 413: .contentTooLarge
        case 414: .uriTooLong
        case 415: .unsupportedMediaType
        case 416: .rangeNotSatisfiable
        case 417: .expectationFailed
        case 421: .misdirectedRequest
        case 422: .unprocessableContent
        case 426: .upgradeRequired
        case 429: .tooManyRequests
        case 431: .requestHeaderFieldsTooLarge
        case 500: .internalServerError
        case 501: .notImplemented
        case 502: .badGateway
        case 503: .serviceUnavailable
        case 504: .gatewayTimeout
        case 505: .httpVersionNotSupported
        default: nil
        }
    }
}
