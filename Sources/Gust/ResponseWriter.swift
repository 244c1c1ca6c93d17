@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// Writes one response straight into the reactor's output buffer: status line, `Server`,
/// `Content-Type`, `Content-Length`, `Date`, `Connection` when needed, any headers added with
/// `header(_:_:)`, then the body. Everything but the body and custom headers is precomputed
/// bytes; the `Date` line is re-formatted once a second per reactor.
///
/// A handler sends exactly one response (later `send`s are ignored), or takes it out of the
/// handler: `deferResponse()` (answer later), `startStream` (a body written in pieces),
/// `streamBody` (take the request body piece by piece first). If it does none of these, the
/// server answers 500. For HEAD requests the body is measured for `Content-Length` but not
/// sent; 1xx, 204 and 304 responses carry neither body nor `Content-Length`.
///
/// The writer only records what the handler did; the server acts on it once the handler has
/// returned (the connection is never touched from inside application code).
///
/// Threading: reactor thread only, during the call it is passed to. Cost: a handful of copies
/// into a buffer that only grows when a response is larger than anything before; no allocation.
public struct ResponseWriter: ~Copyable {
    enum State: UInt8 { case pending, sent, deferred, streamingResponse, takingBody, upgrading }

    let out: UnsafeMutablePointer<ByteBuffer>
    let date: UnsafeRawBufferPointer
    let serverLine: UnsafeBufferPointer<UInt8>
    unowned(unsafe) let engine: HTTPEngine
    let connection: SlotID
    /// Where this response starts in `out`.
    let start: Int
    /// Bytes of header lines added with `header(_:_:)`, kept at `start` until `send`.
    var extraHeaderBytes = 0
    var state: State = .pending
    /// Whether the connection stays open after this response.
    public private(set) var keepAlive: Bool
    let isHead: Bool
    let version: HTTPVersion
    /// The sequence a deferral or a response stream started here carries.
    let sequence: UInt32
    /// Deferring (or streaming the response) is not allowed when this writer completes an
    /// answer that was already deferred.
    let canDefer: Bool
    /// Taking the body piece by piece is allowed only from the request's own handler.
    let canStream: Bool
    /// An async handler's late answer may start a response stream.
    let canStartStream: Bool
    /// A file that follows the head (`sendFile`), handed to the connection after the handler.
    var file: FileTransfer?
    /// The stream, or the protocol, the handler started; handed over after it.
    var attachment = WriterAttachment()
    /// The status code sent (or of the streamed response started); 0 before, or when the
    /// response was deferred.
    public private(set) var statusCode = 0

    init(engine: HTTPEngine, connection: SlotID, answer: AnswerContext, canDefer: Bool, canStream: Bool, lateStream: Bool = false) {
        self.engine = engine
        out = engine.output
        date = engine.dateCache.pointee.line
        serverLine = engine.serverLine
        self.connection = connection
        start = engine.output.pointee.writerIndex
        keepAlive = answer.keepAlive
        isHead = answer.isHead
        version = answer.version
        sequence = answer.sequence
        self.canDefer = canDefer
        self.canStream = canStream && canDefer
        canStartStream = canDefer || lateStream
    }

    /// Whether a response was sent (or taken out of the handler).
    public var isSent: Bool { state != .pending }

    // MARK: Sending

    /// Sends `body` as `text/plain` with status 200.
    public mutating func send(_ body: StaticString) {
        send(.ok, contentType: .plainText, body)
    }

    /// Sends a response whose body is a literal. No allocation.
    public mutating func send(_ status: HTTPStatus, contentType: ContentType? = .plainText, _ body: StaticString) {
        finish(status, contentType, UnsafeRawBufferPointer(start: body.utf8Start, count: body.utf8CodeUnitCount))
    }

    /// Sends a response whose body is `body`'s UTF-8 bytes.
    public mutating func send(_ status: HTTPStatus = .ok, contentType: ContentType? = .plainTextUTF8, _ body: String) {
        body.withUTF8Bytes { finish(status, contentType, UnsafeRawBufferPointer($0)) }
    }

