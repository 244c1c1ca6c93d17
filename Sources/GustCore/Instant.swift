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

    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds &+ d.nanoseconds)
    }

    @inlinable public static func - (a: Instant, b: Instant) -> Duration {
        .nanoseconds(a.nanoseconds &- b.nanoseconds)
    }

    public var description: String { "Instant(\(nanoseconds)ns)" }
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
