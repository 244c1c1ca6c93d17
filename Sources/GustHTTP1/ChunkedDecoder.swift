/// Why a chunked body was rejected (RFC 9112 §7.1).
@_spi(GustInternal) public enum ChunkedError: UInt8, Error, Sendable, CaseIterable, CustomStringConvertible {
    /// Not a hex size, or a size over 2^60.
    case invalidChunkSize
    /// A chunk extension with bytes no extension may hold, or longer than the limit.
    case invalidChunkExtension
    /// CRLF missing where the grammar needs it (after a size line or after chunk data).
    case invalidLineEnding
    /// Trailer section longer than the limit, or a malformed trailer line.
    case invalidTrailer

    public var description: String {
        switch self {
        case .invalidChunkSize: "invalid chunk size"
        case .invalidChunkExtension: "invalid chunk extension"
        case .invalidLineEnding: "invalid line ending in chunked body"
        case .invalidTrailer: "invalid trailer section"
        }
    }
}

/// What one call to `ChunkedDecoder.decode` did.
@_spi(GustInternal) public enum ChunkedResult: Equatable, Sendable {
    /// All of the input was consumed; the body goes on.
    case needMore
    /// The body ended after `consumed` bytes of this input (the rest belongs to what follows).
    case done(consumed: Int)
    /// `onData` asked to stop after a piece; `consumed` bytes of this input were used (call
    /// again with the rest to go on).
    case paused(consumed: Int)
    case invalid(ChunkedError)
}

/// A streaming decoder for the chunked transfer coding (RFC 9112 §7.1): feed it bytes as they
/// arrive, in pieces of any size; it hands over the data of each chunk as ranges of the input
/// and says where the body ends. It keeps no bytes, only its state (a few integers).
///
/// Strict: hex sizes without sign or whitespace, extensions of visible characters only and
/// bounded in length, CRLF everywhere (no bare LF), trailer lines checked for shape and bounded in size.
///
/// Threading: a value type. Cost: one pass over size lines and trailers; chunk data is skipped
/// (or handed over) without looking at it. No allocation.
@_spi(GustInternal) public struct ChunkedDecoder: Sendable {
    enum State: UInt8, Sendable {
        case size, extensions, sizeLF, data, dataCR, dataLF, trailerStart, trailerName, trailerValue, trailerLF, finalLF, done
        case invalid
    }

    /// Where a chunk extension is: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
    /// ext-val = token / quoted-string (RFC 9112 §7.1.1).
    enum ExtensionState: UInt8, Sendable {
        /// Before ";" (after the size or a quoted value): ";", BWS or CR.
        case beforeSemicolon
        /// After BWS: more of it, then ";" (the line may not end in whitespace).
        case afterWhitespace
        /// After ";": BWS, then the name's first byte.
        case nameStart
        case name
        /// After a name and BWS: "=", ";" or CR.
        case afterName
        /// After "=": BWS, then a token or a quoted string.
        case valueStart
        case tokenValue
        case quotedValue
        case quotedPair
    }

    // Small fields, so that the decoder (inside every request parser, reset per request) is
    // cheap to copy: 32 bytes.
    var state = State.size
    var extensionState = ExtensionState.beforeSemicolon
    var error = ChunkedError.invalidChunkSize
    var sizeDigits: UInt8 = 0
    var lineBytes: UInt32 = 0
    var trailerBytes: UInt32 = 0
    var extensionLimit: UInt32
    var trailerLimit: UInt32
    var remaining: Int64 = 0

    /// Longest chunk extension accepted on one size line. Default 1 KiB.
    public var maxExtensionBytes: Int {
        get { Int(extensionLimit) }
        set { extensionLimit = UInt32(clamping: newValue) }
    }
    /// Largest trailer section accepted. Default 8 KiB.
    public var maxTrailerBytes: Int {
        get { Int(trailerLimit) }
        set { trailerLimit = UInt32(clamping: newValue) }
    }

    public init(maxExtensionBytes: Int = 1024, maxTrailerBytes: Int = 8 * 1024) {
        extensionLimit = UInt32(clamping: maxExtensionBytes)
        trailerLimit = UInt32(clamping: maxTrailerBytes)
    }

    /// Whether the last chunk and trailer section have been read.
    public var isDone: Bool { state == .done }

    /// Decodes as much of `input` as it can, calling `onData` with each piece of chunk data.
    public mutating func decode(
        _ input: UnsafeRawBufferPointer, onData: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) -> ChunkedResult {
        decode(input, until: { onData($0); return true })
    }