    /// Sends `text` as `text/plain; charset=utf-8` with status 200 (`res.send(name)`; a literal
    /// picks the `StaticString` form).
    @_disfavoredOverload
    public mutating func send(_ text: String) {
        send(.ok, contentType: .plainTextUTF8, text)
    }

    /// Sends a response whose body is `bytes`.
    public mutating func send(_ status: HTTPStatus = .ok, contentType: ContentType? = .octetStream, bytes: [UInt8]) {
        bytes.withUnsafeBytes { finish(status, contentType, $0) }
    }

    /// Sends a response whose body is copied from `bytes` (which may point into the request).
    public mutating func send(_ status: HTTPStatus = .ok, contentType: ContentType? = .octetStream, unsafeBytes bytes: UnsafeRawBufferPointer) {
        finish(status, contentType, bytes)
    }

    /// Sends a response with an empty body.
    public mutating func send(_ status: HTTPStatus) {
        finish(status, nil, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Sends `length` bytes of the open file `descriptor` from `offset` as the body, with
    /// `sendfile` (no copy through user space). Takes ownership of the descriptor: it is
    /// closed when the transfer ends (at once for HEAD and bodyless statuses). Requests
    /// pipelined behind wait until the file is out. The file must not shrink meanwhile (the
    /// connection is closed if it does: the promised length cannot be kept).
    public mutating func sendFile(
        _ status: HTTPStatus = .ok, contentType: ContentType?, descriptor: Int32, offset: Int64 = 0, length: Int64
    ) {
        precondition(offset >= 0 && length >= 0, "negative file range")
        guard state == .pending else {
            System.close(descriptor)
            return
        }
        state = .sent
        statusCode = status.code
        ResponseEncoder.encode(
            into: &out.pointee, start: start, extraHeaderBytes: extraHeaderBytes, status: status,
            serverLine: serverLine, contentTypeLine: contentType?.line, dateLine: date,
            connection: connectionDirective, body: UnsafeRawBufferPointer(start: nil, count: 0), contentLength: Int(length))
        let bodyless = status.code < 200 || status.code == 204 || status.code == 304
        if isHead || bodyless || length == 0 {
            System.close(descriptor)
        } else {
            file = FileTransfer(fd: descriptor, offset: offset, remaining: length)
        }
    }

    // MARK: Headers and connection

    /// Adds a header line to the response (call before `send`). Framing and connection headers
    /// belong to the server: `Content-Length` and `Transfer-Encoding` are ignored, and
    /// `Connection: close` closes the connection after the response. A name that is not a token,
    /// or a value with control characters (CR, LF, ...), is not sent: it would split the response.
    public mutating func header(_ name: String, _ value: String) {
        guard state == .pending else { return }
        name.withUTF8Bytes { n in
            value.withUTF8Bytes { v in addHeader(n, v) }
        }
    }

    /// Adds a header line from bytes (no `String`s involved), with the same checks as
    /// `header(_:_:)`. The bytes are copied at once.
    public mutating func header(_ name: StaticString, unsafeBytes value: UnsafeBufferPointer<UInt8>) {
        guard state == .pending else { return }
        addHeader(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value)
    }

    /// Closes the connection after this response (sends `Connection: close`).
    public mutating func closeConnection() { keepAlive = false }

    // MARK: Answering later

    /// Takes the response out of the handler: the handler returns, the reactor goes on serving
    /// other connections, and the response is sent later with `DeferredResponse.respond` (from
    /// any thread). Requests pipelined behind this one wait for it, in order.
    public mutating func deferResponse() -> DeferredResponse {
        precondition(
            canDefer && state == .pending,
            "deferResponse() needs a pending response of a request's own handler (or of a body's .end): not after a send or another deferral, not while completing a deferral, not from a body piece (answer at .end instead)")
        state = .deferred
        return DeferredResponse(engine: engine, connection: connection, sequence: sequence)
    }

    /// Takes the request body piece by piece, as it arrives, instead of all at once: `handler`
    /// gets each piece (`.data`), then `.end` (answer then, or defer), or `.aborted`. Meant for
    /// routes with `RouteOptions(body: .stream)`, whose handler runs as soon as the head is in
    /// (a client that sent `Expect: 100-continue` is invited to send the body only now); on a
    /// buffered route the body is handed over in one piece right after the handler returns.
    /// Call `pause()` on the stream to stop delivery (the connection stops reading) and
    /// `resume()` to go on. Allocates the stream object and the closure (once per request).
    @discardableResult
    public mutating func streamBody(_ handler: @escaping BodyHandler) -> BodyStream {
        precondition(canStream && state == .pending, "streamBody() only once, from the request's handler, before a response")
        state = .takingBody
        let stream = BodyStream(engine: engine, connection: connection, handler: handler)
        attachment = WriterAttachment(body: stream)
        return stream
    }

    /// Starts a response whose body follows in pieces after the handler returns: the head goes
    /// out now (`Transfer-Encoding: chunked`, or for an HTTP/1.0 client no length and a close at
    /// the end), then each `ResponseStream.write` is a chunk, and `finish()` ends it. Requests
    /// pipelined behind wait for `finish()`. Allocates the stream object (once per response).
    public mutating func startStream(_ status: HTTPStatus = .ok, contentType: ContentType? = .octetStream) -> ResponseStream {
        precondition(
            canStartStream && state == .pending,
            "startStream() needs a pending response of a request's own handler, of a body's .end, or of a deferred answer: not after a send or a deferral, not from a body piece (stream at .end instead)")
        let delimiter: ResponseStream.StreamDelimiter = version == .http1_1 ? .chunked : .close
        if delimiter == .close { keepAlive = false }
        let bodyless = isHead || status.code < 200 || status.code == 204 || status.code == 304
        ResponseEncoder.encode(
            into: &out.pointee, start: start, extraHeaderBytes: extraHeaderBytes, status: status,
            serverLine: serverLine, contentTypeLine: contentType?.line, dateLine: date, connection: connectionDirective,
            body: UnsafeRawBufferPointer(start: nil, count: 0), delimiter: delimiter == .chunked ? .chunked : .close)
        state = .streamingResponse
        statusCode = status.code
        let stream = ResponseStream(engine: engine, connection: connection, sequence: sequence, delimiter: delimiter, isHead: bodyless)
        attachment = WriterAttachment(response: stream)
        return stream
    }

    /// Answers after `delay` without blocking the reactor: `body` runs on this reactor's thread
    /// when the time comes (a zero delay: later in this loop turn), with a writer for this
    /// response. Allocates the closure and a timer.
    ///
    /// `body` runs after the handler has returned, when the borrowed request is gone: copy what
    /// it needs first (`let name = req.parameter("name")`), or write an async handler, which
    /// owns its request. (`body` is `@Sendable` so that capturing `req` is a compile error that
    /// names it; Swift 6.3's move checker crashes on such captures by plain escaping closures.)
    public mutating func respond(after delay: Duration, _ body: @escaping @Sendable (inout ResponseWriter) -> Void) {
        let deferred = deferResponse()
        let engine = self.engine
        engine.reactor.schedule(after: delay) { _ = engine.queueAnswer(deferred.connection, deferred.sequence, body) }
    }

    // MARK: Upgrading

    /// Answers `101 Switching Protocols` with `Upgrade: protocolName` (and the headers added),
    /// then gives the connection to `handler` once that response is written: its descriptor and
    /// the bytes the client sent after this request. The handler checks the request asked for
    /// it (`Connection: upgrade`, `Upgrade`, and whatever its protocol requires). HTTP/1.1 only.
    package mutating func upgrade(to protocolName: String, handler: any UpgradeHandler) {
        precondition(canStream && state == .pending, "upgrade() only from the request's own handler, before a response")
        precondition(version == .http1_1, "upgrading needs HTTP/1.1")
        header("Upgrade", protocolName)
        ResponseEncoder.encode(
            into: &out.pointee, start: start, extraHeaderBytes: extraHeaderBytes, status: .switchingProtocols,
            serverLine: serverLine, contentTypeLine: nil, dateLine: date, connection: .upgrade,
            body: UnsafeRawBufferPointer(start: nil, count: 0))
        state = .upgrading
        statusCode = 101
        attachment = WriterAttachment(upgrade: handler)
    }

    // MARK: Encoding

    var connectionDirective: ConnectionDirective { !keepAlive ? .close : (version == .http1_0 ? .keepAlive : .none) }

    mutating func addHeader(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        guard !name.isEmpty, name.allSatisfy(Self.isToken), value.allSatisfy(Self.isFieldByte) else { return }
        func named(_ s: StaticString) -> Bool {
            name.count == s.utf8CodeUnitCount && asciiCaseInsensitiveEqual(name.baseAddress!, s.utf8Start, name.count)
        }
        if named("content-length") || named("transfer-encoding") { return }
        if named("connection") {
            let close: StaticString = "close"
            if value.count == 5 && asciiCaseInsensitiveEqual(value.baseAddress!, close.utf8Start, 5) { keepAlive = false }
            return
        }
        out.pointee.append(UnsafeRawBufferPointer(name))
        out.pointee.append(": ")
        out.pointee.append(UnsafeRawBufferPointer(value))
        out.pointee.append("\r\n")
        extraHeaderBytes = out.pointee.writerIndex - start
    }

    static func isToken(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a: true
        case 0x21, 0x23...0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x5e, 0x5f, 0x60, 0x7c, 0x7e: true
        default: false
        }
    }

    static func isFieldByte(_ c: UInt8) -> Bool { (c >= 0x20 && c != 0x7f) || c == 0x09 }

    mutating func finish(_ status: HTTPStatus, _ contentType: ContentType?, _ body: UnsafeRawBufferPointer) {
        guard state == .pending else { return }
        state = .sent
        statusCode = status.code
        ResponseEncoder.encode(
            into: &out.pointee, start: start, extraHeaderBytes: extraHeaderBytes, status: status,
            serverLine: serverLine, contentTypeLine: contentType?.line, dateLine: date,
            connection: connectionDirective, body: body, omitBody: isHead)
    }

    // MARK: After the handler

    /// What the handler did, for the connection's machine, and what it leaves the connection
    /// (a file to send, a stream, a protocol). Headers added without a response are dropped.
    /// Consumes the writer.
    consuming func result() -> HandlerResult {
        let answer: HandlerAnswer
        switch state {
        case .pending:
            out.pointee.writerIndex = start  // headers added without sending
            answer = .nothing
        case .sent: answer = .responded(keepAlive: keepAlive)
        case .deferred:
            out.pointee.writerIndex = start
            answer = .deferred(keepAlive: keepAlive)
        case .streamingResponse: answer = .streamingResponse(keepAlive: keepAlive)
        case .takingBody:
            out.pointee.writerIndex = start
            answer = .takingBody
        case .upgrading: answer = .upgrading
        }
        return HandlerResult(answer: answer, file: file, attachment: attachment)
    }
}

/// What a handler started that outlives it: a body stream, a response stream, or a protocol to
/// hand the connection to. One optional reference (most handlers leave nothing, and checking
/// and dropping one reference per request is the cheapest), read back by kind.
struct WriterAttachment {
    private(set) var object: AnyObject?

    init() {}
    init(body: BodyStream) { object = body }
    init(response: ResponseStream) { object = response }
    init(upgrade: any UpgradeHandler) { object = UpgradeBox(upgrade) }

    var isEmpty: Bool { object == nil }
    var body: BodyStream? { object as? BodyStream }
    var response: ResponseStream? { object as? ResponseStream }
    var upgrade: (any UpgradeHandler)? { (object as? UpgradeBox)?.handler }
}

/// Holds an upgrade handler (an existential) behind one reference.
final class UpgradeBox {
    let handler: any UpgradeHandler
    init(_ handler: any UpgradeHandler) { self.handler = handler }
}

/// What a handler left: its answer, and what the connection takes over from its writer.
struct HandlerResult {
    var answer: HandlerAnswer
    var file: FileTransfer?
    var attachment: WriterAttachment
}
