@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Synchronization

/// A message framed once for every subscriber of a topic.
final class FramedMessage: Sendable {
    let bytes: [UInt8]
    init(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        var header = [UInt8](repeating: 0, count: FrameCodec.maxServerHeaderLength)
        let n = header.withUnsafeMutableBytes {
            FrameCodec.writeServerHeader(fin: true, opcode: opcode, payloadLength: payload.count, into: $0.baseAddress!)
        }
        var bytes = Array(header[0..<n])
        bytes.append(contentsOf: payload)
        self.bytes = bytes
    }
}

/// The process's topics: which reactors have subscribers to each (subscribers themselves are
/// kept by each reactor), and delivery of a publication to those reactors. One per server.
///
/// Topics span one process: with `--processes N` each worker has its own.
///
/// Threading: any thread; the directory is behind one lock, touched when a reactor gains its
/// first or loses its last subscriber to a topic, and once per publication.
final class WebSocketHub: Sendable {
    /// Topic → the reactors (bit `id`) with subscribers.
    let directory = Mutex<[String: UInt64]>([:])
    let handles = Mutex<[ReactorHandle]>([])

    /// The server's reactors (set at start).
    func attach(_ reactorHandles: [ReactorHandle]) { handles.withLock { $0 = reactorHandles } }

    /// A reactor now has subscribers to `topic` (or none any more).
    func reactor(_ id: Int, has: Bool, topic: String) {
        let bit: UInt64 = id < 64 ? 1 << UInt64(id) : .max
        directory.withLock { d in
            if has {
                d[topic, default: 0] |= bit
            } else if let mask = d[topic] {
                let left = id < 64 ? mask & ~bit : mask
                if left == 0 { d.removeValue(forKey: topic) } else { d[topic] = left }
            }
        }
    }

    func publish(_ topic: String, _ data: WebSocketData) {
        _ = data.withPayload { publish(topic, opcode: data.opcode, payload: $0) }
    }

    /// Frames the message once and hands it to every reactor with subscribers, each through
    /// its job queue (its own included: delivery happens after the calling code returns).
    /// Returns how many reactors it went to.
    @discardableResult
    func publish(_ topic: String, opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) -> Int {
        guard let mask = directory.withLock({ $0[topic] }), mask != 0 else { return 0 }
        let frame = FramedMessage(opcode: opcode, payload: payload)
        var reached = 0
        for handle in handles.withLock({ $0 }) where handle.id >= 64 || mask & (1 << UInt64(handle.id)) != 0 {
            let queued = handle.execute { reactor in
                (reactor.delegate as? HTTPEngine)?.webSocketsIfAny?.deliver(topic, frame)
            }
            if queued { reached += 1 }
        }
        return reached
    }
}

/// Publishes to the server's topics from anywhere: other threads, tasks, HTTP handlers.
///
/// Threading: `Sendable`. Cost per publication: one frame, one job per reactor with
/// subscribers, one `write` per subscriber (a copy only for those whose output is backed up).
public struct WebSocketPublisher: Sendable {
    let hub: WebSocketHub

    public func publish(_ topic: String, _ text: String) { hub.publish(topic, .text(text)) }
    public func publish(_ topic: String, binary: [UInt8]) { hub.publish(topic, .binary(binary)) }
    public func publish(_ topic: String, _ data: WebSocketData) { hub.publish(topic, data) }
}
