/// Byte classes from RFC 9110 §5.6.2 (tchar) and RFC 9112, as branch-light checks with no tables
/// in memory.
@usableFromInline enum CharacterClass {
    @usableFromInline static let cr: UInt8 = 13
    @usableFromInline static let lf: UInt8 = 10
    @usableFromInline static let sp: UInt8 = 32
    @usableFromInline static let htab: UInt8 = 9
    @usableFromInline static let colon: UInt8 = 58

    /// tchar: "!#$%&'*+-.^_`|~", digits and letters.
    @inlinable @inline(__always) static func isTokenChar(_ c: UInt8) -> Bool {
        let lo: UInt64 = 0x03ff_6cfa_0000_0000
        let hi: UInt64 = 0x57ff_ffff_c7ff_fffe
        if c < 64 { return (lo >> UInt64(c)) & 1 != 0 }
        if c < 128 { return (hi >> UInt64(c &- 64)) & 1 != 0 }
        return false
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
