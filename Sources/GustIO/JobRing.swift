/// A double-ended queue of pool jobs in one circular buffer that doubles when full (and never
/// shrinks: a pool's queues settle at their high-water mark). Not thread-safe: each one lives
/// under its owner's lock.
struct JobRing {
    private var slots: [WorkPool.Job?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int = 64) {
        var size = 2
        while size < capacity { size *= 2 }
        slots = Array(repeating: nil, count: size)
    }

    var isEmpty: Bool { count == 0 }

    /// The oldest job (front), without taking it.
    var first: WorkPool.Job? { count == 0 ? nil : slots[head] }

    mutating func pushBack(_ job: WorkPool.Job) {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = job
        count += 1
    }

    mutating func popBack() -> WorkPool.Job? {
        guard count > 0 else { return nil }
        count -= 1
        let index = (head + count) & (slots.count - 1)
        defer { slots[index] = nil }
        return slots[index]
    }

    mutating func popFront() -> WorkPool.Job? {
        guard count > 0 else { return nil }
        defer {
            slots[head] = nil
            head = (head + 1) & (slots.count - 1)
            count -= 1
        }
        return slots[head]
    }

    private mutating func grow() {
        var bigger = [WorkPool.Job?](repeating: nil, count: slots.count * 2)
        for i in 0..<count { bigger[i] = slots[(head + i) & (slots.count - 1)] }
        slots = bigger
        head = 0
    }
}
