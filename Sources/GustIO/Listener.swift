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
    public let address: SocketAddress
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

    /// Accepts one pending connection: its descriptor (non-blocking, close-on-exec), or
    /// `.wouldBlock` when none is waiting.
    @inlinable public func accept() throws(SystemError) -> IOResult<Int32> {
        try System.accept(fd)
    }

    public func close() { System.close(fd) }
}

extension System {
    /// Disables Nagle's algorithm on a connected TCP socket.
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), CGUST_TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
