/// What one call to `RequestParser.parse` found.
@_spi(GustInternal) public enum ParseResult: Equatable, Sendable {
    /// A whole request head: its request line and header section are the first `headLength`
    /// bytes of the input (including any empty lines skipped before the request line).
    case complete(headLength: Int)
    /// The head is not complete yet; call again with the same bytes plus more.
    case needMore
    /// The request is malformed or over a limit; answer `error.status` and close.
    case invalid(HTTPParseError)
}

/// A strict, resumable HTTP/1.1 request-head parser (RFC 9112 §2–§5), picohttpparser-style:
/// it copies nothing, records field lines as offsets into the caller's bytes, and a call that
/// ends in `.needMore` saves where it stopped, so the next call continues there without
/// re-scanning what it already accepted.
///
/// Usage: call `parse` with the bytes received so far for one request (starting at the request's
/// first byte) and a header table with room for `limits.maxHeaderCount` slots; when more bytes
/// arrive, call again with the same bytes extended (they may have moved in memory: everything is
/// an offset). After `.complete`, read the head's fields, then `reset()` for the next request.
///
/// The body is the caller's to read: `bodyFraming` says how it is delimited (a `RequestBody`
/// reads it).
///
/// Threading: a value type; each connection (or reactor scratch space) owns its parser.
/// Cost: one pass over each byte; no allocation, ever.
@_spi(GustInternal) public struct RequestParser: Sendable {
    @usableFromInline enum Phase: UInt8, Sendable {
        case start, method, target, version, lineStart, name, valueWhitespace, value, lineFeed, finalLineFeed
        case complete, invalid
    }

    @usableFromInline var phase: Phase = .start
    /// Offset of the next byte to examine.
    @usableFromInline var position: UInt32 = 0
    /// Start of the token being read: method, target, version, or field name.
    @usableFromInline var mark: UInt32 = 0
    @usableFromInline var nameLength: UInt32 = 0
    @usableFromInline var valueStart: UInt32 = 0
    @usableFromInline var valueEnd: UInt32 = 0
    @usableFromInline var requestStart: UInt32 = 0
    @usableFromInline var headersStart: UInt32 = 0
    @usableFromInline var skippedLines: UInt8 = 0
    @usableFromInline var error: HTTPParseError = .invalidMethod
    @usableFromInline var flags: Flags = []
    @usableFromInline var hostCount: UInt8 = 0
    /// The `Transfer-Encoding` lines seen so far.
    public internal(set) var transferCodings = TransferCodings()

    /// The request method (valid once the request line is parsed).
    public internal(set) var method: HTTPMethod = .other
    @usableFromInline var methodLength: UInt16 = 0
    public internal(set) var version: HTTPVersion = .http1_1
    @usableFromInline var targetOffset: UInt32 = 0
    @usableFromInline var targetLength: UInt32 = 0
    @usableFromInline var pathOffset: UInt32 = 0
    @usableFromInline var pathLength: UInt32 = 0
    @usableFromInline var queryLength: UInt32 = 0
    /// Field lines recorded in the header table.
    public internal(set) var headerCount: Int = 0
    /// The `Content-Length` value, or -1 when there is none. Absurd values saturate at `Int64.max`.
    public internal(set) var contentLength: Int64 = -1
    /// Bytes of the head, once complete.
    public internal(set) var headLength: Int = 0

    // Body state (after the head): see RequestParser+Body.swift.
    /// Offset (from the request's first byte) of the raw body bytes not decoded yet.
    @usableFromInline var bodyRawOffset: Int = 0
    /// Body bytes decoded (buffered) or delivered (streamed) so far.
    public internal(set) var bodyBytesRead: Int64 = 0
    @usableFromInline var chunked = ChunkedDecoder()

    @usableFromInline struct Flags: OptionSet, Sendable {
        @usableFromInline var rawValue: UInt8
        @inlinable init(rawValue: UInt8) { self.rawValue = rawValue }
        @usableFromInline static let connectionClose = Flags(rawValue: 1)
        @usableFromInline static let connectionKeepAlive = Flags(rawValue: 2)
        @usableFromInline static let expectContinue = Flags(rawValue: 8)
        @usableFromInline static let upgrade = Flags(rawValue: 16)
        @usableFromInline static let query = Flags(rawValue: 32)
    }

    public init() {}

    /// A parser that has seen nothing, made once: `reset` copies it (one copy of the struct,
    /// where building a fresh value costs a call and the same copy).
    @usableFromInline static let fresh = RequestParser()

    /// Forgets the previous request. Cost: one copy of the struct.
    @inlinable public mutating func reset() { self = Self.fresh }

