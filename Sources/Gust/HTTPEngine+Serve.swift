import GustCore
import GustHTTP1
import GustIO

/// Why `serve` stopped taking requests from its bytes.
enum ServeStop: Equatable {
    /// Every byte was a complete request and was served.
    case drained
    /// The bytes end in a partial request, of which only the first `keep` bytes matter (a
    /// chunked body's framing is decoded away as it arrives).
    case needMore(keep: Int)
    /// A handler deferred its response; the rest waits for it.
    case awaiting
    /// A handler takes the body of the request whose head ends where `serve` stopped.
    case streaming
    /// The socket would not take more output (or a file is being sent); the rest waits.
    case blocked
    /// `maxPipelinedRequests` were served; the rest waits for the other connections' turn.
    case yielded
    /// The connection is to close once its output is written (error, or not keep-alive).
    case closing
    /// The connection was closed (a write failed); touch nothing of it.
    case closed
}

extension HTTPEngine {
    // MARK: Reading

    /// The connection is readable: read once (level-triggered epoll reports it again if more is
    /// waiting) and serve what arrived.
    func readAndServe(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        if let lease = c.pointee.input {
            makeRoomToRead(lease)
            guard let n = readOnce(id, c, into: lease.pointee.buffer.writePointer, count: lease.pointee.buffer.writableBytes),
                n > 0
            else { return }
            lease.pointee.buffer.writerIndex += n
            // More of a request head does not restart the header timeout (slowloris); body
            // bytes, or the start of a new request, restart their wait.
            let parser = lease.pointee.parser
            if !(parser.pointee.hasProgress && !parser.pointee.isHeadComplete) { c.pointee.since = nowNanoseconds }
            serveLease(id, c)
        } else {
            guard let n = readOnce(id, c, into: readBuffer, count: readBufferSize), n > 0 else { return }
            // A new connection's first request is timed from the accept.
            if c.pointee.requests > 0 { c.pointee.since = nowNanoseconds }
            serveReadBuffer(id, c, count: n)
        }
    }

    /// One `read` into `buffer`: the byte count, or nil when there was nothing to read. An
    /// error or the end of the stream (the client left) closes the connection and gives 0.
    @inline(__always)
    func readOnce(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, into buffer: UnsafeMutableRawPointer, count: Int) -> Int? {
        do {
            switch try System.read(c.pointee.fd, into: buffer, count: count) {
            case .processed(let n):
                if n == 0 { close(id, c) }
                return n
            case .wouldBlock:
                return nil
            }
        } catch {
            close(id, c)
            return 0
        }
    }

    /// Ensures the lease has room for a useful read: compacts it, and grows it toward what the
    /// current request still needs (never past the request limits plus one read buffer). A
    /// lease with 512 bytes free is not grown: a slow client's partial head stays in its first
    /// 1 KiB.
    func makeRoomToRead(_ lease: UnsafeMutablePointer<InputLease>) {
        let minimum = 512
        if lease.pointee.buffer.writableBytes >= minimum { return }
        if lease.pointee.buffer.readerIndex > 0 { lease.pointee.buffer.discardReadBytes() }
        let readable = lease.pointee.buffer.readableBytes
        // Double (amortized growth for long chunked bodies), or go straight to a known length.
        var wanted = readable + max(minimum, readable)
        let parser = lease.pointee.parser
        if parser.pointee.isHeadComplete, case .length(let n) = parser.pointee.bodyFraming {
            wanted = max(wanted, parser.pointee.headLength + Int(min(n, Int64(maximumBodyBytes))))
        }
        let ceiling = limits.maxHeadBytes + maximumBodyBytes + readBufferSize
        wanted = min(wanted, ceiling)
        if lease.pointee.buffer.capacity < wanted { lease.pointee.buffer.grow(minimumCapacity: wanted) }
    }

