#if canImport(Glibc)
import Glibc
#endif
import CGustSystem
@_spi(GustInternal) import GustCore

/// A failed system call: which call, and errno as it was the moment the call returned.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    public let call: String
    public let errno: Int32
    /// The failing library's own explanation when it is not an errno (the resolver's
    /// `gai_strerror`, for instance); nil for plain system calls.
    public let message: String?

    public init(call: String, errno: Int32, message: String? = nil) {
        self.call = call
        self.errno = errno
        self.message = message
    }

    public var description: String {
        if let message { return "\(call): \(message)" }
        return "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }

    /// A blocking connect ran out of time (SO_SNDTIMEO), or a non-blocking one is under way.
    public var isInProgress: Bool { errno == EINPROGRESS }

    /// The peer went away: reset, broken pipe, or timed out at the TCP level.
    public var isDisconnect: Bool {
        errno == ECONNRESET || errno == EPIPE || errno == ETIMEDOUT || errno == ENOTCONN
    }

    /// The process or the system ran out of something an accept needs: descriptors (EMFILE,
    /// ENFILE) or memory (ENOBUFS, ENOMEM). Waiting helps; retrying at once does not.
    public var isResourceExhaustion: Bool {
        errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
    }

    /// No such file or directory, or a path through something that is not a directory, or a
    /// name too long, or a symbolic-link loop: the thing named is not there to be had.
    public var isNotFound: Bool {
        errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP
    }

    /// Permission denied (EACCES, EPERM).
    public var isPermissionDenied: Bool { errno == EACCES || errno == EPERM }

    /// A path that tried to leave the directory it was resolved beneath (openat2's EXDEV with
    /// RESOLVE_BENEATH).
    public var isEscapeAttempt: Bool { errno == EXDEV }
}

/// The outcome of a non-blocking call: it did something, or it would have had to wait.
@_spi(GustInternal) public enum IOResult<Value: Sendable>: Sendable, Equatable where Value: Equatable {
    case processed(Value)
    case wouldBlock
}

