import ArgumentParser
import Gust
import GustDemo
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// `gust serve`: runs the demo app until SIGINT or SIGTERM.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the demo app until interrupted (SIGINT, SIGTERM or SIGHUP).",
        discussion: "Routes:\n" + DemoApp.routeList)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one and prints it).")
    var port = 8080

    @Option(help: "Reactor threads (default: one per available CPU).")
    var reactors: Int?

    @Option(help: "Also serve the files under this directory at /static/ (sendfile, ETag, ranges).")
    var staticDir: String?

    @Option(help: "Worker processes under a supervisor that replaces any that dies (default 1: no supervisor).")
    var processes = 1

    @Option(help: "Write the serving process's PID to this file (for 'gust reload' and init systems).")
    var pidFile: String?

    @OptionGroup(title: "Limits")
    var limits: LimitOptions

    @OptionGroup(title: "Admission")
    var admission: AdmissionOptions

    @OptionGroup(title: "Timeouts")
    var timeouts: TimeoutOptions

    @OptionGroup(title: "WebSocket")
    var webSocket: WebSocketCLIOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let reactors, !(1...1024).contains(reactors) { throw ValidationError("--reactors must be 1...1024") }
        guard (1...256).contains(processes) else { throw ValidationError("--processes must be 1...256") }
    }

    func run() throws {
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.processes = processes
        if let reactors {
            config.reactors = reactors
        } else if processes > 1 {
            config.reactors = max(1, System.availableCPUs() / processes)  // the CPUs, shared by the workers
        }
        config.limits = limits.requestLimits
        config.maxRequestsPerConnection = limits.maxRequestsPerConnection
        config.maxPipelinedRequests = limits.maxPipelined
        try timeouts.apply(to: &config)
        try admission.apply(to: &config)
        let router = DemoApp.makeRouter(webSocket: try webSocket.options())
        if let staticDir {
            do {
                try router.files("/static", directory: staticDir)
            } catch {
                throw CleanExit.message("gust: \(error)", code: 1)
            }
        }
        // A worker of a supervisor, or a reload's new process, is handed its listeners.
        let worker = Processes.environment(ControlChannel.workerVariable)
        let successor = worker == nil && Processes.environment(ControlChannel.variable) != nil
        let ownsPidFile = worker == nil ? pidFile : nil
        // A worker's lines go to standard error: standard output is the supervisor's.
        let say: (String) -> Void = worker == nil ? { Console.out($0) } : { Console.error($0) }
        if let ownsPidFile, !successor { try checkPidFile(ownsPidFile) }
        let server = Server(configuration: config, router: router)
        let report: ShutdownReport
        do {
            report = try server.run(
                onStart: { server in
                    let port = server.port ?? port
                    if let worker {
                        Console.error("gust: worker \(worker) (PID \(Processes.pid)) serving on port \(port) with \(config.reactors) reactor(s)")
                        return
                    }
                    let how = config.processes > 1
                        ? "\(config.processes) worker process(es) × \(config.reactors) reactor(s)" : "\(config.reactors) reactor(s)"
                    let handed = server.inheritedListeners == true ? " (listeners handed over)" : ""
                    // The pid file first: whoever reads the line below may read the file next.
                    if let ownsPidFile {
                        do { try PidFile.write(ownsPidFile) } catch { Console.error("gust: cannot write the pid file: \(error)") }
                    }
                    Console.out("gust: serving http://\(displayHost):\(port) with \(how)\(handed), PID \(Processes.pid)")
                },
                onReload: { outcome in
                    switch outcome {
                    case .handedOver(let pid) where config.processes == 1:
                        say("gust: reload: PID \(pid) is serving; finishing what is under way here")
                    case .handedOver:
                        say("gust: reload: every worker replaced")
                    case .failed(let why):
                        Console.error("gust: reload failed, still serving: \(why)")
                    }
                },
                onDrain: { open in
                    if config.processes > 1 && worker == nil {
                        say("gust: stopping: \(open) worker process(es) finishing what is under way (a second signal stops them at once)")
                    } else {
                        say("gust: stopping: \(open) connection(s) open, finishing what is under way (a second signal stops at once)")
                    }
                })
        } catch {
            throw CleanExit.message("gust: cannot serve on \(displayHost):\(port): \(error)", code: 1)
        }
        if let ownsPidFile { PidFile.removeIfOwned(ownsPidFile) }
        say("gust: \(report)")
        say("gust: stopped")
    }

    /// Refuses to start over a pid file that names a running server; a stale one is replaced.
    func checkPidFile(_ path: String) throws {
        guard let pid = PidFile.read(path), pid != Processes.pid else { return }
        if Processes.exists(pid), Processes.commandLine(of: pid)?.contains("serve") == true {
            throw CleanExit.message("gust: already running as PID \(pid) (pid file \(path)); use 'gust reload --pid-file \(path)' to replace it", code: 1)
        }
        Console.error("gust: stale pid file \(path) (PID \(pid) is not a running gust server): replacing it")
    }

    var displayHost: String { host.contains(":") ? "[\(host)]" : host }
}

