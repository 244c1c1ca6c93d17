/// What a `Range` request field asks of a representation `size` bytes long (RFC 9110 §14),
/// for a server that serves single ranges.
@_spi(GustInternal) public enum ByteRange: Equatable, Sendable {
    /// Serve the whole representation: no `Range`, a unit other than bytes, a malformed value,
    /// or several ranges (which a server may ignore, RFC 9110 §14.2).
    case whole
    /// Serve bytes `first...last` (inclusive) with 206.
    case part(first: Int64, last: Int64)
    /// No requested range overlaps the representation: 416 with `Content-Range: bytes */size`.
    case unsatisfiable

    /// Reads `Range: bytes=first-last | bytes=first- | bytes=-suffix` against `size`.
    /// Pure; no allocation.
    public static func parse(_ value: UnsafeBufferPointer<UInt8>, size: Int64) -> ByteRange {
        let unit: StaticString = "bytes="
        guard value.count > 6, asciiCaseInsensitiveEqual(value.baseAddress!, unit.utf8Start, 6) else { return .whole }
        var i = 6
        func number() -> Int64? {
            let start = i
            var v: Int64 = 0
            while i < value.count, value[i] &- 0x30 < 10 {
                guard v < 100_000_000_000_000_000 else { return nil }  // absurd: ignore the field
                v = v * 10 + Int64(value[i] &- 0x30)
                i += 1
            }
            return i > start ? v : nil
        }
        let first = number()
        guard i < value.count, value[i] == 0x2d else { return .whole }  // "-"
        i += 1
        let last = number()
        // Anything after one range (another range, junk): serve the whole representation.
        guard i == value.count else { return .whole }
        switch (first, last) {
        case (let f?, let l?):
            guard f <= l else { return .whole }  // invalid range-spec: the field is ignored
            guard f < size else { return .unsatisfiable }
            return .part(first: f, last: min(l, size - 1))
        case (let f?, nil):
            guard f < size else { return .unsatisfiable }
            return .part(first: f, last: size - 1)
        case (nil, let suffix?):
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(first: max(0, size - suffix), last: size - 1)
        case (nil, nil):
            return .whole
        }
    }
}

/// Entity-tag comparison for conditional requests (RFC 9110 §8.8.3, §13.1).
@_spi(GustInternal) public enum EntityTags {
    /// Whether `If-None-Match`'s value (`*` or a list of entity-tags) matches `tag` (a quoted
    /// opaque tag such as `"5f3a-1c"`), by weak comparison (a `W/` prefix is ignored). A
    /// malformed list matches nothing. Pure; no allocation.
    public static func noneMatchHits(_ value: UnsafeBufferPointer<UInt8>, tag: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = value.count
        func skipSpace() { while i < n && (value[i] == 0x20 || value[i] == 0x09) { i += 1 } }
        skipSpace()
        if i < n && value[i] == 0x2a {  // "*"
            i += 1
            skipSpace()
            return i == n
        }
        while i < n {
            skipSpace()
            if i < n && value[i] == 0x2c {  // empty list element
                i += 1
                continue
            }
            if i + 1 < n && value[i] == 0x57 && value[i + 1] == 0x2f { i += 2 }  // "W/"
            guard i < n, value[i] == 0x22 else { return false }
            let start = i
            i += 1
            while i < n && value[i] != 0x22 { i += 1 }
            guard i < n else { return false }
            i += 1
            if i - start == tag.count && memoryEqual(value.baseAddress! + start, tag.baseAddress!, tag.count) { return true }
            skipSpace()
            guard i == n || value[i] == 0x2c else { return false }
            if i < n { i += 1 }
        }
        return false
    }

    /// Whether an `If-Range` value that is an entity-tag names `tag` by strong comparison (a
    /// weak tag never matches).
    public static func strongMatch(_ value: UnsafeBufferPointer<UInt8>, tag: UnsafeBufferPointer<UInt8>) -> Bool {
        value.count == tag.count && value.first == 0x22 && memoryEqual(value.baseAddress!, tag.baseAddress!, tag.count)
    }
}
