@testable import GustBench
import Testing

/// A result with `latenciesMicros` recorded in both histograms and the given counters.
func makeResult(
    latenciesMicros: [UInt64], uncorrectedMicros: [UInt64]? = nil, statuses: [Int: Int] = [:],
    errors: [BenchErrorKind: Int] = [:], seconds: Double = 1, rate: Int? = nil
) -> BenchResult {
    var stats = BenchStats()
    for us in latenciesMicros { stats.corrected.record(us * 1000) }
    for us in uncorrectedMicros ?? latenciesMicros { stats.uncorrected.record(us * 1000) }
    stats.requests = latenciesMicros.count
    for (code, n) in statuses { stats.statuses[code] = n }
    for (kind, n) in errors { stats.errors[kind.rawValue] = n }
    return BenchResult(
        stats: stats, durationSeconds: seconds, requestedRate: rate, connections: 4, reactors: 1, pipeline: 1,
        url: "http://127.0.0.1:8080/x", interrupted: false)
}

@Suite struct ThresholdParsingTests {
    @Test func latencyMetricsTakeAUnit() throws {
        let t = try Threshold("p99>10ms")
        #expect(t.metric == .latency(percentile: 99, summary: .percentile))
        #expect(t.comparison == .greater && t.limit == 10_000)
        #expect(try Threshold("p99.9 >= 250us").limit == 250)
        #expect(try Threshold("p99_99<=1.5s").limit == 1_500_000)
        #expect(try Threshold("max > 800ns").limit == 0.8)
        #expect(try Threshold("mean<2ms").metric == .latency(percentile: nil, summary: .mean))
        #expect(try Threshold("P50>1ms").comparison == .greater)
    }

    @Test func countsAndRates() throws {
        #expect(try Threshold("rps<50k").limit == 50_000)
        #expect(try Threshold("rps<1.5M").limit == 1_500_000)
        #expect(try Threshold("errors>0").metric == .errors(nil))
        #expect(try Threshold("errors.timeout>=3").metric == .errors(.timeout))
        #expect(try Threshold("error_rate>0.5%").limit == 0.5)
        #expect(try Threshold("error_rate>2").limit == 2)
        #expect(try Threshold("non2xx>0").metric == .non2xx)
        #expect(try Threshold("status.503>0").metric == .status(code: 503, isClass: false))
        #expect(try Threshold("status.5xx>0").metric == .status(code: 5, isClass: true))
        #expect(try Threshold("requests < 100").comparison == .less)
    }

    @Test func nonsenseIsRefusedWithTheReason() {
        let cases: [(String, String)] = [
            ("p99", "expected METRIC OP VALUE"), ("p99>", "expected METRIC OP VALUE"), (">5ms", "expected METRIC OP VALUE"),
            ("p99=5ms", "expected METRIC OP VALUE"), ("p99>>5ms", "expected METRIC OP VALUE"), ("p99<>5ms", "expected METRIC OP VALUE"),
            ("p98>5ms", "unknown metric"), ("errors.dns>0", "unknown metric"), ("status.42>0", "unknown metric"),
            ("status.0xx>0", "unknown metric"), ("p99>5", "not a latency"), ("p99>5 ms s", "not a latency"),
            ("p99>-5ms", "not a latency"), ("p99>1e3ms", "not a latency"), ("rps<fast", "not a number"),
            ("errors>1.2.3", "not a number"), ("error_rate>150%", "not a percentage"),
        ]
        for (text, reason) in cases {
            do {
                _ = try Threshold(text)
                Issue.record("'\(text)' was accepted")
            } catch {
                #expect(error.description.hasPrefix("--fail-if '\(text)': "), "\(error)")
                #expect(error.description.contains(reason), "\(text): \(error)")
            }
        }
    }
}

