import GustCore
import GustHTTP1
import GustIO

/// Why `serve` stopped taking requests from its bytes.
enum ServeStop {
    /// Every byte was a complete request and was served.
    case drained
    /// The bytes end in a partial request.
    case needMore
    /// A handler deferred its response; the rest waits for it.
    case awaiting
    /// The socket would not take more output; the rest waits for it to drain.
    case blocked
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
        let fd = c.pointee.fd
        if let lease = c.pointee.input {
            makeRoomToRead(lease)
            let n: Int
            do {
                switch try System.read(fd, into: lease.pointee.buffer.writePointer, count: lease.pointee.buffer.writableBytes) {
                case .processed(let count): n = count
                case .wouldBlock: return
                }
            } catch {
                return close(id, c)
            }
            guard n > 0 else { return close(id, c) }  // the client left mid-request
            lease.pointee.buffer.writerIndex += n
            serveLease(id, c)
        } else {
            let n: Int
            do {
                switch try System.read(fd, into: readBuffer, count: readBufferSize) {
                case .processed(let count): n = count
                case .wouldBlock: return
                }
            } catch {
                return close(id, c)
            }
            guard n > 0 else { return close(id, c) }
            serveReadBuffer(id, c, count: n)
        }
    }

    /// Ensures the lease has room for a useful read: compacts it, and grows it toward what the
    /// current request still needs (never past the request limits plus one read buffer).
    func makeRoomToRead(_ lease: UnsafeMutablePointer<InputLease>) {
        let minimum = 2048
        if lease.pointee.buffer.writableBytes >= minimum { return }
        if lease.pointee.buffer.readerIndex > 0 { lease.pointee.buffer.discardReadBytes() }
        var wanted = lease.pointee.buffer.readableBytes + minimum
        let parser = lease.pointee.parser
        if parser.pointee.isHeadComplete && parser.pointee.contentLength > 0 {
            wanted = max(wanted, parser.pointee.headLength + Int(parser.pointee.contentLength))
        }
        let ceiling = limits.maxHeadBytes + limits.maxBodyBytes + readBufferSize
        wanted = min(wanted, ceiling)
        if lease.pointee.buffer.capacity < wanted { lease.pointee.buffer.grow(minimumCapacity: wanted) }
    }

    /// Serves requests straight from the shared read buffer; a partial request left at the end
    /// moves into a lease together with its parser state and header slots.
    func serveReadBuffer(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, count: Int) {
        let bytes = UnsafeRawBufferPointer(start: readBuffer, count: count)
        scratchParser.pointee.reset()
        var sentContinue = false
        let mark = output.pointee.writerIndex
        let (consumed, stop) = serve(id, c, bytes, scratchParser, scratchHeaders, mark, &sentContinue)
        if stop == .closed { return }
        let leftover = count - consumed
        if leftover > 0 {
            if stop == .closing {
                c.pointee.lingerOnClose = true  // unread requests: drain them rather than reset
            } else {
                let lease = takeInputLease(capacity: leftover)
                lease.pointee.buffer.append(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
                lease.pointee.parser.pointee = scratchParser.pointee
                lease.pointee.headers.update(from: scratchHeaders, count: scratchParser.pointee.headerCount)
                lease.pointee.sentContinue = sentContinue
                c.pointee.input = lease
            }
        }
        finishBatch(id, c, mark)
    }

    /// Serves requests from the connection's input lease (after more bytes arrived, after a
    /// deferred response was sent, or after blocked output drained).
    func serveLease(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) {
        guard let lease = c.pointee.input else { return finishBatch(id, c, output.pointee.writerIndex) }
        let mark = output.pointee.writerIndex
        let (consumed, stop) = serve(
            id, c, lease.pointee.buffer.readable, lease.pointee.parser, lease.pointee.headers, mark,
            &lease.pointee.sentContinue)
        if stop == .closed { return }
        lease.pointee.buffer.readerIndex += consumed
        if lease.pointee.buffer.isEmpty || stop == .closing {
            if !lease.pointee.buffer.isEmpty { c.pointee.lingerOnClose = true }
            c.pointee.input = nil
            releaseInputLease(lease)
        }
        finishBatch(id, c, mark)
    }

    // MARK: Serving

    /// Parses and handles every complete request in `bytes`, in order, appending the responses
    /// to `output`. Returns how many bytes it consumed and why it stopped.
    ///
    /// Cost per request: one parse pass, one route lookup, the handler, the encoding. With output
    /// beyond `flushThreshold` it writes early, and stops if the socket is full.
    func serve(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ bytes: UnsafeRawBufferPointer,
        _ parser: UnsafeMutablePointer<RequestParser>, _ headers: UnsafeMutablePointer<HeaderSlot>,
        _ mark: Int, _ sentContinue: inout Bool
    ) -> (consumed: Int, stop: ServeStop) {
        var offset = 0
        while offset < bytes.count {
            let remaining = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch parser.pointee.parse(remaining, headers: headers, limits: limits) {
            case .needMore:
                return (offset, .needMore)

            case .invalid(let error):
                respondToBadRequest(id, c, HTTPStatus.predefined(error.status) ?? .badRequest, error.description)
                return (offset, .closing)

            case .complete(let headLength):
                if parser.pointee.hasTransferEncoding {
                    respondToBadRequest(id, c, .notImplemented, "Transfer-Encoding is not supported")
                    return (offset, .closing)
                }
                let contentLength = parser.pointee.contentLength
                if contentLength > Int64(limits.maxBodyBytes) {
                    respondToBadRequest(id, c, .contentTooLarge, "body larger than \(limits.maxBodyBytes) bytes")
                    return (offset, .closing)
                }
                let bodyLength = Int(max(contentLength, 0))
                if remaining.count - headLength < bodyLength {
                    // RFC 9110 §10.1.1: invite the body (HTTP/1.1 clients only).
                    if parser.pointee.expectsContinue && !sentContinue && parser.pointee.version == .http1_1 {
                        output.pointee.append("HTTP/1.1 100 Continue\r\n\r\n")
                        sentContinue = true
                    }
                    return (offset, .needMore)
                }
                handle(id, c, remaining.baseAddress!.assumingMemoryBound(to: UInt8.self), parser, headers, headLength, bodyLength)
                offset += headLength + bodyLength
                parser.pointee.reset()
                sentContinue = false
                switch c.pointee.phase {
                case .awaiting: return (offset, .awaiting)
                case .closing: return (offset, .closing)
                default: break
                }
                if output.pointee.writerIndex - mark >= flushThreshold {
                    guard emit(id, c, from: mark) else { return (offset, .closed) }
                    if c.pointee.output != nil { return (offset, .blocked) }
                }
            }
        }
        return (offset, .drained)
    }

    /// Routes one complete request and runs its handler.
    func handle(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ base: UnsafePointer<UInt8>,
        _ parser: UnsafeMutablePointer<RequestParser>, _ headers: UnsafeMutablePointer<HeaderSlot>,
        _ headLength: Int, _ bodyLength: Int
    ) {
        counters.requests += 1
        c.pointee.requests &+= 1
        let method = parser.pointee.method
        let pathRange = parser.pointee.pathRange
        var match = routes.match(
            method: method, path: UnsafeBufferPointer(start: base + pathRange.lowerBound, count: pathRange.count),
            pathOffset: pathRange.lowerBound)
        var writer = ResponseWriter(
            engine: self, connection: id, keepAlive: parser.pointee.keepAlive, isHead: method == .head,
            version: parser.pointee.version)
        withUnsafePointer(to: &match) { match in
            let request = Request(
                base: base, parser: parser, slots: headers, bodyOffset: headLength, bodyLength: bodyLength,
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
    /// it; a deferred response parks the connection; a response that closes marks it closing.
    func settle(
        _ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ writer: inout ResponseWriter,
        isHead: Bool, version: HTTPVersion
    ) {
        switch writer.state {
        case .sent:
            if !writer.keepAlive { c.pointee.phase = .closing }
        case .deferred:
            output.pointee.writerIndex = writer.start  // drop headers added before deferring
            c.pointee.phase = .awaiting
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
}
