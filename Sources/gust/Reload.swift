import ArgumentParser
@_spi(GustInternal) import GustIO

/// `gust reload --pid-file F`: zero-downtime reload of a running `gust serve`.
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload a running 'gust serve' without dropping a connection (it must have been started with --pid-file).",
        discussion: """
            Sends SIGUSR2 to the PID in the pid file and waits for the result. A single server starts a \
            new process of its binary (the file at the path it was started from), hands it every \
            listening socket, and drains once the new one serves: done when the pid file names the new \
            PID. A prefork supervisor (--processes) replaces its workers one at a time: done when every \
            worker is new. Exit status 0 when the reload completed, 1 when it could not be asked for \
            (no pid file, a stale one, not a gust server) or did not complete in time (the old \
            process keeps serving: its log says why).
            """)

    @Option(help: "The pid file 'gust serve --pid-file' writes.")
    var pidFile: String

    @Option(help: "How long to wait for the reload to complete.")
    var timeout = "60s"

    func run() throws {
        let limit = try DurationText.parse(timeout, option: "--timeout")
        guard let pid = PidFile.read(pidFile) else {
            throw CleanExit.message("gust reload: no PID in \(pidFile) (is the server running with --pid-file?)", code: 1)
        }
        guard Processes.exists(pid) else {
            throw CleanExit.message("gust reload: stale pid file \(pidFile): no process \(pid) (remove the file, start the server)", code: 1)
        }
        guard let command = Processes.commandLine(of: pid), command.contains("serve") else {
            throw CleanExit.message("gust reload: PID \(pid) from \(pidFile) is not a gust server; not signalling it", code: 1)
        }
        let supervisor = command.contains { $0 == "--processes" || $0.hasPrefix("--processes=") }
            && !Processes.children(of: pid).isEmpty
        let workersBefore = Set(Processes.children(of: pid))
        guard Processes.kill(pid, Signals.reload) else {
            throw CleanExit.message("gust reload: cannot signal PID \(pid)", code: 1)
        }
        let start = ContinuousClock.now
        var sawSuccessor = false
        while ContinuousClock.now - start < limit {
            System.sleep(.milliseconds(50))
            if supervisor {
                let now = Set(Processes.children(of: pid))
                if !now.isEmpty && now.count >= workersBefore.count && now.isDisjoint(with: workersBefore) {
                    Console.out("gust reload: PID \(pid) replaced its workers: \(workersBefore.sorted()) -> \(now.sorted())")
                    return
                }
                continue
            }
            if let current = PidFile.read(pidFile), current != pid, Processes.exists(current) {
                Console.out("gust reload: PID \(current) is serving (was \(pid), which is finishing what was under way)")
                return
            }
            // The new process shows up as the old one's child; gone again without taking over: failed.
            let children = Processes.children(of: pid)
            if !children.isEmpty { sawSuccessor = true }
            if sawSuccessor && children.isEmpty && PidFile.read(pidFile) == pid {
                System.sleep(.milliseconds(100))  // the pid file may be on its way
                if PidFile.read(pidFile) == pid {
                    throw CleanExit.message("gust reload: the new process exited without taking over; PID \(pid) keeps serving (its log says why)", code: 1)
                }
            }
            if !Processes.exists(pid) && PidFile.read(pidFile) == pid {
                throw CleanExit.message("gust reload: PID \(pid) exited and no new process took over", code: 1)
            }
        }
        throw CleanExit.message("gust reload: not complete after \(timeout); PID \(pid) keeps serving (its log says why)", code: 1)
    }
}
