import CGustSystem

/// Readiness interest and readiness reports for one descriptor (epoll's event bits).
public struct Events: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = Events(rawValue: CGUST_EPOLLIN)
    public static let writable = Events(rawValue: CGUST_EPOLLOUT)
    /// The peer shut down its sending side (or the connection closed).
    public static let readHangup = Events(rawValue: CGUST_EPOLLRDHUP)
    /// Reported only: the connection hung up.
    public static let hangup = Events(rawValue: CGUST_EPOLLHUP)
    /// Reported only: an error is pending on the socket.
    public static let error = Events(rawValue: CGUST_EPOLLERR)
}
