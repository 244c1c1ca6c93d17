import Logging

/// What any code a request's async handler calls can know about the request, without it being
/// passed along: its id, its deadline and a logger that names it. Bound as a task-local value
/// for the duration of the handler (`RequestContext.current`), so a database layer three calls
/// down can log with the request id or give up at the deadline.
///
///     RequestContext.current?.logger.info("cache miss")
///
/// Threading: a value; `current` is per task.
public struct RequestContext: Sendable {
    public let requestID: RequestID
    /// When the server stops waiting for the handler (it is then cancelled and answered 503),
    /// or nil with no deadline.
    public let deadline: ContinuousClock.Instant?
    let baseLogger: Logger

    init(requestID: RequestID, deadline: ContinuousClock.Instant?, logger: Logger) {
        self.requestID = requestID
        self.deadline = deadline
        baseLogger = logger
    }

    /// The server's logger with this request's id as `request-id` metadata (made on each
    /// access: keep it in a local when logging several times).
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request-id"] = "\(requestID)"
        return logger
    }

    /// The context of the request whose handler is running in the current task, if any.
    @TaskLocal public static var current: RequestContext?
}