@Suite struct ThresholdEvaluationTests {
    @Test func latencyPercentiles() throws {
        // 1..1000 µs: p50 ≈ 500 µs, p99 ≈ 990 µs, max 1000 µs.
        let r = makeResult(latenciesMicros: Array(1...1000))
        #expect(try Threshold("p99>900us").isBreached(by: r))
        #expect(try !Threshold("p99>1ms").isBreached(by: r))
        #expect(try Threshold("p50>=499us").isBreached(by: r))
        #expect(try !Threshold("p50>=502us").isBreached(by: r))
        #expect(try Threshold("max>999us").isBreached(by: r))
        #expect(try !Threshold("max>1001us").isBreached(by: r))
        #expect(try Threshold("p99>900us").formatMeasured(r).hasSuffix("us"))
    }

    @Test func openLoopThresholdsJudgeTheCorrectedLatency() throws {
        let r = makeResult(latenciesMicros: [50_000, 60_000], uncorrectedMicros: [1_000, 1_000], rate: 2)
        #expect(try Threshold("p99>10ms").isBreached(by: r))
    }

    @Test func countsRatesAndStatuses() throws {
        let r = makeResult(
            latenciesMicros: Array(repeating: 100, count: 1000), statuses: [200: 990, 503: 6, 404: 4],
            errors: [.timeout: 10], seconds: 2)
        #expect(try Threshold("rps<600").isBreached(by: r))  // 500/s
        #expect(try !Threshold("rps<500").isBreached(by: r))
        #expect(try Threshold("requests<=1000").isBreached(by: r))
        #expect(try Threshold("errors>0").isBreached(by: r))
        #expect(try Threshold("errors.timeout>=10").isBreached(by: r))
        #expect(try !Threshold("errors.connect>0").isBreached(by: r))
        #expect(try Threshold("non2xx>=10").isBreached(by: r))
        #expect(try !Threshold("non2xx>10").isBreached(by: r))
        #expect(try Threshold("status.503>5").isBreached(by: r))
        #expect(try Threshold("status.5xx>5").isBreached(by: r))
        #expect(try !Threshold("status.4xx>4").isBreached(by: r))
        // 10 errors in 1010 attempts: 0.99%.
        #expect(try Threshold("error_rate>0.9%").isBreached(by: r))
        #expect(try !Threshold("error_rate>1%").isBreached(by: r))
    }

    @Test func verdictsAppearInTheJSON() throws {
        let r = makeResult(latenciesMicros: [100, 200])
        let json = BenchReport.json(r, thresholds: [try Threshold("errors>0"), try Threshold("max>150us")])
        #expect(json.contains(#""thresholds":[{"condition":"errors>0","measured":0,"breached":false},{"condition":"max>150us","measured":"#))
        #expect(json.hasSuffix(#""breached":true}]}"#))
    }
}

@Suite struct BenchPlotTests {
    @Test func openLoopDrawsBothCurvesClosedLoopOne() {
        let open = BenchPlot.svg(makeResult(latenciesMicros: Array(1...10_000), uncorrectedMicros: Array(repeating: 50, count: 10_000), rate: 100))
        #expect(open.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(open.hasSuffix("</svg>\n"))
        #expect(open.components("<path class=\"curve\"") == 2)
        #expect(open.contains("corrected (from intended send time)") && open.contains("uncorrected (from actual send)"))
        let closed = BenchPlot.svg(makeResult(latenciesMicros: Array(1...10_000)))
        #expect(closed.components("<path class=\"curve\"") == 1)
    }

    @Test func curvesRiseWithThePercentile() {
        let points = BenchPlot.points(makeResult(latenciesMicros: Array(1...100_000)).stats.corrected)
        #expect(points.first!.x == 0)
        #expect(points.last!.x >= 4.9)  // 100,000 samples reach 99.999%
        #expect(zip(points, points.dropFirst()).allSatisfy { $0.us <= $1.us })
        #expect(abs(points.last!.us - 100_000) / 100_000 < 0.001)
    }

    @Test func titlesAreEscaped() {
        #expect(BenchPlot.escape("a<b&\"c\">") == "a&lt;b&amp;&quot;c&quot;&gt;")
    }
}

extension String {
    func components(_ needle: String) -> Int {
        var count = 0
        var rest = Substring(self)
        while let r = rest.firstRange(of: needle) {
            count += 1
            rest = rest[r.upperBound...]
        }
        return count
    }
}