    /// Whether a whole head has been parsed (the body, if any, may still be arriving).
    @inlinable public var isHeadComplete: Bool { phase == .complete }

    /// Whether the parse has started (any byte consumed or examined).
    @inlinable public var hasProgress: Bool { position > 0 }

    /// Offsets of the method, target, path and query within the request (valid after the request
    /// line). An absolute-form target's path excludes the scheme and authority; an empty path
    /// (as in `http://host` or authority-form) has length 0.
    public var methodRange: Range<Int> { Int(requestStart)..<Int(requestStart) + Int(methodLength) }
    public var targetRange: Range<Int> { Int(targetOffset)..<Int(targetOffset + targetLength) }
    public var pathRange: Range<Int> { Int(pathOffset)..<Int(pathOffset + pathLength) }
    /// The query (after `?`), or nil when the target has no `?`.
    public var queryRange: Range<Int>? {
        guard flags.contains(.query) else { return nil }
        let start = Int(pathOffset + pathLength) + 1
        return start..<start + Int(queryLength)
    }

    /// `Connection: close` was present.
    public var hasConnectionClose: Bool { flags.contains(.connectionClose) }
    /// `Connection: keep-alive` was present.
    public var hasConnectionKeepAlive: Bool { flags.contains(.connectionKeepAlive) }
    /// A `Transfer-Encoding` field was present (the body is not `Content-Length` framed).
    public var hasTransferEncoding: Bool { transferCodings.isPresent }

    /// How the body of a complete, valid head is delimited: chunked, a length, or no body.
    /// (A request is never delimited by the connection closing.)
    @inlinable public var bodyFraming: BodyFraming {
        if transferCodings.isPresent { return .chunked }
        return contentLength > 0 ? .length(contentLength) : .none
    }
    /// `Expect: 100-continue` was present.
    public var expectsContinue: Bool { flags.contains(.expectContinue) }
    /// An `Upgrade` field was present.
    public var hasUpgrade: Bool { flags.contains(.upgrade) }

    /// Whether the connection may carry another request after this one (RFC 9112 §9.3):
    /// HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive` and without `close`.
    public var keepAlive: Bool {
        if flags.contains(.connectionClose) { return false }
        return version == .http1_1 || flags.contains(.connectionKeepAlive)
    }

