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
        guard let fds = running.withLock({ $0?.listeners.map(\.fd) }), !fds.isEmpty else {
            return .failed("the server is not listening")
        }
        configuration.logger.info("reload: starting the new process", metadata: ["path": "\(Processes.executablePath ?? "?")"])
        switch ControlChannel.startTakingOver(fds, environment: [], timeout: configuration.reloadTimeout) {
        case .serving(let pid): return .handedOver(pid: pid)
        case .failed(let why): return .failed("the new process: \(why)")
        }
    }
}
