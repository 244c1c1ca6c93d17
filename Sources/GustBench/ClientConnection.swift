@_spi(GustInternal) import GustHTTP1

/// One load-generating connection's state, kept in its reactor's array. Its epoll token is its
/// array index with the generation of its current socket (`BenchEngine.token(_:)`), so an event
/// left over from a socket it has since replaced is recognised and dropped. The requests it has
/// in flight live in the engine's flat ring storage.
///
/// Threading: its reactor's thread only.
struct ClientConnection {
    enum Phase: UInt8 {
        /// Not connected; waiting for its turn (pacing) or for a retry.
        case idle
        case connecting
        case open
    }

    enum Reading: UInt8 {
        case head, body, chunked, untilClose
    }

    /// This connection's place among all the run's connections (for the open-loop schedule).
    let globalIndex: Int
    /// Bumped for every socket this connection opens (never 0 once one was opened).
    var generation: UInt32 = 0
    var fd: Int32 = -1
    var phase = Phase.idle
    var reading = Reading.head
    /// Requests written (or being written) whose responses have not all arrived.
    var inFlight = 0
    /// Ring position of the oldest request in flight.
    var ringHead = 0
    /// Bytes of the current write not yet taken by the socket (EPOLLOUT is awaited when > 0).
    var writeRemaining = 0
    var writeOffset = 0
    var bodyRemaining: Int64 = 0
    var chunked = ChunkedDecoder()
    var responseIsHead = false
    var closeAfterResponse = false
    /// When the last response of a closing connection arrived (0: not waiting for the close).
    var awaitingCloseSince: Int64 = 0
    var watchingWritable = false
    /// Status of the response being read.
    var status = 0
    /// Bytes of a response head split across reads.
    var partial: [UInt8] = []
    /// Open loop: the next request number to write, and how many have come due.
    var nextToSend: Int64 = 0
    var dueUpTo: Int64 = 0

    init(globalIndex: Int) {
        self.globalIndex = globalIndex
    }
}
