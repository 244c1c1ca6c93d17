import GustCore
import GustHTTP1
import GustIO

/// One client connection: a small record in the reactor's slab (80 bytes), found from
/// epoll's user data by slot and generation. Bytes in flight live in leases it points to; an
/// idle connection owns none.
///
/// Threading: owned by one reactor.
struct Connection {
    enum Phase: UInt8 {
        /// Reading and serving requests.
        case open
        /// A handler deferred its response; nothing more is read until it is sent.
        case awaiting
        /// A handler takes the request body piece by piece (`ResponseWriter.streamBody`).
        case streamingBody
        /// The last response is queued; close once it is written.
        case closing
        /// The last response is written and our side shut down; reading and discarding until
        /// the client closes or the linger timer fires.
        case lingering
    }

    var fd: Int32
    var phase: Phase = .open
    /// Close by lingering (shut down, drain) rather than at once: after an error response, or
    /// when unread requests were dropped.
    var lingerOnClose = false
    /// What epoll currently watches for this descriptor.
    var interest: Events = .readable
    /// A partial request (or requests queued behind a deferred response), and the state of a
    /// body being streamed.
    var input: UnsafeMutablePointer<InputLease>?
    /// Output the socket would not take yet.
    var output: UnsafeMutablePointer<ByteBuffer>?
    /// A file being sent after `output` (sendfile).
    var file: UnsafeMutablePointer<FileTransfer>?
    /// The connection's one timer (see HTTPEngine+Timeouts.swift), and when it fires.
    var timer: TimerID = .none
    var timerAt: Int64 = 0
    /// The start of what the connection is waiting for now (monotonic ns): the accept, the first
    /// byte of a request head, the last body bytes, the last write progress, the linger.
    var since: Int64
    /// Identifies the current deferred response.
    var deferredSequence: UInt32 = 0
    /// Facts about the request being answered later (deferred, or after a streamed body)
    /// needed to encode its response.
    var deferredKeepAlive = false
    var deferredIsHead = false
    var deferredVersion: HTTPVersion = .http1_1
    var requests: UInt32 = 0
    /// Bytes read and thrown away while lingering.
    var discarded: UInt32 = 0

    init(fd: Int32, now: Int64) {
        self.fd = fd
        since = now
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
    /// `100 Continue` was already sent for the current request.
    var sentContinue = false
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
}
