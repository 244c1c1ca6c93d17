import Histogram

/// The kinds of failure a run counts.
public enum BenchErrorKind: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// The connection could not be established.
    case connect
    /// The connection failed or closed while a response was expected.
    case read
    /// Writing a request failed.
    case write
    /// No complete response within `--timeout`.
    case timeout
    /// The response was not valid HTTP/1.1.
    case malformed

    public var description: String {
        switch self {
        case .connect: "connect"
        case .read: "read"
        case .write: "write"
        case .timeout: "timeout"
        case .malformed: "malformed"
        }
    }
}

/// What one reactor measured; merged over reactors at the end (and for progress lines).
///
/// Latencies are in nanoseconds. `corrected` measures from each request's intended send time
/// (in a closed loop that is the actual send time, so both histograms agree); `uncorrected`
/// from when it was actually written.
public struct BenchStats: Sendable {
    public var corrected: Histogram<UInt64>
    public var uncorrected: Histogram<UInt64>
    public var requests: Int = 0
    public var errors = [Int](repeating: 0, count: BenchErrorKind.allCases.count)
    /// Responses per status code (index = code, 100...999).
    public var statuses = [Int](repeating: 0, count: 1000)
    public var bytesIn: Int = 0
    public var bytesOut: Int = 0
    public var connectionsOpened: Int = 0
    /// Open loop: requests written later than 1 ms after their intended time, and the largest lag.
    public var lateSends: Int = 0
    public var maxLagNanoseconds: Int64 = 0
    /// Open loop: requests that were due in the window (sent or not).
    public var scheduled: Int = 0
    /// Monotonic time of the last response counted.
    public var lastResponse: Int64 = 0

    /// Up to one hour, three significant digits.
    public static let highestLatency: UInt64 = 3_600_000_000_000

    public init() {
        corrected = Histogram(lowestDiscernibleValue: 1, highestTrackableValue: Self.highestLatency, numberOfSignificantValueDigits: .three)
        uncorrected = corrected
    }

    public var totalErrors: Int { errors.reduce(0, +) }

    public func errors(_ kind: BenchErrorKind) -> Int { errors[kind.rawValue] }

    @inline(__always) mutating func count(_ kind: BenchErrorKind) { errors[kind.rawValue] += 1 }

    @inline(__always) mutating func record(corrected c: Int64, uncorrected u: Int64) {
        _ = corrected.record(UInt64(clamping: max(c, 1)))
        _ = uncorrected.record(UInt64(clamping: max(u, 1)))
    }

    /// Adds `other` into this (histograms merged, counters summed).
    public mutating func merge(_ other: BenchStats) {
        corrected.add(other.corrected)
        uncorrected.add(other.uncorrected)
        requests += other.requests
        for i in errors.indices { errors[i] += other.errors[i] }
        for i in statuses.indices where other.statuses[i] != 0 { statuses[i] += other.statuses[i] }
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        connectionsOpened += other.connectionsOpened
        lateSends += other.lateSends
        maxLagNanoseconds = max(maxLagNanoseconds, other.maxLagNanoseconds)
        scheduled += other.scheduled
        lastResponse = max(lastResponse, other.lastResponse)
    }
}
