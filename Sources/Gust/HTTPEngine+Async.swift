@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Logging

/// An async handler's task that suspended: the connection waits for its answer.
struct AsyncTaskRecord {
    let sequence: UInt32
    let task: Task<Void, Never>
    let requestID: RequestID
    /// The deadline's timer, if the handler has one.
    var timer: TimerID?
    /// The channel of a streamed request body, if the handler takes one.
    var body: BodyChannel?
}

/// Async handlers (`AsyncHandler.swift`) on the engine's side: the answer of a task that never
/// suspended, the tasks that did (cancelled when their client leaves, answered 503 at their
/// deadline), and turning what a handler threw into an answer. Reactor thread only.
extension HTTPEngine {
    /// A token that names one task's start.
    func nextAsyncToken() -> UInt64 {
        asyncStarts &+= 1
        return asyncStarts
    }

    /// Marks the start of `request`'s task: an answer it gives before `endAsyncStart` is
    /// written by `writer` (valid until then: the caller's `inout` writer).
    func beginAsyncStart(_ request: AsyncRequest, _ writer: UnsafeMutablePointer<ResponseWriter>) {
        startingAsync = request.storage.field { $0.pointee.start.token }
        startingWriter = writer
    }

    /// Ends the start of a task; whether it answered (without suspending).
    func endAsyncStart() -> Bool {
        startingAsync = 0
        defer { startingWriter = nil }
        return startingWriter == nil
    }

    /// A task suspended: its connection waits (deferred), and its deadline, if any, is armed.
    func trackAsync(
        _ id: SlotID, _ sequence: UInt32, _ task: Task<Void, Never>, _ requestID: RequestID, _ deadline: Duration?, body: BodyChannel? = nil
    ) {
        var record = AsyncTaskRecord(sequence: sequence, task: task, requestID: requestID, timer: nil, body: body)
        if let deadline {
            record.timer = reactor.schedule(after: deadline) { [unowned self] in asyncDeadlinePassed(id, sequence, deadline) }
        }
        asyncTasks[id.packed] = record
    }

    /// A handler's task finished, on this reactor's thread: its answer is written by the
    /// writer that started it (the task never suspended: we are still inside that handler's
    /// call), or queued (later), or dropped when nobody waits any more.
    func asyncHandlerFinished(_ request: AsyncRequest, _ outcome: consuming Result<Response, any Error>) {
        let (token, id, sequence) = request.storage.field {
            ($0.pointee.start.token, $0.pointee.start.connection, $0.pointee.start.sequence)
        }
        let response = answer(for: outcome, request)
        if token == startingAsync, let writer = startingWriter {
            startingWriter = nil
            return writer.pointee.send(response)
        }
        guard let record = asyncTasks[id.packed], record.sequence == sequence else { return }  // answered at the deadline, or gone
        asyncTasks.removeValue(forKey: id.packed)
        if let timer = record.timer { reactor.cancelTimer(timer) }
        answerLate(id, sequence, response, body: record.body)
    }

    /// The answer to a task that had suspended: queued like any deferred answer, or, while its
    /// streamed body is still coming, sent at once (the connection closes after it).
    func answerLate(_ id: SlotID, _ sequence: UInt32, _ response: Response, body channel: BodyChannel?) {
        if let channel, !channel.deferred { return channel.answerEarly(response) }
        _ = queueResponse(id, sequence, response)
    }

    /// A handler's task answered with a stream: its head goes out now, by the writer that
    /// started the task (it never suspended), and the stream is returned; nil when the stream
    /// has to wait for the work queue (`queueStreamStart`), or nobody waits any more.
    func startStreamNow(_ request: AsyncRequest, _ response: Response) -> ResponseStream? {
        let token = request.storage.field { $0.pointee.start.token }
        guard token == startingAsync, let writer = startingWriter else { return nil }
        startingWriter = nil
        return writer.pointee.startStream(for: response)
    }

