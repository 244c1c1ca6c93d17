import ArgumentParser
import Gust
import GustDemo
import GustHTTP1
import GustIO

/// `gust serve`: runs the demo app until SIGINT or SIGTERM.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the demo app (/plaintext, /json, /echo, /delay) until interrupted.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one and prints it).")
    var port = 8080

    @Option(help: "Reactor threads (default: one per available CPU).")
    var reactors: Int?

    @OptionGroup(title: "Limits")
    var limits: LimitOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let reactors, !(1...1024).contains(reactors) { throw ValidationError("--reactors must be 1...1024") }
    }

    func run() throws {
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        if let reactors { config.reactors = reactors }
        config.limits = limits.requestLimits
        let server = Server(configuration: config, router: DemoApp.makeRouter())
        do {
            try server.run { server in
                Console.out("gust: serving http://\(displayHost):\(server.port ?? port) with \(config.reactors) reactor(s)")
            }
        } catch {
            throw CleanExit.message("gust: cannot serve on \(displayHost):\(port): \(error)", code: 1)
        }
        Console.out("gust: stopped")
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

    func validate() throws {
        guard maxRequestLine >= 16 else { throw ValidationError("--max-request-line must be at least 16") }
        guard maxHeaderBytes >= 2 else { throw ValidationError("--max-header-bytes must be at least 2") }
        guard maxHeaders >= 1 else { throw ValidationError("--max-headers must be at least 1") }
        guard maxBody >= 0 else { throw ValidationError("--max-body must not be negative") }
        guard maxRequestLine + maxHeaderBytes < 1 << 30 else { throw ValidationError("request head limits too large") }
    }

    var requestLimits: RequestLimits {
        RequestLimits(
            maxRequestLineBytes: maxRequestLine, maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaders,
            maxBodyBytes: maxBody)
    }
}

/// A message and exit code for failures that are not usage errors.
enum CleanExit {
    static func message(_ text: String, code: Int32) -> ExitCode {
        Console.error(text)
        return ExitCode(code)
    }
}
