#if canImport(Glibc)
import Glibc
#endif
@_spi(GustInternal) import GustCore

/// One end of the Unix socket between a Gust process and a process it starts to take over
/// its listeners: a reloading server and its successor, a supervisor and a worker. The parent
/// sends `LISTENERS n` with the n listening sockets attached (SCM_RIGHTS: the child gets the
/// same sockets, with the connections waiting in their queues); the child answers `READY pid`
/// once its reactors watch them, or `FAILED reason`. The child finds its end as descriptor 3,
/// named by `GUST_CONTROL_FD`.
///
/// Threading: one thread at a time per end; every call blocks (with a timeout).
@_spi(GustInternal) public struct ControlChannel: Sendable {
    public let fd: Int32
    public static let variable = "GUST_CONTROL_FD"
    /// Names the worker number of a process a prefork supervisor started.
    public static let workerVariable = "GUST_WORKER"

    public init(fd: Int32) { self.fd = fd }

    /// A connected pair: the parent's end, and the descriptor to hand the child as its 3.
    public static func pair() throws(SystemError) -> (parent: ControlChannel, child: Int32) {
        let (a, b) = try System.socketPair()
        return (ControlChannel(fd: a), b)
    }

    /// The end this process was started with, if any (the variable is removed, so that
    /// processes this one starts do not see it).
    public static func inherited() -> ControlChannel? {
        guard let text = Processes.environment(variable), let fd = Int32(text), fd >= 0 else { return nil }
        Processes.unsetEnvironment(variable)
        System.setCloseOnExec(fd)
        return ControlChannel(fd: fd)
    }

    /// What the child said.
    public enum Status: Sendable, Equatable {
        case ready(pid: Int32)
        case failed(String)
        /// The other end closed (the child exited) without a word.
        case closed
        /// Nothing within the time given.
        case timedOut
    }

    // MARK: Parent

    public func sendListeners(_ fds: [Int32]) throws(SystemError) {
        try System.send(fd, Array("LISTENERS \(fds.count)\n".utf8), descriptors: fds)
    }

    /// Waits up to `timeout` for the child's word. `stillWaiting` is asked between short waits
    /// (false: give up now, as `.closed`), e.g. to notice the child has exited.
    public func awaitStatus(timeout: Duration, stillWaiting: () -> Bool = { true }) -> Status {
        let deadline = ContinuousClock.now + timeout
        try? System.setReceiveTimeout(fd, .milliseconds(100))
        while ContinuousClock.now < deadline {
            do {
                let (bytes, extra) = try System.receive(fd, capacity: 1024, maxDescriptors: 4)
                for d in extra { System.close(d) }
                if bytes.isEmpty { return .closed }
                let line = String(decoding: bytes, as: UTF8.self).trimmingSuffix("\n")
                if line.hasPrefix("READY "), let pid = Int32(line.dropFirst(6)) { return .ready(pid: pid) }
                if line.hasPrefix("FAILED ") { return .failed(String(line.dropFirst(7))) }
                return .failed("unexpected message \(line.debugDescription)")
            } catch {
                guard error.errno == EAGAIN || error.errno == EWOULDBLOCK else { return .closed }
                if !stillWaiting() { return .closed }
            }
        }
        return .timedOut
    }

    // MARK: Child

    /// Waits up to `timeout` for the listeners the parent hands over.
    public func receiveListeners(timeout: Duration) throws(SystemError) -> [Int32] {
        try System.setReceiveTimeout(fd, timeout)
        let (bytes, fds) = try System.receive(fd, capacity: 256, maxDescriptors: 250)
        let line = String(decoding: bytes, as: UTF8.self)
        guard line.hasPrefix("LISTENERS "), Int(line.dropFirst(10).trimmingSuffix("\n")) == fds.count, !fds.isEmpty else {
            for d in fds { System.close(d) }
            throw SystemError(call: "receive listeners", errno: EPROTO, message: "the parent sent \(line.debugDescription) with \(fds.count) descriptor(s)")
        }
        return fds
    }

    public func sendReady() {
        try? System.send(fd, Array("READY \(Processes.pid)\n".utf8), descriptors: [])
    }

    public func sendFailed(_ reason: String) {
        let oneLine = reason.replacingNewlines()
        try? System.send(fd, Array("FAILED \(oneLine)\n".utf8), descriptors: [])
    }

    public func close() { System.close(fd) }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }

    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

extension Substring {
    func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : self
    }
}

/// A process started to take over listening sockets, or why it did not.
@_spi(GustInternal) public enum TakeOver: Sendable, Equatable {
    /// It serves (its PID).
    case serving(pid: Int32)
    /// It did not come up: in words, with how it ended (it is not left running).
    case failed(String)
}

extension ControlChannel {
    /// Starts the executable this process was started from (the file at that path now) with
    /// this process's arguments and environment (less the variables that hand things over:
    /// `GUST_CONTROL_FD`, `GUST_WORKER`, systemd's `LISTEN_*`; plus `environment`, and the
    /// control channel as descriptor 3), hands it `listeners`, and
    /// waits up to `timeout` for its `READY`. One that exits, fails or stays silent is killed
    /// and reaped. The one way a reload and a prefork supervisor start a process. Blocks.
    public static func startTakingOver(_ listeners: [Int32], environment: [String], timeout: Duration) -> TakeOver {
        guard let path = Processes.executablePath else { return .failed("cannot read /proc/self/exe") }
        let channel: ControlChannel
        let childEnd: Int32
        do {
            (channel, childEnd) = try ControlChannel.pair()
        } catch {
            return .failed("\(error)")
        }
        defer { channel.close() }
        let handOvers: Set<Substring> = [Substring(variable), Substring(workerVariable), "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]
        var inherited = Processes.currentEnvironment().filter { !handOvers.contains($0.prefix { $0 != "=" }) }
        inherited += environment + ["\(variable)=3"]
        let pid: Int32
        do {
            pid = try Processes.spawn(path: path, arguments: CommandLine.arguments, environment: inherited, control: childEnd)
        } catch {
            System.close(childEnd)
            return .failed("cannot start \(path): \(error)")
        }
        System.close(childEnd)
        var exit: ChildExit?
        var status = Status.closed
        do {
            try channel.sendListeners(listeners)
            status = channel.awaitStatus(timeout: timeout) {
                exit = Processes.reap(pid)
                return exit == nil
            }
        } catch {
            status = .failed("cannot hand over the listeners: \(error)")
        }
        if case .ready(let ready) = status, ready == pid { return .serving(pid: pid) }
        if exit == nil {
            Processes.kill(pid, Signals.kill)
            exit = Processes.reap(pid, block: true)
        }
        let ended = exit.map { "\($0)" } ?? "closed its channel"
        switch status {
        case .failed(let why): return .failed("PID \(pid) failed: \(why); it \(ended)")
        case .timedOut: return .failed("PID \(pid) did not say it was serving within \(timeout); it \(ended)")
        case .closed, .ready: return .failed("PID \(pid) \(ended) before serving")
        }
    }
}
