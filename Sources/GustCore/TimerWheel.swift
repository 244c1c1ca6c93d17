/// Names one scheduled timer; stale IDs (fired or cancelled, entry reused) are ignored.
@_spi(GustInternal) public struct TimerID: Hashable, Sendable {
    /// `generation << 32 | (index + 1)`; 0 is `none`.
    public var raw: UInt64
    @inlinable public init(raw: UInt64) { self.raw = raw }
    /// No timer.
    public static let none = TimerID(raw: 0)
    @inlinable var index: Int { Int(UInt32(truncatingIfNeeded: raw)) - 1 }
    @inlinable var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) }
}

/// A hashed timer wheel (Varghese & Lauck, scheme 6): O(1) schedule, cancel and re-arm, one
/// slot walk per elapsed tick, no object per timer.
///
/// Each timer is a 32-byte entry in one growable array, linked into the slot its expiry tick
/// hashes to; timers more than one lap ahead stay in their slot until their lap comes round.
/// A timer never fires early; it fires at most one tick late (plus however late `advance` is called).
/// Payloads are opaque `UInt64`s: the reactor encodes what to do in them.
///
/// Threading: not thread-safe; owned by one reactor. Pure: the caller supplies the time.
@_spi(GustInternal) public struct TimerWheel: ~Copyable {
    @usableFromInline struct Entry {
        var expiryTick: Int64
        var payload: UInt64
        var next: Int32
        var prev: Int32
        /// Slot index while scheduled, `firing` while queued to fire, `free` when unused.
        var slot: Int32
        var generation: UInt32
    }
    static var free: Int32 { -1 }
    static var firing: Int32 { -2 }

    public let tickNanoseconds: Int64
    let slotMask: Int
    let origin: Instant
    var slots: UnsafeMutablePointer<Int32>
    var entries: UnsafeMutablePointer<Entry>
    var entryCapacity: Int
    var entryHighWater = 0
    var freeHead: Int32 = -1
    var firingHead: Int32 = -1
    var firingTail: Int32 = -1
    /// Every tick up to and including this one has been processed.
    var currentTick: Int64 = 0
    /// No timer expires before this tick (a lower bound; may be stale-early, never late), or
    /// `.max` when unknown (then the next `advance` or `nextDeadline` scans for it).
    var earliestHint: Int64 = .max

    /// Number of timers scheduled and not yet fired or cancelled.
    public private(set) var count = 0

    /// - Parameters:
    ///   - tick: the resolution; timers fire on tick boundaries.
    ///   - slotCount: rounded up to a power of two; one lap is `slotCount × tick`.
    ///   - now: the wheel's origin.
    public init(tick: Duration = .milliseconds(1), slotCount: Int = 4096, now: Instant) {
        precondition(tick.nanoseconds > 0 && slotCount > 0)
        var n = 1
        while n < slotCount { n <<= 1 }
        tickNanoseconds = tick.nanoseconds
        slotMask = n - 1
        origin = now
        slots = .allocate(capacity: n)
        slots.initialize(repeating: -1, count: n)
        entryCapacity = 64
        entries = .allocate(capacity: entryCapacity)
    }

    deinit {
        slots.deallocate()
        entries.deallocate()
    }

    /// Schedules `payload` to fire at `deadline` (at the first tick boundary not before it).
    /// Cost: O(1); grows the entry array (amortized) when every entry is in use.
    public mutating func schedule(at deadline: Instant, payload: UInt64) -> TimerID {
        let index = takeEntry()
        let tick = tickOf(deadline)
        entries[index].payload = payload
        link(index, tick: tick)
        count += 1
        return TimerID(raw: UInt64(entries[index].generation) << 32 | UInt64(index + 1))
    }

    /// Moves a scheduled timer to a new deadline, keeping its ID and payload. Returns false (and
    /// does nothing) if the timer already fired or was cancelled. Cost: O(1).
    @discardableResult
    public mutating func reschedule(_ id: TimerID, to deadline: Instant) -> Bool {
        guard let index = liveIndex(id), entries[index].slot >= 0 else { return false }
        unlink(index)
        link(index, tick: tickOf(deadline))
        return true
    }

    /// The payload of a scheduled (or queued, not yet popped) timer.
    public func payload(of id: TimerID) -> UInt64? {
        liveIndex(id).map { entries[$0].payload }
    }

    /// Cancels a timer; returns false if it already fired or was cancelled. Cost: O(1).
    @discardableResult
    public mutating func cancel(_ id: TimerID) -> Bool {
        guard let index = liveIndex(id) else { return false }
        unlink(index)
        release(index)
        count -= 1
        return true
    }

    /// Processes every tick up to `now`, queueing each expired timer to be taken with
    /// `popExpired()`. Call `popExpired()` until it returns nil before advancing again.
    /// Cost: one slot visit per elapsed tick (at most one lap), plus each entry met in those slots.
    public mutating func advance(to now: Instant) {
        let target = (now.nanoseconds &- origin.nanoseconds) / tickNanoseconds
        guard target > currentTick else { return }
        if count > 0 && earliestHint == .max { earliestHint = scanForEarliest() }
        if count > 0 && earliestHint <= target {
            // Visit each slot at most once even when more than a lap has passed.
            let last = min(target, currentTick + Int64(slotMask + 1))
            var tick = currentTick + 1
            while tick <= last {
                collect(slot: Int(tick & Int64(slotMask)), upTo: target)
                tick += 1
            }
        }
        currentTick = target
        if earliestHint <= target { earliestHint = .max }
    }

