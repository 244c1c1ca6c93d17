import ArgumentParser

/// The `gust` command: subcommands are thin wrappers over the libraries.
struct Gust: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gust",
        abstract: "A high-concurrency HTTP/1.1 toolkit: server engine and tools.",
        subcommands: [Serve.self, Bench.self, Reload.self],
        defaultSubcommand: nil)
}

Gust.main()