    /// A handler's task answered with a stream after it suspended: its head goes out from the
    /// work queue, and `continuation` gets the stream (nil if the client left meanwhile). The
    /// deadline no longer applies; the task stays tracked (a client that leaves cancels it).
    func queueStreamStart(_ request: AsyncRequest, _ response: Response, _ continuation: CheckedContinuation<StreamHandOff, Never>) {
        let (id, sequence) = request.storage.field { ($0.pointee.start.connection, $0.pointee.start.sequence) }
        guard var record = asyncTasks[id.packed], record.sequence == sequence, canQueueAnswer(id, sequence) else {
            return continuation.resume(returning: StreamHandOff(stream: nil))
        }
        if let timer = record.timer { reactor.cancelTimer(timer) }
        record.timer = nil
        asyncTasks[id.packed] = record
        enqueue(.startStream(id, sequence, response, continuation))
    }

    /// A handler's streamed body ended (or failed): its task is no longer tracked.
    func asyncStreamEnded(_ request: AsyncRequest) {
        let (id, sequence) = request.storage.field { ($0.pointee.start.connection, $0.pointee.start.sequence) }
        if let record = asyncTasks[id.packed], record.sequence == sequence { asyncTasks.removeValue(forKey: id.packed) }
    }

    /// The deadline passed: the task is cancelled and the request answered.
    func asyncDeadlinePassed(_ id: SlotID, _ sequence: UInt32, _ deadline: Duration) {
        guard let record = asyncTasks[id.packed], record.sequence == sequence else { return }
        asyncTasks.removeValue(forKey: id.packed)
        enqueue(.cancelTask(record.task))
        counters.deadlinesMissed += 1
        logger.warning("handler missed its deadline", metadata: ["request-id": "\(record.requestID)", "deadline": "\(deadline)"])
        let response = Response(
            status: .init(code: deadlineStatus.code, reasonPhrase: deadlineStatus.reason), contentType: .plainTextUTF8,
            body: .string("\(deadlineStatus.reason): no answer within \(deadline) (request \(record.requestID))\n"))
        answerLate(id, sequence, response, body: record.body)
    }

    /// Connection `id` is gone: its task, if one is under way, is cancelled (from the work
    /// queue: cancellation handlers are application code).
    func dropAsyncTask(_ id: SlotID) {
        guard let record = asyncTasks.removeValue(forKey: id.packed) else { return }
        if let timer = record.timer { reactor.cancelTimer(timer) }
        enqueue(.cancelTask(record.task))
    }

    /// The client half-closed while its handler runs: taken as gone (as nginx and Go do), so the
    /// task is cancelled; an answer it still gives is delivered.
    func cancelAsyncTask(_ id: SlotID) {
        guard let record = asyncTasks[id.packed] else { return }
        enqueue(.cancelTask(record.task))
    }

    /// The response for what a handler returned or threw; JSON bodies are encoded here.
    func answer(for outcome: Result<Response, any Error>, _ request: AsyncRequest) -> Response {
        do {
            var response = try outcome.get()
            if case .json(let value) = response.body.storage {
                response.body = try routes.jsonCoding.encode(value.value)
            }
            return response
        } catch {
            return errorResponse(error, requestID: request.id, route: request.routePattern)
        }
    }

    /// What a handler's error becomes: an `HTTPError` its own answer; a cancellation (the client
    /// left, or the deadline passed: the answer is likely dropped) 503; anything else 500 naming
    /// the request, and logged.
    func errorResponse(_ error: any Error, requestID: RequestID, route: String?) -> Response {
        if let error = error as? HTTPError { return error.response }
        if error is RequestBodyError {
            // The body did not complete: the server answered it itself (400, 408, 413) or the
            // client is gone. Not the handler's failure: nothing is logged.
            return Response(status: .badRequest, contentType: .plainTextUTF8, body: .string("Bad Request: the body did not complete\n"))
        }
        if error is CancellationError {
            return Response(status: .serviceUnavailable, contentType: .plainTextUTF8, body: .string("Service Unavailable: request cancelled\n"))
        }
        counters.handlerErrors += 1
        logger.error(
            "handler failed", metadata: ["request-id": "\(requestID)", "route": "\(route ?? "-")", "error": "\(String(reflecting: error))"])
        return Response(
            status: .internalServerError, contentType: .plainTextUTF8,
            body: .string("Internal Server Error (request \(requestID))\n"))
    }
}
