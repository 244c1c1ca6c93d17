#if canImport(Glibc)
import Glibc
#endif
import CGustSystem
@_spi(GustInternal) import GustCore

/// How a child process ended.
@_spi(GustInternal) public struct ChildExit: Sendable, Equatable, CustomStringConvertible {
    public let pid: Int32
    /// Its exit status, if it exited.
    public let code: Int32?
    /// The signal that killed it, if one did.
    public let signal: Int32?

    public init(pid: Int32, code: Int32?, signal: Int32?) {
        self.pid = pid
        self.code = code
        self.signal = signal
    }

    public var description: String {
        if let signal { return "killed by signal \(signal) (\(String(cString: strsignal(signal))))" }
        return "exited with status \(code ?? -1)"
    }
}

/// Processes, descriptors passed between them, and signals: what zero-downtime reload and the
/// prefork supervisor are made of. Part of the syscall wrapper (`System`): nothing outside GustIO
/// spawns, waits or signals.
///
/// Threading: callable from any thread; signal waits belong to the thread that blocked them.
@_spi(GustInternal) public enum Processes {
    /// This process's id.
    public static var pid: Int32 { getpid() }

    /// The absolute path of the running executable, read once at start: spawning it later runs
    /// whatever file is at that path then (a new binary installed over the old one).
    public static let executablePath: String? = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(10)) : path
    }()

    /// An environment variable, or nil.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Removes an environment variable (so that processes started later do not inherit it).
    public static func unsetEnvironment(_ name: String) {
        unsetenv(name)
    }

    /// The whole environment as `NAME=value` strings.
    public static func currentEnvironment() -> [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            result.append(String(cString: entry))
            p += 1
        }
        return result
    }

    /// Starts `path` with `arguments` (argv[0] included) and `environment`; `control`, if
    /// given, becomes the child's descriptor 3. The child starts with no signal blocked.
    public static func spawn(path: String, arguments: [String], environment: [String], control: Int32?) throws(SystemError) -> Int32 {
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArguments { free(p) }
            for p in cEnvironment { free(p) }
        }
        // Descriptor 3 must come from elsewhere: dup2(3, 3) would keep its close-on-exec flag.
        var handed: Int32 = -1
        if let control {
            handed = try System.call("fcntl(F_DUPFD_CLOEXEC)") { fcntl(control, F_DUPFD_CLOEXEC, Int32(10)) }
        }
        defer { if handed >= 0 { System.close(handed) } }
        return try System.call("posix_spawn") {
            cArguments.withUnsafeMutableBufferPointer { argv in
                cEnvironment.withUnsafeMutableBufferPointer { envp in
                    cgust_spawn(path, argv.baseAddress, envp.baseAddress, handed)
                }
            }
        }
    }

    /// Reaps `pid` (-1: any child) if it has ended (or waits for it, `block`); nil while it
    /// runs (or when there is no such child).
    public static func reap(_ pid: Int32 = -1, block: Bool = false) -> ChildExit? {
        var code: Int32 = -1
        var signal: Int32 = 0
        let r = cgust_wait_child(pid, block ? 0 : 1, &code, &signal)
        guard r > 0 else { return nil }
        return ChildExit(pid: r, code: signal == 0 ? code : nil, signal: signal == 0 ? nil : signal)
    }

    /// Sends `signal` to `pid`; false if there is no such process (or it is not ours to signal).
    @discardableResult
    public static func kill(_ pid: Int32, _ signal: Int32) -> Bool {
        Glibc.kill(pid, signal) == 0
    }

    /// Whether a process `pid` exists (ours to signal or not).
    public static func exists(_ pid: Int32) -> Bool {
        Glibc.kill(pid, 0) == 0 || errno == EPERM
    }

    /// The command line of process `pid` (from /proc), or nil.
    public static func commandLine(of pid: Int32) -> [String]? {
        guard let bytes = System.readFile("/proc/\(pid)/cmdline"), !bytes.isEmpty else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// The children of process `pid` (from /proc; Linux 3.5+).
    public static func children(of pid: Int32) -> [Int32] {
        guard let bytes = System.readFile("/proc/\(pid)/task/\(pid)/children") else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: " ").compactMap { Int32($0) }
    }

    /// `signal` is sent to this process when its parent dies (a prefork worker whose
    /// supervisor was killed goes too).
    public static func setParentDeathSignal(_ signal: Int32) {
        _ = cgust_set_parent_death_signal(signal)
    }
}