/// Request limits shared by commands that serve.
struct LimitOptions: ParsableArguments {
    @Option(help: "Longest request line in bytes (414 beyond).")
    var maxRequestLine = RequestLimits().maxRequestLineBytes

    @Option(help: "Largest header section in bytes (431 beyond).")
    var maxHeaderBytes = RequestLimits().maxHeaderBytes

    @Option(help: "Most header fields (431 beyond).")
    var maxHeaders = RequestLimits().maxHeaderCount

    @Option(help: "Largest request body in bytes (413 beyond).")
    var maxBody = RequestLimits().maxBodyBytes

    @Option(help: "Requests served on one connection before it is closed (0: no limit).")
    var maxRequestsPerConnection = ServerConfiguration().maxRequestsPerConnection

    @Option(help: "Pipelined requests served from one connection per turn.")
    var maxPipelined = ServerConfiguration().maxPipelinedRequests

    func validate() throws {
        guard maxRequestLine >= 16 else { throw ValidationError("--max-request-line must be at least 16") }
        guard maxHeaderBytes >= 2 else { throw ValidationError("--max-header-bytes must be at least 2") }
        guard maxHeaders >= 1 else { throw ValidationError("--max-headers must be at least 1") }
        guard maxBody >= 0 else { throw ValidationError("--max-body must not be negative") }
        guard maxRequestsPerConnection >= 0 else { throw ValidationError("--max-requests-per-connection must not be negative") }
        guard maxPipelined >= 1 else { throw ValidationError("--max-pipelined must be at least 1") }
        guard maxRequestLine + maxHeaderBytes < 1 << 30 else { throw ValidationError("request head limits too large") }
    }

    var requestLimits: RequestLimits {
        RequestLimits(
            maxRequestLineBytes: maxRequestLine, maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaders,
            maxBodyBytes: maxBody)
    }
}

/// Admission control: how many connections, how fast, how many requests per client.
struct AdmissionOptions: ParsableArguments {
    @Option(help: "Most open connections for the process (past it, new clients wait in the listen backlog).")
    var maxConnections: Int?

    @Option(help: "Listen backlog per listener (the kernel caps it at net.core.somaxconn).")
    var backlog = ServerConfiguration().backlog

    @Option(help: "New connections accepted per second, as RATE or RATE:BURST (past it, accepting pauses).")
    var connectionRate: String?

    @Option(help: "Requests per second from one client address, as RATE or RATE:BURST (past it, 429 with Retry-After).")
    var clientRequestRate: String?

    func validate() throws {
        var config = ServerConfiguration()
        try apply(to: &config)
    }

    func apply(to config: inout ServerConfiguration) throws {
        guard (1...Int(Int32.max)).contains(backlog) else { throw ValidationError("--backlog must be positive") }
        config.backlog = backlog
        if let maxConnections {
            guard maxConnections >= 1 else { throw ValidationError("--max-connections must be positive") }
            config.maxConnections = maxConnections
        }
        if let connectionRate { config.connectionRate = try Self.rate(connectionRate, "--connection-rate") }
        if let clientRequestRate { config.requestRatePerClient = try Self.rate(clientRequestRate, "--client-request-rate") }
    }

