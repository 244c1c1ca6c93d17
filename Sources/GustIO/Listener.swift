#if canImport(Glibc)
import Glibc
#endif
import CGustSystem

/// A listening TCP socket (non-blocking, close-on-exec, SO_REUSEADDR, optionally SO_REUSEPORT).
///
/// Each reactor binds its own listener to the same address with SO_REUSEPORT and the kernel
/// spreads incoming connections across them. Owned by whoever made it; `close()` releases it.
@_spi(GustInternal) public struct Listener: Sendable {
    public let fd: Int32
    /// The address it was bound to; nil for one inherited from another process.
    public let address: SocketAddress?
    /// The bound port (differs from `address.port` when that was 0).
    public let port: Int

    /// Binds and listens. `backlog` is capped by the kernel at `net.core.somaxconn`.
    public static func bind(_ address: SocketAddress, backlog: Int32 = 4096, reusePort: Bool = true, listen: Bool = true) throws(SystemError) -> Listener {
        let fd = try System.socket(domain: address.family)
        do {
            try System.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if reusePort { try System.setOption(fd, level: SOL_SOCKET, name: CGUST_SO_REUSEPORT, value: 1) }
            try address.withSockAddr { (p, n) throws(SystemError) in try System.bind(fd, address: p, length: n) }
            if listen { try System.listen(fd, backlog: backlog) }
            return Listener(fd: fd, address: address, port: try System.localPort(fd))
        } catch {
            System.close(fd)
            throw error
        }
    }

    /// Binds `count` listeners to one address with SO_REUSEPORT, for `count` reactors.
    ///
    /// First it checks that nobody listens there already: SO_REUSEPORT would otherwise let a
    /// second server of the same user join the port silently and take part of its traffic. With
    /// port 0, the first listener picks a free port and the others join it.
    public static func bindGroup(_ address: SocketAddress, count: Int, backlog: Int32 = 4096) throws(SystemError) -> [Listener] {
        precondition(count > 0)
        if address.port != 0 {
            // A plain socket (SO_REUSEADDR only, so TIME_WAIT does not count) fails to bind
            // with EADDRINUSE if anything listens on the address.
            let probe = try Listener.bind(address, backlog: 1, reusePort: false, listen: false)
            probe.close()
        }
        var listeners: [Listener] = []
        var target = address
        do {
            for _ in 0..<count {
                let listener = try Listener.bind(target, backlog: backlog)
                listeners.append(listener)
                if target.port == 0 { target = try SocketAddress(host: address.host, port: listener.port) }
            }
        } catch {
            for listener in listeners { listener.close() }
            throw error
        }
        return listeners
    }

    /// A listening socket handed over by another process (a reloading server, a supervisor,
    /// systemd): made non-blocking and close-on-exec; nil if `fd` is not a listening socket.
    public static func inherit(_ fd: Int32) -> Listener? {
        guard System.isListeningSocket(fd), (try? System.setBlocking(fd, false)) != nil else { return nil }
        System.setCloseOnExec(fd)
        guard let port = try? System.localPort(fd) else { return nil }
        return Listener(fd: fd, address: nil, port: port)
    }

    /// The listening sockets systemd passed by socket activation (`LISTEN_FDS` descriptors from
    /// 3, for this process: `LISTEN_PID`), or nil when there are none. The variables are
    /// removed, so that processes started later do not take them for theirs.
    public static func socketActivated() -> [Listener]? {
        guard let count = Processes.environment("LISTEN_FDS").flatMap({ Int($0) }), count > 0, count <= 1024,
            let pid = Processes.environment("LISTEN_PID").flatMap({ Int32($0) }), pid == Processes.pid
        else { return nil }
        for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] { Processes.unsetEnvironment(name) }
        let listeners = (0..<count).compactMap { Listener.inherit(Int32(3 + $0)) }
        return listeners.isEmpty ? nil : listeners
    }

    /// Which of `count` listeners reactor `reactor` of `reactors` accepts from: its own when
    /// there are as many; every `reactors`-th when there are more (all are served); one shared
    /// with other reactors when there are fewer.
    public static func share(of count: Int, forReactor reactor: Int, of reactors: Int) -> [Int] {
        guard count > 0 else { return [] }
        if count >= reactors { return Array(stride(from: reactor, to: count, by: reactors)) }
        return [reactor % count]
    }

    /// Accepts one pending connection: its descriptor (non-blocking, close-on-exec), or
    /// `.wouldBlock` when none is waiting.
    @inlinable public func accept() throws(SystemError) -> IOResult<Int32> {
        try System.accept(fd)
    }

    public func close() { System.close(fd) }
}

extension System {
    /// How many bytes of output the peer of TCP socket `fd` has acknowledged so far (what it
    /// has really received, unlike what `write` took into the kernel's buffer); nil for a socket
    /// that is not TCP. One `getsockopt`.
    public static func bytesAcknowledged(_ fd: Int32) -> UInt64? {
        var acked: UInt64 = 0
        return cgust_tcp_bytes_acked(fd, &acked) == 0 ? acked : nil
    }

    /// Bytes in a TCP socket's send queue that the peer has not acknowledged yet (SIOCOUTQ),
    /// or nil.
    public static func sendQueueBytes(_ fd: Int32) -> UInt64? {
        var queued: UInt64 = 0
        return cgust_tcp_send_queue(fd, &queued) == 0 ? queued : nil
    }

    /// Disables Nagle's algorithm on a connected TCP socket.
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), CGUST_TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
