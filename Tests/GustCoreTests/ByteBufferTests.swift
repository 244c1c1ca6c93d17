@_spi(GustInternal) import GustCore
import Testing

@Suite struct ByteBufferTests {
    func contents(_ b: borrowing ByteBuffer) -> [UInt8] { b.withUnsafeReadableBytes { Array($0) } }

    @Test func appendGrowAndCompact() {
        var b = ByteBuffer(capacity: 4)
        b.append("Hello, ")
        b.append(UInt8(ascii: "W"))
        [UInt8]("orld!".utf8).withUnsafeBytes { b.append($0) }
        #expect(String(decoding: contents(b), as: UTF8.self) == "Hello, World!")
        #expect(b.capacity >= 13)
        b.readerIndex = 7
        b.discardReadBytes()
        #expect(b.readerIndex == 0 && String(decoding: contents(b), as: UTF8.self) == "World!")
    }

    @Test(arguments: [0, 7, -7, 10, 99, 100, 12_345, Int.max, Int.min + 1, Int.min])
    func decimal(_ value: Int) {
        var b = ByteBuffer(capacity: 8)
        b.appendDecimal(value)
        #expect(String(decoding: contents(b), as: UTF8.self) == String(value))
    }

    @Test func leasePoolReusesRecordsUpToItsCache() {
        var pool = LeasePool<ByteBuffer>(maximumCached: 2, warmCount: 1)
        var made = 0
        func make() -> ByteBuffer {
            made += 1
            return ByteBuffer(capacity: 64)
        }
        let a = pool.take(make), b = pool.take(make), c = pool.take(make)
        a.pointee.append("x")
        #expect(made == 3 && pool.leased == 3)
        #expect(!pool.give(a) { $0.clear() })
        #expect(!pool.give(b) { $0.clear() })
        #expect(pool.give(c) { $0.clear() }, "past the cache, a record is freed")
        #expect(pool.cachedCount == 2 && pool.leased == 0)
        let again = pool.take(make)
        #expect(made == 3 && again.pointee.readableBytes == 0, "a cached record comes back reset")
        pool.give(again) { $0.clear() }
        pool.shrinkToWarm()
        #expect(pool.cachedCount == 1)
    }
}