    /// Parses as much of a request head as `input` holds.
    ///
    /// - Parameters:
    ///   - input: the request's bytes from its first byte; on a resumed call, the same bytes as
    ///     before followed by more.
    ///   - headers: room for `limits.maxHeaderCount` slots; slots `0..<headerCount` are filled.
    ///     On a resumed call, the slots written so far must still be there.
    ///   - limits: request-line and header-section limits (the body limit is the caller's).
    public mutating func parse(
        _ input: UnsafeRawBufferPointer, headers: UnsafeMutablePointer<HeaderSlot>, limits: RequestLimits
    ) -> ParseResult {
        switch phase {
        case .complete: return .complete(headLength: headLength)
        case .invalid: return .invalid(error)
        default: break
        }
        guard let raw = input.baseAddress, input.count > Int(position) else { return .needMore }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        precondition(input.count < Int(UInt32.max), "request larger than 4 GiB")
        let end = input.count
        var i = Int(position)

        while true {
            switch phase {
            case .start:
                // RFC 9112 §2.2: ignore empty lines before the request line (a few of them).
                while i < end && p[i] == CharacterClass.cr {
                    guard i + 1 < end else { return needMore(at: i, limits) }
                    guard p[i + 1] == CharacterClass.lf else { return fail(.invalidLineEnding) }
                    skippedLines &+= 1
                    guard skippedLines <= 8 else { return fail(.invalidMethod) }
                    i += 2
                }
                guard i < end else { return needMore(at: i, limits) }
                requestStart = UInt32(i)
                mark = UInt32(i)
                phase = .method

            case .method:
                while i < end && CharacterClass.isTokenChar(p[i]) { i &+= 1 }
                guard i < end else { return needMore(at: i, limits) }
                let start = Int(mark)
                guard p[i] == CharacterClass.sp, i > start else { return fail(.invalidMethod) }
                method = HTTPMethod.recognise(p + start, i - start)
                methodLength = UInt16(truncatingIfNeeded: min(i - start, Int(UInt16.max)))
                i += 1
                mark = UInt32(i)
                phase = .target

            case .target:
                i = ByteScan.skipTargetBytes(p, from: i, to: end)
                guard i < end else { return needMore(at: i, limits) }
                guard p[i] == CharacterClass.sp, i > Int(mark) else { return fail(.invalidTarget) }
                targetOffset = mark
                targetLength = UInt32(i) - mark
                i += 1
                mark = UInt32(i)
                phase = .version

            case .version:
                // "HTTP/" DIGIT "." DIGIT CRLF, checked byte by byte as it arrives.
                let start = Int(mark)
                if i == start && end - i >= 10 && Self.isHTTP1xCRLF(p + i) {
                    i &+= 10  // the usual case, in two compares
                } else {
                    while i < end && i - start < 10 {
                        if let e = Self.checkVersionByte(p[i], at: i - start) { return fail(e) }
                        i &+= 1
                    }
                    guard i - start == 10 else { return needMore(at: i, limits) }
                }
                guard i - Int(requestStart) <= limits.maxRequestLineBytes else { return fail(.requestLineTooLong) }
                guard p[start + 5] == 0x31 else { return fail(.versionNotSupported) }
                version = p[start + 7] == 0x30 ? .http1_0 : .http1_1
                // The target's form is judged once the version is known to be 1.x (so that an
                // HTTP/2 preface, "PRI * HTTP/2.0", is told it has the wrong version).
                if let e = classifyTarget(p, start: Int(targetOffset), end: Int(targetOffset + targetLength)) { return fail(e) }
                headersStart = UInt32(i)
                phase = .lineStart

            case .lineStart:
                guard i < end else { return needMore(at: i, limits) }
                let c = p[i]
                if c == CharacterClass.cr {
                    i += 1
                    phase = .finalLineFeed
                } else if CharacterClass.isWhitespace(c) {
                    return fail(.obsoleteLineFolding)
                } else if c == CharacterClass.lf {
                    return fail(.invalidLineEnding)
                } else {
                    mark = UInt32(i)
                    phase = .name
                }

            case .name:
                while i < end && CharacterClass.isTokenChar(p[i]) { i &+= 1 }
                guard i < end else { return needMore(at: i, limits) }
                let c = p[i]
                guard c == CharacterClass.colon, i > Int(mark) else {
                    return fail(CharacterClass.isWhitespace(c) && i > Int(mark) ? .whitespaceBeforeColon : .invalidHeaderName)
                }
                nameLength = UInt32(i) - mark
                i += 1
                phase = .valueWhitespace

            case .valueWhitespace:
                while i < end && CharacterClass.isWhitespace(p[i]) { i &+= 1 }
                guard i < end else { return needMore(at: i, limits) }
                valueStart = UInt32(i)
                phase = .value

            case .value:
                i = ByteScan.skipFieldValueBytes(p, from: i, to: end)
                guard i < end else { return needMore(at: i, limits) }
                guard p[i] == CharacterClass.cr else {
                    return fail(p[i] == CharacterClass.lf ? .invalidLineEnding : .invalidHeaderValue)
                }
                // Trailing whitespace is not part of the value.
                var last = i
                while last > Int(valueStart) && CharacterClass.isWhitespace(p[last - 1]) { last -= 1 }
                valueEnd = UInt32(last)
                i += 1
                phase = .lineFeed

            case .lineFeed:
                guard i < end else { return needMore(at: i, limits) }
                guard p[i] == CharacterClass.lf else { return fail(.invalidLineEnding) }
                i += 1
                guard i - Int(headersStart) <= limits.maxHeaderBytes else { return fail(.headerSectionTooLarge) }
                guard headerCount < limits.maxHeaderCount else { return fail(.tooManyHeaders) }
                let slot = HeaderSlot(
                    nameOffset: mark, nameLength: nameLength,
                    valueOffset: valueStart, valueLength: valueEnd - valueStart)
                headers[headerCount] = slot
                headerCount += 1
                if let e = noteField(slot, p) { return fail(e) }
                phase = .lineStart

            case .finalLineFeed:
                guard i < end else { return needMore(at: i, limits) }
                guard p[i] == CharacterClass.lf else { return fail(.invalidLineEnding) }
                i += 1
                guard i - Int(headersStart) <= limits.maxHeaderBytes else { return fail(.headerSectionTooLarge) }
                if let e = checkCompleteHead() { return fail(e) }
                position = UInt32(i)
                headLength = i
                phase = .complete
                return .complete(headLength: i)

            case .complete, .invalid:
                preconditionFailure("unreachable")
            }
        }
    }

    // MARK: - Steps

    /// Saves the position and reports `.needMore`, unless the bytes held already break a limit.
    @inline(__always)
    mutating func needMore(at i: Int, _ limits: RequestLimits) -> ParseResult {
        position = UInt32(i)
        switch phase {
        case .start, .method, .target, .version:
            if i - Int(requestStart) > limits.maxRequestLineBytes { return fail(.requestLineTooLong) }
        default:
            if i - Int(headersStart) > limits.maxHeaderBytes { return fail(.headerSectionTooLarge) }
        }
        return .needMore
    }

