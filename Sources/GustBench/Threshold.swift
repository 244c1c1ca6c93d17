/// A pass/fail condition for CI: `--fail-if 'p99>10ms'` fails the run when the measured p99
/// latency is over 10 ms. Written `METRIC OP VALUE`, spaces allowed around the operator.
///
/// Metrics (latencies are the corrected figures; in an open loop, from the intended send time):
///
/// | metric | value |
/// |---|---|
/// | `p50` `p75` `p90` `p99` `p99.9` `p99.99` `max` `mean` `stdev` | a latency with a unit: `ns`, `us`, `ms`, `s` |
/// | `rps` | requests per second; `k` and `M` suffixes allowed (`rps<50k`) |
/// | `requests` | responses completed |
/// | `errors` | errors of every kind; `errors.connect`, `.read`, `.write`, `.timeout`, `.malformed` one kind |
/// | `error_rate` | errors per request attempted (errors + responses), in percent (`error_rate>0.1%`) |
/// | `non2xx` | responses with a status outside 200–299 |
/// | `status.503`, `status.5xx` | responses with that status, or in that class |
///
/// Operators: `>`, `>=`, `<`, `<=`. Pure value: parsing and evaluation, no I/O.
public struct Threshold: Sendable, Equatable, CustomStringConvertible {
    public enum Metric: Sendable, Equatable {
        case latency(percentile: Double?, summary: LatencySummary)
        case rps
        case requests
        case errors(BenchErrorKind?)
        case errorRate
        case non2xx
        /// A status code (100...999), or a class (1...9 for "1xx"...).
        case status(code: Int, isClass: Bool)
    }

    /// A latency figure that is not a percentile.
    public enum LatencySummary: Sendable, Equatable { case percentile, max, mean, stdev }

    public enum Comparison: String, Sendable, CaseIterable {
        case greaterOrEqual = ">="
        case lessOrEqual = "<="
        case greater = ">"
        case less = "<"

        func holds(_ a: Double, _ b: Double) -> Bool {
            switch self {
            case .greater: a > b
            case .greaterOrEqual: a >= b
            case .less: a < b
            case .lessOrEqual: a <= b
            }
        }
    }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The text as given.
    public let text: String
    public let metric: Metric
    public let comparison: Comparison
    /// The limit, in the metric's base unit: microseconds for latencies, percent for
    /// `error_rate`, a count or a rate otherwise.
    public let limit: Double

    public var description: String { text }

    public init(_ text: String) throws(Invalid) {
        self.text = text
        let compact = text.filter { $0 != " " }
        func fail(_ why: String) -> Invalid {
            Invalid(description: "--fail-if '\(text)': \(why)")
        }
        guard let (name, comparison, value) = Self.split(compact) else {
            throw fail("expected METRIC OP VALUE with OP one of > >= < <=, e.g. 'p99>10ms'")
        }
        guard let metric = Self.metric(name) else {
            throw fail("unknown metric '\(name)' (p50 p75 p90 p99 p99.9 p99.99 max mean stdev rps requests errors errors.KIND error_rate non2xx status.NNN status.Nxx)")
        }
        self.metric = metric
        self.comparison = comparison
        switch metric {
        case .latency:
            guard let us = Self.microseconds(value) else {
                throw fail("'\(value)' is not a latency: give a number with a unit (ns, us, ms, s), e.g. 10ms")
            }
            limit = us
        case .errorRate:
            let number = value.hasSuffix("%") ? String(value.dropLast()) : value
            guard let percent = Self.number(number), percent <= 100 else {
                throw fail("'\(value)' is not a percentage, e.g. 0.5%")
            }
            limit = percent
        case .rps, .requests, .errors, .non2xx, .status:
            guard let n = Self.count(value) else { throw fail("'\(value)' is not a number (k and M suffixes allowed)") }
            limit = n
        }
    }

