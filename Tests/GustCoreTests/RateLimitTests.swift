@_spi(GustInternal) import GustCore
import Testing

@Suite struct RateLimitTests {
    static let second: Int64 = 1_000_000_000

    @Test func aBurstThenTheSteadyRate() {
        let rate = GCRA(perSecond: 10, burst: 5)
        var tat: Int64 = 0
        let now: Int64 = 100 * Self.second
        for _ in 0..<5 { #expect(rate.admit(&tat, now: now) == nil) }
        // The sixth waits one interval (100 ms) for a token.
        #expect(rate.admit(&tat, now: now) == 100_000_000)
        #expect(rate.admit(&tat, now: now + 99_000_000) == 1_000_000)
        #expect(rate.admit(&tat, now: now + 100_000_000) == nil)
        // After a quiet spell of a whole burst, the bucket is full again.
        let later = now + 10 * Self.second
        for _ in 0..<5 { #expect(rate.admit(&tat, now: later) == nil) }
        #expect(rate.admit(&tat, now: later) != nil)
    }

    @Test func overTimeTheRateHolds() {
        let rate = GCRA(perSecond: 100, burst: 1)
        var tat: Int64 = 0
        var admitted = 0
        // Tries every millisecond for 10 s: 100/s plus the one in the bucket.
        for ms in 0..<10_000 where rate.admit(&tat, now: Int64(ms) * 1_000_000) == nil { admitted += 1 }
        #expect(admitted == 1000 || admitted == 1001, "\(admitted)")
    }

    @Test func extremeRatesDoNotOverflow() {
        let slow = GCRA(perSecond: 1e-12, burst: Int.max)
        var tat: Int64 = 0
        #expect(slow.admit(&tat, now: Self.second) == nil)
        let fast = GCRA(perSecond: 1e15, burst: 1)
        #expect(fast.interval == 1)
        var t2: Int64 = 0
        #expect(fast.admit(&t2, now: Int64.max / 8) == nil)
    }

    @Test func theTableKeepsSubjectsApart() {
        var table = RateTable(capacity: 1024)
        let rate = GCRA(perSecond: 1, burst: 2)
        let now = Self.second
        for key: UInt64 in 1...100 {
            #expect(table.admit(key, now: now, rate: rate) == nil)
            #expect(table.admit(key, now: now, rate: rate) == nil)
            #expect(table.admit(key, now: now, rate: rate) != nil, "key \(key)'s third in the same instant")
        }
        #expect(table.activeCount(now: now) == 100)
        // Two seconds later every bucket is full again.
        #expect(table.activeCount(now: now + 2 * Self.second) == 0)
        #expect(table.admit(7, now: now + 2 * Self.second, rate: rate) == nil)
    }

    @Test func aFloodOfSubjectsStaysInItsMemory() {
        var table = RateTable(capacity: 64)
        let rate = GCRA(perSecond: 1, burst: 1)
        // 10,000 subjects through 64 slots: each admitted at first (forgetting errs toward
        // admitting), none crashes the table, and it never grows.
        for key: UInt64 in 1...10_000 {
            #expect(table.admit(key, now: Self.second, rate: rate) == nil)
        }
        #expect(table.capacity == 64 && table.activeCount(now: Self.second) <= 64)
        // A subject just seen, in a window of subjects closer to full, is still remembered.
        var fresh = RateTable(capacity: 64)
        #expect(fresh.admit(42, now: Self.second, rate: rate) == nil)
        #expect(fresh.admit(42, now: Self.second + 1, rate: rate) != nil)
    }

    @Test func keyZeroIsAnOrdinarySubject() {
        var table = RateTable(capacity: 8)
        let rate = GCRA(perSecond: 1, burst: 1)
        #expect(table.admit(0, now: Self.second, rate: rate) == nil)
        #expect(table.admit(0, now: Self.second, rate: rate) != nil)
    }
}
