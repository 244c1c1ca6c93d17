import GustCore
import Testing

@Suite struct ByteBufferTests {
    func contents(_ b: borrowing ByteBuffer) -> [UInt8] { Array(b.readable) }

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

    @Test func poolReusesBlocksAndFreesGrownOnes() {
        let pool = BufferPool(blockSize: 128, maximumCached: 1)
        var a = pool.take()
        a.append("x")
        let base = a.base
        pool.give(a)
        #expect(pool.cachedCount == 1 && pool.leased == 0)
        var b = pool.take()
        #expect(b.base == base && b.readableBytes == 0)
        b.grow(minimumCapacity: 1024)
        pool.give(b)
        #expect(pool.cachedCount == 0, "a grown block is not kept")
    }
}
