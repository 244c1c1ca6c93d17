@_spi(GustInternal) import GustHTTP1
import Testing

func withBytes<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    Array(s.utf8).withUnsafeBufferPointer(body)
}

@Suite struct HTTPDateParsingTests {
    static let valid: [(String, Int64)] = [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),  // RFC 9110's example, IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),  // RFC 850
        ("Sun Nov  6 08:49:37 1994", 784_111_777),  // asctime
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Tue, 29 Feb 2028 23:59:59 GMT", 1_835_481_599),
        ("Tue, 24 Nov 2026 12:00:00 GMT", 1_795_521_600),
        ("Friday, 31-Dec-99 23:59:59 GMT", 946_684_799),
        ("Tuesday, 24-Nov-26 12:00:00 GMT", 1_795_521_600),
        ("Thu Jan 13 00:00:00 2000", 947_721_600),
    ]

    static let invalid = [
        "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 1900 00:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 GMT ", "1994-11-06T08:49:37Z", "Sun, 06-Nov-1994 08:49:37 GMT",
    ]

    @Test func parsesTheThreeFormats() {
        for (text, seconds) in Self.valid {
            #expect(withBytes(text) { HTTPDate.parse($0) } == seconds, "\(text)")
        }
    }

    @Test func refusesEverythingElse() {
        for text in Self.invalid {
            #expect(withBytes(text) { HTTPDate.parse($0) } == nil, "\(text)")
        }
    }

    @Test func roundTripsWithTheFormatter() {
        for seconds: Int64 in [0, 86_399, 951_782_400, 1_795_521_600, 4_102_444_799] {
            let text = [UInt8](unsafeUninitializedCapacity: HTTPDate.length) { buffer, n in
                HTTPDate.format(epochSeconds: seconds, into: buffer.baseAddress!)
                n = HTTPDate.length
            }
            #expect(text.withUnsafeBufferPointer { HTTPDate.parse($0) } == seconds)
        }
    }
}

@Suite struct ByteRangeTests {
    static let cases: [(String, Int64, ByteRange)] = [
        ("bytes=0-99", 1000, .part(first: 0, last: 99)),
        ("bytes=500-", 1000, .part(first: 500, last: 999)),
        ("bytes=-100", 1000, .part(first: 900, last: 999)),
        ("bytes=-5000", 1000, .part(first: 0, last: 999)),
        ("bytes=990-5000", 1000, .part(first: 990, last: 999)),
        ("Bytes=0-0", 1000, .part(first: 0, last: 0)),
        ("bytes=1000-", 1000, .unsatisfiable),
        ("bytes=1000-2000", 1000, .unsatisfiable),
        ("bytes=-0", 1000, .unsatisfiable),
        ("bytes=0-", 0, .unsatisfiable),
        ("bytes=5-1", 1000, .whole),  // invalid: ignored
        ("bytes=0-1,5-6", 1000, .whole),  // several ranges: served whole
        ("bytes=a-b", 1000, .whole),
        ("bytes=-", 1000, .whole),
        ("bytes= 0-1", 1000, .whole),
        ("items=0-1", 1000, .whole),
        ("bytes=99999999999999999999-", 1000, .whole),
        ("", 1000, .whole),
    ]

    @Test func singleRangesAreServedTheRestIsIgnored() {
        for (text, size, want) in Self.cases {
            #expect(withBytes(text) { ByteRange.parse($0, size: size) } == want, "\(text) of \(size)")
        }
    }
}

@Suite struct EntityTagTests {
    @Test func ifNoneMatchUsesWeakComparison() {
        let tag = "\"5f3a-1c\""
        let hits = ["\"5f3a-1c\"", "W/\"5f3a-1c\"", "*", " \"x\", \"5f3a-1c\" ", "\"a\",W/\"5f3a-1c\"", ", \"5f3a-1c\""]
        let misses = ["\"5f3a-1d\"", "5f3a-1c", "\"5f3a-1c", "\"x\" \"5f3a-1c\"", "**", "\"\"", ""]
        for v in hits { #expect(withBytes(v) { value in withBytes(tag) { EntityTags.noneMatchHits(value, tag: $0) } }, "\(v)") }
        for v in misses { #expect(!withBytes(v) { value in withBytes(tag) { EntityTags.noneMatchHits(value, tag: $0) } }, "\(v)") }
    }

    @Test func ifRangeUsesStrongComparison() {
        let tag = "\"abc\""
        #expect(withBytes("\"abc\"") { v in withBytes(tag) { EntityTags.strongMatch(v, tag: $0) } })
        #expect(!withBytes("W/\"abc\"") { v in withBytes(tag) { EntityTags.strongMatch(v, tag: $0) } })
        #expect(!withBytes("\"abd\"") { v in withBytes(tag) { EntityTags.strongMatch(v, tag: $0) } })
    }
}
