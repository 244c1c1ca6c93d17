/// A point on a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// GustCore never reads a clock (it makes no syscalls): GustIO's reactor reads the monotonic clock
/// once per loop iteration and hands the value down; tests use made-up instants.
/// Cost: a plain `Int64`.
@_spi(GustInternal) public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds from the clock's origin.
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    /// Saturates at the ends of `Int64` (an absurdly long delay is "never", not the past).
    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds.addingSaturating(d.nanoseconds))
    }

    @inlinable public static func - (a: Instant, b: Instant) -> Duration {
        .nanoseconds(a.nanoseconds &- b.nanoseconds)
    }

    public var description: String { "Instant(\(nanoseconds)ns)" }
}

@_spi(GustInternal) extension Int64 {
    /// `self + other`, clamped to `Int64.min...Int64.max` instead of wrapping.
    @inlinable public func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other < 0 ? .min : .max) : sum
    }
}

@_spi(GustInternal) extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64.max` for absurdly long durations.
    @inlinable public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return ns &+ attoseconds / 1_000_000_000
    }
}
