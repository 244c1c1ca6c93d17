@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

extension WebSocketEngine {
    func subscribe(_ id: SlotID, _ topic: String) {
        guard let r = records.pointer(to: id), !r.pointee.flags.contains(.finished), !r.pointee.topics.contains(topic) else { return }
        r.pointee.topics.append(topic)
        let first = subscribers[topic] == nil
        subscribers[topic, default: []].insert(id.packed)
        if first { hub.reactor(http.reactorID, has: true, topic: topic) }
    }

    func unsubscribe(_ id: SlotID, _ topic: String) {
        guard let r = records.pointer(to: id), let k = r.pointee.topics.firstIndex(of: topic) else { return }
        r.pointee.topics.remove(at: k)
        removeSubscriber(id, topic)
    }

    func removeSubscriber(_ id: SlotID, _ topic: String) {
        guard subscribers[topic]?.remove(id.packed) != nil, subscribers[topic]!.isEmpty else { return }
        subscribers.removeValue(forKey: topic)
        hub.reactor(http.reactorID, has: false, topic: topic)
    }

    /// A publication reached this reactor (a job: no application code is running): written
    /// to each open subscriber straight from the one frame; a subscriber whose output is
    /// backed up gets a copy in its lease (up to `maxQueuedBytes`, then it is closed).
    func deliver(_ topic: String, _ frame: FramedMessage) {
        guard let members = subscribers[topic] else { return }
        var gone: [SlotID] = []
        frame.bytes.withUnsafeBytes { bytes in
            for packed in members {
                let id = SlotID(packed: packed)
                guard let r = records.pointer(to: id), r.pointee.machine.phase == .open, !r.pointee.flags.contains(.finished) else { continue }
                counters.published += 1
                r.pointee.flags.insert(.sentSinceHeard)
                if let lease = r.pointee.output {
                    if lease.pointee.readableBytes + bytes.count > r.pointee.route.options.maxQueuedBytes {
                        r.pointee.flags.insert(.overflowed)
                        enqueue(id, r)
                    } else {
                        lease.pointee.append(bytes)
                    }
                    continue
                }
                do {
                    switch try System.write(r.pointee.fd, from: bytes.baseAddress!, count: bytes.count) {
                    case .processed(let n) where n == bytes.count: break
                    case .processed(let n): holdOutput(id, r, UnsafeRawBufferPointer(rebasing: bytes[n...]))
                    case .wouldBlock: holdOutput(id, r, bytes)
                    }
                } catch {
                    gone.append(id)
                }
            }
        }
        for id in gone { peerGone(id, reason: "connection reset by the client") }
        if !queued.isEmpty { flushQueued() }
    }
}