    /// Serves requests straight from the shared read buffer; a partial request left at the end
    /// moves into a lease together with its parser state and header slots.
    func serveReadBuffer(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, count: Int) {
        let bytes = UnsafeMutableRawBufferPointer(start: readBuffer, count: count)
        var sentContinue = false
        let mark = output.pointee.writerIndex
        // The scratch parser is fresh here: `serve` resets it after each request, and this
        // function after anything else (below), so a keep-alive read costs one reset, not two.
        let (consumed, stop) = serve(id, c, bytes, scratchParser, scratchHeaders, mark, &sentContinue)
        defer { if stop != .drained { scratchParser.pointee.reset() } }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
        switch stop {
        case .closed:
            return
        case .drained:
            break
        case .closing:
            if !rest.isEmpty { c.pointee.lingerOnClose = true }  // unread requests: drain them rather than reset
        case .needMore(let keep):
            let lease = takeInputLease(capacity: keep)
            lease.pointee.buffer.append(UnsafeRawBufferPointer(rebasing: rest[..<keep]))
            lease.pointee.parser.pointee = scratchParser.pointee
            lease.pointee.headers.update(from: scratchHeaders, count: scratchParser.pointee.headerCount)
            lease.pointee.sentContinue = sentContinue
            c.pointee.input = lease
        case .streaming:
            let lease = takeInputLease(capacity: 0)
            lease.pointee.parser.pointee = scratchParser.pointee
            c.pointee.input = lease
            attachPendingStream(lease)
            return streamBodyBytes(id, c, lease, rest, mark: mark, fromLease: false)
        case .awaiting, .blocked, .yielded:
            if !rest.isEmpty {
                let lease = takeInputLease(capacity: rest.count)
                lease.pointee.buffer.append(rest)
                c.pointee.input = lease
                if stop == .yielded { yieldTurn(id) }
            }
        }
        finishBatch(id, c, mark)
    }

    /// Serves requests from the connection's input lease (after more bytes arrived, after a
    /// deferred response was sent, after blocked output drained, or on its next turn).
    func serveLease(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let lease = c.pointee.input else { return finishBatch(id, c, output.pointee.writerIndex) }
        let mark = output.pointee.writerIndex
        let (consumed, stop) = serve(
            id, c, lease.pointee.buffer.mutableReadable, lease.pointee.parser, lease.pointee.headers, mark,
            &lease.pointee.sentContinue)
        if stop == .closed { return }
        lease.pointee.buffer.readerIndex += consumed
        switch stop {
        case .needMore(let keep):
            lease.pointee.buffer.writerIndex = lease.pointee.buffer.readerIndex + keep  // framing already decoded
        case .streaming:
            // The rest of the lease is body (and maybe what follows it): hand it over from here.
            attachPendingStream(lease)
            let rest = UnsafeRawBufferPointer(lease.pointee.buffer.readable)
            return streamBodyBytes(id, c, lease, rest, mark: mark, fromLease: true)
        case .yielded:
            yieldTurn(id)
        default:
            if lease.pointee.buffer.isEmpty || stop == .closing {
                if !lease.pointee.buffer.isEmpty { c.pointee.lingerOnClose = true }
                c.pointee.input = nil
                releaseInputLease(lease)
            }
        }
        finishBatch(id, c, mark)
    }

    // MARK: Serving

