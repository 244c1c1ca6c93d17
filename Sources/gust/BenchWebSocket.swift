import ArgumentParser
import GustBench
@_spi(GustInternal) import GustIO

/// `gust bench ws`: many WebSocket connections, held, echoing, or listening to a broadcast.
struct WebSocketBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ws",
        abstract: "Load-test a WebSocket server: hold N connections with pings, echo messages, or time a broadcast.",
        discussion: """
            Modes: hold (open -c connections, paced by --connect-rate, from --source addresses, \
            and keep them with a ping every --ping-interval; reports handshake and ping round-trip \
            percentiles and what closed), echo (closed loop: one message in flight per connection; \
            --rate: open loop, latency from each message's intended time), broadcast (every \
            connection subscribes, e.g. to Gust's /ws/topic/NAME; one publishes --rate messages per \
            second after --publish-after; reports each delivery's latency and, per publication, the \
            time until its last subscriber had it).

            More connections than one process may hold descriptors for are split over several \
            processes of this program (--processes, chosen for you), merged at the end. Each source \
            address reaches one server port from about 28,000 local ports, and connect() slows as \
            they fill: give about one address per 4,000 connections (--source 127.0.0.2-127.0.0.251).

            Exit status: 0, or 1 when the run could not start, 2 when a --fail-if holds, 128+N for \
            signal N. --fail-if: handshake|ping|echo|delivery|last .p50|p90|p99|p99.9|max|mean \
            (or a bare p99: the mode's own), errors, errors.connect|handshake|closed|timeout|protocol, \
            opened, open_at_end, mps, connect_rate. Example: --fail-if 'errors>0' --fail-if 'ping.p99>50ms'.
            """)

    @Argument(help: "The WebSocket URL, ws://host[:port]/path")
    var url: String

    @Option(help: "hold, echo or broadcast.")
    var mode = "hold"

    @Option(name: .short, help: "Connections.")
    var c = 100

    @Option(name: .short, help: "Reactor threads per process.")
    var t = 1

    @Option(name: .short, help: "Duration of the run, connecting included, e.g. 30s, 5m.")
    var d = "10s"

    @Option(help: "New connections per second over all processes (default: all at once).")
    var connectRate: Int?

    @Option(help: "Source addresses, e.g. 127.0.0.2-127.0.0.20 (binds with IP_BIND_ADDRESS_NO_PORT).")
    var source: String?

    @Option(help: "hold: a ping from each connection this often ('none': no pings).")
    var pingInterval = "1s"

    @Option(help: "Message size in bytes (at least 16).")
    var size = 32

    @Option(help: "echo: messages per second over all connections (open loop); broadcast: publications per second (default 10).")
    var rate: Int?

    @Option(help: "A handshake or ping unanswered this long counts as a timeout.")
    var timeout = "10s"

    @Option(help: "broadcast: wait this long after the start before publishing (subscribers connect first).")
    var publishAfter = "2s"

    @Option(help: "Processes to split the connections over (default: as many as the descriptor limit requires).")
    var processes: Int?

    @Flag(help: "Print one JSON object on standard output instead of the report.")
    var json = false

    @Flag(help: "No progress lines.")
    var quiet = false

    @Option(name: .customLong("fail-if"), help: "Exit with status 2 if this holds, e.g. 'errors>0', 'ping.p99>50ms' (repeatable).")
    var failIf: [String] = []

    // A worker of a split run (set by its parent).
    @Option(help: .hidden) var firstConnection = 0
    @Option(help: .hidden) var startAt: Int64?
    @Flag(help: .hidden) var noPublish = false
    @Option(help: .hidden) var resultFile: String?

    func makeConfiguration() throws -> WebSocketBenchConfiguration {
        var config: WebSocketBenchConfiguration
        do { config = try WebSocketBenchConfiguration(url: url) } catch { throw ValidationError(error.description) }
        guard let m = WebSocketBenchConfiguration.Mode(rawValue: mode) else { throw ValidationError("--mode must be hold, echo or broadcast") }
        config.mode = m
        config.connections = c
        config.reactors = t
        config.duration = try DurationText.parse(d, option: "-d")
        config.connectRate = connectRate
        if let source {
            do { config.sources = try SourceAddresses.parse(source) } catch { throw ValidationError(error.description) }
        }
        config.pingInterval = pingInterval == "none" ? nil : try DurationText.parse(pingInterval, option: "--ping-interval")
        config.messageSize = size
        config.rate = rate ?? (m == .broadcast ? 10 : nil)
        config.timeout = try DurationText.parse(timeout, option: "--timeout")
        config.publishAfter = try DurationText.parse(publishAfter, option: "--publish-after")
        config.firstConnection = firstConnection
        config.publishes = !noPublish
        config.startAt = startAt
        do { try config.validate() } catch { throw ValidationError(error.description) }
        return config
    }

    func makeThresholds() throws -> [WebSocketThreshold] {
        var thresholds: [WebSocketThreshold] = []
        for text in failIf {
            do { thresholds.append(try WebSocketThreshold(text)) } catch { throw ValidationError(error.description) }
        }
        return thresholds
    }

    func validate() throws {
        _ = try makeConfiguration()
        _ = try makeThresholds()
        if let processes, !(1...256).contains(processes) { throw ValidationError("--processes must be 1...256") }
    }

    func run() throws {
        let config = try makeConfiguration()
        let thresholds = try makeThresholds()
        let split = processes ?? WebSocketBenchProcesses.needed(connections: c, reactors: t)
        let terminal = Console.errorIsTerminal
        let result: WebSocketBenchResult
        do {
            if split > 1 && resultFile == nil {
                if !quiet { Console.error("gust bench ws: \(c) connections over \(split) processes") }
                guard let executable = Processes.executablePath else {
                    Console.error("gust bench ws: cannot read /proc/self/exe")
                    throw ExitCode(1)
                }
                result = try WebSocketBenchProcesses.run(config, processes: split, executable: executable) { part in
                    workerArguments(part, executable: executable, split: split)
                }
            } else {
                let report: ((WebSocketBenchStats, Double) -> Void)? = quiet ? nil : { stats, elapsed in
                    let line = WebSocketBenchReport.progressLine(stats, elapsed: elapsed)
                    if terminal { Console.errorRaw("\r\u{1b}[K" + line) } else { Console.error(line) }
                }
                result = try WebSocketBenchRun.run(config, progress: report)
            }
        } catch {
            if terminal && !quiet { Console.errorRaw("\r\u{1b}[K") }
            Console.error("gust bench ws: \(error)")
            throw ExitCode(1)
        }
        if terminal && !quiet { Console.errorRaw("\r\u{1b}[K") }
        if let resultFile {
            do { try WebSocketBenchProcesses.write(result.stats, to: resultFile) } catch {
                Console.error("gust bench ws: cannot write \(resultFile): \(error)")
                throw ExitCode(1)
            }
            return
        }
        if json {
            Console.out(WebSocketBenchReport.json(result, thresholds: thresholds))
        } else {
            Console.outRaw(WebSocketBenchReport.text(result))
        }
        let breached = thresholds.filter { $0.isBreached(by: result) }
        for threshold in breached {
            Console.error("gust bench ws: threshold breached: \(threshold) (measured \(threshold.formatMeasured(result)))")
        }
        if result.interrupted {
            Console.error("gust bench ws: interrupted before the end of the run")
            throw ExitCode(130)
        }
        if !breached.isEmpty { throw ExitCode(2) }
    }

    /// The same run, one slice of it: for a worker process.
    func workerArguments(_ part: WebSocketBenchProcesses.Part, executable: String, split: Int) -> [String] {
        var args = [executable, "bench", "ws", url, "--mode", mode, "-c", "\(part.connections)", "-t", "\(t)", "-d", d,
                    "--ping-interval", pingInterval, "--size", "\(size)", "--timeout", timeout, "--publish-after", publishAfter,
                    "--first-connection", "\(part.firstConnection)", "--start-at", "\(part.startAt)", "--result-file", part.resultFile,
                    "--processes", "1", "--quiet"]
        if let connectRate { args += ["--connect-rate", "\(max(1, connectRate / split))"] }
        if let source { args += ["--source", source] }
        // An echo rate is shared out; a broadcast's publisher is one connection in one process.
        if let rate { args += ["--rate", "\(mode == "echo" ? max(1, rate / split) : rate)"] }
        if !part.publishes { args.append("--no-publish") }
        return args
    }
}
