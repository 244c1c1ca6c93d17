/// How the body of a response is delimited (RFC 9112 §6.3).
@_spi(GustInternal) public enum BodyFraming: Equatable, Sendable {
    /// No body: a response to HEAD, 1xx, 204 or 304.
    case none
    /// Exactly this many bytes.
    case length(Int64)
    /// Chunked transfer coding: decode with `ChunkedDecoder`.
    case chunked
    /// Everything until the server closes the connection.
    case untilClose
}

/// Why a response head was rejected.
@_spi(GustInternal) public enum ResponseParseError: UInt8, Error, Sendable, CaseIterable, CustomStringConvertible {
    case invalidVersion
    case invalidStatus
    case invalidLineEnding
    case invalidHeaderName
    case invalidHeaderValue
    /// Not digits, or several values that differ.
    case invalidContentLength
    /// Longer than `ResponseParser.maxHeadBytes`.
    case headTooLarge

    public var description: String {
        switch self {
        case .invalidVersion: "invalid HTTP version in status line"
        case .invalidStatus: "invalid status code"
        case .invalidLineEnding: "invalid line ending"
        case .invalidHeaderName: "invalid header field name"
        case .invalidHeaderValue: "invalid header field value"
        case .invalidContentLength: "invalid Content-Length"
        case .headTooLarge: "response head too large"
        }
    }
}

/// What one call to `ResponseParser.parse` found.
@_spi(GustInternal) public enum ResponseParseResult: Equatable, Sendable {
    /// A whole head: the status line and header section are the first `headLength` bytes.
    case complete(headLength: Int)
    case needMore
    case invalid(ResponseParseError)
}

/// An HTTP/1.x response-head parser for the load generator: status line, header fields, and the
/// framing facts a client needs (`Content-Length`, chunked, `Connection: close`).
///
/// It does not resume: after `.needMore`, call again with the same bytes extended, and it scans
/// from the start (picohttpparser's approach for responses). Heads are a few hundred bytes and a
/// split head happens at most once per read, so rescans cost little, and the parser keeps no
/// state between calls but its results. Header values are not kept.
///
/// Threading: a value type. Cost: one pass over the head; no allocation.
@_spi(GustInternal) public struct ResponseParser: Sendable {
    /// The status code (100...999).
    public private(set) var status: Int = 0
    public private(set) var version: HTTPVersion = .http1_1
    /// The `Content-Length` value, or -1 when there is none.
    public private(set) var contentLength: Int64 = -1
    /// The final transfer coding is chunked.
    public private(set) var isChunked = false
    /// A `Transfer-Encoding` field was present.
    public private(set) var hasTransferEncoding = false
    var transferCodings = TransferCodings()
    public private(set) var hasConnectionClose = false
    public private(set) var hasConnectionKeepAlive = false
    public private(set) var headLength = 0

    /// The largest head accepted. Default 64 KiB.
    public var maxHeadBytes: Int

    public init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Whether the connection may carry another request after this response.
    public var keepAlive: Bool {
        if hasConnectionClose { return false }
        return version == .http1_1 || hasConnectionKeepAlive
    }

    /// How this response's body is delimited, given whether it answers a HEAD request.
    public func framing(requestWasHead: Bool) -> BodyFraming {
        if requestWasHead || status < 200 || status == 204 || status == 304 { return .none }
        if hasTransferEncoding { return isChunked ? .chunked : .untilClose }
        if contentLength >= 0 { return .length(contentLength) }
        return .untilClose
    }

