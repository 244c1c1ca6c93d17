@_spi(GustInternal) import GustIO
@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
import HTTPTypes
#if canImport(Glibc)
import Glibc
#endif

extension ResponseWriter {
    /// Sends `response`: its status (with its reason phrase), its header fields (framing and
    /// connection fields are the server's, as with `header(_:_:)`), its `Content-Type`, its body.
    /// A JSON body not yet encoded is encoded here with the router's coder (a failure sends
    /// 500). The async tier's answers go through here; inline handlers may use it too.
    /// (Disfavoured, so that `send("text")` stays the static-string overload.)
    @_disfavoredOverload
    public mutating func send(_ response: Response) {
        guard state == .pending else { return }
        // Bodies that are not bytes yet become bytes, or a stream, before any field is written.
        switch response.body.storage {
        case .json(let value):
            let body: ResponseBody
            do {
                body = try engine.routes.jsonCoding.encode(value.value)
            } catch {
                engine.counters.handlerErrors += 1
                engine.logger.error("encoding a JSON response failed", metadata: ["error": "\(String(reflecting: error))"])
                send(.internalServerError, contentType: .plainTextUTF8, "Internal Server Error: the response could not be encoded\n")
                return
            }
            var encoded = response
            encoded.body = body
            return send(encoded)
        case .stream(let body):
            // From an inline handler: the body runs in a task of its own on this reactor.
            let handOff = StreamHandOff(stream: startStream(for: response))
            Task.immediate(executorPreference: engine.handle.executor) {
                await AsyncRoute.pump(handOff.stream!, body, nil)
            }
            return
        case .empty, .string, .bytes, .data:
            break
        }
        let contentType = addFields(of: response)
        let status = Self.status(response.status)
        switch response.body.storage {
        case .string(let text):
            text.withUTF8Bytes { finish(status, contentType, UnsafeRawBufferPointer($0)) }
        case .bytes(let bytes):
            bytes.withUnsafeBytes { finish(status, contentType, $0) }
        case .data(let data):
            data.withUnsafeBytes { finish(status, contentType, $0) }
        case .empty, .json, .stream:  // (the last two handled above)
            finish(status, contentType, UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Starts a streamed response with `response`'s status, fields and content type (its body is
    /// written to the stream afterwards).
    mutating func startStream(for response: Response) -> ResponseStream {
        let contentType = addFields(of: response)
        return startStream(Self.status(response.status), contentType: contentType)
    }

    /// Adds `response`'s header fields; returns the content type line to send (none when a
    /// `Content-Type` field came with the fields).
    mutating func addFields(of response: Response) -> ContentType? {
        var contentType = response.contentType
        for field in response.headerFields {
            if field.name == .contentType { contentType = nil }
            header(field.name.rawName, field.value)
        }
        return contentType
    }

    /// Forgets the header lines added so far (before a response is sent).
    mutating func discardHeaders() {
        guard state == .pending else { return }
        out.pointee.writerIndex = start
        extraHeaderBytes = 0
    }

    /// Our status for swift-http-types' one: the predefined line when the reason phrase is the
    /// standard one (no allocation), else a line made once for this code and phrase. A phrase
    /// with control characters is replaced by the standard one (or "Status").
    static func status(_ status: HTTPResponse.Status) -> HTTPStatus {
        let reason = status.reasonPhrase
        if let known = HTTPStatus.predefined(status.code) {
            let line = known.statusLine
            let standard = UnsafeBufferPointer(rebasing: line[13..<(line.count - 2)])
            let same = reason.utf8.count == standard.count
                && reason.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, standard.baseAddress!, standard.count) == 0 }
                    ?? reason.utf8.elementsEqual(standard)
            if same || reason.isEmpty { return known }
            if reason.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return known }
        }
        let safe = reason.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) || reason.isEmpty ? "Status" : reason
        return HTTPStatus(code: status.code, reason: safe)
    }
}
