/// A per-reactor free list of equal-sized byte blocks.
///
/// Connections lease a block only while they hold bytes in flight (a partial request, unsent
/// output) and give it back as soon as it is empty, so an idle connection owns no buffer.
/// Keeps at most `maximumCached` free blocks; beyond that, returned blocks are freed.
///
/// Threading: not thread-safe; owned by one reactor.
/// Cost: `take` and `give` are O(1) and allocate only when the free list is empty.
public final class BufferPool {
    public let blockSize: Int
    public let maximumCached: Int
    var cached: [UnsafeMutableRawPointer] = []
    /// Blocks currently handed out and not given back.
    public private(set) var leased = 0

    public init(blockSize: Int, maximumCached: Int) {
        precondition(blockSize > 0 && maximumCached >= 0)
        self.blockSize = blockSize
        self.maximumCached = maximumCached
        cached.reserveCapacity(maximumCached)
    }

    deinit { for block in cached { block.deallocate() } }

    /// Free blocks held for reuse.
    public var cachedCount: Int { cached.count }

    /// A buffer of `blockSize` bytes, empty.
    public func take() -> ByteBuffer {
        leased += 1
        let block = cached.popLast() ?? .allocate(byteCount: blockSize, alignment: 16)
        return ByteBuffer(adopting: block, capacity: blockSize)
    }

    /// Returns a buffer from `take`. A buffer that grew past `blockSize` is freed, not cached.
    public func give(_ buffer: consuming ByteBuffer) {
        leased -= 1
        let (block, capacity) = buffer.relinquish()
        if capacity == blockSize && cached.count < maximumCached {
            cached.append(block)
        } else {
            block.deallocate()
        }
    }
}
