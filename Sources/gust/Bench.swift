import ArgumentParser
import GustBench
@_spi(GustInternal) import GustIO

/// `gust bench`: load generators on Gust's reactors: HTTP/1.1 (the default) and WebSocket.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test a server: HTTP/1.1 (gust bench URL) or WebSocket (gust bench ws URL).",
        subcommands: [HTTPBench.self, WebSocketBench.self],
        defaultSubcommand: HTTPBench.self)
}

/// `gust bench [http] URL`: an HTTP/1.1 load generator on Gust's reactors.
struct HTTPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Load-test an HTTP/1.1 server: closed or open loop, latencies corrected for coordinated omission.",
        discussion: """
            Exit status: 0 when the run completed and no --fail-if threshold was breached; 1 when \
            it could not run (target refused or unreachable, too few file descriptors) or the plot \
            could not be written; 2 when a --fail-if threshold was breached; 130 (SIGINT) or 143 \
            (SIGTERM) when a signal cut the run short (the report of what was measured is printed \
            first); 64 for a usage error.

            --fail-if takes METRIC OP VALUE, OP one of > >= < <=: latencies p50 p75 p90 p99 \
            p99.9 p99.99 max mean stdev with a unit (ns us ms s); rps (k and M allowed); \
            requests; errors and errors.connect|read|write|timeout|malformed; error_rate in \
            percent; non2xx; status.NNN and status.Nxx. Example: --fail-if 'p99>10ms' \
            --fail-if 'errors>0' --fail-if 'rps<50k'.
            """)

    @Argument(help: "The URL to request, http://host[:port]/path")
    var url: String

    @Option(name: .short, help: "Connections.")
    var c = 64

    @Option(name: .short, help: "Reactor threads.")
    var t = 1

    @Option(name: .short, help: "Duration after the warm-up, e.g. 10s, 500ms, 2m (default 10s unless -n).")
    var d: String?

    @Option(name: .short, help: "Stop after this many requests (closed loop).")
    var n: Int?

    @Option(help: "Requests in flight per connection.")
    var pipeline = 1

    @Flag(help: "A new connection for every request.")
    var noKeepalive = false

    @Option(help: "Open loop: requests per second over all connections.")
    var rate: Int?

    @Option(help: "Warm-up excluded from the results, e.g. 2s.")
    var warmup = "0s"

    @Option(help: "Per-request timeout, e.g. 10s.")
    var timeout = "10s"

    @Option(help: "New connections per second (default: all at once).")
    var connectRate: Int?

    @Option(help: "Source addresses, e.g. 127.0.0.2-127.0.0.40 (binds with IP_BIND_ADDRESS_NO_PORT).")
    var source: String?

    @Option(name: .short, help: "Request method.")
    var m = "GET"

    @Option(name: .short, help: "A request header 'Name: value' (repeatable).")
    var H: [String] = []

    @Option(help: "Request body: text, or @file.")
    var body: String?

    @Flag(help: "Print one JSON object on standard output instead of the report.")
    var json = false

    @Flag(help: "No progress lines.")
    var quiet = false

    @Option(name: .customLong("fail-if"), help: "Exit with status 2 if this holds, e.g. 'p99>10ms', 'errors>0', 'rps<50k' (repeatable).")
    var failIf: [String] = []

    @Option(help: "Write a latency-by-percentile chart (SVG) to this file.")
    var plot: String?

    func makeThresholds() throws -> [Threshold] {
        var thresholds: [Threshold] = []
        for text in failIf {
            do { thresholds.append(try Threshold(text)) } catch { throw ValidationError(error.description) }
        }
        return thresholds
    }

    func makeConfiguration() throws -> BenchConfiguration {
        let target: TargetURL
        do { target = try TargetURL(url) } catch { throw ValidationError(error.description) }
        var bodyBytes: [UInt8]?
        if let body {
            if body.hasPrefix("@") {
                guard let bytes = System.readFile(String(body.dropFirst())) else {
                    throw ValidationError("cannot read body file \(body.dropFirst())")
                }
                bodyBytes = bytes
            } else {
                bodyBytes = Array(body.utf8)
            }
        }
        let request: RequestTemplate
        do {
            request = try RequestTemplate(method: m, url: target, headers: H, body: bodyBytes, keepAlive: !noKeepalive)
        } catch {
            throw ValidationError(error.description)
        }
        var config = BenchConfiguration(url: target, request: request)
        config.connections = c
        config.reactors = t
        config.requestCount = n
        config.duration = n == nil ? try DurationText.parse(d ?? "10s", option: "-d") : nil
        if n != nil && d != nil { throw ValidationError("give exactly one of -d and -n") }
        config.pipeline = pipeline
        config.keepAlive = !noKeepalive
        config.rate = rate
        config.warmup = try DurationText.parse(warmup, option: "--warmup")
        config.timeout = try DurationText.parse(timeout, option: "--timeout")
        config.connectRate = connectRate
        if let source {
            do { config.sources = try SourceAddresses.parse(source) } catch { throw ValidationError(error.description) }
        }
        do { try config.validate() } catch { throw ValidationError(error.description) }
        return config
    }

    func validate() throws {
        _ = try makeConfiguration()
        _ = try makeThresholds()
    }

    func run() throws {
        let config = try makeConfiguration()
        let thresholds = try makeThresholds()
        if let plot { try writePlot(plot, "") }  // an unwritable path fails before the run, not after
        let terminal = Console.errorIsTerminal
        let result: BenchResult
        do {
            let report: ((BenchRun.Progress) -> Void)? = quiet ? nil : { p in
                let line = BenchReport.progressLine(p)
                if terminal { Console.errorRaw("\r\u{1b}[K" + line) } else { Console.error(line) }
            }
            result = try BenchRun.run(config, progress: report)
        } catch {
            if terminal && !quiet { Console.errorRaw("\r\u{1b}[K") }
            Console.error("gust bench: \(error)")
            throw ExitCode(1)
        }
        if terminal && !quiet { Console.errorRaw("\r\u{1b}[K") }
        if json {
            Console.out(BenchReport.json(result, thresholds: thresholds))
        } else {
            Console.outRaw(BenchReport.text(result))
        }
        if let plot { try writePlot(plot, BenchPlot.svg(result)) }
        let breached = thresholds.filter { $0.isBreached(by: result) }
        for threshold in breached {
            Console.error("gust bench: threshold breached: \(threshold) (measured \(threshold.formatMeasured(result)))")
        }
        if result.interrupted {
            // An incomplete run is not a pass, whatever its figures: 128 + the signal, as shells do.
            Console.error("gust bench: interrupted before the end of the run")
            throw ExitCode(128 + (result.interruptSignal > 0 ? result.interruptSignal : 2))
        }
        if !breached.isEmpty { throw ExitCode(2) }
    }
}

func writePlot(_ path: String, _ svg: String) throws {
    do {
        try System.writeFile(path, Array(svg.utf8))
    } catch {
        Console.error("gust bench: cannot write the plot to \(path): \(error)")
        throw ExitCode(1)
    }
}

/// Durations as people write them: 10s, 500ms, 250us, 2m, 1.5s; at most `maximumSeconds`.
enum DurationText {
    /// The longest duration any option takes (about three years): every deadline computed from
    /// it stays far inside the 64-bit nanosecond clock.
    static let maximumSeconds: Double = 100_000_000

    static func parse(_ text: String, option: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v >= 0, v.isFinite {
                let seconds = v * scale
                guard seconds <= maximumSeconds else {
                    throw ValidationError("\(option): '\(text)' is too long (at most \(Int(maximumSeconds))s)")
                }
                return .nanoseconds(Int64(seconds * 1e9))
            }
        }
        throw ValidationError("\(option): '\(text)' is not a duration (say 10s, 500ms, 2m)")
    }
}
