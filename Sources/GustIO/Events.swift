import CGustSystem

/// Readiness interest and readiness reports for one descriptor (epoll's event bits).
@_spi(GustInternal) public struct Events: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public static var readable: Events { Events(rawValue: CGUST_EPOLLIN) }
    @inlinable public static var writable: Events { Events(rawValue: CGUST_EPOLLOUT) }
    /// The peer shut down its sending side (or the connection closed).
    @inlinable public static var readHangup: Events { Events(rawValue: CGUST_EPOLLRDHUP) }
    /// Reported only: the connection hung up.
    @inlinable public static var hangup: Events { Events(rawValue: CGUST_EPOLLHUP) }
    /// Reported only: an error is pending on the socket.
    @inlinable public static var error: Events { Events(rawValue: CGUST_EPOLLERR) }
}
