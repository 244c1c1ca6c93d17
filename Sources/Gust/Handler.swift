@_spi(GustInternal) import GustHTTP1

/// An inline handler: runs on the reactor thread with a borrowed view of the request and a
/// writer that encodes straight into the connection's output. It must not block, and it cannot
/// keep the request: the view is valid only during the call (the compiler enforces it).
/// Reply with one of the writer's `send` methods, or `deferResponse()` to answer later.
///
/// Cost: a direct closure call; nothing is allocated unless the handler allocates.
public typealias Handler = @Sendable (borrowing Request, inout ResponseWriter) -> Void
