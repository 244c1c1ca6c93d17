#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address, resolved from a host string and a port.
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage = sockaddr_storage()
    public private(set) var length = 0
    public private(set) var host: String
    public private(set) var port: Int

    /// Resolves `host` (an IPv4 or IPv6 literal, or a name via getaddrinfo) with `port`.
    public init(host: String, port: Int) throws(SystemError) {
        precondition((0...65535).contains(port), "port out of range")
        self.host = host
        self.port = port
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            setIPv4(v4)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            setIPv6(v6)
        } else {
            try resolve()
        }
    }

    public var family: Int32 { Int32(storage.ss_family) }

    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    public func withSockAddr<R>(_ body: (UnsafeRawPointer, Int) throws(SystemError) -> R) throws(SystemError) -> R {
        var copy = storage
        let len = length
        return try withUnsafeBytes(of: &copy) { (raw) throws(SystemError) -> R in try body(raw.baseAddress!, len) }
    }

    private mutating func setIPv4(_ address: in_addr) {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(port).bigEndian)
        sin.sin_addr = address
        withUnsafeBytes(of: sin) { src in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
        }
        length = MemoryLayout<sockaddr_in>.size
    }

    private mutating func setIPv6(_ address: in6_addr) {
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
        sin6.sin6_addr = address
        withUnsafeBytes(of: sin6) { src in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
        }
        length = MemoryLayout<sockaddr_in6>.size
    }

    private mutating func resolve() throws(SystemError) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            // The resolver's own words: its codes are not errno values (EAI_SYSTEM aside).
            if rc == EAI_SYSTEM { throw SystemError(call: "getaddrinfo(\(host))", errno: Glibc.errno) }
            throw SystemError(call: "getaddrinfo(\(host))", errno: 0, message: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(result) }
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            if ai.pointee.ai_family == AF_INET {
                setIPv4(ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr })
                return
            }
            if ai.pointee.ai_family == AF_INET6 {
                setIPv6(ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr })
                return
            }
            info = ai.pointee.ai_next
        }
        throw SystemError(call: "getaddrinfo(\(host))", errno: EAFNOSUPPORT)
    }
}
