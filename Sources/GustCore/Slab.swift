/// A slab of fixed-size records addressed by `SlotID`, with stable addresses.
///
/// Records live in chunks of 1024 that are allocated on first use and never move, so a pointer
/// to a record stays valid until the record is removed. Free slots form an intrusive list;
/// insert and remove are O(1) and allocate nothing once the chunk exists. Each slot keeps a
/// generation that is bumped on removal, so a `SlotID` from an earlier occupant is rejected.
/// Generations use 31 bits, so a packed `SlotID` never has its top bit set.
/// Untouched chunks cost nothing; a touched chunk costs 1024 × (record size + 8) bytes.
///
/// Threading: not thread-safe; owned by one reactor and used only on its thread.
/// Unsafe: hands out `UnsafeMutablePointer`s to records; they are valid until that record's
/// `remove`, and only on the owning thread.
@_spi(GustInternal) public final class Slab<Element> {
    // Literals, inlined as such (a static computed property of a generic class is a call).
    @inline(__always) @usableFromInline static var chunkShift: Int { 10 }
    @inline(__always) @usableFromInline static var chunkSize: Int { 1024 }
    @inline(__always) @usableFromInline static var chunkMask: Int { 1023 }

    /// Per chunk: records, generations, and each slot's link: the next free index (-1 ends the
    /// free list) for a free slot, `occupied` for a live one, `unusable` past `maximumCount`.
    @usableFromInline let elementChunks: UnsafeMutablePointer<UnsafeMutablePointer<Element>?>
    @usableFromInline let generationChunks: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    @usableFromInline let nextFreeChunks: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>
    @usableFromInline let chunkCapacity: Int
    @inline(__always) @usableFromInline static var occupied: Int32 { Int32.min }
    @inline(__always) @usableFromInline static var unusable: Int32 { Int32.min + 1 }
    // Single-threaded by contract (one reactor): no dynamic exclusivity checks on these, which
    // every lookup would otherwise pay.
    @exclusivity(unchecked) @usableFromInline var freeHead: Int32 = -1
    /// Slots that exist (in allocated chunks).
    @exclusivity(unchecked) @usableFromInline var allocatedSlots: Int = 0

    /// Number of live records.
    @exclusivity(unchecked) public private(set) var count: Int = 0
    /// The largest number of records this slab may hold.
    public let maximumCount: Int

    /// - Parameter maximumCount: the most records the slab will ever hold; sizes a table of
    ///   `maximumCount / 1024` chunk pointers up front (24 bytes per 1024 records).
    public init(maximumCount: Int) {
        precondition(maximumCount > 0 && maximumCount <= Int(Int32.max))
        self.maximumCount = maximumCount
        chunkCapacity = (maximumCount + Self.chunkSize - 1) >> Self.chunkShift
        elementChunks = .allocate(capacity: chunkCapacity)
        elementChunks.initialize(repeating: nil, count: chunkCapacity)
        generationChunks = .allocate(capacity: chunkCapacity)
        generationChunks.initialize(repeating: nil, count: chunkCapacity)
        nextFreeChunks = .allocate(capacity: chunkCapacity)
        nextFreeChunks.initialize(repeating: nil, count: chunkCapacity)
    }

    deinit {
        for c in 0..<chunkCapacity {
            guard let elements = elementChunks[c] else { break }
            for i in 0..<Self.chunkSize where nextFreeChunks[c]![i] == Self.occupied {
                (elements + i).deinitialize(count: 1)
            }
            elements.deallocate()
            generationChunks[c]!.deallocate()
            nextFreeChunks[c]!.deallocate()
        }
        elementChunks.deallocate()
        generationChunks.deallocate()
        nextFreeChunks.deallocate()
    }

    /// Bytes the slab has allocated for records and their bookkeeping (touched or not).
    public var reservedBytes: Int {
        ((allocatedSlots + Self.chunkMask) >> Self.chunkShift) * Self.chunkSize * (MemoryLayout<Element>.stride + 8)
    }