    /// "RATE" (a burst of one second's worth) or "RATE:BURST".
    static func rate(_ text: String, _ option: String) throws -> RateLimit {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let perSecond = Double(parts[0]), perSecond > 0, perSecond.isFinite, perSecond <= 1e9 else {
            throw ValidationError("\(option) must be RATE or RATE:BURST with a positive RATE per second, not '\(text)'")
        }
        var burst = max(1, Int(perSecond.rounded(.up)))
        if parts.count == 2 {
            guard let b = Int(parts[1]), b >= 1 else { throw ValidationError("\(option): BURST must be a positive integer, not '\(parts[1])'") }
            burst = b
        }
        return RateLimit(perSecond: perSecond, burst: burst)
    }
}

/// Timeouts shared by commands that serve, as durations people write (10s, 500ms, 2m).
struct TimeoutOptions: ParsableArguments {
    @Option(help: "Time to receive a whole request head (408 after).")
    var headerTimeout = "10s"

    @Option(help: "Longest wait for more of a request body (408 after).")
    var bodyTimeout = "30s"

    @Option(help: "How long an idle keep-alive connection is kept.")
    var idleTimeout = "60s"

    @Option(help: "How long a client may leave output unread before it is dropped.")
    var writeTimeout = "30s"

    @Option(help: "How long an async handler may take before it is cancelled and answered 503 ('none': no limit).")
    var handlerDeadline = "60s"

    @Option(help: "Log a warning naming the route when a reactor is blocked this long ('none': off).")
    var blockedReactorWarning = "100ms"

    @Option(help: "On SIGTERM/SIGINT, how long to let requests under way finish before closing the rest.")
    var shutdownGrace = "30s"

    @Option(help: "Slowest average a request body may arrive at, in bytes/s, after the grace period (408 below; 0: no minimum).")
    var minBodyRate = 240

    @Option(help: "Slowest average a client may read pending output at, in bytes/s, after the grace period (closed below; 0: no minimum).")
    var minResponseRate = 240

    @Option(help: "Grace period before the minimum rates apply, from the start of a body or of a write the client does not take.")
    var minRateGrace = "5s"

    func validate() throws {
        var config = ServerConfiguration()
        try apply(to: &config)
    }

    func apply(to config: inout ServerConfiguration) throws {
        config.headerTimeout = try positive(headerTimeout, "--header-timeout")
        config.bodyTimeout = try positive(bodyTimeout, "--body-timeout")
        config.idleTimeout = try positive(idleTimeout, "--idle-timeout")
        config.writeTimeout = try positive(writeTimeout, "--write-timeout")
        config.handlerDeadline = try positiveOrNone(handlerDeadline, "--handler-deadline")
        config.blockedReactorWarning = try positiveOrNone(blockedReactorWarning, "--blocked-reactor-warning")
        if let warning = config.blockedReactorWarning, warning < .milliseconds(2) {
            throw ValidationError("--blocked-reactor-warning must be at least 2ms")
        }
        config.shutdownGracePeriod = try DurationText.parse(shutdownGrace, option: "--shutdown-grace")
        guard minBodyRate >= 0 else { throw ValidationError("--min-body-rate must not be negative") }
        guard minResponseRate >= 0 else { throw ValidationError("--min-response-rate must not be negative") }
        let grace = try DurationText.parse(minRateGrace, option: "--min-rate-grace")
        config.minimumBodyRate = minBodyRate == 0 ? nil : MinimumDataRate(bytesPerSecond: minBodyRate, grace: grace)
        config.minimumResponseRate = minResponseRate == 0 ? nil : MinimumDataRate(bytesPerSecond: minResponseRate, grace: grace)
    }

    /// A positive duration, or nil for "none".
    func positiveOrNone(_ text: String, _ option: String) throws -> Duration? {
        text == "none" ? nil : try positive(text, option)
    }

    func positive(_ text: String, _ option: String) throws -> Duration {
        let d = try DurationText.parse(text, option: option)
        guard d > .zero else { throw ValidationError("\(option) must be positive") }
        return d
    }
}

/// A message and exit code for failures that are not usage errors.
enum CleanExit {
    static func message(_ text: String, code: Int32) -> ExitCode {
        Console.error(text)
        return ExitCode(code)
    }
}