    @inline(__always)
    mutating func fail(_ e: HTTPParseError) -> ParseResult {
        error = e
        phase = .invalid
        return .invalid(e)
    }

    /// Whether the 10 bytes at `p` are "HTTP/1.1\r\n" or "HTTP/1.0\r\n".
    @inline(__always)
    static func isHTTP1xCRLF(_ p: UnsafePointer<UInt8>) -> Bool {
        let http10: UInt64 = 0x302e_312f_5054_5448  // "HTTP/1.0", little-endian
        let word = ByteScan.load(p, 0)
        let crlf = UInt16(p[8]) | UInt16(p[9]) << 8
        return (word | 0x0100_0000_0000_0000) == (http10 | 0x0100_0000_0000_0000) && crlf == 0x0a0d
    }

    /// Checks byte `k` (0–9) of "HTTP/x.y\r\n".
    @inline(__always)
    static func checkVersionByte(_ c: UInt8, at k: Int) -> HTTPParseError? {
        switch k {
        case 0: c == 0x48 ? nil : .invalidVersion  // H
        case 1, 2: c == 0x54 ? nil : .invalidVersion  // T
        case 3: c == 0x50 ? nil : .invalidVersion  // P
        case 4: c == 0x2f ? nil : .invalidVersion  // /
        case 5, 7: c &- 0x30 < 10 ? nil : .invalidVersion
        case 6: c == 0x2e ? nil : .invalidVersion  // .
        case 8: c == CharacterClass.cr ? nil : (c == CharacterClass.lf ? .invalidLineEnding : .invalidVersion)
        default: c == CharacterClass.lf ? nil : .invalidLineEnding
        }
    }

    /// Works out the target's form (RFC 9112 §3.2) and where its path and query lie.
    mutating func classifyTarget(_ p: UnsafePointer<UInt8>, start: Int, end: Int) -> HTTPParseError? {
        var pathStart = start
        if p[start] == 0x2f {  // origin-form
            if method == .connect { return .invalidTargetForm }
        } else if end - start == 1 && p[start] == 0x2a {  // asterisk-form
            if method != .options { return .invalidTargetForm }
        } else if let authorityStart = Self.schemeEnd(p, start: start, end: end) {  // absolute-form
            pathStart = authorityStart
            while pathStart < end && p[pathStart] != 0x2f && p[pathStart] != 0x3f { pathStart += 1 }
            if pathStart == authorityStart || method == .connect { return .invalidTarget }
        } else if method == .connect {  // authority-form: host:port
            pathOffset = UInt32(end)
            pathLength = 0
            return nil
        } else {
            return .invalidTarget
        }
        let q = ByteScan.find(0x3f, p, from: pathStart, to: end)  // "?"
        pathOffset = UInt32(pathStart)
        pathLength = UInt32(q - pathStart)
        if q < end {
            flags.insert(.query)
            queryLength = UInt32(end - q - 1)
        }
        return nil
    }

    /// For "http://" or "https://" (scheme case-insensitive), the offset just past "//".
    static func schemeEnd(_ p: UnsafePointer<UInt8>, start: Int, end: Int) -> Int? {
        func matches(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            return end - start > n && asciiCaseInsensitiveEqual(p + start, s.utf8Start, n)
        }
        if matches("http://") { return start + 7 }
        if matches("https://") { return start + 8 }
        return nil
    }

    /// Rules that need the whole head: Host (RFC 9112 §3.2) and framing (§6.1, §6.3, §7).
    mutating func checkCompleteHead() -> HTTPParseError? {
        if hostCount > 1 { return .duplicateHost }
        if hostCount == 0 && version == .http1_1 { return .missingHost }
        let te = transferCodings
        guard te.isPresent else { return nil }
        if contentLength >= 0 { return .contentLengthWithTransferEncoding }
        // An HTTP/1.0 message with Transfer-Encoding has faulty framing (§6.1).
        if version == .http1_0 { return .transferEncodingInHTTP10 }
        if te.isMalformed { return .invalidTransferEncoding }
        // The final coding must be chunked (§6.3), and chunked is applied once (§7).
        if !te.lastIsChunked { return .chunkedNotFinal }
        if te.chunkedCount > 1 { return .invalidTransferEncoding }
        // gzip, deflate, ... before chunked: a coding this server does not decode.
        if te.hasOtherCoding { return .unsupportedTransferCoding }
        return nil
    }
}
