@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Logging

/// What any code a request's async handler calls can know about the request, without it being
/// passed along: the request itself, its id, its deadline and a logger that names it. Bound as
/// a task-local value for the duration of the handler (`RequestContext.current`), so a database
/// layer three calls down can log with the request id or give up at the deadline.
///
///     RequestContext.current?.logger.info("cache miss")
///
/// Threading: a value (one reference); `current` is per task.
public struct RequestContext: Sendable {
    /// The request being handled.
    public let request: AsyncRequest

    public var requestID: RequestID { request.id }

    /// When the server stops waiting for the handler (it is then cancelled and answered 503),
    /// or nil with no deadline.
    public var deadline: ContinuousClock.Instant? {
        let deadline = request.storage.field { $0.pointee.start.deadline }
        guard deadline != .max else { return nil }
        return ContinuousClock.now.advanced(by: .nanoseconds(deadline &- System.monotonicNow().nanoseconds))
    }

    /// The server's logger with this request's id as `request-id` metadata (made on each
    /// access: keep it in a local when logging several times).
    public var logger: Logger {
        var logger = request.storage.field { $0.pointee.start.logging.logger }
        logger[metadataKey: "request-id"] = "\(requestID)"
        return logger
    }

    /// The context of the request whose handler is running in the current task, if any.
    @TaskLocal public static var current: RequestContext?
}
