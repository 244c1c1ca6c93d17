/// When each request of an open-loop run is meant to be sent.
///
/// `rate` requests per second are spread evenly over `connections` connections: connection `c`
/// sends its `n`-th request at `start + (c + n × connections) / rate` seconds, so the whole run
/// sends one request every 1/rate seconds, round-robin over the connections, and each connection
/// one every connections/rate seconds. Times are computed from the start each time (never by
/// adding intervals), so they do not drift, in integer nanoseconds.
///
/// Latency in an open loop is measured from this intended time, not from when the request was
/// actually written: if the server (or the tool) falls behind, the wait counts (the correction
/// for coordinated omission that wrk2 makes).
///
/// Pure value; no clock.
public struct OpenLoopSchedule: Sendable, Equatable {
    public let rate: Int
    public let connections: Int
    /// Start of the schedule, in monotonic nanoseconds.
    public let start: Int64

    public init(rate: Int, connections: Int, start: Int64) {
        precondition(rate > 0 && connections > 0)
        self.rate = rate
        self.connections = connections
        self.start = start
    }

    /// Intended send time (monotonic ns) of request `n` on connection `c`.
    @inline(__always)
    public func intendedTime(connection c: Int, request n: Int64) -> Int64 {
        let slot = Int64(c) &+ n &* Int64(connections)  // the request's place in the whole run
        // slot × 1e9 / rate without overflow for any realistic run (slot < 9.2e9).
        let (q, r) = slot.quotientAndRemainder(dividingBy: Int64(rate))
        return start &+ q &* 1_000_000_000 &+ r &* 1_000_000_000 / Int64(rate)
    }

    /// The first request on connection `c` whose intended time is at or after `time`.
    public func firstRequest(connection c: Int, atOrAfter time: Int64) -> Int64 {
        guard time > start else { return 0 }
        // slot ≥ (time - start) × rate / 1e9, rounded up; then the first n with c + n×C ≥ slot.
        let elapsed = time &- start
        let (q, r) = elapsed.quotientAndRemainder(dividingBy: 1_000_000_000)
        let slot = q &* Int64(rate) &+ (r &* Int64(rate) &+ 999_999_999) / 1_000_000_000
        let remaining = slot &- Int64(c)
        if remaining <= 0 { return 0 }
        return (remaining &+ Int64(connections) &- 1) / Int64(connections)
    }

    /// Nanoseconds between two requests on one connection (rounded).
    public var intervalPerConnection: Int64 { Int64(connections) &* 1_000_000_000 / Int64(rate) }
}
