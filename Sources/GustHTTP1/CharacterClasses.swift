/// Byte classes from RFC 9110 §5.6.2 (tchar) and RFC 9112, as branch-free checks with no tables
/// in memory.
@usableFromInline enum CharacterClass {
    @usableFromInline static let cr: UInt8 = 13
    @usableFromInline static let lf: UInt8 = 10
    @usableFromInline static let sp: UInt8 = 32
    @usableFromInline static let htab: UInt8 = 9
    @usableFromInline static let colon: UInt8 = 58

    /// tchar: "!#$%&'*+-.^_`|~", digits and letters.
    @inlinable @inline(__always) static func isTokenChar(_ c: UInt8) -> Bool {
        inMask(c, low: 0x03ff_6cfa_0000_0000, high: 0x57ff_ffff_c7ff_fffe)
    }

    /// Whether ASCII byte `c` has its bit set in the 128-bit set `high:low`; false for c ≥ 128.
    /// Branch-free (a conditional move and a shift), so mixed input does not mispredict.
    @inlinable @inline(__always) static func inMask(_ c: UInt8, low: UInt64, high: UInt64) -> Bool {
        maskBit(c, low: low, high: high) != 0
    }

    /// 1 if ASCII byte `c` is in the set `high:low`, else 0.
    @inlinable @inline(__always) static func maskBit(_ c: UInt8, low: UInt64, high: UInt64) -> UInt64 {
        let word = c < 64 ? low : high
        return (word >> UInt64(c & 63)) & UInt64(1 &- (c >> 7))
    }

    /// 1 for a byte allowed in a Host value, else 0: reg-name characters (unreserved, sub-delims, "%"),
    /// IP-literal brackets and the port colon.
    @inlinable @inline(__always) static func hostCharBit(_ c: UInt8) -> UInt64 {
        maskBit(c, low: 0x2fff_7ff2_0000_0000, high: 0x47ff_fffe_afff_fffe)
    }

    /// A byte allowed in a field value (field-vchar, SP, HTAB, obs-text): everything but the
    /// controls other than HTAB, and DEL. CR and LF are controls: they end the value.
    @inlinable @inline(__always) static func isFieldValueByte(_ c: UInt8) -> Bool {
        (c >= 0x20 && c != 0x7f) || c == htab
    }

    /// A byte allowed in a request target: visible US-ASCII (RFC 3986 characters and a little
    /// more, as servers accept); no controls, space, DEL or non-ASCII.
    @inlinable @inline(__always) static func isTargetByte(_ c: UInt8) -> Bool {
        c &- 0x21 < 0x5e
    }

    @inlinable @inline(__always) static func isWhitespace(_ c: UInt8) -> Bool { c == sp || c == htab }

    @inlinable @inline(__always) static func lower(_ c: UInt8) -> UInt8 {
        c &- 65 < 26 ? c | 0x20 : c
    }
}
