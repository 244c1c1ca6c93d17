/// The address of an element in a `Slab`: an index plus the generation the slot had when the
/// element was inserted. A stale ID (its element removed, the slot reused) fails the generation
/// check instead of reaching the new occupant. Packs into one `UInt64`, which is what the reactor
/// stores as epoll user data.
@_spi(GustInternal) public struct SlotID: Hashable, Sendable, CustomStringConvertible {
    public var index: UInt32
    public var generation: UInt32

    @inlinable public init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    /// Unpacks a value made by `packed`.
    @inlinable public init(packed: UInt64) {
        self.index = UInt32(truncatingIfNeeded: packed)
        self.generation = UInt32(truncatingIfNeeded: packed >> 32)
    }

    /// `generation << 32 | index`. Generations start at 1, so a packed ID is never 0.
    @inlinable public var packed: UInt64 { UInt64(generation) << 32 | UInt64(index) }

    public var description: String { "#\(index).\(generation)" }
}
