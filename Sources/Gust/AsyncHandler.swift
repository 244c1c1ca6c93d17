@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import HTTPTypes

/// An async handler: gets the request as an owned value and answers with a `Response`. It may
/// await anything (a database, another service, `offload`) and throw (an `HTTPError` is that
/// answer; any other error a 500 naming the request, logged).
///
///     router.get("/users/:id") { req in
///         guard let user = try await db.user(id: req.parameter("id")) else { throw HTTPError(.notFound) }
///         return .json(user)
///     }
///
/// Runs on the connection's reactor thread, in a task that prefers that reactor's executor:
/// it starts inside the request's turn and, if it never suspends, is answered in that turn like
/// an inline handler. If it suspends, the reactor serves other connections meanwhile, and the
/// task comes back to the same thread when what it awaited is done. A client that leaves
/// cancels the task; so does the deadline (`RouteOptions.deadline`, else the server's
/// `handlerDeadline`), which answers 503. `RequestContext.current` is bound for the call.
///
/// Cost: the task (about four allocations, made by the Swift runtime) and one for the request.
public typealias AsyncHandler = @Sendable (AsyncRequest) async throws -> Response

/// The engine, for code that runs in a task: touched only after checking that the task runs on
/// the engine's reactor thread (`handle.isCurrentThread`).
struct EngineReference: @unchecked Sendable {
    unowned(unsafe) let engine: HTTPEngine
}

extension ResponseWriter {
    /// Starts `handler` for `request` in a task on this reactor's executor. If the task finishes
    /// without suspending, its response is sent by this writer now; otherwise the response is
    /// deferred and the task answers it when it finishes.
    mutating func runAsync(_ request: AsyncRequest, _ handler: @escaping AsyncHandler, routeDeadline: Duration?) {
        let reference = EngineReference(engine: engine)
        let handle = engine.reactor.handle
        let connection = self.connection, sequence = self.sequence
        let deadline = routeDeadline ?? engine.handlerDeadline
        let context = RequestContext(
            requestID: request.id, deadline: deadline.map { ContinuousClock.now + $0 }, logger: engine.logger)
        let token = engine.beginAsyncStart()
        let task = Task.immediate(executorPreference: handle.executor) {
            let outcome: Result<Response, any Error>
            do {
                outcome = .success(try await RequestContext.$current.withValue(context) { try await handler(request) })
            } catch {
                outcome = .failure(error)
            }
            // The task prefers the reactor's executor, so it ends on the reactor's thread while
            // the reactor runs. Should it end elsewhere, the answer travels there as a job
            // (dropped if the reactor has stopped: nobody waits any more).
            guard handle.isCurrentThread else {
                handle.execute { reactor in
                    (reactor.delegate as? HTTPEngine)?.asyncHandlerFinished(token, connection, sequence, request, outcome)
                }
                return
            }
            reference.engine.asyncHandlerFinished(token, connection, sequence, request, outcome)
        }
        if let response = engine.endAsyncStart(token) {
            send(response)
        } else {
            _ = deferResponse()
            engine.trackAsync(connection, sequence, task, request.id, deadline)
        }
    }
}

extension Router {
    /// Adds an async route. Re-adding the same method and pattern replaces the earlier handler.
    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        precondition(options.body == .buffer, "async handlers get the whole body: use RouteOptions(body: .buffer)")
        let deadline = options.deadline
        on(method, pattern, options: options) { (request: borrowing Request, res: inout ResponseWriter) in
            res.runAsync(AsyncRequest(copying: request), handler, routeDeadline: deadline)
        }
    }

    public func get(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.get, pattern, options: options, handler)
    }
    public func head(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.head, pattern, options: options, handler)
    }
    public func post(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.post, pattern, options: options, handler)
    }
    public func put(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.put, pattern, options: options, handler)
    }
    public func delete(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.delete, pattern, options: options, handler)
    }
    public func patch(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.patch, pattern, options: options, handler)
    }
    public func options(_ pattern: String, options: RouteOptions = RouteOptions(), _ handler: @escaping AsyncHandler) {
        on(.options, pattern, options: options, handler)
    }
}
