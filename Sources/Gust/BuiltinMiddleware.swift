@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import HTTPTypes
import Logging

/// Names every response with its request's id, in `X-Request-Id`: the id a client or proxy sent
/// (when it is a short, plain token), else the server's own (`RequestID`), the one in its logs
/// and 500 bodies.
public struct RequestIDMiddleware: Middleware {
    public static let headerName = "X-Request-Id"

    public init() {}

    public func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        response.header(Self.headerName, Self.incoming(request.header(Self.headerName)) ?? "\(request.id)")
        try next(request, &response)
    }

    public func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        let id = Self.incoming(request.header(Self.headerName)) ?? "\(request.id)"
        var response: Response
        do {
            response = try await next(request)
        } catch let error as HTTPError {
            response = error.response
        }
        response.headerFields[HTTPField.Name(Self.headerName)!] = id
        return response
    }

    /// An incoming id is kept when it is 1...128 visible ASCII characters.
    static func incoming(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return value
    }
}

/// Logs one line per request (swift-log, level `info`): method, path, status, duration and
/// request id. Sampled: 1 request in `sampling` (chosen by request number, so no shared counter).
/// Off unless added: `router.use(AccessLogMiddleware(logger: logger, sampling: 100))`.
public struct AccessLogMiddleware: Middleware {
    public let logger: Logger
    public let sampling: Int

    public init(logger: Logger = Logger(label: "gust.access"), sampling: Int = 1) {
        precondition(sampling >= 1, "sampling is 1 in N, N >= 1")
        self.logger = logger
        self.sampling = sampling
    }

    func sampled(_ id: RequestID) -> Bool { sampling == 1 || id.number % sampling == 0 }

    public func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        guard sampled(request.id) else { return try next(request, &response) }
        let start = System.monotonicNow()
        defer {
            let micros = (System.monotonicNow().nanoseconds - start.nanoseconds) / 1000
            let status = response.statusCode != 0 ? "\(response.statusCode)" : (response.isSent ? "deferred" : "-")
            log(request.methodName, request.target, status, micros, request.id)
        }
        try next(request, &response)
    }

    public func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        guard sampled(request.id) else { return try await next(request) }
        let start = System.monotonicNow()
        var status = "error"
        defer {
            let micros = (System.monotonicNow().nanoseconds - start.nanoseconds) / 1000
            log(request.methodName, request.target, status, micros, request.id)
        }
        do {
            let response = try await next(request)
            status = "\(response.status.code)"
            return response
        } catch let error as HTTPError {
            status = "\(error.status.code)"
            throw error
        }
    }

    func log(_ method: String, _ target: String, _ status: String, _ micros: Int64, _ id: RequestID) {
        logger.info(
            "\(method) \(target) \(status) \(micros)us",
            metadata: ["request-id": "\(id)", "method": "\(method)", "target": "\(target)", "status": "\(status)", "us": "\(micros)"])
    }
}

/// Cross-origin resource sharing (the Fetch standard's CORS protocol): answers preflight
/// requests (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) with 204 and the
/// allowed methods and headers, and marks the responses to allowed origins with
/// `Access-Control-Allow-Origin`. Requests from origins not allowed get no CORS headers (the
/// browser then withholds the response); same-origin and non-browser requests are untouched.
///
/// Put it on the router (`router.use(CORSMiddleware(...))`) so that preflights of every path
/// are answered: the router's middleware also runs around 404 and 405 answers.
public struct CORSMiddleware: Middleware {
    public enum Origins: Sendable {
        case any
        case only(Set<String>)
    }

    public var origins: Origins
    public var methods: [HTTPMethod]
    public var headers: [String]
    public var exposedHeaders: [String]
    public var allowCredentials: Bool
    public var maxAge: Duration?

    public init(
        origins: Origins = .any, methods: [HTTPMethod] = [.get, .head, .post, .put, .delete, .patch],
        headers: [String] = ["Content-Type", "Authorization"], exposedHeaders: [String] = [], allowCredentials: Bool = false,
        maxAge: Duration? = .seconds(600)
    ) {
        self.origins = origins
        self.methods = methods
        self.headers = headers
        self.exposedHeaders = exposedHeaders
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, or nil when it is not allowed.
    func allowedOrigin(_ origin: String?) -> String? {
        guard let origin else { return nil }
        switch origins {
        case .any: return allowCredentials ? origin : "*"  // credentials forbid "*"
        case .only(let set): return set.contains(origin) ? origin : nil
        }
    }

    /// The headers of a preflight answer, or of a CORS response.
    func fields(origin: String, preflight: Bool) -> [(String, String)] {
        var fields = [("Access-Control-Allow-Origin", origin)]
        if origin != "*" { fields.append(("Vary", "Origin")) }
        if allowCredentials { fields.append(("Access-Control-Allow-Credentials", "true")) }
        if preflight {
            fields.append(("Access-Control-Allow-Methods", methods.map(\.description).joined(separator: ", ")))
            if !headers.isEmpty { fields.append(("Access-Control-Allow-Headers", headers.joined(separator: ", "))) }
            if let maxAge { fields.append(("Access-Control-Max-Age", "\(maxAge.components.seconds)")) }
        } else if !exposedHeaders.isEmpty {
            fields.append(("Access-Control-Expose-Headers", exposedHeaders.joined(separator: ", ")))
        }
        return fields
    }

    public func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        guard let origin = allowedOrigin(request.header("Origin")) else { return try next(request, &response) }
        let preflight = request.method == .options && request.header("Access-Control-Request-Method") != nil
        for (name, value) in fields(origin: origin, preflight: preflight) { response.header(name, value) }
        if preflight { return response.send(.noContent) }
        try next(request, &response)
    }

    public func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        guard let origin = allowedOrigin(request.header("Origin")) else { return try await next(request) }
        let preflight = request.httpMethod == .options && request.header("Access-Control-Request-Method") != nil
        var response = preflight ? Response(status: .noContent) : try await next(request)
        for (name, value) in fields(origin: origin, preflight: preflight) { response.headerFields[HTTPField.Name(name)!] = value }
        return response
    }
}

/// A deadline for the async handlers of the routes it applies to (a group's, say): past it the
/// handler is cancelled and answered 503. The shorter of this and a route's own deadline wins.
/// (Inline handlers do not block by construction; their deferred answers have no deadline.)
public struct TimeoutMiddleware: Middleware {
    public let timeout: Duration

    public init(_ timeout: Duration) {
        precondition(timeout > .zero, "a timeout must be positive")
        self.timeout = timeout
    }

    public func configure(_ options: inout RouteOptions) {
        options.deadline = min(options.deadline ?? timeout, timeout)
    }

    public func handle(_ request: borrowing Request, _ response: inout ResponseWriter, next: InlineNext) throws {
        try next(request, &response)
    }

    public func handle(_ request: AsyncRequest, next: AsyncNext) async throws -> Response {
        try await next(request)
    }
}
