/// Renders a result for people (`text`) and for programs (`json`, schema in the README).
/// Pure: strings from values.
public enum BenchReport {
    public static func text(_ r: BenchResult) -> String {
        var out = ""
        let mode = r.isOpenLoop ? "open loop at \(r.requestedRate!) req/s" : "closed loop"
        out += "\(r.url): \(r.connections) connections on \(r.reactors) reactor(s), pipeline \(r.pipeline), \(mode)\n"
        if r.interrupted { out += "(interrupted: figures cover the time run)\n" }
        out += "  requests   \(r.requests) in \(format(r.durationSeconds, 2)) s = \(format(r.rps, 1)) req/s\n"
        if let rate = r.requestedRate {
            let ratio = r.rps / Double(rate)
            out += "  rate       requested \(rate)/s, achieved \(format(r.rps, 1))/s (\(format(ratio * 100, 1))%)"
            if r.stats.lateSends > 0 {
                out += "; \(r.stats.lateSends) sends over 1 ms late, worst \(formatMicros(Double(r.stats.maxLagNanoseconds) / 1000)) behind"
            }
            out += "\n"
            if ratio < 0.99 { out += "  WARNING    the target did not keep up with the requested rate\n" }
        }
        out += latencyBlock(r.isOpenLoop ? "latency (from intended send time, corrected for coordinated omission)" : "latency", r.latency)
        if r.isOpenLoop { out += latencyBlock("latency (from actual send, uncorrected)", r.uncorrectedLatency) }
        let statuses = r.stats.statuses.enumerated().filter { $0.element > 0 }.map { "\($0.offset): \($0.element)" }
        out += "  status     \(statuses.isEmpty ? "none" : statuses.joined(separator: ", "))\n"
        let errors = BenchErrorKind.allCases.map { "\($0) \(r.stats.errors($0))" }.joined(separator: ", ")
        out += "  errors     \(r.stats.totalErrors) (\(errors))\n"
        out += "  transfer   \(r.stats.bytesIn) bytes in, \(r.stats.bytesOut) bytes out; \(r.stats.connectionsOpened) connections opened\n"
        return out
    }

    /// "  3.0s     51234 req/s  0 errors  p99 1.23ms" for the live progress display.
    public static func progressLine(_ p: BenchRun.Progress) -> String {
        let p99 = p.stats.corrected.totalCount == 0 ? 0 : Double(p.stats.corrected.valueAtPercentile(99)) / 1000
        let elapsed = format(p.elapsedSeconds, 1) + "s"
        let rate = format(p.recentRate, 0) + " req/s"
        return String(repeating: " ", count: max(0, 7 - elapsed.count)) + elapsed
            + String(repeating: " ", count: max(0, 16 - rate.count)) + rate
            + "  \(p.stats.totalErrors) errors  p99 \(formatMicros(p99))"
    }

    static func latencyBlock(_ title: String, _ l: BenchResult.Latency) -> String {
        "  \(title)\n"
            + "    p50 \(formatMicros(l.p50))  p75 \(formatMicros(l.p75))  p90 \(formatMicros(l.p90))  p99 \(formatMicros(l.p99))\n"
            + "    p99.9 \(formatMicros(l.p99_9))  p99.99 \(formatMicros(l.p99_99))  max \(formatMicros(l.max))  mean \(formatMicros(l.mean))  stdev \(formatMicros(l.stdev))\n"
    }

    /// One JSON object (keys documented in the README); `thresholds` adds each `--fail-if` with
    /// its measured value and verdict.
    public static func json(_ r: BenchResult, thresholds: [Threshold] = []) -> String {
        func latency(_ l: BenchResult.Latency) -> String {
            "{\"p50\":\(num(l.p50)),\"p75\":\(num(l.p75)),\"p90\":\(num(l.p90)),\"p99\":\(num(l.p99)),\"p99_9\":\(num(l.p99_9)),"
                + "\"p99_99\":\(num(l.p99_99)),\"max\":\(num(l.max)),\"mean\":\(num(l.mean)),\"stdev\":\(num(l.stdev))}"
        }
        var fields: [String] = []
        fields.append("\"url\":\(quote(r.url))")
        fields.append("\"connections\":\(r.connections)")
        fields.append("\"reactors\":\(r.reactors)")
        fields.append("\"pipeline\":\(r.pipeline)")
        fields.append("\"requests\":\(r.requests)")
        fields.append("\"duration_s\":\(num(r.durationSeconds))")
        fields.append("\"rps\":\(num(r.rps))")
        let errors = BenchErrorKind.allCases.map { "\"\($0)\":\(r.stats.errors($0))" }.joined(separator: ",")
        fields.append("\"errors\":{\"total\":\(r.stats.totalErrors),\(errors)}")
        let statuses = r.stats.statuses.enumerated().filter { $0.element > 0 }.map { "\"\($0.offset)\":\($0.element)" }
        fields.append("\"status\":{\(statuses.joined(separator: ","))}")
        fields.append("\"latency_us\":\(latency(r.latency))")
        if let rate = r.requestedRate {
            fields.append("\"uncorrected_latency_us\":\(latency(r.uncorrectedLatency))")
            fields.append("\"requested_rate\":\(rate)")
            fields.append("\"achieved_rate\":\(num(r.rps))")
            fields.append("\"late_sends\":\(r.stats.lateSends)")
            fields.append("\"max_send_lag_us\":\(num(Double(r.stats.maxLagNanoseconds) / 1000))")
        }
        fields.append("\"bytes_in\":\(r.stats.bytesIn)")
        fields.append("\"bytes_out\":\(r.stats.bytesOut)")
        fields.append("\"connections_opened\":\(r.stats.connectionsOpened)")
        fields.append("\"interrupted\":\(r.interrupted)")
        if !thresholds.isEmpty {
            let verdicts = thresholds.map { t in
                "{\"condition\":\(quote(t.text)),\"measured\":\(num(t.measured(r))),\"breached\":\(t.isBreached(by: r))}"
            }
            fields.append("\"thresholds\":[\(verdicts.joined(separator: ","))]")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A number for JSON: finite, at most three decimals.
    static func num(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let rounded = (x * 1000).rounded() / 1000
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// "123.4us", "12.35ms", "1.234s".
    public static func formatMicros(_ us: Double) -> String {
        if us < 1000 { return format(us, 1) + "us" }
        if us < 1_000_000 { return format(us / 1000, 2) + "ms" }
        return format(us / 1_000_000, 3) + "s"
    }

    static func format(_ x: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let v = (x * scale).rounded() / scale
        var s = String(v)
        if let dot = s.firstIndex(of: ".") {
            let have = s.distance(from: dot, to: s.endIndex) - 1
            if have < decimals { s += String(repeating: "0", count: decimals - have) }
            if decimals == 0 { s = String(s[..<dot]) }
        }
        return s
    }
}