    /// Parses and handles every complete request in `bytes`, in order, appending the responses
    /// to `output`. Returns how many bytes it consumed and why it stopped.
    ///
    /// Cost per request: one parse pass, one route lookup, the handler, the encoding; a chunked
    /// body is decoded in place (one move per piece). With output beyond `flushThreshold` it
    /// writes early, and stops if the socket is full.
    func serve(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ bytes: UnsafeMutableRawBufferPointer,
        _ parser: UnsafeMutablePointer<RequestParser>, _ headers: UnsafeMutablePointer<HeaderSlot>,
        _ mark: Int, _ sentContinue: inout Bool
    ) -> (consumed: Int, stop: ServeStop) {
        var offset = 0
        var served = 0
        while offset < bytes.count {
            if served == maxPipelinedRequests { return (offset, .yielded) }
            let request = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
            let headLength: Int
            switch parser.pointee.parse(UnsafeRawBufferPointer(request), headers: headers, limits: limits) {
            case .needMore:
                return (offset, .needMore(keep: request.count))
            case .invalid(let error):
                respondToBadRequest(id, c, HTTPStatus.predefined(error.status) ?? .badRequest, error.description)
                return (offset, .closing)
            case .complete(let length):
                headLength = length
            }
            if parser.pointee.method == .other {
                // RFC 9110 §9.1: a method the server does not recognise gets 501. (Routes exist
                // only for the standard methods.)
                respondToBadRequest(id, c, .notImplemented, "method not implemented")
                return (offset, .closing)
            }
            let base = request.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let pathRange = parser.pointee.pathRange
            var match = routes.match(
                method: parser.pointee.method, path: UnsafeBufferPointer(start: base + pathRange.lowerBound, count: pathRange.count),
                pathOffset: pathRange.lowerBound)
            var bodyLimit = limits.maxBodyBytes
            var streams = false
            if case .route(let index) = match.outcome {
                let options = routes.options[index]
                bodyLimit = options.maxBodyBytes ?? bodyLimit
                streams = options.body == .stream
            }

            if streams && parser.pointee.bodyFraming != .none {
                // The handler runs now, and takes the body as it arrives.
                if case .length(let n) = parser.pointee.bodyFraming, n > Int64(bodyLimit) {
                    respondToBadRequest(id, c, .contentTooLarge, "body larger than \(bodyLimit) bytes")
                    return (offset, .closing)
                }
                sendContinueIfAsked(parser, &sentContinue)
                handle(id, c, base, parser, headers, &match, headLength..<headLength)
                switch c.pointee.phase {
                case .streamingBody:
                    pendingStreamLimit = bodyLimit
                    return (offset + headLength, .streaming)
                case .awaiting:
                    // Deferred without taking the body: it cannot be skipped safely. Close after.
                    c.pointee.deferredKeepAlive = false
                    c.pointee.lingerOnClose = true
                    return (offset + headLength, .awaiting)
                default:
                    // Answered without reading the body: close after the answer, draining the body.
                    c.pointee.phase = .closing
                    c.pointee.lingerOnClose = true
                    return (offset + headLength, .closing)
                }
            }

            // Most requests have no body: no call into the body reader for them.
            let bodyResult: BodyReadResult =
                parser.pointee.bodyFraming == .none
                ? .complete(body: headLength..<headLength, length: headLength)
                : parser.pointee.readBody(request, maxBodyBytes: bodyLimit)
            switch bodyResult {
            case .needMore(let keep):
                sendContinueIfAsked(parser, &sentContinue)
                return (offset, .needMore(keep: keep))
            case .tooLarge:
                respondToBadRequest(id, c, .contentTooLarge, "body larger than \(bodyLimit) bytes")
                return (offset, .closing)
            case .invalid(let error):
                respondToBadRequest(id, c, .badRequest, error.description)
                return (offset, .closing)
            case .complete(let body, let length):
                handle(id, c, base, parser, headers, &match, body)
                if c.pointee.phase == .streamingBody {
                    // `streamBody` on a buffered route: the body is all here; hand it over whole.
                    finishBufferedStream(id, c, UnsafeRawBufferPointer(rebasing: request[body]))
                }
                offset += length
            }
            parser.pointee.reset()
            sentContinue = false
            served += 1
            switch c.pointee.phase {
            case .awaiting: return (offset, .awaiting)
            case .closing: return (offset, .closing)
            default: break
            }
            if output.pointee.writerIndex - mark >= flushThreshold || c.pointee.file != nil {
                guard emit(id, c, from: mark) else { return (offset, .closed) }
                if c.pointee.output != nil || c.pointee.file != nil { return (offset, .blocked) }
            }
        }
        return (offset, .drained)
    }

    /// RFC 9110 §10.1.1: invite the body of an HTTP/1.1 request that asked (once per request).
    @inline(__always)
    func sendContinueIfAsked(_ parser: UnsafeMutablePointer<RequestParser>, _ sentContinue: inout Bool) {
        if parser.pointee.expectsContinue && !sentContinue && parser.pointee.version == .http1_1 {
            output.pointee.append("HTTP/1.1 100 Continue\r\n\r\n")
            sentContinue = true
        }
    }