    /// The payload of the next expired timer, in tick order (when less than a lap passed since
    /// the previous `advance`; after a longer gap, in slot order), or nil when none is due.
    /// Between pops the caller may schedule and cancel timers, including queued ones.
    public mutating func popExpired() -> UInt64? {
        guard firingHead >= 0 else { return nil }
        let index = Int(firingHead)
        unlink(index)
        let payload = entries[index].payload
        release(index)
        count -= 1
        return payload
    }

    /// The earliest instant at which `advance` may have something to fire, or nil when no timer
    /// is scheduled. Never later than the real next expiry; it may be earlier (the reactor then
    /// wakes, finds nothing, and asks again). Cost: O(1) unless the hint was used up, then at most
    /// one lap of slot checks.
    public mutating func nextDeadline() -> Instant? {
        guard count > 0 else { return nil }
        if firingHead >= 0 { return Instant(nanoseconds: origin.nanoseconds &+ currentTick &* tickNanoseconds) }
        if earliestHint == .max || earliestHint <= currentTick { earliestHint = scanForEarliest() }
        return Instant(nanoseconds: origin.nanoseconds &+ earliestHint &* tickNanoseconds)
    }

    // MARK: - Internals

    @inline(__always) func tickOf(_ deadline: Instant) -> Int64 {
        let d = deadline.nanoseconds &- origin.nanoseconds
        let tick = d <= 0 ? 0 : d / tickNanoseconds + (d % tickNanoseconds == 0 ? 0 : 1)  // no overflow near Int64.max
        return max(tick, currentTick + 1)
    }

    func liveIndex(_ id: TimerID) -> Int? {
        let index = id.index
        guard index >= 0, index < entryHighWater else { return nil }
        let e = entries[index]
        guard e.generation == id.generation, e.slot != Self.free else { return nil }
        return index
    }

    mutating func takeEntry() -> Int {
        if freeHead >= 0 {
            let index = Int(freeHead)
            freeHead = entries[index].next
            return index
        }
        if entryHighWater == entryCapacity {
            let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: entryCapacity * 2)
            bigger.moveInitialize(from: entries, count: entryHighWater)
            entries.deallocate()
            entries = bigger
            entryCapacity *= 2
        }
        let index = entryHighWater
        entryHighWater += 1
        entries[index] = Entry(expiryTick: 0, payload: 0, next: -1, prev: -1, slot: Self.free, generation: 1)
        return index
    }

    mutating func release(_ index: Int) {
        entries[index].slot = Self.free
        let g = entries[index].generation &+ 1
        entries[index].generation = g == 0 ? 1 : g
        entries[index].next = freeHead
        freeHead = Int32(index)
    }

    mutating func link(_ index: Int, tick: Int64) {
        let slot = Int(tick & Int64(slotMask))
        let head = slots[slot]
        entries[index].expiryTick = tick
        entries[index].slot = Int32(slot)
        entries[index].prev = -1
        entries[index].next = head
        if head >= 0 { entries[Int(head)].prev = Int32(index) }
        slots[slot] = Int32(index)
        // The hint is a lower bound over every scheduled timer. When it is unknown (.max) and
        // other timers are scheduled, it must stay unknown: this tick may be later than theirs.
        if earliestHint == .max {
            if count == 0 { earliestHint = tick }
        } else if tick < earliestHint {
            earliestHint = tick
        }
    }

    /// Unlinks a scheduled or firing entry from its list.
    mutating func unlink(_ index: Int) {
        let e = entries[index]
        if e.prev >= 0 {
            entries[Int(e.prev)].next = e.next
        } else if e.slot == Self.firing {
            firingHead = e.next
        } else {
            slots[Int(e.slot)] = e.next
        }
        if e.next >= 0 {
            entries[Int(e.next)].prev = e.prev
        } else if e.slot == Self.firing {
            firingTail = e.prev
        }
    }

    /// Moves the entries of `slot` that expire by `target` onto the firing list; entries of later
    /// laps stay. Within one call at most one lap is due, so a slot holds one due tick.
    mutating func collect(slot: Int, upTo target: Int64) {
        var index = slots[slot]
        while index >= 0 {
            let i = Int(index)
            let next = entries[i].next
            if entries[i].expiryTick <= target {
                unlink(i)
                entries[i].slot = Self.firing
                appendToFiring(i)
            }
            index = next
        }
    }

    /// Appends to the firing list, which is kept in tick order (slots are collected in order).
    mutating func appendToFiring(_ index: Int) {
        let tail = firingTail
        entries[index].next = -1
        entries[index].prev = tail
        if tail >= 0 { entries[Int(tail)].next = Int32(index) } else { firingHead = Int32(index) }
        firingTail = Int32(index)
    }

    /// The first tick after `currentTick` whose slot holds anything (within one lap), or one lap
    /// ahead when the nearer slots are empty but later laps hold timers.
    func scanForEarliest() -> Int64 {
        guard count > 0 else { return .max }
        var tick = currentTick + 1
        let end = currentTick + Int64(slotMask + 1)
        while tick <= end {
            if slots[Int(tick & Int64(slotMask))] >= 0 { return tick }
            tick += 1
        }
        return end
    }
}
