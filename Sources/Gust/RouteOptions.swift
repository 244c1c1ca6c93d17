/// Per-route settings that differ from the server's.
///
///     router.post("/upload", options: RouteOptions(maxBodyBytes: 1 << 30, body: .stream)) { req, res in
///         res.streamBody { part, res, stream in ... }
///     }
public struct RouteOptions: Sendable, Equatable {
    /// How the handler gets the request body.
    public enum BodyHandling: Sendable, Equatable {
        /// The whole body is read (Content-Length or chunked, decoded) before the handler runs,
        /// and handed to it in one piece (`Request.body`). For bodies that fit in memory.
        case buffer
        /// The handler runs as soon as the head has arrived and takes the body piece by piece
        /// with `ResponseWriter.streamBody`, pausing when it cannot keep up (the connection then
        /// stops reading). For large uploads.
        case stream
    }

    /// The largest body this route accepts (413 beyond it); nil: the server's limit.
    public var maxBodyBytes: Int?
    public var body: BodyHandling
    /// How long this route's async handler may take (cancelled and answered 503 after); nil:
    /// the server's `handlerDeadline`.
    public var deadline: Duration?

    public init(maxBodyBytes: Int? = nil, body: BodyHandling = .buffer, deadline: Duration? = nil) {
        precondition(maxBodyBytes.map { $0 >= 0 } ?? true, "maxBodyBytes must not be negative")
        precondition(deadline.map { $0 > .zero } ?? true, "a deadline must be positive")
        self.maxBodyBytes = maxBodyBytes
        self.body = body
        self.deadline = deadline
    }
}
