import CGustSystem
@_spi(GustInternal) import GustCore

/// What a reactor needs from the kernel to wait for its descriptors: register and change
/// interest, stop watching, and wait for readiness, each ready descriptor reported with the
/// token it was registered with. The boundary a completion-based backend (io_uring: multishot
/// poll, accept and recv, provided buffers, batched submission) would sit behind beside epoll:
/// first by speaking this readiness surface (multishot `POLL_ADD` gives exactly these reports),
/// then by adding completion operations the protocol layers opt into. Everything above this
/// boundary (the reactor's loop, timers, jobs, the HTTP engine) is written against it.
///
/// Threading: a backend belongs to one reactor and is used on its thread only.
@_spi(GustInternal) public protocol ReactorBackend: AnyObject {
    /// Starts watching `fd` for `interest`; its readiness is reported with `token`.
    func register(_ fd: Int32, interest: Events, token: UInt64) throws(SystemError)
    /// Changes what `fd` is watched for (and the token it is reported with).
    func modify(_ fd: Int32, interest: Events, token: UInt64) throws(SystemError)
    /// Stops watching `fd` (closing it does so too).
    func deregister(_ fd: Int32)
    /// Waits until a descriptor is ready or `timeoutMilliseconds` pass (-1: no limit; 0: do not
    /// wait), then calls `ready` for each ready descriptor with its token and what it is ready
    /// for. Returns the number of reports; 0 when the time ran out (or a signal interrupted).
    func wait(timeoutMilliseconds: Int32, _ ready: (UInt64, Events) -> Void) throws(SystemError) -> Int
}

/// The epoll backend: level-triggered readiness, a fixed array of events per wait.
///
/// Cost: one `epoll_wait` per loop iteration, one `epoll_ctl` per interest change.
@_spi(GustInternal) public final class EpollBackend: ReactorBackend {
    let epollFD: Int32
    let events: UnsafeMutableRawPointer
    let maxEvents: Int32

    /// Uses the epoll set `epollFD` (owned by the caller), reporting up to `maxEvents` per wait.
    public init(epollFD: Int32, maxEvents: Int = 512) {
        self.epollFD = epollFD
        self.maxEvents = Int32(maxEvents)
        events = .allocate(byteCount: maxEvents * cgust_epoll_event_size(), alignment: 16)
    }

    deinit { events.deallocate() }

    @inline(__always)
    public func register(_ fd: Int32, interest: Events, token: UInt64) throws(SystemError) {
        try System.epollControl(epollFD, CGUST_EPOLL_CTL_ADD, fd, events: interest.rawValue, data: token)
    }

    @inline(__always)
    public func modify(_ fd: Int32, interest: Events, token: UInt64) throws(SystemError) {
        try System.epollControl(epollFD, CGUST_EPOLL_CTL_MOD, fd, events: interest.rawValue, data: token)
    }

    public func deregister(_ fd: Int32) {
        try? System.epollControl(epollFD, CGUST_EPOLL_CTL_DEL, fd, events: 0, data: 0)
    }

    @inline(__always)
    public func wait(timeoutMilliseconds: Int32, _ ready: (UInt64, Events) -> Void) throws(SystemError) -> Int {
        let n = try System.epollWait(epollFD, events: events, maxEvents: maxEvents, timeoutMilliseconds: timeoutMilliseconds)
        for i in 0..<Int32(n) {
            ready(cgust_epoll_event_data(events, i), Events(rawValue: cgust_epoll_event_flags(events, i)))
        }
        return n
    }
}
