@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import HTTPTypes
import Logging

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

/// A response stream handed from the reactor to the task that writes it, which runs on the
/// same reactor (`@unchecked`: the stream is reactor-confined, and so is its user).
struct StreamHandOff: @unchecked Sendable {
    let stream: ResponseStream?
}

/// A streamed answer waiting for its task to write it.
struct StreamedAnswer {
    let response: Response
    let body: @Sendable (ResponseBodyWriter) async throws -> Void
}

/// What an async request's task needs, kept in the request's storage. Plain fields of known
/// layout (no optionals, no resilient types): it is read on every request.
struct AsyncStart {
    let handler: AsyncHandler
    let engine: EngineReference
    let handle: ReactorHandle
    /// The server's logger (shared, immutable).
    let logging: LoggerBox
    /// Names the task's start (`HTTPEngine.beginAsyncStart`).
    let token: UInt64
    let connection: SlotID
    let sequence: UInt32
    /// The deadline on the reactors' monotonic clock (nanoseconds), or `Int64.max` for none.
    let deadline: Int64
    /// A streamed body's channel (routes with `RouteOptions(body: .stream)`).
    let body: BodyChannel?
}

/// A logger behind one reference (copied into every request as a retain, not as a value).
final class LoggerBox: Sendable {
    let logger: Logger
    init(_ logger: Logger) { self.logger = logger }
}

extension ResponseWriter {
    /// Starts `handler` for the request in a task on this reactor's executor. If the task
    /// finishes without suspending, its response is sent by this writer now; otherwise the
    /// response is deferred and the task answers it when it finishes.
    mutating func runAsync(_ request: borrowing Request, _ handler: @escaping AsyncHandler, routeDeadline: Duration?, streamingBody: Bool = false) {
        let handle = engine.handle
        let deadline = routeDeadline ?? engine.handlerDeadline
        let engine = self.engine
        let connection = self.connection, sequence = self.sequence
        let owned = AsyncRequest(
            copying: request,
            start: AsyncStart(
                handler: handler, engine: EngineReference(engine: engine), handle: handle, logging: engine.logging,
                token: engine.nextAsyncToken(), connection: connection, sequence: sequence,
                deadline: deadline.map { engine.nowNanoseconds.addingSaturating($0.nanoseconds) } ?? .max,
                body: streamingBody ? BodyChannel(engine: engine, connection: connection) : nil))
        // While the task starts, an answer it gives goes straight into this writer (reached only
        // through the pointer meanwhile).
        let (task, answered) = withUnsafeMutablePointer(to: &self) { writer in
            engine.beginAsyncStart(owned, writer)
            let task = Task.immediate(executorPreference: handle.executor) { await AsyncRoute.runTask(owned) }
            return (task, engine.endAsyncStart())
        }
        guard !answered else {
            // A stream the task started without suspending, whose body is still being written:
            // tracked, so that a client that leaves cancels the task.
            if let stream = attachment.response, !stream.isFinished { engine.trackAsync(connection, sequence, task, owned.id, nil) }
            return
        }
        let channel = owned.storage.field { $0.pointee.start.body }
        if let channel {
            // The task waits (for its body, or anything): the body flows to it from now on.
            let stream = streamBody { part, writer, stream in channel.deliver(part, &writer, stream) }
            // A handler already waiting for its body invites it now (100 Continue); one that
            // suspended on something else invites it when it first reads.
            stream.holdsContinue = channel.waiters.isEmpty
            channel.stream = stream
        } else {
            _ = deferResponse()
        }
        engine.trackAsync(connection, sequence, task, owned.id, deadline, body: channel)
    }
}

enum AsyncRoute {
    /// The body of a request's task: the handler, with the request's context bound, then its
    /// answer handed to the engine.
    static func run(_ request: AsyncRequest) async {
        // (Kept small: this frame and the handler's share the task's first allocator slab.)
        let handler = request.storage.handler
        let response: Response
        do {
            response = try await RequestContext.$current.withValue(RequestContext(request: request)) { try await handler(request) }
        } catch {
            return finish(request, .failure(error))
        }
        finish(request, .success(response))
    }

    /// The task's whole body: the handler, then a streamed answer's body if it has one (kept
    /// apart so that the frames live while the handler runs stay small: with a stream's state
    /// among them, every task needed a second allocator slab).
    static func runTask(_ request: AsyncRequest) async {
        await run(request)
        guard let streamed = request.storage.field({ $0.pointee.streamed.take() }) else { return }
        await stream(request, streamed.response, streamed.body)
    }

    /// Sends a streamed answer: the head (now, or from the work queue), then `body` writes the
    /// rest in this task. A body that fails midway closes the connection (and is logged).
    static func stream(_ request: AsyncRequest, _ response: Response, _ body: @Sendable (ResponseBodyWriter) async throws -> Void) async {
        let (handle, reference) = request.storage.field { ($0.pointee.start.handle, $0.pointee.start.engine) }
        guard handle.isCurrentThread else { return }  // the reactor has stopped
        let engine = reference.engine
        var started = engine.startStreamNow(request, response)
        if started == nil, let channel = request.storage.field({ $0.pointee.start.body }) {
            // A streamed answer to a request whose body is still coming: the rest of the body is
            // read (and dropped) first, so that the answer follows the whole request.
            do {
                while try await channel.next() != nil {}
            } catch {
                return  // the body did not complete: the connection is closing
            }
            guard handle.isCurrentThread else { return }  // the reactor stopped meanwhile
        }
        if started == nil {
            started = await withCheckedContinuation { engine.queueStreamStart(request, response, $0) }.stream
        }
        guard let stream = started else { return }  // the client left
        await pump(stream, body, request)
        if handle.isCurrentThread { engine.asyncStreamEnded(request) }
    }

    /// Runs `body` on `stream`, then ends it (or aborts it if `body` throws).
    static func pump(_ stream: ResponseStream, _ body: @Sendable (ResponseBodyWriter) async throws -> Void, _ request: AsyncRequest?) async {
        do {
            try await body(ResponseBodyWriter(stream))
            stream.finish()
        } catch {
            if !(error is ResponseBodyWriter.ClientGone || error is CancellationError), let request {
                let logger = request.storage.field { $0.pointee.start.logging.logger }
                logger.error("streamed body failed", metadata: ["request-id": "\(request.id)", "error": "\(String(reflecting: error))"])
            }
            stream.abort()
        }
    }

    /// Hands the handler's outcome to the engine, on the reactor's thread. (Never inlined:
    /// inlined into `run`, its locals made `run`'s async frame 768 bytes, and every task need a
    /// second allocator slab.)
    @inline(never)
    static func finish(_ request: AsyncRequest, _ outcome: consuming Result<Response, any Error>) {
        if case .success(let response) = outcome, case .stream(let body) = response.body.storage {
            // Written by `runTask` once `run` has returned.
            return request.storage.field { $0.pointee.streamed = StreamedAnswer(response: response, body: body) }
        }
        let (handle, engine) = request.storage.field { ($0.pointee.start.handle, $0.pointee.start.engine) }
        // The task prefers the reactor's executor, so it ends on the reactor's thread while
        // the reactor runs. Should it end elsewhere, the answer travels there as a job
        // (dropped if the reactor has stopped: nobody waits any more).
        guard handle.isCurrentThread else {
            let outcome = outcome
            handle.execute { reactor in (reactor.delegate as? HTTPEngine)?.asyncHandlerFinished(request, outcome) }
            return
        }
        engine.engine.asyncHandlerFinished(request, outcome)
    }
}