/// The one syscall wrapper (after SwiftNIO's `System.swift`): every call here retries on EINTR,
/// turns EAGAIN into `.wouldBlock`, captures errno at once and throws it as a typed
/// `SystemError` (typed throws: no allocation on the error path). Nothing outside GustIO
/// makes system calls or reads errno.
///
/// Threading: stateless; callable from any thread. Cost: the syscall itself.
@_spi(GustInternal) public enum System {
    @inline(__always)
    static func call<T: FixedWidthInteger>(_ name: StaticString, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let r = body()
            if r != -1 { return r }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw SystemError(call: name.description, errno: e)
        }
    }

    @inline(__always)
    static func nonBlocking<T: FixedWidthInteger>(_ name: StaticString, _ body: () -> T) throws(SystemError) -> IOResult<T> {
        while true {
            let r = body()
            if r != -1 { return .processed(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(call: name.description, errno: e)
        }
    }

    // MARK: Byte streams

    /// `read(2)`; `.processed(0)` is end of stream.
    @inlinable
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) throws(SystemError) -> IOResult<Int> {
        try nonBlockingInlinable("read") { Glibc.read(fd, buffer, count) }
    }

    /// `send(2)` with MSG_NOSIGNAL on a socket; may write fewer bytes than asked. A peer that
    /// went away yields EPIPE as an error, never SIGPIPE, whatever the process's signal setup.
    @inlinable
    public static func write(_ fd: Int32, from buffer: UnsafeRawPointer, count: Int) throws(SystemError) -> IOResult<Int> {
        try nonBlockingInlinable("send") { Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL)) }
    }

    /// `send(2)` with MSG_NOSIGNAL | MSG_MORE: the kernel may hold the bytes briefly to send
    /// them with what follows at once (a response head before its `sendfile` body).
    public static func writeMore(_ fd: Int32, from buffer: UnsafeRawPointer, count: Int) throws(SystemError) -> IOResult<Int> {
        try nonBlockingInlinable("send") { cgust_send_more(fd, buffer, count) }
    }

    /// `sendfile(2)`: up to `count` bytes of file `file` from `offset` (advanced) to socket `fd`.
    public static func sendFile(_ fd: Int32, from file: Int32, offset: inout Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        try nonBlockingInlinable("sendfile") { cgust_sendfile(fd, file, &offset, count) }
    }

    @usableFromInline @inline(__always)
    static func nonBlockingInlinable(_ name: StaticString, _ body: () -> Int) throws(SystemError) -> IOResult<Int> {
        while true {
            let r = body()
            if r >= 0 { return .processed(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(call: name.description, errno: e)
        }
    }

    /// `close(2)`. EINTR is not retried (Linux releases the descriptor regardless).
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// `shutdown(fd, SHUT_WR)`: sends FIN, keeps the read side open.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    // MARK: Sockets

    public static func socket(domain: Int32) throws(SystemError) -> Int32 {
        try call("socket") { cgust_tcp_socket(domain) }
    }

    /// A connected pair of Unix stream sockets (close-on-exec): an in-process connection, no
    /// network involved. Returns (a, b); both blocking.
    public static func socketPair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try call("socketpair") { Glibc.socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (fds[0], fds[1])
    }

    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var v = value
        _ = try call("setsockopt") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    public static func bind(_ fd: Int32, address: UnsafeRawPointer, length: Int) throws(SystemError) {
        _ = try call("bind") { Glibc.bind(fd, address.assumingMemoryBound(to: sockaddr.self), socklen_t(length)) }
    }

    public static func listen(_ fd: Int32, backlog: Int32) throws(SystemError) {
        _ = try call("listen") { Glibc.listen(fd, backlog) }
    }

    /// `connect(2)`. Returns true when connected, false when a non-blocking socket is still
    /// connecting (EINPROGRESS: wait for writability, then read the outcome with `socketError`).
    public static func connect(_ fd: Int32, address: UnsafeRawPointer, length: Int) throws(SystemError) -> Bool {
        let r = Glibc.connect(fd, address.assumingMemoryBound(to: sockaddr.self), socklen_t(length))
        if r == 0 { return true }
        let e = Glibc.errno
        if e == EINPROGRESS || e == EINTR { return false }  // after EINTR the connect goes on
        throw SystemError(call: "connect", errno: e)
    }

    /// The pending error of a socket (SO_ERROR), e.g. how a non-blocking connect ended; 0 if none.
    public static func socketError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 ? value : Glibc.errno
    }

    /// SO_SNDTIMEO: a blocking send, or a blocking connect, gives up after `timeout`
    /// (a connect then fails with EINPROGRESS).
    public static func setSendTimeout(_ fd: Int32, _ timeout: Duration) throws(SystemError) {
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        _ = try call("setsockopt(SO_SNDTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) }
    }

    /// The whole content of a file, or nil if it cannot be read (tools only; blocking).
    public static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && Glibc.errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    // MARK: Files

    /// What `fstat` says of an open file.
    public struct FileStatus: Sendable, Equatable {
        public var size: Int64
        /// Last modification, seconds since the epoch.
        public var modified: Int64
        public var isRegularFile: Bool
        public var isDirectory: Bool
    }

    /// Opens a directory to serve files beneath (blocking; at start-up).
    public static func openDirectory(_ path: String) throws(SystemError) -> Int32 {
        try call("open") { cgust_open_directory(path) }
    }

    /// Opens `path` (relative) read-only beneath directory `directory`, never outside it:
    /// "..", absolute paths and symbolic links that lead out fail (EXDEV).
    public static func openBeneath(_ directory: Int32, _ path: UnsafePointer<CChar>) throws(SystemError) -> Int32 {
        try call("openat2") { cgust_open_beneath(directory, path) }
    }

    public static func fileStatus(_ fd: Int32) throws(SystemError) -> FileStatus {
        var size: Int64 = 0
        var modified: Int64 = 0
        var kind: Int32 = 0
        _ = try call("fstat") { cgust_fstat(fd, &size, &modified, &kind) }
        return FileStatus(size: size, modified: modified, isRegularFile: kind == 1, isDirectory: kind == 2)
    }

    /// Writes `bytes` to a file, replacing it (created with mode 0644). Tools only; blocking.
    public static func writeFile(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let fd = try call("open") { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { _ = Glibc.close(fd) }
        var offset = 0
        while offset < bytes.count {
            let start = offset
            offset += try call("write") { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + start, $0.count - start) } }
        }
    }

    /// Sleeps the calling thread (not for reactor threads).
    public static func sleep(_ duration: Duration) {
        let ns = max(0, duration.nanoseconds)
        var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && Glibc.errno == EINTR { request = remaining }
    }

    /// Clears or sets O_NONBLOCK (tools and tests that want plain blocking sockets).
    public static func setBlocking(_ fd: Int32, _ blocking: Bool) throws(SystemError) {
        let flags = try call("fcntl") { fcntl(fd, F_GETFL) }
        let wanted = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK
        if wanted != flags { _ = try call("fcntl") { fcntl(fd, F_SETFL, wanted) } }
    }

    /// Binds a client socket to a source address (port chosen at connect, IP_BIND_ADDRESS_NO_PORT).
    public static func bindSource(_ fd: Int32, address: SocketAddress) throws(SystemError) {
        _ = try call("setsockopt(IP_BIND_ADDRESS_NO_PORT)") { cgust_set_bind_address_no_port(fd) }
        try address.withSockAddr { (p, n) throws(SystemError) in try bind(fd, address: p, length: n) }
    }

    /// Makes `close` reset the connection (SO_LINGER 0): no TIME_WAIT is left behind.
    public static func setLingerZero(_ fd: Int32) {
        _ = cgust_set_linger_zero(fd)
    }

    /// `accept4(2)` with SOCK_NONBLOCK | SOCK_CLOEXEC.
    public static func accept(_ fd: Int32) throws(SystemError) -> IOResult<Int32> {
        try nonBlocking("accept4") { cgust_accept4(fd) }
    }

    /// `accept4(2)` with SOCK_NONBLOCK | SOCK_CLOEXEC, also giving the peer's `ClientKey`.
    public static func accept(_ fd: Int32, peer: inout ClientKey) throws(SystemError) -> IOResult<Int32> {
        var storage = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutableBytes(of: &storage) { (raw) throws(SystemError) -> IOResult<Int32> in
            try nonBlocking("accept4") { cgust_accept4_peer(fd, raw.baseAddress, &length) }
        }
        if case .processed = result { peer = ClientKey(storage) }
        return result
    }

    /// The port a socket is bound to (IPv4 or IPv6).
    public static func localPort(_ fd: Int32) throws(SystemError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { p throws(SystemError) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
                try call("getsockname") { getsockname(fd, sa, &length) }
            }
        }
        return withUnsafeBytes(of: storage) { raw in
            // sin_port and sin6_port sit at the same offset, in network byte order.
            Int(UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)))
        }
    }

    // MARK: timerfd

    /// A non-blocking monotonic timerfd, for deadlines finer than the reactor's timer wheel.
    public static func timerfdCreate() throws(SystemError) -> Int32 {
        try call("timerfd_create") { cgust_timerfd_create() }
    }

    /// Arms `fd` to fire at `deadline` (absolute, on the monotonic clock); `nil` disarms it.
    public static func timerfdSet(_ fd: Int32, at deadline: Instant?) {
        _ = cgust_timerfd_set_absolute(fd, deadline.map { max($0.nanoseconds, 1) } ?? 0)
    }

    // MARK: epoll and eventfd

    public static func epollCreate() throws(SystemError) -> Int32 {
        try call("epoll_create1") { cgust_epoll_create() }
    }

    public static func epollControl(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws(SystemError) {
        _ = try call("epoll_ctl") { cgust_epoll_ctl(epfd, op, fd, events, data) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever); returns the number of events written.
    public static func epollWait(_ epfd: Int32, events: UnsafeMutableRawPointer, maxEvents: Int32, timeoutMilliseconds: Int32) throws(SystemError) -> Int {
        while true {
            let r = cgust_epoll_wait(epfd, events, maxEvents, timeoutMilliseconds)
            if r >= 0 { return Int(r) }
            let e = Glibc.errno
            if e == EINTR { return 0 }  // let the loop re-check timers
            throw SystemError(call: "epoll_wait", errno: e)
        }
    }

    public static func eventfd() throws(SystemError) -> Int32 {
        try call("eventfd") { cgust_eventfd() }
    }

    /// Adds 1 to an eventfd counter (wakes its reader). A full counter (EAGAIN) is already awake.
    public static func eventfdSignal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Resets an eventfd counter.
    public static func eventfdDrain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }

    // MARK: Clocks

    /// CLOCK_MONOTONIC, through the vDSO (no kernel entry).
    @inlinable public static func monotonicNow() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec))
    }

    /// Seconds since the Unix epoch from CLOCK_REALTIME_COARSE (vDSO, tick resolution).
    @inlinable public static func wallClockSeconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        return Int64(ts.tv_sec)
    }

    /// Gives the heap memory the process has freed back to the kernel (glibc's malloc_trim).
    /// Cost: a walk over the malloc arenas; call it after a burst of frees, not per request.
    public static func releaseFreeMemory() {
        cgust_release_free_memory()
    }

    /// The number of CPUs this process may run on.
    public static func availableCPUs() -> Int {
        let n = Int(cgust_available_cpus())
        if n > 0 { return n }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The soft limit on open file descriptors.
    public static func fileDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur > UInt(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }
}
