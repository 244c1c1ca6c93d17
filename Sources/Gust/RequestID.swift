import Synchronization

/// Names one request in logs and error bodies: a tag drawn at random once per process, the
/// reactor, and that reactor's request count, e.g. "5f3a9c1e-1-48213". Unique within a process
/// (and, with high probability, across the processes of a service).
///
/// Cost: two integers; the text is made only when asked for (`description`).
public struct RequestID: Sendable, Hashable, CustomStringConvertible {
    public let reactor: Int
    public let number: Int

    public init(reactor: Int, number: Int) {
        self.reactor = reactor
        self.number = number
    }

    public var description: String { "\(RequestID.processTag)-\(reactor)-\(number)" }

    /// Eight hex digits drawn once per process.
    static let processTag: String = {
        var generator = SystemRandomNumberGenerator()
        let tag = String(UInt32.random(in: 0...UInt32.max, using: &generator), radix: 16)
        return String(repeating: "0", count: 8 - tag.count) + tag
    }()
}
