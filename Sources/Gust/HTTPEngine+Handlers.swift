@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// The only place the engine calls application code: route handlers, body pieces, the end of a
/// body, abort notices, late answers and drain waiters. Every function here takes the
/// connection's ID, never a pointer to its record: the caller looks the record up again
/// afterwards. (Application code cannot close a connection or write to it directly; what it
/// asks for is queued, `HTTPEngine+Work`.)
extension HTTPEngine {
    /// Runs the handler routed for the request at the start of `pass`. A handler that throws
    /// before answering is answered for (`HTTPError`: its answer; anything else: 500, logged).
    func callHandler(_ id: SlotID, _ pass: RequestPass, _ invocation: Invocation, _ match: inout RouteMatch) -> HandlerResult {
        var writer = ResponseWriter(engine: self, connection: id, answer: invocation.answer, canDefer: true, canStream: true)
        withUnsafePointer(to: &match) { match in
            let request = Request(
                base: pass.requestBase, parser: pass.parser, slots: pass.headers, bodyOffset: invocation.body.lowerBound,
                bodyLength: invocation.body.count, match: match, routes: routes,
                id: RequestID(reactor: reactorID, number: counters.requests))
            do {
                if case .route(let index) = match.pointee.outcome {
                    watch.tag.store(index, ordering: .relaxed)  // for the watchdog (a plain store)
                    try routes.handler(index)(request, &writer)
                } else if case .overRate = match.pointee.outcome {
                    answerOverRate(&writer, request, client: clientKeys?[Int(id.index)] ?? .local)
                } else {
                    watch.tag.store(ReactorWatchdog.fallbackTag, ordering: .relaxed)
                    try routes.fallback(request, &writer)  // 404 or 405, inside the router's middleware
                }
            } catch {
                handlerThrew(error, request, &writer)
            }
        }
        return writer.result()
    }

    /// An inline handler threw: its answer, if it had not answered yet; logged otherwise.
    func handlerThrew(_ error: any Error, _ request: borrowing Request, _ writer: inout ResponseWriter) {
        let route = request.routePattern
        guard !writer.isSent else {
            counters.handlerErrors += 1
            logger.error(
                "handler failed after answering", metadata: ["request-id": "\(request.id)", "route": "\(route ?? "-")", "error": "\(String(reflecting: error))"])
            return
        }
        writer.discardHeaders()
        writer.send(errorResponse(error, requestID: request.id, route: route))
    }

    /// Hands one piece of body to the handler taking it. The handler may answer (the answer
    /// closes the connection: the rest of the body is still coming) and may pause.
    func deliverPiece(_ id: SlotID, _ stream: BodyStream, _ piece: UnsafeRawBufferPointer, _ context: AnswerContext) -> HandlerResult {
        stream.bytesReceived += Int64(piece.count)
        var closing = context
        closing.keepAlive = false
        var writer = ResponseWriter(engine: self, connection: id, answer: closing, canDefer: false, canStream: false)
        stream.delivering = true
        stream.handler(.data(BodyChunk(piece)), &writer, stream)
        stream.delivering = false
        var result = writer.result()
        if case .responded = result.answer { stream.isFinished = true } else { result.answer = .nothing }
        return result
    }

    /// The body is complete: the handler answers now (or defers, or starts a stream).
    func deliverEnd(_ id: SlotID, _ stream: BodyStream, _ context: AnswerContext) -> HandlerResult {
        stream.isFinished = true
        var writer = ResponseWriter(engine: self, connection: id, answer: context, canDefer: true, canStream: false)
        stream.handler(.end, &writer, stream)
        return writer.result()
    }

    /// Tells a body handler its body will not complete. Its writer can no longer send.
    func deliverAbort(_ stream: BodyStream, _ reason: BodyAbort) {
        guard !stream.isFinished else { return }
        stream.isFinished = true
        let mark = output.pointee.writerIndex
        var writer = ResponseWriter(engine: self, connection: stream.connection, answer: .serverClosing, canDefer: false, canStream: false)
        writer.state = .sent
        stream.handler(.aborted(reason), &writer, stream)
        _ = writer.result()
        output.pointee.writerIndex = mark
    }

    /// Runs a late answer (a deferred response) with a writer for it: it may send, or start a
    /// response stream.
    func callLateAnswer(_ id: SlotID, _ context: AnswerContext, _ body: (inout ResponseWriter) -> Void) -> HandlerResult {
        var writer = ResponseWriter(engine: self, connection: id, answer: context, canDefer: false, canStream: false, lateStream: true)
        body(&writer)
        return writer.result()
    }

    /// The output of a streamed response drained: runs its waiter, if it has one.
    func notifyDrained(_ id: SlotID) {
        guard let stream = responseStreams[id.packed], let waiter = stream.drainHandler else { return }
        stream.drainHandler = nil
        waiter()
    }

    // MARK: Answers the server gives itself

    /// Answers a request the server will not serve (the machine closes the connection after).
    func respond(to why: Rejection, _ id: SlotID) {
        switch why {
        case .timedOut, .bodyTooSlow: break
        default: counters.badRequests += 1
        }
        let status = HTTPStatus.predefined(why.status) ?? .badRequest
        var writer = ResponseWriter(engine: self, connection: id, answer: .serverClosing, canDefer: false, canStream: false)
        writer.send(status, contentType: .plainTextUTF8, "\(status.reason): \(why.detail)\n")
        _ = writer.result()
    }

    /// A handler that neither answered nor deferred: 500 on its behalf.
    func answerForHandler(_ id: SlotID, keepAlive: Bool, _ context: AnswerContext) {
        var fallback = context
        fallback.keepAlive = keepAlive
        var writer = ResponseWriter(engine: self, connection: id, answer: fallback, canDefer: false, canStream: false)
        writer.send(.internalServerError, "Internal Server Error: the handler sent no response\n")
        _ = writer.result()
    }

    /// `RFC 9110 §10.1.1`: the interim response inviting a body.
    func appendContinue() {
        output.pointee.append("HTTP/1.1 100 Continue\r\n\r\n")
    }

    // MARK: What handlers leave behind

    /// The connection takes what the handler's writer leaves it: the file its response ends
    /// with, a response stream (from now on written through the connection's output), a body
    /// stream (into the input lease, with the route's limit), a protocol to hand off to.
    func adopt(_ result: inout HandlerResult, _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, bodyLimit: Int) {
        if let file = result.file {
            result.file = nil
            startFile(c, file)
        }
        if let stream = result.attachment.response {
            stream.isAttached = true
            responseStreams[id.packed] = stream
        } else if let stream = result.attachment.body {
            if case .takingBody = result.answer {
                let lease = c.pointee.input ?? takeInputLease(capacity: 0)
                c.pointee.input = lease
                lease.pointee.stream = stream
                lease.pointee.streamLimit = bodyLimit
            }
        } else if let handler = result.attachment.upgrade {
            pendingUpgrades[id.packed] = handler
        }
        result.attachment = WriterAttachment()
    }

    /// What a handler left for a connection that is gone: its file is closed, its streams end.
    func discard(_ result: consuming HandlerResult) {
        if let file = result.file { System.close(file.fd) }
        result.attachment.response?.connectionClosed()
        result.attachment.body?.isFinished = true
    }
}

extension AnswerContext {
    /// What the server's own answers are encoded with (a rejection, a writer that can no
    /// longer send): HTTP/1.1, not HEAD, the connection closing after.
    static let serverClosing = AnswerContext(keepAlive: false, isHead: false, version: .http1_1, sequence: 0)
}