    /// Inserts `element`; returns its ID and a stable pointer to it, or nil when the slab is full.
    /// Cost: O(1); allocates one chunk when every existing slot is taken.
    public func insert(_ element: Element) -> (id: SlotID, pointer: UnsafeMutablePointer<Element>)? {
        if freeHead < 0 {
            guard allocatedSlots < maximumCount else { return nil }
            addChunk()
        }
        let index = Int(freeHead)
        let c = index >> Self.chunkShift, i = index & Self.chunkMask
        let nextFree = nextFreeChunks[c].unsafelyUnwrapped
        freeHead = nextFree[i]
        nextFree[i] = Self.occupied
        let p = elementChunks[c].unsafelyUnwrapped + i
        p.initialize(to: element)
        count += 1
        return (SlotID(index: UInt32(index), generation: generationChunks[c].unsafelyUnwrapped[i]), p)
    }

    /// The record `id` names, or nil if it was removed (or never existed). Cost: O(1), no ARC.
    @inlinable @inline(__always) public func pointer(to id: SlotID) -> UnsafeMutablePointer<Element>? {
        let index = Int(id.index)
        guard index < allocatedSlots else { return nil }
        let c = index &>> 10, i = index & 1023  // chunkShift, chunkMask
        guard generationChunks[c].unsafelyUnwrapped[i] == id.generation,
            nextFreeChunks[c].unsafelyUnwrapped[i] == Self.occupied
        else { return nil }
        return elementChunks[c].unsafelyUnwrapped + i
    }

    /// The ID of the record at `index`, or nil when that slot is free.
    public func id(atIndex index: Int) -> SlotID? {
        guard index >= 0, index < allocatedSlots else { return nil }
        let c = index >> Self.chunkShift, i = index & Self.chunkMask
        guard nextFreeChunks[c].unsafelyUnwrapped[i] == Self.occupied else { return nil }
        return SlotID(index: UInt32(index), generation: generationChunks[c].unsafelyUnwrapped[i])
    }

    /// Removes the record `id` names and returns it; later lookups with `id` fail.
    @discardableResult
    public func remove(_ id: SlotID) -> Element? {
        guard let p = pointer(to: id) else { return nil }
        let index = Int(id.index)
        let c = index >> Self.chunkShift, i = index & Self.chunkMask
        let element = p.move()
        let generations = generationChunks[c].unsafelyUnwrapped
        // Generations keep to 31 bits (1...2^31-1): the top bit of a packed ID is free for the
        // reactor's users to tag tokens with.
        let g = (generations[i] &+ 1) & 0x7fff_ffff
        generations[i] = g == 0 ? 1 : g
        nextFreeChunks[c].unsafelyUnwrapped[i] = freeHead
        freeHead = Int32(index)
        count -= 1
        return element
    }

    /// Calls `body` with the ID of every live record, in slot order. `body` may remove records.
    public func forEachID(_ body: (SlotID) -> Void) {
        for index in 0..<allocatedSlots {
            let c = index >> Self.chunkShift, i = index & Self.chunkMask
            if nextFreeChunks[c].unsafelyUnwrapped[i] == Self.occupied {
                body(SlotID(index: UInt32(index), generation: generationChunks[c].unsafelyUnwrapped[i]))
            }
        }
    }

    private func addChunk() {
        let size = Self.chunkSize
        let c = allocatedSlots >> Self.chunkShift
        let first = allocatedSlots
        let usable = min(size, maximumCount - first)
        let generations = UnsafeMutablePointer<UInt32>.allocate(capacity: size)
        generations.initialize(repeating: 1, count: size)
        let nextFree = UnsafeMutablePointer<Int32>.allocate(capacity: size)
        // Chain the usable new slots lowest first, the last one ending the list (the list is
        // empty whenever a chunk is added); slots past `maximumCount` are never handed out.
        for i in 0..<size {
            nextFree[i] = i + 1 < usable ? Int32(first + i + 1) : (i < usable ? -1 : Self.unusable)
        }
        elementChunks[c] = .allocate(capacity: size)
        generationChunks[c] = generations
        nextFreeChunks[c] = nextFree
        freeHead = Int32(first)
        allocatedSlots += usable
    }
}
