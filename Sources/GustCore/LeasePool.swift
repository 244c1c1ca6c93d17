/// A per-reactor cache of records that connections lease only while they need them (a buffer
/// for a partial request, one for output the socket would not take, a file transfer), so that
/// an idle connection owns none and a busy reactor does not allocate per lease.
///
/// `take` hands out a cached record (or allocates one); `give` resets it and caches it, up to
/// `maximumCached`, beyond which records are freed. After a burst, `shrinkToWarm` frees all but
/// `warmCount` of the cached ones.
///
/// Threading: not thread-safe; owned by one reactor.
/// Cost: `take` and `give` are O(1) and allocate only when no record is cached.
/// Unsafe: hands out pointers to the records; a pointer is valid until it is given back.
package struct LeasePool<Lease: ~Copyable>: ~Copyable {
    var free: [UnsafeMutablePointer<Lease>] = []
    package let maximumCached: Int
    package let warmCount: Int
    /// Records handed out and not given back.
    package private(set) var leased = 0

    package init(maximumCached: Int, warmCount: Int) {
        precondition(maximumCached >= 0 && warmCount >= 0 && warmCount <= maximumCached)
        self.maximumCached = maximumCached
        self.warmCount = warmCount
    }

    deinit {
        for lease in free {
            lease.deinitialize(count: 1)
            lease.deallocate()
        }
    }

    /// Records kept for reuse.
    package var cachedCount: Int { free.count }

    /// A cached record, or a new one made by `make`.
    package mutating func take(_ make: () -> Lease) -> UnsafeMutablePointer<Lease> {
        leased += 1
        if let cached = free.popLast() { return cached }
        let lease = UnsafeMutablePointer<Lease>.allocate(capacity: 1)
        lease.initialize(to: make())
        return lease
    }

    /// Gives a record back: `reset` readies it for the next taker and it is cached, or, when
    /// `maximumCached` are cached already, it is freed. Returns true when it was freed.
    @discardableResult
    package mutating func give(_ lease: UnsafeMutablePointer<Lease>, reset: (inout Lease) -> Void) -> Bool {
        leased -= 1
        guard free.count < maximumCached else {
            lease.deinitialize(count: 1)
            lease.deallocate()
            return true
        }
        reset(&lease.pointee)
        free.append(lease)
        return false
    }

    /// Frees the cached records beyond `warmCount`.
    package mutating func shrinkToWarm() {
        while free.count > warmCount, let lease = free.popLast() {
            lease.deinitialize(count: 1)
            lease.deallocate()
        }
    }
}
