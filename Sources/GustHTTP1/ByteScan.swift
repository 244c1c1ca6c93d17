/// Word-at-a-time scans for the parser's two long runs, the request target and field values:
/// eight bytes are tested per step with the "has a byte less than n" bit trick, and the first
/// byte that needs a closer look is found from the lowest flagged bit (the trick may flag bytes
/// above a true one, never below it, so the lowest flag is exact).
///
/// Pure functions over a pointer and a range; no allocation. Cost: about one cycle per byte on
/// long runs instead of a compare-and-branch per byte.
@usableFromInline enum ByteScan {
    @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// High bit set in each byte of `x` that is less than `n` (n ≤ 128); exact for the lowest.
    @inlinable @inline(__always) static func bytesLess(_ x: UInt64, than n: UInt64) -> UInt64 {
        (x &- ones &* n) & ~x & highBits
    }

    /// High bit set in each byte of `x` equal to `b`; exact for the lowest.
    @inlinable @inline(__always) static func bytesEqual(_ x: UInt64, _ b: UInt64) -> UInt64 {
        let y = x ^ (ones &* b)
        return (y &- ones) & ~y & highBits
    }

    @inlinable @inline(__always) static func load(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
    }

    /// The offset of the first byte in `i..<end` that is not a target byte (0x21...0x7e), or `end`.
    @inlinable @inline(__always)
    static func skipTargetBytes(_ p: UnsafePointer<UInt8>, from i: Int, to end: Int) -> Int {
        var i = i
        while end - i >= 8 {
            let x = load(p, i)
            let stop = bytesLess(x, than: 0x21) | (x & highBits) | bytesEqual(x, 0x7f)
            if stop != 0 { return i + stop.trailingZeroBitCount >> 3 }
            i &+= 8
        }
        while i < end && CharacterClass.isTargetByte(p[i]) { i &+= 1 }
        return i
    }

    /// The offset of the first byte in `i..<end` that is not a field-value byte (a control other
    /// than HTAB, or DEL), or `end`.
    @inlinable @inline(__always)
    static func skipFieldValueBytes(_ p: UnsafePointer<UInt8>, from i: Int, to end: Int) -> Int {
        var i = i
        while end - i >= 8 {
            let x = load(p, i)
            let stop = bytesLess(x, than: 0x20) | bytesEqual(x, 0x7f)
            if stop == 0 {
                i &+= 8
                continue
            }
            i &+= stop.trailingZeroBitCount >> 3
            guard p[i] == CharacterClass.htab else { return i }
            i &+= 1  // HTAB is allowed in values: go on past it
        }
        while i < end && CharacterClass.isFieldValueByte(p[i]) { i &+= 1 }
        return i
    }

    /// The offset of the first `byte` in `i..<end`, or `end`.
    @inlinable @inline(__always)
    static func find(_ byte: UInt8, _ p: UnsafePointer<UInt8>, from i: Int, to end: Int) -> Int {
        var i = i
        while end - i >= 8 {
            let hit = bytesEqual(load(p, i), UInt64(byte))
            if hit != 0 { return i + hit.trailingZeroBitCount >> 3 }
            i &+= 8
        }
        while i < end && p[i] != byte { i &+= 1 }
        return i
    }
}
