@_spi(GustInternal) import GustCore
import Testing

@Suite struct SlabTests {
    @Test func insertLookupRemove() {
        let slab = Slab<Int>(maximumCount: 5000)
        var ids: [SlotID] = []
        for i in 0..<3000 {
            let (id, p) = slab.insert(i)!
            #expect(p.pointee == i)
            ids.append(id)
        }
        #expect(slab.count == 3000)
        for (i, id) in ids.enumerated() { #expect(slab.pointer(to: id)?.pointee == i) }
        #expect(slab.remove(ids[7]) == 7)
        #expect(slab.pointer(to: ids[7]) == nil, "a removed record is gone")
        #expect(slab.remove(ids[7]) == nil)
        let (reused, _) = slab.insert(99)!
        #expect(reused.index == ids[7].index && reused.generation != ids[7].generation)
        #expect(slab.pointer(to: ids[7]) == nil, "the stale ID does not reach the new occupant")
        #expect(slab.pointer(to: reused)?.pointee == 99)
        #expect(slab.id(atIndex: Int(reused.index)) == reused)
    }

    @Test func pointersAreStableAcrossGrowth() {
        let slab = Slab<Int>(maximumCount: 10_000)
        let (first, p) = slab.insert(1)!
        for i in 0..<5000 { _ = slab.insert(i) }
        #expect(slab.pointer(to: first) == p)
    }

    @Test func refusesPastItsMaximum() {
        let slab = Slab<Int>(maximumCount: 3)
        for i in 0..<3 { #expect(slab.insert(i) != nil) }
        #expect(slab.insert(4) == nil)
        var seen = 0
        slab.forEachID { _ in seen += 1 }
        #expect(seen == 3)
    }

    @Test func freeSlotsNeverLookOccupied() {
        // Fill whole chunks so the free list runs empty, then free slots in that state.
        let slab = Slab<Int>(maximumCount: 5000)
        var ids: [SlotID] = []
        for i in 0..<2048 { ids.append(slab.insert(i)!.id) }
        for id in ids[1000..<1010] { slab.remove(id) }
        slab.remove(ids[2047])
        var live = 0
        slab.forEachID { id in
            live += 1
            #expect(slab.pointer(to: id) != nil)
        }
        #expect(live == 2048 - 11 && slab.count == live)
        #expect(slab.id(atIndex: 1005) == nil && slab.id(atIndex: 2047) == nil)
        // Freed slots are reused, and only they, before a new chunk is touched.
        var reused = Set<UInt32>()
        for i in 0..<11 { reused.insert(slab.insert(i)!.id.index) }
        #expect(reused == Set((1000..<1010).map(UInt32.init) + [2047]))
        #expect(slab.reservedBytes == 2 * 1024 * (MemoryLayout<Int>.stride + 8))
    }

    @Test func packsIntoOneWord() {
        let id = SlotID(index: 12345, generation: 678)
        #expect(SlotID(packed: id.packed) == id)
        #expect(id.packed != 0)
    }

    @Test func releasesClassReferences() {
        final class Token {}
        weak var weakToken: Token?
        do {
            let slab = Slab<Token>(maximumCount: 10)
            let token = Token()
            weakToken = token
            let (id, _) = slab.insert(token)!
            _ = slab.insert(Token())
            slab.remove(id)
        }
        #expect(weakToken == nil)
    }
}
