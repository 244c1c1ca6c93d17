/// A token bucket, kept as one number per subject: the generic cell rate algorithm (GCRA).
///
/// A subject's state is its *theoretical arrival time* (TAT, monotonic nanoseconds): the instant
/// its bucket will be full again. An event at `now` is admitted when the bucket still holds a
/// token, `max(tat, now) + interval - now <= burst * interval`; admitting it moves the TAT one
/// interval later. A TAT in the past is the same as a full bucket, so a subject that has been
/// quiet for `burst` intervals needs no state at all.
///
/// Pure: no clock, no allocation. Threading: a value; callers guard the TATs they keep.
@_spi(GustInternal) public struct GCRA: Sendable, Equatable {
    /// Nanoseconds between tokens (1 s / rate).
    public let interval: Int64
    /// How far ahead of `now` a TAT may run: `burst` intervals.
    public let capacity: Int64

    /// `perSecond` events a second on average, `burst` at once after a quiet spell.
    public init(perSecond: Double, burst: Int) {
        precondition(perSecond > 0 && burst >= 1)
        self.interval = Int64(min(max(1e9 / perSecond, 1), 1e18))  // at most ~31 years
        let (product, overflow) = Int64(burst).multipliedReportingOverflow(by: self.interval)
        self.capacity = overflow ? Int64.max / 4 : min(product, Int64.max / 4)
    }

    /// Takes a token for an event at `now`: nil when admitted (`tat` moves on), else how many
    /// nanoseconds until one is available (`tat` unchanged).
    @inlinable public func admit(_ tat: inout Int64, now: Int64) -> Int64? {
        let start = max(tat, now)
        let next = start &+ interval
        let ahead = next &- now
        if ahead > capacity { return ahead &- capacity }
        tat = next
        return nil
    }
}

/// The TATs of many subjects (client addresses, say) in a fixed amount of memory: an
/// open-addressed table of `capacity` slots (16 bytes each), probed at most `probes` slots from
/// a key's home. A subject whose bucket is full again (TAT in the past) is the same as one
/// never seen, so its slot is free for another; when a probe window holds only active
/// subjects, the one closest to full is replaced (it loses at most its short debt: forgetting
/// errs toward admitting).
///
/// Pure: no clock, no locking. Threading: one owner at a time (callers shard and lock).
@_spi(GustInternal) public struct RateTable: ~Copyable {
    public let capacity: Int
    let keys: UnsafeMutablePointer<UInt64>
    let tats: UnsafeMutablePointer<Int64>
    static let probes = 8

    /// `capacity` is rounded up to a power of two (at least 8).
    public init(capacity: Int) {
        var n = 8
        while n < capacity { n <<= 1 }
        self.capacity = n
        keys = .allocate(capacity: n)
        keys.initialize(repeating: 0, count: n)
        tats = .allocate(capacity: n)
        tats.initialize(repeating: Int64.min, count: n)
    }

    deinit {
        keys.deallocate()
        tats.deallocate()
    }

    /// Takes a token for `key` at `now` under `rate`: nil when admitted, else nanoseconds until
    /// one is available. Cost: a hash and at most `probes` slot reads.
    public mutating func admit(_ key: UInt64, now: Int64, rate: GCRA) -> Int64? {
        let mask = capacity - 1
        let home = Int(truncatingIfNeeded: Self.mix(key)) & mask
        var reusable = -1
        var oldest = home
        for step in 0..<Self.probes {
            let slot = (home + step) & mask
            if keys[slot] == key && tats[slot] != Int64.min { return rate.admit(&tats[slot], now: now) }
            if tats[slot] <= now {
                if reusable < 0 { reusable = slot }
            } else if tats[slot] < tats[oldest] || tats[oldest] <= now {
                oldest = slot
            }
        }
        let slot = reusable >= 0 ? reusable : oldest
        keys[slot] = key
        tats[slot] = Int64.min
        var tat = now
        let wait = rate.admit(&tat, now: now)  // a fresh subject: a full bucket
        tats[slot] = tat
        return wait
    }

    /// Subjects with a bucket not full at `now` (for tests and stats). Cost: a scan.
    public func activeCount(now: Int64) -> Int {
        (0..<capacity).reduce(0) { $0 + (tats[$1] > now ? 1 : 0) }
    }

    /// A 64-bit finaliser (splitmix64's), so that neighbouring addresses land apart.
    @inlinable static func mix(_ key: UInt64) -> UInt64 {
        var z = key &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