    /// Decodes as much of `input` as it can, handing each piece of chunk data to `onData`; when
    /// `onData` returns false, stops right after that piece with `.paused(consumed:)`.
    public mutating func decode(
        _ input: UnsafeRawBufferPointer, until onData: (UnsafeRawBufferPointer) -> Bool
    ) -> ChunkedResult {
        if state == .done { return .done(consumed: 0) }
        if state == .invalid { return .invalid(error) }
        guard let raw = input.baseAddress else { return .needMore }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let end = input.count
        var i = 0
        while i < end {
            let c = p[i]
            switch state {
            case .size:
                if let digit = Self.hexValue(c) {
                    guard sizeDigits < 15 else { return fail(.invalidChunkSize) }
                    remaining = remaining << 4 | Int64(digit)
                    sizeDigits += 1
                    i += 1
                } else {
                    guard sizeDigits > 0 else { return fail(.invalidChunkSize) }
                    if c == CharacterClass.cr {
                        state = .sizeLF
                        i += 1
                    } else if c == 0x3b || CharacterClass.isWhitespace(c) {  // ";" or BWS before it
                        state = .extensions
                        extensionState = .beforeSemicolon
                        lineBytes = 0
                    } else {
                        return fail(c == CharacterClass.lf ? .invalidLineEnding : .invalidChunkSize)
                    }
                }
            case .extensions:
                if c == CharacterClass.cr {
                    // The line may end after a name or a value; not after ";", "=" or whitespace,
                    // nor inside a quoted string.
                    switch extensionState {
                    case .beforeSemicolon, .name, .tokenValue: state = .sizeLF
                    case .afterWhitespace, .nameStart, .afterName, .valueStart, .quotedValue, .quotedPair:
                        return fail(.invalidChunkExtension)
                    }
                } else {
                    guard lineBytes < extensionLimit else { return fail(.invalidChunkExtension) }
                    if let e = extensionByte(c) { return fail(e) }
                    lineBytes += 1
                }
                i += 1
            case .sizeLF:
                guard c == CharacterClass.lf else { return fail(.invalidLineEnding) }
                i += 1
                state = remaining == 0 ? .trailerStart : .data
                trailerBytes = 0
            case .data:
                let take = Int(min(Int64(end - i), remaining))
                let goOn = onData(UnsafeRawBufferPointer(start: p + i, count: take))
                i += take
                remaining -= Int64(take)
                if remaining == 0 { state = .dataCR }
                if !goOn { return .paused(consumed: i) }
            case .dataCR:
                guard c == CharacterClass.cr else { return fail(.invalidLineEnding) }
                i += 1
                state = .dataLF
            case .dataLF:
                guard c == CharacterClass.lf else { return fail(.invalidLineEnding) }
                i += 1
                state = .size
                sizeDigits = 0
            case .trailerStart:
                if c == CharacterClass.cr {
                    state = .finalLF
                    i += 1
                } else {
                    guard CharacterClass.isTokenChar(c) else {
                        return fail(c == CharacterClass.lf ? .invalidLineEnding : .invalidTrailer)
                    }
                    state = .trailerName
                }
            case .trailerName, .trailerValue:
                // field-line = field-name ":" OWS field-value OWS
                if state == .trailerName {
                    if c == CharacterClass.colon {
                        state = .trailerValue
                    } else {
                        guard CharacterClass.isTokenChar(c) else { return fail(.invalidTrailer) }
                    }
                } else if c == CharacterClass.cr {
                    state = .trailerLF
                } else {
                    guard CharacterClass.isFieldValueByte(c) else { return fail(.invalidTrailer) }
                }
                i += 1
                trailerBytes += 1
                guard trailerBytes <= trailerLimit else { return fail(.invalidTrailer) }
            case .trailerLF:
                guard c == CharacterClass.lf else { return fail(.invalidLineEnding) }
                i += 1
                state = .trailerStart
            case .finalLF:
                guard c == CharacterClass.lf else { return fail(.invalidLineEnding) }
                state = .done
                return .done(consumed: i + 1)
            case .done:
                return .done(consumed: 0)
            case .invalid:
                return .invalid(error)
            }
        }
        return .needMore
    }

    /// Advances the chunk-extension grammar by one byte (not CR); an error if the byte cannot
    /// come here.
    @inline(__always)
    private mutating func extensionByte(_ c: UInt8) -> ChunkedError? {
        let ws = CharacterClass.isWhitespace(c)
        let token = CharacterClass.isTokenChar(c)
        switch extensionState {
        case .beforeSemicolon, .afterWhitespace:
            if c == 0x3b {
                extensionState = .nameStart
            } else if ws {
                extensionState = .afterWhitespace
            } else {
                return badByte(c)
            }
        case .nameStart:
            if token { extensionState = .name } else if !ws { return badByte(c) }
        case .name:
            if c == 0x3d {
                extensionState = .valueStart
            } else if c == 0x3b {
                extensionState = .nameStart
            } else if ws {
                extensionState = .afterName
            } else if !token {
                return badByte(c)
            }
        case .afterName:
            if c == 0x3d { extensionState = .valueStart } else if c == 0x3b { extensionState = .nameStart } else if !ws { return badByte(c) }
        case .valueStart:
            if c == 0x22 {
                extensionState = .quotedValue
            } else if token {
                extensionState = .tokenValue
            } else if !ws {
                return badByte(c)
            }
        case .tokenValue:
            if c == 0x3b {
                extensionState = .nameStart
            } else if ws {
                extensionState = .afterWhitespace
            } else if !token {
                return badByte(c)
            }
        case .quotedValue:
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            if c == 0x22 {
                extensionState = .beforeSemicolon
            } else if c == 0x5c {
                extensionState = .quotedPair
            } else if !CharacterClass.isFieldValueByte(c) {
                return badByte(c)
            }
        case .quotedPair:
            guard CharacterClass.isFieldValueByte(c) else { return badByte(c) }
            extensionState = .quotedValue
        }
        return nil
    }

    @inline(__always)
    private func badByte(_ c: UInt8) -> ChunkedError {
        c == CharacterClass.lf ? .invalidLineEnding : .invalidChunkExtension
    }

    private mutating func fail(_ e: ChunkedError) -> ChunkedResult {
        state = .invalid
        error = e
        return .invalid(e)
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        if c &- 0x30 < 10 { return c &- 0x30 }
        let lower = c | 0x20
        if lower &- 0x61 < 6 { return lower &- 0x61 + 10 }
        return nil
    }
}