    /// Parses a response head from the start of `input`.
    public mutating func parse(_ input: UnsafeRawBufferPointer) -> ResponseParseResult {
        let saved = maxHeadBytes
        self = ResponseParser(maxHeadBytes: saved)
        guard let raw = input.baseAddress else { return .needMore }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let end = min(input.count, maxHeadBytes + 1)
        let tooLarge = input.count > maxHeadBytes

        // Status line: HTTP/1.x SP 3DIGIT SP reason CRLF (the reason may be empty).
        guard end >= 13 else {
            return Self.prefixIsPlausible(p, end) ? .needMore : .invalid(.invalidVersion)
        }
        let http: StaticString = "HTTP/1."
        guard memoryEqual(p, http.utf8Start, 7), p[7] &- 0x30 < 10, p[8] == CharacterClass.sp else {
            return .invalid(.invalidVersion)
        }
        version = p[7] == 0x30 ? .http1_0 : .http1_1
        let d0 = Int(p[9] &- 0x30), d1 = Int(p[10] &- 0x30), d2 = Int(p[11] &- 0x30)
        guard d0 >= 1 && d0 <= 9 && d1 < 10 && d2 < 10 else { return .invalid(.invalidStatus) }
        status = d0 * 100 + d1 * 10 + d2
        var i = 12
        if p[i] == CharacterClass.sp {
            i = ByteScan.skipFieldValueBytes(p, from: i + 1, to: end)
        }
        guard let afterLine = lineEnd(p, i, end) else {
            return tooLarge ? .invalid(.headTooLarge) : .needMore
        }
        guard afterLine > 0 else { return .invalid(.invalidLineEnding) }
        i = afterLine

        // Header fields.
        while true {
            guard i < end else { return tooLarge ? .invalid(.headTooLarge) : .needMore }
            if p[i] == CharacterClass.cr {
                guard i + 1 < end else { return tooLarge ? .invalid(.headTooLarge) : .needMore }
                guard p[i + 1] == CharacterClass.lf else { return .invalid(.invalidLineEnding) }
                headLength = i + 2
                return .complete(headLength: i + 2)
            }
            let nameStart = i
            while i < end && CharacterClass.isTokenChar(p[i]) { i &+= 1 }
            guard i < end else { return tooLarge ? .invalid(.headTooLarge) : .needMore }
            guard p[i] == CharacterClass.colon, i > nameStart else { return .invalid(.invalidHeaderName) }
            let nameLength = i - nameStart
            i += 1
            while i < end && CharacterClass.isWhitespace(p[i]) { i &+= 1 }
            let valueStart = i
            i = ByteScan.skipFieldValueBytes(p, from: i, to: end)
            var valueEnd = i
            guard let next = lineEnd(p, i, end) else {
                return tooLarge ? .invalid(.headTooLarge) : .needMore
            }
            guard next > 0 else {
                return .invalid(p[i] == CharacterClass.cr || p[i] == CharacterClass.lf ? .invalidLineEnding : .invalidHeaderValue)
            }
            while valueEnd > valueStart && CharacterClass.isWhitespace(p[valueEnd - 1]) { valueEnd -= 1 }
            if let e = noteField(p + nameStart, nameLength, p + valueStart, valueEnd - valueStart) { return .invalid(e) }
            i = next
        }
    }

    /// At `i` (just past a line's content): the offset after its CRLF, 0 if the bytes there are
    /// not CRLF, nil if more input is needed to tell.
    @inline(__always)
    private func lineEnd(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        guard i < end else { return nil }
        guard p[i] == CharacterClass.cr else { return 0 }
        guard i + 1 < end else { return nil }
        return p[i + 1] == CharacterClass.lf ? i + 2 : 0
    }

    /// Whether a short input could still become a status line.
    private static func prefixIsPlausible(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let http: StaticString = "HTTP/1."
        return memoryEqual(p, http.utf8Start, min(n, 7))
    }

    private mutating func noteField(
        _ name: UnsafePointer<UInt8>, _ nameLength: Int, _ value: UnsafePointer<UInt8>, _ valueLength: Int
    ) -> ResponseParseError? {
        @inline(__always) func named(_ s: StaticString) -> Bool {
            nameLength == s.utf8CodeUnitCount && asciiCaseInsensitiveEqual(name, s.utf8Start, nameLength)
        }
        if named("content-length") {
            guard let n = FieldValues.decimalLength(value, valueLength), n != Int64.max else { return .invalidContentLength }
            if contentLength >= 0 && contentLength != n { return .invalidContentLength }
            contentLength = n
        } else if named("transfer-encoding") {
            // The final coding decides: "gzip, chunked" is chunked, "chunked, gzip" is not.
            transferCodings.add(value, valueLength)
            hasTransferEncoding = true
            isChunked = transferCodings.lastIsChunked
        } else if named("connection") {
            let options = FieldValues.connectionOptions(value, valueLength)
            hasConnectionClose = hasConnectionClose || options.close
            hasConnectionKeepAlive = hasConnectionKeepAlive || options.keepAlive
        }
        return nil
    }
}
