@_spi(GustInternal) import GustCore
import Testing

@Suite struct TimerWheelTests {
    let origin = Instant(nanoseconds: 5_000_000_000)

    func at(_ ms: Int64) -> Instant { origin + .milliseconds(ms) }

    func drain(_ wheel: inout TimerWheel, to ms: Int64) -> [UInt64] {
        wheel.advance(to: at(ms))
        var fired: [UInt64] = []
        while let p = wheel.popExpired() { fired.append(p) }
        return fired
    }

    @Test func firesInDeadlineOrderNeverEarly() {
        var wheel = TimerWheel(now: origin)
        _ = wheel.schedule(at: at(30), payload: 3)
        _ = wheel.schedule(at: at(10), payload: 1)
        _ = wheel.schedule(at: at(20), payload: 2)
        #expect(wheel.count == 3)
        #expect(drain(&wheel, to: 9).isEmpty)
        #expect(drain(&wheel, to: 10) == [1])
        #expect(drain(&wheel, to: 25) == [2])
        #expect(drain(&wheel, to: 100) == [3])
        let next = wheel.nextDeadline()
        #expect(wheel.count == 0)
        #expect(next == nil)
    }

    /// Regression: after a firing used up the earliest-expiry hint, a timer scheduled later than
    /// one already waiting set the hint to its own tick, the waiting timer's slot was stepped
    /// over, and it fired a whole lap (4 s) late. Seen as a load generator's start timer that
    /// never fired while its 10 ms sweep timer kept re-arming.
    @Test func aTimerScheduledAfterAFiringDoesNotHideAnEarlierOne() {
        var wheel = TimerWheel(now: origin)
        _ = wheel.schedule(at: at(19), payload: 1)  // waiting
        _ = wheel.schedule(at: at(10), payload: 2)
        #expect(drain(&wheel, to: 10) == [2])
        _ = wheel.schedule(at: at(20), payload: 3)  // re-armed from the firing, later than 1
        let next = wheel.nextDeadline()
        #expect(next.map { $0 <= at(19) } == true)
        #expect(drain(&wheel, to: 19) == [1])
        #expect(drain(&wheel, to: 20) == [3])
        // The same through reschedule.
        let a = wheel.schedule(at: at(40), payload: 4)
        _ = wheel.schedule(at: at(30), payload: 5)
        #expect(drain(&wheel, to: 30) == [5])
        let b = wheel.schedule(at: at(60), payload: 6)
        let moved = wheel.reschedule(b, to: at(50))
        #expect(moved)
        #expect(drain(&wheel, to: 40) == [4])
        #expect(drain(&wheel, to: 50) == [6])
        let cancelled = wheel.cancel(a)
        #expect(!cancelled, "fired timers cannot be cancelled")
    }

    @Test func cancelAndReschedule() {
        var wheel = TimerWheel(now: origin)
        let a = wheel.schedule(at: at(10), payload: 1)
        let b = wheel.schedule(at: at(10), payload: 2)
        let cancelled = wheel.cancel(a)
        let again = wheel.cancel(a)
        let moved = wheel.reschedule(b, to: at(50))
        #expect(cancelled)
        #expect(!again, "second cancel is a no-op")
        #expect(moved)
        #expect(drain(&wheel, to: 49).isEmpty)
        #expect(drain(&wheel, to: 50) == [2])
        let movedAfterFiring = wheel.reschedule(b, to: at(60))
        #expect(!movedAfterFiring, "fired timers cannot be moved")
    }

    @Test func staleIDsDoNotTouchReusedEntries() {
        var wheel = TimerWheel(now: origin)
        let old = wheel.schedule(at: at(1), payload: 1)
        #expect(drain(&wheel, to: 1) == [1])
        let new = wheel.schedule(at: at(5), payload: 2)  // reuses the entry
        let cancelledStale = wheel.cancel(old)
        let payload = wheel.payload(of: new)
        #expect(!cancelledStale)
        #expect(payload == 2)
        #expect(drain(&wheel, to: 5) == [2])
    }

    @Test func timersBeyondOneLapWaitForTheirLap() {
        var wheel = TimerWheel(tick: .milliseconds(1), slotCount: 16, now: origin)
        _ = wheel.schedule(at: at(40), payload: 40)  // same slot as tick 8 and 24
        _ = wheel.schedule(at: at(8), payload: 8)
        #expect(drain(&wheel, to: 8) == [8])
        #expect(drain(&wheel, to: 24).isEmpty)
        #expect(drain(&wheel, to: 39).isEmpty)
        #expect(drain(&wheel, to: 40) == [40])
    }

    @Test func aLongGapFiresEverythingDue() {
        var wheel = TimerWheel(tick: .milliseconds(1), slotCount: 16, now: origin)
        for ms in stride(from: Int64(1), through: 100, by: 7) { _ = wheel.schedule(at: at(ms), payload: UInt64(ms)) }
        _ = wheel.schedule(at: at(500), payload: 500)
        let fired = drain(&wheel, to: 200)
        #expect(Set(fired) == Set(stride(from: UInt64(1), through: 100, by: 7)))
        #expect(wheel.count == 1)
        #expect(drain(&wheel, to: 500) == [500])
    }

    @Test func cancellingAQueuedTimerBetweenPops() {
        var wheel = TimerWheel(now: origin)
        _ = wheel.schedule(at: at(5), payload: 1)
        let second = wheel.schedule(at: at(5), payload: 2)
        let third = wheel.schedule(at: at(6), payload: 3)
        wheel.advance(to: at(10))
        var fired: [UInt64] = []
        while let p = wheel.popExpired() {
            fired.append(p)
            if p == 1 || p == 2 { _ = wheel.cancel(p == 1 ? second : third) }
        }
        #expect(fired.count == 2 && fired.contains(1) && !fired.contains(3))
        #expect(wheel.count == 0)
    }

    @Test func nextDeadlineIsNeverLate() {
        var wheel = TimerWheel(tick: .milliseconds(1), slotCount: 64, now: origin)
        _ = wheel.schedule(at: at(300), payload: 1)
        var now: Int64 = 0
        var wakeups = 0
        while wheel.count > 0 {
            let deadline = wheel.nextDeadline()!
            #expect(deadline <= at(300))
            now = (deadline.nanoseconds - origin.nanoseconds) / 1_000_000
            _ = drain(&wheel, to: now)
            wakeups += 1
        }
        #expect(now == 300)
        #expect(wakeups <= 6, "a far timer costs a wake-up per lap, not per tick")
    }

    @Test func manyTimersGrowTheEntryArray() {
        var wheel = TimerWheel(now: origin)
        var ids: [TimerID] = []
        for i in 0..<10_000 { ids.append(wheel.schedule(at: at(Int64(i % 100) + 1), payload: UInt64(i))) }
        var cancelledCount = 0
        for id in ids.prefix(5_000) where wheel.cancel(id) { cancelledCount += 1 }
        #expect(cancelledCount == 5_000)
        let fired = drain(&wheel, to: 200)
        #expect(fired.count == 5_000)
        #expect(Set(fired) == Set((5_000..<10_000).map(UInt64.init)))
    }
}
