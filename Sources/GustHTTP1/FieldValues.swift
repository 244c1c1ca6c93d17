/// Field-value grammars that both the request and the response parsers read.
/// Pure; no allocation.
enum FieldValues {
    /// `1*DIGIT` (RFC 9110 §8.6) as a length; nil for an empty value or any non-digit.
    /// Saturates at `Int64.max` past 10^18 (far beyond any body limit).
    static func decimalLength(_ value: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        guard n > 0 else { return nil }
        var length: Int64 = 0
        for k in 0..<n {
            let digit = value[k] &- 0x30
            guard digit < 10 else { return nil }
            length = length > 100_000_000_000_000_000 ? Int64.max : length * 10 + Int64(digit)
        }
        return length
    }

    /// Whether the comma-separated `Connection` options hold `close` and `keep-alive`
    /// (case-insensitive, RFC 9110 §7.6.1).
    static func connectionOptions(_ value: UnsafePointer<UInt8>, _ n: Int) -> (close: Bool, keepAlive: Bool) {
        var close = false
        var keepAlive = false
        var k = 0
        while k < n {
            while k < n && (value[k] == 0x2c || CharacterClass.isWhitespace(value[k])) { k += 1 }
            let start = k
            while k < n && value[k] != 0x2c && !CharacterClass.isWhitespace(value[k]) { k += 1 }
            let length = k - start
            if length == 5 && asciiCaseInsensitiveEqual(value + start, ("close" as StaticString).utf8Start, 5) {
                close = true
            } else if length == 10 && asciiCaseInsensitiveEqual(value + start, ("keep-alive" as StaticString).utf8Start, 10) {
                keepAlive = true
            }
        }
        return (close, keepAlive)
    }
}

/// What the `Transfer-Encoding` field lines of a message say, accumulated line by line in order
/// (RFC 9112 §6.1; list syntax of RFC 9110 §5.6.1: empty elements are ignored).
@_spi(GustInternal) public struct TransferCodings: Sendable, Equatable {
    /// Codings named, over every line.
    public internal(set) var count: UInt8 = 0
    /// How many of them are `chunked`.
    public internal(set) var chunkedCount: UInt8 = 0
    /// The last coding named is `chunked`.
    public internal(set) var lastIsChunked = false
    /// A coding other than `chunked` was named (gzip, deflate, identity, ...).
    public internal(set) var hasOtherCoding = false
    /// A list element was not `token *( OWS ";" OWS parameter )`, or `chunked` had parameters.
    public internal(set) var isMalformed = false

    public init() {}

    /// Whether a field line was seen at all.
    @inlinable public var isPresent: Bool { count > 0 || isMalformed }

    /// Adds one field line's value. Cost: one pass over the value; no allocation.
    public mutating func add(_ value: UnsafePointer<UInt8>, _ n: Int) {
        var k = 0
        var elements = 0
        while k <= n {
            // One element: OWS token [ parameters ] OWS, up to a comma or the end.
            while k < n && CharacterClass.isWhitespace(value[k]) { k += 1 }
            if k == n || value[k] == 0x2c {  // empty element
                k += 1
                continue
            }
            let start = k
            while k < n && CharacterClass.isTokenChar(value[k]) { k += 1 }
            let nameLength = k - start
            while k < n && CharacterClass.isWhitespace(value[k]) { k += 1 }
            var hasParameters = false
            if nameLength > 0 && k < n && value[k] == 0x3b {  // ";" parameters
                hasParameters = true
                guard let end = Self.skipParameters(value, from: k, to: n) else { return markMalformed() }
                k = end
            }
            guard nameLength > 0, k == n || value[k] == 0x2c else { return markMalformed() }
            let isChunked = nameLength == 7 && asciiCaseInsensitiveEqual(value + start, ("chunked" as StaticString).utf8Start, 7)
            if isChunked && hasParameters { return markMalformed() }
            count = count < 255 ? count + 1 : 255
            if isChunked { chunkedCount = chunkedCount < 255 ? chunkedCount + 1 : 255 }
            hasOtherCoding = hasOtherCoding || !isChunked
            lastIsChunked = isChunked
            elements += 1
            k += 1
        }
        if elements == 0 { markMalformed() }  // a field line with no coding at all
    }

    mutating func markMalformed() {
        isMalformed = true
        lastIsChunked = false
    }

    /// Skips `*( OWS ";" OWS token "=" ( token / quoted-string ) ) OWS` from `k` (at a ";");
    /// returns where it stopped (a comma or the end), or nil if the syntax is broken.
    static func skipParameters(_ v: UnsafePointer<UInt8>, from start: Int, to n: Int) -> Int? {
        var k = start
        while k < n && v[k] == 0x3b {
            k += 1
            while k < n && CharacterClass.isWhitespace(v[k]) { k += 1 }
            let name = k
            while k < n && CharacterClass.isTokenChar(v[k]) { k += 1 }
            guard k > name, k < n, v[k] == 0x3d else { return nil }  // "="
            k += 1
            if k < n && v[k] == 0x22 {  // quoted-string
                k += 1
                while k < n && v[k] != 0x22 {
                    if v[k] == 0x5c { k += 1 }  // quoted-pair
                    guard k < n, CharacterClass.isFieldValueByte(v[k]) else { return nil }
                    k += 1
                }
                guard k < n else { return nil }
                k += 1
            } else {
                let value = k
                while k < n && CharacterClass.isTokenChar(v[k]) { k += 1 }
                guard k > value else { return nil }
            }
            while k < n && CharacterClass.isWhitespace(v[k]) { k += 1 }
        }
        return k == n || v[k] == 0x2c ? k : nil
    }
}
