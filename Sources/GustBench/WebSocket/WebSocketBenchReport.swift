import Histogram

/// `gust bench ws`'s report: text for people, one JSON object for programs.
public enum WebSocketBenchReport {
    static func latency(_ h: Histogram<UInt64>) -> BenchResult.Latency { BenchResult.Latency(h) }

    public static func progressLine(_ s: WebSocketBenchStats, elapsed: Double) -> String {
        "\(BenchReport.format(elapsed, 0))s  open \(s.opened - s.errors(.closed))  attempted \(s.attempted)  messages \(s.messagesReceived)"
            + "  pongs \(s.pongsReceived)  errors \(s.totalErrors)"
    }

    public static func text(_ r: WebSocketBenchResult) -> String {
        let s = r.stats
        var out = "gust bench ws \(r.mode.rawValue) \(r.url): \(r.connections) connections"
        out += r.processes > 1 ? " in \(r.processes) processes" : ""
        out += ", \(BenchReport.format(r.durationSeconds, 1))s\n"
        let pending = s.attempted - s.opened - s.errors(.connect) - s.errors(.handshake)
        out += "  connections  attempted \(s.attempted)  opened \(s.opened)  open at the end \(s.openAtEnd)"
        out += pending > 0 ? "  still connecting at the end \(pending)" : ""
        out += "  rate \(BenchReport.format(r.connectRate, 1))/s\n"
        out += block("handshake (connect to 101)", s.handshake)
        if s.ping.totalCount > 0 { out += block("ping round trip (\(s.pongsReceived) of \(s.pingsSent))", s.ping) }
        if s.serverPings > 0 { out += "  the server's pings  \(s.serverPings), each answered\n" }
        if s.echo.totalCount > 0 {
            out += "  echo  \(s.messagesReceived) messages  \(BenchReport.format(r.messagesPerSecond, 1)) msg/s\n"
            out += block("echo latency", s.echo)
            if s.echoUncorrected.totalCount > 0 && r.mode == .echo { out += block("echo latency from the actual send", s.echoUncorrected) }
        }
        if r.mode == .broadcast {
            out += "  broadcast  \(s.published) publications  \(s.delivery.totalCount) deliveries\n"
            out += block("delivery (publish to each subscriber)", s.delivery)
            out += block("until the last subscriber had it (per publication)", s.lastDeliveryHistogram)
        }
        let errors = WebSocketBenchError.allCases.map { "\($0) \(s.errors($0))" }.joined(separator: "  ")
        out += "  errors \(s.totalErrors)  (\(errors))\n"
        if r.interrupted { out += "  interrupted before the end\n" }
        return out
    }

    static func block(_ title: String, _ h: Histogram<UInt64>) -> String {
        let l = latency(h)
        return "  \(title)\n"
            + "    p50 \(BenchReport.formatMicros(l.p50))  p90 \(BenchReport.formatMicros(l.p90))  p99 \(BenchReport.formatMicros(l.p99))"
            + "  p99.9 \(BenchReport.formatMicros(l.p99_9))  max \(BenchReport.formatMicros(l.max))\n"
    }

    public static func json(_ r: WebSocketBenchResult, thresholds: [WebSocketThreshold] = []) -> String {
        func latency(_ h: Histogram<UInt64>) -> String {
            let l = BenchResult.Latency(h)
            return "{\"count\":\(h.totalCount),\"p50\":\(BenchReport.num(l.p50)),\"p90\":\(BenchReport.num(l.p90)),\"p99\":\(BenchReport.num(l.p99)),"
                + "\"p99_9\":\(BenchReport.num(l.p99_9)),\"max\":\(BenchReport.num(l.max)),\"mean\":\(BenchReport.num(l.mean))}"
        }
        let s = r.stats
        var f: [String] = []
        f.append("\"url\":\(BenchReport.quote(r.url))")
        f.append("\"mode\":\"\(r.mode.rawValue)\"")
        f.append("\"connections\":\(r.connections)")
        f.append("\"processes\":\(r.processes)")
        f.append("\"duration_s\":\(BenchReport.num(r.durationSeconds))")
        f.append("\"attempted\":\(s.attempted)")
        f.append("\"opened\":\(s.opened)")
        f.append("\"open_at_end\":\(s.openAtEnd)")
        f.append("\"connect_rate\":\(BenchReport.num(r.connectRate))")
        f.append("\"handshake_us\":\(latency(s.handshake))")
        f.append("\"pings_sent\":\(s.pingsSent)")
        f.append("\"pongs\":\(s.pongsReceived)")
        f.append("\"server_pings\":\(s.serverPings)")
        f.append("\"ping_us\":\(latency(s.ping))")
        f.append("\"messages_sent\":\(s.messagesSent)")
        f.append("\"messages_received\":\(s.messagesReceived)")
        f.append("\"messages_per_s\":\(BenchReport.num(r.messagesPerSecond))")
        f.append("\"echo_us\":\(latency(s.echo))")
        f.append("\"echo_uncorrected_us\":\(latency(s.echoUncorrected))")
        f.append("\"publications\":\(s.published)")
        f.append("\"delivery_us\":\(latency(s.delivery))")
        f.append("\"last_delivery_us\":\(latency(s.lastDeliveryHistogram))")
        let errors = WebSocketBenchError.allCases.map { "\"\($0)\":\(s.errors($0))" }.joined(separator: ",")
        f.append("\"errors\":{\"total\":\(s.totalErrors),\(errors)}")
        f.append("\"interrupted\":\(r.interrupted)")
        if !thresholds.isEmpty {
            let verdicts = thresholds.map { t in
                "{\"condition\":\(BenchReport.quote(t.text)),\"measured\":\(BenchReport.num(t.measured(r))),\"breached\":\(t.isBreached(by: r))}"
            }
            f.append("\"thresholds\":[\(verdicts.joined(separator: ","))]")
        }
        return "{" + f.joined(separator: ",") + "}"
    }
}

