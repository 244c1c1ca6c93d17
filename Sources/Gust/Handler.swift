@_spi(GustInternal) import GustHTTP1

/// An inline handler: runs on the reactor thread with a borrowed view of the request and a
/// writer that encodes straight into the connection's output. It must not block, and it cannot
/// keep the request: the view is valid only during the call (the compiler enforces it).
/// Reply with one of the writer's `send` methods, or `deferResponse()` to answer later. A
/// handler may throw: an `HTTPError` becomes that answer, any other error a 500 naming the
/// request (logged), when nothing was sent yet.
///
/// Cost: a direct closure call; nothing is allocated unless the handler allocates.
public typealias Handler = @Sendable (borrowing Request, inout ResponseWriter) throws -> Void
