/// IMF-fixdate formatting (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
@_spi(GustInternal) public enum HTTPDate {
    /// Length of an IMF-fixdate.
    public static let length = 29

    /// Writes the IMF-fixdate for `epochSeconds` (seconds since 1970-01-01 UTC) into 29 bytes
    /// at `out`. Cost: a few divisions; no allocation.
    public static func format(epochSeconds: Int64, into out: UnsafeMutablePointer<UInt8>) {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = Int(epochSeconds - days * 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
        let names: StaticString = "SunMonTueWedThuFriSat"
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        var k = 0
        @inline(__always) func put(_ c: UInt8) {
            out[k] = c
            k += 1
        }
        @inline(__always) func two(_ v: Int) {
            put(UInt8(48 + v / 10))
            put(UInt8(48 + v % 10))
        }
        for j in 0..<3 { put(names.utf8Start[weekday * 3 + j]) }
        put(0x2c)
        put(0x20)
        two(day)
        put(0x20)
        for j in 0..<3 { put(months.utf8Start[(month - 1) * 3 + j]) }
        put(0x20)
        let y = Int(max(0, min(9999, year)))
        two(y / 100)
        two(y % 100)
        put(0x20)
        two(secondOfDay / 3600)
        put(0x3a)
        two(secondOfDay / 60 % 60)
        put(0x3a)
        two(secondOfDay % 60)
        for c in " GMT".utf8 { put(c) }
    }

    /// Proleptic Gregorian date for a day count from 1970-01-01, by the era arithmetic: an era is
    /// 400 years (146,097 days); years are counted from March so the leap day falls last.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468  // days from 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// The `Date` header line, re-formatted at most once a second.
///
/// Threading: one per reactor, used only on its thread. Cost: `update` is one compare unless the
/// second changed; the line is always ready to copy.
@_spi(GustInternal) public struct DateCache: ~Copyable {
    /// "Date: " + IMF-fixdate + CRLF.
    public static let lineLength = 37
    @usableFromInline let storage: UnsafeMutablePointer<UInt8>
    public private(set) var epochSeconds: Int64 = .min

    public init(epochSeconds: Int64) {
        storage = .allocate(capacity: Self.lineLength)
        let prefix: StaticString = "Date: "
        storage.initialize(from: prefix.utf8Start, count: 6)
        storage[35] = 13
        storage[36] = 10
        update(epochSeconds: epochSeconds)
    }

    deinit { storage.deallocate() }

    /// Re-formats the line if `epochSeconds` differs from the cached second.
    @inlinable public mutating func update(epochSeconds now: Int64) {
        if now != epochSeconds { reformat(now) }
    }

    @usableFromInline mutating func reformat(_ now: Int64) {
        epochSeconds = now
        HTTPDate.format(epochSeconds: now, into: storage + 6)
    }

    /// The whole header line, CRLF included.
    @inlinable public var line: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage, count: Self.lineLength)
    }
}