    /// The measured value this threshold looks at, in the limit's unit.
    public func measured(_ result: BenchResult) -> Double {
        let stats = result.stats
        switch metric {
        case .latency(let percentile, let summary):
            let latency = result.latency
            switch summary {
            case .max: return latency.max
            case .mean: return latency.mean
            case .stdev: return latency.stdev
            case .percentile:
                let h = stats.corrected
                return h.totalCount == 0 ? 0 : Double(h.valueAtPercentile(percentile ?? 50)) / 1000
            }
        case .rps: return result.rps
        case .requests: return Double(stats.requests)
        case .errors(let kind): return Double(kind.map { stats.errors($0) } ?? stats.totalErrors)
        case .errorRate:
            let attempts = stats.requests + stats.totalErrors
            return attempts == 0 ? 0 : Double(stats.totalErrors) * 100 / Double(attempts)
        case .non2xx:
            return Double(stats.statuses.enumerated().reduce(0) { $0 + ((200..<300).contains($1.offset) ? 0 : $1.element) })
        case .status(let code, let isClass):
            if !isClass { return Double(stats.statuses[code]) }
            return Double(stats.statuses[(code * 100)..<(code * 100 + 100)].reduce(0, +))
        }
    }

    /// Whether the run breaks this threshold (the condition holds).
    public func isBreached(by result: BenchResult) -> Bool {
        comparison.holds(measured(result), limit)
    }

    /// The measured value as a person reads it: "12.35ms", "48211.3 req/s", "0.2%", "3".
    public func formatMeasured(_ result: BenchResult) -> String {
        let value = measured(result)
        switch metric {
        case .latency: return BenchReport.formatMicros(value)
        case .rps: return BenchReport.format(value, 1) + " req/s"
        case .errorRate: return BenchReport.format(value, 3) + "%"
        default: return String(Int(value))
        }
    }

    // MARK: Parsing

    static func split(_ s: String) -> (String, Comparison, String)? {
        guard let at = s.firstIndex(where: { $0 == "<" || $0 == ">" }) else { return nil }
        let next = s.index(after: at)
        let hasEquals = next < s.endIndex && s[next] == "="
        let op = String(s[at]) + (hasEquals ? "=" : "")
        guard let comparison = Comparison(rawValue: op) else { return nil }
        let name = String(s[..<at])
        let value = String(s[(hasEquals ? s.index(after: next) : next)...])
        guard !name.isEmpty, !value.isEmpty, !value.contains(where: { "<>=".contains($0) }) else { return nil }
        return (name, comparison, value)
    }

    static func metric(_ name: String) -> Metric? {
        switch name.lowercased() {
        case "p50": return .latency(percentile: 50, summary: .percentile)
        case "p75": return .latency(percentile: 75, summary: .percentile)
        case "p90": return .latency(percentile: 90, summary: .percentile)
        case "p99": return .latency(percentile: 99, summary: .percentile)
        case "p99.9", "p99_9": return .latency(percentile: 99.9, summary: .percentile)
        case "p99.99", "p99_99": return .latency(percentile: 99.99, summary: .percentile)
        case "max": return .latency(percentile: nil, summary: .max)
        case "mean": return .latency(percentile: nil, summary: .mean)
        case "stdev": return .latency(percentile: nil, summary: .stdev)
        case "rps": return .rps
        case "requests": return .requests
        case "errors": return .errors(nil)
        case "error_rate": return .errorRate
        case "non2xx": return .non2xx
        default: break
        }
        let lower = name.lowercased()
        if lower.hasPrefix("errors.") {
            let kind = lower.dropFirst("errors.".count)
            return BenchErrorKind.allCases.first { $0.description == kind }.map { .errors($0) }
        }
        if lower.hasPrefix("status.") {
            let code = lower.dropFirst("status.".count)
            guard code.count == 3 else { return nil }
            if code.hasSuffix("xx"), let digit = Int(code.prefix(1)), (1...9).contains(digit) {
                return .status(code: digit, isClass: true)
            }
            if let n = Int(code), (100...999).contains(n) { return .status(code: n, isClass: false) }
        }
        return nil
    }

    /// A plain non-negative decimal number ("12", "0.5"); no sign, no exponent.
    static func number(_ s: String) -> Double? {
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), s.filter({ $0 == "." }).count <= 1,
            s != "."
        else { return nil }
        return Double(s)
    }

    static func microseconds(_ s: String) -> Double? {
        let units: [(String, Double)] = [("ns", 0.001), ("us", 1), ("µs", 1), ("ms", 1000), ("s", 1_000_000)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            if let v = number(String(s.dropLast(suffix.count))) { return v * scale }
            return nil
        }
        return nil
    }

    static func count(_ s: String) -> Double? {
        if s.hasSuffix("k") || s.hasSuffix("K") { return number(String(s.dropLast())).map { $0 * 1000 } }
        if s.hasSuffix("M") { return number(String(s.dropLast())).map { $0 * 1_000_000 } }
        return number(s)
    }
}