    /// Runs the handler of one routed request whose body (if it is buffered) is `body`.
    func handle(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ base: UnsafePointer<UInt8>,
        _ parser: UnsafeMutablePointer<RequestParser>, _ headers: UnsafeMutablePointer<HeaderSlot>,
        _ match: inout RouteMatch, _ body: Range<Int>
    ) {
        counters.requests += 1
        c.pointee.requests &+= 1
        c.pointee.since = nowNanoseconds
        let method = parser.pointee.method
        var keepAlive = parser.pointee.keepAlive
        if maxRequestsPerConnection > 0 && Int(c.pointee.requests) >= maxRequestsPerConnection { keepAlive = false }
        var writer = ResponseWriter(
            engine: self, connection: id, keepAlive: keepAlive, isHead: method == .head,
            version: parser.pointee.version)
        withUnsafePointer(to: &match) { match in
            let request = Request(
                base: base, parser: parser, slots: headers, bodyOffset: body.lowerBound, bodyLength: body.count,
                match: match, routes: routes)
            handlerDepth += 1
            defer { handlerDepth -= 1 }
            switch match.pointee.outcome {
            case .route(let index):
                routes.handler(index)(request, &writer)
            case .methodNotAllowed(let node):
                writer.header("Allow", routes.allowValues[node])
                writer.send(.methodNotAllowed, "Method Not Allowed\n")
            case .notFound:
                if let notFound = routes.notFoundHandler {
                    notFound(request, &writer)
                } else {
                    writer.send(.notFound, "Not Found\n")
                }
            }
        }
        settle(id, c, &writer, isHead: method == .head, version: parser.pointee.version)
    }

    /// After a handler returned: a handler that neither sent nor deferred gets a 500 sent for
    /// it; a deferred response parks the connection; a streamed body starts; a response that
    /// closes marks the connection closing.
    func settle(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ writer: inout ResponseWriter,
        isHead: Bool, version: HTTPVersion
    ) {
        switch writer.state {
        case .sent:
            if !writer.keepAlive { c.pointee.phase = .closing }
            takeFile(c, &writer)
        case .deferred, .streaming:
            if !writer.headWritten { output.pointee.writerIndex = writer.start }  // drop headers added before deferring
            c.pointee.phase = writer.state == .deferred ? .awaiting : .streamingBody
            c.pointee.deferredKeepAlive = writer.keepAlive
            c.pointee.deferredIsHead = isHead
            c.pointee.deferredVersion = version
        case .pending:
            output.pointee.writerIndex = writer.start
            var fallback = ResponseWriter(
                engine: self, connection: id, keepAlive: writer.keepAlive, isHead: isHead,
                version: version, canDefer: false)
            fallback.send(.internalServerError, "Internal Server Error: the handler sent no response\n")
            if !fallback.keepAlive { c.pointee.phase = .closing }
        }
    }

    /// Answers a request the server will not serve, and marks the connection to close after it
    /// (lingering, so the answer is not lost to a reset).
    func respondToBadRequest(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ status: HTTPStatus, _ detail: String) {
        counters.badRequests += 1
        var writer = ResponseWriter(engine: self, connection: id, keepAlive: false, isHead: false, version: .http1_1, canDefer: false)
        writer.send(status, contentType: .plainTextUTF8, "\(status.reason): \(detail)\n")
        c.pointee.phase = .closing
        c.pointee.lingerOnClose = true
    }

    // MARK: Turns

    /// `id` served its share of pipelined requests: serve the rest after the other connections
    /// ready in this loop iteration.
    func yieldTurn(_ id: SlotID) {
        yielded.append(id)
        if yielded.count == 1 { reactor.runSoon(resumeYielded) }
    }

    /// Gives each connection that yielded its next turn (those still open, with nothing
    /// unsent: a connection waiting to write resumes when the socket drains).
    func serveYielded() {
        let turn = yielded
        yielded.removeAll(keepingCapacity: true)
        for id in turn {
            guard let c = connections.pointer(to: id), c.pointee.phase == .open, c.pointee.output == nil,
                c.pointee.file == nil, c.pointee.input != nil
            else { continue }
            serveLease(id, c)
        }
    }
}
