@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// One client connection: a small record in the reactor's slab (88 bytes), found from epoll's
/// user data by slot and generation. Its protocol state is `machine` (pure, in GustHTTP1); the
/// rest is what the driver holds for it: the descriptor, what epoll watches, its timer, and the
/// bytes in flight, in leases it points to (an idle connection owns none).
///
/// Threading: owned by one reactor.
struct Connection {
    var fd: Int32
    /// What epoll currently watches for this descriptor.
    var interest: Interest = .read
    /// Work already queued for this connection (see `HTTPEngine+Work.swift`).
    var flushQueued = false
    var machine: ConnectionMachine
    /// A partial request (or requests queued behind an answer), and the state of a body being
    /// streamed to a handler.
    var input: UnsafeMutablePointer<InputLease>?
    /// Output the socket would not take yet (and pieces of a streamed response to write).
    var output: UnsafeMutablePointer<ByteBuffer>?
    /// A file being sent after `output` (sendfile).
    var file: UnsafeMutablePointer<FileTransfer>?
    /// The connection's one timer on the reactor's wheel (see `ConnectionMachine.timerChange`).
    var timer: TimerID = .none

    init(fd: Int32, now: Int64) {
        self.fd = fd
        machine = ConnectionMachine(acceptedAt: now)
    }
}

/// The bytes of a partial request, plus the parser state and header slots that go with them,
/// so that parsing resumes where it stopped. Leased from the reactor's pool only while a
/// connection holds bytes it could not serve yet, or streams a request body.
struct InputLease: ~Copyable {
    /// Readable bytes start at the current request's first byte (or, while a body streams, at
    /// the next body byte).
    var buffer: ByteBuffer
    /// Its own allocation, so the engine can hand the parser out by pointer.
    let parser: UnsafeMutablePointer<RequestParser>
    let headers: UnsafeMutablePointer<HeaderSlot>
    let headerCapacity: Int
    /// The handler taking the body being streamed, and the body limit it was given.
    var stream: BodyStream?
    var streamLimit = 0

    init(capacity: Int, headerCapacity: Int) {
        buffer = ByteBuffer(capacity: capacity)
        parser = .allocate(capacity: 1)
        parser.initialize(to: RequestParser())
        headers = .allocate(capacity: headerCapacity)
        self.headerCapacity = headerCapacity
    }

    deinit {
        parser.deallocate()
        headers.deallocate()
    }

    /// Whether the parser is part-way through a request (a head, or a body).
    var holdsRequestState: Bool { parser.pointee.hasProgress }
}

extension Interest {
    /// The epoll events that stand for this interest.
    var events: Events {
        switch self {
        case .read: .readable
        case .write: .writable
        case .hangup: .readHangup
        case .none: []
        }
    }
}

// Questions the driver asks of a machine's state, answered by a switch compiled into this
// module (comparing with `==` would call the enum's conformance in GustHTTP1, per request).
extension ConnectionMachine.State {
    /// The parser holds part of a request: a head, or a body (read whole, or streamed).
    @inline(__always) var isInRequest: Bool {
        switch self {
        case .readingHead, .readingBody, .streamingBody, .bodyPaused: true
        default: false
        }
    }

    @inline(__always) var isClosing: Bool {
        if case .closing = self { return true }
        return false
    }

    @inline(__always) var isIdle: Bool {
        if case .idle = self { return true }
        return false
    }

    @inline(__always) var isStreamingBody: Bool {
        if case .streamingBody = self { return true }
        return false
    }
}
