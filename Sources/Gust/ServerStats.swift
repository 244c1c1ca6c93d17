/// A snapshot of what the reactors hold and have done, gathered from each on its own thread.
public struct ServerStats: Sendable, CustomStringConvertible {
    public struct Reactor: Sendable {
        public var id: Int
        /// Open connections.
        public var connections: Int
        public var accepted: Int
        public var closed: Int
        /// Connections closed at once because the reactor held its maximum.
        public var rejected: Int
        public var requests: Int
        /// Requests answered with a 4xx/5xx for malformed or unsupported input.
        public var badRequests: Int
        /// Connections closed, or answered 408, because a header, body, idle or write wait ran out.
        public var timeouts: Int
        /// Input buffers leased by connections holding partial requests.
        public var inputLeases: Int
        /// Output buffers leased by connections with unsent output.
        public var outputLeases: Int
        /// Free buffers kept for reuse.
        public var cachedLeases: Int
        /// Size of one connection record in the slab.
        public var connectionRecordBytes: Int
        public var pendingTimers: Int
        /// Async handlers suspended, their connections waiting for them.
        public var asyncTasks: Int = 0
        /// Handlers that threw something other than an `HTTPError` (answered 500).
        public var handlerErrors: Int = 0
        /// Async handlers cancelled and answered at their deadline.
        public var deadlinesMissed: Int = 0
        /// Connections closed for sending a body, or reading output, below the minimum rate
        /// (also counted in `timeouts`).
        public var slowClients: Int = 0
        /// Requests answered 429 because their client was over its request rate.
        public var rateLimited: Int = 0
        /// Times the reactor stopped accepting because it held its share of `maxConnections`
        /// or had used up its new-connection rate (waiting clients stay in the backlog).
        public var acceptPauses: Int = 0
        public var webSockets = WebSockets()

        /// Stands for a reactor that stopped before it could answer (dropped from the result).
        static let stopped = Reactor(
            id: -1, connections: 0, accepted: 0, closed: 0, rejected: 0, requests: 0, badRequests: 0, timeouts: 0,
            inputLeases: 0, outputLeases: 0, cachedLeases: 0, connectionRecordBytes: 0, pendingTimers: 0)
    }

    /// WebSocket connections, per reactor or summed.
    public struct WebSockets: Sendable {
        /// Open now.
        public var open = 0
        public var opened = 0
        public var closed = 0
        public var messagesIn = 0
        public var messagesOut = 0
        /// Failed for breaking the protocol (closed with 1002, 1007 or 1009).
        public var protocolErrors = 0
        /// Closed because a ping went unanswered.
        public var heartbeatTimeouts = 0
        /// Closed because more than `maxQueuedBytes` waited for them to read.
        public var slowConsumers = 0
        public var pingsSent = 0
        /// Publications written to subscribers (one per subscriber).
        public var published = 0
        /// Times a connection stopped being read because its async handler fell behind.
        public var readPauses = 0
        /// Buffers held for partial frames and messages (output leases count with HTTP's).
        public var inputLeases = 0
        /// Bytes of one connection's record.
        public var recordBytes = 0
        public init() {}

        static func + (a: Self, b: Self) -> Self {
            var s = Self()
            s.open = a.open + b.open
            s.opened = a.opened + b.opened
            s.closed = a.closed + b.closed
            s.messagesIn = a.messagesIn + b.messagesIn
            s.messagesOut = a.messagesOut + b.messagesOut
            s.protocolErrors = a.protocolErrors + b.protocolErrors
            s.heartbeatTimeouts = a.heartbeatTimeouts + b.heartbeatTimeouts
            s.slowConsumers = a.slowConsumers + b.slowConsumers
            s.pingsSent = a.pingsSent + b.pingsSent
            s.published = a.published + b.published
            s.inputLeases = a.inputLeases + b.inputLeases
            s.readPauses = a.readPauses + b.readPauses
            s.recordBytes = max(a.recordBytes, b.recordBytes)
            return s
        }
    }

    public var reactors: [Reactor]
    /// WebSocket counters summed over the reactors.
    public var webSockets: WebSockets { reactors.reduce(WebSockets()) { $0 + $1.webSockets } }
    /// Reactor loop iterations the watchdog reported as blocked (`blockedReactorWarning`).
    public var reactorStalls: Int = 0

    public var connections: Int { reactors.reduce(0) { $0 + $1.connections } }
    public var requests: Int { reactors.reduce(0) { $0 + $1.requests } }
    public var accepted: Int { reactors.reduce(0) { $0 + $1.accepted } }
    public var badRequests: Int { reactors.reduce(0) { $0 + $1.badRequests } }
    public var timeouts: Int { reactors.reduce(0) { $0 + $1.timeouts } }
    public var inputLeases: Int { reactors.reduce(0) { $0 + $1.inputLeases } }
    public var outputLeases: Int { reactors.reduce(0) { $0 + $1.outputLeases } }
    public var asyncTasks: Int { reactors.reduce(0) { $0 + $1.asyncTasks } }
    public var handlerErrors: Int { reactors.reduce(0) { $0 + $1.handlerErrors } }
    public var deadlinesMissed: Int { reactors.reduce(0) { $0 + $1.deadlinesMissed } }
    public var slowClients: Int { reactors.reduce(0) { $0 + $1.slowClients } }
    public var rateLimited: Int { reactors.reduce(0) { $0 + $1.rateLimited } }
    public var acceptPauses: Int { reactors.reduce(0) { $0 + $1.acceptPauses } }

    public var description: String {
        "connections=\(connections) accepted=\(accepted) requests=\(requests) badRequests=\(badRequests) timeouts=\(timeouts) "
            + "inputLeases=\(inputLeases) outputLeases=\(outputLeases) asyncTasks=\(asyncTasks) handlerErrors=\(handlerErrors) "
            + "deadlinesMissed=\(deadlinesMissed) slowClients=\(slowClients) rateLimited=\(rateLimited) acceptPauses=\(acceptPauses)"
    }
}
