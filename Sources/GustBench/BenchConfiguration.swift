@_spi(GustInternal) import GustIO

/// Everything one benchmark run needs; validated before anything starts.
public struct BenchConfiguration: Sendable {
    public var url: TargetURL
    public var request: RequestTemplate
    /// Open connections, spread over the reactors.
    public var connections: Int = 64
    public var reactors: Int = 1
    /// Run for this long (after the warm-up) ...
    public var duration: Duration? = .seconds(10)
    /// ... or until this many requests have completed (closed loop only).
    public var requestCount: Int? = nil
    /// Requests in flight per connection.
    public var pipeline: Int = 1
    /// Reuse connections (default), or one request per connection.
    public var keepAlive: Bool = true
    /// Open loop: requests per second over all connections; nil is a closed loop.
    public var rate: Int? = nil
    /// Time before measuring starts (requests sent in it are not counted).
    public var warmup: Duration = .zero
    /// A request with no complete response after this long is an error, and its connection is
    /// closed and opened again.
    public var timeout: Duration = .seconds(10)
    /// New connections per second, over all reactors; nil: as fast as they can.
    public var connectRate: Int? = nil
    /// Source addresses to bind connections to, round-robin (empty: the kernel's choice).
    public var sources: [SocketAddress] = []

    public init(url: TargetURL, request: RequestTemplate) {
        self.url = url
        self.request = request
    }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Checks the options make sense together; the message names the first that does not.
    public func validate() throws(Invalid) {
        func fail(_ s: String) -> Invalid { Invalid(description: s) }
        guard connections >= 1 else { throw fail("-c must be at least 1") }
        guard reactors >= 1 && reactors <= 256 else { throw fail("-t must be 1...256") }
        guard connections >= reactors else { throw fail("-c (\(connections)) must be at least -t (\(reactors)): every reactor needs a connection") }
        guard pipeline >= 1 && pipeline <= 1024 else { throw fail("--pipeline must be 1...1024") }
        guard (duration == nil) != (requestCount == nil) else { throw fail("give exactly one of -d and -n") }
        if let duration { guard duration > .zero else { throw fail("-d must be positive") } }
        if let requestCount { guard requestCount >= 1 else { throw fail("-n must be at least 1") } }
        if let rate {
            guard rate >= 1 else { throw fail("--rate must be at least 1") }
            guard requestCount == nil else { throw fail("--rate runs for a duration (-d), not a request count (-n)") }
        }
        guard warmup >= .zero else { throw fail("--warmup must not be negative") }
        guard timeout > .zero else { throw fail("--timeout must be positive") }
        if let connectRate { guard connectRate >= 1 else { throw fail("--connect-rate must be at least 1") } }
        if !keepAlive && pipeline > 1 { throw fail("--pipeline needs keep-alive: without it a connection carries one request") }
        if let count = requestCount, count < reactors { throw fail("-n must be at least -t") }
    }
}