/// `--fail-if` for `gust bench ws`: METRIC OP VALUE. Latency metrics name a histogram and a
/// figure: `handshake.p99`, `ping.p99.9`, `echo.max`, `delivery.p50`, `last.p99` (per
/// publication, until its last subscriber), or a bare figure (`p99`) for the mode's own
/// (hold: ping, echo: echo, broadcast: delivery); with a unit (ns us ms s). Counts: `errors`,
/// `errors.connect|handshake|closed|timeout|protocol`, `opened`, `open_at_end`; rates: `mps`
/// (messages per second), `connect_rate`.
public struct WebSocketThreshold: Sendable, CustomStringConvertible {
    enum Metric: Sendable {
        case latency(histogram: String?, figure: String)
        case errors(WebSocketBenchError?)
        case opened, openAtEnd, mps, connectRate
    }

    public let text: String
    let metric: Metric
    let comparison: Threshold.Comparison
    let limit: Double
    public var description: String { text }

    public init(_ text: String) throws(Threshold.Invalid) {
        self.text = text
        let compact = text.filter { $0 != " " }
        guard let (name, comparison, value) = Threshold.split(compact) else {
            throw Threshold.Invalid(description: "'\(text)' is not METRIC OP VALUE (e.g. 'ping.p99>10ms')")
        }
        self.comparison = comparison
        let lower = name.lowercased()
        let figures = ["p50", "p75", "p90", "p99", "p99.9", "p99.99", "max", "mean"]
        var parsed: Metric?
        switch lower {
        case "errors": parsed = .errors(nil)
        case "opened": parsed = .opened
        case "open_at_end": parsed = .openAtEnd
        case "mps": parsed = .mps
        case "connect_rate": parsed = .connectRate
        default:
            if lower.hasPrefix("errors.") {
                let kind = lower.dropFirst(7)
                if let k = WebSocketBenchError.allCases.first(where: { $0.description == kind }) { parsed = .errors(k) }
            } else if figures.contains(lower) {
                parsed = .latency(histogram: nil, figure: lower)
            } else if let dot = lower.firstIndex(of: "."), figures.contains(String(lower[lower.index(after: dot)...])),
                ["handshake", "ping", "echo", "delivery", "last"].contains(String(lower[..<dot]))
            {
                parsed = .latency(histogram: String(lower[..<dot]), figure: String(lower[lower.index(after: dot)...]))
            }
        }
        guard let metric = parsed else { throw Threshold.Invalid(description: "unknown metric '\(name)' in '\(text)'") }
        self.metric = metric
        let limit: Double?
        if case .latency = metric { limit = Threshold.microseconds(value) } else { limit = Threshold.count(value) }
        guard let limit else { throw Threshold.Invalid(description: "bad value '\(value)' in '\(text)'") }
        self.limit = limit
    }

    public func measured(_ r: WebSocketBenchResult) -> Double {
        switch metric {
        case .errors(let kind): return Double(kind.map { r.stats.errors($0) } ?? r.stats.totalErrors)
        case .opened: return Double(r.stats.opened)
        case .openAtEnd: return Double(r.stats.openAtEnd)
        case .mps: return r.messagesPerSecond
        case .connectRate: return r.connectRate
        case .latency(let name, let figure):
            let h: Histogram<UInt64>
            switch name ?? (r.mode == .hold ? "ping" : r.mode == .echo ? "echo" : "delivery") {
            case "handshake": h = r.stats.handshake
            case "ping": h = r.stats.ping
            case "echo": h = r.stats.echo
            case "last": h = r.stats.lastDeliveryHistogram
            default: h = r.stats.delivery
            }
            let l = BenchResult.Latency(h)
            switch figure {
            case "p50": return l.p50
            case "p75": return l.p75
            case "p90": return l.p90
            case "p99": return l.p99
            case "p99.9": return l.p99_9
            case "p99.99": return l.p99_99
            case "mean": return l.mean
            default: return l.max
            }
        }
    }

    public func isBreached(by r: WebSocketBenchResult) -> Bool { comparison.holds(measured(r), limit) }

    /// The measured value as a person reads it.
    public func formatMeasured(_ r: WebSocketBenchResult) -> String {
        let value = measured(r)
        switch metric {
        case .latency: return BenchReport.formatMicros(value)
        case .mps, .connectRate: return BenchReport.format(value, 1) + "/s"
        default: return String(Int(value))
        }
    }
}