extension System {
    /// Sends `bytes` over a Unix socket with `descriptors` attached (SCM_RIGHTS): the receiver
    /// gets its own descriptors for the same open files (sockets, with their queues).
    public static func send(_ socket: Int32, _ bytes: [UInt8], descriptors: [Int32]) throws(SystemError) {
        let sent = try call("sendmsg") {
            bytes.withUnsafeBytes { b in
                descriptors.withUnsafeBufferPointer { fds in
                    cgust_send_with_fds(socket, b.baseAddress, b.count, fds.baseAddress, Int32(fds.count))
                }
            }
        }
        guard sent == bytes.count else { throw SystemError(call: "sendmsg", errno: EMSGSIZE) }
    }

    /// Receives one message (up to `capacity` bytes) and the descriptors attached to it (up to
    /// `maxDescriptors`, close-on-exec). Empty bytes: the other end closed.
    public static func receive(_ socket: Int32, capacity: Int = 4096, maxDescriptors: Int = 250) throws(SystemError) -> (bytes: [UInt8], descriptors: [Int32]) {
        var bytes = [UInt8](repeating: 0, count: capacity)
        var fds = [Int32](repeating: -1, count: maxDescriptors)
        var count: Int32 = 0
        let n = try call("recvmsg") {
            bytes.withUnsafeMutableBytes { b in
                fds.withUnsafeMutableBufferPointer { f in
                    cgust_receive_with_fds(socket, b.baseAddress, b.count, f.baseAddress, Int32(f.count), &count)
                }
            }
        }
        return (Array(bytes[0..<n]), Array(fds[0..<Int(count)]))
    }

    /// SO_RCVTIMEO: a blocking receive gives up after `timeout` (EAGAIN).
    public static func setReceiveTimeout(_ fd: Int32, _ timeout: Duration) throws(SystemError) {
        let ns = max(timeout.nanoseconds, 1_000)
        var tv = timeval(tv_sec: Int(ns / 1_000_000_000), tv_usec: Int(ns % 1_000_000_000 / 1000))
        _ = try call("setsockopt(SO_RCVTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) }
    }

    /// Whether `fd` is a listening socket (SO_ACCEPTCONN).
    public static func isListeningSocket(_ fd: Int32) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 && value != 0
    }

    /// Makes `fd` close-on-exec (descriptors inherited from a parent are not, by design).
    public static func setCloseOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}

extension Signals {
    /// Blocks `signals` in the calling thread (and the threads it creates afterwards), so that
    /// only `wait(for:)` or a signalfd sees them.
    public static func block(_ signals: [Int32]) {
        _ = cgust_block_signals(mask(signals))
    }

    /// Waits for one of `signals` (blocked beforehand) up to `timeout` (nil: for ever); its
    /// number, or nil when the time ran out.
    public static func wait(for signals: [Int32], timeout: Duration?) -> Int32? {
        let ms = timeout.map { Int32(clamping: max(0, $0.nanoseconds / 1_000_000)) } ?? -1
        let sig = cgust_wait_for_signals(mask(signals), ms)
        return sig > 0 ? sig : nil
    }

    /// A non-blocking signalfd for `signals` (blocked beforehand).
    public static func descriptor(for signals: [Int32]) throws(SystemError) -> Int32 {
        try System.call("signalfd") { cgust_signalfd(mask(signals)) }
    }

    /// The next signal pending on a signalfd, or nil.
    public static func next(from fd: Int32) -> Int32? {
        let sig = cgust_read_signalfd(fd)
        return sig > 0 ? sig : nil
    }

    static func mask(_ signals: [Int32]) -> UInt64 {
        signals.reduce(0) { $0 | (1 << UInt64($1)) }
    }
}

extension Signals {
    public static let interrupt = SIGINT
    public static let terminate = SIGTERM
    public static let hangUp = SIGHUP
    /// SIGUSR2: zero-downtime reload.
    public static let reload = SIGUSR2
    public static let childExited = SIGCHLD
    public static let kill = SIGKILL
    /// SIGINT, SIGTERM and SIGHUP: the signals that stop a server.
    public static let termination = [SIGINT, SIGTERM, SIGHUP]
}
