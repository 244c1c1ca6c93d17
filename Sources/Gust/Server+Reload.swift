@_spi(GustInternal) import GustIO

/// How a reload went.
public enum ReloadOutcome: Sendable, Equatable, CustomStringConvertible {
    /// The new process (its PID) serves on every listener; this one drains.
    case handedOver(pid: Int32)
    /// The new process did not come up; this one keeps serving. Why, in words.
    case failed(String)

    public var description: String {
        switch self {
        case .handedOver(let pid): "PID \(pid) is serving"
        case .failed(let why): "reload failed: \(why)"
        }
    }
}

extension Server {
    /// Zero-downtime reload, the old process's half: starts the current binary again (the file
    /// at the path this process was started from: a new build installed there is what runs),
    /// with the same arguments, hands it every listening socket over a Unix socket
    /// (`ControlChannel`, SCM_RIGHTS: the same sockets, so connections waiting in their accept
    /// queues are not lost), and waits up to `reloadTimeout` for it to say it is serving. On
    /// success the caller drains this process (`stopGracefully`); the two accept side by side
    /// until then. On failure (it exited, said why, or stayed silent: it is killed) nothing
    /// changes here. Blocks the calling thread; callable from any thread but a reactor's.
    public func handOver() -> ReloadOutcome {
        guard let path = Processes.executablePath else { return .failed("cannot read /proc/self/exe") }
        guard let fds = running.withLock({ $0?.listeners.map(\.fd) }), !fds.isEmpty else {
            return .failed("the server is not listening")
        }
        let channel: ControlChannel
        let childEnd: Int32
        do {
            (channel, childEnd) = try ControlChannel.pair()
        } catch {
            return .failed("\(error)")
        }
        defer { channel.close() }
        let hidden: Set<String> = [ControlChannel.variable, "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]
        var environment = Processes.currentEnvironment().filter { entry in
            !hidden.contains(String(entry.prefix { $0 != "=" }))
        }
        environment.append("\(ControlChannel.variable)=3")
        let pid: Int32
        do {
            pid = try Processes.spawn(path: path, arguments: CommandLine.arguments, environment: environment, control: childEnd)
        } catch {
            System.close(childEnd)
            return .failed("cannot start \(path): \(error)")
        }
        System.close(childEnd)
        configuration.logger.info("reload: started the new process", metadata: ["pid": "\(pid)", "path": "\(path)"])
        var exit: ChildExit?
        let status: ControlChannel.Status
        do {
            try channel.sendListeners(fds)
            status = channel.awaitStatus(timeout: configuration.reloadTimeout) {
                exit = Processes.reap(pid)
                return exit == nil
            }
        } catch {
            status = .failed("cannot hand over the listeners: \(error)")
        }
        if case .ready(let readyPID) = status, readyPID == pid { return .handedOver(pid: pid) }
        // It did not come up: make sure it is gone, and say why.
        if exit == nil {
            Processes.kill(pid, Signals.kill)
            exit = Processes.reap(pid, block: true)
        }
        let how = exit.map { ", then \($0)" } ?? ""
        switch status {
        case .failed(let why): return .failed("the new process (PID \(pid)) failed: \(why)\(how)")
        case .timedOut: return .failed("the new process (PID \(pid)) did not say it was serving within \(configuration.reloadTimeout)\(how)")
        case .closed, .ready: return .failed("the new process (PID \(pid)) \(exit?.description ?? "closed its channel") before serving")
        }
    }
}
