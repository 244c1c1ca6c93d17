#if canImport(Glibc)
import Glibc
#endif
import Histogram

/// A latency-by-percentile chart as a standalone SVG document (`gust bench --plot FILE.svg`),
/// in the style of HdrHistogram's plots: the x axis stretches the tail (0%, 90%, 99%, 99.9%, ...
/// equally spaced, i.e. log10 of 1/(1 − p)), the y axis is latency on a log scale. An open-loop
/// run draws the corrected curve (from intended send times) and the uncorrected one (from actual
/// sends); the gap between them is the coordinated omission the correction removed.
///
/// Pure: a string from a result. Cost: ~300 percentile lookups per curve.
public enum BenchPlot {
    static let width = 960.0
    static let height = 540.0
    static let left = 110.0
    static let right = 30.0
    static let top = 60.0
    static let bottom = 70.0

    /// One curve: (x = log10(1 / (1 − p)), latency in µs) points.
    struct Curve {
        let label: String
        let color: String
        let dashed: Bool
        let points: [(x: Double, us: Double)]
    }

    public static func svg(_ result: BenchResult) -> String {
        var curves: [Curve] = []
        if result.isOpenLoop {
            curves.append(Curve(label: "corrected (from intended send time)", color: "#1f5fbf", dashed: false, points: points(result.stats.corrected)))
            curves.append(Curve(label: "uncorrected (from actual send)", color: "#d9661f", dashed: true, points: points(result.stats.uncorrected)))
        } else {
            curves.append(Curve(label: "latency", color: "#1f5fbf", dashed: false, points: points(result.stats.corrected)))
        }
        let mode = result.isOpenLoop ? "open loop at \(result.requestedRate!)/s" : "closed loop"
        let title = "\(result.url) · \(result.connections) connections · \(mode) · \(result.requests) requests · \(BenchReport.format(result.rps, 1)) req/s"
        return render(title: title, curves: curves)
    }

    /// Percentile points from 0% to the last one the sample count supports, then the maximum.
    static func points(_ h: Histogram<UInt64>) -> [(x: Double, us: Double)] {
        guard h.totalCount > 0 else { return [] }
        let xEnd = min(6.0, log10(Double(h.totalCount)))
        var out: [(x: Double, us: Double)] = []
        var x = 0.0
        while x <= xEnd {
            let percentile = 100 * (1 - pow(10, -x))
            out.append((x, max(Double(h.valueAtPercentile(percentile)) / 1000, 0.001)))
            x += 0.02
        }
        out.append((max(xEnd, x - 0.02), max(Double(h.max) / 1000, 0.001)))
        return out
    }

    static func render(title: String, curves: [Curve]) -> String {
        let all = curves.flatMap(\.points)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let xMax = max(1.0, (all.map(\.x).max() ?? 1).rounded(.up))
        let yLow = floor(log10(all.map(\.us).min() ?? 1))
        var yHigh = ceil(log10(all.map(\.us).max() ?? 10))
        if yHigh <= yLow { yHigh = yLow + 1 }
        func px(_ x: Double) -> Double { left + x / xMax * plotWidth }
        func py(_ us: Double) -> Double { top + plotHeight - (log10(us) - yLow) / (yHigh - yLow) * plotHeight }
        func f(_ v: Double) -> String { BenchReport.format(v, 1) }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="14">\(escape(title))</text>
            <text x="\(f(left + plotWidth / 2))" y="\(f(height - 18))" text-anchor="middle">percentile</text>
            <text transform="translate(22 \(f(top + plotHeight / 2))) rotate(-90)" text-anchor="middle">latency (log scale)</text>

            """
        // Vertical grid: 0%, 90%, 99%, ... one per decade of the tail.
        for k in 0...Int(xMax) {
            let x = px(Double(k))
            let label = k == 0 ? "0%" : "\(percentLabel(k))%"
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 18))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        // Horizontal grid: 1, 2, 5 × 10^k microseconds.
        for decade in Int(yLow)...Int(yHigh) {
            for m in [1.0, 2.0, 5.0] {
                let us = m * pow(10, Double(decade))
                let y = py(us)
                guard y >= top - 0.5 && y <= top + plotHeight + 0.5 else { continue }
                svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"\(m == 1 ? "#ccc" : "#eee")\"/>"
                svg += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(gridLabel(us))</text>\n"
            }
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
        for (i, curve) in curves.enumerated() where !curve.points.isEmpty {
            let path = curve.points.enumerated().map { k, p in "\(k == 0 ? "M" : "L")\(f(px(p.x))) \(f(py(p.us)))" }.joined(separator: " ")
            let dash = curve.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<path class=\"curve\" d=\"\(path)\" fill=\"none\" stroke=\"\(curve.color)\" stroke-width=\"2\"\(dash)><title>\(escape(curve.label))</title></path>\n"
            let ly = top + 16 + Double(i) * 18
            svg += "<line x1=\"\(f(left + 14))\" y1=\"\(f(ly - 4))\" x2=\"\(f(left + 44))\" y2=\"\(f(ly - 4))\" stroke=\"\(curve.color)\" stroke-width=\"2\"\(dash)/>"
            svg += "<text x=\"\(f(left + 52))\" y=\"\(f(ly))\">\(escape(curve.label))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// "500us", "2ms", "10s": a grid value (1, 2 or 5 × a power of ten) without decimals.
    static func gridLabel(_ us: Double) -> String {
        if us < 1 { return "\(Int((us * 1000).rounded()))ns" }
        if us < 1000 { return "\(Int(us.rounded()))us" }
        if us < 1_000_000 { return "\(Int((us / 1000).rounded()))ms" }
        return "\(Int((us / 1_000_000).rounded()))s"
    }

    /// "90", "99", "99.9", ... for decade `k` of the tail.
    static func percentLabel(_ k: Int) -> String {
        k <= 2 ? (k == 1 ? "90" : "99") : "99." + String(repeating: "9", count: k - 2)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
